//! Reading a settings file (`.scar.yaml`, a teams' policy): its YAML with
//! positions, and every mistake in it as an error at its line, all of them
//! at once. It knows YAML and spans, nothing of what the settings mean.

use std::path::{Path, PathBuf};

use crate::model::parse::yaml::{parse_documents, Node, Value};
use crate::model::source::{byte_offset, Span};

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub span: Span,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.span.line,
            self.span.column,
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// Where in `text` (the file's text) the mistake is, as a byte range a
    /// diagnostic can underline: the span on its line, at least one
    /// character, never past the end.
    pub fn byte_range(&self, text: &str) -> std::ops::Range<usize> {
        let offset = byte_offset(text, self.span.line, self.span.column);
        let length = if self.span.end_line == self.span.line {
            self.span.end_column.saturating_sub(self.span.column).max(1) as usize
        } else {
            1
        };
        offset..offset + length.min(text.len().saturating_sub(offset))
    }
}

pub(crate) type Failure = (Span, String);

pub(crate) fn expect_map<'a>(node: &'a Node, what: &str) -> Result<&'a [(Node, Node)], Failure> {
    match &node.value {
        Value::Map(entries) => Ok(entries),
        _ => Err((node.span, format!("{what} must be a mapping"))),
    }
}

pub(crate) fn expect_str<'a>(node: &'a Node, what: &str) -> Result<&'a str, Failure> {
    match &node.value {
        Value::Scalar(s) if !node.is_null() => Ok(&s.text),
        _ => Err((node.span, format!("`{what}` must be a string"))),
    }
}

/// A settings file's text and YAML documents; a file that cannot be read or
/// parsed has that one mistake.
pub(crate) fn read_yaml(path: &Path, what: &str) -> Result<(String, Vec<Node>), Vec<ConfigError>> {
    let error = |span, message| {
        vec![ConfigError {
            path: path.to_path_buf(),
            span,
            message,
        }]
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| error(Span::point(1, 1), format!("cannot read the {what}: {e}")))?;
    let docs = parse_documents(&text).map_err(|e| error(e.span, e.message))?;
    Ok((text, docs))
}

/// The mistakes found so far in a config file.
#[derive(Default)]
pub(crate) struct Problems(pub(crate) Vec<Failure>);

impl Problems {
    pub(crate) fn add(&mut self, span: Span, message: String) {
        self.0.push((span, message));
    }

    /// The value, or `None` with its mistake recorded, so that reading
    /// goes on to the next setting.
    pub(crate) fn keep<T>(&mut self, result: Result<T, Failure>) -> Option<T> {
        result.map_err(|failure| self.0.push(failure)).ok()
    }

    /// The mistakes as errors in the file at `path`.
    pub(crate) fn into_errors(self, path: &Path) -> Vec<ConfigError> {
        self.0
            .into_iter()
            .map(|(span, message)| ConfigError {
                path: path.to_path_buf(),
                span,
                message,
            })
            .collect()
    }

    pub(crate) fn into_result(self, path: &Path) -> Result<(), Vec<ConfigError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.into_errors(path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistake_underlines_its_span_on_its_line_and_never_past_the_end() {
        let text = "rules:\n  oom-kill-disabled: {severity: loud}\n";
        let error = |line, column, end_line, end_column| ConfigError {
            path: PathBuf::from(".scar.yaml"),
            span: Span {
                line,
                column,
                end_line,
                end_column,
            },
            message: String::new(),
        };
        let range = error(2, 33, 2, 37).byte_range(text);
        assert_eq!(&text[range], "loud");
        // A span over several lines underlines its first character.
        assert_eq!(error(1, 1, 2, 5).byte_range(text), 0..1);
        // At the very end, nothing is left to underline.
        assert_eq!(error(3, 1, 3, 9).byte_range(text), text.len()..text.len());
    }
}
