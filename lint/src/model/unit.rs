//! A unit as the model sees it: which chart or kustomization it is, its
//! rendered output parsed into objects, and the map from that output back
//! to the lines people edit. Renderers (`input::units::render`) make them;
//! places and findings name them.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::model::parse::yaml::{parse_documents, Node, YamlError};
use crate::model::source::{LineIndex, Related, SourceRef, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    Helm,
    Kustomize,
    Ansible,
}

impl UnitKind {
    pub fn describe(self) -> &'static str {
        match self {
            UnitKind::Helm => "Helm chart",
            UnitKind::Kustomize => "kustomization",
            UnitKind::Ansible => "Ansible role",
        }
    }
}

/// A rendered unit as findings name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct UnitInfo {
    pub kind: UnitKind,
    /// The chart's or the kustomization's folder.
    pub path: Arc<str>,
    /// The values set a chart was rendered with (`default`: its own
    /// `values.yaml`), the host conditions a role's template was rendered
    /// under; `None` for kustomizations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
}

impl std::fmt::Display for UnitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.describe(), self.path)?;
        match (&self.values, self.kind) {
            (Some(conditions), UnitKind::Ansible) => write!(f, " ({conditions})")?,
            (Some(values), _) => write!(f, " (values: {values})")?,
            (None, _) => {}
        }
        Ok(())
    }
}

/// Where a span of rendered output was written, and what set its value.
#[derive(Debug, Clone)]
pub struct Traced {
    pub at: SourceRef,
    pub related: Vec<Related>,
}

/// Maps spans of a rendered object back to the files of its unit.
pub trait SourceMap: Send + Sync {
    /// `object` is the rendered object's tree, `span` a position in it,
    /// and `rendered_line` the output line the span starts on.
    fn locate(&self, object: &Node, span: Span, rendered_line: &str) -> Traced;

    /// The settings a user edits to change what the template of the
    /// rendered line at `span` writes under keys that `wanted` accepts
    /// (a chart's `affinity` value): where to turn on what a finding asks
    /// for. None for renderers without settings.
    fn settings_for(&self, _span: Span, _wanted: fn(&str) -> bool) -> Vec<Related> {
        Vec::new()
    }
}

/// A unit's rendered output, parsed.
pub struct Rendered {
    pub text: String,
    lines: LineIndex,
    pub documents: Vec<Node>,
    /// Documents scar's parser could not read, at their rendered position.
    pub errors: Vec<YamlError>,
    pub map: Box<dyn SourceMap>,
    /// The files the rendered objects come from (templates, resources);
    /// the unit's other files (values, patches) shape every object.
    pub sources: Vec<Arc<str>>,
    /// Time spent in the tool.
    pub elapsed: Duration,
}

impl Rendered {
    /// Parses `text`; `sources` is for the renderer to fill in.
    pub fn new(text: String, map: Box<dyn SourceMap>, elapsed: Duration) -> Rendered {
        let (documents, errors) = split_documents(&text);
        Rendered {
            lines: LineIndex::new(&text),
            text,
            documents,
            errors,
            map,
            sources: Vec::new(),
            elapsed,
        }
    }

    /// A 1-based line of the rendered output.
    pub fn line(&self, line: u32) -> &str {
        self.lines.line(&self.text, line)
    }
}

/// A line of a unit's rendered output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedLine {
    pub line: u32,
    pub text: String,
}

/// Parses a rendered stream one document at a time, so that a document
/// scar cannot read costs only itself.
fn split_documents(text: &str) -> (Vec<Node>, Vec<YamlError>) {
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    let mut start_line = 1u32;
    let mut chunk_start = 0usize;
    let mut offset = 0usize;
    let mut parse_chunk = |chunk: &str, first_line: u32| {
        if chunk.trim().is_empty() {
            return;
        }
        match parse_documents(chunk) {
            Ok(docs) => documents.extend(docs.into_iter().map(|mut d| {
                d.shift(first_line - 1, 0);
                d
            })),
            Err(mut err) => {
                err.span.line += first_line - 1;
                err.span.end_line += first_line - 1;
                errors.push(err);
            }
        }
    };
    for (line_no, line) in (1u32..).zip(text.split_inclusive('\n')) {
        if line.trim_end() == "---" && offset > chunk_start {
            parse_chunk(&text[chunk_start..offset], start_line);
            chunk_start = offset;
            start_line = line_no;
        }
        offset += line.len();
    }
    parse_chunk(&text[chunk_start..], start_line);
    (documents, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_unreadable_document_costs_only_itself() {
        let text = "---\na: 1\n---\nb: [1, 2\n---\nc: 3\n";
        let (docs, errors) = split_documents(text);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].get("c").unwrap().span.line, 6);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].span.line >= 4, "{:?}", errors[0]);
    }
}
