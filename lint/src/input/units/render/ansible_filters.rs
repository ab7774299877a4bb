//! The filters roles use most, as Ansible's behave. An unknown in, an
//! unknown out: a filter never turns a value scar does not know into one
//! it does.

use std::collections::BTreeMap;

use base64::Engine as _;
use minijinja::value::{from_args, ArgType, Kwargs, Rest, Value, ValueKind, ValueOrKwargs};
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
    "indent",
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
    "version",
    "version_compare",
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
    env.add_test("version", version);
    env.add_test("version_compare", version);
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("indent", indent);
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
            move |value: Value, kwargs: Kwargs| -> Result<Value, Error> {
                layout_only(
                    &kwargs,
                    &["indent", "sort_keys", "ensure_ascii", "separators"],
                )?;
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
            move |value: Value, kwargs: Kwargs| -> Result<Value, Error> {
                let default_indent = if name == "to_nice_yaml" { 4 } else { 2 };
                let indent = kwargs
                    .get::<Option<usize>>("indent")?
                    .unwrap_or(default_indent)
                    .clamp(1, 16);
                layout_only(
                    &kwargs,
                    &["width", "sort_keys", "default_flow_style", "allow_unicode"],
                )?;
                if let Some(unknown) = carried(name, &value, &[]) {
                    return Ok(unknown);
                }
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
    env.add_filter("combine", combine);
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

/// Ansible's `version(version, operator='eq', strict=false,
/// version_type='loose')` test: `kube_version is version('v1.25.0', '>=')`.
/// Versions compare as Python's LooseVersion does: runs of digits as
/// numbers, runs of letters as text, dots dropped; a number against text
/// is an error, as it is in Ansible.
fn version(
    value: Value,
    against: Value,
    operator: Option<String>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let operator = argument(operator, &kwargs, "operator")?.unwrap_or_else(|| "eq".to_string());
    let strict = kwargs.get::<Option<bool>>("strict")?.unwrap_or(false);
    let version_type = kwargs.get::<Option<String>>("version_type")?;
    kwargs.assert_all_used()?;
    if as_unknown(&value).is_some() || as_unknown(&against).is_some() || value.is_undefined() {
        return Err(invalid("version: a value scar does not know".to_string()));
    }
    let (left, right) = (
        loose_version(&value.to_string()),
        loose_version(&against.to_string()),
    );
    if left.is_empty() || right.is_empty() {
        return Err(invalid("version: an empty version".to_string()));
    }
    // Strict, semantic and PEP 440 versions order pre-releases their own
    // way; on plain numbers every kind agrees with LooseVersion.
    let numbers_only =
        |parts: &[VersionPart]| parts.iter().all(|p| matches!(p, VersionPart::Number(_)));
    let loose = !strict && version_type.is_none_or(|t| t == "loose");
    let comparable = loose || (numbers_only(&left) && numbers_only(&right));
    if !comparable {
        return Err(invalid(
            "version: a strict or semantic version with more than numbers".to_string(),
        ));
    }
    let mut order = std::cmp::Ordering::Equal;
    for (a, b) in left.iter().zip(&right) {
        order = match (a, b) {
            (VersionPart::Number(a), VersionPart::Number(b)) => a.cmp(b),
            (VersionPart::Text(a), VersionPart::Text(b)) => a.cmp(b),
            _ => return Err(invalid("version: a number compared with text".to_string())),
        };
        if order.is_ne() {
            break;
        }
    }
    if order.is_eq() {
        order = left.len().cmp(&right.len());
    }
    Ok(match operator.as_str() {
        "<" | "lt" => order.is_lt(),
        "<=" | "le" => order.is_le(),
        ">" | "gt" => order.is_gt(),
        ">=" | "ge" => order.is_ge(),
        "==" | "=" | "eq" => order.is_eq(),
        "!=" | "<>" | "ne" => order.is_ne(),
        other => return Err(invalid(format!("version: no operator {other}"))),
    })
}

#[derive(Debug, PartialEq)]
enum VersionPart {
    Number(u128),
    Text(String),
}

/// LooseVersion's components: `v1.25.0-rc.1` is v, 1, 25, 0, -, rc, 1.
fn loose_version(text: &str) -> Vec<VersionPart> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let run = if c.is_ascii_digit() {
            rest.find(|c: char| !c.is_ascii_digit())
        } else if c.is_ascii_lowercase() {
            rest.find(|c: char| !c.is_ascii_lowercase())
        } else {
            rest.find(|c: char| c.is_ascii_digit() || c.is_ascii_lowercase())
        }
        .unwrap_or(rest.len());
        let (part, tail) = rest.split_at(run);
        rest = tail;
        if part == "." {
            continue;
        }
        parts.push(match part.parse() {
            Ok(number) => VersionPart::Number(number),
            Err(_) => VersionPart::Text(part.to_string()),
        });
    }
    parts
}

