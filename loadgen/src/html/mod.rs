//! `scar loadgen report`: one self-contained HTML page from a run's
//! `--out` JSON (or two, compared; a probe's or a replay's pages are
//! `probe.rs` and `replay.rs`), with inline SVG charts: the SLO verdict
//! first, then per-second throughput and outcomes, latency over time, the
//! HdrHistogram percentile spectrum, the Retry-After distribution, and the
//! probe's errors, each on the run's time axis with phases and probe error
//! windows shaded. No script loads, nothing is fetched; a few lines of
//! inline script only check that every chart drew.

mod compare;
mod probe;
mod replay;
mod svg;

use std::fmt::Write as _;

use serde_json::Value as Json;

use svg::{escape, Band, Chart, Series, Style, XScale, PALETTE};

/// The page of one report, whichever command wrote it: `run`, `probe` or
/// `replay` with `--out`.
pub fn page_of(report: &Json) -> Result<String, String> {
    match report["version"].as_u64() {
        Some(1) if report["phases"].is_array() => single(report),
        Some(1) if report["probe"].is_object() => Ok(probe::probe_page(report)),
        Some(1) if report["replay"].is_object() => Ok(replay::replay_page(report)),
        _ => Err(
            "not a `scar loadgen run`, `probe` or `replay` --out report (version 1)".to_string(),
        ),
    }
}

/// The page of one report.
pub fn single(report: &Json) -> Result<String, String> {
    check_version(report)?;
    let mut body = header(report);
    body.push_str(&verdict(report));
    body.push_str(&phase_table(report));
    body.push_str(&setup_and_cleanup(report));
    let bands = time_bands(report);
    section(
        &mut body,
        "outcomes",
        "Requests completed per second, by outcome",
        outcomes_chart(report, &bands),
    );
    section(
        &mut body,
        "latency",
        "Latency over time, per phase and the probe's: p99 solid, p50 dashed (corrected: from the scheduled send)",
        latency_chart(report, &bands),
    );
    section(
        &mut body,
        "spectrum",
        "Latency by percentile (HdrHistogram spectrum, corrected; raw dashed)",
        spectrum_chart(&[("", report)]),
    );
    section(
        &mut body,
        "retry-after",
        "Retry-After of the 429s (seconds asked to wait)",
        retry_after_chart(report),
    );
    section(
        &mut body,
        "probe",
        "Service probe: responses per second, error windows shaded",
        probe_chart(report, &bands),
    );
    if report["probe"].is_object() {
        body.push_str(&probe::what_users_saw(&report["probe"]));
    }
    Ok(page(
        &format!("scar loadgen: {}", text(&report["scenario"])),
        &body,
    ))
}

/// The page comparing a run before (`a`) and after (`b`) a change.
pub fn comparison(a: &Json, b: &Json) -> Result<String, String> {
    check_version(a)?;
    check_version(b)?;
    let mut body = format!(
        "<h1>scar loadgen: {} compared</h1><p class=\"meta\">A: run {} on {} · B: run {} on {}</p>",
        escape(text(&a["scenario"])),
        escape(text(&a["run_id"])),
        escape(text(&a["server"])),
        escape(text(&b["run_id"])),
        escape(text(&b["server"]))
    );
    for (label, report) in [("A", a), ("B", b)] {
        let _ = write!(
            body,
            "<div class=\"side\"><b>{label}</b> {}</div>",
            verdict(report)
        );
    }
    body.push_str(&compare::table(a, b));
    section(
        &mut body,
        "latency",
        "p99 latency over time, corrected (A solid, B dashed)",
        compare::latency_chart(a, b),
    );
    section(
        &mut body,
        "throughput",
        "Requests completed per second (A solid, B dashed)",
        compare::throughput_chart(a, b),
    );
    section(
        &mut body,
        "spectrum",
        "Latency by percentile, corrected (A solid, B dashed)",
        spectrum_chart(&[("A ", a), ("B ", b)]),
    );
    Ok(page(
        &format!("scar loadgen: {} compared", text(&a["scenario"])),
        &body,
    ))
}

