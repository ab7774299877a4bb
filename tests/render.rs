//! Helm charts and kustomizations as users have them: rendered by the real
//! helm and kubectl, findings at the template, patch and values lines people
//! edit, references resolved inside each unit, failures reported, and
//! partial runs that report what a change caused.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    copy_dir, findings, json, related, repo, require_renderers, scar, scar_in, scar_with_env,
    stdout,
};
use serde_json::json;

const CHART: &str = "testdata/render/guard-chart";
const CHART_CONFIG: &str = "testdata/render/.scar.yaml";

/// `(rule, path, line, column)` of every finding.
fn located(doc: &serde_json::Value) -> Vec<(String, String, u64, u64)> {
    findings(doc)
        .iter()
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

#[test]
fn a_chart_finding_points_at_the_template_with_the_replicas_and_values_lines_and_a_values_set_clears_it(
) {
    require_renderers();
    let output = scar(&["lint", "--format", "json", "--config", CHART_CONFIG, CHART]);
    assert_eq!(output.status.code(), Some(1));
    let doc = json(&output);
    assert_eq!(
        located(&doc),
        vec![(
            "webhook-single-replica".to_string(),
            format!("{CHART}/templates/webhook.yaml"),
            6,
            11
        )],
        "only the default values set has one replica"
    );
    let finding = &findings(&doc)[0];
    assert_eq!(
        finding["unit"],
        json!({"kind": "helm", "path": CHART, "values": "default"})
    );
    assert_eq!(
        finding["rendered"]["text"],
        "  - name: widgets.guard.example.com"
    );
    assert_eq!(
        related(finding),
        vec![
            (
                format!("{CHART}/charts/backend/templates/deployment.yaml"),
                8
            ),
            (format!("{CHART}/charts/backend/values.yaml"), 4),
        ],
        "the template's replicas line, then the values line that set it"
    );
    let units: Vec<(&str, bool)> = doc["summary"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["values"].as_str().unwrap(),
                u["rendered"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(units, vec![("default", true), ("ha", true)]);

    let human = stdout(&scar(&["lint", "--config", CHART_CONFIG, CHART]));
    assert!(
        human.contains(&format!("= in Helm chart {CHART} (values: default)")),
        "{human}"
    );
    assert!(
        human.contains(&format!(
            "= note: {CHART}/charts/backend/values.yaml:4: `replicaCount: 1` is set here"
        )),
        "{human}"
    );

    let sarif = json(&scar(&[
        "lint",
        "--format",
        "sarif",
        "--config",
        CHART_CONFIG,
        CHART,
    ]));
    let result = &sarif["runs"][0]["results"][0];
    let values = &result["relatedLocations"][1]["physicalLocation"];
    assert_eq!(
        values["artifactLocation"]["uri"],
        format!("{CHART}/charts/backend/values.yaml")
    );
    assert_eq!(values["region"]["startLine"], 4);
}

#[test]
fn values_from_the_command_line_replace_the_values_sets() {
    require_renderers();
    let set = json(&scar(&[
        "lint",
        "--format",
        "json",
        "--helm-set",
        "server.replicaCount=2",
        CHART,
    ]));
    assert!(findings(&set).is_empty(), "{set}");
    assert_eq!(set["summary"]["units"][0]["values"], "command line");

    let file = json(&scar(&[
        "lint",
        "--format",
        "json",
        "--helm-values",
        &format!("{CHART}/values-ha.yaml"),
        CHART,
    ]));
    assert!(findings(&file).is_empty(), "{file}");

    let missing = scar(&["lint", "--helm-values", "nowhere.yaml", CHART]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn each_overlay_renders_once_and_only_the_one_with_one_replica_is_flagged_at_its_patch() {
    require_renderers();
    let dir = "testdata/render/kustomize";
    let doc = json(&scar(&["lint", "--format", "json", dir]));
    assert_eq!(
        located(&doc),
        vec![(
            "webhook-single-replica".to_string(),
            format!("{dir}/base/webhook.yaml"),
            6,
            11
        )]
    );
    let finding = &findings(&doc)[0];
    assert_eq!(
        finding["unit"],
        json!({"kind": "kustomize", "path": format!("{dir}/overlays/dev")})
    );
    assert_eq!(
        related(finding),
        vec![(format!("{dir}/overlays/dev/replicas.yaml"), 7)],
        "the patch that set replicas: 1"
    );
    let roots: Vec<&str> = doc["summary"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        roots,
        vec![
            format!("{dir}/overlays/dev"),
            format!("{dir}/overlays/prod")
        ],
        "the base is rendered through its overlays, not on its own"
    );

    // The base alone has no selector on its Service: silent, as before.
    let base = json(&scar(&["lint", "--format", "json", &format!("{dir}/base")]));
    assert!(findings(&base).is_empty(), "{base}");
    let prod = json(&scar(&[
        "lint",
        "--format",
        "json",
        &format!("{dir}/overlays/prod"),
    ]));
    assert!(findings(&prod).is_empty(), "{prod}");
}

#[test]
fn objects_with_the_same_names_in_unrelated_folders_each_resolve_to_their_own() {
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        "testdata/render/projects",
    ]));
    assert_eq!(
        located(&doc),
        vec![(
            "apiservice-single-replica".to_string(),
            "testdata/render/projects/b/monitoring/apiservice.yaml".to_string(),
            4,
            9
        )]
    );
    let message = findings(&doc)[0]["message"].as_str().unwrap();
    assert!(
        message.contains("(testdata/render/projects/b/monitoring/prometheus-adapter.yaml:17)")
            && message.contains("with 1 replica"),
        "{message}"
    );
}

#[test]
fn without_helm_every_chart_is_a_render_failed_finding_and_the_rest_is_still_checked() {
    require_renderers();
    let bin = tempfile::tempdir().unwrap();
    let kubectl = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap();
    std::os::unix::fs::symlink(kubectl, bin.path().join("kubectl")).unwrap();
    let output = scar_with_env(
        repo(),
        &[
            "lint",
            "--format",
            "json",
            "testdata/rules/render-failed",
            "testdata/render/projects",
        ],
        &[("PATH", bin.path().as_os_str())],
    );
    assert_eq!(output.status.code(), Some(1));
    let doc = json(&output);
    let charts: Vec<(String, u64)> = findings(&doc)
        .iter()
        .filter(|f| {
            f["message"]
                .as_str()
                .unwrap()
                .contains("helm is not on PATH")
        })
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let chart = |name: &str, line: u64| {
        (
            format!("testdata/rules/render-failed/{name}/Chart.yaml"),
            line,
        )
    };
    assert_eq!(
        charts,
        vec![
            chart("broken-template", 2),
            chart("kube-version", 2),
            chart("missing-dependency", 2),
            chart("renders", 3),
        ],
        "at each chart's name"
    );
    let rest = located(&doc);
    assert!(
        rest.contains(&(
            "render-failed".to_string(),
            "testdata/rules/render-failed/missing-resource/kustomization.yaml".to_string(),
            5,
            5
        )),
        "kustomizations still render: {rest:?}"
    );
    assert!(
        rest.iter()
            .any(|(rule, path, _, _)| rule == "apiservice-single-replica"
                && path.ends_with("projects/b/monitoring/apiservice.yaml")),
        "plain files are still checked: {rest:?}"
    );
}

#[test]
fn a_kustomization_that_fails_has_its_files_checked_as_written_beside_the_plain_files() {
    require_renderers();
    let dir = tempfile::tempdir().unwrap();
    let monitoring = repo().join("testdata/render/projects/b/monitoring");
    for (folder, kustomization) in [
        (
            "broken",
            Some("resources:\n  - apiservice.yaml\n  - prometheus-adapter.yaml\n  - absent.yaml\n"),
        ),
        ("plain", None),
    ] {
        copy_dir(&monitoring, &dir.path().join(folder));
        if let Some(text) = kustomization {
            write(&dir.path().join(folder), "kustomization.yaml", text);
        }
    }
    let doc = json(&scar_in(dir.path(), &["lint", "--format", "json", "."]));
    let found = located(&doc);
    assert!(
        found.contains(&(
            "render-failed".to_string(),
            "broken/kustomization.yaml".to_string(),
            4,
            5
        )),
        "{found:?}"
    );
    for folder in ["broken", "plain"] {
        assert!(
            found
                .iter()
                .any(|(rule, path, line, _)| rule == "apiservice-single-replica"
                    && *path == format!("{folder}/apiservice.yaml")
                    && *line == 4),
            "{folder}: {found:?}"
        );
    }
}

#[test]
fn overlays_stopped_by_one_remote_base_make_one_finding_naming_both() {
    let dir = "testdata/rules/render-failed/shared-remote";
    let doc = json(&scar(&["lint", "--format", "json", dir]));
    assert_eq!(
        located(&doc),
        vec![(
            "render-failed".to_string(),
            format!("{dir}/base/kustomization.yaml"),
            4,
            5
        )]
    );
    let message = findings(&doc)[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "kustomization {dir}/dev and kustomization {dir}/prod were not rendered: `https://github.com/example/operator/"
        )),
        "{message}"
    );
}

