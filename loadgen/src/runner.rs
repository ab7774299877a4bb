//! Runs a scenario's phases against an API server.
//!
//! Open-model phases send on schedule whether or not earlier requests have
//! returned (a request late on its schedule is counted as late, and its
//! latency counts from the schedule); closed-model phases keep a fixed
//! number of requests in flight. `--client-go` puts client-go's defaults in
//! between (QPS 5, burst 10, retries that honour `Retry-After`) to show what
//! a controller experiences.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::Method;
use serde_json::{json, Value as Json};
use tokio::task::JoinSet;

use crate::api::{describe_reply, Api, Outcome, Patch};
use crate::lane::Lane;
use crate::manifest::{object_name, substitute, substitute_json, RUN_ID_LABEL};
use crate::measure::{PhaseStats, Sample};
use crate::probe::ProbeResult;
use crate::scenario::{Load, Phase, Requests, Scenario, Stop, Verb, Work};
use crate::shared::{lock, RunContext};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub run_id: String,
    pub client_go: bool,
    /// Print a live progress line (on a terminal).
    pub progress: bool,
    /// Set to stop sending (Ctrl-C); the run then cleans up and returns.
    pub stop: Arc<AtomicBool>,
}

#[derive(Debug)]
pub struct RunResult {
    pub run_id: String,
    pub namespace: String,
    pub server: String,
    pub client_go: bool,
    pub phases: Vec<PhaseStats>,
    pub started_at: SystemTime,
    /// Offset zero of the run's timeline (phase and probe times).
    pub run_start: Instant,
    pub wall: Duration,
    pub interrupted: bool,
    /// Priority level and flow schema UIDs resolved to names, where the
    /// server let us list them.
    pub names: BTreeMap<String, String>,
    /// How deleting the run's namespace went.
    pub cleanup: Result<(), String>,
    pub cleanup_log: RequestLog,
    /// The namespace's creation.
    pub setup_log: RequestLog,
    /// What the scenario's probe saw, when it has one.
    pub probe: Option<ProbeResult>,
}

#[derive(Debug)]
pub enum RunError {
    /// The run could not start: the server is unreachable or refused the namespace.
    Start(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Start(message) => f.write_str(message),
        }
    }
}

/// client-go's default client-side limits and retry count.
/// client-go's default client-side limits and retry count.
const CLIENT_GO_QPS: f64 = 5.0;
const CLIENT_GO_BURST: f64 = 10.0;
const CLIENT_GO_MAX_RETRIES: u32 = 10;

/// What every request task shares with the run: what rollouts and the
/// probe share too, and what only the runner's phases need.
struct Shared {
    run: RunContext,
    scenario: Scenario,
    run_id: String,
    stop: Arc<AtomicBool>,
    /// Names of the objects created, per template.
    created: Mutex<BTreeMap<String, Vec<String>>>,
    limiter: Option<TokenBucket>,
}

