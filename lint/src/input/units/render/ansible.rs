//! Renders a template of an Ansible role with minijinja and the role's
//! variables, as Ansible would (`trim_blocks`), keeping unknowns unknown:
//! a host fact, a registered result, a lookup or a variable nobody sets
//! prints as its own `{{ name }}`, which rules already read as a value they
//! do not know; an unknown filter makes only its expression unknown.
//!
//! A condition that reads a host fact (or another value only a run knows)
//! splits the render: each branch is rendered, up to `MAX_CONDITIONS`
//! conditions per template (past that, the template is linted as written),
//! and each distinct text says which conditions it holds under.
//!
//! The way back to the template: before rendering, every template line that
//! ends outside a tag gets a mark at its end (a private-use character and
//! the line number); a rendered line's first mark is the line that wrote it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Enumerator, Object, Rest, Value, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, Expression, State};

use crate::input::units::role::{Scope, Variables};
use crate::model::parse::yaml::Node;
use crate::model::source::{SourceFile, SourceRef, Span};
use crate::model::template::{Condition, RenderedTemplate, Setting, Variant};

use super::ansible_filters;
use super::unknown::{as_unknown, unknown, Origin};

/// Conditions on values only a run knows that one template may split on.
pub const MAX_CONDITIONS: usize = 3;
/// Steps a render may take: a runaway loop ends the render, not the run.
const FUEL: u64 = 2_000_000;
/// How deep variables may refer to variables.
const VARIABLE_DEPTH: usize = 12;

const MARK: char = '\u{E000}';
const MARK_END: char = '\u{E001}';

/// Names Ansible gives values only on a host, in a run.
const MAGIC: &[&str] = &[
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "play_hosts",
    "omit",
    "item",
    "role_path",
    "playbook_dir",
    "inventory_dir",
];

/// Functions and globals of the environment, which the context must not hide.
const GLOBALS: &[&str] = &[
    "__scar_cond",
    "__scar_value",
    "lookup",
    "query",
    "q",
    "range",
    "dict",
    "namespace",
    "debug",
    "loop",
    "caller",
    "varargs",
    "kwargs",
    "self",
    "super",
    "cycler",
    "joiner",
];

/// The conditions a render took: each one's index in the table, and
/// whether it held.
type Taken = Vec<(usize, bool)>;

/// Renders `template` (a file of a role) once per scope of hosts, each
/// with its variables; `None` when it cannot be (a syntax Jinja refuses, a
/// loop over an unknown list, too many conditions): the template is then
/// linted as written.
pub fn render(template: &SourceFile, scopes: &[Scope]) -> Option<RenderedTemplate> {
    if scopes.is_empty() {
        return None;
    }
    let conditions = Mutex::new(Vec::new());
    let scanned = scan(&template.text, true, &mut |text, line| {
        let written = template.line(line);
        let column = written.find(text).map_or(1, |c| c + 1) as u32;
        let at = SourceRef::on_line(
            template.path.clone(),
            Span::on_line(line, column, text.chars().count() as u32),
            written,
        );
        register(&conditions, text, at)
    });
    let template_lines = template.text.lines().count() as u32;
    // Branches that write the same text are one render, under what they share.
    let mut variants: Vec<Variant> = Vec::new();
    let mut variable_files: Vec<Arc<str>> = Vec::new();
    for scope in scopes {
        let variables = &scope.variables;
        let (in_values, tests_in_values) = scope.jinja_in_values.get_or_init(|| {
            let (mut filters, mut tests) = (HashSet::new(), HashSet::new());
            for variable in variables.values.values() {
                strings_of(&variable.value, &mut |text| {
                    let found = scan(text, false, &mut |_, _| 0);
                    filters.extend(found.filters);
                    tests.extend(found.tests);
                });
            }
            (filters, tests)
        });
        let filters: HashSet<String> = scanned.filters.union(in_values).cloned().collect();
        let tests: HashSet<String> = scanned.tests.union(tests_in_values).cloned().collect();
        let table = std::mem::take(&mut *conditions.lock().ok()?);
        let shared = Arc::new(Shared {
            env: environment(&filters, &tests),
            variables: variables.clone(),
            conditions: Mutex::new(table),
            run: Mutex::new(Run::default()),
        });
        let leaves = explore(&shared, &scanned.source)?;
        let table = std::mem::take(&mut *shared.conditions.lock().ok()?);
        let scope_settings = settings(&scanned.names_by_line, variables);
        for (marked, taken) in leaves {
            let (text, lines) = unmark(&marked, template_lines);
            let taken: Vec<Condition> = scope
                .condition
                .iter()
                .cloned()
                .chain(taken.into_iter().map(|(index, holds)| Condition {
                    text: table[index].0.clone(),
                    holds,
                    at: table[index].1.clone(),
                }))
                .collect();
            match variants.iter_mut().find(|v| v.text == text) {
                Some(variant) => variant.conditions.retain(|c| taken.contains(c)),
                None => variants.push(Variant {
                    text,
                    lines,
                    conditions: taken,
                    settings: scope_settings.clone(),
                }),
            }
        }
        *conditions.lock().ok()? = table;
        variable_files.extend(variables.files.iter().cloned());
    }
    variable_files.sort();
    variable_files.dedup();
    Some(RenderedTemplate {
        variants,
        variable_files,
    })
}

