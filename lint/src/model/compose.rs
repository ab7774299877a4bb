//! docker-compose files: a top-level `services:` map of container specs.

use crate::model::parse::yaml::Node;
use crate::model::source::Span;

#[derive(Debug, Clone, Copy)]
pub struct ComposeService<'a> {
    pub name: &'a str,
    pub name_span: Span,
    pub node: &'a Node,
}

/// The services of a compose document, or `None` when it is not one.
pub fn services(doc: &Node) -> Option<Vec<ComposeService<'_>>> {
    if doc.get("apiVersion").is_some() || doc.get("kind").is_some() {
        return None;
    }
    let services = doc.get("services")?;
    let entries = services.entries();
    if entries.is_empty() || !entries.iter().all(|(_, v)| v.is_map()) {
        return None;
    }
    Some(
        entries
            .iter()
            .filter_map(|(k, v)| {
                Some(ComposeService {
                    name: k.str()?,
                    name_span: k.span,
                    node: v,
                })
            })
            .collect(),
    )
}

impl<'a> ComposeService<'a> {
    /// Whether the service runs `program`: by its image, or by its
    /// `entrypoint`, else its `command` (a list, or a string split on spaces).
    pub fn runs(&self, program: &str) -> bool {
        let image = self.node.get("image").and_then(Node::str);
        let argv = |key| -> Vec<&str> {
            match self.node.get(key) {
                Some(node) if !node.items().is_empty() => {
                    node.items().iter().filter_map(Node::str).collect()
                }
                Some(node) => node
                    .str()
                    .map_or(Vec::new(), |s| s.split_whitespace().collect()),
                None => Vec::new(),
            }
        };
        let mut command = argv("entrypoint");
        command.extend(argv("command"));
        image.is_some_and(|i| crate::model::k8s::image_runs(i, program))
            || crate::model::k8s::command_runs(&command, program)
    }

    /// The memory limit: `mem_limit`, or `deploy.resources.limits.memory`.
    pub fn memory_limit(&self) -> Option<&'a Node> {
        self.node
            .get("mem_limit")
            .or_else(|| self.node.at(&["deploy", "resources", "limits", "memory"]))
            .filter(|n| !n.is_null())
    }
}
