//! Flags of control-plane components, wherever they are set: a static Pod's
//! `command`/`args`, a systemd `ExecStart=`, kubeadm's ClusterConfiguration
//! `extraArgs` (the v1beta3 map and the v1beta4 `[{name, value}]` list),
//! and the ClusterConfiguration patches of a kind cluster config.

use crate::model::k8s::{container_runs, Object};
use crate::model::parse::shell::Word;
use crate::model::parse::systemd::Unit;
use crate::model::parse::yaml::{Node, Value};
use crate::model::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    ApiServer,
}

impl Component {
    pub fn program(self) -> &'static str {
        match self {
            Component::ApiServer => "kube-apiserver",
        }
    }

    /// Its section in kubeadm's ClusterConfiguration.
    fn kubeadm_key(self) -> &'static str {
        match self {
            Component::ApiServer => "apiServer",
        }
    }
}

/// One `--name=value` setting, the span pointing at its value (or at the
/// flag when the value is attached to it).
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub name: String,
    pub value: String,
    pub span: Span,
}

/// Reads `--name=value` and `--name value` from argv words.
pub fn parse_argv<'a>(words: impl IntoIterator<Item = (&'a str, Span)>) -> Vec<Flag> {
    let words: Vec<(&str, Span)> = words.into_iter().collect();
    let mut flags = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (word, span) = words[i];
        if let Some(flag) = word.strip_prefix("--") {
            match flag.split_once('=') {
                Some((name, value)) => flags.push(Flag {
                    name: name.to_string(),
                    value: value.to_string(),
                    span,
                }),
                None => {
                    let value = words.get(i + 1).filter(|(w, _)| !w.starts_with('-'));
                    if let Some((value, value_span)) = value {
                        flags.push(Flag {
                            name: flag.to_string(),
                            value: value.to_string(),
                            span: *value_span,
                        });
                        i += 1;
                    } else {
                        flags.push(Flag {
                            name: flag.to_string(),
                            value: "true".to_string(),
                            span,
                        });
                    }
                }
            }
        }
        i += 1;
    }
    flags
}

/// The component's flags set by a Kubernetes object: containers running
/// it, a kubeadm ClusterConfiguration, or a kind Cluster's patches.
pub fn object_flags(object: &Object<'_>, component: Component) -> Vec<Flag> {
    if object.api_version.starts_with("kubeadm.k8s.io/") && object.kind == "ClusterConfiguration" {
        return kubeadm_extra_args(object.node, component);
    }
    if object.api_version.starts_with("kind.x-k8s.io/") && object.kind == "Cluster" {
        return kind_patches(object.node)
            .iter()
            .flat_map(|doc| kubeadm_extra_args(doc, component))
            .collect();
    }
    object
        .containers()
        .iter()
        .filter(|c| container_runs(c, component.program()))
        .flat_map(container_flags)
        .collect()
}

/// The flags on a container's `command` and `args`.
pub fn container_flags(container: &Node) -> Vec<Flag> {
    let argv = ["command", "args"]
        .iter()
        .flat_map(|key| container.get(key).map_or(&[][..], Node::items))
        .filter_map(|n| Some((n.str()?, n.span)));
    parse_argv(argv)
}

/// The component's flags on `ExecStart=` lines that run it.
pub fn unit_flags(unit: &Unit<'_>, component: Component) -> Vec<Flag> {
    unit.all("Service", "ExecStart")
        .flat_map(|entry| unit.exec_commands(entry))
        .filter(|words| runs(words, component.program()))
        .flat_map(|words| parse_argv(words.iter().map(|w| (w.text.as_str(), w.span))))
        .collect()
}

fn runs(words: &[Word], program: &str) -> bool {
    words
        .first()
        .is_some_and(|w| w.text.rsplit('/').next() == Some(program))
}

/// The ClusterConfiguration documents among a kind Cluster's
/// `kubeadmConfigPatches`, at the cluster level and on each node.
pub fn kind_patches(cluster: &Node) -> Vec<Node> {
    let node_patches = cluster
        .get("nodes")
        .map_or(&[][..], Node::items)
        .iter()
        .filter_map(|n| n.get("kubeadmConfigPatches"));
    cluster
        .get("kubeadmConfigPatches")
        .into_iter()
        .chain(node_patches)
        .flat_map(Node::items)
        .filter_map(Node::embedded_documents)
        .flatten()
        .filter(|doc| doc.get("kind").and_then(Node::str) == Some("ClusterConfiguration"))
        .collect()
}

fn kubeadm_extra_args(config: &Node, component: Component) -> Vec<Flag> {
    let Some(args) = config.at(&[component.kubeadm_key(), "extraArgs"]) else {
        return Vec::new();
    };
    match &args.value {
        Value::Map(entries) => entries
            .iter()
            .filter_map(|(k, v)| {
                Some(Flag {
                    name: k.str()?.to_string(),
                    value: scalar_text(v)?,
                    span: v.span,
                })
            })
            .collect(),
        Value::Seq(items) => items
            .iter()
            .filter_map(|item| {
                let value = item.get("value")?;
                Some(Flag {
                    name: item.get("name").and_then(Node::str)?.to_string(),
                    value: scalar_text(value)?,
                    span: value.span,
                })
            })
            .collect(),
        Value::Scalar(_) => Vec::new(),
    }
}

fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::Scalar(s) => Some(s.text.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::k8s::objects;
    use crate::model::parse::yaml::parse_documents;

    fn flags(text: &str, component: Component) -> Vec<(String, String, u32)> {
        let docs = parse_documents(text).unwrap();
        let objects = objects(&docs[0], "default");
        object_flags(&objects[0], component)
            .into_iter()
            .map(|f| (f.name, f.value, f.span.line))
            .collect()
    }

    #[test]
    fn reads_static_pod_argv_in_both_spellings() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:v1.30.0\n    command:\n    - kube-apiserver\n    - --max-requests-inflight=100\n    - --max-mutating-requests-inflight\n    - \"50\"\n";
        assert_eq!(
            flags(text, Component::ApiServer),
            vec![
                ("max-requests-inflight".into(), "100".into(), 10),
                ("max-mutating-requests-inflight".into(), "50".into(), 12),
            ]
        );
        let controller_manager = text.replace("kube-apiserver", "kube-controller-manager");
        assert!(flags(&controller_manager, Component::ApiServer).is_empty());
    }

    #[test]
    fn reads_kubeadm_maps_lists_and_kind_patches() {
        let v1beta3 = "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    max-requests-inflight: \"100\"\n";
        assert_eq!(
            flags(v1beta3, Component::ApiServer),
            vec![("max-requests-inflight".into(), "100".into(), 5)]
        );
        let v1beta4 = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n  - name: enable-priority-and-fairness\n    value: \"false\"\n";
        assert_eq!(
            flags(v1beta4, Component::ApiServer),
            vec![("enable-priority-and-fairness".into(), "false".into(), 6)]
        );
        let kind = "apiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  apiServer:\n    extraArgs:\n      max-requests-inflight: \"10\"\n";
        assert_eq!(
            flags(kind, Component::ApiServer),
            vec![("max-requests-inflight".into(), "10".into(), 8)]
        );
    }
}
