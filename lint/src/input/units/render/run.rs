//! The rendered units of a run: which to render (those holding a file the
//! run reports), with which values, in parallel, and what became of each.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rayon::prelude::*;

use crate::input::discover::Skipped;
use crate::input::units::render::helm::{self, ValueSet};
use crate::input::units::render::{kustomize, Failure};
use crate::input::units::{Chart, Kustomization, Layout, Paths, RunFolders};
use crate::model::place::RenderedUnit;
use crate::model::unit::Rendered;
use crate::model::unit::{UnitInfo, UnitKind};

/// How units are rendered.
#[derive(Debug, Clone)]
pub struct RenderSettings {
    pub helm: helm::Settings,
    pub kustomize: kustomize::Settings,
    /// Values sets of charts, by chart folder (absolute), each rendered
    /// besides the chart's own values.
    pub value_sets: Vec<(PathBuf, ValueSet)>,
    /// Charts (absolute folders) whose own values.yaml alone is not
    /// rendered: their values sets cover it.
    pub without_defaults: Vec<PathBuf>,
    /// Values from the command line: every chart of the run renders with
    /// these alone.
    pub command_line: Option<ValueSet>,
    /// Inventories whose `all` group's variables roles render with.
    pub ansible_inventories: Vec<PathBuf>,
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for RenderSettings {
    fn default() -> Self {
        RenderSettings {
            helm: helm::Settings {
                program: None,
                kube_version: helm::DEFAULT_KUBE_VERSION.to_string(),
                timeout: DEFAULT_TIMEOUT,
                namespace: "default".to_string(),
                api_versions: Vec::new(),
                dependencies: helm::Dependencies::Offline,
            },
            kustomize: kustomize::Settings {
                timeout: DEFAULT_TIMEOUT,
                allow_remote: false,
                enable_helm: false,
                helm: None,
            },
            value_sets: Vec::new(),
            without_defaults: Vec::new(),
            command_line: None,
            ansible_inventories: Vec::new(),
        }
    }
}

/// A unit that could not be rendered.
pub struct FailedUnit {
    pub info: Arc<UnitInfo>,
    pub failure: Failure,
    /// Every file of the unit: a change to any of them may fix it.
    pub files: Vec<Arc<str>>,
    /// The chart's own values were refused (a `required` value, its
    /// schema) while these values sets of its `ci/` folder rendered: as
    /// chart-testing renders it, the chart works.
    pub covered_by: Vec<String>,
}

/// What became of a unit, for the report.
#[derive(Debug, Clone)]
pub struct UnitReport {
    pub info: Arc<UnitInfo>,
    pub rendered: bool,
    pub objects: usize,
    /// Time spent in helm or kustomize.
    pub render_time: Duration,
}

#[derive(Default)]
pub struct Units {
    pub rendered: Vec<RenderedUnit>,
    pub failed: Vec<FailedUnit>,
    pub skipped: Vec<Skipped>,
    /// Files that belong to a unit and are not linted on their own: the
    /// unit rendered, or is rendered only through others, or the run
    /// needs nothing of it, or it is a chart (its templates mean nothing
    /// unrendered, and `render-failed` says so). Files of a kustomization
    /// that failed are linted as they are.
    pub claimed: HashSet<PathBuf>,
    /// Files of the units that rendered.
    pub rendered_files: HashSet<PathBuf>,
    pub reports: Vec<UnitReport>,
}

impl Units {
    /// Whether a unit is to be rendered: it holds a file the run reports,
    /// and is not `set_aside` (with the reason why). The files of a unit
    /// not rendered are not linted on their own either.
    fn renders(
        &mut self,
        files: &[PathBuf],
        display: &Arc<str>,
        reported: &HashSet<&Path>,
        set_aside: Option<&str>,
    ) -> bool {
        let needed = files.iter().any(|f| reported.contains(f.as_path()));
        if needed && set_aside.is_none() {
            return true;
        }
        self.claimed.extend(files.iter().cloned());
        if let (true, Some(reason)) = (needed, set_aside) {
            self.skipped.push(Skipped {
                path: display.clone(),
                reason: reason.to_string(),
            });
        }
        false
    }
}

enum Job<'l> {
    Helm(&'l Chart, ValueSet),
    Kustomize(&'l Kustomization),
}

impl Job<'_> {
    /// The unit as findings name it, its folder and its files.
    fn unit(&self) -> (Arc<UnitInfo>, &Path, &[PathBuf]) {
        match self {
            Job::Helm(chart, values) => (
                Arc::new(UnitInfo {
                    kind: UnitKind::Helm,
                    path: chart.display.clone(),
                    values: Some(values.name.clone()),
                }),
                &chart.dir,
                &chart.files,
            ),
            Job::Kustomize(root) => (
                Arc::new(UnitInfo {
                    kind: UnitKind::Kustomize,
                    path: root.display.clone(),
                    values: None,
                }),
                &root.dir,
                &root.files,
            ),
        }
    }
}

/// Renders the units of `layout` that hold a file of `reported`.
pub fn render(
    layout: &Layout,
    reported: &HashSet<&Path>,
    settings: &RenderSettings,
    paths: &Paths,
    folders: &mut RunFolders,
) -> Units {
    let mut units = Units::default();
    let mut jobs = Vec::new();
    for chart in &layout.charts {
        let set_aside = chart
            .library
            .then_some("library chart: rendered only as a dependency of the charts that use it");
        if units.renders(&chart.files, &chart.display, reported, set_aside) {
            for values in value_sets(chart, settings) {
                jobs.push(Job::Helm(chart, values));
            }
        }
    }
    for root in &layout.kustomizations {
        let set_aside = root
            .component
            .then_some("kustomize component: rendered only through a kustomization that uses it");
        if units.renders(&root.files, &root.display, reported, set_aside) {
            jobs.push(Job::Kustomize(root));
        }
    }
    let results: Vec<(&Job, Result<Rendered, Failure>)> = jobs
        .par_iter()
        .map(|job| {
            let result = match job {
                Job::Helm(chart, values) => helm::render(chart, values, &settings.helm, paths),
                Job::Kustomize(root) => kustomize::render(root, &settings.kustomize, paths),
            };
            (job, result)
        })
        .collect();
    // Charts whose ci/ values sets rendered, by folder.
    let ci_rendered: HashMap<&Path, Vec<String>> =
        results
            .iter()
            .fold(HashMap::new(), |mut rendered, (job, result)| {
                if let (Job::Helm(chart, values), Ok(_)) = (job, result) {
                    if values.name.starts_with(CI_FOLDER) {
                        rendered
                            .entry(chart.dir.as_path())
                            .or_default()
                            .push(values.name.clone());
                    }
                }
                rendered
            });
    for (job, result) in results {
        let (info, dir, files) = job.unit();
        let shown: Vec<Arc<str>> = files.iter().map(|f| paths.display(f)).collect();
        match result {
            Ok(rendered) => {
                units.claimed.extend(files.iter().cloned());
                units.rendered_files.extend(files.iter().cloned());
                let sources: HashSet<&Arc<str>> = rendered.sources.iter().collect();
                let shared = shown
                    .iter()
                    .filter(|f| !sources.contains(f))
                    .cloned()
                    .collect();
                units.reports.push(UnitReport {
                    info: info.clone(),
                    rendered: true,
                    objects: rendered.documents.len(),
                    render_time: rendered.elapsed,
                });
                units.rendered.push(RenderedUnit {
                    id: units.rendered.len() as u32,
                    root: folders.of(Some(dir)),
                    info,
                    rendered,
                    shared,
                });
            }
            Err(failure) => {
                if info.kind == UnitKind::Helm {
                    units.claimed.extend(files.iter().cloned());
                }
                units.reports.push(UnitReport {
                    info: info.clone(),
                    rendered: false,
                    objects: 0,
                    render_time: Duration::ZERO,
                });
                let covered_by = match job {
                    Job::Helm(chart, values)
                        if values.name == ValueSet::chart_defaults().name
                            && helm::refused_its_values(&failure) =>
                    {
                        ci_rendered
                            .get(chart.dir.as_path())
                            .cloned()
                            .unwrap_or_default()
                    }
                    _ => Vec::new(),
                };
                units.failed.push(FailedUnit {
                    info,
                    failure,
                    files: shown,
                    covered_by,
                });
            }
        }
    }
    units
}

/// chart-testing's folder of values files CI renders a chart with.
const CI_FOLDER: &str = "ci/";

/// The renders of a chart: the command line's values alone, or the chart's
/// own values (unless the config drops them), each `ci/*-values.yaml` of
/// the chart (chart-testing's convention), then each values set the config
/// gives it.
fn value_sets(chart: &Chart, settings: &RenderSettings) -> Vec<ValueSet> {
    if let Some(values) = &settings.command_line {
        return vec![values.clone()];
    }
    let defaults = !settings.without_defaults.contains(&chart.dir);
    let ci = chart.ci_values.iter().map(|file| ValueSet {
        name: format!(
            "{CI_FOLDER}{}",
            file.file_name().unwrap_or_default().to_string_lossy()
        ),
        files: vec![file.clone()],
        set: Vec::new(),
    });
    defaults
        .then(ValueSet::chart_defaults)
        .into_iter()
        .chain(ci)
        .chain(
            settings
                .value_sets
                .iter()
                .filter(|(dir, _)| *dir == chart.dir)
                .map(|(_, set)| set.clone()),
        )
        .collect()
}
