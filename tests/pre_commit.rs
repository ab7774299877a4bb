//! The hooks as users install them, with the real `pre-commit`: this
//! repository's hook builds scar with `language: rust`; the mirror's hook
//! (`pre-commit-mirror/`) installs the `scar-lint` wheel that `.ci/run`
//! builds, from a local folder, in seconds and without Rust. Each fails on
//! an outage-prone file and passes on a good one. `.ci/run` installs
//! pre-commit and builds the wheel; these tests fail if either is missing.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

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

/// The hook failed, naming the single-replica webhook of `mesh.yaml`; its
/// output.
fn fails_on_the_webhook(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("mesh.yaml:7:9: error[webhook-single-replica]"),
        "{text}"
    );
    text
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
    let text = fails_on_the_webhook(&bad);
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

/// The value of `key:` in a one-hook manifest, as written.
fn hook_field<'a>(manifest: &'a str, key: &str) -> &'a str {
    manifest
        .lines()
        .find_map(|line| {
            line.trim_start_matches(['-', ' '])
                .strip_prefix(&format!("{key}:"))
        })
        .unwrap_or_else(|| panic!("no {key} in {manifest}"))
        .trim()
}

#[test]
fn the_mirror_hook_installs_the_wheel_in_seconds_without_rust() {
    let wheels = std::env::var_os("SCAR_WHEELS").expect(
        "SCAR_WHEELS names the folder .ci/run builds the scar-lint wheel into; run bash .ci/run",
    );
    let mirror_files = repo().join("pre-commit-mirror");
    let manifest = fs::read_to_string(mirror_files.join(".pre-commit-hooks.yaml")).unwrap();
    let source_hook = fs::read_to_string(repo().join(".pre-commit-hooks.yaml")).unwrap();
    assert_eq!(
        hook_field(&manifest, "additional_dependencies"),
        format!("[scar-lint=={}]", env!("CARGO_PKG_VERSION")),
        "the mirror pins the release of this version"
    );
    for key in ["id", "entry", "args", "types", "files", "require_serial"] {
        assert_eq!(
            hook_field(&manifest, key),
            hook_field(&source_hook, key),
            "the mirror's hook and the source hook differ in {key}"
        );
    }

    let work = tempfile::tempdir().unwrap();
    let mirror = work.path().join("mirror");
    copy_dir(&mirror_files, &mirror);
    git(&mirror, &["init", "-q"]);
    git(&mirror, &["config", "user.email", "ci@example.com"]);
    git(&mirror, &["config", "user.name", "ci"]);
    git(&mirror, &["add", "."]);
    git(&mirror, &["commit", "-q", "-m", "mirror"]);
    let rev = String::from_utf8(run(&mirror, "git", &["rev-parse", "HEAD"]).stdout).unwrap();

    let project = work.path().join("project");
    fs::create_dir(&project).unwrap();
    git(&project, &["init", "-q"]);
    let incident =
        repo().join("testdata/incidents/2-appmesh-single-replica-webhook/appmesh-controller.yaml");
    fs::copy(incident, project.join("mesh.yaml")).unwrap();
    fs::copy(
        repo().join("testdata/good/shop.yaml"),
        project.join("shop.yaml"),
    )
    .unwrap();
    fs::write(
        project.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n- repo: {}\n  rev: {}\n  hooks:\n  - id: scar-lint\n",
            mirror.display(),
            rev.trim()
        ),
    )
    .unwrap();
    git(&project, &["add", "."]);

    // No Rust toolchain on PATH and no package index: the hook must come
    // from the wheel in SCAR_WHEELS alone.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let without_rust = std::env::join_paths(
        std::env::split_paths(&path)
            .filter(|dir| !dir.join("cargo").exists() && !dir.join("rustc").exists()),
    )
    .unwrap();
    let home = work.path().join("pre-commit-home");
    // pip splits PIP_FIND_LINKS at whitespace, and the checkout's path may
    // hold a space: pip finds the wheels in a copy under the test's folder.
    let find_links = work.path().join("wheels");
    copy_dir(Path::new(&wheels), &find_links);
    let pre_commit = |files: &[&str]| {
        let mut args = vec!["run", "--files"];
        args.extend_from_slice(files);
        let started = Instant::now();
        let output = Command::new("pre-commit")
            .args(&args)
            .current_dir(&project)
            .env("PATH", &without_rust)
            .env("PRE_COMMIT_HOME", &home)
            .env("PIP_FIND_LINKS", &find_links)
            .env("PIP_NO_INDEX", "1")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap_or_else(|e| panic!("cannot run pre-commit (.ci/run installs it): {e}"));
        (output, started.elapsed())
    };

    let (first, took) = pre_commit(&["mesh.yaml"]);
    fails_on_the_webhook(&first);
    assert!(
        took < Duration::from_secs(30),
        "first use took {took:?}, install included"
    );
    let (good, _) = pre_commit(&["shop.yaml"]);
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
}