/// A condition's index in the table, the first with the same text.
fn register(table: &Mutex<Vec<(String, SourceRef)>>, text: &str, at: SourceRef) -> usize {
    let Ok(mut table) = table.lock() else {
        return 0;
    };
    if let Some(index) = table.iter().position(|(t, _)| t == text) {
        return index;
    }
    table.push((text.to_string(), at));
    table.len() - 1
}

/// Renders every branch: first with each split condition false, then, as a
/// binary counter over the conditions met, each other combination.
fn explore(shared: &Arc<Shared>, source: &str) -> Option<Vec<(String, Taken)>> {
    let context = Value::from_object(Context(shared.clone()));
    let template = shared.env.template_from_str(source).ok()?;
    let mut leaves = Vec::new();
    let mut forced: Vec<bool> = Vec::new();
    loop {
        *shared.run.lock().ok()? = Run {
            forced: forced.clone(),
            ..Run::default()
        };
        let text = template.render(context.clone()).ok()?;
        let run = std::mem::take(&mut *shared.run.lock().ok()?);
        if run.overflow {
            return None;
        }
        let taken: Taken = run.taken;
        leaves.push((text, taken.clone()));
        let Some(last_false) = taken.iter().rposition(|(_, holds)| !holds) else {
            break;
        };
        forced = taken[..last_false]
            .iter()
            .map(|(_, holds)| *holds)
            .collect();
        forced.push(true);
        if leaves.len() >= 1 << MAX_CONDITIONS {
            break;
        }
    }
    Some(leaves)
}

/// The variables each template line reads that the role sets, where set.
fn settings(
    names_by_line: &HashMap<u32, Vec<String>>,
    variables: &Variables,
) -> HashMap<u32, Vec<Setting>> {
    names_by_line
        .iter()
        .map(|(&line, names)| {
            let settings = names
                .iter()
                .filter_map(|name| {
                    let variable = variables.values.get(name)?;
                    Some(Setting {
                        name: name.clone(),
                        at: variable.at.clone(),
                    })
                })
                .collect();
            (line, settings)
        })
        .collect()
}

/// Splits the marks off a render: the text, and for each of its lines the
/// template line that wrote it (the next mark for a line without one, as a
/// value that spans lines marks only its last).
fn unmark(rendered: &str, template_lines: u32) -> (String, Vec<u32>) {
    let mut text = String::with_capacity(rendered.len());
    let mut lines: Vec<Option<u32>> = Vec::new();
    for line in rendered.split_inclusive('\n') {
        let mut first = None;
        let mut rest = line;
        while let Some(start) = rest.find(MARK) {
            text.push_str(&rest[..start]);
            let after = &rest[start + MARK.len_utf8()..];
            let end = after.find(MARK_END).unwrap_or(after.len());
            if first.is_none() {
                first = after[..end].parse::<u32>().ok();
            }
            rest = after.get(end + MARK_END.len_utf8()..).unwrap_or("");
        }
        text.push_str(rest);
        lines.push(first);
    }
    let mut next = None;
    for line in lines.iter_mut().rev() {
        match line {
            Some(n) => next = Some(*n),
            None => *line = next,
        }
    }
    // Lines after the last mark: the last line the template wrote.
    let mut last = template_lines.max(1);
    for line in lines.iter_mut().rev() {
        match line {
            Some(n) => last = *n,
            None => *line = Some(last),
        }
    }
    let lines = lines.into_iter().flatten().collect();
    (text, lines)
}

/// What a scan of Jinja source found.
struct Scanned {
    /// The source with line marks, and `if` conditions turned into calls
    /// that can split the render.
    source: String,
    names_by_line: HashMap<u32, Vec<String>>,
    filters: HashSet<String>,
    tests: HashSet<String>,
}