pub async fn run(
    api: &Api,
    scenario: &Scenario,
    options: &RunOptions,
) -> Result<RunResult, RunError> {
    api.check_reachable().await.map_err(RunError::Start)?;
    let namespace = substitute(&scenario.namespace, &|name| match name {
        "run_id" => Some(options.run_id.clone()),
        other => scenario.vars.get(other).cloned(),
    });
    // The probe's client first: a probe that cannot start leaves no
    // namespace behind.
    let probe_client = scenario
        .probe
        .as_ref()
        .map(|probe| crate::probe::Probe::new(probe.spec.clone()))
        .transpose()
        .map_err(|e| RunError::Start(format!("the probe: {e}")))?;
    let mut setup_log = RequestLog::default();
    create_namespace(api, &namespace, &options.run_id, &mut setup_log)
        .await
        .map_err(RunError::Start)?;

    let started_at = SystemTime::now();
    let (stop_sender, stopped) = tokio::sync::watch::channel(false);
    let stop_flag = options.stop.clone();
    let stop_watcher = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(50));
        while !stop_flag.load(Ordering::Relaxed) {
            ticker.tick().await;
        }
        let _ = stop_sender.send(true);
    });
    let shared = Arc::new(Shared {
        run: RunContext {
            api: api.clone(),
            namespace: namespace.clone(),
            run_start: Instant::now(),
            stopped,
            stats: Mutex::new(
                scenario
                    .phases
                    .iter()
                    .map(|p| PhaseStats::new(&p.name, p.verb))
                    .collect(),
            ),
        },
        scenario: scenario.clone(),
        run_id: options.run_id.clone(),
        stop: options.stop.clone(),
        created: Mutex::new(BTreeMap::new()),
        limiter: options
            .client_go
            .then(|| TokenBucket::new(CLIENT_GO_QPS, CLIENT_GO_BURST)),
    });
    let progress = (options.progress && std::io::stderr().is_terminal())
        .then(|| tokio::spawn(print_progress(shared.clone())));

    // The probe runs beside the phases on the same timeline, alone for its
    // `before` and `after`, and stops early on Ctrl-C.
    let (probe_stop, probe_stopped) = tokio::sync::watch::channel(false);
    let probe = match probe_client {
        Some(ready) => {
            let (run_start, mut interrupted) = (shared.run.run_start, shared.run.stopped.clone());
            let (probe_stop, stopped) = (probe_stop.clone(), probe_stopped.clone());
            Some(tokio::spawn(async move {
                let forward = tokio::spawn(async move {
                    let _ = interrupted.wait_for(|stopped| *stopped).await;
                    let _ = probe_stop.send(true);
                });
                let result = crate::probe::run(ready, run_start, started_at, stopped).await;
                forward.abort();
                result
            }))
        }
        None => None,
    };
    if let Some(probe) = &scenario.probe {
        pause(&shared, probe.before).await;
    }
    for index in 0..scenario.phases.len() {
        if options.stop.load(Ordering::Relaxed) {
            break;
        }
        run_phase(&shared, index).await;
    }
    if let Some(probe) = &scenario.probe {
        pause(&shared, probe.after).await;
    }
    let _ = probe_stop.send(true);
    let mut probe = match probe {
        Some(task) => task.await.ok(),
        None => None,
    };
    stop_watcher.abort();
    if let Some(progress) = progress {
        progress.abort();
        eprintln!();
    }
    let wall = shared.run.run_start.elapsed();
    let mut phases = lock(&shared.run.stats).clone();
    let width = crate::bins::width_for(wall);
    for phase in &mut phases {
        phase.widen(width);
    }
    if let Some(probe) = &mut probe {
        probe.record.widen(width);
    }
    let names = resolve_apf_names(api, &phases).await;
    let mut cleanup_log = RequestLog::default();
    let cleanup = delete_namespace(api, &namespace, &options.run_id, true, &mut cleanup_log).await;
    Ok(RunResult {
        run_id: options.run_id.clone(),
        namespace,
        server: api.server.clone(),
        client_go: options.client_go,
        phases,
        started_at,
        run_start: shared.run.run_start,
        wall,
        interrupted: options.stop.load(Ordering::Relaxed),
        names,
        cleanup,
        cleanup_log,
        setup_log,
        probe,
    })
}

/// Waits `length`, or until the run is stopped.
async fn pause(shared: &Shared, length: Duration) {
    let mut stopped = shared.run.stopped.clone();
    tokio::select! {
        () = tokio::time::sleep(length) => {}
        _ = stopped.wait_for(|stopped| *stopped) => {}
    }
}

/// Creates a namespace for the run, labelled with its id; one that exists
/// already is refused, so nothing of anyone else's is ever written or deleted.
pub(crate) async fn create_namespace(
    api: &Api,
    namespace: &str,
    run_id: &str,
    log: &mut RequestLog,
) -> Result<(), String> {
    let body = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {RUN_ID_LABEL: run_id}},
    });
    let reply = api
        .send(
            Method::POST,
            "/api/v1/namespaces",
            Some(&body),
            None,
            Duration::from_secs(30),
        )
        .await;
    log.record(reply.outcome);
    match reply.outcome {
        Outcome::Status(200..=299) => Ok(()),
        Outcome::Status(409) => Err(format!(
            "namespace {namespace} already exists on {}; scar loadgen writes into namespaces of its own (`scar loadgen cleanup` removes leftovers)",
            api.server
        )),
        other => Err(format!(
            "cannot create namespace {namespace} on {}: {}",
            api.server,
            describe_reply(other, &reply)
        )),
    }
}

