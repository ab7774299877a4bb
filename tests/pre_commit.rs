//! The hook as users install it: the real `pre-commit try-repo` builds scar
//! from this repository with `language: rust`, runs it on the files given,
//! fails on an outage-prone file and passes on a good one. `.ci/run`
//! installs pre-commit; this test fails if it is missing.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::{copy_dir, repo};

fn run(dir: &Path, program: &str, args: &[&str]) -> Output {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    // Reuse one build of scar across runs instead of a fresh release build.
    if let Some(target) = std::env::var_os("SCAR_PRE_COMMIT_TARGET") {
        command.env("CARGO_TARGET_DIR", target);
    }
    command.output().unwrap_or_else(|e| {
        panic!("cannot run {program} (is it installed? .ci/run installs it): {e}")
    })
}

fn git(dir: &Path, args: &[&str]) {
    let output = run(dir, "git", args);
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn try_repo_builds_the_hook_and_fails_only_on_outage_prone_files() {
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("project");
    fs::create_dir(&project).unwrap();
    git(&project, &["init", "-q"]);
    git(&project, &["config", "user.email", "ci@example.com"]);
    git(&project, &["config", "user.name", "ci"]);

    let incident =
        repo().join("testdata/incidents/2-appmesh-single-replica-webhook/appmesh-controller.yaml");
    fs::copy(incident, project.join("mesh.yaml")).unwrap();
    fs::copy(
        repo().join("testdata/good/shop.yaml"),
        project.join("shop.yaml"),
    )
    .unwrap();
    fs::write(
        project.join("etcd"),
        "#!/bin/sh\ndocker run -m 512M --oom-kill-disable quay.io/coreos/etcd:v3.5.15\n",
    )
    .unwrap();
    fs::write(project.join("Makefile"), "all:\n\techo not configuration\n").unwrap();
    let chart = project.join("charts/guard");
    copy_dir(&repo().join("testdata/render/guard-chart"), &chart);
    let backend_values = chart.join("charts/backend/values.yaml");
    let one_replica = fs::read_to_string(&backend_values).unwrap();
    let two_replicas = one_replica.replace("replicaCount: 1", "replicaCount: 2");
    fs::write(&backend_values, &two_replicas).unwrap();
    git(&project, &["add", "."]);

    let home = work.path().join("pre-commit-home");
    let try_repo = |files: &[&str]| {
        let mut args = vec![
            "try-repo",
            repo().to_str().unwrap(),
            "scar-lint",
            "--verbose",
            "--files",
        ];
        args.extend_from_slice(files);
        let mut command = Command::new("pre-commit");
        command
            .args(&args)
            .current_dir(&project)
            .env("PRE_COMMIT_HOME", &home);
        if let Some(target) = std::env::var_os("SCAR_PRE_COMMIT_TARGET") {
            command.env("CARGO_TARGET_DIR", target);
        }
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run pre-commit (.ci/run installs it): {e}"))
    };

    let bad = try_repo(&["mesh.yaml", "etcd"]);
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(
        text.contains("mesh.yaml:7:9: error[webhook-single-replica]"),
        "{text}"
    );
    assert!(
        text.contains("etcd:2:"),
        "the extension-less script is checked: {text}"
    );

    let good = try_repo(&["shop.yaml", "Makefile"]);
    let text = String::from_utf8_lossy(&good.stdout);
    assert_eq!(
        good.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(text.contains("Passed"), "{text}");

    // A commit that changes only a chart's values: the hook renders the
    // chart and reports the finding on the unchanged webhook template.
    let values = "charts/guard/charts/backend/values.yaml";
    let kept = try_repo(&[values]);
    assert_eq!(
        kept.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&kept.stdout)
    );
    fs::write(&backend_values, &one_replica).unwrap();
    let lowered = try_repo(&[values]);
    let text = String::from_utf8_lossy(&lowered.stdout);
    assert_eq!(lowered.status.code(), Some(1), "{text}");
    assert!(
        text.contains("charts/guard/templates/webhook.yaml:6:11: error[webhook-single-replica]"),
        "{text}"
    );
    assert!(
        text.contains("charts/guard/charts/backend/values.yaml:4: `replicaCount: 1` is set here"),
        "{text}"
    );
}
