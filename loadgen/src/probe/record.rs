//! What a probe run measured, kept as counters and histograms so that memory
//! stays flat however long it runs. Error windows are runs of consecutive
//! failures in the order requests were sent; requests complete out of that
//! order, so they pass through a reorder buffer no larger than the number
//! in flight.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::outcome::{Counts, Outcome};
use crate::bins::Bins;
use crate::intervals::Intervals;
use crate::latency::latency_histogram;

/// One request, once it completed. Times are offsets from the start of the
/// run, the timeline the API phases use too.
#[derive(Debug, Clone, Copy)]
pub struct Completed {
    /// The request's number in send order.
    pub index: u64,
    pub scheduled: Duration,
    pub sent: Duration,
    pub done: Duration,
    pub outcome: Outcome,
}

/// A run of consecutive failed requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorWindow {
    /// When its first failure was sent.
    #[serde(serialize_with = "seconds")]
    pub start: Duration,
    /// When its last failure completed.
    #[serde(serialize_with = "seconds")]
    pub end: Duration,
    pub count: u64,
    pub outcomes: Counts,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[derive(Debug, Clone)]
pub struct Record {
    pub outcomes: Counts,
    /// Outcomes per time bin, by when their requests were scheduled.
    pub series: Bins<Counts>,
    /// Latency per time bin, by when requests completed.
    pub intervals: Intervals,
    pub windows: Vec<ErrorWindow>,
    /// Latency from the scheduled send time: what a user sending at this
    /// rate waited, late sends included (coordinated omission corrected).
    pub corrected: Histogram<u64>,
    /// Latency from the actual send.
    pub raw: Histogram<u64>,
    /// Raw latency of the 504s alone, to tell a proxy's timeout.
    pub gateway_timeouts: Histogram<u64>,
    /// What the first failure that is not a status, refusal, reset or
    /// timeout said (TLS, DNS, protocol).
    pub first_error: Option<String>,
    /// Requests the server refused unprocessed and that were sent again.
    pub retried_unprocessed: u64,
    /// Requests due before `--duration` ended that no connection was free
    /// to send by then.
    pub dropped: u64,
    /// Completed requests not yet in send order, by number.
    pending: BTreeMap<u64, Completed>,
    next: u64,
    open: Option<ErrorWindow>,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            outcomes: Counts::default(),
            series: Bins::default(),
            intervals: Intervals::default(),
            windows: Vec::new(),
            corrected: latency_histogram(),
            raw: latency_histogram(),
            gateway_timeouts: latency_histogram(),
            first_error: None,
            retried_unprocessed: 0,
            dropped: 0,
            pending: BTreeMap::new(),
            next: 0,
            open: None,
        }
    }
}

impl Record {
    pub fn record(&mut self, request: Completed) {
        let outcome = request.outcome;
        self.outcomes.count(outcome);
        self.series.at(request.scheduled).count(outcome);
        let micros = |d: Duration| crate::latency::micros(d).max(1);
        let corrected = micros(request.done.saturating_sub(request.scheduled));
        self.corrected.saturating_record(corrected);
        let raw = micros(request.done.saturating_sub(request.sent));
        self.raw.saturating_record(raw);
        self.intervals.record(request.done, corrected, raw);
        if outcome == Outcome::Status(504) {
            self.gateway_timeouts.saturating_record(raw);
        }
        self.pending.insert(request.index, request);
        while let Some(next) = self.pending.remove(&self.next) {
            self.next += 1;
            self.in_send_order(next);
        }
    }

    fn in_send_order(&mut self, request: Completed) {
        if request.outcome.is_success() {
            self.windows.extend(self.open.take());
            return;
        }
        let window = self.open.get_or_insert_with(|| ErrorWindow {
            start: request.sent,
            end: request.done,
            count: 0,
            outcomes: Counts::default(),
        });
        window.count += 1;
        window.outcomes.count(request.outcome);
        window.end = window.end.max(request.done);
    }

    /// Closes the window still open when the run ends. Requests never
    /// completed (the run was stopped with them in flight) leave gaps that
    /// are skipped.
    pub fn finish(&mut self) {
        for (_, request) in std::mem::take(&mut self.pending) {
            self.in_send_order(request);
        }
        self.windows.extend(self.open.take());
    }

    /// Bins the series as wide as the run's (see `bins`).
    pub fn widen(&mut self, width: Duration) {
        self.series.widen(width);
        self.intervals.widen(width);
    }

