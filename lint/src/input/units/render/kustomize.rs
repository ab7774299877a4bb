//! Kustomizations through the real `kustomize build`, else `kubectl kustomize`.
//!
//! The root is built through a scratch kustomization outside the user's
//! tree that asks for `buildMetadata: [originAnnotations]`, so every object
//! names the file it came from. A field a patch set is traced to that patch
//! (kustomize records only the resource file), and `replicas:` of a
//! kustomization to that entry.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::input::discover::normalize;
use crate::input::units::kustomization::Reference;
use crate::input::units::paths::relative_path;
use crate::input::units::{Kustomization, Paths};
use crate::model::parse::yaml::{parse_documents, Node, Value};
use crate::model::source::{LineIndex, SourceRef, Span};

use super::process::{self, RunError};
use super::tree_path::{follow, from_pointer, path_to, pointer_covers, Step};
use super::Failure;
use crate::model::unit::{Rendered, SourceMap, Traced};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_reason_and_drops_the_scratch_kustomization() {
        let raw = "accumulating resources: accumulation err='accumulating resources from '../../w/missing-resource': read /w/missing-resource: is a directory': recursed accumulation of path '/w/missing-resource': accumulating resources: accumulation err='accumulating resources from 'absent.yaml': open /w/missing-resource/absent.yaml: no such file or directory': must build at directory: not a valid directory: evalsymlink failure";
        assert_eq!(
            build_error(raw),
            "accumulating resources from 'absent.yaml': open /w/missing-resource/absent.yaml: no such file or directory"
        );
        assert_eq!(build_error("plain"), "plain");
    }

    #[test]
    fn an_object_is_written_under_its_own_name_never_a_shorter_one_it_extends() {
        let written = ["web", "web-canary", "frontend"];
        let of = |rendered| written_name(rendered, written.iter().copied());
        assert_eq!(of("web-canary"), Some("web-canary"));
        assert_eq!(of("web"), Some("web"));
        assert_eq!(of("prod-web-canary-v2"), Some("web-canary"));
        assert_eq!(of("prod-web"), Some("web"));
        assert_eq!(of("api"), None);
        let target = Target {
            kind: Some("Deployment".to_string()),
            name: Some("web".to_string()),
        };
        let name = |written: &str, rendered: &str| Name {
            written: written.to_string(),
            rendered: rendered.to_string(),
        };
        assert!(target.matches("Deployment", &name("web", "prod-web")));
        assert!(!target.matches("Deployment", &name("web-canary", "web-canary")));
        assert!(!target.matches("Deployment", &name("web-canary", "prod-web-canary")));
        let base_prefixed = Target {
            kind: None,
            name: Some("base-web".to_string()),
        };
        assert!(base_prefixed.matches("Deployment", &name("web", "prod-base-web")));
    }
}

pub const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";

#[derive(Debug, Clone)]
pub struct Settings {
    pub timeout: Duration,
    /// Remote bases and resources reach the network: only when allowed.
    pub allow_remote: bool,
    /// `helmCharts:` runs helm, which may download charts: only when allowed.
    pub enable_helm: bool,
    /// The helm binary kustomize runs for `helmCharts:`.
    pub helm: Option<PathBuf>,
}

