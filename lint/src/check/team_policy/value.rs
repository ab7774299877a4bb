//! YAML trees as CEL values: a policy reads `object.spec.replicas` from the
//! same parsed document the built-in rules read, with YAML's plain scalars
//! typed as Kubernetes' API server would type them (null, bool, int,
//! double, else string).
//!
//! Policies read a few fields of a large object, so mappings and lists are
//! converted lazily, one level when first read, and shared: the interpreter
//! clones each item a comprehension (`containers.all(c, …)`) binds, and a
//! clone is then a count, not a copy. Strings are borrowed from the tree.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use cel::common::traits::{
    Adder, Comparer, Container, Divider, Indexer, Iterable, Modder, Multiplier, Negator, Sizer,
    Subtractor, Zeroer,
};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, Type,
};
use cel::common::value::{Builtin, BuiltinRef, Val};

use crate::model::parse::yaml::{Node, Value};

/// Deeper than any real object; a hostile tree is cut here (what lies below
/// reads as null) so that reading it cannot exhaust a thread's stack.
const MAX_DEPTH: usize = 512;

pub(crate) fn to_val(node: &Node) -> Box<dyn Val + '_> {
    convert(node, 0)
}

fn convert(node: &Node, depth: usize) -> Box<dyn Val + '_> {
    if depth > MAX_DEPTH {
        return Box::new(CelNull);
    }
    match &node.value {
        Value::Map(_) => Box::new(Lazy::<CelMap>::new(node, depth)),
        Value::Seq(_) => Box::new(Lazy::<CelList>::new(node, depth)),
        Value::Scalar(scalar) => {
            if node.is_null() {
                Box::new(CelNull)
            } else if let Some(flag) = node.bool() {
                Box::new(CelBool::from(flag))
            } else if let Some(number) = node.int() {
                Box::new(CelInt::from(number))
            } else if let Some(number) = scalar.plain.then(|| double(&scalar.text)).flatten() {
                Box::new(CelDouble::from(number))
            } else {
                Box::new(CelString::from(scalar.text.as_str()))
            }
        }
    }
}

/// A mapping or a list of the tree, built on first use; its clones share
/// what is built.
struct Lazy<'n, T> {
    node: &'n Node,
    depth: usize,
    built: Arc<OnceLock<T>>,
}

impl<'n, T> Lazy<'n, T> {
    fn new(node: &'n Node, depth: usize) -> Lazy<'n, T> {
        Lazy {
            node,
            depth,
            built: Arc::new(OnceLock::new()),
        }
    }
}

impl<T> std::fmt::Debug for Lazy<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lazy({}:{})", self.node.span.line, self.node.span.column)
    }
}

/// How one level of a collection is built.
trait Level<'n>: Val + 'n {
    fn build(node: &'n Node, depth: usize) -> Self;
}

impl<'n> Level<'n> for CelMap<'n> {
    fn build(node: &'n Node, depth: usize) -> Self {
        let entries = node.entries();
        let mut map: HashMap<CelMapKey<'n>, Box<dyn Val + 'n>> =
            HashMap::with_capacity(entries.len());
        for (key, value) in entries {
            if let Value::Scalar(key) = &key.value {
                map.insert(
                    CelMapKey::from(key.text.as_str()),
                    convert(value, depth + 1),
                );
            }
        }
        CelMap::from(map)
    }
}

impl<'n> Level<'n> for CelList<'n> {
    fn build(node: &'n Node, depth: usize) -> Self {
        CelList::from(
            node.items()
                .iter()
                .map(|item| convert(item, depth + 1))
                .collect::<Vec<_>>(),
        )
    }
}

impl<'n, T: Level<'n>> Lazy<'n, T> {
    fn get(&self) -> &T {
        self.built.get_or_init(|| T::build(self.node, self.depth))
    }
}

/// A plain scalar YAML reads as a float (`0.5`, `1e3`); Rust's parser also
/// takes `inf` and `NaN`, which YAML reads as strings.
fn double(text: &str) -> Option<f64> {
    let numeric = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    numeric.then(|| text.parse().ok()).flatten()
}

