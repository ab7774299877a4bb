//! The resource index of one run: compact summaries of the objects that
//! cross-file rules ask about, built from every file before those rules
//! decide. Trees are dropped after each file; only these summaries stay, so
//! memory grows with the number of resources, not their bytes.
//!
//! Every summary keeps its origin (the folder named on the command line it
//! was found under, its unit, and the file it was written in). Rules never
//! look at the index directly: they ask a [`Lookup`], which resolves every
//! reference the same way. Nothing resolves across two folders named on
//! the command line. Inside a rendered unit, only that unit's objects
//! answer. Among plain files, the nearest answer by path does (same folder,
//! else the deepest common parent folder), a same-named object in the same
//! file beats one elsewhere, two objects with the same kind, namespace and
//! name are never summed or mixed, and a tie is no answer at all.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use crate::model::k8s::proportional_autoscaler;
use crate::model::k8s::routes::{self, Scrape};
use crate::model::k8s::webhook::{is_webhook_configuration, webhooks};
use crate::model::k8s::{string_map, LabelSelector, Labels, Object, Replicas};
use crate::model::parse::yaml::Node;
use crate::model::source::{Related, SourceRef};

/// What findings of one rule share when many places point at one thing
/// (a backend fifteen webhooks call), and the place one of them names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// The same for every finding of the cause: the backend they share.
    pub key: String,
    pub caller: Caller,
}

/// One of the places that depend on a cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `fail-closed webhook`, `aggregated API`.
    pub kind: &'static str,
    pub name: String,
    /// How much of the cluster fails with the cause through this caller,
    /// widest (0) first: the finding is anchored on the widest caller.
    pub reach: u8,
}

/// Set on every namespace by the API server since Kubernetes 1.21.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Which folder of the run and which unit an object belongs to, and the
/// file it was written in: what references resolve by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The folder named on the command line (or with `--context`) that
    /// holds the file; files named one by one share one of their own.
    pub root: u32,
    /// The rendered unit; `None` for plain files.
    pub unit: Option<u32>,
    pub path: Arc<str>,
}

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

/// Where the parts of an object that cross-file findings talk about stand
/// in the files people edit: found by the caller, who knows the file or
/// the render the object came from.
pub struct Placed {
    pub origin: Origin,
    pub at: Location,
    /// The `replicas:` line, and what set its value, when it is written.
    pub replicas_set_at: Vec<Related>,
    /// For each container of a workload, where it is written when it
    /// lacks a probe: only findings about missing probes point at one.
    pub containers_at: Vec<Option<WrittenAt>>,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub origin: Origin,
    pub at: Location,
    pub replicas: Replicas,
    pub replicas_set_at: Vec<Related>,
    pub pod_labels: Labels,
    pub containers: Vec<ContainerSummary>,
    /// Its Pods run to completion (Jobs, test Pods): they serve no Service.
    pub runs_to_completion: bool,
}

#[derive(Debug, Clone)]
pub struct ContainerSummary {
    pub name: String,
    /// Declared ports: (name, containerPort).
    pub ports: Vec<(Option<String>, i64)>,
    pub liveness: bool,
    pub readiness: bool,
    /// Set when the container lacks a probe.
    pub written_at: Option<WrittenAt>,
}

/// Where a container is written, and what wrote it (a helper template,
/// the values it reads).
#[derive(Debug, Clone)]
pub struct WrittenAt {
    pub at: SourceRef,
    pub by: Vec<Related>,
}

/// Whether `container` sets the probe `field` (`livenessProbe`, …).
pub fn has_probe(container: &Node, field: &str) -> bool {
    container.get(field).is_some_and(|p| !p.is_null())
}

impl ContainerSummary {
    pub fn of(container: &Node) -> ContainerSummary {
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
            liveness: has_probe(container, "livenessProbe"),
            readiness: has_probe(container, "readinessProbe"),
            written_at: None,
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
    pub origin: Origin,
    pub at: Location,
    /// `None` for a Service without a selector: it selects no Pods.
    pub selector: Option<Labels>,
    pub headless: bool,
    pub target_ports: Vec<PortRef>,
    /// `LoadBalancer` or `NodePort`: reachable from outside the cluster.
    pub exposed_as: Option<String>,
    /// The names of its ports (unnamed ports are left out).
    pub port_names: Vec<String>,
    pub labels: Labels,
}

impl Service {
    pub fn describe(&self) -> String {
        format!("Service {}/{} ({})", self.namespace, self.name, self.at)
    }
}

/// An Ingress, Gateway API route or ingress controller route sending
/// traffic to a Service.
#[derive(Debug, Clone)]
pub struct Route {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub origin: Origin,
    pub at: Location,
    /// The Service it sends to: (namespace, name).
    pub target: (String, String),
}

impl Route {
    pub fn describe(&self) -> String {
        format!(
            "{} {}/{} ({})",
            self.kind, self.namespace, self.name, self.at
        )
    }
}

/// A Prometheus Operator `ServiceMonitor`.
#[derive(Debug, Clone)]
struct ServiceMonitor {
    namespace: String,
    name: String,
    origin: Origin,
    scrape: Scrape,
}

/// A Service and the workloads behind it.
pub struct Backend<'a> {
    pub service: &'a Service,
    pub workloads: Vec<&'a Workload>,
    /// `None` when a workload has no replica count (a DaemonSet).
    pub min_replicas: Option<u32>,
    described: String,
    replicas_set_at: Vec<Related>,
}

