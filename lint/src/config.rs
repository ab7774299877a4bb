//! `.scar.yaml`: which rules run, at what severity, with which parameters;
//! which paths are left out; the default namespace.
//!
//! ```yaml
//! namespace: prod
//! exclude: ["vendor/**", "charts/*/templates/**"]
//! rules:
//!   missing-prestop-sleep:
//!     severity: error
//!     params: {min_seconds: 10}
//!   unit-start-timeout-infinite:
//!     enabled: false
//! ```
//!
//! Every mistake is an error naming the file and line: unknown keys,
//! unknown rule ids, parameters a rule does not have, values of the wrong type.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::discover::normalize;
use crate::finding::Severity;
use crate::parse::yaml::{parse_documents, Node, Value};
use crate::policy::Param;
use crate::rules::Registry;
use crate::source::Span;

pub const FILE_NAME: &str = ".scar.yaml";

#[derive(Debug, Default)]
pub struct Config {
    /// The file it was read from; `None` for the built-in defaults.
    pub path: Option<PathBuf>,
    pub namespace: Option<String>,
    exclude: Option<GlobSet>,
    rules: Vec<RuleSettings>,
}

#[derive(Debug, Clone, Default)]
struct RuleSettings {
    id: String,
    enabled: Option<bool>,
    severity: Option<Severity>,
    params: Vec<(String, Param)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub span: Span,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.span.line,
            self.span.column,
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// The nearest `.scar.yaml` in `start` or a folder above it.
pub fn find(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

impl Config {
    pub fn load(path: &Path, registry: &Registry) -> Result<Config, ConfigError> {
        let error = |span: Span, message: String| ConfigError {
            path: path.to_path_buf(),
            span,
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            error(
                Span::point(1, 1),
                format!("cannot read the config file: {e}"),
            )
        })?;
        let docs = parse_documents(&text).map_err(|e| error(e.span, e.message))?;
        let mut config = Config {
            path: Some(path.to_path_buf()),
            ..Config::default()
        };
        let Some(root) = docs.first() else {
            return Ok(config);
        };
        let entries = expect_map(root, "the config file").map_err(|(s, m)| error(s, m))?;
        for (key, value) in entries {
            match key.str().unwrap_or("") {
                "namespace" => {
                    config.namespace = Some(
                        expect_str(value, "namespace")
                            .map_err(|(s, m)| error(s, m))?
                            .to_string(),
                    );
                }
                "exclude" => {
                    config.exclude = Some(exclude_globs(value).map_err(|(s, m)| error(s, m))?);
                }
                "rules" => {
                    for (id, settings) in
                        expect_map(value, "rules").map_err(|(s, m)| error(s, m))?
                    {
                        let rule =
                            read_rule(id, settings, registry).map_err(|(s, m)| error(s, m))?;
                        config.rules.push(rule);
                    }
                }
                other => {
                    return Err(error(
                        key.span,
                        format!("unknown key `{other}` (expected namespace, exclude or rules)"),
                    ))
                }
            }
        }
        Ok(config)
    }

    /// The built-in rules with this config's settings applied.
    pub fn apply(&self, mut registry: Registry) -> Registry {
        for settings in &self.rules {
            let Some(entry) = registry.get_mut(&settings.id) else {
                continue;
            };
            if let Some(enabled) = settings.enabled {
                entry.enabled = enabled;
            }
            if let Some(severity) = settings.severity {
                entry.policy.severity = severity;
            }
            for (name, value) in &settings.params {
                entry.policy.params.set(name, value.clone());
            }
        }
        registry
    }

    /// The `exclude` patterns, anchored at the config file's folder.
    pub fn exclusions(&self) -> Option<Exclusions> {
        let globs = self.exclude.clone()?;
        let root = self.path.as_deref()?.parent()?;
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        Some(Exclusions { root, globs })
    }
}

/// Paths left out of a run, matched relative to the config file's folder.
#[derive(Debug, Clone)]
pub struct Exclusions {
    root: PathBuf,
    globs: GlobSet,
}

impl Exclusions {
    pub fn excludes(&self, path: &Path) -> bool {
        let cwd = std::env::current_dir().unwrap_or_default();
        let cwd = cwd.canonicalize().unwrap_or(cwd);
        let absolute = normalize(&cwd.join(path));
        let relative = absolute.strip_prefix(&self.root).unwrap_or(&absolute);
        self.globs.is_match(relative)
    }
}

type Failure = (Span, String);

fn expect_map<'a>(node: &'a Node, what: &str) -> Result<&'a [(Node, Node)], Failure> {
    match &node.value {
        Value::Map(entries) => Ok(entries),
        _ => Err((node.span, format!("{what} must be a mapping"))),
    }
}

fn expect_str<'a>(node: &'a Node, what: &str) -> Result<&'a str, Failure> {
    match &node.value {
        Value::Scalar(s) if !node.is_null() => Ok(&s.text),
        _ => Err((node.span, format!("`{what}` must be a string"))),
    }
}

fn exclude_globs(node: &Node) -> Result<GlobSet, Failure> {
    let Value::Seq(items) = &node.value else {
        return Err((
            node.span,
            "`exclude` must be a list of glob patterns".to_string(),
        ));
    };
    let mut builder = GlobSetBuilder::new();
    for item in items {
        let pattern = expect_str(item, "exclude")?;
        let glob =
            Glob::new(pattern).map_err(|e| (item.span, format!("bad glob `{pattern}`: {e}")))?;
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|e| (node.span, format!("bad exclude patterns: {e}")))
}