/// How long cleanup keeps retrying a server that refuses it with 429 or
/// a 5xx: a run that overloaded its server must still leave nothing behind.
const CLEANUP_PATIENCE: Duration = Duration::from_secs(120);
/// The longest one wait between cleanup attempts, whatever Retry-After says.
const CLEANUP_MAX_WAIT: Duration = Duration::from_secs(10);

/// Whether the namespace `object` (read from the server just now) is one
/// scar may delete for run `run_id`: it carries `scar.dev/run-id: RUN_ID`
/// on itself, whatever a list's label selector answered (a proxy or an old
/// server may ignore it), and, unless this process created it, its name
/// holds the run id too, as every namespace scar names does. Returns the
/// object's uid, which the deletion is then conditioned on.
pub(crate) fn ownership(
    object: &Json,
    name: &str,
    run_id: &str,
    created_here: bool,
) -> Result<Option<String>, String> {
    let label = object
        .pointer("/metadata/labels")
        .and_then(|labels| labels.get(RUN_ID_LABEL))
        .and_then(Json::as_str);
    match label {
        Some(label) if label == run_id && !run_id.is_empty() => {}
        Some(label) => {
            return Err(format!(
                "namespace {name} is labelled {RUN_ID_LABEL}={label}, not {run_id}: left alone"
            ))
        }
        None => {
            return Err(format!(
                "namespace {name} has no {RUN_ID_LABEL} label: not scar's, left alone"
            ))
        }
    }
    if !created_here && !name.contains(run_id) {
        return Err(format!(
            "namespace {name} is labelled {RUN_ID_LABEL}={run_id} but its name does not hold the run id, as the names scar gives do: left alone"
        ));
    }
    Ok(object
        .pointer("/metadata/uid")
        .and_then(Json::as_str)
        .map(str::to_string))
}

/// Every request of a setup or a cleanup (the reads that check a namespace
/// is the run's, the deletions), by outcome (`200`, `429`, `connection
/// error`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestLog {
    /// Deletions sent, for a cleanup.
    pub attempts: u32,
    pub outcomes: BTreeMap<String, u32>,
}

impl RequestLog {
    pub(crate) fn record(&mut self, outcome: Outcome) {
        *self.outcomes.entry(outcome_label(outcome)).or_default() += 1;
    }

    pub fn requests(&self) -> u32 {
        self.outcomes.values().sum()
    }
}

/// An outcome as reports name it: `201`, `connection error`, `timeout`.
pub fn outcome_label(outcome: Outcome) -> String {
    match outcome {
        Outcome::Status(code) => code.to_string(),
        Outcome::ConnectionError => "connection error".to_string(),
        Outcome::Timeout => "timeout".to_string(),
    }
}

/// A setup as reports write it: `{"requests": 3, "outcomes": {"201": 3}}`.
pub fn setup_json(log: &RequestLog) -> Json {
    json!({"requests": log.requests(), "outcomes": log.outcomes})
}

/// A cleanup as reports write it: `{"ok": true, "attempts": 2, "requests":
/// 4, "outcomes": {"200": 3, "429": 1}}`, and `error` when it failed.
pub fn cleanup_json(result: &Result<(), String>, log: &RequestLog) -> Json {
    let mut cleanup = json!({
        "ok": result.is_ok(),
        "attempts": log.attempts,
        "requests": log.requests(),
        "outcomes": log.outcomes,
    });
    if let Err(e) = result {
        cleanup["error"] = json!(e);
    }
    cleanup
}

