//! The probe across a rollout, with real components on 127.0.0.1 and no
//! cluster: a real nginx is the ingress in front of backend processes, and
//! the test plays the control plane the way incidents 4 and 6 describe. It
//! starts the new backend, sends SIGTERM to the old one, and only after a
//! propagation delay rewrites nginx's upstream and reloads it, as an
//! ingress learns of endpoint changes late.
//!
//! A backend that exits at once on SIGTERM leaves nginx sending to a closed
//! port until the reload: the probe must report 502s inside the rollout.
//! One that keeps serving for a preStop delay longer than the propagation
//! delay must cost no request.
//!
//! No test harness: the same binary, started with `SCAR_TEST_BACKEND`, is
//! the backend process.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use scar_loadgen::probe::{self, ProbeResult, ProbeSlo, ProbeSpec};

const BACKEND_ENV: &str = "SCAR_TEST_BACKEND";
/// How long nginx keeps sending to the old backend after its SIGTERM.
const PROPAGATION: Duration = Duration::from_millis(600);
const PROBE_FOR: Duration = Duration::from_millis(3000);
const ROLLOUT_AT: Duration = Duration::from_millis(1000);

fn main() {
    if let Ok(drain) = std::env::var(BACKEND_ENV) {
        let drain_ms = drain.parse().expect("the drain delay in ms");
        return serve(Duration::from_millis(drain_ms));
    }
    let nginx = nginx_binary();

    let abrupt = rollout(&nginx, Duration::ZERO, false);
    let outcomes = &abrupt.probe.record.outcomes;
    assert!(
        outcomes.bad_gateway > 0,
        "a backend that exits at once on SIGTERM must cost 502s: {outcomes:?}"
    );
    assert!(outcomes.success > 0, "{outcomes:?}");
    // A request in flight when the backend exits fails too, so a window may
    // start a moment before the SIGTERM.
    let in_flight = Duration::from_millis(50);
    for window in &abrupt.probe.record.windows {
        assert!(
            window.start + in_flight >= abrupt.sigterm
                && window.end <= abrupt.reloaded + Duration::from_millis(500),
            "an error window {:?}..{:?} outside the rollout {:?}..{:?}",
            window.start,
            window.end,
            abrupt.sigterm,
            abrupt.reloaded
        );
    }
    let breaches = probe::report::evaluate(&abrupt.probe, &ProbeSlo::default());
    assert_eq!(breaches.len(), 1, "the default gate allows no error");
    let summary = probe::report::summary(&abrupt.probe, &|at| {
        (at + in_flight >= abrupt.sigterm).then(|| "rollout of demo".to_string())
    });
    assert!(summary.contains("during rollout of demo"), "{summary}");
    assert!(summary.contains("× 502"), "{summary}");
    println!("exits at once on SIGTERM:\n{summary}");

    // The rollout's page, kept as a screenshot: the 502 window shaded on
    // tenth-of-a-second bins, and listed with its times and codes.
    let report =
        serde_json::json!({"version": 1, "probe": probe::report::json(&abrupt.probe, &breaches)});
    let pages = tempfile::tempdir().unwrap();
    let page = pages.path().join("rollout.html");
    std::fs::write(&page, scar_loadgen::html::page_of(&report).unwrap()).unwrap();
    let dom = common::browser::check_in_browser(&page, "rollout-502", 3);
    assert!(
        dom.contains("Error windows") && dom.contains("502 ×"),
        "the page lists the 502 window: {dom}"
    );

    for http2 in [false, true] {
        let graceful = rollout(&nginx, PROPAGATION * 2, http2);
        let outcomes = &graceful.probe.record.outcomes;
        assert_eq!(
            (outcomes.errors(), graceful.probe.record.windows.len()),
            (0, 0),
            "a preStop delay longer than the propagation delay costs nothing (HTTP/2: {http2}): {outcomes:?} {:?}",
            graceful.probe.record.first_error
        );
        assert!(outcomes.success as f64 >= 0.9 * PROBE_FOR.as_secs_f64() * RATE);
        assert!(probe::report::evaluate(&graceful.probe, &ProbeSlo::default()).is_empty());
    }
    println!("rollout_probe: both rollouts behaved as their backends predict");
}

const RATE: f64 = 200.0;

struct Rollout {
    probe: ProbeResult,
    sigterm: Duration,
    reloaded: Duration,
}

/// Runs the probe through nginx (over HTTP/2 with prior knowledge when
/// `http2`) while the old backend, draining for `drain` after SIGTERM, is
/// replaced by a new one.
fn rollout(nginx: &Path, drain: Duration, http2: bool) -> Rollout {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut old, old_port) = start_backend(drain);
    let ingress = Ingress::start(nginx, dir.path(), old_port);
    let spec = ProbeSpec {
        url: format!(
            "http://127.0.0.1:{}/",
            if http2 { ingress.h2_port } else { ingress.port }
        )
        .parse()
        .unwrap(),
        method: http::Method::GET,
        headers: Vec::new(),
        body: Default::default(),
        rate: RATE,
        connections: 20,
        timeout: Duration::from_secs(2),
        http2,
        duration: Some(PROBE_FOR),
        slo: ProbeSlo::default(),
    };
    let run_start = Instant::now();
    let (_never, stop) = tokio::sync::watch::channel(false);
    let probe = runtime.spawn({
        let spec = spec.clone();
        async move {
            let ready = probe::Probe::new(spec).expect("the probe's client");
            probe::run(ready, run_start, SystemTime::now(), stop).await
        }
    });

    std::thread::sleep(ROLLOUT_AT);
    let (mut new, new_port) = start_backend(drain);
    let sigterm = run_start.elapsed();
    // SAFETY: kill with a pid of a child this test started and still owns.
    unsafe { libc::kill(old.id() as i32, libc::SIGTERM) };
    std::thread::sleep(PROPAGATION);
    ingress.switch_to(new_port);
    let reloaded = run_start.elapsed();

    let probe = runtime.block_on(probe).unwrap();
    let _ = old.wait();
    let _ = new.kill();
    let _ = new.wait();
    drop(ingress);
    Rollout {
        probe,
        sigterm,
        reloaded,
    }
}

