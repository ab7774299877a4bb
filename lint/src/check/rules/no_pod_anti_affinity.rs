use crate::model::k8s::{LabelSelector, Labels, Object, Replicas};
use crate::model::parse::yaml::Node;

use super::{Diagnosis, Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &NoPodAntiAffinity;

struct NoPodAntiAffinity;

/// Topology keys that put replicas in different failure domains.
const SPREADING_KEYS: &[&str] = &[
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
];

impl Rule for NoPodAntiAffinity {
    fn id(&self) -> &'static str {
        "no-pod-anti-affinity"
    }

    fn doc(&self) -> &'static str {
        r#"# no-pod-anti-affinity

## What it finds
A Deployment, StatefulSet or ReplicaSet with 2 or more replicas (or an HPA
with `minReplicas`, or a KEDA ScaledObject with `minReplicaCount`, of 2 or
more) whose pod template has neither a
podAntiAffinity term (required or preferred) on `kubernetes.io/hostname` or
`topology.kubernetes.io/zone` whose label selector matches its own Pods, nor
a topologySpreadConstraint on one of those keys matching its own Pods. A
term whose selector matches other Pods does not count. A container with a
`hostPort` spreads them already: two Pods that claim the same port of a
node never share one.

In a Helm chart, the finding also points at the values the chart reads to
place these Pods (`affinity`, `podAntiAffinity…`, `topologySpreadConstraints`),
in its templates or the helpers they include: set one of them to fix it.

## Why it matters
Moonlight ran three replicas of every traffic-serving app so that two nodes
could fail. The scheduler placed all three replicas of the website on one
node, together with CPU-hungry rendering; the node's kernel panicked, the
Pods moved to the next node, and the cycle repeated until the site was down.
Replicas add availability only when they are spread across failure domains.

## What to write instead
```yaml
spec:
  template:
    metadata:
      labels: {app: website}
    spec:
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: ScheduleAnyway
        labelSelector:
          matchLabels: {app: website}
```
or a `podAntiAffinity` term with the same selector and topology key.
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        if !matches!(object.kind, "Deployment" | "StatefulSet" | "ReplicaSet") {
            return;
        }
        let labels = object.pod_labels();
        let Some(spec) = object.pod_spec() else {
            return;
        };
        if labels.is_empty() || spreads(spec, &labels) {
            return;
        }
        let replicas = object.replicas();
        let at = object.replicas_anchor().span;
        let (namespace, kind, name) = (
            object.namespace.to_string(),
            object.kind.to_string(),
            object.name.to_string(),
        );
        let spreading_settings = out.settings_for(at, is_spreading_setting);
        out.report_if(at, move |lookup| {
            let autoscaler = lookup.autoscaler(&namespace, &kind, &name);
            let count = match (autoscaler, replicas) {
                (Some(a), _) => a.min_replicas?,
                (None, Replicas::Count(n)) => n,
                (None, _) => return None,
            };
            let kept = autoscaler.map_or(String::new(), |a| format!(" ({})", a.describe()));
            (count >= 2).then(|| Diagnosis {
                message: format!(
                    "{kind} {namespace}/{name} runs {count} replicas{kept} with nothing that spreads them: the scheduler may put them all on one node"
                ),
                help: "add a topologySpreadConstraint or a podAntiAffinity term on kubernetes.io/hostname whose labelSelector matches these Pods".to_string(),
                related: autoscaler
                    .map_or(Vec::new(), |a| a.min_replicas_set_at.clone())
                    .into_iter()
                    .chain(spreading_settings)
                    .collect(),
                ..Diagnosis::default()
            })
        });
    }
}

/// A chart value that places Pods: `affinity`, `podAntiAffinity`,
/// bitnami's `podAntiAffinityPreset`, `topologySpreadConstraints`.
fn is_spreading_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "affinity" || key.contains("antiaffinity") || key.starts_with("topologyspread")
}

/// Whether an anti-affinity term or spread constraint keeps these Pods apart.
fn spreads(spec: &Node, labels: &Labels) -> bool {
    let matches_own = |term: &Node| {
        let key_spreads = term
            .get("topologyKey")
            .and_then(Node::str)
            .is_some_and(|k| SPREADING_KEYS.contains(&k));
        // A term without a labelSelector selects no Pods at all.
        key_spreads
            && term
                .get("labelSelector")
                .and_then(LabelSelector::parse)
                .is_some_and(|s| s.matches(labels))
    };
    let anti = spec.at(&["affinity", "podAntiAffinity"]);
    let required = anti
        .and_then(|a| a.get("requiredDuringSchedulingIgnoredDuringExecution"))
        .map_or(&[][..], Node::items);
    let preferred = anti
        .and_then(|a| a.get("preferredDuringSchedulingIgnoredDuringExecution"))
        .map_or(&[][..], Node::items);
    let constraints = spec
        .get("topologySpreadConstraints")
        .map_or(&[][..], Node::items);
    // Pods that claim the same host port can never share a node.
    let claims_host_port = spec
        .get("containers")
        .map_or(&[][..], Node::items)
        .iter()
        .any(|container| {
            container
                .get("ports")
                .map_or(&[][..], Node::items)
                .iter()
                .any(|port| port.get("hostPort").and_then(Node::int).is_some_and(|p| p > 0))
        });
    claims_host_port
        || required.iter().any(matches_own)
        || preferred
            .iter()
            .filter_map(|p| p.get("podAffinityTerm"))
            .any(matches_own)
        || constraints.iter().any(matches_own)
}
