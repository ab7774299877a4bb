//! `scar` end to end: exit codes, formats, standard input, the catalog.

mod common;

use std::path::Path;

use common::{json, scar, scar_with_stdin, stdout};

#[test]
fn human_output_points_at_the_offending_token_like_a_compiler() {
    let output = scar(&["lint", "testdata/incidents"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let expected = "testdata/incidents/1-etcd-oom-kill-disabled/etcd:9:3: error[oom-kill-disabled] etcd1: docker run with --memory=512M and --oom-kill-disable";
    assert!(text.contains(expected), "{text}");
    assert!(
        text.contains("9 |   --oom-kill-disable \\\n  |   ^^^^^^^^^^^^^^^^^^\n"),
        "{text}"
    );
    assert!(text.contains("  = help: "), "{text}");
    assert!(text.contains("testdata/incidents/2-appmesh-single-replica-webhook/appmesh-controller.yaml:7:9: error[webhook-single-replica]"));
    assert!(text.contains(
        "testdata/incidents/4-ravelin-502-on-deploy/api.yaml:24:15: warning[missing-prestop-sleep]"
    ));
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn json_output_has_the_documented_shape() {
    let output = scar(&[
        "lint",
        "--format",
        "json",
        "testdata/incidents",
        "testdata/bad-input",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let doc = json(&output);
    assert_eq!(doc["version"], 1);
    let findings = doc["findings"].as_array().expect("findings is an array");
    let etcd = findings
        .iter()
        .find(|f| f["rule"] == "oom-kill-disabled")
        .expect("the etcd finding");
    let keys: Vec<&str> = etcd
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "rule",
        "severity",
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "message",
        "help",
        "resource",
        "unit",
        "rendered",
        "related",
    ];
    want.sort();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(keys_sorted, want);
    assert_eq!(etcd["severity"], "error");
    assert_eq!(
        etcd["path"],
        "testdata/incidents/1-etcd-oom-kill-disabled/etcd"
    );
    assert_eq!(
        (etcd["line"].as_u64(), etcd["column"].as_u64()),
        (Some(9), Some(3))
    );
    assert_eq!(
        (etcd["end_line"].as_u64(), etcd["end_column"].as_u64()),
        (Some(9), Some(21))
    );
    assert!(etcd["resource"].is_null(), "scripts have no resource");
    assert_eq!(
        etcd["unit"],
        serde_json::json!({"kind": "file", "path": "testdata/incidents/1-etcd-oom-kill-disabled/etcd"})
    );
    assert!(etcd["rendered"].is_null(), "plain files are not rendered");

    let webhook = findings
        .iter()
        .find(|f| f["rule"] == "webhook-single-replica")
        .expect("the webhook finding");
    assert_eq!(
        webhook["resource"],
        serde_json::json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                           "namespace": null, "name": "appmesh-controller-mutating-webhook-configuration"})
    );
    let backend = &webhook["related"][0];
    assert_eq!(
        (backend["path"].as_str(), backend["line"].as_u64()),
        (
            Some("testdata/incidents/2-appmesh-single-replica-webhook/appmesh-controller.yaml"),
            Some(40)
        ),
        "the backend, which sets no replicas: {backend}"
    );
    let prestop = findings
        .iter()
        .find(|f| {
            f["rule"] == "missing-prestop-sleep" && f["path"].as_str().unwrap().contains("ravelin")
        })
        .unwrap();
    assert_eq!(prestop["resource"]["namespace"], "ravelin");
    assert_eq!(prestop["severity"], "warning");

    let summary = &doc["summary"];
    let errors = findings.iter().filter(|f| f["severity"] == "error").count();
    assert_eq!(summary["errors"].as_u64(), Some(errors as u64));
    assert!(summary["files"].as_u64().unwrap() >= 12);
    assert!(summary["resources"].as_u64().unwrap() >= 15);
    let infos = findings.iter().filter(|f| f["severity"] == "info").count();
    assert_eq!(summary["infos"].as_u64(), Some(infos as u64));
    let skipped = summary["skipped"].as_array().unwrap();
    assert!(
        skipped.contains(
            &serde_json::json!({"path": "testdata/bad-input/tool.yaml", "reason": "binary"})
        ),
        "{skipped:?}"
    );
    assert!(skipped.contains(&serde_json::json!({"path": "testdata/bad-input/chart/templates/deployment.yaml", "reason": "template"})));
}

#[test]
fn exit_status_follows_fail_on() {
    assert_eq!(scar(&["lint", "testdata/good"]).status.code(), Some(0));
    let ravelin = "testdata/incidents/4-ravelin-502-on-deploy";
    assert_eq!(
        scar(&["lint", ravelin]).status.code(),
        Some(1),
        "warnings fail by default"
    );
    assert_eq!(
        scar(&["lint", "--fail-on", "error", ravelin]).status.code(),
        Some(0)
    );
    assert_eq!(
        scar(&["lint", "--fail-on", "info", "testdata/good"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn usage_errors_and_missing_paths_exit_2() {
    let missing = scar(&["lint", "testdata/does-not-exist"]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("testdata/does-not-exist: no such file or directory"),
        "{stderr}"
    );
    assert_eq!(
        scar(&["lint", "--format", "xml", "."]).status.code(),
        Some(2)
    );
    assert_eq!(
        scar(&["lint", "--fail-on", "sometimes", "."]).status.code(),
        Some(2)
    );
    assert_eq!(scar(&["explain", "no-such-rule"]).status.code(), Some(2));
}

#[test]
fn reads_yaml_from_stdin() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/incidents/2-appmesh-single-replica-webhook/appmesh-controller.yaml"),
    )
    .unwrap();
    let output = scar_with_stdin(&["lint", "--format", "json", "-"], &manifest);
    assert_eq!(output.status.code(), Some(1));
    let doc = json(&output);
    let finding = &doc["findings"][0];
    assert_eq!(finding["path"], "<stdin>");
    assert_eq!(finding["rule"], "webhook-single-replica");
    assert_eq!(finding["line"], 7);
}

#[test]
fn a_file_named_explicitly_is_classified_by_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let golden = dir.path().join("deploy.yaml.golden");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/incidents/4-ravelin-502-on-deploy/api.yaml"),
        &golden,
    )
    .unwrap();
    let script = dir.path().join("etcd.manifest");
    std::fs::write(
        &script,
        "#!/bin/sh\ndocker run -m 1g --oom-kill-disable etcd\n",
    )
    .unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "just some words\n").unwrap();

    let output = scar(&[
        "lint",
        "--format",
        "json",
        golden.to_str().unwrap(),
        script.to_str().unwrap(),
        notes.to_str().unwrap(),
    ]);
    let doc = json(&output);
    let rules: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, vec!["missing-prestop-sleep", "oom-kill-disabled"]);
    assert_eq!(
        doc["summary"]["skipped"][0]["reason"],
        "not Kubernetes, compose, systemd or shell"
    );

    // Walking the same folder only picks files whose names say what they are.
    let walked = json(&scar(&[
        "lint",
        "--format",
        "json",
        dir.path().to_str().unwrap(),
    ]));
    assert_eq!(walked["summary"]["files"], 0);
}

