//! Reading a policy file: every mistake with its line and column, in the
//! expression's own text for CEL errors.

use globset::Glob;

use super::expression::{Expression, Mistake};
use super::{FieldPath, KindPattern, Pattern, Validation};
use crate::check::finding::Severity;
use crate::model::parse::yaml::{Node, Value};
use crate::model::settings_file::{expect_map, expect_str, Failure, Problems};
use crate::model::source::Span;

/// A policy's fields, as read.
pub(crate) struct Fields {
    pub id: String,
    pub severity: Severity,
    pub description: String,
    pub summary: Option<String>,
    pub help: Option<String>,
    pub kinds: Option<Vec<KindPattern>>,
    pub namespaces: Option<Vec<Pattern>>,
    pub validations: Vec<Validation>,
}

/// One document of a policy file; `text` is the whole file, for the columns
/// of expressions written as blocks.
pub(crate) fn policy(doc: &Node, text: &str, problems: &mut Problems) -> Option<Fields> {
    let entries = problems.keep(expect_map(doc, "a policy"))?;
    let mut id = None;
    let mut severity = Some(Severity::Warning);
    let mut description = None;
    let mut summary = None;
    let mut help = None;
    let mut kinds = None;
    let mut namespaces = None;
    let mut validations = None;
    for (key, value) in entries {
        match key.str().unwrap_or("") {
            "id" => id = problems.keep(policy_id(value)),
            "severity" => {
                severity = problems.keep(
                    expect_str(value, "severity")
                        .and_then(|s| s.parse().map_err(|e| (value.span, e))),
                );
            }
            "description" => description = problems.keep(text_field(value, "description")),
            "summary" => summary = problems.keep(text_field(value, "summary")),
            "help" => help = problems.keep(text_field(value, "help")),
            "match" => {
                for (key, value) in problems.keep(expect_map(value, "match")).unwrap_or(&[]) {
                    match key.str().unwrap_or("") {
                        "kinds" => kinds = problems.keep(kind_patterns(value)),
                        "namespaces" => namespaces = problems.keep(patterns(value, "match.namespaces")),
                        other => problems.add(
                            key.span,
                            format!("unknown key `{other}` in match (expected kinds or namespaces)"),
                        ),
                    }
                }
            }
            "validations" => validations = read_validations(value, text, problems),
            other => problems.add(
                key.span,
                format!("unknown key `{other}` (expected id, severity, summary, description, help, match or validations)"),
            ),
        }
    }
    for field in ["id", "description", "validations"] {
        if !entries.iter().any(|(key, _)| key.str() == Some(field)) {
            problems.add(doc.span, format!("a policy needs `{field}`"));
        }
    }
    Some(Fields {
        id: id?,
        severity: severity?,
        description: description?,
        summary,
        help,
        kinds,
        namespaces,
        validations: validations?,
    })
}

fn text_field(node: &Node, what: &str) -> Result<String, Failure> {
    let text = expect_str(node, what)?.trim();
    if text.is_empty() {
        return Err((node.span, format!("`{what}` is empty")));
    }
    Ok(text.to_string())
}

/// `team/what-it-checks`: the prefix keeps a team's ids apart from the
/// built-in ones, which have none.
fn policy_id(node: &Node) -> Result<String, Failure> {
    let id = expect_str(node, "id")?;
    let part_ok = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() < 2 || !parts.iter().all(|p| part_ok(p)) {
        return Err((
            node.span,
            format!("`id` must be a prefix and a name in lowercase letters, digits and dashes, like `team/prod-needs-two-replicas`, not `{id}`"),
        ));
    }
    Ok(id.to_string())
}

fn strings<'a>(node: &'a Node, what: &str) -> Result<Vec<(&'a str, Span)>, Failure> {
    match &node.value {
        Value::Seq(items) if !items.is_empty() => items
            .iter()
            .map(|item| expect_str(item, what).map(|s| (s, item.span)))
            .collect(),
        _ => Err((node.span, format!("`{what}` must be a list of strings"))),
    }
}

fn pattern(text: &str, span: Span) -> Result<Pattern, Failure> {
    if !text.contains(['*', '?', '[', '{']) {
        return Ok(Pattern::Exact(text.to_string()));
    }
    Glob::new(text)
        .map(|glob| Pattern::Glob(glob.compile_matcher()))
        .map_err(|e| (span, format!("bad glob `{text}`: {e}")))
}

