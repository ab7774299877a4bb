//! What a rule reports.

use std::sync::Arc;

use serde::Serialize;

use crate::k8s::ResourceRef;
use crate::source::{Related, Span};
use crate::units::UnitInfo;

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
    pub rule: &'static str,
    pub severity: Severity,
    pub path: Arc<str>,
    pub span: Span,
    pub message: String,
    pub help: String,
    /// The Kubernetes object the finding is about; `None` for scripts,
    /// units and compose services.
    pub resource: Option<ResourceRef>,
    /// The source line at `span.line`, kept for the snippet once the file
    /// itself has been dropped.
    pub source_line: String,
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
}

/// A line of a unit's rendered output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedLine {
    pub line: u32,
    pub text: String,
}

impl Finding {
    pub fn sort_key(&self) -> (&str, u32, u32, &str) {
        (&self.path, self.span.line, self.span.column, self.rule)
    }
}

impl Finding {
    /// The text the finding points at, with runs of white space folded.
    pub fn offending_text(&self) -> String {
        let start = self.span.column.saturating_sub(1) as usize;
        let text: String = if self.span.end_line == self.span.line {
            let len = self.span.end_column.saturating_sub(self.span.column) as usize;
            self.source_line.chars().skip(start).take(len).collect()
        } else {
            self.source_line.chars().skip(start).collect()
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
        let key = [self.rule, &self.path, &resource, &self.offending_text()].join("\u{1f}");
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
            rule: "oom-kill-disabled",
            severity: Severity::Error,
            path: "scripts/etcd".into(),
            span: Span::on_line(line, 3, 18),
            message: String::new(),
            help: String::new(),
            resource: None,
            source_line: source_line.to_string(),
            related: Vec::new(),
            rendered: None,
            unit: None,
            depends_on: Vec::new(),
        }
    }

    #[test]
    fn fingerprints_survive_moved_lines_and_reindentation_only() {
        let a = finding(9, "  --oom-kill-disable \\");
        let moved = finding(40, "  --oom-kill-disable \\");
        assert_eq!(a.offending_text(), "--oom-kill-disable");
        assert_eq!(a.fingerprint(), moved.fingerprint());
        let other_rule = Finding {
            rule: "etcd-memory-too-low",
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
