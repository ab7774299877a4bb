//! What a run measured, kept as histograms and counters: memory stays flat
//! however long the run, since no request is stored once counted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::bins::{Bins, Merge};
use crate::intervals::Intervals;
use crate::latency::{latency_histogram, micros};
use serde::Serialize;

use crate::api::Outcome;
use crate::scenario::Verb;

/// One request, as the collector receives it once it completed.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When the schedule said it should be sent.
    pub scheduled: Instant,
    /// When it was actually sent (its first attempt, under `--client-go`).
    pub sent: Instant,
    pub done: Instant,
    pub outcome: Outcome,
    pub retry_after: Option<u64>,
    pub flow_schema: Option<String>,
    pub priority_level: Option<String>,
    /// Attempts beyond the first (only `--client-go` retries).
    pub retries: u32,
    /// What each retried attempt got (a 429, a 5xx), oldest first.
    pub retried: Vec<Outcome>,
    /// Time spent waiting for the client-side rate limiter.
    pub throttled_for: Duration,
}

/// Counts by outcome, named as the JSON report names them.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Outcomes {
    #[serde(rename = "2xx")]
    pub success: u64,
    #[serde(rename = "409")]
    pub conflict: u64,
    #[serde(rename = "422")]
    pub invalid: u64,
    #[serde(rename = "429")]
    pub too_many_requests: u64,
    pub other_4xx: u64,
    #[serde(rename = "500")]
    pub internal_error: u64,
    #[serde(rename = "503")]
    pub unavailable: u64,
    #[serde(rename = "504")]
    pub gateway_timeout: u64,
    pub other_5xx: u64,
    pub connection_errors: u64,
    pub timeouts: u64,
}

impl Outcomes {
    pub fn count(&mut self, outcome: Outcome) {
        let slot = match outcome {
            Outcome::Status(200..=299) => &mut self.success,
            Outcome::Status(409) => &mut self.conflict,
            Outcome::Status(422) => &mut self.invalid,
            Outcome::Status(429) => &mut self.too_many_requests,
            Outcome::Status(400..=499) => &mut self.other_4xx,
            Outcome::Status(500) => &mut self.internal_error,
            Outcome::Status(503) => &mut self.unavailable,
            Outcome::Status(504) => &mut self.gateway_timeout,
            Outcome::Status(_) => &mut self.other_5xx,
            Outcome::ConnectionError => &mut self.connection_errors,
            Outcome::Timeout => &mut self.timeouts,
        };
        *slot += 1;
    }

    pub fn total(&self) -> u64 {
        self.success + self.throttled_or_error()
    }

    /// Everything that is neither 2xx nor 429.
    pub fn errors(&self) -> u64 {
        self.throttled_or_error() - self.too_many_requests
    }

    fn throttled_or_error(&self) -> u64 {
        self.conflict
            + self.invalid
            + self.too_many_requests
            + self.other_4xx
            + self.internal_error
            + self.unavailable
            + self.gateway_timeout
            + self.other_5xx
            + self.connection_errors
            + self.timeouts
    }
}

/// Counters of one time bin of the run.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct BinCounts {
    pub sent: u64,
    pub completed: u64,
    pub throttled: u64,
    /// Every failure but 429s: 5xx, other 4xx, connection errors, timeouts.
    pub errors: u64,
    /// The 5xx among them.
    pub server_errors: u64,
}

impl Merge for BinCounts {
    fn merge(&mut self, other: &Self) {
        self.sent += other.sent;
        self.completed += other.completed;
        self.throttled += other.throttled;
        self.errors += other.errors;
        self.server_errors += other.server_errors;
    }
}

/// Everything one phase measured.
#[derive(Debug, Clone)]
pub struct PhaseStats {
    pub name: String,
    pub verb: Verb,
    /// Latency from the scheduled send time: what a user waiting for the
    /// request experiences, stalls of the sender included (wrk2's correction
    /// for coordinated omission).
    pub corrected: Histogram<u64>,
    /// Latency from the actual send.
    pub raw: Histogram<u64>,
    /// Both, second by second, for the interval logs.
    pub intervals: Intervals,
    /// How far behind schedule each send was.
    pub late: Histogram<u64>,
    pub throttle_wait: Histogram<u64>,
    pub outcomes: Outcomes,
    pub retry_after: BTreeMap<u64, u64>,
    pub priority_levels: BTreeMap<String, u64>,
    pub flow_schemas: BTreeMap<String, u64>,
    pub retries: u64,
    /// The answers of the attempts `--client-go` retried: 429s the server
    /// sent that the final outcomes do not show.
    pub retried: Outcomes,
    pub sent: u64,
    pub started: Option<Instant>,
    pub finished: Option<Instant>,
    pub series: Bins<BinCounts>,
    /// What a rollout phase's Deployments did.
    pub rollouts: Vec<RolloutRecord>,
    /// Why the phase sent fewer requests than asked, when it did.
    pub note: Option<String>,
    /// Requests due before a timed phase's end that no connection was free
    /// to send by then (k6's `dropped_iterations`).
    pub dropped: u64,
}

/// One Deployment's rollout: how long it took to complete, or why it did not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutRecord {
    pub deployment: String,
    /// From the restart until `kubectl rollout status` would call it done.
    #[serde(serialize_with = "optional_seconds", rename = "took_seconds")]
    pub took: Option<Duration>,
    pub failure: Option<String>,
}

