//! Helm charts through the real `helm template`.
//!
//! The chart is copied to a temporary folder and its templates stamped
//! (`stamp.rs`), so that each rendered line names the template line it came
//! from; the user's files are never written. A template line that renders
//! `.Values.x` also leads to the values file line that set `x`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::input::units::chart::{read_yaml, Entry, CHART_FILE};
use crate::input::units::{Chart, Paths};
use crate::model::parse::yaml::{parse_documents, Node};
use crate::model::source::{LineIndex, Related, SourceRef, Span};

use super::dependencies;
use super::process::{self, RunError};
use super::stamp::{self, stamp_of};
use super::Failure;
use crate::model::unit::{Rendered, SourceMap, Traced};

/// `.Capabilities.KubeVersion` when the config names none: a current release.
pub(crate) const DEFAULT_KUBE_VERSION: &str = "1.34.0";

#[derive(Debug, Clone)]
pub struct Settings {
    /// The helm binary; `None`: `helm` on PATH.
    pub program: Option<PathBuf>,
    pub kube_version: String,
    pub timeout: Duration,
    pub namespace: String,
    /// API versions charts see in `.Capabilities.APIVersions` besides
    /// those `kube_version` serves (CRD groups: `monitoring.coreos.com/v1`).
    pub api_versions: Vec<String>,
    pub dependencies: Dependencies,
}

/// What becomes of a dependency a chart declares and does not vendor in
/// `charts/`, when the repository does not hold it either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dependencies {
    /// The chart does not render: nothing is downloaded.
    #[default]
    Offline,
    /// `helm dependency build` fetches it into the temporary copy (the
    /// network; CI runners have one).
    Fetch,
}

/// API versions a cluster serves that `helm template` does not assume on
/// its own (its list is client-go's, which lacks the aggregator's and the
/// CRD API), with the Kubernetes minor release that first served each, so
/// that `.Capabilities.APIVersions.Has` takes the branch a real cluster
/// would. The groups helm knows are listed too, for the releases that
/// serve them.
const SERVED_API_VERSIONS: &[(&str, u32)] = &[
    ("apiregistration.k8s.io/v1", 10),
    ("apiregistration.k8s.io/v1/APIService", 10),
    ("apiextensions.k8s.io/v1", 16),
    ("apiextensions.k8s.io/v1/CustomResourceDefinition", 16),
    ("admissionregistration.k8s.io/v1", 16),
    (
        "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration",
        16,
    ),
    (
        "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration",
        16,
    ),
    ("networking.k8s.io/v1", 19),
    ("networking.k8s.io/v1/Ingress", 19),
    ("policy/v1", 21),
    ("policy/v1/PodDisruptionBudget", 21),
    ("batch/v1/CronJob", 21),
    ("discovery.k8s.io/v1", 21),
    ("autoscaling/v2", 23),
    ("autoscaling/v2/HorizontalPodAutoscaler", 23),
    ("flowcontrol.apiserver.k8s.io/v1", 29),
];

/// The `--api-versions` a render passes for `kube_version`, and `extra`.
pub(crate) fn api_versions(kube_version: &str, extra: &[String]) -> Vec<String> {
    let minor = kube_version
        .trim_start_matches('v')
        .split('.')
        .nth(1)
        .and_then(|minor| minor.parse::<u32>().ok())
        .unwrap_or(u32::MAX);
    SERVED_API_VERSIONS
        .iter()
        .filter(|(_, since)| *since <= minor)
        .map(|(version, _)| version.to_string())
        .chain(extra.iter().cloned())
        .collect()
}

/// One render of a chart: its own `values.yaml`, then these files, then
/// these `--set` values.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueSet {
    pub name: String,
    /// Absolute.
    pub files: Vec<PathBuf>,
    pub set: Vec<SetValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SetValue {
    pub key: String,
    pub value: String,
    /// Where the config file sets it; `None` for `--helm-set`.
    pub written_at: Option<SourceRef>,
}

impl ValueSet {
    pub fn chart_defaults() -> ValueSet {
        ValueSet {
            name: "default".to_string(),
            files: Vec::new(),
            set: Vec::new(),
        }
    }
}

