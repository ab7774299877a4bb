//! Charts rendered the way chart repositories' CI renders them, with the
//! real helm: chart-testing's `ci/*-values.yaml` sets, dependencies taken
//! from sibling charts of the same repository or fetched from a chart
//! repository (served here on 127.0.0.1), and the API versions a cluster
//! of the chosen Kubernetes version serves.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::{copy_dir, findings, json, places, repo, require_renderers, scar_in, tool};

const MONOREPO: &str = "testdata/render/monorepo";

/// `(rule, severity, path, line)` of every finding.
fn found(doc: &serde_json::Value) -> Vec<(String, String, String, u64)> {
    findings(doc)
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn finding(rule: &str, severity: &str, path: &str, line: u64) -> (String, String, String, u64) {
    (rule.into(), severity.into(), path.into(), line)
}

/// A copy of the monorepo fixture, to edit or to hold a config.
fn monorepo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join(MONOREPO), dir.path());
    dir
}

fn lint_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["lint", "--format", "json"];
    all.extend_from_slice(args);
    json(&scar_in(dir, &all))
}

#[test]
fn ci_values_render_the_chart_its_own_values_cannot_and_a_sibling_is_its_dependency() {
    require_renderers();
    let dir = monorepo();
    let doc = lint_json(dir.path(), &["charts/app", "charts/backend"]);
    let all = found(&doc);
    // The sibling `backend` (1.2.3 satisfies ~1.2.0) serves the webhook
    // and the APIService in app's render with its ci/ values.
    for expected in [
        finding(
            "webhook-single-replica",
            "error",
            "charts/app/templates/webhook.yaml",
            6,
        ),
        finding(
            "apiservice-single-replica",
            "error",
            "charts/app/templates/apiservice.yaml",
            8,
        ),
        // The chart's own values refuse to render (a required value), but
        // ci/ renders it: an info, not an error.
        finding(
            "render-failed",
            "info",
            "charts/app/templates/configmap.yaml",
            6,
        ),
    ] {
        assert!(all.contains(&expected), "{expected:?} not in {all:#?}");
    }
    let failed = findings(&doc)
        .iter()
        .find(|f| f["rule"] == "render-failed")
        .unwrap();
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("it renders with ci/cluster-values.yaml"),
        "{failed}"
    );
    let units: Vec<(String, Option<String>, bool)> = doc["summary"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["path"].as_str().unwrap().to_string(),
                u["values"].as_str().map(str::to_string),
                u["rendered"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        units.contains(&("charts/app".into(), Some("default".into()), false)),
        "{units:?}"
    );
    assert!(
        units.contains(&(
            "charts/app".into(),
            Some("ci/cluster-values.yaml".into()),
            true
        )),
        "{units:?}"
    );
    // The user's tree is not written: no charts/ appeared in app.
    assert!(!dir.path().join("charts/app/charts").exists());

    // `default: false` drops the chart's own values set.
    fs::write(
        dir.path().join(".scar.yaml"),
        "helm:\n  charts:\n    charts/app:\n      default: false\n",
    )
    .unwrap();
    let without_defaults = lint_json(dir.path(), &["charts/app"]);
    assert!(
        found(&without_defaults)
            .iter()
            .all(|(rule, ..)| rule != "render-failed"),
        "{without_defaults}"
    );
    assert!(found(&without_defaults).contains(&finding(
        "webhook-single-replica",
        "error",
        "charts/app/templates/webhook.yaml",
        6
    )));
}

#[test]
fn a_dependency_nobody_vendors_fails_with_help_that_works_and_a_v1_chart_points_at_requirements() {
    require_renderers();
    let dir = monorepo();
    // backend 2.0.0 no longer satisfies app's ~1.2.0.
    let chart = dir.path().join("charts/backend/Chart.yaml");
    let text = fs::read_to_string(&chart)
        .unwrap()
        .replace("1.2.3", "2.0.0");
    fs::write(&chart, text).unwrap();
    let doc = lint_json(dir.path(), &["charts/app", "charts/legacy"]);
    let failed: Vec<&serde_json::Value> = findings(&doc)
        .iter()
        .filter(|f| f["rule"] == "render-failed")
        .collect();
    let failed_at: Vec<String> = places(&doc)
        .into_iter()
        .filter(|p| p.ends_with(" render-failed"))
        .collect();
    assert_eq!(
        failed_at,
        [
            "charts/app/Chart.yaml:6 render-failed",
            "charts/legacy/requirements.yaml:2 render-failed",
        ]
    );
    for finding in &failed {
        let help = finding["help"].as_str().unwrap();
        assert!(
            help.contains("whatever its condition")
                && help.contains("helm dependency build")
                && help.contains("dependencies: fetch"),
            "{help}"
        );
        assert!(!help.contains("disables them"), "{help}");
    }
    assert!(failed[1]["help"]
        .as_str()
        .unwrap()
        .contains("requirements.yaml"));
}