pub fn render(
    root: &Kustomization,
    settings: &Settings,
    paths: &Paths,
) -> Result<Rendered, Failure> {
    let at_reference = |reference: &Reference| {
        let text = std::fs::read_to_string(&reference.file).unwrap_or_default();
        SourceRef::on_line(
            paths.display(&reference.file),
            reference.span,
            LineIndex::new(&text).line(&text, reference.span.line),
        )
    };
    let root_ref = || SourceRef::whole_file(paths.display(&root.file));
    if let Some(remote) = root.remote.as_ref().filter(|_| !settings.allow_remote) {
        return Err(Failure {
            at: at_reference(remote),
            message: format!(
                "`{}` is pulled in over the network, which scar does not reach unless allowed",
                remote.text
            ),
            help: "vendor the remote base into the repository, or allow it with `kustomize: {allow_remote: true}` in .scar.yaml".to_string(),
        });
    }
    if let Some(charts) = root.helm_charts.as_ref().filter(|_| !settings.enable_helm) {
        return Err(Failure {
            at: at_reference(charts),
            message: format!(
                "`{}` inflates Helm charts, which can download them",
                charts.text
            ),
            help: "allow it with `kustomize: {enable_helm: true}` in .scar.yaml, or lint the chart itself".to_string(),
        });
    }
    let (program, subcommand) = match process::find_on_path("kustomize") {
        Some(kustomize) => (kustomize, "build"),
        None => match process::find_on_path("kubectl") {
            Some(kubectl) => (kubectl, "kustomize"),
            None => {
                return Err(Failure {
                    at: root_ref(),
                    message: "neither kustomize nor kubectl is on PATH, so none of it was read"
                        .to_string(),
                    help: "install kubectl (it builds kustomizations) or kustomize".to_string(),
                })
            }
        },
    };
    let failure = |message: String| Failure {
        at: root_ref(),
        message,
        help: "check that the folder and what its kustomization names exist".to_string(),
    };
    let scratch = tempfile::tempdir().map_err(|e| {
        failure(format!(
            "cannot make a temporary folder to render it in: {e}"
        ))
    })?;
    let wrapper = scratch
        .path()
        .canonicalize()
        .map_err(|e| failure(format!("cannot resolve the temporary folder: {e}")))?;
    let root_real = root
        .dir
        .canonicalize()
        .map_err(|e| failure(format!("cannot read its folder: {e}")))?;
    let target = relative_path(&wrapper, &root_real);
    let manifest = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- {}\nbuildMetadata: [originAnnotations]\n",
        serde_json::to_string(&target.to_string_lossy()).unwrap_or_default()
    );
    std::fs::write(wrapper.join("kustomization.yaml"), manifest)
        .map_err(|e| failure(format!("cannot write the scratch kustomization: {e}")))?;
    let mut command = Command::new(&program);
    command
        .arg(subcommand)
        .args(["--load-restrictor", "LoadRestrictionsNone"]);
    if settings.enable_helm {
        command.arg("--enable-helm");
        if let Some(helm) = &settings.helm {
            command.arg("--helm-command").arg(helm);
        }
    }
    command.arg(&wrapper);
    let finished = process::run(&mut command, settings.timeout).map_err(|err| Failure {
        at: root_ref(),
        message: match &err {
            RunError::TimedOut(_) => format!("{} {subcommand} {err}", program.display()),
            RunError::CannotStart(_) => format!("{} {err}", program.display()),
        },
        help: "raise kustomize.timeout_seconds in .scar.yaml if the tree is large".to_string(),
    })?;
    if !finished.success {
        let message = build_error(&process::tool_message(&finished.stderr));
        return Err(Failure {
            at: blamed_reference(root, &message, paths).unwrap_or_else(root_ref),
            message: format!("kustomize: {message}"),
            help: "fix the kustomization; `kubectl kustomize` shows the same error".to_string(),
        });
    }
    let origins = Origins {
        wrapper,
        root_real,
        root_dir: root.dir.clone(),
    };
    let map = KustomizeMap::new(root, origins.clone(), paths);
    let mut rendered = Rendered::new(finished.stdout, Box::new(map), finished.elapsed);
    let sources: BTreeSet<Arc<str>> = rendered
        .documents
        .iter()
        .filter_map(|d| origins.file_of(d))
        .map(|f| paths.display(&f))
        .collect();
    rendered.sources = sources.into_iter().collect();
    Ok(rendered)
}

/// Reads the origin annotations of a build through the scratch kustomization.
#[derive(Debug, Clone)]
struct Origins {
    /// The scratch folder, symbolic links resolved.
    wrapper: PathBuf,
    root_real: PathBuf,
    root_dir: PathBuf,
}

impl Origins {
    /// The file an object came from.
    fn file_of(&self, object: &Node) -> Option<PathBuf> {
        let origin = object
            .at(&["metadata", "annotations", ORIGIN_ANNOTATION])
            .and_then(Node::str)?;
        let origin = parse_documents(origin).ok()?.into_iter().next()?;
        let written = origin
            .get("path")
            .or_else(|| origin.get("configuredIn"))
            .and_then(Node::str)?;
        let real = normalize(&self.wrapper.join(written));
        // Back from the resolved path kustomize used to the one the user
        // reached the root by, in case a symbolic link lies on the way.
        Some(normalize(
            &self.root_dir.join(relative_path(&self.root_real, &real)),
        ))
    }
}