impl Backend<'_> {
    /// `Deployment ns/name (path:line)` for every workload, with the
    /// autoscaler that keeps its count where one does.
    pub fn describe(&self) -> &str {
        &self.described
    }

    /// The lines that set the backend's replica counts (an autoscaler's
    /// `minReplicas` where it decides), and the values behind them.
    pub fn replicas_set_at(&self) -> Vec<Related> {
        self.replicas_set_at.clone()
    }

    /// A finding about this backend, for one of its callers: findings of
    /// one rule about one backend are reported once.
    pub fn cause(&self, kind: &'static str, caller: &str, reach: u8) -> Cause {
        Cause {
            key: self.described.clone(),
            caller: Caller {
                kind,
                name: caller.to_string(),
                reach,
            },
        }
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
    pub origin: Origin,
    pub selector: LabelSelector,
}

/// What decides a workload's replica count instead of its `replicas`: a
/// HorizontalPodAutoscaler's `minReplicas`, a KEDA ScaledObject's
/// `minReplicaCount` (KEDA runs the HPA that scales it), or the fewest a
/// cluster-proportional-autoscaler keeps.
#[derive(Debug, Clone)]
pub struct Autoscaler {
    /// `HorizontalPodAutoscaler`, `ScaledObject` or `cluster-proportional-autoscaler`.
    pub kind: &'static str,
    /// The namespace of the workload it scales: its own, but for a
    /// cluster-proportional-autoscaler given `--namespace`.
    pub namespace: String,
    pub own_namespace: String,
    pub name: String,
    pub origin: Origin,
    pub target_kind: String,
    pub target_name: String,
    /// `None` when it is set from values scar cannot read.
    pub min_replicas: Option<u32>,
    /// The `minReplicas` line, and the values behind it.
    pub min_replicas_set_at: Vec<Related>,
}

impl Autoscaler {
    pub fn describe(&self) -> String {
        match self.min_replicas {
            Some(min) => format!(
                "{} {}/{} keeps at least {min}",
                self.kind, self.own_namespace, self.name
            ),
            None => format!(
                "{} {}/{} sets its count from values scar cannot read",
                self.kind, self.own_namespace, self.name
            ),
        }
    }
}

/// A webhook or aggregated API: the API server calls this Service.
#[derive(Debug, Clone)]
struct ApiServerCall {
    namespace: String,
    service: String,
    origin: Origin,
}

#[derive(Debug, Clone)]
struct NamespaceSummary {
    name: String,
    origin: Origin,
    labels: Labels,
    /// The whole object, for teams' policies (`namespaceObject`): there are
    /// few Namespaces, and they are small.
    object: Arc<Node>,
}

/// Summaries from one file or from the whole run; parts merge by `extend`.
#[derive(Debug, Default)]
pub struct Index {
    workloads: Vec<Workload>,
    services: Vec<Service>,
    budgets: Vec<DisruptionBudget>,
    autoscalers: Vec<Autoscaler>,
    callers: Vec<ApiServerCall>,
    namespaces: Vec<NamespaceSummary>,
    routes: Vec<Route>,
    monitors: Vec<ServiceMonitor>,
    tables: Tables,
    /// Each Service the API server calls, by its address in `services`,
    /// with the first caller that resolves to it: worked out once, on the
    /// first question, since every caller must be resolved to answer one.
    called: OnceLock<HashMap<usize, usize>>,
}

/// Positions of summaries by what lookups ask for and where they can be
/// seen from, so that no lookup scans a namespace or every copy of a name:
/// keys are hashes of the strings asked for (the answers are checked
/// against the summaries, so a collision costs only a compare).
#[derive(Debug, Default)]
struct Tables {
    /// Services by (namespace, name).
    services_named: Keyed,
    /// Services by each (namespace, key, value) pair of their selector.
    services_selecting: Keyed,
    /// Long-running workloads by namespace, and by each pod label pair.
    workloads_in: Keyed,
    /// Every workload by (namespace, kind, name).
    workloads_named: Keyed,
    workloads_labelled: Keyed,
    /// Budgets by each `matchLabels` pair; those without any, by namespace.
    budgets_labelled: Keyed,
    budgets_unlabelled: Keyed,
    /// Autoscalers by (namespace, target kind, target name).
    autoscalers_of: Keyed,
    /// Routes by the Service's (namespace, name).
    routes_to: Keyed,
    namespaces_named: Keyed,
    headless: Keyed,
    monitors: Keyed,
}

/// Positions by key and by each scope (see [`scopes`]) their summary is
/// seen from: a lookup reads the nearest scope that answers and no other.
#[derive(Debug, Default)]
struct Keyed(HashMap<(u64, u64), Vec<usize>>);

impl Keyed {
    fn add(&mut self, key: u64, seen_from: &[u64], at: usize) {
        for &scope in seen_from {
            self.0.entry((key, scope)).or_default().push(at);
        }
    }

    fn get(&self, key: u64, scope: u64) -> &[usize] {
        self.0.get(&(key, scope)).map_or(&[], Vec::as_slice)
    }
}

/// Where a summary can be seen from, nearest first: its rendered unit as
/// a whole, or for a plain file its folder and then each folder above it,
/// up to the folder named on the command line. An asker's scopes, deepest
/// first, are where its answers are looked for.
fn scopes(origin: &Origin) -> Vec<u64> {
    let scope = |folder: &str| {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (origin.root, origin.unit, folder).hash(&mut hasher);
        hasher.finish()
    };
    if origin.unit.is_some() {
        return vec![scope("")];
    }
    let mut folder = folder_of(&origin.path);
    let mut found = vec![scope(folder)];
    while !folder.is_empty() {
        folder = folder_of(folder);
        found.push(scope(folder));
    }
    found
}

/// The one key of tables that are looked up by place alone.
const EVERY: u64 = 0;

/// A fixed hash of strings: the same in every run and every thread.
fn key(parts: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for part in parts {
        part.hash(&mut hasher);
    }
    hasher.finish()
}