#[test]
fn walks_honour_gitignore_and_skip_hidden_folders_unless_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "#!/bin/sh\ndocker run -m 1g --oom-kill-disable etcd\n";
    for sub in ["scripts", "ignored", ".hidden"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        std::fs::write(dir.path().join(sub).join("run.sh"), bad).unwrap();
    }
    std::fs::write(dir.path().join(".gitignore"), "ignored/\n").unwrap();
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        dir.path().to_str().unwrap(),
    ]));
    let paths: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert!(paths[0].ends_with("scripts/run.sh"));

    let hidden = dir.path().join(".hidden");
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        hidden.to_str().unwrap(),
    ]));
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);
}

#[test]
fn rules_lists_every_rule_and_explain_prints_its_doc() {
    let list = stdout(&scar(&["rules"]));
    for id in [
        "oom-kill-disabled",
        "webhook-single-replica",
        "missing-prestop-sleep",
        "parse-error",
    ] {
        assert!(
            list.lines().any(|l| l.starts_with(id)),
            "{id} missing from:\n{list}"
        );
    }
    let explain = scar(&["explain", "missing-prestop-sleep"]);
    assert_eq!(explain.status.code(), Some(0));
    let text = stdout(&explain);
    assert!(text.starts_with("# missing-prestop-sleep\n"));
    assert!(text.contains("Ravelin"), "tells its incident");
    assert!(text.contains("preStop:"), "shows the fix");
    assert!(text.contains("- `min_seconds`: 5"), "shows its parameters");
}

