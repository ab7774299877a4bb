use crate::model::k8s::lifecycle::{pre_stop, PreStop};
use crate::model::k8s::Object;
use crate::model::parse::yaml::Node;
use crate::model::quantity::number;

use super::{Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &PrestopExceedsGracePeriod;

struct PrestopExceedsGracePeriod;

/// The kubelet's default when a pod spec does not set one.
const DEFAULT_GRACE_SECONDS: i64 = 30;

impl Rule for PrestopExceedsGracePeriod {
    fn id(&self) -> &'static str {
        "prestop-exceeds-grace-period"
    }

    fn doc(&self) -> &'static str {
        r#"# prestop-exceeds-grace-period

## What it finds
A container whose preStop sleep (the native `sleep` action or an exec hook
that sleeps) is as long as or longer than the Pod's
`terminationGracePeriodSeconds` (30 when unset).

## Why it matters
The grace period counts from the moment the Pod is deleted, preStop hook
included. Ravelin's fix for 502s during deploys was a preStop sleep longer
than the load balancer takes to reprogram, *and* a grace period longer than
that sleep plus the time the app needs to drain. With a sleep that fills the
grace period, the kubelet kills the container with SIGKILL as the sleep
ends: the app never gets its SIGTERM, in-flight requests are cut, and the
502s come back.

## What to write instead
```yaml
spec:
  terminationGracePeriodSeconds: 60   # sleep + drain time + margin
  containers:
  - name: api
    lifecycle:
      preStop:
        sleep: {seconds: 20}
```
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        let Some(spec) = object.pod_spec() else {
            return;
        };
        let grace = match spec.get("terminationGracePeriodSeconds") {
            None => DEFAULT_GRACE_SECONDS,
            Some(node) => match node.int() {
                Some(seconds) => seconds,
                None => return,
            },
        };
        for container in object.containers() {
            let PreStop::Sleep {
                seconds: Some(seconds),
                node,
            } = pre_stop(container)
            else {
                continue;
            };
            if seconds < grace as f64 {
                continue;
            }
            let name = container.get("name").and_then(Node::str).unwrap_or("");
            out.report(
                node.span,
                format!(
                    "container `{name}` sleeps {}s in preStop but the Pod's grace period is {grace}s: it is killed before it can drain",
                    number(seconds)
                ),
                format!(
                    "raise terminationGracePeriodSeconds above {}s plus the app's drain time, or shorten the sleep",
                    number(seconds)
                ),
            );
        }
    }
}