/// Kustomize's error without what the scratch kustomization adds to it,
/// and without its second try of a missing file as a folder.
fn build_error(message: &str) -> String {
    const WRAPPER: &str = "recursed accumulation of path '";
    let mut inner = match message.rfind(WRAPPER) {
        Some(at) => message[at + WRAPPER.len()..]
            .split_once("': ")
            .map_or(message, |(_, rest)| rest),
        None => message,
    }
    .replace("accumulating resources: accumulation err='", "");
    if let Some(at) = inner.find("': must build at directory") {
        inner.truncate(at);
    }
    inner.trim_end_matches(['\'', '"']).to_string()
}

/// The line of a kustomization in the tree that names what the error is about.
fn blamed_reference(root: &Kustomization, message: &str, paths: &Paths) -> Option<SourceRef> {
    root.tree.iter().rev().find_map(|file| {
        let text = std::fs::read_to_string(file).ok()?;
        text.lines().enumerate().find_map(|(i, line)| {
            let item = line
                .trim()
                .strip_prefix("- ")?
                .trim()
                .trim_matches(['"', '\'']);
            let named = !item.is_empty()
                && (message.contains(&format!("'{item}'"))
                    || message.contains(&format!("/{item}")));
            named.then(|| {
                let column = line.find(item).unwrap_or(0) as u32 + 1;
                SourceRef::on_line(
                    paths.display(file),
                    Span::on_line(i as u32 + 1, column, item.chars().count() as u32),
                    line,
                )
            })
        })
    })
}

/// A YAML file of the tree, parsed with positions.
struct TreeFile {
    display: Arc<str>,
    text: String,
    lines: LineIndex,
    documents: Vec<Node>,
}

impl TreeFile {
    fn read(path: &Path, paths: &Paths) -> Option<TreeFile> {
        let text = std::fs::read_to_string(path).ok()?;
        Some(TreeFile {
            display: paths.display(path),
            documents: parse_documents(&text).unwrap_or_default(),
            lines: LineIndex::new(&text),
            text,
        })
    }

    fn place(&self, span: Span) -> SourceRef {
        SourceRef::on_line(
            self.display.clone(),
            span,
            self.lines.line(&self.text, span.line),
        )
    }
}

/// Which objects a patch applies to.
#[derive(Debug, Clone, Default)]
struct Target {
    kind: Option<String>,
    name: Option<String>,
}

impl Target {
    fn of(node: Option<&Node>) -> Target {
        let field = |key| {
            node.and_then(|n| n.get(key))
                .and_then(Node::str)
                .map(str::to_string)
        };
        Target {
            kind: field("kind"),
            name: field("name"),
        }
    }

    /// Whether the patch targets the object written as `name.written` and
    /// rendered as `name.rendered`. A target names the object as written,
    /// as rendered, or with the prefixes of the kustomizations below it.
    fn matches(&self, kind: &str, name: &Name) -> bool {
        self.kind.as_deref().is_none_or(|k| k == kind)
            && self.name.as_deref().is_none_or(|n| {
                n == name.written
                    || n == name.rendered
                    || (n.contains(name.written.as_str()) && name.rendered.contains(n))
            })
    }
}

/// An object's name as its resource file writes it and as rendered, after
/// the kustomizations' `namePrefix` and `nameSuffix`.
struct Name {
    written: String,
    rendered: String,
}

/// The name a rendered object was written with, among `written` names of
/// its kind: its own when written so, else the longest one the prefixes and
/// suffixes could have grown into it. `web-canary` is never `web`'s.
fn written_name<'n>(rendered: &str, written: impl Iterator<Item = &'n str>) -> Option<&'n str> {
    let mut best: Option<&str> = None;
    for name in written {
        if name == rendered {
            return Some(name);
        }
        if !name.is_empty() && rendered.contains(name) && best.is_none_or(|b| name.len() > b.len())
        {
            best = Some(name);
        }
    }
    best
}