#[test]
fn a_render_that_runs_too_long_is_stopped_and_reported() {
    let dir = chart_rendered_by("sleep 30", "  timeout_seconds: 1\n");
    let started = Instant::now();
    let doc = json(&scar_in(dir.path(), &["lint", "--format", "json", "chart"]));
    assert!(started.elapsed() < Duration::from_secs(20));
    let message = findings(&doc)[0]["message"].as_str().unwrap();
    assert_eq!(findings(&doc)[0]["rule"], "render-failed");
    assert!(message.contains("did not finish within 1s"), "{message}");
}

#[test]
fn helm_runs_with_a_lazier_garbage_collector_unless_the_user_set_one() {
    let recorded = tempfile::tempdir().unwrap();
    let seen = recorded.path().join("gogc-seen");
    let dir = chart_rendered_by(
        &format!("printf %s \"$GOGC\" > '{}'\nexit 1", seen.display()),
        "",
    );
    let gogc_seen = |env: &[(&str, &std::ffi::OsStr)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scar"));
        command
            .args(["lint", "chart"])
            .current_dir(dir.path())
            .env_remove("GOGC");
        command.envs(env.iter().copied()).output().unwrap();
        fs::read_to_string(&seen).unwrap()
    };
    assert_eq!(gogc_seen(&[]), "400");
    assert_eq!(gogc_seen(&[("GOGC", "77".as_ref())]), "77");
}

