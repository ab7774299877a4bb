//! Compiler-style output: `path:line:column: severity[rule] message`, the
//! source line with the offending node underlined, and a help line. Infos
//! are folded into a count per rule unless asked for, so that they never
//! drown the warnings; the summary closes the output.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::check::finding::{Finding, Severity};
use crate::report::Report;

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// List infos one by one, as errors and warnings are, instead of a
    /// count per rule.
    pub list_infos: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn severity_code(severity: Severity) -> &'static str {
        match severity {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Info => "1;36",
        }
    }
}

/// Writes the report finding by finding, so that a large one is never
/// held as one text.
pub fn write(report: &Report, style: Style, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut text = String::new();
    let mut folded: BTreeMap<&str, usize> = BTreeMap::new();
    for finding in &report.findings {
        if finding.severity == Severity::Info && !style.list_infos {
            *folded.entry(&finding.rule).or_default() += 1;
            continue;
        }
        text.clear();
        render_finding(&mut text, finding, style);
        out.write_all(text.as_bytes())?;
    }
    text.clear();
    for (rule, infos) in folded {
        let _ = writeln!(
            text,
            "{} of {rule}: --show-infos to list them",
            count(infos, "info")
        );
    }
    render_summary(&mut text, report, style);
    out.write_all(text.as_bytes())
}

fn render_finding(out: &mut String, finding: &Finding, style: Style) {
    let span = finding.span;
    let code = Style::severity_code(finding.severity);
    let _ = writeln!(
        out,
        "{}: {}{} {}",
        style.paint(
            "1",
            &format!("{}:{}:{}", finding.path, span.line, span.column)
        ),
        style.paint(code, finding.severity.as_str()),
        style.paint(code, &format!("[{}]", finding.rule)),
        finding.message,
    );
    let gutter = span.line.to_string().len();
    let bar = style.paint("1;34", "|");
    let excerpt = &finding.excerpt;
    let line = &excerpt.text;
    let _ = writeln!(out, "{:gutter$} {bar}", "");
    let _ = writeln!(
        out,
        "{} {bar} {line}",
        style.paint("1;34", &span.line.to_string())
    );

    let start = span.column.saturating_sub(excerpt.first_column) as usize;
    let line_len = line.chars().count();
    let end = if span.end_line == span.line {
        (span.end_column.saturating_sub(excerpt.first_column) as usize).min(line_len)
    } else {
        line_len
    };
    let padding: String = line
        .chars()
        .take(start)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let carets = "^".repeat(end.saturating_sub(start).max(1));
    let _ = writeln!(
        out,
        "{:gutter$} {bar} {padding}{}",
        "",
        style.paint(code, &carets)
    );
    let equals = style.paint("1;34", "=");
    if let Some(unit) = &finding.unit {
        let rendered = finding
            .rendered
            .as_ref()
            .filter(|r| r.text.trim() != line.trim())
            .map_or(String::new(), |r| {
                format!(", rendered as `{}`", r.text.trim())
            });
        let _ = writeln!(out, "{:gutter$} {equals} in {unit}{rendered}", "");
    }
    for related in &finding.related {
        let at = &related.at;
        let _ = writeln!(
            out,
            "{:gutter$} {equals} note: {}:{}: {}",
            "", at.path, at.span.line, related.message
        );
    }
    if !finding.help.is_empty() {
        let _ = writeln!(out, "{:gutter$} {equals} help: {}", "", finding.help);
    }
    out.push('\n');
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// At most this many excluded folders are named in the summary.
const EXCLUDED_SHOWN: usize = 5;

fn render_summary(out: &mut String, report: &Report, style: Style) {
    for skipped in &report.skipped {
        let _ = writeln!(out, "skipped {}: {}", skipped.path, skipped.reason);
    }
    if !report.excluded.is_empty() {
        let folders = report.excluded.iter().filter(|e| e.ends_with('/')).count();
        let files = report.excluded.len() - folders;
        let what = match (folders, files) {
            (_, 0) => count(folders, "folder"),
            (0, _) => count(files, "file"),
            _ => format!("{} and {}", count(folders, "folder"), count(files, "file")),
        };
        let mut shown: Vec<&str> = report
            .excluded
            .iter()
            .take(EXCLUDED_SHOWN)
            .map(|e| &**e)
            .collect();
        if report.excluded.len() > EXCLUDED_SHOWN {
            shown.push("…");
        }
        let _ = writeln!(
            out,
            "skipped {what} by default: {}; --no-default-excludes to lint them",
            shown.join(", ")
        );
    }
    let hidden: Vec<String> = [
        (report.suppressed, "suppressed"),
        (report.baselined, "in the baseline"),
        (report.preexisting, "older than this change"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{n} {why}"))
    .collect();
    if !hidden.is_empty() {
        let _ = writeln!(out, "findings not shown: {}", hidden.join(", "));
    }
    let tally = |severity| report.count(severity);
    let rendered = report.units.iter().filter(|u| u.rendered).count();
    let renders = if report.units.is_empty() {
        String::new()
    } else {
        format!(
            "; {rendered} of {} Helm and kustomize renders succeeded",
            report.units.len()
        )
    };
    let line = format!(
        "{}, {}, {} in {} ({}{renders})",
        count(tally(Severity::Error), "error"),
        count(tally(Severity::Warning), "warning"),
        count(tally(Severity::Info), "info"),
        count(report.files, "file"),
        count(report.resources, "resource"),
    );
    let _ = writeln!(out, "{}", style.paint("1", &line));
}