#[test]
fn every_listed_rule_can_be_explained() {
    let list = stdout(&scar(&["rules"]));
    let ids: Vec<&str> = list
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(ids.len() >= 20, "{list}");
    for id in ids {
        let explain = scar(&["explain", id]);
        assert_eq!(explain.status.code(), Some(0), "{id}");
        let text = stdout(&explain);
        assert!(text.starts_with(&format!("# {id}\n")), "{id}");
        assert!(text.contains("## What to write instead"), "{id}");
    }
}

#[test]
fn objects_without_a_namespace_are_in_the_one_namespace_names() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/incidents/2-appmesh-single-replica-webhook/appmesh-controller.yaml"),
    )
    .unwrap()
    .replace("  namespace: appmesh-system\nspec:", "spec:");
    std::fs::write(dir.path().join("mesh.yaml"), manifest).unwrap();
    let path = dir.path().join("mesh.yaml");
    let rules = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["lint", "--format", "json"];
        all.extend_from_slice(args);
        all.push(path.to_str().unwrap());
        json(&scar(&all))["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    // The webhook calls appmesh-system/…; its Service and Deployment now
    // omit the namespace and land in `default` unless told otherwise.
    assert!(!rules(&[]).contains(&"webhook-single-replica".to_string()));
    assert!(
        rules(&["--namespace", "appmesh-system"]).contains(&"webhook-single-replica".to_string())
    );
}

#[test]
fn messages_print_numbers_as_people_write_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("agent.service"),
        "[Unit]\nStartLimitIntervalSec=10\nStartLimitBurst=3\n\n[Service]\nExecStart=/usr/bin/agent\nRestart=always\nRestartSec=1\n",
    )
    .unwrap();
    let output = common::scar_in(dir.path(), &["lint", "--format", "json", "."]);
    let finding = &json(&output)["findings"][0];
    assert_eq!(finding["rule"], "unit-start-limit-defeats-restart");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("restarts every 1s, so 3 restarts fit in the 10s start limit"),
        "{finding}"
    );
    assert_eq!(
        finding["help"],
        "set RestartSec= above 3.3s, or StartLimitIntervalSec=0 in [Unit]"
    );
}

#[test]
fn an_autoscaler_that_decides_the_count_is_named_with_its_line() {
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        "testdata/rules/webhook-single-replica",
    ]));
    let finding = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "webhook-single-replica" && f["line"] == 32)
        .expect("the webhook whose backend an HPA scales down");
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains("HorizontalPodAutoscaler policy/scaled keeps at least 1"),
        "{message}"
    );
    assert_eq!(finding["related"][0]["line"], 65, "the minReplicas line");
    assert_eq!(
        finding["related"][0]["path"],
        "testdata/rules/webhook-single-replica/backends.yaml"
    );
}