enum Body {
    /// A strategic merge patch: the fields it writes, as a partial object.
    Merge(Node),
    /// JSON patch operations: where each writes, and the operation.
    Json(Vec<(Vec<Step>, Node)>),
    /// A `replicas:` entry: its `count`.
    Replicas(Node),
}

struct Patch {
    /// Index into `KustomizeMap::files`.
    file: usize,
    target: Target,
    body: Body,
}

struct KustomizeMap {
    origins: Origins,
    files: Vec<(PathBuf, TreeFile)>,
    /// In the order kustomize applies them: inner kustomizations first.
    patches: Vec<Patch>,
    root_file: SourceRef,
}

impl KustomizeMap {
    fn new(root: &Kustomization, origins: Origins, paths: &Paths) -> KustomizeMap {
        let mut map = KustomizeMap {
            origins,
            files: Vec::new(),
            patches: Vec::new(),
            root_file: SourceRef::whole_file(paths.display(&root.file)),
        };
        for file in &root.files {
            if let Some(parsed) = TreeFile::read(file, paths) {
                map.files.push((file.clone(), parsed));
            }
        }
        for kustomization in &root.tree {
            map.read_patches(kustomization);
        }
        map
    }

    fn file_index(&self, path: &Path) -> Option<usize> {
        self.files.iter().position(|(p, _)| p == path)
    }

    fn read_patches(&mut self, kustomization: &Path) {
        let Some(k_index) = self.file_index(kustomization) else {
            return;
        };
        let dir = kustomization
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let Some(root) = self.files[k_index].1.documents.first().cloned() else {
            return;
        };
        let mut found = Vec::new();
        for item in root
            .get("patchesStrategicMerge")
            .map_or(&[][..], Node::items)
        {
            found.extend(self.patch_bodies(&dir, k_index, Some(item), None, Target::default()));
        }
        for key in ["patches", "patchesJson6902"] {
            for item in root.get(key).map_or(&[][..], Node::items) {
                let target = Target::of(item.get("target"));
                found.extend(self.patch_bodies(
                    &dir,
                    k_index,
                    item.get("path"),
                    item.get("patch"),
                    target,
                ));
            }
        }
        for entry in root.get("replicas").map_or(&[][..], Node::items) {
            if let Some(count) = entry.get("count") {
                found.push(Patch {
                    file: k_index,
                    target: Target {
                        kind: None,
                        name: entry.get("name").and_then(Node::str).map(str::to_string),
                    },
                    body: Body::Replicas(count.clone()),
                });
            }
        }
        self.patches.extend(found);
    }

    /// The patches one entry of a kustomization holds: a file it names, or
    /// the YAML written inline (a path-like string is a file).
    fn patch_bodies(
        &self,
        dir: &Path,
        k_index: usize,
        path: Option<&Node>,
        inline: Option<&Node>,
        target: Target,
    ) -> Vec<Patch> {
        let (file, documents) = match (path.and_then(Node::str), inline) {
            (Some(text), _) if !text.contains('\n') => {
                let Some(index) = self.file_index(&normalize(&dir.join(text))) else {
                    return Vec::new();
                };
                (index, self.files[index].1.documents.clone())
            }
            (Some(_), _) => (
                k_index,
                path.and_then(Node::embedded_documents).unwrap_or_default(),
            ),
            (None, Some(node)) => (k_index, node.embedded_documents().unwrap_or_default()),
            (None, None) => return Vec::new(),
        };
        documents
            .into_iter()
            .map(|doc| {
                let own = Target::of(Some(&doc));
                let own_name = doc.at(&["metadata", "name"]).and_then(Node::str);
                let target = Target {
                    kind: target.kind.clone().or(own.kind),
                    name: target.name.clone().or(own_name.map(str::to_string)),
                };
                let body = match &doc.value {
                    Value::Seq(ops) => Body::Json(
                        ops.iter()
                            .filter_map(|op| {
                                let pointer = op.get("path").and_then(Node::str)?;
                                Some((from_pointer(pointer), op.clone()))
                            })
                            .collect(),
                    ),
                    _ => Body::Merge(doc.clone()),
                };
                Patch { file, target, body }
            })
            .collect()
    }