/// Deletes a namespace of run `run_id`, and with it everything the run
/// created, after reading it and checking it is the run's (`ownership`);
/// the deletion is conditioned on the uid read, so a namespace recreated
/// meanwhile is not deleted. A server that answers 429 (or 500, 503, 504,
/// or not at all) is asked again, after its `Retry-After` when it gives
/// one, for up to two minutes.
pub async fn delete_namespace(
    api: &Api,
    namespace: &str,
    run_id: &str,
    created_here: bool,
    log: &mut RequestLog,
) -> Result<(), String> {
    let path = format!("/api/v1/namespaces/{namespace}");
    let deadline = Instant::now() + CLEANUP_PATIENCE;
    let mut backoff = Duration::from_millis(250);
    loop {
        let read = api
            .send(Method::GET, &path, None, None, Duration::from_secs(30))
            .await;
        log.record(read.outcome);
        let reply = match read.outcome {
            Outcome::Status(404) => return Ok(()),
            Outcome::Status(200) => {
                let object = read.json().unwrap_or(Json::Null);
                let uid = ownership(&object, namespace, run_id, created_here)?;
                let options = uid.map(|uid| {
                    json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": uid}})
                });
                log.attempts += 1;
                let deleted = api
                    .send(
                        Method::DELETE,
                        &path,
                        options.as_ref(),
                        None,
                        Duration::from_secs(30),
                    )
                    .await;
                log.record(deleted.outcome);
                deleted
            }
            _ => read,
        };
        let retryable = matches!(
            reply.outcome,
            Outcome::Status(429 | 500 | 503 | 504) | Outcome::ConnectionError | Outcome::Timeout
        );
        match reply.outcome {
            Outcome::Status(200..=299) | Outcome::Status(404) => return Ok(()),
            other if !retryable || Instant::now() >= deadline => {
                return Err(format!(
                    "deleting namespace {namespace}: {}",
                    describe_reply(other, &reply)
                ))
            }
            _ => {
                let wait = reply
                    .retry_after
                    .map_or(backoff, Duration::from_secs)
                    .min(CLEANUP_MAX_WAIT);
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(CLEANUP_MAX_WAIT);
            }
        }
    }
}

/// What earlier runs left: the namespaces that are theirs, each with its
/// run id, and why the others a list returned are left alone.
pub struct Leftovers {
    pub ours: Vec<(String, String)>,
    pub refused: Vec<String>,
}

/// Finds what runs left behind: namespaces labelled with `run_id`, or with
/// any run id, each checked (`ownership`) on the object the list returned
/// (and again, read on its own, before it is deleted).
pub async fn leftovers(api: &Api, run_id: Option<&str>) -> Result<Leftovers, String> {
    api.check_reachable().await?;
    let selector = match run_id {
        Some(id) => format!("{RUN_ID_LABEL}%3D{id}"),
        None => RUN_ID_LABEL.to_string(),
    };
    let reply = api
        .send(
            Method::GET,
            &format!("/api/v1/namespaces?labelSelector={selector}"),
            None,
            None,
            Duration::from_secs(30),
        )
        .await;
    let Outcome::Status(200) = reply.outcome else {
        return Err(format!(
            "listing namespaces: {}",
            describe_reply(reply.outcome, &reply)
        ));
    };
    let items = reply
        .json()
        .and_then(|list| list["items"].as_array().cloned())
        .unwrap_or_default();
    let mut found = Leftovers {
        ours: Vec::new(),
        refused: Vec::new(),
    };
    for item in &items {
        let Some(name) = item.pointer("/metadata/name").and_then(Json::as_str) else {
            continue;
        };
        let label = item
            .pointer("/metadata/labels")
            .and_then(|labels| labels.get(RUN_ID_LABEL))
            .and_then(Json::as_str)
            .unwrap_or("");
        let wanted = run_id.unwrap_or(label);
        match ownership(item, name, wanted, false) {
            Ok(_) => found.ours.push((name.to_string(), wanted.to_string())),
            Err(why) => found.refused.push(why),
        }
    }
    Ok(found)
}

/// What to send for request number `index` of a phase.
struct Call {
    method: Method,
    path: String,
    body: Option<Json>,
    patch: Option<Patch>,
    /// The object a successful create made.
    creates: Option<String>,
}

