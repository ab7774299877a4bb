//! `metav1.LabelSelector`: `matchLabels` and `matchExpressions`, with the
//! four operators Kubernetes defines.

use crate::model::parse::yaml::Node;

use super::{string_map, Labels};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub match_labels: Labels,
    pub expressions: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl LabelSelector {
    /// Reads a selector; `None` when an operator is unknown, since guessing
    /// what such a selector matches would make rules guess too.
    pub fn parse(node: &Node) -> Option<LabelSelector> {
        let match_labels = node.get("matchLabels").map(string_map).unwrap_or_default();
        let mut expressions = Vec::new();
        for expression in node.get("matchExpressions").map_or(&[][..], Node::items) {
            let operator = match expression.get("operator").and_then(Node::str)? {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                _ => return None,
            };
            expressions.push(Requirement {
                key: expression.get("key").and_then(Node::str)?.to_string(),
                operator,
                values: expression
                    .get("values")
                    .map_or(&[][..], Node::items)
                    .iter()
                    .filter_map(|v| v.str().map(str::to_string))
                    .collect(),
            });
        }
        Some(LabelSelector {
            match_labels,
            expressions,
        })
    }

    /// A selector made of `key: value` pairs only, as a Service's.
    pub fn from_labels(match_labels: Labels) -> LabelSelector {
        LabelSelector {
            match_labels,
            expressions: Vec::new(),
        }
    }

    /// An empty selector matches everything, as in PodDisruptionBudget `policy/v1`.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::yaml::parse_documents;

    fn selector(text: &str) -> LabelSelector {
        LabelSelector::parse(&parse_documents(text).unwrap()[0]).unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn applies_match_labels_and_every_operator() {
        let s = selector("matchLabels: {app: web}\nmatchExpressions:\n- {key: tier, operator: In, values: [a, b]}\n- {key: canary, operator: DoesNotExist}\n- {key: zone, operator: NotIn, values: [x]}\n");
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "c")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "a"), ("canary", "1")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "a"), ("zone", "x")])));
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "b"), ("zone", "y")])));
    }

    #[test]
    fn empty_selector_matches_everything_and_unknown_operators_are_refused() {
        assert!(selector("{}").matches(&labels(&[("a", "b")])));
        let doc = &parse_documents("matchExpressions: [{key: a, operator: Gt, values: ['1']}]")
            .unwrap()[0];
        assert_eq!(LabelSelector::parse(doc), None);
    }
}
