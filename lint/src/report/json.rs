//! The `--format json` document. Its shape is public (see the README):
//! fields are only ever added, and `version` changes if one ever changes.

use serde::Serialize;

use crate::check::finding::{Finding, Severity};
use crate::model::k8s::ResourceRef;
use crate::model::source::{Related, Span};
use crate::model::unit::UnitKind;
use crate::report::Report;

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
    #[serde(flatten)]
    span: JsonSpan,
    message: &'a str,
    help: &'a str,
    resource: Option<&'a ResourceRef>,
    unit: JsonUnit<'a>,
    /// The rendered line, for findings in Helm charts and kustomizations.
    rendered: Option<JsonRendered<'a>>,
    related: Vec<JsonRelated<'a>>,
}

/// The chart and values set, the kustomization, or the plain file a
/// finding was found in.
#[derive(Serialize)]
struct JsonUnit<'a> {
    kind: &'static str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonRendered<'a> {
    line: u32,
    text: &'a str,
}

#[derive(Serialize)]
struct JsonRelated<'a> {
    path: &'a str,
    #[serde(flatten)]
    span: JsonSpan,
    message: &'a str,
}

/// A range, 1-based, in characters, `end_column` exclusive.
#[derive(Serialize)]
struct JsonSpan {
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
}

impl From<Span> for JsonSpan {
    fn from(span: Span) -> Self {
        JsonSpan {
            line: span.line,
            column: span.column,
            end_line: span.end_line,
            end_column: span.end_column,
        }
    }
}

#[derive(Serialize)]
struct JsonUnitSummary<'a> {
    kind: UnitKind,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<&'a str>,
    rendered: bool,
    documents: usize,
}

#[derive(Serialize)]
struct Summary<'a> {
    files: usize,
    resources: usize,
    errors: usize,
    warnings: usize,
    infos: usize,
    skipped: Vec<SkippedFile<'a>>,
    /// Folders (ending in `/`) and named files the folder excludes left out.
    excluded: &'a [std::sync::Arc<str>],
    /// Findings dropped by suppression comments and annotations.
    suppressed: usize,
    /// Findings dropped because the baseline records them.
    baselined: usize,
    /// Findings dropped because `--new-from-rev`'s revision had them.
    preexisting: usize,
    units: Vec<JsonUnitSummary<'a>>,
}

#[derive(Serialize)]
struct SkippedFile<'a> {
    path: &'a str,
    reason: &'a str,
}

/// Writes the document as it is serialized, never as one text.
pub fn write(report: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
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
            excluded: &report.excluded,
            suppressed: report.suppressed,
            baselined: report.baselined,
            preexisting: report.preexisting,
            units: report
                .units
                .iter()
                .map(|u| JsonUnitSummary {
                    kind: u.info.kind,
                    path: &u.info.path,
                    values: u.info.values.as_deref(),
                    rendered: u.rendered,
                    documents: u.objects,
                })
                .collect(),
        },
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    out.write_all(b"\n")
}

fn json_finding(f: &Finding) -> JsonFinding<'_> {
    JsonFinding {
        rule: &f.rule,
        severity: f.severity,
        path: &f.path,
        span: f.span.into(),
        message: &f.message,
        help: &f.help,
        resource: f.resource.as_ref(),
        unit: match &f.unit {
            Some(unit) => JsonUnit {
                kind: match unit.kind {
                    UnitKind::Helm => "helm",
                    UnitKind::Kustomize => "kustomize",
                    UnitKind::Ansible => "ansible",
                },
                path: &unit.path,
                values: unit.values.as_deref(),
            },
            None => JsonUnit {
                kind: "file",
                path: &f.path,
                values: None,
            },
        },
        rendered: f.rendered.as_ref().map(|r| JsonRendered {
            line: r.line,
            text: &r.text,
        }),
        related: f.related.iter().map(json_related).collect(),
    }
}

fn json_related(r: &Related) -> JsonRelated<'_> {
    JsonRelated {
        path: &r.at.path,
        span: r.at.span.into(),
        message: &r.message,
    }
}
