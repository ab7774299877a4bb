//! Line stamps for Helm templates, so that every rendered line can be
//! traced to the template line a person edits.
//!
//! Before each line of a template that starts a mapping key or a list item,
//! a comment line `#scar-line:N` is inserted, indented like the line (N is
//! the line's number in the user's file). Go templates copy comments
//! through, helm keeps them in its output, and YAML ignores them. Lines
//! where a comment could change what renders are left alone: inside a
//! `{{ }}` action spanning lines, inside block scalars (`|`, `>`), inside
//! `define` blocks (their output may land inside strings), and after an
//! action that trims the white space that follows it (`-}}`).

pub const MARKER: &str = "#scar-line:";

/// A template with stamps, and the numbers of the lines that got one.
pub struct Stamped {
    pub text: String,
    pub lines: Vec<u32>,
}

pub fn stamp(template: &str) -> Stamped {
    let mut text = String::with_capacity(template.len() + template.len() / 4);
    let mut lines = Vec::new();
    let mut state = State::default();
    for (index, line) in template.split_inclusive('\n').enumerate() {
        let number = index as u32 + 1;
        if state.may_stamp(line) {
            let indent: String = line.chars().take_while(|c| *c == ' ').collect();
            text.push_str(&indent);
            text.push_str(MARKER);
            text.push_str(&number.to_string());
            text.push('\n');
            lines.push(number);
        }
        state.after(line);
        text.push_str(line);
    }
    Stamped { text, lines }
}

/// The template line a stamp line names, if `line` is one.
pub fn stamp_of(line: &str) -> Option<u32> {
    line.trim().strip_prefix(MARKER)?.parse().ok()
}

#[derive(Default)]
struct State {
    /// Inside a `{{ … }}` that opened on an earlier line.
    in_action: bool,
    /// Open `if`/`range`/`with`/`define`/`block` actions, innermost last.
    blocks: Vec<bool>,
    /// The indentation of the line that opened a block scalar still open.
    block_scalar: Option<usize>,
    /// The last non-blank line ended with `-}}`, which would eat the line
    /// break before a stamp and glue the stamp to the output before it.
    trims_next: bool,
}

impl State {
    fn in_define(&self) -> bool {
        self.blocks.iter().any(|is_define| *is_define)
    }

    fn may_stamp(&mut self, line: &str) -> bool {
        let trimmed = line.trim();
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(owner) = self.block_scalar {
            let content = trimmed.is_empty() || trimmed.starts_with("{{") || indent > owner;
            if content {
                return false;
            }
            self.block_scalar = None;
        }
        !self.in_action
            && !self.trims_next
            && !self.in_define()
            && !line.starts_with('\t')
            && starts_key_or_item(trimmed)
    }

    fn after(&mut self, line: &str) {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return;
        }
        let was_in_action = self.in_action;
        self.scan_actions(line);
        self.trims_next = trimmed.ends_with("-}}");
        if self.block_scalar.is_none() && !was_in_action && opens_block_scalar(trimmed) {
            self.block_scalar = Some(line.len() - line.trim_start_matches(' ').len());
        }
    }

    /// Follows `{{`/`}}` pairs and the block actions they open and close.
    fn scan_actions(&mut self, line: &str) {
        let mut rest = line;
        loop {
            if self.in_action {
                let Some(end) = rest.find("}}") else { return };
                self.in_action = false;
                rest = &rest[end + 2..];
                continue;
            }
            let Some(start) = rest.find("{{") else { return };
            let body = &rest[start + 2..];
            let end = body.find("}}");
            let action = end.map_or(body, |e| &body[..e]);
            self.on_action(action);
            match end {
                Some(e) => rest = &body[e + 2..],
                None => {
                    self.in_action = true;
                    return;
                }
            }
        }
    }

    fn on_action(&mut self, action: &str) {
        let word = action
            .trim_start_matches('-')
            .trim_start()
            .split(|c: char| c.is_whitespace() || c == '-' || c == '}')
            .next()
            .unwrap_or("");
        match word {
            "if" | "range" | "with" | "block" => self.blocks.push(false),
            "define" => self.blocks.push(true),
            "end" => {
                self.blocks.pop();
            }
            _ => {}
        }
    }
}

