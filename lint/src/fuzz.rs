//! Entry points for fuzzing. Each takes arbitrary bytes and drives one
//! reader of scar the way a lint run does. Besides "never panic", each one
//! checks a promise users rely on: every position scar reports lies inside
//! the text it read, and the JSON report is valid JSON.
//!
//! They live in the library, not in `fuzz/`, so that the cargo-fuzz targets
//! (nightly) and `tests/fuzz_seeds.rs` (stable, part of `cargo test`) run the
//! same code: the committed seeds and every crash a fuzz run found are
//! replayed by the ordinary test suite.

use std::path::Path;
use std::sync::Arc;

use crate::check::rules::Registry;
use crate::check::suppress;
use crate::check::team_policy::LoadError;
use crate::config::Config;
use crate::engine::{self, Options};
use crate::input::discover::Input;
use crate::model::compose;
use crate::model::container_cli::ContainerRun;
use crate::model::k8s;
use crate::model::parse::shell::{self, Origin, Word};
use crate::model::parse::systemd::{self, Unit};
use crate::model::parse::yaml::{self, Node, Value};
use crate::model::quantity;
use crate::model::source::{LineIndex, Span};
use crate::report::{self, location::RepoPaths};

/// The names `lint_one_file` gives its input, chosen by the first byte, so
/// that one target reaches every kind of file and the sniffing of unknown
/// extensions.
pub const FILE_NAMES: &[&str] = &[
    "manifest.yaml",
    "compose.yaml",
    "app.service",
    "start.sh",
    "unknown.txt",
];

/// YAML documents into Kubernetes objects, and what rules ask of them.
pub fn yaml_resources(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let bounds = Bounds::new(&text);
    let Ok(documents) = yaml::parse_documents(&text) else {
        return;
    };
    for doc in &documents {
        bounds.check_tree(doc);
        for object in k8s::objects(doc, "default") {
            object.resource();
            object.pod_labels();
            object.replicas();
            object.runs_to_completion();
            bounds.check(object.anchor().span);
            bounds.check(object.replicas_anchor().span);
            for container in object.containers() {
                k8s::container_runs(container, "etcd");
                if let Some(image) = container.get("image").and_then(Node::str) {
                    k8s::image_tag(image);
                }
            }
        }
        // Documents embedded in strings carry positions shifted into the
        // file, so they are held to the same bounds.
        for (_, value) in doc.get("data").map_or(&[][..], Node::entries) {
            for embedded in value.embedded_documents().unwrap_or_default() {
                bounds.check_tree(&embedded);
            }
        }
    }
}

/// docker-compose services and their memory limits.
pub fn compose_services(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let bounds = Bounds::new(&text);
    let Ok(documents) = yaml::parse_documents(&text) else {
        return;
    };
    for doc in &documents {
        for service in compose::services(doc).unwrap_or_default() {
            bounds.check(service.name_span);
            service.runs("etcd");
            if let Some(limit) = service.memory_limit().and_then(Node::str) {
                quantity::docker_bytes(limit);
            }
        }
    }
}

/// A systemd unit, its time spans and the command lines of `Exec*=`.
pub fn systemd_unit(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let bounds = Bounds::new(&text);
    let unit = match Unit::parse(&text) {
        Ok(unit) => unit,
        Err(error) => return bounds.check(error.span),
    };
    for entry in &unit.entries {
        bounds.check(entry.key_span);
        bounds.check(entry.value_span);
        systemd::timespan_seconds(&entry.value);
        quantity::systemd_bytes(&entry.value);
        for command in unit.exec_commands(entry) {
            bounds.check_words(&command);
            container_run(&command, &bounds);
        }
    }
}

/// Shell text into commands, and container runs among them.
pub fn shell_commands(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let bounds = Bounds::new(&text);
    for command in shell::commands(&text, Origin::FILE_START, false) {
        bounds.check_words(&command);
        container_run(&command, &bounds);
    }
}

