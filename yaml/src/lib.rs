//! YAML documents as trees that keep the position of every node, shared by
//! the linter (manifests, compose files, policies, `.scar.yaml`) and the
//! load generator (scenario files).
//!
//! Built from `granit-parser`'s event stream rather than a loader so that
//! aliases, `<<` merge keys and multi-document streams resolve exactly the way
//! the Kubernetes and compose loaders resolve them, with positions intact.
//! Indentation is read as PyYAML and Go's yaml read it (what `kubectl`
//! accepts), not with the YAML specification's stricter rules for flow
//! collections and quoted scalars: see `tests/yaml_test_suite.rs`.

use std::collections::HashMap;

use granit_parser::{Event, Marker, Parser, ScalarStyle, Span as YamlSpan};

/// A range in a source file. Lines and columns are 1-based and count
/// characters; `end_column` is exclusive, as in SARIF.
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

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub text: String,
    /// Plain scalars are the only ones that can mean null, a number or a bool.
    pub plain: bool,
    /// A `|` block: its lines stand in the file as they are in the text,
    /// shifted by the block's indentation.
    pub literal: bool,
}

/// A parse failure at the position the parser reports.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
}

/// Alias expansion is cloned, so a "billion laughs" document must be stopped
/// before it eats the machine.
const MAX_ALIAS_EXPANSION: usize = 1_000_000;

/// How deep block collections may nest: far beyond any real manifest, and
/// well within what the tree's recursive walks take.
const MAX_BLOCK_NESTING: usize = 10_000;
/// How deep flow collections (`[[[…`) may nest.
const MAX_FLOW_NESTING: usize = 1_000;

/// Parses every document of a stream. Empty documents are left out.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut documents = Vec::new();
    for_each_document(text, |doc| documents.push(doc))?;
    Ok(documents)
}

/// Parses a stream and hands over each document as soon as it is complete,
/// so that only one document's tree is held at a time. Empty documents are
/// left out; a syntax error ends the stream.
pub fn for_each_document(text: &str, on_document: impl FnMut(Node)) -> Result<(), YamlError> {
    let positions = Positions::new(text);
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        on_document,
        expanded: 0,
        positions: &positions,
    };
    let options = granit_parser::options! {
        block_nesting_limit: MAX_BLOCK_NESTING,
        flow_nesting_limit: MAX_FLOW_NESTING,
    };
    for event in Parser::new_from_str_with_options(text, options) {
        let (event, span) = event.map_err(|e| YamlError {
            span: positions.point(e.marker()),
            message: e.info().to_string(),
        })?;
        builder.on_event(event, span)?;
    }
    Ok(())
}

/// Turns the parser's positions into the lines people and tools count.
/// YAML breaks lines at a lone carriage return as kubectl does, but git,
/// editors and code review break them only at line feeds, so a finding
/// after a lone `\r` must stay on the line-feed line it is on, further right.
struct Positions {
    /// For each line the parser counts, from the first, the line-feed line
    /// it is on and how many characters of that line come before it; `None`
    /// when the text has no lone carriage return (the two counts agree).
    yaml_lines: Option<Vec<(u32, u32)>>,
}

impl Positions {
    fn new(text: &str) -> Positions {
        let lone_cr = text
            .as_bytes()
            .iter()
            .enumerate()
            .any(|(i, b)| *b == b'\r' && text.as_bytes().get(i + 1) != Some(&b'\n'));
        if !lone_cr {
            return Positions { yaml_lines: None };
        }
        let mut yaml_lines = vec![(1, 0)];
        let (mut line, mut before) = (1, 0);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            before += 1;
            match c {
                '\n' => {
                    (line, before) = (line + 1, 0);
                    yaml_lines.push((line, before));
                }
                '\r' if chars.peek() != Some(&'\n') => yaml_lines.push((line, before)),
                _ => {}
            }
        }
        Positions {
            yaml_lines: Some(yaml_lines),
        }
    }

    /// The line and 1-based column of the parser's 1-based line and
    /// 0-based column.
    fn place(&self, yaml_line: usize, yaml_column: usize) -> (u32, u32) {
        let column = yaml_column as u32 + 1;
        match self.yaml_lines.as_deref() {
            None => (yaml_line as u32, column),
            Some(lines) => {
                let (line, before) = lines
                    .get(yaml_line.saturating_sub(1))
                    .or(lines.last())
                    .copied()
                    .unwrap_or((1, 0));
                (line, before + column)
            }
        }
    }

    fn point(&self, marker: &Marker) -> Span {
        let (line, column) = self.place(marker.line(), marker.col());
        Span::point(line, column)
    }

    fn span(&self, span: YamlSpan) -> Span {
        let (line, column) = self.place(span.start.line(), span.start.col());
        let (end_line, end_column) = self.place(span.end.line(), span.end.col());
        Span {
            line,
            column,
            end_line,
            end_column,
        }
    }
}