pub(crate) fn render(
    chart: &Chart,
    values: &ValueSet,
    settings: &Settings,
    paths: &Paths,
) -> Result<Rendered, Failure> {
    let chart_file = chart.chart_file();
    let chart_text = std::fs::read_to_string(&chart_file).unwrap_or_default();
    let chart_ref = || line_containing(&chart_text, "name:", paths.display(&chart_file));
    let program = match &settings.program {
        Some(program) => program.clone(),
        None => process::find_on_path("helm").ok_or_else(|| Failure {
            at: chart_ref(),
            message: "helm is not on PATH, so none of its templates were read".to_string(),
            help: "install helm (https://helm.sh/docs/intro/install/), or name it with `helm: {path: …}` in .scar.yaml or --helm".to_string(),
        })?,
    };
    let scratch = tempfile::tempdir().map_err(|e| Failure {
        at: chart_ref(),
        message: format!("cannot make a temporary folder to render it in: {e}"),
        help: "check that the temporary folder (TMPDIR) is writable".to_string(),
    })?;
    let copy = scratch
        .path()
        .join(chart.dir.file_name().unwrap_or_default());
    let mut tree = ChartTree::copy(&chart.dir, &copy, paths).map_err(|e| Failure {
        at: chart_ref(),
        message: format!("cannot copy it to render it: {e}"),
        help: "check that the chart's files are readable".to_string(),
    })?;
    tree.add_dependencies_from_repository(&copy, paths)
        .map_err(|e| Failure {
            at: chart_ref(),
            message: format!("cannot copy a dependency the repository holds: {e}"),
            help: "check that the chart's files are readable".to_string(),
        })?;
    if settings.dependencies == Dependencies::Fetch && !dependencies::missing(&copy).is_empty() {
        fetch_dependencies(&program, &copy, settings.timeout, &chart_ref)?;
    }
    let api_versions = api_versions(&settings.kube_version, &settings.api_versions);
    let run = |dir: &Path| -> Result<process::Finished, Failure> {
        let mut command = Command::new(&program);
        command
            .arg("template")
            .arg(&tree.charts[0].name)
            .arg(dir)
            .args(["--namespace", &settings.namespace])
            .args(["--kube-version", &settings.kube_version])
            .args(["--include-crds", "--skip-tests"]);
        for version in &api_versions {
            command.arg("--api-versions").arg(version);
        }
        for file in &values.files {
            command.arg("--values").arg(file);
        }
        for set in &values.set {
            command
                .arg("--set")
                .arg(format!("{}={}", set.key, set.value.replace(',', "\\,")));
        }
        process::run(&mut command, settings.timeout).map_err(|err| Failure {
            at: chart_ref(),
            message: match &err {
                RunError::TimedOut(_) => format!("helm template {err}"),
                RunError::CannotStart(_) => format!("helm ({}) {err}", program.display()),
            },
            help: "raise helm.timeout_seconds in .scar.yaml if the chart is large, or check the helm binary".to_string(),
        })
    };
    let finished = run(&copy)?;
    let (finished, stamped) = if finished.success {
        (finished, true)
    } else {
        // Render the chart as written: its error then names the lines the
        // user sees, and a chart the stamps broke still renders.
        tree.unstamp().map_err(|e| Failure {
            at: chart_ref(),
            message: format!("cannot restore its copy: {e}"),
            help: String::new(),
        })?;
        let plain = run(&copy)?;
        if !plain.success {
            return Err(tree.failure(&plain.stderr, chart, paths));
        }
        (plain, false)
    };
    let map = HelmMap::new(&finished.stdout, tree, values, stamped, paths);
    let sources = map.sources_rendered();
    let mut rendered = Rendered::new(finished.stdout, Box::new(map), finished.elapsed);
    rendered.sources = sources;
    Ok(rendered)
}

/// `helm dependency build` in the chart's temporary copy: what it fetches
/// lands there, never in the user's tree.
fn fetch_dependencies(
    program: &Path,
    copy: &Path,
    timeout: Duration,
    chart_ref: &dyn Fn() -> SourceRef,
) -> Result<(), Failure> {
    let mut command = Command::new(program);
    command.args(["dependency", "build"]).arg(copy);
    let cannot = |message: String| {
        Failure {
        at: chart_ref(),
        message,
        help: "check the dependencies' repositories and versions, or vendor them with `helm dependency build` and commit charts/".to_string(),
    }
    };
    let finished = process::run(&mut command, timeout)
        .map_err(|err| cannot(format!("helm dependency build {err}")))?;
    if finished.success {
        Ok(())
    } else {
        Err(cannot(format!(
            "helm dependency build: {}",
            process::tool_message(&finished.stderr)
        )))
    }
}

/// The chart refused the values it was given: a `required` or `fail` in
/// a template, or its values schema.
pub(crate) fn refused_its_values(failure: &Failure) -> bool {
    failure.message.contains("execution error at")
        || failure
            .message
            .contains("values don't meet the specifications of the schema")
}

/// A chart or subchart in the copied tree.
struct ChartDir {
    /// Absolute, in the user's tree.
    dir: PathBuf,
    name: String,
    /// `helm template`'s `# Source:` prefix: `shop`, `shop/charts/db`.
    source_prefix: String,
    /// Keys above this chart's values in the top chart's: `["db"]`.
    values_path: Vec<String>,
}

/// A template as the user wrote it, and the lines that got a stamp.
struct Template {
    display: Arc<str>,
    copy: PathBuf,
    text: String,
    lines: LineIndex,
    stamped: Vec<u32>,
    chart: usize,
}

impl Template {
    /// The line after the last one whose output a stamp on `line` stands
    /// for: the next stamped line, or the end of the template.
    fn block_end(&self, line: u32) -> u32 {
        match self.stamped.iter().find(|&&n| n > line) {
            Some(&next) => next,
            None => self.lines.len(&self.text) + 1,
        }
    }
}

struct ChartTree {
    charts: Vec<ChartDir>,
    templates: Vec<Template>,
}

