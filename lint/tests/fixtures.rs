//! The fixtures in `testdata/` against the rules: every rule fires exactly
//! where its `expected.txt` says, well-run configuration stays silent, and
//! bad input never stops the other files from being checked.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use scar_lint::{lint, Input, Options, Registry, Report};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn run(dir: &Path) -> Report {
    lint(
        &[Input::Path(dir.to_path_buf())],
        &Options::default(),
        &Registry::builtin(),
    )
    .expect("the fixture folder exists")
}

/// Findings as `path:line:column rule`, the path relative to `dir`.
fn located(report: &Report, dir: &Path) -> BTreeSet<String> {
    report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{} {}",
                relative(&f.path, dir),
                f.span.line,
                f.span.column,
                f.rule
            )
        })
        .collect()
}

/// A reported path relative to the fixture folder it was found in.
fn relative<'a>(path: &'a str, dir: &Path) -> &'a str {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("UTF-8 folder name");
    path.rsplit_once(&format!("{name}/"))
        .map_or(path, |(_, rest)| rest)
}

fn expected(dir: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(dir.join("expected.txt"))
        .unwrap_or_else(|e| panic!("{}/expected.txt: {e}", dir.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn rule_folders() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(testdata().join("rules"))
        .expect("testdata/rules exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn each_rule_fires_exactly_at_its_expected_lines_and_nowhere_else_in_its_folder() {
    let mut failures = Vec::new();
    for dir in rule_folders() {
        let rule = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 folder name");
        let found: BTreeSet<String> = located(&run(&dir), &dir)
            .into_iter()
            .filter(|f| f.ends_with(&format!(" {rule}")))
            .collect();
        let want = expected(&dir);
        if found != want {
            failures.push(format!(
                "{rule}:\n  missing: {:?}\n  unexpected: {:?}",
                want.difference(&found).collect::<Vec<_>>(),
                found.difference(&want).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_fixture_folder_with_findings_to_make() {
    let folders: BTreeSet<String> = rule_folders()
        .iter()
        .filter_map(|d| d.file_name()?.to_str().map(str::to_string))
        .collect();
    for entry in Registry::builtin()
        .iter()
        // Findings about files named on the command line, or that do not
        // parse: tests/cli.rs and bad-input/ show them.
        .filter(|e| !matches!(e.id(), "parse-error" | "not-checked"))
    {
        assert!(
            folders.contains(entry.id()),
            "no testdata/rules/{}/",
            entry.id()
        );
        let dir = testdata().join("rules").join(entry.id());
        assert!(
            !expected(&dir).is_empty(),
            "{} has no firing fixture",
            entry.id()
        );
    }
}

#[test]
fn incidents_show_the_findings_of_their_rules() {
    let dir = testdata().join("incidents");
    let found = located(&run(&dir), &dir);
    let missing: Vec<_> = expected(&dir).difference(&found).cloned().collect();
    assert!(missing.is_empty(), "missing {missing:?}; found {found:?}");
}

#[test]
fn well_run_configuration_produces_no_findings() {
    let dir = testdata().join("good");
    let report = run(&dir);
    assert!(report.findings.is_empty(), "{:?}", located(&report, &dir));
    assert!(
        report.files >= 6 && report.resources >= 15,
        "{} files, {} resources",
        report.files,
        report.resources
    );
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
}

#[test]
fn bad_input_is_reported_or_skipped_and_the_good_file_is_still_checked() {
    let dir = testdata().join("bad-input");
    let report = run(&dir);
    let found = located(&report, &dir);
    assert!(found.contains("broken.yaml:7:8 parse-error"), "{found:?}");
    assert!(
        found.contains("broken.service:3:1 parse-error"),
        "{found:?}"
    );
    assert!(
        found.contains("good.yaml:10:16 missing-prestop-sleep"),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|f| f.contains(".d/")),
        "sysctl.d and conf.d files without a unit section are not drop-ins: {found:?}"
    );
    let skipped: BTreeSet<(String, String)> = report
        .skipped
        .iter()
        .map(|s| (relative(&s.path, &dir).to_string(), s.reason.clone()))
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("tool.yaml", "binary"),
        ("latin1.yaml", "not UTF-8 (line 6)"),
        ("chart/templates/deployment.yaml", "template"),
    ]
    .iter()
    .map(|(p, r)| (p.to_string(), r.to_string()))
    .collect();
    assert_eq!(skipped, want);
    assert_eq!(report.files, 3);
}

#[test]
fn output_is_identical_from_run_to_run() {
    let dir = testdata();
    let json = |report: &Report| {
        let mut out = Vec::new();
        scar_lint::report::json::write(report, &mut out).expect("writes to memory");
        out
    };
    let first = json(&run(&dir));
    for _ in 0..3 {
        assert_eq!(json(&run(&dir)), first);
    }
}

#[test]
fn every_policy_belongs_to_a_rule_and_every_doc_tells_what_why_and_instead() {
    let registry = Registry::builtin();
    for id in Registry::policy_ids() {
        assert!(registry.get(id).is_some(), "policies/{id}.yaml has no rule");
    }
    for entry in registry.iter() {
        let doc = entry.rule.doc();
        assert!(
            doc.starts_with(&format!("# {}\n", entry.id())),
            "{}: doc title",
            entry.id()
        );
        for section in [
            "## What it finds",
            "## Why it matters",
            "## What to write instead",
        ] {
            assert!(doc.contains(section), "{}: doc lacks {section}", entry.id());
        }
        assert!(!entry.policy.summary.is_empty());
    }
}