impl Index {
    /// Records what cross-file rules need to know about `object`.
    pub fn add(&mut self, object: &Object<'_>, placed: Placed) {
        let Placed {
            origin,
            at,
            replicas_set_at,
            mut containers_at,
        } = placed;
        let namespace = object.namespace.to_string();
        let name = object.name.to_string();
        let spec = object.node.get("spec");
        for target in routes::targets(object) {
            self.routes.push(Route {
                kind: object.kind.to_string(),
                namespace: namespace.clone(),
                name: name.clone(),
                origin: origin.clone(),
                at: at.clone(),
                target,
            });
        }
        if let Some(scrape) = routes::scrape(object) {
            self.monitors.push(ServiceMonitor {
                namespace: namespace.clone(),
                name: name.clone(),
                origin: origin.clone(),
                scrape,
            });
        }
        if let Some(scaling) = proportional_autoscaler::scaling(object) {
            self.autoscalers.push(Autoscaler {
                kind: "cluster-proportional-autoscaler",
                namespace: scaling
                    .target_namespace
                    .unwrap_or_else(|| namespace.clone()),
                own_namespace: namespace.clone(),
                name: name.clone(),
                origin: origin.clone(),
                target_kind: scaling.target_kind,
                target_name: scaling.target_name,
                min_replicas: scaling.min_replicas,
                min_replicas_set_at: Vec::new(),
            });
        }
        match object.kind {
            kind if object.is_workload() => self.workloads.push(Workload {
                kind: kind.to_string(),
                namespace,
                name,
                origin,
                at,
                replicas: object.replicas(),
                replicas_set_at,
                pod_labels: object.pod_labels(),
                containers: object
                    .containers()
                    .iter()
                    .enumerate()
                    .map(|(i, node)| ContainerSummary {
                        written_at: containers_at.get_mut(i).and_then(Option::take),
                        ..ContainerSummary::of(node)
                    })
                    .collect(),
                runs_to_completion: object.runs_to_completion(),
            }),
            "Service" => self.services.push(Service {
                namespace,
                name,
                origin,
                at,
                selector: spec
                    .and_then(|s| s.get("selector"))
                    .map(string_map)
                    .filter(|s| !s.is_empty()),
                headless: spec.and_then(|s| s.get("clusterIP")).and_then(Node::str) == Some("None"),
                target_ports: spec.map(target_ports).unwrap_or_default(),
                exposed_as: spec
                    .and_then(|s| s.get("type"))
                    .and_then(Node::str)
                    .filter(|t| matches!(*t, "LoadBalancer" | "NodePort"))
                    .map(str::to_string),
                port_names: spec
                    .and_then(|s| s.get("ports"))
                    .map_or(&[][..], Node::items)
                    .iter()
                    .filter_map(|p| p.get("name").and_then(Node::str).map(str::to_string))
                    .collect(),
                labels: object
                    .node
                    .at(&["metadata", "labels"])
                    .map(string_map)
                    .unwrap_or_default(),
            }),
            "Namespace" => {
                let mut labels = object
                    .node
                    .at(&["metadata", "labels"])
                    .map(string_map)
                    .unwrap_or_default();
                labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.clone());
                self.namespaces.push(NamespaceSummary {
                    name,
                    origin,
                    labels,
                    object: Arc::new(object.node.clone()),
                });
            }
            "PodDisruptionBudget" => {
                if let Some(selector) = spec
                    .and_then(|s| s.get("selector"))
                    .and_then(LabelSelector::parse)
                {
                    self.budgets.push(DisruptionBudget {
                        namespace,
                        name,
                        origin,
                        selector,
                    });
                }
            }
            "HorizontalPodAutoscaler" => {
                let target = spec.and_then(|s| s.get("scaleTargetRef"));
                let field = |key| target.and_then(|t| t.get(key)).and_then(Node::str);
                if let (Some(kind), Some(target_name)) = (field("kind"), field("name")) {
                    self.autoscalers.push(Autoscaler {
                        kind: "HorizontalPodAutoscaler",
                        own_namespace: namespace.clone(),
                        namespace,
                        name,
                        origin,
                        min_replicas_set_at: replicas_set_at,
                        target_kind: kind.to_string(),
                        target_name: target_name.to_string(),
                        min_replicas: Some(
                            spec.and_then(|s| s.get("minReplicas"))
                                .and_then(Node::int)
                                .and_then(|n| u32::try_from(n).ok())
                                .unwrap_or(1),
                        ),
                    });
                }
            }
            "ScaledObject" if object.api_version.starts_with("keda.sh/") => {
                let target = spec.and_then(|s| s.get("scaleTargetRef"));
                let field = |key| target.and_then(|t| t.get(key)).and_then(Node::str);
                if let Some(target_name) = field("name") {
                    self.autoscalers.push(Autoscaler {
                        kind: "ScaledObject",
                        own_namespace: namespace.clone(),
                        namespace,
                        name,
                        origin,
                        min_replicas_set_at: replicas_set_at,
                        // KEDA's default target kind.
                        target_kind: field("kind").unwrap_or("Deployment").to_string(),
                        target_name: target_name.to_string(),
                        // Scaled to zero when idle (the default 0); one at
                        // least whenever it serves.
                        min_replicas: Some(
                            spec.and_then(|s| s.get("minReplicaCount"))
                                .and_then(Node::int)
                                .and_then(|n| u32::try_from(n).ok())
                                .unwrap_or(0)
                                .max(1),
                        ),
                    });
                }
            }
            "APIService" => {
                let service = spec.and_then(|s| s.get("service"));
                let field = |key| service.and_then(|t| t.get(key)).and_then(Node::str);
                if let (Some(namespace), Some(name)) = (field("namespace"), field("name")) {
                    self.callers.push(ApiServerCall {
                        namespace: namespace.to_string(),
                        service: name.to_string(),
                        origin,
                    });
                }
            }
            kind if is_webhook_configuration(kind) => {
                for webhook in webhooks(object) {
                    if let Some((namespace, name)) = webhook.service() {
                        self.callers.push(ApiServerCall {
                            namespace: namespace.to_string(),
                            service: name.to_string(),
                            origin: origin.clone(),
                        });
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
        self.callers.extend(other.callers);
        self.namespaces.extend(other.namespaces);
        self.routes.extend(other.routes);
        self.monitors.extend(other.monitors);
    }

    /// Sorts for deterministic answers and builds the lookup tables.
    pub fn finish(mut self) -> Index {
        let position = |origin: &Origin, at: &Location| (origin.unit, at.path.clone(), at.line);
        self.workloads.sort_by_key(|w| position(&w.origin, &w.at));
        self.services.sort_by_key(|s| position(&s.origin, &s.at));
        let tables = &mut self.tables;
        for (i, s) in self.services.iter().enumerate() {
            let seen_from = scopes(&s.origin);
            tables
                .services_named
                .add(key(&[&s.namespace, &s.name]), &seen_from, i);
            for (k, v) in s.selector.iter().flat_map(Labels::iter) {
                tables
                    .services_selecting
                    .add(key(&[&s.namespace, k, v]), &seen_from, i);
            }
            if s.headless {
                tables.headless.add(EVERY, &seen_from, i);
            }
        }
        for (i, w) in self.workloads.iter().enumerate() {
            let seen_from = scopes(&w.origin);
            tables
                .workloads_named
                .add(key(&[&w.namespace, &w.kind, &w.name]), &seen_from, i);
            if w.runs_to_completion {
                continue;
            }
            tables.workloads_in.add(key(&[&w.namespace]), &seen_from, i);
            for (k, v) in w.pod_labels.iter() {
                tables
                    .workloads_labelled
                    .add(key(&[&w.namespace, k, v]), &seen_from, i);
            }
        }
        for (i, b) in self.budgets.iter().enumerate() {
            let seen_from = scopes(&b.origin);
            if b.selector.match_labels.is_empty() {
                tables
                    .budgets_unlabelled
                    .add(key(&[&b.namespace]), &seen_from, i);
            }
            for (k, v) in b.selector.match_labels.iter() {
                tables
                    .budgets_labelled
                    .add(key(&[&b.namespace, k, v]), &seen_from, i);
            }
        }
        for (i, a) in self.autoscalers.iter().enumerate() {
            let target = key(&[&a.namespace, &a.target_kind, &a.target_name]);
            tables.autoscalers_of.add(target, &scopes(&a.origin), i);
        }
        for (i, r) in self.routes.iter().enumerate() {
            tables
                .routes_to
                .add(key(&[&r.target.0, &r.target.1]), &scopes(&r.origin), i);
        }
        for (i, n) in self.namespaces.iter().enumerate() {
            tables
                .namespaces_named
                .add(key(&[&n.name]), &scopes(&n.origin), i);
        }
        for (i, m) in self.monitors.iter().enumerate() {
            tables.monitors.add(EVERY, &scopes(&m.origin), i);
        }
        self
    }

    /// Each Service the API server calls, by address, with the first
    /// webhook or APIService (in the order they were read) that resolves
    /// to it.
    fn services_called(&self) -> HashMap<usize, usize> {
        let mut called = HashMap::new();
        for (i, caller) in self.callers.iter().enumerate() {
            let lookup = Lookup::new(self, &caller.origin);
            let service = lookup.service_from(&caller.origin, &caller.namespace, &caller.service);
            if let Some(service) = service {
                called.entry(address(service)).or_insert(i);
            }
        }
        called
    }

    /// Long-running workloads seen in `scope` that may carry every label of
    /// `labels`: those with the rarest of its pairs, or every one in the
    /// namespace.
    fn workloads_with<'a>(
        &'a self,
        namespace: &str,
        labels: &Labels,
        scope: u64,
    ) -> impl Iterator<Item = &'a Workload> + 'a {
        let tables = &self.tables;
        let by_pair = labels
            .iter()
            .map(|(k, v)| {
                tables
                    .workloads_labelled
                    .get(key(&[namespace, k, v]), scope)
            })
            .min_by_key(|positions| positions.len());
        let positions =
            by_pair.unwrap_or_else(|| tables.workloads_in.get(key(&[namespace]), scope));
        let namespace = namespace.to_string();
        positions
            .iter()
            .map(|&i| &self.workloads[i])
            .filter(move |w| w.namespace == namespace)
    }

    /// The positions in several lists, once each, in order.
    fn union<'a>(lists: impl Iterator<Item = &'a [usize]>) -> Vec<usize> {
        let mut positions: Vec<usize> = lists.flatten().copied().collect();
        positions.sort_unstable();
        positions.dedup();
        positions
    }
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

/// What the resolver needs of every summary.
trait Indexed {
    fn origin(&self) -> &Origin;
    /// Kind, namespace and name: two objects with the same are duplicates.
    fn identity(&self) -> (&str, &str, &str);
}

/// `Indexed` for a summary with an `origin` field, from its identity.
macro_rules! indexed {
    ($type:ty, |$item:ident| $identity:expr) => {
        impl Indexed for $type {
            fn origin(&self) -> &Origin {
                &self.origin
            }
            fn identity(&self) -> (&str, &str, &str) {
                let $item = self;
                $identity
            }
        }
    };
}

indexed!(Workload, |w| (&w.kind, &w.namespace, &w.name));
indexed!(Route, |r| (&r.kind, &r.namespace, &r.name));
indexed!(Service, |s| ("Service", &s.namespace, &s.name));
indexed!(DisruptionBudget, |b| (
    "PodDisruptionBudget",
    &b.namespace,
    &b.name
));
indexed!(Autoscaler, |a| (a.kind, &a.namespace, &a.name));
indexed!(ServiceMonitor, |m| (
    "ServiceMonitor",
    &m.namespace,
    &m.name
));
indexed!(NamespaceSummary, |n| ("Namespace", "", &n.name));

fn folder_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

fn address(service: &Service) -> usize {
    std::ptr::from_ref(service) as usize
}

/// The candidates `from` sees, given those seen from each scope: its own
/// unit's; for a plain file, those under the deepest folder above it that
/// holds any (the ones whose folder shares the most with its own).
fn nearest_level<'i, T: 'i, I: Iterator<Item = &'i T>>(
    from: &Origin,
    candidates_in: impl Fn(u64) -> I,
) -> Vec<&'i T> {
    scopes(from)
        .into_iter()
        .map(|scope| candidates_in(scope).collect::<Vec<_>>())
        .find(|seen| !seen.is_empty())
        .unwrap_or_default()
}