impl ChartTree {
    /// Copies `dir` to `copy`, stamping the templates of the chart and of
    /// every subchart folder under `charts/`.
    fn copy(dir: &Path, copy: &Path, paths: &Paths) -> std::io::Result<ChartTree> {
        let mut tree = ChartTree {
            charts: Vec::new(),
            templates: Vec::new(),
        };
        tree.copy_chart(dir, copy, None, paths)?;
        Ok(tree)
    }

    /// Copies into the top chart's `charts/` the dependencies it declares
    /// and does not vendor that the repository holds: a `file://` path, or
    /// a sibling chart of the same name and a matching version. They are
    /// stamped like subcharts, so findings name their templates.
    fn add_dependencies_from_repository(
        &mut self,
        copy: &Path,
        paths: &Paths,
    ) -> std::io::Result<()> {
        let top = self.charts[0].dir.clone();
        for dependency in dependencies::missing(copy) {
            if let Some(folder) = dependencies::in_repository(&top, &dependency) {
                let folder = crate::input::discover::normalize(&folder);
                let target = copy.join("charts").join(&dependency.name);
                self.copy_chart(&folder, &target, Some(0), paths)?;
            }
        }
        Ok(())
    }

    fn copy_chart(
        &mut self,
        dir: &Path,
        copy: &Path,
        parent: Option<usize>,
        paths: &Paths,
    ) -> std::io::Result<()> {
        let meta = read_yaml(&dir.join(CHART_FILE));
        let name = meta
            .as_ref()
            .and_then(|m| m.get("name"))
            .and_then(Node::str)
            .map(str::to_string)
            .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let (source_prefix, values_path) = match parent {
            None => (name.clone(), Vec::new()),
            Some(p) => {
                let parent = &self.charts[p];
                let mut values_path = parent.values_path.clone();
                values_path.push(name.clone());
                (
                    format!("{}/charts/{name}", parent.source_prefix),
                    values_path,
                )
            }
        };
        let index = self.charts.len();
        self.charts.push(ChartDir {
            dir: dir.to_path_buf(),
            name,
            source_prefix,
            values_path,
        });
        std::fs::create_dir_all(copy)?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let from = entry.path();
            let to = copy.join(entry.file_name());
            let name = entry.file_name();
            match Entry::of(&entry) {
                Entry::File => {
                    std::fs::copy(&from, &to)?;
                    continue;
                }
                Entry::Other => continue,
                Entry::Folder => {}
            }
            if name == "templates" {
                self.copy_templates(&from, &to, index, paths)?;
            } else if name == "charts" {
                std::fs::create_dir_all(&to)?;
                for sub in std::fs::read_dir(&from)? {
                    let sub = sub?;
                    let (sub_from, sub_to) = (sub.path(), to.join(sub.file_name()));
                    match Entry::of(&sub) {
                        Entry::Folder if sub_from.join(CHART_FILE).is_file() => {
                            self.copy_chart(&sub_from, &sub_to, Some(index), paths)?;
                        }
                        Entry::Folder => copy_dir(&sub_from, &sub_to)?,
                        Entry::File => {
                            std::fs::copy(&sub_from, &sub_to)?;
                        }
                        Entry::Other => {}
                    }
                }
            } else if name != ".git" {
                copy_dir(&from, &to)?;
            }
        }
        Ok(())
    }

    fn copy_templates(
        &mut self,
        from: &Path,
        to: &Path,
        chart: usize,
        paths: &Paths,
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let (source, target) = (entry.path(), to.join(entry.file_name()));
            match Entry::of(&entry) {
                Entry::Folder => {
                    self.copy_templates(&source, &target, chart, paths)?;
                    continue;
                }
                Entry::Other => continue,
                Entry::File => {}
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            // Partials (`_helpers.tpl`) render no manifests: they are kept
            // unstamped, for the helpers they define. NOTES.txt is neither.
            let partial = name.starts_with('_');
            match std::fs::read_to_string(&source) {
                Ok(text) if name != "NOTES.txt" => {
                    let stamped = if partial {
                        std::fs::write(&target, &text)?;
                        Vec::new()
                    } else {
                        let stamped = stamp::stamp(&text);
                        std::fs::write(&target, &stamped.text)?;
                        stamped.lines
                    };
                    self.templates.push(Template {
                        display: paths.display(&source),
                        copy: target,
                        lines: LineIndex::new(&text),
                        text,
                        stamped,
                        chart,
                    });
                }
                _ => {
                    std::fs::copy(&source, &target)?;
                }
            }
        }
        Ok(())
    }

    fn unstamp(&self) -> std::io::Result<()> {
        for template in self.templates.iter().filter(|t| !t.stamped.is_empty()) {
            std::fs::write(&template.copy, &template.text)?;
        }
        Ok(())
    }

    /// The chart (or subchart) a `# Source:` path belongs to, and the
    /// path's rest: `shop/charts/db/templates/x.yaml` → (db, `templates/x.yaml`).
    fn chart_of_source<'s>(&self, source: &'s str) -> Option<(usize, &'s str)> {
        self.charts
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let rest = source.strip_prefix(&c.source_prefix)?.strip_prefix('/')?;
                Some((i, rest, c.source_prefix.len()))
            })
            .max_by_key(|(_, _, len)| *len)
            .map(|(i, rest, _)| (i, rest))
    }

    /// The `render-failed` finding for helm's error output: at the
    /// template line it names, or at the `Chart.yaml` line at fault.
    fn failure(&self, stderr: &str, chart: &Chart, paths: &Paths) -> Failure {
        let message = process::tool_message(stderr)
            .replace(" Use --debug flag to render out invalid YAML", "");
        let chart_file = chart.chart_file();
        let chart_text = std::fs::read_to_string(&chart_file).unwrap_or_default();
        let in_chart_file =
            |needle: &str| line_containing(&chart_text, needle, paths.display(&chart_file));
        let prefix = "helm: ";
        if let Some((_, missing)) = message.split_once("missing in charts/ directory:") {
            let first = missing
                .split(',')
                .next()
                .unwrap_or("")
                .trim()
                .trim_end_matches('.');
            let declared_in = dependencies::declared_in(&chart.dir);
            let declared_text = std::fs::read_to_string(&declared_in).unwrap_or_default();
            let file_name = declared_in
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned());
            return Failure {
                at: line_containing(
                    &declared_text,
                    &format!("name: {first}"),
                    paths.display(&declared_in),
                ),
                message: format!("{prefix}{message}"),
                help: format!(
                    "helm checks every dependency in {file_name}, whatever its condition: vendor them (`helm dependency build {}`, then commit charts/), let scar fetch them (`helm: {{dependencies: fetch}}` in .scar.yaml, as the Action does), or exclude the chart",
                    chart.display
                ),
            };
        }
        if message.contains("values don't meet the specifications of the schema") {
            // `- policy: Invalid type. Expected: string, given: null`
            let key = message
                .split("- ")
                .nth(1)
                .and_then(|rest| rest.split_once(':'))
                .map(|(key, _)| key.trim().to_string());
            let in_values = key.and_then(|key| {
                let keys: Vec<String> = key.split('.').map(str::to_string).collect();
                let values = ValuesFile::read(&chart.dir.join("values.yaml"), Some(0), paths)?;
                values.find(&keys).map(|(found, _)| found.at)
            });
            return Failure {
                at: in_values.unwrap_or_else(|| in_chart_file("name:")),
                message: format!("{prefix}{message}"),
                help: "give the chart the values its schema requires, as a values set (helm.charts in .scar.yaml) or with --helm-set".to_string(),
            };
        }
        if message.contains("kubeVersion") {
            return Failure {
                at: in_chart_file("kubeVersion"),
                message: format!("{prefix}{message}"),
                help: "render for the Kubernetes version you run: helm.kube_version in .scar.yaml, or --kube-version".to_string(),
            };
        }
        let at = self
            .error_location(&message, paths)
            .unwrap_or_else(|| in_chart_file("name:"));
        Failure {
            at,
            message: format!("{prefix}{message}"),
            help: "fix the template, or give the chart the values it needs as a values set (helm.charts in .scar.yaml, or --helm-values)".to_string(),
        }
    }

    /// `(shop/templates/bad.yaml:5:6)` in helm's message, as a place.
    fn error_location(&self, message: &str, paths: &Paths) -> Option<SourceRef> {
        let root = &self.charts.first()?.name;
        let start = message.find(&format!("{root}/"))?;
        let token: String = message[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | ',' | '"' | '\''))
            .collect();
        let mut parts = token.split(':');
        let source = parts.next()?;
        let line = parts.next().and_then(|l| l.parse().ok()).unwrap_or(1);
        let column = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
        let (chart, rest) = self.chart_of_source(source)?;
        let path = self.charts[chart].dir.join(rest);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        Some(SourceRef::on_line(
            paths.display(&path),
            Span::point(line, column),
            LineIndex::new(&text).line(&text, line),
        ))
    }
}

