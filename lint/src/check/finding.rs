//! What a rule reports.

use std::sync::Arc;

use serde::Serialize;

use crate::model::index::{Caller, Cause};
use crate::model::k8s::ResourceRef;
use crate::model::source::{Excerpt, Related, Span};
use crate::model::unit::{RenderedLine, UnitInfo};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!(
                "unknown severity `{other}` (expected error, warning or info)"
            )),
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: Arc<str>,
    pub severity: Severity,
    pub path: Arc<str>,
    pub span: Span,
    pub message: String,
    pub help: String,
    /// The Kubernetes object the finding is about; `None` for scripts,
    /// units and compose services.
    pub resource: Option<ResourceRef>,
    /// The source line at `span.line` (its part around the span when it is
    /// long), kept for the snippet once the file itself has been dropped.
    pub excerpt: Excerpt,
    /// Other places that explain the finding: the values file line or the
    /// patch that set what a template or base renders.
    pub related: Vec<Related>,
    /// The rendered line the rule read, for findings in rendered units.
    pub rendered: Option<RenderedLine>,
    /// The Helm chart (and values set) or kustomization rendered; `None`
    /// for plain files.
    pub unit: Option<Arc<UnitInfo>>,
    /// Every file the finding's decision read: it is reported when any of
    /// them is among the files a run reports (a pre-commit hook's changes).
    pub depends_on: Vec<Arc<str>>,
    /// What the finding is about when many places point at it (a backend
    /// fifteen webhooks call): findings of one rule with one cause are
    /// reported once, at the first of them, naming every caller.
    pub cause: Option<Cause>,
}

/// Keeps one finding of each rule and cause, and lists there every caller
/// the others named: the finding of the widest caller (the first in report
/// order among equals), with callers listed widest first.
pub fn one_per_cause(findings: Vec<Finding>) -> Vec<Finding> {
    type Group = (Arc<str>, String);
    let mut members: std::collections::HashMap<Group, Vec<usize>> =
        std::collections::HashMap::new();
    for (i, finding) in findings.iter().enumerate() {
        if let Some(cause) = &finding.cause {
            members
                .entry((finding.rule.clone(), cause.key.clone()))
                .or_default()
                .push(i);
        }
    }
    let reach = |i: usize| {
        findings[i]
            .cause
            .as_ref()
            .map_or(u8::MAX, |c| c.caller.reach)
    };
    // For each kept finding, the others of its cause.
    let mut merged: std::collections::HashMap<usize, Vec<usize>> = std::collections::HashMap::new();
    let mut dropped = vec![false; findings.len()];
    for mut group in members.into_values() {
        group.sort_by_key(|&i| (reach(i), i));
        for &i in &group[1..] {
            dropped[i] = true;
        }
        merged.insert(group[0], group);
    }
    let mut findings: Vec<Option<Finding>> = findings.into_iter().map(Some).collect();
    let mut kept = Vec::with_capacity(findings.len());
    for i in 0..findings.len() {
        if dropped[i] {
            continue;
        }
        let Some(mut finding) = findings[i].take() else {
            continue;
        };
        if let Some(group) = merged.get(&i) {
            let mut callers: Vec<Caller> = Vec::new();
            for &member in group {
                let (depends_on, caller) = match member {
                    m if m == i => (Vec::new(), finding.cause.as_ref().map(|c| c.caller.clone())),
                    m => match &findings[m] {
                        Some(other) => (
                            other.depends_on.clone(),
                            other.cause.as_ref().map(|c| c.caller.clone()),
                        ),
                        None => (Vec::new(), None),
                    },
                };
                finding.depends_on.extend(depends_on);
                // The same caller rendered with several values sets.
                if let Some(caller) = caller.filter(|c| !callers.contains(c)) {
                    callers.push(caller);
                }
            }
            if callers.len() > 1 {
                finding
                    .message
                    .push_str(&format!("; {}", list_callers(&callers)));
            }
        }
        kept.push(finding);
    }
    kept
}

