//! The service probe: open-model HTTP load against a service URL (an
//! ingress, a NodePort, a port-forward) that records what its users would
//! have seen while a rollout or a burst runs: outcomes per second, latency,
//! and the windows in which requests failed.
//!
//! Requests go out on schedule whether or not earlier ones returned, over a
//! keep-alive pool of at most `connections` in flight; a request that waits
//! for a free connection goes late, and its corrected latency counts from
//! its schedule.

pub mod outcome;
pub mod record;
pub mod report;

pub use crate::probe_spec::{
    ProbeSlo, ProbeSpec, DEFAULT_CONNECTIONS, DEFAULT_RATE, DEFAULT_TIMEOUT,
};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio::sync::watch;
use tokio::task::JoinSet;

use outcome::Outcome;
use record::{Completed, Record};

#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub spec: ProbeSpec,
    /// Wall-clock time of offset zero on the timeline.
    pub started_at: SystemTime,
    /// When the probe started and stopped sending, on the run's timeline.
    pub began: Duration,
    pub ended: Duration,
    pub record: Record,
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A probe ready to send: its client is made (the system's TLS roots read)
/// before the run's timeline starts counting on it.
pub struct Probe {
    spec: ProbeSpec,
    client: HttpClient,
}

impl Probe {
    pub fn new(spec: ProbeSpec) -> Result<Probe, String> {
        let client = client(&spec)?;
        Ok(Probe { spec, client })
    }
}

fn client(spec: &ProbeSpec) -> Result<HttpClient, String> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let tls = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("cannot read the system's TLS roots: {e}"))?
        .https_or_http();
    let connector = if spec.http2 {
        tls.enable_http2().wrap_connector(http)
    } else {
        tls.enable_http1().enable_http2().wrap_connector(http)
    };
    Ok(Client::builder(TokioExecutor::new())
        .http2_only(spec.http2)
        .pool_max_idle_per_host(spec.connections as usize)
        .build(connector))
}

/// Sends until the spec's duration is over or `stop` turns true.
/// `run_start` and `started_at` are offset zero of the timeline the report
/// uses, shared with the API phases a scenario runs beside the probe.
pub async fn run(
    probe: Probe,
    run_start: Instant,
    started_at: SystemTime,
    stop: watch::Receiver<bool>,
) -> ProbeResult {
    let Probe { spec, client } = probe;
    let spec = &spec;
    let began = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / spec.rate);
    let deadline = spec.duration.map(|d| began + d);
    let record = Arc::new(Mutex::new(Record::default()));
    let counter = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..spec.connections {
        let (client, spec, record, counter) = (
            client.clone(),
            spec.clone(),
            record.clone(),
            counter.clone(),
        );
        let mut stop = stop.clone();
        workers.spawn(async move {
            loop {
                let index = counter.fetch_add(1, Ordering::Relaxed);
                let scheduled = began + interval.mul_f64(index as f64);
                let over = deadline.is_some_and(|d| scheduled >= d || Instant::now() >= d);
                if over || *stop.borrow() {
                    break;
                }
                tokio::select! {
                    () = crate::pacer::wait_until(scheduled) => {}
                    _ = stop.wait_for(|stopped| *stopped) => break,
                }
                let sent = Instant::now();
                let result = send(&client, &spec).await;
                let completed = Completed {
                    index,
                    scheduled: scheduled - run_start,
                    sent: sent - run_start,
                    done: run_start.elapsed(),
                    outcome: result.outcome,
                };
                let mut record = crate::shared::lock(&record);
                record.record(completed);
                record.retried_unprocessed += u64::from(result.retried);
                if let Some(error) = result.error {
                    record.first_error.get_or_insert(error);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let ended = run_start.elapsed();
    let mut record = std::mem::take(&mut *crate::shared::lock(&record));
    record.finish();
    record.widen(crate::bins::width_for(ended));
    if let (Some(length), false) = (spec.duration, *stop.borrow()) {
        // Sends k = 0, 1, … are due at k intervals: those before the end.
        let due = length.as_nanos().div_ceil(interval.as_nanos().max(1));
        let due = u64::try_from(due).unwrap_or(u64::MAX);
        record.dropped = due.saturating_sub(record.outcomes.total());
    }
    ProbeResult {
        spec: spec.clone(),
        started_at,
        began: began - run_start,
        ended,
        record,
    }
}

/// What sending one request came to.
struct Sent {
    outcome: Outcome,
    /// The error's text, when it is none of those the counts name.
    error: Option<String>,
    /// The server refused the first attempt unprocessed and it was sent again.
    retried: bool,
}

/// One request, its body read to the end so the connection is reused, all
/// within the timeout. A request the server refused without processing it
/// (an HTTP/2 GOAWAY or REFUSED_STREAM, as a proxy sends when it reloads) is
/// sent once more, as browsers do: its users never see that refusal.
async fn send(client: &HttpClient, spec: &ProbeSpec) -> Sent {
    let request = || {
        let mut request = Request::builder()
            .method(spec.method.clone())
            .uri(spec.url.clone());
        for (name, value) in &spec.headers {
            request = request.header(name, value);
        }
        request
            .body(Full::new(spec.body.clone()))
            .expect("the method, URL and headers were validated")
    };
    let exchange = async {
        let mut retried = false;
        loop {
            let sent = |outcome, error| Sent {
                outcome,
                error,
                retried,
            };
            return match client.request(request()).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.into_body().collect().await {
                        Ok(_) => sent(Outcome::Status(status), None),
                        Err(_) => sent(Outcome::Reset, None),
                    }
                }
                Err(error) if !retried && outcome::refused_unprocessed(&error) => {
                    retried = true;
                    continue;
                }
                Err(error) => match Outcome::of_error(&error) {
                    Outcome::Failed => sent(Outcome::Failed, Some(crate::api::cause(&error))),
                    outcome => sent(outcome, None),
                },
            };
        }
    };
    tokio::time::timeout(spec.timeout, exchange)
        .await
        .unwrap_or(Sent {
            outcome: Outcome::Timeout,
            error: None,
            retried: false,
        })
}