fn check_version(report: &Json) -> Result<(), String> {
    match report["version"].as_u64() {
        Some(1) if report["phases"].is_array() => Ok(()),
        _ => Err("not a `scar loadgen run --out` report (version 1)".to_string()),
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 940px; color: #222; }}
h1 {{ font-size: 22px; margin-bottom: 4px; }} h2 {{ font-size: 16px; margin: 28px 0 6px; }}
.meta {{ color: #555; margin-top: 0; }}
.verdict {{ padding: 10px 14px; border-radius: 6px; font-weight: 600; margin: 12px 0; }}
.passed {{ background: #e3f4ea; color: #0b5d2a; }} .breached {{ background: #fde8e4; color: #8a1c0b; }}
.unjudged {{ background: #fff4d6; color: #6b4e00; }}
.verdict ul {{ font-weight: normal; margin: 6px 0 0; }}
table {{ border-collapse: collapse; width: 100%; margin: 8px 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
td.noise {{ color: #777; }} td.worse {{ color: #a01a00; font-weight: 600; }} td.better {{ color: #0b5d2a; font-weight: 600; }}
svg.chart {{ width: 100%; height: auto; }} .tick {{ font-size: 11px; fill: #444; }} .label {{ font-size: 12px; fill: #222; }}
.legend span {{ margin-right: 14px; white-space: nowrap; }} .legend i {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }}
.side {{ margin: 6px 0; }} .side .verdict {{ display: inline-block; margin: 0 0 0 8px; }}
</style></head><body>
{}
<script>
// Every chart drew something: a check the browser test reads.
(function () {{
  var charts = document.querySelectorAll("svg.chart"), empty = 0;
  charts.forEach(function (chart) {{
    var drawn = Array.prototype.some.call(chart.querySelectorAll("path.data"), function (p) {{
      return p.getTotalLength() > 0;
    }});
    if (!drawn) {{ empty++; console.error("chart drew nothing: " + chart.closest("section").id); }}
  }});
  document.body.setAttribute("data-charts", String(charts.length));
  document.body.setAttribute("data-empty-charts", String(empty));
}})();
</script></body></html>
"#,
        escape(title),
        body
    )
}

fn section(body: &mut String, id: &str, title: &str, chart: Option<Chart>) {
    let Some(chart) = chart else {
        return;
    };
    if let Some(svg) = chart.render() {
        let _ = write!(
            body,
            "<section id=\"{id}\"><h2>{}</h2>{svg}{}</section>",
            escape(title),
            chart.legend()
        );
    }
}

fn text(value: &Json) -> &str {
    value.as_str().unwrap_or("")
}

fn number(value: &Json) -> f64 {
    value.as_f64().unwrap_or(0.0)
}

fn header(report: &Json) -> String {
    let started = number(&report["started_at_unix"]);
    format!(
        "<h1>scar loadgen: {}</h1><p class=\"meta\">run {} on {} · {} · started {} · {:.1} s</p>",
        escape(text(&report["scenario"])),
        escape(text(&report["run_id"])),
        escape(text(&report["server"])),
        escape(text(&report["mode"])),
        utc(started),
        number(&report["duration_seconds"])
    )
}

/// `2026-11-27 04:02:33 UTC` from Unix seconds.
fn utc(unix: f64) -> String {
    let seconds = unix.max(0.0) as i64;
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// The SLO verdict, first thing on the page.
fn verdict(report: &Json) -> String {
    let slo = &report["slo"];
    let probe_breaches = report["probe"]["slo"]["breaches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut breaches: Vec<String> = slo["breaches"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(probe_breaches.iter())
        .map(|b| {
            format!(
                "<li>{}</li>",
                escape(b["message"].as_str().unwrap_or(&b.to_string()))
            )
        })
        .collect();
    breaches.dedup();
    if slo["judged"] == Json::Bool(false) || report["interrupted"] == Json::Bool(true) {
        "<div class=\"verdict unjudged\">Interrupted: the run was stopped before its end, so its SLOs were not judged.</div>".to_string()
    } else if slo["passed"] == Json::Bool(true) && breaches.is_empty() {
        "<div class=\"verdict passed\">SLO passed: every phase stayed within its limits.</div>"
            .to_string()
    } else {
        breached(&breaches)
    }
}

/// The verdict of a breached run, each breach an `<li>`.
fn breached(breaches: &[String]) -> String {
    format!(
        "<div class=\"verdict breached\">SLO breached<ul>{}</ul></div>",
        breaches.join("")
    )
}

fn phase_table(report: &Json) -> String {
    let mut out = String::from("<table><tr><th>phase</th><th>verb</th><th>requests</th><th>completed</th><th>req/s</th><th>took s</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th><th>429</th><th>errors</th></tr>");
    for phase in phases(report) {
        let latency = &phase["latency_ms"]["corrected"];
        let series = phase["series"].as_array().cloned().unwrap_or_default();
        let sum = |key: &str| {
            series
                .iter()
                .map(|s| s[key].as_u64().unwrap_or(0))
                .sum::<u64>()
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td>{}<td>{}</td><td>{}</td></tr>",
            escape(text(&phase["name"])),
            escape(text(&phase["verb"])),
            phase["requests"],
            phase["completed"],
            number(&phase["achieved_rate"]),
            took(phase),
            latency_cells(latency),
            throttled(sum("throttled"), &phase["retried_outcomes"]["429"]),
            sum("errors")
        );
    }
    out.push_str("</table>");
    out
}

/// How long a phase ran (a rollout: until every Deployment was rolled
/// out), from its first send to its end.
fn took(phase: &Json) -> String {
    match (
        phase["started_seconds"].as_f64(),
        phase["finished_seconds"].as_f64(),
    ) {
        (Some(from), Some(to)) => format!("{:.1}", to - from),
        _ => "–".to_string(),
    }
}

/// What the run sent besides its phases: creating its namespace and
/// deleting it at the end.
fn setup_and_cleanup(report: &Json) -> String {
    let setup = &report["setup"];
    format!(
        "<ul><li>Setup: {} ({})</li>{}</ul>",
        requests(&setup["requests"]),
        code_counts(&setup["outcomes"]),
        cleanup_line(&report["cleanup"])
    )
}

/// `<li>Cleanup: done in 4 requests (200 ×3, 429 ×1)</li>`, and why it failed.
fn cleanup_line(cleanup: &Json) -> String {
    format!(
        "<li>Cleanup: {} in {} ({}){}</li>",
        if cleanup["ok"] == Json::Bool(true) {
            "done"
        } else {
            "failed"
        },
        requests(&cleanup["requests"]),
        code_counts(&cleanup["outcomes"]),
        cleanup["error"]
            .as_str()
            .map_or(String::new(), |e| format!(": {}", escape(e)))
    )
}

/// `1 request`, `4 requests`.
fn requests(count: &Json) -> String {
    match count.as_u64().unwrap_or(0) {
        1 => "1 request".to_string(),
        n => format!("{n} requests"),
    }
}

/// `200 ×9, 429 ×3` from `{"200": 9, "429": 3}`; `–` for none.
fn code_counts(codes: &Json) -> String {
    let listed: Vec<String> = codes
        .as_object()
        .into_iter()
        .flatten()
        .map(|(code, n)| format!("{} ×{n}", escape(code)))
        .collect();
    if listed.is_empty() {
        "–".to_string()
    } else {
        listed.join(", ")
    }
}

/// The 429s of a phase, and those the client retried (`--client-go`),
/// which the final outcomes do not show: `0 (+5 retried)`.
fn throttled(final_429s: u64, retried: &Json) -> String {
    match retried.as_u64().filter(|n| *n > 0) {
        Some(retried) => format!("{final_429s} (+{retried} retried)"),
        None => final_429s.to_string(),
    }
}

/// p50, p99 and max as table cells, in milliseconds.
fn latency_cells(latency: &Json) -> String {
    format!(
        "<td>{}</td><td>{}</td><td>{}</td>",
        ms(&latency["p50"]),
        ms(&latency["p99"]),
        ms(&latency["max"])
    )
}

/// A line through a report's percentiles (`{"p50": …, "p99": …}`) for a
/// percentile chart; `None` for no requests.
fn percentile_series(
    latency: &Json,
    name: &str,
    colour: &'static str,
    dashed: bool,
) -> Option<Series> {
    let points: Vec<(f64, f64)> = [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9)]
        .into_iter()
        .filter_map(|(key, percentile)| Some((percentile, latency[key].as_f64()?)))
        .collect();
    (!points.is_empty()).then(|| Series {
        name: name.to_string(),
        colour,
        style: Style::Line { dashed },
        points,
    })
}

fn ms(value: &Json) -> String {
    value
        .as_f64()
        .map_or("–".to_string(), |v| format!("{v:.1}"))
}

fn phases(report: &Json) -> impl Iterator<Item = &Json> {
    report["phases"].as_array().into_iter().flatten()
}

/// Phases (light, alternating) and the probe's error windows (red), for
/// every chart on the run's time axis.
fn time_bands(report: &Json) -> Vec<Band> {
    let mut bands: Vec<Band> = phases(report)
        .enumerate()
        .filter_map(|(i, phase)| {
            Some(Band {
                from: phase["started_seconds"].as_f64()?,
                to: phase["finished_seconds"].as_f64()?,
                label: format!("phase {}", text(&phase["name"])),
                // The phase's colour, as its latency and spectrum lines have.
                colour: PALETTE[i % PALETTE.len()],
            })
        })
        .collect();
    for window in report["probe"]["error_windows"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let (Some(from), Some(to)) = (
            window["start_seconds"].as_f64(),
            window["end_seconds"].as_f64(),
        ) {
            bands.push(Band {
                from,
                to,
                label: format!("probe errors ({})", window["count"]),
                colour: "#d62728",
            });
        }
    }
    bands
}

/// A series' bins as (number, entry), and how many seconds each spans:
/// `bin` × `bin_seconds` in reports that bin finer than a second, whole
/// `second`s in reports written before bins.
fn bins<'a>(holder: &'a Json, key: &str) -> impl Iterator<Item = (u64, &'a Json)> {
    holder[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| Some((entry["bin"].as_u64().or(entry["second"].as_u64())?, entry)))
}

fn bin_seconds(holder: &Json) -> f64 {
    holder["bin_seconds"]
        .as_f64()
        .filter(|width| *width > 0.0)
        .unwrap_or(1.0)
}

/// The width every series of a run shares (the run binned them alike).
fn run_bin_seconds(report: &Json) -> f64 {
    bin_seconds(phases(report).next().unwrap_or(&report["probe"]))
}

/// The run's bins, each outcome summed over the phases, as a rate.
fn outcomes_chart(report: &Json, bands: &[Band]) -> Option<Chart> {
    let width = run_bin_seconds(report);
    let mut by_bin: std::collections::BTreeMap<u64, [f64; 4]> = Default::default();
    for (bin, counts) in phases(report).flat_map(|p| bins(p, "series")) {
        let get = |key: &str| counts[key].as_f64().unwrap_or(0.0);
        let slot = by_bin.entry(bin).or_default();
        let (errors, server) = (get("errors"), get("server_errors"));
        slot[0] += get("completed") - get("throttled") - errors;
        slot[1] += get("throttled");
        slot[2] += server;
        slot[3] += errors - server;
    }
    let mut chart = Chart::new(
        "seconds from the run's start",
        "requests / second",
        XScale::Linear,
    );
    for (i, name) in ["2xx", "429", "5xx", "other errors"].iter().enumerate() {
        let points: Vec<(f64, f64)> = by_bin
            .iter()
            .map(|(bin, v)| ((*bin as f64 + 0.5) * width, v[i] / width))
            .collect();
        if points.iter().any(|p| p.1 > 0.0) || i == 0 {
            chart.series.push(Series {
                name: name.to_string(),
                colour: [PALETTE[2], PALETTE[1], PALETTE[3], PALETTE[7]][i],
                style: Style::Area,
                points,
            });
        }
    }
    on_the_timeline(&mut chart, report, bands);
    Some(chart)
}

/// One line per phase and percentile, in the phase's colour, so phases
/// that run at once stay apart; the probe's in black.
fn latency_chart(report: &Json, bands: &[Band]) -> Option<Chart> {
    let mut chart = Chart::new("seconds from the run's start", "ms", XScale::Linear);
    let mut lines: Vec<(String, &Json, &'static str)> = phases(report)
        .enumerate()
        .map(|(i, phase)| {
            (
                text(&phase["name"]).to_string(),
                phase,
                PALETTE[i % PALETTE.len()],
            )
        })
        .collect();
    if report["probe"]["latency_series"].is_array() {
        lines.push(("probe".to_string(), &report["probe"], "#222222"));
    }
    for (name, holder, colour) in lines {
        let width = bin_seconds(holder);
        for (quantile, dashed) in [("p99", false), ("p50", true)] {
            let mut points: Vec<(f64, f64)> = bins(holder, "latency_series")
                .filter_map(|(bin, s)| {
                    Some((
                        (bin as f64 + 0.5) * width,
                        s["corrected"][quantile].as_f64()?,
                    ))
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart.series.push(Series {
                name: format!("{name} {quantile}"),
                colour,
                style: Style::Line { dashed },
                points,
            });
        }
    }
    on_the_timeline(&mut chart, report, bands);
    (!chart.series.is_empty()).then_some(chart)
}

/// The run's time axis, shared by every chart over time on its page:
/// from its start to its end, in the run's bins drawn as steps.
fn on_the_timeline(chart: &mut Chart, report: &Json, bands: &[Band]) {
    chart.bands = bands.to_vec();
    chart.bin = Some(run_bin_seconds(report));
    let end = report["duration_seconds"]
        .as_f64()
        .or_else(|| report["probe"]["ended_seconds"].as_f64());
    chart.x_domain = end.filter(|end| *end > 0.0).map(|end| (0.0, end));
}

/// One line per phase (and per run, compared), corrected solid and raw
/// dashed for a single run.
fn spectrum_chart(runs: &[(&str, &Json)]) -> Option<Chart> {
    let mut chart = Chart::new("percentile", "ms", XScale::Percentile);
    for (phase_index, phase) in phases(runs[0].1).enumerate() {
        let name = text(&phase["name"]);
        for (run_index, (label, report)) in runs.iter().enumerate() {
            let Some(phase) = phases(report).find(|p| text(&p["name"]) == name) else {
                continue;
            };
            let tags: &[&str] = if runs.len() == 1 {
                &["corrected", "raw"]
            } else {
                &["corrected"]
            };
            for tag in tags {
                let points: Vec<(f64, f64)> = phase["latency_spectrum"][tag]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
                    .collect();
                chart.series.push(Series {
                    name: format!("{label}{name} ({}) {tag}", text(&phase["verb"])),
                    colour: PALETTE[phase_index % PALETTE.len()],
                    style: Style::Line {
                        dashed: *tag == "raw" || run_index == 1,
                    },
                    points,
                });
            }
        }
    }
    Some(chart)
}

fn retry_after_chart(report: &Json) -> Option<Chart> {
    let mut chart = Chart::new("Retry-After (seconds)", "429 responses", XScale::Linear);
    for (i, phase) in phases(report).enumerate() {
        let points: Vec<(f64, f64)> = phase["retry_after_seconds"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_f64()?)))
            .collect();
        if !points.is_empty() {
            chart.series.push(Series {
                name: text(&phase["name"]).to_string(),
                colour: PALETTE[i % PALETTE.len()],
                style: Style::Bars,
                points,
            });
        }
    }
    (!chart.series.is_empty()).then_some(chart)
}

fn probe_chart(report: &Json, bands: &[Band]) -> Option<Chart> {
    let probe = &report["probe"];
    probe["series"].as_array()?;
    let width = bin_seconds(probe);
    let mut chart = Chart::new(
        "seconds from the run's start",
        "responses / second",
        XScale::Linear,
    );
    let groups: [(&str, &[&str], &str); 4] = [
        ("2xx", &["2xx"], PALETTE[2]),
        ("502", &["502"], PALETTE[3]),
        ("503 / 504", &["503", "504"], PALETTE[1]),
        (
            "other errors",
            &[
                "other_status",
                "connection_refused",
                "connection_reset",
                "timeout",
                "other_error",
            ],
            PALETTE[7],
        ),
    ];
    for (i, (name, keys, colour)) in groups.iter().enumerate() {
        let points: Vec<(f64, f64)> = bins(probe, "series")
            .map(|(bin, counts)| {
                let y: f64 = keys
                    .iter()
                    .map(|k| counts[*k].as_f64().unwrap_or(0.0))
                    .sum();
                ((bin as f64 + 0.5) * width, y / width)
            })
            .collect();
        if points.iter().any(|p| p.1 > 0.0) || i == 0 {
            chart.series.push(Series {
                name: name.to_string(),
                colour,
                style: Style::Area,
                points,
            });
        }
    }
    on_the_timeline(&mut chart, report, bands);
    Some(chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_says_interrupted_passed_or_each_breach() {
        let interrupted = serde_json::json!({"interrupted": true, "slo": {"judged": false, "passed": null, "breaches": []}});
        assert!(verdict(&interrupted).contains("Interrupted"));
        let passed = serde_json::json!({"interrupted": false, "slo": {"judged": true, "passed": true, "breaches": []}});
        assert!(verdict(&passed).contains("SLO passed"));
        let breached = serde_json::json!({
            "interrupted": false,
            "slo": {"judged": true, "passed": false, "breaches": [{"message": "create: p99 <9 ms>"}]},
            "probe": {"slo": {"passed": false, "breaches": [{"message": "probe: 3 requests failed"}]}},
        });
        let html = verdict(&breached);
        assert!(
            html.contains("<li>create: p99 &lt;9 ms&gt;</li><li>probe: 3 requests failed</li>"),
            "{html}"
        );
        assert!(single(&serde_json::json!({"findings": []})).is_err());
        let lint_report = page_of(&serde_json::json!({"version": 1, "findings": []}));
        assert!(lint_report
            .unwrap_err()
            .contains("run`, `probe` or `replay`"));
    }

    #[test]
    fn the_phase_table_shows_the_429s_the_client_retried() {
        let report = serde_json::json!({"phases": [{
            "name": "create", "verb": "create", "requests": 6, "completed": 6,
            "achieved_rate": 3.0, "latency_ms": {"corrected": {"p50": 1.0, "p99": 2.0, "max": 3.0}},
            "series": [{"throttled": 0, "errors": 0}],
            "retried_outcomes": {"429": 5},
        }]});
        assert!(
            phase_table(&report).contains("<td>0 (+5 retried)</td>"),
            "{}",
            phase_table(&report)
        );
    }

    #[test]
    fn reports_written_before_bins_draw_in_one_second_steps() {
        let second = |s: u64| serde_json::json!({"second": s, "completed": 3, "throttled": 0, "errors": 0, "server_errors": 0});
        let report = serde_json::json!({
            "duration_seconds": 4.2,
            "phases": [{
                "name": "create", "started_seconds": 0.3, "finished_seconds": 2.1,
                "series": [second(0), second(1), second(2)],
                "latency_series": [{"second": 1, "corrected": {"p50": 2.0, "p99": 9.0}}],
            }],
            "probe": {"series": [{"second": 3, "2xx": 50}], "error_windows": []},
        });
        let bands = time_bands(&report);
        for chart in [
            outcomes_chart(&report, &bands),
            latency_chart(&report, &bands),
            probe_chart(&report, &bands),
        ] {
            let chart = chart.unwrap();
            assert_eq!(chart.x_domain, Some((0.0, 4.2)));
            assert_eq!(chart.bin, Some(1.0));
            assert!(chart.render().is_some());
        }
        let latency = latency_chart(&report, &bands).unwrap();
        let names: Vec<&str> = latency.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["create p99", "create p50"]);
    }

    #[test]
    fn a_short_run_draws_tenths_of_a_second_as_rates_with_the_probes_latency() {
        let bin = |b: u64| serde_json::json!({"bin": b, "completed": 3, "throttled": 1, "errors": 0, "server_errors": 0});
        let report = serde_json::json!({
            "duration_seconds": 2.0,
            "phases": [{
                "name": "burst", "started_seconds": 0.0, "finished_seconds": 0.45,
                "bin_seconds": 0.1,
                "series": [bin(0), bin(1), bin(4)],
                "latency_series": [{"bin": 2, "corrected": {"p50": 2.0, "p99": 9.0}}],
            }],
            "probe": {
                "bin_seconds": 0.1,
                "series": [{"bin": 7, "2xx": 5, "502": 2}],
                "latency_series": [{"bin": 7, "corrected": {"p50": 1.0, "p99": 3.0}}],
                "error_windows": [],
            },
        });
        let bands = time_bands(&report);
        let outcomes = outcomes_chart(&report, &bands).unwrap();
        assert_eq!(outcomes.bin, Some(0.1));
        let throttled = outcomes.series.iter().find(|s| s.name == "429").unwrap();
        let at = |x: f64, y: f64| (x, y);
        for ((x, y), (want_x, want_y)) in
            throttled
                .points
                .iter()
                .zip([at(0.05, 10.0), at(0.15, 10.0), at(0.45, 10.0)])
        {
            assert!(
                (x - want_x).abs() < 1e-9 && (y - want_y).abs() < 1e-9,
                "{:?}",
                throttled.points
            );
        }
        let probe = probe_chart(&report, &bands).unwrap();
        let bad_gateway = probe.series.iter().find(|s| s.name == "502").unwrap();
        assert!(
            (bad_gateway.points[0].0 - 0.75).abs() < 1e-9
                && (bad_gateway.points[0].1 - 20.0).abs() < 1e-9
        );
        let latency = latency_chart(&report, &bands).unwrap();
        let names: Vec<&str> = latency.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["burst p99", "burst p50", "probe p99", "probe p50"]);
        assert!((latency.series[2].points[0].0 - 0.75).abs() < 1e-9);
    }

    #[test]
    fn dates_read_as_utc() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_795_749_753.0), "2026-11-27 03:22:33 UTC");
        assert_eq!(utc(951_782_400.0), "2000-02-29 00:00:00 UTC");
    }
}
