//! Two runs side by side: each phase's figures with their deltas, and
//! whether a difference stands out of the run-to-run noise.
//!
//! - A figure the scenario's SLO limits (p99, the 429 and error ratios) is
//!   worse when B breaches where A did not, and better the other way,
//!   whatever the noise: crossing the SLO is what a user acts on.
//! - 429 and error shares are counts: Fisher's exact test on the two runs'
//!   counts (two-sided, 5 %) says whether they differ.
//! - Latency figures are read from whole distributions: a two-sample
//!   Kolmogorov–Smirnov test on the runs' percentile spectra (5 %), so a
//!   burst of a second gets a verdict too.
//! - Requests/s of a phase of three whole seconds or more is noise when it
//!   lies within the middle 80 % of the other run's seconds; for a shorter
//!   phase (a burst) the rate follows from how long its requests took, so
//!   it takes the latency verdict.
//!
//! Runs of different scenarios, servers or vars (`scale`) are compared all
//! the same, and the page says so above the table.

use std::fmt::Write as _;

use serde_json::Value as Json;

use super::svg::{escape, Chart, Series, Style, XScale, PALETTE};
use super::{bin_seconds, bins, number, phases, text};

/// Which way is worse.
#[derive(Clone, Copy)]
enum Worse {
    Higher,
    Lower,
}

/// How a figure's difference is judged.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Test {
    /// Per-second spread (a burst: the latency verdict).
    Spread,
    /// The whole latency distributions.
    Distribution,
    /// Counts of this per-second key (`throttled`, `errors`) among completed.
    Counts(&'static str),
}

struct Figure {
    name: &'static str,
    worse: Worse,
    test: Test,
    /// The SLO limit on this figure (`Breach::limit`), if any.
    slo_limit: Option<&'static str>,
    /// The phase's figure.
    overall: fn(&Json) -> Option<f64>,
    /// The same figure second by second.
    per_second: fn(&Json) -> Vec<f64>,
}

const FIGURES: [Figure; 6] = [
    Figure {
        name: "requests/s",
        worse: Worse::Lower,
        test: Test::Spread,
        slo_limit: None,
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
        test: Test::Distribution,
        slo_limit: None,
        overall: |p| p["latency_ms"]["corrected"]["p50"].as_f64(),
        per_second: |p| latency_seconds(p, "p50"),
    },
    Figure {
        name: "p99 ms",
        worse: Worse::Higher,
        test: Test::Distribution,
        slo_limit: Some("p99"),
        overall: |p| p["latency_ms"]["corrected"]["p99"].as_f64(),
        per_second: |p| latency_seconds(p, "p99"),
    },
    Figure {
        name: "max ms",
        worse: Worse::Higher,
        test: Test::Distribution,
        slo_limit: None,
        overall: |p| p["latency_ms"]["corrected"]["max"].as_f64(),
        per_second: |p| latency_seconds(p, "max"),
    },
    Figure {
        name: "429 %",
        worse: Worse::Higher,
        test: Test::Counts("throttled"),
        slo_limit: Some("429_ratio"),
        overall: |p| share(&all_seconds(p), "throttled"),
        per_second: |p| shares(p, "throttled"),
    },
    Figure {
        name: "error %",
        worse: Worse::Higher,
        test: Test::Counts("errors"),
        slo_limit: Some("error_ratio"),
        overall: |p| share(&all_seconds(p), "errors"),
        per_second: |p| shares(p, "errors"),
    },
];

/// The phase's counts second by second, its bins (tenths of a second in
/// runs under a minute) summed: `{"second", "completed", "throttled",
/// "errors"}`.
fn all_seconds(phase: &Json) -> Vec<Json> {
    let width = bin_seconds(phase);
    let mut seconds: std::collections::BTreeMap<u64, [u64; 3]> = Default::default();
    for (bin, counts) in bins(phase, "series") {
        // The bin's centre: its start can land a hair below a whole second.
        let second = ((bin as f64 + 0.5) * width).floor() as u64;
        let sums = seconds.entry(second).or_default();
        for (sum, key) in sums.iter_mut().zip(["completed", "throttled", "errors"]) {
            *sum += counts[key].as_u64().unwrap_or(0);
        }
    }
    seconds
        .into_iter()
        .map(|(second, [completed, throttled, errors])| {
            serde_json::json!({"second": second, "completed": completed, "throttled": throttled, "errors": errors})
        })
        .collect()
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

/// The significance level of the tests.
const ALPHA: f64 = 0.05;

/// A phase of a run, with whether that run's SLO judged it breached on a
/// limit.
struct Side<'r> {
    phase: &'r Json,
    report: &'r Json,
}

