//! Ansible roles: a folder with `tasks/` whose `templates/` hold Jinja
//! templates (units, scripts, manifests). A role's templates render with its
//! variables, gathered here in Ansible's precedence: the defaults of the
//! roles it depends on (`meta/main.yml`), its own defaults, the `all`
//! group's variables of each inventory the config names, a group's or a
//! host's own (`group_vars/etcd.yml`, `host_vars/node1/`), then its
//! `vars/`. Each group and host with variables of its own is a scope the
//! templates render for, besides the hosts only `all` covers. Names a task
//! registers or sets as a fact are known only to a run.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::input::units::Paths;
use crate::model::parse::yaml::{self, Node};
use crate::model::source::{SourceRef, Span};
use crate::model::template::Condition;

/// How deep `meta/main.yml` dependencies are followed.
const DEPENDENCY_DEPTH: usize = 8;
/// Groups and hosts with variables of their own that templates render for;
/// past that, hosts are left out, then groups.
const MAX_SCOPES: usize = 6;

/// A role of the run: the templates of it that discovery found, and the
/// files of the run that set its variables.
#[derive(Debug)]
pub(crate) struct Role {
    pub dir: PathBuf,
    pub display: Arc<str>,
    pub templates: Vec<PathBuf>,
    pub variable_files: Vec<PathBuf>,
}

impl Role {
    /// Every file under the role's `templates/`, found or not.
    pub fn all_templates(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut folders = vec![(self.dir.join("templates"), 0)];
        while let Some((folder, depth)) = folders.pop() {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() && depth < TEMPLATE_DEPTH {
                    folders.push((entry.path(), depth + 1));
                } else if kind.is_file() {
                    found.push(entry.path());
                }
            }
        }
        found.sort();
        found
    }
}

/// How deep folders under `templates/` are read.
const TEMPLATE_DEPTH: usize = 8;

/// What a file of a role is to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Template,
    /// `defaults/`, `vars/`, `meta/`: what its templates render with.
    Variables,
}

