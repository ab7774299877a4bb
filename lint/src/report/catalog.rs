//! `scar rules` and `scar explain`: the rule catalog for people.

use std::fmt::Write as _;

use crate::check::rules::{Registry, RuleEntry};

/// One line per rule: id, effective severity (`off` when disabled),
/// summary; then its parameters with their effective values.
pub fn list(registry: &Registry) -> String {
    let width = registry.iter().map(|e| e.id().len()).max().unwrap_or(0);
    let mut out = String::new();
    for entry in registry.iter() {
        let severity = if entry.enabled {
            entry.policy.severity.as_str()
        } else {
            "off"
        };
        let _ = writeln!(
            out,
            "{:width$}  {severity:7}  {}",
            entry.id(),
            entry.policy.summary
        );
        for (name, value) in entry.policy.params.iter() {
            let _ = writeln!(out, "{:width$}  {:7}    {name} = {value}", "", "");
        }
    }
    out
}

/// The whole doc of a rule, with its severity and parameters.
pub fn explain(entry: &RuleEntry) -> String {
    let mut out = entry.rule.doc().trim_end().to_string();
    let _ = write!(
        out,
        "\n\n## Configuration\nDefault severity: {}\n",
        entry.policy.severity
    );
    let mut params = entry.policy.params.iter().peekable();
    if params.peek().is_some() {
        out.push_str("Parameters (set them under `rules.<id>.params` in .scar.yaml):\n");
        for (name, value) in params {
            let _ = writeln!(out, "- `{name}`: {value}");
        }
    }
    out
}
