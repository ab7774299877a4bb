//! Source files, positions in them, and the places findings point at.

use std::sync::Arc;

pub(crate) use scar_yaml::Span;

/// Where each line of a text starts, built once so that looking up a line
/// never rescans the text before it.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
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
}

/// A file being linted: its display path, its text and where its lines start.
pub struct SourceFile {
    pub path: Arc<str>,
    pub text: String,
    lines: LineIndex,
    /// Columns count characters; in ASCII text they are byte offsets too,
    /// so excerpts of a long line need not walk it.
    ascii: bool,
}

impl SourceFile {
    pub fn new(path: Arc<str>, text: String) -> SourceFile {
        let lines = LineIndex::new(&text);
        let ascii = text.is_ascii();
        SourceFile {
            path,
            text,
            lines,
            ascii,
        }
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line(&self, line: u32) -> &str {
        self.lines.line(&self.text, line)
    }

    /// The part of the span's first line a finding quotes.
    pub fn excerpt(&self, span: Span) -> Excerpt {
        let line = self.line(span.line);
        if self.ascii {
            let start = Excerpt::first_quoted(line.len(), span.column);
            let end = line.len().min(start + EXCERPT_CHARS);
            Excerpt {
                text: line[start..end].to_string(),
                first_column: start as u32 + 1,
            }
        } else {
            Excerpt::around(line, span.column)
        }
    }
}

/// The most characters of a line a finding quotes: a minified bundle or a
/// one-line file must not put megabytes into every report.
pub(crate) const EXCERPT_CHARS: usize = 200;

/// The part of a line a finding quotes: all of it when it is short, else
/// [`EXCERPT_CHARS`] characters around the column the finding points at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Excerpt {
    pub text: String,
    /// The column (1-based, in characters) of the line the text starts at.
    pub first_column: u32,
}

impl Excerpt {
    pub fn around(line: &str, column: u32) -> Excerpt {
        if line.len() <= EXCERPT_CHARS {
            return Excerpt {
                text: line.to_string(),
                first_column: 1,
            };
        }
        let start = Excerpt::first_quoted(line.chars().count(), column);
        Excerpt {
            text: line.chars().skip(start).take(EXCERPT_CHARS).collect(),
            first_column: start as u32 + 1,
        }
    }

    /// Nothing quoted: the finding is about a whole file.
    pub fn none() -> Excerpt {
        Excerpt {
            text: String::new(),
            first_column: 1,
        }
    }

    /// The 0-based character the excerpt of a line `len` characters long
    /// starts at, so that `column` sits in its middle where it can.
    fn first_quoted(len: usize, column: u32) -> usize {
        let at = (column as usize).saturating_sub(1);
        at.saturating_sub(EXCERPT_CHARS / 2)
            .min(len.saturating_sub(EXCERPT_CHARS))
    }

    /// The quoted characters from `column` on (1-based, in the line).
    pub fn chars_from(&self, column: u32) -> impl Iterator<Item = char> + '_ {
        let skip = column.saturating_sub(self.first_column) as usize;
        self.text.chars().skip(skip)
    }
}

/// A place a person edits: a file, a range in it, and an excerpt of the
/// range's first line (kept for snippets once the file is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    pub path: Arc<str>,
    pub span: Span,
    pub excerpt: Excerpt,
}

impl SourceRef {
    pub fn in_file(file: &SourceFile, span: Span) -> SourceRef {
        SourceRef {
            path: file.path.clone(),
            span,
            excerpt: file.excerpt(span),
        }
    }

    /// A place on `line`, the text of the span's first line.
    pub fn on_line(path: Arc<str>, span: Span, line: &str) -> SourceRef {
        SourceRef {
            path,
            span,
            excerpt: Excerpt::around(line, span.column),
        }
    }

    /// A place that is a whole file (its first line, nothing quoted).
    pub fn whole_file(path: Arc<str>) -> SourceRef {
        SourceRef {
            path,
            span: Span::point(1, 1),
            excerpt: Excerpt::none(),
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

/// The byte offset of a 1-based line and character column.
pub fn byte_offset(text: &str, line: u32, column: u32) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map_or(rest.len(), |(i, _)| i)
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

    #[test]
    fn quotes_long_lines_around_the_column_only() {
        let line = format!("{}needle{}", "a".repeat(100_000), "b".repeat(100_000));
        let column = 100_001;
        let span = Span::on_line(1, column, 6);
        for excerpt in [
            SourceFile::new("f".into(), line.clone()).excerpt(span),
            Excerpt::around(&line, column),
        ] {
            assert_eq!(excerpt.text.chars().count(), EXCERPT_CHARS);
            let quoted: String = excerpt.chars_from(column).take(6).collect();
            assert_eq!(quoted, "needle");
        }
        let accented = format!("é{line}");
        let excerpt = SourceFile::new("f".into(), accented).excerpt(Span::point(1, column + 1));
        assert_eq!(
            excerpt.chars_from(column + 1).take(6).collect::<String>(),
            "needle"
        );
        assert_eq!(excerpt.text.chars().count(), EXCERPT_CHARS);
    }

    #[test]
    fn quotes_short_lines_whole_and_ends_of_long_ones() {
        assert_eq!(Excerpt::around("kind: Pod", 7).text, "kind: Pod");
        let line = "x".repeat(1_000);
        let last = SourceFile::new("f".into(), line.clone()).excerpt(Span::point(1, 1_000));
        assert_eq!(last.first_column, 801);
        assert_eq!(last.chars_from(1_000).collect::<String>(), "x");
        assert_eq!(Excerpt::around(&line, 1).first_column, 1);
    }
}
