//! A run's results: the summary table, the JSON report and HdrHistogram
//! interval logs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use serde_json::{json, Value as Json};

use crate::latency::{ms, percentiles, quantiles};
use crate::measure::PhaseStats;
use crate::runner::{cleanup_json, setup_json, RunResult};
use crate::scenario::{Load, Scenario, Work};
use crate::slo::Breach;

/// The percentile distribution HdrHistogram's tools print and plot:
/// `[percentile, ms]` at quantiles closing in on 100 % by halves, five
/// steps each.
fn spectrum(h: &Histogram<u64>) -> Json {
    let mut points: Vec<Json> = Vec::new();
    for value in h.iter_quantiles(5) {
        points.push(json!([
            (value.quantile_iterated_to() * 100.0),
            ms(value.value_iterated_to())
        ]));
    }
    Json::Array(points)
}

/// How a phase sends its requests; `None` for a rollout.
fn load(scenario: &Scenario, index: usize) -> Option<&Load> {
    match &scenario.phases.get(index)?.work {
        Work::Requests(requests) => Some(&requests.load),
        Work::Rollout(_) => None,
    }
}

fn target_rate(scenario: &Scenario, index: usize) -> Option<f64> {
    match load(scenario, index)? {
        Load::Open { rate, .. } => *rate,
        Load::Closed { .. } => None,
    }
}

fn achieved_rate(phase: &PhaseStats) -> f64 {
    let seconds = phase.elapsed().as_secs_f64();
    if seconds > 0.0 {
        phase.sent as f64 / seconds
    } else {
        0.0
    }
}

/// The `--out` report; its shape is documented in the README.
pub fn json(result: &RunResult, scenario: &Scenario, breaches: &[Breach]) -> Json {
    let name = |uid: &String| {
        result
            .names
            .get(uid)
            .cloned()
            .unwrap_or_else(|| uid.clone())
    };
    let phases: Vec<Json> = result
        .phases
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let load = load(scenario, i);
            json!({
                "name": p.name,
                "verb": p.verb,
                "model": match load { Some(Load::Open { .. }) => "open", Some(Load::Closed { .. }) => "closed", None => "rollout" },
                "target_rate": target_rate(scenario, i),
                "burst": match load { Some(Load::Open { burst, .. }) => Some(*burst), _ => None },
                "connections": match load { Some(Load::Open { connections, .. }) => Some(*connections), _ => None },
                "concurrency": match load { Some(Load::Closed { concurrency }) => Some(*concurrency), _ => None },
                "started_seconds": p.started.map(|t| t.saturating_duration_since(result.run_start).as_secs_f64()),
                "finished_seconds": p.finished.map(|t| t.saturating_duration_since(result.run_start).as_secs_f64()),
                "rollouts": p.rollouts,
                "note": p.note,
                "requests": p.sent,
                "dropped": p.dropped,
                "completed": p.completed(),
                "duration_seconds": p.elapsed().as_secs_f64(),
                "achieved_rate": achieved_rate(p),
                "latency_ms": {"corrected": percentiles(&p.corrected), "raw": percentiles(&p.raw)},
                "late_send_ms": percentiles(&p.late),
                "client_throttle_ms": if result.client_go { percentiles(&p.throttle_wait) } else { Json::Null },
                "retries": p.retries,
                "outcomes": p.outcomes,
                "retried_outcomes": p.retried,
                "retry_after_seconds": p.retry_after.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "priority_levels": p.priority_levels.iter().map(|(k, v)| (name(k), json!(v))).collect::<serde_json::Map<_, _>>(),
                "flow_schemas": p.flow_schemas.iter().map(|(k, v)| (name(k), json!(v))).collect::<serde_json::Map<_, _>>(),
                "bin_seconds": p.series.width().as_secs_f64(),
                "series": p.series,
                "latency_series": p.intervals.json(),
                "latency_spectrum": {"corrected": spectrum(&p.corrected), "raw": spectrum(&p.raw)},
            })
        })
        .collect();
    json!({
        "version": 1,
        "scenario": scenario.name,
        "vars": scenario.vars,
        "run_id": result.run_id,
        "server": result.server,
        "namespace": result.namespace,
        "mode": if result.client_go { "client-go" } else { "direct" },
        "started_at_unix": result.started_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64(),
        "duration_seconds": result.wall.as_secs_f64(),
        "interrupted": result.interrupted,
        "setup": setup_json(&result.setup_log),
        "cleanup": cleanup_json(&result.cleanup, &result.cleanup_log),
        "phases": phases,
        "probe": match &result.probe {
            Some(probe) => crate::probe::report::json(probe, breaches),
            None => Json::Null,
        },
        // An interrupted run is reported, not judged.
        "slo": if result.interrupted {
            json!({"judged": false, "passed": null, "breaches": []})
        } else {
            json!({"judged": true, "passed": breaches.is_empty(), "breaches": breaches})
        },
    })
}

