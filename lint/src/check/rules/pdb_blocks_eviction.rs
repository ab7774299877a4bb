use crate::model::k8s::{LabelSelector, Object};
use crate::model::parse::yaml::Node;

use super::{Diagnosis, Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &PdbBlocksEviction;

struct PdbBlocksEviction;

impl Rule for PdbBlocksEviction {
    fn id(&self) -> &'static str {
        "pdb-blocks-eviction"
    }

    fn doc(&self) -> &'static str {
        r#"# pdb-blocks-eviction

## What it finds
A PodDisruptionBudget that can never allow an eviction: `maxUnavailable: 0`
or `"0%"`, `minAvailable: "100%"`, or a `minAvailable` at least the replicas
of the workloads it selects (an HPA's `minReplicas` counts, since the
workload can be scaled down to it). Budgets whose workloads are not among
the linted files are judged on their own fields only.

## Why it matters
`kubectl drain`, cluster upgrades and the cluster autoscaler evict Pods
through the eviction API, which refuses while a budget would be violated.
A budget that never allows an eviction makes every drain hang: node
upgrades stall, security patches wait, and a node that must be replaced
cannot be emptied. The protection meant to keep replicas up instead keeps a
whole node pool frozen; replicas are only a protection when one of them can
be replaced at a time (incidents 2 and 3).

## What to write instead
Allow one Pod at a time to go, and run enough replicas that losing it is
fine:

```yaml
apiVersion: policy/v1
kind: PodDisruptionBudget
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: api}
```
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        if object.kind != "PodDisruptionBudget" {
            return;
        }
        let Some(spec) = object.node.get("spec") else {
            return;
        };
        let name = format!("{}/{}", object.namespace, object.name);
        if let Some(max) = spec.get("maxUnavailable") {
            if is_zero(max) {
                out.report(
                    max.span,
                    format!("PodDisruptionBudget {name} allows no Pod to be unavailable: every drain and node upgrade hangs on it"),
                    "use maxUnavailable: 1",
                );
            }
            return;
        }
        let Some(min) = spec.get("minAvailable") else {
            return;
        };
        if min.str() == Some("100%") {
            out.report(
                min.span,
                format!("PodDisruptionBudget {name} requires 100% of its Pods available: every drain and node upgrade hangs on it"),
                "use maxUnavailable: 1, or a minAvailable below the replica count",
            );
            return;
        }
        let Some(selector) = spec.get("selector").and_then(LabelSelector::parse) else {
            return;
        };
        let required = MinAvailable::parse(min);
        let namespace = object.namespace.to_string();
        out.report_if(min.span, move |lookup| {
            let workloads = lookup.workloads_selected_by(&namespace, &selector)?;
            if workloads.is_empty() {
                return None;
            }
            let replicas = lookup.total_min_replicas(&workloads)?;
            let required = required?;
            let needed = required.pods(replicas);
            let rounding = match required {
                MinAvailable::Percent(p) => format!(
                    " ({p}% of {replicas} rounds up to {needed})"
                ),
                MinAvailable::Pods(_) => String::new(),
            };
            // Where the count the budget is measured against is set: the
            // autoscaler's minReplicas where one decides it.
            let related = workloads
                .iter()
                .flat_map(|w| lookup.replicas_set_at(w))
                .collect();
            (needed >= replicas).then(|| Diagnosis {
                message: format!(
                    "PodDisruptionBudget {name} requires {needed} available Pod{}{rounding}, but {} keep{} only {replicas}: no Pod can ever be evicted and drains hang",
                    if needed == 1 { "" } else { "s" },
                    workloads.iter().map(|w| lookup.describe(w)).collect::<Vec<_>>().join(", "),
                    if workloads.len() == 1 { "s" } else { "" }
                ),
                help: "use maxUnavailable: 1, or run more replicas than minAvailable".to_string(),
                related,
                ..Diagnosis::default()
            })
        });
    }
}

fn is_zero(node: &Node) -> bool {
    node.int() == Some(0) || node.str().is_some_and(|s| s.trim() == "0%")
}

#[derive(Clone, Copy)]
enum MinAvailable {
    Pods(u32),
    Percent(u32),
}

impl MinAvailable {
    fn parse(node: &Node) -> Option<MinAvailable> {
        if let Some(n) = node.int() {
            return u32::try_from(n).ok().map(MinAvailable::Pods);
        }
        let percent = node.str()?.strip_suffix('%')?.trim().parse().ok()?;
        Some(MinAvailable::Percent(percent))
    }

    /// Pods that must stay available; percentages round up, as the
    /// disruption controller rounds them.
    fn pods(self, replicas: u32) -> u32 {
        match self {
            MinAvailable::Pods(n) => n,
            MinAvailable::Percent(p) => (replicas * p).div_ceil(100),
        }
    }
}
