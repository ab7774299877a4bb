//! The resource index of one run: compact summaries of the objects that
//! cross-file rules ask about, built from every file before those rules
//! decide. Trees are dropped after each file; only these summaries stay, so
//! memory grows with the number of resources, not their bytes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::k8s::webhook::{is_webhook_configuration, webhooks};
use crate::k8s::{string_map, LabelSelector, Labels, Object, Replicas};
use crate::parse::yaml::Node;

/// Set on every namespace by the API server since Kubernetes 1.21.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

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
    pub containers: Vec<ContainerSummary>,
}

#[derive(Debug, Clone)]
pub struct ContainerSummary {
    pub name: String,
    /// Declared ports: (name, containerPort).
    pub ports: Vec<(Option<String>, i64)>,
    pub liveness: bool,
    pub readiness: bool,
}

impl ContainerSummary {
    fn of(container: &Node) -> ContainerSummary {
        ContainerSummary {
            name: container
                .get("name")
                .and_then(Node::str)
                .unwrap_or("")
                .to_string(),
            ports: container
                .get("ports")
                .map_or(&[][..], Node::items)
                .iter()
                .filter_map(|p| {
                    let number = p.get("containerPort").and_then(Node::int)?;
                    Some((
                        p.get("name").and_then(Node::str).map(str::to_string),
                        number,
                    ))
                })
                .collect(),
            liveness: container.get("livenessProbe").is_some_and(|p| !p.is_null()),
            readiness: container
                .get("readinessProbe")
                .is_some_and(|p| !p.is_null()),
        }
    }

    /// Whether the container listens on a Service's `targetPort`.
    pub fn serves(&self, target: &PortRef) -> bool {
        self.ports.iter().any(|(name, number)| match target {
            PortRef::Number(n) => number == n,
            PortRef::Name(wanted) => name.as_deref() == Some(wanted.as_str()),
        })
    }
}

/// A Service's `targetPort` (defaulting to its `port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    Number(i64),
    Name(String),
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
    pub target_ports: Vec<PortRef>,
}

/// A Service and the workloads behind it.
pub struct Backend<'a> {
    pub service: &'a Service,
    pub workloads: Vec<&'a Workload>,
    /// `None` when a workload has no replica count (a DaemonSet).
    pub min_replicas: Option<u32>,
}

impl Backend<'_> {
    /// `Deployment ns/name (path:line)`, for every workload.
    pub fn describe(&self) -> String {
        self.workloads
            .iter()
            .map(|w| format!("{} ({})", w.describe(), w.at))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The containers that listen on the Service's target ports; every
    /// container when none is declared to.
    pub fn serving_containers(&self) -> Vec<(&Workload, &ContainerSummary)> {
        let all = self
            .workloads
            .iter()
            .flat_map(|w| w.containers.iter().map(move |c| (*w, c)));
        let serving: Vec<_> = all
            .clone()
            .filter(|(_, c)| self.service.target_ports.iter().any(|t| c.serves(t)))
            .collect();
        if serving.is_empty() {
            all.collect()
        } else {
            serving
        }
    }
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
    namespace_labels: HashMap<String, Labels>,
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
                containers: object
                    .containers()
                    .iter()
                    .map(ContainerSummary::of)
                    .collect(),
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
                target_ports: spec.map(target_ports).unwrap_or_default(),
            }),
            "Namespace" => {
                let mut labels = object
                    .node
                    .at(&["metadata", "labels"])
                    .map(string_map)
                    .unwrap_or_default();
                labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.clone());
                self.namespace_labels.insert(name, labels);
            }
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
        self.namespace_labels.extend(other.namespace_labels);
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

    /// What serves a Service the API server calls: `None` when the Service
    /// or every workload behind it is missing from the run.
    pub fn backend(&self, namespace: &str, name: &str) -> Option<Backend<'_>> {
        let service = self.service(namespace, name)?;
        let workloads = self.backends(service);
        if workloads.is_empty() {
            return None;
        }
        let min_replicas = self.total_min_replicas(&workloads);
        Some(Backend {
            service,
            workloads,
            min_replicas,
        })
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

    /// How many headless Services (`clusterIP: None`) the run holds.
    pub fn headless_services(&self) -> usize {
        self.services.iter().filter(|s| s.headless).count()
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
        let autoscaled = self.autoscaler_min(&workload.namespace, &workload.kind, &workload.name);
        match (autoscaled, workload.replicas) {
            (Some(min), Replicas::Count(_) | Replicas::Unknown) => Replicas::Count(min),
            (_, replicas) => replicas,
        }
    }

    /// The `minReplicas` of an autoscaler that targets this workload.
    pub fn autoscaler_min(&self, namespace: &str, kind: &str, name: &str) -> Option<u32> {
        self.autoscalers
            .iter()
            .find(|a| a.namespace == namespace && a.target_kind == kind && a.target_name == name)
            .map(|a| a.min_replicas)
    }

    /// The fewest Pods these workloads keep together; `None` when one of
    /// them has no replica count (a DaemonSet, an unrendered value).
    pub fn total_min_replicas(&self, workloads: &[&Workload]) -> Option<u32> {
        workloads
            .iter()
            .try_fold(0, |total, w| match self.min_replicas(w) {
                Replicas::Count(n) => Some(total + n),
                Replicas::Unknown | Replicas::NotCounted => None,
            })
    }

    /// Long-running workloads whose Pods a PodDisruptionBudget's selector matches.
    pub fn workloads_selected_by(
        &self,
        namespace: &str,
        selector: &LabelSelector,
    ) -> Vec<&Workload> {
        self.workloads_in(namespace)
            .filter(|w| !matches!(w.kind.as_str(), "Job" | "CronJob"))
            .filter(|w| selector.matches(&w.pod_labels))
            .collect()
    }

    /// The labels of a namespace: from a Namespace object among the linted
    /// files, else the one label every namespace carries.
    pub fn namespace_labels(&self, namespace: &str) -> Labels {
        self.namespace_labels
            .get(namespace)
            .cloned()
            .unwrap_or_else(|| {
                Labels::from([(NAMESPACE_NAME_LABEL.to_string(), namespace.to_string())])
            })
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

/// A Service's `targetPort`s, each defaulting to its `port`.
fn target_ports(spec: &Node) -> Vec<PortRef> {
    spec.get("ports")
        .map_or(&[][..], Node::items)
        .iter()
        .filter_map(|p| {
            let target = p.get("targetPort").or_else(|| p.get("port"))?;
            match target.int() {
                Some(n) => Some(PortRef::Number(n)),
                None => target.str().map(|s| PortRef::Name(s.to_string())),
            }
        })
        .collect()
}