/// `key:` or `key: value` (plain or quoted key), or `- item`.
fn starts_key_or_item(trimmed: &str) -> bool {
    if trimmed == "-" || trimmed.starts_with("- ") {
        let item = trimmed.trim_start_matches(['-', ' ']);
        return !item.starts_with("{{");
    }
    let key_end = match trimmed.chars().next() {
        Some(quote @ ('"' | '\'')) => trimmed[1..].find(quote).map(|i| i + 2),
        Some(c) if c.is_alphanumeric() || c == '_' || c == '.' || c == '$' => {
            trimmed.find(|c: char| c == ':' || c.is_whitespace() || c == '{' || c == '#')
        }
        _ => None,
    };
    let Some(end) = key_end else { return false };
    let after = &trimmed[end..];
    after == ":" || after.starts_with(": ")
}

/// A line whose value is a block scalar: `key: |`, `- >-`, `key: |2 # x`.
fn opens_block_scalar(trimmed: &str) -> bool {
    let without_comment = match trimmed.find(" #") {
        Some(i) => trimmed[..i].trim_end(),
        None => trimmed,
    };
    let value = match without_comment.rsplit_once(": ") {
        Some((_, value)) => value,
        None => without_comment.trim_start_matches(['-', ' ']),
    };
    let mut chars = value.chars();
    matches!(chars.next(), Some('|' | '>'))
        && chars.all(|c| c == '-' || c == '+' || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamped_lines(template: &str) -> Vec<u32> {
        stamp(template).lines
    }

    #[test]
    fn stamps_keys_and_items_with_their_indentation() {
        let template = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: {{ .Values.replicaCount }}\n  containers:\n  - name: app\n";
        let stamped = stamp(template);
        assert_eq!(stamped.lines, vec![1, 2, 3, 4, 5, 6]);
        assert!(stamped
            .text
            .contains("  #scar-line:4\n  replicas: {{ .Values.replicaCount }}\n"));
        assert_eq!(stamp_of("    #scar-line:12"), Some(12));
        assert_eq!(stamp_of("# Source: x"), None);
    }

    #[test]
    fn leaves_block_scalars_actions_defines_and_trimmed_lines_alone() {
        let template = "\
data:
  config.yaml: |
    server:
      port: 80
{{- if .Values.x }}
    more: 1
{{- end }}
  other: x
{{- define \"labels\" }}
app: x
{{- end }}
labels: {{ include \"labels\" (dict
  \"a\" 1) }}
next: {{- if .x -}}
glued: y
{{- end }}
";
        assert_eq!(stamped_lines(template), vec![1, 2, 8, 12, 14]);
    }

    #[test]
    fn recognises_keys_items_and_block_scalars() {
        assert!(starts_key_or_item("replicas: 1"));
        assert!(starts_key_or_item("\"app.kubernetes.io/name\": x"));
        assert!(starts_key_or_item("- --flag=1"));
        assert!(starts_key_or_item("spec:"));
        assert!(!starts_key_or_item("{{- toYaml . | nindent 4 }}"));
        assert!(!starts_key_or_item("- {{ .Values.x }}"));
        assert!(!starts_key_or_item("# comment: x"));
        assert!(!starts_key_or_item("http://x"));
        assert!(opens_block_scalar("script: |"));
        assert!(opens_block_scalar("- >-"));
        assert!(opens_block_scalar("key: |2 # note"));
        assert!(!opens_block_scalar("key: {{ .Values.x | quote }}"));
        assert!(!opens_block_scalar("key: a|b"));
    }
}
