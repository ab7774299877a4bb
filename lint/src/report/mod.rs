//! The last stage: a run's report, written for people (`human`, `github`)
//! and for programs (`json`, `sarif`), and the rule catalogue. It reads
//! findings and their places; it does not know how they were found.

pub mod catalog;
pub mod github;
pub mod human;
pub mod json;
pub mod location;
pub mod sarif;

use std::sync::Arc;

use crate::check::finding::{Finding, Severity};
use crate::input::discover::Skipped;
use crate::input::units::render::run::UnitReport;

/// What a run found and what it read: what every output writes.
#[derive(Debug, Default)]
pub struct Report {
    /// Sorted by path, line, column and rule.
    pub findings: Vec<Finding>,
    /// Files that were read and checked, on their own or through a render.
    pub files: usize,
    /// Kubernetes objects and compose services checked.
    pub resources: usize,
    pub skipped: Vec<Skipped>,
    /// Folders the folder excludes left out (`examples/`), and files named
    /// in them when the excludes hold for named paths too.
    pub excluded: Vec<Arc<str>>,
    /// Findings dropped by `scar:ignore` comments and `scar.dev/ignore`
    /// annotations.
    pub suppressed: usize,
    /// Findings dropped because the baseline records them.
    pub baselined: usize,
    /// Findings dropped because the revision `--new-from-rev` names had them.
    pub preexisting: usize,
    /// The charts and kustomizations rendered, or that failed to.
    pub units: Vec<UnitReport>,
}

impl Report {
    /// How many findings have this severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}