/// The summary table printed at the end of a run.
pub fn summary(result: &RunResult, scenario: &Scenario, breaches: &[Breach]) -> String {
    let mut out = String::new();
    let mode = if result.client_go {
        " (client-go: QPS 5, burst 10, retries)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "scenario {} on {}, run {}{mode}",
        scenario.name, result.server, result.run_id
    );
    let _ = writeln!(
        out,
        "{:<16} {:<6} {:>7} {:>9} {:>9}  {:>38}  {:>38}",
        "phase",
        "verb",
        "count",
        "target/s",
        "achieved",
        "corrected ms p50/p90/p99/p99.9/max",
        "raw ms p50/p90/p99/p99.9/max"
    );
    for (i, p) in result.phases.iter().enumerate() {
        let target = target_rate(scenario, i).map_or("-".to_string(), |r| format!("{r:.1}"));
        let _ = writeln!(
            out,
            "{:<16} {:<6} {:>7} {:>9} {:>9.1}  {:>38}  {:>38}",
            p.name,
            p.verb.as_str(),
            p.completed(),
            target,
            achieved_rate(p),
            quantiles(&p.corrected),
            quantiles(&p.raw)
        );
        let o = &p.outcomes;
        let _ = writeln!(
            out,
            "{:<16} 2xx {}  409 {}  422 {}  429 {}  4xx {}  500 {}  503 {}  504 {}  5xx {}  conn {}  timeout {}{}",
            "",
            o.success,
            o.conflict,
            o.invalid,
            o.too_many_requests,
            o.other_4xx,
            o.internal_error,
            o.unavailable,
            o.gateway_timeout,
            o.other_5xx,
            o.connection_errors,
            o.timeouts,
            if p.retries > 0 { format!("  retries {}", p.retries) } else { String::new() }
        );
        if p.retries > 0 {
            let retried: Vec<String> = serde_json::to_value(&p.retried)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, n)| n.as_u64().is_some_and(|n| n > 0))
                .map(|(outcome, n)| format!("{outcome} x{n}"))
                .collect();
            let _ = writeln!(
                out,
                "{:<16} retried by the client (not in the counts above): {}",
                "",
                retried.join(", ")
            );
        }
        if !p.retry_after.is_empty() {
            let values: Vec<String> = p
                .retry_after
                .iter()
                .map(|(s, n)| format!("{s}s x{n}"))
                .collect();
            let _ = writeln!(out, "{:<16} Retry-After: {}", "", values.join(", "));
        }
        if !p.priority_levels.is_empty() {
            let levels: Vec<String> = p
                .priority_levels
                .iter()
                .map(|(uid, n)| format!("{} x{n}", result.names.get(uid).unwrap_or(uid)))
                .collect();
            let _ = writeln!(out, "{:<16} priority levels: {}", "", levels.join(", "));
        }
        if let Some(note) = &p.note {
            let _ = writeln!(out, "{:<16} {note}", "");
        }
        if p.dropped > 0 {
            let _ = writeln!(
                out,
                "{:<16} {} dropped: due before the phase ended, but every connection was busy (raise `connections`)",
                "",
                crate::slo::counted(p.dropped, ("request", "requests"))
            );
        }
        for rollout in &p.rollouts {
            let outcome = match (&rollout.took, &rollout.failure) {
                (_, Some(failure)) => failure.clone(),
                (Some(took), None) => format!("rolled out in {:.1}s", took.as_secs_f64()),
                (None, None) => "not started".to_string(),
            };
            let _ = writeln!(out, "{:<16} {}: {outcome}", "", rollout.deployment);
        }
        if !p.late.is_empty() && p.late.value_at_quantile(0.99) > 1000 {
            let _ = writeln!(
                out,
                "{:<16} sender fell behind schedule: p99 {:.1} ms late",
                "",
                ms(p.late.value_at_quantile(0.99))
            );
        }
    }
    if let Err(e) = &result.cleanup {
        let _ = writeln!(
            out,
            "cleanup failed: {e}; run `scar loadgen cleanup --run-id {}`",
            result.run_id
        );
    } else if result.cleanup_log.attempts > 1 {
        let outcomes: Vec<String> = result
            .cleanup_log
            .outcomes
            .iter()
            .map(|(outcome, n)| format!("{outcome} x{n}"))
            .collect();
        let _ = writeln!(
            out,
            "cleanup: namespace {} deleted on attempt {} ({})",
            result.namespace,
            result.cleanup_log.attempts,
            outcomes.join(", ")
        );
    }
    if let Some(probe) = &result.probe {
        out.push_str(&crate::probe::report::summary(probe, &|at| {
            phase_at(result, scenario, at)
        }));
    }
    if result.interrupted {
        let _ = writeln!(out, "SLO: not judged: the run was interrupted");
    } else {
        out.push_str(&verdict(breaches));
    }
    out
}

