//! The example policies in `policies/examples/`: each fires exactly where
//! its fixture folder `testdata/policies/<file stem>/expected.txt` says, and
//! nowhere else there (the near misses beside them stay silent).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use scar_lint::{lint, Input, Options, Registry};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(repo().join("policies/examples"))
        .expect("policies/examples exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn expected(dir: &Path) -> BTreeSet<String> {
    fs::read_to_string(dir.join("expected.txt"))
        .unwrap_or_else(|e| panic!("{}/expected.txt: {e}", dir.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn each_example_policy_fires_exactly_at_its_expected_lines() {
    let mut registry = Registry::builtin();
    registry
        .load_policies(&[repo().join("policies/examples")])
        .expect("the example policies load");
    assert!(examples().len() >= 5, "the examples are found");
    let mut failures = Vec::new();
    for example in examples() {
        let stem = example
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 name");
        let id = format!("example/{stem}");
        assert!(
            registry.get(&id).is_some(),
            "{} defines {id}",
            example.display()
        );
        let dir = repo().join("testdata/policies").join(stem);
        let report = lint(&[Input::Path(dir.clone())], &Options::default(), &registry)
            .unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
        let found: BTreeSet<String> = report
            .findings
            .iter()
            .filter(|f| *f.rule == *id)
            .map(|f| {
                let name = f.path.rsplit('/').next().unwrap_or(&f.path);
                format!("{name}:{}:{} {}", f.span.line, f.span.column, f.rule)
            })
            .collect();
        let wanted = expected(&dir);
        if found != wanted {
            failures.push(format!(
                "{id}:\n  missing: {:?}\n  unexpected: {:?}",
                wanted.difference(&found).collect::<Vec<_>>(),
                found.difference(&wanted).collect::<Vec<_>>()
            ));
        }
        assert!(!wanted.is_empty(), "{id} has a firing fixture");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
