//! `cargo bench -p scar-loadgen --bench sender -- [throughput|bare|lateness|cpu|memory] [SECONDS] [ROUNDS]`
//!
//! Against a trivial HTTP/1.1 endpoint on 127.0.0.1 (every request answered
//! 200 `{}` at once), in one process:
//! - throughput: the sender with 50 connections at a rate they cannot reach
//!   (each sends as soon as its last answer came), then `oha -c 50` (if
//!   `OHA` or `oha` is on the PATH, closed as well) for the
//!   same time, alternating for ROUNDS rounds (5 by default); prints each
//!   round's ratio and their median.
//! - bare: 50 tasks each looping on a hyper HTTP/1.1 connection of its own
//!   with no accounting, then oha: the most a client can get here, what
//!   the sender's own bookkeeping is measured against.
//! - lateness: the open-model sender at 10,000 requests/s; prints p99 of how
//!   late sends were.
//! - cpu: the open-model sender at 1,000 requests/s; prints the cores its
//!   threads used (the endpoint's threads left out) and p99 lateness.
//! - memory: the sender at 2,000 requests/s; prints resident memory after
//!   the first minute and at the end (default 600 s).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use scar_loadgen::api::Api;
use scar_loadgen::runner::{self, RunOptions};
use scar_loadgen::scenario;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The endpoint's threads, whose CPU the cpu mode leaves out.
const SERVER_THREAD: &str = "bench-server";

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

/// Answers every request on a kept-alive connection with 200 `{}`.
async fn trivial_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buffer = Vec::with_capacity(4096);
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    // Answer each complete request (headers, then any body).
                    while let Some(end) = find(&buffer, b"\r\n\r\n") {
                        let headers = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                        let length: usize = headers
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buffer.len() < end + 4 + length {
                            break;
                        }
                        buffer.drain(..end + 4 + length);
                        if stream.write_all(RESPONSE).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    address
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU seconds used by this process's live threads whose name `counts`.
fn cpu_seconds(counts: impl Fn(&str) -> bool) -> f64 {
    std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| used(&std::fs::read_to_string(task.path().join("stat")).ok()?))
        .filter(|(name, _)| counts(name))
        .map(|(_, seconds)| seconds)
        .sum()
}

/// CPU seconds used by this process, threads that ended included (the
/// sender's threads end with their phase).
fn process_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| used(&stat))
        .map_or(0.0, |(_, seconds)| seconds)
}

/// The name and the CPU seconds (user and system) of a `/proc` stat line.
fn used(stat: &str) -> Option<(String, f64)> {
    // Linux counts in USER_HZ, 100 a second on every architecture it runs.
    let ticks = 100.0;
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    // After the name: state, then fields 4 onwards; utime and stime are 14 and 15.
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Some((
        stat[open + 1..close].to_string(),
        (field(14) + field(15)) / ticks,
    ))
}

fn write_setup(
    dir: &Path,
    address: SocketAddr,
    phase: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"http://{address}\"}}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n"),
    )
    .expect("writable temp dir");
    std::fs::write(
        dir.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{{ index }}\n",
    )
    .expect("writable");
    let scenario = dir.join("bench.yaml");
    std::fs::write(&scenario, format!("name: bench\nnamespace: bench\ntemplates: {{cm: cm.yaml}}\nphases:\n- {phase}\nslo:\n  max_429_ratio: 1\n  max_error_ratio: 1\n")).expect("writable");
    (kubeconfig, scenario)
}

async fn run_sender(address: SocketAddr, phase: &str) -> (f64, u64, u64, Duration) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (kubeconfig, scenario_path) = write_setup(dir.path(), address, phase);
    let scenario = scenario::load(&scenario_path, &BTreeMap::new()).expect("a valid scenario");
    let api = Api::connect(Some(&kubeconfig), None)
        .await
        .expect("a client");
    let options = RunOptions {
        run_id: "bench".to_string(),
        client_go: false,
        progress: false,
        stop: Arc::new(AtomicBool::new(false)),
    };
    let started = Instant::now();
    let result = runner::run(&api, &scenario, &options)
        .await
        .expect("the run starts");
    let phase = &result.phases[0];
    let rate = phase.completed() as f64 / phase.elapsed().as_secs_f64();
    (
        rate,
        phase.late.value_at_quantile(0.99),
        phase.outcomes.success,
        started.elapsed(),
    )
}

