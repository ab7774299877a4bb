//! Kubernetes objects read from YAML trees: identity, pod templates,
//! labels and label selectors.

pub mod cluster_dns;
pub mod labels;
pub mod lifecycle;
pub mod proportional_autoscaler;
pub mod routes;
pub mod selector;
pub mod webhook;

use serde::Serialize;

use crate::model::parse::yaml::Node;

pub use selector::LabelSelector;

pub use labels::Labels;

/// One Kubernetes object, with its namespace already defaulted.
#[derive(Debug, Clone, Copy)]
pub struct Object<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
    pub node: &'a Node,
}

/// What the JSON output and messages call a resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ResourceRef {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// Kinds without a namespace. Objects of other kinds that omit one are in
/// the default namespace, as `kubectl apply` would put them.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "APIService",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "PodSecurityPolicy",
    "CertificateSigningRequest",
    "ClusterIssuer",
];

pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

/// Every Kubernetes object in a YAML document; `kind: List` and `*List`
/// documents are expanded into their items. Documents that are not
/// Kubernetes objects give nothing.
pub fn objects<'a>(doc: &'a Node, default_namespace: &'a str) -> Vec<Object<'a>> {
    let mut out = Vec::new();
    collect(doc, default_namespace, &mut out);
    out
}

fn collect<'a>(node: &'a Node, default_namespace: &'a str, out: &mut Vec<Object<'a>>) {
    let (Some(api_version), Some(kind)) = (
        node.get("apiVersion").and_then(Node::str),
        node.get("kind").and_then(Node::str),
    ) else {
        return;
    };
    if kind.ends_with("List") {
        if let Some(items) = node.get("items") {
            for item in items.items() {
                collect(item, default_namespace, out);
            }
            return;
        }
    }
    let metadata = node.get("metadata");
    let name = metadata
        .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
        .and_then(Node::str)
        .unwrap_or("");
    let namespace = if is_cluster_scoped(kind) {
        ""
    } else {
        metadata
            .and_then(|m| m.get("namespace"))
            .and_then(Node::str)
            .unwrap_or(default_namespace)
    };
    out.push(Object {
        api_version,
        kind,
        name,
        namespace,
        node,
    });
}

impl<'a> Object<'a> {
    pub fn resource(&self) -> ResourceRef {
        ResourceRef {
            api_version: self.api_version.to_string(),
            kind: self.kind.to_string(),
            namespace: (!self.namespace.is_empty()).then(|| self.namespace.to_string()),
            name: self.name.to_string(),
        }
    }

    /// Where a finding about the object as a whole points: its name.
    pub fn anchor(&self) -> &'a Node {
        self.node
            .at(&["metadata", "name"])
            .or_else(|| self.node.get("kind"))
            .unwrap_or(self.node)
    }

    /// Where findings about a replica count point: `spec.replicas`, or the
    /// object's name when it is unset.
    pub fn replicas_anchor(&self) -> &'a Node {
        self.node.at(&["spec", "replicas"]).unwrap_or(self.anchor())
    }

    pub fn is_workload(&self) -> bool {
        WORKLOAD_KINDS.contains(&self.kind)
    }

    /// The pod template (`metadata` + `spec`) of a workload; a Pod is its own.
    pub fn pod_template(&self) -> Option<&'a Node> {
        match self.kind {
            "Pod" => Some(self.node),
            "CronJob" => self.node.at(&["spec", "jobTemplate", "spec", "template"]),
            kind if WORKLOAD_KINDS.contains(&kind) => self.node.at(&["spec", "template"]),
            _ => None,
        }
    }

    pub fn pod_spec(&self) -> Option<&'a Node> {
        self.pod_template().and_then(|t| t.get("spec"))
    }

    pub fn pod_labels(&self) -> Labels {
        self.pod_template()
            .and_then(|t| t.at(&["metadata", "labels"]))
            .map(string_map)
            .unwrap_or_default()
    }

    /// How many Pods the workload asks for.
    pub fn replicas(&self) -> Replicas {
        match self.kind {
            "Pod" => Replicas::Count(1),
            "Deployment" | "StatefulSet" | "ReplicaSet" | "ReplicationController" => {
                match self.node.at(&["spec", "replicas"]) {
                    None => Replicas::Count(1),
                    Some(n) if n.is_null() => Replicas::Count(1),
                    Some(n) => n
                        .int()
                        .and_then(|v| u32::try_from(v).ok())
                        .map_or(Replicas::Unknown, Replicas::Count),
                }
            }
            _ => Replicas::NotCounted,
        }
    }

    /// Whether its Pods run to completion rather than serve: Jobs, CronJobs,
    /// Pods that are not restarted (`restartPolicy: Never`/`OnFailure`), and
    /// Helm hooks such as `helm test` Pods.
    pub fn runs_to_completion(&self) -> bool {
        let restart = self
            .pod_spec()
            .and_then(|s| s.get("restartPolicy"))
            .and_then(Node::str);
        let hook = self
            .node
            .at(&["metadata", "annotations", "helm.sh/hook"])
            .is_some();
        matches!(self.kind, "Job" | "CronJob")
            || matches!(restart, Some("Never" | "OnFailure"))
            || hook
    }

    /// The regular containers of the pod template (not init or ephemeral).
    pub fn containers(&self) -> &'a [Node] {
        self.pod_spec()
            .and_then(|s| s.get("containers"))
            .map_or(&[], Node::items)
    }
}

/// Kinds whose pods carry a template that Services and budgets select.
pub const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Pod",
    "Job",
    "CronJob",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replicas {
    Count(u32),
    /// Set to something that is not a number (an unrendered template).
    Unknown,
    /// DaemonSets, Jobs and CronJobs: not a replica count.
    NotCounted,
}

