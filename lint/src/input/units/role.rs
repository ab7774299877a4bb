//! Ansible roles: a folder with `tasks/` whose `templates/` hold Jinja
//! templates (units, scripts, manifests). A role's templates render with its
//! variables, gathered here in Ansible's precedence: the defaults of the
//! roles it depends on (`meta/main.yml`), its own defaults, the `all`
//! group's variables of each inventory the config names, then its `vars/`.
//! Names a task registers or sets as a fact are known only to a run.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::input::units::Paths;
use crate::model::parse::yaml::{self, Node};
use crate::model::source::SourceRef;

/// How deep `meta/main.yml` dependencies are followed.
const DEPENDENCY_DEPTH: usize = 8;

/// A role of the run and the templates of it that discovery found.
#[derive(Debug)]
pub(crate) struct Role {
    pub dir: PathBuf,
    pub display: Arc<str>,
    pub templates: Vec<PathBuf>,
}

/// The role folder a file lies in, when it is under the role's `templates/`.
pub(crate) fn root_of(file: &Path, is_role: &mut impl FnMut(&Path) -> bool) -> Option<PathBuf> {
    let mut dir = file.parent()?;
    loop {
        let parent = dir.parent()?;
        if dir.file_name().is_some_and(|n| n == "templates") && is_role(parent) {
            return Some(parent.to_path_buf());
        }
        dir = parent;
    }
}

/// Whether a folder is a role: it has tasks.
pub(crate) fn is_role(dir: &Path) -> bool {
    dir.join("tasks").is_dir()
}

/// A variable's value as written, and where.
#[derive(Debug, Clone)]
pub(crate) struct Variable {
    pub value: Node,
    /// Its key in the file that sets it.
    pub at: SourceRef,
}

/// What a role's templates can read.
#[derive(Debug, Default)]
pub(crate) struct Variables {
    pub values: HashMap<String, Variable>,
    /// Registered results and facts set by tasks: values only a run has.
    pub runtime: HashSet<String>,
    /// Every file read, for what findings depend on.
    pub files: Vec<Arc<str>>,
}

impl Variables {
    /// The variables of the role at `dir`, with those of `inventories`.
    pub fn of_role(dir: &Path, inventories: &[PathBuf], paths: &Paths) -> Variables {
        let mut variables = Variables::default();
        let mut seen = HashSet::new();
        variables.add_dependency_defaults(dir, paths, 0, &mut seen);
        variables.add_folder(&dir.join("defaults"), paths);
        for inventory in inventories {
            let all = inventory.join("group_vars");
            variables.add_file(&all.join("all.yml"), paths);
            variables.add_file(&all.join("all.yaml"), paths);
            variables.add_folder_files(&all.join("all"), paths);
        }
        variables.add_folder(&dir.join("vars"), paths);
        for task_file in yaml_files(&dir.join("tasks")) {
            if let Ok(text) = std::fs::read_to_string(&task_file) {
                variables.runtime.extend(set_at_run(&text));
            }
        }
        variables
    }

    fn add_dependency_defaults(
        &mut self,
        dir: &Path,
        paths: &Paths,
        depth: usize,
        seen: &mut HashSet<PathBuf>,
    ) {
        if depth >= DEPENDENCY_DEPTH || !seen.insert(dir.to_path_buf()) {
            return;
        }
        let Some(roles) = dir.parent() else { return };
        for name in dependencies(&dir.join("meta")) {
            // Roles are named from the roles folder (`kubernetes/node`).
            let dependency = roles.join(&name);
            if is_role(&dependency) || dependency.join("defaults").is_dir() {
                self.add_dependency_defaults(&dependency, paths, depth + 1, seen);
                self.add_folder(&dependency.join("defaults"), paths);
            }
        }
    }

    /// `main.yml` (or `main.yaml`) of a folder, or every file of `main/`.
    fn add_folder(&mut self, folder: &Path, paths: &Paths) {
        self.add_file(&folder.join("main.yml"), paths);
        self.add_file(&folder.join("main.yaml"), paths);
        self.add_folder_files(&folder.join("main"), paths);
    }

    fn add_folder_files(&mut self, folder: &Path, paths: &Paths) {
        for file in yaml_files(folder) {
            self.add_file(&file, paths);
        }
    }

