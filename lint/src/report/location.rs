//! Paths as code-review tools want them: relative to the repository root.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::input::discover::normalize;

/// Rewrites paths that are relative to the current directory so that they
/// are relative to the root of the repository that holds each file: the
/// nearest folder above the file with a `.git` (so a run from outside the
/// checkout, or on a checkout in a subfolder of the workspace, still names
/// the lines GitHub shows), else `GITHUB_WORKSPACE` when the file is in it
/// (a checkout without `.git`), else the current directory.
pub struct RepoPaths {
    cwd: PathBuf,
    workspace: Option<PathBuf>,
    /// The repository root found for each folder asked about.
    roots: Mutex<HashMap<PathBuf, Option<PathBuf>>>,
}

impl RepoPaths {
    pub fn from_cwd() -> RepoPaths {
        let cwd = std::env::current_dir().unwrap_or_default();
        let workspace = std::env::var_os("GITHUB_WORKSPACE")
            .filter(|w| !w.is_empty())
            .map(|w| normalize(&cwd.join(w)));
        RepoPaths::new(cwd, workspace)
    }

    fn new(cwd: PathBuf, workspace: Option<PathBuf>) -> RepoPaths {
        RepoPaths {
            cwd,
            workspace,
            roots: Mutex::new(HashMap::new()),
        }
    }

    /// `None` for a path outside every root, or standard input.
    pub fn relative(&self, display: &str) -> Option<String> {
        if display == crate::input::discover::STDIN_NAME {
            return None;
        }
        let absolute = normalize(&self.cwd.join(display));
        let root = absolute
            .parent()
            .and_then(|folder| self.git_root(folder))
            .or_else(|| self.workspace.clone().filter(|w| absolute.starts_with(w)))
            .unwrap_or_else(|| self.cwd.clone());
        let relative = absolute.strip_prefix(&root).ok()?;
        Some(
            relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }

    fn git_root(&self, folder: &Path) -> Option<PathBuf> {
        let mut roots = self.roots.lock().unwrap_or_else(|e| e.into_inner());
        roots
            .entry(folder.to_path_buf())
            .or_insert_with(|| {
                folder
                    .ancestors()
                    .find(|dir| dir.join(".git").exists())
                    .map(Path::to_path_buf)
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_relative_to_the_repository_that_holds_them() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let repo = base.join("work/checkout");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("deploy/k8s")).unwrap();
        std::fs::create_dir_all(base.join("plain/k8s")).unwrap();

        let inside = RepoPaths::new(repo.join("deploy"), None);
        assert_eq!(
            inside.relative("k8s/a.yaml").as_deref(),
            Some("deploy/k8s/a.yaml")
        );
        // From outside the checkout, as with `actions/checkout` `path:`.
        let outside = RepoPaths::new(base.join("work"), Some(base.join("work")));
        assert_eq!(
            outside.relative("checkout/deploy/k8s/a.yaml").as_deref(),
            Some("deploy/k8s/a.yaml")
        );
        // No `.git` above: the workspace, else the current directory.
        let workspace = RepoPaths::new(base.join("plain/k8s"), Some(base.join("plain")));
        assert_eq!(workspace.relative("a.yaml").as_deref(), Some("k8s/a.yaml"));
        let bare = RepoPaths::new(base.join("plain"), None);
        assert_eq!(bare.relative("k8s/a.yaml").as_deref(), Some("k8s/a.yaml"));
        assert_eq!(bare.relative("../elsewhere/x.yaml"), None);
        assert_eq!(bare.relative("<stdin>"), None);
    }
}