/// Reads Jinja source tag by tag. `register` numbers a condition found on a line.
fn scan(text: &str, mark_lines: bool, register: &mut dyn FnMut(&str, u32) -> usize) -> Scanned {
    let mut scanned = Scanned {
        source: String::with_capacity(text.len() + text.len() / 8),
        names_by_line: HashMap::new(),
        filters: HashSet::new(),
        tests: HashSet::new(),
    };
    let mut line = 1u32;
    // Whether the line so far ends with a tag whose newline Jinja drops.
    let mut newline_dropped = false;
    let mut rest = text;
    let mark = |out: &mut String, line: u32| {
        if mark_lines {
            out.push(MARK);
            out.push_str(&line.to_string());
            out.push(MARK_END);
        }
    };
    while !rest.is_empty() {
        let next_special = rest.find(['{', '\n']).unwrap_or(rest.len());
        let (plain, after) = rest.split_at(next_special);
        if !plain.trim().is_empty() {
            newline_dropped = false;
        }
        scanned.source.push_str(plain);
        rest = after;
        if rest.is_empty() {
            break;
        }
        if rest.starts_with('\n') {
            if !newline_dropped {
                mark(&mut scanned.source, line);
            }
            scanned.source.push('\n');
            line += 1;
            newline_dropped = false;
            rest = &rest[1..];
            continue;
        }
        let (open, close) = match rest.get(..2) {
            Some("{{") => ("{{", "}}"),
            Some("{%") => ("{%", "%}"),
            Some("{#") => ("{#", "#}"),
            _ => {
                scanned.source.push('{');
                rest = &rest[1..];
                newline_dropped = false;
                continue;
            }
        };
        let end = tag_end(rest, close);
        let tag = &rest[..end];
        let inner = tag[2..].strip_suffix(close).unwrap_or(&tag[2..]);
        rest = &rest[end..];
        match open {
            "{#" => {
                scanned.source.push_str(tag);
                newline_dropped = true;
            }
            "{{" => {
                let expression = inner.trim_matches(|c| c == '-' || c == '+').trim();
                if has_inline_if(expression) {
                    let index = register(expression, line);
                    let (left, right) = trim_markers(inner);
                    scanned
                        .source
                        .push_str(&format!("{{{{{left} __scar_value({index}) {right}}}}}"));
                } else {
                    scanned.source.push_str(tag);
                }
                read_expression(inner, line, &mut scanned);
                newline_dropped = inner.ends_with('-');
            }
            _ => {
                let body = inner.trim_matches(|c| c == '-' || c == '+').trim();
                let keyword = body.split_whitespace().next().unwrap_or("");
                match keyword {
                    "raw" => {
                        scanned.source.push_str(tag);
                        let raw_end = raw_block_end(rest);
                        for (n, raw_line) in rest[..raw_end].split_inclusive('\n').enumerate() {
                            match raw_line.strip_suffix('\n') {
                                Some(content) => {
                                    scanned.source.push_str(content);
                                    // The newline right after the tag is Jinja's to drop.
                                    if n > 0 || !content.trim().is_empty() {
                                        mark(&mut scanned.source, line);
                                    }
                                    scanned.source.push('\n');
                                    line += 1;
                                }
                                None => scanned.source.push_str(raw_line),
                            }
                        }
                        rest = &rest[raw_end..];
                        let close_end = tag_end(rest, "%}");
                        scanned.source.push_str(&rest[..close_end]);
                        rest = &rest[close_end..];
                    }
                    "if" | "elif" => {
                        let condition = body[keyword.len()..].trim();
                        let index = register(condition, line);
                        let (left, right) = trim_markers(inner);
                        scanned.source.push_str(&format!(
                            "{{%{left} {keyword} __scar_cond({index}) {right}%}}"
                        ));
                        read_expression(condition, line, &mut scanned);
                    }
                    "set" => {
                        let assignment =
                            body[keyword.len()..]
                                .split_once('=')
                                .filter(|(target, expression)| {
                                    !target.contains(['(', '"', '\''])
                                        && !expression.starts_with('=')
                                        && has_inline_if(expression)
                                });
                        match assignment {
                            Some((target, expression)) => {
                                let index = register(expression.trim(), line);
                                let (left, right) = trim_markers(inner);
                                scanned.source.push_str(&format!(
                                    "{{%{left} set {} = __scar_value({index}) {right}%}}",
                                    target.trim()
                                ));
                            }
                            None => scanned.source.push_str(tag),
                        }
                        read_expression(body, line, &mut scanned);
                    }
                    _ => {
                        scanned.source.push_str(tag);
                        read_expression(body, line, &mut scanned);
                    }
                }
                newline_dropped = true;
            }
        }
        line += tag.matches('\n').count() as u32;
    }
    scanned
}

/// A tag's whitespace controls (`-`, `+`) at its start and its end.
fn trim_markers(inner: &str) -> (&str, &str) {
    let left = if inner.starts_with(['-', '+']) {
        &inner[..1]
    } else {
        ""
    };
    let right = if inner.ends_with(['-', '+']) {
        &inner[inner.len() - 1..]
    } else {
        ""
    };
    (left, right)
}

