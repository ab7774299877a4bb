//! Compiler-style output: `path:line:column: severity[rule] message`, the
//! source line with the offending node underlined, and a help line.

use std::fmt::Write as _;

use crate::engine::Report;
use crate::finding::{Finding, Severity};

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
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
    for finding in &report.findings {
        text.clear();
        render_finding(&mut text, finding, style);
        out.write_all(text.as_bytes())?;
    }
    text.clear();
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

fn render_summary(out: &mut String, report: &Report, style: Style) {
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
    for skipped in &report.skipped {
        let _ = writeln!(out, "skipped {}: {}", skipped.path, skipped.reason);
    }
}
