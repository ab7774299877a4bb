//! One phase's latency per second, corrected and raw, as HdrHistogram
//! interval logs carry it. Only the open second is a live histogram; each
//! second is compressed as it closes (a few hundred bytes), so a long phase
//! costs little memory. Requests count in the second they complete in.

use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::latency::latency_histogram;

#[derive(Debug, Clone, Default)]
pub struct Intervals {
    open: Option<Open>,
    closed: Vec<Closed>,
}

#[derive(Debug, Clone)]
struct Open {
    second: u64,
    corrected: Histogram<u64>,
    raw: Histogram<u64>,
}

#[derive(Debug, Clone)]
struct Closed {
    second: u64,
    corrected: Vec<u8>,
    raw: Vec<u8>,
}

/// One second's histograms.
pub struct Interval {
    /// Seconds from the run's start.
    pub second: u64,
    pub corrected: Histogram<u64>,
    pub raw: Histogram<u64>,
}

impl Intervals {
    /// Records one completion, `second` after the run's start. A completion
    /// reported after a later one (they arrive nearly in order) joins the
    /// open second.
    pub fn record(&mut self, second: u64, corrected: u64, raw: u64) {
        let open = self.open.get_or_insert_with(|| Open {
            second,
            corrected: latency_histogram(),
            raw: latency_histogram(),
        });
        if second > open.second {
            self.closed.push(Closed {
                second: open.second,
                corrected: compress(&open.corrected),
                raw: compress(&open.raw),
            });
            open.corrected.reset();
            open.raw.reset();
            open.second = second;
        }
        open.corrected.saturating_record(corrected);
        open.raw.saturating_record(raw);
    }

    /// Every second in which requests completed, in order.
    pub fn seconds(&self) -> impl Iterator<Item = Interval> + '_ {
        let closed = self.closed.iter().map(|c| Interval {
            second: c.second,
            corrected: decompress(&c.corrected),
            raw: decompress(&c.raw),
        });
        let open = self.open.iter().map(|o| Interval {
            second: o.second,
            corrected: o.corrected.clone(),
            raw: o.raw.clone(),
        });
        closed.chain(open)
    }
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
    fn each_second_keeps_its_own_counts_and_late_reports_join_the_open_one() {
        let mut intervals = Intervals::default();
        for (second, corrected, raw) in [
            (0, 900, 800),
            (0, 1_000, 900),
            (2, 5_000, 4_000),
            (1, 7_000, 7_000),
            (3, 100, 90),
        ] {
            intervals.record(second, corrected, raw);
        }
        let seconds: Vec<(u64, u64, u64, u64)> = intervals
            .seconds()
            .map(|i| (i.second, i.corrected.len(), i.raw.len(), i.corrected.max()))
            .collect();
        assert_eq!(
            seconds,
            vec![(0, 2, 2, 1_000), (2, 2, 2, 7_003), (3, 1, 1, 100)]
        );
        assert!(intervals.closed.iter().all(|c| c.corrected.len() < 1_000));
    }
}