/// The last path segment of an image reference, without tag or digest:
/// `etcd` for `registry.k8s.io/etcd:3.5.15-0`.
pub fn image_name(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next().unwrap_or(last)
}

/// The tag of an image reference, if it has one: `v1.17.3`.
pub fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split_once(':').map(|(_, tag)| tag)
}

/// Whether an image reference runs `program`: an image of that name, or
/// for etcd also `etcd-server` (bitnami's).
pub fn image_runs(image: &str, program: &str) -> bool {
    let name = image_name(image);
    name == program || (program == "etcd" && name == "etcd-server")
}

/// Whether a command line (`argv`) starts `program`: as its first word (any
/// path), or in a shell's `-c` script, first or after `exec`, `&&`, `;` or `|`.
pub fn command_runs(argv: &[&str], program: &str) -> bool {
    let basename = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    let Some(first) = argv.first() else {
        return false;
    };
    if basename(first) == program {
        return true;
    }
    if !matches!(
        basename(first).as_str(),
        "sh" | "bash" | "ash" | "dash" | "zsh"
    ) {
        return false;
    }
    let script = argv.iter().skip_while(|a| **a != "-c").nth(1);
    script.is_some_and(|script| {
        let mut command_position = true;
        script.split_whitespace().any(|word| {
            let starts = command_position && basename(word.trim_end_matches(';')) == program;
            command_position =
                matches!(word, "exec" | "&&" | "||" | ";" | "|") || word.ends_with(';');
            starts
        })
    })
}

/// What a container is, for rules about etcd or the control plane: the
/// program its command (else its arguments) starts, or its image when the
/// image's own entrypoint runs: no command, and arguments that are flags
/// (an etcd image whose command is `etcdctl`, or a wrapper script such as
/// bitnami's `preupgrade.sh`, runs another program).
pub fn container_runs(container: &Node, program: &str) -> bool {
    let image = container.get("image").and_then(Node::str);
    let words = |key| -> Vec<&str> {
        container
            .get(key)
            .map_or(&[][..], Node::items)
            .iter()
            .filter_map(Node::str)
            .collect()
    };
    let (command, args) = (words("command"), words("args"));
    let argv: Vec<&str> = if command.is_empty() {
        args.clone()
    } else {
        command.iter().chain(&args).copied().collect()
    };
    if command_runs(&argv, program) {
        return true;
    }
    let entrypoint_runs = command.is_empty() && args.first().is_none_or(|w| w.starts_with('-'));
    entrypoint_runs && image.is_some_and(|i| image_runs(i, program))
}

/// A mapping of strings, as `labels` and Service `selector` are.
pub fn string_map(node: &Node) -> Labels {
    node.entries()
        .iter()
        .filter_map(|(k, v)| Some((k.str()?.to_string(), v.str().unwrap_or("").to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::yaml::parse_documents;

    #[test]
    fn expands_lists_and_defaults_namespaces() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n- apiVersion: admissionregistration.k8s.io/v1\n  kind: ValidatingWebhookConfiguration\n  metadata: {name: w, namespace: ignored}\n";
        let docs = parse_documents(text).unwrap();
        let objects = objects(&docs[0], "prod");
        assert_eq!(objects.len(), 2);
        assert_eq!((objects[0].kind, objects[0].namespace), ("Service", "prod"));
        assert_eq!(objects[1].namespace, "");
    }

    #[test]
    fn tells_what_a_container_runs_from_its_image_command_or_arguments() {
        let container = |yaml: &str| parse_documents(yaml).unwrap().remove(0);
        for runs_etcd in [
            "image: quay.io/coreos/etcd:v3.5.15",
            "image: docker.io/bitnami/etcd-server:3.5",
            "image: alpine\ncommand: [/usr/local/bin/etcd, --name, a]",
            "image: alpine\nargs: [etcd, --data-dir, /var/lib/etcd]",
            "image: alpine\ncommand: [/bin/sh, -c, \"exec etcd --name a\"]",
            "image: quay.io/coreos/etcd:v3.5.15\nargs: [--name, a, --data-dir, /var/lib/etcd]",
        ] {
            assert!(container_runs(&container(runs_etcd), "etcd"), "{runs_etcd}");
        }
        for other in [
            "image: etcd-operator:1",
            "image: alpine\ncommand: [etcdctl, endpoint, health]",
            "image: alpine\nargs: [--etcd-servers, https://etcd:2379]",
            "image: alpine\ncommand: [run-agent]\nargs: [--name, etcd]",
            "image: bitnami/etcd:3.5\ncommand: [/opt/bitnami/scripts/etcd/entrypoint.sh]\nargs: [/opt/bitnami/scripts/etcd/preupgrade.sh]",
            "image: quay.io/coreos/etcd:v3.5.15\nargs: [etcdctl, endpoint, health]",
        ] {
            assert!(!container_runs(&container(other), "etcd"), "{other}");
        }
    }

    #[test]
    fn ignores_documents_that_are_not_objects() {
        let docs = parse_documents("name: x\nkind: y\n").unwrap();
        assert!(objects(&docs[0], "default").is_empty());
    }

    #[test]
    fn reads_replicas_and_templates_of_each_workload_kind() {
        let text = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        metadata: {labels: {app: c}}\n        spec: {containers: [{name: x}]}\n";
        let docs = parse_documents(text).unwrap();
        let cron = objects(&docs[0], "default")[0];
        assert_eq!(cron.pod_labels().get("app").map(String::as_str), Some("c"));
        assert_eq!(cron.containers().len(), 1);
        assert_eq!(cron.replicas(), Replicas::NotCounted);

        let docs = parse_documents("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: \"{{ n }}\"}\n").unwrap();
        assert_eq!(
            objects(&docs[0], "default")[0].replicas(),
            Replicas::Unknown
        );
    }
}
