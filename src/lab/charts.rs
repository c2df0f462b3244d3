//! The lab's charts, drawn with plotters as PNG (for the README and report.md) and SVG (for zooming in): success
//! ratio against attack rate, p99 connect latency against attack rate, and SYN-RECV occupancy over time at the
//! highest rate. Each scenario keeps one colour across all three charts.
//!
//! **Fonts.** plotters is built with `ab_glyph` rather than its `ttf` feature, so it links no system font library
//! and knows no font until one is registered. [`chart_font`] registers the first readable file among
//! `$SYNSCOPE_CHART_FONT` and [`FONT_PATHS`], once per process. The two backends need it differently:
//! - PNG rasterises every glyph itself, so without a font its text cannot be drawn at all.
//! - SVG writes `<text font-family="sans-serif">` and leaves the glyphs to the viewer; plotters asks the font only to
//!   measure text (chart captions, legends, right-hand labels). These charts never ask it to measure: the title and
//!   legend are placed at fixed positions, and the axis labels sit on the left and bottom, which plotters does not
//!   measure. So the SVGs are fully labelled with or without a font file.
//!
//! Without a font the PNGs are still drawn, with every text made transparent (plotters skips transparent text
//! before it looks for a font), and [`font_warning`] says so; the lab is not failed for want of axis labels.

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::results::{LabResults, Trial};

/// Size of every chart, pixels: wide enough for a legend column beside the plot, and readable when a README shrinks
/// it to its column width.
pub const SIZE: (u32, u32) = (900, 540);

/// Where fonts live on common Linux distributions (Debian/Ubuntu, Arch, Fedora, then Liberation as a fallback).
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
];

/// A TrueType/OpenType file to use instead of [`FONT_PATHS`] (for systems that keep fonts elsewhere).
pub const FONT_ENV: &str = "SYNSCOPE_CHART_FONT";

/// The family every text uses. The font is registered under this name, and SVG viewers know it too.
const FAMILY: &str = "sans-serif";

/// Width of the legend column on the right of each chart: the longest scenario name (`guard-cookies-rings`, about
/// 150 px at 15 px) after the 46 px swatch, with room to spare. Anything longer goes on a second line.
const LEGEND_WIDTH: u32 = 220;

/// Colour-blind-safe (Okabe–Ito) colours for the scenarios the lab knows, so a scenario keeps its colour from run to
/// run, not only across one run's charts. No defence is vermilion: it is the one expected to fail.
const KNOWN_COLOURS: &[(&str, RGBColor)] = &[
    ("none", RGBColor(0xD5, 0x5E, 0x00)),
    ("kernel-cookies", RGBColor(0x00, 0x72, 0xB2)),
    ("kernel-tuned", RGBColor(0x56, 0xB4, 0xE9)),
    ("guard-limit", RGBColor(0xE6, 0x9F, 0x00)),
    ("guard-cookies", RGBColor(0x00, 0x9E, 0x73)),
    ("guard-cookies-rings", RGBColor(0xF0, 0xE4, 0x42)),
    ("guard-auto", RGBColor(0xCC, 0x79, 0xA7)),
];

/// Colours for scenarios not in [`KNOWN_COLOURS`], handed out in order of appearance.
const OTHER_COLOURS: &[RGBColor] = &[
    RGBColor(0x33, 0x33, 0x33),
    RGBColor(0x8C, 0x56, 0x4B),
    RGBColor(0x7F, 0x7F, 0x7F),
    RGBColor(0xBC, 0xBD, 0x22),
    RGBColor(0x17, 0xBE, 0xCF),
];

/// Latency below this is drawn at it: the log axis has no zero.
const MIN_LATENCY_MS: f64 = 0.001;

static FONT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The font file registered for chart text, loading it on first use; or why there is none.
pub fn chart_font() -> Result<&'static Path, &'static str> {
    match FONT.get_or_init(load_font) {
        Ok(path) => Ok(path.as_path()),
        Err(why) => Err(why.as_str()),
    }
}

