//! `scar loadgen run`, `probe`, `replay` and `cleanup`, as the binary calls them:
//! everything but argument parsing and exit codes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::Api;
use crate::probe::{self, ProbeSlo, ProbeSpec};
use crate::replay::{self, audit, ReplaySpec};
use crate::runner::{self, RunError, RunOptions};
use crate::{report, scenario, slo};

#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    pub scenario: PathBuf,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub out: Option<PathBuf>,
    /// The HTML report (`scar loadgen report`'s page) to write.
    pub html: Option<PathBuf>,
    pub hdr_out: Option<PathBuf>,
    pub client_go: bool,
    /// `--set name=value` overrides of the scenario's vars.
    pub vars: BTreeMap<String, String>,
    pub run_id: Option<String>,
    pub progress: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every SLO held.
    Passed,
    /// An SLO was breached; the summary says which.
    Breached,
    /// A usage or scenario error.
    Usage(String),
    /// The run could not start: the API server is unreachable, say.
    CannotStart(String),
    /// Stopped by Ctrl-C or SIGTERM, after cleaning up.
    Interrupted,
    /// What the run created could not all be deleted; the message names
    /// what is left.
    CleanupFailed(String),
}

/// A run id that is a valid label value and namespace suffix.
pub fn new_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 40);
    format!("{:010x}", mixed & 0xff_ffff_ffff)
}

pub async fn run(args: RunArgs, stop: Arc<AtomicBool>) -> Exit {
    let scenario = match scenario::load(&args.scenario, &args.vars) {
        Ok(scenario) => scenario,
        Err(e) => return Exit::Usage(e.to_string()),
    };
    let api = match Api::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await {
        Ok(api) => api,
        Err(e) => {
            return Exit::CannotStart(format!(
                "cannot load the Kubernetes client configuration: {e}"
            ))
        }
    };
    let options = RunOptions {
        run_id: args.run_id.clone().unwrap_or_else(new_run_id),
        client_go: args.client_go,
        progress: args.progress,
        stop,
    };
    let result = match runner::run(&api, &scenario, &options).await {
        Ok(result) => result,
        Err(RunError::Start(message)) => return Exit::CannotStart(message),
    };
    let mut breaches = slo::evaluate(&result.phases, &scenario.slo);
    if let (Some(probed), Some(probe)) = (&result.probe, &scenario.probe) {
        breaches.extend(probe::report::evaluate(probed, &probe.spec.slo));
    }
    print!("{}", report::summary(&result, &scenario, &breaches));
    if args.out.is_some() || args.html.is_some() {
        let json = report::json(&result, &scenario, &breaches);
        if let Err(exit) = write_report(&json, args.out.as_deref(), args.html.as_deref()) {
            return exit;
        }
    }
    if let Some(dir) = &args.hdr_out {
        if let Err(e) = report::write_hdr_logs(dir, &result) {
            return Exit::Usage(format!("cannot write histograms to {}: {e}", dir.display()));
        }
    }
    if let Err(e) = &result.cleanup {
        Exit::CleanupFailed(format!(
            "{e}; left on {}: namespace {} (scar loadgen cleanup --run-id {})",
            result.server, result.namespace, result.run_id
        ))
    } else if result.interrupted {
        Exit::Interrupted
    } else if breaches.is_empty() {
        Exit::Passed
    } else {
        Exit::Breached
    }
}

/// Writes a command's JSON report to `out` and its page to `html`.
fn write_report(
    json: &serde_json::Value,
    out: Option<&Path>,
    html: Option<&Path>,
) -> Result<(), Exit> {
    let write = |path: &Path, text: String| {
        std::fs::write(path, text)
            .map_err(|e| Exit::Usage(format!("cannot write {}: {e}", path.display())))
    };
    if let Some(path) = out {
        write(
            path,
            serde_json::to_string_pretty(json).expect("a JSON value serialises") + "\n",
        )?;
    }
    if let Some(path) = html {
        write(
            path,
            crate::html::page_of(json).expect("a command's own report is version 1"),
        )?;
    }
    Ok(())
}