    /// The 504s' common latency when they cluster at multiples of one
    /// value a second or longer (a proxy's timeout, retried or not).
    pub fn proxy_timeout(&self) -> Option<Duration> {
        let histogram = &self.gateway_timeouts;
        if histogram.len() < 3 || histogram.min() < 1_000_000 {
            return None;
        }
        let base = histogram.min() as f64;
        let near_multiple = histogram
            .iter_recorded()
            .filter(|v| {
                let value = v.value_iterated_to() as f64;
                let multiple = (value / base).round().max(1.0) * base;
                (value - multiple).abs() <= 0.05 * multiple
            })
            .map(|v| v.count_at_value())
            .sum::<u64>();
        // To a tenth of a second: the histogram keeps 3 significant digits.
        let tenths = (base / 100_000.0).round();
        (near_multiple as f64 >= 0.8 * histogram.len() as f64)
            .then(|| Duration::from_millis(tenths as u64 * 100))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(index: u64, at_ms: u64, latency_ms: u64, outcome: Outcome) -> Completed {
        let at = Duration::from_millis(at_ms);
        Completed {
            index,
            scheduled: at,
            sent: at,
            done: at + Duration::from_millis(latency_ms),
            outcome,
        }
    }

    #[test]
    fn windows_are_runs_of_failures_in_send_order_whatever_the_completion_order() {
        let ok = Outcome::Status(200);
        let mut record = Record::default();
        // Completion order: 1, 0, 3, 2, 5, 4, 6 (send order 0..=6).
        for r in [
            request(1, 100, 5, Outcome::Status(502)),
            request(0, 0, 500, ok),
            request(3, 300, 5, Outcome::Refused),
            request(2, 200, 50, Outcome::Status(502)),
            request(5, 1500, 5, Outcome::Status(503)),
            request(4, 1000, 100, ok),
            request(6, 2000, 5, ok),
        ] {
            record.record(r);
        }
        record.finish();
        assert_eq!(record.windows.len(), 2);
        let first = &record.windows[0];
        assert_eq!(first.start, Duration::from_millis(100));
        assert_eq!(first.end, Duration::from_millis(305));
        assert_eq!((first.count, first.outcomes.bad_gateway), (3, 2));
        assert_eq!(first.outcomes.connection_refused, 1);
        assert_eq!(record.windows[1].outcomes.unavailable, 1);
        // Tenth-of-a-second bins by schedule: 0, 1, 2, 3, 10, 15, 20.
        let bins: Vec<(u64, u64, u64)> = record
            .series
            .iter()
            .map(|(bin, counts)| (bin, counts.success, counts.errors()))
            .collect();
        assert_eq!(
            bins,
            vec![
                (0, 1, 0),
                (1, 0, 1),
                (2, 0, 1),
                (3, 0, 1),
                (10, 1, 0),
                (15, 0, 1),
                (20, 1, 0)
            ]
        );
        // Latency by completion: request 0 (500 ms) ends in the sixth bin.
        let slowest: Vec<(u64, u64)> = record
            .intervals
            .bins()
            .map(|i| (i.bin, i.corrected.max() / 1_000))
            .collect();
        assert!(slowest.contains(&(5, 500)), "{slowest:?}");
    }

    #[test]
    fn a_window_open_at_the_end_is_closed_and_gaps_are_skipped() {
        let mut record = Record::default();
        record.record(request(0, 0, 1, Outcome::Timeout));
        record.record(request(2, 20, 1, Outcome::Timeout));
        record.finish();
        assert_eq!(record.windows.len(), 1);
        assert_eq!(record.windows[0].count, 2);
    }

    #[test]
    fn gateway_timeouts_at_multiples_of_one_value_are_a_proxy_timeout() {
        let mut record = Record::default();
        for (i, ms) in [60_000, 60_010, 120_020, 60_005].into_iter().enumerate() {
            record.record(request(i as u64, 0, ms, Outcome::Status(504)));
        }
        let found = record.proxy_timeout().expect("a cluster at 60 s");
        assert_eq!(found.as_secs(), 60);

        let mut scattered = Record::default();
        for (i, ms) in [1_000, 2_700, 4_400, 9_100].into_iter().enumerate() {
            scattered.record(request(i as u64, 0, ms, Outcome::Status(504)));
        }
        assert_eq!(scattered.proxy_timeout(), None);
    }
}
