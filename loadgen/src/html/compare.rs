//! Two runs side by side: each phase's figures with their deltas, and
//! whether a difference stands out of the run-to-run noise. The noise is
//! what the per-second intervals show: a figure of one run that falls
//! within the middle 80 % of the other run's seconds (10th to 90th
//! percentile) is marked as noise, not as a regression; a phase of fewer
//! than three whole seconds shows no spread, and is too short to tell.

use std::fmt::Write as _;

use serde_json::Value as Json;

use super::svg::{escape, Chart, Series, Style, XScale, PALETTE};
use super::{number, phases, text};

/// Which way is worse.
#[derive(Clone, Copy)]
enum Worse {
    Higher,
    Lower,
}

struct Figure {
    name: &'static str,
    worse: Worse,
    /// The phase's figure.
    overall: fn(&Json) -> Option<f64>,
    /// The same figure second by second.
    per_second: fn(&Json) -> Vec<f64>,
}

const FIGURES: [Figure; 6] = [
    Figure {
        name: "requests/s",
        worse: Worse::Lower,
        overall: |p| p["achieved_rate"].as_f64(),
        per_second: |p| {
            inner_seconds(p)
                .iter()
                .map(|s| number(&s["completed"]))
                .collect()
        },
    },
    Figure {
        name: "p50 ms",
        worse: Worse::Higher,
        overall: |p| p["latency_ms"]["corrected"]["p50"].as_f64(),
        per_second: |p| latency_seconds(p, "p50"),
    },
    Figure {
        name: "p99 ms",
        worse: Worse::Higher,
        overall: |p| p["latency_ms"]["corrected"]["p99"].as_f64(),
        per_second: |p| latency_seconds(p, "p99"),
    },
    Figure {
        name: "max ms",
        worse: Worse::Higher,
        overall: |p| p["latency_ms"]["corrected"]["max"].as_f64(),
        per_second: |p| latency_seconds(p, "max"),
    },
    Figure {
        name: "429 %",
        worse: Worse::Higher,
        overall: |p| share(&all_seconds(p), "throttled"),
        per_second: |p| shares(p, "throttled"),
    },
    Figure {
        name: "error %",
        worse: Worse::Higher,
        overall: |p| share(&all_seconds(p), "errors"),
        per_second: |p| shares(p, "errors"),
    },
];

fn all_seconds(phase: &Json) -> Vec<Json> {
    phase["series"].as_array().cloned().unwrap_or_default()
}

/// The phase's whole seconds: its first and last are cut short by its
/// start and end.
fn inner_seconds(phase: &Json) -> Vec<Json> {
    let seconds = all_seconds(phase);
    if seconds.len() > 2 {
        seconds[1..seconds.len() - 1].to_vec()
    } else {
        seconds
    }
}

fn latency_seconds(phase: &Json, quantile: &str) -> Vec<f64> {
    phase["latency_series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["corrected"][quantile].as_f64())
        .collect()
}

fn share(seconds: &[Json], key: &str) -> Option<f64> {
    let completed: f64 = seconds.iter().map(|s| number(&s["completed"])).sum();
    (completed > 0.0)
        .then(|| 100.0 * seconds.iter().map(|s| number(&s[key])).sum::<f64>() / completed)
}

fn shares(phase: &Json, key: &str) -> Vec<f64> {
    inner_seconds(phase)
        .iter()
        .filter_map(|s| share(std::slice::from_ref(s), key))
        .collect()
}

/// The 10th and 90th percentiles of a run's seconds; `None` with fewer
/// than three seconds, too few to call anything noise.
fn spread(mut values: Vec<f64>) -> Option<(f64, f64)> {
    if values.len() < 3 {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at =
        |q: f64| values[((q * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)];
    Some((at(0.1), at(0.9)))
}

/// How B's figure compares with A's.
fn judge(figure: &Figure, a: &Json, b: &Json) -> (&'static str, &'static str) {
    let (Some(va), Some(vb)) = ((figure.overall)(a), (figure.overall)(b)) else {
        return ("", "–");
    };
    if (va - vb).abs() < 1e-9 {
        return ("noise", "same");
    }
    let (Some(spread_a), Some(spread_b)) = (
        spread((figure.per_second)(a)),
        spread((figure.per_second)(b)),
    ) else {
        return ("noise", "too short to tell");
    };
    let inside = |value: f64, (lo, hi): (f64, f64)| (lo..=hi).contains(&value);
    if inside(vb, spread_a) || inside(va, spread_b) {
        return ("noise", "within noise");
    }
    let worse = match figure.worse {
        Worse::Higher => vb > va,
        Worse::Lower => vb < va,
    };
    if worse {
        ("worse", "worse")
    } else {
        ("better", "better")
    }
}

/// Per phase present in both runs: A, B, the change, and its verdict.
pub fn table(a: &Json, b: &Json) -> String {
    let mut out = String::from("<table><tr><th>phase</th><th>figure</th><th>A</th><th>B</th><th>change</th><th>B against A</th></tr>");
    for phase_a in phases(a) {
        let name = text(&phase_a["name"]);
        let Some(phase_b) = phases(b).find(|p| text(&p["name"]) == name) else {
            let _ = write!(
                out,
                "<tr><td>{}</td><td colspan=\"5\">only in A</td></tr>",
                escape(name)
            );
            continue;
        };
        for figure in &FIGURES {
            let (va, vb) = ((figure.overall)(phase_a), (figure.overall)(phase_b));
            let change = match (va, vb) {
                (Some(va), Some(vb)) if va.abs() > 1e-9 => {
                    format!("{:+.1} ({:+.0} %)", vb - va, (vb - va) / va * 100.0)
                }
                (Some(va), Some(vb)) => format!("{:+.1}", vb - va),
                _ => "–".to_string(),
            };
            let (class, verdict) = judge(figure, phase_a, phase_b);
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{change}</td><td class=\"{class}\">{verdict}</td></tr>",
                escape(name),
                figure.name,
                shown(va),
                shown(vb)
            );
        }
    }
    for phase_b in phases(b).filter(|p| phases(a).all(|pa| pa["name"] != p["name"])) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td colspan=\"5\">only in B</td></tr>",
            escape(text(&phase_b["name"]))
        );
    }
    out.push_str("</table>");
    out
}

