//! What pull-request checks read: SARIF that validates against the official
//! schema, GitHub annotations escaped as the runner expects, several
//! outputs from one run.

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::{json, repo, scar, scar_in, scar_with_env, stdout};

fn sarif_validator() -> jsonschema::Validator {
    let mut schema: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(repo().join("testdata/sarif-schema-2.1.0.json"))
            .expect("schema committed"),
    )
    .expect("schema is JSON");
    // The official schema's pattern for `language` properties has a stray
    // `]` and fails the meta-schema's `format: regex`; use the pattern it
    // means. scar never sets `language`, so nothing it emits is affected.
    let fixed = fix_patterns(
        &mut schema,
        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
        "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$",
    );
    assert!(fixed > 0, "the schema file changed");
    jsonschema::draft4::new(&schema).expect("the SARIF schema compiles")
}

fn fix_patterns(value: &mut serde_json::Value, broken: &str, meant: &str) -> usize {
    match value {
        serde_json::Value::Object(map) => {
            let mut fixed = 0;
            for (key, child) in map.iter_mut() {
                if key == "pattern" && child == broken {
                    *child = serde_json::json!(meant);
                    fixed += 1;
                } else {
                    fixed += fix_patterns(child, broken, meant);
                }
            }
            fixed
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .map(|i| fix_patterns(i, broken, meant))
            .sum(),
        _ => 0,
    }
}

fn assert_valid_sarif(doc: &serde_json::Value) {
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "invalid SARIF:\n{}", errors.join("\n"));
}

#[test]
fn sarif_validates_and_carries_rules_regions_and_fingerprints() {
    let output = scar(&["lint", "--format", "sarif", "testdata/incidents"]);
    assert_eq!(output.status.code(), Some(1));
    let doc = json(&output);
    assert_valid_sarif(&doc);
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    assert!(
        !sarif_validator().is_valid(&broken),
        "the validator rejects what the schema forbids"
    );

    let run = &doc["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(driver["semanticVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(driver["informationUri"], "https://github.com/scar-dev/scar");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let listed = stdout(&scar(&["rules"]));
    let ids = listed.lines().filter(|l| !l.starts_with(' ')).count();
    assert_eq!(rules.len(), ids, "every rule is described");
    let oom = rules
        .iter()
        .find(|r| r["id"] == "oom-kill-disabled")
        .unwrap();
    assert_eq!(oom["defaultConfiguration"]["level"], "error");
    assert!(oom["help"]["markdown"]
        .as_str()
        .unwrap()
        .contains("## Why it matters"));
    assert!(oom["helpUri"]
        .as_str()
        .unwrap()
        .ends_with("/lint/src/check/rules/oom_kill_disabled.rs"));
    assert!(!oom["fullDescription"]["text"].as_str().unwrap().is_empty());

    let result = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "oom-kill-disabled")
        .unwrap();
    assert_eq!(result["level"], "error");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        "testdata/incidents/1-etcd-oom-kill-disabled/etcd"
    );
    assert_eq!(location["region"]["startLine"], 9);
    assert_eq!(location["region"]["startColumn"], 3);
    assert_eq!(location["region"]["endColumn"], 21);
    assert_eq!(
        rules[result["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "oom-kill-disabled"
    );
    assert!(result["partialFingerprints"]["scarFingerprint/v1"].is_string());
}

#[test]
fn sarif_of_rendered_charts_and_failed_renders_validates_with_related_locations() {
    common::require_renderers();
    let doc = json(&scar(&[
        "lint",
        "--format",
        "sarif",
        "testdata/render",
        "testdata/rules/render-failed",
    ]));
    assert_valid_sarif(&doc);
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let chart = results
        .iter()
        .find(|r| {
            r["properties"]["unit"]["kind"] == "helm" && r["ruleId"] == "webhook-single-replica"
        })
        .expect("the chart's finding");
    assert_eq!(chart["relatedLocations"].as_array().unwrap().len(), 2);
    assert!(results.iter().any(|r| r["ruleId"] == "render-failed"));
}

#[test]
fn sarif_paths_are_relative_to_the_repository_root_from_a_subfolder() {
    let doc = json(&scar_in(
        &repo().join("testdata"),
        &[
            "lint",
            "--format",
            "sarif",
            "incidents/1-etcd-oom-kill-disabled",
        ],
    ));
    let uri = &doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"];
    assert_eq!(uri, "testdata/incidents/1-etcd-oom-kill-disabled/etcd");
}

/// A checkout at `work/checkout` (with `.git`) holding the Ravelin
/// incident's manifest, and a copy without `.git` at `plain/`.
fn checkouts() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let manifest =
        fs::read(repo().join("testdata/incidents/4-ravelin-502-on-deploy/api.yaml")).unwrap();
    for root in ["work/checkout", "plain"] {
        fs::create_dir_all(dir.path().join(root).join("deploy")).unwrap();
        fs::write(dir.path().join(root).join("deploy/api.yaml"), &manifest).unwrap();
    }
    fs::create_dir(dir.path().join("work/checkout/.git")).unwrap();
    dir
}

