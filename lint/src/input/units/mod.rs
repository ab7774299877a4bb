//! Units: what one `helm install` or `kubectl apply -k` would send.
//!
//! Discovery finds files; this module sorts them into Helm charts (a folder
//! with `Chart.yaml`, its subcharts included), root kustomizations (ones no
//! other kustomization in the run references), the templates of Ansible
//! roles (`role.rs`) and plain files. A rendered
//! unit's objects reference each other and nothing else, so that the same
//! names in two charts, or in an overlay per environment, never mix.

pub(crate) mod chart;
pub(crate) mod kustomization;
pub(crate) mod paths;
pub mod render;
pub(crate) mod role;

pub(crate) use chart::Chart;
pub(crate) use kustomization::Kustomization;
pub(crate) use paths::{Paths, RunFolders};
use role::Role;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The charts and root kustomizations that the files of a run belong to.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    pub charts: Vec<Chart>,
    pub kustomizations: Vec<Kustomization>,
    pub roles: Vec<Role>,
}

impl Layout {
    /// Finds the units of `files` (absolute paths): the chart each lies in,
    /// and the root kustomizations among the kustomizations found and the
    /// ones in the folders of the files.
    pub fn of(files: &[PathBuf], paths: &Paths) -> Layout {
        let mut chart_roots = chart::Roots::default();
        let mut charts: BTreeMap<PathBuf, Chart> = BTreeMap::new();
        let mut kustomization_dirs: Vec<PathBuf> = Vec::new();
        let mut seen_dirs = HashSet::new();
        let mut roles: BTreeMap<PathBuf, Role> = BTreeMap::new();
        let mut role_dirs: HashMap<PathBuf, bool> = HashMap::new();
        let mut is_role = |dir: &Path| {
            *role_dirs
                .entry(dir.to_path_buf())
                .or_insert_with(|| role::is_role(dir))
        };
        for file in files {
            if let Some((dir, part)) = role::root_of(file, &mut is_role) {
                let role = roles.entry(dir.clone()).or_insert_with(|| Role {
                    display: paths.display(&dir),
                    dir,
                    templates: Vec::new(),
                    variable_files: Vec::new(),
                });
                match part {
                    role::Part::Template => role.templates.push(file.clone()),
                    role::Part::Variables => role.variable_files.push(file.clone()),
                }
            }
            let Some(dir) = file.parent() else { continue };
            if let Some(root) = chart_roots.root_of(dir) {
                if !charts.contains_key(&root) && chart::belongs(&root, file) {
                    charts.insert(root.clone(), Chart::read(&root, paths));
                }
            }
            if seen_dirs.insert(dir.to_path_buf()) && kustomization::file_in(dir).is_some() {
                kustomization_dirs.push(dir.to_path_buf());
            }
        }
        Layout {
            charts: charts.into_values().collect(),
            kustomizations: kustomization::roots(&kustomization_dirs, paths),
            roles: roles.into_values().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    fn write(root: &Path, name: &str, text: &str) -> PathBuf {
        let path = root.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }

    #[test]
    #[cfg(unix)]
    fn a_link_to_a_folder_above_does_not_make_a_chart_endless() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let chart = write(&root, "shop/Chart.yaml", "name: shop\n");
        write(&root, "shop/templates/cm.yaml", "kind: ConfigMap\n");
        std::os::unix::fs::symlink(&root, root.join("shop/templates/loop")).unwrap();
        let layout = Layout::of(&[chart], &Paths::new(&root));
        assert_eq!(
            layout.charts[0].files.len(),
            2,
            "{:?}",
            layout.charts[0].files
        );
    }

    #[test]
    fn sorts_files_into_charts_subcharts_root_kustomizations_and_plain_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let files = vec![
            write(&root, "shop/Chart.yaml", "name: shop\nversion: 1.0.0\n"),
            write(&root, "shop/values.yaml", "replicaCount: 1\n"),
            write(&root, "shop/templates/deploy.yaml", "kind: Deployment\n"),
            write(&root, "shop/charts/db/Chart.yaml", "name: db\n"),
            write(
                &root,
                "shop/charts/db/templates/sts.yaml",
                "kind: StatefulSet\n",
            ),
            write(&root, "shop/examples/rendered.yaml", "kind: Service\n"),
            write(
                &root,
                "k/base/kustomization.yaml",
                "resources: [deploy.yaml]\n",
            ),
            write(&root, "k/base/deploy.yaml", "kind: Deployment\n"),
            write(
                &root,
                "k/dev/kustomization.yaml",
                "resources: [../base]\npatches:\n- path: replicas.yaml\n",
            ),
            write(&root, "k/dev/replicas.yaml", "kind: Deployment\n"),
            write(&root, "k/dev/unused.yaml", "kind: Service\n"),
            write(&root, "plain/app.yaml", "kind: Deployment\n"),
        ];
        let paths = Paths::new(&root);
        let layout = Layout::of(&files, &paths);
        assert_eq!(layout.charts.len(), 1, "{layout:?}");
        assert!(layout.charts[0].dir.ends_with("shop"));
        assert_eq!(layout.kustomizations.len(), 1, "{layout:?}");
        assert!(layout.kustomizations[0].dir.ends_with("k/dev"));
        // Which unit each file belongs to: a subchart's files to its
        // parent, a base's to the overlay that renders it.
        let owned = |name: &str| {
            let file = root.join(name);
            let chart = layout.charts[0].files.contains(&file);
            let kustomization = layout.kustomizations[0].files.contains(&file);
            (chart, kustomization)
        };
        assert_eq!(owned("shop/charts/db/templates/sts.yaml"), (true, false));
        assert_eq!(owned("shop/examples/rendered.yaml"), (false, false));
        assert_eq!(owned("k/base/deploy.yaml"), (false, true));
        assert_eq!(owned("k/dev/replicas.yaml"), (false, true));
        assert_eq!(owned("k/dev/unused.yaml"), (false, false));
        assert_eq!(owned("plain/app.yaml"), (false, false));
    }
}
