use crate::model::k8s::Object;
use crate::model::parse::yaml::Node;

use super::{Diagnosis, Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &ApiserviceSingleReplica;

struct ApiserviceSingleReplica;

impl Rule for ApiserviceSingleReplica {
    fn id(&self) -> &'static str {
        "apiservice-single-replica"
    }

    fn doc(&self) -> &'static str {
        r#"# apiservice-single-replica

## What it finds
An `APIService` (an aggregated API such as `v1beta1.metrics.k8s.io`) whose
backing Service's workload runs fewer than `min_replicas` replicas (unset
`replicas` is 1; an HPA's `minReplicas` counts). Local APIServices (no
`spec.service`) and backends not among the linted files are not reported.

One finding per backend: when several webhooks or aggregated APIs call
the same workload, it is reported once, at the first of them, naming
every caller.

## Why it matters
When an aggregated API is down, API discovery fails for every client:
`kubectl` prints errors for every command, namespace deletion hangs in
Terminating because the namespace controller cannot list the aggregated
resources, and HPAs stop scaling when the metrics API is the one that is
gone. One replica means every restart, eviction or node drain is such an
outage; metrics-server ships a high-availability overlay for this reason,
as the single-replica App Mesh webhook showed what one replica in the API
path does to a cluster.

## What to write instead
```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: metrics-server, namespace: kube-system}
spec:
  replicas: 2
  template:
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {k8s-app: metrics-server}}
            topologyKey: kubernetes.io/hostname
```
plus a PodDisruptionBudget with `minAvailable: 1`.
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        if object.kind != "APIService" {
            return;
        }
        let Some(service) = object.node.at(&["spec", "service"]) else {
            return;
        };
        let field = |key| service.get(key).and_then(Node::str).map(str::to_string);
        let (Some(namespace), Some(name)) = (field("namespace"), field("name")) else {
            return;
        };
        let min = u32::try_from(out.params().int("min_replicas")).unwrap_or(2);
        let api = object.name.to_string();
        out.report_if(object.anchor().span, move |lookup| {
            let backend = lookup.backend(&namespace, &name)?;
            let replicas = backend.min_replicas?;
            (replicas < min).then(|| Diagnosis {
                message: format!(
                    "aggregated API `{api}` is served by {} with {replicas} replica{}: while it restarts, discovery fails for every client and namespace deletion hangs",
                    backend.describe(),
                    if replicas == 1 { "" } else { "s" }
                ),
                help: format!("run the backend with replicas: {min} or more, spread over nodes, with a PodDisruptionBudget"),
                related: backend.replicas_set_at(),
                cause: Some(backend.cause("aggregated API", &api, 1)),
                    ..Diagnosis::default()
            })
        });
    }
}
