//! `scar loadgen replay`: the writes of a real incident window, read from the
//! API server's audit log, sent again on their recorded schedule (or faster)
//! into namespaces of the run's own, and what the test cluster answers put
//! beside what production answered then.
//!
//! The log is read as a stream: once for the namespaces to create, the
//! first request's time and the objects the window's writes need
//! (`setup`), once more for those objects' recorded states when there are
//! any, and once to send. Events are written when requests complete, not
//! when they arrive, so a small heap reorders them by arrival over a
//! lookahead of recorded time; memory stays flat however large the log.

pub mod audit;
pub mod report;
mod request;
mod setup;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch, Semaphore};

use crate::api::Api;
use crate::runner::{create_namespace, delete_namespace, RequestLog};
use crate::shared::lock;
use audit::{Filter, Recorded, Skipped};
use report::{Key, Stats};
use setup::{Seeded, Target};

#[derive(Debug, Clone)]
pub struct ReplaySpec {
    pub log: PathBuf,
    pub filter: Filter,
    /// 2.0 sends twice as fast as recorded.
    pub speed: f64,
    /// Recorded namespace → the namespace to write into; the others map to
    /// `replay-<run id>-<namespace>`.
    pub namespace_map: BTreeMap<String, String>,
    /// Requests in flight at most; when all are busy sends go late.
    pub connections: usize,
    pub run_id: String,
}

pub const DEFAULT_CONNECTIONS: usize = 1000;
/// How far out of arrival order the log may be: events are written as
/// requests complete, and a request may take up to the API server's 60 s
/// timeout.
const LOOKAHEAD_US: i64 = 60_000_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct ReplayResult {
    pub server: String,
    pub run_id: String,
    pub started_at: SystemTime,
    pub wall: Duration,
    /// Recorded time from the first to the last request replayed.
    pub recorded_span: Duration,
    pub speed: f64,
    pub namespaces: BTreeMap<String, String>,
    pub stats: BTreeMap<Key, Stats>,
    /// How late each send was against its schedule, in µs.
    pub lateness: hdrhistogram::Histogram<u64>,
    pub skipped: Skipped,
    /// Writes to cluster-scoped resources, never replayed into a test cluster.
    pub cluster_scoped: u64,
    /// The requests that made the namespaces and the objects the window
    /// writes to.
    pub setup_log: RequestLog,
    pub seeded: Seeded,
    pub interrupted: bool,
    pub cleanup: Result<(), String>,
    pub cleanup_log: RequestLog,
}