/// Keeps one finding of each rule at each line that several renders read:
/// the same template line of a chart rendered with several values sets
/// (the chart's own and its `ci/` sets), or the same line of a kustomize
/// base that several root kustomizations pull in, is one thing to fix. The
/// most severe is kept (the chart's own values first among equals, else
/// the first); it names the other values sets or roots.
pub fn one_per_template_line(findings: Vec<Finding>) -> Vec<Finding> {
    use crate::model::unit::UnitKind;
    // A chart's values sets are grouped per chart; a base's roots across
    // every root that reads it.
    type Line = (Arc<str>, Arc<str>, Span, Option<Arc<str>>);
    let key = |finding: &Finding| -> Option<Line> {
        let unit = finding.unit.as_ref()?;
        let chart = match unit.kind {
            UnitKind::Helm => Some(unit.path.clone()),
            UnitKind::Kustomize => None,
            // A role's renders are told apart where they are linted.
            UnitKind::Ansible => return None,
        };
        Some((
            finding.rule.clone(),
            finding.path.clone(),
            finding.span,
            chart,
        ))
    };
    let mut groups: std::collections::HashMap<Line, Vec<usize>> = std::collections::HashMap::new();
    for (i, finding) in findings.iter().enumerate() {
        if let Some(line) = key(finding) {
            groups.entry(line).or_default().push(i);
        }
    }
    let mut keep = vec![true; findings.len()];
    let mut others: std::collections::HashMap<usize, Vec<usize>> = std::collections::HashMap::new();
    for members in groups.into_values().filter(|m| m.len() > 1) {
        let values = |i: usize| findings[i].unit.as_ref().and_then(|u| u.values.as_deref());
        let kept = members
            .iter()
            .copied()
            .max_by_key(|&i| {
                (
                    findings[i].severity,
                    values(i) == Some("default"),
                    std::cmp::Reverse(i),
                )
            })
            .unwrap_or(members[0]);
        for &i in &members {
            keep[i] = i == kept;
        }
        others.insert(kept, members.into_iter().filter(|&i| i != kept).collect());
    }
    // `with values ci/a.yaml, ci/b.yaml` or `in kustomization base/x, base/y`.
    let also: std::collections::HashMap<usize, String> = others
        .iter()
        .filter_map(|(&kept, rest)| {
            let unit = findings[kept].unit.as_ref()?;
            // A chart's other values sets; every root that pulls a base in.
            let mut names: Vec<String> = match unit.kind {
                UnitKind::Helm => rest
                    .iter()
                    .filter_map(|&i| findings[i].unit.as_ref()?.values.clone())
                    .collect(),
                UnitKind::Kustomize | UnitKind::Ansible => std::iter::once(kept)
                    .chain(rest.iter().copied())
                    .filter_map(|i| Some(findings[i].unit.as_ref()?.path.to_string()))
                    .collect(),
            };
            names.sort();
            names.dedup();
            let (words, least) = match unit.kind {
                UnitKind::Helm => ("the same with values", 1),
                UnitKind::Kustomize | UnitKind::Ansible => ("pulled in by kustomizations", 2),
            };
            if names.len() < least {
                return None;
            }
            Some((kept, format!("; {words} {}", names.join(", "))))
        })
        .collect();
    let mut depends: std::collections::HashMap<usize, Vec<Arc<str>>> = others
        .iter()
        .map(|(&kept, rest)| {
            let files = rest
                .iter()
                .flat_map(|&i| findings[i].depends_on.iter().cloned())
                .collect();
            (kept, files)
        })
        .collect();
    findings
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep[*i])
        .map(|(i, mut finding)| {
            if let Some(also) = also.get(&i) {
                finding.message.push_str(also);
            }
            if let Some(files) = depends.remove(&i) {
                finding.depends_on.extend(files);
            }
            finding
        })
        .collect()
}

/// `15 fail-closed webhooks call it: `a`, `b`, …` (every name listed).
fn list_callers(callers: &[Caller]) -> String {
    let mut kinds: Vec<&'static str> = callers.iter().map(|c| c.kind).collect();
    kinds.dedup();
    let counted: Vec<String> = kinds
        .iter()
        .map(|kind| {
            let n = callers.iter().filter(|c| c.kind == *kind).count();
            format!("{n} {kind}{}", if n == 1 { "" } else { "s" })
        })
        .collect();
    let names: Vec<String> = callers.iter().map(|c| format!("`{}`", c.name)).collect();
    let verb = if callers.len() == 1 { "calls" } else { "call" };
    format!("{} {verb} it: {}", counted.join(" and "), names.join(", "))
}