fn shown(value: Option<f64>) -> String {
    value.map_or("–".to_string(), |v| format!("{v:.1}"))
}

fn overlay(
    a: &Json,
    b: &Json,
    y_label: &str,
    points: fn(&Json) -> Vec<(f64, f64)>,
) -> Option<Chart> {
    let mut chart = Chart::new("seconds from the run's start", y_label, XScale::Linear);
    for (i, phase_a) in phases(a).enumerate() {
        let name = text(&phase_a["name"]);
        for (label, report, dashed) in [("A", a, false), ("B", b, true)] {
            if let Some(phase) = phases(report).find(|p| text(&p["name"]) == name) {
                chart.series.push(Series {
                    name: format!("{label} {name}"),
                    colour: PALETTE[i % PALETTE.len()],
                    style: Style::Line { dashed },
                    points: points(phase),
                });
            }
        }
    }
    Some(chart)
}

pub fn latency_chart(a: &Json, b: &Json) -> Option<Chart> {
    overlay(a, b, "p99 ms", |phase| {
        phase["latency_series"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| Some((s["second"].as_f64()? + 0.5, s["corrected"]["p99"].as_f64()?)))
            .collect()
    })
}

pub fn throughput_chart(a: &Json, b: &Json) -> Option<Chart> {
    overlay(a, b, "requests / second", |phase| {
        all_seconds(phase)
            .iter()
            .map(|s| (number(&s["second"]) + 0.5, number(&s["completed"])))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn phase(p99: f64, seconds_p99: &[f64]) -> Json {
        json!({
            "name": "create",
            "achieved_rate": 100.0,
            "latency_ms": {"corrected": {"p50": 10.0, "p99": p99, "max": p99 * 2.0}},
            "latency_series": seconds_p99.iter().enumerate().map(|(i, v)| json!({"second": i, "corrected": {"p50": 10.0, "p99": v, "max": v * 2.0}})).collect::<Vec<_>>(),
            "series": (0..seconds_p99.len()).map(|i| json!({"second": i, "completed": 100, "throttled": 0, "errors": 0})).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn a_difference_inside_either_runs_spread_is_noise_and_outside_it_a_regression() {
        let p99 = &FIGURES[2];
        let a = phase(50.0, &[40.0, 45.0, 50.0, 55.0, 60.0]);
        let within = phase(58.0, &[50.0, 55.0, 58.0, 60.0, 66.0]);
        assert_eq!(judge(p99, &a, &within), ("noise", "within noise"));
        let slower = phase(90.0, &[85.0, 88.0, 90.0, 92.0, 95.0]);
        assert_eq!(judge(p99, &a, &slower), ("worse", "worse"));
        assert_eq!(judge(p99, &slower, &a), ("better", "better"));
        let short = phase(90.0, &[90.0]);
        assert_eq!(judge(p99, &a, &short), ("noise", "too short to tell"));
        let html = table(&json!({"phases": [a]}), &json!({"phases": [slower]}));
        assert!(html.contains("<td>p99 ms</td><td>50.0</td><td>90.0</td><td>+40.0 (+80 %)</td><td class=\"worse\">worse</td>"), "{html}");
    }
}