/// A one-line warning to print when the PNG charts had to be drawn without text.
pub fn font_warning() -> Option<String> {
    chart_font()
        .err()
        .map(|why| format!("{why}: the PNG charts have no text (the SVG charts do); set {FONT_ENV} to a .ttf file"))
}

fn load_font() -> Result<PathBuf, String> {
    let from_env = std::env::var_os(FONT_ENV).map(PathBuf::from);
    for path in from_env.into_iter().chain(FONT_PATHS.iter().map(PathBuf::from)) {
        let Ok(bytes) = fs::read(&path) else { continue };
        // plotters keeps registered fonts for the life of the process and takes only `&'static` bytes. The OnceLock
        // makes this run once, so at most one file per path in the list is ever leaked.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        if register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
            return Ok(path);
        }
    }
    Err(format!("no chart font found (looked for ${FONT_ENV} and {})", FONT_PATHS.join(", ")))
}

/// Writes `success`, `latency_p99` and `half_open` charts into `dir` as `.png` and `.svg`, creating `dir` if needed.
/// Returns each chart's title and PNG path, in that order, for report.md. Call [`font_warning`] afterwards to learn
/// whether the PNGs carry text.
pub fn write_charts(results: &LabResults, dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    fs::create_dir_all(dir)?;
    let png_text = chart_font().is_ok();
    let plots = [
        ("success", success_plot(results)),
        ("latency_p99", latency_plot(results)),
        ("half_open", half_open_plot(results)),
    ];
    let mut written = Vec::with_capacity(plots.len());
    for (name, plot) in plots {
        let png = dir.join(format!("{name}.png"));
        let svg = dir.join(format!("{name}.svg"));
        let on_error = |path: &Path, e: String| io::Error::other(format!("drawing {}: {e}", path.display()));
        {
            let area = BitMapBackend::new(&png, SIZE).into_drawing_area();
            draw(&area, &plot, FAMILY, png_text).map_err(|e| on_error(&png, e))?;
        }
        {
            let area = SVGBackend::new(&svg, SIZE).into_drawing_area();
            draw(&area, &plot, FAMILY, true).map_err(|e| on_error(&svg, e))?;
        }
        written.push((plot.title, png));
    }
    Ok(written)
}

/// One chart, independent of the backend.
struct Plot {
    title: String,
    x_desc: String,
    y_desc: String,
    x: Axis,
    y: Axis,
    series: Vec<Series>,
    /// Mark each point (few points per line), or only draw the line (time series).
    markers: bool,
}

struct Axis {
    range: Range<f64>,
    ticks: Vec<f64>,
    /// Faint grid lines between ticks (the 2 and 5 of each decade on the log axis).
    light: Vec<f64>,
    labels: Labels,
}

enum Labels {
    /// The tick is log10 of an attack rate, SYN/s; `no_flood` is the slot left of the decades where trials without
    /// a flood sit (a log axis has no zero).
    Rates {
        no_flood: Option<f64>,
    },
    /// The tick is log10 of the value.
    Decades,
    Plain,
}

impl Labels {
    fn format(&self, v: f64) -> String {
        match self {
            Labels::Rates { no_flood } => {
                if no_flood.is_some_and(|slot| (v - slot).abs() < 1e-9) {
                    "0".to_string()
                } else {
                    short_rate(10f64.powf(v).round() as u64)
                }
            }
            Labels::Decades => trim_number(10f64.powf(v)),
            Labels::Plain => trim_number(v),
        }
    }
}

struct Series {
    name: String,
    /// A second, smaller legend line (the rate a time series was taken at), so no entry outgrows the legend.
    detail: Option<String>,
    colour: RGBColor,
    points: Vec<(f64, f64)>,
}

/// 50000 -> "50k", 1500000 -> "1.5M", 771585 -> "772k": three significant digits at most, for axis labels and
/// legend lines.
fn short_rate(rate: u64) -> String {
    let three_digits = |v: f64| {
        let decimals = if v >= 100.0 {
            0
        } else if v >= 10.0 {
            1
        } else {
            2
        };
        trim_number(format!("{v:.decimals$}").parse().unwrap_or(v))
    };
    match rate {
        r if r >= 999_500 => format!("{}M", three_digits(r as f64 / 1e6)),
        r if r >= 1_000 => format!("{}k", three_digits(r as f64 / 1e3)),
        r => r.to_string(),
    }
}

