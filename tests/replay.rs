//! `scar loadgen replay` against the API server double on 127.0.0.1, with an
//! audit log the test writes from the documented audit Event schema: the
//! writes of the window sent once each on the recorded schedule (and twice as
//! fast at speed 2), into namespaces of the run's own that are deleted
//! after; bodies recorded or synthetic; bad lines counted with their numbers.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{scar, stderr, stdout};
use scar_loadgen::fake_apiserver::{Behaviour, FakeApiServer};
use serde_json::{json, Value};

const T0_US: i64 = 1_795_000_000_000_000;

/// The schedule tests run one at a time: two replays sharing the cores
/// would measure each other.
static ON_SCHEDULE: std::sync::Mutex<()> = std::sync::Mutex::new(());
/// Recorded requests 10 ms apart.
const STEP_US: i64 = 10_000;

fn timestamp(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

struct Log {
    text: String,
    /// Writes that must be replayed, by (verb, synthetic).
    creates: u64,
    synthetic: u64,
    updates: u64,
    patches: u64,
    deletes: u64,
    malformed_lines: Vec<u64>,
    other_version_lines: Vec<u64>,
    span_us: i64,
}

/// A few hundred events: per object a create, an update, a patch and a
/// delete, at levels Request (body recorded) and Metadata (no body), each
/// write also seen at stage RequestReceived; reads; a cluster-scoped write;
/// a truncated line and an event of another audit version. Lines are in the
/// order requests completed, as the API server writes them.
fn audit_log() -> Log {
    let mut events: Vec<(i64, Value)> = Vec::new();
    let mut log = Log {
        text: String::new(),
        creates: 0,
        synthetic: 0,
        updates: 0,
        patches: 0,
        deletes: 0,
        malformed_lines: Vec::new(),
        other_version_lines: Vec::new(),
        span_us: 0,
    };
    let mut at = T0_US;
    let mut id = 0;
    for object in 0..60 {
        let namespace = if object % 2 == 0 { "shop" } else { "payments" };
        let name = format!("cm-{object}");
        let with_body = object % 3 != 0;
        for verb in ["create", "update", "patch", "delete"] {
            id += 1;
            let latency = 2_000 + (object * 97 % 13) as i64 * 1_000;
            let mut event = json!({
                "kind": "Event", "apiVersion": "audit.k8s.io/v1",
                "level": if with_body { "Request" } else { "Metadata" },
                "auditID": format!("id-{id}"), "stage": "ResponseComplete",
                "requestURI": format!("/api/v1/namespaces/{namespace}/configmaps/{name}"),
                "verb": verb, "user": {"username": "deployer"},
                "objectRef": {"resource": "configmaps", "namespace": namespace, "name": name, "apiVersion": "v1"},
                "responseStatus": {"metadata": {}, "code": if verb == "create" { 201 } else { 200 }},
                "requestReceivedTimestamp": timestamp(at),
                "stageTimestamp": timestamp(at + latency),
            });
            if with_body && verb != "delete" {
                event["requestObject"] = match verb {
                    "patch" => json!({"data": {"patched": "yes"}}),
                    _ => json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": name, "namespace": namespace, "resourceVersion": "7"},
                        "data": {"verb": verb}}),
                };
            }
            match verb {
                "create" if with_body => log.creates += 1,
                "delete" => log.deletes += 1,
                "update" if with_body => log.updates += 1,
                "patch" if with_body => log.patches += 1,
                _ => log.synthetic += 1,
            }
            let mut received = event.clone();
            received["stage"] = json!("RequestReceived");
            received.as_object_mut().unwrap().remove("responseStatus");
            events.push((at, received));
            events.push((at + latency, event));
            log.span_us = at - T0_US;
            at += STEP_US;
        }
        let read = json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
            "auditID": format!("read-{object}"), "stage": "ResponseComplete",
            "requestURI": format!("/api/v1/namespaces/{namespace}/configmaps/{name}"),
            "verb": "get", "user": {"username": "reader"},
            "objectRef": {"resource": "configmaps", "namespace": namespace, "name": name, "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "code": 200},
            "requestReceivedTimestamp": timestamp(at - 1_000), "stageTimestamp": timestamp(at - 500),
        });
        events.push((at - 500, read));
    }
    let cluster_scoped = json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request", "auditID": "cr",
        "stage": "ResponseComplete", "requestURI": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        "verb": "create", "user": {"username": "deployer"},
        "objectRef": {"resource": "clusterroles", "name": "x", "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 201},
        "requestReceivedTimestamp": timestamp(T0_US + 5_000), "stageTimestamp": timestamp(T0_US + 6_000),
    });
    events.push((T0_US + 6_000, cluster_scoped));
    events.sort_by_key(|(done, _)| *done);

    let mut line = 0;
    for (index, (_, event)) in events.iter().enumerate() {
        if index == 40 {
            line += 1;
            log.malformed_lines.push(line);
            log.text.push_str(
                "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"stage\":\"Resp\n",
            );
        }
        if index == 90 {
            line += 1;
            log.other_version_lines.push(line);
            let old = event
                .to_string()
                .replace("audit.k8s.io/v1", "audit.k8s.io/v1beta1");
            let _ = writeln!(log.text, "{old}");
        }
        line += 1;
        let _ = writeln!(log.text, "{event}");
    }
    log
}

