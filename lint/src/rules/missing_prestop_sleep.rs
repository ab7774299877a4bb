use crate::k8s::lifecycle::{pre_stop, PreStop};
use crate::k8s::{image_name, Object};
use crate::parse::yaml::Node;
use crate::quantity::number;

use super::{Diagnosis, Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &MissingPrestopSleep;

struct MissingPrestopSleep;

/// Kinds whose Pods run until replaced, so a rollout terminates serving Pods.
const SERVING_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Pod",
];

impl Rule for MissingPrestopSleep {
    fn id(&self) -> &'static str {
        "missing-prestop-sleep"
    }

    fn doc(&self) -> &'static str {
        r#"# missing-prestop-sleep

## What it finds
A workload whose Pods a load-balancing Service selects (not a headless one,
and not one that only admission webhooks or aggregated APIs call), with a serving container (one that declares `ports`, or every container when
none does) that has no `preStop` hook at all, or a preStop sleep shorter than
`min_seconds`. A preStop hook that runs something else, such as a drain
endpoint (`/wait-shutdown` of ingress-nginx, an `httpGet` to `/drain`), is a
deliberate choice and is not reported; so is CoreDNS, which drains itself
with the health plugin's `lameduck` that every upstream Corefile sets.

## Why it matters
When a Pod is deleted, removing its endpoint from load balancers and sending
it SIGTERM happen at the same time, and an ingress learns about endpoint
changes much later than kube-proxy does. Ravelin's API, behind a GKE ingress,
shut down promptly on SIGTERM and still received new connections for a
while: every deploy produced 502s.

## What to write instead
A `preStop` hook that only sleeps longer than the load balancer takes to
reprogram, and a `terminationGracePeriodSeconds` longer than that sleep plus
the time the app needs to drain:

```yaml
spec:
  terminationGracePeriodSeconds: 45
  containers:
  - name: api
    lifecycle:
      preStop:
        sleep:
          seconds: 15   # Kubernetes 1.30+; older: exec: {command: ["sleep", "15"]}
```
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        if !SERVING_KINDS.contains(&object.kind) {
            return;
        }
        let labels = object.pod_labels();
        if labels.is_empty() {
            return;
        }
        let min_seconds = out.params().int("min_seconds") as f64;
        for container in serving_containers(object.containers()).filter(|c| !drains_itself(c)) {
            let name = container.get("name").and_then(Node::str).unwrap_or("").to_string();
            let (at, problem) = match pre_stop(container) {
                PreStop::Missing => (
                    container.get("name").unwrap_or(container).span,
                    "has no preStop hook".to_string(),
                ),
                PreStop::Sleep {
                    seconds: Some(seconds),
                    node,
                } if seconds < min_seconds => (
                    node.span,
                    format!(
                        "has a preStop sleep of {}s, shorter than the {}s load balancers need to stop routing to it",
                        number(seconds),
                        number(min_seconds)
                    ),
                ),
                PreStop::Sleep { .. } | PreStop::Other => continue,
            };
            let namespace = object.namespace.to_string();
            let labels = labels.clone();
            out.report_if(at, move |lookup| {
                let service = lookup
                    .services_selecting(&namespace, &labels)
                    .into_iter()
                    .find(|s| !s.headless && !lookup.is_api_server_backend(s))?;
                Some(Diagnosis {
                    message: format!(
                        "container `{name}` {problem}, and Service {namespace}/{} ({}) sends it traffic: requests fail while it shuts down during a rollout",
                        service.name, service.at
                    ),
                    help: format!(
                        "add lifecycle.preStop.sleep.seconds (or exec [\"sleep\", \"N\"]) with N of at least {} and keep terminationGracePeriodSeconds above N plus the drain time",
                        number(min_seconds)
                    ),
                    ..Diagnosis::default()
                })
            });
        }
    }
}

/// CoreDNS keeps answering for a while after SIGTERM with the health
/// plugin's `lameduck`, which every upstream Corefile sets.
fn drains_itself(container: &Node) -> bool {
    container
        .get("image")
        .and_then(Node::str)
        .is_some_and(|image| image_name(image) == "coredns")
}

fn serving_containers(containers: &[Node]) -> impl Iterator<Item = &Node> {
    let any_ports = containers.iter().any(declares_ports);
    containers
        .iter()
        .filter(move |c| !any_ports || declares_ports(c))
}

fn declares_ports(container: &Node) -> bool {
    container.get("ports").is_some_and(|p| !p.items().is_empty())
}
