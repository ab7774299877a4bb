//! Running the `scar` binary from integration tests.

#![allow(dead_code)] // each test file uses its own share of these helpers

pub mod browser;
pub mod service;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs scar in the repository root.
pub fn scar(args: &[&str]) -> Output {
    scar_in(repo(), args)
}

pub fn scar_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scar"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("scar runs")
}

/// Runs scar in `dir` with these environment variables set.
pub fn scar_with_env(dir: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scar"));
    command.args(args).current_dir(dir).env_remove("NO_COLOR");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("scar runs")
}

pub fn scar_with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scar"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scar starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("scar reads stdin");
    child.wait_with_output().expect("scar finishes")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(output), stderr(output)))
}

/// `(rule, line)` of every finding in a JSON report.
pub fn rules_and_lines(doc: &serde_json::Value) -> Vec<(String, u64)> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Fails with a clear message when the renderers the tests use are missing
/// (`.ci/run` installs them).
pub fn require_renderers() {
    for tool in ["helm", "kubectl"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
        assert!(found, "{tool} is not on PATH; .ci/run installs it");
    }
}

/// Copies a folder tree, for tests that edit a fixture.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's folder");
    for entry in std::fs::read_dir(from).expect("read the fixture folder") {
        let entry = entry.expect("readable entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy a fixture file");
        }
    }
}

/// The findings of a JSON report, with their rule, path and line.
pub fn findings(doc: &serde_json::Value) -> &Vec<serde_json::Value> {
    doc["findings"].as_array().expect("findings")
}

/// `(rule, path, line)` of every finding in a JSON report.
pub fn rules_paths_and_lines(doc: &serde_json::Value) -> Vec<(String, String, u64)> {
    findings(doc)
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `(path, line)` of a finding's related places.
pub fn related(finding: &serde_json::Value) -> Vec<(String, u64)> {
    finding["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_string(),
                r["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A Deployment of 3 replicas that nothing spreads: one
/// `no-pod-anti-affinity` finding, at its line 5.
pub const WORKERS: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: workers, namespace: jobs}
spec:
  replicas: 3
  selector: {matchLabels: {app: workers}}
  template:
    metadata: {labels: {app: workers}}
    spec:
      containers: [{name: worker, image: example.com/worker:1}]
";

/// Runs `program` in `dir`, failing the test when it fails; its output.
pub fn tool(program: &str, dir: &Path, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    tool("git", dir, args)
}

/// Writes `text` at `name` under `dir`, making the folders it needs.
pub fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("a file in a folder")).expect("make the folders");
    std::fs::write(path, text).expect("write the file");
}

/// `path:line rule` of every finding in a JSON report.
pub fn places(doc: &serde_json::Value) -> Vec<String> {
    findings(doc)
        .iter()
        .map(|f| {
            format!(
                "{}:{} {}",
                f["path"].as_str().unwrap(),
                f["line"],
                f["rule"].as_str().unwrap()
            )
        })
        .collect()
}
