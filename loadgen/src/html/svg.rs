//! Charts as inline SVG: no script, no fetch, nothing but the page itself.
//! A chart has a linear or percentile x axis, a linear y axis, lines,
//! stacked areas or bars, and shaded x ranges (phases, error windows).

use std::collections::HashMap;
use std::fmt::Write as _;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// Colours that stay apart for the usual colour blindnesses (Okabe–Ito).
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
];

#[derive(Clone, Copy, PartialEq)]
pub enum XScale {
    Linear,
    /// HdrHistogram's percentile axis: 1 / (1 - p), logarithmic, so that
    /// 90 %, 99 %, 99.9 % stand equally apart.
    Percentile,
}

pub enum Style {
    Line {
        dashed: bool,
    },
    /// Stacked on the areas before it.
    Area,
    Bars,
}

pub struct Series {
    pub name: String,
    pub colour: &'static str,
    pub style: Style,
    pub points: Vec<(f64, f64)>,
}

/// A shaded stretch of the x axis.
#[derive(Clone)]
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub label: String,
    pub colour: &'static str,
}

pub struct Chart {
    pub x_label: String,
    pub y_label: String,
    pub x_scale: XScale,
    pub series: Vec<Series>,
    pub bands: Vec<Band>,
    /// The x axis's range when several charts of a page share one time
    /// axis; otherwise it spans the data.
    pub x_domain: Option<(f64, f64)>,
    /// Each point of a line or area stands for a bin this wide, centred on
    /// it: drawn as a step (flat across its bin), never interpolated
    /// between bins.
    pub bin: Option<f64>,
}

impl Chart {
    pub fn new(x_label: &str, y_label: &str, x_scale: XScale) -> Chart {
        Chart {
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            x_scale,
            series: Vec::new(),
            bands: Vec::new(),
            x_domain: None,
            bin: None,
        }
    }

    /// The (x, y) corners a series is drawn through: its points, or with
    /// bins, each point flat across its bin. An empty bin between two is
    /// zero for an area; for a line, a break (a NaN corner).
    fn outline(&self, points: &[(f64, f64)], gaps_are_zero: bool) -> Vec<(f64, f64)> {
        let Some(bin) = self.bin else {
            return points.to_vec();
        };
        let half = bin / 2.0;
        let mut corners: Vec<(f64, f64)> = Vec::with_capacity(points.len() * 2);
        for &(x, y) in points {
            // A bin with nothing in it is nothing, not the slope between
            // its neighbours.
            if let Some(&(end, _)) = corners.last() {
                if x - half > end + 1e-9 {
                    if gaps_are_zero {
                        corners.push((end, 0.0));
                        corners.push((x - half, 0.0));
                    } else {
                        corners.push((f64::NAN, f64::NAN));
                    }
                }
            }
            corners.push((x - half, y));
            corners.push((x + half, y));
        }
        // The last bin of a run that ended within a second stops at its end.
        if let Some((from, to)) = self.x_domain {
            for corner in corners.iter_mut().filter(|c| !c.0.is_nan()) {
                corner.0 = corner.0.clamp(from, to);
            }
        }
        corners
    }

    fn x_of(&self, x: f64) -> f64 {
        match self.x_scale {
            XScale::Linear => x,
            XScale::Percentile => (1.0 / (1.0 - (x / 100.0).min(0.999_999_9))).log10(),
        }
    }

