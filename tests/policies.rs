//! Teams' CEL policies end to end: loaded from --policies, `policies:` and
//! `.scar/policies`, mistakes stopping the run with file, line and column,
//! findings through every output, suppressions and the baseline, across
//! files through `related`, and on Helm and Kustomize renders.

mod common;

use std::path::Path;

use common::{findings, json, require_renderers, scar_in, stderr, stdout};

const TWO_REPLICAS: &str = r#"id: team/prod-needs-two-replicas
severity: warning
description: Production Deployments run at least two replicas.
match:
  kinds: ["apps/v1/Deployment", "apps/v1/StatefulSet"]
  namespaces: ["prod-*"]
validations:
  - expression: "has(object.spec.replicas) && object.spec.replicas >= 2"
    message: "production workloads need two replicas or more"
    path: spec.replicas
"#;

const WORKLOADS: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod-eu}
spec:
  replicas: 1
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: prod-eu}
spec:
  template: {}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ok, namespace: prod-eu}
spec:
  replicas: 3
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: dev}
spec:
  replicas: 1
";

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `(rule, path, line, column)` of each finding of a team's policy.
fn team_findings(doc: &serde_json::Value) -> Vec<(String, String, u64, u64)> {
    findings(doc)
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().contains('/'))
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Standard error with miette's wrapped messages joined back into lines.
fn errors(output: &std::process::Output) -> String {
    stderr(output).replace("\n  │ ", " ")
}

fn finding(rule: &str, path: &str, line: u64, column: u64) -> (String, String, u64, u64) {
    (rule.to_string(), path.to_string(), line, column)
}

#[test]
fn the_issue_example_points_at_the_replicas_line_or_the_spec_and_spares_near_misses() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".scar/policies/prod-replicas.yaml",
        TWO_REPLICAS,
    );
    write(dir.path(), "k8s/app.yaml", WORKLOADS);
    let out = scar_in(dir.path(), &["lint", "--format", "json", "k8s"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(
        team_findings(&doc),
        vec![
            finding("team/prod-needs-two-replicas", "k8s/app.yaml", 5, 13),
            finding("team/prod-needs-two-replicas", "k8s/app.yaml", 10, 1),
        ]
    );
    let first = &findings(&doc)[0];
    assert_eq!(
        first["message"],
        "production workloads need two replicas or more"
    );
    assert_eq!(first["severity"], "warning");
    assert_eq!(first["resource"]["name"], "web");
}

#[test]
fn policies_load_from_the_flag_and_the_config_and_rules_settings_apply_to_them() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "team-a/replicas.yaml", TWO_REPLICAS);
    write(
        dir.path(),
        "team-b/labels.yaml",
        "id: team/has-owner-label\nseverity: info\ndescription: Objects say who owns them.\nvalidations:\n  - expression: \"has(object.metadata.labels) && 'owner' in object.metadata.labels\"\n    messageExpression: \"object.kind + ' ' + object.metadata.name + ' has no owner label'\"\n",
    );
    write(dir.path(), "k8s/app.yaml", WORKLOADS);
    write(
        dir.path(),
        ".scar.yaml",
        "policies: [team-b]\nrules:\n  team/prod-needs-two-replicas:\n    severity: error\n  team/has-owner-label:\n    enabled: false\n",
    );
    let out = scar_in(
        dir.path(),
        &["lint", "--policies", "team-a", "--format", "json", "k8s"],
    );
    let doc = json(&out);
    let rules: Vec<(String, String)> = findings(&doc)
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().into(),
                f["severity"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        vec![
            ("team/prod-needs-two-replicas".into(), "error".into()),
            ("team/prod-needs-two-replicas".into(), "error".into()),
        ]
    );

    write(dir.path(), ".scar.yaml", "policies: team-b\n");
    let out = scar_in(dir.path(), &["lint", "--format", "json", "k8s"]);
    let doc = json(&out);
    let messages: Vec<&str> = findings(&doc)
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(
        messages.contains(&"Deployment ok has no owner label"),
        "{messages:?}"
    );

    let rules = scar_in(dir.path(), &["rules", "--policies", "team-a"]);
    let listed = stdout(&rules);
    assert!(listed.contains("team/has-owner-label"), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("team/prod-needs-two-replicas")
                && l.contains("Production Deployments run at least two replicas.")),
        "{listed}"
    );
    assert!(
        listed.contains("missing-prestop-sleep"),
        "built-in rules stay: {listed}"
    );

    let explain = scar_in(
        dir.path(),
        &[
            "explain",
            "team/prod-needs-two-replicas",
            "--policies",
            "team-a",
        ],
    );
    assert_eq!(explain.status.code(), Some(0), "{}", stderr(&explain));
    let text = stdout(&explain);
    assert!(
        text.contains("Production Deployments run at least two replicas."),
        "{text}"
    );
    assert!(
        text.contains("`has(object.spec.replicas) && object.spec.replicas >= 2`"),
        "{text}"
    );
}