#[test]
fn one_backend_many_webhooks_is_one_finding_naming_them_all() {
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        "testdata/rules/webhook-single-replica/many-webhooks.yaml",
    ]));
    let findings: Vec<&serde_json::Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "webhook-single-replica")
        .collect();
    assert_eq!(findings.len(), 1, "{doc}");
    assert_eq!(findings[0]["line"], 7);
    assert!(
        findings[0]["message"].as_str().unwrap().ends_with(
            "; 3 fail-closed webhooks call it: `mpod.mesh.example.com`, `mvirtualnode.mesh.example.com`, `vmesh.mesh.example.com`"
        ),
        "{}",
        findings[0]["message"]
    );
}

#[test]
fn reports_are_byte_identical_across_runs_and_thread_counts() {
    for format in ["json", "sarif"] {
        let report = |threads: &str| {
            let output = scar(&["lint", "--threads", threads, "--format", format, "testdata"]);
            assert_eq!(output.status.code(), Some(1), "{}", common::stderr(&output));
            output.stdout
        };
        let first = report("1");
        assert!(first.len() > 10_000, "a report with findings");
        for threads in ["2", "1", "2"] {
            assert!(
                report(threads) == first,
                "{format} with {threads} threads differs from 1 thread"
            );
        }
    }
}

#[test]
fn impossible_limits_are_usage_errors() {
    for args in [["--threads", "0"], ["--max-file-size", "0"]] {
        let output = scar(&["lint", args[0], args[1], "testdata/good"]);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(common::stderr(&output).contains(args[0]), "{args:?}");
    }
}

#[test]
fn the_rollout_demo_is_flagged_without_its_prestop_sleep_and_passes_with_it() {
    let output = scar(&["lint", "--format", "json", "loadgen/kind"]);
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    let findings: Vec<(String, String, u64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [(
            "missing-prestop-sleep".to_string(),
            "loadgen/kind/demo-no-prestop.yaml".to_string(),
            31
        )],
        "the demo without preStop fails on its container, nothing else in loadgen/kind fires"
    );
    let fixed = scar(&[
        "lint",
        "loadgen/kind/demo-prestop.yaml",
        "loadgen/kind/cluster-ingress.yaml",
    ]);
    assert_eq!(fixed.status.code(), Some(0), "{}", stdout(&fixed));
}

/// Messages read as sentences: a Service reached from outside is named
/// without a comma before what it does ("NodePort Service shop/admin (…)
/// sends it traffic"), and one behind a route in a pair of commas.
#[test]
fn missing_prestop_sleep_messages_read_as_sentences() {
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        "testdata/rules/missing-prestop-sleep/fires.yaml",
    ]));
    let message = |line: u64| -> String {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "missing-prestop-sleep" && f["line"] == line)
            .unwrap_or_else(|| panic!("no finding at line {line}"))["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let node_port = message(101);
    assert!(
        node_port.contains("and NodePort Service shop/admin (testdata/rules/missing-prestop-sleep/fires.yaml:105) sends it traffic:"),
        "{node_port}"
    );
    // Mesh routes are east-west: the Service is named without a route,
    // and the finding is an info.
    let mesh = message(151);
    assert!(
        mesh.contains("and Service shop/reviews (testdata/rules/missing-prestop-sleep/fires.yaml:157) sends it traffic:"),
        "{mesh}"
    );
    let severity = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "missing-prestop-sleep" && f["line"] == 151)
        .unwrap()["severity"]
        .clone();
    assert_eq!(severity, "info");
    let routed = message(12);
    assert!(
        routed.contains("and Service shop/api (testdata/rules/missing-prestop-sleep/fires.yaml:20), behind Ingress shop/shop (testdata/rules/missing-prestop-sleep/fires.yaml:27), sends it traffic:"),
        "{routed}"
    );
}