fn container_run(command: &[Word], bounds: &Bounds) {
    let Some(run) = ContainerRun::from_command(command) else {
        return;
    };
    bounds.check(run.span);
    for option in &run.options {
        bounds.check(option.span);
    }
    run.runs("etcd");
    run.flag_enabled("--oom-kill-disable");
    if let Some(memory) = run.option("--memory").and_then(|o| o.value.as_deref()) {
        quantity::docker_bytes(memory);
    }
}

/// `# scar:ignore` comments.
pub fn suppressions(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let bounds = Bounds::new(&text);
    let path: Arc<str> = Arc::from("input");
    for suppression in suppress::from_comments(&path, &text, &['#', ';']) {
        bounds.check(suppression.at);
    }
}

/// `.scar.yaml`, written as `.scar.yaml` in `scratch`: every mistake is an
/// error at a place in the file, and a configuration that loads applies.
pub fn config_file(data: &[u8], scratch: &Path) {
    let path = scratch.join(".scar.yaml");
    std::fs::write(&path, data).expect("the fuzz scratch folder is writable");
    let text = String::from_utf8_lossy(data);
    let bounds = Bounds::new(&text);
    let mut registry = Registry::builtin();
    match Config::load(&path, &mut registry) {
        Ok(config) => {
            config.render_settings();
            let registry = config.apply(registry);
            registry.enabled().count();
            if let Some(exclusions) = config.exclusions() {
                exclusions.excludes(Path::new("charts/app/values.yaml"));
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "a failed load names its mistakes");
            // Mistakes in the policy files it names are placed in those.
            for error in errors.iter().filter(|e| e.path == path) {
                bounds.check(error.span);
            }
        }
    }
}