/// `SLO: passed`, or each breach.
pub fn verdict(breaches: &[Breach]) -> String {
    let mut out = String::new();
    if breaches.is_empty() {
        let _ = writeln!(out, "SLO: passed");
    } else {
        let _ = writeln!(out, "SLO: breached");
        for breach in breaches {
            let _ = writeln!(out, "  {}", breach.message);
        }
    }
    out
}

/// The phase running at `offset` on the run's timeline, as "rollout of
/// shop/checkout" or "phase deploy-burst".
fn phase_at(result: &RunResult, scenario: &Scenario, offset: Duration) -> Option<String> {
    let at = result.run_start + offset;
    let index = result
        .phases
        .iter()
        .position(|p| p.started.is_some_and(|s| s <= at) && p.finished.is_none_or(|f| at <= f))?;
    Some(match &scenario.phases[index].work {
        Work::Rollout(rollout) => {
            let names: Vec<String> = rollout
                .deployments
                .iter()
                .map(ToString::to_string)
                .collect();
            format!("rollout of {}", names.join(", "))
        }
        Work::Requests(_) => format!("phase {}", result.phases[index].name),
    })
}

/// Writes one interval log per phase, `<phase>.hlog`: a histogram per time
/// bin (a tenth of a second in runs under a minute, else a second), tagged
/// `corrected` and `raw`, as HdrHistogram's tools read them. Times are
/// seconds from the run's start (the log's base time); the first and last
/// bins are cut to the phase.
pub fn write_hdr_logs(dir: &Path, result: &RunResult) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let start = result.started_at;
    let mut written = Vec::new();
    for phase in &result.phases {
        let Some(started) = phase.started else {
            continue;
        };
        let since_start = |at: Instant| at.saturating_duration_since(result.run_start);
        let started = since_start(started);
        let finished = phase.finished.map(since_start);
        let width = phase.intervals.width();
        let path = dir.join(format!("{}.hlog", file_name(&phase.name)));
        let mut buffer = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        {
            let mut writer = IntervalLogWriterBuilder::new()
                .add_comment(&format!(
                    "scar loadgen run {}, phase {} ({}), latency in microseconds, one interval every {} s",
                    result.run_id,
                    phase.name,
                    phase.verb.as_str(),
                    width.as_secs_f64()
                ))
                .with_start_time(start)
                .with_base_time(start)
                .begin_log_with(&mut buffer, &mut serializer)?;
            for interval in phase.intervals.bins() {
                // The run's bin, cut to the phase at either end.
                let bin_start = width * interval.bin as u32;
                let begin = bin_start.max(started);
                let end = finished.map_or(bin_start + width, |f| f.clamp(begin, bin_start + width));
                let length = end - begin;
                for (tag, histogram) in [("corrected", &interval.corrected), ("raw", &interval.raw)]
                {
                    writer
                        .write_histogram(histogram, begin, length, Tag::new(tag))
                        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
                }
            }
        }
        std::fs::write(&path, buffer)?;
        written.push(path);
    }
    Ok(written)
}

fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