/// The first line of `text` containing `needle` (else the first line),
/// from its first non-blank character to its end.
fn line_containing(text: &str, needle: &str, path: Arc<str>) -> SourceRef {
    let (index, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap_or((0, text.lines().next().unwrap_or("")));
    let column = line.len() - line.trim_start().len();
    let span = Span::on_line(
        index as u32 + 1,
        line[..column].chars().count() as u32 + 1,
        line.trim().chars().count() as u32,
    );
    SourceRef::on_line(path, span, line)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        match Entry::of(&entry) {
            Entry::Folder => copy_dir(&source, &target)?,
            Entry::File => {
                std::fs::copy(&source, &target)?;
            }
            Entry::Other => {}
        }
    }
    Ok(())
}

/// Each rendered line's template and template line.
#[derive(Clone, Copy, Default)]
struct LineOrigin {
    /// Index into `HelmMap::sources`.
    source: Option<u32>,
    template_line: Option<u32>,
}

/// A `# Source:` of the output.
struct Source {
    display: Arc<str>,
    /// Index into `ChartTree::templates`, for stamped templates.
    template: Option<usize>,
}

/// A values file, parsed with positions, and the keys above the values of
/// the chart being looked up in it.
struct ValuesFile {
    display: Arc<str>,
    text: String,
    lines: LineIndex,
    root: Option<Node>,
    /// Which chart of the tree's values it holds; `None`: the top chart's,
    /// as given to helm (`--values`), holding subcharts under their names.
    chart: Option<usize>,
}