fn optional_seconds<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl PhaseStats {
    pub fn new(name: &str, verb: Verb) -> PhaseStats {
        PhaseStats {
            name: name.to_string(),
            verb,
            corrected: latency_histogram(),
            raw: latency_histogram(),
            intervals: Intervals::default(),
            late: latency_histogram(),
            throttle_wait: latency_histogram(),
            outcomes: Outcomes::default(),
            retry_after: BTreeMap::new(),
            priority_levels: BTreeMap::new(),
            flow_schemas: BTreeMap::new(),
            retries: 0,
            retried: Outcomes::default(),
            sent: 0,
            started: None,
            finished: None,
            series: Bins::default(),
            rollouts: Vec::new(),
            note: None,
            dropped: 0,
        }
    }

    /// Counts a request once it completed, its send included: one lock of
    /// the shared stats a request, not one to send and one to complete.
    pub fn record(&mut self, run_start: Instant, sample: &Sample) {
        self.sent += 1;
        self.late.saturating_record(micros(
            sample.sent.saturating_duration_since(sample.scheduled),
        ));
        self.series
            .at(sample.sent.saturating_duration_since(run_start))
            .sent += 1;
        let corrected = micros(sample.done.saturating_duration_since(sample.scheduled)).max(1);
        let raw = micros(sample.done.saturating_duration_since(sample.sent)).max(1);
        self.corrected.saturating_record(corrected);
        self.raw.saturating_record(raw);
        let done = sample.done.saturating_duration_since(run_start);
        self.intervals.record(done, corrected, raw);
        self.throttle_wait
            .saturating_record(micros(sample.throttled_for));
        self.outcomes.count(sample.outcome);
        self.retries += u64::from(sample.retries);
        for outcome in &sample.retried {
            self.retried.count(*outcome);
        }
        if sample.outcome == Outcome::Status(429) {
            if let Some(seconds) = sample.retry_after {
                *self.retry_after.entry(seconds).or_default() += 1;
            }
        }
        if let Some(level) = &sample.priority_level {
            *self.priority_levels.entry(level.clone()).or_default() += 1;
        }
        if let Some(schema) = &sample.flow_schema {
            *self.flow_schemas.entry(schema.clone()).or_default() += 1;
        }
        let bin = self.series.at(done);
        bin.completed += 1;
        match sample.outcome {
            Outcome::Status(200..=299) => {}
            Outcome::Status(429) => bin.throttled += 1,
            Outcome::Status(500..=599) => {
                bin.errors += 1;
                bin.server_errors += 1;
            }
            _ => bin.errors += 1,
        }
    }

    /// Bins the phase's series as wide as the run's (see `bins`).
    pub fn widen(&mut self, width: Duration) {
        self.series.widen(width);
        self.intervals.widen(width);
    }

    pub fn completed(&self) -> u64 {
        self.outcomes.total()
    }

    pub fn elapsed(&self) -> Duration {
        match (self.started, self.finished) {
            (Some(start), Some(end)) => end.saturating_duration_since(start),
            _ => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(
        scheduled: Instant,
        sent_after_ms: u64,
        done_after_ms: u64,
        outcome: Outcome,
    ) -> Sample {
        Sample {
            scheduled,
            sent: scheduled + Duration::from_millis(sent_after_ms),
            done: scheduled + Duration::from_millis(done_after_ms),
            outcome,
            retry_after: Some(1),
            flow_schema: None,
            priority_level: Some("uid-workload-low".to_string()),
            retries: 0,
            retried: Vec::new(),
            throttled_for: Duration::ZERO,
        }
    }

    #[test]
    fn corrected_latency_counts_from_the_schedule_and_raw_from_the_send() {
        let start = Instant::now();
        let mut stats = PhaseStats::new("p", Verb::Patch);
        stats.record(start, &sample(start, 900, 1000, Outcome::Status(200)));
        assert!(
            (995_000..=1_005_000).contains(&stats.corrected.max()),
            "{}",
            stats.corrected.max()
        );
        assert!(
            (99_000..=101_000).contains(&stats.raw.max()),
            "{}",
            stats.raw.max()
        );
    }

    #[test]
    fn counts_outcomes_retry_after_priority_levels_and_bins() {
        let start = Instant::now();
        let mut stats = PhaseStats::new("p", Verb::Create);
        for outcome in [
            Outcome::Status(201),
            Outcome::Status(429),
            Outcome::Status(503),
            Outcome::Timeout,
        ] {
            stats.record(start, &sample(start, 0, 10, outcome));
        }
        stats.record(start, &sample(start, 0, 2500, Outcome::Status(409)));
        assert_eq!(stats.outcomes.success, 1);
        assert_eq!(stats.outcomes.too_many_requests, 1);
        assert_eq!(stats.outcomes.errors(), 3);
        assert_eq!(stats.completed(), 5);
        assert_eq!(stats.retry_after, BTreeMap::from([(1, 1)]));
        assert_eq!(stats.priority_levels["uid-workload-low"], 5);
        // Tenth-of-a-second bins: everything sent in the first, four done
        // in it, the 409 done in the 26th.
        assert_eq!(
            serde_json::to_value(&stats.series).unwrap(),
            serde_json::json!([
                {"bin": 0, "sent": 5, "completed": 4, "throttled": 1, "errors": 2, "server_errors": 1},
                {"bin": 25, "sent": 0, "completed": 1, "throttled": 0, "errors": 1, "server_errors": 0},
            ])
        );
    }
}