impl Shared {
    fn call(
        &self,
        phase: &Phase,
        requests: &Requests,
        index: u64,
        objects: &[String],
    ) -> Result<Call, String> {
        let scenario = &self.scenario;
        let template = &scenario.templates[&requests.template];
        let namespace = &self.run.namespace;
        let object = |i: u64| objects[(i % objects.len() as u64) as usize].clone();
        let simple = |method: Method, path: String| Call {
            method,
            path,
            body: None,
            patch: None,
            creates: None,
        };
        Ok(match phase.verb {
            Verb::Create => {
                let body = template.render(index, &self.run_id, namespace, &scenario.vars)?;
                let name = object_name(&body)
                    .ok_or("the template's object has no metadata.name")?
                    .to_string();
                Call {
                    method: Method::POST,
                    path: template.collection_path(namespace),
                    body: Some(body),
                    patch: None,
                    creates: Some(name),
                }
            }
            Verb::Patch => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                let patch = requests
                    .patch
                    .as_ref()
                    .expect("validated: a patch phase has a patch");
                let body = substitute_json(patch, &|name| match name {
                    "now" => Some(format!("{}.{:09}", now.as_secs(), now.subsec_nanos())),
                    "index" => Some(index.to_string()),
                    "run_id" => Some(self.run_id.clone()),
                    other => scenario.vars.get(other).cloned(),
                });
                Call {
                    method: Method::PATCH,
                    path: template.object_path(namespace, &object(index)),
                    body: Some(body),
                    patch: Some(Patch::Merge),
                    creates: None,
                }
            }
            Verb::Get => simple(Method::GET, template.object_path(namespace, &object(index))),
            Verb::List => simple(
                Method::GET,
                format!(
                    "{}?labelSelector={RUN_ID_LABEL}%3D{}",
                    template.collection_path(namespace),
                    self.run_id
                ),
            ),
            Verb::Delete => simple(
                Method::DELETE,
                template.object_path(namespace, &object(index)),
            ),
            Verb::Rollout => unreachable!("a rollout phase sends no template requests"),
        })
    }

    /// Sends one call (with client-go's limiter and retries when asked) and counts it.
    async fn execute(
        &self,
        lane: &mut Lane,
        phase_index: usize,
        template: &str,
        timeout: Duration,
        call: &Call,
        scheduled: Instant,
    ) {
        let mut throttled_for = Duration::ZERO;
        let mut retries = 0;
        let mut retried = Vec::new();
        let mut first_send = None;
        let reply = loop {
            if let Some(limiter) = &self.limiter {
                throttled_for += limiter.acquire().await;
            }
            first_send.get_or_insert_with(Instant::now);
            let reply = lane
                .send(
                    call.method.clone(),
                    &call.path,
                    call.body.as_ref(),
                    call.patch,
                    timeout,
                )
                .await;
            let retryable = matches!(
                reply.outcome,
                Outcome::Status(429) | Outcome::Status(500..=599)
            );
            match reply.retry_after {
                Some(seconds)
                    if self.limiter.is_some() && retryable && retries < CLIENT_GO_MAX_RETRIES =>
                {
                    retries += 1;
                    retried.push(reply.outcome);
                    tokio::time::sleep(Duration::from_secs(seconds)).await;
                }
                _ => break reply,
            }
        };
        if let (Some(name), Outcome::Status(200..=299)) = (&call.creates, reply.outcome) {
            lock(&self.created)
                .entry(template.to_string())
                .or_default()
                .push(name.clone());
        }
        let sample = Sample {
            scheduled,
            sent: first_send.unwrap_or(scheduled),
            done: Instant::now(),
            outcome: reply.outcome,
            retry_after: reply.retry_after,
            flow_schema: reply.flow_schema,
            priority_level: reply.priority_level,
            retries,
            retried,
            throttled_for,
        };
        lock(&self.run.stats)[phase_index].record(self.run.run_start, &sample);
    }
}

async fn run_phase(shared: &Arc<Shared>, index: usize) {
    let phase = &shared.scenario.phases[index];
    match &phase.work {
        Work::Requests(requests) => run_requests(shared, index, phase, requests).await,
        Work::Rollout(rollout) => crate::rollout::run(&shared.run, index, rollout).await,
    }
}