/// The sandbox namespace a recorded one maps to: a valid name of at most 63
/// characters.
pub fn sandbox(map: &BTreeMap<String, String>, run_id: &str, namespace: &str) -> String {
    if let Some(mapped) = map.get(namespace) {
        return mapped.clone();
    }
    let mut name = format!("replay-{run_id}-{namespace}");
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

pub async fn run(
    api: &Api,
    spec: &ReplaySpec,
    stop: watch::Receiver<bool>,
) -> Result<ReplayResult, String> {
    api.check_reachable().await?;
    let plan = {
        let (log, filter) = (spec.log.clone(), spec.filter.clone());
        tokio::task::spawn_blocking(move || setup::plan(&log, &filter))
            .await
            .map_err(|e| e.to_string())??
    };
    let sandboxes: BTreeMap<String, String> = plan
        .namespaces
        .iter()
        .map(|namespace| {
            let target = sandbox(&spec.namespace_map, &spec.run_id, namespace);
            (namespace.clone(), target)
        })
        .collect();
    let (plan, seeds, mut seeded) = {
        let (log, run_id, sandboxes) = (spec.log.clone(), spec.run_id.clone(), sandboxes.clone());
        tokio::task::spawn_blocking(move || {
            setup::seeds(&log, &plan, &sandboxes, &run_id)
                .map(|(seeds, seeded)| (plan, seeds, seeded))
        })
        .await
        .map_err(|e| e.to_string())??
    };
    let mut setup_log = RequestLog::default();
    let mut namespaces: BTreeMap<String, String> = BTreeMap::new();
    for (namespace, target) in &sandboxes {
        let made = create_namespace(api, target, &spec.run_id, &mut setup_log).await;
        if let Err(e) = made {
            return Err(undo_setup(api, spec, &namespaces, e).await);
        }
        namespaces.insert(namespace.clone(), target.clone());
    }
    setup::create(api, seeds, &stop, &mut setup_log, &mut seeded).await;
    if *stop.borrow() {
        return Err(undo_setup(
            api,
            spec,
            &namespaces,
            "interrupted during setup".to_string(),
        )
        .await);
    }

    let stats: Arc<Mutex<BTreeMap<Key, Stats>>> = Arc::default();
    let lateness = Arc::new(Mutex::new(crate::latency::latency_histogram()));
    let (events, arriving) = mpsc::channel::<Recorded>(4096);
    let reader = {
        let (log, filter) = (spec.log.clone(), spec.filter.clone());
        tokio::task::spawn_blocking(move || read_in_arrival_order(&log, &filter, events))
    };
    let slots = Arc::new(Semaphore::new(spec.connections));
    // The schedule keeps its own thread: on the runtime that carries the
    // requests, a TLS handshake or a large response would hold the next
    // send back by milliseconds.
    let schedule = Schedule {
        api: api.clone(),
        runtime: tokio::runtime::Handle::current(),
        namespaces: namespaces.clone(),
        synthetic_targets: plan.synthetic_targets,
        run_id: spec.run_id.clone(),
        speed: spec.speed,
        first_us: plan.first_us,
        slots: slots.clone(),
        stats: stats.clone(),
        lateness: lateness.clone(),
        stop: stop.clone(),
    };
    let scheduler = std::thread::spawn(move || schedule.send_all(arriving));
    let sent = tokio::task::spawn_blocking(move || scheduler.join())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "the replay's scheduler stopped".to_string())?;
    // Every request has returned once every slot is free again.
    let _all = slots
        .acquire_many(spec.connections as u32)
        .await
        .expect("never closed");
    let skipped = reader.await.map_err(|e| e.to_string())??;
    let wall = sent.start.map_or(Duration::ZERO, |s| s.elapsed());

    let mut cleanup = Ok(());
    let mut cleanup_log = RequestLog::default();
    for target in namespaces.values() {
        if let Err(e) = delete_namespace(api, target, &spec.run_id, true, &mut cleanup_log).await {
            cleanup = Err(e);
        }
    }
    let stats = std::mem::take(&mut *lock(&stats));
    let lateness = lock(&lateness).clone();
    Ok(ReplayResult {
        server: api.server.clone(),
        run_id: spec.run_id.clone(),
        started_at: sent.started_at,
        wall,
        recorded_span: Duration::from_micros((sent.last_us - plan.first_us).max(0) as u64),
        speed: spec.speed,
        namespaces,
        stats,
        lateness,
        skipped,
        cluster_scoped: sent.cluster_scoped,
        setup_log,
        seeded,
        interrupted: sent.interrupted,
        cleanup,
        cleanup_log,
    })
}

/// Deletes the namespaces a failed setup made; the error says which could
/// not be.
async fn undo_setup(
    api: &Api,
    spec: &ReplaySpec,
    made: &BTreeMap<String, String>,
    error: String,
) -> String {
    let mut left = Vec::new();
    let mut log = RequestLog::default();
    for namespace in made.values() {
        if delete_namespace(api, namespace, &spec.run_id, true, &mut log)
            .await
            .is_err()
        {
            left.push(namespace.clone());
        }
    }
    match left.as_slice() {
        [] => error,
        _ => format!(
            "{error}; namespaces {} it had made could not be deleted (scar loadgen cleanup --run-id {})",
            left.join(", "),
            spec.run_id
        ),
    }
}

/// What the scheduler thread needs to send each request on time.
struct Schedule {
    api: Api,
    /// The runtime the requests run on.
    runtime: tokio::runtime::Handle,
    namespaces: BTreeMap<String, String>,
    synthetic_targets: BTreeSet<Target>,
    run_id: String,
    speed: f64,
    first_us: i64,
    slots: Arc<Semaphore>,
    stats: Arc<Mutex<BTreeMap<Key, Stats>>>,
    lateness: Arc<Mutex<hdrhistogram::Histogram<u64>>>,
    stop: watch::Receiver<bool>,
}

/// What the scheduler did.
struct Sent {
    /// When the first request was ready: the schedule's zero.
    start: Option<Instant>,
    started_at: SystemTime,
    last_us: i64,
    cluster_scoped: u64,
    interrupted: bool,
}

/// Sleeps this thread until `at`, the last stretch spinning so the send
/// is on time to the microsecond, not to the timer's millisecond; true when
/// the run was stopped meanwhile. Only the scheduler's own thread blocks.
fn sleep_until(at: Instant, stop: &watch::Receiver<bool>) -> bool {
    const SPIN: Duration = Duration::from_micros(300);
    loop {
        if *stop.borrow() {
            return true;
        }
        let now = Instant::now();
        if now >= at {
            return false;
        }
        let left = at - now;
        if left > SPIN {
            std::thread::sleep((left - SPIN).min(Duration::from_millis(50)));
        } else {
            std::hint::spin_loop();
        }
    }
}

