//! What a team needs to adopt scar: a config file, suppressions that carry a
//! reason, a baseline, and partial runs that still see the whole repository.

mod common;

use std::fs;

use common::{json, places, repo, rules_and_lines, scar, scar_in, stderr, stdout, write, WORKERS};

#[test]
fn config_is_found_walking_up_and_changes_rules_severities_params_and_paths() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "k8s/workers.yaml", WORKERS);
    write(
        dir.path(),
        "k8s/legacy/etcd.sh",
        "#!/bin/sh\ndocker run -m 1g --oom-kill-disable etcd\n",
    );
    let prestop =
        fs::read_to_string(repo().join("testdata/rules/missing-prestop-sleep/fires.yaml")).unwrap();
    write(dir.path(), "k8s/shop.yaml", &prestop);
    let sub = dir.path().join("k8s");

    let before = json(&scar_in(&sub, &["lint", "--format", "json", "."]));
    let rules: Vec<String> = rules_and_lines(&before)
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert!(rules.contains(&"no-pod-anti-affinity".to_string()));
    assert!(rules.contains(&"oom-kill-disabled".to_string()));

    write(
        dir.path(),
        ".scar.yaml",
        "exclude: [\"k8s/legacy/**\"]\nrules:\n  no-pod-anti-affinity:\n    enabled: false\n  missing-prestop-sleep:\n    severity: info\n    params: {min_seconds: 1}\n",
    );
    let after = scar_in(&sub, &["lint", "--format", "json", "."]);
    let doc = json(&after);
    let found = rules_and_lines(&doc);
    assert!(
        found
            .iter()
            .all(|(r, _)| r != "no-pod-anti-affinity" && r != "oom-kill-disabled"),
        "{found:?}"
    );
    let prestop: Vec<&serde_json::Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "missing-prestop-sleep")
        .collect();
    // min_seconds 1: the 2-second sleep is long enough now; the five hooks that are missing remain.
    assert_eq!(prestop.len(), 5, "{prestop:?}");
    assert!(prestop.iter().all(|f| f["severity"] == "info"));
    assert_eq!(
        after.status.code(),
        Some(0),
        "only infos left under --fail-on warning"
    );

    let rules = stdout(&scar_in(&sub, &["rules"]));
    assert!(
        rules
            .lines()
            .any(|l| l.starts_with("no-pod-anti-affinity") && l.contains(" off ")),
        "{rules}"
    );
    assert!(
        rules
            .lines()
            .any(|l| l.starts_with("missing-prestop-sleep") && l.contains(" info ")),
        "{rules}"
    );
    assert!(rules.contains("min_seconds = 1"), "{rules}");
}

#[test]
fn config_mistakes_are_errors_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "rules:\n  missing-prestop-sleep:\n    params:\n      min_seconds: soon\n",
            ".scar.yaml:4:20",
            "expected an integer",
        ),
        (
            "rules:\n  missing-prestop-slep: {enabled: false}\n",
            ".scar.yaml:2:3",
            "unknown rule `missing-prestop-slep`",
        ),
        (
            "namespace: prod\nfail_on: error\n",
            ".scar.yaml:2:1",
            "unknown key `fail_on`",
        ),
    ];
    for (text, location, message) in cases {
        write(dir.path(), ".scar.yaml", text);
        let output = scar_in(dir.path(), &["lint", "."]);
        assert_eq!(output.status.code(), Some(2), "{text}");
        let err = stderr(&output);
        assert!(
            err.contains(location) && err.contains(message),
            "{text}:\n{err}"
        );
    }
    let explicit = dir.path().join("strict.yaml");
    fs::write(&explicit, "rules: [oops]\n").unwrap();
    let output = scar(&[
        "lint",
        "--config",
        explicit.to_str().unwrap(),
        "testdata/good",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("strict.yaml:1:8"),
        "{}",
        stderr(&output)
    );

    // Every mistake at once, not one per run.
    write(
        dir.path(),
        ".scar.yaml",
        "rules:\n  webhook-single-replica:\n    params: {min_replicas: 0}\n  missing-prestop-slep: {}\n",
    );
    let output = scar_in(dir.path(), &["lint", "."]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains(".scar.yaml:3:28") && err.contains("above 0"),
        "{err}"
    );
    assert!(
        err.contains(".scar.yaml:4:3") && err.contains("missing-prestop-slep"),
        "{err}"
    );
    assert!(err.contains("2 mistakes in"), "{err}");
}

