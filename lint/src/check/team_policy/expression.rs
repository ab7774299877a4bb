//! CEL expressions of a policy: compiled once when the policy loads, checked
//! for what cel-rust leaves to run time (unknown variables and functions,
//! helpers called the wrong way), and evaluated per object.

use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::common::types::CelNull;
use cel::extractors::This;
use cel::{Context, Env, ExecutionError, Program, Value};

/// The variables a policy sees, as in ValidatingAdmissionPolicy.
pub(crate) const VARIABLES: [&str; 4] = ["object", "oldObject", "namespaceObject", "related"];

/// `related.<helper>(object)`: what the resource index knows about an object.
pub(crate) const HELPERS: [&str; 3] = ["services", "pdbs", "hpa"];

/// The CEL environment every policy compiles and runs in: the standard
/// library with the strings and lists extensions Kubernetes enables, and the
/// `related` helpers.
pub(crate) struct Runtime {
    env: Arc<Env>,
    root: Context<'static, 'static>,
}

pub(crate) static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    env.add_extension(cel::extensions::strings)
        .expect("the strings extension registers once");
    env.add_extension(cel::extensions::lists)
        .expect("the lists extension registers once");
    let env = Arc::new(env);
    let mut root = Context::with_env(env.clone());
    // A file creates an object, it does not update one; and the Namespace
    // is null unless the run defines it.
    root.add_variable_as_val("oldObject", Box::new(CelNull));
    root.add_variable_as_val("namespaceObject", Box::new(CelNull));
    for helper in HELPERS {
        root.add_function(helper, move |This(related): This<Value>, _object: Value| {
            helper_result(&related, helper)
        })
        .expect("helper names are not standard functions");
    }
    Runtime { env, root }
});

/// `related` is bound to a map of each helper's answer for the object under
/// check; the helper hands back its entry.
fn helper_result(related: &Value, helper: &str) -> Result<Value, ExecutionError> {
    match related {
        Value::Map(map) => map
            .get(&cel::objects::Key::from(helper.to_string()))
            .cloned()
            .ok_or_else(|| ExecutionError::function_error(helper, "not answered for this object")),
        _ => Err(ExecutionError::function_error(
            helper,
            "called on something other than `related`",
        )),
    }
}

impl Runtime {
    /// A scope for one evaluation, under the shared functions.
    pub(crate) fn scope<'v>(&'v self) -> Context<'v, 'v> {
        self.root.new_inner_scope()
    }
}

/// A mistake in an expression, at a 1-based line and column of its text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mistake {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

pub(crate) struct Expression {
    pub source: String,
    program: Program,
    /// It reads `namespaceObject` or `related`: it can only be decided once
    /// every file is indexed.
    pub needs_index: bool,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

impl Expression {
    pub(crate) fn compile(source: &str) -> Result<Expression, Vec<Mistake>> {
        let program = RUNTIME.env.compile(source).map_err(|errors| {
            errors
                .errors
                .iter()
                .map(|e| Mistake {
                    line: e.pos.0.max(1) as u32,
                    column: e.pos.1.max(1) as u32,
                    message: format!("CEL syntax error: {}", e.msg),
                })
                .collect::<Vec<_>>()
        })?;
        let mut check = Check {
            source,
            program: &program,
            scope: Vec::new(),
            mistakes: Vec::new(),
            needs_index: false,
        };
        check.expr(program.expression());
        if !check.mistakes.is_empty() {
            return Err(check.mistakes);
        }
        let needs_index = check.needs_index;
        Ok(Expression {
            source: source.to_string(),
            program,
            needs_index,
        })
    }

    pub(crate) fn evaluate(&self, scope: &Context<'_, '_>) -> Result<Value, ExecutionError> {
        self.program.execute(scope)
    }
}

/// Walks an expression for what a type checker would refuse and cel-rust
/// would only find on an object that reaches it.
struct Check<'a> {
    source: &'a str,
    program: &'a Program,
    /// Variables bound by comprehensions (`all(c, …)`) around the node.
    scope: Vec<&'a str>,
    mistakes: Vec<Mistake>,
    needs_index: bool,
}

