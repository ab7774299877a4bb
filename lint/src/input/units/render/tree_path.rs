//! Paths inside a YAML tree (`spec.template.spec.containers[name=web].lifecycle`),
//! to find in a source file the node a rendered span stands for.

use crate::model::parse::yaml::{Node, Value};
use crate::model::source::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    /// A list item, with its `name` when it has one: names survive the
    /// reordering and insertion that patches do.
    Item {
        index: usize,
        name: Option<String>,
    },
}

/// The path to the node at `span` in `root`; `key` is true when the span
/// is a mapping key rather than a value.
pub fn path_to(root: &Node, span: Span) -> Option<(Vec<Step>, bool)> {
    let mut path = Vec::new();
    let key = walk(root, span, &mut path)?;
    Some((path, key))
}

fn walk(node: &Node, span: Span, path: &mut Vec<Step>) -> Option<bool> {
    if node.span == span {
        return Some(false);
    }
    match &node.value {
        Value::Scalar(_) => None,
        Value::Seq(items) => items.iter().enumerate().find_map(|(index, item)| {
            if !contains(item.span, span) {
                return None;
            }
            path.push(Step::Item {
                index,
                name: item_name(item),
            });
            let found = walk(item, span, path);
            if found.is_none() {
                path.pop();
            }
            found
        }),
        Value::Map(entries) => entries.iter().find_map(|(key, value)| {
            let name = key.str()?.to_string();
            if key.span == span {
                path.push(Step::Key(name));
                return Some(true);
            }
            if !contains(value.span, span) {
                return None;
            }
            path.push(Step::Key(name));
            let found = walk(value, span, path);
            if found.is_none() {
                path.pop();
            }
            found
        }),
    }
}

fn contains(outer: Span, inner: Span) -> bool {
    (outer.line, outer.column) <= (inner.line, inner.column)
        && (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)
}

fn item_name(item: &Node) -> Option<String> {
    item.get("name").and_then(Node::str).map(str::to_string)
}

/// Follows `path` in `root` as far as it goes: the deepest node reached,
/// its key node when the last step taken was a key, and how many steps
/// were taken.
pub fn follow<'a>(root: &'a Node, path: &[Step]) -> (&'a Node, Option<&'a Node>, usize) {
    let mut node = root;
    let mut key_node = None;
    for (taken, step) in path.iter().enumerate() {
        let next = match step {
            Step::Key(key) => node.entry(key).map(|(k, v)| (Some(k), v)),
            Step::Item { index, name } => {
                let items = node.items();
                let by_name = name
                    .as_ref()
                    .and_then(|n| items.iter().find(|i| item_name(i).as_ref() == Some(n)));
                let by_index = match name {
                    Some(_) => None,
                    None => items.get(*index),
                };
                by_name.or(by_index).map(|item| (None, item))
            }
        };
        match next {
            Some((key, value)) => {
                key_node = key;
                node = value;
            }
            None => return (node, key_node, taken),
        }
    }
    (node, key_node, path.len())
}

/// A JSON pointer (`/spec/template/spec/containers/0/env`) as steps.
pub fn from_pointer(pointer: &str) -> Vec<Step> {
    pointer
        .split('/')
        .skip(1)
        .map(|part| part.replace("~1", "/").replace("~0", "~"))
        .map(|part| match part.parse::<usize>() {
            Ok(index) => Step::Item { index, name: None },
            Err(_) => Step::Key(part),
        })
        .collect()
}

/// Whether a JSON patch operation at `pointer` writes the node at `path`
/// or one that holds it. Item names are not in pointers: indexes compare.
pub fn pointer_covers(pointer: &[Step], path: &[Step]) -> bool {
    pointer.len() <= path.len()
        && pointer.iter().zip(path).all(|(p, q)| match (p, q) {
            (Step::Key(a), Step::Key(b)) => a == b,
            (Step::Item { index: a, .. }, Step::Item { index: b, .. }) => a == b,
            (Step::Key(a), Step::Item { .. }) => a == "-",
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::yaml::parse_documents;

    #[test]
    fn finds_a_path_by_span_and_follows_it_by_item_name_in_another_tree() {
        let rendered = &parse_documents(
            "spec:\n  containers:\n  - name: sidecar\n  - name: web\n    image: nginx\n",
        )
        .unwrap()[0];
        let image = rendered.at(&["spec", "containers"]).unwrap().items()[1]
            .get("image")
            .unwrap();
        let (path, key) = path_to(rendered, image.span).unwrap();
        assert!(!key);
        assert_eq!(
            path,
            vec![
                Step::Key("spec".into()),
                Step::Key("containers".into()),
                Step::Item {
                    index: 1,
                    name: Some("web".into())
                },
                Step::Key("image".into()),
            ]
        );
        let source =
            &parse_documents("spec:\n  containers:\n  - name: web\n    image: nginx\n").unwrap()[0];
        let (node, key_node, taken) = follow(source, &path);
        assert_eq!(taken, 4);
        assert_eq!(node.span.line, 4);
        assert_eq!(key_node.unwrap().str(), Some("image"));
        let partial = parse_documents("spec: {}\n").unwrap();
        assert_eq!(follow(&partial[0], &path).2, 1);
    }

    #[test]
    fn json_pointers_cover_the_paths_below_them() {
        let pointer = from_pointer("/spec/template/spec/containers/0");
        let path = vec![
            Step::Key("spec".into()),
            Step::Key("template".into()),
            Step::Key("spec".into()),
            Step::Key("containers".into()),
            Step::Item {
                index: 0,
                name: Some("web".into()),
            },
            Step::Key("image".into()),
        ];
        assert!(pointer_covers(&pointer, &path));
        assert!(!pointer_covers(&from_pointer("/spec/replicas"), &path));
        assert_eq!(
            from_pointer("/metadata/annotations/a~1b")[2],
            Step::Key("a/b".into())
        );
    }
}