    fn add_file(&mut self, file: &Path, paths: &Paths) {
        let Ok(text) = std::fs::read_to_string(file) else {
            return;
        };
        let display = paths.display(file);
        let Ok(documents) = yaml::parse_documents(&text) else {
            return;
        };
        let lines: Vec<&str> = text.lines().collect();
        for document in &documents {
            for (key, value) in document.entries() {
                let Some(name) = key.str() else { continue };
                let line = lines
                    .get(key.span.line.saturating_sub(1) as usize)
                    .copied()
                    .unwrap_or("");
                self.values.insert(
                    name.to_string(),
                    Variable {
                        value: value.clone(),
                        at: SourceRef::on_line(display.clone(), key.span, line),
                    },
                );
            }
        }
        self.files.push(display);
    }
}

fn yaml_files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "yml" || e == "yaml" || e == "json")
        })
        .collect();
    files.sort();
    files
}

/// The roles `meta/main.yml` depends on: `- name`, `- role: name` or
/// `- { role: name, … }`.
fn dependencies(meta: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(meta.join("main.yml"))
        .or_else(|_| std::fs::read_to_string(meta.join("main.yaml")))
        .unwrap_or_default();
    let Ok(documents) = yaml::parse_documents(&text) else {
        return Vec::new();
    };
    documents
        .iter()
        .filter_map(|d| d.get("dependencies"))
        .flat_map(Node::items)
        .filter_map(|item| {
            item.str()
                .or_else(|| item.get("role").and_then(Node::str))
                .or_else(|| item.get("name").and_then(Node::str))
        })
        .filter(|name| !name.contains("{{"))
        .map(str::to_string)
        .collect()
}

/// Names tasks give values at run time: `register: name`, and the keys of
/// `set_fact:`.
fn set_at_run(text: &str) -> Vec<String> {
    let Ok(documents) = yaml::parse_documents(text) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut pending: Vec<&Node> = documents.iter().collect();
    while let Some(node) = pending.pop() {
        for (key, value) in node.entries() {
            match key.str() {
                Some("register") => names.extend(value.str().map(str::to_string)),
                Some("set_fact" | "ansible.builtin.set_fact") => names.extend(
                    value
                        .entries()
                        .iter()
                        .filter_map(|(k, _)| k.str())
                        .filter(|k| *k != "cacheable")
                        .map(str::to_string),
                ),
                _ => pending.push(value),
            }
        }
        pending.extend(node.items());
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(root: &Path, name: &str, text: &str) {
        let path = root.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn variables_follow_ansible_precedence_and_runtime_names_are_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write(&root, "roles/base/tasks/main.yml", "- debug: {}\n");
        write(
            &root,
            "roles/base/defaults/main.yml",
            "from_base: base\noverridden: base\n",
        );
        write(
            &root,
            "roles/etcd/meta/main.yml",
            "dependencies:\n  - role: base\n",
        );
        write(
            &root,
            "roles/etcd/tasks/main.yml",
            "- command: etcdctl endpoint health\n  register: etcd_health\n- set_fact:\n    etcd_peer: x\n",
        );
        write(
            &root,
            "roles/etcd/defaults/main.yml",
            "overridden: defaults\nby_inventory: defaults\nby_vars: defaults\n",
        );
        write(
            &root,
            "inventory/group_vars/all/etcd.yml",
            "by_inventory: inventory\nby_vars: inventory\n",
        );
        write(&root, "roles/etcd/vars/main.yml", "by_vars: vars\n");
        let paths = Paths::new(&root);
        let variables =
            Variables::of_role(&root.join("roles/etcd"), &[root.join("inventory")], &paths);
        let value = |name: &str| {
            let v = &variables.values[name];
            (v.value.str().unwrap().to_string(), v.at.path.to_string())
        };
        assert_eq!(value("from_base").0, "base");
        assert_eq!(value("overridden").0, "defaults");
        assert_eq!(
            value("by_inventory"),
            (
                "inventory".to_string(),
                "inventory/group_vars/all/etcd.yml".to_string()
            )
        );
        assert_eq!(
            value("by_vars"),
            ("vars".to_string(), "roles/etcd/vars/main.yml".to_string())
        );
        assert!(variables.runtime.contains("etcd_health"));
        assert!(variables.runtime.contains("etcd_peer"));
    }

    #[test]
    fn a_template_belongs_to_the_role_whose_templates_folder_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write(&root, "roles/etcd/tasks/main.yml", "- debug: {}\n");
        write(&root, "roles/etcd/templates/sub/etcd.j2", "#!/bin/sh\n");
        write(&root, "templates/lone.service.j2", "[Service]\n");
        let mut check = |d: &Path| is_role(d);
        assert_eq!(
            root_of(&root.join("roles/etcd/templates/sub/etcd.j2"), &mut check),
            Some(root.join("roles/etcd"))
        );
        assert_eq!(
            root_of(&root.join("templates/lone.service.j2"), &mut check),
            None
        );
    }
}