/// `scar loadgen report RUN.json [AFTER.json] -o PAGE.html`: one run's page,
/// or two runs compared.
pub fn report(reports: &[PathBuf], output: &Path) -> Exit {
    let mut read = Vec::new();
    for path in reports {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => return Exit::Usage(format!("cannot read {}: {e}", path.display())),
        };
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(json) => read.push(json),
            Err(e) => {
                return Exit::Usage(format!(
                    "{}:{}:{}: not JSON: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                ))
            }
        }
    }
    let page = match read.as_slice() {
        [one] => crate::html::page_of(one),
        [a, b] => crate::html::comparison(a, b),
        _ => return Exit::Usage("give one report, or two to compare".to_string()),
    };
    let page = match page {
        Ok(page) => page,
        Err(e) => {
            let names: Vec<String> = reports.iter().map(|p| p.display().to_string()).collect();
            return Exit::Usage(format!("{}: {e}", names.join(", ")));
        }
    };
    match std::fs::write(output, page) {
        Ok(()) => {
            println!("wrote {}", output.display());
            Exit::Passed
        }
        Err(e) => Exit::Usage(format!("cannot write {}: {e}", output.display())),
    }
}

#[derive(Debug, Clone, Default)]
pub struct CleanupArgs {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub run_id: Option<String>,
    /// Say what would be deleted, and delete nothing.
    pub dry_run: bool,
}

/// Deletes the namespaces earlier runs left, each only after reading it and
/// finding it is a run's (`runner::ownership`); says first what it will
/// delete, and what it leaves alone and why.
pub async fn cleanup(args: CleanupArgs) -> Exit {
    let api = match Api::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await {
        Ok(api) => api,
        Err(e) => {
            return Exit::CannotStart(format!(
                "cannot load the Kubernetes client configuration: {e}"
            ))
        }
    };
    let found = match runner::leftovers(&api, args.run_id.as_deref()).await {
        Ok(found) => found,
        Err(e) => return Exit::CannotStart(e),
    };
    for why in &found.refused {
        println!("{why}");
    }
    if found.ours.is_empty() {
        println!("nothing to clean up on {}", api.server);
        return Exit::Passed;
    }
    let names: Vec<&str> = found.ours.iter().map(|(name, _)| name.as_str()).collect();
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleting"
    };
    println!(
        "{verb} {} namespace{} on {}: {}",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        api.server,
        names.join(", ")
    );
    if args.dry_run {
        return Exit::Passed;
    }
    let mut left = Vec::new();
    let mut log = runner::RequestLog::default();
    for (name, run_id) in &found.ours {
        match runner::delete_namespace(&api, name, run_id, false, &mut log).await {
            Ok(()) => println!("deleted namespace {name}"),
            Err(e) => {
                println!("{e}");
                left.push(name.as_str());
            }
        }
    }
    let outcomes: Vec<String> = log
        .outcomes
        .iter()
        .map(|(outcome, n)| format!("{outcome} x{n}"))
        .collect();
    println!(
        "sent {} requests ({} deletions): {}",
        log.requests(),
        log.attempts,
        outcomes.join(", ")
    );
    if left.is_empty() {
        Exit::Passed
    } else {
        Exit::CleanupFailed(format!(
            "left on {}: namespace{} {}",
            api.server,
            if left.len() == 1 { "" } else { "s" },
            left.join(", ")
        ))
    }
}