    /// The chart's SVG; `None` when it has nothing to draw.
    pub fn render(&self) -> Option<String> {
        let mut stacked = self.stacked_points();
        // Latency past two seconds reads better in seconds.
        let mut y_label = self.y_label.as_str();
        let highest = stacked
            .iter()
            .flat_map(|(_, points)| points.iter())
            .fold(0.0, |top: f64, &(_, y)| top.max(y));
        if y_label == "ms" && highest > 2_000.0 {
            y_label = "s";
            for (_, points) in &mut stacked {
                points.iter_mut().for_each(|point| point.1 /= 1_000.0);
            }
        }
        let all = || stacked.iter().flat_map(|(_, points)| points.iter());
        all().next()?;
        // A spectrum ends at the last percentile its requests resolve, not
        // at the 100 % of its maximum, which it draws at the edge.
        let below_100 = all().any(|(x, _)| *x < 100.0);
        let resolved = |x: f64| self.x_scale == XScale::Linear || x < 100.0 || !below_100;
        let xs = all()
            .filter(|(x, _)| resolved(*x))
            .map(|&(x, _)| self.x_of(x))
            .chain(
                self.bands
                    .iter()
                    .flat_map(|b| [self.x_of(b.from), self.x_of(b.to)]),
            );
        let (mut x_min, mut x_max) = match self.x_domain {
            Some((from, to)) => (self.x_of(from), self.x_of(to)),
            None => {
                let (low, high) = bounds(xs);
                let half = self.bin.unwrap_or(0.0) / 2.0;
                (low - half, high + half)
            }
        };
        let bars = self.series.iter().any(|s| matches!(s.style, Style::Bars));
        if bars {
            x_min -= 0.5;
            x_max += 0.5;
        }
        if x_max <= x_min {
            x_max = x_min + 1.0;
        }
        // A little headroom, so that a flat top does not run into the frame.
        let y_max = nice_ceiling(all().map(|&(_, y)| y).fold(0.0, f64::max) * 1.05);
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let sx = |x: f64| LEFT + (self.x_of(x).min(x_max) - x_min) / (x_max - x_min) * plot_w;
        let sx_scaled = |scaled: f64| LEFT + (scaled - x_min) / (x_max - x_min) * plot_w;
        let sy = |y: f64| TOP + plot_h - y / y_max * plot_h;

        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg">"#
        );
        for band in &self.bands {
            let (a, b) = (sx(band.from), sx(band.to).max(sx(band.from) + 1.5));
            let _ = write!(
                svg,
                r#"<rect class="band" x="{a:.1}" y="{TOP}" width="{:.1}" height="{plot_h}" fill="{}" fill-opacity="0.18"><title>{}</title></rect>"#,
                b - a,
                band.colour,
                escape(&band.label)
            );
        }
        // Axes, grid and ticks.
        for tick in linear_ticks(0.0, y_max) {
            let y = sy(tick);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                number(tick)
            );
        }
        let x_ticks: Vec<(f64, String)> = match self.x_scale {
            XScale::Linear if bars => (x_min.ceil() as i64..=x_max.floor() as i64)
                .map(|v| (v as f64, number(v as f64)))
                .collect(),
            XScale::Linear => linear_ticks(x_min, x_max)
                .into_iter()
                .map(|v| (v, number(v)))
                .collect(),
            XScale::Percentile => (0..=(x_max.ceil() as i32))
                .map(|nines| {
                    let label = match nines {
                        0 => "0%".to_string(),
                        n => format!("{}%", 100.0 - 100.0 / 10f64.powi(n)),
                    };
                    (f64::from(nines), label)
                })
                .collect(),
        };
        for (value, label) in x_ticks {
            let x = match self.x_scale {
                XScale::Percentile => sx_scaled(value),
                XScale::Linear => sx(value),
            };
            if !(LEFT - 0.5..=WIDTH - RIGHT + 0.5).contains(&x) {
                continue;
            }
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="#999"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" class="tick">{label}</text>"##,
                TOP + plot_h,
                TOP + plot_h + 5.0,
                TOP + plot_h + 18.0
            );
        }
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{:.1}" stroke="#333"/><line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#333"/>"##,
            TOP + plot_h,
            WIDTH - RIGHT,
            TOP + plot_h,
            TOP + plot_h
        );
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="label">{}</text><text x="14" y="{:.1}" text-anchor="middle" class="label" transform="rotate(-90 14 {:.1})">{}</text>"#,
            LEFT + plot_w / 2.0,
            HEIGHT - 6.0,
            escape(&self.x_label),
            TOP + plot_h / 2.0,
            TOP + plot_h / 2.0,
            escape(y_label)
        );
        // Data: areas from the top of the stack down, so each stays visible.
        let bar_series = self
            .series
            .iter()
            .filter(|s| matches!(s.style, Style::Bars))
            .count()
            .max(1) as f64;
        let mut bar_index = 0.0;
        for (series, points) in self.series.iter().zip(&stacked).rev() {
            let points = &points.1;
            match series.style {
                Style::Area => {
                    let points = &self.outline(points, true);
                    let mut d = format!("M{:.1},{:.1}", sx(points[0].0), sy(0.0));
                    for &(x, y) in points {
                        let _ = write!(d, " L{:.1},{:.1}", sx(x), sy(y));
                    }
                    let _ = write!(
                        d,
                        " L{:.1},{:.1} Z",
                        sx(points[points.len() - 1].0),
                        sy(0.0)
                    );
                    let _ = write!(
                        svg,
                        r#"<path class="data" d="{d}" fill="{}" fill-opacity="0.85" stroke="none"><title>{}</title></path>"#,
                        series.colour,
                        escape(&series.name)
                    );
                }
                Style::Line { dashed } => {
                    let points = &self.outline(points, false);
                    let mut d = String::new();
                    let mut pen_up = true;
                    for &(x, y) in points {
                        if x.is_nan() {
                            pen_up = true;
                            continue;
                        }
                        let command = if pen_up { " M" } else { " L" };
                        let _ = write!(d, "{command}{:.1},{:.1}", sx(x), sy(y));
                        pen_up = false;
                    }
                    let mut d = d.trim_start().to_string();
                    // One point (a phase shorter than a second) is a short dash.
                    if let [(x, y)] = points.as_slice() {
                        d = format!("M{:.1},{:.1} h-4 h8", sx(*x), sy(*y));
                    }
                    let _ = write!(
                        svg,
                        r#"<path class="data" d="{d}" fill="none" stroke="{}" stroke-width="1.8"{}><title>{}</title></path>"#,
                        series.colour,
                        if dashed {
                            r#" stroke-dasharray="5 3""#
                        } else {
                            ""
                        },
                        escape(&series.name)
                    );
                }
                Style::Bars => {
                    bar_index += 1.0;
                    let slot = plot_w / (x_max - x_min) * 0.8;
                    let width = slot / bar_series;
                    let mut d = String::new();
                    for &(x, y) in points {
                        let left = sx(x) - slot / 2.0 + (bar_series - bar_index) * width;
                        let _ = write!(
                            d,
                            "M{left:.1},{:.1} h{width:.1} V{:.1} h{:.1} Z ",
                            sy(0.0),
                            sy(y),
                            -width
                        );
                    }
                    let _ = write!(
                        svg,
                        r#"<path class="data" d="{}" fill="{}"><title>{}</title></path>"#,
                        d.trim_end(),
                        series.colour,
                        escape(&series.name)
                    );
                }
            }
        }
        svg.push_str("</svg>");
        Some(svg)
    }

    /// Each series' points, areas added to those before them.
    fn stacked_points(&self) -> Vec<(&Series, Vec<(f64, f64)>)> {
        // The top of the stack so far at each x: one lookup per point, so
        // an hour of seconds stays linear.
        let mut below: HashMap<u64, f64> = HashMap::new();
        self.series
            .iter()
            .filter(|s| !s.points.is_empty())
            .map(|series| {
                let points = match series.style {
                    Style::Area => series
                        .points
                        .iter()
                        .map(|&(x, y)| {
                            let top = below.entry(x.to_bits()).or_insert(0.0);
                            *top += y;
                            (x, *top)
                        })
                        .collect(),
                    _ => series.points.clone(),
                };
                (series, points)
            })
            .collect()
    }

    /// The legend, as HTML beside the SVG.
    pub fn legend(&self) -> String {
        let mut out = String::from(r#"<div class="legend">"#);
        for series in self.series.iter().filter(|s| !s.points.is_empty()) {
            let dashed = matches!(series.style, Style::Line { dashed: true });
            let _ = write!(
                out,
                r#"<span><i style="background:{}{}"></i>{}</span>"#,
                series.colour,
                if dashed { ";opacity:0.6" } else { "" },
                escape(&series.name)
            );
        }
        for band in &self.bands {
            let _ = write!(
                out,
                r#"<span><i style="background:{};opacity:0.3"></i>{}</span>"#,
                band.colour,
                escape(&band.label)
            );
        }
        out.push_str("</div>");
        out
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// 1, 2 or 5 times a power of ten, at or above `value`.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|v| *v >= value)
        .unwrap_or(10.0 * power)
}

/// About five round ticks from `min` to `max`.
fn linear_ticks(min: f64, max: f64) -> Vec<f64> {
    let step = nice_ceiling((max - min) / 5.0);
    let mut ticks = Vec::new();
    let mut tick = (min / step).ceil() * step;
    while tick <= max + step * 1e-9 {
        ticks.push(tick);
        tick += step;
    }
    ticks
}

fn number(value: f64) -> String {
    if value.fract().abs() < 1e-9 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}").trim_end_matches('0').to_string()
    }
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_its_series_bands_and_ticks_and_nothing_when_empty() {
        let mut chart = Chart::new("seconds", "requests", XScale::Linear);
        assert!(chart.render().is_none());
        chart.series.push(Series {
            name: "2xx".into(),
            colour: PALETTE[0],
            style: Style::Area,
            points: vec![(0.0, 10.0), (1.0, 12.0)],
        });
        chart.series.push(Series {
            name: "429 <throttled>".into(),
            colour: PALETTE[1],
            style: Style::Area,
            points: vec![(0.0, 5.0), (1.0, 0.0)],
        });
        chart.bands.push(Band {
            from: 0.5,
            to: 0.7,
            label: "probe errors".into(),
            colour: PALETTE[3],
        });
        let svg = chart.render().unwrap();
        assert_eq!(svg.matches(r#"class="data""#).count(), 2);
        assert!(svg.contains("429 &lt;throttled&gt;"), "{svg}");
        assert!(svg.contains(r#"class="band""#));
        // Stacked: the second area reaches 15 at x = 0, so the axis goes to 20.
        assert!(svg.contains(">20</text>"), "{svg}");
    }

    #[test]
    fn the_percentile_axis_labels_nines() {
        let mut chart = Chart::new("percentile", "ms", XScale::Percentile);
        chart.series.push(Series {
            name: "p".into(),
            colour: PALETTE[0],
            style: Style::Line { dashed: false },
            points: vec![(0.0, 1.0), (50.0, 2.0), (99.9, 9.0)],
        });
        let svg = chart.render().unwrap();
        for label in [">0%<", ">90%<", ">99%<", ">99.9%<"] {
            assert!(svg.contains(label), "{label}: {svg}");
        }
    }

    #[test]
    fn binned_series_are_steps_that_break_at_empty_bins_and_stop_at_the_run_end() {
        let mut chart = Chart::new("seconds", "ms", XScale::Linear);
        chart.bin = Some(1.0);
        chart.x_domain = Some((0.0, 3.5));
        let points = vec![(0.5, 10.0), (1.5, 20.0), (3.5, 5.0)];
        assert_eq!(
            chart.outline(&points, true),
            vec![
                (0.0, 10.0),
                (1.0, 10.0),
                (1.0, 20.0),
                (2.0, 20.0),
                (2.0, 0.0),
                (3.0, 0.0),
                (3.0, 5.0),
                (3.5, 5.0)
            ],
            "flat across each bin, zero across the empty one, cut at the run's end"
        );
        let line = chart.outline(&points, false);
        assert!(
            line[4].0.is_nan(),
            "a line breaks at the empty bin: {line:?}"
        );
        chart.series.push(Series {
            name: "p99".into(),
            colour: PALETTE[0],
            style: Style::Line { dashed: false },
            points,
        });
        let svg = chart.render().unwrap();
        let path = svg
            .split(r#"d=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(path.matches('M').count(), 2, "two runs of bins: {path}");
    }

    #[test]
    fn long_latencies_read_in_seconds_and_a_spectrum_ends_at_its_last_resolved_percentile() {
        let mut chart = Chart::new("percentile", "ms", XScale::Percentile);
        chart.series.push(Series {
            name: "p".into(),
            colour: PALETTE[0],
            style: Style::Line { dashed: false },
            points: vec![(0.0, 100.0), (99.0, 2_500.0), (100.0, 4_000.0)],
        });
        let svg = chart.render().unwrap();
        assert!(svg.contains(">s</text>"), "{svg}");
        assert!(svg.contains(">4</text>"), "ticks in seconds: {svg}");
        assert!(svg.contains(">99%<"), "{svg}");
        assert!(!svg.contains(">99.9%<"), "no axis past 99 %: {svg}");
    }

    #[test]
    fn ticks_and_ceilings_are_round() {
        assert_eq!(nice_ceiling(13.0), 20.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(linear_ticks(0.0, 20.0), vec![0.0, 5.0, 10.0, 15.0, 20.0]);
    }
}