fn patterns(node: &Node, what: &str) -> Result<Vec<Pattern>, Failure> {
    strings(node, what)?
        .into_iter()
        .map(|(text, span)| pattern(text, span))
        .collect()
}

/// `apps/v1/Deployment`, `v1/Service`, `*/Deployment` or a bare `Deployment`.
fn kind_patterns(node: &Node) -> Result<Vec<KindPattern>, Failure> {
    strings(node, "match.kinds")?
        .into_iter()
        .map(|(text, span)| {
            Ok(match text.rsplit_once('/') {
                Some((api_version, kind)) => KindPattern {
                    api_version: Some(pattern(api_version, span)?),
                    kind: pattern(kind, span)?,
                },
                None => KindPattern {
                    api_version: None,
                    kind: pattern(text, span)?,
                },
            })
        })
        .collect()
}

fn read_validations(node: &Node, text: &str, problems: &mut Problems) -> Option<Vec<Validation>> {
    let Value::Seq(items) = &node.value else {
        problems.add(node.span, "`validations` must be a list".to_string());
        return None;
    };
    if items.is_empty() {
        problems.add(node.span, "`validations` is empty".to_string());
        return None;
    }
    let before = problems.0.len();
    let validations: Vec<Validation> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| validation(item, i, text, problems))
        .collect();
    (problems.0.len() == before).then_some(validations)
}

fn validation(
    node: &Node,
    index: usize,
    text: &str,
    problems: &mut Problems,
) -> Option<Validation> {
    let entries = problems.keep(expect_map(node, "a validation"))?;
    let mut expression = None;
    let mut message = None;
    let mut message_expression = None;
    let mut path = None;
    for (key, value) in entries {
        let name = key.str().unwrap_or("");
        match name {
            "expression" | "messageExpression" => {
                let compiled = problems
                    .keep(expect_str(value, name))
                    .and_then(|source| compile(source, value, text, &format!("validations[{index}].{name}"), problems));
                if name == "expression" {
                    expression = compiled;
                } else {
                    message_expression = compiled;
                }
            }
            "message" => message = problems.keep(text_field(value, "message")),
            "path" => path = problems.keep(field_path(value)),
            other => problems.add(
                key.span,
                format!("unknown key `{other}` in a validation (expected expression, message, messageExpression or path)"),
            ),
        }
    }
    if expression.is_none() && !entries.iter().any(|(k, _)| k.str() == Some("expression")) {
        problems.add(node.span, "a validation needs `expression`".to_string());
    }
    Some(Validation {
        expression: expression?,
        message,
        message_expression,
        path,
    })
}

fn compile(
    source: &str,
    node: &Node,
    text: &str,
    field: &str,
    problems: &mut Problems,
) -> Option<Expression> {
    match Expression::compile(source) {
        Ok(expression) => Some(expression),
        Err(mistakes) => {
            for mistake in mistakes {
                problems.add(
                    place_in_file(node, text, &mistake),
                    format!(
                        "{field}, line {} column {} of the expression: {}",
                        mistake.line, mistake.column, mistake.message
                    ),
                );
            }
            None
        }
    }
}

/// Where a mistake in an expression stands in the file: exact for plain and
/// quoted scalars on one line and for `|` blocks; the scalar's start for
/// folded text, whose lines YAML joins.
fn place_in_file(node: &Node, text: &str, mistake: &Mistake) -> Span {
    let start = node.span;
    let line_width = |line: u32| {
        text.lines()
            .nth(line.saturating_sub(1) as usize)
            .map(|l| l.chars().count() as u32)
    };
    let first = text
        .lines()
        .nth(start.line.saturating_sub(1) as usize)
        .and_then(|line| line.chars().nth(start.column.saturating_sub(1) as usize));
    let one_line = start.line == start.end_line && mistake.line == 1;
    let exact = match &node.value {
        // A `|` block starts at its first line of text, its lines kept.
        Value::Scalar(s) if s.literal => Some((
            start.line + mistake.line - 1,
            start.column + mistake.column - 1,
        )),
        Value::Scalar(_) if one_line && matches!(first, Some('"' | '\'')) => {
            Some((start.line, start.column + mistake.column))
        }
        Value::Scalar(s) if one_line && s.plain => {
            Some((start.line, start.column + mistake.column - 1))
        }
        _ => None,
    };
    // The end of the text (a syntax error there) may lie past its last line.
    match exact {
        Some((line, column)) if line_width(line).is_some_and(|w| column <= w + 1) => {
            Span::point(line, column)
        }
        _ => Span::point(start.line, start.column),
    }
}