impl Schedule {
    fn send_all(self, mut arriving: mpsc::Receiver<Recorded>) -> Sent {
        // Its own runtime only waits for the reader and for free slots.
        let timer = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime starts");
        let mut sent = Sent {
            start: None,
            started_at: SystemTime::now(),
            last_us: self.first_us,
            cluster_scoped: 0,
            interrupted: false,
        };
        let mut stopped = self.stop.clone();
        timer.block_on(async {
            while let Some(recorded) = tokio::select! {
                next = arriving.recv() => next,
                _ = stopped.wait_for(|s| *s) => None,
            } {
                let Some(namespace) = recorded.namespace.as_deref() else {
                    sent.cluster_scoped += 1;
                    continue;
                };
                sent.last_us = sent.last_us.max(recorded.received_us);
                // The schedule starts when the first request is ready: the
                // reader holds requests until it has read a lookahead past them.
                let start = *sent.start.get_or_insert_with(|| {
                    sent.started_at = SystemTime::now();
                    Instant::now()
                });
                let offset_us = (recorded.received_us - self.first_us).max(0) as f64 / self.speed;
                let scheduled = start + Duration::from_micros(offset_us as u64);
                let synthetic_target = Target::of(&recorded)
                    .is_some_and(|target| self.synthetic_targets.contains(&target));
                let call = request::build(
                    &recorded,
                    &self.namespaces[namespace],
                    &self.run_id,
                    synthetic_target,
                );
                let permit = self
                    .slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("never closed");
                if sleep_until(scheduled, &self.stop) {
                    break;
                }
                // On time is when the request is handed to the HTTP client;
                // what follows counts in its latency from the schedule.
                let sent = Instant::now();
                lock(&self.lateness).saturating_record(crate::latency::micros(sent - scheduled));
                let (api, stats) = (self.api.clone(), self.stats.clone());
                self.runtime.spawn(async move {
                    let reply = api
                        .send(
                            call.method,
                            &call.path,
                            call.body.as_ref(),
                            call.patch,
                            REQUEST_TIMEOUT,
                        )
                        .await;
                    let done = Instant::now();
                    drop(permit);
                    lock(&stats).entry(call.key).or_default().replayed(
                        &recorded,
                        reply.outcome,
                        done - scheduled,
                        done - sent,
                    );
                });
            }
        });
        sent.interrupted = *self.stop.borrow();
        sent
    }
}

/// The sending pass: hands requests over in arrival order, holding only those
/// within the lookahead.
fn read_in_arrival_order(
    log: &std::path::Path,
    filter: &Filter,
    events: mpsc::Sender<Recorded>,
) -> Result<Skipped, String> {
    let input = audit::open(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut pending: BinaryHeap<Reverse<(i64, u64)>> = BinaryHeap::new();
    let mut held: BTreeMap<(i64, u64), Recorded> = BTreeMap::new();
    let mut newest = i64::MIN;
    let mut closed = false;
    let mut release = |pending: &mut BinaryHeap<Reverse<(i64, u64)>>,
                       held: &mut BTreeMap<(i64, u64), Recorded>,
                       until: i64| {
        while let Some(Reverse(key)) = pending.peek().copied() {
            if key.0 > until {
                break;
            }
            pending.pop();
            let recorded = held.remove(&key).expect("held with its key");
            if !closed && events.blocking_send(recorded).is_err() {
                closed = true;
            }
        }
    };
    let skipped = audit::read(input, filter, |mut recorded| {
        // Setup has used what the server answered; sending needs only the body.
        recorded.response = None;
        let key = (recorded.received_us, recorded.line);
        newest = newest.max(recorded.received_us);
        pending.push(Reverse(key));
        held.insert(key, recorded);
        release(&mut pending, &mut held, newest - LOOKAHEAD_US);
    })
    .map_err(|e| format!("{}: {e}", log.display()))?;
    release(&mut pending, &mut held, i64::MAX);
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_names_are_mapped_or_prefixed_and_valid() {
        let map = BTreeMap::from([("shop".to_string(), "shop-staging".to_string())]);
        assert_eq!(sandbox(&map, "0a1b2c3d4e", "shop"), "shop-staging");
        assert_eq!(
            sandbox(&map, "0a1b2c3d4e", "kube-system"),
            "replay-0a1b2c3d4e-kube-system"
        );
        let long = "n".repeat(60);
        let name = sandbox(&map, "0a1b2c3d4e", &long);
        assert_eq!(name.len(), 63);
    }
}
