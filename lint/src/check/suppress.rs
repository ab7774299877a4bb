//! Suppressions that carry a reason.
//!
//! - A comment in any file kind: `# scar:ignore rule-id[,rule-id] -- reason`
//!   at the end of the finding's line, or alone on the line above it.
//! - On a Kubernetes object (or its pod template) the annotation
//!   `scar.dev/ignore: "rule-id[,rule-id]: reason"`, which covers the object
//!   (in a rendered unit, wherever the object's findings point).
//!
//! In Helm templates and kustomize bases, comments work as in any file:
//! findings of rendered objects point at those files' lines.
//!
//! A suppression without a reason suppresses nothing and is reported
//! (`suppression-without-reason`); one that names a rule scar does not have
//! is an error (`unknown-rule`); one that matches no finding is reported too
//! (`unused-suppression`), so stale ones do not pile up.

use std::collections::HashMap;
use std::sync::Arc;

use crate::check::finding::Finding;
use crate::check::rules::Registry;
use crate::model::k8s::{Object, ResourceRef};
use crate::model::place::Place;
use crate::model::source::{Excerpt, Span};
use crate::model::unit::UnitInfo;

pub const ANNOTATION: &str = "scar.dev/ignore";
const COMMENT_MARKER: &str = "scar:ignore";
pub const WITHOUT_REASON: &str = "suppression-without-reason";
pub const UNUSED: &str = "unused-suppression";
pub const UNKNOWN_RULE: &str = "unknown-rule";

#[derive(Debug, Clone)]
pub struct Suppression {
    pub path: Arc<str>,
    pub rules: Vec<String>,
    pub reason: Option<String>,
    /// Where the suppression is written.
    pub at: Span,
    excerpt: Excerpt,
    covers: Covers,
}

#[derive(Debug, Clone)]
enum Covers {
    /// Findings on these lines of the suppression's file.
    Lines { first: u32, last: u32 },
    /// Findings about this object of this rendered unit.
    Object {
        unit: Arc<UnitInfo>,
        resource: ResourceRef,
    },
}

impl Suppression {
    fn covers(&self, finding: &Finding) -> bool {
        let place = match &self.covers {
            Covers::Lines { first, last } => {
                *finding.path == *self.path && (*first..=*last).contains(&finding.span.line)
            }
            Covers::Object { unit, resource } => {
                finding.unit.as_ref() == Some(unit) && finding.resource.as_ref() == Some(resource)
            }
        };
        place && self.rules.iter().any(|r| **r == *finding.rule)
    }

    /// The same suppression read twice (a template rendered with two
    /// values sets, a base under two overlays) is one.
    fn written(&self) -> (&str, Span, &[String]) {
        (&self.path, self.at, &self.rules)
    }
}

/// `# scar:ignore …` comments of a file. `comment_starts` are the characters
/// that open a comment in its kind (`#`, and `;` in systemd units).
pub fn from_comments(path: &Arc<str>, text: &str, comment_starts: &[char]) -> Vec<Suppression> {
    // Most files have no marker: one search of the whole text says so
    // faster than a search per line.
    if memchr::memmem::find(text.as_bytes(), COMMENT_MARKER.as_bytes()).is_none() {
        return Vec::new();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(marker) = line.find(COMMENT_MARKER) else {
            continue;
        };
        let before = &line[..marker];
        let Some(comment) = before.rfind(comment_starts) else {
            continue;
        };
        if !before[comment + 1..].trim().is_empty() {
            continue;
        }
        let line_no = index as u32 + 1;
        let standalone = before[..comment].trim().is_empty();
        let target = if standalone {
            next_code_line(&lines, index, comment_starts)
        } else {
            line_no
        };
        let body = &line[marker + COMMENT_MARKER.len()..];
        let (ids, reason) = match body.split_once("--") {
            Some((ids, reason)) => (ids, reason),
            None => (body, ""),
        };
        let column = line[..comment].chars().count() as u32 + 1;
        found.push(Suppression {
            path: path.clone(),
            rules: split_ids(ids),
            reason: non_empty(reason),
            at: Span::on_line(
                line_no,
                column,
                line[comment..].trim_end().chars().count() as u32,
            ),
            excerpt: Excerpt::around(line, column),
            covers: Covers::Lines {
                first: target,
                last: target,
            },
        });
    }
    found
}

/// The first line after `index` that is not blank or a comment.
fn next_code_line(lines: &[&str], index: usize, comment_starts: &[char]) -> u32 {
    lines
        .iter()
        .enumerate()
        .skip(index + 1)
        .find(|(_, l)| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with(comment_starts)
        })
        .map_or(index as u32 + 2, |(i, _)| i as u32 + 1)
}

/// The `scar.dev/ignore` annotations of an object and its pod template.
pub fn from_annotations(place: &dyn Place, object: &Object<'_>) -> Vec<Suppression> {
    let template = object
        .pod_template()
        .filter(|t| !std::ptr::eq(*t, object.node));
    [Some(object.node), template]
        .into_iter()
        .flatten()
        .filter_map(|node| node.at(&["metadata", "annotations", ANNOTATION]))
        .map(|value| {
            let raw = value.str().unwrap_or("");
            let (ids, reason) = raw.split_once(':').unwrap_or((raw, ""));
            let written = place.locate(value.span).at;
            let covers = match place.unit() {
                Some(unit) => Covers::Object {
                    unit: unit.clone(),
                    resource: object.resource(),
                },
                None => Covers::Lines {
                    first: object.node.span.line,
                    last: object.node.span.end_line,
                },
            };
            Suppression {
                path: written.path,
                rules: split_ids(ids),
                reason: non_empty(reason),
                at: written.span,
                excerpt: written.excerpt,
                covers,
            }
        })
        .collect()
}

