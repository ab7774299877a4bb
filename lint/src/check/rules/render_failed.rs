use super::Rule;

pub(crate) static RULE: &dyn Rule = &RenderFailed;

struct RenderFailed;

impl Rule for RenderFailed {
    fn id(&self) -> &'static str {
        "render-failed"
    }

    fn doc(&self) -> &'static str {
        r#"# render-failed

## What it finds
A Helm chart (with one of its values sets) or a root kustomization that
scar could not render, so none of its objects were checked: helm or
kubectl/kustomize is not installed, the tool stopped with an error (a
template that fails, a value the chart requires, a `kubeVersion` the chart
refuses, a dependency not vendored under `charts/`), it ran past the time
limit, or the kustomization pulls in a remote base or Helm charts, which
reach the network and are rendered only when `.scar.yaml` allows it. The
finding points at the template line the tool names, or the line of
`Chart.yaml` or the kustomization at fault, and carries the tool's message.

## Why it matters
A linter that skips what it cannot read goes green on exactly the
configuration nobody looked at. The App Mesh controller whose single
replica blocked every Pod creation in a cluster (incident 2) shipped as a
Helm chart: a chart that does not render is a chart whose
`webhook-single-replica` nobody sees. CI must never pass a chart it never
read.

## What to write instead
Make the unit render the way it is deployed. For a chart that needs values,
give it a values set in `.scar.yaml`:

```yaml
helm:
  charts:
    deploy/charts/shop:
      prod:
        values: [values-prod.yaml]
        set: {image.repository: registry.example.com/shop}
```

Vendor chart dependencies with `helm dependency build CHART` and commit
`charts/` (scar never downloads them). Render for the Kubernetes version you
run with `helm: {kube_version: "1.34.0"}`. Vendor remote kustomize bases, or
allow them with `kustomize: {allow_remote: true}`. If a folder is not meant
to be deployed, leave it out with `exclude:`.
"#
    }
}
