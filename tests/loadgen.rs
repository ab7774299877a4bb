//! `scar loadgen` against the in-repo API server double on 127.0.0.1:
//! every request accounted for, corrected latency showing stalls, the SLO
//! gate, cleanup, scenario errors with their line, and client-go retries.

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::browser::check_in_browser;
use common::service::Service;
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

/// The double on a runtime of its own, with a folder for its kubeconfig
/// and the test's files; the runtime must outlive the test's requests.
fn start(behaviour: Behaviour) -> (tokio::runtime::Runtime, tempfile::TempDir, FakeApiServer) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let fake = rt
        .block_on(FakeApiServer::start(behaviour, dir.path()))
        .expect("the double starts");
    (rt, dir, fake)
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
    std::fs::write(
        &path,
        format!("name: test\nvars: {{n: 20}}\ntemplates:\n  cm: cm.yaml\nphases:\n{phases}{slo}"),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs a scenario against the double, returning scar's output and its `--out` report.
fn run_against(
    fake: &FakeApiServer,
    scenario: &str,
    out_dir: &Path,
    extra: &[&str],
) -> (Output, Value) {
    let out = out_dir.join("report.json");
    let mut args = vec![
        "loadgen",
        "run",
        scenario,
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = scar(&args);
    let text = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("no report ({e}): {}\n{}", stdout(&output), stderr(&output)));
    (
        output,
        serde_json::from_str(&text).expect("the report is JSON"),
    )
}

fn phase<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no phase {name}"))
}

