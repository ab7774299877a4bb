//! Recognising the workload that serves cluster DNS.

use crate::model::parse::yaml::Node;

use super::{image_name, Object};

/// A Deployment, StatefulSet or ReplicaSet serving cluster DNS: labelled
/// `k8s-app: kube-dns`, named `coredns`/`kube-dns`, or running a CoreDNS
/// image. DaemonSets (NodeLocal DNSCache) run on every node by design.
pub fn is_cluster_dns(object: &Object<'_>) -> bool {
    if !matches!(object.kind, "Deployment" | "StatefulSet" | "ReplicaSet") {
        return false;
    }
    let labelled = object.pod_labels().get("k8s-app").map(String::as_str) == Some("kube-dns");
    let named = matches!(object.name, "coredns" | "kube-dns");
    let coredns_image = object.containers().iter().any(|c| {
        c.get("image")
            .and_then(Node::str)
            .is_some_and(|image| image_name(image) == "coredns")
    });
    labelled || named || coredns_image
}
