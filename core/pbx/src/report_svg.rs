//! Charts for the `/reports` page, drawn on the server as SVG: bars
//! (calls per hour), horizontal bars (the outcome mix) and a line with a
//! target (the abandon rate over time). Plain string building: the page
//! needs no script to show them, and a saved page keeps its charts.

use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 240.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 40.0;

/// Colours of the series, in order (readable on white, and apart for
/// the common colour blindnesses).
const PALETTE: [&str; 4] = ["#2b6cb0", "#dd8a2b", "#2f855a", "#9b2c2c"];

/// How the values of a chart read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    /// Fractions shown as percentages.
    Percent,
}

/// One series of values, one per label.
#[derive(Clone, Copy, Debug)]
pub struct Series<'a> {
    pub name: &'a str,
    pub values: &'a [f64],
}

/// Text for SVG (and HTML): the five characters that could break out.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A round upper bound for the axis (1, 2 or 5 times a power of ten) and
/// its step for four intervals.
fn axis(max: f64, unit: Unit) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        match unit {
            Unit::Count => 4.0,
            Unit::Percent => 0.04,
        }
    };
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    // Counts step by whole numbers.
    let step = if unit == Unit::Count {
        step.ceil()
    } else {
        step
    };
    (step * 4.0, step)
}

fn tick(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Count => format!("{v:.0}"),
        Unit::Percent => {
            let p = v * 100.0;
            if (p - p.round()).abs() < 1e-9 {
                format!("{p:.0}%")
            } else {
                format!("{p:.1}%")
            }
        }
    }
}

fn value_text(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Count => format!("{v:.0}"),
        Unit::Percent => format!("{:.1}%", v * 100.0),
    }
}

/// The frame: title, axes, grid lines with their values, and the
/// legend.
fn frame(out: &mut String, id: &str, title: &str, series: &[Series<'_>], max: f64, unit: Unit) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{id}" viewBox="0 0 {W} {H}" role="img" aria-label="{t}"><title>{t}</title>"#,
        id = escape(id),
        t = escape(title),
    );
    let _ = write!(
        out,
        r#"<text class="chart-title" x="{LEFT}" y="18">{}</text>"#,
        escape(title)
    );
    let plot_h = H - TOP - BOTTOM;
    let (_, step) = axis(max, unit);
    for i in 0..=4 {
        let v = step * f64::from(i);
        let y = TOP + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{v}</text>"#,
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0,
            v = tick(v, unit)
        );
    }
    // The legend, right-aligned on the title's line.
    let mut x = W - RIGHT;
    for (i, s) in series.iter().enumerate().rev() {
        let width = 7.0 * s.name.chars().count() as f64 + 18.0;
        x -= width;
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="9" width="10" height="10" fill="{c}"/><text class="legend" x="{tx:.1}" y="18">{n}</text>"#,
            c = PALETTE[i % PALETTE.len()],
            tx = x + 14.0,
            n = escape(s.name)
        );
    }
}

/// x labels, thinned so they do not overlap.
fn x_labels(out: &mut String, labels: &[String], slot: f64) {
    let every = (labels.len() / 12).max(1);
    for (i, label) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let x = LEFT + slot * (i as f64 + 0.5);
        let _ = write!(
            out,
            r#"<text class="tick" x="{x:.1}" y="{y}" text-anchor="middle">{l}</text>"#,
            y = H - BOTTOM + 16.0,
            l = escape(label)
        );
    }
}

fn no_data(out: &mut String) {
    let _ = write!(
        out,
        r#"<text class="empty" x="{x}" y="{y}" text-anchor="middle">no data in this span</text>"#,
        x = (LEFT + W - RIGHT) / 2.0,
        y = TOP + (H - TOP - BOTTOM) / 2.0
    );
}