fn read_rule(id_node: &Node, node: &Node, registry: &Registry) -> Result<RuleSettings, Failure> {
    let id = expect_str(id_node, "rule id")?;
    let Some(entry) = registry.get(id) else {
        return Err((
            id_node.span,
            format!("unknown rule `{id}`; `scar rules` lists them"),
        ));
    };
    let mut settings = RuleSettings {
        id: id.to_string(),
        ..RuleSettings::default()
    };
    for (key, value) in expect_map(node, &format!("rules.{id}"))? {
        match key.str().unwrap_or("") {
            "enabled" => {
                settings.enabled = Some(
                    value
                        .bool()
                        .ok_or((value.span, "`enabled` must be true or false".to_string()))?,
                );
            }
            "severity" => {
                let text = expect_str(value, "severity")?;
                settings.severity = Some(text.parse().map_err(|e| (value.span, e))?);
            }
            "params" => {
                for (name_node, param) in expect_map(value, "params")? {
                    let name = expect_str(name_node, "parameter name")?;
                    let default = entry.policy.params.get(name).ok_or_else(|| {
                        let known: Vec<&str> = entry
                            .policy
                            .params
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect();
                        let known = if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        };
                        (
                            name_node.span,
                            format!(
                                "rule `{id}` has no parameter `{name}` (its parameters: {known})"
                            ),
                        )
                    })?;
                    settings
                        .params
                        .push((name.to_string(), typed_like(default, param)?));
                }
            }
            other => {
                return Err((
                    key.span,
                    format!(
                    "unknown key `{other}` in rules.{id} (expected enabled, severity or params)"
                ),
                ))
            }
        }
    }
    Ok(settings)
}

/// A parameter value of the same type as the rule's default.
fn typed_like(default: &Param, node: &Node) -> Result<Param, Failure> {
    let kind = match default {
        Param::Int(_) => "an integer",
        Param::Text(_) => "a string",
        Param::List(_) => "a list of strings",
    };
    let mismatch = || (node.span, format!("expected {kind}"));
    match (default, &node.value) {
        (Param::Int(_), _) => node.int().map(Param::Int).ok_or_else(mismatch),
        (Param::Text(_), Value::Scalar(_)) if !node.is_null() => {
            Ok(Param::Text(node.str().unwrap_or("").to_string()))
        }
        (Param::List(_), Value::Seq(items)) => items
            .iter()
            .map(|i| i.str().map(str::to_string).ok_or_else(mismatch))
            .collect::<Result<_, _>>()
            .map(Param::List),
        _ => Err(mismatch()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, text).unwrap();
        Config::load(&path, &Registry::builtin())
    }

    #[test]
    fn applies_severity_params_and_enabled() {
        let config = load("namespace: prod\nrules:\n  missing-prestop-sleep:\n    severity: error\n    params: {min_seconds: 10}\n  unit-start-timeout-infinite:\n    enabled: false\n").unwrap();
        assert_eq!(config.namespace.as_deref(), Some("prod"));
        let registry = config.apply(Registry::builtin());
        let prestop = registry.get("missing-prestop-sleep").unwrap();
        assert_eq!(prestop.policy.severity, Severity::Error);
        assert_eq!(prestop.policy.params.int("min_seconds"), 10);
        assert!(!registry.get("unit-start-timeout-infinite").unwrap().enabled);
    }

    #[test]
    fn errors_name_the_line_of_the_mistake() {
        let cases = [
            ("namespaces: prod\n", 1, "unknown key `namespaces`"),
            (
                "rules:\n  no-such-rule: {}\n",
                2,
                "unknown rule `no-such-rule`",
            ),
            (
                "rules:\n  missing-prestop-sleep:\n    params:\n      min_seconds: soon\n",
                4,
                "expected an integer",
            ),
            (
                "rules:\n  missing-prestop-sleep:\n    params:\n      max_seconds: 3\n",
                4,
                "has no parameter `max_seconds`",
            ),
            (
                "rules:\n  oom-kill-disabled:\n    severity: fatal\n",
                3,
                "unknown severity",
            ),
            (
                "rules:\n  oom-kill-disabled:\n    enable: false\n",
                3,
                "unknown key `enable`",
            ),
            ("exclude: vendor\n", 1, "must be a list"),
        ];
        for (text, line, message) in cases {
            let err = load(text).unwrap_err();
            assert_eq!(err.span.line, line, "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
            assert!(err.to_string().contains(".scar.yaml:"), "{err}");
        }
    }

    #[test]
    fn excludes_globs_relative_to_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "exclude: [\"vendor/**\", \"**/*.golden\"]\n").unwrap();
        let exclusions = Config::load(&path, &Registry::builtin())
            .unwrap()
            .exclusions()
            .unwrap();
        let root = dir.path().canonicalize().unwrap();
        assert!(exclusions.excludes(&root.join("vendor/x/deploy.yaml")));
        assert!(exclusions.excludes(&root.join("a/b/deploy.yaml.golden")));
        assert!(!exclusions.excludes(&root.join("k8s/deploy.yaml")));
    }
}
