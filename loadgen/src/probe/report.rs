//! How a probe run is told: the verdict of its gate, the error windows with
//! wall-clock times, and the JSON section of `report.json`.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value as Json};

use super::{ProbeResult, ProbeSlo};
use crate::latency::{percentiles, quantiles};
use crate::slo::Breach;

/// The probe's breaches of its gate.
pub fn evaluate(result: &ProbeResult, slo: &ProbeSlo) -> Vec<Breach> {
    let counts = &result.record.outcomes;
    let (errors, total) = (counts.errors(), counts.total());
    let mut breaches = Vec::new();
    if errors > slo.max_errors {
        breaches.push(Breach {
            phase: "probe".to_string(),
            verb: "probe",
            limit: "max_errors",
            allowed: slo.max_errors as f64,
            measured: errors as f64,
            message: format!(
                "probe: {} failed, above the {} allowed",
                requests(errors),
                slo.max_errors
            ),
        });
    }
    if let Some(allowed) = slo.max_error_ratio.filter(|_| total > 0) {
        let ratio = errors as f64 / total as f64;
        if ratio > allowed {
            breaches.push(Breach {
                phase: "probe".to_string(),
                verb: "probe",
                limit: "max_error_ratio",
                allowed,
                measured: ratio,
                message: format!(
                    "probe: {:.2}% of requests failed, above the {:.2}% allowed",
                    ratio * 100.0,
                    allowed * 100.0
                ),
            });
        }
    }
    breaches
}

fn requests(n: u64) -> String {
    crate::slo::counted(n, ("request", "requests"))
}

/// `12:00:03.2`, UTC, the time of day of an offset on the run's timeline.
pub fn clock(started_at: SystemTime, offset: Duration) -> String {
    let at = started_at + offset;
    match jiff::Timestamp::try_from(at) {
        Ok(timestamp) => {
            let text = timestamp.strftime("%H:%M:%S%.3f").to_string();
            text[..text.len() - 2].to_string()
        }
        Err(_) => format!("+{:.1}s", offset.as_secs_f64()),
    }
}

/// What phase of the run an offset falls in, for "during rollout of …".
pub type PhaseAt<'a> = &'a dyn Fn(Duration) -> Option<String>;

/// The probe's lines of a summary; the verdict is the caller's to tell.
pub fn summary(result: &ProbeResult, phase_at: PhaseAt<'_>) -> String {
    let mut out = String::new();
    let spec = &result.spec;
    let counts = &result.record.outcomes;
    let seconds = result.ended.saturating_sub(result.began).as_secs_f64();
    let _ = writeln!(
        out,
        "probe {} {}: {} in {seconds:.1}s at {}/s: {} 2xx, {} failed",
        spec.method,
        spec.url,
        requests(counts.total()),
        spec.rate,
        counts.success,
        counts.errors()
    );
    let record = &result.record;
    let _ = writeln!(
        out,
        "  latency ms p50/p90/p99/p99.9/max: corrected {}  raw {}",
        quantiles(&record.corrected),
        quantiles(&record.raw)
    );
    let windows = &record.windows;
    if !windows.is_empty() {
        let plural = if windows.len() == 1 { "" } else { "s" };
        let _ = writeln!(out, "  {} error window{plural}:", windows.len());
    }
    for window in windows {
        let during = phase_at(window.start)
            .map(|phase| format!(" during {phase}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    {}–{}{during}: {}",
            clock(result.started_at, window.start),
            clock(result.started_at, window.end),
            window.outcomes.describe_errors()
        );
    }
    if record.retried_unprocessed > 0 {
        let _ = writeln!(
            out,
            "  {} refused unprocessed by the server (HTTP/2 GOAWAY or REFUSED_STREAM) and sent again, as browsers do",
            requests(record.retried_unprocessed)
        );
    }
    if let Some(error) = &record.first_error {
        let _ = writeln!(out, "  first other error: {error}");
    }
    if record.dropped > 0 {
        let _ = writeln!(
            out,
            "  {} dropped: due before the end, but every connection was busy (raise --connections)",
            requests(record.dropped)
        );
    }
    if let Some(timeout) = record.proxy_timeout() {
        let _ = writeln!(
            out,
            "  {} × 504 came after {:.1}s or a multiple of it: a proxy's timeout (ingress-nginx's proxy-read-timeout is 60s), not the service answering 504",
            counts.gateway_timeout,
            timeout.as_secs_f64()
        );
    }
    out
}

/// The probe's section of `report.json`. Times are seconds on the run's
/// timeline (the API phases' too) and, for windows, also Unix time.
pub fn json(result: &ProbeResult, breaches: &[Breach]) -> Json {
    let breaches: Vec<&Breach> = breaches.iter().filter(|b| b.verb == "probe").collect();
    let spec = &result.spec;
    let record = &result.record;
    let unix = |offset: Duration| {
        (result.started_at + offset)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
    };
    let windows: Vec<Json> = record
        .windows
        .iter()
        .map(|w| {
            json!({
                "start_seconds": w.start.as_secs_f64(),
                "end_seconds": w.end.as_secs_f64(),
                "start_unix": unix(w.start),
                "end_unix": unix(w.end),
                "count": w.count,
                "outcomes": w.outcomes,
            })
        })
        .collect();
    json!({
        "url": spec.url.to_string(),
        "method": spec.method.as_str(),
        "rate": spec.rate,
        "connections": spec.connections,
        "timeout_seconds": spec.timeout.as_secs_f64(),
        "http2": spec.http2,
        "started_seconds": result.began.as_secs_f64(),
        "ended_seconds": result.ended.as_secs_f64(),
        "requests": record.outcomes.total(),
        "outcomes": record.outcomes,
        "latency_ms": {"corrected": percentiles(&record.corrected), "raw": percentiles(&record.raw)},
        "bin_seconds": record.series.width().as_secs_f64(),
        "series": record.series,
        "latency_series": record.intervals.json(),
        "error_windows": windows,
        "proxy_timeout_seconds": record.proxy_timeout().map(|t| t.as_secs_f64()),
        "first_other_error": record.first_error,
        "retried_unprocessed": record.retried_unprocessed,
        "dropped": record.dropped,
        "slo": {"passed": breaches.is_empty(), "breaches": breaches},
    })
}