#[derive(Debug, Clone, Default)]
pub struct ProbeArgs {
    pub url: String,
    pub rate: Option<f64>,
    pub duration: Option<String>,
    pub method: Option<String>,
    /// `Name: value` each.
    pub headers: Vec<String>,
    pub body: Option<String>,
    pub timeout: Option<String>,
    pub connections: Option<u32>,
    pub http2: bool,
    pub max_errors: Option<u64>,
    pub max_error_ratio: Option<f64>,
    pub out: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

impl ProbeArgs {
    /// The spec the arguments describe, or what is wrong with them.
    pub fn spec(&self) -> Result<ProbeSpec, String> {
        let url: http::Uri = self
            .url
            .parse()
            .map_err(|e| format!("{}: not a URL: {e}", self.url))?;
        if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
            return Err(format!("{}: give an http:// or https:// URL", self.url));
        }
        let method = match &self.method {
            Some(m) => http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("--method {m}: not an HTTP method"))?,
            None => http::Method::GET,
        };
        let mut headers = Vec::new();
        for header in &self.headers {
            let parsed = header.split_once(':').and_then(|(name, value)| {
                Some((
                    http::header::HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
                    http::header::HeaderValue::from_str(value.trim()).ok()?,
                ))
            });
            headers
                .push(parsed.ok_or_else(|| format!("--header {header}: expected `Name: value`"))?);
        }
        let rate = self.rate.unwrap_or(probe::DEFAULT_RATE);
        if !(rate.is_finite() && rate > 0.0) {
            return Err(format!("--rate {rate}: must be above 0 requests/s"));
        }
        let duration = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| {
                    scenario::parse_duration(t)
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| format!("{flag} {t}: a duration such as 500ms, 10s or 2m"))
                })
                .transpose()
        };
        let connections = self.connections.unwrap_or(probe::DEFAULT_CONNECTIONS);
        if connections == 0 {
            return Err(
                "--connections 0: at least one request must be able to be in flight".to_string(),
            );
        }
        if let Some(ratio) = self.max_error_ratio.filter(|r| !(0.0..=1.0).contains(r)) {
            return Err(format!(
                "--max-error-ratio {ratio}: a ratio between 0 and 1"
            ));
        }
        Ok(ProbeSpec {
            url,
            method,
            headers,
            body: self.body.clone().unwrap_or_default().into(),
            rate,
            connections,
            timeout: duration("--timeout", &self.timeout)?.unwrap_or(probe::DEFAULT_TIMEOUT),
            http2: self.http2,
            duration: duration("--duration", &self.duration)?,
            slo: ProbeSlo {
                max_errors: self.max_errors.unwrap_or(0),
                max_error_ratio: self.max_error_ratio,
            },
        })
    }
}