#[test]
fn mistakes_in_a_policy_stop_the_run_with_file_line_and_column_before_any_linting() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "policies/bad.yaml",
        r#"id: team/bad
description: Bad.
match:
  kinds: [Deployment]
  colour: red
validations:
  - expression: "has(object.spec.replicas) && objct.spec.replicas >= 2"
  - expression: "object.spec.replicas >= "
  - expression: |
      object.spec.template.spec.containers.all(c,
        c.image.endsWithh(':latest'))
  - expression: "related.services(object).size() > 0 && related.hpa(object.spec)"
"#,
    );
    write(
        dir.path(),
        "policies/id.yaml",
        "id: no-prefix\ndescription: x\nvalidations:\n  - expression: 'true'\n",
    );
    write(dir.path(), "k8s/app.yaml", WORKLOADS);
    let out = scar_in(dir.path(), &["lint", "--policies", "policies", "k8s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).is_empty(),
        "nothing is linted: {}",
        stdout(&out)
    );
    let err = errors(&out);
    for expected in [
        "policies/bad.yaml:5:3: unknown key `colour` in match",
        "policies/bad.yaml:7:47: validations[0].expression, line 1 column 30 of the expression: unknown variable `objct`",
        "policies/bad.yaml:8:42: validations[1].expression, line 1 column 25 of the expression: CEL syntax error",
        "policies/bad.yaml:11:17: validations[2].expression, line 2 column 11 of the expression: unknown function `endsWithh`",
        "policies/bad.yaml:12:65: validations[3].expression, line 1 column 48 of the expression: `related` is used as related.services(object)",
        "policies/id.yaml:1:5: `id` must be a prefix and a name",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }

    write(dir.path(), "policies/bad.yaml", TWO_REPLICAS);
    write(dir.path(), "policies/id.yaml", TWO_REPLICAS);
    let twice = scar_in(dir.path(), &["lint", "--policies", "policies", "k8s"]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(
        errors(&twice).contains(
            "policies/id.yaml:1:5: policy `team/prod-needs-two-replicas` is defined twice"
        ),
        "{}",
        stderr(&twice)
    );

    let missing = scar_in(dir.path(), &["lint", "--policies", "nowhere", "k8s"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("--policies nowhere: not a folder"),
        "{}",
        stderr(&missing)
    );

    write(dir.path(), ".scar.yaml", "policies: [gone]\n");
    let from_config = scar_in(dir.path(), &["lint", "k8s"]);
    assert_eq!(from_config.status.code(), Some(2));
    assert!(
        errors(&from_config).contains(".scar.yaml:1:12: cannot read the policies folder"),
        "{}",
        stderr(&from_config)
    );
}

#[test]
fn an_evaluation_error_is_a_finding_on_that_object_and_the_others_are_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p/unguarded.yaml",
        "id: team/unguarded\ndescription: Replicas read without has().\nmatch: {kinds: [Deployment]}\nvalidations:\n  - expression: object.spec.replicas >= 2\n    path: spec.replicas\n  - expression: object.metadata.name\n",
    );
    write(dir.path(), "k8s/app.yaml", WORKLOADS);
    let out = scar_in(
        dir.path(),
        &["lint", "--policies", "p", "--format", "json", "k8s"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    let found: Vec<(u64, String)> = findings(&doc)
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let replicas: Vec<&(u64, String)> = found
        .iter()
        .filter(|(_, m)| !m.contains("gave string"))
        .collect();
    assert_eq!(replicas.len(), 3, "{found:?}");
    assert_eq!(
        replicas[0],
        &(
            5,
            "failed expression: object.spec.replicas >= 2".to_string()
        )
    );
    assert_eq!(replicas[1].0, 10, "{found:?}");
    assert!(
        replicas[1]
            .1
            .contains("cannot be evaluated on this object: No such key: replicas"),
        "{found:?}"
    );
    assert_eq!(replicas[2].0, 23, "{found:?}");
    let not_bool = found
        .iter()
        .filter(|(_, m)| m.contains("`object.metadata.name` gave string, not true or false"))
        .count();
    assert_eq!(not_bool, 4, "{found:?}");
}

#[test]
fn related_and_namespace_object_resolve_across_files_through_the_shared_lookup() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p/related.yaml",
        r#"id: team/served-and-budgeted
description: Every Deployment is behind a Service, has a budget, and scales from two.
match: {kinds: [Deployment]}
validations:
  - expression: "related.services(object).exists(s, s.spec.type == 'ClusterIP')"
    messageExpression: "'no ClusterIP Service selects ' + object.metadata.name"
  - expression: "related.pdbs(object).size() == 1"
    message: needs exactly one budget
  - expression: "related.hpa(object) == null || related.hpa(object).spec.minReplicas >= 2"
    message: its autoscaler keeps one
---
id: team/namespace-labelled
description: Workloads run in Namespaces with a team label.
match: {kinds: [Deployment]}
validations:
  - expression: "namespaceObject == null || 'team' in namespaceObject.metadata.labels"
    messageExpression: "'Namespace ' + namespaceObject.metadata.name + ' has no team label'"
"#,
    );
    write(
        dir.path(),
        "k8s/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    metadata:\n      labels: {app: web}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: lonely, namespace: shop}\nspec:\n  template:\n    metadata:\n      labels: {app: lonely}\n",
    );
    write(
        dir.path(),
        "k8s/others.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {app: web}\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\nspec:\n  maxUnavailable: 1\n  selector: {matchLabels: {app: web}}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: lonely, namespace: shop}\nspec:\n  scaleTargetRef: {kind: Deployment, name: lonely}\n  minReplicas: 1\n  maxReplicas: 4\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {tier: web}\n",
    );
    let out = scar_in(
        dir.path(),
        &["lint", "--policies", "p", "--format", "json", "k8s"],
    );
    let doc = json(&out);
    let mut found: Vec<(String, u64, String)> = findings(&doc)
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("team/"))
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                "team/namespace-labelled".into(),
                1,
                "Namespace shop has no team label".into()
            ),
            (
                "team/namespace-labelled".into(),
                9,
                "Namespace shop has no team label".into()
            ),
            (
                "team/served-and-budgeted".into(),
                9,
                "its autoscaler keeps one".into()
            ),
            (
                "team/served-and-budgeted".into(),
                9,
                "needs exactly one budget".into()
            ),
            (
                "team/served-and-budgeted".into(),
                9,
                "no ClusterIP Service selects lonely".into()
            ),
        ]
    );

    // Linting the Deployments' file alone: the Service, budget, autoscaler
    // and Namespace are unknown, so the answers change as built-in rules'
    // would, and the namespace is not judged.
    let alone = scar_in(
        dir.path(),
        &[
            "lint",
            "--policies",
            "p",
            "--format",
            "json",
            "k8s/deploy.yaml",
        ],
    );
    let doc = json(&alone);
    let rules: Vec<&str> = findings(&doc)
        .iter()
        .filter_map(|f| f["rule"].as_str().filter(|r| r.starts_with("team/")))
        .collect();
    assert!(!rules.contains(&"team/namespace-labelled"), "{rules:?}");
    assert_eq!(
        rules
            .iter()
            .filter(|r| **r == "team/served-and-budgeted")
            .count(),
        4,
        "{rules:?}"
    );

    // A file named with the rest of the project as --context: the finding
    // depends on the files the lookup read.
    let with_context = scar_in(
        dir.path(),
        &[
            "lint",
            "--policies",
            "p",
            "--context",
            ".",
            "--format",
            "json",
            "k8s/others.yaml",
        ],
    );
    let doc = json(&with_context);
    let in_deploy = findings(&doc)
        .iter()
        .filter(|f| f["path"] == "k8s/deploy.yaml" && f["rule"] == "team/namespace-labelled")
        .count();
    assert_eq!(in_deploy, 2, "{}", stdout(&with_context));
}