fn split_ids(ids: &str) -> Vec<String> {
    ids.split([',', ' '])
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect()
}

fn non_empty(reason: &str) -> Option<String> {
    let reason = reason.trim();
    (!reason.is_empty()).then(|| reason.to_string())
}

/// Drops the findings that suppressions with a reason cover, and reports
/// the suppressions that lack a reason or cover nothing; also says how
/// many findings were dropped.
pub fn apply(
    findings: Vec<Finding>,
    suppressions: &[Suppression],
    registry: &Registry,
) -> (Vec<Finding>, usize) {
    let found = findings.len();
    let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_object: HashMap<(&UnitInfo, &ResourceRef), Vec<usize>> = HashMap::new();
    for (i, s) in suppressions.iter().enumerate() {
        match &s.covers {
            Covers::Lines { .. } => by_path.entry(&s.path).or_default().push(i),
            Covers::Object { unit, resource } => {
                by_object.entry((unit, resource)).or_default().push(i)
            }
        }
    }
    let mut used = vec![false; suppressions.len()];
    let mut kept: Vec<Finding> = findings
        .into_iter()
        .filter(|finding| {
            let on_lines = by_path.get(&*finding.path).into_iter().flatten();
            let on_object = finding
                .unit
                .as_deref()
                .zip(finding.resource.as_ref())
                .and_then(|key| by_object.get(&key))
                .into_iter()
                .flatten();
            let covering = on_lines.chain(on_object).copied().find(|&i| {
                let s = &suppressions[i];
                s.reason.is_some() && s.covers(finding)
            });
            if let Some(i) = covering {
                used[i] = true;
            }
            covering.is_none()
        })
        .collect();
    let suppressed = found - kept.len();
    let mut written: HashMap<(&str, Span, &[String]), (bool, &Suppression)> = HashMap::new();
    for (suppression, used) in suppressions.iter().zip(used) {
        let entry = written
            .entry(suppression.written())
            .or_insert((false, suppression));
        entry.0 |= used;
    }
    let mut once: Vec<(bool, &Suppression)> = written.into_values().collect();
    once.sort_by_key(|(_, s)| s.written());
    for (used, suppression) in once {
        let unknown: Vec<&str> = suppression
            .rules
            .iter()
            .filter(|r| registry.get(r).is_none())
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            kept.extend(meta_finding(
                registry,
                UNKNOWN_RULE,
                suppression,
                format!(
                    "suppression names `{}`, which is not a scar rule, so it suppresses nothing",
                    unknown.join("`, `")
                ),
                "use the id `scar rules` lists",
            ));
        }
        if suppression.reason.is_none() {
            let id = suppression.rules.join(",");
            kept.extend(meta_finding(
                registry,
                WITHOUT_REASON,
                suppression,
                format!("suppression of `{id}` has no reason, so it suppresses nothing"),
                "say why: `# scar:ignore rule-id -- reason`, or `scar.dev/ignore: \"rule-id: reason\"`",
            ));
        } else if !used
            && unknown.is_empty()
            && suppression
                .rules
                .iter()
                .all(|r| registry.get(r).is_some_and(|e| e.enabled))
        {
            kept.extend(meta_finding(
                registry,
                UNUSED,
                suppression,
                format!(
                    "suppression of `{}` matches no finding",
                    suppression.rules.join(",")
                ),
                "remove it, or check the rule id and that it stands on or above the finding's line",
            ));
        }
    }
    (kept, suppressed)
}

fn meta_finding(
    registry: &Registry,
    id: &str,
    suppression: &Suppression,
    message: String,
    help: &str,
) -> Option<Finding> {
    let entry = registry.get(id).filter(|e| e.enabled)?;
    Some(Finding {
        rule: entry.rule_id(),
        severity: entry.policy.severity,
        path: suppression.path.clone(),
        span: suppression.at,
        message,
        help: help.to_string(),
        resource: None,
        excerpt: suppression.excerpt.clone(),
        related: Vec::new(),
        rendered: None,
        unit: None,
        depends_on: vec![suppression.path.clone()],
        cause: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> Arc<str> {
        "x.sh".into()
    }

    fn target_line(suppression: &Suppression) -> u32 {
        match suppression.covers {
            Covers::Lines { first, .. } => first,
            Covers::Object { .. } => panic!("a comment covers lines"),
        }
    }

    #[test]
    fn reads_trailing_and_standalone_comments() {
        let text = "# scar:ignore oom-kill-disabled -- etcd is capped by design here\n# another comment\n\ndocker run x\necho y # scar:ignore a,b -- reason two\necho z # scar:ignore c\n";
        let found = from_comments(&path(), text, &['#']);
        assert_eq!(found.len(), 3);
        assert_eq!(
            (target_line(&found[0]), found[0].rules.clone()),
            (4, vec!["oom-kill-disabled".to_string()])
        );
        assert_eq!(
            found[0].reason.as_deref(),
            Some("etcd is capped by design here")
        );
        assert_eq!((target_line(&found[1]), found[1].rules.len()), (5, 2));
        assert_eq!(found[1].at.column, 8);
        assert_eq!(found[2].reason, None);
    }

    #[test]
    fn ignores_the_marker_outside_comments() {
        let found = from_comments(&path(), "echo scar:ignore x -- y\n", &['#']);
        assert!(found.is_empty());
    }
}