/// `spec.replicas`, `spec.template.spec.containers[0].image`.
fn field_path(node: &Node) -> Result<FieldPath, Failure> {
    let text = expect_str(node, "path")?;
    let bad = || {
        (
            node.span,
            format!("`path` must be field names joined by dots, with [N] for list items, like spec.template.spec.containers[0].image, not `{text}`"),
        )
    };
    let mut steps = Vec::new();
    for part in text.split('.') {
        let (name, mut rest) = part.find('[').map_or((part, ""), |i| part.split_at(i));
        if name.is_empty() || name.contains(']') {
            return Err(bad());
        }
        steps.push(super::Step::Key(name.to_string()));
        while !rest.is_empty() {
            let (number, after) = rest
                .strip_prefix('[')
                .and_then(|inner| inner.split_once(']'))
                .ok_or_else(bad)?;
            steps.push(super::Step::Index(number.parse().map_err(|_| bad())?));
            rest = after;
        }
    }
    Ok(FieldPath(steps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::yaml::parse_documents;

    fn mistakes(text: &str) -> Vec<(u32, u32, String)> {
        let doc = &parse_documents(text).unwrap()[0];
        let mut problems = Problems::default();
        policy(doc, text, &mut problems);
        problems
            .0
            .into_iter()
            .map(|(span, message)| (span.line, span.column, message))
            .collect()
    }

    #[test]
    fn expression_mistakes_are_placed_in_the_file_for_each_scalar_style() {
        let head = "id: team/x\ndescription: x\nvalidations:\n";
        for (expression, line, column) in [
            ("  - expression: \"object.x && nope\"\n", 4, 30),
            ("  - expression: 'object.x && nope'\n", 4, 30),
            ("  - expression: object.x && nope\n", 4, 29),
            ("  - expression: |\n      object.x &&\n        nope\n", 6, 9),
            (
                "  - expression: >-\n      object.x &&\n        nope\n",
                5,
                7,
            ),
        ] {
            let found = mistakes(&format!("{head}{expression}"));
            assert_eq!(found.len(), 1, "{expression}: {found:?}");
            assert_eq!(
                (found[0].0, found[0].1),
                (line, column),
                "{expression}: {found:?}"
            );
            assert!(found[0].2.contains("unknown variable `nope`"), "{found:?}");
        }
    }

    #[test]
    fn missing_and_unknown_fields_and_bad_paths_are_each_reported() {
        let found = mistakes("id: team/x\nseverity: fatal\nvalidations:\n  - expression: 'true'\n    path: spec..replicas\n    reason: Invalid\n");
        let messages: Vec<&str> = found.iter().map(|(_, _, m)| m.as_str()).collect();
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(
            messages[0].contains("unknown severity `fatal`"),
            "{messages:?}"
        );
        assert!(
            messages[1].starts_with("`path` must be field names"),
            "{messages:?}"
        );
        assert!(
            messages[2].starts_with("unknown key `reason` in a validation"),
            "{messages:?}"
        );
        assert_eq!(messages[3], "a policy needs `description`");
    }

    #[test]
    fn paths_read_keys_and_list_indexes() {
        let doc = &parse_documents("path: spec.template.spec.containers[0].ports[1]\n").unwrap()[0];
        let FieldPath(steps) = field_path(doc.get("path").unwrap()).unwrap();
        let shown: Vec<String> = steps
            .iter()
            .map(|s| match s {
                super::super::Step::Key(k) => k.clone(),
                super::super::Step::Index(i) => format!("[{i}]"),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "spec",
                "template",
                "spec",
                "containers",
                "[0]",
                "ports",
                "[1]"
            ]
        );
        for bad in ["a[", "a[x]", "a]b", "[0]", "a.", "a[0]b"] {
            let doc = &parse_documents(&format!("path: '{bad}'\n")).unwrap()[0];
            assert!(field_path(doc.get("path").unwrap()).is_err(), "{bad}");
        }
    }
}
