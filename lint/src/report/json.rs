//! The `--format json` document. Its shape is public (see the README):
//! fields are only ever added, and `version` changes if one ever changes.

use serde::Serialize;

use crate::engine::Report;
use crate::finding::{Finding, Severity};
use crate::k8s::ResourceRef;

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    findings: Vec<JsonFinding<'a>>,
    summary: Summary<'a>,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    severity: Severity,
    path: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    message: &'a str,
    help: &'a str,
    resource: Option<&'a ResourceRef>,
}

#[derive(Serialize)]
struct Summary<'a> {
    files: usize,
    resources: usize,
    errors: usize,
    warnings: usize,
    infos: usize,
    skipped: Vec<SkippedFile<'a>>,
}

#[derive(Serialize)]
struct SkippedFile<'a> {
    path: &'a str,
    reason: &'a str,
}

pub fn render(report: &Report) -> String {
    let tally = |severity| report.count(severity);
    let document = Document {
        version: 1,
        findings: report.findings.iter().map(json_finding).collect(),
        summary: Summary {
            files: report.files,
            resources: report.resources,
            errors: tally(Severity::Error),
            warnings: tally(Severity::Warning),
            infos: tally(Severity::Info),
            skipped: report
                .skipped
                .iter()
                .map(|s| SkippedFile {
                    path: &s.path,
                    reason: &s.reason,
                })
                .collect(),
        },
    };
    let mut text = serde_json::to_string_pretty(&document)
        .expect("the report serialises: it holds only strings and numbers");
    text.push('\n');
    text
}

fn json_finding(f: &Finding) -> JsonFinding<'_> {
    JsonFinding {
        rule: f.rule,
        severity: f.severity,
        path: &f.path,
        line: f.span.line,
        column: f.span.column,
        end_line: f.span.end_line,
        end_column: f.span.end_column,
        message: &f.message,
        help: &f.help,
        resource: f.resource.as_ref(),
    }
}