#[test]
fn findings_go_through_every_output_suppressions_and_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".scar/policies/replicas.yaml", TWO_REPLICAS);
    write(dir.path(), "k8s/app.yaml", WORKLOADS);

    let sarif = scar_in(dir.path(), &["lint", "--format", "sarif", "k8s"]);
    let doc = json(&sarif);
    let run = &doc["runs"][0];
    let rule = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "team/prod-needs-two-replicas")
        .expect("the policy is a SARIF rule");
    assert!(
        rule.to_string()
            .contains("Production Deployments run at least two replicas."),
        "{rule}"
    );
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "team/prod-needs-two-replicas");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        5
    );

    let github = scar_in(dir.path(), &["lint", "--format", "github", "k8s"]);
    assert!(
        stdout(&github).contains("::warning file=k8s/app.yaml,line=5,col=13"),
        "{}",
        stdout(&github)
    );
    assert!(
        stdout(&github).contains("scar team/prod-needs-two-replicas"),
        "{}",
        stdout(&github)
    );

    let human = scar_in(dir.path(), &["lint", "k8s"]);
    assert!(
        stdout(&human).contains("k8s/app.yaml:5:13: warning[team/prod-needs-two-replicas]"),
        "{}",
        stdout(&human)
    );

    // A comment and an annotation, each with a reason, silence one each.
    let suppressed = WORKLOADS
        .replacen(
            "  replicas: 1\n",
            "  replicas: 1 # scar:ignore team/prod-needs-two-replicas -- a canary, one is enough\n",
            1,
        )
        .replacen(
            "metadata: {name: api, namespace: prod-eu}",
            "metadata:\n  name: api\n  namespace: prod-eu\n  annotations:\n    scar.dev/ignore: \"team/prod-needs-two-replicas: scaled by KEDA\"",
            1,
        );
    write(dir.path(), "k8s/app.yaml", &suppressed);
    let quiet = scar_in(dir.path(), &["lint", "--format", "json", "k8s"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", stdout(&quiet));
    assert!(findings(&json(&quiet)).is_empty(), "{}", stdout(&quiet));

    write(dir.path(), "k8s/app.yaml", WORKLOADS);
    let baseline = dir.path().join("baseline.json");
    let recorded = scar_in(
        dir.path(),
        &[
            "lint",
            "--write-baseline",
            baseline.to_str().unwrap(),
            "k8s",
        ],
    );
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let known = scar_in(
        dir.path(),
        &[
            "lint",
            "--baseline",
            baseline.to_str().unwrap(),
            "--format",
            "json",
            "k8s",
        ],
    );
    assert_eq!(known.status.code(), Some(0), "{}", stdout(&known));
    write(
        dir.path(),
        "k8s/app.yaml",
        &format!("{WORKLOADS}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: new, namespace: prod-us}}\nspec:\n  replicas: 1\n"),
    );
    let new = scar_in(
        dir.path(),
        &[
            "lint",
            "--baseline",
            baseline.to_str().unwrap(),
            "--format",
            "json",
            "k8s",
        ],
    );
    assert_eq!(
        team_findings(&json(&new)),
        vec![finding(
            "team/prod-needs-two-replicas",
            "k8s/app.yaml",
            29,
            13
        )]
    );
}

#[test]
fn policies_see_helm_and_kustomize_renders_and_point_at_the_templates_people_edit() {
    require_renderers();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p/replicas.yaml",
        "id: team/two-replicas\ndescription: Deployments run two replicas.\nmatch: {kinds: [Deployment]}\nvalidations:\n  - expression: has(object.spec.replicas) && object.spec.replicas >= 2\n    message: one replica\n    path: spec.replicas\n",
    );
    let policies = dir.path().join("p");
    let policies = policies.to_str().unwrap();
    let repo = common::repo();

    let chart = "testdata/render/guard-chart";
    let out = scar_in(
        repo,
        &["lint", "--policies", policies, "--format", "json", chart],
    );
    let doc = json(&out);
    let rendered: Vec<&serde_json::Value> = findings(&doc)
        .iter()
        .filter(|f| f["rule"] == "team/two-replicas")
        .collect();
    assert_eq!(rendered.len(), 1, "{}", stdout(&out));
    assert_eq!(
        rendered[0]["path"],
        format!("{chart}/charts/backend/templates/deployment.yaml")
    );
    assert_eq!(rendered[0]["line"], 8);
    let related = rendered[0]["related"].to_string();
    assert!(related.contains("charts/backend/values.yaml"), "{related}");

    let overlay = "testdata/render/kustomize/overlays/dev";
    let out = scar_in(
        repo,
        &["lint", "--policies", policies, "--format", "json", overlay],
    );
    let doc = json(&out);
    let places: Vec<(String, u64)> = findings(&doc)
        .iter()
        .filter(|f| f["rule"] == "team/two-replicas")
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        places,
        vec![(format!("{overlay}/replicas.yaml"), 7)],
        "{}",
        stdout(&out)
    );
}