/// Up to three significant decimals, without trailing zeros: "0.1", "2.5", "1000".
fn trim_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

/// Scenario names in the run's order, then any only the trials mention, each with its colour.
fn colours(results: &LabResults) -> Vec<(String, RGBColor)> {
    let mut others = OTHER_COLOURS.iter().cycle();
    super::report::scenario_names(results)
        .into_iter()
        .map(|name| {
            let known = KNOWN_COLOURS.iter().find(|(n, _)| *n == name).map(|&(_, c)| c);
            let colour = known.or_else(|| others.next().copied()).unwrap_or(BLACK);
            (name.to_string(), colour)
        })
        .collect()
}

/// The rate axis: the attack rate each trial reached (not the one asked: each scenario's top speed differs, and a
/// defence that slows the attacker must not be drawn at the rate it never met), on a log scale from the decade
/// below the slowest flood to the decade above the fastest. Trials without a flood (under 1 SYN/s) sit one decade
/// further left, labelled 0.
struct RateAxis {
    axis: Axis,
    no_flood: Option<f64>,
}

impl RateAxis {
    fn of(results: &LabResults) -> RateAxis {
        let flooded = results.trials.iter().map(|t| t.rate_achieved).filter(|r| r.is_finite() && *r >= 1.0);
        let (min, max) = flooded.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| (lo.min(r), hi.max(r)));
        // The floods with a quarter decade either side, at least one whole decade wide; 1k to 1M SYN/s when there
        // is none. Labels at the decades inside; faint lines at 2 and 5 of each.
        let (lo, hi) = if min.is_finite() { (min.log10() - 0.25, max.log10() + 0.25) } else { (3.0, 6.0) };
        let (lo, hi) = if hi - lo < 1.0 { (lo, lo + 1.0) } else { (lo, hi) };
        let any_calm = results.trials.iter().any(|t| t.rate_achieved.is_nan() || t.rate_achieved < 1.0);
        let no_flood = any_calm.then_some(lo - 0.5);
        let decades: Vec<f64> = (lo.ceil() as i32..=hi.floor() as i32).map(f64::from).collect();
        let light = (lo.floor() as i32..=hi.floor() as i32)
            .flat_map(|d| [f64::from(d) + 2f64.log10(), f64::from(d) + 5f64.log10()])
            .filter(|&v| v > lo && v < hi)
            .collect();
        let ticks = no_flood.into_iter().chain(decades).collect();
        let start = no_flood.map_or(lo, |slot| slot - 0.3);
        RateAxis { axis: Axis { range: start..hi, ticks, light, labels: Labels::Rates { no_flood } }, no_flood }
    }

    /// Where a trial sits on the axis.
    fn x(&self, trial: &Trial) -> Option<f64> {
        if trial.rate_achieved >= 1.0 { Some(trial.rate_achieved.log10()) } else { self.no_flood }
    }

    const DESC: &'static str = "attack rate reached, SYN/s (log scale; 0: no flood)";
}

/// One series per scenario with trials, at the rate each trial reached, in rate order.
fn per_rate_series(results: &LabResults, axis: &RateAxis, y: impl Fn(&Trial) -> Option<f64>) -> Vec<Series> {
    colours(results)
        .into_iter()
        .filter_map(|(name, colour)| {
            let mut points: Vec<(f64, f64)> = results
                .scenario_trials(&name)
                .filter_map(|t| Some((axis.x(t)?, y(t)?)))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            (!points.is_empty()).then_some(Series { name, detail: None, colour, points })
        })
        .collect()
}