/// Whether an expression holds an inline `a if b else c` (outside its
/// strings): in an expression, `if` means nothing else.
fn has_inline_if(expression: &str) -> bool {
    if !expression.contains("if") {
        return false;
    }
    let mut quote = None;
    let mut word_start = None;
    for (i, c) in expression.char_indices().chain([(expression.len(), ' ')]) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c.is_alphanumeric() || c == '_' => {
                word_start.get_or_insert(i);
            }
            None => {
                if word_start
                    .take()
                    .is_some_and(|start| &expression[start..i] == "if")
                {
                    return true;
                }
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
        }
    }
    false
}

/// Whether a value is one only a run knows, or text holding one.
fn only_a_run_knows(value: &Value) -> bool {
    as_unknown(value).is_some_and(|u| u.origin == Origin::Run)
        || value.as_str().is_some_and(|text| text.contains("{{"))
}

/// An inline `a if b else c` over a value only a run knows would take a
/// branch on a guess (an unknown compares as no number does), so the
/// whole expression is unknown; otherwise its value.
fn inline_conditional(
    expression: &Expression<'_, '_>,
    text: &str,
    lookup: impl Fn(&str) -> Option<Value>,
) -> Result<Value, Error> {
    let mut names = BTreeMap::new();
    for name in expression.undeclared_variables(false) {
        let Some(value) = lookup(&name) else {
            continue;
        };
        if only_a_run_knows(&value) {
            return Ok(unknown(text, Origin::Run));
        }
        names.insert(name, value);
    }
    expression.eval(Value::from(names))
}

/// The length of a tag that starts `text`, through `close`, skipping
/// quoted strings; the whole text for a tag never closed.
fn tag_end(text: &str, close: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 2;
    let mut quote = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if bytes[i..].starts_with(close.as_bytes()) => return i + close.len(),
            None => {}
        }
        i += 1;
    }
    text.len()
}

/// Where the `{% endraw %}` after a raw block's content starts.
fn raw_block_end(text: &str) -> usize {
    let mut from = 0;
    while let Some(open) = text[from..].find("{%") {
        let start = from + open;
        let inner = text[start + 2..]
            .trim_start_matches(['-', '+'])
            .trim_start();
        if inner.starts_with("endraw") {
            return start;
        }
        from = start + 2;
    }
    text.len()
}

/// Names, filters and tests of an expression (its strings left out).
fn read_expression(expression: &str, line: u32, scanned: &mut Scanned) {
    let mut words: Vec<(&str, char)> = Vec::new();
    let mut quote: Option<char> = None;
    let mut start: Option<usize> = None;
    let mut before = ' ';
    for (i, c) in expression
        .char_indices()
        .chain(std::iter::once((expression.len(), ' ')))
    {
        if let Some(q) = quote {
            if c == q {
                quote = None;
                before = ' ';
            }
            continue;
        }
        let word_char = c.is_alphanumeric() || c == '_';
        match (start, word_char) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                words.push((&expression[s..i], before));
                start = None;
            }
            _ => {}
        }
        if !word_char {
            if c == '"' || c == '\'' {
                quote = Some(c);
            }
            if !c.is_whitespace() {
                before = c;
            }
        }
    }
    let mut previous_word = "";
    for (word, before) in words {
        if word.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        if before == '|' {
            scanned.filters.insert(word.to_string());
        } else if previous_word == "is" && word == "not" {
            continue;
        } else if previous_word == "is" {
            scanned.tests.insert(word.to_string());
        } else if before != '.' {
            let names = scanned.names_by_line.entry(line).or_default();
            if !names.iter().any(|n| n == word) {
                names.push(word.to_string());
            }
        }
        previous_word = word;
    }
}

/// Every string in a variable's value.
fn strings_of(node: &Node, on_string: &mut impl FnMut(&str)) {
    match &node.value {
        crate::model::parse::yaml::Value::Scalar(scalar) => on_string(&scalar.text),
        crate::model::parse::yaml::Value::Seq(items) => {
            for item in items {
                strings_of(item, on_string);
            }
        }
        crate::model::parse::yaml::Value::Map(entries) => {
            for (_, value) in entries {
                strings_of(value, on_string);
            }
        }
    }
}

/// What one render of a template shares.
struct Shared {
    env: Environment<'static>,
    variables: Arc<Variables>,
    conditions: Mutex<Vec<(String, SourceRef)>>,
    run: Mutex<Run>,
}

/// The state of one render: the conditions it was told to take, those it
/// met, and the variables it has rendered.
#[derive(Default)]
struct Run {
    forced: Vec<bool>,
    taken: Taken,
    overflow: bool,
    rendering: Vec<String>,
    /// Variables rendered so far: one run takes one branch of each
    /// condition, so a variable has one value in it.
    values: HashMap<String, Value>,
}