enum Frame {
    Seq {
        start: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: Span,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

struct Builder<'p, F> {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    on_document: F,
    expanded: usize,
    positions: &'p Positions,
}

impl<F: FnMut(Node)> Builder<'_, F> {
    fn on_event(&mut self, event: Event<'_>, span: YamlSpan) -> Result<(), YamlError> {
        match event {
            Event::DocumentStart(..) => self.anchors.clear(),
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Node {
                    span: self.positions.span(span),
                    value: Value::Scalar(Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                        literal: style == ScalarStyle::Literal,
                    }),
                };
                self.complete(node, anchor);
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    span: self.positions.span(span),
                    message: "alias to an unknown anchor".to_string(),
                })?;
                self.expanded += node.count();
                if self.expanded > MAX_ALIAS_EXPANSION {
                    return Err(YamlError {
                        span: self.positions.span(span),
                        message: format!(
                            "aliases expand to more than {MAX_ALIAS_EXPANSION} nodes; refusing to expand further"
                        ),
                    });
                }
                self.complete(node, 0);
            }
            Event::SequenceStart(_, anchor, _) => self.stack.push(Frame::Seq {
                start: self.positions.span(span),
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(_, anchor, _) => self.stack.push(Frame::Map {
                start: self.positions.span(span),
                anchor,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    start,
                    anchor,
                    items,
                }) = self.stack.pop()
                {
                    let node = Node {
                        span: start.to(self.positions.span(span)),
                        value: Value::Seq(items),
                    };
                    self.complete(node, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    start,
                    anchor,
                    entries,
                    ..
                }) = self.stack.pop()
                {
                    let node = Node {
                        span: start.to(self.positions.span(span)),
                        value: Value::Map(apply_merge_keys(entries)),
                    };
                    self.complete(node, anchor);
                }
            }
            // Stream and document ends, and what the parser reports only
            // when asked (anchor names, unresolved aliases).
            _ => {}
        }
        Ok(())
    }

    fn complete(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if !node.is_null() {
                    (self.on_document)(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

/// Resolves `<<: *base` and `<<: [*a, *b]`: keys written in the mapping win,
/// then earlier merge sources win over later ones.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    if !entries.iter().any(|(k, _)| k.is_merge_key()) {
        return entries;
    }
    let mut sources = Vec::new();
    let mut merged = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        if key.is_merge_key() {
            match value.value {
                Value::Map(map) => sources.push(map),
                Value::Seq(items) => {
                    for item in items {
                        if let Value::Map(map) = item.value {
                            sources.push(map);
                        }
                    }
                }
                Value::Scalar(_) => {}
            }
        } else {
            merged.push((key, value));
        }
    }
    for source in sources {
        for (key, value) in source {
            let present = merged.iter().any(|(k, _)| k.same_key(&key));
            if !present {
                merged.push((key, value));
            }
        }
    }
    merged
}