struct HelmMap {
    lines: Vec<LineOrigin>,
    sources: Vec<Source>,
    tree: ChartTree,
    /// Lowest precedence first: each chart's own values.yaml (subcharts
    /// first), then the values set's files in order.
    values: Vec<ValuesFile>,
    set: Vec<SetValue>,
    chart_file: SourceRef,
    /// Where each named template (`define "x"`) starts: its template and line.
    defines: HashMap<String, (usize, u32)>,
}

impl HelmMap {
    fn new(
        output: &str,
        tree: ChartTree,
        values: &ValueSet,
        stamped: bool,
        paths: &Paths,
    ) -> HelmMap {
        let mut sources: Vec<Source> = Vec::new();
        let mut by_name: HashMap<String, u32> = HashMap::new();
        let mut lines = Vec::new();
        let mut current = LineOrigin::default();
        for line in output.lines() {
            if let Some(source) = line.strip_prefix("# Source: ") {
                let index = *by_name.entry(source.to_string()).or_insert_with(|| {
                    sources.push(tree.source(source, paths));
                    sources.len() as u32 - 1
                });
                current = LineOrigin {
                    source: Some(index),
                    template_line: None,
                };
            } else if line == "---" {
                current = LineOrigin::default();
            } else if let Some(n) = stamp_of(line).filter(|_| stamped) {
                current.template_line = Some(n);
            }
            lines.push(current);
        }
        let mut files: Vec<ValuesFile> = Vec::new();
        for (i, chart) in tree.charts.iter().enumerate().rev() {
            files.extend(ValuesFile::read(
                &chart.dir.join("values.yaml"),
                Some(i),
                paths,
            ));
        }
        for file in &values.files {
            files.extend(ValuesFile::read(file, None, paths));
        }
        let chart_file = tree.charts[0].dir.join(CHART_FILE);
        let mut defines = HashMap::new();
        for (index, template) in tree.templates.iter().enumerate() {
            for (n, text) in template.text.lines().enumerate() {
                if let Some(name) = named_template(text, "define") {
                    defines
                        .entry(name.to_string())
                        .or_insert((index, n as u32 + 1));
                }
            }
        }
        HelmMap {
            defines,
            lines,
            sources,
            values: files,
            set: values.set.clone(),
            chart_file: SourceRef::whole_file(paths.display(&chart_file)),
            tree,
        }
    }

    /// The helper line that wrote a rendered line its template line does
    /// not read like (a container written by `include "app.container"`):
    /// looked for in the helpers the template includes between `line` and
    /// the next stamp, then in the helpers those include.
    fn helper_behind(
        &self,
        template: &Template,
        line: u32,
        rendered: &str,
        span: Span,
    ) -> Option<Related> {
        if reads_like(template.lines.line(&template.text, line), rendered) {
            return None;
        }
        self.through_helpers(
            template,
            line..template.block_end(line),
            |helper, file, n, text| {
                let name = helper.filter(|_| reads_like(text, rendered))?;
                Some(Related {
                    at: self.template_place(file, n, rendered, span),
                    message: format!("helper `{name}` writes it here"),
                })
            },
        )
    }

