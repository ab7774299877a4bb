//! Teams' own rules: policy files of CEL validations, the expression
//! language of Kubernetes ValidatingAdmissionPolicy, checked on every
//! object the built-in rules see (plain files, Helm and Kustomize renders).
//!
//! ```yaml
//! id: team/prod-needs-two-replicas
//! severity: warning
//! description: Production Deployments run at least two replicas.
//! match:
//!   kinds: ["apps/v1/Deployment", "apps/v1/StatefulSet"]
//!   namespaces: ["prod-*"]
//! validations:
//!   - expression: "has(object.spec.replicas) && object.spec.replicas >= 2"
//!     message: "production workloads need two replicas or more"
//!     path: spec.replicas
//! ```
//!
//! A policy becomes a [`Rule`] in the registry: its findings go through
//! suppressions, the baseline and every output as built-in ones do. One that
//! reads `namespaceObject` or `related` is decided once the whole run is
//! indexed, through the same [`Lookup`] the built-in rules ask.

mod expression;
mod read;
mod related;
mod value;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cel::{Context, Value as CelValue};

use crate::check::finding::Severity;
use crate::check::params::{Params, Policy};
use crate::check::rules::{Diagnosis, Emitter, ObjectVariables, Registry, Rule};
use crate::model::index::Lookup;
use crate::model::k8s::Object;
use crate::model::parse::yaml::Node;
use crate::model::settings_file::{read_yaml, ConfigError, Problems};
use crate::model::source::Span;

use expression::Expression;
use related::Subject;

/// A team's policy, compiled.
pub(crate) struct UserPolicy {
    id: String,
    severity: Severity,
    /// What `scar rules` prints, as a built-in policy's `summary`.
    summary: String,
    help: String,
    kinds: Option<Vec<KindPattern>>,
    namespaces: Option<Vec<Pattern>>,
    validations: Arc<[Validation]>,
    /// What `scar explain` prints: the description and every expression.
    doc: String,
    /// A validation reads `namespaceObject` or `related`.
    needs_index: bool,
    /// The policy file, and its `id:` line.
    file: PathBuf,
    id_span: Span,
}

/// One of `match.kinds`: `apps/v1/Deployment`, or a bare `Deployment` for
/// any apiVersion.
pub(crate) struct KindPattern {
    api_version: Option<Pattern>,
    kind: Pattern,
}

/// Compared as text unless it has glob characters: every object meets every
/// policy's `match`, so the common case stays a string comparison.
pub(crate) enum Pattern {
    Exact(String),
    Glob(globset::GlobMatcher),
}

impl Pattern {
    fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Exact(exact) => exact == text,
            Pattern::Glob(glob) => glob.is_match(text),
        }
    }
}

pub(crate) struct Validation {
    expression: Expression,
    message: Option<String>,
    message_expression: Option<Expression>,
    path: Option<FieldPath>,
}

/// Where a finding points: `spec.template.spec.containers[0].image`.
pub(crate) struct FieldPath(Vec<Step>);

pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// Why a folder of policies could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The folder itself cannot be read.
    Folder(PathBuf, std::io::Error),
    /// Mistakes in its files, each with file, line and column.
    Invalid(Vec<ConfigError>),
}

impl Registry {
    /// Adds the policies of these folders (those not read already) as rules.
    pub fn load_policies(&mut self, folders: &[PathBuf]) -> Result<(), LoadError> {
        let new = self
            .unread_policy_folders(folders)
            .map_err(|(folder, e)| LoadError::Folder(folder, e))?;
        let mut errors = Vec::new();
        for policy in load_folders(&new)? {
            if self.get(policy.id()).is_some() {
                errors.push(policy.defined_twice());
                continue;
            }
            let settings = policy.policy();
            self.add(Box::new(policy), settings);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(LoadError::Invalid(errors))
        }
    }
}