    /// The latest patch that writes `path` of the object. The fields that
    /// name the object in a patch say which object it patches, not what.
    fn patched(&self, kind: &str, name: &Name, path: &[Step], key: bool) -> Option<SourceRef> {
        let identity = |first: &str, second: Option<&str>| {
            matches!(
                (first, second),
                ("apiVersion" | "kind", _) | ("metadata", Some("name" | "namespace") | None)
            )
        };
        let key_at = |i: usize| match path.get(i) {
            Some(Step::Key(k)) => Some(k.as_str()),
            _ => None,
        };
        if key_at(0).is_none_or(|first| identity(first, key_at(1))) {
            return None;
        }
        self.patches.iter().rev().find_map(|patch| {
            if !patch.target.matches(kind, name) {
                return None;
            }
            let file = &self.files[patch.file].1;
            let node = match &patch.body {
                Body::Merge(doc) => {
                    let (node, key_node, taken) = follow(doc, path);
                    if taken < path.len() {
                        return None;
                    }
                    if key {
                        key_node.unwrap_or(node)
                    } else {
                        node
                    }
                }
                Body::Json(ops) => {
                    let (pointer, op) = ops.iter().rev().find(|(p, _)| pointer_covers(p, path))?;
                    let value = op.get("value").unwrap_or(op);
                    follow(value, &path[pointer.len()..]).0
                }
                Body::Replicas(count) => {
                    let replicas = [Step::Key("spec".into()), Step::Key("replicas".into())];
                    if path != replicas || kind == "DaemonSet" {
                        return None;
                    }
                    count
                }
            };
            Some(file.place(node.span))
        })
    }

    /// The name the object was written with in its resource file (in any
    /// file of the tree when its origin is not known).
    fn written_name(&self, file: Option<&Path>, kind: &str, rendered: &str) -> String {
        let names = self
            .files
            .iter()
            .filter(|(path, _)| file.is_none_or(|f| f == path))
            .flat_map(|(_, parsed)| &parsed.documents)
            .filter(|d| d.get("kind").and_then(Node::str) == Some(kind))
            .filter_map(|d| d.at(&["metadata", "name"]).and_then(Node::str));
        written_name(rendered, names)
            .unwrap_or(rendered)
            .to_string()
    }

    /// The node at `path` in the object's resource file, or the deepest
    /// node above it there.
    fn in_resource(
        &self,
        file: &Path,
        kind: &str,
        name: &Name,
        path: &[Step],
        key: bool,
    ) -> Option<SourceRef> {
        let index = self.file_index(file)?;
        let parsed = &self.files[index].1;
        let same_kind = |d: &&Node| d.get("kind").and_then(Node::str) == Some(kind);
        let document = parsed
            .documents
            .iter()
            .filter(same_kind)
            .find(|d| d.at(&["metadata", "name"]).and_then(Node::str) == Some(&name.written))
            .or_else(|| parsed.documents.iter().find(same_kind))?;
        let (node, key_node, taken) = follow(document, path);
        let whole = taken == path.len();
        let span = match key_node {
            Some(k) if key || !whole => k.span,
            _ => node.span,
        };
        Some(parsed.place(span))
    }
}

impl SourceMap for KustomizeMap {
    fn locate(&self, object: &Node, span: Span, _rendered_line: &str) -> Traced {
        let kind = object.get("kind").and_then(Node::str).unwrap_or("");
        let rendered = object
            .at(&["metadata", "name"])
            .and_then(Node::str)
            .unwrap_or("");
        let file = self.origins.file_of(object);
        let name = Name {
            written: self.written_name(file.as_deref(), kind, rendered),
            rendered: rendered.to_string(),
        };
        let (path, key) = path_to(object, span).unwrap_or_default();
        let at = self
            .patched(kind, &name, &path, key)
            .or_else(|| self.in_resource(file.as_deref()?, kind, &name, &path, key))
            .unwrap_or_else(|| self.root_file.clone());
        Traced {
            at,
            related: Vec::new(),
        }
    }
}
