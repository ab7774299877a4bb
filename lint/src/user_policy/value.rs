//! YAML trees as CEL values, borrowing the tree's strings: a policy reads
//! `object.spec.replicas` from the same parsed document the built-in rules
//! read, with YAML's plain scalars typed as Kubernetes' API server would
//! type them (null, bool, int, double, else string).

use std::collections::HashMap;

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString,
};
use cel::common::value::Val;

use crate::parse::yaml::{Node, Value};

/// Deeper than any real object; a hostile tree is cut here (what lies below
/// reads as null) so that converting it cannot exhaust a thread's stack.
const MAX_DEPTH: usize = 512;

pub(crate) fn to_val(node: &Node) -> Box<dyn Val + '_> {
    convert(node, 0)
}

fn convert(node: &Node, depth: usize) -> Box<dyn Val + '_> {
    if depth > MAX_DEPTH {
        return Box::new(CelNull);
    }
    match &node.value {
        Value::Map(entries) => {
            let mut map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> =
                HashMap::with_capacity(entries.len());
            for (key, value) in entries {
                if let Value::Scalar(key) = &key.value {
                    map.insert(
                        CelMapKey::from(key.text.as_str()),
                        convert(value, depth + 1),
                    );
                }
            }
            Box::new(CelMap::from(map))
        }
        Value::Seq(items) => Box::new(CelList::from(
            items
                .iter()
                .map(|item| convert(item, depth + 1))
                .collect::<Vec<_>>(),
        )),
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

/// A plain scalar YAML reads as a float (`0.5`, `1e3`); Rust's parser also
/// takes `inf` and `NaN`, which YAML reads as strings.
fn double(text: &str) -> Option<f64> {
    let numeric = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    numeric.then(|| text.parse().ok()).flatten()
}