/// Probes a URL until `--duration` is over or Ctrl-C; the run is judged
/// either way (Ctrl-C is how a probe without a duration ends).
pub async fn probe(args: ProbeArgs, stop: Arc<AtomicBool>) -> Exit {
    let spec = match args.spec() {
        Ok(spec) => spec,
        Err(message) => return Exit::Usage(message),
    };
    let (stopped, watcher) = watch_stop(stop);
    let ready = match probe::Probe::new(spec.clone()) {
        Ok(ready) => ready,
        Err(message) => return Exit::CannotStart(message),
    };
    let result = probe::run(ready, std::time::Instant::now(), SystemTime::now(), stopped).await;
    watcher.abort();
    let breaches = probe::report::evaluate(&result, &spec.slo);
    print!("{}", probe::report::summary(&result, &|_| None));
    print!("{}", report::verdict(&breaches));
    if args.out.is_some() || args.html.is_some() {
        let json =
            serde_json::json!({"version": 1, "probe": probe::report::json(&result, &breaches)});
        if let Err(exit) = write_report(&json, args.out.as_deref(), args.html.as_deref()) {
            return exit;
        }
    }
    if breaches.is_empty() {
        Exit::Passed
    } else {
        Exit::Breached
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReplayArgs {
    pub log: PathBuf,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// RFC 3339 times.
    pub from: Option<String>,
    pub to: Option<String>,
    pub speed: Option<f64>,
    /// Include and exclude patterns, each value a comma-separated list.
    pub verbs: Vec<String>,
    pub exclude_verbs: Vec<String>,
    pub users: Vec<String>,
    pub exclude_users: Vec<String>,
    pub namespaces: Vec<String>,
    pub exclude_namespaces: Vec<String>,
    pub resources: Vec<String>,
    pub exclude_resources: Vec<String>,
    pub keep_leases: bool,
    /// `old=new` each.
    pub namespace_map: Vec<String>,
    pub connections: Option<usize>,
    pub run_id: Option<String>,
    pub out: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

impl ReplayArgs {
    fn spec(&self) -> Result<ReplaySpec, String> {
        let time = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| {
                    audit::micros(t).ok_or_else(|| {
                        format!("{flag} {t}: an RFC 3339 time such as 2026-11-27T10:00:00Z")
                    })
                })
                .transpose()
        };
        let speed = self.speed.unwrap_or(1.0);
        if !(speed.is_finite() && speed > 0.0) {
            return Err(format!("--speed {speed}: must be above 0"));
        }
        let patterns = |include: &[String], exclude: &[String]| {
            let split = |values: &[String]| {
                values
                    .iter()
                    .flat_map(|v| v.split(','))
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .collect()
            };
            audit::Patterns {
                include: split(include),
                exclude: split(exclude),
            }
        };
        let verbs = patterns(&self.verbs, &self.exclude_verbs);
        for (flag, given) in [
            ("--verb", &verbs.include),
            ("--exclude-verb", &verbs.exclude),
        ] {
            if let Some(unknown) = given
                .iter()
                .find(|v| !audit::WRITE_VERBS.iter().any(|w| audit::glob(v, w)))
            {
                return Err(format!(
                    "{flag} {unknown}: matches none of the writes a replay sends ({})",
                    audit::WRITE_VERBS.join(", ")
                ));
            }
        }
        let filter = audit::Filter {
            from_us: time("--from", &self.from)?,
            to_us: time("--to", &self.to)?,
            verbs,
            users: patterns(&self.users, &self.exclude_users),
            namespaces: patterns(&self.namespaces, &self.exclude_namespaces),
            resources: patterns(&self.resources, &self.exclude_resources),
            keep_leases: self.keep_leases,
        };
        let mut namespace_map = BTreeMap::new();
        for pair in &self.namespace_map {
            let Some((old, new)) = pair.split_once('=') else {
                return Err(format!("--namespace-map {pair}: expected OLD=NEW"));
            };
            namespace_map.insert(old.trim().to_string(), new.trim().to_string());
        }
        Ok(ReplaySpec {
            log: self.log.clone(),
            filter,
            speed,
            namespace_map,
            connections: self
                .connections
                .unwrap_or(replay::DEFAULT_CONNECTIONS)
                .max(1),
            run_id: self.run_id.clone().unwrap_or_else(new_run_id),
        })
    }
}

/// Replays the writes of an audit log; exits 0 when the replay ran to its
/// end, whatever the cluster answered (the report is the answer).
pub async fn replay(args: ReplayArgs, stop: Arc<AtomicBool>) -> Exit {
    let spec = match args.spec() {
        Ok(spec) => spec,
        Err(message) => return Exit::Usage(message),
    };
    let api = match Api::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await {
        Ok(api) => api,
        Err(e) => {
            return Exit::CannotStart(format!(
                "cannot load the Kubernetes client configuration: {e}"
            ))
        }
    };
    let (stopped, watcher) = watch_stop(stop);
    let result = replay::run(&api, &spec, stopped).await;
    watcher.abort();
    let result = match result {
        Ok(result) => result,
        Err(message) => return Exit::CannotStart(message),
    };
    print!("{}", replay::report::summary(&result));
    if args.out.is_some() || args.html.is_some() {
        let json = replay::report::json(&result);
        if let Err(exit) = write_report(&json, args.out.as_deref(), args.html.as_deref()) {
            return exit;
        }
    }
    if let Err(e) = &result.cleanup {
        Exit::CleanupFailed(format!(
            "{e} (scar loadgen cleanup --run-id {})",
            result.run_id
        ))
    } else if result.interrupted {
        Exit::Interrupted
    } else {
        Exit::Passed
    }
}

/// A receiver that turns true once `stop` is set (Ctrl-C), and the task
/// that watches it, to abort when done.
fn watch_stop(
    stop: Arc<AtomicBool>,
) -> (
    tokio::sync::watch::Receiver<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (stop_sender, stopped) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(std::time::Duration::from_millis(50));
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            ticker.tick().await;
        }
        let _ = stop_sender.send(true);
    });
    (stopped, watcher)
}
