//! systemd unit files and drop-ins: sections, repeated keys, `\`
//! continuations, comments, and the `-@:+!` prefixes of `Exec*=` lines.
//! Units are often Jinja templates (`docker.service.j2`): statements and
//! comments (`{% … %}`, `{# … #}`) are skipped as the shell reader skips
//! them, and a value with a `{{ placeholder }}` is kept as written, which
//! rules read as unknown.

use crate::model::source::Span;

use super::shell::{self, Origin, Word};

#[derive(Debug, Clone)]
pub struct Unit<'a> {
    text: &'a str,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub section: String,
    pub key: String,
    pub key_span: Span,
    /// The value with continuations joined by a space, as systemd reads it.
    pub value: String,
    pub value_span: Span,
    /// Byte offset of the value in the file, for re-reading it as a command line.
    value_offset: usize,
    value_origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnitError {
    pub span: Span,
    pub message: String,
}

/// For a line that starts a Jinja statement, comment or expression standing
/// alone, the text that closes it.
fn template_line(trimmed: &str) -> Option<&'static str> {
    match trimmed.get(..2)? {
        "{%" => Some("%}"),
        "{#" => Some("#}"),
        "{{" => Some("}}"),
        _ => None,
    }
}

impl<'a> Unit<'a> {
    pub fn parse(text: &'a str) -> Result<Unit<'a>, UnitError> {
        let mut entries = Vec::new();
        let mut section = String::new();
        let mut offset = 0;
        let mut lines = text.split_inclusive('\n').enumerate().peekable();
        // The closing of a Jinja statement or comment still open.
        let mut in_template: Option<&str> = None;
        while let Some((index, raw)) = lines.next() {
            let line_no = index as u32 + 1;
            let line_start = offset;
            offset += raw.len();
            let line = raw.trim_end_matches(['\n', '\r']);
            let trimmed = line.trim_start();
            if let Some(close) = in_template {
                if trimmed.contains(close) {
                    in_template = None;
                }
                continue;
            }
            if let Some(close) = template_line(trimmed) {
                let opened_here = &trimmed[2..];
                if !opened_here.contains(close) {
                    in_template = Some(close);
                }
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix('[') {
                let name = rest.strip_suffix(']').ok_or_else(|| UnitError {
                    span: Span::on_line(line_no, 1, line.chars().count() as u32),
                    message: "section header is missing its closing `]`".to_string(),
                })?;
                section = name.to_string();
                continue;
            }
            let indent = line.len() - trimmed.len();
            let Some(eq) = trimmed.find('=') else {
                return Err(UnitError {
                    span: Span::on_line(line_no, indent as u32 + 1, trimmed.chars().count() as u32),
                    message: "expected `Key=value`, a `[Section]` header or a comment".to_string(),
                });
            };
            if section.is_empty() {
                return Err(UnitError {
                    span: Span::on_line(line_no, indent as u32 + 1, eq as u32),
                    message: "assignment outside of any `[Section]`".to_string(),
                });
            }
            let key = trimmed[..eq].trim_end().to_string();
            let key_span = Span::on_line(line_no, indent as u32 + 1, key.chars().count() as u32);
            let after_eq = &trimmed[eq + 1..];
            let value_lead = after_eq.len() - after_eq.trim_start().len();
            let value_column = (line[..indent + eq + 1 + value_lead].chars().count() + 1) as u32;
            let value_offset = line_start + indent + eq + 1 + value_lead;

            let mut value = after_eq.trim().to_string();
            let mut end = (line_no, line.chars().count() as u32 + 1);
            while value.ends_with('\\') {
                value.pop();
                let Some((next_index, next_raw)) = lines.next() else {
                    break;
                };
                offset += next_raw.len();
                let next = next_raw.trim_end_matches(['\n', '\r']);
                let next_trimmed = next.trim();
                if next_trimmed.starts_with('#') || next_trimmed.starts_with(';') {
                    value.push('\\');
                    continue;
                }
                // A Jinja statement or comment line inside a continuation
                // renders to nothing (kubespray's `{% if %}` around a flag):
                // the continuation goes on after it.
                if let Some(close) = template_line(next_trimmed).filter(|c| *c != "}}") {
                    let mut closed = next_trimmed[2..].contains(close);
                    while !closed {
                        let Some((_, inside)) = lines.next() else {
                            break;
                        };
                        offset += inside.len();
                        closed = inside.contains(close);
                    }
                    value.push('\\');
                    continue;
                }
                value = format!("{} {}", value.trim_end(), next_trimmed);
                end = (next_index as u32 + 1, next.chars().count() as u32 + 1);
            }
            entries.push(Entry {
                section: section.clone(),
                key,
                key_span,
                value: value.trim().to_string(),
                value_span: Span {
                    line: line_no,
                    column: value_column,
                    end_line: end.0,
                    end_column: end.1,
                },
                value_offset,
                value_origin: Origin {
                    line: line_no,
                    column: value_column,
                },
            });
        }
        Ok(Unit { text, entries })
    }

    /// Every entry of `section` named `key`, in file order (keys may repeat).
    pub fn all<'s>(
        &'s self,
        section: &'s str,
        key: &'s str,
    ) -> impl Iterator<Item = &'s Entry> + 's {
        self.entries
            .iter()
            .filter(move |e| e.section == section && e.key == key)
    }

    /// The value that wins for a key that is set once: the last assignment.
    pub fn last(&self, section: &str, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.section == section && e.key == key)
    }