#[test]
fn suppressions_need_a_reason_and_no_suppressions_shows_everything() {
    let dir = "testdata/rules/suppression-without-reason";
    let honoured = json(&scar(&["lint", "--format", "json", dir]));
    let audit = json(&scar(&[
        "lint",
        "--format",
        "json",
        "--no-suppressions",
        dir,
    ]));
    let honoured = rules_and_lines(&honoured);
    let audit = rules_and_lines(&audit);
    // etcd.sh:6 is suppressed with a reason; without suppressions it shows, and
    // the suppressions themselves are not reported.
    assert!(
        !honoured.contains(&("oom-kill-disabled".to_string(), 6)),
        "{honoured:?}"
    );
    assert!(
        audit.contains(&("oom-kill-disabled".to_string(), 6)),
        "{audit:?}"
    );
    assert!(
        honoured.contains(&("oom-kill-disabled".to_string(), 2)),
        "no reason, no suppression"
    );
    assert!(audit
        .iter()
        .all(|(r, _)| r != "suppression-without-reason" && r != "unused-suppression"));
    // The annotation on the pod template suppresses for the whole object.
    assert!(!honoured
        .iter()
        .any(|(r, l)| r == "no-pod-anti-affinity" && *l == 22));
    assert!(audit
        .iter()
        .any(|(r, l)| r == "no-pod-anti-affinity" && *l == 22));
}

#[test]
fn a_baseline_hides_known_findings_even_after_lines_move_and_shows_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let script = "#!/bin/sh\ndocker run -m 1g --oom-kill-disable redis:7\n";
    write(dir.path(), "run.sh", script);
    write(dir.path(), "workers.yaml", WORKERS);
    let baseline = dir.path().join("scar-baseline.json");
    let recorded = scar_in(
        dir.path(),
        &["lint", "--write-baseline", baseline.to_str().unwrap(), "."],
    );
    assert_eq!(recorded.status.code(), Some(0));
    assert!(
        stderr(&recorded).contains("recorded 2 finding(s)"),
        "{}",
        stderr(&recorded)
    );

    let clean = scar_in(
        dir.path(),
        &[
            "lint",
            "--baseline",
            baseline.to_str().unwrap(),
            "--format",
            "json",
            ".",
        ],
    );
    assert_eq!(clean.status.code(), Some(0));
    assert!(json(&clean)["findings"].as_array().unwrap().is_empty());

    write(
        dir.path(),
        "run.sh",
        &format!("{script}# a new container, same mistake, other image\n\ndocker run -m 2g --oom-kill-disable postgres:16\n"),
    );
    write(
        dir.path(),
        "workers.yaml",
        &format!("# moved down by a comment\n{WORKERS}"),
    );
    let fresh = scar_in(
        dir.path(),
        &[
            "lint",
            "--baseline",
            baseline.to_str().unwrap(),
            "--format",
            "json",
            ".",
        ],
    );
    assert_eq!(fresh.status.code(), Some(1));
    assert_eq!(
        rules_and_lines(&json(&fresh)),
        vec![("oom-kill-disabled".to_string(), 5)]
    );

    let garbage = dir.path().join("garbage.json");
    fs::write(&garbage, "{\"version\": 1, \"findings\": [{\"rule\": 3}]}").unwrap();
    let bad = scar_in(
        dir.path(),
        &["lint", "--baseline", garbage.to_str().unwrap(), "."],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("garbage.json:1:"), "{}", stderr(&bad));
}

