//! Paths as code-review tools want them: relative to the repository root.

use std::path::PathBuf;

use crate::discover::normalize;

/// Rewrites paths that are relative to the current directory so that they
/// are relative to the repository root (the nearest folder above with a
/// `.git`, else the current directory).
pub struct RepoPaths {
    root: PathBuf,
    cwd: PathBuf,
}

impl RepoPaths {
    pub fn from_cwd() -> RepoPaths {
        let cwd = std::env::current_dir().unwrap_or_default();
        let root = cwd
            .ancestors()
            .find(|dir| dir.join(".git").exists())
            .unwrap_or(&cwd)
            .to_path_buf();
        RepoPaths { root, cwd }
    }

    /// `None` for a path outside the repository, or standard input.
    pub fn relative(&self, display: &str) -> Option<String> {
        if display == crate::discover::STDIN_NAME {
            return None;
        }
        let absolute = normalize(&self.cwd.join(display));
        let relative = absolute.strip_prefix(&self.root).ok()?;
        Some(
            relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_relative_to_the_repository_root() {
        let paths = RepoPaths {
            root: PathBuf::from("/repo"),
            cwd: PathBuf::from("/repo/deploy"),
        };
        assert_eq!(
            paths.relative("k8s/a.yaml").as_deref(),
            Some("deploy/k8s/a.yaml")
        );
        assert_eq!(
            paths.relative("../etc/etcd.sh").as_deref(),
            Some("etc/etcd.sh")
        );
        assert_eq!(paths.relative("/elsewhere/x.yaml"), None);
        assert_eq!(paths.relative("<stdin>"), None);
    }
}