/// An argument Python lets a caller give by position or by its keyword.
fn argument<'a, T>(
    positional: Option<T>,
    kwargs: &'a Kwargs,
    name: &'a str,
) -> Result<Option<T>, Error>
where
    Option<T>: ArgType<'a, Output = Option<T>>,
{
    match positional {
        Some(value) => Ok(Some(value)),
        None => kwargs.get(name),
    }
}

/// Keyword arguments that change only how text is laid out (indentation,
/// key order, escaping), not what it says: taken and left alone. Any other
/// is refused, so the template is linted as written rather than guessed.
fn layout_only(kwargs: &Kwargs, names: &[&str]) -> Result<(), Error> {
    for name in names {
        kwargs.get::<Option<Value>>(name)?;
    }
    kwargs.assert_all_used()
}

/// Ansible's `default(default_value='', boolean=false)`: for a value
/// nobody sets, or with `boolean`, a false one; a value only a run knows
/// stays unknown.
fn default(
    value: Value,
    fallback: Option<Value>,
    boolean: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let fallback = argument(fallback, &kwargs, "default_value")?.unwrap_or(Value::from(""));
    let boolean = match boolean {
        Some(boolean) => boolean.is_true(),
        None => kwargs.get::<Option<bool>>("boolean")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    Ok(match as_unknown(&value).map(|u| u.origin) {
        Some(Origin::Unset) => fallback,
        Some(Origin::Run) => value,
        None if value.is_undefined() || (boolean && !value.is_true()) => fallback,
        None => value,
    })
}

/// Ansible's `combine(*dicts, recursive=false, list_merge='replace')`: later
/// mappings win; with `recursive`, mappings under the same key merge too;
/// `list_merge` says what two lists under the same key make.
fn combine(value: Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let args = args.into_values();
    let (others, kwargs) = from_args::<(&[Value], Kwargs)>(&args)?;
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge = kwargs
        .get::<Option<String>>("list_merge")?
        .unwrap_or_else(|| "replace".to_string());
    kwargs.assert_all_used()?;
    if !matches!(
        list_merge.as_str(),
        "replace" | "keep" | "append" | "prepend" | "append_rp" | "prepend_rp"
    ) {
        return Err(invalid(format!(
            "combine: list_merge={list_merge} is not one of Ansible's"
        )));
    }
    if let Some(unknown) = carried("combine", &value, others) {
        return Ok(unknown);
    }
    let mut merged = Value::from(BTreeMap::<String, Value>::new());
    for map in std::iter::once(&value)
        .chain(others)
        .filter(|v| v.kind() == ValueKind::Map)
    {
        merged = merge_maps(&merged, map, recursive, &list_merge)?;
    }
    Ok(merged)
}

/// Ansible's `merge_hash`: `high`'s keys over `low`'s.
fn merge_maps(
    low: &Value,
    high: &Value,
    recursive: bool,
    list_merge: &str,
) -> Result<Value, Error> {
    let mut merged = BTreeMap::new();
    for key in low.try_iter()? {
        merged.insert(key.to_string(), low.get_item(&key)?);
    }
    for key in high.try_iter()? {
        let new = high.get_item(&key)?;
        let value = match merged.get(&key.to_string()) {
            Some(old)
                if recursive && old.kind() == ValueKind::Map && new.kind() == ValueKind::Map =>
            {
                merge_maps(old, &new, recursive, list_merge)?
            }
            Some(old) if old.kind() == ValueKind::Seq && new.kind() == ValueKind::Seq => {
                merge_lists(old, &new, list_merge)?
            }
            _ => new,
        };
        merged.insert(key.to_string(), value);
    }
    Ok(Value::from(merged))
}

fn merge_lists(old: &Value, new: &Value, list_merge: &str) -> Result<Value, Error> {
    let old: Vec<Value> = old.try_iter()?.collect();
    let new: Vec<Value> = new.try_iter()?.collect();
    let old_not_in_new = || old.iter().filter(|v| !new.contains(v)).cloned();
    let merged: Vec<Value> = match list_merge {
        "keep" => old.clone(),
        "append" => old.iter().chain(&new).cloned().collect(),
        "prepend" => new.iter().chain(&old).cloned().collect(),
        "append_rp" => old_not_in_new().chain(new.iter().cloned()).collect(),
        "prepend_rp" => new.iter().cloned().chain(old_not_in_new()).collect(),
        _ => new,
    };
    Ok(Value::from(merged))
}

/// The widest indentation `indent` gives: a template asking for more is
/// not one a role writes, and each line would grow by it.
const MAX_INDENT: usize = 256;

/// Jinja2's `indent(width=4, first=false, blank=false)`, which Ansible runs.
/// minijinja's drops a trailing newline where Jinja2 keeps it, and roles
/// rely on it: `{{ selector | to_nice_yaml | indent(8) }}` before a
/// `{%- endif %}` must still end its line. `width` may be a string, as in
/// Jinja2.
fn indent(
    value: Value,
    width: Option<Value>,
    first: Option<bool>,
    blank: Option<bool>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let width = argument(width, &kwargs, "width")?;
    let first = argument(first, &kwargs, "first")?.unwrap_or(false);
    let blank = argument(blank, &kwargs, "blank")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    if let Some(unknown) = carried("indent", &value, width.as_slice()) {
        return Ok(unknown);
    }
    let indention = match width {
        None => " ".repeat(4),
        Some(width) if width.kind() == ValueKind::String => width.to_string(),
        Some(width) => " ".repeat(
            width
                .as_usize()
                .ok_or_else(|| invalid(format!("indent width {width} is not a count")))?,
        ),
    };
    if indention.len() > MAX_INDENT {
        return Err(invalid(format!(
            "indent width {} is over {MAX_INDENT}",
            indention.len()
        )));
    }
    // Jinja2 appends a newline before splitting, so a trailing one survives
    // as an empty last line.
    let text = format!("{value}\n");
    let mut lines = text.lines();
    let mut out = String::new();
    if first {
        out.push_str(&indention);
    }
    out.push_str(lines.next().unwrap_or(""));
    for line in lines {
        out.push('\n');
        if blank || !line.is_empty() {
            out.push_str(&indention);
        }
        out.push_str(line);
    }
    Ok(Value::from(out))
}

/// Python's `re.sub`, as Ansible's `regex_replace(pattern='',
/// replacement='', ignorecase=false, multiline=false, count=0)`.
fn regex_replace(
    value: Value,
    pattern: Option<Value>,
    replacement: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    kwargs.assert_all_used()?;
    let written: Vec<Value> = pattern.iter().chain(&replacement).cloned().collect();
    if let Some(unknown) = carried("regex_replace", &value, &written) {
        return Ok(unknown);
    }
    let pattern = pattern.map(|p| p.to_string()).unwrap_or_default();
    let replacement = replacement.map(|r| r.to_string()).unwrap_or_default();
    let regex = regex::RegexBuilder::new(&pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    Ok(Value::from(
        regex
            .replacen(
                &value.to_string(),
                count,
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

    /// Templates a render must fail on, so the file is linted as written.
    fn assert_refused(templates: &[&str]) {
        let mut env = Environment::new();
        add(&mut env);
        for template in templates {
            assert!(env.render_str(template, ()).is_err(), "{template}");
        }
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
    fn indent_keeps_a_trailing_newline_as_jinja2_does() {
        // kubespray's metallb: the selector's line must end before the
        // next key, whitespace control or not.
        assert_eq!(
            render("x:\n  {{ m | to_nice_yaml | indent(width=2) }}\n{%- if true %}y: 1{% endif %}"),
            "x:\n  a: 1\ny: 1"
        );
        assert_eq!(render("{{ 'a\nb\n' | indent(8) }}|"), "a\n        b\n|");
        assert_eq!(
            render("{{ 'a\n\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent(2, blank=true) }}"),
            "  a\n\n  b|a\n  \n  b"
        );
        assert_eq!(render("{{ 'a\nb' | indent('> ') }}"), "a\n> b");
        // kubespray's cert-manager writes Python's capitalised booleans.
        assert_eq!(
            render("{{ 'a\nb' | indent(width=4, first=False) }}"),
            "a\n    b"
        );
        assert_eq!(
            render("{{ [m] | to_nice_yaml(indent=2) | indent(width=8) }}|"),
            "-\n          a: 1\n|"
        );
        assert_eq!(
            render("{{ fact | indent(4) }}"),
            "{{ ansible_memtotal_mb | indent }}"
        );
        assert_refused(&[
            "{{ 'a' | indent(100000) }}",
            "{{ 'a' | indent(-1) }}",
            "{{ 'a' | indent(depth=2) }}",
        ]);
    }

    #[test]
    fn keyword_arguments_roles_write_are_taken_as_ansible_takes_them() {
        assert_eq!(
            render("{{ m | to_nice_yaml(indent=2, width=1337) }}"),
            "a: 1\n"
        );
        assert_eq!(
            render("{{ m | to_nice_json(indent=2, sort_keys=true) }}"),
            "{\n  \"a\": 1\n}"
        );
        assert_eq!(
            render("{{ {'x': {'a': 1}, 'l': [1]} | combine({'x': {'b': 2}, 'l': [2]}, recursive=true, list_merge='append') | to_json }}"),
            "{\"l\":[1,2],\"x\":{\"a\":1,\"b\":2}}"
        );
        assert_eq!(
            render("{{ {'x': {'a': 1}, 'l': [1, 2]} | combine({'x': {'b': 2}, 'l': [2, 3]}, list_merge='prepend_rp') | to_json }}"),
            "{\"l\":[2,3,1],\"x\":{\"b\":2}}"
        );
        assert_eq!(
            render("{{ 'Mi mi' | regex_replace('mi', 'M', ignorecase=true, count=1) }}"),
            "M mi"
        );
        assert_eq!(
            render(
                "{{ '' | default('x', boolean=true) }} {{ unset | default(default_value='y') }}"
            ),
            "x y"
        );
        assert_refused(&[
            "{{ {} | to_nice_yaml(explicit_start=true) }}",
            "{{ {} | combine({}, list_merge='sideways') }}",
            "{{ 'a' | regex_replace('a', 'b', flags=2) }}",
        ]);
    }

    #[test]
    fn versions_compare_as_ansible_s_version_test_does() {
        assert_eq!(
            render("{{ '1.25.0' is version('1.9', '>', version_type='semver') }} {{ 'v1.25.0' is version('v1.11.1', '>=') }} {{ '1.10' is version('1.9', 'gt') }} {{ '1.2' is version('1.2.0', '<') }} {{ 'v1.29.3' is version('v1.29.3', operator='eq') }} {{ '17.03' is version_compare('17.03', '!=') }}"),
            "True True True True True False"
        );
        assert_refused(&[
            "{{ fact is version('1.0', '<') }}",
            "{{ unset is version('1.0', '<') }}",
            "{{ '1.0' is version('1.0', 'about') }}",
            "{{ 'v1' is version('1', '<') }}",
            "{{ '' is version('1', '<') }}",
            "{{ '1.0.0-rc.1' is version('1.0.0', '<', version_type='semver') }}",
            "{{ '1.0a1' is version('1.0', '<', strict=true) }}",
        ]);
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