impl Side<'_> {
    fn breached(&self, limit: &str) -> bool {
        let name = &self.phase["name"];
        self.report["slo"]["breaches"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|b| &b["phase"] == name && b["limit"] == limit)
    }

    fn sum(&self, key: &str) -> u64 {
        all_seconds(self.phase)
            .iter()
            .map(|s| s[key].as_u64().unwrap_or(0))
            .sum()
    }
}

/// How B's figure compares with A's: the CSS class and the words.
fn judge(figure: &Figure, a: &Side<'_>, b: &Side<'_>) -> (&'static str, String) {
    let (Some(va), Some(vb)) = ((figure.overall)(a.phase), (figure.overall)(b.phase)) else {
        return ("", "–".to_string());
    };
    let direction = |differs: bool, why: String| -> (&'static str, String) {
        let worse = match figure.worse {
            Worse::Higher => vb > va,
            Worse::Lower => vb < va,
        };
        match (differs, worse) {
            (false, _) => ("noise", format!("within noise{why}")),
            (true, true) => ("worse", format!("worse{why}")),
            (true, false) => ("better", format!("better{why}")),
        }
    };
    if let Some(limit) = figure.slo_limit {
        match (a.breached(limit), b.breached(limit)) {
            (false, true) => return ("worse", "worse: B breaches the SLO".to_string()),
            (true, false) => return ("better", "better: B meets the SLO".to_string()),
            _ => {}
        }
    }
    if (va - vb).abs() < 1e-9 {
        return ("noise", "same".to_string());
    }
    match figure.test {
        Test::Counts(key) => {
            let (n_a, n_b) = (a.sum("completed"), b.sum("completed"));
            let p = fisher_exact(a.sum(key), n_a, b.sum(key), n_b);
            direction(p < ALPHA, format!(" (p = {})", p_value(p)))
        }
        Test::Distribution => match distributions_differ(a.phase, b.phase) {
            Some(differs) => direction(differs, " (whole distribution)".to_string()),
            None => ("noise", "too few requests to tell".to_string()),
        },
        Test::Spread => {
            match (
                spread((figure.per_second)(a.phase)),
                spread((figure.per_second)(b.phase)),
            ) {
                (Some(spread_a), Some(spread_b)) => {
                    let inside = |value: f64, (lo, hi): (f64, f64)| (lo..=hi).contains(&value);
                    let noise = inside(vb, spread_a) || inside(va, spread_b);
                    direction(!noise, String::new())
                }
                // A burst's rate follows from how long its requests took.
                _ => match distributions_differ(a.phase, b.phase) {
                    Some(differs) => direction(differs, " (burst: by its latency)".to_string()),
                    None => ("noise", "too few requests to tell".to_string()),
                },
            }
        }
    }
}

fn p_value(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".to_string()
    } else {
        format!("{p:.3}")
    }
}

/// Fisher's exact test, two-sided: the chance of counts at least as far
/// from even as `k_a` of `n_a` against `k_b` of `n_b`, were both runs the
/// same.
fn fisher_exact(k_a: u64, n_a: u64, k_b: u64, n_b: u64) -> f64 {
    let (k_a, k_b) = (k_a.min(n_a), k_b.min(n_b));
    let (n, k) = (n_a + n_b, k_a + k_b);
    if n == 0 {
        return 1.0;
    }
    // ln(i!) for i up to n.
    let mut ln_factorial = Vec::with_capacity(n as usize + 1);
    ln_factorial.push(0.0_f64);
    for i in 1..=n {
        let previous = ln_factorial[i as usize - 1];
        ln_factorial.push(previous + (i as f64).ln());
    }
    let ln_choose = |a: u64, b: u64| {
        ln_factorial[a as usize] - ln_factorial[b as usize] - ln_factorial[(a - b) as usize]
    };
    let probability =
        |x: u64| (ln_choose(k, x) + ln_choose(n - k, n_a - x) - ln_choose(n, n_a)).exp();
    let observed = probability(k_a);
    let low = k.saturating_sub(n_b);
    let high = k.min(n_a);
    (low..=high)
        .map(probability)
        .filter(|p| *p <= observed * (1.0 + 1e-7))
        .sum::<f64>()
        .min(1.0)
}

