//! A chart's declared dependencies that are not vendored in its `charts/`:
//! which are missing, and where the repository already holds them (a
//! `file://` path, or a sibling chart folder of the same name whose version
//! satisfies the constraint, as chart monorepos keep them).
//!
//! helm checks every declared dependency before it renders, whatever its
//! `condition`, so one that is missing stops the whole chart.

use std::path::{Path, PathBuf};

use crate::input::units::chart::{read_yaml, CHART_FILE};
use crate::model::parse::yaml::Node;

/// One entry of `dependencies:` in `Chart.yaml` (or `requirements.yaml`
/// for an `apiVersion: v1` chart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    /// The version constraint (`~1.2.0`, `>= 1.0.0 < 2.0.0`, `*`).
    pub version: Option<String>,
    pub repository: Option<String>,
}

/// The file a chart declares its dependencies in.
pub fn declared_in(chart: &Path) -> PathBuf {
    let requirements = chart.join("requirements.yaml");
    let v1 = read_yaml(&chart.join(CHART_FILE))
        .as_ref()
        .and_then(|meta| meta.get("apiVersion"))
        .and_then(Node::str)
        == Some("v1");
    if v1 && requirements.is_file() {
        requirements
    } else {
        chart.join(CHART_FILE)
    }
}

/// The dependencies `chart` declares.
pub fn declared(chart: &Path) -> Vec<Dependency> {
    let Some(file) = read_yaml(&declared_in(chart)) else {
        return Vec::new();
    };
    let field = |entry: &Node, key| entry.get(key).and_then(Node::str).map(str::to_string);
    file.get("dependencies")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| {
            Some(Dependency {
                name: field(entry, "name")?,
                version: field(entry, "version"),
                repository: field(entry, "repository"),
            })
        })
        .collect()
}

/// The declared dependencies of the chart at `chart` that its `charts/`
/// folder does not hold, as a folder or as a packaged `.tgz`.
pub fn missing(chart: &Path) -> Vec<Dependency> {
    let vendored = vendored_names(&chart.join("charts"));
    declared(chart)
        .into_iter()
        .filter(|dependency| !vendored.contains(&dependency.name))
        .collect()
}

fn vendored_names(charts: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(charts) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            if path.join(CHART_FILE).is_file() {
                return chart_name_and_version(&path).map(|(name, _)| name);
            }
            // `name-1.2.3.tgz`: the name is what precedes the version.
            let file = path.file_name()?.to_str()?.strip_suffix(".tgz")?;
            let (name, version) = file
                .rsplit_once('-')
                .filter(|(_, v)| v.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
            (!version.is_empty()).then(|| name.to_string())
        })
        .collect()
}

/// A folder in the repository that holds `dependency` for the chart at
/// `chart`: its `file://` path, else a sibling chart folder (beside the
/// chart) with its name and a version that satisfies its constraint.
pub fn in_repository(chart: &Path, dependency: &Dependency) -> Option<PathBuf> {
    if let Some(path) = dependency
        .repository
        .as_deref()
        .and_then(|r| r.strip_prefix("file://"))
    {
        let folder = chart.join(path);
        return folder.join(CHART_FILE).is_file().then_some(folder);
    }
    let parent = chart.parent()?;
    let mut siblings: Vec<PathBuf> = std::fs::read_dir(parent)
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .filter(|folder| folder != chart)
        .collect();
    siblings.sort();
    siblings.into_iter().find(|folder| {
        chart_name_and_version(folder).is_some_and(|(name, version)| {
            name == dependency.name
                && dependency
                    .version
                    .as_deref()
                    .is_none_or(|constraint| satisfies(&version, constraint))
        })
    })
}

fn chart_name_and_version(folder: &Path) -> Option<(String, String)> {
    let meta = read_yaml(&folder.join(CHART_FILE))?;
    let field = |key| meta.get(key).and_then(Node::str).map(str::to_string);
    Some((field("name")?, field("version").unwrap_or_default()))
}

/// Whether `version` satisfies a helm version constraint (Masterminds
/// semver, as helm reads it): alternatives joined by `||`, each a list of
/// comparisons joined by commas or spaces (`>= 1.2, < 2`), `~` and `^`
/// ranges, `x` and `*` wildcards, `1.2 - 1.4` ranges; a bare version is
/// an exact one (`1.2` meaning any 1.2.x).
pub fn satisfies(version: &str, constraint: &str) -> bool {
    let Ok(version) = semver::Version::parse(version.trim().trim_start_matches('v')) else {
        return false;
    };
    constraint
        .split("||")
        .any(|alternative| all_hold(&version, alternative))
}

