//! Admission webhooks of Validating/MutatingWebhookConfiguration objects.

use crate::model::parse::yaml::Node;
use crate::model::source::Span;

use super::{LabelSelector, Object};

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

    /// How much of the cluster the webhook stands in front of, widest
    /// first: 0 for every resource, 1 for the built-in kinds (Pods,
    /// Services, Deployments… that every workload needs), 2 for a
    /// project's own custom resources only. When a shared backend fails,
    /// the widest caller is the one that takes the cluster down.
    pub fn reach(&self) -> u8 {
        let mut reach = 2;
        for rule in self.node.get("rules").map_or(&[][..], Node::items) {
            let list = |key| rule_strings(rule, key);
            if list("resources").iter().any(|r| matches!(*r, "*" | "*/*")) {
                return 0;
            }
            let built_in = |group: &&str| {
                matches!(*group, "" | "*") || !group.contains('.') || group.ends_with(".k8s.io")
            };
            if list("apiGroups").iter().any(built_in) {
                reach = 1;
            }
        }
        reach
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

/// A fail-closed webhook that calls an in-cluster Service, in owned form
/// for checks that must wait for the index to find the Service's backend.
pub struct ServiceCall {
    pub webhook: String,
    pub namespace: String,
    pub service: String,
    /// The webhook's `name`, where findings point.
    pub anchor: Span,
    /// See `Webhook::reach`.
    pub reach: u8,
}

/// The fail-closed webhooks of an object that call a Service.
pub fn fail_closed_service_calls(object: &Object<'_>) -> Vec<ServiceCall> {
    webhooks(object)
        .into_iter()
        .filter(|w| w.fails_closed)
        .filter_map(|w| {
            let (namespace, service) = w.service()?;
            Some(ServiceCall {
                webhook: w.name.to_string(),
                namespace: namespace.to_string(),
                service: service.to_string(),
                anchor: w.anchor().span,
                reach: w.reach(),
            })
        })
        .collect()
}

/// Resources the control plane and its add-ons write to recover, by API group.
const RECOVERY_RESOURCES: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "services"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "endpoints"),
    ("", "nodes"),
    ("", "serviceaccounts"),
    ("", "events"),
    ("events.k8s.io", "events"),
    ("coordination.k8s.io", "leases"),
    ("discovery.k8s.io", "endpointslices"),
];

/// The strings of a webhook rule's list (`apiGroups`, `resources`,
/// `operations`).
fn rule_strings<'n>(rule: &'n Node, key: &str) -> Vec<&'n str> {
    rule.get(key)
        .map_or(&[][..], Node::items)
        .iter()
        .filter_map(Node::str)
        .collect()
}

impl<'a> Webhook<'a> {
    /// The resources among those the control plane needs to recover that
    /// this webhook's rules intercept on create or update, as `group/resource`
    /// (`*` when every resource is).
    pub fn intercepted_recovery_resources(&self) -> Vec<String> {
        let mut found = Vec::new();
        for rule in self.node.get("rules").map_or(&[][..], Node::items) {
            let list = |key| rule_strings(rule, key);
            let operations = list("operations");
            if !operations
                .iter()
                .any(|o| matches!(*o, "*" | "CREATE" | "UPDATE"))
            {
                continue;
            }
            let groups = list("apiGroups");
            let resources = list("resources");
            if resources.iter().any(|r| matches!(*r, "*" | "*/*")) && groups.contains(&"*") {
                found.push("*".to_string());
                continue;
            }
            for (group, resource) in RECOVERY_RESOURCES {
                let group_matches = groups.iter().any(|g| *g == "*" || g == group);
                let resource_matches = resources.iter().any(|r| {
                    let base = r.split('/').next().unwrap_or(r);
                    base == "*" || base == *resource
                });
                let name = if group.is_empty() {
                    resource.to_string()
                } else {
                    format!("{resource}.{group}")
                };
                if group_matches && resource_matches && !found.contains(&name) {
                    found.push(name);
                }
            }
        }
        found
    }

    /// The webhook's `namespaceSelector`: `Some(None)` when there is none
    /// (every namespace), `None` when it cannot be read.
    pub fn namespace_selector(&self) -> Option<Option<LabelSelector>> {
        match self.node.get("namespaceSelector").filter(|n| !n.is_null()) {
            None => Some(None),
            Some(node) => LabelSelector::parse(node).map(Some),
        }
    }

    /// Whether its `objectSelector` matches only objects carrying a label:
    /// the objects the control plane writes carry none of a policy's, so an
    /// opt-in webhook never stands in their way.
    pub fn opts_objects_in(&self) -> bool {
        self.node
            .get("objectSelector")
            .filter(|n| !n.is_null())
            .and_then(LabelSelector::parse)
            .is_some_and(|selector| !selector.matches(&super::Labels::new()))
    }

    /// `timeoutSeconds`, or its default: 10 in v1, 30 in v1beta1.
    pub fn timeout_seconds(&self, api_version: &str) -> Option<i64> {
        match self.node.get("timeoutSeconds") {
            Some(node) => node.int(),
            None if api_version.ends_with("/v1beta1") => Some(30),
            None => Some(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::yaml::parse_documents;

    fn reach_of(rules: &str) -> u8 {
        let text = format!("name: w\nrules:\n{rules}");
        let node = parse_documents(&text).unwrap().remove(0);
        Webhook {
            name: "w",
            node: &node,
            fails_closed: true,
        }
        .reach()
    }

    #[test]
    fn every_resource_is_wider_than_built_in_kinds_wider_than_custom_ones() {
        assert_eq!(reach_of("- {apiGroups: ['*'], resources: ['*']}\n"), 0);
        assert_eq!(reach_of("- {apiGroups: [''], resources: [pods]}\n"), 1);
        assert_eq!(
            reach_of("- {apiGroups: [apps], resources: [deployments]}\n"),
            1
        );
        assert_eq!(
            reach_of("- {apiGroups: [appmesh.k8s.aws], resources: [gatewayroutes]}\n"),
            2
        );
    }
}
