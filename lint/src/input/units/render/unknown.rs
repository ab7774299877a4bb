//! A value of a role's template scar cannot know: a host fact, a
//! registered result, a lookup, a variable nobody sets. It prints as the
//! expression that reads it (`{{ ansible_memtotal_mb }}`), which rules read
//! as a value they do not know, and stays unknown through attribute access
//! and filters.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};

/// Why a value is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A fact, a registered result, a lookup: only a run knows it.
    Run,
    /// Nobody sets it: a `default` applies, and a test sees it undefined.
    Unset,
}

/// A value scar cannot know; prints as the expression that reads it.
#[derive(Debug)]
pub(crate) struct Unknown {
    pub name: String,
    pub origin: Origin,
}

pub(crate) fn unknown(name: &str, origin: Origin) -> Value {
    Value::from_object(Unknown {
        name: name.to_string(),
        origin,
    })
}

pub(crate) fn as_unknown(value: &Value) -> Option<&Unknown> {
    value.downcast_object_ref::<Unknown>()
}

impl Object for Unknown {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = match key.kind() {
            ValueKind::String => format!("{}.{}", self.name, key),
            _ => format!("{}[{key}]", self.name),
        };
        Some(unknown(&name, self.origin))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }

    fn is_true(self: &Arc<Self>) -> bool {
        false
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{{{ {} }}}}", self.name)
    }
}