/// Serves the files of `folder` over HTTP on 127.0.0.1 until the test
/// ends: a chart repository as `helm repo index` lays one out.
fn serve(folder: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut request = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let file = folder.join(path.trim_start_matches('/'));
            let (status, body) = match fs::read(&file) {
                Ok(body) => ("200 OK", body),
                Err(_) => ("404 Not Found", Vec::new()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    port
}

#[test]
fn with_fetching_allowed_a_missing_dependency_comes_from_its_chart_repository() {
    require_renderers();
    let work = tempfile::tempdir().unwrap();
    let published = work.path().join("published");
    let repository = work.path().join("repository");
    fs::create_dir_all(&repository).unwrap();
    copy_dir(&repo().join(MONOREPO).join("charts/backend"), &published);
    tool(
        "helm",
        work.path(),
        &["package", "published", "--destination", "repository"],
    );
    let port = serve(repository.clone());
    let url = format!("http://127.0.0.1:{port}");
    tool(
        "helm",
        work.path(),
        &["repo", "index", "repository", "--url", &url],
    );

    let project = work.path().join("project");
    copy_dir(
        &repo().join(MONOREPO).join("charts/app"),
        &project.join("app"),
    );
    let chart = project.join("app/Chart.yaml");
    let text = fs::read_to_string(&chart)
        .unwrap()
        .replace("https://charts.example.com", &url);
    fs::write(&chart, text).unwrap();

    let offline = lint_json(&project, &["app"]);
    assert!(
        found(&offline)
            .iter()
            .any(|(rule, severity, path, _)| rule == "render-failed"
                && severity == "error"
                && path == "app/Chart.yaml"),
        "offline, nothing is fetched: {offline}"
    );
    fs::write(project.join(".scar.yaml"), "helm:\n  dependencies: fetch\n").unwrap();
    let fetched = lint_json(&project, &["app"]);
    let all = found(&fetched);
    assert!(
        all.contains(&finding(
            "webhook-single-replica",
            "error",
            "app/templates/webhook.yaml",
            6
        )),
        "{all:#?}"
    );
    assert!(
        !project.join("app/charts").exists(),
        "fetched into the temporary copy only"
    );
}

#[test]
fn charts_see_the_api_versions_their_kubernetes_version_serves_and_those_the_config_adds() {
    require_renderers();
    let dir = monorepo();
    let policies = dir.path().join("policies");
    fs::create_dir_all(&policies).unwrap();
    fs::write(
        policies.join("served.yaml"),
        "id: test/apiservice-v1
description: An APIService is written in the version the cluster serves.
match: {kinds: [APIService]}
validations:
  - expression: object.apiVersion == 'apiregistration.k8s.io/v1'
    messageExpression: \"'rendered as ' + object.apiVersion\"
---
id: test/servicemonitor-rendered
description: The ServiceMonitor renders when its API is there.
match: {kinds: [ServiceMonitor]}
validations:
  - expression: 'false'
    message: rendered
",
    )
    .unwrap();
    let lint = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["--policies", "policies"];
        all.extend_from_slice(args);
        all.push("charts/app");
        findings(&lint_json(dir.path(), &all))
            .iter()
            .filter(|f| f["rule"].as_str().unwrap().starts_with("test/"))
            .map(|f| {
                format!(
                    "{} {}",
                    f["rule"].as_str().unwrap(),
                    f["message"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        lint(&[]),
        Vec::<String>::new(),
        "1.34 serves apiregistration.k8s.io/v1"
    );
    assert_eq!(
        lint(&["--kube-version", "1.9.0"]),
        ["test/apiservice-v1 rendered as apiregistration.k8s.io/v1beta1"],
        "before 1.10 only v1beta1 was served"
    );
    fs::write(
        dir.path().join(".scar.yaml"),
        "helm:\n  api_versions: [monitoring.coreos.com/v1]\n",
    )
    .unwrap();
    assert_eq!(lint(&[]), ["test/servicemonitor-rendered rendered"]);
}