impl Shared {
    /// Decides a condition that reads an unknown: the forced value for
    /// the next new condition, else false; `None` past the limit.
    fn decide(&self, index: usize) -> Option<bool> {
        let mut run = self.run.lock().ok()?;
        if let Some(&(_, holds)) = run.taken.iter().find(|(i, _)| *i == index) {
            return Some(holds);
        }
        if run.taken.len() >= MAX_CONDITIONS {
            run.overflow = true;
            return None;
        }
        let holds = run.forced.get(run.taken.len()).copied().unwrap_or(false);
        run.taken.push((index, holds));
        Some(holds)
    }

    /// A variable's value, its strings rendered as Ansible renders them
    /// when read.
    fn variable(self: &Arc<Self>, name: &str) -> Option<Value> {
        let variable = self.variables.values.get(name)?;
        {
            let mut run = self.run.lock().ok()?;
            if let Some(value) = run.values.get(name) {
                return Some(value.clone());
            }
            if run.rendering.iter().any(|n| n == name) || run.rendering.len() >= VARIABLE_DEPTH {
                return Some(unknown(name, Origin::Run));
            }
            run.rendering.push(name.to_string());
        }
        let value = self.value_of(&variable.value, &variable.at);
        if let Ok(mut run) = self.run.lock() {
            run.rendering.pop();
            run.values.insert(name.to_string(), value.clone());
        }
        Some(value)
    }

    fn value_of(self: &Arc<Self>, node: &Node, at: &SourceRef) -> Value {
        use crate::model::parse::yaml::Value as Yaml;
        match &node.value {
            Yaml::Scalar(scalar) if scalar.text.contains("{{") || scalar.text.contains("{%") => {
                self.template_string(&scalar.text, at)
            }
            Yaml::Scalar(scalar) if scalar.plain => plain_scalar(&scalar.text),
            Yaml::Scalar(scalar) => Value::from(scalar.text.clone()),
            Yaml::Seq(items) => items.iter().map(|item| self.value_of(item, at)).collect(),
            Yaml::Map(entries) => Value::from(
                entries
                    .iter()
                    .filter_map(|(k, v)| Some((k.str()?.to_string(), self.value_of(v, at))))
                    .collect::<BTreeMap<String, Value>>(),
            ),
        }
    }

    /// A string with Jinja in it: one `{{ expression }}` keeps its type
    /// (a list stays a list), anything else renders to a string.
    fn template_string(self: &Arc<Self>, text: &str, at: &SourceRef) -> Value {
        let context = Value::from_object(Context(self.clone()));
        let trimmed = text.trim();
        if let Some(expression) = trimmed
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
            .filter(|e| !e.contains("{{") && !e.contains("}}") && !e.contains("{%"))
        {
            let expression = expression.trim();
            let value = match self.env.compile_expression(expression) {
                Ok(compiled) if has_inline_if(expression) => {
                    inline_conditional(&compiled, expression, |name| {
                        context.get_attr(name).ok().filter(|v| !v.is_undefined())
                    })
                }
                Ok(compiled) => compiled.eval(context),
                Err(err) => Err(err),
            };
            return value.unwrap_or_else(|_| unknown(expression, Origin::Run));
        }
        let scanned = scan(text, false, &mut |condition, _| {
            register(&self.conditions, condition, at.clone())
        });
        match self.env.render_str(&scanned.source, context) {
            Ok(rendered) => Value::from(rendered),
            Err(_) => unknown(trimmed, Origin::Run),
        }
    }
}

/// A YAML plain scalar as Ansible's YAML 1.1 loader reads it.
fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::from(()),
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Value::from(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            Value::from(false)
        }
        _ => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::from(text)),
    }
}

/// The names a template reads: the role's variables, else an unknown.
#[derive(Debug)]
struct Context(Arc<Shared>);

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("role variables")
    }
}

impl Object for Context {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if name == "__scar" {
            return Some(Value::from_dyn_object(self.clone()));
        }
        if GLOBALS.contains(&name) {
            return None;
        }
        if let Some(value) = self.0.variable(name) {
            return Some(value);
        }
        let origin = if name.starts_with("ansible_")
            || MAGIC.contains(&name)
            || self.0.variables.runtime.contains(name)
        {
            Origin::Run
        } else {
            Origin::Unset
        };
        Some(unknown(name, origin))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Empty
    }
}