async fn run_requests(shared: &Arc<Shared>, index: usize, phase: &Phase, requests: &Requests) {
    let objects = lock(&shared.created)
        .get(&requests.template)
        .cloned()
        .unwrap_or_default();
    // A phase that goes round the run's objects sends fewer requests than
    // asked when creates were refused; the summary says so.
    let creates_sent: u64 = shared
        .scenario
        .phases
        .iter()
        .zip(lock(&shared.run.stats).iter())
        .filter(|(p, _)| {
            p.verb == Verb::Create
                && matches!(&p.work, Work::Requests(r) if r.template == requests.template)
        })
        .map(|(_, stats)| stats.sent)
        .sum();
    let missing = creates_sent.saturating_sub(objects.len() as u64);
    if matches!(phase.verb, Verb::Patch | Verb::Get | Verb::Delete) && objects.is_empty() {
        lock(&shared.run.stats)[index].note = Some(format!(
            "skipped: no {} object was created to {} ({} refused or failed)",
            requests.template,
            phase.verb.as_str(),
            crate::slo::counted(missing, ("create", "creates"))
        ));
        return;
    }
    if requests.stop == Stop::EachObject && missing > 0 {
        lock(&shared.run.stats)[index].note = Some(format!(
            "sent to the {} that exist: {} refused or failed",
            crate::slo::counted(objects.len() as u64, ("object", "objects")),
            crate::slo::counted(missing, ("create was", "creates were"))
        ));
    }
    let total = match requests.stop {
        Stop::Count(n) => Some(n),
        Stop::EachObject => Some(objects.len() as u64),
        Stop::Duration(_) => None,
    };
    let phase_start = Instant::now();
    let deadline = match requests.stop {
        Stop::Duration(d) => Some(phase_start + d),
        _ => None,
    };
    lock(&shared.run.stats)[index].started = Some(phase_start);
    let objects = Arc::new(objects);

    // Every phase runs as workers taking request numbers in turn. Open
    // model: `connections` workers, request i is due at its scheduled time
    // (a worker that is free waits for it; when all are busy the request
    // goes late, and its latency counts from the schedule). Closed model:
    // `concurrency` workers, each request due as soon as a worker is free.
    let (workers, interval, burst) = match requests.load {
        Load::Open {
            rate,
            burst,
            connections,
        } => (
            connections,
            Some(rate.map_or(Duration::ZERO, |r| {
                Duration::from_secs_f64(f64::from(burst) / r)
            })),
            u64::from(burst),
        ),
        Load::Closed { concurrency } => (concurrency, None, 1),
    };
    let turns = Arc::new(Turns {
        phase: index,
        objects,
        counter: AtomicU64::new(0),
        halted: AtomicBool::new(false),
        phase_start,
        interval,
        burst,
        total,
        deadline,
    });
    on_sender_threads(workers, || send_in_turn(shared.clone(), turns.clone())).await;
    let mut stats = lock(&shared.run.stats);
    let phase = &mut stats[index];
    phase.finished = Some(Instant::now());
    if let (Stop::Duration(length), Some(interval)) = (&requests.stop, interval) {
        let interrupted =
            shared.stop.load(Ordering::Relaxed) || turns.halted.load(Ordering::Relaxed);
        if !interval.is_zero() && !interrupted {
            // Sends k = 0, 1, … are due at k intervals: those before the end.
            let slots = length.as_nanos().div_ceil(interval.as_nanos());
            let due = u64::try_from(slots)
                .unwrap_or(u64::MAX)
                .saturating_mul(burst);
            phase.dropped = due.saturating_sub(phase.sent);
        }
    }
}

/// What a request phase's workers share: whose turn is next and when it is due.
struct Turns {
    phase: usize,
    objects: Arc<Vec<String>>,
    /// The next request's number.
    counter: AtomicU64,
    /// Set when a request cannot be built: the phase ends, the run goes on.
    halted: AtomicBool,
    phase_start: Instant,
    /// Between bursts, in the open model.
    interval: Option<Duration>,
    burst: u64,
    total: Option<u64>,
    deadline: Option<Instant>,
}