/// Every operation is the built level's; only cloning differs.
impl<'n, T: Level<'n>> Val for Lazy<'n, T> {
    fn get_type(&self) -> &Type {
        self.get().get_type()
    }

    fn cel_type() -> &'static Type {
        T::cel_type()
    }

    fn as_adder<'b, 'v>(&'b self) -> Option<&'b (dyn Adder + 'v)>
    where
        Self: 'v,
    {
        self.get().as_adder()
    }

    fn as_comparer(&self) -> Option<&dyn Comparer> {
        self.get().as_comparer()
    }

    fn as_container(&self) -> Option<&dyn Container> {
        self.get().as_container()
    }

    fn as_divider<'b, 'v>(&'b self) -> Option<&'b (dyn Divider + 'v)>
    where
        Self: 'v,
    {
        self.get().as_divider()
    }

    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        self.get().as_indexer()
    }

    fn into_indexer<'v>(self: Box<Self>) -> Option<Box<dyn Indexer + 'v>>
    where
        Self: 'v,
    {
        self.get().clone_as_boxed().into_indexer()
    }

    fn as_iterable<'b, 'v>(&'b self) -> Option<&'b (dyn Iterable + 'v)>
    where
        Self: 'v,
    {
        self.get().as_iterable()
    }

    fn as_modder<'b, 'v>(&'b self) -> Option<&'b (dyn Modder + 'v)>
    where
        Self: 'v,
    {
        self.get().as_modder()
    }

    fn as_multiplier<'b, 'v>(&'b self) -> Option<&'b (dyn Multiplier + 'v)>
    where
        Self: 'v,
    {
        self.get().as_multiplier()
    }

    fn as_negator<'b, 'v>(&'b self) -> Option<&'b (dyn Negator + 'v)>
    where
        Self: 'v,
    {
        self.get().as_negator()
    }

    fn as_sizer(&self) -> Option<&dyn Sizer> {
        self.get().as_sizer()
    }

    fn as_subtractor<'b, 'v>(&'b self) -> Option<&'b (dyn Subtractor + 'v)>
    where
        Self: 'v,
    {
        self.get().as_subtractor()
    }

    fn as_zeroer(&self) -> Option<&dyn Zeroer> {
        self.get().as_zeroer()
    }

    fn equals(&self, other: &dyn Val) -> bool {
        self.get().equals(other)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
    where
        Self: 'v,
    {
        Box::new(Lazy {
            node: self.node,
            depth: self.depth,
            built: self.built.clone(),
        })
    }

    fn as_builtin<'b, 'v>(&'b self) -> BuiltinRef<'b, 'v>
    where
        Self: 'v,
    {
        self.get().as_builtin()
    }

    fn into_builtin<'v>(self: Box<Self>) -> Option<Builtin<'v>>
    where
        Self: 'v,
    {
        self.get().clone_as_boxed().into_builtin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::team_policy::expression::{Expression, RUNTIME};
    use crate::model::parse::yaml::parse_documents;

    fn evaluate(yaml: &str, expression: &str) -> cel::Value {
        let doc = &parse_documents(yaml).unwrap()[0];
        let mut scope = RUNTIME.scope();
        scope.add_variable_as_val("object", to_val(doc));
        Expression::compile(expression)
            .unwrap()
            .evaluate(&scope)
            .unwrap()
    }

    const OBJECT: &str = "spec:\n  replicas: 2\n  ratio: 0.5\n  paused: false\n  tag: '2'\n  version: 1.2.3\n  nothing: ~\n  size: inf\n  containers:\n    - {name: a, image: 'a:1', ports: [80, 443]}\n    - {name: b, image: b}\n  labels: {app: web}\n";

    #[test]
    fn plain_scalars_are_typed_and_quoted_ones_are_strings() {
        for (expression, expected) in [
            ("object.spec.replicas == 2", true),
            ("object.spec.ratio == 0.5", true),
            ("object.spec.paused == false", true),
            ("object.spec.tag == '2'", true),
            ("object.spec.version == '1.2.3'", true),
            ("object.spec.nothing == null", true),
            ("object.spec.size == 'inf'", true),
            ("has(object.spec.missing)", false),
        ] {
            assert_eq!(
                evaluate(OBJECT, expression),
                cel::Value::Bool(expected),
                "{expression}"
            );
        }
    }

    #[test]
    fn lazy_collections_behave_as_cel_maps_and_lists() {
        for expression in [
            "object.spec.containers.size() == 2",
            "object.spec.containers.all(c, c.name in ['a', 'b'])",
            "object.spec.containers.exists(c, c.image.contains(':'))",
            "object.spec.containers.map(c, c.name) == ['a', 'b']",
            "object.spec.containers[0].ports + [8080] == [80, 443, 8080]",
            "object.spec.labels == {'app': 'web'}",
            "{'app': 'web'} == object.spec.labels",
            "'app' in object.spec.labels",
            "object.spec.containers.filter(c, c.name == 'b')[0].image == 'b'",
            "size(object.spec.labels) == 1",
        ] {
            assert_eq!(
                evaluate(OBJECT, expression),
                cel::Value::Bool(true),
                "{expression}"
            );
        }
    }

    #[test]
    fn a_hostile_depth_is_cut_so_that_comparing_it_whole_cannot_exhaust_the_stack() {
        let deep = format!("{}x: 1\n", "- ".repeat(2 * MAX_DEPTH));
        assert_eq!(evaluate(&deep, "object == object"), cel::Value::Bool(true));
        assert_eq!(
            evaluate(&deep, &format!("object{} == null", "[0]".repeat(40))),
            cel::Value::Bool(false)
        );
        let doc = &parse_documents(&deep).unwrap()[0];
        assert!(convert(doc, MAX_DEPTH + 1).equals(&CelNull));
    }
}
