//! References between objects resolve inside the project or unit they
//! belong to: linting unrelated folders together reports exactly the union
//! of linting each alone, whatever names they share, whether they are
//! named one by one or lie side by side in one folder as projects of
//! their own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use scar_lint::{lint, Input, Options, Registry};

type Found = BTreeSet<(String, String, u32, u32, String)>;

fn testdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(path)
}

fn findings(dirs: &[&PathBuf]) -> Found {
    let inputs: Vec<Input> = dirs.iter().map(|d| Input::Path(d.to_path_buf())).collect();
    lint(&inputs, &Options::default(), &Registry::builtin())
        .expect("the fixture folders exist")
        .findings
        .into_iter()
        .map(|f| {
            (
                f.rule.to_string(),
                f.path.to_string(),
                f.span.line,
                f.span.column,
                f.message,
            )
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Fixture folders with findings, some sharing names (`shop/api`,
/// `monitoring/prometheus-adapter`) and some rendered.
fn unrelated_folders() -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(testdata("incidents"))
        .expect("testdata/incidents")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    folders.extend(
        [
            "good",
            "render/projects/a",
            "render/projects/b",
            "render/kustomize",
            "render/guard-chart",
            "rules/webhook-single-replica",
            "rules/pdb-blocks-eviction",
            "rules/missing-prestop-sleep",
        ]
        .map(testdata),
    );
    folders
}

/// Records what differs between linting two folders together and the
/// union of linting each alone.
fn compare(a: &Path, b: &Path, together: &Found, union: &Found, failures: &mut Vec<String>) {
    if together != union {
        failures.push(format!(
            "{} + {}:\n  only together: {:?}\n  only alone: {:?}",
            a.display(),
            b.display(),
            together.difference(union).collect::<Vec<_>>(),
            union.difference(together).collect::<Vec<_>>()
        ));
    }
}

#[test]
fn unrelated_folders_named_together_report_the_union_of_each_alone() {
    let folders = unrelated_folders();
    let alone: Vec<Found> = folders.iter().map(|f| findings(&[f])).collect();
    assert!(
        alone.iter().filter(|f| !f.is_empty()).count() >= 10,
        "the folders have findings to lose or gain"
    );
    let mut failures = Vec::new();
    for i in 0..folders.len() {
        for j in i + 1..folders.len() {
            let together = findings(&[&folders[i], &folders[j]]);
            let union: Found = alone[i].union(&alone[j]).cloned().collect();
            compare(&folders[i], &folders[j], &together, &union, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unrelated_projects_side_by_side_in_one_folder_report_the_union_of_each_alone() {
    let folders = unrelated_folders();
    let mut failures = Vec::new();
    for i in 0..folders.len() {
        for j in i + 1..folders.len() {
            let work = tempfile::tempdir().unwrap();
            let (x, y) = (work.path().join("x"), work.path().join("y"));
            for (from, to) in [(&folders[i], &x), (&folders[j], &y)] {
                copy_dir(from, to);
                std::fs::write(to.join("LICENSE"), "Apache-2.0\n").unwrap();
            }
            let root = work.path().to_path_buf();
            let together = findings(&[&root]);
            let union: Found = findings(&[&x]).union(&findings(&[&y])).cloned().collect();
            compare(&folders[i], &folders[j], &together, &union, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