impl<'a> Check<'a> {
    fn expr(&mut self, node: &'a IdedExpr) {
        match &node.expr {
            Expr::Ident(name) => self.ident(node, name),
            Expr::Select(select) => {
                if is_ident(&select.operand, "related") {
                    self.mistake(&select.operand, related_usage());
                } else {
                    self.expr(&select.operand);
                }
            }
            Expr::Call(call) => {
                let on_related = call
                    .target
                    .as_deref()
                    .is_some_and(|t| is_ident(t, "related"));
                if HELPERS.contains(&call.func_name.as_str()) || on_related {
                    let well_formed = on_related
                        && HELPERS.contains(&call.func_name.as_str())
                        && matches!(call.args.as_slice(), [arg] if is_ident(arg, "object"));
                    if well_formed {
                        self.needs_index = true;
                    } else {
                        self.mistake(node, related_usage());
                    }
                    return;
                }
                self.function(node, &call.func_name);
                if let Some(target) = &call.target {
                    self.expr(target);
                }
                for arg in &call.args {
                    self.expr(arg);
                }
            }
            Expr::Comprehension(comprehension) => {
                self.expr(&comprehension.iter_range);
                self.expr(&comprehension.accu_init);
                let bound = self.scope.len();
                self.scope.push(&comprehension.iter_var);
                if let Some(second) = &comprehension.iter_var2 {
                    self.scope.push(second);
                }
                self.scope.push(&comprehension.accu_var);
                self.expr(&comprehension.loop_cond);
                self.expr(&comprehension.loop_step);
                self.expr(&comprehension.result);
                self.scope.truncate(bound);
            }
            Expr::List(list) => list.elements.iter().for_each(|e| self.expr(e)),
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(entry) = &entry.expr {
                        self.expr(&entry.key);
                        self.expr(&entry.value);
                    }
                }
            }
            Expr::Struct(fields) => {
                for entry in &fields.entries {
                    if let EntryExpr::StructField(field) = &entry.expr {
                        self.expr(&field.value);
                    }
                }
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    fn ident(&mut self, node: &IdedExpr, name: &str) {
        if self.scope.contains(&name) {
            return;
        }
        match name {
            "related" => self.mistake(node, related_usage()),
            "namespaceObject" => self.needs_index = true,
            _ if VARIABLES.contains(&name) => {}
            _ => self.mistake(
                node,
                format!(
                    "unknown variable `{name}` (a policy sees object, oldObject, namespaceObject and related)"
                ),
            ),
        }
    }

    /// Operators and the macros' internals are calls too; their names
    /// start with `_` or `@`.
    fn function(&mut self, node: &IdedExpr, name: &str) {
        if name.starts_with(['_', '@']) || is_known_function(name) {
            return;
        }
        self.mistake(node, format!("unknown function `{name}`"));
    }

    fn mistake(&mut self, node: &IdedExpr, message: String) {
        let mut offset = self
            .program
            .source_info()
            .offset_for(node.id)
            .map_or(0, |(start, _)| start as usize);
        // A call is placed at its `(`; its name, just before, is what to fix.
        if let Expr::Call(call) = &node.expr {
            let name_length = call.func_name.chars().count();
            let before: String = self
                .source
                .chars()
                .skip(offset.saturating_sub(name_length))
                .take(name_length)
                .collect();
            if before == call.func_name {
                offset -= name_length;
            }
        }
        let (line, column) = line_and_column(self.source, offset);
        self.mistakes.push(Mistake {
            line,
            column,
            message,
        });
    }
}

fn related_usage() -> String {
    format!(
        "`related` is used as related.{}(object)",
        HELPERS.join("(object), related.")
    )
}

fn is_ident(node: &IdedExpr, name: &str) -> bool {
    matches!(&node.expr, Expr::Ident(ident) if ident == name)
}

/// Receivers of every type a member function may be declared on.
const RECEIVERS: [&str; 10] = [
    "",
    "''.",
    "b''.",
    "[].",
    "{}.",
    "(0).",
    "(0u).",
    "(0.0).",
    "duration('1s').",
    "timestamp('2000-01-01T00:00:00Z').",
];

/// Whether the runtime has a function of this name: called without
/// arguments, a function that exists fails on its arguments, one that does
/// not on its name.
fn is_known_function(name: &str) -> bool {
    RECEIVERS.iter().any(|receiver| {
        let Ok(program) = RUNTIME.env.compile(&format!("{receiver}{name}()")) else {
            return false;
        };
        !matches!(
            program.execute(&RUNTIME.scope()),
            Err(ExecutionError::UndeclaredReference(missing)) if missing.as_str() == name
        )
    })
}

/// The 1-based line and column of a character offset in `text`.
pub(crate) fn line_and_column(text: &str, offset: usize) -> (u32, u32) {
    let mut line = 1;
    let mut column = 1;
    for c in text.chars().take(offset) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mistakes(source: &str) -> Vec<(u32, u32, String)> {
        match Expression::compile(source) {
            Ok(_) => Vec::new(),
            Err(found) => found
                .into_iter()
                .map(|m| (m.line, m.column, m.message))
                .collect(),
        }
    }

    #[test]
    fn comprehension_variables_standard_functions_and_extensions_are_known() {
        for source in [
            "object.spec.template.spec.containers.all(c, c.image.endsWith(':1'))",
            "object.spec.containers.map(c, c.name).join(', ') != ''",
            "object.metadata.name.lowerAscii().startsWith('a')",
            "matches(object.metadata.name, '^a') && size(object.spec) > 0",
            "oldObject == null && namespaceObject == null",
            "duration('1s') < duration('2s')",
        ] {
            assert_eq!(mistakes(source), Vec::new(), "{source}");
        }
    }

    #[test]
    fn unknown_names_and_misused_helpers_are_placed_in_the_expression() {
        assert_eq!(
            mistakes("object.spec.containers.all(c, d.image == '')"),
            vec![(
                1,
                31,
                "unknown variable `d` (a policy sees object, oldObject, namespaceObject and related)"
                    .to_string()
            )]
        );
        assert_eq!(
            mistakes("true &&\n  object.metadata.name.endsWit('x')"),
            vec![(2, 24, "unknown function `endsWit`".to_string())]
        );
        let misuse = mistakes("related.pdbs(object.spec).size() > 0 || related == null");
        assert_eq!(misuse.len(), 2, "{misuse:?}");
        assert_eq!((misuse[0].0, misuse[0].1), (1, 9));
        assert_eq!((misuse[1].0, misuse[1].1), (1, 41));
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let found = mistakes("object.spec.replicas >=");
        assert_eq!((found[0].0, found[0].1), (1, 24), "{found:?}");
        assert!(found[0].2.starts_with("CEL syntax error"), "{found:?}");
    }

    #[test]
    fn reading_the_index_is_known_when_compiled() {
        assert!(
            Expression::compile("related.hpa(object) == null")
                .unwrap()
                .needs_index
        );
        assert!(
            Expression::compile("namespaceObject != null")
                .unwrap()
                .needs_index
        );
        assert!(
            !Expression::compile("object.kind == 'Pod'")
                .unwrap()
                .needs_index
        );
    }
}
