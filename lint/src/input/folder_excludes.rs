//! Folders a walk does not enter: configuration nobody deploys (examples,
//! samples, archives, test fixtures) and code copied from elsewhere.
//!
//! golangci-lint (`exclude-dirs-use-default`) and ruff skip such folders by
//! default for the same reason: what they hold is true to lint but never
//! applied, and a team adopting a linter cannot act on it. On real
//! repositories half of scar's findings were there.

use std::path::{Component, Path};

/// The folders skipped by default, by name wherever they stand, or by the
/// last parts of their path (`test/fixtures`).
pub const DEFAULT_EXCLUDED_FOLDERS: &[&str] = &[
    "examples",
    "example",
    "samples",
    "sample",
    "_archived",
    "testdata",
    "test/fixtures",
    "tests/fixtures",
    "third_party",
    "vendor",
    "node_modules",
];

/// Which folders a run skips, and whether that holds for paths named on
/// the command line too (`--force-exclude`, for hooks that name files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderExcludes {
    /// Each pattern's parts: `["test", "fixtures"]`.
    patterns: Vec<Vec<String>>,
    /// Paths named on the command line are skipped too when they lie in
    /// such a folder (a folder or file named is otherwise always linted).
    pub named_too: bool,
}

impl Default for FolderExcludes {
    fn default() -> Self {
        FolderExcludes::new(true, &[])
    }
}

impl FolderExcludes {
    /// The built-in folders (when `defaults`) and `extra` ones, each a
    /// folder name or the last parts of a folder's path.
    pub fn new(defaults: bool, extra: &[String]) -> FolderExcludes {
        let builtin = DEFAULT_EXCLUDED_FOLDERS
            .iter()
            .filter(|_| defaults)
            .map(|pattern| pattern.to_string());
        let patterns = builtin
            .chain(extra.iter().cloned())
            .map(|pattern| {
                pattern
                    .split('/')
                    .filter(|part| !part.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|parts| !parts.is_empty())
            .collect();
        FolderExcludes {
            patterns,
            named_too: false,
        }
    }

    /// The same folders, skipped for paths named on the command line too
    /// when `yes`.
    pub fn for_named_paths_too(self, yes: bool) -> FolderExcludes {
        FolderExcludes {
            named_too: yes,
            ..self
        }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The folder at `path` is one to skip: its last parts are a pattern's.
    pub fn skips_folder(&self, path: &Path) -> bool {
        let parts = normal_parts(path);
        self.patterns.iter().any(|pattern| parts.ends_with(pattern))
    }

    /// The folder of `path` (a file or folder named on the command line)
    /// or a folder above it, up to where the path starts, is one to skip.
    pub fn covers_named(&self, path: &Path, is_folder: bool) -> bool {
        let parts = normal_parts(path);
        let folders = if is_folder {
            parts.len()
        } else {
            parts.len().saturating_sub(1)
        };
        (1..=folders).any(|end| {
            self.patterns
                .iter()
                .any(|pattern| parts[..end].ends_with(pattern))
        })
    }
}

/// The named parts of a path (`./a/../b` keeps `a`, `b`: no resolution).
fn normal_parts(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|component| match component {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_matched_by_name_or_by_their_last_parts() {
        let excludes = FolderExcludes::default();
        assert!(excludes.skips_folder(Path::new("repo/examples")));
        assert!(excludes.skips_folder(Path::new("charts/app/test/fixtures")));
        assert!(!excludes.skips_folder(Path::new("charts/app/fixtures")));
        assert!(!excludes.skips_folder(Path::new("charts/app/test")));
        assert!(!excludes.skips_folder(Path::new("deploy/my-examples")));
        assert!(!excludes.skips_folder(Path::new("examples/app")));
    }

    #[test]
    fn named_paths_are_covered_by_the_folders_above_them() {
        let excludes = FolderExcludes::default();
        assert!(excludes.covers_named(Path::new("examples/app/deploy.yaml"), false));
        assert!(excludes.covers_named(Path::new("./vendor/x"), true));
        assert!(!excludes.covers_named(Path::new("deploy/examples.yaml"), false));
        assert!(!excludes.covers_named(Path::new("k8s"), true));
    }

    #[test]
    fn defaults_can_be_dropped_and_extended() {
        let none = FolderExcludes::new(false, &[]);
        assert!(none.is_empty());
        assert!(!none.skips_folder(Path::new("examples")));
        let extended = FolderExcludes::new(true, &["docs/install".to_string()]);
        assert!(extended.skips_folder(Path::new("repo/docs/install")));
        assert!(!extended.skips_folder(Path::new("repo/docs")));
        assert!(extended.skips_folder(Path::new("repo/samples")));
        let only_extra = FolderExcludes::new(false, &["hack".to_string()]);
        assert!(only_extra.skips_folder(Path::new("hack")));
        assert!(!only_extra.skips_folder(Path::new("examples")));
    }
}