    /// Visits the lines `lines` of `template`, then the bodies of the
    /// helpers they include, and of those these include, until `visit`
    /// answers. `visit` gets the helper's name (none for the template's
    /// own lines), the file, the line number and its text.
    fn through_helpers<'m, T>(
        &'m self,
        template: &'m Template,
        lines: std::ops::Range<u32>,
        mut visit: impl FnMut(Option<&str>, &'m Template, u32, &'m str) -> Option<T>,
    ) -> Option<T> {
        let mut includes = Vec::new();
        for n in lines {
            let text = template.lines.line(&template.text, n);
            if let Some(found) = visit(None, template, n, text) {
                return Some(found);
            }
            includes.extend(included_templates(text));
        }
        let mut searched = BTreeSet::new();
        let mut next = 0;
        while let Some(&name) = includes.get(next) {
            next += 1;
            // Helpers can include each other in a loop; each is read once.
            if !searched.insert(name) || searched.len() > MAX_HELPERS_SEARCHED {
                continue;
            }
            let Some(&(index, first)) = self.defines.get(name) else {
                continue;
            };
            let helper = &self.tree.templates[index];
            let body = helper
                .text
                .lines()
                .zip(1..)
                .skip(first as usize)
                .take_while(|(text, _)| named_template(text, "define").is_none());
            for (text, n) in body {
                if let Some(found) = visit(Some(name), helper, n, text) {
                    return Some(found);
                }
                includes.extend(included_templates(text));
            }
        }
        None
    }

    fn origin_of(&self, span: Span) -> LineOrigin {
        self.lines
            .get(span.line.saturating_sub(1) as usize)
            .copied()
            .unwrap_or_default()
    }

    /// The stamped template a rendered line came from.
    fn template_of(&self, span: Span) -> Option<&Template> {
        let source = &self.sources[self.origin_of(span).source? as usize];
        source.template.map(|t| &self.tree.templates[t])
    }

    fn sources_rendered(&self) -> Vec<Arc<str>> {
        self.sources.iter().map(|s| s.display.clone()).collect()
    }

    /// The template line and column standing for a rendered span.
    fn template_place(
        &self,
        template: &Template,
        line: u32,
        rendered: &str,
        span: Span,
    ) -> SourceRef {
        let text = template.lines.line(&template.text, line);
        SourceRef::on_line(
            template.display.clone(),
            column_in_template(text, rendered, span, line),
            text,
        )
    }

    /// The values file lines that set what a template line renders: the
    /// `.Values` it reads, and those of the output actions on the lines
    /// after it, up to the next stamp (`{{- toYaml .Values.resources | nindent 12 }}`
    /// below `resources:`). Conditions (`{{- if .Values.x }}`) decide
    /// whether a line renders, not what it says, and are left out.
    fn values_behind(&self, template: &Template, line: u32) -> Vec<Related> {
        let end = template.block_end(line);
        let chart = &self.tree.charts[template.chart];
        let mut related = Vec::new();
        for n in line..end {
            let text = template.lines.line(&template.text, n);
            if n > line && !is_output_action(text) {
                continue;
            }
            for key in values_references(text) {
                if let Some((found, _)) = self.value_source(chart, &key) {
                    if !related.contains(&found) {
                        related.push(found);
                    }
                }
            }
        }
        related
    }

    /// Where the value helm used for `.Values.<key>` in `chart` was set:
    /// the place of highest precedence that sets the key itself, else the
    /// deepest key above it that one sets (`resources:` for
    /// `.Values.resources.limits`); true when it sets the key itself.
    fn value_source(&self, chart: &ChartDir, key: &[String]) -> Option<(Related, bool)> {
        // Globals reach every subchart from the top of each values file.
        let global = key.first().is_some_and(|k| k == "global");
        let full: Vec<String> = if global {
            key.to_vec()
        } else {
            chart.values_path.iter().chain(key).cloned().collect()
        };
        let dotted = full.join(".");
        if let Some(set) = self.set.iter().rev().find(|s| s.key == dotted) {
            // From `--helm-set`, no file holds it.
            return set.written_at.clone().map(|at| {
                let related = Related {
                    at,
                    message: format!("`{dotted}={}` is set here", set.value),
                };
                (related, true)
            });
        }
        let in_file = |file: &ValuesFile| -> Option<Vec<String>> {
            if global {
                return Some(key.to_vec());
            }
            let above: &[String] = match file.chart {
                None => &[],
                Some(owner) => &self.tree.charts[owner].values_path,
            };
            // A chart's own values.yaml reaches only itself and its subcharts.
            chart
                .values_path
                .starts_with(above)
                .then(|| full[above.len()..].to_vec())
        };
        let found = |exact: bool| {
            self.values.iter().rev().find_map(|file| {
                let (related, complete) = file.find(&in_file(file)?)?;
                (complete == exact).then_some((related, complete))
            })
        };
        found(true).or_else(|| found(false))
    }
}

impl ChartTree {
    fn source(&self, source: &str, paths: &Paths) -> Source {
        let Some((chart, rest)) = self.chart_of_source(source) else {
            return Source {
                display: source.into(),
                template: None,
            };
        };
        let path = self.charts[chart].dir.join(rest);
        let display = paths.display(&path);
        let template = self.templates.iter().position(|t| t.display == display);
        Source { display, template }
    }
}

impl ValuesFile {
    fn read(path: &Path, chart: Option<usize>, paths: &Paths) -> Option<ValuesFile> {
        let text = std::fs::read_to_string(path).ok()?;
        let root = parse_documents(&text)
            .ok()
            .and_then(|d| d.into_iter().next());
        Some(ValuesFile {
            display: paths.display(path),
            lines: LineIndex::new(&text),
            text,
            root,
            chart,
        })
    }

    /// The line that sets `path`, or the deepest key above it this file
    /// sets; true when it sets `path` itself.
    fn find(&self, path: &[String]) -> Option<(Related, bool)> {
        let mut node = self.root.as_ref()?;
        let mut found: Option<(&Node, &Node)> = None;
        let mut depth = 0;
        for key in path {
            let Some((k, v)) = node.entry(key) else { break };
            found = Some((k, v));
            node = v;
            depth += 1;
        }
        let (key, value) = found?;
        let span = if value.span.line == key.span.line && value.span.end_line == key.span.line {
            key.span.to(value.span)
        } else {
            key.span
        };
        let at = SourceRef::on_line(
            self.display.clone(),
            span,
            self.lines.line(&self.text, span.line),
        );
        let related = Related {
            message: format!("`{}` is set here", at.excerpt.text.trim()),
            at,
        };
        Some((related, depth == path.len()))
    }
}

