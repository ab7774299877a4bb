//! Latency as scar measures and reports it: HdrHistograms of microseconds,
//! and the percentiles reports print. Every measuring and reporting module
//! reads it; it reads none of them.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value as Json};

/// µs resolution, 3 significant digits, up to an hour.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("the bounds are valid")
}

pub fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

pub(crate) fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// p50, p90, p99, p99.9, max and mean in milliseconds, as JSON reports
/// write them; `null` for no requests.
pub(crate) fn percentiles(h: &Histogram<u64>) -> Json {
    if h.is_empty() {
        return Json::Null;
    }
    json!({
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
        "mean": h.mean() / 1000.0,
    })
}

/// `p50/p90/p99/p99.9/max` in milliseconds, as summary tables print it.
pub(crate) fn quantiles(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "-".to_string();
    }
    format!(
        "{:.1}/{:.1}/{:.1}/{:.1}/{:.1}",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.9)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max())
    )
}
