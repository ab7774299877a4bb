//! The built-in rules' metadata, read from `policies/<rule-id>.yaml`: default
//! severity, the one-line summary `scar rules` prints, and the parameters a
//! rule's check reads, with their defaults.

use std::collections::BTreeMap;

use crate::check::finding::Severity;
use crate::model::parse::yaml::{parse_documents, Node, Value};

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub severity: Severity,
    pub summary: String,
    pub params: Params,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(BTreeMap<String, Param>);

#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    Text(String),
    List(Vec<String>),
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Param::Int(n) => write!(f, "{n}"),
            Param::Text(s) => write!(f, "{s}"),
            Param::List(items) => write!(f, "[{}]", items.join(", ")),
        }
    }
}

impl Params {
    /// A parameter the rule's own policy declares; a missing or mistyped
    /// one is a bug in the built-in policy, caught by the policy tests.
    pub fn int(&self, name: &str) -> i64 {
        match self.0.get(name) {
            Some(Param::Int(n)) => *n,
            other => panic!("built-in policy parameter `{name}` is not an integer: {other:?}"),
        }
    }

    pub fn text(&self, name: &str) -> &str {
        match self.0.get(name) {
            Some(Param::Text(s)) => s,
            other => panic!("built-in policy parameter `{name}` is not a string: {other:?}"),
        }
    }

    pub fn list(&self, name: &str) -> &[String] {
        match self.0.get(name) {
            Some(Param::List(items)) => items,
            other => panic!("built-in policy parameter `{name}` is not a list: {other:?}"),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Param)> {
        self.0.iter()
    }

    pub fn get(&self, name: &str) -> Option<&Param> {
        self.0.get(name)
    }

    /// Overrides a parameter; the config checks its name and type first.
    pub fn set(&mut self, name: &str, value: Param) {
        self.0.insert(name.to_string(), value);
    }
}

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, String> {
        let docs =
            parse_documents(text).map_err(|e| format!("line {}: {}", e.span.line, e.message))?;
        let doc = docs.first().ok_or("empty policy")?;
        let field = |key: &str| {
            doc.get(key)
                .and_then(Node::str)
                .ok_or_else(|| format!("missing `{key}`"))
        };
        let mut params = BTreeMap::new();
        for (key, value) in doc.get("params").map_or(&[][..], Node::entries) {
            let name = key.str().ok_or("parameter names are strings")?;
            let param = match &value.value {
                Value::Seq(items) => Param::List(
                    items
                        .iter()
                        .filter_map(|i| i.str().map(str::to_string))
                        .collect(),
                ),
                Value::Scalar(_) => match value.int() {
                    Some(n) => Param::Int(n),
                    None => Param::Text(value.str().unwrap_or("").to_string()),
                },
                Value::Map(_) => {
                    return Err(format!("parameter `{name}` must be a scalar or a list"))
                }
            };
            params.insert(name.to_string(), param);
        }
        Ok(Policy {
            id: field("id")?.to_string(),
            severity: field("severity")?.parse()?,
            summary: field("summary")?.to_string(),
            params: Params(params),
        })
    }
}