impl SourceMap for HelmMap {
    /// The values a template reads under a wanted key, wherever in the
    /// template (an unset `affinity` renders nothing to point at).
    fn settings_for(&self, span: Span, wanted: fn(&str) -> bool) -> Vec<Related> {
        let Some(template) = self.template_of(span) else {
            return Vec::new();
        };
        let chart = &self.tree.charts[template.chart];
        let mut seen = Vec::new();
        let mut settings = Vec::new();
        let whole = 1..template.lines.len(&template.text) + 1;
        self.through_helpers(template, whole, |_, file, n, text| {
            for key in values_references(text) {
                if !key.last().is_some_and(|k| wanted(k)) || seen.contains(&key) {
                    continue;
                }
                let dotted = key.join(".");
                settings.push(match self.value_source(chart, &key) {
                    Some((set, true)) => Related {
                        message: format!(
                            "{}: the chart writes `.Values.{dotted}` into this object",
                            set.message
                        ),
                        at: set.at,
                    },
                    _ => Related {
                        at: SourceRef::on_line(
                            file.display.clone(),
                            Span::on_line(n, 1, text.chars().count() as u32),
                            text,
                        ),
                        message: format!(
                            "the chart writes `.Values.{dotted}` here; no values file sets it"
                        ),
                    },
                });
                seen.push(key);
            }
            None::<()>
        });
        settings
    }

    fn locate(&self, _object: &Node, span: Span, rendered_line: &str) -> Traced {
        let origin = self.origin_of(span);
        let Some(source) = origin.source.map(|s| &self.sources[s as usize]) else {
            return Traced {
                at: self.chart_file.clone(),
                related: Vec::new(),
            };
        };
        let Some(template) = source.template.map(|t| &self.tree.templates[t]) else {
            return Traced {
                at: SourceRef::whole_file(source.display.clone()),
                related: Vec::new(),
            };
        };
        // Without stamps, the line found is the one that reads like the
        // rendered line: no helper wrote it.
        let (line, helper) = match origin.template_line {
            Some(line) => (
                line,
                self.helper_behind(template, line, rendered_line, span),
            ),
            None => (line_like(template, rendered_line), None),
        };
        let mut related: Vec<Related> = helper.into_iter().collect();
        related.extend(self.values_behind(template, line));
        Traced {
            at: self.template_place(template, line, rendered_line, span),
            related,
        }
    }
}

/// How many helpers one lookup reads at most, through nested includes.
const MAX_HELPERS_SEARCHED: usize = 16;

/// Whether a template line writes the rendered line: the same text, or the
/// same key (`- name: {{ .Chart.Name }}` for `- name: app`).
fn reads_like(template_line: &str, rendered: &str) -> bool {
    let (wanted, written) = (rendered.trim(), template_line.trim());
    if written == wanted {
        return true;
    }
    let key_of = |line: &str| {
        let item = line.starts_with("- ");
        let (key, _) = line.trim_start_matches("- ").split_once(':')?;
        let plain = !key.is_empty() && !key.contains(['{', ' ', '"', '\'']);
        plain.then_some((item, key.to_string()))
    };
    key_of(wanted).is_some_and(|key| key_of(written) == Some(key))
}

/// The name a `{{ define "x" }}` (or `include`, `template`) action names
/// on `line`, when it starts with `action`.
fn named_template<'l>(line: &'l str, action: &str) -> Option<&'l str> {
    let inside = line
        .trim()
        .strip_prefix("{{")?
        .trim_start_matches('-')
        .trim_start();
    let rest = inside
        .strip_prefix(action)?
        .trim_start()
        .strip_prefix('"')?;
    rest.split_once('"').map(|(name, _)| name)
}

/// The helpers a template line includes: `include "x"` or `template "x"`
/// anywhere in its actions.
fn included_templates(line: &str) -> Vec<&str> {
    let mut names = Vec::new();
    for action in ["include", "template"] {
        let mut rest = line;
        while let Some(at) = rest.find(action) {
            rest = &rest[at + action.len()..];
            let Some(quoted) = rest.trim_start().strip_prefix('"') else {
                continue;
            };
            if let Some((name, after)) = quoted.split_once('"') {
                names.push(name);
                rest = after;
            }
        }
    }
    names
}

/// Without stamps: the first template line that reads like the rendered one.
fn line_like(template: &Template, rendered: &str) -> u32 {
    let wanted = rendered.trim();
    let key = wanted.split_once(':').map(|(k, _)| format!("{k}:"));
    let lines = || template.text.lines().enumerate();
    lines()
        .find(|(_, l)| l.trim() == wanted)
        .or_else(|| {
            let key = key.as_deref()?;
            lines().find(|(_, l)| l.trim_start().trim_start_matches("- ").starts_with(key))
        })
        .map_or(1, |(i, _)| i as u32 + 1)
}