/// Requests a second of `connections` tasks that each send on their own
/// connection as fast as it answers, counting nothing else.
async fn bare_client(address: SocketAddr, connections: u32, seconds: u64) -> f64 {
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let count = count.clone();
        tasks.spawn(async move {
            let stream = tokio::net::TcpStream::connect(address)
                .await
                .expect("the endpoint listens");
            stream.set_nodelay(true).expect("a TCP socket");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(
                    hyper_util::rt::TokioIo::new(stream),
                )
                .await
                .expect("an HTTP/1.1 connection");
            tokio::spawn(connection);
            while started.elapsed() < Duration::from_secs(seconds) {
                let request = http::Request::get("/api/v1/namespaces/bench/configmaps")
                    .header(http::header::HOST, address.to_string())
                    .body(Empty::new())
                    .expect("a valid request");
                let response = sender.send_request(request).await.expect("an answer");
                response.into_body().collect().await.expect("a body");
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    count.load(std::sync::atomic::Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn oha(address: SocketAddr, connections: u32, seconds: u64) -> Option<f64> {
    let program = std::env::var("OHA").unwrap_or_else(|_| "oha".to_string());
    let output = Command::new(program)
        .args([
            "-c",
            &connections.to_string(),
            "-z",
            &format!("{seconds}s"),
            "--no-tui",
            "--output-format",
            "json",
            &format!("http://{address}/api/v1/namespaces/bench/configmaps"),
        ])
        .output()
        .ok()?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    report["summary"]["requestsPerSec"].as_f64()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mode = args
        .first()
        .map_or("throughput", String::as_str)
        .to_string();
    let seconds: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(match mode.as_str() {
            "memory" => 600,
            _ => 10,
        });
    // Side by side with oha: rounds alternate the two, so that a spell of
    // the machine's other load falls on both.
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    // The endpoint gets a runtime of its own, so that its work does not
    // queue behind the sender's tasks (it still shares the two cores).
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .expect("a runtime");
    let address = server_runtime.block_on(trivial_server());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match mode.as_str() {
        "throughput" | "bare" => {
            let connections = 50;
            let phase = format!("{{verb: list, template: cm, rate: 100000, connections: {connections}, duration: {seconds}s}}");
            let mut ratios = Vec::new();
            for round in 1..=rounds {
                let ours = if mode == "bare" {
                    runtime.block_on(bare_client(address, connections, seconds))
                } else {
                    runtime.block_on(run_sender(address, &phase)).0
                };
                let Some(theirs) = oha(address, connections, seconds) else {
                    println!("{mode}: {ours:.0} requests/s; oha not found: install it with `cargo install oha` (or set OHA=path)");
                    return;
                };
                println!("round {round}: {mode} {ours:.0} requests/s, oha -c {connections} {theirs:.0} requests/s: {:.2}", ours / theirs);
                ratios.push(ours / theirs);
            }
            ratios.sort_by(f64::total_cmp);
            let who = if mode == "bare" {
                "bare hyper HTTP/1.1 (counting nothing)"
            } else {
                "scar loadgen"
            };
            println!(
                "ratio {who}/oha, {connections} connections, median of {rounds} rounds: {:.2} (from {:.2} to {:.2}){}",
                ratios[ratios.len() / 2],
                ratios[0],
                ratios[ratios.len() - 1],
                if mode == "bare" { "" } else { "; target: at least 1.0" }
            );
        }
        "lateness" => {
            let phase = format!(
                "{{verb: list, template: cm, rate: 10000, connections: 500, duration: {seconds}s}}"
            );
            let (rate, late_p99, _, _) = runtime.block_on(run_sender(address, &phase));
            println!("open model at 10,000 requests/s: achieved {rate:.0}/s, p99 send lateness {:.3} ms (target: under 1 ms)", late_p99 as f64 / 1000.0);
        }
        "cpu" => {
            let phase = format!(
                "{{verb: list, template: cm, rate: 1000, connections: 100, duration: {seconds}s}}"
            );
            let server = |name: &str| name == SERVER_THREAD;
            let pacer = |name: &str| name == "scar-pacer";
            let sender = || process_cpu_seconds() - cpu_seconds(server);
            let before = (sender(), cpu_seconds(pacer));
            let (rate, late_p99, _, wall) = runtime.block_on(run_sender(address, &phase));
            let seconds = wall.as_secs_f64();
            let cores = (sender() - before.0) / seconds;
            let pacing = (cpu_seconds(pacer) - before.1) / seconds;
            println!("open model at 1,000 requests/s: achieved {rate:.0}/s using {cores:.3} cores, {pacing:.3} of them pacing (target: under 0.3), p99 send lateness {:.3} ms", late_p99 as f64 / 1000.0);
        }
        "memory" => {
            // Samples each minute, to tell a leak (steady growth) from the
            // allocator settling at a high-water mark.
            let sampler = std::thread::spawn(move || {
                (1..=seconds / 60)
                    .map(|_| {
                        std::thread::sleep(Duration::from_secs(60));
                        rss_kib()
                    })
                    .collect::<Vec<u64>>()
            });
            let phase = format!(
                "{{verb: list, template: cm, rate: 2000, connections: 200, duration: {seconds}s}}"
            );
            let (rate, _, ok, wall) = runtime.block_on(run_sender(address, &phase));
            let at_end = rss_kib();
            let minutes = sampler.join().expect("the sampler runs");
            let after_one_minute = minutes.first().copied().unwrap_or(at_end);
            println!("RSS each minute (KiB): {minutes:?}");
            println!(
                "{ok} requests at {rate:.0}/s over {:.0}s: RSS {after_one_minute} KiB after 1 min, {at_end} KiB at the end (ratio {:.3}; target within 10%)",
                wall.as_secs_f64(),
                at_end as f64 / after_one_minute.max(1) as f64
            );
        }
        other => eprintln!("unknown mode {other}: throughput, bare, lateness, cpu or memory"),
    }
}