#[test]
fn a_partial_run_with_context_sees_the_rest_of_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let appmesh = fs::read_to_string(
        repo().join("testdata/incidents/2-appmesh-single-replica-webhook/appmesh-controller.yaml"),
    )
    .unwrap();
    write(dir.path(), "mesh/controller.yaml", &appmesh);
    write(
        dir.path(),
        "mesh/autoscaler.yaml",
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: appmesh-controller, namespace: appmesh-system}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: appmesh-controller}\n  minReplicas: 2\n  maxReplicas: 4\n",
    );
    write(
        dir.path(),
        "other/etcd.sh",
        "#!/bin/sh\ndocker run -m 1g --oom-kill-disable etcd\n",
    );

    // Only the changed file: the autoscaler that keeps two replicas is unseen.
    let alone = json(&scar_in(
        dir.path(),
        &["lint", "--format", "json", "mesh/controller.yaml"],
    ));
    assert!(rules_and_lines(&alone)
        .iter()
        .any(|(r, _)| r == "webhook-single-replica"));

    let with_context = json(&scar_in(
        dir.path(),
        &[
            "lint",
            "--format",
            "json",
            "--context",
            ".",
            "mesh/controller.yaml",
        ],
    ));
    let found = rules_and_lines(&with_context);
    assert!(
        found.iter().all(|(r, _)| r != "webhook-single-replica"),
        "{found:?}"
    );
    let paths: Vec<&str> = with_context["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.iter().all(|p| *p == "mesh/controller.yaml"),
        "context files are not reported: {paths:?}"
    );
    assert_eq!(with_context["summary"]["files"], 1);
}

const ETCD_SCRIPT: &str = "#!/bin/sh\ndocker run -m 2g --oom-kill-disable etcd\n";

/// A repository with its deployed workers and, in folders nobody deploys
/// from, an example, a fixture, a vendored copy and an example in docs.
fn repository_with_examples() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "deploy/workers.yaml", WORKERS);
    write(dir.path(), "examples/etcd.sh", ETCD_SCRIPT);
    write(dir.path(), "test/fixtures/etcd.sh", ETCD_SCRIPT);
    write(dir.path(), "vendor/lib/etcd.sh", ETCD_SCRIPT);
    write(dir.path(), "docs/examples/etcd.sh", ETCD_SCRIPT);
    // A fixture folder outside test/ is not skipped: only test/fixtures is.
    write(dir.path(), "ops/fixtures/etcd.sh", ETCD_SCRIPT);
    dir
}

#[test]
fn folders_nobody_deploys_are_skipped_when_walked_and_linted_when_named() {
    let dir = repository_with_examples();
    let root = dir.path();
    let walked = json(&scar_in(root, &["lint", "--format", "json", "."]));
    assert_eq!(
        places(&walked),
        [
            "deploy/workers.yaml:5 no-pod-anti-affinity",
            "ops/fixtures/etcd.sh:2 oom-kill-disabled",
        ]
    );
    assert_eq!(
        walked["summary"]["excluded"],
        serde_json::json!(["docs/examples/", "examples/", "test/fixtures/", "vendor/"])
    );

    let human = stdout(&scar_in(root, &["lint", "."]));
    let mut closing = human.lines().rev();
    assert!(
        closing
            .next()
            .unwrap()
            .starts_with("1 error, 1 warning, 0 infos in 2 files"),
        "the summary closes the output: {human}"
    );
    assert_eq!(
        closing.next().unwrap(),
        "skipped 4 folders by default: docs/examples/, examples/, test/fixtures/, vendor/; --no-default-excludes to lint them"
    );

    // A folder or file named is linted, whatever its name.
    let named = json(&scar_in(
        root,
        &["lint", "--format", "json", "examples", "vendor/lib/etcd.sh"],
    ));
    assert_eq!(
        places(&named),
        [
            "examples/etcd.sh:2 oom-kill-disabled",
            "vendor/lib/etcd.sh:2 oom-kill-disabled",
        ]
    );

    let everything = json(&scar_in(
        root,
        &["lint", "--format", "json", "--no-default-excludes", "."],
    ));
    assert_eq!(places(&everything).len(), 6, "{everything}");
    assert_eq!(everything["summary"]["excluded"], serde_json::json!([]));
}

#[test]
fn force_exclude_leaves_named_files_in_skipped_folders_out_as_the_hook_does() {
    let dir = repository_with_examples();
    let root = dir.path();
    let hook = scar_in(
        root,
        &[
            "lint",
            "--format",
            "json",
            "--context",
            ".",
            "--force-exclude",
            "examples/etcd.sh",
            "test/fixtures/etcd.sh",
            "ops/fixtures/etcd.sh",
        ],
    );
    let doc = json(&hook);
    assert_eq!(places(&doc), ["ops/fixtures/etcd.sh:2 oom-kill-disabled"]);
    assert_eq!(
        doc["summary"]["excluded"],
        serde_json::json!(["examples/etcd.sh", "test/fixtures/etcd.sh"])
    );
    let only_examples = scar_in(
        root,
        &[
            "lint",
            "--context",
            ".",
            "--force-exclude",
            "examples/etcd.sh",
        ],
    );
    assert_eq!(
        only_examples.status.code(),
        Some(0),
        "{}",
        stdout(&only_examples)
    );

    // The source hook and the mirror's both pass the flag.
    for manifest in [
        ".pre-commit-hooks.yaml",
        "pre-commit-mirror/.pre-commit-hooks.yaml",
    ] {
        let text = fs::read_to_string(repo().join(manifest)).unwrap();
        assert!(
            text.contains("args: [--context, ., --force-exclude]"),
            "{manifest}"
        );
    }
}

