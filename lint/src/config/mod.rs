//! `.scar.yaml`: which rules run, at what severity, with which parameters;
//! which paths are left out; the default namespace; how Helm charts and
//! kustomizations are rendered. It knows the settings of every stage and
//! hands them over (rule ids and policy folders to the registry, `Options`
//! and `RenderSettings` to the engine); no stage reads it back.
//!
//! ```yaml
//! namespace: prod
//! exclude: ["vendor/**", "charts/*/templates/**"]
//! default_excludes: true         # skip examples/, testdata/, vendor/… in walks
//! exclude_dirs: [docs/install]   # more folders to skip, by name or last parts
//! rules:
//!   missing-prestop-sleep:
//!     severity: error
//!     params: {min_seconds: 10}
//!   unit-start-timeout-infinite:
//!     enabled: false
//! helm:
//!   path: /usr/local/bin/helm      # default: helm on PATH
//!   kube_version: "1.34.0"
//!   timeout_seconds: 60
//!   api_versions: [monitoring.coreos.com/v1]   # besides those the version serves
//!   dependencies: fetch            # `helm dependency build` what is not vendored
//!   charts:
//!     deploy/charts/shop:          # relative to this file's folder
//!       default: false             # its own values.yaml alone is not rendered
//!       prod:                      # a values set: one more render
//!         values: [values-prod.yaml]   # relative to the chart
//!         set: {replicaCount: 3}
//! policies: [.scar/policies]     # teams' CEL policies; this is the default
//! kustomize:
//!   timeout_seconds: 60
//!   allow_remote: false            # remote bases reach the network
//!   enable_helm: false             # helmCharts: runs helm
//! ansible:
//!   inventories: [inventory/sample]  # group_vars/all of each, for roles' templates
//! ```
//!
//! Every mistake is an error naming the file and line, and all of them are
//! reported at once: unknown keys, unknown rule ids, parameters a rule does
//! not have, values of the wrong type or impossible ones (`min_replicas: 0`,
//! seconds not above 0), charts and values files that do not exist.

use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::check::finding::Severity;
use crate::check::params::Param;
use crate::check::rules::Registry;
use crate::check::team_policy::LoadError;
use crate::input::discover::{display_path, normalize};
use crate::input::folder_excludes::FolderExcludes;
use crate::input::units::chart::CHART_FILE;
use crate::input::units::render::helm::{Dependencies, SetValue, ValueSet};
use crate::input::units::render::run::RenderSettings;
use crate::model::parse::yaml::{Node, Value};
use crate::model::quantity::kubernetes_bytes;
pub use crate::model::settings_file::ConfigError;
use crate::model::settings_file::{expect_map, expect_str, read_yaml, Failure, Problems};
use crate::model::source::{LineIndex, SourceRef, Span};

pub const FILE_NAME: &str = ".scar.yaml";

#[derive(Debug, Default)]
pub struct Config {
    /// The file it was read from; `None` for the built-in defaults.
    pub path: Option<PathBuf>,
    pub namespace: Option<String>,
    exclude: Option<GlobSet>,
    default_excludes: Option<bool>,
    exclude_dirs: Vec<String>,
    rules: Vec<RuleSettings>,
    render: RenderConfig,
}

/// The `helm:` and `kustomize:` sections.
#[derive(Debug, Default)]
struct RenderConfig {
    helm_path: Option<PathBuf>,
    kube_version: Option<String>,
    helm_timeout: Option<Duration>,
    /// Values sets by chart folder (absolute).
    value_sets: Vec<(PathBuf, ValueSet)>,
    /// Charts whose own values.yaml alone is not rendered.
    without_defaults: Vec<PathBuf>,
    api_versions: Vec<String>,
    dependencies: Option<Dependencies>,
    kustomize_timeout: Option<Duration>,
    allow_remote: Option<bool>,
    enable_helm: Option<bool>,
    /// Inventory folders (absolute) whose `all` variables roles render with.
    ansible_inventories: Vec<PathBuf>,
}

#[derive(Debug, Clone, Default)]
struct RuleSettings {
    id: String,
    enabled: Option<bool>,
    severity: Option<Severity>,
    params: Vec<(String, Param)>,
}