/// Every policy in these folders' `*.yaml` and `*.yml` files (one per YAML
/// document), in file order; all mistakes are reported, not only the first.
pub(crate) fn load_folders(folders: &[PathBuf]) -> Result<Vec<UserPolicy>, LoadError> {
    let mut policies = Vec::new();
    let mut errors = Vec::new();
    for folder in folders {
        let entries =
            std::fs::read_dir(folder).map_err(|e| LoadError::Folder(folder.clone(), e))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        for file in files {
            match load_file(&file) {
                Ok(mut loaded) => policies.append(&mut loaded),
                Err(mut found) => errors.append(&mut found),
            }
        }
    }
    if errors.is_empty() {
        Ok(policies)
    } else {
        Err(LoadError::Invalid(errors))
    }
}

fn load_file(path: &Path) -> Result<Vec<UserPolicy>, Vec<ConfigError>> {
    let (text, docs) = read_yaml(path, "policy file")?;
    let mut problems = Problems::default();
    let mut policies = Vec::new();
    for doc in &docs {
        if let Some(fields) = read::policy(doc, &text, &mut problems) {
            let span = doc.get("id").map_or(doc.span, |id| id.span);
            policies.push(UserPolicy::new(fields, path.to_path_buf(), span));
        }
    }
    problems.into_result(path).map(|()| policies)
}

impl UserPolicy {
    fn new(fields: read::Fields, file: PathBuf, id_span: Span) -> UserPolicy {
        let needs_index = fields.validations.iter().any(|v| {
            v.expression.needs_index || v.message_expression.as_ref().is_some_and(|m| m.needs_index)
        });
        let mut doc = format!(
            "# {}\n\n{}\n\n## Validations\n",
            fields.id, fields.description
        );
        for validation in fields.validations.iter() {
            doc.push_str(&format!("- `{}`", validation.expression.source));
            if let Some(message) = &validation.message {
                doc.push_str(&format!(": {message}"));
            }
            doc.push('\n');
        }
        if let Some(help) = &fields.help {
            doc.push_str(&format!("\n## What to write instead\n{help}\n"));
        }
        let help = fields
            .help
            .unwrap_or_else(|| format!("`scar explain {}` shows the policy", fields.id));
        let summary = fields
            .summary
            .unwrap_or_else(|| fields.description.lines().next().unwrap_or("").to_string());
        UserPolicy {
            id: fields.id,
            severity: fields.severity,
            summary,
            help,
            kinds: fields.kinds,
            namespaces: fields.namespaces,
            validations: fields.validations.into(),
            doc,
            needs_index,
            file,
            id_span,
        }
    }

    /// The error of a second policy with an id already taken.
    pub fn defined_twice(&self) -> ConfigError {
        ConfigError {
            path: self.file.clone(),
            span: self.id_span,
            message: format!("policy `{}` is defined twice", self.id),
        }
    }

    /// Its entry in the registry, in the built-in policies' terms: id,
    /// severity, and the summary `scar rules` prints (the first line of the
    /// description unless `summary` is given).
    pub fn policy(&self) -> Policy {
        Policy {
            id: self.id.clone(),
            severity: self.severity,
            summary: self.summary.clone(),
            params: Params::default(),
        }
    }

    fn applies_to(&self, object: &Object<'_>) -> bool {
        let kind_matches = self.kinds.as_ref().is_none_or(|kinds| {
            kinds.iter().any(|pattern| {
                pattern.kind.matches(object.kind)
                    && pattern
                        .api_version
                        .as_ref()
                        .is_none_or(|version| version.matches(object.api_version))
            })
        });
        let namespace_matches = self.namespaces.as_ref().is_none_or(|patterns| {
            !object.namespace.is_empty() && patterns.iter().any(|p| p.matches(object.namespace))
        });
        kind_matches && namespace_matches
    }
}

impl Rule for UserPolicy {
    fn id(&self) -> &str {
        &self.id
    }

