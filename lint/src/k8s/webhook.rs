//! Admission webhooks of Validating/MutatingWebhookConfiguration objects.

use crate::parse::yaml::Node;

use super::Object;

#[derive(Debug, Clone, Copy)]
pub struct Webhook<'a> {
    pub name: &'a str,
    pub node: &'a Node,
    /// The API server rejects requests when the webhook cannot be reached.
    pub fails_closed: bool,
}

pub fn is_webhook_configuration(kind: &str) -> bool {
    matches!(
        kind,
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration"
    )
}

/// The webhooks of a webhook configuration; empty for any other object.
pub fn webhooks<'a>(object: &Object<'a>) -> Vec<Webhook<'a>> {
    if !is_webhook_configuration(object.kind) {
        return Vec::new();
    }
    // `failurePolicy` defaults to Fail in admissionregistration.k8s.io/v1
    // and to Ignore in v1beta1.
    let default_fails_closed = !object.api_version.ends_with("/v1beta1");
    object
        .node
        .get("webhooks")
        .map_or(&[][..], Node::items)
        .iter()
        .map(|node| Webhook {
            name: node.get("name").and_then(Node::str).unwrap_or(""),
            node,
            fails_closed: match node.get("failurePolicy").and_then(Node::str) {
                Some(policy) => policy == "Fail",
                None => default_fails_closed,
            },
        })
        .collect()
}

impl<'a> Webhook<'a> {
    /// Where findings about this webhook point: its `name`.
    pub fn anchor(&self) -> &'a Node {
        self.node.get("name").unwrap_or(self.node)
    }

    /// The in-cluster Service it calls, as (namespace, name); `None` for a URL.
    pub fn service(&self) -> Option<(&'a str, &'a str)> {
        let service = self.node.at(&["clientConfig", "service"])?;
        Some((
            service.get("namespace").and_then(Node::str)?,
            service.get("name").and_then(Node::str)?,
        ))
    }
}
