use crate::model::k8s::webhook::fail_closed_service_calls;
use crate::model::k8s::Object;

use super::{Diagnosis, Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &WebhookSingleReplica;

struct WebhookSingleReplica;

impl Rule for WebhookSingleReplica {
    fn id(&self) -> &'static str {
        "webhook-single-replica"
    }

    fn doc(&self) -> &'static str {
        r#"# webhook-single-replica

## What it finds
A webhook of a `ValidatingWebhookConfiguration` or
`MutatingWebhookConfiguration` that fails closed (effective
`failurePolicy: Fail`; the default in `admissionregistration.k8s.io/v1`,
while `v1beta1` defaults to `Ignore`) and whose backend, found through
`clientConfig.service` and that Service's selector, runs fewer than
`min_replicas` replicas (unset `replicas` is 1; an HPA's `minReplicas`
counts). When the Service or its workload is not among the linted files,
scar says nothing.

One finding per backend: when several webhooks or aggregated APIs call
the same workload, it is reported once, at the first of them, naming
every caller.

## Why it matters
AWS App Mesh's controller ran one replica and registered a mutating webhook
on Pod creation. During a period of high etcd latency its Pod crashed and
restarted, the webhook Service had no endpoints, and every Pod creation in
the cluster failed with `failed calling webhook "mpod.appmesh.k8s.aws" ...
no endpoints available`. A payment-report CronJob failed 29 times over 145
minutes before anyone noticed.

## What to write instead
Run every fail-closed webhook backend with two or more replicas and a
PodDisruptionBudget, so one Pod can be replaced while the other serves:

```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: appmesh-controller, namespace: appmesh-system}
spec:
  replicas: 2
  ...
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: appmesh-controller, namespace: appmesh-system}
spec:
  minAvailable: 1
  selector:
    matchLabels: {app: appmesh-controller}
```

If the webhook is not a security control, `failurePolicy: Ignore` also
keeps the cluster working while it is down.
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        let min_replicas = u32::try_from(out.params().int("min_replicas")).unwrap_or(2);
        for call in fail_closed_service_calls(object) {
            let (name, reach) = (call.webhook, call.reach);
            out.report_if(call.anchor, move |lookup| {
                let backend = lookup.backend(&call.namespace, &call.service)?;
                let replicas = backend.min_replicas?;
                (replicas < min_replicas).then(|| Diagnosis {
                    message: format!(
                        "webhook `{name}` fails closed and its backend {} runs {replicas} replica{}: while that Pod restarts, every request the webhook matches is rejected",
                        backend.describe(),
                        if replicas == 1 { "" } else { "s" },
                    ),
                    help: format!(
                        "run the backend with replicas: {min_replicas} or more and a PodDisruptionBudget, or use failurePolicy: Ignore if the webhook is not a security control"
                    ),
                    related: backend.replicas_set_at(),
                    cause: Some(backend.cause("fail-closed webhook", &name, reach)),
                    ..Diagnosis::default()
                })
            });
        }
    }
}
