//! `cargo bench -p scar --bench replay [-- MEGABYTES...]`
//!
//! `scar loadgen replay` streams its audit log: memory must not grow with
//! the log's size. Writes generated audit logs of 100 MB and 1,000 MB (or
//! the sizes given; one event in twenty a write, the rest reads as a real
//! log holds), replays each against the API server double at a speed that
//! sends every write as fast as the double takes them, and prints wall time
//! and the release binary's peak resident memory side by side.

mod common;

use std::fmt::Write as _;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::process::Command;

use scar_loadgen::fake_apiserver::{Behaviour, FakeApiServer};

const MB: u64 = 1024 * 1024;

fn main() {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100, 1000]
    } else {
        sizes
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let fake = runtime
        .block_on(FakeApiServer::start(Behaviour::default(), dir.path()))
        .expect("the double starts");
    println!("log MB   events      writes    wall       peak RSS");
    let mut peaks = Vec::new();
    for (run, megabytes) in sizes.iter().enumerate() {
        let log = dir.path().join(format!("audit-{megabytes}.log"));
        let (events, writes) = write_log(&log, megabytes * MB);
        let mut command = Command::new(env!("CARGO_BIN_EXE_scar"));
        command
            .args(["loadgen", "replay"])
            .arg(&log)
            .args(["--speed", "100000", "--run-id", &format!("bench{run}")])
            .arg("--kubeconfig")
            .arg(&fake.kubeconfig);
        let (wall, peak_kib, code) = common::run_measured(&mut command);
        assert_eq!(code, 0, "the replay of {megabytes} MB failed");
        println!(
            "{megabytes:>6}   {events:>9}   {writes:>8}   {:>7.1} s   {:>7.1} MB",
            wall.as_secs_f64(),
            peak_kib as f64 / 1024.0
        );
        peaks.push(peak_kib);
        std::fs::remove_file(&log).expect("the log was written");
    }
    if let (Some(first), Some(last)) = (peaks.first(), peaks.last()) {
        println!(
            "peak RSS, largest log / smallest: {:.2}x for {:.0}x the bytes",
            *last as f64 / *first as f64,
            *sizes.last().unwrap() as f64 / sizes[0] as f64
        );
    }
}

/// An audit log of about `bytes`: requests 1 ms apart, each ConfigMap
/// created then deleted, nineteen reads for every write. Returns the number
/// of events and of writes.
fn write_log(path: &Path, bytes: u64) -> (u64, u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).expect("the log is written"));
    let (mut written, mut events, mut writes) = (0, 0, 0);
    let mut line = String::new();
    while written < bytes {
        let object = events / 40;
        let verb = match events % 20 {
            0 if (events / 20) % 2 == 0 => "create",
            0 => "delete",
            _ => "get",
        };
        let at = 1_795_000_000_000_000 + events as i64 * 1_000;
        let stamp = |us: i64| {
            jiff::Timestamp::from_microsecond(us)
                .expect("a valid time")
                .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
        };
        line.clear();
        let _ = write!(
            line,
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"{events}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/configmaps/cm-{object}","verb":"{verb}","user":{{"username":"system:serviceaccount:shop:deployer","groups":["system:serviceaccounts"]}},"sourceIPs":["10.0.0.7"],"userAgent":"kubectl/v1.31.0","objectRef":{{"resource":"configmaps","namespace":"shop","name":"cm-{object}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestObject":{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"cm-{object}","namespace":"shop"}},"data":{{"k":"v"}}}},"requestReceivedTimestamp":"{}","stageTimestamp":"{}"}}"#,
            stamp(at),
            stamp(at + 700)
        );
        line.push('\n');
        out.write_all(line.as_bytes()).expect("the log is written");
        written += line.len() as u64;
        events += 1;
        writes += u64::from(verb != "get");
    }
    out.flush().expect("the log is written");
    (events, writes)
}
