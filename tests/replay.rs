//! `scar loadgen replay` against the API server double on 127.0.0.1, with an
//! audit log the test writes from the documented audit Event schema: the
//! writes of the window sent once each on the recorded schedule (and twice as
//! fast at speed 2), into namespaces of the run's own that are deleted
//! after; bodies recorded or synthetic; bad lines counted with their numbers.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::browser::check_in_browser;
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
                "delete" if with_body => log.deletes += 1,
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
        + count(&report, "patch", true)
        + count(&report, "delete", true);
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
            "--verb",
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
    let cases: [(&[&str], i32, &str); 5] = [
        (&["--speed", "0"], 2, "--speed 0"),
        (
            &["--verb", "get"],
            2,
            "--verb get: matches none of the writes",
        ),
        (
            &["--exclude-verb", "list"],
            2,
            "--exclude-verb list: matches none",
        ),
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

/// A completed request as the audit log records it; `body` is the
/// requestObject, `response` the responseObject.
#[allow(clippy::too_many_arguments)]
fn write_event(
    at_us: i64,
    user: &str,
    verb: &str,
    (group, resource, subresource): (&str, &str, Option<&str>),
    (namespace, name): (&str, &str),
    code: u16,
    body: Option<Value>,
    response: Option<Value>,
) -> String {
    let mut object_ref = json!({"resource": resource, "namespace": namespace, "name": name,
        "apiGroup": group, "apiVersion": "v1"});
    if let Some(sub) = subresource {
        object_ref["subresource"] = json!(sub);
    }
    let mut event = json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": format!("{at_us}-{name}"), "stage": "ResponseComplete",
        "requestURI": "/", "verb": verb, "user": {"username": user},
        "objectRef": object_ref, "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": timestamp(at_us),
        "stageTimestamp": timestamp(at_us + 3_000),
    });
    if let Some(body) = body {
        event["requestObject"] = body;
    }
    if let Some(response) = response {
        event["responseObject"] = response;
    }
    event.to_string()
}

/// An Argo CD sync as a window of an audit log: patches and updates of
/// objects that existed before it (their states recorded before the window,
/// or not at all), a Metadata-level patch, a delete, a create then a patch,
/// a custom resource the test cluster does not have, kubelets' pod status
/// updates, and the lease writes every cluster makes.
fn sync_log() -> (String, i64) {
    let argo = "system:serviceaccount:argocd:argocd-application-controller";
    let window_us = T0_US + 60_000_000;
    let web = |replicas: u64| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "9", "uid": "u-web"},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas}})
    };
    let settings = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "shop"}, "data": {"mode": "old"}});
    let apps = ("apps", "deployments", None);
    let configmaps = ("", "configmaps", None);
    let mut lines = vec![
        // Before the window: the states the window's writes start from.
        write_event(
            T0_US,
            "viewer",
            "get",
            apps,
            ("shop", "web"),
            200,
            None,
            Some(web(3)),
        ),
        write_event(
            T0_US + 1_000_000,
            argo,
            "update",
            configmaps,
            ("shop", "settings"),
            200,
            Some(settings.clone()),
            None,
        ),
    ];
    let mut at = window_us;
    let mut next = || {
        at += 20_000;
        at
    };
    let patch =
        json!({"spec": {"template": {"metadata": {"annotations": {"restartedAt": "now"}}}}});
    lines.push(write_event(
        next(),
        argo,
        "patch",
        apps,
        ("shop", "web"),
        200,
        Some(patch.clone()),
        None,
    ));
    let mut updated = settings.clone();
    updated["data"]["mode"] = json!("new");
    lines.push(write_event(
        next(),
        argo,
        "update",
        configmaps,
        ("shop", "settings"),
        200,
        Some(updated),
        None,
    ));
    for _ in 0..2 {
        lines.push(write_event(
            next(),
            argo,
            "patch",
            ("", "services", None),
            ("shop", "api"),
            200,
            Some(json!({"metadata": {"labels": {"v": "2"}}})),
            None,
        ));
    }
    lines.push(write_event(
        next(),
        argo,
        "patch",
        ("example.com", "widgets", None),
        ("shop", "w1"),
        200,
        Some(json!({"spec": {"size": 2}})),
        None,
    ));
    lines.push(write_event(
        next(),
        argo,
        "patch",
        configmaps,
        ("payments", "metadata-only"),
        200,
        None,
        None,
    ));
    lines.push(write_event(
        next(),
        argo,
        "delete",
        ("", "secrets", None),
        ("payments", "old"),
        200,
        None,
        None,
    ));
    let new =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}, "data": {}});
    lines.push(write_event(
        next(),
        argo,
        "create",
        configmaps,
        ("shop", "new"),
        201,
        Some(new),
        None,
    ));
    lines.push(write_event(
        next(),
        argo,
        "patch",
        configmaps,
        ("shop", "new"),
        200,
        Some(json!({"data": {"k": "v"}})),
        None,
    ));
    for _ in 0..2 {
        let status = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1"}, "status": {"phase": "Running"}});
        lines.push(write_event(
            next(),
            "system:node:n1",
            "update",
            ("", "pods", Some("status")),
            ("shop", "web-1"),
            200,
            Some(status),
            None,
        ));
    }
    let leases = ("coordination.k8s.io", "leases", None);
    for node in 0..5 {
        let name = format!("n{node}");
        lines.push(write_event(
            next(),
            &format!("system:node:{name}"),
            "update",
            leases,
            ("kube-node-lease", &name),
            200,
            None,
            None,
        ));
    }
    for _ in 0..3 {
        lines.push(write_event(
            next(),
            "system:kube-controller-manager",
            "update",
            leases,
            ("kube-system", "kube-controller-manager"),
            200,
            None,
            None,
        ));
    }
    (lines.join("\n") + "\n", window_us)
}