impl Node {
    pub fn is_null(&self) -> bool {
        match &self.value {
            Value::Scalar(s) => {
                s.plain && matches!(s.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
            _ => false,
        }
    }

    fn is_merge_key(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.plain && s.text == "<<")
    }

    fn same_key(&self, other: &Node) -> bool {
        match (&self.value, &other.value) {
            (Value::Scalar(a), Value::Scalar(b)) => a.text == b.text,
            _ => false,
        }
    }

    fn count(&self) -> usize {
        1 + match &self.value {
            Value::Scalar(_) => 0,
            Value::Seq(items) => items.iter().map(Node::count).sum(),
            Value::Map(entries) => entries.iter().map(|(k, v)| k.count() + v.count()).sum(),
        }
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and the value node under `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Scalar(s) if s.text == key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Follows a path of mapping keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// The text of a scalar that is not null.
    pub fn str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) if !self.is_null() => Some(&s.text),
            _ => None,
        }
    }

    /// An integer, as Kubernetes and compose read one: a plain scalar only.
    pub fn int(&self) -> Option<i64> {
        match &self.value {
            Value::Scalar(s) if s.plain => s.text.parse().ok(),
            _ => None,
        }
    }

    pub fn bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar(s) if s.plain => match s.text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// The items of a sequence; empty for anything else.
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// The entries of a mapping; empty for anything else.
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// Parses a `|` block scalar that holds YAML (a kind cluster's
    /// `kubeadmConfigPatches`), with positions moved to where its text
    /// stands in the file. `None` for other scalars or unparsable text.
    pub fn embedded_documents(&self) -> Option<Vec<Node>> {
        let Value::Scalar(scalar) = &self.value else {
            return None;
        };
        if !scalar.literal {
            return None;
        }
        let mut docs = parse_documents(&scalar.text).ok()?;
        let (line_shift, column_shift) = (self.span.line - 1, self.span.column - 1);
        for doc in &mut docs {
            doc.shift(line_shift, column_shift);
        }
        Some(docs)
    }

    /// Moves every position of the tree down by `lines` and right by
    /// `columns`: for text parsed apart from the file it stands in.
    pub fn shift(&mut self, lines: u32, columns: u32) {
        self.span.line += lines;
        self.span.end_line += lines;
        self.span.column += columns;
        self.span.end_column += columns;
        match &mut self.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => items.iter_mut().for_each(|i| i.shift(lines, columns)),
            Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.shift(lines, columns);
                v.shift(lines, columns);
            }),
        }
    }

    /// Whether a mapping key is itself a mapping or sequence. Real manifests
    /// never have one; unrendered `{{ }}` templates produce them.
    pub fn has_complex_key(&self) -> bool {
        match &self.value {
            Value::Scalar(_) => false,
            Value::Seq(items) => items.iter().any(Node::has_complex_key),
            Value::Map(entries) => entries
                .iter()
                .any(|(k, v)| !matches!(k.value, Value::Scalar(_)) || v.has_complex_key()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut docs = parse_documents(text).expect("parses");
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    #[test]
    fn a_lone_carriage_return_breaks_yaml_lines_but_positions_stay_on_line_feed_lines() {
        // kubectl reads `b` as a key of its own; git and editors see line 1.
        let doc = one("a: 1\rb: 2\r\nc: 3\n");
        let entries = doc.entries();
        assert_eq!(entries[1].0.str(), Some("b"));
        assert_eq!((entries[1].0.span.line, entries[1].0.span.column), (1, 6));
        assert_eq!((entries[1].1.span.line, entries[1].1.span.column), (1, 9));
        assert_eq!((entries[2].0.span.line, entries[2].0.span.column), (2, 1));
        let error = parse_documents("a: 1\r\rb: [\n").unwrap_err();
        assert_eq!((error.span.line, error.span.column), (1, 10), "{error:?}");
    }

    #[test]
    fn keeps_line_and_column_of_nested_values() {
        let doc = one("a:\n  b:\n    - x\n    - name: yz\n");
        let item = &doc.at(&["a", "b"]).unwrap().items()[1];
        let (key, value) = item.entry("name").unwrap();
        assert_eq!((key.span.line, key.span.column), (4, 7));
        assert_eq!(value.span, Span::on_line(4, 13, 2));
        assert_eq!(value.str(), Some("yz"));
    }

    #[test]
    fn resolves_aliases_and_merge_keys_with_local_keys_winning() {
        let doc = one("base: &b\n  x: 1\n  y: 2\nderived:\n  <<: *b\n  y: 3\n");
        let derived = doc.get("derived").unwrap();
        assert_eq!(derived.get("x").and_then(Node::int), Some(1));
        assert_eq!(derived.get("y").and_then(Node::int), Some(3));
        assert!(derived.get("<<").is_none());
    }

    #[test]
    fn merges_a_sequence_of_sources_in_order() {
        let doc = one("a: &a {k: 1}\nb: &b {k: 2, j: 5}\nc:\n  <<: [*a, *b]\n");
        let c = doc.get("c").unwrap();
        assert_eq!(c.get("k").and_then(Node::int), Some(1));
        assert_eq!(c.get("j").and_then(Node::int), Some(5));
    }

    #[test]
    fn splits_multi_document_streams_and_drops_empty_documents() {
        let docs = parse_documents("---\na: 1\n---\n---\nb: 2\n...\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].get("b").unwrap().span.line, 5);
    }

    #[test]
    fn reports_the_position_of_a_syntax_error() {
        let err = parse_documents("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.span.line >= 2, "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn embedded_yaml_in_a_literal_block_keeps_file_positions() {
        let doc = one("patches:\n- |\n  kind: ClusterConfiguration\n  apiServer:\n    extraArgs: {max: \"1\"}\n");
        let patch = &doc.get("patches").unwrap().items()[0];
        let inner = patch.embedded_documents().unwrap();
        let value = inner[0].at(&["apiServer", "extraArgs", "max"]).unwrap();
        assert_eq!((value.span.line, value.span.column), (5, 22));
    }

    #[test]
    fn refuses_exponential_alias_expansion() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = parse_documents(&text).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{err:?}");
    }

    #[test]
    fn only_plain_scalars_are_numbers_bools_or_null() {
        let doc = one("a: \"3\"\nb: 3\nc: 'true'\nd: true\ne: ~\nf: ''\n");
        assert_eq!(doc.get("a").unwrap().int(), None);
        assert_eq!(doc.get("b").unwrap().int(), Some(3));
        assert_eq!(doc.get("c").unwrap().bool(), None);
        assert_eq!(doc.get("d").unwrap().bool(), Some(true));
        assert!(doc.get("e").unwrap().is_null());
        assert_eq!(doc.get("f").unwrap().str(), Some(""));
    }
}