/// A budget that blocks every eviction says how a percentage rounded, and
/// relates the line that sets the count it is measured against.
#[test]
fn pdb_blocks_eviction_shows_the_rounding_and_where_the_replicas_are_set() {
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        "testdata/rules/pdb-blocks-eviction/budgets.yaml",
    ]));
    let finding = |line: u64| {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "pdb-blocks-eviction" && f["line"] == line)
            .unwrap_or_else(|| panic!("no finding at line {line}"))
            .clone()
    };
    let percent = finding(70);
    assert!(
        percent["message"].as_str().unwrap().contains(
            "requires 1 available Pod (80% of 1 rounds up to 1), but Deployment shop/single keeps only 1"
        ),
        "{percent}"
    );
    assert_eq!(percent["related"][0]["line"], 77, "{percent}");
    let autoscaled = finding(33);
    assert_eq!(autoscaled["related"][0]["line"], 63, "{autoscaled}");
    assert_eq!(
        autoscaled["related"][0]["message"],
        "HorizontalPodAutoscaler shop/worker sets its minReplicas here"
    );
}

/// A unit whose restarts defeat its start limit relates the settings that
/// decide it, and names those left at systemd's defaults.
#[test]
fn unit_start_limit_findings_relate_the_settings_and_name_the_defaults() {
    let finding = first_finding(
        "unit-start-limit-defeats-restart",
        "testdata/rules/unit-start-limit-defeats-restart/docker-continuation.service.j2",
    );
    assert_eq!(finding["line"], 23, "{finding}");
    assert!(
        finding["message"].as_str().unwrap().contains(
            "so 10 restarts fit in the 60s start limit (RestartSec is systemd's default):"
        ),
        "{finding}"
    );
    let related: Vec<(u64, &str)> = finding["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        related,
        [
            (24, "StartLimitBurst=10: the starts allowed in the interval"),
            (
                25,
                "StartLimitInterval=60s: the interval starts are counted in"
            ),
        ]
    );
}

/// A base that several roots pull in is one thing to fix: one finding,
/// naming every root.
#[test]
fn a_finding_in_a_shared_kustomize_base_is_reported_once_naming_its_roots() {
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        "testdata/rules/no-pod-anti-affinity/shared-base",
    ]));
    let findings: Vec<&serde_json::Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "no-pod-anti-affinity")
        .collect();
    assert_eq!(findings.len(), 1, "{doc}");
    assert_eq!(
        findings[0]["path"],
        "testdata/rules/no-pod-anti-affinity/shared-base/base/app.yaml"
    );
    assert!(
        findings[0]["message"].as_str().unwrap().ends_with(
            "; pulled in by kustomizations testdata/rules/no-pod-anti-affinity/shared-base/dev, testdata/rules/no-pod-anti-affinity/shared-base/prod"
        ),
        "{}",
        findings[0]["message"]
    );
}

/// A route belongs to the Service its own folder holds: a sibling sample
/// with a Service of the same name is not behind it.
#[test]
fn a_route_reaches_only_the_service_it_resolves_to_itself() {
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        "--show-infos",
        "testdata/rules/missing-prestop-sleep/side-by-side",
    ]));
    let severity = |path: &str| {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| {
                f["rule"] == "missing-prestop-sleep" && f["path"].as_str().unwrap().ends_with(path)
            })
            .unwrap_or_else(|| panic!("no finding in {path}: {doc}"))["severity"]
            .clone()
    };
    assert_eq!(severity("routed/app.yaml"), "warning");
    assert_eq!(severity("mesh-only/app.yaml"), "info");
}

/// A backend without probes relates each container that lacks one.
#[test]
fn webhook_backend_no_probes_relates_the_container_that_lacks_a_probe() {
    let finding = first_finding(
        "webhook-backend-no-probes",
        "testdata/rules/webhook-backend-no-probes/webhooks.yaml",
    );
    assert_eq!(finding["line"], 5);
    assert_eq!(finding["related"].as_array().unwrap().len(), 1, "{finding}");
    assert_eq!(finding["related"][0]["line"], 38);
    assert_eq!(
        finding["related"][0]["message"],
        "container `server` of Deployment hooks/no-liveness has no livenessProbe"
    );
}

/// The first finding of `rule` when `path` is linted alone.
fn first_finding(rule: &str, path: &str) -> serde_json::Value {
    let doc = json(&scar(&["lint", "--format", "json", path]));
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in {doc}"))
        .clone()
}