/// The role folder a file lies in, when it is one of the role's templates
/// or sets its variables.
pub(crate) fn root_of(
    file: &Path,
    is_role: &mut impl FnMut(&Path) -> bool,
) -> Option<(PathBuf, Part)> {
    let mut dir = file.parent()?;
    loop {
        let parent = dir.parent()?;
        let part = match dir.file_name().and_then(|n| n.to_str()) {
            Some("templates") => Some(Part::Template),
            Some("defaults" | "vars" | "meta") => Some(Part::Variables),
            _ => None,
        };
        if let Some(part) = part {
            if is_role(parent) {
                return Some((parent.to_path_buf(), part));
            }
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
#[derive(Debug, Default, Clone)]
pub(crate) struct Variables {
    pub values: HashMap<String, Variable>,
    /// Registered results and facts set by tasks: values only a run has.
    pub runtime: HashSet<String>,
    /// Every file read, for what findings depend on.
    pub files: Vec<Arc<str>>,
}

/// Hosts a role's templates render for, and the variables they get.
#[derive(Debug)]
pub(crate) struct Scope {
    /// `'etcd' in group_names`, where the group's variables are; `None` when
    /// no group or host has variables of its own.
    pub condition: Option<Condition>,
    pub variables: Arc<Variables>,
    /// The filters and tests the variables' values name, once the
    /// renderer has read them.
    pub jinja_in_values: OnceLock<(HashSet<String>, HashSet<String>)>,
}

impl Scope {
    /// The hosts only `all` covers, then each group and host of the
    /// inventories with variables of its own.
    pub fn all_of_role(dir: &Path, inventories: &[PathBuf], paths: &Paths) -> Vec<Scope> {
        let mut groups = Vec::new();
        let mut hosts = Vec::new();
        for inventory in inventories {
            groups.extend(own_variables(
                &inventory.join("group_vars"),
                paths,
                |name| format!("'{name}' in group_names"),
            ));
            hosts.extend(own_variables(&inventory.join("host_vars"), paths, |name| {
                format!("inventory_hostname == '{name}'")
            }));
        }
        let mut own = groups;
        if own.len() + hosts.len() <= MAX_SCOPES {
            own.extend(hosts);
        } else if own.len() > MAX_SCOPES {
            own.clear();
        }
        // Each scope's variables: what every host gets below its own, the
        // scope's own files, then the role's vars on top; read once.
        let below_own = Variables::below_own(dir, inventories, paths);
        let mut role_vars = Variables::default();
        role_vars.add_folder(&dir.join("vars"), paths);
        let for_hosts = |own: &[PathBuf]| {
            let mut variables = below_own.clone();
            for file in own {
                variables.add_file(file, paths);
            }
            variables.values.extend(role_vars.values.clone());
            variables.files.extend(role_vars.files.iter().cloned());
            Arc::new(variables)
        };
        let others = own.iter().map(|(c, _)| c.text.clone()).collect::<Vec<_>>();
        let base = Scope {
            condition: own.first().map(|(first, _)| Condition {
                text: others.join(" or "),
                holds: false,
                at: first.at.clone(),
            }),
            variables: for_hosts(&[]),
            jinja_in_values: OnceLock::new(),
        };
        std::iter::once(base)
            .chain(own.into_iter().map(|(condition, files)| Scope {
                condition: Some(condition),
                variables: for_hosts(&files),
                jinja_in_values: OnceLock::new(),
            }))
            .collect()
    }
}

/// The groups (or hosts) of a `group_vars` (or `host_vars`) folder besides
/// `all`: the condition that picks their hosts, and their files.
fn own_variables(
    folder: &Path,
    paths: &Paths,
    condition: impl Fn(&str) -> String,
) -> Vec<(Condition, Vec<PathBuf>)> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    entries
        .into_iter()
        .filter_map(|entry| {
            let files = if entry.is_dir() {
                yaml_files(&entry)
            } else if is_yaml(&entry) {
                vec![entry.clone()]
            } else {
                Vec::new()
            };
            let name = entry.file_stem()?.to_str()?.to_string();
            let first = files.first()?;
            if name == "all" {
                return None;
            }
            let first_line = std::fs::read_to_string(first).unwrap_or_default();
            let at = SourceRef::on_line(
                paths.display(first),
                Span::on_line(1, 1, 0),
                first_line.lines().next().unwrap_or(""),
            );
            Some((
                Condition {
                    text: condition(&name),
                    holds: true,
                    at,
                },
                files,
            ))
        })
        .collect()
}

impl Variables {
    /// What every host of the role at `dir` gets below its group's or
    /// host's own variables: its dependencies' defaults, its defaults, the
    /// `all` group of `inventories`; and the names its tasks set at run time.
    fn below_own(dir: &Path, inventories: &[PathBuf], paths: &Paths) -> Variables {
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
        .filter(|p| is_yaml(p))
        .collect();
    files.sort();
    files
}

fn is_yaml(file: &Path) -> bool {
    file.extension()
        .is_some_and(|e| e == "yml" || e == "yaml" || e == "json")
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
        write(
            &root,
            "inventory/group_vars/etcd.yml",
            "by_inventory: group\nby_vars: group\n",
        );
        let scopes =
            Scope::all_of_role(&root.join("roles/etcd"), &[root.join("inventory")], &paths);
        let conditions: Vec<String> = scopes
            .iter()
            .map(|s| {
                s.condition
                    .as_ref()
                    .map_or(String::new(), Condition::describe)
            })
            .collect();
        assert_eq!(
            conditions,
            vec![
                "on hosts where not ('etcd' in group_names)".to_string(),
                "on hosts where 'etcd' in group_names".to_string()
            ]
        );
        let group = &scopes[1].variables.values;
        assert_eq!(group["by_inventory"].value.str(), Some("group"));
        assert_eq!(group["by_vars"].value.str(), Some("vars"));
        let variables = &scopes[0].variables;
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
        write(&root, "roles/etcd/defaults/main.yml", "a: 1\n");
        let mut check = |d: &Path| is_role(d);
        assert_eq!(
            root_of(&root.join("roles/etcd/templates/sub/etcd.j2"), &mut check),
            Some((root.join("roles/etcd"), Part::Template))
        );
        assert_eq!(
            root_of(&root.join("roles/etcd/defaults/main.yml"), &mut check),
            Some((root.join("roles/etcd"), Part::Variables))
        );
        assert_eq!(
            root_of(&root.join("templates/lone.service.j2"), &mut check),
            None
        );
    }
}