/// One worker: takes request numbers in turn and sends each on its own
/// connection when it is due, until the phase's end.
async fn send_in_turn(worker: Arc<Shared>, turns: Arc<Turns>) {
    let index = turns.phase;
    let phase = &worker.scenario.phases[index];
    let Work::Requests(requests) = &phase.work else {
        unreachable!("run_requests runs request phases")
    };
    let mut lane = Lane::new(&worker.run.api);
    let mut same_every_time: Option<Call> = None;
    loop {
        let next = turns.counter.fetch_add(1, Ordering::Relaxed);
        let scheduled = match turns.interval {
            Some(interval) => turns.phase_start + interval.mul_f64((next / turns.burst) as f64),
            None => Instant::now(),
        };
        let finished = turns.total.is_some_and(|t| next >= t)
            || turns
                .deadline
                .is_some_and(|d| scheduled >= d || Instant::now() >= d)
            || worker.stop.load(Ordering::Relaxed)
            || turns.halted.load(Ordering::Relaxed);
        if finished {
            break;
        }
        let mut fresh = None;
        let call = match &same_every_time {
            Some(call) => call,
            None => match worker.call(phase, requests, next, &turns.objects) {
                Ok(call) => fresh.insert(call),
                Err(e) => {
                    if !turns.halted.swap(true, Ordering::Relaxed) {
                        eprintln!("scar loadgen: phase `{}` stopped: {e}", phase.name);
                        lock(&worker.run.stats)[index].note = Some(format!("stopped early: {e}"));
                    }
                    break;
                }
            },
        };
        // A send already due (the closed model, or an open one running
        // behind) goes at once, without a wait to set up.
        if scheduled > Instant::now() {
            let mut stopped = worker.run.stopped.clone();
            tokio::select! {
                () = crate::pacer::wait_until(scheduled) => {}
                _ = stopped.wait_for(|stopped| *stopped) => break,
            }
        }
        worker
            .execute(
                &mut lane,
                index,
                &requests.template,
                requests.timeout,
                call,
                scheduled,
            )
            .await;
        // A list is the same request every time: built once.
        if phase.verb == Verb::List && same_every_time.is_none() {
            same_every_time = fresh;
        }
    }
}

/// Runs `workers` workers made by `worker`, spread over one thread per
/// core, each thread with a runtime of its own, and returns when all are
/// done. Workers on one thread never hand a request or a wake-up to
/// another; a thread that cannot be started leaves its share to the
/// caller's runtime.
async fn on_sender_threads<F>(workers: u32, worker: impl Fn() -> F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let threads = (workers as usize).clamp(1, cores);
    let mut running = Vec::new();
    let mut left_over = JoinSet::new();
    for thread in 0..threads {
        let share = (workers as usize + threads - 1 - thread) / threads;
        let futures: Vec<F> = (0..share).map(|_| worker()).collect();
        // Answered when the thread's workers are done, with those it could
        // not run (all of them, when it got no runtime).
        let (done, finished) = tokio::sync::oneshot::channel::<Vec<F>>();
        let started = std::thread::Builder::new()
            .name("scar-sender".to_string())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    let _ = done.send(futures);
                    return;
                };
                runtime.block_on(async {
                    let mut share_of = JoinSet::new();
                    for future in futures {
                        share_of.spawn(future);
                    }
                    while share_of.join_next().await.is_some() {}
                });
                let _ = done.send(Vec::new());
            });
        match started {
            Ok(_) => running.push(finished),
            Err(_) => {
                for _ in 0..share {
                    left_over.spawn(worker());
                }
            }
        }
    }
    for finished in running {
        for unrun in finished.await.unwrap_or_default() {
            left_over.spawn(unrun);
        }
    }
    while left_over.join_next().await.is_some() {}
}

/// client-go's token bucket: `burst` requests at once, then `qps` a second.
struct TokenBucket {
    qps: f64,
    burst: f64,
    state: tokio::sync::Mutex<(f64, Instant)>,
}