    fn doc(&self) -> &str {
        &self.doc
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        if !self.applies_to(object) {
            return;
        }
        let own = ObjectScope::new(object.node);
        let shared = out.object_scope().unwrap_or(&own);
        if self.needs_index {
            let node = shared.owned();
            let subject = Arc::new(Subject::of(object));
            for (i, validation) in self.validations.iter().enumerate() {
                let at = validation.points_at(object.node);
                let validations = self.validations.clone();
                let (node, subject, help) = (node.clone(), subject.clone(), self.help.clone());
                out.report_if(at, move |lookup: &Lookup| {
                    let mut scope = expression::RUNTIME.scope();
                    bind(&mut scope, &node);
                    if let Some(namespace) = lookup.namespace_object(&subject.namespace) {
                        scope.add_variable_as_val("namespaceObject", value::to_val(namespace));
                    }
                    scope.add_variable_from_value("related", subject.related(lookup));
                    validations[i].judge(&scope).map(|message| Diagnosis {
                        message,
                        help,
                        ..Diagnosis::default()
                    })
                });
            }
            return;
        }
        let scope = shared.scope();
        for validation in self.validations.iter() {
            if let Some(message) = validation.judge(scope) {
                out.report(
                    validation.points_at(object.node),
                    message,
                    self.help.clone(),
                );
            }
        }
    }
}

/// One object's variables, bound once for every policy that checks it:
/// converting its tree costs more than most expressions.
pub(crate) struct ObjectScope<'n> {
    object: &'n Node,
    scope: OnceCell<Context<'n, 'n>>,
    /// A copy of the tree for policies decided after every file is read.
    owned: OnceCell<Arc<Node>>,
}

impl<'n> ObjectScope<'n> {
    pub fn new(object: &'n Node) -> ObjectScope<'n> {
        ObjectScope {
            object,
            scope: OnceCell::new(),
            owned: OnceCell::new(),
        }
    }
}

impl ObjectVariables for ObjectScope<'_> {
    fn scope(&self) -> &Context<'_, '_> {
        self.scope.get_or_init(|| {
            let mut scope = expression::RUNTIME.scope();
            bind(&mut scope, self.object);
            scope
        })
    }

    fn owned(&self) -> Arc<Node> {
        self.owned
            .get_or_init(|| Arc::new(self.object.clone()))
            .clone()
    }
}

/// `object`; the runtime's root binds `oldObject` and `namespaceObject` to
/// null, and a policy that reads the index binds the Namespace over it.
fn bind<'v>(scope: &mut Context<'_, 'v>, object: &'v Node) {
    scope.add_variable_as_val("object", value::to_val(object));
}

impl Validation {
    /// `None` when the object passes; else the finding's message.
    fn judge(&self, scope: &Context<'_, '_>) -> Option<String> {
        let source = &self.expression.source;
        match self.expression.evaluate(scope) {
            Ok(CelValue::Bool(true)) => None,
            Ok(CelValue::Bool(false)) => Some(self.failure_message(scope)),
            Ok(other) => Some(format!(
                "`{source}` gave {}, not true or false",
                other.type_of()
            )),
            Err(err) => Some(format!(
                "`{source}` cannot be evaluated on this object: {err} (guard optional fields with has())"
            )),
        }
    }

    /// As ValidatingAdmissionPolicy: `messageExpression` when it gives a
    /// non-empty single line, else `message`, else the expression.
    fn failure_message(&self, scope: &Context<'_, '_>) -> String {
        let from_expression = self
            .message_expression
            .as_ref()
            .and_then(|m| match m.evaluate(scope) {
                Ok(CelValue::String(text)) => Some(text.trim().to_string()),
                _ => None,
            })
            .filter(|text| !text.is_empty() && !text.contains('\n'));
        from_expression
            .or_else(|| self.message.clone())
            .unwrap_or_else(|| format!("failed expression: {}", self.expression.source))
    }

    /// The value `path` names (its key, for a mapping or a list), or the
    /// key of the deepest part of it the object has; the object's start
    /// without a path.
    fn points_at(&self, object: &Node) -> Span {
        let start = Span::point(object.span.line, object.span.column);
        let Some(FieldPath(steps)) = &self.path else {
            return start;
        };
        let (mut node, mut label) = (object, start);
        for step in steps {
            let next = match step {
                Step::Key(key) => node.entry(key),
                Step::Index(i) => node.items().get(*i).map(|item| (item, item)),
            };
            let Some((key, value)) = next else {
                return label;
            };
            node = value;
            label = key.span;
        }
        match node.value {
            crate::model::parse::yaml::Value::Scalar(_) if !node.is_null() => node.span,
            _ => label,
        }
    }
}