    /// The command lines of an `Exec*=` value, each as words with positions,
    /// after the `-@:+!` prefixes that change how systemd runs it.
    pub fn exec_commands(&self, entry: &Entry) -> Vec<Vec<Word>> {
        let Some(raw) = self.text.get(entry.value_offset..) else {
            return Vec::new();
        };
        let mut commands = shell::commands(raw, entry.value_origin, true);
        if let Some(first) = commands.first_mut().and_then(|c| c.first_mut()) {
            let stripped = first.text.trim_start_matches(['-', '@', ':', '+', '!']);
            let removed = (first.text.len() - stripped.len()) as u32;
            first.text = stripped.to_string();
            first.span.column += removed;
        }
        commands.retain(|c| !c.is_empty() && !c[0].text.is_empty());
        commands
    }
}

/// `Exec*=` settings whose values are command lines.
pub const EXEC_KEYS: &[&str] = &[
    "ExecStart",
    "ExecStartPre",
    "ExecStartPost",
    "ExecReload",
    "ExecStop",
    "ExecStopPost",
    "ExecCondition",
];

/// A systemd time span in seconds (`90`, `1min 30s`, `500ms`, `2h`);
/// `f64::INFINITY` for `infinity`. `None` when it cannot be read.
pub fn timespan_seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    if text == "infinity" {
        return Some(f64::INFINITY);
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = rest[number_end..].trim_start();
        let unit_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "" | "s" | "sec" | "second" | "seconds" => 1.0,
            "us" | "usec" => 1e-6,
            "ms" | "msec" => 1e-3,
            "m" | "min" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            "w" | "week" | "weeks" => 604800.0,
            _ => return None,
        };
        total += number * factor;
        rest = &rest[unit_end..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_jinja_statements_and_comments_and_keeps_placeholders_as_written() {
        let text = "[Unit]\nDescription=docker\n{% if docker_version is defined %}\nAfter=network.target\n{% endif %}\n{# a comment\n   over lines #}\n[Service]\nRestartSec={{ restart_sec }}\n{{ extra_lines }}\nRestart=always\n";
        let unit = Unit::parse(text).expect("Jinja is not a parse error");
        assert_eq!(unit.last("Unit", "After").map(|e| e.key_span.line), Some(4));
        assert_eq!(
            unit.last("Service", "RestartSec").map(|e| e.value.as_str()),
            Some("{{ restart_sec }}")
        );
        assert_eq!(
            unit.last("Service", "Restart").map(|e| e.key_span.line),
            Some(11)
        );
    }

    #[test]
    fn jinja_statements_inside_a_continuation_render_to_nothing() {
        let text = "[Service]\nExecStart={{ bin_dir }}/dockerd \\\n{% if os == \"Suse\" %}\n          --add-runtime oci=/usr/sbin/docker-runc \\\n{% endif %}\n{# options\n   from the environment #}\n          $DOCKER_OPTS \\\n          $DOCKER_DNS_OPTIONS\nRestart=on-failure\n";
        let unit = Unit::parse(text).expect("a valid template");
        let start = unit.last("Service", "ExecStart").unwrap();
        assert_eq!(
            start.value,
            "{{ bin_dir }}/dockerd --add-runtime oci=/usr/sbin/docker-runc $DOCKER_OPTS $DOCKER_DNS_OPTIONS"
        );
        assert_eq!(start.value_span.end_line, 9);
        let words: Vec<String> = unit.exec_commands(start)[0]
            .iter()
            .map(|w| w.text.clone())
            .collect();
        assert_eq!(words[1..3], ["--add-runtime", "oci=/usr/sbin/docker-runc"]);
        assert_eq!(
            unit.last("Service", "Restart").map(|e| e.key_span.line),
            Some(10)
        );
    }

    const UNIT: &str = "# etcd\n[Unit]\nDescription=etcd\n\n[Service]\nExecStartPre=-/usr/bin/docker rm -f etcd\nExecStart=/usr/bin/docker run \\\n  --memory=512M \\\n  quay.io/coreos/etcd\nRestart=always\nRestart=on-failure\n";

    #[test]
    fn reads_sections_repeated_keys_and_continuations() {
        let unit = Unit::parse(UNIT).unwrap();
        assert_eq!(unit.last("Service", "Restart").unwrap().value, "on-failure");
        assert_eq!(unit.all("Service", "Restart").count(), 2);
        let start = unit.last("Service", "ExecStart").unwrap();
        assert_eq!(
            start.value,
            "/usr/bin/docker run --memory=512M quay.io/coreos/etcd"
        );
        assert_eq!((start.key_span.line, start.value_span.end_line), (7, 9));
    }

    #[test]
    fn exec_commands_drop_prefixes_and_keep_positions() {
        let unit = Unit::parse(UNIT).unwrap();
        let pre = unit.last("Service", "ExecStartPre").unwrap();
        let words = &unit.exec_commands(pre)[0];
        assert_eq!(words[0].text, "/usr/bin/docker");
        assert_eq!(words[0].span.column, 15);
        let start = unit.last("Service", "ExecStart").unwrap();
        let words = &unit.exec_commands(start)[0];
        assert_eq!(words[2].text, "--memory=512M");
        assert_eq!(words[2].span, Span::on_line(8, 3, 13));
    }

    #[test]
    fn reads_time_spans() {
        assert_eq!(timespan_seconds("90"), Some(90.0));
        assert_eq!(timespan_seconds("1min 30s"), Some(90.0));
        assert_eq!(timespan_seconds("100ms"), Some(0.1));
        assert_eq!(timespan_seconds("2h"), Some(7200.0));
        assert_eq!(timespan_seconds("infinity"), Some(f64::INFINITY));
        assert_eq!(timespan_seconds("soon"), None);
    }

    #[test]
    fn rejects_garbage_with_its_line() {
        let err = Unit::parse("[Service]\nExecStart=/bin/true\nthis is not a unit\n").unwrap_err();
        assert_eq!(err.span.line, 3);
    }
}