/// Objects every loaded policy is evaluated on: a workload with a Service,
/// budget, autoscaler and Namespace beside it, so that `related` and
/// `namespaceObject` answer.
const POLICY_SUBJECTS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {team: web}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop, labels: {app: web}}\nspec:\n  replicas: 2\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n        - {name: web, image: 'web:1', ports: [{containerPort: 80}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {selector: {app: web}}\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\nspec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web, namespace: shop}\nspec: {scaleTargetRef: {kind: Deployment, name: web}, minReplicas: 2, maxReplicas: 4}\n";

/// A team's policy file, written to a policies folder in `scratch`: every
/// mistake is an error at a place in that file; a policy that loads is
/// evaluated on a few objects, and explained.
pub fn policy_file(data: &[u8], scratch: &Path) {
    let folder = scratch.join("policies");
    std::fs::create_dir_all(&folder).expect("the fuzz scratch folder is writable");
    let path = folder.join("policy.yaml");
    std::fs::write(&path, data).expect("the fuzz scratch folder is writable");
    let subjects = scratch.join("subjects.yaml");
    std::fs::write(&subjects, POLICY_SUBJECTS).expect("the fuzz scratch folder is writable");
    let text = String::from_utf8_lossy(data);
    let bounds = Bounds::new(&text);
    let mut registry = Registry::builtin();
    match registry.load_policies(&[folder]) {
        Ok(()) => {
            let report = engine::lint(&[Input::Path(subjects)], &Options::default(), &registry)
                .expect("the file was just written");
            for finding in &report.findings {
                assert!(finding.span.line >= 1, "findings have a line");
            }
            for entry in registry.iter() {
                report::catalog::explain(entry);
            }
        }
        Err(LoadError::Invalid(errors)) => {
            assert!(!errors.is_empty(), "a failed load names its mistakes");
            for error in errors {
                assert_eq!(error.path, path, "mistakes are placed in the policy file");
                bounds.check(error.span);
            }
        }
        Err(LoadError::Folder(folder, error)) => {
            panic!("{} was just written: {error}", folder.display())
        }
    }
}

/// The whole lint of one file, named after the first byte (see
/// `FILE_NAMES`) in `scratch`, and its report in every format.
pub fn lint_one_file(data: &[u8], scratch: &Path) {
    let Some((selector, content)) = data.split_first() else {
        return;
    };
    let name = FILE_NAMES[usize::from(*selector) % FILE_NAMES.len()];
    let path = scratch.join(name);
    std::fs::write(&path, content).expect("the fuzz scratch folder is writable");
    let registry = Registry::builtin();
    let report = engine::lint(&[Input::Path(path.clone())], &Options::default(), &registry)
        .expect("the file was just written");
    std::fs::remove_file(&path).expect("the file was just written");
    let text = String::from_utf8_lossy(content);
    let bounds = Bounds::new(&text);
    for finding in &report.findings {
        bounds.check(finding.span);
    }
    let paths = RepoPaths::from_cwd();
    let mut out = Vec::new();
    report::human::write(
        &report,
        report::human::Style {
            color: true,
            list_infos: true,
        },
        &mut out,
    )
    .expect("writing to memory");
    report::github::write(&report, &paths, &mut out).expect("writing to memory");
    report::sarif::write(&report, &registry, &paths, &mut out).expect("writing to memory");
    out.clear();
    report::json::write(&report, &mut out).expect("writing to memory");
    if let Err(error) = serde_json::from_slice::<serde_json::Value>(&out) {
        panic!("the JSON report is not JSON: {error}");
    }
}

/// The template names `role_template` gives its input, by the first byte.
pub const TEMPLATE_NAMES: &[&str] = &["etcd.j2", "etcd.service.j2", "deploy.yaml.j2"];

/// A template of an Ansible role with its defaults, rendered and linted as a
/// run does: the bytes before the first NUL are `defaults/main.yml`, the
/// rest the template. Every finding at the template lies inside it.
pub fn role_template(data: &[u8], scratch: &Path) {
    let Some((selector, rest)) = data.split_first() else {
        return;
    };
    let (defaults, template) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&[][..], rest),
    };
    let name = TEMPLATE_NAMES[usize::from(*selector) % TEMPLATE_NAMES.len()];
    let role = scratch.join("roles/fuzzed");
    for folder in ["tasks", "defaults", "templates"] {
        std::fs::create_dir_all(role.join(folder)).expect("the fuzz scratch folder is writable");
    }
    let write = |path: std::path::PathBuf, bytes: &[u8]| {
        std::fs::write(path, bytes).expect("the fuzz scratch folder is writable");
    };
    write(role.join("tasks/main.yml"), b"- debug: {}\n");
    write(role.join("defaults/main.yml"), defaults);
    write(role.join("templates").join(name), template);
    let report = engine::lint(
        &[Input::Path(role.clone())],
        &Options::default(),
        &Registry::builtin(),
    )
    .expect("the role was just written");
    std::fs::remove_dir_all(&role).expect("the role was just written");
    let text = String::from_utf8_lossy(template);
    let bounds = Bounds::new(&text);
    for finding in report.findings.iter().filter(|f| f.path.ends_with(name)) {
        bounds.check(finding.span);
    }
}

/// The lines and their lengths in characters of the text a reader was given.
struct Bounds<'t> {
    text: &'t str,
    lines: LineIndex,
}

impl<'t> Bounds<'t> {
    fn new(text: &'t str) -> Self {
        Bounds {
            text,
            lines: LineIndex::new(text),
        }
    }

    /// A span starts on a line of the text, at a column no further than
    /// just past its end (where a missing value or the end of input is).
    #[track_caller]
    fn check(&self, span: Span) {
        let last_line = self.lines.len(self.text).max(1);
        assert!(
            (1..=last_line + 1).contains(&span.line),
            "line {} outside the text's {last_line} lines",
            span.line
        );
        let width = self.lines.line(self.text, span.line).chars().count() as u32;
        assert!(
            (1..=width + 2).contains(&span.column),
            "column {} outside line {} of {width} characters",
            span.column,
            span.line
        );
    }

    fn check_words(&self, words: &[Word]) {
        for word in words {
            self.check(word.span);
        }
    }

    fn check_tree(&self, node: &Node) {
        self.check(node.span);
        match &node.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => items.iter().for_each(|item| self.check_tree(item)),
            Value::Map(entries) => entries.iter().for_each(|(key, value)| {
                self.check_tree(key);
                self.check_tree(value);
            }),
        }
    }
}