fn max_of(series: &[Series<'_>]) -> f64 {
    series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

/// Grouped vertical bars: one group per label, one bar per series.
pub fn bars(id: &str, title: &str, labels: &[String], series: &[Series<'_>], unit: Unit) -> String {
    let mut out = String::new();
    let max = max_of(series);
    frame(&mut out, id, title, series, max, unit);
    let (top, _) = axis(max, unit);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    if labels.is_empty() || max <= 0.0 {
        no_data(&mut out);
    }
    if !labels.is_empty() {
        let slot = plot_w / labels.len() as f64;
        let bar = slot * 0.8 / series.len().max(1) as f64;
        for (si, s) in series.iter().enumerate() {
            for (i, v) in s.values.iter().enumerate().take(labels.len()) {
                let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
                let h = plot_h * v / top;
                let x = LEFT + slot * i as f64 + slot * 0.1 + bar * si as f64;
                let _ = write!(
                    out,
                    r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{c}"><title>{l}: {n} {v}</title></rect>"#,
                    y = TOP + plot_h - h,
                    c = PALETTE[si % PALETTE.len()],
                    l = escape(&labels[i]),
                    n = escape(s.name),
                    v = value_text(v, unit)
                );
            }
        }
        x_labels(&mut out, labels, slot);
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one per item, each with its value: a mix of
/// outcomes.
pub fn mix(id: &str, title: &str, items: &[(String, u64)]) -> String {
    let row = 22.0;
    let height = TOP + row * items.len().max(1) as f64 + 12.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{id}" viewBox="0 0 {W} {height}" role="img" aria-label="{t}"><title>{t}</title><text class="chart-title" x="{LEFT}" y="18">{t}</text>"#,
        id = escape(id),
        t = escape(title)
    );
    let total: u64 = items.iter().map(|(_, n)| n).sum();
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(0);
    if total == 0 {
        let _ = write!(
            out,
            r#"<text class="empty" x="{x}" y="{y}" text-anchor="middle">no data in this span</text>"#,
            x = W / 2.0,
            y = TOP + 14.0
        );
    }
    let label_w = 170.0;
    let bar_w = W - label_w - RIGHT - 90.0;
    for (i, (name, n)) in items.iter().enumerate().filter(|_| total > 0) {
        let y = TOP + row * i as f64;
        let w = if max == 0 {
            0.0
        } else {
            bar_w * *n as f64 / max as f64
        };
        let share = *n as f64 / total as f64 * 100.0;
        let _ = write!(
            out,
            r#"<text class="tick" x="{lx}" y="{ty:.1}" text-anchor="end">{name}</text><rect class="bar" x="{label_w}" y="{y:.1}" width="{w:.1}" height="{bh}" fill="{c}"><title>{name}: {n}</title></rect><text class="value" x="{vx:.1}" y="{ty:.1}">{n} ({share:.1}%)</text>"#,
            lx = label_w - 8.0,
            ty = y + 13.0,
            name = escape(name),
            bh = row - 6.0,
            c = PALETTE[0],
            vx = label_w + w + 6.0,
        );
    }
    out.push_str("</svg>");
    out
}

/// Lines through the values of each series, and a dashed line at
/// `target` (a limit not to cross).
pub fn line(
    id: &str,
    title: &str,
    labels: &[String],
    series: &[Series<'_>],
    target: Option<f64>,
    unit: Unit,
) -> String {
    let mut out = String::new();
    let max = max_of(series).max(target.unwrap_or(0.0) * 1.25);
    frame(&mut out, id, title, series, max, unit);
    let (top, _) = axis(max, unit);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let y_of = |v: f64| TOP + plot_h - plot_h * v.clamp(0.0, top) / top;
    if let Some(t) = target.filter(|t| t.is_finite()) {
        let y = y_of(t);
        let _ = write!(
            out,
            r#"<line class="target" x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="{c}" stroke-dasharray="6 4"/><text class="target-label" x="{tx}" y="{ty:.1}" text-anchor="end" fill="{c}">target {v}</text>"#,
            x2 = W - RIGHT,
            c = PALETTE[3],
            tx = W - RIGHT,
            ty = y - 4.0,
            v = value_text(t, unit)
        );
    }
    if labels.is_empty() {
        no_data(&mut out);
    } else {
        let slot = plot_w / labels.len() as f64;
        for (si, s) in series.iter().enumerate() {
            let c = PALETTE[si % PALETTE.len()];
            let points: Vec<(f64, f64, f64)> = s
                .values
                .iter()
                .take(labels.len())
                .enumerate()
                .map(|(i, v)| {
                    let v = if v.is_finite() { *v } else { 0.0 };
                    (LEFT + slot * (i as f64 + 0.5), y_of(v), v)
                })
                .collect();
            let path: Vec<String> = points
                .iter()
                .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = write!(
                out,
                r#"<polyline class="series" fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
                path.join(" ")
            );
            for (i, (x, y, v)) in points.iter().enumerate() {
                let _ = write!(
                    out,
                    r#"<circle class="point" cx="{x:.1}" cy="{y:.1}" r="3" fill="{c}"><title>{l}: {n} {v}</title></circle>"#,
                    l = escape(&labels[i]),
                    n = escape(s.name),
                    v = value_text(*v, unit)
                );
            }
        }
        x_labels(&mut out, labels, slot);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    #[test]
    fn bars_draw_one_rect_per_value_scaled_to_a_round_axis() {
        let labels: Vec<String> = (0..3).map(|h| format!("{h:02}")).collect();
        let svg = bars(
            "hours",
            "Calls per hour",
            &labels,
            &[
                Series {
                    name: "dialled",
                    values: &[4.0, 8.0, 0.0],
                },
                Series {
                    name: "answered",
                    values: &[2.0, 3.0, 0.0],
                },
            ],
            Unit::Count,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(count(&svg, r#"class="bar""#), 6);
        // Max 8 -> axis to 8 in steps of 2; the tallest bar fills the plot.
        assert!(
            svg.contains(">8</text>") && svg.contains(">6</text>"),
            "{svg}"
        );
        let plot_h = H - TOP - BOTTOM;
        assert!(svg.contains(&format!(r#"height="{plot_h:.1}""#)), "{svg}");
        assert!(svg.contains("<title>01: dialled 8</title>"));
        assert!(!svg.contains("no data"));
    }

    #[test]
    fn empty_and_hostile_input_draws_a_note_not_nan() {
        let svg = bars("x", "<b>&", &[], &[], Unit::Percent);
        assert!(svg.contains("no data in this span"));
        assert!(svg.contains("&lt;b&gt;&amp;") && !svg.contains("<b>"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        let svg = line(
            "abandon",
            "t",
            &["d\"1".into()],
            &[Series {
                name: "daily",
                values: &[f64::NAN],
            }],
            Some(0.03),
            Unit::Percent,
        );
        assert!(!svg.contains("NaN"), "{svg}");
        assert!(svg.contains("d&quot;1"));
        let svg = mix("mix", "Outcomes", &[("busy".into(), 0)]);
        assert!(svg.contains("no data in this span"));
        assert_eq!(count(&svg, r#"class="bar""#), 0);
    }

    #[test]
    fn the_line_has_a_point_per_day_and_the_target_at_its_height() {
        let labels: Vec<String> = vec!["11-01".into(), "11-02".into(), "11-03".into()];
        let svg = line(
            "abandon",
            "Abandon rate",
            &labels,
            &[Series {
                name: "rolling",
                values: &[0.01, 0.02, 0.04],
            }],
            Some(0.03),
            Unit::Percent,
        );
        assert_eq!(count(&svg, r#"class="point""#), 3);
        assert_eq!(count(&svg, "<polyline"), 1);
        assert!(svg.contains("target 3.0%"));
        // Axis 0..4% (the highest value; the target's 125% is 3.75%):
        // 3% is three quarters up.
        let plot_h = H - TOP - BOTTOM;
        let y = TOP + plot_h - plot_h * 0.75;
        assert!(
            svg.contains(&format!(
                r#"class="target" x1="{LEFT}" x2="{}" y1="{y:.1}""#,
                W - RIGHT
            )),
            "{svg}"
        );
        assert!(
            svg.contains(">4%</text>") && !svg.contains(">5%</text>"),
            "{svg}"
        );
    }

    #[test]
    fn the_mix_shows_counts_and_shares() {
        let svg = mix(
            "mix",
            "Outcomes",
            &[("answered".into(), 3), ("busy".into(), 1)],
        );
        assert_eq!(count(&svg, r#"class="bar""#), 2);
        assert!(
            svg.contains("3 (75.0%)") && svg.contains("1 (25.0%)"),
            "{svg}"
        );
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(axis(8.0, Unit::Count), (8.0, 2.0));
        assert_eq!(axis(3.0, Unit::Count), (4.0, 1.0));
        assert_eq!(axis(0.0, Unit::Count), (4.0, 1.0));
        assert_eq!(axis(170.0, Unit::Count), (200.0, 50.0));
        let (top, step) = axis(0.04, Unit::Percent);
        assert!((top - 0.04).abs() < 1e-12 && (step - 0.01).abs() < 1e-12);
    }
}
