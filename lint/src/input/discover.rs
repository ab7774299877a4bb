//! Finds the files to lint and decides what kind each one is.
//!
//! Folders are walked in parallel by `ignore` (ripgrep's walker), honouring
//! `.gitignore` and `.ignore` and skipping hidden entries below the folder
//! named, and folders nobody deploys from (`folder_excludes`). A file named
//! on the command line is always checked, whatever its extension, and
//! classified by its content.

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::{WalkBuilder, WalkState};

use crate::input::folder_excludes::FolderExcludes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Yaml,
    Unit,
    Script,
}

/// What is known of a file's kind before it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    Known(FileKind),
    /// Named on the command line with an extension scar does not know.
    Sniff,
    /// Found in a walk without an extension: a script if it has a shebang,
    /// otherwise not ours.
    ShebangOnly,
    /// A `.conf` file in a `*.d/` folder: a systemd drop-in if it has a unit
    /// file's `[Section]`, otherwise not ours (`sysctl.d/`, nginx's `conf.d/`).
    DropIn,
}

#[derive(Debug, Clone)]
pub struct Candidate {
    /// `None` for standard input.
    pub path: Option<PathBuf>,
    pub display: Arc<str>,
    pub hint: Hint,
    /// False for files read only for what they tell about the others
    /// (`--context`): their own findings are not reported.
    pub report: bool,
    /// Named on the command line (or standard input), not found by a walk:
    /// a file that cannot be checked is then a finding, not a quiet skip.
    pub named: bool,
}

#[derive(Debug, Clone)]
pub enum Input {
    Path(PathBuf),
    /// Standard input, shown and classified as the file `name` when given
    /// (`--stdin-filename`), else read as YAML.
    Stdin {
        name: Option<String>,
    },
}

pub const STDIN_NAME: &str = "<stdin>";

#[derive(Debug)]
pub struct Discovery {
    pub candidates: Vec<Candidate>,
    /// Entries the walk could not read, with the reason.
    pub unreadable: Vec<(Arc<str>, String)>,
    /// Folders (and, with `named_too`, files named) left out by the folder
    /// excludes, as shown; folders end with `/`.
    pub excluded: Vec<Arc<str>>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct MissingPath(pub PathBuf);

impl std::fmt::Display for MissingPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: no such file or directory", self.0.display())
    }
}

impl std::error::Error for MissingPath {}

/// Finds the files of `inputs`, then those of `context` that are not among
/// them, marked as not reported.
pub fn discover(
    inputs: &[Input],
    context: &[PathBuf],
    threads: usize,
    excludes: &FolderExcludes,
) -> Result<Discovery, MissingPath> {
    let mut reported = discover_inputs(inputs, threads, excludes)?;
    if context.is_empty() {
        return Ok(reported);
    }
    let context: Vec<Input> = context.iter().cloned().map(Input::Path).collect();
    let mut background = discover_inputs(&context, threads, excludes)?;
    let named: std::collections::HashSet<Arc<str>> = reported
        .candidates
        .iter()
        .map(|c| c.display.clone())
        .collect();
    background
        .candidates
        .retain(|c| !named.contains(&c.display));
    for candidate in &mut background.candidates {
        candidate.report = false;
    }
    reported.candidates.extend(background.candidates);
    Ok(reported)
}

fn discover_inputs(
    inputs: &[Input],
    threads: usize,
    excludes: &FolderExcludes,
) -> Result<Discovery, MissingPath> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut discovery = Discovery {
        candidates: Vec::new(),
        unreadable: Vec::new(),
        excluded: Vec::new(),
    };
    for input in inputs {
        if let Input::Path(path) = input {
            let shown = display_path(path, &cwd);
            let is_folder = path.is_dir();
            if excludes.named_too && excludes.covers_named(Path::new(&*shown), is_folder) {
                discovery.excluded.push(if is_folder {
                    folder_shown(&shown)
                } else {
                    shown
                });
                continue;
            }
        }
        match input {
            Input::Stdin { name } => discovery.candidates.push(Candidate {
                path: None,
                display: name.as_deref().unwrap_or(STDIN_NAME).into(),
                hint: name.as_ref().map_or(Hint::Known(FileKind::Yaml), |n| {
                    hint_from_name(Path::new(n))
                }),
                report: true,
                named: true,
            }),
            Input::Path(path) if path.is_dir() => {
                walk(path, &cwd, threads, excludes, &mut discovery)
            }
            // A link that leads nowhere (or round in a loop) is still a file
            // named: checking it says why it cannot be read.
            Input::Path(path) if path.symlink_metadata().is_ok() => {
                discovery.candidates.push(Candidate {
                    path: Some(path.clone()),
                    display: display_path(path, &cwd),
                    hint: hint_from_name(path),
                    report: true,
                    named: true,
                })
            }
            Input::Path(path) => return Err(MissingPath(path.clone())),
        }
    }
    discovery
        .candidates
        .sort_by(|a, b| a.display.cmp(&b.display));
    discovery.candidates.dedup_by(|a, b| a.display == b.display);
    discovery.excluded.sort();
    discovery.excluded.dedup();
    Ok(discovery)
}

