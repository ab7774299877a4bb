//! `scar loadgen` against the in-repo API server double on 127.0.0.1:
//! every request accounted for, corrected latency showing stalls, the SLO
//! gate, cleanup, scenario errors with their line, and client-go retries.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::{repo, stderr, stdout};
use scar_loadgen::fake_apiserver::{Behaviour, FakeApiServer};
use serde_json::Value;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Runs `scar` with a wall-clock bound while the double serves on the runtime.
fn scar(args: &[&str]) -> Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scar"))
        .args(args)
        .current_dir(repo())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("scar starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().expect("scar runs").is_some() {
            return child.wait_with_output().expect("scar finishes");
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("scar loadgen did not finish within 120s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn write_scenario(dir: &Path, phases: &str, slo: &str) -> String {
    std::fs::write(
        dir.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{{ index }}\ndata:\n  i: \"{{ index }}\"\n",
    )
    .unwrap();
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, format!("name: test\nvars: {{n: 20}}\ntemplates:\n  cm: cm.yaml\nphases:\n{phases}{slo}")).unwrap();
    path.to_string_lossy().into_owned()
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the report was written")).expect("JSON")
}

fn phase<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["phases"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no phase {name}"))
}

#[test]
fn every_request_is_accounted_for_and_the_namespace_is_cleaned_up() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let fake = rt.block_on(FakeApiServer::start(Behaviour::default(), dir.path())).unwrap();
    let scenario = write_scenario(
        dir.path(),
        "- {name: create, verb: create, template: cm, count: \"${n}\", rate: 200}\n- {name: burst, verb: patch, template: cm, burst: \"${n}\", patch: {data: {at: \"{{ now }}\"}}}\n- {name: read, verb: get, template: cm, concurrency: 3, count: 30}\n- {name: list, verb: list, template: cm, rate: 50, count: 5}\n- {name: delete, verb: delete, template: cm, rate: 200}\n",
        "",
    );
    let out = dir.path().join("report.json");
    let output = scar(&["loadgen", "run", &scenario, "--kubeconfig", fake.kubeconfig.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", stdout(&output), stderr(&output));
    let report = report(&out);
    for (name, verb, count) in [("create", "create", 20), ("burst", "patch", 20), ("read", "get", 30), ("list", "list", 5), ("delete", "delete", 20)] {
        let p = phase(&report, name);
        assert_eq!(p["completed"], count, "{name}");
        assert_eq!(p["outcomes"]["2xx"], count, "{name}");
        assert_eq!(fake.served_for(verb), count, "the double served exactly what {name} sent");
    }
    assert_eq!(phase(&report, "create")["priority_levels"]["workload-low"], 20, "APF UIDs resolved to names");
    assert!(fake.namespaces().is_empty(), "the run's namespace is deleted: {:?}", fake.namespaces());
    assert_eq!(fake.object_count(), 0);
    assert_eq!(report["slo"]["passed"], true);
    let summary = stdout(&output);
    assert!(summary.contains("SLO: passed"), "{summary}");
}