fn success_plot(results: &LabResults) -> Plot {
    let rates = RateAxis::of(results);
    // The headline success: within the clients' whole patience (7 s), or the timeout an older run had.
    let within = super::patience::session_timeout(results)
        .map_or(String::new(), |s| format!(" within {}", super::patience::seconds(s)));
    Plot {
        title: format!("Legitimate sessions completed{within} during the flood"),
        x_desc: RateAxis::DESC.to_string(),
        y_desc: "success, %".to_string(),
        series: per_rate_series(results, &rates, |t| Some(t.success_ratio * 100.0)),
        x: rates.axis,
        y: Axis {
            range: 0.0..105.0,
            ticks: (0..=5).map(|i| f64::from(i) * 20.0).collect(),
            light: (0..5).map(|i| f64::from(i) * 20.0 + 10.0).collect(),
            labels: Labels::Plain,
        },
        markers: true,
    }
}

fn latency_plot(results: &LabResults) -> Plot {
    let rates = RateAxis::of(results);
    // Every session counts, a failed one at its timeout (`Trial::latency_p99_counting_failures_ms`): a defence
    // under which most sessions fail reads as slow as its clients' patience, not as fast as its few successes.
    let series = per_rate_series(results, &rates, |t| {
        t.latency_p99_counting_failures_ms().map(|ms| ms.max(MIN_LATENCY_MS).log10())
    });
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| (lo.min(y), hi.max(y)));
    // Whole decades around the data; 0.1 ms to 1 s when there is none.
    let (lo, hi) = if lo.is_finite() { (lo.floor(), hi.ceil().max(lo.floor() + 1.0)) } else { (-1.0, 3.0) };
    let decades: Vec<f64> = (lo as i32..=hi as i32).map(f64::from).collect();
    let light = decades.iter().flat_map(|d| [d + 2f64.log10(), d + 5f64.log10()]).filter(|&v| v < hi).collect();
    Plot {
        title: "p99 connect latency, a failed session counted at its timeout".to_string(),
        x_desc: RateAxis::DESC.to_string(),
        y_desc: "p99 latency, ms (log scale)".to_string(),
        series,
        x: rates.axis,
        y: Axis { range: lo..hi, ticks: decades, light, labels: Labels::Decades },
        markers: true,
    }
}

fn half_open_plot(results: &LabResults) -> Plot {
    // Each scenario at its own highest rate: "max" is what the attacker reached in that trial, which differs from
    // one scenario to the next (the defence shares the machine with the attacker).
    let mut tops = Vec::new();
    let series: Vec<Series> = colours(results)
        .into_iter()
        .filter_map(|(name, colour)| {
            let trial = results.scenario_trials(&name).max_by_key(|t| t.rate_requested)?;
            tops.push(trial.rate_requested);
            let points: Vec<(f64, f64)> =
                trial.syn_recv.iter().map(|&(s, n)| (s, n as f64)).filter(|(s, _)| s.is_finite()).collect();
            let detail = (trial.rate_achieved >= 1.0)
                .then(|| format!("at {} SYN/s", short_rate(trial.rate_achieved.round() as u64)));
            (!points.is_empty()).then_some(Series { name, detail, colour, points })
        })
        .collect();
    tops.dedup();
    let top = if tops.len() == 1 { tops.first().copied() } else { None };
    let all = series.iter().flat_map(|s| s.points.iter());
    let (max_t, max_n) = all.fold((0f64, 0f64), |(t, n), p| (t.max(p.0), n.max(p.1)));
    let (t_ticks, t_end) = nice_ticks(max_t);
    let (n_ticks, n_end) = nice_ticks(max_n * 1.05);
    let rate = top.map_or_else(|| " at each scenario's highest rate".to_string(), |r| format!(" at {r} SYN/s"));
    Plot {
        title: format!("Half-open (SYN-RECV) connections on the server{rate}"),
        x_desc: "seconds into the trial".to_string(),
        y_desc: "SYN-RECV sockets".to_string(),
        series,
        x: Axis { range: 0.0..t_end, ticks: t_ticks, light: Vec::new(), labels: Labels::Plain },
        y: Axis { range: 0.0..n_end, ticks: n_ticks, light: Vec::new(), labels: Labels::Plain },
        markers: false,
    }
}

/// A linear f64 axis whose grid lines are exactly [`Axis::ticks`] and [`Axis::light`]. plotters' own
/// `with_key_points` wrapper loses the default label formatting its mesh needs, hence this.
struct TickedAxis<'a>(&'a Axis);

