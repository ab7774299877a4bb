//! `scar lint --new-from-rev REV` on real git repositories made here: only
//! what a change introduced is reported, however lines move, and a finding
//! caused by a change in another file is new.

mod common;

use std::path::Path;

use common::{git, json, places, scar_in, stderr, stdout, write, WORKERS};

const WEBHOOK: &str = "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: guard}
webhooks:
  - name: pods.guard.example.com
    failurePolicy: Fail
    namespaceSelector:
      matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system, guard]}]
    clientConfig:
      service: {name: guard, namespace: guard, path: /validate}
    rules:
      - {apiGroups: [\"\"], apiVersions: [v1], operations: [CREATE], resources: [pods]}
    sideEffects: None
    admissionReviewVersions: [v1]
";

fn backend(replicas: u32) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata: {{name: guard, namespace: guard}}
spec:
  selector: {{app: guard}}
  ports: [{{port: 443, targetPort: 8443}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: guard, namespace: guard}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: guard}}}}
  template:
    metadata: {{labels: {{app: guard}}}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector: {{matchLabels: {{app: guard}}}}
              topologyKey: kubernetes.io/hostname
      containers:
        - name: guard
          image: example.com/guard:1
          readinessProbe: {{httpGet: {{path: /ready, port: 8443, scheme: HTTPS}}}}
          livenessProbe: {{httpGet: {{path: /live, port: 8443, scheme: HTTPS}}}}
"
    )
}

/// A repository whose first commit holds a workload with a known finding,
/// and a fail-closed webhook whose backend runs two replicas.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.email", "ci@example.com"]);
    git(root, &["config", "user.name", "ci"]);
    write(root, "k8s/workers.yaml", WORKERS);
    write(root, "k8s/guard/webhook.yaml", WEBHOOK);
    write(root, "k8s/guard/backend.yaml", &backend(2));
    write(root, "README.md", "not configuration\n");
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "base"]);
    dir
}

/// `path:line rule` of each finding of `scar lint --format json ARGS` in
/// `dir`, and the report.
fn findings_in(dir: &Path, args: &[&str]) -> (Vec<String>, serde_json::Value) {
    let mut all = vec!["lint", "--format", "json"];
    all.extend_from_slice(args);
    let doc = json(&scar_in(dir, &all));
    (places(&doc), doc)
}

#[test]
fn findings_that_only_moved_are_old_and_a_new_deployment_is_new() {
    let dir = repository();
    let root = dir.path();
    let (at_base, _) = findings_in(root, &["."]);
    assert_eq!(
        at_base,
        [
            "k8s/guard/webhook.yaml:5 webhook-no-pdb",
            "k8s/workers.yaml:5 no-pod-anti-affinity",
        ]
    );

    write(
        root,
        "k8s/workers.yaml",
        &format!("# the workers of the jobs team\n# moved down two lines\n{WORKERS}"),
    );
    let status_before = git(root, &["status", "--porcelain"]);
    let (moved, doc) = findings_in(root, &["--new-from-rev", "main", "."]);
    assert_eq!(moved, Vec::<String>::new());
    assert_eq!(doc["summary"]["preexisting"], 2);
    let human = stdout(&scar_in(root, &["lint", "--new-from-rev", "main", "."]));
    assert!(
        human.contains("findings not shown: 2 older than this change\n"),
        "{human}"
    );

    write(
        root,
        "k8s/api.yaml",
        &WORKERS.replace("workers", "api").replace("jobs", "web"),
    );
    let (added, _) = findings_in(root, &["--new-from-rev", "HEAD", "."]);
    assert_eq!(added, ["k8s/api.yaml:5 no-pod-anti-affinity"]);

    // From a subfolder, with paths relative to it, as in the working tree.
    let sub = root.join("k8s");
    let (from_sub, _) = findings_in(
        &sub,
        &["--new-from-rev", "HEAD", "api.yaml", "workers.yaml"],
    );
    assert_eq!(from_sub, ["api.yaml:5 no-pod-anti-affinity"]);

    // The repository is as it was: no worktree, no index change.
    let mut status_after = git(root, &["status", "--porcelain"]);
    status_after = status_after.replace("?? k8s/api.yaml\n", "");
    assert_eq!(status_after, status_before);
    assert_eq!(git(root, &["worktree", "list"]).lines().count(), 1);
}

#[test]
fn a_webhook_finding_caused_by_a_backend_lowered_in_another_file_is_new() {
    let dir = repository();
    let root = dir.path();
    write(root, "k8s/guard/backend.yaml", &backend(1));
    let (all, _) = findings_in(root, &["."]);
    assert!(
        all.contains(&"k8s/guard/webhook.yaml:5 webhook-single-replica".to_string()),
        "{all:?}"
    );
    let (new, doc) = findings_in(root, &["--new-from-rev", "main", "."]);
    assert!(
        new.contains(&"k8s/guard/webhook.yaml:5 webhook-single-replica".to_string()),
        "{new:?}"
    );
    assert!(
        !new.contains(&"k8s/workers.yaml:5 no-pod-anti-affinity".to_string()),
        "{new:?}"
    );
    assert_eq!(doc["summary"]["preexisting"], 1);
    // The pre-commit hook's way: the changed file named, the rest as context.
    let (hook, _) = findings_in(
        root,
        &[
            "--new-from-rev",
            "main",
            "--context",
            ".",
            "k8s/guard/backend.yaml",
        ],
    );
    assert!(
        hook.contains(&"k8s/guard/webhook.yaml:5 webhook-single-replica".to_string()),
        "{hook:?}"
    );
}

#[test]
fn a_revision_that_is_not_a_commit_is_a_usage_error() {
    let dir = repository();
    let output = scar_in(
        dir.path(),
        &["lint", "--new-from-rev", "no-such-branch", "."],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--new-from-rev no-such-branch: not a commit"),
        "{}",
        stderr(&output)
    );
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "workers.yaml", WORKERS);
    let output = scar_in(outside.path(), &["lint", "--new-from-rev", "HEAD", "."]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("--new-from-rev HEAD"),
        "{}",
        stderr(&output)
    );
}