/// The sync log in `dir`, and the time its window starts.
fn write_sync_log(dir: &Path) -> (std::path::PathBuf, String) {
    let (log, window_us) = sync_log();
    let path = dir.join("audit.log");
    std::fs::write(&path, log).unwrap();
    (path, timestamp(window_us))
}

fn codes(report: &Value) -> std::collections::BTreeMap<String, u64> {
    let mut codes = std::collections::BTreeMap::new();
    for request in report["replay"]["requests"].as_array().unwrap() {
        for (code, n) in request["replayed"]["codes"].as_object().unwrap() {
            *codes.entry(code.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    codes
}

#[test]
fn objects_that_existed_before_the_window_are_created_first_so_writes_reach_the_store() {
    let _alone = ON_SCHEDULE.lock().unwrap_or_else(|e| e.into_inner());
    let (_rt, dir, fake) = start();
    let (path, from) = write_sync_log(dir.path());
    let page = dir.path().join("r.html");
    let (output, report) = replay(
        &fake,
        &path,
        &dir.path().join("r.json"),
        &["--from", &from, "--html", page.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);

    // The page sets production's codes beside the replay's, and draws.
    let dom = check_in_browser(&page, "replay", 1);
    assert!(dom.contains("<td>patch deployments</td>"), "{dom}");
    let started = report["replay"]["started_at_unix"].as_f64().unwrap();
    assert!(started > 1.7e9, "when the replay started, in Unix seconds");
    assert!(
        dom.contains(" UTC · 1x speed"),
        "the header says when it started: {dom}"
    );
    assert!(
        dom.contains("6 objects created first, 1 left missing"),
        "{dom}"
    );

    // 11 writes of the window; the 8 lease writes are left out.
    assert_eq!(
        codes(&report),
        [
            ("200".to_string(), 9),
            ("201".to_string(), 1),
            ("404".to_string(), 1)
        ]
        .into(),
        "{text}"
    );
    assert!(
        text.contains("1 of 11 writes got 404: target missing (0 in production)"),
        "{text}"
    );
    assert!(
        text.contains("8 lease writes (node heartbeats, leader election) not replayed"),
        "{text}"
    );
    assert_eq!(report["replay"]["skipped"]["leases"], 8);
    let setup = &report["replay"]["setup"];
    // web, settings, api, the synthetic ConfigMap, the secret, the pod.
    assert_eq!(setup["objects_created"], 6, "{setup}");
    assert_eq!(setup["objects_missing"], 1, "{setup}");
    assert_eq!(setup["objects_missing_first"][0]["resource"], "widgets");
    assert_eq!(setup["requests"]["outcomes"]["201"], 2 + 6, "{setup}");
    assert!(
        text.contains("setup: 6 objects the window writes to created first"),
        "{text}"
    );
    let namespaces: Vec<&String> = report["replay"]["namespaces"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(namespaces, ["payments", "shop"]);
    assert!(fake.namespaces().is_empty(), "{:?}", fake.namespaces());
}

#[test]
fn filters_include_and_exclude_users_resources_and_verbs_and_leases_can_be_kept() {
    let _alone = ON_SCHEDULE.lock().unwrap_or_else(|e| e.into_inner());
    let (_rt, dir, fake) = start();
    let (path, from) = write_sync_log(dir.path());
    let (output, report) = replay(
        &fake,
        &path,
        &dir.path().join("r.json"),
        &[
            "--from",
            &from,
            "--keep-leases",
            "--exclude-user",
            "system:node:*",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The pod status updates and node leases are the nodes'; the leader
    // election's three lease updates are replayed.
    assert_eq!(report["replay"]["skipped"]["filtered_out"], 2 + 5);
    assert_eq!(report["replay"]["skipped"]["leases"], 0);
    // Recorded without a body, they go to synthetic ConfigMaps.
    assert_eq!(count(&report, "update", true), 3);
    assert_eq!(codes(&report)["404"], 1);

    let (output, report) = replay(
        &fake,
        &path,
        &dir.path().join("r2.json"),
        &[
            "--from",
            &from,
            "--resource",
            "deployments.apps,services",
            "--verb",
            "patch",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(count(&report, "patch", false), 3);
    assert_eq!(codes(&report), [("200".to_string(), 3)].into());
    assert_eq!(report["replay"]["namespaces"].as_object().unwrap().len(), 1);
    assert!(fake.namespaces().is_empty(), "{:?}", fake.namespaces());
}

#[test]
fn a_setup_that_fails_deletes_the_namespaces_it_made_and_leaves_the_others() {
    let _alone = ON_SCHEDULE.lock().unwrap_or_else(|e| e.into_inner());
    let (_rt, dir, fake) = start();
    let (path, _) = write_sync_log(dir.path());
    // Someone else's namespace by the name the replay would make: `payments`
    // is made first, then `shop` is refused.
    fake.add_namespace("replay-r1-shop", json!({"team": "shop"}));
    let output = scar(&[
        "loadgen",
        "replay",
        path.to_str().unwrap(),
        "--kubeconfig",
        fake.kubeconfig.to_str().unwrap(),
        "--run-id",
        "r1",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("namespace replay-r1-shop already exists"),
        "{}",
        stderr(&output)
    );
    let served = fake.served();
    let namespace = |code: u16| served.get(&("namespace".to_string(), code)).copied();
    assert_eq!(
        (namespace(201), namespace(409)),
        (Some(1), Some(1)),
        "{served:?}"
    );
    assert_eq!(fake.namespaces(), ["replay-r1-shop"], "payments deleted");
    assert_eq!(fake.served_for("create"), 0, "no object was created");
}