impl TokenBucket {
    fn new(qps: f64, burst: f64) -> TokenBucket {
        TokenBucket {
            qps,
            burst,
            state: tokio::sync::Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token, waiting for one if needed; returns how long it waited.
    async fn acquire(&self) -> Duration {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let (tokens, last) = *state;
        let tokens =
            (tokens + now.saturating_duration_since(last).as_secs_f64() * self.qps).min(self.burst);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            return Duration::ZERO;
        }
        let wait = Duration::from_secs_f64((1.0 - tokens) / self.qps);
        // Holding the lock while waiting queues requests in order, as client-go does.
        tokio::time::sleep(wait).await;
        *state = (0.0, Instant::now());
        wait
    }
}

async fn print_progress(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        let elapsed = shared.run.run_start.elapsed().as_secs_f64();
        let stats = lock(&shared.run.stats);
        let sent: u64 = stats.iter().map(|s| s.sent).sum();
        let throttled: u64 = stats.iter().map(|s| s.outcomes.too_many_requests).sum();
        let errors: u64 = stats.iter().map(|s| s.outcomes.errors()).sum();
        let current = stats.iter().rev().find(|s| s.started.is_some());
        let p99 = current.map_or(0.0, |s| s.corrected.value_at_quantile(0.99) as f64 / 1000.0);
        let name = current.map_or("", |s| s.name.as_str());
        eprint!(
            "\r{elapsed:6.1}s  {name:<16} sent {sent:>8}  {:>8.1}/s  429s {throttled:>6}  errors {errors:>6}  p99 {p99:>9.1} ms ",
            sent as f64 / elapsed.max(0.001)
        );
    }
}

/// Resolves priority level and flow schema UIDs to names with one LIST
/// each, when the server allows it.
async fn resolve_apf_names(api: &Api, phases: &[PhaseStats]) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    if phases
        .iter()
        .all(|p| p.priority_levels.is_empty() && p.flow_schemas.is_empty())
    {
        return names;
    }
    for resource in ["prioritylevelconfigurations", "flowschemas"] {
        let path = format!("/apis/flowcontrol.apiserver.k8s.io/v1/{resource}");
        let reply = api
            .send(Method::GET, &path, None, None, Duration::from_secs(10))
            .await;
        let Some(list) = reply
            .json()
            .filter(|_| reply.outcome == Outcome::Status(200))
        else {
            continue;
        };
        for item in list["items"].as_array().into_iter().flatten() {
            if let (Some(uid), Some(name)) = (
                item.pointer("/metadata/uid").and_then(Json::as_str),
                item.pointer("/metadata/name").and_then(Json::as_str),
            ) {
                names.insert(uid.to_string(), name.to_string());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_worker_runs_once_on_the_sender_threads() {
        for workers in [1, 3, 50] {
            let threads = Arc::new(Mutex::new(Vec::new()));
            on_sender_threads(workers, || {
                let threads = threads.clone();
                async move {
                    let name = std::thread::current().name().map(str::to_string);
                    // A worker that waits, so that the thread's others run meanwhile.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    lock(&threads).push(name);
                }
            })
            .await;
            let threads = lock(&threads).clone();
            assert_eq!(threads.len(), workers as usize);
            assert!(
                threads.iter().all(|t| t.as_deref() == Some("scar-sender")),
                "{threads:?}"
            );
        }
    }

    #[test]
    fn a_namespace_is_a_runs_only_by_its_own_label_and_a_name_scar_gives() {
        let namespace = |labels: Json| json!({"metadata": {"labels": labels, "uid": "u-1"}});
        let ours = namespace(json!({RUN_ID_LABEL: "r1"}));
        assert_eq!(
            ownership(&ours, "scar-loadgen-r1", "r1", false),
            Ok(Some("u-1".to_string()))
        );
        // Made by this process under the scenario's own name.
        assert!(ownership(&ours, "load-test", "r1", true).is_ok());
        for (object, name, run_id) in [
            (namespace(json!({})), "prod", "r1"),
            (
                namespace(json!({RUN_ID_LABEL: "r2"})),
                "scar-loadgen-r2",
                "r1",
            ),
            (namespace(json!({RUN_ID_LABEL: "r1"})), "payments", "r1"),
            (namespace(json!({RUN_ID_LABEL: ""})), "scar-loadgen-", ""),
            (json!({"metadata": {"name": "x"}}), "x", "r1"),
        ] {
            let refused = ownership(&object, name, run_id, false);
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|why| why.contains("left alone")),
                "{name}: {refused:?}"
            );
        }
    }
}
