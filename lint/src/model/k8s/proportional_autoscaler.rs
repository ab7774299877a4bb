//! The cluster-proportional-autoscaler: a workload whose container sets
//! another workload's replicas from the size of the cluster. Kubernetes'
//! DNS addon ships one beside CoreDNS (`kube-dns-autoscaler`), and so do
//! installers such as kubespray (`dns-autoscaler`): the DNS Deployment
//! then leaves `replicas` unset on purpose.

use crate::model::parse::yaml::Node;

use super::Object;

/// What one cluster-proportional-autoscaler scales, and the fewest
/// replicas it keeps on a cluster of more than one node.
#[derive(Debug, Clone, PartialEq)]
pub struct ProportionalScaling {
    /// `--namespace`, else the autoscaler's own namespace (as it falls back).
    pub target_namespace: Option<String>,
    pub target_kind: String,
    pub target_name: String,
    /// `None` when its parameters cannot be read: a ladder (its count
    /// depends on the cluster's size), a ConfigMap alone, or values a
    /// template left unknown.
    pub min_replicas: Option<u32>,
}

/// The scaling `object` runs, if one of its containers is the autoscaler.
pub fn scaling(object: &Object<'_>) -> Option<ProportionalScaling> {
    object
        .containers()
        .iter()
        .filter(|c| {
            c.get("image")
                .and_then(Node::str)
                .is_some_and(|image| image.contains("cluster-proportional-autoscaler"))
        })
        .find_map(|container| {
            let flags = flags(container);
            let (kind, name) = flag(&flags, "target")?.split_once('/')?;
            Some(ProportionalScaling {
                target_namespace: flag(&flags, "namespace").map(str::to_string),
                target_kind: canonical_kind(kind)?.to_string(),
                target_name: name.to_string(),
                min_replicas: flag(&flags, "default-params").and_then(linear_minimum),
            })
        })
}

/// The container's command line: `command` then `args`.
fn flags(container: &Node) -> Vec<&str> {
    ["command", "args"]
        .iter()
        .filter_map(|key| container.get(key))
        .flat_map(Node::items)
        .filter_map(Node::str)
        .collect()
}

/// A flag's value, written `--name=value` or `--name value`.
fn flag<'a>(flags: &[&'a str], name: &str) -> Option<&'a str> {
    flags.iter().enumerate().find_map(|(i, argument)| {
        let rest = argument.strip_prefix("--")?.strip_prefix(name)?;
        match rest.strip_prefix('=') {
            Some(value) => Some(value),
            None if rest.is_empty() => flags.get(i + 1).copied(),
            None => None,
        }
    })
}

/// The autoscaler reads kinds in any case.
fn canonical_kind(kind: &str) -> Option<&'static str> {
    [
        "Deployment",
        "ReplicaSet",
        "ReplicationController",
        "StatefulSet",
    ]
    .into_iter()
    .find(|k| k.eq_ignore_ascii_case(kind))
}

/// The fewest replicas the linear mode keeps on a cluster of two nodes or
/// more: its `min` (at least one, as one node already asks for one), and
/// two with `preventSinglePointFailure`.
fn linear_minimum(params: &str) -> Option<u32> {
    let params: serde_json::Value = serde_json::from_str(params).ok()?;
    let linear = params.get("linear")?.as_object()?;
    let min = match linear.get("min") {
        None => 0,
        Some(min) => u32::try_from(min.as_u64()?).ok()?,
    };
    let prevent_single_point = match linear.get("preventSinglePointFailure") {
        None => false,
        Some(flag) => flag.as_bool()?,
    };
    let floor = if prevent_single_point { 2 } else { 1 };
    Some(min.max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::yaml;

    fn scaling_of(command: &str) -> Option<ProportionalScaling> {
        let text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: dns-autoscaler, namespace: kube-system}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: autoscaler\n        image: registry.k8s.io/cpa/cluster-proportional-autoscaler:v1.8.9\n        command: {command}\n"
        );
        let doc = yaml::parse_documents(&text).unwrap().remove(0);
        let object = crate::model::k8s::objects(&doc, "default").remove(0);
        scaling(&object)
    }

    #[test]
    fn reads_the_target_and_the_fewest_replicas_of_the_linear_mode() {
        let upstream = scaling_of(
            r#"[/cluster-proportional-autoscaler, --namespace=kube-system, --configmap=kube-dns-autoscaler, --target=Deployment/coredns, '--default-params={"linear":{"coresPerReplica":256,"nodesPerReplica":16,"preventSinglePointFailure":true,"includeUnschedulableNodes":true}}']"#,
        )
        .unwrap();
        assert_eq!(
            upstream,
            ProportionalScaling {
                target_namespace: Some("kube-system".to_string()),
                target_kind: "Deployment".to_string(),
                target_name: "coredns".to_string(),
                min_replicas: Some(2),
            }
        );
        let separate = scaling_of(
            r#"[/cluster-proportional-autoscaler, --target, deployment/coredns, --default-params, '{"linear":{"min":3}}']"#,
        )
        .unwrap();
        assert_eq!(
            (
                separate.target_kind.as_str(),
                separate.min_replicas,
                separate.target_namespace
            ),
            ("Deployment", Some(3), None)
        );
        let one = scaling_of(
            r#"[x, --target=Deployment/coredns, '--default-params={"linear":{"nodesPerReplica":16}}']"#,
        );
        assert_eq!(one.unwrap().min_replicas, Some(1));
    }

    #[test]
    fn a_minimum_it_cannot_read_is_unknown_and_a_bad_target_is_none() {
        for unreadable in [
            r#"[x, --target=Deployment/coredns, '--default-params={"ladder":{"nodesToReplicas":[[1,1],[2,2]]}}']"#,
            "[x, --target=Deployment/coredns, --configmap=dns-autoscaler]",
            r#"[x, --target=Deployment/coredns, '--default-params={"linear":{"min":{{ dns_min_replicas }}}}']"#,
            r#"[x, --target=Deployment/coredns, '--default-params={"linear":{"preventSinglePointFailure":"{{ x }}"}}']"#,
        ] {
            assert_eq!(
                scaling_of(unreadable).unwrap().min_replicas,
                None,
                "{unreadable}"
            );
        }
        assert_eq!(scaling_of("[x, --target=coredns]"), None);
        assert_eq!(scaling_of("[x, --target=DaemonSet/coredns]"), None);
        assert_eq!(scaling_of("[x, --namespace=kube-system]"), None);
    }
}
