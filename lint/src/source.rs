//! Source files and positions in them.

use std::sync::Arc;

pub use scar_yaml::Span;

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
