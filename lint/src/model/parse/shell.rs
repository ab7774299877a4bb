//! Splits shell text into simple commands of words with positions.
//!
//! Not a shell: it knows quoting, `\` continuations, comments, separators,
//! `$(…)`/`${…}` expansions and heredocs, which is what finding `docker run`
//! and its flags needs. Jinja (`{{ }}`, `{% %}`, `{# #}`) is kept inside words
//! or skipped, because deployers ship wrapper scripts as templates.

use crate::model::source::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Word {
    /// The word with quotes removed; expansions are kept as written.
    pub text: String,
    pub span: Span,
}

/// Where the text being split starts in its file.
#[derive(Clone, Copy, Debug)]
pub struct Origin {
    pub line: u32,
    pub column: u32,
}

impl Origin {
    pub const FILE_START: Origin = Origin { line: 1, column: 1 };
}

/// Splits `text` into simple commands. With `one_line`, stops at the first
/// newline that is not escaped (a systemd `ExecStart=` value).
pub fn commands(text: &str, origin: Origin, one_line: bool) -> Vec<Vec<Word>> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        line: origin.line,
        column: origin.column,
        one_line,
        pending_heredocs: Vec::new(),
    };
    lexer.run()
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    column: u32,
    one_line: bool,
    pending_heredocs: Vec<String>,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| self.peek(i) == Some(c))
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_until(&mut self, end: &str) {
        while self.peek(0).is_some() && !self.starts_with(end) {
            self.bump();
        }
        for _ in 0..end.chars().count() {
            self.bump();
        }
    }

    fn run(&mut self) -> Vec<Vec<Word>> {
        let mut commands = Vec::new();
        let mut current: Vec<Word> = Vec::new();
        let mut finish = |current: &mut Vec<Word>| {
            if !current.is_empty() {
                commands.push(std::mem::take(current));
            }
        };
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\r' => {
                    self.bump();
                }
                '\\' if self.peek(1) == Some('\n') => {
                    self.bump();
                    self.bump();
                }
                '\n' => {
                    self.bump();
                    finish(&mut current);
                    if self.one_line {
                        break;
                    }
                    self.skip_heredoc_bodies();
                }
                ';' | '&' | '|' | '(' | ')' => {
                    self.bump();
                    finish(&mut current);
                }
                '#' => {
                    // The newline still ends the command the comment follows.
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                '{' if self.starts_with("{%") => self.skip_template_tag("%}"),
                '{' if self.starts_with("{#") => self.skip_template_tag("#}"),
                _ => {
                    let word = self.word();
                    if let Some(delimiter) = heredoc_delimiter(&current, &word) {
                        self.pending_heredocs.push(delimiter);
                    }
                    current.push(word);
                }
            }
        }
        finish(&mut current);
        commands
    }

    /// Skips a Jinja statement or comment. One that ends its line takes the
    /// line break with it, as Jinja's `trim_blocks` does, so a statement
    /// inside a `\` continuation does not end the command.
    fn skip_template_tag(&mut self, end: &str) {
        self.skip_until(end);
        let mut ahead = 0;
        while matches!(self.peek(ahead), Some(' ' | '\t' | '\r')) {
            ahead += 1;
        }
        if self.peek(ahead) == Some('\n') {
            for _ in 0..=ahead {
                self.bump();
            }
        }
    }

    fn word(&mut self) -> Word {
        let (line, column) = (self.line, self.column);
        let mut text = String::new();
        let (mut end_line, mut end_column) = (line, column);
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '(' | ')' => break,
                '\\' if self.peek(1) == Some('\n') => break,
                '\\' => {
                    self.bump();
                    if let Some(escaped) = self.bump() {
                        text.push(escaped);
                    }
                }
                '\'' => {
                    self.bump();
                    while let Some(q) = self.bump() {
                        if q == '\'' {
                            break;
                        }
                        text.push(q);
                    }
                }
                '"' => {
                    self.bump();
                    while let Some(q) = self.bump() {
                        match q {
                            '"' => break,
                            '\\' if matches!(self.peek(0), Some('"' | '\\' | '$' | '`')) => {
                                text.extend(self.bump());
                            }
                            '\\' if self.peek(0) == Some('\n') => {
                                self.bump();
                            }
                            _ => text.push(q),
                        }
                    }
                }
                '$' if matches!(self.peek(1), Some('(' | '{')) => {
                    let close = if self.peek(1) == Some('(') { ')' } else { '}' };
                    self.take_nested(&mut text, close);
                }
                '`' => {
                    text.extend(self.bump());
                    while let Some(q) = self.bump() {
                        text.push(q);
                        if q == '`' {
                            break;
                        }
                    }
                }
                '{' if self.starts_with("{{") => {
                    while let Some(q) = self.bump() {
                        text.push(q);
                        if text.ends_with("}}") {
                            break;
                        }
                    }
                }
                '>' | '<' => {
                    text.extend(self.bump());
                    if self.peek(0) == Some('&') {
                        text.extend(self.bump());
                    }
                }
                _ => text.extend(self.bump()),
            }
            (end_line, end_column) = (self.line, self.column);
        }
        Word {
            text,
            span: Span {
                line,
                column,
                end_line,
                end_column,
            },
        }
    }

    /// Copies `$(…)` or `${…}` with nested brackets into the word.
    fn take_nested(&mut self, text: &mut String, close: char) {
        let open = if close == ')' { '(' } else { '{' };
        text.extend(self.bump());
        text.extend(self.bump());
        let mut depth = 1;
        while let Some(c) = self.bump() {
            text.push(c);
            if c == open {
                depth += 1;
            } else if c == close {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
        }
    }

    fn skip_heredoc_bodies(&mut self) {
        for delimiter in std::mem::take(&mut self.pending_heredocs) {
            loop {
                let start = self.pos;
                while self.peek(0).is_some_and(|c| c != '\n') {
                    self.bump();
                }
                let line: String = self.chars[start..self.pos].iter().collect();
                let at_end = self.bump().is_none();
                if line.trim_start_matches('\t') == delimiter || at_end {
                    break;
                }
            }
        }
    }
}