/// The render-failed fixture's chart that renders, in a fresh folder as
/// `chart/`, with a `.scar.yaml` whose helm is a shell script running
/// `script` and whose other helm settings are `settings`.
fn chart_rendered_by(script: &str, settings: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo().join("testdata/rules/render-failed/renders"),
        &dir.path().join("chart"),
    );
    let helm = dir.path().join("fake-helm");
    fs::write(&helm, format!("#!/bin/sh\n{script}\n")).unwrap();
    fs::set_permissions(&helm, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    write(
        dir.path(),
        ".scar.yaml",
        &format!("helm:\n  path: fake-helm\n{settings}"),
    );
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// A change to one file, as a pre-commit hook runs scar on it.
fn hook_report(dir: &Path, changed: &str) -> serde_json::Value {
    json(&scar_in(
        dir,
        &["lint", "--format", "json", "--context", ".", changed],
    ))
}

fn hook(dir: &Path, changed: &str) -> Vec<(String, String, u64, u64)> {
    located(&hook_report(dir, changed))
}

#[test]
fn a_partial_run_reports_a_cross_file_finding_when_a_file_it_depends_on_changed() {
    let dir = tempfile::tempdir().unwrap();
    let webhook = fs::read_to_string(repo().join(CHART).join("templates/webhook.yaml"))
        .unwrap()
        .replace("{{ .Release.Name }}", "guard")
        .replace("{{ .Release.Namespace }}", "guard")
        .replace("{{ .Values.failurePolicy }}", "Fail");
    write(dir.path(), "policy/webhook.yaml", &webhook);
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: guard-server, namespace: guard}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: guard}}\n  template:\n    metadata: {labels: {app: guard}}\n    spec:\n      affinity:\n        podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n          - topologyKey: kubernetes.io/hostname\n            labelSelector: {matchLabels: {app: guard}}\n      containers:\n      - name: server\n        image: guard:1\n        readinessProbe: {httpGet: {path: /healthz, port: 8443}}\n        livenessProbe: {httpGet: {path: /healthz, port: 8443}}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: guard-server, namespace: guard}\nspec:\n  selector: {app: guard}\n  ports: [{port: 443, targetPort: 8443}]\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: guard-server, namespace: guard}\nspec:\n  maxUnavailable: 1\n  selector: {matchLabels: {app: guard}}\n";
    write(dir.path(), "policy/server.yaml", deployment);
    write(
        dir.path(),
        "other/notes.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n",
    );
    assert!(hook(dir.path(), "policy/server.yaml").is_empty());

    // The commit changes only the backend; the finding sits on the webhook.
    edit(
        &dir.path().join("policy/server.yaml"),
        "replicas: 2",
        "replicas: 1",
    );
    assert_eq!(
        hook(dir.path(), "policy/server.yaml"),
        vec![(
            "webhook-single-replica".to_string(),
            "policy/webhook.yaml".to_string(),
            6,
            11
        )]
    );
    assert!(
        hook(dir.path(), "other/notes.yaml").is_empty(),
        "a change elsewhere reports nothing"
    );
}