fn start() -> (tokio::runtime::Runtime, tempfile::TempDir, FakeApiServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fake = rt
        .block_on(FakeApiServer::start(Behaviour::default(), dir.path()))
        .unwrap();
    (rt, dir, fake)
}

fn replay(
    fake: &FakeApiServer,
    log: &Path,
    out: &Path,
    extra: &[&str],
) -> (std::process::Output, Value) {
    let mut args = vec![
        "loadgen",
        "replay",
        log.to_str().unwrap(),
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--run-id",
        "r1",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = scar(&args);
    let report = std::fs::read_to_string(out)
        .unwrap_or_else(|e| panic!("no report ({e}): {}{}", stdout(&output), stderr(&output)));
    (output, serde_json::from_str(&report).unwrap())
}

/// Sends within 1 ms of their recorded time (scaled by the speed): nearly
/// all to the microsecond. A shared machine may pause the scheduler's
/// thread for a few milliseconds now and then, so the bound is on nine
/// sends in ten and on the mean.
fn on_schedule(late: &Value) {
    assert!(late["p90"].as_f64().unwrap() <= 1.0, "{late}");
    assert!(late["mean"].as_f64().unwrap() <= 1.0, "{late}");
}

fn count(report: &Value, verb: &str, synthetic: bool) -> u64 {
    report["replay"]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verb"] == verb && r["synthetic"] == synthetic)
        .map(|r| r["count"].as_u64().unwrap())
        .sum()
}

#[test]
fn the_recorded_writes_are_replayed_on_schedule_into_sandboxes_and_compared() {
    let _alone = ON_SCHEDULE.lock().unwrap_or_else(|e| e.into_inner());
    let (_rt, dir, fake) = start();
    let log = audit_log();
    let path = dir.path().join("audit.log");
    std::fs::write(&path, &log.text).unwrap();
    let (output, report) = replay(&fake, &path, &dir.path().join("r.json"), &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let text = stdout(&output);

    assert_eq!(count(&report, "create", false), log.creates);
    assert_eq!(count(&report, "update", false), log.updates);
    assert_eq!(count(&report, "patch", false), log.patches);
    assert_eq!(count(&report, "delete", false), log.deletes);
    let synthetic = count(&report, "create", true)
        + count(&report, "update", true)
        + count(&report, "patch", true);
    assert_eq!(synthetic, log.synthetic);
    assert_eq!(
        fake.served_for("create")
            + fake.served_for("update")
            + fake.served_for("patch")
            + fake.served_for("delete"),
        log.creates + log.updates + log.patches + log.deletes + log.synthetic,
        "every selected write sent once"
    );
    let creates = report["replay"]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["verb"] == "create" && r["synthetic"] == false)
        .unwrap()
        .clone();
    assert_eq!(creates["recorded"]["codes"]["201"], log.creates);
    assert_eq!(
        creates["replayed"]["outcomes"]["2xx"], log.creates,
        "{creates}"
    );
    assert!(creates["recorded"]["latency_ms"]["p50"].as_f64().unwrap() >= 2.0);

    let namespaces = &report["replay"]["namespaces"];
    assert_eq!(namespaces["shop"], "replay-r1-shop");
    assert_eq!(namespaces["payments"], "replay-r1-payments");
    assert!(
        fake.namespaces().is_empty(),
        "sandboxes deleted: {:?}",
        fake.namespaces()
    );

    let skipped = &report["replay"]["skipped"];
    assert_eq!(skipped["malformed_lines"], json!(log.malformed_lines));
    assert_eq!(
        skipped["other_versions_lines"],
        json!(log.other_version_lines)
    );
    assert_eq!(skipped["cluster_scoped"], 1);
    assert!(
        text.contains(&format!(
            "1 line is not an audit event (line {})",
            log.malformed_lines[0]
        )),
        "{text}"
    );

    // The schedule: the recorded pace, every send on time.
    let span = log.span_us as f64 / 1e6;
    let took = report["replay"]["duration_seconds"].as_f64().unwrap();
    assert!(
        (span..span + 0.5).contains(&took),
        "{took} s for {span} s recorded"
    );
    on_schedule(&report["replay"]["send_lateness_ms"]);
}

#[test]
fn speed_2_sends_the_same_schedule_twice_as_fast_and_gzip_reads_the_same() {
    use std::io::Write;
    let _alone = ON_SCHEDULE.lock().unwrap_or_else(|e| e.into_inner());
    let (_rt, dir, fake) = start();
    let log = audit_log();
    let path = dir.path().join("audit.log.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(log.text.as_bytes()).unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let (output, report) = replay(
        &fake,
        &path,
        &dir.path().join("r.json"),
        &[
            "--speed",
            "2",
            "--only-verbs",
            "create,delete",
            "--namespace-map",
            "shop=shop-copy",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let half = log.span_us as f64 / 2e6;
    let took = report["replay"]["duration_seconds"].as_f64().unwrap();
    assert!(
        (half..half + 0.5).contains(&took),
        "{took} s for {half} s at speed 2"
    );
    assert_eq!(
        count(&report, "update", false) + count(&report, "patch", false),
        0
    );
    assert_eq!(count(&report, "delete", false), log.deletes);
    assert_eq!(report["replay"]["namespaces"]["shop"], "shop-copy");
    on_schedule(&report["replay"]["send_lateness_ms"]);
}

#[test]
fn bad_arguments_and_an_empty_window_say_what_is_wrong() {
    let _alone = ON_SCHEDULE.lock().unwrap_or_else(|e| e.into_inner());
    let (_rt, dir, fake) = start();
    let path = dir.path().join("audit.log");
    std::fs::write(&path, audit_log().text).unwrap();
    let kubeconfig = fake.kubeconfig.to_str().unwrap();
    let log = path.to_str().unwrap();
    let cases: [(&[&str], i32, &str); 4] = [
        (&["--speed", "0"], 2, "--speed 0"),
        (&["--only-verbs", "get"], 2, "`get` is not one of"),
        (&["--from", "yesterday"], 2, "an RFC 3339 time"),
        (
            &["--from", "2030-01-01T00:00:00Z"],
            1,
            "no write request to replay in the window",
        ),
    ];
    for (extra, code, message) in cases {
        let mut args = vec!["loadgen", "replay", log, "--kubeconfig", kubeconfig];
        args.extend_from_slice(extra);
        let output = scar(&args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{extra:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(message),
            "{extra:?}: {}",
            stderr(&output)
        );
    }
    assert!(fake.namespaces().is_empty());
}