/// The span in a template line that stands for `span` of the rendered
/// line: the same text where the template has it, the value expression
/// where the rendered span is a value, else the line's content.
fn column_in_template(template_line: &str, rendered_line: &str, span: Span, line: u32) -> Span {
    let chars: Vec<char> = rendered_line.chars().collect();
    let start = span.column.saturating_sub(1) as usize;
    let end = if span.end_line == span.line {
        (span.end_column.saturating_sub(1) as usize).min(chars.len())
    } else {
        chars.len()
    };
    let wanted: String = chars
        .get(start..end.max(start))
        .map_or(String::new(), |c| c.iter().collect());
    let column_at = |byte: usize| template_line[..byte].chars().count() as u32 + 1;
    if !wanted.trim().is_empty() {
        if let Some(byte) = template_line.find(wanted.as_str()) {
            return Span::on_line(line, column_at(byte), wanted.chars().count() as u32);
        }
    }
    let content_start = template_line.len() - template_line.trim_start().len();
    let content = template_line.trim();
    if let Some((key, _)) = rendered_line
        .trim_start()
        .trim_start_matches("- ")
        .split_once(':')
    {
        let key_start = rendered_line
            .find(key)
            .map_or(0, |b| rendered_line[..b].chars().count());
        let is_value = start > key_start + key.chars().count();
        if let Some(byte) = template_line.find(&format!("{key}:")) {
            if !is_value {
                return Span::on_line(line, column_at(byte), key.chars().count() as u32);
            }
            let after = &template_line[byte + key.len() + 1..];
            let value = after.trim();
            if !value.is_empty() {
                let value_byte = byte + key.len() + 1 + (after.len() - after.trim_start().len());
                return Span::on_line(line, column_at(value_byte), value.chars().count() as u32);
            }
        }
    }
    Span::on_line(
        line,
        template_line[..content_start].chars().count() as u32 + 1,
        content.chars().count() as u32,
    )
}

/// A line that is one action printing something: `{{- toYaml .Values.x | nindent 4 }}`,
/// not `{{- if … }}` or `{{- with … }}`.
fn is_output_action(line: &str) -> bool {
    let Some(action) = line.trim().strip_prefix("{{") else {
        return false;
    };
    let word = action
        .trim_start_matches('-')
        .split_whitespace()
        .next()
        .unwrap_or("");
    // Variables (`$x := …`) and comments print nothing either.
    !matches!(
        word,
        "if" | "else" | "with" | "range" | "end" | "define" | "block"
    ) && !word.starts_with('$')
        && !word.starts_with("/*")
}

/// The keys of `.Values.a.b` references in a template line, in order.
fn values_references(line: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find(".Values.") {
        let after = &rest[at + ".Values.".len()..];
        let path: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
            .collect();
        let keys: Vec<String> = path
            .split('.')
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect();
        if !keys.is_empty() && !found.contains(&keys) {
            found.push(keys);
        }
        rest = &after[path.len()..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_references_of_a_template_line() {
        assert_eq!(
            values_references("  replicas: {{ .Values.replicaCount }}"),
            vec![vec!["replicaCount".to_string()]]
        );
        assert_eq!(
            values_references(
                "{{- toYaml $.Values.resources.limits | nindent 4 }} {{ .Values.a }}"
            ),
            vec![
                vec!["resources".to_string(), "limits".to_string()],
                vec!["a".to_string()]
            ]
        );
    }

    #[test]
    fn names_the_helpers_a_line_defines_and_includes() {
        assert_eq!(
            named_template("{{- define \"app.container\" -}}", "define"),
            Some("app.container")
        );
        assert_eq!(named_template("{{- end }}", "define"), None);
        assert_eq!(
            included_templates(
                "  {{- include \"a.labels\" . | nindent 4 }} {{ template \"b\" . }}"
            ),
            vec!["a.labels", "b"]
        );
        assert!(included_templates("  includes: [a]").is_empty());
    }

    #[test]
    fn a_template_line_reads_like_what_it_renders_by_text_or_key() {
        assert!(reads_like("- name: {{ .Chart.Name }}", "  - name: app"));
        assert!(reads_like("  image: x:1", "image: x:1"));
        assert!(!reads_like("containers:", "- name: app"));
        // A list item and a key of a mapping are not the same line.
        assert!(!reads_like("name: {{ .Chart.Name }}", "- name: app"));
    }

    #[test]
    fn output_actions_print_and_control_actions_do_not() {
        assert!(is_output_action(
            "    {{- toYaml .Values.resources | nindent 12 }}"
        ));
        assert!(is_output_action("{{ include \"x\" . }}"));
        assert!(!is_output_action(
            "    {{- if .Values.admissionWebhooks.namespaceSelector }}"
        ));
        assert!(!is_output_action(
            "  {{- with .Values.upgradeStrategy.metricsApiServer }}"
        ));
        assert!(!is_output_action("{{- $x := .Values.y }}"));
        assert!(!is_output_action("  replicas: {{ .Values.replicaCount }}"));
    }

    #[test]
    fn maps_rendered_columns_to_the_template() {
        let template = "  replicas: {{ .Values.replicaCount }}";
        let value = column_in_template(template, "  replicas: 1", Span::on_line(4, 13, 1), 9);
        assert_eq!((value.line, value.column, value.end_column), (9, 13, 39));
        let key = column_in_template(template, "  replicas: 1", Span::on_line(4, 3, 8), 9);
        assert_eq!((key.column, key.end_column), (3, 11));
        let same = column_in_template(
            "    - name: web",
            "    - name: web",
            Span::on_line(2, 13, 3),
            5,
        );
        assert_eq!((same.column, same.end_column), (13, 16));
    }
}