/// The environment Ansible renders templates in, with its filters, and
/// every other filter or test a template names made unknown.
fn environment(filters: &HashSet<String>, tests: &HashSet<String>) -> Environment<'static> {
    let mut env = Environment::new();
    if let Ok(syntax) = SyntaxConfig::builder()
        .trim_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env.set_fuel(Some(FUEL));
    env.add_function("__scar_cond", condition);
    env.add_function("__scar_value", inline_value);
    // Lookups and unknown filters take any arguments, keywords too
    // (`lookup('env', 'HOME', default='')`): their result is unknown.
    env.add_function("lookup", |name: String, _: Rest<ValueOrKwargs>| {
        unknown(&format!("lookup('{name}')"), Origin::Run)
    });
    env.add_function("query", |name: String, _: Rest<ValueOrKwargs>| {
        unknown(&format!("query('{name}')"), Origin::Run)
    });
    env.add_function("q", |name: String, _: Rest<ValueOrKwargs>| {
        unknown(&format!("query('{name}')"), Origin::Run)
    });
    ansible_filters::add(&mut env);
    for name in filters {
        if !ansible_filters::is_known(name) {
            let shown = name.clone();
            env.add_filter(name.clone(), move |value: Value, _: Rest<ValueOrKwargs>| {
                let of = as_unknown(&value).map_or_else(|| value.to_string(), |u| u.name.clone());
                unknown(&format!("{of} | {shown}"), Origin::Run)
            });
        }
    }
    for name in tests {
        if !ansible_filters::is_known_test(name) {
            let shown = name.clone();
            env.add_test(
                name.clone(),
                move |_: Value, _: Rest<ValueOrKwargs>| -> Result<bool, Error> {
                    Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("test {shown} is not known"),
                    ))
                },
            );
        }
    }
    env
}

/// `{% if … %}` as scanned: the condition's value when it reads only known
/// values, else the branch this render takes.
fn condition(state: &State<'_, '_>, index: usize) -> Result<bool, Error> {
    let refused = || Error::new(ErrorKind::InvalidOperation, "too many unknown conditions");
    let (shared, text) = scanned_expression(state, index).ok_or_else(refused)?;
    let known = || -> Option<bool> {
        let expression = state.env().compile_expression(&text).ok()?;
        let mut names = BTreeMap::new();
        for name in expression.undeclared_variables(false) {
            let Some(value) = state.lookup(&name) else {
                continue;
            };
            match as_unknown(&value).map(|u| u.origin) {
                Some(Origin::Run) => return None,
                // Nobody sets it: undefined, as Ansible sees it.
                Some(Origin::Unset) => {}
                None => {
                    names.insert(name, value);
                }
            }
        }
        let value = expression.eval(Value::from(names)).ok()?;
        if as_unknown(&value).is_some_and(|u| u.origin == Origin::Run) {
            return None;
        }
        Some(value.is_true())
    };
    match known() {
        Some(holds) => Ok(holds),
        None => shared.decide(index).ok_or_else(refused),
    }
}

/// `{{ a if b else c }}` as scanned: its value, or unknown when it reads
/// a value only a run knows.
fn inline_value(state: &State<'_, '_>, index: usize) -> Result<Value, Error> {
    let (_, text) = scanned_expression(state, index).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            "an expression scar did not scan",
        )
    })?;
    let expression = state.env().compile_expression(&text)?;
    inline_conditional(&expression, &text, |name| state.lookup(name))
}

