//! The page of a `scar loadgen replay --out` report: what production
//! answered beside what the test cluster answered, per verb and resource,
//! and what the replay created and deleted around the window.

use std::fmt::Write as _;

use serde_json::Value as Json;

use super::svg::escape;
use super::{
    cleanup_line, code_counts, latency_cells, number, page, percentile_series, requests, section,
    text, utc, Chart, XScale, PALETTE,
};

pub(super) fn replay_page(report: &Json) -> String {
    let replay = &report["replay"];
    let mut body = format!(
        "<h1>scar loadgen replay</h1><p class=\"meta\">run {} on {} · started {} · {}x speed · {:.1} s recorded, replayed in {:.1} s</p>",
        escape(text(&replay["run_id"])),
        escape(text(&replay["server"])),
        utc(number(&replay["started_at_unix"])),
        number(&replay["speed"]),
        number(&replay["recorded_span_seconds"]),
        number(&replay["duration_seconds"]),
    );
    if replay["interrupted"] == Json::Bool(true) {
        body.push_str("<div class=\"verdict unjudged\">Interrupted: the replay was stopped before the window's end.</div>");
    }
    body.push_str(&requests_table(replay));
    body.push_str(&around_the_window(replay));
    let mut spectrum = Chart::new("percentile", "ms", XScale::Percentile);
    for (i, group) in groups(replay).enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let name = group_name(group);
        spectrum.series.extend(percentile_series(
            &group["replayed"]["latency_ms"]["corrected"],
            &format!("{name} replayed"),
            colour,
            false,
        ));
        spectrum.series.extend(percentile_series(
            &group["recorded"]["latency_ms"],
            &format!("{name} in production"),
            colour,
            true,
        ));
    }
    section(
        &mut body,
        "spectrum",
        "Latency by percentile: replayed (corrected) solid, production dashed",
        Some(spectrum),
    );
    page("scar loadgen replay", &body)
}

fn groups(replay: &Json) -> impl Iterator<Item = &Json> {
    replay["requests"].as_array().into_iter().flatten()
}

fn group_name(group: &Json) -> String {
    let synthetic = if group["synthetic"] == Json::Bool(true) {
        " (synthetic)"
    } else {
        ""
    };
    format!(
        "{} {}{synthetic}",
        text(&group["verb"]),
        text(&group["resource"])
    )
}

fn requests_table(replay: &Json) -> String {
    let mut out = String::from(
        "<table><tr><th>request</th><th>count</th><th>production</th><th>replayed</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr>",
    );
    for group in groups(replay) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            escape(&group_name(group)),
            group["count"],
            code_counts(&group["recorded"]["codes"]),
            code_counts(&group["replayed"]["codes"]),
            latency_cells(&group["replayed"]["latency_ms"]["corrected"]),
        );
    }
    out.push_str("</table>");
    out
}

/// The requests scar sent besides the window's: creating the sandbox
/// before it, deleting it after, and what the filters left out.
fn around_the_window(replay: &Json) -> String {
    let setup = &replay["setup"];
    let cleanup = &replay["cleanup"];
    let skipped = &replay["skipped"];
    let mut out = String::from("<ul>");
    let _ = write!(
        out,
        "<li>Setup: {} ({}), {} objects created first, {} left missing</li>",
        requests(&setup["requests"]["requests"]),
        code_counts(&setup["requests"]["outcomes"]),
        setup["objects_created"],
        setup["objects_missing"],
    );
    out.push_str(&cleanup_line(cleanup));
    let _ = write!(
        out,
        "<li>Left out: {} filtered out, {} lease writes, {} cluster-scoped, {} malformed lines</li></ul>",
        skipped["filtered_out"],
        skipped["leases"],
        skipped["cluster_scoped"],
        skipped["malformed"],
    );
    out
}
