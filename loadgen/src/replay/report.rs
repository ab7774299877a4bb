//! The capacity answer: per verb and resource, what production answered
//! when the requests were recorded beside what the test cluster answers now.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value as Json};

use super::audit::Recorded;
use super::ReplayResult;
use crate::api::Outcome;
use crate::latency::percentiles;
use crate::latency::{latency_histogram, micros};
use crate::measure::Outcomes;
use crate::runner::{cleanup_json, outcome_label, setup_json};
use crate::slo::counted;

/// Requests are told apart by verb and resource; those sent on a synthetic
/// object (recorded without a body) apart from the rest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub verb: String,
    pub resource: String,
    pub synthetic: bool,
}

#[derive(Debug, Clone)]
pub struct Stats {
    /// Status codes production answered.
    pub recorded_codes: BTreeMap<u16, u64>,
    pub recorded_latency: Histogram<u64>,
    pub replayed: Outcomes,
    /// What the test cluster answered, by exact status code.
    pub replayed_codes: BTreeMap<String, u64>,
    /// From the scheduled send time.
    pub corrected: Histogram<u64>,
    pub raw: Histogram<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            recorded_codes: BTreeMap::new(),
            recorded_latency: latency_histogram(),
            replayed: Outcomes::default(),
            replayed_codes: BTreeMap::new(),
            corrected: latency_histogram(),
            raw: latency_histogram(),
        }
    }
}

impl Stats {
    pub fn replayed(
        &mut self,
        recorded: &Recorded,
        outcome: Outcome,
        corrected: Duration,
        raw: Duration,
    ) {
        if let Some(code) = recorded.code {
            *self.recorded_codes.entry(code).or_default() += 1;
        }
        self.recorded_latency
            .saturating_record(recorded.latency_us.max(1) as u64);
        self.replayed.count(outcome);
        *self
            .replayed_codes
            .entry(outcome_label(outcome))
            .or_default() += 1;
        self.corrected.saturating_record(micros(corrected).max(1));
        self.raw.saturating_record(micros(raw).max(1));
    }

    fn replayed_404s(&self) -> u64 {
        self.replayed_codes.get("404").copied().unwrap_or(0)
    }
}

fn label(key: &Key) -> String {
    let synthetic = if key.synthetic { " (synthetic)" } else { "" };
    format!("{} {}{synthetic}", key.verb, key.resource)
}

pub fn summary(result: &ReplayResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "replay on {}, run {}: {:.1}s of recorded writes at {}x in {:.1}s",
        result.server,
        result.run_id,
        result.recorded_span.as_secs_f64(),
        result.speed,
        result.wall.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "{:<36} {:>7}   {:<22} {:>13}   {:<22} {:>13}",
        "verb resource", "count", "recorded codes", "ms p50/p99", "replayed codes", "ms p50/p99"
    );
    for (key, stats) in &result.stats {
        let recorded_codes = codes(
            stats
                .recorded_codes
                .iter()
                .map(|(c, n)| (c.to_string(), *n)),
        );
        let replayed_codes = codes(stats.replayed_codes.iter().map(|(c, n)| (c.clone(), *n)));
        let _ = writeln!(
            out,
            "{:<36} {:>7}   {:<22} {:>13}   {:<22} {:>13}",
            label(key),
            stats.replayed.total(),
            recorded_codes,
            p50_p99(&stats.recorded_latency),
            replayed_codes,
            p50_p99(&stats.corrected),
        );
    }
    let writes: u64 = result.stats.values().map(|s| s.replayed.total()).sum();
    let not_found: u64 = result.stats.values().map(Stats::replayed_404s).sum();
    if not_found > 0 {
        let recorded: u64 = result
            .stats
            .values()
            .map(|s| s.recorded_codes.get(&404).copied().unwrap_or(0))
            .sum();
        let _ = writeln!(
            out,
            "{not_found} of {writes} writes got 404: target missing ({recorded} in production); a 404 never reaches etcd"
        );
    }
    let late = &result.lateness;
    if !late.is_empty() {
        let _ = writeln!(
            out,
            "schedule: sends late by p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            late.value_at_quantile(0.5) as f64 / 1000.0,
            late.value_at_quantile(0.99) as f64 / 1000.0,
            late.max() as f64 / 1000.0
        );
    }
    let skipped = &result.skipped;
    if skipped.malformed_count > 0 {
        let _ = writeln!(
            out,
            "{} ({})",
            counted(
                skipped.malformed_count,
                ("line is not an audit event", "lines are not audit events")
            ),
            lines(&skipped.malformed, skipped.malformed_count)
        );
    }
    if skipped.other_versions_count > 0 {
        let _ = writeln!(
            out,
            "{} of another audit version than audit.k8s.io/v1 ({})",
            counted(skipped.other_versions_count, ("event", "events")),
            lines(&skipped.other_versions, skipped.other_versions_count)
        );
    }
    if skipped.filtered_out > 0 {
        let _ = writeln!(
            out,
            "{} left out by --verb, --user, --namespace or --resource",
            counted(skipped.filtered_out, ("write", "writes"))
        );
    }
    if skipped.leases > 0 {
        let _ = writeln!(
            out,
            "{} (node heartbeats, leader election) not replayed; --keep-leases replays them",
            counted(skipped.leases, ("lease write", "lease writes"))
        );
    }
    let seeded = &result.seeded;
    if seeded.created > 0 {
        let _ = writeln!(
            out,
            "setup: {} the window writes to created first",
            counted(seeded.created, ("object", "objects"))
        );
    }
    if let Some((target, why)) = seeded.missing.first() {
        let _ = writeln!(
            out,
            "setup: {} the window writes to could not be created, first {}{} {}/{}: {why}",
            counted(seeded.missing.len() as u64, ("object", "objects")),
            target.resource,
            match target.api_group.as_str() {
                "" => String::new(),
                group => format!(".{group}"),
            },
            target.namespace,
            target.name,
        );
    }
    if result.cluster_scoped > 0 {
        let _ = writeln!(
            out,
            "{} to cluster-scoped resources not replayed",
            counted(result.cluster_scoped, ("write", "writes"))
        );
    }
    if let Err(e) = &result.cleanup {
        let _ = writeln!(
            out,
            "cleanup failed: {e}; run `scar loadgen cleanup --run-id {}`",
            result.run_id
        );
    }
    if result.interrupted {
        let _ = writeln!(out, "interrupted: the replay stopped early");
    }
    out
}