impl Finding {
    pub fn sort_key(&self) -> (&str, u32, u32, &str) {
        (&self.path, self.span.line, self.span.column, &self.rule)
    }
}

impl Finding {
    /// The text the finding points at, with runs of white space folded.
    pub fn offending_text(&self) -> String {
        let quoted = self.excerpt.chars_from(self.span.column);
        let text: String = if self.span.end_line == self.span.line {
            let len = self.span.end_column.saturating_sub(self.span.column) as usize;
            quoted.take(len).collect()
        } else {
            quoted.collect()
        };
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Identifies the finding across edits that move lines: the rule, the
    /// file, the resource, and the offending text, not the line number.
    pub fn fingerprint(&self) -> String {
        let resource = self.resource.as_ref().map_or(String::new(), |r| {
            format!(
                "{}/{}/{}",
                r.kind,
                r.namespace.as_deref().unwrap_or(""),
                r.name
            )
        });
        let key = [&*self.rule, &self.path, &resource, &self.offending_text()].join("\u{1f}");
        format!("{:016x}", fnv1a(key.as_bytes()))
    }
}

/// FNV-1a, 64 bits: stable across platforms and releases, unlike the
/// standard library's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(line: u32, source_line: &str) -> Finding {
        Finding {
            rule: "oom-kill-disabled".into(),
            severity: Severity::Error,
            path: "scripts/etcd".into(),
            span: Span::on_line(line, 3, 18),
            message: String::new(),
            help: String::new(),
            resource: None,
            excerpt: Excerpt::around(source_line, 3),
            related: Vec::new(),
            rendered: None,
            unit: None,
            depends_on: Vec::new(),
            cause: None,
        }
    }

    #[test]
    fn findings_of_one_cause_become_one_that_names_every_caller() {
        let about = |line: u32, backend: &str, webhook: &str| Finding {
            message: format!("webhook `{webhook}` fails closed and {backend} runs 1 replica"),
            cause: Some(Cause {
                key: backend.to_string(),
                caller: Caller {
                    kind: "fail-closed webhook",
                    name: webhook.to_string(),
                    reach: 1,
                },
            }),
            ..finding(line, "")
        };
        let merged = one_per_cause(vec![
            about(7, "Deployment a", "one"),
            about(9, "Deployment a", "two"),
            about(11, "Deployment b", "three"),
            finding(12, ""),
        ]);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0].span.line, 7);
        assert_eq!(
            merged[0].message,
            "webhook `one` fails closed and Deployment a runs 1 replica; 2 fail-closed webhooks call it: `one`, `two`"
        );
        assert_eq!(
            merged[1].message,
            "webhook `three` fails closed and Deployment b runs 1 replica"
        );
    }

    #[test]
    fn the_widest_caller_anchors_a_shared_finding_and_is_listed_first() {
        let about = |line: u32, webhook: &str, reach: u8| Finding {
            message: format!("webhook `{webhook}` fails closed"),
            cause: Some(Cause {
                key: "Deployment mesh".to_string(),
                caller: Caller {
                    kind: "fail-closed webhook",
                    name: webhook.to_string(),
                    reach,
                },
            }),
            ..finding(line, "")
        };
        let merged = one_per_cause(vec![
            about(5, "mgatewayroute", 2),
            about(9, "mmesh", 2),
            about(30, "mpod", 1),
            about(40, "mdeployment", 1),
        ]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].span.line, 30);
        assert_eq!(
            merged[0].message,
            "webhook `mpod` fails closed; 4 fail-closed webhooks call it: `mpod`, `mdeployment`, `mgatewayroute`, `mmesh`"
        );
    }

    #[test]
    fn fingerprints_survive_moved_lines_and_reindentation_only() {
        let a = finding(9, "  --oom-kill-disable \\");
        let moved = finding(40, "  --oom-kill-disable \\");
        assert_eq!(a.offending_text(), "--oom-kill-disable");
        assert_eq!(a.fingerprint(), moved.fingerprint());
        let other_rule = Finding {
            rule: "etcd-memory-too-low".into(),
            ..a.clone()
        };
        assert_ne!(a.fingerprint(), other_rule.fingerprint());
        let other_file = Finding {
            path: "scripts/etcd2".into(),
            ..a.clone()
        };
        assert_ne!(a.fingerprint(), other_file.fingerprint());
    }
}
