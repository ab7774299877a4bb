//! Source files, positions in them, and the places findings point at.

use std::sync::Arc;

pub use scar_yaml::Span;

/// Where each line of a text starts, built once so that looking up a line
/// never rescans the text before it.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The text of a 1-based line, without its line ending; empty past the end.
    pub fn line<'t>(&self, text: &'t str, line: u32) -> &'t str {
        let Some(&start) = self.starts.get(line.saturating_sub(1) as usize) else {
            return "";
        };
        if line == 0 || start > text.len() {
            return "";
        }
        let end = self
            .starts
            .get(line as usize)
            .map_or(text.len(), |next| next - 1);
        let content = &text[start..end.max(start)];
        content.strip_suffix('\r').unwrap_or(content)
    }

    /// How many lines the text has (a final line ending opens no new line).
    pub fn len(&self, text: &str) -> u32 {
        let trailing = text.ends_with('\n') as usize;
        (self.starts.len() - trailing) as u32
    }

    pub fn is_empty(&self) -> bool {
        self.starts.len() <= 1
    }
}

/// A file being linted: its display path, its text and where its lines start.
pub struct SourceFile {
    pub path: Arc<str>,
    pub text: String,
    lines: LineIndex,
}

impl SourceFile {
    pub fn new(path: Arc<str>, text: String) -> SourceFile {
        let lines = LineIndex::new(&text);
        SourceFile { path, text, lines }
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line(&self, line: u32) -> &str {
        self.lines.line(&self.text, line)
    }
}

/// A place a person edits: a file, a range in it, and the text of the
/// range's first line (kept for snippets once the file is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    pub path: Arc<str>,
    pub span: Span,
    pub line_text: String,
}

impl SourceRef {
    pub fn in_file(file: &SourceFile, span: Span) -> SourceRef {
        SourceRef {
            path: file.path.clone(),
            span,
            line_text: file.line(span.line).to_string(),
        }
    }
}

/// Another place that explains a finding, such as the values file line
/// that set the replica count a template line renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub at: SourceRef,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_line_without_its_ending() {
        let text = "a\r\nbb\n\nccc";
        let index = LineIndex::new(text);
        assert_eq!(index.line(text, 1), "a");
        assert_eq!(index.line(text, 2), "bb");
        assert_eq!(index.line(text, 3), "");
        assert_eq!(index.line(text, 4), "ccc");
        assert_eq!(index.line(text, 5), "");
        assert_eq!(index.line(text, 0), "");
        assert_eq!(index.len(text), 4);
        assert_eq!(LineIndex::new("x\n").len("x\n"), 1);
    }
}