fn walk(
    root: &Path,
    cwd: &Path,
    threads: usize,
    excludes: &FolderExcludes,
    discovery: &mut Discovery,
) {
    let found = Mutex::new(Vec::new());
    let unreadable = Mutex::new(Vec::new());
    let excluded = Arc::new(Mutex::new(Vec::new()));
    let mut builder = WalkBuilder::new(root);
    builder.require_git(false).threads(threads);
    if !excludes.is_empty() {
        let (excludes, excluded) = (excludes.clone(), excluded.clone());
        // The folder the walk starts at was named: only folders below it
        // are left out.
        builder.filter_entry(move |entry| {
            let skip = entry.depth() > 0
                && entry.file_type().is_some_and(|t| t.is_dir())
                && excludes.skips_folder(entry.path());
            if skip {
                lock(&excluded).push(entry.path().to_path_buf());
            }
            !skip
        });
    }
    builder.build_parallel().run(|| {
        Box::new(|entry| {
            match entry {
                Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => {
                    let path = entry.path();
                    let hint = match hint_from_name(path) {
                        Hint::Sniff if may_be_script(path) => Some(Hint::ShebangOnly),
                        Hint::Sniff => None,
                        hint => Some(hint),
                    };
                    if let Some(hint) = hint {
                        let candidate = Candidate {
                            path: Some(path.to_path_buf()),
                            display: display_path(path, cwd),
                            hint,
                            report: true,
                            named: false,
                        };
                        lock(&found).push(candidate);
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    let path = error_path(&err).map_or_else(
                        || root.display().to_string().into(),
                        |p| display_path(p, cwd),
                    );
                    lock(&unreadable).push((path, err.to_string()));
                }
            }
            WalkState::Continue
        })
    });
    discovery
        .candidates
        .extend(found.into_inner().unwrap_or_else(|e| e.into_inner()));
    discovery
        .unreadable
        .extend(unreadable.into_inner().unwrap_or_else(|e| e.into_inner()));
    discovery.excluded.extend(
        lock(&excluded)
            .iter()
            .map(|folder| folder_shown(&display_path(folder, cwd))),
    );
}

/// A folder as the summary lists it: `examples/`.
fn folder_shown(shown: &str) -> Arc<str> {
    format!("{}/", shown.trim_end_matches('/')).into()
}

/// A poisoned lock only means another walker thread panicked; its data is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn error_path(err: &ignore::Error) -> Option<&Path> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// Resolves `.` and `..` without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Relative to the current directory when under it, without a leading `./`.
pub fn display_path(path: &Path, cwd: &Path) -> Arc<str> {
    let relative = if path.is_absolute() {
        path.strip_prefix(cwd).unwrap_or(path)
    } else {
        path
    };
    let relative = relative.strip_prefix(".").unwrap_or(relative);
    relative.to_string_lossy().into()
}

/// Scripts often have no extension (`/usr/local/bin/etcd`, or `etcd.j2`
/// as a template); only their shebang tells.
fn may_be_script(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !without_template_suffixes(n).contains('.'))
}

/// Template suffixes that wrap a real file kind: `etcd.env.j2`, `unit.service.tmpl`.
const TEMPLATE_SUFFIXES: &[&str] = &["j2", "jinja", "jinja2", "tmpl", "tpl"];

fn without_template_suffixes(mut name: &str) -> &str {
    while let Some((stem, ext)) = name.rsplit_once('.') {
        if !TEMPLATE_SUFFIXES.contains(&ext) {
            break;
        }
        name = stem;
    }
    name
}

/// Suffixes of copies of a file rather than the file: left alone.
const COPY_SUFFIXES: &[&str] = &[
    "golden", "orig", "bak", "rej", "swp", "old", "tmp", "backup",
];

/// `coredns.yaml.sed`, `addon.yaml.base`, `deploy.yml.in`: YAML that a
/// build step fills in, as Kubernetes' own addon manifests ship.
fn is_yaml_with_a_suffix(name: &str) -> bool {
    let Some((stem, suffix)) = name.rsplit_once('.') else {
        return false;
    };
    (stem.ends_with(".yaml") || stem.ends_with(".yml")) && !COPY_SUFFIXES.contains(&suffix)
}

/// The kind a file name promises; `None` when only its content can tell.
pub fn kind_from_name(path: &Path) -> Option<FileKind> {
    let file_name = path.file_name()?.to_str()?;
    if file_name == "Kustomization" {
        return Some(FileKind::Yaml);
    }
    let name = without_template_suffixes(file_name);
    let ext = name.rsplit_once('.').map(|(_, ext)| ext)?;
    if is_yaml_with_a_suffix(name) {
        return Some(FileKind::Yaml);
    }
    match ext {
        "yaml" | "yml" => Some(FileKind::Yaml),
        "service" | "socket" | "timer" => Some(FileKind::Unit),
        "sh" | "bash" => Some(FileKind::Script),
        _ => None,
    }
}

