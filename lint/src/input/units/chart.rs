//! Helm charts on disk: which chart a file lies in, and which files helm
//! reads when it renders one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::parse::yaml::{parse_documents, Node};

use super::Paths;

pub const CHART_FILE: &str = "Chart.yaml";

/// Folders of a chart that helm reads besides its top-level files.
const CHART_FOLDERS: &[&str] = &["templates", "crds", "charts"];

#[derive(Debug, Clone)]
pub struct Chart {
    /// Absolute.
    pub dir: PathBuf,
    pub display: Arc<str>,
    /// `type: library`: only ever rendered as another chart's dependency.
    pub library: bool,
    /// Every file helm reads: the top-level files (`Chart.yaml`, values
    /// files), `templates/`, `crds/` and the subcharts under `charts/`,
    /// and the values files of `ci/`.
    pub files: Vec<PathBuf>,
    /// `ci/*-values.yaml`: chart-testing's values sets, one render each.
    pub ci_values: Vec<PathBuf>,
}

impl Chart {
    pub fn read(dir: &Path, paths: &Paths) -> Chart {
        let meta = read_yaml(&dir.join(CHART_FILE));
        let field = |key| meta.as_ref().and_then(|m| m.get(key)).and_then(Node::str);
        let mut files = Vec::new();
        list_files(dir, &mut files);
        files.retain(|f| belongs(dir, f));
        files.sort();
        let ci_values = files
            .iter()
            .filter(|f| is_ci_values(dir, f))
            .cloned()
            .collect();
        Chart {
            dir: dir.to_path_buf(),
            display: paths.display(dir),
            library: field("type") == Some("library"),
            files,
            ci_values,
        }
    }

    pub fn chart_file(&self) -> PathBuf {
        self.dir.join(CHART_FILE)
    }
}

/// Parses a small YAML file; `None` when it cannot be read or parsed.
pub fn read_yaml(path: &Path) -> Option<Node> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_documents(&text).ok()?.into_iter().next()
}

/// Whether helm reads `file` when it renders the chart in `root`: its
/// metadata and values files, templates, CRDs and subcharts.
pub fn belongs(root: &Path, file: &Path) -> bool {
    let Ok(relative) = file.strip_prefix(root) else {
        return false;
    };
    if is_ci_values(root, file) {
        return true;
    }
    let mut parts = relative.components();
    match (parts.next(), parts.next()) {
        (Some(_), None) => file
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json"),
        (Some(first), Some(_)) => CHART_FOLDERS.iter().any(|f| first.as_os_str() == *f),
        _ => false,
    }
}

/// `ci/NAME-values.yaml` of the chart in `root` (chart-testing's values
/// files).
fn is_ci_values(root: &Path, file: &Path) -> bool {
    file.parent() == Some(&root.join("ci"))
        && file
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("-values.yaml") || n.ends_with("-values.yml"))
}

/// Every file below `dir`, version control folders left out.
pub fn list_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name() == ".git" {
            continue;
        }
        match Entry::of(&entry) {
            Entry::Folder => list_files(&entry.path(), out),
            Entry::File => out.push(entry.path()),
            Entry::Other => {}
        }
    }
}

/// What a folder entry is to a walk. A symbolic link to a file is the
/// file; one to a folder is not followed, so that a link to a folder above
/// cannot make a walk endless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Folder,
    File,
    Other,
}

impl Entry {
    pub fn of(entry: &std::fs::DirEntry) -> Entry {
        let Ok(kind) = entry.file_type() else {
            return Entry::Other;
        };
        if kind.is_dir() {
            Entry::Folder
        } else if kind.is_file() || std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()) {
            Entry::File
        } else {
            Entry::Other
        }
    }
}

/// Finds the top chart a folder lies in, remembering what each folder
/// above answered.
#[derive(Debug, Default)]
pub struct Roots {
    innermost: HashMap<PathBuf, Option<PathBuf>>,
}

impl Roots {
    /// The chart folder whose render includes files of `dir`: the nearest
    /// folder above with a `Chart.yaml`, and out of a parent's `charts/`
    /// into the parent, since a subchart renders as part of it.
    pub fn root_of(&mut self, dir: &Path) -> Option<PathBuf> {
        let mut root = self.innermost(dir)?;
        while let Some(parent) = self.parent_chart(&root) {
            root = parent;
        }
        Some(root)
    }

    fn parent_chart(&mut self, chart: &Path) -> Option<PathBuf> {
        let charts = chart.parent()?;
        if charts.file_name()? != "charts" {
            return None;
        }
        let parent = charts.parent()?;
        parent
            .join(CHART_FILE)
            .is_file()
            .then(|| parent.to_path_buf())
    }

    fn innermost(&mut self, dir: &Path) -> Option<PathBuf> {
        if let Some(known) = self.innermost.get(dir) {
            return known.clone();
        }
        let found = if dir.join(CHART_FILE).is_file() {
            Some(dir.to_path_buf())
        } else {
            dir.parent().and_then(|parent| self.innermost(parent))
        };
        self.innermost.insert(dir.to_path_buf(), found.clone());
        found
    }
}