/// Whether two phases' latency distributions differ: the two-sample
/// Kolmogorov–Smirnov test on their percentile spectra (`[percentile,
/// ms]` points) at 5 %. `None` with fewer than 5 requests in either.
fn distributions_differ(a: &Json, b: &Json) -> Option<bool> {
    let spectrum = |phase: &Json| -> Vec<(f64, f64)> {
        phase["latency_spectrum"]["corrected"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|point| Some((point[1].as_f64()?, point[0].as_f64()? / 100.0)))
            .collect()
    };
    let (sa, sb) = (spectrum(a), spectrum(b));
    let (n, m) = (
        number(&a["completed"]).max(0.0),
        number(&b["completed"]).max(0.0),
    );
    if sa.is_empty() || sb.is_empty() || n < 5.0 || m < 5.0 {
        return None;
    }
    // The share of requests at or under `ms`: the spectrum's points joined
    // by straight lines (a step between them would make two close runs
    // look apart wherever one has a point the other lacks).
    let cdf = |spectrum: &[(f64, f64)], ms: f64| {
        let below = spectrum.iter().rev().find(|(value, _)| *value <= ms);
        let above = spectrum.iter().find(|(value, _)| *value > ms);
        match (below, above) {
            (None, _) => 0.0,
            (Some((_, share)), None) => *share,
            (Some((v0, s0)), Some((v1, s1))) => s0 + (s1 - s0) * (ms - v0) / (v1 - v0),
        }
    };
    let d = sa
        .iter()
        .chain(&sb)
        .map(|(ms, _)| (cdf(&sa, *ms) - cdf(&sb, *ms)).abs())
        .fold(0.0, f64::max);
    // c(α) for α = 5 %.
    let critical = 1.358 * ((n + m) / (n * m)).sqrt();
    Some(d > critical)
}

/// What the two runs do not share: scenario, server, mode or vars.
fn differences(a: &Json, b: &Json) -> Vec<String> {
    let mut notes = Vec::new();
    for (key, what) in [
        ("scenario", "scenario"),
        ("server", "server"),
        ("mode", "mode"),
    ] {
        if a[key] != b[key] {
            notes.push(format!("{what}: {} / {}", text(&a[key]), text(&b[key])));
        }
    }
    let (vars_a, vars_b) = (
        a["vars"].as_object().cloned().unwrap_or_default(),
        b["vars"].as_object().cloned().unwrap_or_default(),
    );
    let mut names: Vec<&String> = vars_a.keys().chain(vars_b.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let (va, vb) = (vars_a.get(name), vars_b.get(name));
        if va != vb {
            let shown = |v: Option<&Json>| v.map_or("unset".to_string(), |v| text(v).to_string());
            notes.push(format!("{name}: {} / {}", shown(va), shown(vb)));
        }
    }
    notes
}

