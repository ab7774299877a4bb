//! One phase's latency per time bin (see `bins`), corrected and raw, as
//! HdrHistogram interval logs carry it. Only the open bin is a live
//! histogram; each bin is compressed as it closes (a few hundred bytes), so
//! a long phase costs little memory. Requests count in the bin they
//! complete in.

use std::time::Duration;

use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::bins::{self, FINE, FINE_UNTIL};
use serde_json::{json, Value as Json};

use crate::latency::{latency_histogram, ms};

#[derive(Debug, Clone)]
pub struct Intervals {
    width: Duration,
    open: Option<Open>,
    closed: Vec<Closed>,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            width: FINE,
            open: None,
            closed: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct Open {
    bin: u64,
    corrected: Histogram<u64>,
    raw: Histogram<u64>,
}

#[derive(Debug, Clone)]
struct Closed {
    bin: u64,
    corrected: Vec<u8>,
    raw: Vec<u8>,
}

/// One bin's histograms.
pub struct Interval {
    /// The bin's number: it starts `bin` × the width after the run's start.
    pub bin: u64,
    pub corrected: Histogram<u64>,
    pub raw: Histogram<u64>,
}

impl Intervals {
    pub fn width(&self) -> Duration {
        self.width
    }

    /// Records one completion, `offset` after the run's start. A completion
    /// reported after a later one (they arrive nearly in order) joins the
    /// open bin.
    pub fn record(&mut self, offset: Duration, corrected: u64, raw: u64) {
        if offset >= FINE_UNTIL {
            self.widen(bins::COARSE);
        }
        let bin = bins::index(offset, self.width);
        let open = self.open.get_or_insert_with(|| Open {
            bin,
            corrected: latency_histogram(),
            raw: latency_histogram(),
        });
        if bin > open.bin {
            self.closed.push(Closed {
                bin: open.bin,
                corrected: compress(&open.corrected),
                raw: compress(&open.raw),
            });
            open.corrected.reset();
            open.raw.reset();
            open.bin = bin;
        }
        open.corrected.saturating_record(corrected);
        open.raw.saturating_record(raw);
    }

    /// Merges the bins into bins of `width`, if that is wider.
    pub fn widen(&mut self, width: Duration) {
        if width <= self.width {
            return;
        }
        // One wide bin is live at a time, and compressed as soon as it is
        // whole: widening a long phase at the minute does not hold all its
        // bins uncompressed at once.
        let mut closed = Vec::new();
        let mut current: Option<Interval> = None;
        for interval in self.bins() {
            let bin = bins::regroup(interval.bin, self.width, width);
            match &mut current {
                Some(wide) if wide.bin == bin => {
                    add(&mut wide.corrected, &interval.corrected);
                    add(&mut wide.raw, &interval.raw);
                }
                _ => {
                    if let Some(whole) = current.replace(Interval { bin, ..interval }) {
                        closed.push(Closed {
                            bin: whole.bin,
                            corrected: compress(&whole.corrected),
                            raw: compress(&whole.raw),
                        });
                    }
                }
            }
        }
        self.width = width;
        self.closed = closed;
        self.open = current.map(|last| Open {
            bin: last.bin,
            corrected: last.corrected,
            raw: last.raw,
        });
    }

    /// Each bin's percentiles, corrected and raw: what latency-over-time
    /// plots draw. The bins are as wide as the series' `bin_seconds`.
    pub fn json(&self) -> Json {
        let brief = |h: &Histogram<u64>| {
            json!({
                "p50": ms(h.value_at_quantile(0.50)),
                "p99": ms(h.value_at_quantile(0.99)),
                "max": ms(h.max()),
            })
        };
        self.bins()
            .map(|i| {
                json!({
                    "bin": i.bin,
                    "count": i.corrected.len(),
                    "corrected": brief(&i.corrected),
                    "raw": brief(&i.raw),
                })
            })
            .collect()
    }

    /// Every bin in which requests completed, in order.
    pub fn bins(&self) -> impl Iterator<Item = Interval> + '_ {
        let closed = self.closed.iter().map(|c| Interval {
            bin: c.bin,
            corrected: decompress(&c.corrected),
            raw: decompress(&c.raw),
        });
        let open = self.open.iter().map(|o| Interval {
            bin: o.bin,
            corrected: o.corrected.clone(),
            raw: o.raw.clone(),
        });
        closed.chain(open)
    }
}

/// Both histograms are `latency_histogram`s, whose range saturating
/// records keep every value in.
fn add(into: &mut Histogram<u64>, other: &Histogram<u64>) {
    into.add(other)
        .expect("latency histograms share their range");
}

fn compress(histogram: &Histogram<u64>) -> Vec<u8> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .expect("a latency histogram serializes into memory");
    bytes
}

fn decompress(bytes: &[u8]) -> Histogram<u64> {
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .expect("the histogram was serialized here")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bin_keeps_its_own_counts_and_late_reports_join_the_open_one() {
        let mut intervals = Intervals::default();
        for (millis, corrected, raw) in [
            (0, 900, 800),
            (50, 1_000, 900),
            (250, 5_000, 4_000),
            (120, 7_000, 7_000),
            (1_300, 100, 90),
        ] {
            intervals.record(Duration::from_millis(millis), corrected, raw);
        }
        let bins: Vec<(u64, u64, u64, u64)> = intervals
            .bins()
            .map(|i| (i.bin, i.corrected.len(), i.raw.len(), i.corrected.max()))
            .collect();
        assert_eq!(
            bins,
            vec![(0, 2, 2, 1_000), (2, 2, 2, 7_003), (13, 1, 1, 100)]
        );
        assert!(intervals.closed.iter().all(|c| c.corrected.len() < 1_000));
    }

    #[test]
    fn past_a_minute_the_bins_merge_into_seconds_keeping_every_count() {
        let mut intervals = Intervals::default();
        for millis in [100, 900, 1_200, 59_900] {
            intervals.record(Duration::from_millis(millis), 1_000, 900);
        }
        intervals.record(Duration::from_secs(61), 2_000, 1_900);
        assert_eq!(intervals.width(), bins::COARSE);
        let bins: Vec<(u64, u64)> = intervals
            .bins()
            .map(|i| (i.bin, i.corrected.len()))
            .collect();
        assert_eq!(bins, vec![(0, 2), (1, 1), (59, 1), (61, 1)]);
    }
}
