//! Paths as a run shows them. Files discovery found keep the display path
//! they were found under; files only a render names (a template, a base
//! outside the folders linted) are shown relative to the current folder.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::input::discover::normalize;

#[derive(Debug, Clone, Default)]
pub struct Paths {
    cwd: PathBuf,
    known: HashMap<PathBuf, Arc<str>>,
    /// Folders the run was given, and how they are shown.
    roots: Vec<(PathBuf, String)>,
}

impl Paths {
    pub fn new(cwd: &Path) -> Paths {
        Paths {
            cwd: cwd.to_path_buf(),
            ..Paths::default()
        }
    }

    /// Remembers how a folder the run was given is shown, so that files
    /// below it that discovery did not list (a template, a base) are shown
    /// the same way.
    pub fn know_folder(&mut self, absolute: PathBuf, display: &str) {
        self.roots
            .push((absolute, display.trim_end_matches('/').to_string()));
    }

    /// Remembers how discovery shows a file.
    pub fn know(&mut self, absolute: PathBuf, display: Arc<str>) {
        self.known.entry(absolute).or_insert(display);
    }

    /// `path` made absolute against the current folder, `.` and `..` resolved.
    pub fn absolute(&self, path: &Path) -> PathBuf {
        normalize(&self.cwd.join(path))
    }

    /// How findings name an absolute path.
    pub fn display(&self, absolute: &Path) -> Arc<str> {
        if let Some(known) = self.known.get(absolute) {
            return known.clone();
        }
        let root = self
            .roots
            .iter()
            .filter(|(dir, _)| absolute.starts_with(dir))
            .max_by_key(|(dir, _)| dir.components().count());
        if let Some((dir, shown)) = root {
            let rest = absolute.strip_prefix(dir).unwrap_or(absolute);
            return match (shown.is_empty(), rest.as_os_str().is_empty()) {
                (_, true) => shown.as_str().into(),
                (true, false) => rest.to_string_lossy().into(),
                (false, false) => format!("{shown}/{}", rest.display()).into(),
            };
        }
        // Outside the current folder's tree altogether (a temporary
        // folder), the absolute path reads better than a climb to the root.
        let shares_only_root = common_components(&self.cwd, absolute) <= 1;
        if shares_only_root || !absolute.is_absolute() {
            return absolute.to_string_lossy().into();
        }
        relative_path(&self.cwd, absolute).to_string_lossy().into()
    }
}

fn common_components(a: &Path, b: &Path) -> usize {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .count()
}

/// The projects of a run: references between objects never cross from
/// one to another, so that linting unrelated projects together reports
/// what linting each alone does. Each folder the run was given (as input
/// or `--context`) is one, and so is every folder inside it that marks a
/// project of its own: a repository (`.git`) or a licence file. Files named
/// one by one, outside those folders, share one more.
#[derive(Debug, Clone, Default)]
pub struct RunFolders {
    /// Absolute; none inside another.
    folders: Vec<PathBuf>,
    projects: HashMap<PathBuf, u32>,
    marks_project: HashMap<PathBuf, bool>,
}

/// Files whose presence makes a folder a project of its own.
const PROJECT_MARKERS: &[&str] = &[".git", "LICENSE", "LICENSE.md", "LICENSE.txt", "COPYING"];

/// The project of standard input and of files named one by one.
const LOOSE_FILES: u32 = 0;

impl RunFolders {
    pub fn new(mut folders: Vec<PathBuf>) -> RunFolders {
        folders.sort();
        folders.dedup();
        let outermost: Vec<PathBuf> = folders
            .iter()
            .filter(|f| !folders.iter().any(|o| o != *f && f.starts_with(o)))
            .cloned()
            .collect();
        RunFolders {
            folders: outermost,
            ..RunFolders::default()
        }
    }

    /// The project `path` (absolute) belongs to.
    pub fn of(&mut self, path: Option<&Path>) -> u32 {
        let Some(path) = path else {
            return LOOSE_FILES;
        };
        let Some(folder) = self.folders.iter().find(|f| path.starts_with(f)).cloned() else {
            return LOOSE_FILES;
        };
        let project = path
            .ancestors()
            .skip(1)
            .take_while(|dir| dir.starts_with(&folder) && *dir != folder)
            .find(|dir| self.marks_project(dir))
            .map_or(folder.clone(), Path::to_path_buf);
        let next = self.projects.len() as u32 + 1;
        *self.projects.entry(project).or_insert(next)
    }

    fn marks_project(&mut self, dir: &Path) -> bool {
        if let Some(known) = self.marks_project.get(dir) {
            return *known;
        }
        let marked = PROJECT_MARKERS.iter().any(|m| dir.join(m).exists());
        self.marks_project.insert(dir.to_path_buf(), marked);
        marked
    }
}

/// The path from folder `from` to `to`, both absolute and normalized, with
/// `..` where `to` is not below `from`.
pub fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to_parts: Vec<Component> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_known_files_as_found_and_others_relative_to_the_current_folder() {
        let mut paths = Paths::new(Path::new("/work/main"));
        paths.know(
            PathBuf::from("/work/main/a/x.yaml"),
            "./a/../a/x.yaml".into(),
        );
        assert_eq!(
            &*paths.display(Path::new("/work/main/a/x.yaml")),
            "./a/../a/x.yaml"
        );
        assert_eq!(
            &*paths.display(Path::new("/work/main/b/y.yaml")),
            "b/y.yaml"
        );
        assert_eq!(
            &*paths.display(Path::new("/work/shared/c/z.yaml")),
            "../shared/c/z.yaml"
        );
        assert_eq!(&*paths.display(Path::new("/tmp/q.yaml")), "/tmp/q.yaml");
        paths.know_folder(PathBuf::from("/work/shared/corpus"), "/work/shared/corpus");
        assert_eq!(
            &*paths.display(Path::new("/work/shared/corpus/c/NOTES.txt")),
            "/work/shared/corpus/c/NOTES.txt",
            "below a folder named on the command line, shown the way it was named"
        );
        assert_eq!(
            paths.absolute(Path::new("../shared/./c")),
            PathBuf::from("/work/shared/c")
        );
    }

    #[test]
    fn files_belong_to_the_folder_named_or_the_project_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, text) in [
            ("a/sub/x.yaml", ""),
            ("a/y.yaml", ""),
            ("a/vendored/LICENSE", "MIT"),
            ("a/vendored/deploy/z.yaml", ""),
            ("b/w.yaml", ""),
        ] {
            std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            std::fs::write(root.join(path), text).unwrap();
        }
        let mut folders = RunFolders::new(vec![root.join("a"), root.join("b"), root.join("a/sub")]);
        let mut of = |p: &str| folders.of(Some(&root.join(p)));
        let a = of("a/sub/x.yaml");
        assert_eq!(of("a/y.yaml"), a);
        let vendored = of("a/vendored/deploy/z.yaml");
        let b = of("b/w.yaml");
        assert!(a != vendored && a != b && vendored != b);
        assert_eq!(of("elsewhere.yaml"), LOOSE_FILES);
        assert_eq!(folders.of(None), LOOSE_FILES);
    }

    #[test]
    fn relative_paths_climb_with_dot_dot() {
        assert_eq!(
            relative_path(Path::new("/tmp/w/x"), Path::new("/tmp/k/base")),
            PathBuf::from("../../k/base")
        );
        assert_eq!(
            relative_path(Path::new("/a"), Path::new("/a/b")),
            PathBuf::from("b")
        );
        assert_eq!(
            relative_path(Path::new("/tmp/w"), Path::new("/work/k")),
            PathBuf::from("../../work/k")
        );
    }
}
