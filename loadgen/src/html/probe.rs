//! The page of a `scar loadgen probe --out` report: the verdict, what the
//! users of the service saw (outcomes, latency), and when requests failed.

use std::fmt::Write as _;

use serde_json::Value as Json;

use super::svg::escape;
use super::{
    breached, latency_cells, latency_chart, number, page, percentile_series, probe_chart, section,
    text, time_bands, Chart, XScale, PALETTE,
};

/// Outcome counts as the JSON report names them, in the order shown.
const OUTCOMES: [(&str, &str); 9] = [
    ("2xx", "2xx"),
    ("502", "502"),
    ("503", "503"),
    ("504", "504"),
    ("other_status", "other status"),
    ("connection_refused", "refused"),
    ("connection_reset", "reset"),
    ("timeout", "timed out"),
    ("other_error", "other error"),
];

pub(super) fn probe_page(report: &Json) -> String {
    let probe = &report["probe"];
    let mut body = format!(
        "<h1>scar loadgen probe: {}</h1><p class=\"meta\">{} at {} requests/s over {} connections{} · {:.1} s</p>",
        escape(text(&probe["url"])),
        escape(text(&probe["method"])),
        number(&probe["rate"]),
        probe["connections"],
        if probe["http2"] == Json::Bool(true) { ", HTTP/2" } else { "" },
        number(&probe["ended_seconds"]) - number(&probe["started_seconds"]),
    );
    body.push_str(&verdict(probe));
    body.push_str(&what_users_saw(probe));
    let bands = time_bands(report);
    section(
        &mut body,
        "probe",
        "Responses per second, error windows shaded",
        probe_chart(report, &bands),
    );
    section(
        &mut body,
        "latency",
        "Latency over time, by completion: p99 solid, p50 dashed (corrected: from the scheduled send)",
        latency_chart(report, &bands),
    );
    let mut spectrum = Chart::new("percentile", "ms", XScale::Percentile);
    for (tag, dashed) in [("corrected", false), ("raw", true)] {
        spectrum.series.extend(percentile_series(
            &probe["latency_ms"][tag],
            &format!("latency {tag}"),
            PALETTE[0],
            dashed,
        ));
    }
    section(
        &mut body,
        "spectrum",
        "Latency by percentile (corrected: from the scheduled send; raw: dashed)",
        Some(spectrum),
    );
    page(
        &format!("scar loadgen probe: {}", text(&probe["url"])),
        &body,
    )
}

fn verdict(probe: &Json) -> String {
    let breaches: Vec<String> = probe["slo"]["breaches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| format!("<li>{}</li>", escape(text(&b["message"]))))
        .collect();
    if breaches.is_empty() {
        "<div class=\"verdict passed\">SLO passed: no request failed beyond the probe's limits.</div>"
            .to_string()
    } else {
        breached(&breaches)
    }
}

/// The probe's counts and its error windows, on its own page and under a
/// run's probe chart.
pub(super) fn what_users_saw(probe: &Json) -> String {
    outcome_table(probe) + &windows_table(probe)
}

fn outcome_table(probe: &Json) -> String {
    let mut out = String::from("<table><tr><th>requests</th>");
    for (_, label) in OUTCOMES {
        let _ = write!(out, "<th>{label}</th>");
    }
    out.push_str("<th>dropped</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr>");
    let _ = write!(out, "<tr><td>{}</td>", probe["requests"]);
    for (key, _) in OUTCOMES {
        let _ = write!(
            out,
            "<td>{}</td>",
            probe["outcomes"][key].as_u64().unwrap_or(0)
        );
    }
    let _ = write!(
        out,
        "<td>{}</td>{}</tr></table>",
        probe["dropped"].as_u64().unwrap_or(0),
        latency_cells(&probe["latency_ms"]["corrected"])
    );
    out
}

/// When requests failed, each stretch with its codes: what to line up
/// with a rollout's events or a proxy's log.
fn windows_table(probe: &Json) -> String {
    let windows = probe["error_windows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if windows.is_empty() {
        return "<p>No request failed.</p>".to_string();
    }
    let mut out = String::from(
        "<h2>Error windows</h2><table><tr><th>from (s)</th><th>to (s)</th><th>length (s)</th><th>failed requests</th><th>outcomes</th></tr>",
    );
    for window in windows {
        let (from, to) = (
            number(&window["start_seconds"]),
            number(&window["end_seconds"]),
        );
        let outcomes: Vec<String> = window["outcomes"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
            .map(|(key, n)| {
                let label = OUTCOMES
                    .iter()
                    .find(|(k, _)| k == key)
                    .map_or(key.as_str(), |(_, l)| l);
                format!("{} ×{n}", escape(label))
            })
            .collect();
        let _ = write!(
            out,
            "<tr><td>{from:.3}</td><td>{to:.3}</td><td>{:.3}</td><td>{}</td><td>{}</td></tr>",
            to - from,
            window["count"],
            outcomes.join(", ")
        );
    }
    out.push_str("</table>");
    out
}
