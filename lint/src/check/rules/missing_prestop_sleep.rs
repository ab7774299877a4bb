use crate::check::finding::Severity;
use crate::model::index::{ContainerSummary, Service};
use crate::model::k8s::lifecycle::{pre_stop, PreStop};
use crate::model::k8s::{image_name, Object, Replicas};
use crate::model::parse::yaml::Node;
use crate::model::quantity::number;

use super::{Diagnosis, Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &MissingPrestopSleep;

struct MissingPrestopSleep;

/// Workloads whose rollouts replace serving Pods while others should take
/// their traffic. Bare Pods and ReplicationControllers are not rolled out.
const SERVING_KINDS: &[&str] = &["Deployment", "StatefulSet", "ReplicaSet"];

impl Rule for MissingPrestopSleep {
    fn id(&self) -> &'static str {
        "missing-prestop-sleep"
    }

    fn doc(&self) -> &'static str {
        r#"# missing-prestop-sleep

## What it finds
A container of a Deployment, StatefulSet or ReplicaSet, serving the
`targetPort` of a Service that selects its Pods, with no `preStop` hook at
all, or a preStop sleep shorter than `min_seconds`. Every container serves
when none declares `ports`.

It is a warning when users lose requests: the Service carries traffic from
outside the cluster (it is of type `LoadBalancer` or `NodePort`, or an
Ingress, a Gateway API route attached to a Gateway, a Traefik
`IngressRoute`, a Contour `HTTPProxy` or an Istio `VirtualService` bound to
a gateway sends to it) and the workload keeps two or more replicas, so a
rollout replaces Pods while others should serve. With one replica, or
behind a `ClusterIP` Service nothing routes to from outside, it is an
`info`: shown, but not failing CI by default. Mesh routes (a route whose
parents are Services, as Gateway API's GAMMA writes them, or a
`VirtualService` with no gateways) carry east-west traffic and count as
the `ClusterIP` Service does. The message names the
Service and the route it found.

Not reported: bare Pods and ReplicationControllers (never rolled out),
Jobs, headless Services, Services only admission webhooks or aggregated
APIs call, Services that serve only operators (every port named for
metrics, profiling or probes: `metrics`, `http-metrics`, `*-metrics`,
`monitoring`, `*-servicemonitor`, `http-profiling`, `probes`, `healthz`;
or every port scraped by a `ServiceMonitor`),
containers whose ports the Service does not send to, a preStop hook that runs
something else such as a drain endpoint (`/wait-shutdown` of ingress-nginx,
an `httpGet` to `/drain`: a deliberate choice), and CoreDNS, which drains
itself with the health plugin's `lameduck` that every upstream Corefile sets.

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
        // Without a declared port anywhere, every container may serve.
        let ports_declared = object.containers().iter().any(declares_ports);
        for container in object.containers().iter().filter(|c| !drains_itself(c)) {
            if ports_declared && !declares_ports(container) {
                continue;
            }
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
            let serves = ContainerSummary::of(container);
            let (namespace, kind, workload) = (
                object.namespace.to_string(),
                object.kind.to_string(),
                object.name.to_string(),
            );
            let replicas = object.replicas();
            let labels = labels.clone();
            out.report_if(at, move |lookup| {
                let serving = |s: &Service| {
                    !ports_declared || s.target_ports.iter().any(|t| serves.serves(t))
                };
                let services: Vec<&Service> = lookup
                    .services_selecting(&namespace, &labels)
                    .into_iter()
                    .filter(|s| {
                        !s.headless
                            && serving(s)
                            && !lookup.is_api_server_backend(s)
                            && !lookup.serves_only_operators(s)
                    })
                    .collect();
                let from_outside = |s: &Service| -> Option<String> {
                    if let Some(route) = lookup.routes_to(s).first() {
                        return Some(format!("{}, behind {},", s.describe(), route.describe()));
                    }
                    s.exposed_as
                        .as_ref()
                        .map(|kind| format!("{kind} {}", s.describe()))
                };
                let (reached, outside) = match services.iter().find_map(|s| from_outside(s)) {
                    Some(reach) => (reach, true),
                    None => (services.first()?.describe(), false),
                };
                let kept = match (lookup.autoscaler(&namespace, &kind, &workload), replicas) {
                    (Some(a), _) => a.min_replicas,
                    (None, Replicas::Count(n)) => Some(n),
                    (None, _) => None,
                };
                // Traffic is lost for users when a load balancer sends it
                // and a rollout replaces Pods while others should serve.
                let loses_users = outside && kept.is_some_and(|n| n >= 2);
                Some(Diagnosis {
                    message: format!(
                        "container `{name}` {problem}, and {reached} sends it traffic: requests fail while it shuts down during a rollout"
                    ),
                    help: format!(
                        "add lifecycle.preStop.sleep.seconds (or exec [\"sleep\", \"N\"]) with N of at least {} and keep terminationGracePeriodSeconds above N plus the drain time",
                        number(min_seconds)
                    ),
                    severity: (!loses_users).then_some(Severity::Info),
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

fn declares_ports(container: &Node) -> bool {
    container.get("ports").is_some_and(|p| !p.items().is_empty())
}
