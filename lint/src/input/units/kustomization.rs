//! Kustomizations on disk: what each one pulls in, and which are roots (no
//! other kustomization of the run references them).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::input::discover::normalize;
use crate::model::parse::yaml::Node;
use crate::model::source::Span;

use super::chart::read_yaml;
use super::Paths;

pub const FILE_NAMES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomization file of a folder, if it has one.
pub fn file_in(dir: &Path) -> Option<PathBuf> {
    FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// A place in a kustomization file, with what is written there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub file: PathBuf,
    pub span: Span,
    pub text: String,
}

/// A root kustomization: one render.
#[derive(Debug, Clone)]
pub struct Kustomization {
    /// Absolute.
    pub dir: PathBuf,
    pub display: Arc<str>,
    pub file: PathBuf,
    /// Every local file the render reads, kustomization files included.
    pub files: Vec<PathBuf>,
    /// The kustomization files of the tree, each after the ones it pulls
    /// in: the order kustomize applies their patches.
    pub tree: Vec<PathBuf>,
    /// The first remote base or resource anywhere in the tree.
    pub remote: Option<Reference>,
    /// The first `helmCharts:` anywhere in the tree.
    pub helm_charts: Option<Reference>,
    /// `kind: Component`: only rendered through a kustomization that uses it.
    pub component: bool,
}

/// What one kustomization file pulls in.
#[derive(Debug, Clone, Default)]
struct Parsed {
    file: PathBuf,
    component: bool,
    /// Folders it pulls in: other kustomizations.
    children: Vec<PathBuf>,
    files: Vec<PathBuf>,
    remote: Option<Reference>,
    helm_charts: Option<Reference>,
}

/// The root kustomizations among those in `dirs`, each with its tree.
pub fn roots(dirs: &[PathBuf], paths: &Paths) -> Vec<Kustomization> {
    let mut parsed: HashMap<PathBuf, Parsed> = HashMap::new();
    let mut queue: Vec<PathBuf> = dirs.to_vec();
    while let Some(dir) = queue.pop() {
        if parsed.contains_key(&dir) {
            continue;
        }
        let Some(file) = file_in(&dir) else { continue };
        let entry = parse(&dir, &file);
        queue.extend(entry.children.iter().cloned());
        parsed.insert(dir, entry);
    }
    let referenced: BTreeSet<&PathBuf> = parsed.values().flat_map(|p| &p.children).collect();
    let candidates: BTreeSet<&PathBuf> = dirs.iter().collect();
    candidates
        .into_iter()
        .filter(|dir| !referenced.contains(dir))
        .filter_map(|dir| {
            let root = parsed.get(dir)?;
            let mut tree = Vec::new();
            let mut visiting = BTreeSet::new();
            collect_tree(dir, &parsed, &mut visiting, &mut tree);
            let mut files: BTreeSet<PathBuf> = BTreeSet::new();
            let mut remote = None;
            let mut helm_charts = None;
            for member in &tree {
                let Some(p) = parsed.get(member) else {
                    continue;
                };
                files.insert(p.file.clone());
                files.extend(p.files.iter().cloned());
                remote = remote.or_else(|| p.remote.clone());
                helm_charts = helm_charts.or_else(|| p.helm_charts.clone());
            }
            Some(Kustomization {
                dir: dir.clone(),
                display: paths.display(dir),
                file: root.file.clone(),
                files: files.into_iter().collect(),
                tree: tree
                    .iter()
                    .filter_map(|d| parsed.get(d).map(|p| p.file.clone()))
                    .collect(),
                remote,
                helm_charts,
                component: root.component,
            })
        })
        .collect()
}

/// Post-order: a kustomization comes after everything it pulls in.
fn collect_tree(
    dir: &PathBuf,
    parsed: &HashMap<PathBuf, Parsed>,
    visiting: &mut BTreeSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) {
    if !visiting.insert(dir.clone()) {
        return;
    }
    if let Some(p) = parsed.get(dir) {
        for child in &p.children {
            collect_tree(child, parsed, visiting, out);
        }
    }
    out.push(dir.clone());
}

/// Kustomization fields that name files or folders, one per item.
const PATH_LISTS: &[&str] = &[
    "resources",
    "bases",
    "components",
    "crds",
    "generators",
    "transformers",
    "validators",
    "configurations",
    "patchesStrategicMerge",
];

/// Kustomization fields whose items are mappings with a `path`.
const PATH_ITEMS: &[&str] = &["patches", "patchesJson6902", "replacements"];

const GENERATORS: &[&str] = &["configMapGenerator", "secretGenerator"];

fn parse(dir: &Path, file: &Path) -> Parsed {
    let mut out = Parsed {
        file: file.to_path_buf(),
        ..Parsed::default()
    };
    let Some(root) = read_yaml(file) else {
        return out;
    };
    out.component = root.get("kind").and_then(Node::str) == Some("Component");
    let refer = |node: &Node, out: &mut Parsed| {
        let Some(text) = node.str() else { return };
        // Inline patches and transformer configs are YAML, not paths.
        if text.contains('\n') || text.trim_start().starts_with("apiVersion:") {
            return;
        }
        if is_remote(text) {
            out.remote.get_or_insert_with(|| Reference {
                file: file.to_path_buf(),
                span: node.span,
                text: text.to_string(),
            });
            return;
        }
        let path = normalize(&dir.join(text));
        if path.is_dir() {
            out.children.push(path);
        } else {
            out.files.push(path);
        }
    };
    for (key, value) in root.entries() {
        let key_name = key.str().unwrap_or("");
        if PATH_LISTS.contains(&key_name) {
            for item in value.items() {
                refer(item, &mut out);
            }
        } else if PATH_ITEMS.contains(&key_name) {
            for item in value.items() {
                if let Some(path) = item.get("path") {
                    refer(path, &mut out);
                }
            }
        } else if GENERATORS.contains(&key_name) {
            for generator in value.items() {
                for source in ["files", "envs"] {
                    for item in generator.get(source).map_or(&[][..], Node::items) {
                        let Some(text) = item.str() else { continue };
                        let path = text.split_once('=').map_or(text, |(_, p)| p);
                        out.files.push(normalize(&dir.join(path)));
                    }
                }
                if let Some(env) = generator.get("env").and_then(Node::str) {
                    out.files.push(normalize(&dir.join(env)));
                }
            }
        } else if key_name == "openapi" {
            if let Some(path) = value.get("path") {
                refer(path, &mut out);
            }
        } else if matches!(key_name, "helmCharts" | "helmChartInflationGenerator")
            && !value.items().is_empty()
        {
            out.helm_charts.get_or_insert_with(|| Reference {
                file: file.to_path_buf(),
                span: key.span,
                text: key_name.to_string(),
            });
        }
    }
    out
}

/// Whether kustomize would fetch this reference over the network.
pub fn is_remote(reference: &str) -> bool {
    let reference = reference.trim();
    reference.contains("://")
        || reference.contains("?ref=")
        || reference.contains("?version=")
        || reference.starts_with("git@")
        || reference.starts_with("git::")
        || ["github.com/", "gitlab.com/", "bitbucket.org/"]
            .iter()
            .any(|host| reference.starts_with(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_remote_references() {
        for remote in [
            "https://github.com/fluxcd/x/releases/download/v1/x.yaml",
            "github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1",
            "git@github.com:org/repo.git//base",
            "gitlab.com/org/repo/base",
        ] {
            assert!(is_remote(remote), "{remote}");
        }
        for local in ["../base", "deploy.yaml", "github/x.yaml"] {
            assert!(!is_remote(local), "{local}");
        }
    }
}
