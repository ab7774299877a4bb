//! The filters roles use most, as Ansible's behave. An unknown in, an
//! unknown out: a filter never turns a value scar does not know into one
//! it does.

use std::collections::BTreeMap;

use base64::Engine as _;
use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::unknown::{as_unknown, unknown, Origin};

/// Filters defined here.
const ANSIBLE: &[&str] = &[
    "default",
    "d",
    "regex_replace",
    "bool",
    "int",
    "string",
    "lower",
    "upper",
    "replace",
    "join",
    "to_json",
    "to_nice_json",
    "to_yaml",
    "to_nice_yaml",
    "b64encode",
    "ternary",
    "combine",
    "dict2items",
    "basename",
    "dirname",
    "quote",
];

/// minijinja's own filters that behave as Jinja2's do.
const BUILTIN: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "capitalize",
    "count",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "groupby",
    "indent",
    "items",
    "last",
    "length",
    "list",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "urlencode",
    "lines",
    "format",
    "chain",
    "zip",
];

/// minijinja's own tests, and Ansible's that read only the value.
const TESTS: &[&str] = &[
    "defined",
    "undefined",
    "none",
    "true",
    "false",
    "boolean",
    "number",
    "integer",
    "float",
    "string",
    "sequence",
    "iterable",
    "mapping",
    "odd",
    "even",
    "divisibleby",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "equalto",
    "in",
    "lower",
    "upper",
    "startingwith",
    "endingwith",
    "containing",
    "safe",
    "escaped",
    "sameas",
    "filter",
    "test",
];

pub fn is_known(filter: &str) -> bool {
    ANSIBLE.contains(&filter) || BUILTIN.contains(&filter)
}

pub fn is_known_test(test: &str) -> bool {
    TESTS.contains(&test)
}

