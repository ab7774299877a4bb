//! `scar loadgen probe URL` against services on 127.0.0.1: the verdict and
//! exit code, the error windows and per-second series of `--out`, kept-alive
//! connections, and usage errors.

mod common;

use std::process::Output;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::browser::check_in_browser;
use common::service::Service;
use common::{scar, stderr, stdout};
use serde_json::Value;

fn probe(args: &[&str]) -> Output {
    let mut all = vec!["loadgen", "probe"];
    all.extend_from_slice(args);
    scar(&all)
}

#[test]
fn a_healthy_service_passes_over_few_kept_alive_connections() {
    let service = Service::start(|| false);
    let url = format!("http://127.0.0.1:{}/", service.port);
    let output = probe(&[&url, "--rate", "100", "--duration", "1s"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("100 requests in"), "{text}");
    assert!(text.contains("100 2xx, 0 failed"), "{text}");
    assert!(text.contains("SLO: passed"), "{text}");
    let connections = service.connections.load(Ordering::Relaxed);
    assert!(
        connections <= 10,
        "100 requests at 100/s took {connections} connections"
    );
}

#[test]
fn failures_are_told_as_error_windows_on_the_timeline_and_exit_3() {
    let started = Instant::now();
    let service = Service::start(move || {
        (Duration::from_millis(700)..Duration::from_millis(1200)).contains(&started.elapsed())
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("probe.json");
    let page = dir.path().join("probe.html");
    let url = format!("http://127.0.0.1:{}/health", service.port);
    let output = probe(&[
        &url,
        "--rate",
        "100",
        "--duration",
        "2s",
        "--out",
        out.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("1 error window:"), "{text}");
    assert!(text.contains("× 503"), "{text}");
    assert!(text.contains("SLO: breached\n  probe: "), "{text}");

    let report: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let probe = &report["probe"];
    let failed = probe["outcomes"]["503"].as_u64().unwrap();
    assert!(
        (35..=65).contains(&failed),
        "about half a second at 100/s: {failed}"
    );
    let windows = probe["error_windows"].as_array().unwrap();
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(windows[0]["count"].as_u64(), Some(failed));
    let start = windows[0]["start_seconds"].as_f64().unwrap();
    let end = windows[0]["end_seconds"].as_f64().unwrap();
    // The service started failing 0.7 s after it started, a little before
    // the probe did.
    assert!(
        (0.4..0.9).contains(&start) && (0.9..1.4).contains(&end),
        "{start}..{end}"
    );
    assert!(windows[0]["start_unix"].as_f64().unwrap() > 1.7e9);
    // Tenth-of-a-second bins (a run under a minute): the 503s fill the
    // bins of the window, by when they were scheduled.
    assert_eq!(probe["bin_seconds"].as_f64(), Some(0.1));
    let series = probe["series"].as_array().unwrap();
    let per_bin: u64 = series.iter().map(|s| s["503"].as_u64().unwrap()).sum();
    assert_eq!(per_bin, failed);
    assert_eq!(series[0]["bin"].as_u64(), Some(0));
    let failing: Vec<f64> = series
        .iter()
        .filter(|s| s["503"].as_u64() > Some(0))
        .map(|s| s["bin"].as_f64().unwrap() / 10.0)
        .collect();
    let (first, last) = (failing[0], failing[failing.len() - 1]);
    assert!(
        (first - start).abs() <= 0.15 && last <= end && last >= end - 0.3,
        "503s in bins {first}..{last}, window {start}..{end}"
    );
    let latency = probe["latency_series"].as_array().unwrap();
    let timed: u64 = latency.iter().map(|s| s["count"].as_u64().unwrap()).sum();
    assert_eq!(timed, probe["requests"].as_u64().unwrap(), "{latency:?}");
    assert_eq!(probe["slo"]["passed"], Value::Bool(false));

    // The page tells the same: the breach, the window with its times and
    // codes, and charts that draw in a real browser.
    let dom = check_in_browser(&page, "probe", 2);
    assert!(dom.contains("SLO breached"), "{dom}");
    assert!(
        dom.contains(&format!("<td>{start:.3}</td><td>{end:.3}</td>")),
        "{dom}"
    );
    assert!(dom.contains(&format!("503 ×{failed}")), "{dom}");
    // `scar loadgen report` makes the same page from the JSON.
    let again = dir.path().join("again.html");
    let report = scar(&[
        "loadgen",
        "report",
        out.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
    ]);
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    assert_eq!(
        std::fs::read_to_string(&again).unwrap(),
        std::fs::read_to_string(&page).unwrap()
    );
}

#[test]
fn a_closed_port_is_connection_refused_and_an_allowance_can_pass_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let output = probe(&[&url, "--rate", "20", "--duration", "500ms"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stdout(&output).contains("10 × connection refused"),
        "{}",
        stdout(&output)
    );
    let allowed = probe(&[
        &url,
        "--rate",
        "20",
        "--duration",
        "500ms",
        "--max-error-ratio",
        "1",
        "--max-errors",
        "10",
    ]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stdout(&allowed));
}

#[test]
fn usage_errors_exit_2_and_say_what_is_wrong() {
    let cases: [(&[&str], &str); 5] = [
        (&["ftp://example.com/"], "give an http:// or https:// URL"),
        (&["http://127.0.0.1:1/", "--rate", "0"], "--rate 0"),
        (
            &["http://127.0.0.1:1/", "-H", "no colon"],
            "expected `Name: value`",
        ),
        (
            &["http://127.0.0.1:1/", "--duration", "soon"],
            "--duration soon",
        ),
        (
            &["http://127.0.0.1:1/", "--max-error-ratio", "2"],
            "a ratio between 0 and 1",
        ),
    ];
    for (args, message) in cases {
        let output = probe(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn a_probe_ends_at_its_duration_and_counts_what_it_could_not_send_as_dropped() {
    // Two connections to a service that takes 100 ms a request: about 20
    // of the 100 due in the second are sent.
    let service = Service::start(|| {
        std::thread::sleep(Duration::from_millis(100));
        false
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("probe.json");
    let url = format!("http://127.0.0.1:{}/", service.port);
    let started = Instant::now();
    let output = probe(&[
        &url,
        "--rate",
        "100",
        "--connections",
        "2",
        "--duration",
        "1s",
        "--out",
        out.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    let text = stdout(&output);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let probe = &report["probe"];
    let (sent, dropped) = (
        probe["requests"].as_u64().unwrap(),
        probe["dropped"].as_u64().unwrap(),
    );
    assert_eq!(sent + dropped, 100, "{text}");
    assert!(dropped >= 50, "{dropped} dropped: {text}");
    assert!(
        text.contains(&format!("{dropped} requests dropped: due before the end")),
        "{text}"
    );
    assert!(took < Duration::from_secs(5), "the probe took {took:?}");
}