/// `201×40 404×2`, most frequent first.
fn codes(counts: impl Iterator<Item = (String, u64)>) -> String {
    let mut counts: Vec<(String, u64)> = counts.collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if counts.is_empty() {
        return "-".to_string();
    }
    counts
        .iter()
        .map(|(code, n)| format!("{code}×{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn p50_p99(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "-".to_string();
    }
    format!(
        "{:.1}/{:.1}",
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0
    )
}

/// `line 7`, `lines 4, 6`, `lines 4, 6, …` when more were counted than kept.
fn lines(kept: &[u64], count: u64) -> String {
    let listed: Vec<String> = kept.iter().map(u64::to_string).collect();
    let more = if count as usize > kept.len() {
        ", …"
    } else {
        ""
    };
    let word = if count == 1 { "line" } else { "lines" };
    format!("{word} {}{more}", listed.join(", "))
}

pub fn json(result: &ReplayResult) -> Json {
    let requests: Vec<Json> = result
        .stats
        .iter()
        .map(|(key, stats)| {
            json!({
                "verb": key.verb,
                "resource": key.resource,
                "synthetic": key.synthetic,
                "count": stats.replayed.total(),
                "recorded": {
                    "codes": stats.recorded_codes.iter().map(|(c, n)| (c.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                    "latency_ms": percentiles(&stats.recorded_latency),
                },
                "replayed": {
                    "codes": stats.replayed_codes,
                    "outcomes": stats.replayed,
                    "latency_ms": {"corrected": percentiles(&stats.corrected), "raw": percentiles(&stats.raw)},
                },
            })
        })
        .collect();
    let skipped = &result.skipped;
    json!({
        "version": 1,
        "replay": {
            "server": result.server,
            "run_id": result.run_id,
            "started_at_unix": result.started_at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64(),
            "speed": result.speed,
            "recorded_span_seconds": result.recorded_span.as_secs_f64(),
            "duration_seconds": result.wall.as_secs_f64(),
            "namespaces": result.namespaces,
            "interrupted": result.interrupted,
            "requests": requests,
            "send_lateness_ms": percentiles(&result.lateness),
            "skipped": {
                "malformed": skipped.malformed_count,
                "malformed_lines": skipped.malformed,
                "other_versions": skipped.other_versions_count,
                "other_versions_lines": skipped.other_versions,
                "not_selected": skipped.not_selected,
                "filtered_out": skipped.filtered_out,
                "leases": skipped.leases,
                "cluster_scoped": result.cluster_scoped,
            },
            "setup": {
                "requests": setup_json(&result.setup_log),
                "objects_created": result.seeded.created,
                "objects_missing": result.seeded.missing.len(),
                "objects_missing_first": result.seeded.missing.iter().take(20).map(|(target, why)| json!({
                    "namespace": target.namespace,
                    "group": target.api_group,
                    "resource": target.resource,
                    "name": target.name,
                    "why": why,
                })).collect::<Vec<_>>(),
            },
            "cleanup": cleanup_json(&result.cleanup, &result.cleanup_log),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_lists_say_when_there_are_more() {
        assert_eq!(lines(&[7], 1), "line 7");
        assert_eq!(lines(&[3, 9], 2), "lines 3, 9");
        assert_eq!(lines(&[3, 9], 5), "lines 3, 9, …");
    }
}
