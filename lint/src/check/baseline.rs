//! Baselines: record today's findings, report only new ones from then on.
//! This is how a team adopts scar in a large repository without fixing
//! everything on day one.
//!
//! The file is JSON, one entry per finding: its rule, path and
//! fingerprint (see `Finding::fingerprint`), which survives line shifts.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::check::finding::Finding;

#[derive(Debug, Serialize, Deserialize)]
struct File {
    version: u32,
    findings: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    rule: String,
    path: String,
    fingerprint: String,
}

pub fn write(path: &Path, findings: &[Finding]) -> std::io::Result<()> {
    let file = File {
        version: 1,
        findings: findings
            .iter()
            .map(|f| Entry {
                rule: f.rule.to_string(),
                path: f.path.to_string(),
                fingerprint: f.fingerprint(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&file).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}

/// Findings recorded in a baseline, counted: two identical findings in one
/// file are two entries, and a third one is new.
pub struct Baseline(HashMap<String, usize>);

impl Baseline {
    /// The baseline these findings would be recorded as.
    pub fn of(findings: &[Finding]) -> Baseline {
        let mut counts = HashMap::new();
        for finding in findings {
            *counts.entry(finding.fingerprint()).or_default() += 1;
        }
        Baseline(counts)
    }

    pub fn read(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: File = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: not a scar baseline: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        let mut counts = HashMap::new();
        for entry in file.findings {
            *counts.entry(entry.fingerprint).or_default() += 1;
        }
        Ok(Baseline(counts))
    }

    /// Keeps only the findings the baseline does not hold.
    pub fn new_findings(mut self, findings: Vec<Finding>) -> Vec<Finding> {
        findings
            .into_iter()
            .filter(|f| match self.0.get_mut(&f.fingerprint()) {
                Some(count) if *count > 0 => {
                    *count -= 1;
                    false
                }
                _ => true,
            })
            .collect()
    }
}
