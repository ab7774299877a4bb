//! GitHub Actions workflow commands, so findings show inline on a pull
//! request without code scanning: `::error file=…,line=…::message`.

use crate::check::finding::Severity;
use crate::report::Report;

use super::location::RepoPaths;

/// Writes one workflow command per finding.
pub fn write(
    report: &Report,
    paths: &RepoPaths,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    for f in &report.findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut properties = Vec::new();
        if let Some(path) = paths.relative(&f.path) {
            properties.push(format!("file={}", escape_property(&path)));
            properties.push(format!("line={}", f.span.line));
            properties.push(format!("col={}", f.span.column));
            properties.push(format!("endLine={}", f.span.end_line));
            properties.push(format!("endColumn={}", f.span.end_column));
        }
        properties.push(format!(
            "title={}",
            escape_property(&format!("scar {}", f.rule))
        ));
        let mut message = f.message.clone();
        if let Some(unit) = &f.unit {
            message.push_str(&format!("\nin {unit}"));
        }
        for related in &f.related {
            let at = &related.at;
            message.push_str(&format!(
                "\nnote: {}:{}: {}",
                at.path, at.span.line, related.message
            ));
        }
        if !f.help.is_empty() {
            message.push_str(&format!("\nhelp: {}", f.help));
        }
        writeln!(
            out,
            "::{command} {}::{}",
            properties.join(","),
            escape_data(&message)
        )?;
    }
    Ok(())
}

/// Message text: `%`, CR and LF are encoded, as the runner decodes them.
pub(crate) fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Property values also encode `:` and `,`, which delimit properties.
pub(crate) fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_runner_expects() {
        assert_eq!(escape_data("100% done\r\nnext"), "100%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
