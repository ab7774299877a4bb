//! docker-compose files: a top-level `services:` map of container specs.

use crate::parse::yaml::Node;
use crate::source::Span;

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
    /// The memory limit: `mem_limit`, or `deploy.resources.limits.memory`.
    pub fn memory_limit(&self) -> Option<&'a Node> {
        self.node
            .get("mem_limit")
            .or_else(|| self.node.at(&["deploy", "resources", "limits", "memory"]))
            .filter(|n| !n.is_null())
    }
}