#[test]
fn every_request_is_accounted_for_and_the_namespace_is_cleaned_up() {
    let (_rt, dir, fake) = start(Behaviour::default());
    let scenario = write_scenario(
        dir.path(),
        "- {name: create, verb: create, template: cm, count: \"${n}\", rate: 200}\n- {name: burst, verb: patch, template: cm, burst: \"${n}\", patch: {data: {at: \"{{ now }}\"}}}\n- {name: read, verb: get, template: cm, concurrency: 3, count: 30}\n- {name: list, verb: list, template: cm, rate: 50, count: 5}\n- {name: delete, verb: delete, template: cm, rate: 200}\n",
        "",
    );
    let (output, report) = run_against(&fake, &scenario, dir.path(), &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    for (name, verb, count) in [
        ("create", "create", 20),
        ("burst", "patch", 20),
        ("read", "get", 30),
        ("list", "list", 5),
        ("delete", "delete", 20),
    ] {
        let p = phase(&report, name);
        assert_eq!(p["completed"], count, "{name}");
        assert_eq!(p["outcomes"]["2xx"], count, "{name}");
        assert_eq!(
            fake.served_for(verb),
            count,
            "the double served exactly what {name} sent"
        );
    }
    assert_eq!(
        phase(&report, "create")["priority_levels"]["workload-low"],
        20,
        "APF UIDs resolved to names"
    );
    assert!(
        fake.namespaces().is_empty(),
        "the run's namespace is deleted: {:?}",
        fake.namespaces()
    );
    assert_eq!(fake.object_count(), 0);
    assert_eq!(report["slo"]["passed"], true);
    let summary = stdout(&output);
    assert!(summary.contains("SLO: passed"), "{summary}");
}

#[test]
fn throttled_requests_match_what_the_server_refused_and_breach_the_slo() {
    let behaviour = Behaviour {
        max_mutating_inflight: 3,
        base_latency: Duration::from_millis(40),
        ..Behaviour::default()
    };
    let (_rt, dir, fake) = start(behaviour);
    let scenario = write_scenario(
        dir.path(),
        "- {name: create, verb: create, template: cm, count: \"${n}\", rate: 100, connections: 2}\n- {name: burst, verb: patch, template: cm, burst: \"${n}\", patch: {data: {at: \"{{ now }}\"}}}\n",
        "",
    );
    let (output, report) = run_against(&fake, &scenario, dir.path(), &[]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "a 429 breaches the default SLO\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let burst = phase(&report, "burst");
    let served = fake.served();
    let served_429 = served
        .get(&("patch".to_string(), 429))
        .copied()
        .unwrap_or(0);
    let served_200 = served
        .get(&("patch".to_string(), 200))
        .copied()
        .unwrap_or(0);
    assert!(
        served_429 > 0,
        "20 patches at once against a limit of 3 are throttled: {served:?}"
    );
    assert_eq!(burst["outcomes"]["429"], served_429);
    assert_eq!(burst["outcomes"]["2xx"], served_200);
    assert_eq!(burst["completed"], 20);
    assert_eq!(
        burst["retry_after_seconds"]["1"], served_429,
        "every 429 carried Retry-After: 1"
    );
    assert_eq!(
        phase(&report, "create")["outcomes"]["429"],
        0,
        "two connections stay under the limit"
    );
    let breaches = report["slo"]["breaches"].as_array().unwrap();
    assert!(
        breaches
            .iter()
            .any(|b| b["phase"] == "burst" && b["limit"] == "429_ratio"),
        "{breaches:?}"
    );
    assert!(stdout(&output).contains("SLO: breached"));
    assert!(
        stdout(&output).contains("Retry-After: 1s x"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn corrected_latency_shows_a_server_stall_that_raw_latency_hides() {
    let behaviour = Behaviour {
        stall: Some((Duration::from_millis(700), Duration::from_millis(800))),
        ..Behaviour::default()
    };
    let (_rt, dir, fake) = start(behaviour);
    let scenario = write_scenario(
        dir.path(),
        "- {name: create, verb: create, template: cm, count: 1, rate: 10}\n- {name: read, verb: get, template: cm, rate: 200, connections: 2, duration: 2500ms}\n",
        "slo:\n  p99: {get: 250ms}\n",
    );
    let (output, report) = run_against(&fake, &scenario, dir.path(), &[]);
    let read = phase(&report, "read");
    let corrected = read["latency_ms"]["corrected"]["p99"].as_f64().unwrap();
    let raw = read["latency_ms"]["raw"]["p99"].as_f64().unwrap();
    assert!(
        corrected > 300.0,
        "the stall shows from the schedule: corrected p99 {corrected} ms"
    );
    assert!(
        raw < 100.0,
        "only the two requests in flight saw it: raw p99 {raw} ms"
    );
    assert!(
        read["late_send_ms"]["max"].as_f64().unwrap() > 300.0,
        "the sender fell behind"
    );
    // The 140 due before the stall at least; how many of the late ones
    // go out before the phase's end depends on the machine.
    assert!(read["completed"].as_u64().unwrap() >= 140, "{read}");
    // 2.5 s at 200/s: every request due is sent late or counted dropped.
    assert_eq!(
        read["requests"].as_u64().unwrap() + read["dropped"].as_u64().unwrap(),
        500
    );
    assert_eq!(
        output.status.code(),
        Some(3),
        "the corrected p99 breaches 250ms"
    );
}

#[test]
fn a_timed_phase_ends_on_time_and_counts_what_it_could_not_send_as_dropped() {
    // Two connections at 100 ms a request send about 20 of the 100 due.
    let (_rt, dir, fake) = start(Behaviour {
        base_latency: Duration::from_millis(100),
        ..Behaviour::default()
    });
    let scenario = write_scenario(
        dir.path(),
        "- {name: read, verb: list, template: cm, rate: 100, connections: 2, duration: 1s}\n",
        "slo: {max_429_ratio: 1, max_error_ratio: 1}\n",
    );
    let (output, report) = run_against(&fake, &scenario, dir.path(), &[]);
    let summary = stdout(&output);
    let read = phase(&report, "read");
    let (sent, dropped) = (
        read["requests"].as_u64().unwrap(),
        read["dropped"].as_u64().unwrap(),
    );
    assert_eq!(sent + dropped, 100, "{summary}");
    // Two connections each take 100 ms a request: a slow machine sends fewer.
    assert!((1..=25).contains(&sent), "{sent} sent: {summary}");
    assert_eq!(fake.served_for("list"), sent);
    assert!(
        summary.contains(&format!(
            "{dropped} requests dropped: due before the phase ended, but every connection was busy"
        )),
        "{summary}"
    );
    // The last requests in flight finish; nothing is sent after the end.
    let took = read["duration_seconds"].as_f64().unwrap();
    assert!((1.0..2.5).contains(&took), "the phase took {took} s");
}

#[test]
fn client_go_mode_retries_throttled_requests_after_retry_after() {
    let behaviour = Behaviour {
        max_mutating_inflight: 2,
        base_latency: Duration::from_millis(100),
        ..Behaviour::default()
    };
    let (_rt, dir, fake) = start(behaviour);
    let scenario = write_scenario(
        dir.path(),
        "- {name: create, verb: create, template: cm, count: 6, burst: 6}\n",
        "slo:\n  p99: {create: 10s}\n",
    );
    let (output, report) = run_against(&fake, &scenario, dir.path(), &["--client-go"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "retried until served\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert_eq!(report["mode"], "client-go");
    let create = phase(&report, "create");
    assert_eq!(
        create["outcomes"]["2xx"], 6,
        "what a controller finally sees"
    );
    let retries = create["retries"].as_u64().unwrap();
    assert!(retries > 0);
    let served_429 = fake
        .served()
        .get(&("create".to_string(), 429))
        .copied()
        .unwrap_or(0);
    assert_eq!(
        retries, served_429,
        "each 429 the server sent was retried once"
    );
    assert_eq!(fake.served_for("create"), 6 + retries);
    assert_eq!(
        create["retried_outcomes"]["429"].as_u64(),
        Some(served_429),
        "the 429s the client retried are in the report"
    );
    assert!(
        stdout(&output).contains(&format!(
            "retried by the client (not in the counts above): 429 x{served_429}"
        )),
        "{}",
        stdout(&output)
    );
    assert!(
        create["latency_ms"]["corrected"]["max"].as_f64().unwrap() >= 1000.0,
        "a retry waits Retry-After"
    );
    assert!(stdout(&output).contains("client-go"));
}

#[test]
fn scenario_errors_name_the_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(
        dir.path(),
        "- verb: create\n  template: cm\n  count: 5\n  rate: quickly\n",
        "",
    );
    let output = scar(&["loadgen", "run", &scenario]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("scenario.yaml:9:9: phases[0].rate: must be a positive number"),
        "{err}"
    );
}

#[test]
fn an_unreachable_server_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"https://127.0.0.1:{port}\", insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {{token: abc}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n"),
    )
    .unwrap();
    let scenario = write_scenario(
        dir.path(),
        "- {verb: create, template: cm, count: 1, rate: 1}\n",
        "",
    );
    let output = scar(&[
        "loadgen",
        "run",
        &scenario,
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("cannot connect"),
        "{err}"
    );
}

#[test]
fn cleanup_removes_leftover_namespaces_of_earlier_runs() {
    let (_rt, _dir, fake) = start(Behaviour::default());
    fake.add_namespace(
        "scar-loadgen-aaa",
        serde_json::json!({"scar.dev/run-id": "aaa"}),
    );
    fake.add_namespace(
        "scar-loadgen-bbb",
        serde_json::json!({"scar.dev/run-id": "bbb"}),
    );
    fake.add_namespace("production", serde_json::json!({"team": "shop"}));
    let kubeconfig = fake.kubeconfig.to_str().unwrap();
    let one = scar(&[
        "loadgen",
        "cleanup",
        "--kubeconfig",
        kubeconfig,
        "--run-id",
        "aaa",
    ]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    assert_eq!(
        fake.namespaces(),
        vec!["production".to_string(), "scar-loadgen-bbb".to_string()]
    );
    let all = scar(&["loadgen", "cleanup", "--kubeconfig", kubeconfig]);
    assert_eq!(all.status.code(), Some(0));
    assert_eq!(fake.namespaces(), vec!["production".to_string()]);
    assert!(stdout(&all).contains("scar-loadgen-bbb"));
}

#[test]
fn cleanup_reads_each_namespace_and_deletes_only_a_runs_even_when_the_server_ignores_selectors() {
    let (_rt, _dir, fake) = start(Behaviour {
        ignore_label_selectors: true,
        ..Behaviour::default()
    });
    fake.add_namespace("prod", serde_json::json!({"team": "shop"}));
    fake.add_namespace("default", serde_json::json!({}));
    fake.add_namespace(
        "scar-loadgen-other",
        serde_json::json!({"scar.dev/run-id": "other"}),
    );
    // Labelled by hand with the run id, but not named by scar.
    fake.add_namespace("payments", serde_json::json!({"scar.dev/run-id": "mine"}));
    fake.add_namespace(
        "scar-loadgen-mine",
        serde_json::json!({"scar.dev/run-id": "mine"}),
    );
    let kubeconfig = fake.kubeconfig.to_str().unwrap();
    let cleanup = |extra: &[&str]| {
        let mut args = vec!["loadgen", "cleanup", "--kubeconfig", kubeconfig];
        args.extend_from_slice(extra);
        scar(&args)
    };
    let everyone = vec![
        "default".to_string(),
        "payments".to_string(),
        "prod".to_string(),
        "scar-loadgen-mine".to_string(),
        "scar-loadgen-other".to_string(),
    ];

    let dry = cleanup(&["--run-id", "mine", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let said = stdout(&dry);
    assert!(
        said.contains("would delete 1 namespace on") && said.contains(": scar-loadgen-mine"),
        "{said}"
    );
    assert!(
        said.contains("namespace prod has no scar.dev/run-id label"),
        "{said}"
    );
    assert!(
        said.contains("namespace payments is labelled scar.dev/run-id=mine but its name does not hold the run id"),
        "{said}"
    );
    assert_eq!(fake.namespaces(), everyone, "a dry run deletes nothing");

    let mine = cleanup(&["--run-id", "mine"]);
    assert_eq!(mine.status.code(), Some(0), "{}", stderr(&mine));
    assert!(stdout(&mine).contains("deleted namespace scar-loadgen-mine"));
    let all = cleanup(&[]);
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    assert_eq!(
        fake.namespaces(),
        vec![
            "default".to_string(),
            "payments".to_string(),
            "prod".to_string()
        ],
        "only the namespaces runs made are gone"
    );
}

#[test]
fn a_cleanup_that_fails_exits_4_and_names_what_is_left() {
    let (_rt, dir, fake) = start(Behaviour {
        forbid_namespace_deletes: true,
        ..Behaviour::default()
    });
    let scenario = write_scenario(
        dir.path(),
        "- {name: create, verb: create, template: cm, count: 2, rate: 100}\n",
        "",
    );
    let (output, report) = run_against(&fake, &scenario, dir.path(), &["--run-id", "left0"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert_eq!(report["cleanup"]["ok"], false);
    assert!(
        stderr(&output).contains("namespace scar-loadgen-left0")
            && stderr(&output).contains("scar loadgen cleanup --run-id left0"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fake.namespaces(), vec!["scar-loadgen-left0".to_string()]);
    let cleanup = scar(&[
        "loadgen",
        "cleanup",
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
    ]);
    assert_eq!(cleanup.status.code(), Some(4), "{}", stdout(&cleanup));
    assert!(
        stderr(&cleanup).contains("namespace scar-loadgen-left0"),
        "{}",
        stderr(&cleanup)
    );
}

/// Reads interval logs with Python's `hdrhistogram` package (an
/// independent reader; `.ci/run` installs it): per file, the intervals of
/// each tag as `[start_seconds, length_seconds, count]`.
const READ_LOGS: &str = r#"
import json, sys
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
out = {}
for path in sys.argv[1:]:
    reader = HistogramLogReader(path, HdrHistogram(1, 3600000000, 3))
    tags = {}
    while True:
        h = reader.get_next_interval_histogram()
        if h is None:
            break
        start = h.get_start_time_stamp() / 1000.0 - reader.start_time_sec
        length = (h.get_end_time_stamp() - h.get_start_time_stamp()) / 1000.0
        tags.setdefault(h.get_tag(), []).append([round(start, 3), round(length, 3), h.get_total_count()])
    out[path.rsplit("/", 1)[-1]] = tags
print(json.dumps(out))
"#;

#[test]
fn hdr_logs_hold_one_interval_a_bin_that_an_independent_reader_adds_up_to_the_report() {
    let (_rt, dir, fake) = start(Behaviour::default());
    let scenario = write_scenario(
        dir.path(),
        "- {name: create, verb: create, template: cm, count: 25, rate: 10}\n- {name: read, verb: get, template: cm, rate: 20, duration: 1500ms}\n",
        "",
    );
    let hdr = dir.path().join("hdr");
    let report = dir.path().join("report.json");
    let output = scar(&[
        "loadgen",
        "run",
        &scenario,
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--hdr-out",
        hdr.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = std::fs::read_to_string(hdr.join("create.hlog")).unwrap();
    assert!(
        log.contains("#[StartTime: ") && log.contains("#[BaseTime: "),
        "{log}"
    );

    let logs = [hdr.join("create.hlog"), hdr.join("read.hlog")];
    let python = std::process::Command::new("python3")
        .arg("-c")
        .arg(READ_LOGS)
        .args(&logs)
        .output()
        .expect("python3 runs");
    assert!(
        python.status.success(),
        "the hdrhistogram package reads the logs (.ci/run installs it): {}",
        String::from_utf8_lossy(&python.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&python.stdout).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for (file, phase) in [("create.hlog", 0), ("read.hlog", 1)] {
        let phase = &report["phases"][phase];
        let completed = phase["completed"].as_u64().unwrap();
        let started = phase["started_seconds"].as_f64().unwrap();
        let finished = phase["finished_seconds"].as_f64().unwrap();
        for tag in ["corrected", "raw"] {
            let intervals = read[file][tag]
                .as_array()
                .unwrap_or_else(|| panic!("{file} {tag}: {read}"));
            let total: u64 = intervals.iter().map(|i| i[2].as_u64().unwrap()).sum();
            assert_eq!(total, completed, "{file} {tag}: {intervals:?}");
            assert!(
                intervals.len() >= 2,
                "a phase over a second has several intervals: {intervals:?}"
            );
            // The run's tenths of a second (a run under a minute) in which
            // requests completed, the first cut to the phase when the phase
            // started inside it, the last to its end.
            let mut previous_end = started;
            for interval in intervals {
                let (begin, length) =
                    (interval[0].as_f64().unwrap(), interval[1].as_f64().unwrap());
                let tenths = begin * 10.0;
                assert!(
                    (begin - started).abs() < 0.002 || (tenths - tenths.round()).abs() < 0.02,
                    "at the phase's start or on the run's tenths of a second: {intervals:?}"
                );
                assert!(length > 0.0 && length <= 0.1 + 1e-6, "{intervals:?}");
                assert!(
                    begin >= previous_end - 0.002,
                    "in order, not overlapping: {intervals:?}"
                );
                previous_end = begin + length;
            }
            // The phase ends a moment after its last completion, in the
            // same tenth of a second or the next.
            assert!(
                previous_end <= finished + 0.002 && finished - previous_end < 0.1,
                "ends with the phase at {finished}: {intervals:?}"
            );
        }
    }
}

#[test]
fn ctrl_c_stops_the_run_and_deletes_what_it_created() {
    a_signal_stops_the_run_cleans_up_and_reports("INT", 130);
}

/// SIGTERM is what CI cancellation, `timeout` and Kubernetes send.
#[test]
fn sigterm_stops_the_run_like_ctrl_c_and_exits_143() {
    a_signal_stops_the_run_cleans_up_and_reports("TERM", 143);
}

fn a_signal_stops_the_run_cleans_up_and_reports(signal: &str, code: i32) {
    let (_rt, dir, fake) = start(Behaviour::default());
    let scenario = write_scenario(
        dir.path(),
        "- {name: create, verb: create, template: cm, count: 5, rate: 100}\n- {name: read, verb: get, template: cm, rate: 20, duration: 60s}\n",
        "",
    );
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_scar"))
        .args([
            "loadgen",
            "run",
            &scenario,
            "--kubeconfig",
            fake.kubeconfig.to_str().unwrap(),
            "--out",
            dir.path().join("report.json").to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fake.served_for("get") < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "the read phase never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(fake.object_count(), 5);
    let killed = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped promptly, not after the 60s phase"
    );
    assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    assert!(
        fake.namespaces().is_empty() && fake.object_count() == 0,
        "cleaned up on Ctrl-C"
    );
    let summary = stdout(&output);
    assert!(summary.contains("read"), "the summary covers what ran");
    assert!(
        summary.contains("SLO: not judged: the run was interrupted")
            && !summary.contains("SLO: passed"),
        "an interrupted run is not judged: {summary}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["cleanup"]["ok"], true);
}

#[test]
fn a_phase_that_sends_fewer_requests_than_asked_says_why() {
    // Two writes in flight at most: of six creates sent at once, four are
    // refused, and the burst that patches each object reaches only two.
    let (_rt, dir, fake) = start(Behaviour {
        max_mutating_inflight: 2,
        base_latency: Duration::from_millis(300),
        ..Behaviour::default()
    });
    let scenario = write_scenario(
        dir.path(),
        "- {name: create, verb: create, template: cm, count: 6, burst: 6}\n- {name: burst, verb: patch, template: cm, burst: 6, patch: {data: {a: b}}}\n",
        "slo: {max_429_ratio: 1, max_error_ratio: 0}\n",
    );
    let (output, report) = run_against(&fake, &scenario, dir.path(), &[]);
    let summary = stdout(&output);
    assert_eq!(phase(&report, "create")["outcomes"]["429"], 4, "{summary}");
    assert_eq!(phase(&report, "burst")["requests"], 2);
    assert!(
        summary.contains("sent to the 2 objects that exist: 4 creates were refused or failed"),
        "{summary}"
    );
    assert_eq!(
        phase(&report, "burst")["note"],
        "sent to the 2 objects that exist: 4 creates were refused or failed"
    );
    assert_eq!(report["slo"]["judged"], true);
}

#[test]
fn the_shipped_deploy_burst_finds_the_burst_a_small_server_throttles() {
    // Each request held long enough that all 15 overlap, even when a busy
    // machine spreads their connections out.
    let behaviour = Behaviour {
        max_mutating_inflight: 10,
        base_latency: Duration::from_millis(250),
        ..Behaviour::default()
    };
    let (_rt, dir, fake) = start(behaviour);
    let scenario = repo().join("loadgen/scenarios/deploy-burst.yaml");
    let (output, report) = run_against(&fake, scenario.to_str().unwrap(), dir.path(), &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    assert_eq!(
        phase(&report, "create")["outcomes"]["2xx"],
        15,
        "20/s stays under the limit"
    );
    let burst = phase(&report, "deploy-burst");
    let throttled = burst["outcomes"]["429"].as_u64().unwrap();
    assert!(
        throttled >= 5,
        "15 rollouts at once against 10 in flight: {burst}"
    );
    assert_eq!(burst["outcomes"]["2xx"].as_u64().unwrap() + throttled, 15);
    assert_eq!(fake.served_for("patch"), 15);
    assert!(fake.namespaces().is_empty());
}

fn deployment(name: &str, replicas: u64) -> Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "demo", "generation": 1},
        "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": name}}}},
    })
}

fn write_rollout_scenario(dir: &Path, phase: &str, probe: &str) -> String {
    let path = dir.join("rollout.yaml");
    std::fs::write(&path, format!("name: rollout\nphases:\n{phase}{probe}")).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_rollout_phase_restarts_deployments_and_the_probe_places_errors_inside_it() {
    let (_rt, dir, fake) = start(Behaviour {
        rollout_time: Duration::from_millis(700),
        ..Behaviour::default()
    });
    fake.add_object("demo", "deployments", deployment("web", 2));
    // The control plane: once the restart arrives, the service answers 503
    // for 300 ms, as one whose old Pods stop before the ingress notices.
    let restarted = Arc::new(AtomicU64::new(0));
    let failing_since = restarted.clone();
    let epoch = Instant::now();
    let service = Service::start(move || {
        let since = failing_since.load(Ordering::Relaxed);
        since > 0 && epoch.elapsed().as_millis() < u128::from(since) + 300
    });
    let fake = Arc::new(fake);
    let watcher = {
        let fake = fake.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while fake.served_for("patch") == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            restarted.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        })
    };
    let scenario = write_rollout_scenario(
        dir.path(),
        "- {name: restart, verb: rollout, deployments: [demo/web], timeout: 20s}\n",
        &format!(
            "probe:\n  url: http://127.0.0.1:{}/\n  rate: 100\n  before: 500ms\n  after: 500ms\n",
            service.port
        ),
    );
    let (output, report) = run_against(&fake, &scenario, dir.path(), &[]);
    watcher.join().unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(3), "{text}{}", stderr(&output));
    assert!(text.contains("demo/web: rolled out in"), "{text}");
    assert!(text.contains("1 error window:"), "{text}");
    assert!(text.contains("during rollout of demo/web: "), "{text}");
    assert!(text.contains("SLO: breached\n  probe: "), "{text}");

    let restart = phase(&report, "restart");
    let rollout = &restart["rollouts"][0];
    assert_eq!(rollout["deployment"], "demo/web");
    let took = rollout["took_seconds"].as_f64().unwrap();
    assert!((0.7..5.0).contains(&took), "{took}");
    assert_eq!(restart["verb"], "rollout");
    assert_eq!(restart["outcomes"]["2xx"], restart["completed"]);
    let (started, finished) = (
        restart["started_seconds"].as_f64().unwrap(),
        restart["finished_seconds"].as_f64().unwrap(),
    );
    let window = &report["probe"]["error_windows"][0];
    let start = window["start_seconds"].as_f64().unwrap();
    assert!(
        started <= start && start <= finished,
        "{start} outside {started}..{finished}"
    );
    // Half a second of probing alone before the restart.
    assert!(report["probe"]["started_seconds"].as_f64().unwrap() < started - 0.3);
    assert!(window["outcomes"]["503"].as_u64().unwrap() > 0);
    assert_eq!(report["probe"]["slo"]["passed"], false);
    let object = fake.object("demo", "deployments", "web");
    let annotations = &object["spec"]["template"]["metadata"]["annotations"];
    assert!(
        annotations["kubectl.kubernetes.io/restartedAt"].is_string(),
        "{object}"
    );
    assert_eq!(object["metadata"]["generation"], 2);
}

#[test]
fn a_rollout_that_does_not_complete_in_time_fails_its_phase_with_why() {
    let (_rt, dir, fake) = start(Behaviour {
        rollout_time: Duration::from_secs(3600),
        ..Behaviour::default()
    });
    fake.add_object("demo", "deployments", deployment("api", 3));
    let scenario = write_rollout_scenario(
        dir.path(),
        "- {name: restart, verb: rollout, deployments: [demo/api, demo/missing], timeout: 1s}\n",
        "",
    );
    let (output, report) = run_against(&fake, &scenario, dir.path(), &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(
        text.contains(
            "restart: rollout of demo/api did not complete within 1s: 2 of 3 replicas updated"
        ),
        "{text}"
    );
    assert!(text.contains("restarting demo/missing: HTTP 404"), "{text}");
    let rollouts = phase(&report, "restart")["rollouts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rollouts.len(), 2);
    assert!(rollouts.iter().all(|r| r["took_seconds"].is_null()));
}

#[test]
fn cleanup_waits_out_429s_and_still_deletes_the_namespace() {
    let (_rt, dir, fake) = start(Behaviour {
        refuse_namespace_deletes: 2,
        ..Behaviour::default()
    });
    let scenario = write_scenario(
        dir.path(),
        "- {name: create, verb: create, template: cm, count: 3, rate: 100}\n",
        "",
    );
    let (output, report) = run_against(&fake, &scenario, dir.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(
        fake.served().get(&("namespace".to_string(), 429)),
        Some(&2),
        "two refusals, waited out with their Retry-After"
    );
    assert!(fake.namespaces().is_empty(), "{:?}", fake.namespaces());
    assert_eq!(fake.object_count(), 0);
    assert_eq!(report["cleanup"]["ok"], true);
    assert!(!stdout(&output).contains("cleanup failed"));
    // Every request of the cleanup is in the report: a read before each
    // of the three deletions, the first two refused.
    assert_eq!(report["cleanup"]["attempts"], 3, "{}", report["cleanup"]);
    assert_eq!(report["cleanup"]["outcomes"]["429"], 2);
    assert_eq!(report["cleanup"]["outcomes"]["200"], 4);
    assert_eq!(report["cleanup"]["requests"], 6);
    assert!(
        stdout(&output).contains("deleted on attempt 3 (200 x4, 429 x2)"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn the_readme_shows_the_shipped_deploy_burst_scenario_as_it_is() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let shipped =
        std::fs::read_to_string(repo().join("loadgen/scenarios/deploy-burst.yaml")).unwrap();
    let intro = "`loadgen/scenarios/deploy-burst.yaml`, as shipped:\n\n```yaml\n";
    let start = readme.find(intro).expect("the README quotes the scenario") + intro.len();
    let end = start + readme[start..].find("```\n").unwrap();
    assert_eq!(&readme[start..end], shipped);
}

#[test]
fn the_html_report_and_the_comparison_render_every_chart_in_a_real_browser() {
    let (_rt, dir, fake) = start(Behaviour {
        max_mutating_inflight: 3,
        base_latency: Duration::from_millis(30),
        rollout_time: Duration::from_millis(600),
        ..Behaviour::default()
    });
    fake.add_object("demo", "deployments", deployment("web", 2));
    // The service fails a stretch of each run: error windows to shade.
    let epoch = Instant::now();
    let service = Service::start(move || epoch.elapsed().as_millis() % 4_000 > 3_700);
    let scenario = write_scenario(
        dir.path(),
        "- {name: create, verb: create, template: cm, count: 40, rate: 20, connections: 2}\n- {name: burst, verb: patch, template: cm, burst: 20, patch: {data: {at: \"{{ now }}\"}}}\n- {name: restart, verb: rollout, deployments: [demo/web], timeout: 20s}\n",
        &format!(
            "probe:\n  url: http://127.0.0.1:{}/\n  rate: 50\n  before: 300ms\n  after: 300ms\n",
            service.port
        ),
    );
    let page = dir.path().join("run.html");
    let (first, report) = run_against(
        &fake,
        &scenario,
        dir.path(),
        &["--html", page.to_str().unwrap()],
    );
    assert_eq!(
        first.status.code(),
        Some(3),
        "{}{}",
        stdout(&first),
        stderr(&first)
    );
    assert!(
        report["probe"]["error_windows"]
            .as_array()
            .is_some_and(|w| !w.is_empty()),
        "{report}"
    );
    let a = dir.path().join("a.json");
    std::fs::rename(dir.path().join("report.json"), &a).unwrap();
    let (_, _) = run_against(&fake, &scenario, dir.path(), &[]);
    let b = dir.path().join("report.json");

    let dom = check_in_browser(&page, "run", 5);
    for expected in [
        "SLO breached",
        "create",
        "burst",
        "restart",
        "probe errors",
        "Retry-After",
        "<th>took s</th>",
        "<li>Setup: 1 request (201 ×1)</li>",
        "<li>Cleanup: done in 2 requests (200 ×2)</li>",
    ] {
        assert!(dom.contains(expected), "{expected} missing from the page");
    }

    let single = dir.path().join("single.html");
    let made = scar(&[
        "loadgen",
        "report",
        a.to_str().unwrap(),
        "-o",
        single.to_str().unwrap(),
    ]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    assert_eq!(
        std::fs::read_to_string(&single).unwrap(),
        std::fs::read_to_string(&page).unwrap(),
        "the report command draws the page the run drew"
    );

    let compared = dir.path().join("compare.html");
    let made = scar(&[
        "loadgen",
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "-o",
        compared.to_str().unwrap(),
    ]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let dom = check_in_browser(&compared, "compare", 3);
    for figure in [
        "requests/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "429 %",
        "error %",
    ] {
        assert!(
            dom.contains(&format!("<td>{figure}</td>")),
            "{figure} missing"
        );
    }
    let verdicts = [
        "within noise",
        "worse",
        "better",
        "same",
        "too few requests to tell",
    ];
    let judged = dom.matches("<td class=\"").count();
    assert!(
        judged >= 18,
        "every figure of every phase is judged: {judged}"
    );
    assert!(verdicts.iter().any(|v| dom.contains(v)));
}

#[test]
fn the_report_command_names_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"version\": 1,\n  oops\n}\n").unwrap();
    let out = dir.path().join("page.html");
    let output = scar(&[
        "loadgen",
        "report",
        broken.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("broken.json:3:3: not JSON"),
        "{}",
        stderr(&output)
    );
    let other = dir.path().join("other.json");
    std::fs::write(&other, "{\"findings\": []}").unwrap();
    let output = scar(&[
        "loadgen",
        "report",
        other.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not a `scar loadgen run`, `probe` or `replay` --out report"),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists());
}

#[test]
fn the_demo_runs_the_deploy_burst_against_the_double_with_no_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_scar"))
        .args(["loadgen", "demo", "--out", "report.json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let said = stdout(&output);
    assert_eq!(output.status.code(), Some(3), "{said}{}", stderr(&output));
    assert!(
        said.contains("scar's API double") && said.contains("Not a measurement of a real server"),
        "{said}"
    );
    assert!(said.contains("SLO: breached"), "{said}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    let burst = phase(&report, "deploy-burst");
    assert!(burst["outcomes"]["429"].as_u64().unwrap() >= 1, "{burst}");
    assert_eq!(report["cleanup"]["ok"], true);
    let page = std::fs::read_to_string(dir.path().join("scar-loadgen-demo.html")).unwrap();
    assert!(page.contains("<svg"), "the page draws its charts");
}

#[test]
fn the_api_double_serves_other_commands_until_sigterm_and_only_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut double = std::process::Command::new(env!("CARGO_BIN_EXE_scar"))
        .args(["loadgen", "api-double", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(double.stdout.take().unwrap()),
        &mut banner,
    )
    .unwrap();
    assert!(
        banner.starts_with("serving scar's API double on https://127.0.0.1:"),
        "{banner}"
    );
    let scenario = repo().join("loadgen/scenarios/deploy-burst.yaml");
    let run = scar(&[
        "loadgen",
        "run",
        scenario.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(3),
        "{}{}",
        stdout(&run),
        stderr(&run)
    );
    assert!(
        stdout(&run).contains("429s in 15 patch requests"),
        "{}",
        stdout(&run)
    );
    let cleanup = scar(&[
        "loadgen",
        "cleanup",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    assert!(
        stdout(&cleanup).contains("nothing to clean up"),
        "{}",
        stdout(&cleanup)
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &double.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = double.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));

    let anywhere = scar(&[
        "loadgen",
        "api-double",
        "--listen",
        "0.0.0.0:0",
        "--kubeconfig-out",
        kubeconfig.to_str().unwrap(),
    ]);
    assert_eq!(anywhere.status.code(), Some(1));
    assert!(
        stderr(&anywhere).contains("not a loopback address"),
        "{}",
        stderr(&anywhere)
    );
}