fn nginx_binary() -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file());
    found.expect("nginx is not installed: `bash .ci/run` installs Debian's package")
}

/// A backend process: prints its port, answers every request with 200, and
/// on SIGTERM keeps serving for `drain`, then exits.
fn start_backend(drain: Duration) -> (Child, u16) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(BACKEND_ENV, drain.as_millis().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the backend prints its port");
    (child, port)
}

fn serve(drain: Duration) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sigterm =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            sigterm.recv().await;
            tokio::time::sleep(drain).await;
            std::process::exit(0);
        });
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
}

/// nginx as the ingress: one upstream, the backend's port; HTTP/1.1 on
/// `port`, HTTP/2 with prior knowledge on `h2_port`.
struct Ingress {
    nginx: PathBuf,
    dir: PathBuf,
    port: u16,
    h2_port: u16,
    process: Child,
}

impl Ingress {
    /// Starts nginx on two ports free a moment ago, and on others when
    /// nginx exits because one was taken before its bind: whatever answers
    /// on a taken port is not this ingress.
    fn start(nginx: &Path, dir: &Path, backend: u16) -> Ingress {
        for _ in 0..5 {
            let [port, h2_port] = distinct_free_ports();
            write_config(dir, port, h2_port, backend);
            let mut process = Command::new(nginx)
                .args(nginx_args(dir))
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // nginx writes its pid file once every listener is bound; one
            // that finds a port taken retries, then exits.
            let pid_file = dir.join("nginx.pid");
            let ready = Instant::now() + Duration::from_secs(10);
            let listening = loop {
                if process.try_wait().unwrap().is_some() {
                    break false;
                }
                let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
                if pid.trim() == process.id().to_string() {
                    break true;
                }
                assert!(Instant::now() < ready, "nginx did not listen on {port}");
                std::thread::sleep(Duration::from_millis(20));
            };
            if listening {
                return Ingress {
                    nginx: nginx.to_path_buf(),
                    dir: dir.to_path_buf(),
                    port,
                    h2_port,
                    process,
                };
            }
        }
        panic!(
            "nginx exited five times on ports free a moment before; see {}/error.log",
            dir.display()
        )
    }

    /// Points the upstream at `backend` and reloads, as an ingress
    /// controller does once it learns the endpoints changed.
    fn switch_to(&self, backend: u16) {
        write_config(&self.dir, self.port, self.h2_port, backend);
        let status = Command::new(&self.nginx)
            .args(nginx_args(&self.dir))
            .args(["-s", "reload"])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "nginx -s reload failed");
    }
}

impl Drop for Ingress {
    fn drop(&mut self) {
        // SAFETY: the pid of the nginx master this test started and owns.
        unsafe { libc::kill(self.process.id() as i32, libc::SIGQUIT) };
        let _ = self.process.wait();
    }
}

/// Everything under `dir`, the startup error log too: nginx opens its
/// compiled-in log before it reads the configuration, which a user other
/// than root may not write.
fn nginx_args(dir: &Path) -> [String; 6] {
    let dir = dir.display().to_string();
    let log = format!("{dir}/error.log");
    [
        "-p".to_string(),
        dir,
        "-e".to_string(),
        log,
        "-c".to_string(),
        "nginx.conf".to_string(),
    ]
}

/// Two ports free a moment ago. Both listeners are held until both are
/// chosen: a port freed and chosen again would give nginx one address with
/// the HTTP/2 listener's options, and HTTP/1.1 clients would get HTTP/2
/// frames.
fn distinct_free_ports() -> [u16; 2] {
    let listeners = [(); 2].map(|()| TcpListener::bind("127.0.0.1:0").unwrap());
    listeners.map(|listener| listener.local_addr().unwrap().port())
}

/// Runs in the foreground with everything under `dir`. Connections from
/// the probe are not kept alive: ingress-nginx changes endpoints without a
/// reload (its Lua balancer), and the reload that stands in for that here
/// would otherwise close kept-alive connections under requests in flight,
/// a failure of this double, not of the rollout.
fn write_config(dir: &Path, port: u16, h2_port: u16, backend: u16) {
    let d = dir.display();
    let config = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         upstream backend {{ server 127.0.0.1:{backend} max_fails=0; }}\n\
         server {{\n    listen 127.0.0.1:{port};\n    keepalive_timeout 0;\n    location / {{ proxy_pass http://backend; proxy_next_upstream off; }}\n  }}\n\
         server {{\n    listen 127.0.0.1:{h2_port} http2;\n    location / {{ proxy_pass http://backend; proxy_next_upstream off; }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
}
