use crate::model::k8s::cluster_dns::is_cluster_dns;
use crate::model::k8s::Object;
use crate::model::parse::yaml::Node;

use super::{Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &DnsSchedulableOnControlPlane;

struct DnsSchedulableOnControlPlane;

const CONTROL_PLANE_LABELS: &[&str] = &[
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
];

/// Node labels every node carries: selecting on them steers nothing.
const UNIVERSAL_NODE_LABELS: &[&str] = &[
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
];

impl Rule for DnsSchedulableOnControlPlane {
    fn id(&self) -> &'static str {
        "dns-schedulable-on-control-plane"
    }

    fn doc(&self) -> &'static str {
        r#"# dns-schedulable-on-control-plane

## What it finds
A workload serving cluster DNS (label `k8s-app: kube-dns`, name `coredns` or
`kube-dns`, or a CoreDNS image) that tolerates the control-plane taints
(`node-role.kubernetes.io/control-plane` or `node-role.kubernetes.io/master`,
or a toleration with no key and `operator: Exists`), with no required node
affinity or nodeSelector that keeps it off control-plane nodes. The finding
points at the toleration.

## Why it matters
During a data-center network cutover the control plane lost contact with
the nodes, Kubernetes marked every node unavailable, and the kube-dns Pods
were rescheduled onto the masters, whose Pod IPs were not advertised over
BGP to the rest of the network. Istio sidecars could not resolve istiod, got
no configuration, failed their health checks, and every Pod in the cluster
went into CrashLoopBackOff.

## What to write instead
Drop the control-plane tolerations, or keep them and exclude control-plane
nodes explicitly:

```yaml
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
      - matchExpressions:
        - key: node-role.kubernetes.io/control-plane
          operator: DoesNotExist
```
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        if !is_cluster_dns(object) {
            return;
        }
        let Some(spec) = object.pod_spec() else {
            return;
        };
        if kept_off_control_plane(spec) {
            return;
        }
        let tolerations = spec.get("tolerations").map_or(&[][..], Node::items);
        let Some(toleration) = tolerations.iter().find(|t| tolerates_control_plane(t)) else {
            return;
        };
        let what = match toleration.get("key").and_then(Node::str) {
            Some(key) => format!("tolerates the `{key}` taint"),
            None => "tolerates every taint".to_string(),
        };
        out.report(
            toleration.span,
            format!(
                "cluster DNS {} {}/{} {what}, so it can be scheduled onto control-plane nodes, whose Pod IPs the rest of the network may not reach",
                object.kind, object.namespace, object.name
            ),
            "remove the control-plane toleration, or add a required node affinity with `node-role.kubernetes.io/control-plane DoesNotExist`",
        );
    }
}

fn tolerates_control_plane(toleration: &Node) -> bool {
    match toleration.get("key").and_then(Node::str) {
        Some(key) => CONTROL_PLANE_LABELS.contains(&key),
        None => toleration.get("operator").and_then(Node::str) == Some("Exists"),
    }
}

/// A required node affinity whose every term excludes control-plane nodes,
/// or a nodeSelector that picks particular nodes.
fn kept_off_control_plane(spec: &Node) -> bool {
    let steering_selector = spec
        .get("nodeSelector")
        .map_or(&[][..], Node::entries)
        .iter()
        .any(|(k, _)| k.str().is_some_and(|k| !UNIVERSAL_NODE_LABELS.contains(&k)));
    if steering_selector {
        return true;
    }
    let terms = spec
        .at(&[
            "affinity",
            "nodeAffinity",
            "requiredDuringSchedulingIgnoredDuringExecution",
            "nodeSelectorTerms",
        ])
        .map_or(&[][..], Node::items);
    !terms.is_empty() && terms.iter().all(excludes_control_plane)
}

fn excludes_control_plane(term: &Node) -> bool {
    term.get("matchExpressions")
        .map_or(&[][..], Node::items)
        .iter()
        .any(|e| {
            let key = e.get("key").and_then(Node::str).unwrap_or("");
            let operator = e.get("operator").and_then(Node::str).unwrap_or("");
            CONTROL_PLANE_LABELS.contains(&key) && operator == "DoesNotExist"
        })
}