#[test]
fn a_partial_run_re_renders_the_chart_of_a_changed_values_file_or_template() {
    require_renderers();
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("guard-chart");
    copy_dir(&repo().join(CHART), &chart);
    copy_dir(
        &repo().join("testdata/rules/render-failed/broken-template"),
        &dir.path().join("broken"),
    );
    edit(
        &chart.join("charts/backend/values.yaml"),
        "replicaCount: 1",
        "replicaCount: 2",
    );
    let run = hook_report(dir.path(), "guard-chart/charts/backend/values.yaml");
    assert!(findings(&run).is_empty(), "{run}");
    let rendered: Vec<&str> = run["summary"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        rendered,
        vec!["guard-chart"],
        "only the chart holding the change renders; the broken one is not touched"
    );

    edit(
        &chart.join("charts/backend/values.yaml"),
        "replicaCount: 2",
        "replicaCount: 1",
    );
    let finding = vec![(
        "webhook-single-replica".to_string(),
        "guard-chart/templates/webhook.yaml".to_string(),
        6,
        11,
    )];
    assert_eq!(
        hook(dir.path(), "guard-chart/charts/backend/values.yaml"),
        finding
    );
    assert_eq!(
        hook(
            dir.path(),
            "guard-chart/charts/backend/templates/deployment.yaml"
        ),
        finding,
        "the finding read the backend's template"
    );
    assert!(
        hook(dir.path(), "guard-chart/charts/backend/templates/pdb.yaml").is_empty(),
        "the budget has no part in it"
    );
}

#[test]
fn suppressions_in_templates_and_annotations_on_rendered_objects_work() {
    require_renderers();
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("guard-chart");
    copy_dir(&repo().join(CHART), &chart);
    fs::copy(repo().join(CHART_CONFIG), dir.path().join(".scar.yaml")).unwrap();
    let webhook = chart.join("templates/webhook.yaml");
    let original = fs::read_to_string(&webhook).unwrap();
    edit(
        &webhook,
        "  - name: widgets",
        "  # scar:ignore webhook-single-replica -- a shadow deployment; enforcement runs elsewhere\n  - name: widgets",
    );
    // Rendered with two values sets, the comment is used by one of them
    // and must not be called unused by the other.
    let commented = json(&scar_in(
        dir.path(),
        &["lint", "--format", "json", "guard-chart"],
    ));
    assert!(findings(&commented).is_empty(), "{commented}");

    fs::write(&webhook, &original).unwrap();
    edit(
        &webhook,
        "  name: {{ .Release.Name }}\n",
        "  name: {{ .Release.Name }}\n  annotations:\n    scar.dev/ignore: \"webhook-single-replica: a shadow deployment\"\n",
    );
    let annotated = json(&scar_in(
        dir.path(),
        &["lint", "--format", "json", "guard-chart"],
    ));
    assert!(findings(&annotated).is_empty(), "{annotated}");

    let audit = json(&scar_in(
        dir.path(),
        &[
            "lint",
            "--format",
            "json",
            "--no-suppressions",
            "guard-chart",
        ],
    ));
    assert_eq!(findings(&audit).len(), 1);
}