/// What a file's name tells of its kind before it is read.
pub fn hint_from_name(path: &Path) -> Hint {
    match kind_from_name(path) {
        Some(kind) => Hint::Known(kind),
        None if is_drop_in(path) => Hint::DropIn,
        None => Hint::Sniff,
    }
}

/// systemd drop-ins are `.conf` files in `<unit>.d/` folders.
fn is_drop_in(path: &Path) -> bool {
    let in_dot_d = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|d| d.to_str())
        .is_some_and(|d| d.ends_with(".d"));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    in_dot_d && without_template_suffixes(name).ends_with(".conf")
}

/// Sections of systemd unit files, which a drop-in holds at least one of.
const UNIT_SECTIONS: &[&str] = &[
    "Unit",
    "Service",
    "Socket",
    "Timer",
    "Install",
    "Mount",
    "Automount",
    "Swap",
    "Path",
    "Slice",
    "Scope",
];

/// Whether a text has a `[Section]` header of a systemd unit file.
pub fn has_unit_section(text: &str) -> bool {
    text.lines().any(|line| {
        line.trim()
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .is_some_and(|name| UNIT_SECTIONS.contains(&name))
    })
}

/// Classifies a file from its text: a shebang, a `[Section]` header, or YAML.
pub fn kind_from_content(text: &str) -> FileKind {
    if has_shell_shebang(text) {
        return FileKind::Script;
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'));
    match first {
        Some(line) if line.starts_with('[') && line.ends_with(']') && !line.contains(',') => {
            FileKind::Unit
        }
        _ => FileKind::Yaml,
    }
}

pub fn has_shell_shebang(text: &str) -> bool {
    let Some(line) = text.lines().next().and_then(|l| l.strip_prefix("#!")) else {
        return false;
    };
    let mut words = line.split_whitespace();
    let interpreter = words.next().unwrap_or("");
    let program = match interpreter.rsplit('/').next() {
        Some("env") => words.find(|w| !w.starts_with('-')).unwrap_or(""),
        Some(program) => program,
        None => "",
    };
    matches!(program, "sh" | "bash" | "dash" | "ash" | "ksh" | "zsh")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_name_through_template_suffixes() {
        assert_eq!(kind_from_name(Path::new("a/b.yml")), Some(FileKind::Yaml));
        assert_eq!(
            kind_from_name(Path::new("etcd.service.j2")),
            Some(FileKind::Unit)
        );
        assert_eq!(
            hint_from_name(Path::new("x/docker.service.d/10-mem.conf")),
            Hint::DropIn
        );
        assert_eq!(
            hint_from_name(Path::new("x/kubelet.service.d/10-kubeadm.conf.j2")),
            Hint::DropIn
        );
        assert_eq!(hint_from_name(Path::new("x/nginx.conf")), Hint::Sniff);
        assert!(has_unit_section("# memory\n[Service]\nMemoryMax=1G\n"));
        assert!(!has_unit_section("net.ipv4.ip_forward=1\n[not-a-unit]\n"));
        assert_eq!(kind_from_name(Path::new("etcd.j2")), None);
        assert_eq!(kind_from_name(Path::new("deploy.yaml.golden")), None);
        assert_eq!(
            kind_from_name(Path::new("coredns/coredns.yaml.sed")),
            Some(FileKind::Yaml)
        );
        assert_eq!(
            kind_from_name(Path::new("dns/kube-dns.yaml.base")),
            Some(FileKind::Yaml)
        );
        assert_eq!(kind_from_name(Path::new("x.yml.in")), Some(FileKind::Yaml));
        assert!(may_be_script(Path::new("roles/etcd/templates/etcd.j2")));
        assert!(!may_be_script(Path::new("README.md")));
    }

    #[test]
    fn classifies_by_content() {
        assert_eq!(
            kind_from_content("#!/usr/bin/env bash\ndocker run x\n"),
            FileKind::Script
        );
        assert_eq!(kind_from_content("#!/bin/sh\n"), FileKind::Script);
        assert_eq!(kind_from_content("#!/usr/bin/python3\n"), FileKind::Yaml);
        assert_eq!(
            kind_from_content("# etcd\n\n[Unit]\nDescription=x\n"),
            FileKind::Unit
        );
        assert_eq!(kind_from_content("[a, b]\n"), FileKind::Yaml);
        assert_eq!(kind_from_content("apiVersion: v1\n"), FileKind::Yaml);
    }
}

/// A file found but not checked, and why (binary, too large, a template
/// outside any chart, a unit that did not render).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: Arc<str>,
    pub reason: String,
}