#[test]
fn sarif_and_annotation_paths_follow_the_checkout_from_outside_it() {
    let dir = checkouts();
    let work = dir.path().join("work");
    let sarif = dir.path().join("scar.sarif");
    let output = scar_in(
        &work,
        &[
            "lint",
            "--format",
            "github",
            "--format",
            "sarif",
            "--output",
            sarif.to_str().unwrap(),
            "checkout/deploy",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let annotations = stdout(&output);
    assert!(
        annotations.starts_with("::warning file=deploy/api.yaml,line=24,"),
        "{annotations}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&sarif).unwrap()).unwrap();
    let location = &doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "deploy/api.yaml");
    assert_eq!(location["region"]["startLine"], 24);
}

#[test]
fn without_git_paths_are_relative_to_github_workspace() {
    let dir = checkouts();
    let plain = dir.path().join("plain");
    let output = scar_with_env(
        &plain.join("deploy"),
        &["lint", "--format", "github", "api.yaml"],
        &[("GITHUB_WORKSPACE", plain.as_os_str())],
    );
    let annotations = stdout(&output);
    assert!(
        annotations.starts_with("::warning file=deploy/api.yaml,line=24,"),
        "{annotations}"
    );
}

fn fingerprints(dir: &std::path::Path) -> BTreeSet<(String, String)> {
    let doc = json(&scar_in(dir, &["lint", "--format", "sarif", "."]));
    doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap().to_string(),
                r["partialFingerprints"]["scarFingerprint/v1"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn fingerprints_stay_the_same_when_unrelated_lines_move() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = fs::read_to_string(
        repo().join("testdata/incidents/2-appmesh-single-replica-webhook/appmesh-controller.yaml"),
    )
    .unwrap();
    fs::write(dir.path().join("app.yaml"), &manifest).unwrap();
    let before = fingerprints(dir.path());
    assert!(before.len() >= 2, "{before:?}");
    fs::write(
        dir.path().join("app.yaml"),
        format!("# owned by team mesh\n# reviewed 2026-11\n\n{manifest}"),
    )
    .unwrap();
    assert_eq!(fingerprints(dir.path()), before);
}

#[test]
fn github_annotations_are_escaped_workflow_commands() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("a,b:c.sh");
    fs::write(
        &odd,
        "#!/bin/sh\ndocker run -m 1g --oom-kill-disable redis:7\n",
    )
    .unwrap();
    let output = scar_in(dir.path(), &["lint", "--format", "github", "a,b:c.sh"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let line = text.lines().next().expect("one annotation");
    assert!(
        line.starts_with("::error file=a%2Cb%3Ac.sh,line=2,col=18,endLine=2,endColumn=36,title=scar oom-kill-disabled::redis:7: docker run"),
        "{line}"
    );
    assert!(
        line.contains("%0Ahelp: "),
        "help follows on an escaped new line: {line}"
    );
    assert!(!line[2..].contains("\n"));

    let warnings = stdout(&scar(&[
        "lint",
        "--format",
        "github",
        "testdata/incidents/4-ravelin-502-on-deploy",
    ]));
    assert!(
        warnings.starts_with(
            "::warning file=testdata/incidents/4-ravelin-502-on-deploy/api.yaml,line=24,col=15,"
        ),
        "{warnings}"
    );
    let info = stdout(&scar(&[
        "lint",
        "--format",
        "github",
        "testdata/rules/unit-start-timeout-infinite/etcd.service",
    ]));
    assert!(info.starts_with("::notice file="), "{info}");
}

#[test]
fn one_run_writes_annotations_to_stdout_and_sarif_and_json_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let sarif = dir.path().join("scar.sarif");
    let report = dir.path().join("scar.json");
    let output = scar(&[
        "lint",
        "--format",
        "sarif",
        "--output",
        sarif.to_str().unwrap(),
        "--format",
        "github",
        "--format",
        "json",
        "--output",
        report.to_str().unwrap(),
        "testdata/incidents",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let annotations = stdout(&output);
    assert!(
        annotations.lines().all(|l| l.starts_with("::")),
        "{annotations}"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_valid_sarif(&sarif);
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    let count = report["findings"].as_array().unwrap().len();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), count);
    assert_eq!(annotations.lines().count(), count);
}

#[test]
fn two_formats_cannot_share_stdout_and_an_output_needs_a_format() {
    let both = scar(&[
        "lint",
        "--format",
        "github",
        "--format",
        "json",
        "testdata/good",
    ]);
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr)
        .contains("only one --format can go to standard output"));
    let orphan = scar(&[
        "lint",
        "--output",
        "x.json",
        "--format",
        "json",
        "testdata/good",
    ]);
    assert_eq!(orphan.status.code(), Some(2));
}
