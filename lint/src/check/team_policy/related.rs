//! `related.services(object)`, `related.pdbs(object)`, `related.hpa(object)`:
//! what the resource index knows about an object, asked through the same
//! [`Lookup`] the built-in rules ask, so references resolve the same way
//! (the object's unit, else the nearest plain files of its project).
//!
//! Each answer is a summary shaped like the object it stands for, with the
//! fields the index keeps:
//! - a Service: `metadata.{name, namespace, labels}`, `spec.selector`,
//!   `spec.type`, and `spec.clusterIP: "None"` when it is headless;
//! - a PodDisruptionBudget: `metadata.{name, namespace}`,
//!   `spec.selector.matchLabels`;
//! - a HorizontalPodAutoscaler (or null): `metadata.{name, namespace}`,
//!   `spec.minReplicas`, `spec.scaleTargetRef.{kind, name}`; a KEDA
//!   ScaledObject is shaped the same, with `kind: ScaledObject` and its
//!   `minReplicaCount` (at least 1) as `minReplicas`.
//!
//! Services and budgets are those selecting the Pods of a workload; other
//! objects have none.

use std::collections::HashMap;

use cel::objects::Key;
use cel::Value;

use crate::model::index::{Autoscaler, DisruptionBudget, Lookup, Service};
use crate::model::k8s::{Labels, Object};

/// What the helpers need of the object, kept after its tree is dropped.
pub(crate) struct Subject {
    pub namespace: String,
    kind: String,
    name: String,
    /// `None` for objects that run no Pods.
    pod_labels: Option<Labels>,
}

impl Subject {
    pub(crate) fn of(object: &Object<'_>) -> Subject {
        Subject {
            namespace: object.namespace.to_string(),
            kind: object.kind.to_string(),
            name: object.name.to_string(),
            pod_labels: object.is_workload().then(|| object.pod_labels()),
        }
    }

    /// `related`: every helper's answer for this object.
    pub(crate) fn related(&self, lookup: &Lookup) -> Value {
        let (services, budgets) = match &self.pod_labels {
            Some(labels) => (
                lookup.services_selecting(&self.namespace, labels),
                lookup.budgets_selecting_pods(&self.namespace, labels),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let autoscaler = lookup.autoscaler(&self.namespace, &self.kind, &self.name);
        map([
            ("services", list(services.into_iter().map(service))),
            ("pdbs", list(budgets.into_iter().map(budget))),
            ("hpa", autoscaler.map_or(Value::Null, hpa)),
        ])
    }
}

fn service(service: &Service) -> Value {
    let mut spec = vec![
        (
            "selector",
            service.selector.as_ref().map_or(Value::Null, labels),
        ),
        (
            "type",
            Value::from(service.exposed_as.as_deref().unwrap_or("ClusterIP")),
        ),
    ];
    if service.headless {
        spec.push(("clusterIP", Value::from("None")));
    }
    map([
        (
            "metadata",
            map([
                ("name", Value::from(service.name.as_str())),
                ("namespace", Value::from(service.namespace.as_str())),
                ("labels", labels(&service.labels)),
            ]),
        ),
        ("spec", map(spec)),
    ])
}

fn budget(budget: &DisruptionBudget) -> Value {
    map([
        ("metadata", metadata(&budget.name, &budget.namespace)),
        (
            "spec",
            map([(
                "selector",
                map([("matchLabels", labels(&budget.selector.match_labels))]),
            )]),
        ),
    ])
}

fn hpa(autoscaler: &Autoscaler) -> Value {
    map([
        ("kind", Value::from(autoscaler.kind)),
        (
            "metadata",
            metadata(&autoscaler.name, &autoscaler.own_namespace),
        ),
        (
            "spec",
            map(autoscaler
                .min_replicas
                .map(|min| ("minReplicas", Value::Int(i64::from(min))))
                .into_iter()
                .chain([(
                    "scaleTargetRef",
                    map([
                        ("kind", Value::from(autoscaler.target_kind.as_str())),
                        ("name", Value::from(autoscaler.target_name.as_str())),
                    ]),
                )])),
        ),
    ])
}

fn metadata(name: &str, namespace: &str) -> Value {
    map([
        ("name", Value::from(name)),
        ("namespace", Value::from(namespace)),
    ])
}

fn labels(labels: &Labels) -> Value {
    let entries: HashMap<Key, Value> = labels
        .iter()
        .map(|(k, v)| (Key::from(k.clone()), Value::from(v.as_str())))
        .collect();
    Value::from(entries)
}

fn map(entries: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    let entries: HashMap<Key, Value> = entries
        .into_iter()
        .map(|(k, v)| (Key::from(k.to_string()), v))
        .collect();
    Value::from(entries)
}

fn list(items: impl Iterator<Item = Value>) -> Value {
    Value::List(items.collect::<Vec<_>>().into())
}