/// The nearest `.scar.yaml` in `start` or a folder above it.
pub fn find(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

impl Config {
    /// Reads a config file; every mistake in it is an error, in the order
    /// they are written, not only the first. The policies it names join
    /// `registry` first, so that `rules:` can set them as built-in ones.
    pub fn load(path: &Path, registry: &mut Registry) -> Result<Config, Vec<ConfigError>> {
        let (text, docs) = read_yaml(path, "config file")?;
        let mut config = Config {
            path: Some(path.to_path_buf()),
            ..Config::default()
        };
        let Some(root) = docs.first() else {
            return Ok(config);
        };
        let mut problems = Problems::default();
        let entries = expect_map(root, "the config file")
            .map_err(|failure| Problems(vec![failure]).into_errors(path))?;
        let policies = entries
            .iter()
            .find(|(key, _)| key.str() == Some("policies"));
        load_policies(
            policies.map(|(_, value)| value),
            path,
            registry,
            &mut problems,
        )?;
        for (key, value) in entries {
            match key.str().unwrap_or("") {
                "policies" => {}
                "namespace" => {
                    config.namespace = problems
                        .keep(expect_str(value, "namespace"))
                        .map(str::to_string);
                }
                "exclude" => config.exclude = problems.keep(exclude_globs(value)),
                "default_excludes" => {
                    config.default_excludes = problems.keep(
                        value
                            .bool()
                            .ok_or((value.span, "expected true or false".to_string())),
                    );
                }
                "exclude_dirs" => {
                    config.exclude_dirs = problems.keep(exclude_dirs(value)).unwrap_or_default();
                }
                "rules" => {
                    for (id, settings) in problems.keep(expect_map(value, "rules")).unwrap_or(&[]) {
                        config
                            .rules
                            .extend(read_rule(id, settings, registry, &mut problems));
                    }
                }
                "helm" => read_helm(value, path, &text, &mut config.render, &mut problems),
                "kustomize" => read_kustomize(value, &mut config.render, &mut problems),
                "ansible" => read_ansible(value, path, &mut config.render, &mut problems),
                other => problems.add(
                    key.span,
                    format!("unknown key `{other}` (expected namespace, exclude, default_excludes, exclude_dirs, rules, policies, helm, kustomize or ansible)"),
                ),
            }
        }
        problems.into_result(path).map(|()| config)
    }

    /// The default render settings with this config's applied.
    pub fn render_settings(&self) -> RenderSettings {
        let mut settings = RenderSettings::default();
        let render = &self.render;
        settings.helm.program.clone_from(&render.helm_path);
        if let Some(version) = &render.kube_version {
            settings.helm.kube_version.clone_from(version);
        }
        if let Some(timeout) = render.helm_timeout {
            settings.helm.timeout = timeout;
        }
        if let Some(timeout) = render.kustomize_timeout {
            settings.kustomize.timeout = timeout;
        }
        settings.kustomize.allow_remote = render.allow_remote.unwrap_or(false);
        settings.kustomize.enable_helm = render.enable_helm.unwrap_or(false);
        settings.kustomize.helm.clone_from(&render.helm_path);
        settings.value_sets.clone_from(&render.value_sets);
        settings
            .without_defaults
            .clone_from(&render.without_defaults);
        settings.helm.api_versions.clone_from(&render.api_versions);
        if let Some(dependencies) = render.dependencies {
            settings.helm.dependencies = dependencies;
        }
        settings
            .ansible_inventories
            .clone_from(&render.ansible_inventories);
        settings
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

impl Config {
    /// The folders walks skip: the built-in list unless `default_excludes:
    /// false` (or `no_defaults`, the command line's say), and `exclude_dirs`.
    pub fn folder_excludes(&self, no_defaults: bool) -> FolderExcludes {
        let defaults = !no_defaults && self.default_excludes.unwrap_or(true);
        FolderExcludes::new(defaults, &self.exclude_dirs)
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

fn exclude_dirs(node: &Node) -> Result<Vec<String>, Failure> {
    let Value::Seq(items) = &node.value else {
        return Err((
            node.span,
            "`exclude_dirs` must be a list of folder names or paths".to_string(),
        ));
    };
    items
        .iter()
        .map(|item| {
            let folder = expect_str(item, "exclude_dirs")?;
            if folder.contains(['*', '?', '[']) {
                return Err((
                    item.span,
                    format!("`{folder}` is a glob; exclude_dirs takes folder names (globs go in `exclude`)"),
                ));
            }
            Ok(folder.trim_matches('/').to_string())
        })
        .collect()
}

fn read_helm(
    node: &Node,
    config: &Path,
    text: &str,
    render: &mut RenderConfig,
    problems: &mut Problems,
) {
    let base = config_folder(config);
    for (key, value) in problems.keep(expect_map(node, "helm")).unwrap_or(&[]) {
        match key.str().unwrap_or("") {
            "path" => {
                render.helm_path = problems
                    .keep(expect_str(value, "helm.path"))
                    .map(|p| base.join(p));
            }
            "kube_version" => {
                render.kube_version = problems
                    .keep(expect_str(value, "helm.kube_version"))
                    .map(str::to_string);
            }
            "timeout_seconds" => render.helm_timeout = problems.keep(seconds(value)),
            "api_versions" => {
                let Value::Seq(items) = &value.value else {
                    problems.add(
                        value.span,
                        "`api_versions` must be a list such as [monitoring.coreos.com/v1]".to_string(),
                    );
                    continue;
                };
                for item in items {
                    if let Some(version) = problems.keep(expect_str(item, "an API version")) {
                        render.api_versions.push(version.to_string());
                    }
                }
            }
            "dependencies" => {
                render.dependencies = match value.str() {
                    Some("fetch") => Some(Dependencies::Fetch),
                    Some("offline") => Some(Dependencies::Offline),
                    _ => {
                        problems.add(value.span, "expected `fetch` or `offline`".to_string());
                        None
                    }
                };
            }
            "charts" => {
                for (chart_key, sets) in problems.keep(expect_map(value, "helm.charts")).unwrap_or(&[]) {
                    let Some(folder) = problems.keep(expect_str(chart_key, "chart folder")) else {
                        continue;
                    };
                    let chart = normalize(&base.join(folder));
                    if !chart.join(CHART_FILE).is_file() {
                        problems.add(
                            chart_key.span,
                            format!("no {CHART_FILE} in {}", chart.display()),
                        );
                        continue;
                    }
                    for (name, set) in problems
                        .keep(expect_map(sets, "a chart's values sets"))
                        .unwrap_or(&[])
                    {
                        if name.str() == Some("default") {
                            match set.bool() {
                                Some(false) => render.without_defaults.push(chart.clone()),
                                Some(true) => {}
                                None => problems.add(
                                    set.span,
                                    "`default` is the chart's own values.yaml: true (rendered, the default) or false".to_string(),
                                ),
                            }
                            continue;
                        }
                        if let Some(set) = read_value_set(name, set, &chart, config, text, problems) {
                            render.value_sets.push((chart.clone(), set));
                        }
                    }
                }
            }
            other => problems.add(
                key.span,
                format!("unknown key `{other}` in helm (expected path, kube_version, timeout_seconds, api_versions, dependencies or charts)"),
            ),
        }
    }
}

/// A named values set: `values` files relative to the chart, `set` values.
fn read_value_set(
    name: &Node,
    node: &Node,
    chart: &Path,
    config: &Path,
    text: &str,
    problems: &mut Problems,
) -> Option<ValueSet> {
    let name_text = problems.keep(expect_str(name, "values set name"))?;
    let mut set = ValueSet {
        name: name_text.to_string(),
        files: Vec::new(),
        set: Vec::new(),
    };
    let lines = LineIndex::new(text);
    let cwd = std::env::current_dir().unwrap_or_default();
    let entries = problems.keep(expect_map(node, &format!("values set `{name_text}`")))?;
    for (key, value) in entries {
        match key.str().unwrap_or("") {
            "values" => {
                let Value::Seq(items) = &value.value else {
                    problems.add(value.span, "`values` must be a list of files".to_string());
                    continue;
                };
                for item in items {
                    let Some(file) = problems.keep(expect_str(item, "values file")) else {
                        continue;
                    };
                    let file = normalize(&chart.join(file));
                    if file.is_file() {
                        set.files.push(file);
                    } else {
                        problems.add(item.span, format!("no values file {}", file.display()));
                    }
                }
            }
            "set" => {
                let mut flat = Vec::new();
                flatten_values(value, "", &mut flat, problems);
                for (dotted, scalar) in flat {
                    set.set.push(SetValue {
                        key: dotted,
                        value: scalar.str().unwrap_or("").to_string(),
                        written_at: Some(SourceRef::on_line(
                            display_path(config, &cwd),
                            scalar.span,
                            lines.line(text, scalar.span.line),
                        )),
                    });
                }
            }
            other => problems.add(
                key.span,
                format!(
                    "unknown key `{other}` in values set `{name_text}` (expected values or set)"
                ),
            ),
        }
    }
    Some(set)
}

/// `{image: {tag: x}}` as `image.tag` = x, as helm's `--set` writes it.
fn flatten_values<'a>(
    node: &'a Node,
    prefix: &str,
    out: &mut Vec<(String, &'a Node)>,
    problems: &mut Problems,
) {
    for (key, value) in problems.keep(expect_map(node, "set")).unwrap_or(&[]) {
        let Some(name) = problems.keep(expect_str(key, "value name")) else {
            continue;
        };
        let dotted = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        match &value.value {
            Value::Map(_) => flatten_values(value, &dotted, out, problems),
            Value::Scalar(_) => out.push((dotted, value)),
            Value::Seq(_) => problems.add(
                value.span,
                "lists cannot be set here; put them in a values file".to_string(),
            ),
        }
    }
}

fn read_kustomize(node: &Node, render: &mut RenderConfig, problems: &mut Problems) {
    for (key, value) in problems.keep(expect_map(node, "kustomize")).unwrap_or(&[]) {
        let flag = || {
            value
                .bool()
                .ok_or((value.span, "expected true or false".to_string()))
        };
        match key.str().unwrap_or("") {
            "timeout_seconds" => render.kustomize_timeout = problems.keep(seconds(value)),
            "allow_remote" => render.allow_remote = problems.keep(flag()),
            "enable_helm" => render.enable_helm = problems.keep(flag()),
            other => problems.add(
                key.span,
                format!("unknown key `{other}` in kustomize (expected timeout_seconds, allow_remote or enable_helm)"),
            ),
        }
    }
}

fn read_ansible(node: &Node, config: &Path, render: &mut RenderConfig, problems: &mut Problems) {
    let base = config_folder(config);
    for (key, value) in problems.keep(expect_map(node, "ansible")).unwrap_or(&[]) {
        match key.str().unwrap_or("") {
            "inventories" => {
                let Value::Seq(items) = &value.value else {
                    problems.add(
                        value.span,
                        "`inventories` must be a list of folders such as [inventory/sample]"
                            .to_string(),
                    );
                    continue;
                };
                for item in items {
                    let Some(folder) = problems.keep(expect_str(item, "an inventory folder"))
                    else {
                        continue;
                    };
                    let folder = base.join(folder);
                    if folder.is_dir() {
                        render.ansible_inventories.push(folder);
                    } else {
                        problems.add(
                            item.span,
                            format!("inventory folder {} does not exist", folder.display()),
                        );
                    }
                }
            }
            other => problems.add(
                key.span,
                format!("unknown key `{other}` in ansible (expected inventories)"),
            ),
        }
    }
}

fn seconds(node: &Node) -> Result<Duration, Failure> {
    node.int()
        .filter(|n| *n > 0)
        .map(|n| Duration::from_secs(n.unsigned_abs()))
        .ok_or((
            node.span,
            "expected a number of seconds above 0".to_string(),
        ))
}

/// The folder paths in the config are relative to.
/// Where teams' policies live when `policies:` does not say.
pub const POLICIES_FOLDER: &str = ".scar/policies";

/// `policies:`, a folder or a list of them relative to the config file, else
/// `.scar/policies` beside it when there is one. A policy file's mistakes
/// stop the run as the config's own do.
fn load_policies(
    node: Option<&Node>,
    config: &Path,
    registry: &mut Registry,
    problems: &mut Problems,
) -> Result<(), Vec<ConfigError>> {
    let base = config_folder(config);
    let folders: Vec<(PathBuf, Span)> = match node {
        None => {
            let default = base.join(POLICIES_FOLDER);
            if !default.is_dir() {
                return Ok(());
            }
            vec![(default, Span::point(1, 1))]
        }
        Some(node) => match &node.value {
            Value::Seq(items) => items
                .iter()
                .filter_map(|item| {
                    problems
                        .keep(expect_str(item, "policies"))
                        .map(|f| (base.join(f), item.span))
                })
                .collect(),
            _ => problems
                .keep(expect_str(node, "policies"))
                .map(|f| vec![(base.join(f), node.span)])
                .unwrap_or_default(),
        },
    };
    for (folder, span) in folders {
        match registry.load_policies(std::slice::from_ref(&folder)) {
            Ok(()) => {}
            Err(LoadError::Folder(folder, err)) => problems.add(
                span,
                format!(
                    "cannot read the policies folder {}: {err}",
                    folder.display()
                ),
            ),
            Err(LoadError::Invalid(errors)) => return Err(errors),
        }
    }
    Ok(())
}

fn config_folder(config: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    normalize(&cwd.join(config.parent().unwrap_or(Path::new(""))))
}

fn read_rule(
    id_node: &Node,
    node: &Node,
    registry: &Registry,
    problems: &mut Problems,
) -> Option<RuleSettings> {
    let id = problems.keep(expect_str(id_node, "rule id"))?;
    let Some(entry) = registry.get(id) else {
        problems.add(
            id_node.span,
            format!("unknown rule `{id}`; `scar rules` lists them"),
        );
        return None;
    };
    let mut settings = RuleSettings {
        id: id.to_string(),
        ..RuleSettings::default()
    };
    let entries = problems.keep(expect_map(node, &format!("rules.{id}")))?;
    for (key, value) in entries {
        match key.str().unwrap_or("") {
            "enabled" => {
                settings.enabled = problems.keep(
                    value
                        .bool()
                        .ok_or((value.span, "`enabled` must be true or false".to_string())),
                );
            }
            "severity" => {
                settings.severity = problems.keep(
                    expect_str(value, "severity")
                        .and_then(|text| text.parse().map_err(|e| (value.span, e))),
                );
            }
            "params" => {
                for (name_node, param) in problems.keep(expect_map(value, "params")).unwrap_or(&[])
                {
                    let Some(name) = problems.keep(expect_str(name_node, "parameter name")) else {
                        continue;
                    };
                    let Some(default) = entry.policy.params.get(name) else {
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
                        problems.add(
                            name_node.span,
                            format!(
                                "rule `{id}` has no parameter `{name}` (its parameters: {known})"
                            ),
                        );
                        continue;
                    };
                    if let Some(value) = problems.keep(typed_like(default, param)) {
                        settings.params.push((name.to_string(), value));
                    }
                }
            }
            other => problems.add(
                key.span,
                format!(
                    "unknown key `{other}` in rules.{id} (expected enabled, severity or params)"
                ),
            ),
        }
    }
    Some(settings)
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
        // Every integer parameter counts replicas, seconds or requests.
        (Param::Int(_), _) => match node.int() {
            Some(n) if n >= 1 => Ok(Param::Int(n)),
            Some(_) => Err((
                node.span,
                "expected a whole number above 0 (to turn the rule off, set `enabled: false`)"
                    .to_string(),
            )),
            None => Err(mismatch()),
        },
        (Param::Text(default), Value::Scalar(_)) if !node.is_null() => {
            let text = node.str().unwrap_or("");
            // A quantity stays a quantity: a misspelt one would turn the
            // rule off without a word.
            if kubernetes_bytes(default).is_some() && kubernetes_bytes(text).is_none() {
                return Err((
                    node.span,
                    format!("expected a quantity like `{default}` (Ki, Mi, Gi, or M, G)"),
                ));
            }
            Ok(Param::Text(text.to_string()))
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

    fn load(text: &str) -> Result<Config, Vec<ConfigError>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, text).unwrap();
        Config::load(&path, &mut Registry::builtin())
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
            (
                "helm:\n  kube_versions: 1.30\n",
                2,
                "unknown key `kube_versions`",
            ),
            ("helm:\n  charts:\n    nowhere: {}\n", 3, "no Chart.yaml"),
            ("helm:\n  timeout_seconds: soon\n", 2, "number of seconds"),
            ("kustomize:\n  allow_remote: maybe\n", 2, "true or false"),
            (
                "rules:\n  webhook-single-replica:\n    params: {min_replicas: 0}\n",
                3,
                "above 0",
            ),
            (
                "rules:\n  webhook-timeout-too-long:\n    params:\n      max_seconds: -5\n",
                4,
                "above 0",
            ),
            ("kustomize:\n  timeout_seconds: -1\n", 2, "above 0"),
            (
                "rules:\n  etcd-memory-too-low:\n    params: {min_memory: 2 gigs}\n",
                3,
                "expected a quantity",
            ),
        ];
        for (text, line, message) in cases {
            let errors = load(text).unwrap_err();
            assert_eq!(errors.len(), 1, "{text}: {errors:?}");
            let err = &errors[0];
            assert_eq!(err.span.line, line, "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
            assert!(err.to_string().contains(".scar.yaml:"), "{err}");
        }
        assert!(load("rules:\n  etcd-memory-too-low:\n    params: {min_memory: 2048M}\n").is_ok());
    }

    #[test]
    fn every_mistake_is_reported_not_only_the_first() {
        let text = "\
namespaces: prod
rules:
  webhook-single-replica:
    params: {min_replicas: 0}
    severity: fatal
  no-such-rule: {}
  missing-prestop-sleep:
    enabled: false
helm:
  timeout_seconds: soon
  charts:
    nowhere: {}
kustomize:
  allow_remote: maybe
";
        let errors = load(text).unwrap_err();
        let found: Vec<(u32, &str)> = errors
            .iter()
            .map(|e| (e.span.line, e.message.split(' ').next().unwrap_or("")))
            .collect();
        assert_eq!(
            found,
            [
                (1, "unknown"),
                (4, "expected"),
                (5, "unknown"),
                (6, "unknown"),
                (10, "expected"),
                (12, "no"),
                (14, "expected"),
            ]
        );
    }

    #[test]
    fn reads_values_sets_and_render_settings_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("deploy/shop");
        std::fs::create_dir_all(&chart).unwrap();
        std::fs::write(chart.join(CHART_FILE), "name: shop\n").unwrap();
        std::fs::write(chart.join("values-prod.yaml"), "replicaCount: 3\n").unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            "helm:\n  kube_version: \"1.31.2\"\n  charts:\n    deploy/shop:\n      prod:\n        values: [values-prod.yaml]\n        set: {image: {tag: v2}}\nkustomize:\n  allow_remote: true\n",
        )
        .unwrap();
        let settings = Config::load(&path, &mut Registry::builtin())
            .unwrap()
            .render_settings();
        assert_eq!(settings.helm.kube_version, "1.31.2");
        assert!(settings.kustomize.allow_remote);
        let (folder, set) = &settings.value_sets[0];
        assert!(folder.ends_with("deploy/shop"));
        assert_eq!(set.name, "prod");
        assert!(set.files[0].ends_with("values-prod.yaml"));
        assert_eq!(
            (set.set[0].key.as_str(), set.set[0].value.as_str()),
            ("image.tag", "v2")
        );
        assert_eq!(set.set[0].written_at.as_ref().unwrap().span.line, 7);

        std::fs::write(
            &path,
            "helm:\n  charts:\n    deploy/shop:\n      prod:\n        values: [missing.yaml]\n",
        )
        .unwrap();
        let errors = Config::load(&path, &mut Registry::builtin()).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].span.line, 5, "{}", errors[0]);
    }

    #[test]
    fn excludes_globs_relative_to_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "exclude: [\"vendor/**\", \"**/*.golden\"]\n").unwrap();
        let exclusions = Config::load(&path, &mut Registry::builtin())
            .unwrap()
            .exclusions()
            .unwrap();
        let root = dir.path().canonicalize().unwrap();
        assert!(exclusions.excludes(&root.join("vendor/x/deploy.yaml")));
        assert!(exclusions.excludes(&root.join("a/b/deploy.yaml.golden")));
        assert!(!exclusions.excludes(&root.join("k8s/deploy.yaml")));
    }
}
