//! SARIF 2.1.0 for GitHub code scanning: every rule with its doc, and every
//! finding with a region and fingerprints that survive unrelated edits.

use serde::Serialize;
use serde_json::{json, Value};

use crate::check::finding::{Finding, Severity};
use crate::check::rules::{Registry, RuleEntry};
use crate::report::Report;

use super::location::RepoPaths;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// Writes the SARIF log; results are built and written one at a time, so a
/// large report is never held as one JSON tree.
pub fn write(
    report: &Report,
    registry: &Registry,
    paths: &RepoPaths,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let rules: Vec<&RuleEntry> = registry.iter().collect();
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: json!({"driver": {
                "name": "scar",
                "informationUri": REPOSITORY,
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|r| rule(r)).collect::<Vec<_>>(),
            }}),
            column_kind: "unicodeCodePoints",
            original_uri_base_ids: json!({"%SRCROOT%": {"description": {"text": "The repository root"}}}),
            results: Results {
                findings: &report.findings,
                rules: &rules,
                paths,
            },
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Value,
    column_kind: &'static str,
    original_uri_base_ids: Value,
    results: Results<'a>,
}

struct Results<'a> {
    findings: &'a [Finding],
    rules: &'a [&'a RuleEntry],
    paths: &'a RepoPaths,
}

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.findings
                .iter()
                .map(|f| result(f, self.rules, self.paths)),
        )
    }
}

/// One finding as a SARIF result.
fn result(f: &Finding, rules: &[&RuleEntry], paths: &RepoPaths) -> Value {
    let rule_index = rules.iter().position(|r| r.id() == &*f.rule);
    let mut location = json!({
        "region": {
            "startLine": f.span.line,
            "startColumn": f.span.column,
            "endLine": f.span.end_line,
            "endColumn": f.span.end_column,
            "snippet": {"text": f.excerpt.text},
        }
    });
    if let Some(uri) = paths.relative(&f.path) {
        location["artifactLocation"] = json!({"uri": uri, "uriBaseId": "%SRCROOT%"});
    }
    let mut result = json!({
        "ruleId": f.rule,
        "level": level(f.severity),
        "message": {"text": if f.help.is_empty() { f.message.clone() } else { format!("{}\nHelp: {}", f.message, f.help) }},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {"scarFingerprint/v1": f.fingerprint()},
    });
    if let Some(index) = rule_index {
        result["ruleIndex"] = json!(index);
    }
    let related: Vec<Value> = f
        .related
        .iter()
        .enumerate()
        .filter_map(|(id, r)| {
            let uri = paths.relative(&r.at.path)?;
            Some(json!({
                "id": id,
                "message": {"text": r.message},
                "physicalLocation": {
                    "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                    "region": {
                        "startLine": r.at.span.line,
                        "startColumn": r.at.span.column,
                        "endLine": r.at.span.end_line,
                        "endColumn": r.at.span.end_column,
                        "snippet": {"text": r.at.excerpt.text},
                    },
                },
            }))
        })
        .collect();
    if !related.is_empty() {
        result["relatedLocations"] = json!(related);
    }
    if let Some(unit) = &f.unit {
        result["properties"] = json!({"unit": unit});
    }
    result
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn rule(entry: &RuleEntry) -> Value {
    let doc = entry.rule.doc();
    json!({
        "id": entry.id(),
        "name": pascal_case(entry.id()),
        "shortDescription": {"text": entry.policy.summary},
        "fullDescription": {"text": section(doc, "## What it finds")},
        "help": {"text": doc, "markdown": doc},
        "helpUri": format!("{REPOSITORY}/blob/main/lint/src/check/rules/{}.rs", entry.id().replace('-', "_")),
        "defaultConfiguration": {"level": level(entry.policy.severity), "enabled": entry.enabled},
    })
}

/// The text of a `## ` section of a rule's doc, folded to one paragraph.
fn section(doc: &str, heading: &str) -> String {
    let Some(start) = doc.find(heading) else {
        return String::new();
    };
    let body = &doc[start + heading.len()..];
    let end = body.find("\n## ").unwrap_or(body.len());
    body[..end].split_whitespace().collect::<Vec<_>>().join(" ")
}

fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}