#[test]
fn a_baseline_keeps_hiding_a_chart_finding_after_the_chart_is_re_rendered() {
    require_renderers();
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("guard-chart");
    copy_dir(&repo().join(CHART), &chart);
    let baseline = dir.path().join("baseline.json");
    let recorded = scar_in(
        dir.path(),
        &[
            "lint",
            "--write-baseline",
            baseline.to_str().unwrap(),
            "guard-chart",
        ],
    );
    assert_eq!(recorded.status.code(), Some(0));

    // Lines move in the template and in the values file.
    edit(
        &chart.join("templates/webhook.yaml"),
        "apiVersion:",
        "# Reviewed by the platform team.\n\napiVersion:",
    );
    edit(
        &chart.join("charts/backend/values.yaml"),
        "image:",
        "# Pinned.\nimage:",
    );
    let later = scar_in(
        dir.path(),
        &[
            "lint",
            "--format",
            "json",
            "--baseline",
            baseline.to_str().unwrap(),
            "guard-chart",
        ],
    );
    assert_eq!(later.status.code(), Some(0), "{}", stdout(&later));
    let unfiltered = json(&scar_in(
        dir.path(),
        &["lint", "--format", "json", "guard-chart"],
    ));
    assert_eq!(
        findings(&unfiltered)[0]["line"],
        8,
        "the finding moved with its line"
    );
}

#[test]
fn a_chart_the_line_stamps_would_change_renders_as_written_and_is_still_traced() {
    require_renderers();
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("sized");
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: sized\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: sized}\n  template:\n    metadata:\n      labels: {app: sized}\n    spec:\n      containers:\n        - name: app\n          image: example.com/sized:1\n";
    write(
        &chart,
        "Chart.yaml",
        "apiVersion: v2\nname: sized\nversion: 0.1.0\n",
    );
    write(&chart, "templates/deployment.yaml", deployment);
    // A template that measures another: the stamped copy is longer, so it
    // fails there and renders only as written.
    write(
        &chart,
        "templates/guard.yaml",
        &format!(
            "{{{{- if gt (len (include (print $.Template.BasePath \"/deployment.yaml\") .)) {} }}}}{{{{ fail \"longer than written\" }}}}{{{{ end }}}}\n",
            deployment.len() + 5
        ),
    );
    let doc = json(&scar_in(dir.path(), &["lint", "--format", "json", "sized"]));
    assert_eq!(doc["summary"]["units"][0]["rendered"], true, "{doc}");
    assert_eq!(
        located(&doc),
        vec![(
            "no-pod-anti-affinity".to_string(),
            "sized/templates/deployment.yaml".to_string(),
            6,
            13
        )]
    );
}

/// A finding about a container a helper writes points at the template
/// line that includes it and at the helper's own line, where the fix goes.
#[test]
fn a_container_written_by_a_helper_relates_the_helpers_line() {
    require_renderers();
    let chart = "testdata/rules/webhook-backend-no-probes/hook-chart";
    let doc = json(&scar(&["lint", "--format", "json", chart]));
    let finding = findings(&doc)
        .iter()
        .find(|f| f["rule"] == "webhook-backend-no-probes")
        .unwrap_or_else(|| panic!("no finding in {doc}"))
        .clone();
    assert_eq!(finding["path"], format!("{chart}/templates/webhook.yaml"));
    assert_eq!(
        related(&finding),
        vec![
            (format!("{chart}/templates/deployment.yaml"), 26),
            (format!("{chart}/templates/_helpers.tpl"), 6),
        ]
    );
    assert_eq!(
        finding["related"][0]["message"],
        "container `server` of Deployment default/hook-hook has no livenessProbe"
    );
    assert_eq!(
        finding["related"][1]["message"],
        "helper `hook.container` writes it here"
    );
}

/// A chart whose replicas are not spread says which of its values would
/// spread them, even when a helper reads it and it renders nothing.
#[test]
fn no_pod_anti_affinity_on_a_chart_relates_the_value_that_spreads_pods() {
    require_renderers();
    let chart = "testdata/rules/no-pod-anti-affinity/spread-chart";
    let doc = json(&scar(&["lint", "--format", "json", chart]));
    assert_eq!(
        located(&doc),
        vec![(
            "no-pod-anti-affinity".to_string(),
            format!("{chart}/templates/deployment.yaml"),
            6,
            13
        )],
        "the values set that sets a podAntiAffinity is silent"
    );
    let finding = &findings(&doc)[0];
    assert_eq!(
        related(finding),
        vec![
            (format!("{chart}/values.yaml"), 1),
            (format!("{chart}/values.yaml"), 3),
        ]
    );
    assert_eq!(
        finding["related"][1]["message"],
        "`affinity: {}` is set here: the chart writes `.Values.web.affinity` into this object"
    );
}
