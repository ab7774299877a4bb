//! The resource index of one run: compact summaries of the objects that
//! cross-file rules ask about, built from every file before those rules
//! decide. Trees are dropped after each file; only these summaries stay, so
//! memory grows with the number of resources, not their bytes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::k8s::webhook::{is_webhook_configuration, webhooks};
use crate::k8s::{string_map, LabelSelector, Labels, Object, Replicas};
use crate::parse::yaml::Node;

/// Where an object was defined, for messages that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: Arc<str>,
    pub line: u32,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.path, self.line)
    }
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub at: Location,
    pub replicas: Replicas,
    pub pod_labels: Labels,
}

impl Workload {
    pub fn describe(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }
}

#[derive(Debug, Clone)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    pub at: Location,
    /// `None` for a Service without a selector: it selects no Pods.
    pub selector: Option<Labels>,
    pub headless: bool,
}

#[derive(Debug, Clone)]
pub struct DisruptionBudget {
    pub namespace: String,
    pub name: String,
    pub at: Location,
    pub selector: LabelSelector,
}

#[derive(Debug, Clone)]
pub struct Autoscaler {
    pub namespace: String,
    pub target_kind: String,
    pub target_name: String,
    pub min_replicas: u32,
}

/// Summaries from one file or from the whole run; parts merge by `extend`.
#[derive(Debug, Default)]
pub struct Index {
    workloads: Vec<Workload>,
    services: Vec<Service>,
    budgets: Vec<DisruptionBudget>,
    autoscalers: Vec<Autoscaler>,
    /// Services that admission webhooks or aggregated APIs call: (namespace, name).
    api_server_backends: HashSet<(String, String)>,
    workloads_by_namespace: HashMap<String, Vec<usize>>,
    services_by_namespace: HashMap<String, Vec<usize>>,
}

impl Index {
    /// Records what cross-file rules need to know about `object`.
    pub fn add(&mut self, object: &Object<'_>, path: &Arc<str>) {
        let at = Location {
            path: path.clone(),
            line: object.anchor().span.line,
        };
        let namespace = object.namespace.to_string();
        let name = object.name.to_string();
        let spec = object.node.get("spec");
        match object.kind {
            kind if object.is_workload() => self.workloads.push(Workload {
                kind: kind.to_string(),
                namespace,
                name,
                at,
                replicas: object.replicas(),
                pod_labels: object.pod_labels(),
            }),
            "Service" => self.services.push(Service {
                namespace,
                name,
                at,
                selector: spec
                    .and_then(|s| s.get("selector"))
                    .map(string_map)
                    .filter(|s| !s.is_empty()),
                headless: spec.and_then(|s| s.get("clusterIP")).and_then(Node::str) == Some("None"),
            }),
            "PodDisruptionBudget" => {
                if let Some(selector) = spec
                    .and_then(|s| s.get("selector"))
                    .and_then(LabelSelector::parse)
                {
                    self.budgets.push(DisruptionBudget {
                        namespace,
                        name,
                        at,
                        selector,
                    });
                }
            }
            "HorizontalPodAutoscaler" => {
                let target = spec.and_then(|s| s.get("scaleTargetRef"));
                let field = |key| target.and_then(|t| t.get(key)).and_then(Node::str);
                if let (Some(kind), Some(target_name)) = (field("kind"), field("name")) {
                    self.autoscalers.push(Autoscaler {
                        namespace,
                        target_kind: kind.to_string(),
                        target_name: target_name.to_string(),
                        min_replicas: spec
                            .and_then(|s| s.get("minReplicas"))
                            .and_then(Node::int)
                            .and_then(|n| u32::try_from(n).ok())
                            .unwrap_or(1),
                    });
                }
            }
            "APIService" => {
                let service = spec.and_then(|s| s.get("service"));
                let field = |key| service.and_then(|t| t.get(key)).and_then(Node::str);
                if let (Some(namespace), Some(name)) = (field("namespace"), field("name")) {
                    self.api_server_backends
                        .insert((namespace.to_string(), name.to_string()));
                }
            }
            kind if is_webhook_configuration(kind) => {
                for webhook in webhooks(object) {
                    if let Some((namespace, name)) = webhook.service() {
                        self.api_server_backends
                            .insert((namespace.to_string(), name.to_string()));
                    }
                }
            }
            _ => {}
        }
    }

