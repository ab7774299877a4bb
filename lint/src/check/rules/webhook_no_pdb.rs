use crate::model::k8s::webhook::fail_closed_service_calls;
use crate::model::k8s::Object;

use super::{Diagnosis, Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &WebhookNoPdb;

struct WebhookNoPdb;

impl Rule for WebhookNoPdb {
    fn id(&self) -> &'static str {
        "webhook-no-pdb"
    }

    fn doc(&self) -> &'static str {
        r#"# webhook-no-pdb

## What it finds
A fail-closed admission webhook whose backend (found through
`clientConfig.service`) runs two or more replicas, but no
PodDisruptionBudget selects its Pods. Backends with one replica are
`webhook-single-replica`'s; backends not among the linted files are not
reported.

One finding per backend: when several webhooks or aggregated APIs call
the same workload, it is reported once, at the first of them, naming
every caller.

## Why it matters
Replicas only keep a webhook answering if they are not all taken down at
once. A node drain or cluster upgrade evicts Pods without regard to the
webhook: without a budget, both replicas of a webhook backend can be evicted
together, and every request the webhook intercepts fails until one is back,
as every Pod creation failed when AWS App Mesh's webhook had no endpoints.

## What to write instead
A PodDisruptionBudget that keeps at least one backend Pod running:

```yaml
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: webhook, namespace: policy}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: webhook}
```
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        for call in fail_closed_service_calls(object) {
            let (name, reach) = (call.webhook, call.reach);
            out.report_if(call.anchor, move |lookup| {
                let backend = lookup.backend(&call.namespace, &call.service)?;
                if backend.min_replicas? < 2 {
                    return None;
                }
                let unbudgeted = backend
                    .workloads
                    .iter()
                    .any(|w| lookup.budgets_selecting(w).is_empty());
                unbudgeted.then(|| Diagnosis {
                    message: format!(
                        "webhook `{name}` fails closed and no PodDisruptionBudget covers its backend {}: a drain can evict every replica at once",
                        backend.describe()
                    ),
                    help: "add a PodDisruptionBudget with maxUnavailable: 1 selecting the backend's Pods".to_string(),
                    cause: Some(backend.cause("fail-closed webhook", &name, reach)),
                    ..Diagnosis::default()
                })
            });
        }
    }
}
