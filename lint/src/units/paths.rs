//! Paths as a run shows them. Files discovery found keep the display path
//! they were found under; files only a render names (a template, a base
//! outside the folders linted) are shown relative to the current folder.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::discover::normalize;

#[derive(Debug, Clone, Default)]
pub struct Paths {
    cwd: PathBuf,
    known: HashMap<PathBuf, Arc<str>>,
}

impl Paths {
    pub fn new(cwd: &Path) -> Paths {
        Paths {
            cwd: cwd.to_path_buf(),
            known: HashMap::new(),
        }
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
        assert_eq!(
            paths.absolute(Path::new("../shared/./c")),
            PathBuf::from("/work/shared/c")
        );
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