/// `cat <<EOF`, `cat <<-'EOF'`, `cat << EOF`: the delimiter that ends the body.
fn heredoc_delimiter(previous: &[Word], word: &Word) -> Option<String> {
    let after_operator = |w: &str| {
        w.strip_prefix("<<-")
            .or_else(|| w.strip_prefix("<<"))
            .filter(|rest| !rest.starts_with('<'))
            .map(str::to_string)
    };
    if let Some(rest) = after_operator(&word.text).filter(|r| !r.is_empty()) {
        return Some(rest);
    }
    let last = previous.last()?;
    match after_operator(&last.text) {
        Some(rest) if rest.is_empty() => Some(word.text.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<Vec<String>> {
        commands(text, Origin::FILE_START, false)
            .into_iter()
            .map(|c| c.into_iter().map(|w| w.text).collect())
            .collect()
    }

    #[test]
    fn joins_continuations_and_keeps_word_positions() {
        let cmds = commands(
            "docker run \\\n  --memory=1g \\\n  img\n",
            Origin::FILE_START,
            false,
        );
        assert_eq!(cmds.len(), 1);
        let memory = &cmds[0][2];
        assert_eq!(memory.text, "--memory=1g");
        assert_eq!(memory.span, Span::on_line(2, 3, 11));
    }

    #[test]
    fn removes_quotes_and_splits_on_separators() {
        assert_eq!(
            texts("a 'b c' \"d\\\"e\" && f;g | h # comment\n"),
            vec![vec!["a", "b c", "d\"e"], vec!["f"], vec!["g"], vec!["h"]]
        );
    }

    #[test]
    fn a_trailing_comment_does_not_join_the_next_command() {
        assert_eq!(
            texts("a b # note\n# more\nc d\n"),
            vec![vec!["a", "b"], vec!["c", "d"]]
        );
    }

    #[test]
    fn keeps_expansions_and_templates_inside_one_word() {
        assert_eq!(
            texts("x=$(cat /a b) {{ bin_dir }}/docker ${A:-b c}\n"),
            vec![vec!["x=$(cat /a b)", "{{ bin_dir }}/docker", "${A:-b c}"]]
        );
    }

    #[test]
    fn skips_jinja_statements_without_breaking_a_continuation() {
        let text = "docker run \\\n  {% if x %}\n  --memory=1g \\\n  {% endif %}\n  img\n";
        assert_eq!(
            texts(text),
            vec![vec!["docker", "run", "--memory=1g", "img"]]
        );
    }

    #[test]
    fn skips_heredoc_bodies() {
        let text = "cat <<'EOF' > f\ndon't docker run\nEOF\necho done\n";
        assert_eq!(
            texts(text),
            vec![vec!["cat", "<<EOF", ">", "f"], vec!["echo", "done"]]
        );
    }

    #[test]
    fn one_line_mode_stops_at_the_first_unescaped_newline() {
        let origin = Origin {
            line: 4,
            column: 11,
        };
        let cmds = commands("/usr/bin/docker run \\\n  img\nNext=1\n", origin, true);
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0][0].span.column, 11);
        assert_eq!(cmds[0][2].span.line, 5);
    }
}