    pub fn extend(&mut self, other: Index) {
        self.workloads.extend(other.workloads);
        self.services.extend(other.services);
        self.budgets.extend(other.budgets);
        self.autoscalers.extend(other.autoscalers);
        self.api_server_backends.extend(other.api_server_backends);
    }

    /// Sorts for deterministic answers and builds the lookup tables.
    pub fn finish(mut self) -> Index {
        self.workloads
            .sort_by(|a, b| (&a.at.path, a.at.line).cmp(&(&b.at.path, b.at.line)));
        self.services
            .sort_by(|a, b| (&a.at.path, a.at.line).cmp(&(&b.at.path, b.at.line)));
        self.workloads_by_namespace = by_namespace(self.workloads.iter().map(|w| &w.namespace));
        self.services_by_namespace = by_namespace(self.services.iter().map(|s| &s.namespace));
        self
    }

    pub fn resources(&self) -> usize {
        self.workloads.len() + self.services.len() + self.budgets.len() + self.autoscalers.len()
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services_in(namespace).find(|s| s.name == name)
    }

    /// The long-running workloads whose Pods a Service sends traffic to.
    pub fn backends(&self, service: &Service) -> Vec<&Workload> {
        let Some(selector) = &service.selector else {
            return Vec::new();
        };
        self.workloads_in(&service.namespace)
            .filter(|w| !matches!(w.kind.as_str(), "Job" | "CronJob"))
            .filter(|w| selector.iter().all(|(k, v)| w.pod_labels.get(k) == Some(v)))
            .collect()
    }

    /// Services with a selector that match these Pod labels.
    pub fn services_selecting<'a>(
        &'a self,
        namespace: &'a str,
        pod_labels: &'a Labels,
    ) -> impl Iterator<Item = &'a Service> + 'a {
        self.services.iter().filter(move |s| {
            s.namespace == namespace
                && s.selector
                    .as_ref()
                    .is_some_and(|sel| sel.iter().all(|(k, v)| pod_labels.get(k) == Some(v)))
        })
    }

    /// Whether the API server itself calls this Service (an admission
    /// webhook's or an aggregated API's), rather than load balancers.
    pub fn is_api_server_backend(&self, service: &Service) -> bool {
        self.api_server_backends
            .contains(&(service.namespace.clone(), service.name.clone()))
    }

    pub fn budgets_selecting<'a>(
        &'a self,
        namespace: &'a str,
        pod_labels: &'a Labels,
    ) -> impl Iterator<Item = &'a DisruptionBudget> + 'a {
        self.budgets
            .iter()
            .filter(move |b| b.namespace == namespace && b.selector.matches(pod_labels))
    }

    /// The replicas a workload keeps at the least: an autoscaler's
    /// `minReplicas` when one targets it, otherwise its own count.
    pub fn min_replicas(&self, workload: &Workload) -> Replicas {
        let autoscaler = self.autoscalers.iter().find(|a| {
            a.namespace == workload.namespace
                && a.target_kind == workload.kind
                && a.target_name == workload.name
        });
        match (autoscaler, workload.replicas) {
            (Some(a), Replicas::Count(_) | Replicas::Unknown) => Replicas::Count(a.min_replicas),
            (_, replicas) => replicas,
        }
    }

    fn services_in<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a Service> + 'a {
        self.services_by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .map(|&i| &self.services[i])
    }

    fn workloads_in<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a Workload> + 'a {
        self.workloads_by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .map(|&i| &self.workloads[i])
    }
}

/// Positions of the items of each namespace, in order.
fn by_namespace<'a>(namespaces: impl Iterator<Item = &'a String>) -> HashMap<String, Vec<usize>> {
    let mut map: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, namespace) in namespaces.enumerate() {
        map.entry(namespace.clone()).or_default().push(i);
    }
    map
}