impl Ranged for TickedAxis<'_> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let Range { start, end } = self.0.range;
        let share = (v - start) / (end - start);
        if !share.is_finite() {
            return limit.0;
        }
        // Clamped well beyond the plot so a wild value is clipped instead of overflowing the i32 pixel maths.
        let pixels = f64::from(limit.1 - limit.0) * share.clamp(-10.0, 10.0);
        limit.0 + (pixels + 1e-3).floor() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() { self.0.light.clone() } else { self.0.ticks.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.0.range.clone()
    }
}

/// Ticks at 1, 2 or 5 times a power of ten from 0 to at least `max`, at most about eight of them, and the axis end.
/// An empty or all-zero series still gets the axis 0..1.
fn nice_ticks(max: f64) -> (Vec<f64>, f64) {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let rough = max / 6.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|&s| s >= rough).unwrap_or(10.0 * magnitude);
    let count = (max / step).ceil() as usize;
    let ticks: Vec<f64> = (0..=count).map(|i| i as f64 * step).collect();
    let end = ticks.last().copied().unwrap_or(1.0);
    (ticks, end)
}

/// Draws `plot` on `root` with text in `family`. With `text` false every text is transparent, which plotters skips
/// before looking for a font (see the module docs).
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &Plot,
    family: &str,
    text: bool,
) -> Result<(), String> {
    let ink = if text { BLACK.to_rgba() } else { TRANSPARENT };
    let font = |size: f64| (family, size).into_font().color(&ink);
    let fail = |e: &dyn std::fmt::Display| e.to_string();

    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let (width, _) = root.dim_in_pixel();
    let (plot_area, legend_area) = root.split_horizontally(width.saturating_sub(LEGEND_WIDTH));

    let title = font(22.0).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw_text(&plot.title, &title, (width as i32 / 2, 12)).map_err(|e| fail(&e))?;

    let (x, y) = (TickedAxis(&plot.x), TickedAxis(&plot.y));
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_top(48)
        .margin_left(10)
        .margin_right(10)
        .margin_bottom(8)
        .x_label_area_size(52)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(|e| fail(&e))?;

    let x_label = |v: &f64| plot.x.labels.format(*v);
    let y_label = |v: &f64| plot.y.labels.format(*v);
    chart
        .configure_mesh()
        .x_desc(plot.x_desc.as_str())
        .y_desc(plot.y_desc.as_str())
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(font(15.0))
        .axis_desc_style(font(16.0))
        .bold_line_style(BLACK.mix(0.15))
        .light_line_style(BLACK.mix(0.06))
        .draw()
        .map_err(|e| fail(&e))?;

    for series in &plot.series {
        let colour = series.colour;
        chart
            .draw_series(LineSeries::new(series.points.iter().copied(), colour.stroke_width(2)))
            .map_err(|e| fail(&e))?;
        if plot.markers {
            let points = series.points.iter().map(|&p| Circle::new(p, 4, colour.filled()));
            chart.draw_series(points).map_err(|e| fail(&e))?;
        }
    }

    // The legend sits in its own column at fixed positions, so nothing has to be measured (see the module docs)
    // and it never hides a line.
    let entry = font(15.0).pos(Pos::new(HPos::Left, VPos::Center));
    let detail = font(13.0).pos(Pos::new(HPos::Left, VPos::Center));
    let mut y = 70;
    for series in &plot.series {
        let style = series.colour.stroke_width(3);
        legend_area.draw(&PathElement::new(vec![(8, y), (38, y)], style)).map_err(|e| fail(&e))?;
        if plot.markers {
            legend_area.draw(&Circle::new((23, y), 4, series.colour.filled())).map_err(|e| fail(&e))?;
        }
        legend_area.draw_text(&series.name, &entry, (46, y)).map_err(|e| fail(&e))?;
        if let Some(text) = &series.detail {
            legend_area.draw_text(text, &detail, (46, y + 17)).map_err(|e| fail(&e))?;
            y += 17;
        }
        y += 26;
    }
    if plot.series.is_empty() {
        legend_area.draw_text("no data", &entry, (8, 70)).map_err(|e| fail(&e))?;
    }

    root.present().map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(scenario: &str, rate: u64, ratio: f64, p99: f64, syn_recv: Vec<(f64, u64)>) -> Trial {
        let sessions = 200;
        let successes = (ratio * sessions as f64).round() as u64;
        Trial {
            scenario: scenario.to_string(),
            rate_requested: rate,
            rate_achieved: rate as f64 * 0.98,
            duration_s: 10.0,
            sessions,
            successes,
            success_ratio: ratio,
            latency_p50_ms: p99 / 4.0,
            latency_p99_ms: p99,
            session_timeout_s: 1.0,
            syn_recv,
            ..Trial::default()
        }
    }

    fn sample() -> LabResults {
        let ramp = |peak: u64| (0..=20).map(|i| (f64::from(i) * 0.5, (peak * i.min(6) as u64) / 6)).collect();
        LabResults {
            kind: "simulation".to_string(),
            seed: 7,
            scenarios: vec!["none".to_string(), "kernel-cookies".to_string()],
            rates: vec![0, 10_000, 100_000],
            attacker: "simulated".to_string(),
            trials: vec![
                trial("none", 0, 1.0, 0.4, vec![(0.0, 0)]),
                trial("none", 10_000, 0.9, 1000.0, ramp(128)),
                trial("none", 100_000, 0.2, 3000.0, ramp(256)),
                trial("kernel-cookies", 0, 1.0, 0.4, vec![(0.0, 0)]),
                trial("kernel-cookies", 10_000, 1.0, 0.9, ramp(256)),
                trial("kernel-cookies", 100_000, 0.995, 1.7, ramp(256)),
            ],
            notes: Vec::new(),
            cpus: 0,
            generators: None,
        }
    }

    fn assert_written(dir: &Path, charts: &[(String, PathBuf)]) {
        assert_eq!(charts.len(), 3);
        for name in ["success", "latency_p99", "half_open"] {
            let png = fs::read(dir.join(format!("{name}.png"))).unwrap();
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}.png is not a PNG");
            let svg = fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
            assert!(svg.contains("<svg"), "{name}.svg is not an SVG");
        }
        assert!(charts.iter().all(|(title, path)| !title.is_empty() && path.extension().unwrap() == "png"));
    }

    /// Counts the pixels of a labelled chart that differ from the same chart with its text made transparent.
    fn text_pixels(plot: &Plot) -> usize {
        let render = |text: bool| {
            let mut buf = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            draw(&BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area(), plot, FAMILY, text).unwrap();
            buf
        };
        render(true).iter().zip(render(false)).filter(|(a, b)| **a != *b).count()
    }

    mod writing {
        use super::*;

        #[test]
        fn writes_png_and_svg_for_each_chart() {
            let dir = tempfile::tempdir().unwrap();
            let charts = write_charts(&sample(), dir.path()).unwrap();
            assert_written(dir.path(), &charts);
            assert_eq!(charts[0].1, dir.path().join("success.png"));
        }

        #[test]
        fn creates_the_directory() {
            let dir = tempfile::tempdir().unwrap();
            let nested = dir.path().join("a/b");
            let charts = write_charts(&sample(), &nested).unwrap();
            assert_written(&nested, &charts);
        }

        #[test]
        fn the_success_chart_names_the_patience_it_draws() {
            let mut r = sample();
            assert_eq!(success_plot(&r).title, "Legitimate sessions completed within 1 s during the flood");
            r.trials.iter_mut().for_each(|t| t.session_timeout_s = 7.0);
            assert_eq!(success_plot(&r).title, "Legitimate sessions completed within 7 s during the flood");
            r.trials.iter_mut().for_each(|t| t.session_timeout_s = 0.0);
            assert_eq!(success_plot(&r).title, "Legitimate sessions completed during the flood");
        }

        #[test]
        fn svg_carries_titles_axis_labels_and_legend() {
            let dir = tempfile::tempdir().unwrap();
            write_charts(&sample(), dir.path()).unwrap();
            let svg = fs::read_to_string(dir.path().join("success.svg")).unwrap();
            for text in ["Legitimate sessions completed", "kernel-cookies", "100k", "success, %"] {
                assert!(svg.contains(text), "success.svg lacks {text:?}");
            }
            let svg = fs::read_to_string(dir.path().join("latency_p99.svg")).unwrap();
            assert!(svg.contains(">\n1000\n</text>"), "no decade label in latency_p99.svg");
        }

        #[test]
        fn png_has_text_when_a_font_is_installed() {
            if let Err(why) = chart_font() {
                eprintln!("SKIPPED png_has_text_when_a_font_is_installed: {why}");
                return;
            }
            assert!(text_pixels(&success_plot(&sample())) > 1000);
        }

        /// A family nobody registers stands in for a machine without fonts, whatever this process registered.
        const NO_FONT: &str = "synscope-no-such-font";

        #[test]
        fn png_without_a_font_is_drawn_without_text() {
            let plot = success_plot(&sample());
            let mut buf = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            let visible = draw(&BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area(), &plot, NO_FONT, true);
            assert!(visible.is_err(), "visible text in a PNG needs a font");
            draw(&BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area(), &plot, NO_FONT, false).unwrap();
        }

        #[test]
        fn svg_without_a_font_keeps_its_text() {
            for plot in [success_plot(&sample()), latency_plot(&sample()), half_open_plot(&sample())] {
                let mut svg = String::new();
                draw(&SVGBackend::with_string(&mut svg, SIZE).into_drawing_area(), &plot, NO_FONT, true).unwrap();
                assert!(svg.contains(&plot.title) && svg.contains("kernel-cookies"), "{svg}");
            }
        }
    }

    mod degenerate_inputs {
        use super::*;

        fn write(results: &LabResults) {
            let dir = tempfile::tempdir().unwrap();
            let charts = write_charts(results, dir.path()).unwrap();
            assert_written(dir.path(), &charts);
        }

        #[test]
        fn no_trials() {
            write(&LabResults::default());
        }

        #[test]
        fn one_rate() {
            let mut r = sample();
            r.rates = vec![100_000];
            r.trials.retain(|t| t.rate_requested == 100_000);
            write(&r);
        }

        #[test]
        fn empty_syn_recv_and_all_zero() {
            let mut r = sample();
            for t in &mut r.trials {
                t.syn_recv.clear();
                t.success_ratio = 0.0;
                t.successes = 0;
                t.latency_p99_ms = 0.0;
            }
            write(&r);
            r.trials.iter_mut().for_each(|t| t.syn_recv = vec![(0.0, 0), (1.0, 0)]);
            write(&r);
        }

        #[test]
        fn non_finite_values_and_unknown_scenarios() {
            let mut r = sample();
            r.trials[0].success_ratio = f64::NAN;
            r.trials[1].latency_p99_ms = f64::INFINITY;
            r.trials[2].syn_recv.push((f64::NAN, 3));
            r.trials.push(trial("custom", 5, 0.5, 2.0, vec![(0.0, 1)]));
            write(&r);
        }
    }

    mod axes {
        use super::*;

        #[test]
        fn nice_ticks_cover_the_data() {
            assert_eq!(nice_ticks(0.0), (vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0], 1.0));
            let (ticks, end) = nice_ticks(256.0);
            assert!(end >= 256.0 && ticks.len() <= 9, "{ticks:?}");
            let (ticks, end) = nice_ticks(9.5);
            assert_eq!((ticks.len(), end), (6, 10.0));
        }

        #[test]
        fn rate_labels() {
            let labels = Labels::Rates { no_flood: Some(2.5) };
            let got: Vec<String> =
                [2.5, 3.0, 50_000f64.log10(), 6.0, 1_500_000f64.log10()].iter().map(|&v| labels.format(v)).collect();
            assert_eq!(got, ["0", "1k", "50k", "1M", "1.5M"]);
            let short: Vec<String> = [771_585, 1_484_123, 98_000, 9_800, 999_700, 950].map(short_rate).to_vec();
            assert_eq!(short, ["772k", "1.48M", "98k", "9.8k", "1M", "950"]);
            assert_eq!(Labels::Decades.format(-1.0), "0.1");
            assert_eq!(Labels::Decades.format(3.0), "1000");
        }

        #[test]
        fn the_rate_axis_is_the_rate_reached_on_a_log_scale() {
            // The sample's floods reached 9,800 and 98,000 SYN/s: a quarter decade either side, 10k and 100k
            // labelled, and a slot for no flood half a decade left of the floods.
            let r = sample();
            let rates = RateAxis::of(&r);
            let (lo, hi) = (9_800f64.log10() - 0.25, 98_000f64.log10() + 0.25);
            assert_eq!(rates.no_flood, Some(lo - 0.5));
            assert_eq!(rates.axis.ticks, vec![lo - 0.5, 4.0, 5.0]);
            assert!((rates.axis.range.start - (lo - 0.8)).abs() < 1e-9 && rates.axis.range.end == hi);
            let x = |i: usize| rates.x(&r.trials[i]).unwrap();
            assert_eq!((x(0), x(1), x(2)), (lo - 0.5, 9_800f64.log10(), 98_000f64.log10()));
            // A scenario whose attacker was slowed is drawn where it was, not where it was asked to be.
            let plot = success_plot(&r);
            let none = plot.series.iter().find(|s| s.name == "none").unwrap();
            assert_eq!(none.points.iter().map(|p| p.0).collect::<Vec<_>>(), [x(0), x(1), x(2)]);
        }

        #[test]
        fn a_collapsing_defence_is_drawn_at_its_timeout() {
            // "kernel-tuned shows 2.3 ms at 2.8% success": its p99 is its clients' patience, 1 s.
            let mut r = sample();
            r.trials.push(trial("kernel-tuned", 10_000, 0.995, 1.7, vec![(0.0, 1)]));
            r.trials.push(trial("kernel-tuned", 100_000, 0.028, 2.3, vec![(0.0, 1)]));
            let plot = latency_plot(&r);
            let ys = |plot: &Plot, name: &str| -> Vec<f64> {
                plot.series
                    .iter()
                    .find(|s| s.name == name)
                    .map_or(Vec::new(), |s| s.points.iter().map(|p| p.1).collect())
            };
            assert_eq!(ys(&plot, "kernel-tuned"), [1.7f64.log10(), 3.0]);
            // `none` lost 10% and 80% of its sessions at 10k and 100k: both at the timeout, whatever its successes took.
            assert_eq!(ys(&plot, "none"), [0.4f64.log10(), 3.0, 3.0]);
            assert_eq!((plot.y.range.start, plot.y.range.end), (-1.0, 3.0));
            // Without a recorded timeout (results from before the field) a trial with failures has no p99 to draw,
            // rather than its successes' flattering one; a trial without failures still has its own.
            r.trials.iter_mut().for_each(|t| t.session_timeout_s = 0.0);
            let plot = latency_plot(&r);
            assert_eq!(ys(&plot, "none"), [0.4f64.log10()]);
            assert_eq!(ys(&plot, "kernel-tuned"), [1.7f64.log10()]);
        }

        #[test]
        fn half_open_uses_the_highest_rate() {
            let plot = half_open_plot(&sample());
            assert!(plot.title.ends_with("at 100000 SYN/s"));
            assert_eq!(plot.series.len(), 2);
            // The rate reached goes on a legend line of its own, so long names are not clipped.
            assert!(
                plot.series.iter().all(|s| s.detail.as_deref() == Some("at 98k SYN/s")),
                "{:?}",
                plot.series[0].detail
            );
            assert!(plot.y.range.end >= 256.0);
        }
    }

    mod colours {
        use super::*;

        #[test]
        fn known_scenarios_keep_their_colour_whatever_the_order() {
            let mut r = sample();
            let before = colours(&r);
            r.scenarios.reverse();
            let after = colours(&r);
            for (name, colour) in before {
                assert_eq!(after.iter().find(|(n, _)| *n == name).unwrap().1, colour);
            }
        }

        #[test]
        fn unknown_scenarios_get_distinct_colours() {
            let r = LabResults { scenarios: vec!["a".into(), "b".into()], ..LabResults::default() };
            let c = colours(&r);
            assert_ne!(c[0].1, c[1].1);
        }
    }
}
