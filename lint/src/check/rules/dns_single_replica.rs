use crate::model::k8s::cluster_dns::is_cluster_dns;
use crate::model::k8s::{Object, Replicas};
use crate::model::parse::yaml::{Node, Value};

use super::{Diagnosis, Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &DnsSingleReplica;

struct DnsSingleReplica;

impl Rule for DnsSingleReplica {
    fn id(&self) -> &'static str {
        "dns-single-replica"
    }

    fn doc(&self) -> &'static str {
        r#"# dns-single-replica

## What it finds
A workload serving cluster DNS (label `k8s-app: kube-dns`, name `coredns` or
`kube-dns`, or a CoreDNS image) that can drop to zero ready Pods during a
rollout or a node drain: fewer than 2 replicas, or a rolling update whose
`maxUnavailable` is at least its replicas. Unset is 1. An autoscaler's
floor counts instead: an HPA's `minReplicas`, or the fewest a
cluster-proportional-autoscaler (`--target=Deployment/coredns`) keeps from
its `--default-params` (its linear `min`, two with
`preventSinglePointFailure`); when that floor cannot be read (a ladder,
values a template left unknown), nothing is reported. Both the upstream
Kubernetes addon manifest and coredns/deployment ship without replicas,
leaving the count to an autoscaler that a cluster may not run.

## Why it matters
Everything depends on cluster DNS. When the kube-dns Pods of a cluster
landed on unreachable masters, Istio sidecars could not resolve istiod and
every Pod restarted into CrashLoopBackOff; restoring DNS restored the
cluster. One DNS replica is that outage on every node drain, eviction or
rollout.

## What to write instead
```yaml
spec:
  replicas: 2
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 1}
```
with a podAntiAffinity or topologySpreadConstraint so the two land on
different nodes, and a PodDisruptionBudget with `minAvailable: 1`.
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        if !is_cluster_dns(object) {
            return;
        }
        let Replicas::Count(replicas) = object.replicas() else {
            return;
        };
        let max_unavailable = object
            .node
            .at(&["spec", "strategy", "rollingUpdate", "maxUnavailable"])
            .map(|n| (n.span, unavailable_pods(n, replicas)));
        let at = object.replicas_anchor().span;
        let (namespace, kind, name) = (
            object.namespace.to_string(),
            object.kind.to_string(),
            object.name.to_string(),
        );
        let label = format!("cluster DNS {kind} {namespace}/{name}");
        match max_unavailable {
            Some((span, Some(unavailable))) if unavailable >= replicas && replicas >= 2 => {
                out.report(
                    span,
                    format!("{label} allows {unavailable} of its {replicas} Pods to be unavailable during a rollout: DNS goes dark for the whole cluster"),
                    "set strategy.rollingUpdate.maxUnavailable: 1 (and maxSurge: 1)",
                );
            }
            _ => out.report_if(at, move |lookup| {
                let autoscaler = lookup.autoscaler(&namespace, &kind, &name);
                let replicas = match autoscaler {
                    Some(a) => a.min_replicas?,
                    None => replicas,
                };
                let kept = autoscaler.map_or(String::new(), |a| format!(" ({})", a.describe()));
                (replicas < 2).then(|| Diagnosis {
                    message: format!(
                        "{label} runs {replicas} replica{kept}: every rollout, eviction or node drain leaves the cluster without DNS"
                    ),
                    help: "set replicas: 2 or more, spread over nodes, with maxUnavailable: 1 and a PodDisruptionBudget".to_string(),
                    related: autoscaler.map_or(Vec::new(), |a| a.min_replicas_set_at.clone()),
                    ..Diagnosis::default()
                })
            }),
        }
    }
}

/// `maxUnavailable` as a number of Pods: an integer, or a percentage of
/// the replicas rounded down, as the Deployment controller does.
fn unavailable_pods(node: &Node, replicas: u32) -> Option<u32> {
    if let Some(n) = node.int() {
        return u32::try_from(n).ok();
    }
    match &node.value {
        Value::Scalar(s) => {
            let percent: u32 = s.text.strip_suffix('%')?.trim().parse().ok()?;
            Some(replicas * percent / 100)
        }
        _ => None,
    }
}