/// Per phase present in both runs: A, B, the change, and its verdict.
pub fn table(a: &Json, b: &Json) -> String {
    let mut out = String::new();
    let notes = differences(a, b);
    if !notes.is_empty() {
        let _ = write!(
            out,
            "<p class=\"differ\">The runs differ, so differences may not be the change's alone: {}.</p>",
            escape(&notes.join("; "))
        );
    }
    out.push_str("<table><tr><th>phase</th><th>figure</th><th>A</th><th>B</th><th>change</th><th>B against A</th></tr>");
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
            let (class, verdict) = judge(
                figure,
                &Side {
                    phase: phase_a,
                    report: a,
                },
                &Side {
                    phase: phase_b,
                    report: b,
                },
            );
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{change}</td><td class=\"{class}\">{verdict}</td></tr>",
                escape(name),
                figure.name,
                shown(va),
                shown(vb),
                verdict = escape(&verdict)
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
        let width = bin_seconds(phase);
        bins(phase, "latency_series")
            .filter_map(|(bin, s)| {
                Some(((bin as f64 + 0.5) * width, s["corrected"]["p99"].as_f64()?))
            })
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

    /// A phase whose seconds each have these p99s, 100 requests a second.
    fn phase(p99: f64, seconds_p99: &[f64]) -> Json {
        json!({
            "name": "create",
            "achieved_rate": 100.0,
            "completed": 100 * seconds_p99.len(),
            "latency_ms": {"corrected": {"p50": 10.0, "p99": p99, "max": p99 * 2.0}},
            "latency_spectrum": {"corrected": [[0.0, 1.0], [50.0, 10.0], [99.0, p99], [100.0, p99 * 2.0]]},
            "latency_series": seconds_p99.iter().enumerate().map(|(i, v)| json!({"second": i, "corrected": {"p50": 10.0, "p99": v, "max": v * 2.0}})).collect::<Vec<_>>(),
            "series": (0..seconds_p99.len()).map(|i| json!({"second": i, "completed": 100, "throttled": 0, "errors": 0})).collect::<Vec<_>>(),
        })
    }

    fn run(phase: Json, breaches: Json) -> Json {
        json!({"scenario": "s", "server": "https://k", "mode": "direct", "vars": {"scale": "15"},
               "phases": [phase], "slo": {"judged": true, "breaches": breaches}})
    }

    fn verdict(figure: usize, a: &Json, b: &Json) -> (&'static str, String) {
        let side =
            |report: &Json| -> (Json, Json) { (report["phases"][0].clone(), report.clone()) };
        let ((pa, ra), (pb, rb)) = (side(a), side(b));
        judge(
            &FIGURES[figure],
            &Side {
                phase: &pa,
                report: &ra,
            },
            &Side {
                phase: &pb,
                report: &rb,
            },
        )
    }

    #[test]
    fn throughput_inside_either_runs_spread_is_noise_and_outside_it_a_change() {
        let steady = |rates: &[u64]| {
            let mut p = phase(50.0, &[50.0; 5]);
            p["achieved_rate"] = json!(rates[2] as f64);
            p["series"] = json!(rates
                .iter()
                .enumerate()
                .map(|(i, r)| json!({"second": i, "completed": r, "throttled": 0, "errors": 0}))
                .collect::<Vec<_>>());
            run(p, json!([]))
        };
        let a = steady(&[100, 95, 100, 105, 100]);
        let close = steady(&[100, 98, 102, 99, 100]);
        assert_eq!(verdict(0, &a, &close).1, "within noise");
        let slower = steady(&[60, 58, 60, 62, 60]);
        assert_eq!(verdict(0, &a, &slower), ("worse", "worse".to_string()));
    }

    #[test]
    fn tenths_of_a_second_are_judged_as_whole_seconds() {
        let phase = json!({
            "bin_seconds": 0.1,
            "series": (0..30).map(|bin| json!({"bin": bin, "completed": 10 + bin / 10, "throttled": 0, "errors": 0})).collect::<Vec<_>>(),
        });
        let seconds: Vec<(u64, u64)> = all_seconds(&phase)
            .iter()
            .map(|s| {
                (
                    s["second"].as_u64().unwrap(),
                    s["completed"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(seconds, [(0, 100), (1, 110), (2, 120)]);
    }

    #[test]
    fn latency_is_judged_on_whole_distributions_so_a_burst_gets_a_verdict() {
        let fast = run(phase(50.0, &[50.0]), json!([]));
        let mut slow_phase = phase(900.0, &[900.0]);
        slow_phase["latency_spectrum"]["corrected"] =
            json!([[0.0, 400.0], [50.0, 600.0], [99.0, 900.0], [100.0, 1800.0]]);
        let slow = run(slow_phase, json!([]));
        assert_eq!(verdict(2, &fast, &slow).0, "worse");
        assert_eq!(verdict(2, &slow, &fast).0, "better");
        // A one-second burst's rate takes the latency verdict.
        let mut quick = fast.clone();
        quick["phases"][0]["achieved_rate"] = json!(300.0);
        assert_eq!(
            verdict(0, &slow, &quick),
            ("better", "better (burst: by its latency)".to_string())
        );
        let same_shape = run(phase(52.0, &[52.0]), json!([]));
        assert_eq!(
            verdict(2, &fast, &same_shape).1,
            "within noise (whole distribution)"
        );
    }

    #[test]
    fn shares_are_judged_on_counts_and_crossing_the_slo_is_never_noise() {
        let with_429s = |throttled: u64, breaches: Json| {
            let mut p = phase(50.0, &[50.0; 10]);
            p["series"][3]["throttled"] = json!(throttled);
            run(p, breaches)
        };
        let none = with_429s(0, json!([]));
        let twenty = with_429s(20, json!([]));
        let (class, words) = verdict(4, &none, &twenty);
        assert_eq!((class, words.as_str()), ("worse", "worse (p = < 0.001)"));
        let one = with_429s(1, json!([]));
        let two = with_429s(2, json!([]));
        assert!(
            verdict(4, &one, &two).1.starts_with("within noise (p = "),
            "{:?}",
            verdict(4, &one, &two)
        );
        // 0 → 2 % 429s that breach the scenario's SLO: acted on, not noise.
        let breached = with_429s(2, json!([{"phase": "create", "limit": "429_ratio"}]));
        assert_eq!(
            verdict(4, &none, &breached),
            ("worse", "worse: B breaches the SLO".to_string())
        );
        assert_eq!(
            verdict(4, &breached, &none),
            ("better", "better: B meets the SLO".to_string())
        );
    }

    #[test]
    fn fisher_matches_the_textbook_tea_tasting() {
        // Fisher's lady tasting tea: 3 of 4 right against 1 of 4, p = 0.486.
        assert!((fisher_exact(3, 4, 1, 4) - 0.4857).abs() < 1e-3);
        assert!((fisher_exact(0, 10, 0, 10) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_table_says_when_runs_differ_in_scenario_server_or_vars() {
        let a = run(phase(50.0, &[50.0; 5]), json!([]));
        let mut b = a.clone();
        assert!(!table(&a, &b).contains("The runs differ"));
        b["vars"] = json!({"scale": "300"});
        b["server"] = json!("https://staging");
        let html = table(&a, &b);
        assert!(html.contains("The runs differ"), "{html}");
        assert!(
            html.contains("server: https://k / https://staging"),
            "{html}"
        );
        assert!(html.contains("; scale: 15 / 300."), "{html}");
    }
}