#[test]
fn the_config_switches_the_default_excludes_off_or_extends_them() {
    let dir = repository_with_examples();
    let root = dir.path();
    write(root, ".scar.yaml", "default_excludes: false\n");
    let off = json(&scar_in(root, &["lint", "--format", "json", "."]));
    assert_eq!(places(&off).len(), 6, "{off}");

    write(root, ".scar.yaml", "exclude_dirs: [ops/fixtures, deploy]\n");
    let extended = json(&scar_in(root, &["lint", "--format", "json", "."]));
    assert_eq!(places(&extended), Vec::<String>::new());
    assert_eq!(
        extended["summary"]["excluded"],
        serde_json::json!([
            "deploy/",
            "docs/examples/",
            "examples/",
            "ops/fixtures/",
            "test/fixtures/",
            "vendor/"
        ])
    );

    write(root, ".scar.yaml", "exclude_dirs: [\"**/examples\"]\n");
    let glob = scar_in(root, &["lint", "."]);
    assert_eq!(glob.status.code(), Some(2));
    assert!(
        stderr(&glob).contains(".scar.yaml:1:") && stderr(&glob).contains("globs go in `exclude`"),
        "{}",
        stderr(&glob)
    );
}

#[test]
fn infos_are_folded_per_rule_unless_asked_for_and_json_carries_them_all() {
    let fixture = "testdata/rules/missing-prestop-sleep/fires.yaml";
    let folded = stdout(&scar(&["lint", fixture]));
    assert!(!folded.contains("info[missing-prestop-sleep]"), "{folded}");
    assert!(
        folded.contains("\n3 infos of missing-prestop-sleep: --show-infos to list them\n"),
        "{folded}"
    );
    assert_eq!(folded.matches("warning[missing-prestop-sleep]").count(), 3);
    for listing in [vec!["--show-infos"], vec!["--fail-on", "info"]] {
        let mut args = vec!["lint"];
        args.extend(listing.iter().copied());
        args.push(fixture);
        let listed = stdout(&scar(&args));
        assert_eq!(
            listed.matches("info[missing-prestop-sleep]").count(),
            3,
            "{listing:?}: {listed}"
        );
        assert!(!listed.contains("--show-infos to list them"), "{listed}");
    }
    let doc = json(&scar(&["lint", "--format", "json", fixture]));
    assert_eq!(doc["summary"]["infos"], 3);
    let prestop = places(&doc)
        .iter()
        .filter(|p| p.ends_with(" missing-prestop-sleep"))
        .count();
    assert_eq!(prestop, 6);
}

#[test]
fn the_summary_counts_what_suppressions_and_the_baseline_hid() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "run.sh",
        "#!/bin/sh\n# scar:ignore oom-kill-disabled -- a lab box, capped on purpose\ndocker run -m 1g --oom-kill-disable redis:7\n",
    );
    write(root, "workers.yaml", WORKERS);
    let baseline = root.join("baseline.json");
    let recorded = scar_in(
        root,
        &["lint", "--write-baseline", baseline.to_str().unwrap(), "."],
    );
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let args = ["lint", "--baseline", baseline.to_str().unwrap(), "."];
    let doc = json(&scar_in(root, &[&args[..], &["--format", "json"]].concat()));
    assert_eq!(places(&doc), Vec::<String>::new());
    assert_eq!(doc["summary"]["suppressed"], 1);
    assert_eq!(doc["summary"]["baselined"], 1);
    let human = stdout(&scar_in(root, &args));
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(
        lines,
        [
            "findings not shown: 1 suppressed, 1 in the baseline",
            "0 errors, 0 warnings, 0 infos in 2 files (1 resource)",
        ]
    );
}