fn all_hold(version: &semver::Version, alternative: &str) -> bool {
    let alternative = alternative.trim();
    if let Some((low, high)) = alternative.split_once(" - ") {
        return all_hold(version, &format!(">={}, <={}", low.trim(), high.trim()));
    }
    // Operators may stand apart from their version (`>= 1.2`).
    let mut comparisons: Vec<String> = Vec::new();
    let mut pending_operator = String::new();
    for token in alternative
        .split([',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if token.chars().all(|c| "<>=!~^".contains(c)) {
            pending_operator = token.to_string();
        } else {
            comparisons.push(format!("{}{token}", std::mem::take(&mut pending_operator)));
        }
    }
    comparisons
        .iter()
        .all(|comparison| holds(version, comparison))
}

fn holds(version: &semver::Version, comparison: &str) -> bool {
    if let Some(other) = comparison.strip_prefix("!=") {
        return !holds(version, &format!("={other}"));
    }
    let operator_end = comparison
        .find(|c: char| !"<>=~^".contains(c))
        .unwrap_or(comparison.len());
    let (operator, rest) = comparison.split_at(operator_end);
    let operator = match operator {
        // A bare version is an exact one; `~>` is `~`.
        "" => "=",
        "~>" => "~",
        other => other,
    };
    let rest = rest.trim_start_matches('v').replace(['x', 'X'], "*");
    if rest == "*" {
        return true;
    }
    // semver takes a wildcard only without an operator (`1.2.*`).
    let requirement = if rest.contains('*') && operator == "=" {
        rest
    } else {
        format!("{operator}{rest}")
    };
    semver::VersionReq::parse(&requirement).is_ok_and(|requirement| requirement.matches(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_read_as_helm_reads_them() {
        for (version, constraint) in [
            ("1.2.3", "1.2.3"),
            ("1.2.7", "1.2"),
            ("1.2.7", "1.2.x"),
            ("1.4.0", "~1.4.0"),
            ("1.9.0", "^1.2.0"),
            ("2.0.0", "*"),
            ("1.5.0", ">= 1.2, < 2.0.0"),
            ("1.5.0", ">=1.2 <2"),
            ("3.1.0", "1.x || >=3.0.0"),
            ("1.3.0", "1.2 - 1.4.5"),
            ("1.3.0", "!=1.2.0"),
            ("27.0.1", "27.*"),
        ] {
            assert!(satisfies(version, constraint), "{version} {constraint}");
        }
        for (version, constraint) in [
            ("1.2.4", "1.2.3"),
            ("1.5.0", "~1.4.0"),
            ("2.0.0", "^1.2.0"),
            ("2.0.0", ">= 1.2, < 2.0.0"),
            ("2.5.0", "1.x || >=3.0.0"),
            ("1.2.0", "!=1.2.0"),
            ("not-a-version", "*"),
        ] {
            assert!(!satisfies(version, constraint), "{version} {constraint}");
        }
    }

    #[test]
    fn missing_dependencies_are_found_in_sibling_folders_and_file_paths() {
        let repo = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = repo.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "charts/app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- {name: db, version: ~2.1.0, repository: https://charts.example.com}\n- {name: cache, version: 1.x, repository: https://charts.example.com}\n- {name: lib, version: 0.1.0, repository: file://../../libs/lib}\n- {name: vendored, version: 1.0.0, repository: https://charts.example.com}\n",
        );
        write("charts/app/charts/vendored-1.0.0.tgz", "");
        write(
            "charts/db/Chart.yaml",
            "apiVersion: v2\nname: db\nversion: 2.1.4\n",
        );
        write(
            "charts/cache/Chart.yaml",
            "apiVersion: v2\nname: cache\nversion: 2.0.0\n",
        );
        write(
            "libs/lib/Chart.yaml",
            "apiVersion: v2\nname: lib\nversion: 0.1.0\n",
        );
        let app = repo.path().join("charts/app");
        let missing: Vec<String> = missing(&app).into_iter().map(|d| d.name).collect();
        assert_eq!(missing, ["db", "cache", "lib"]);
        let found: Vec<Option<PathBuf>> = super::missing(&app)
            .iter()
            .map(|d| in_repository(&app, d))
            .collect();
        assert_eq!(
            found,
            [
                Some(repo.path().join("charts/db")),
                None,
                Some(app.join("../../libs/lib")),
            ],
            "cache 2.0.0 does not satisfy 1.x"
        );
    }

    #[test]
    fn a_v1_chart_declares_them_in_requirements() {
        let chart = tempfile::tempdir().unwrap();
        std::fs::write(
            chart.path().join(CHART_FILE),
            "apiVersion: v1\nname: old\nversion: 1.0.0\n",
        )
        .unwrap();
        std::fs::write(
            chart.path().join("requirements.yaml"),
            "dependencies:\n- name: redis\n  version: 10.x\n  repository: https://charts.example.com\n",
        )
        .unwrap();
        assert_eq!(
            declared_in(chart.path()),
            chart.path().join("requirements.yaml")
        );
        assert_eq!(missing(chart.path())[0].name, "redis");
    }
}
