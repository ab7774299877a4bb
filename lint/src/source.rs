//! Positions in a source file. Lines and columns are 1-based and count
//! characters; `end_column` is exclusive, as in SARIF and the JSON output.

use std::sync::Arc;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

impl Span {
    pub fn point(line: u32, column: u32) -> Span {
        Span {
            line,
            column,
            end_line: line,
            end_column: column + 1,
        }
    }

    /// Covers `len` characters starting at `line:column`.
    pub fn on_line(line: u32, column: u32, len: u32) -> Span {
        Span {
            line,
            column,
            end_line: line,
            end_column: column + len.max(1),
        }
    }

    /// From the start of `self` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            end_line: other.end_line,
            end_column: other.end_column,
            ..self
        }
    }
}

/// A file being linted: its display path and its text.
pub struct SourceFile {
    pub path: Arc<str>,
    pub text: String,
}

impl SourceFile {
    /// The text of a 1-based line, without its line ending.
    pub fn line(&self, line: u32) -> &str {
        line_of(&self.text, line)
    }
}

pub fn line_of(text: &str, line: u32) -> &str {
    text.lines()
        .nth(line.saturating_sub(1) as usize)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or("")
}