/// Answers the cross-file questions of one finding, resolved from where
/// the object it is about was written, and remembers every file the
/// answers came from.
pub struct Lookup<'a> {
    index: &'a Index,
    asker: &'a Origin,
    read: RefCell<BTreeSet<Arc<str>>>,
}

impl<'a> Lookup<'a> {
    pub fn new(index: &'a Index, asker: &'a Origin) -> Lookup<'a> {
        Lookup {
            index,
            asker,
            read: RefCell::new(BTreeSet::new()),
        }
    }

    /// The files the answers so far came from.
    pub fn files_read(self) -> BTreeSet<Arc<str>> {
        self.read.into_inner()
    }

    fn note<T: Indexed>(&self, items: &[&T]) {
        let mut read = self.read.borrow_mut();
        for item in items {
            read.insert(item.origin().path.clone());
        }
    }

    /// The candidates `from` sees: its own unit's, or for a plain file the
    /// nearest by path; one per identity. `None` when two duplicates are
    /// equally near: which one is meant cannot be known.
    fn nearest<'i, T: Indexed + 'i, I: Iterator<Item = &'i T>>(
        &self,
        from: &Origin,
        candidates_in: impl Fn(u64) -> I,
    ) -> Option<Vec<&'i T>> {
        let visible = nearest_level(from, candidates_in);
        let mut twins: HashMap<(&str, &str, &str), Vec<&T>> = HashMap::new();
        for candidate in &visible {
            twins
                .entry(candidate.identity())
                .or_default()
                .push(candidate);
        }
        let mut chosen: Vec<&T> = Vec::new();
        for candidate in visible {
            let same = &twins[&candidate.identity()];
            if same.len() == 1 {
                chosen.push(candidate);
                continue;
            }
            // Of duplicates equally deep, the one in the asker's own file
            // is the one it means, else the one in its folder.
            let rank = |t: &&T| {
                let path = &t.origin().path;
                if *path == from.path {
                    2
                } else if folder_of(path) == folder_of(&from.path) {
                    1
                } else {
                    0
                }
            };
            let best = same.iter().map(rank).max().unwrap_or(0);
            let nearest: Vec<&&T> = same.iter().filter(|t| rank(t) == best).collect();
            match nearest.as_slice() {
                [only] if std::ptr::eq(**only, candidate) => chosen.push(candidate),
                [_] => {}
                _ => return None,
            }
        }
        // What the asker's own file holds comes first: the Service a
        // message names is the one written beside the workload.
        chosen.sort_by_key(|c| c.origin().path != from.path);
        self.note(&chosen);
        Some(chosen)
    }

    fn service_from(&self, from: &Origin, namespace: &str, name: &str) -> Option<&'a Service> {
        let index = self.index;
        let named = key(&[namespace, name]);
        let found = self.nearest(from, |scope| {
            index
                .tables
                .services_named
                .get(named, scope)
                .iter()
                .map(|&i| &index.services[i])
                .filter(|s| s.namespace == namespace && s.name == name)
        })?;
        found.into_iter().next()
    }

    /// The long-running workloads whose Pods a Service sends traffic to;
    /// `None` when which ones cannot be known.
    pub fn backends(&self, service: &Service) -> Option<Vec<&'a Workload>> {
        let Some(selector) = &service.selector else {
            return Some(Vec::new());
        };
        self.nearest(&service.origin, |scope| {
            self.index
                .workloads_with(&service.namespace, selector, scope)
                .filter(|w| selector.iter().all(|(k, v)| w.pod_labels.get(k) == Some(v)))
        })
    }

    /// What serves a Service the API server calls: `None` when the Service
    /// or every workload behind it is missing from the unit or its folders.
    pub fn backend(&self, namespace: &str, name: &str) -> Option<Backend<'a>> {
        let service = self.service_from(self.asker, namespace, name)?;
        let workloads = self.backends(service)?;
        if workloads.is_empty() {
            return None;
        }
        let min_replicas = self.total_min_replicas(&workloads);
        let described = workloads
            .iter()
            .map(|w| match self.autoscaler_of(w) {
                Some(a) => format!("{} ({}; {})", w.describe(), w.at, a.describe()),
                None => format!("{} ({})", w.describe(), w.at),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let replicas_set_at = workloads
            .iter()
            .flat_map(|w| self.replicas_set_at(w))
            .collect();
        Some(Backend {
            service,
            workloads,
            min_replicas,
            described,
            replicas_set_at,
        })
    }

    /// Services with a selector that match these Pod labels.
    pub fn services_selecting(&self, namespace: &str, pod_labels: &Labels) -> Vec<&'a Service> {
        let index = self.index;
        let pairs: Vec<u64> = pod_labels
            .iter()
            .map(|(k, v)| key(&[namespace, k, v]))
            .collect();
        self.nearest(self.asker, |scope| {
            let selecting = &index.tables.services_selecting;
            let positions = Index::union(pairs.iter().map(|&pair| selecting.get(pair, scope)));
            positions
                .into_iter()
                .map(|i| &index.services[i])
                .filter(|s| {
                    s.namespace == namespace
                        && s.selector.as_ref().is_some_and(|sel| {
                            sel.iter().all(|(k, v)| pod_labels.get(k) == Some(v))
                        })
                })
        })
        .unwrap_or_default()
        .into_iter()
        // Both ways: the Service's own backends are the asker's.
        .filter(|s| self.sees_asker(self.backends(s)))
        .collect()
    }

    /// Whether workloads found from another object include one of the
    /// asker's file; `None` (cannot be known) counts as yes.
    fn sees_asker(&self, workloads: Option<Vec<&Workload>>) -> bool {
        workloads.is_none_or(|found| found.iter().any(|w| w.origin == *self.asker))
    }

    /// The routes that send traffic to a Service from outside the cluster.
    pub fn routes_to(&self, service: &Service) -> Vec<&'a Route> {
        let index = self.index;
        let target = (service.namespace.clone(), service.name.clone());
        let targeted = key(&[&target.0, &target.1]);
        self.nearest(&service.origin, |scope| {
            index
                .tables
                .routes_to
                .get(targeted, scope)
                .iter()
                .map(|&i| &index.routes[i])
                .filter(|r| r.target == target)
        })
        .unwrap_or_default()
        .into_iter()
        // Both ways: the route's own nearest Service of that name is this one.
        .filter(|r| {
            self.service_from(&r.origin, &target.0, &target.1)
                .is_none_or(|own| std::ptr::eq(own, service))
        })
        .collect()
    }

    /// Whether a Service serves only operators: every port is named as a
    /// metrics, profiling or probe port, or a `ServiceMonitor` scrapes every
    /// port it has.
    pub fn serves_only_operators(&self, service: &Service) -> bool {
        let names = &service.port_names;
        if !names.is_empty() && names.iter().all(|n| routes::is_operations_port(n)) {
            return true;
        }
        let index = self.index;
        let monitors = self
            .nearest(&service.origin, |scope| {
                let positions = index.tables.monitors.get(EVERY, scope);
                positions.iter().map(|&i| &index.monitors[i]).filter(|m| {
                    m.scrape
                        .namespaces
                        .as_ref()
                        .is_none_or(|ns| ns.contains(&service.namespace))
                        && m.scrape.selector.matches(&service.labels)
                })
            })
            .unwrap_or_default();
        !names.is_empty()
            && names
                .iter()
                .all(|n| monitors.iter().any(|m| m.scrape.ports.contains(n)))
    }

    /// How many headless Services (`clusterIP: None`) the asker's unit,
    /// or the nearest folder of plain files that holds some, defines.
    pub fn headless_services(&self) -> usize {
        let index = self.index;
        let headless = nearest_level(self.asker, |scope| {
            let positions = index.tables.headless.get(EVERY, scope);
            positions.iter().map(|&i| &index.services[i])
        });
        self.note(&headless);
        headless
            .iter()
            .map(|s| s.identity())
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// Whether the API server itself calls this Service (an admission
    /// webhook's or an aggregated API's), rather than load balancers.
    pub fn is_api_server_backend(&self, service: &Service) -> bool {
        let index = self.index;
        let called = index.called.get_or_init(|| index.services_called());
        let caller = called.get(&address(service)).map(|&i| &index.callers[i]);
        if let Some(caller) = caller {
            self.read.borrow_mut().insert(caller.origin.path.clone());
        }
        caller.is_some()
    }

    pub fn budgets_selecting(&self, workload: &Workload) -> Vec<&'a DisruptionBudget> {
        self.budgets_from(&workload.origin, &workload.namespace, &workload.pod_labels)
    }

    /// The PodDisruptionBudgets of the asker's that select these Pod labels.
    pub fn budgets_selecting_pods(
        &self,
        namespace: &str,
        pod_labels: &Labels,
    ) -> Vec<&'a DisruptionBudget> {
        self.budgets_from(self.asker, namespace, pod_labels)
    }

    fn budgets_from(
        &self,
        from: &Origin,
        namespace: &str,
        pod_labels: &Labels,
    ) -> Vec<&'a DisruptionBudget> {
        let index = self.index;
        let pairs: Vec<u64> = pod_labels
            .iter()
            .map(|(k, v)| key(&[namespace, k, v]))
            .collect();
        let in_namespace = key(&[namespace]);
        self.nearest(from, |scope| {
            let tables = &index.tables;
            let labelled = pairs.iter().map(|&p| tables.budgets_labelled.get(p, scope));
            let unlabelled = tables.budgets_unlabelled.get(in_namespace, scope);
            let positions = Index::union(labelled.chain(std::iter::once(unlabelled)));
            positions
                .into_iter()
                .map(|i| &index.budgets[i])
                .filter(|b| b.namespace == namespace && b.selector.matches(pod_labels))
        })
        .unwrap_or_default()
        .into_iter()
        // Both ways: the budget's own nearest workloads include the one asked about.
        .filter(|b| {
            self.workloads_selected_from(&b.origin, namespace, &b.selector)
                .is_none_or(|found| found.iter().any(|w| w.origin == *from))
        })
        .collect()
    }

    /// The replicas a workload keeps at the least: an autoscaler's
    /// `minReplicas` when one targets it, otherwise its own count.
    pub fn min_replicas(&self, workload: &Workload) -> Replicas {
        match (self.autoscaler_of(workload), workload.replicas) {
            (Some(a), Replicas::Count(_) | Replicas::Unknown) => {
                a.min_replicas.map_or(Replicas::Unknown, Replicas::Count)
            }
            (_, replicas) => replicas,
        }
    }

    /// A workload for messages: its kind, namespace and name, and the
    /// autoscaler that decides its count when one does.
    pub fn describe(&self, workload: &Workload) -> String {
        match self.autoscaler_of(workload) {
            Some(a) => format!("{} ({})", workload.describe(), a.describe()),
            None => workload.describe(),
        }
    }

    /// Where a workload's replica count is set: its autoscaler's
    /// `minReplicas` when one decides it, else its own `replicas:`.
    pub fn replicas_set_at(&self, workload: &Workload) -> Vec<Related> {
        match self.autoscaler_of(workload) {
            Some(a) => a.min_replicas_set_at.clone(),
            None => workload.replicas_set_at.clone(),
        }
    }

    fn autoscaler_of(&self, workload: &Workload) -> Option<&'a Autoscaler> {
        self.autoscaler_from(
            &workload.origin,
            &workload.namespace,
            &workload.kind,
            &workload.name,
        )
    }

    /// The autoscaler that targets this workload of the asker's.
    pub fn autoscaler(&self, namespace: &str, kind: &str, name: &str) -> Option<&'a Autoscaler> {
        self.autoscaler_from(self.asker, namespace, kind, name)
    }

    /// The one autoscaler of a workload (of two, the one keeping fewer; one
    /// whose minimum is unknown before any).
    fn autoscaler_from(
        &self,
        from: &Origin,
        namespace: &str,
        kind: &str,
        name: &str,
    ) -> Option<&'a Autoscaler> {
        let index = self.index;
        let target = key(&[namespace, kind, name]);
        let found = self.nearest(from, |scope| {
            let positions = index.tables.autoscalers_of.get(target, scope);
            positions
                .iter()
                .map(|&i| &index.autoscalers[i])
                .filter(|a| {
                    a.namespace == namespace && a.target_kind == kind && a.target_name == name
                })
        })?;
        // A link holds both ways: the autoscaler's own nearest target must
        // be the workload asked about, not a namesake in another folder.
        let asked = self.workload_named(from, namespace, kind, name);
        found
            .into_iter()
            .filter(
                |a| match (asked, self.workload_named(&a.origin, namespace, kind, name)) {
                    (Some(asked), Some(targeted)) => std::ptr::eq(asked, targeted),
                    _ => true,
                },
            )
            .min_by_key(|a| a.min_replicas)
    }

    /// The workload of that identity `from` sees.
    fn workload_named(
        &self,
        from: &Origin,
        namespace: &str,
        kind: &str,
        name: &str,
    ) -> Option<&'a Workload> {
        let index = self.index;
        let identity = key(&[namespace, kind, name]);
        let found = self.nearest(from, |scope| {
            index
                .tables
                .workloads_named
                .get(identity, scope)
                .iter()
                .map(|&i| &index.workloads[i])
                .filter(|w| w.namespace == namespace && w.kind == kind && w.name == name)
        })?;
        found.into_iter().next()
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

    /// Long-running workloads whose Pods a PodDisruptionBudget of the
    /// asker's selects; `None` when which ones cannot be known.
    pub fn workloads_selected_by(
        &self,
        namespace: &str,
        selector: &LabelSelector,
    ) -> Option<Vec<&'a Workload>> {
        self.workloads_selected_from(self.asker, namespace, selector)
    }

    fn workloads_selected_from(
        &self,
        from: &Origin,
        namespace: &str,
        selector: &LabelSelector,
    ) -> Option<Vec<&'a Workload>> {
        self.nearest(from, |scope| {
            self.index
                .workloads_with(namespace, &selector.match_labels, scope)
                .filter(|w| selector.matches(&w.pod_labels))
        })
    }

    /// The labels of a namespace: from a Namespace object of the asker's
    /// unit, else the nearest plain file's, else the one label every
    /// namespace carries.
    pub fn namespace_labels(&self, namespace: &str) -> Labels {
        match self.namespace(namespace) {
            Some(found) => found.labels.clone(),
            None => Labels::from([(NAMESPACE_NAME_LABEL.to_string(), namespace.to_string())]),
        }
    }

    /// The Namespace object of that name, found as its labels are.
    pub fn namespace_object(&self, namespace: &str) -> Option<&'a Node> {
        self.namespace(namespace).map(|found| &*found.object)
    }

    fn namespace(&self, namespace: &str) -> Option<&'a NamespaceSummary> {
        let index = self.index;
        let named = |scope| {
            let positions = index.tables.namespaces_named.get(key(&[namespace]), scope);
            positions
                .iter()
                .map(|&i| &index.namespaces[i])
                .filter(|n| n.name == namespace)
        };
        let in_plain_files = Origin {
            unit: None,
            ..self.asker.clone()
        };
        let found = self
            .nearest(self.asker, named)
            .filter(|found| !found.is_empty())
            .or_else(|| self.nearest(&in_plain_files, named));
        match found.as_deref() {
            Some([only]) => Some(only),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::k8s::objects;
    use crate::model::parse::yaml::parse_documents;

    const BACKEND: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\nspec:\n  selector: {app: api}\n";

    fn deployment(replicas: u32) -> String {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, namespace: shop}}\nspec:\n  replicas: {replicas}\n  template:\n    metadata: {{labels: {{app: api}}}}\n")
    }

    fn origin(path: &str, unit: Option<u32>) -> Origin {
        Origin {
            root: 1,
            unit,
            path: path.into(),
        }
    }

    /// An index of `(origin, YAML)` pairs.
    fn index(objects_at: &[(Origin, String)]) -> Index {
        let mut index = Index::default();
        for (at, text) in objects_at {
            for doc in parse_documents(text).unwrap() {
                for object in objects(&doc, "default") {
                    index.add(
                        &object,
                        Placed {
                            origin: at.clone(),
                            at: Location {
                                path: at.path.clone(),
                                line: 1,
                            },
                            replicas_set_at: Vec::new(),
                            containers_at: Vec::new(),
                        },
                    );
                }
            }
        }
        index.finish()
    }

    /// The replicas behind `shop/api` as seen from `asker`.
    fn replicas_seen(index: &Index, asker: &Origin) -> Option<u32> {
        Lookup::new(index, asker)
            .backend("shop", "api")?
            .min_replicas
    }

    #[test]
    fn of_duplicates_the_one_in_the_same_file_then_the_same_folder_answers() {
        let asker = origin("apps/api/webhook.yaml", None);
        let same_file = index(&[
            (
                origin("apps/api/webhook.yaml", None),
                format!("{BACKEND}---\n{}", deployment(1)),
            ),
            (origin("apps/api/other.yaml", None), deployment(3)),
        ]);
        assert_eq!(replicas_seen(&same_file, &asker), Some(1));
        let same_folder = index(&[
            (origin("apps/api/service.yaml", None), BACKEND.to_string()),
            (origin("apps/api/deploy.yaml", None), deployment(1)),
            (origin("apps/api/old/deploy.yaml", None), deployment(3)),
        ]);
        assert_eq!(replicas_seen(&same_folder, &asker), Some(1));
    }

    #[test]
    fn duplicates_equally_near_are_no_answer_and_never_summed() {
        let asker = origin("envs/webhook.yaml", None);
        let tie = index(&[
            (origin("envs/service.yaml", None), BACKEND.to_string()),
            (origin("envs/dev/deploy.yaml", None), deployment(1)),
            (origin("envs/prod/deploy.yaml", None), deployment(3)),
        ]);
        assert_eq!(replicas_seen(&tie, &asker), None);
        let nearer = index(&[
            (origin("envs/dev/service.yaml", None), BACKEND.to_string()),
            (origin("envs/dev/deploy.yaml", None), deployment(1)),
            (origin("envs/prod/service.yaml", None), BACKEND.to_string()),
            (origin("envs/prod/deploy.yaml", None), deployment(3)),
        ]);
        assert_eq!(
            replicas_seen(&nearer, &origin("envs/prod/webhook.yaml", None)),
            Some(3)
        );
        assert_eq!(
            replicas_seen(&nearer, &origin("envs/dev/webhook.yaml", None)),
            Some(1)
        );
    }

    #[test]
    fn a_rendered_unit_sees_only_its_own_objects_and_projects_never_mix() {
        let index = index(&[
            (
                origin("chart/templates/svc.yaml", Some(0)),
                BACKEND.to_string(),
            ),
            (
                origin("chart/templates/deploy.yaml", Some(0)),
                deployment(2),
            ),
            (origin("plain/svc.yaml", None), BACKEND.to_string()),
            (origin("plain/deploy.yaml", None), deployment(1)),
        ]);
        assert_eq!(
            replicas_seen(&index, &origin("chart/templates/hook.yaml", Some(0))),
            Some(2)
        );
        assert_eq!(
            replicas_seen(&index, &origin("plain/hook.yaml", None)),
            Some(1)
        );
        assert_eq!(
            replicas_seen(&index, &origin("chart/templates/hook.yaml", Some(1))),
            None
        );
        let elsewhere = Origin {
            root: 2,
            ..origin("plain/hook.yaml", None)
        };
        assert_eq!(replicas_seen(&index, &elsewhere), None);
    }

    #[test]
    fn answers_remember_the_files_they_came_from() {
        let index = index(&[
            (origin("a/svc.yaml", None), BACKEND.to_string()),
            (origin("a/deploy.yaml", None), deployment(1)),
        ]);
        let asker = origin("a/hook.yaml", None);
        let lookup = Lookup::new(&index, &asker);
        assert!(lookup.backend("shop", "api").is_some());
        let read: Vec<String> = lookup.files_read().iter().map(|p| p.to_string()).collect();
        assert_eq!(read, vec!["a/deploy.yaml", "a/svc.yaml"]);
    }

    #[test]
    fn scopes_are_the_folders_above_a_plain_file_and_a_unit_whole() {
        let of = |path: &str| scopes(&origin(path, None));
        assert_eq!(of("a/b/x.yaml").len(), 3);
        assert_eq!(of("a/b/x.yaml"), of("a/b/y.yaml"));
        assert_eq!(of("a/b/x.yaml")[1..], of("a/c/x.yaml")[1..]);
        assert_ne!(of("a/b/x.yaml")[0], of("a/c/x.yaml")[0]);
        assert_eq!(of("x.yaml"), of("y.yaml"));
        assert_eq!(of("a/x.yaml"), of("a/b/y.yaml")[1..]);
        let unit = scopes(&origin("chart/templates/a/x.yaml", Some(3)));
        assert_eq!(unit, scopes(&origin("chart/y.yaml", Some(3))));
        assert_ne!(unit, scopes(&origin("chart/y.yaml", Some(4))));
        let elsewhere = Origin {
            root: 2,
            ..origin("a/b/x.yaml", None)
        };
        assert!(scopes(&elsewhere)
            .iter()
            .all(|s| !of("a/b/x.yaml").contains(s)));
    }
}