/// The role's variables and the expression the scan numbered `index`.
fn scanned_expression(state: &State<'_, '_>, index: usize) -> Option<(Arc<Shared>, String)> {
    let context = state.lookup("__scar")?;
    let shared = context.downcast_object_ref::<Context>()?.0.clone();
    let text = shared.conditions.lock().ok()?.get(index)?.0.clone();
    Some((shared, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::units::role::Variable;

    fn variables(entries: &[(&str, &str)]) -> Variables {
        let mut variables = Variables::default();
        for (i, (name, yaml)) in entries.iter().enumerate() {
            let text = format!("{name}: {yaml}\n");
            let node = crate::model::parse::yaml::parse_documents(&text).unwrap()[0]
                .get(name)
                .unwrap()
                .clone();
            let line = i as u32 + 1;
            variables.values.insert(
                name.to_string(),
                Variable {
                    value: node,
                    at: SourceRef::on_line(
                        Arc::from("roles/r/defaults/main.yml"),
                        Span::on_line(line, 1, name.len() as u32),
                        &text,
                    ),
                },
            );
        }
        variables.files.push(Arc::from("roles/r/defaults/main.yml"));
        variables
    }

    fn render_text(template: &str, vars: &Variables) -> Option<RenderedTemplate> {
        let file = SourceFile::new(Arc::from("roles/r/templates/t.j2"), template.to_string());
        let scope = Scope {
            jinja_in_values: std::sync::OnceLock::new(),
            condition: None,
            variables: Arc::new(Variables {
                values: vars.values.clone(),
                runtime: vars.runtime.clone(),
                files: vars.files.clone(),
            }),
        };
        render(&file, &[scope])
    }

    #[test]
    fn an_inline_if_over_a_value_only_a_run_knows_is_unknown_not_a_branch() {
        let vars = variables(&[
            ("size", "5"),
            (
                "dns_min_replicas",
                "\"{{ [2, groups['k8s_cluster'] | length] | min }}\"",
            ),
            (
                "single_point",
                "\"{{ 'true' if dns_min_replicas | int > 1 else 'false' }}\"",
            ),
            ("mode", "\"{{ 'big' if size > 3 else 'small' }}\""),
        ]);
        let rendered = render_text(
            "a={{ 'x' if ansible_memtotal_mb > 3 else 'y' }}\nb={{ single_point }}\nc={{ mode }} {{- ' ' ~ ('on' if size > 9 else 'off') }}\nd={{ 'set' if missing is defined else 'unset' }}\n{% set cpus = 4 if ansible_processor_vcpus > 8 else 2 %}\n{%- set half = 'a' if size > 2 else 'b' %}\ne={{ cpus }} {{ half }}\n",
            &vars,
        )
        .unwrap();
        assert_eq!(rendered.variants.len(), 1);
        assert_eq!(
            rendered.variants[0].text,
            "a={{ 'x' if ansible_memtotal_mb > 3 else 'y' }}\n\
             b={{ 'true' if dns_min_replicas | int > 1 else 'false' }}\n\
             c=big off\n\
             d=unset\n\
             e={{ 4 if ansible_processor_vcpus > 8 else 2 }} a\n"
        );
        assert!(has_inline_if("a if b else c") && has_inline_if("(x)if(y)else z"));
        assert!(!has_inline_if("'a if b' ~ iffy ~ \"if\"") && !has_inline_if("gif | elif"));
    }

    #[test]
    fn renders_with_the_role_variables_and_keeps_the_way_back_to_each_line() {
        let vars = variables(&[("etcd_memory", "1024M"), ("name", "etcd")]);
        let rendered = render_text(
            "#!/bin/sh\n{% if name == 'etcd' %}\ndocker run \\\n  --memory={{ etcd_memory }} \\\n{% endif %}\n  --name={{ name }}\n",
            &vars,
        )
        .unwrap();
        assert_eq!(rendered.variants.len(), 1);
        let variant = &rendered.variants[0];
        assert_eq!(
            variant.text,
            "#!/bin/sh\ndocker run \\\n  --memory=1024M \\\n  --name=etcd\n"
        );
        assert_eq!(variant.lines, vec![1, 3, 4, 6]);
        assert!(variant.conditions.is_empty());
        let settings = &variant.settings[&4];
        assert_eq!(settings[0].name, "etcd_memory");
        assert_eq!(settings[0].at.span.line, 1);
    }

    #[test]
    fn unknowns_print_as_placeholders_and_unset_variables_take_their_default() {
        let vars = variables(&[("known", "yes")]);
        let rendered = render_text(
            "a={{ ansible_hostname }}\nb={{ nobody_sets | default('x') }}\nc={{ ansible_fqdn | default('x') }}\nd={{ known | bool }}\ne={{ lookup('env', 'HOME') | upper }}\nf={{ 'v' | some_plugin_filter }} g={{ 'G' | lower }}\nh={{ lookup('env', 'HOME', default='/') }} i={{ 'p' | password_hash('sha512', rounds=5000) }}\n",
            &vars,
        )
        .unwrap();
        assert_eq!(
            rendered.variants[0].text,
            "a={{ ansible_hostname }}\nb=x\nc={{ ansible_fqdn }}\nd=True\ne={{ lookup('env') | upper }}\nf={{ v | some_plugin_filter }} g=g\nh={{ lookup('env') }} i={{ p | password_hash }}\n"
        );
    }

    #[test]
    fn a_version_condition_on_a_known_version_is_decided_and_on_an_unset_one_splits() {
        let template =
            "{% if kube_version is version('v1.24.0', '<') %}old{% else %}new{% endif %}\n";
        let decided = render_text(template, &variables(&[("kube_version", "v1.29.3")])).unwrap();
        assert_eq!(decided.variants.len(), 1);
        assert_eq!(decided.variants[0].text, "new");
        assert!(decided.variants[0].conditions.is_empty());
        let split = render_text(template, &variables(&[])).unwrap();
        let texts: Vec<&str> = split.variants.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(texts, ["new", "old"]);
    }

    #[test]
    fn a_condition_on_a_host_fact_in_a_default_splits_the_render() {
        let vars = variables(&[(
            "etcd_memory_limit",
            "\"{% if ansible_memtotal_mb < 4096 %}512M{% else %}0{% endif %}\"",
        )]);
        let rendered = render_text(
            "--memory={{ etcd_memory_limit|regex_replace('Mi', 'M') }}\n",
            &vars,
        )
        .unwrap();
        let texts: Vec<(&str, Vec<String>)> = rendered
            .variants
            .iter()
            .map(|v| {
                (
                    v.text.as_str(),
                    v.conditions.iter().map(Condition::describe).collect(),
                )
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                (
                    "--memory=0\n",
                    vec!["on hosts where not (ansible_memtotal_mb < 4096)".to_string()]
                ),
                (
                    "--memory=512M\n",
                    vec!["on hosts where ansible_memtotal_mb < 4096".to_string()]
                ),
            ]
        );
        assert_eq!(
            rendered.variants[1].conditions[0].at.path.as_ref(),
            "roles/r/defaults/main.yml"
        );
    }

    #[test]
    fn branches_that_write_the_same_text_are_one_render_and_too_many_conditions_are_none() {
        let vars = variables(&[]);
        let same = render_text(
            "{% if ansible_os_family == 'Debian' %}\nx\n{% else %}\nx\n{% endif %}\n",
            &vars,
        )
        .unwrap();
        assert_eq!(same.variants.len(), 1);
        assert!(same.variants[0].conditions.is_empty());
        let many = "{% if ansible_a %}a{% endif %}{% if ansible_b %}b{% endif %}{% if ansible_c %}c{% endif %}{% if ansible_d %}d{% endif %}\n";
        assert!(render_text(many, &vars).is_none());
        let three = "{% if ansible_a %}a{% endif %}{% if ansible_b %}b{% endif %}{% if ansible_c %}c{% endif %}\n";
        assert_eq!(render_text(three, &vars).unwrap().variants.len(), 8);
    }

    #[test]
    fn raw_blocks_and_comments_are_jinja_s_and_a_loop_over_an_unknown_is_not_rendered() {
        let vars = variables(&[]);
        let rendered = render_text(
            "{# a comment #}\n{% raw %}\n{{ kept }}\n{% endraw %}\nend\n",
            &vars,
        )
        .unwrap();
        assert_eq!(rendered.variants[0].text, "{{ kept }}\nend\n");
        assert_eq!(rendered.variants[0].lines, vec![3, 5]);
        assert!(render_text("{% for h in groups['etcd'] %}{{ h }}{% endfor %}\n", &vars).is_none());
    }

    #[test]
    fn a_variable_that_reads_itself_is_unknown_and_an_unclosed_tag_is_not_rendered() {
        let vars = variables(&[("a", "\"{{ b }}\""), ("b", "\"x{{ a }}\"")]);
        let rendered = render_text("v={{ a }}\n", &vars).unwrap();
        assert_eq!(rendered.variants[0].text, "v=x{{ a }}\n");
        assert!(render_text("v={{ a é\n", &vars).is_none());
    }

    #[test]
    fn no_cut_of_a_real_template_or_default_panics() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/ansible");
        let texts: Vec<String> = [
            "kubespray-17f9242b/roles/etcd/templates/etcd.j2",
            "kubespray-later/roles/etcd/templates/etcd-docker.service.j2",
            "kubespray-17f9242b/roles/etcd/defaults/main.yml",
        ]
        .iter()
        .map(|p| std::fs::read_to_string(base.join(p)).unwrap() + "é{{ '\"{% #}")
        .collect();
        let vars = variables(&[(
            "etcd_memory_limit",
            "\"{% if ansible_memtotal_mb < 4096 %}512M{% else %}0{% endif %}\"",
        )]);
        for text in &texts {
            for (cut, _) in text.char_indices() {
                for piece in [&text[..cut], &text[cut..]] {
                    let _ = render_text(piece, &vars);
                    let _ = render_text(&format!("{{{{ {piece} }}}}"), &vars);
                }
            }
        }
    }

    #[test]
    fn every_template_of_a_later_kubespray_etcd_role_renders() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/ansible/kubespray-later")
            .canonicalize()
            .unwrap();
        let role = root.join("roles/etcd");
        let paths = crate::input::units::Paths::new(&root);
        let scopes = Scope::all_of_role(&role, &[], &paths);
        for name in ["etcd-host.service.j2", "etcd-docker.service.j2"] {
            let text = std::fs::read_to_string(role.join("templates").join(name)).unwrap();
            let file = SourceFile::new(Arc::from(name), text);
            let rendered = render(&file, &scopes).unwrap_or_else(|| panic!("{name} renders"));
            assert!(
                rendered.variants.iter().all(|v| !v.text.contains("{%")),
                "{name}"
            );
        }
        let text = std::fs::read_to_string(role.join("templates/etcd-host.service.j2")).unwrap();
        let rendered = render(&SourceFile::new(Arc::from("t"), text), &scopes).unwrap();
        let starts: Vec<(&str, String)> = rendered
            .variants
            .iter()
            .map(|v| {
                let start = v
                    .text
                    .lines()
                    .find(|l| l.starts_with("ExecStart="))
                    .unwrap();
                (start, v.conditions[0].describe())
            })
            .collect();
        assert_eq!(
            starts,
            vec![
                (
                    "ExecStart={{ bin_dir }}/etcd -proxy on",
                    "on hosts where not (inventory_hostname in groups['etcd'])".to_string()
                ),
                (
                    "ExecStart={{ bin_dir }}/etcd",
                    "on hosts where inventory_hostname in groups['etcd']".to_string()
                ),
            ]
        );
    }
}