/// The first unknown among a filter's inputs, carried through it.
fn carried(filter: &str, value: &Value, args: &[Value]) -> Option<Value> {
    std::iter::once(value)
        .chain(args)
        .find_map(as_unknown)
        .map(|u| unknown(&format!("{} | {filter}", u.name), u.origin))
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// Whether a value is set, as a run without the variables nobody sets sees it.
fn is_set(value: &Value) -> bool {
    !value.is_undefined() && as_unknown(value).is_none_or(|u| u.origin == Origin::Run)
}

pub fn add(env: &mut Environment<'static>) {
    env.add_test("defined", |value: Value| is_set(&value));
    env.add_test("undefined", |value: Value| !is_set(&value));
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("bool", |value: Value| {
        carried("bool", &value, &[]).unwrap_or_else(|| Value::from(to_bool(&value)))
    });
    env.add_filter("int", |value: Value, args: Rest<Value>| {
        carried("int", &value, &[]).unwrap_or_else(|| {
            let fallback = args.first().cloned().unwrap_or(Value::from(0));
            to_int(&value).map_or(fallback, Value::from)
        })
    });
    env.add_filter("string", |value: Value| {
        carried("string", &value, &[]).unwrap_or_else(|| Value::from(value.to_string()))
    });
    env.add_filter("lower", |value: Value| {
        carried("lower", &value, &[])
            .unwrap_or_else(|| Value::from(value.to_string().to_lowercase()))
    });
    env.add_filter("upper", |value: Value| {
        carried("upper", &value, &[])
            .unwrap_or_else(|| Value::from(value.to_string().to_uppercase()))
    });
    env.add_filter("replace", |value: Value, old: Value, new: Value| {
        carried("replace", &value, &[old.clone(), new.clone()]).unwrap_or_else(|| {
            Value::from(
                value
                    .to_string()
                    .replace(&old.to_string(), &new.to_string()),
            )
        })
    });
    env.add_filter(
        "join",
        |value: Value, args: Rest<Value>| -> Result<Value, Error> {
            if let Some(unknown) = carried("join", &value, &args) {
                return Ok(unknown);
            }
            let separator = args.first().map(Value::to_string).unwrap_or_default();
            let mut parts = Vec::new();
            for item in value.try_iter()? {
                if let Some(unknown) = carried("join", &item, &[]) {
                    return Ok(unknown);
                }
                parts.push(item.to_string());
            }
            Ok(Value::from(parts.join(&separator)))
        },
    );
    for name in ["to_json", "to_nice_json"] {
        env.add_filter(
            name,
            move |value: Value, _: Rest<Value>| -> Result<Value, Error> {
                if let Some(unknown) = carried(name, &value, &[]) {
                    return Ok(unknown);
                }
                let json = to_json(&value)?;
                let text = if name == "to_nice_json" {
                    serde_json::to_string_pretty(&json)
                } else {
                    serde_json::to_string(&json)
                };
                text.map(Value::from).map_err(|e| invalid(e.to_string()))
            },
        );
    }
    for name in ["to_yaml", "to_nice_yaml"] {
        env.add_filter(
            name,
            move |value: Value, _: Rest<Value>| -> Result<Value, Error> {
                if let Some(unknown) = carried(name, &value, &[]) {
                    return Ok(unknown);
                }
                let indent = if name == "to_nice_yaml" { 4 } else { 2 };
                let mut out = String::new();
                write_yaml(&to_json(&value)?, indent, 0, &mut out);
                Ok(Value::from(out))
            },
        );
    }
    env.add_filter("b64encode", |value: Value| {
        carried("b64encode", &value, &[]).unwrap_or_else(|| {
            Value::from(base64::engine::general_purpose::STANDARD.encode(value.to_string()))
        })
    });
    env.add_filter("ternary", |value: Value, args: Rest<Value>| {
        if let Some(unknown) = carried("ternary", &value, &[]) {
            return unknown;
        }
        let pick = |i: usize| args.get(i).cloned().unwrap_or(Value::from(()));
        match (value.is_none(), args.len()) {
            (true, 3..) => pick(2),
            _ if value.is_true() => pick(0),
            _ => pick(1),
        }
    });
    env.add_filter(
        "combine",
        |value: Value, args: Rest<Value>| -> Result<Value, Error> {
            if let Some(unknown) = carried("combine", &value, &args) {
                return Ok(unknown);
            }
            let mut merged = BTreeMap::new();
            for map in std::iter::once(&value)
                .chain(args.iter())
                .filter(|v| v.kind() == ValueKind::Map)
            {
                for key in map.try_iter()? {
                    merged.insert(key.to_string(), map.get_item(&key)?);
                }
            }
            Ok(Value::from(merged))
        },
    );
    env.add_filter("dict2items", |value: Value| -> Result<Value, Error> {
        if let Some(unknown) = carried("dict2items", &value, &[]) {
            return Ok(unknown);
        }
        let mut items = Vec::new();
        for key in value.try_iter()? {
            let item = value.get_item(&key)?;
            items.push(Value::from(BTreeMap::from([
                ("key".to_string(), key),
                ("value".to_string(), item),
            ])));
        }
        Ok(Value::from(items))
    });
    env.add_filter("basename", |value: Value| {
        carried("basename", &value, &[]).unwrap_or_else(|| {
            let text = value.to_string();
            Value::from(text.rsplit('/').next().unwrap_or("").to_string())
        })
    });
    env.add_filter("dirname", |value: Value| {
        carried("dirname", &value, &[]).unwrap_or_else(|| {
            let text = value.to_string();
            Value::from(text.rsplit_once('/').map_or("", |(dir, _)| dir).to_string())
        })
    });
    env.add_filter("quote", |value: Value| {
        carried("quote", &value, &[])
            .unwrap_or_else(|| Value::from(shell_quote(&value.to_string())))
    });
}

/// Ansible's `default(value, boolean=false)`: for a value nobody sets, or
/// with `boolean`, a false one; a value only a run knows stays unknown.
fn default(value: Value, args: Rest<Value>) -> Value {
    let fallback = args.first().cloned().unwrap_or(Value::from(""));
    let boolean = args.get(1).is_some_and(Value::is_true);
    match as_unknown(&value).map(|u| u.origin) {
        Some(Origin::Unset) => fallback,
        Some(Origin::Run) => value,
        None if value.is_undefined() || (boolean && !value.is_true()) => fallback,
        None => value,
    }
}

/// Python's `re.sub`, as Ansible's `regex_replace(pattern, replacement)`.
fn regex_replace(value: Value, args: Rest<Value>) -> Result<Value, Error> {
    if let Some(unknown) = carried("regex_replace", &value, &args) {
        return Ok(unknown);
    }
    let pattern = args.first().map(Value::to_string).unwrap_or_default();
    let replacement = args.get(1).map(Value::to_string).unwrap_or_default();
    let regex = regex::Regex::new(&pattern).map_err(|e| invalid(e.to_string()))?;
    Ok(Value::from(
        regex
            .replace_all(
                &value.to_string(),
                python_replacement(&replacement).as_str(),
            )
            .into_owned(),
    ))
}

/// `\1` and `\g<name>` as the regex crate writes them, `$` kept literal.
fn python_replacement(replacement: &str) -> String {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut group = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        group.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                Some('g') => {
                    chars.next();
                    let name: String = chars.by_ref().skip(1).take_while(|&c| c != '>').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// Ansible's `bool`: yes, on, 1, true, y (any case) are true.
fn to_bool(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Bool => value.is_true(),
        ValueKind::Number => value.as_i64() == Some(1),
        _ => matches!(
            value.to_string().trim().to_lowercase().as_str(),
            "yes" | "on" | "1" | "true" | "y" | "t"
        ),
    }
}

fn to_int(value: &Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    let text = value.to_string();
    let text = text.trim();
    text.parse::<i64>()
        .ok()
        .or_else(|| text.parse::<f64>().ok().map(|f| f as i64))
}

fn to_json(value: &Value) -> Result<serde_json::Value, Error> {
    if let Some(unknown) = as_unknown(value) {
        return Ok(serde_json::Value::String(format!(
            "{{{{ {} }}}}",
            unknown.name
        )));
    }
    Ok(match value.kind() {
        ValueKind::Undefined | ValueKind::None => serde_json::Value::Null,
        ValueKind::Bool => serde_json::Value::Bool(value.is_true()),
        ValueKind::Number => match value.as_i64() {
            Some(n) => serde_json::Value::from(n),
            None => serde_json::Value::from(f64::try_from(value.clone()).unwrap_or(0.0)),
        },
        ValueKind::Seq | ValueKind::Iterable => serde_json::Value::Array(
            value
                .try_iter()?
                .map(|v| to_json(&v))
                .collect::<Result<_, _>>()?,
        ),
        ValueKind::Map => {
            let mut map = serde_json::Map::new();
            for key in value.try_iter()? {
                map.insert(key.to_string(), to_json(&value.get_item(&key)?)?);
            }
            serde_json::Value::Object(map)
        }
        _ => serde_json::Value::String(value.to_string()),
    })
}

/// Block-style YAML, strings quoted when plain would misread them.
fn write_yaml(value: &serde_json::Value, indent: usize, depth: usize, out: &mut String) {
    let pad = " ".repeat(indent * depth);
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                out.push_str(&format!(
                    "{pad}{}:",
                    scalar(&serde_json::Value::String(key.clone()))
                ));
                match item {
                    serde_json::Value::Object(m) if !m.is_empty() => {
                        out.push('\n');
                        write_yaml(item, indent, depth + 1, out);
                    }
                    serde_json::Value::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        write_yaml(item, indent, depth, out);
                    }
                    _ => out.push_str(&format!(" {}\n", scalar(item))),
                }
            }
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                match item {
                    serde_json::Value::Object(m) if !m.is_empty() => {
                        out.push('\n');
                        write_yaml(item, indent, depth + 1, out);
                    }
                    _ => out.push_str(&format!(" {}\n", scalar(item))),
                }
            }
        }
        _ => out.push_str(&format!("{pad}{}\n", scalar(value))),
    }
}

fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => {
            let plain = !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_./=@".contains(c))
                && !matches!(
                    text.to_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~"
                )
                && text.parse::<f64>().is_err();
            if plain {
                text.clone()
            } else {
                serde_json::Value::String(text.clone()).to_string()
            }
        }
        serde_json::Value::Object(_) => "{}".to_string(),
        serde_json::Value::Array(_) => "[]".to_string(),
        other => other.to_string(),
    }
}

/// Python's `shlex.quote`.
fn shell_quote(text: &str) -> String {
    if text.is_empty() {
        return "''".to_string();
    }
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\"'\"'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str) -> String {
        let mut env = Environment::new();
        add(&mut env);
        env.render_str(
            template,
            Value::from(BTreeMap::from([
                (
                    "m".to_string(),
                    Value::from(BTreeMap::from([("a".to_string(), Value::from(1))])),
                ),
                (
                    "fact".to_string(),
                    unknown("ansible_memtotal_mb", Origin::Run),
                ),
                ("unset".to_string(), unknown("nobody", Origin::Unset)),
            ])),
        )
        .unwrap()
    }

    #[test]
    fn filters_behave_as_ansible_s() {
        assert_eq!(render("{{ '512Mi' | regex_replace('Mi', 'M') }}"), "512M");
        assert_eq!(
            render("{{ 'a-1' | regex_replace('(\\\\w)-(\\\\d)', '\\\\2-\\\\1') }}"),
            "1-a"
        );
        assert_eq!(
            render("{{ 'yes' | bool }} {{ 'off' | bool }} {{ '12' | int + 1 }} {{ 'x' | int }}"),
            "True False 13 0"
        );
        assert_eq!(
            render(
                "{{ unset | default('d') }} {{ '' | default('e', true) }} {{ fact | default(1) }}"
            ),
            "d e {{ ansible_memtotal_mb }}"
        );
        assert_eq!(
            render("{{ true | ternary('a', 'b') }}{{ none | ternary('a', 'b', 'c') }}"),
            "ac"
        );
        assert_eq!(
            render("{{ m | combine({'b': 2}) | to_json }}"),
            "{\"a\":1,\"b\":2}"
        );
        assert_eq!(
            render("{{ m | dict2items | to_json }}"),
            "[{\"key\":\"a\",\"value\":1}]"
        );
        assert_eq!(
            render("{{ '/etc/etcd.env' | basename }} {{ \"it's\" | quote }} {{ 'x' | b64encode }}"),
            "etcd.env 'it'\"'\"'s' eA=="
        );
        assert_eq!(render("{{ ['a', 'b'] | join(',') | upper }}"), "A,B");
        assert_eq!(render("{{ m | to_nice_yaml }}"), "a: 1\n");
    }

    #[test]
    fn a_variable_nobody_sets_is_undefined_and_a_fact_is_defined() {
        assert_eq!(
            render("{{ unset is defined }} {{ unset is undefined }} {{ fact is defined }} {{ m is defined }}"),
            "False True True True"
        );
    }

    #[test]
    fn an_unknown_stays_unknown_through_every_filter() {
        assert_eq!(
            render("{{ fact | regex_replace('a', 'b') }}"),
            "{{ ansible_memtotal_mb | regex_replace }}"
        );
        assert_eq!(
            render("{{ fact | int | string | lower }}"),
            "{{ ansible_memtotal_mb | int | string | lower }}"
        );
        assert_eq!(
            render("{{ ['a', fact] | join(',') }}"),
            "{{ ansible_memtotal_mb | join }}"
        );
    }
}
