//! What a rule reports.

use std::sync::Arc;

use serde::Serialize;

use crate::k8s::ResourceRef;
use crate::source::Span;

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
}

impl Finding {
    pub fn sort_key(&self) -> (&str, u32, u32, &str) {
        (&self.path, self.span.line, self.span.column, self.rule)
    }
}
