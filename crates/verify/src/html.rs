//! A canary report as HTML: a page of its own (`portcullis verify … --format html`:
//! self-contained, inline CSS and SVG, no script, nothing fetched) and the same view as a
//! fragment the dashboard embeds. Charts are SVG drawn here: per metric, the baseline and the
//! canary over the analysis, the intervals marked, the metric's classification in colour; log
//! templates as a table with samples.

use std::fmt::Write as _;

use crate::judge::{Classification, Verdict};
use crate::logs::{ClusterClass, Level, LogCluster, LogResult};
use crate::report::{IntervalReport, MAX_SERIES_POINTS, MetricsReport, Report, downsample};

/// The style of the fragment's classes (`pcv-…`); [`page`] inlines it.
pub const CSS: &str = r#"
.pcv { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; line-height: 1.45; }
.pcv h2 { font-size: 1.25rem; margin: 1.4rem 0 .5rem; }
.pcv h3 { font-size: 1.05rem; margin: 1rem 0 .4rem; }
.pcv table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .9rem; width: auto; }
.pcv table.pcv-clusters { width: 100%; }
.pcv table.pcv-clusters td:nth-child(1) { min-width: 9rem; max-width: 14rem; }
.pcv table.pcv-clusters td:nth-child(3) { min-width: 18rem; max-width: 30rem; }
.pcv table.pcv-clusters td:nth-child(6) { min-width: 22rem; }
.pcv td code { white-space: pre-wrap; overflow-wrap: break-word; }
.pcv th, .pcv td { border-bottom: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
.pcv th { background: #f6f8fa; }
.pcv td.num, .pcv th.num { text-align: right; font-variant-numeric: tabular-nums; }
.pcv code, .pcv pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .82rem; }
.pcv pre { white-space: pre-wrap; word-break: break-word; margin: .2rem 0; background: #f6f8fa; padding: .3rem .4rem; border-radius: 4px; max-width: 52rem; }
.pcv .pcv-badge { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; color: #fff; font-weight: 600; font-size: .85rem; }
.pcv .pcv-pass { background: #1a7f37; } .pcv .pcv-marginal { background: #9a6700; } .pcv .pcv-fail { background: #cf222e; }
.pcv .pcv-nodata { background: #6e7781; } .pcv .pcv-expected { background: #1a7f37; } .pcv .pcv-ignored { background: #6e7781; } .pcv .pcv-unexpected { background: #cf222e; }
.pcv .pcv-verdict { font-size: 1.1rem; }
.pcv .pcv-muted { color: #59636e; }
.pcv .pcv-charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr)); gap: 1rem; }
.pcv figure { margin: 0; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem; border-top-width: 5px; }
.pcv figure.pcv-fig-pass { border-top-color: #1a7f37; } .pcv figure.pcv-fig-fail { border-top-color: #cf222e; } .pcv figure.pcv-fig-nodata { border-top-color: #6e7781; }
.pcv .pcv-digest { overflow-wrap: anywhere; }
.pcv figcaption { font-size: .88rem; }
.pcv svg { max-width: 100%; height: auto; display: block; }
.pcv tr.pcv-row-unexpected td { background: #fff5f5; }
"#;

/// Escape text for HTML content and attribute values.
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

/// The report as a self-contained HTML page.
pub fn page(report: &Report) -> String {
    let mut out = String::new();
    let title = format!("Canary analysis{}", subject(report));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\nbody {{ margin: 1.5rem auto; max-width: 1320px; padding: 0 1rem; }}\n{CSS}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    out.push_str(&section(report, 1));
    out.push_str("</body>\n</html>\n");
    out
}

fn subject(report: &Report) -> String {
    let digest = |d: &str| match d.strip_prefix("sha256:") {
        Some(hex) if hex.len() > 12 => format!("sha256:{}…", hex.get(..12).unwrap_or(hex)),
        _ => d.to_string(),
    };
    match (&report.artifact, &report.environment) {
        (Some(a), Some(e)) => format!(" of {}@{} in {e}", a.name, digest(&a.digest)),
        (Some(a), None) => format!(" of {}@{}", a.name, digest(&a.digest)),
        (None, Some(e)) => format!(" in {e}"),
        (None, None) => String::new(),
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pcv-pass",
        Verdict::Marginal => "pcv-marginal",
        Verdict::Fail => "pcv-fail",
    }
}

fn verdict_colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "#1a7f37",
        Verdict::Marginal => "#9a6700",
        Verdict::Fail => "#cf222e",
    }
}

/// The report's view as a fragment (`<div class="pcv">…</div>`); `level` is the heading level
/// of its title (1 on a page of its own, deeper when embedded).
pub fn section(report: &Report, level: u8) -> String {
    let h = level.clamp(1, 4);
    let h2 = h + 1;
    let mut out = String::new();
    out.push_str("<div class=\"pcv\">\n");
    let _ = writeln!(
        out,
        "<h{h}>Canary analysis{}</h{h}>",
        escape(&subject(report))
    );
    let _ = writeln!(
        out,
        "<p class=\"pcv-verdict\"><span class=\"pcv-badge {}\" data-verdict=\"{}\">{}</span> score <strong>{:.1}</strong> / 100 (passes at {} or more, fails at {} or less) · generated {}</p>",
        verdict_class(report.verdict),
        report.verdict.as_str(),
        report.verdict.as_str(),
        report.score,
        number(report.thresholds.pass),
        number(report.thresholds.marginal),
        escape(&report.generated_at)
    );
    if let Some(a) = &report.artifact {
        let _ = writeln!(
            out,
            "<p class=\"pcv-muted pcv-digest\">artifact {} <code>{}</code></p>",
            escape(&a.name),
            escape(&a.digest)
        );
    }
    if !report.failing.is_empty() {
        out.push_str("<p>What failed:</p>\n<ul class=\"pcv-failing\">\n");
        for f in &report.failing {
            let _ = writeln!(out, "<li>{}</li>", escape(f));
        }
        out.push_str("</ul>\n");
    }
    for n in &report.notes {
        let _ = writeln!(out, "<p class=\"pcv-muted\">Note: {}</p>", escape(n));
    }
    match &report.metrics {
        Some(m) => metrics_section(&mut out, m, h2),
        None => {
            let _ = writeln!(
                out,
                "<h{h2}>Metrics</h{h2}>\n<p class=\"pcv-muted\">This analysis compared no metrics.</p>"
            );
        }
    }
    match &report.logs {
        Some(l) => logs_section(&mut out, l, h2),
        None => {
            let _ = writeln!(
                out,
                "<h{h2}>Logs</h{h2}>\n<p class=\"pcv-muted\">This analysis compared no logs.</p>"
            );
        }
    }
    out.push_str("</div>\n");
    out
}

fn metrics_section(out: &mut String, m: &MetricsReport, h: u8) {
    let _ = writeln!(
        out,
        "<h{h}>Metrics: score {:.1}</h{h}>\n<p class=\"pcv-muted\">From {}. Intervals are cumulative: each is judged on everything from the start of the analysis to its end; the score is the last interval's.</p>",
        m.score,
        escape(&m.source)
    );
    out.push_str("<table class=\"pcv-intervals\">\n<tr><th>interval</th><th>from</th><th>to</th><th class=\"num\">score</th><th>verdict</th></tr>\n");
    for iv in &m.intervals {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.1}</td><td><span class=\"pcv-badge {}\">{}</span></td></tr>",
            iv.index,
            escape(iv.start.as_deref().unwrap_or("(whole series)")),
            escape(iv.end.as_deref().unwrap_or("")),
            iv.score,
            verdict_class(iv.verdict),
            iv.verdict.as_str()
        );
    }
    out.push_str("</table>\n");
    let Some(last) = m.intervals.last() else {
        out.push_str("<p class=\"pcv-muted\">No interval was analysed.</p>\n");
        return;
    };
    if !last.groups.is_empty() {
        out.push_str("<table class=\"pcv-groups\">\n<tr><th>group</th><th class=\"num\">weight</th><th class=\"num\">score</th><th class=\"num\">pass</th><th class=\"num\">high</th><th class=\"num\">low</th><th class=\"num\">no data</th><th class=\"num\">no data (fails)</th><th class=\"num\">error</th></tr>\n");
        for g in &last.groups {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(&g.name),
                number(g.weight),
                g.score.map_or("-".to_string(), |s| format!("{s:.1}")),
                g.pass,
                g.high,
                g.low,
                g.nodata,
                g.nodata_fail,
                g.error
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("<div class=\"pcv-charts\">\n");
    for (i, sm) in last.metrics.iter().enumerate() {
        let chart = metric_chart(m, i);
        let class = classification_class(sm.result.classification);
        let r = &sm.result;
        let mean = |v: Option<f64>| v.map_or("-".to_string(), number);
        let _ = writeln!(
            out,
            "<figure class=\"pcv-metric pcv-fig-{}\" data-metric=\"{}\">\n{chart}<figcaption><span class=\"pcv-badge {class}\">{}</span> <strong>{}</strong> <span class=\"pcv-muted\">({}{})</span>: {}<br>baseline {} samples, mean {} · canary {} samples, mean {}</figcaption>\n</figure>",
            class.trim_start_matches("pcv-"),
            escape(&sm.name),
            classification_word(r.classification),
            escape(&sm.name),
            escape(&sm.group),
            if sm.muted { ", muted" } else { "" },
            escape(&r.reason),
            r.baseline.used,
            mean(r.baseline.mean),
            r.canary.used,
            mean(r.canary.mean),
        );
    }
    out.push_str("</div>\n");
}

fn classification_word(c: Classification) -> &'static str {
    match c {
        Classification::Pass => "pass",
        Classification::High => "high",
        Classification::Low => "low",
        Classification::Nodata => "no data",
        Classification::NodataFailMetric => "no data (fails)",
        Classification::Error => "error",
    }
}

fn classification_class(c: Classification) -> &'static str {
    match c {
        Classification::Pass => "pcv-pass",
        Classification::Nodata => "pcv-nodata",
        _ => "pcv-fail",
    }
}

fn classification_colour(c: Classification) -> &'static str {
    match c {
        Classification::Pass => "#1a7f37",
        Classification::Nodata => "#6e7781",
        _ => "#cf222e",
    }
}

/// The points of one side and where they come from.
struct Side {
    points: Vec<[f64; 2]>,
    /// Samples before downsampling.
    samples: usize,
}

/// How the chart's points were had.
enum Source {
    /// The report's recorded series.
    Series,
    /// The report's recorded series, placed by time: seconds since each side's first sample.
    Timed {
        baseline_start: String,
        canary_start: String,
    },
    /// The last interval's values (a report written before series were recorded).
    Values,
    /// Only each interval's mean is known.
    IntervalMeans,
}

/// The baseline and canary points of metric `i` of the last interval.
fn sides(m: &MetricsReport, i: usize) -> Option<(Side, Side, Source)> {
    let last = m.intervals.last()?;
    let sm = last.metrics.get(i)?;
    if let Some(s) = m
        .series
        .iter()
        .find(|s| s.name == sm.name && s.group == sm.group)
    {
        return Some((
            Side {
                points: s.baseline.clone(),
                samples: s.baseline_samples,
            },
            Side {
                points: s.canary.clone(),
                samples: s.canary_samples,
            },
            match (&s.baseline_start, &s.canary_start) {
                (Some(b), Some(c)) => Source::Timed {
                    baseline_start: b.clone(),
                    canary_start: c.clone(),
                },
                _ => Source::Series,
            },
        ));
    }
    let (b, c) = (&sm.result.baseline.values, &sm.result.canary.values);
    if !b.is_empty() || !c.is_empty() {
        return Some((
            Side {
                points: downsample(b, MAX_SERIES_POINTS),
                samples: b.len(),
            },
            Side {
                points: downsample(c, MAX_SERIES_POINTS),
                samples: c.len(),
            },
            Source::Values,
        ));
    }
    // Per interval: the mean at the interval's end (sample counts as positions).
    let mut base = Vec::new();
    let mut canary = Vec::new();
    for iv in &m.intervals {
        if let Some(x) = metric_of(iv, &sm.name, &sm.group) {
            if let Some(v) = x.result.baseline.mean {
                base.push([x.result.baseline.received.saturating_sub(1) as f64, v]);
            }
            if let Some(v) = x.result.canary.mean {
                canary.push([x.result.canary.received.saturating_sub(1) as f64, v]);
            }
        }
    }
    Some((
        Side {
            samples: sm.result.baseline.received,
            points: base,
        },
        Side {
            samples: sm.result.canary.received,
            points: canary,
        },
        Source::IntervalMeans,
    ))
}

fn metric_of<'a>(
    iv: &'a IntervalReport,
    name: &str,
    group: &str,
) -> Option<&'a crate::judge::ScoredMetric> {
    iv.metrics
        .iter()
        .find(|x| x.name == name && x.group == group)
}

/// A number as people read it: at most 4 significant decimals, no trailing zeros.
fn number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = if a >= 100.0 {
        1
    } else if a >= 1.0 {
        3
    } else {
        4
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Round tick values covering `lo..=hi` (about five).
fn ticks(lo: f64, hi: f64) -> (f64, f64, Vec<f64>) {
    let (mut lo, mut hi) = (lo, hi);
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= pad;
        hi += pad;
    }
    let raw = (hi - lo) / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let mut out = Vec::new();
    let mut k = 0.0;
    loop {
        let t = start + k * step;
        if t > end + step * 1e-9 || out.len() > 12 {
            break;
        }
        // -0 reads badly.
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        k += 1.0;
    }
    (start, end, out)
}

/// `HH:MM:SS` of an RFC 3339 time, or the text as given.
/// Unix seconds of an RFC 3339 time.
fn seconds(t: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp() as f64 + f64::from(d.timestamp_subsec_millis()) / 1000.0)
}

/// A tick label for `s` seconds: `0`, `45 s`, `12 min`, `1 h 30 min`.
fn duration(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0 => "0".into(),
        1..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", (s + 30) / 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600 + 30) / 60),
    }
}

fn clock(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .format("%H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_else(|_| t.to_string())
}

const W: f64 = 640.0;
const H: f64 = 270.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 62.0;
const BASELINE_COLOUR: &str = "#0969da";
const CANARY_COLOUR: &str = "#d4720c";

/// The SVG chart of metric `i` of the last interval: baseline and canary over the analysis.
pub fn metric_chart(m: &MetricsReport, i: usize) -> String {
    let Some(sm) = m.intervals.last().and_then(|l| l.metrics.get(i)) else {
        return String::new();
    };
    let id = format!(
        "pcv-{}",
        sm.name
            .chars()
            .chain(std::iter::once('-'))
            .chain(sm.group.chars())
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
    );
    let Some((base, canary, source)) = sides(m, i) else {
        return String::new();
    };
    let r = &sm.result;
    let desc = format!(
        "{} ({}): baseline {} samples, mean {}; canary {} samples, mean {}; classified {}: {}",
        sm.name,
        sm.group,
        base.samples,
        r.baseline.mean.map_or("-".to_string(), number),
        canary.samples,
        r.canary.mean.map_or("-".to_string(), number),
        classification_word(r.classification),
        r.reason
    );
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"pcv-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" font-family=\"system-ui, sans-serif\" font-size=\"11\">\n<title id=\"{id}-t\">{}: baseline and canary over the analysis</title>\n<desc id=\"{id}-d\">{}</desc>",
        escape(&sm.name),
        escape(&desc)
    );
    // Title, the classification in colour, and the legend.
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"16\" font-size=\"13\" font-weight=\"600\" fill=\"#1f2328\">{}</text>\n<rect x=\"{}\" y=\"6\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"15\" fill=\"#1f2328\" text-anchor=\"end\">{}</text>",
        escape(&short(&sm.name, 60)),
        W - RIGHT - 10.0,
        classification_colour(r.classification),
        W - RIGHT - 14.0,
        classification_word(r.classification)
    );
    let legend_y = 31.0;
    let _ = writeln!(
        s,
        "<g class=\"pcv-legend\"><line x1=\"{LEFT}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{BASELINE_COLOUR}\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/><text x=\"{}\" y=\"{ty}\" fill=\"#1f2328\">baseline ({} samples)</text><line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{CANARY_COLOUR}\" stroke-width=\"2.2\"/><text x=\"{}\" y=\"{ty}\" fill=\"#1f2328\">canary ({} samples)</text></g>",
        LEFT + 22.0,
        LEFT + 26.0,
        base.samples,
        LEFT + 190.0,
        LEFT + 212.0,
        LEFT + 216.0,
        canary.samples,
        ly = legend_y - 4.0,
        ty = legend_y,
    );
    let all: Vec<f64> = base
        .points
        .iter()
        .chain(canary.points.iter())
        .map(|p| p[1])
        .filter(|v| v.is_finite())
        .collect();
    let (plot_w, plot_h) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let bottom = TOP + plot_h;
    if all.is_empty() {
        let _ = writeln!(
            s,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"#f6f8fa\" stroke=\"#d0d7de\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#59636e\">no samples on either side</text></svg>",
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
        return s;
    }
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (y0, y1, yt) = ticks(lo.min(0.0_f64.max(lo)), hi);
    // Seconds since the canary's first sample for an interval's end (when both are times).
    let canary_start = match &source {
        Source::Timed { canary_start, .. } => seconds(canary_start),
        _ => None,
    };
    let by_time = canary_start.is_some();
    let x_max = if by_time {
        base.points
            .iter()
            .chain(canary.points.iter())
            .map(|p| p[0])
            .fold(1.0_f64, f64::max)
    } else {
        (base.samples.max(canary.samples).max(2) - 1) as f64
    };
    // Positions are samples (bands reach half a sample either side) or seconds.
    let half = if by_time { 0.0 } else { 0.5 };
    let px = |t: f64| LEFT + t.clamp(0.0, x_max) / x_max * plot_w;
    let py = |v: f64| bottom - (v - y0) / (y1 - y0) * plot_h;
    // The intervals: a band each (cumulative windows, so each band is what its interval added),
    // a strip in its verdict's colour under the axis, and dotted boundaries.
    let mut prev = 0.0;
    let mut ticks_x: Vec<(f64, String)> = Vec::new();
    let timed = m.intervals.iter().all(|iv| iv.end.is_some());
    if let Some(start) = m.intervals.first().and_then(|iv| iv.start.as_deref()) {
        ticks_x.push((0.0, clock(start)));
    }
    let n = m.intervals.len();
    for (k, iv) in m.intervals.iter().enumerate() {
        let end = if k + 1 == n {
            x_max + 1.0
        } else if let (Some(c0), Some(e)) = (canary_start, iv.end.as_deref().and_then(seconds)) {
            (e - c0).max(prev)
        } else {
            metric_of(iv, &sm.name, &sm.group)
                .map_or(prev, |x| {
                    x.result.canary.received.max(x.result.baseline.received) as f64
                })
                .max(prev)
        };
        // Band edges half a sample either side, clamped to the plot.
        let xa = px((prev - half).max(0.0));
        let xb = if k + 1 == n {
            LEFT + plot_w
        } else {
            px(end - half)
        };
        let width = (xb - xa).max(1.0);
        let fill = if k % 2 == 0 { "#eef2f6" } else { "#f8f9fb" };
        let _ = writeln!(
            s,
            "<rect class=\"pcv-interval\" x=\"{xa:.1}\" y=\"{TOP}\" width=\"{width:.1}\" height=\"{plot_h}\" fill=\"{fill}\"/><rect x=\"{xa:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"5\" fill=\"{}\"><title>interval {}: score {:.1}, {}</title></rect>",
            bottom + 31.0,
            verdict_colour(iv.verdict),
            iv.index,
            iv.score,
            iv.verdict.as_str()
        );
        let label = if width > 150.0 {
            format!(
                "interval {}: {:.1}, {}",
                iv.index,
                iv.score,
                iv.verdict.as_str()
            )
        } else if width > 60.0 {
            format!("{}: {:.0} {}", iv.index, iv.score, iv.verdict.as_str())
        } else {
            iv.index.to_string()
        };
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#1f2328\">{}</text>",
            (xa + xb) / 2.0,
            bottom + 48.0,
            escape(&label)
        );
        if k + 1 < n {
            let _ = writeln!(
                s,
                "<line class=\"pcv-boundary\" x1=\"{xb:.1}\" y1=\"{TOP}\" x2=\"{xb:.1}\" y2=\"{:.1}\" stroke=\"#59636e\" stroke-dasharray=\"2 3\"/>",
                bottom + 36.0
            );
        }
        if timed && let Some(e) = &iv.end {
            ticks_x.push(((end - half).max(0.0).min(x_max), clock(e)));
        }
        prev = end;
    }
    if by_time && !timed {
        ticks_x = [0.0, x_max / 2.0, x_max]
            .into_iter()
            .map(|t| (t, duration(t)))
            .collect();
    } else if !timed {
        ticks_x = vec![
            (0.0, "1".into()),
            (x_max / 2.0, format!("{}", (x_max / 2.0).round() as u64 + 1)),
            (x_max, format!("{}", x_max as u64 + 1)),
        ];
    }
    // Axes, grid and tick labels.
    for t in &yt {
        let y = py(*t);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#d0d7de\" stroke-width=\"0.6\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#59636e\">{}</text>",
            LEFT + plot_w,
            LEFT - 5.0,
            y + 3.5,
            number(*t)
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\" stroke=\"#59636e\"/><line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{:.1}\" y2=\"{bottom}\" stroke=\"#59636e\"/>",
        LEFT + plot_w
    );
    let last_tick = ticks_x.len().saturating_sub(1);
    for (i, (t, label)) in ticks_x.iter().enumerate() {
        let anchor = if i == 0 {
            "start"
        } else if i == last_tick {
            "end"
        } else {
            "middle"
        };
        let x = px(*t);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{bottom}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#59636e\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#59636e\">{}</text>",
            bottom + 4.0,
            bottom + 14.0,
            escape(label)
        );
    }
    let axis = match (&source, timed) {
        (
            Source::Timed {
                baseline_start,
                canary_start,
            },
            _,
        ) => {
            let from = if timed {
                "time".to_string()
            } else {
                format!("time since {}", clock(canary_start))
            };
            if baseline_start == canary_start {
                from
            } else {
                format!(
                    "{from} (canary); the baseline from {}, aligned at its first sample",
                    clock(baseline_start)
                )
            }
        }
        (Source::IntervalMeans, _) => {
            "series not recorded: each interval's mean at its end".to_string()
        }
        (_, true) => "samples in time order; ticks at the start and each interval's end".into(),
        (_, false) => "sample, in time order".into(),
    };
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#59636e\">{axis}</text>",
        LEFT + plot_w / 2.0,
        bottom + 26.0
    );
    let _ = writeln!(
        s,
        "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#59636e\">{} (series units)</text>",
        TOP + plot_h / 2.0,
        escape(&short(&sm.name, 28))
    );
    // The two series.
    for (side, colour, dash, width, class) in [
        (
            &base,
            BASELINE_COLOUR,
            " stroke-dasharray=\"5 3\"",
            1.8,
            "baseline",
        ),
        (&canary, CANARY_COLOUR, "", 2.2, "canary"),
    ] {
        let pts: Vec<String> = side
            .points
            .iter()
            .filter(|p| p[1].is_finite())
            .map(|p| format!("{:.1},{:.1}", px(p[0]), py(p[1])))
            .collect();
        if pts.len() > 1 {
            let _ = writeln!(
                s,
                "<polyline class=\"pcv-series pcv-{class}\" data-points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\"{dash} stroke-linejoin=\"round\" points=\"{}\"/>",
                pts.len(),
                pts.join(" ")
            );
        }
        if pts.len() <= 40 {
            for p in &pts {
                let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(
                    s,
                    "<circle class=\"pcv-{class}-point\" cx=\"{x}\" cy=\"{y}\" r=\"2.6\" fill=\"{colour}\"/>"
                );
            }
        }
        if pts.is_empty() {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{colour}\">no {class} samples</text>",
                LEFT + plot_w / 2.0,
                TOP + plot_h / 2.0 + if class == "canary" { 14.0 } else { 0.0 }
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Most template rows shown.
const MAX_CLUSTERS: usize = 60;
/// Samples shown per template, and the lines of each.
const SAMPLES: usize = 2;
const SAMPLE_LINES: usize = 12;

fn level_word(l: Level) -> &'static str {
    match l {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Error => "error",
        Level::Critical => "critical",
    }
}

fn class_word(c: ClusterClass) -> &'static str {
    match c {
        ClusterClass::Unexpected => "unexpected",
        ClusterClass::Expected => "expected",
        ClusterClass::Ignored => "ignored",
    }
}

fn sample_html(c: &LogCluster) -> String {
    let (side, samples) = if c.canary_samples.is_empty() {
        ("baseline", &c.baseline_samples)
    } else {
        ("canary", &c.canary_samples)
    };
    let mut out = String::new();
    for sample in samples.iter().take(SAMPLES) {
        let lines: Vec<&str> = sample.lines().collect();
        let mut text = lines
            .iter()
            .take(SAMPLE_LINES)
            .map(|l| short(l, 240))
            .collect::<Vec<_>>()
            .join("\n");
        if lines.len() > SAMPLE_LINES {
            let _ = write!(text, "\n… {} more lines", lines.len() - SAMPLE_LINES);
        }
        let _ = write!(
            out,
            "<pre class=\"pcv-sample\" title=\"a {side} sample\">{}</pre>",
            escape(&text)
        );
    }
    if out.is_empty() {
        out.push_str("<span class=\"pcv-muted\">no sample kept</span>");
    }
    out
}

fn logs_section(out: &mut String, l: &LogResult, h: u8) {
    let _ = writeln!(
        out,
        "<h{h}>Logs: score {:.1}</h{h}>\n<p>{} baseline events, {} canary events, {} templates, <strong>{} unexpected</strong>.</p>",
        l.score,
        l.baseline_events,
        l.canary_events,
        l.clusters.len(),
        l.unexpected
    );
    let files = |f: &[String]| {
        if f.is_empty() {
            "-".to_string()
        } else {
            f.iter().map(|x| escape(x)).collect::<Vec<_>>().join(", ")
        }
    };
    let _ = writeln!(
        out,
        "<p class=\"pcv-muted\">Baseline: {}. Canary: {}.</p>",
        files(&l.baseline_files),
        files(&l.canary_files)
    );
    for n in &l.notes {
        let _ = writeln!(out, "<p class=\"pcv-muted\">Note: {}</p>", escape(n));
    }
    out.push_str("<table class=\"pcv-clusters\">\n<tr><th>classification</th><th>level</th><th>template</th><th class=\"num\">baseline</th><th class=\"num\">canary</th><th>sample</th></tr>\n");
    for c in l.clusters.iter().take(MAX_CLUSTERS) {
        let class = class_word(c.classification);
        let _ = writeln!(
            out,
            "<tr class=\"pcv-cluster pcv-row-{class}\"><td><span class=\"pcv-badge pcv-{class}\">{class}</span><br><span class=\"pcv-muted\">{}</span></td><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&c.reason),
            level_word(c.level),
            escape(&short(&c.template, 300)),
            c.baseline_count,
            c.canary_count,
            sample_html(c)
        );
    }
    if l.clusters.is_empty() {
        out.push_str("<tr><td colspan=\"6\" class=\"pcv-muted\">no log events</td></tr>\n");
    }
    out.push_str("</table>\n");
    if l.clusters.len() > MAX_CLUSTERS {
        let _ = writeln!(
            out,
            "<p class=\"pcv-muted\">and {} more templates (the JSON report has them all).</p>",
            l.clusters.len() - MAX_CLUSTERS
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use std::path::{Path, PathBuf};

    use super::*;
    use crate::analysis::{self, Subject};
    use crate::config::AnalysisConfig;
    use crate::report::ReportArtifact;

    fn examples() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/verify")
    }

    /// The example analysis against `canary` (`healthy` or `regressed`), over the examples'
    /// half hour in `intervals` intervals.
    fn report(canary: &str, intervals: u32) -> Report {
        let dir = examples();
        let yaml = format!(
            "apiVersion: portcullis.dev/v1
kind: CanaryAnalysis
thresholds: {{pass: 95, marginal: 75}}
analysis: {{start: '2026-11-18T11:06:40Z', end: '2026-11-18T11:36:40Z', intervals: {intervals}, step: 30s}}
provider:
  files: {{baseline: {b}, canary: {c}}}
groups:
  - name: errors
    weight: 50
    metrics:
      - {{name: error_rate, direction: increase, critical: true, mustHaveData: true, maxRelativeChange: 0.5}}
  - name: performance
    weight: 50
    metrics:
      - {{name: latency_p99, direction: increase, effectSize: {{allowedIncrease: 1.05}}}}
      - {{name: throughput, direction: decrease, effectSize: {{allowedDecrease: 0.95}}}}
logs:
  baseline: [{bl}]
  canary: [{cl}]
  ignore: ['cache refreshed']
",
            b = dir.join("baseline.csv").display(),
            c = dir.join(format!("canary-{canary}.csv")).display(),
            bl = dir.join("baseline.log").display(),
            cl = dir.join(format!("canary-{canary}.log")).display(),
        );
        let config = AnalysisConfig::parse(Path::new("test.yaml"), &yaml).unwrap();
        analysis::run(
            &config,
            &Subject {
                artifact: Some(ReportArtifact {
                    name: "shop/checkout-api".into(),
                    digest: format!("sha256:{}", "ab".repeat(32)),
                }),
                environment: Some("production".into()),
            },
        )
        .unwrap()
    }

    /// The `<figure>` of each metric.
    fn figures(html: &str) -> Vec<&str> {
        html.split("<figure class=\"pcv-metric")
            .skip(1)
            .map(|f| f.split("</figure>").next().unwrap())
            .collect()
    }

    fn polyline_points(figure: &str, class: &str) -> usize {
        figure
            .split(&format!("class=\"pcv-series pcv-{class}\" data-points=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map_or(0, |n| n.parse().unwrap())
    }

    #[test]
    fn every_metric_has_a_chart_of_both_series_with_the_intervals() {
        let r = report("healthy", 3);
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.human());
        let m = r.metrics.as_ref().unwrap();
        assert_eq!(m.intervals.len(), 3);
        assert_eq!(m.series.len(), 3, "a series per metric");
        let html = page(&r);
        assert!(html.starts_with("<!DOCTYPE html>"));
        // Self-contained: no script, nothing fetched.
        for bad in ["<script", "src=", "<link", "@import", "url("] {
            assert!(!html.contains(bad), "{bad} in the page");
        }
        assert!(
            !html.contains(": null") && !html.contains(">null<"),
            "no raw nulls"
        );
        let figs = figures(&html);
        let names: Vec<&str> = figs
            .iter()
            .map(|f| {
                f.split("data-metric=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(names, ["error_rate", "latency_p99", "throughput"]);
        for (f, s) in figs.iter().zip(&m.series) {
            // Both series, every sample (60 per side within the window, under the bound).
            assert_eq!(polyline_points(f, "baseline"), s.baseline.len(), "{f}");
            assert_eq!(polyline_points(f, "canary"), s.canary.len(), "{f}");
            assert!(s.baseline.len() >= 50 && s.canary.len() >= 50, "{s:?}");
            // Accessible, labelled, with a legend and the intervals marked.
            assert!(f.contains("role=\"img\""), "{f}");
            assert!(f.contains("<title id="), "{f}");
            assert!(f.contains("<desc id="), "{f}");
            assert!(f.contains(">baseline (") && f.contains(">canary ("), "{f}");
            assert_eq!(f.matches("class=\"pcv-interval\"").count(), 3, "{f}");
            assert_eq!(
                f.matches("stroke-dasharray=\"2 3\"").count(),
                2,
                "two boundaries: {f}"
            );
            // The time axis: the start and each interval's end.
            for t in [
                "11:06:40 UTC",
                "11:16:40 UTC",
                "11:26:40 UTC",
                "11:36:40 UTC",
            ] {
                assert!(f.contains(&format!(">{t}</text>")), "{t} in {f}");
            }
            assert!(f.contains(">interval 2: 100.0, pass</text>"), "{f}");
            // Placed by time: the samples' times were recorded, the windows are 10 minutes.
            assert!(s.timed(), "{s:?}");
            assert!(f.contains(">time</text>"), "{f}");
            let bands: Vec<f64> = f
                .match_indices("class=\"pcv-interval\" x=\"")
                .filter_map(|(i, m)| {
                    f[i + m.len()..]
                        .split('"')
                        .next()
                        .and_then(|x| x.parse().ok())
                })
                .collect();
            assert_eq!(bands.len(), 3, "{f}");
            let (w1, w2) = (bands[1] - bands[0], bands[2] - bands[1]);
            assert!(
                (w1 - w2).abs() < 1.0,
                "equal windows, equal bands: {bands:?}"
            );
            assert!(f.contains("(series units)"), "{f}");
        }
        assert!(html.contains("data-verdict=\"pass\""), "{html}");
    }

    #[test]
    fn a_baseline_from_another_window_is_aligned_at_its_first_sample() {
        // As a watch compares: the baseline an hour before the canary, samples 10 s apart.
        let mut r = report("regressed", 3);
        let m = r.metrics.as_mut().unwrap();
        let last = m.intervals.last().unwrap().clone();
        let (c0, b0) = (1_764_900_000.0, 1_764_900_000.0 - 3600.0);
        let timed: Vec<crate::report::TimedSamples> = last
            .metrics
            .iter()
            .map(|sm| crate::report::TimedSamples {
                group: sm.group.clone(),
                name: sm.name.clone(),
                baseline: (0..30).map(|k| (Some(b0 + 10.0 * k as f64), 1.0)).collect(),
                canary: (0..30).map(|k| (Some(c0 + 10.0 * k as f64), 2.0)).collect(),
            })
            .collect();
        m.series = crate::report::series_of(&m.intervals, &timed);
        for s in &m.series {
            assert!(s.timed());
            assert_ne!(s.baseline_start, s.canary_start);
            // Both sides in seconds since their own first sample: 0 to 290.
            assert_eq!(s.baseline.first().map(|p| p[0]), Some(0.0));
            assert_eq!(s.canary.last().map(|p| p[0]), Some(290.0));
        }
        let html = page(&r);
        assert!(
            html.contains("(canary); the baseline from 01:00:00 UTC, aligned at its first sample"),
            "{html}"
        );
        // Untimed samples (a source without times) fall back to positions.
        let untimed: Vec<crate::report::TimedSamples> = timed
            .iter()
            .map(|t| crate::report::TimedSamples {
                baseline: t.baseline.iter().map(|&(_, v)| (None, v)).collect(),
                ..t.clone()
            })
            .collect();
        let m = r.metrics.as_mut().unwrap();
        m.series = crate::report::series_of(&m.intervals, &untimed);
        assert!(m.series.iter().all(|s| !s.timed()));
    }

    #[test]
    fn a_failed_canary_shows_its_verdict_and_its_log_templates_with_samples() {
        let r = report("regressed", 3);
        assert_eq!(r.verdict, Verdict::Fail, "{}", r.human());
        let html = page(&r);
        assert!(html.contains("data-verdict=\"fail\""), "{html}");
        assert!(html.contains("class=\"pcv-failing\""), "{html}");
        let figs = figures(&html);
        assert_eq!(figs.len(), 3);
        let error_rate = figs[0];
        assert!(error_rate.starts_with(" pcv-fig-fail\""), "{error_rate}");
        assert!(polyline_points(error_rate, "baseline") > 0);
        assert!(polyline_points(error_rate, "canary") > 0);
        // The clusters: one row each, unexpected ones with a sample of the canary's lines.
        let logs = r.logs.as_ref().unwrap();
        let rows: Vec<&str> = html
            .split("<tr class=\"pcv-cluster ")
            .skip(1)
            .map(|r| r.split("</tr>").next().unwrap())
            .collect();
        assert_eq!(rows.len(), logs.clusters.len().min(MAX_CLUSTERS));
        let unexpected: Vec<&&str> = rows
            .iter()
            .filter(|r| r.starts_with("pcv-row-unexpected"))
            .collect();
        assert_eq!(unexpected.len(), logs.unexpected);
        assert!(!unexpected.is_empty());
        for (row, c) in rows.iter().zip(&logs.clusters) {
            assert!(row.contains(&escape(&short(&c.template, 300))), "{row}");
            assert!(
                row.contains(&format!(
                    "<td class=\"num\">{}</td><td class=\"num\">{}</td>",
                    c.baseline_count, c.canary_count
                )),
                "{row}"
            );
            let sample = c
                .canary_samples
                .first()
                .or(c.baseline_samples.first())
                .unwrap();
            let first = sample.lines().next().unwrap();
            assert!(
                row.contains(&escape(&short(first, 240))),
                "a sample in {row}"
            );
        }
    }

    #[test]
    fn a_report_without_series_still_reads_and_says_so() {
        let r = report("healthy", 3);
        let mut json: serde_json::Value = serde_json::to_value(&r).unwrap();
        // A report of before: no series.
        json["metrics"].as_object_mut().unwrap().remove("series");
        let old: Report = serde_json::from_value(json.clone()).unwrap();
        assert!(old.metrics.as_ref().unwrap().series.is_empty());
        let html = page(&old);
        // The last interval's values stand in.
        for f in figures(&html) {
            assert!(polyline_points(f, "baseline") >= 50, "{f}");
            assert!(f.contains("samples in time order"), "{f}");
        }
        // Nor values: each interval's means, said.
        for iv in json["metrics"]["intervals"].as_array_mut().unwrap() {
            for m in iv["metrics"].as_array_mut().unwrap() {
                m["result"]["baseline"]["values"] = serde_json::json!([]);
                m["result"]["canary"]["values"] = serde_json::json!([]);
            }
        }
        let bare: Report = serde_json::from_value(json).unwrap();
        let html = page(&bare);
        for f in figures(&html) {
            assert!(f.contains("series not recorded"), "{f}");
            assert_eq!(f.matches("class=\"pcv-canary-point\"").count(), 3, "{f}");
        }
    }

    #[test]
    fn series_are_bounded_and_keep_the_mean() {
        let v: Vec<f64> = (0..10_000).map(|i| f64::from(i % 100)).collect();
        let d = downsample(&v, MAX_SERIES_POINTS);
        assert!(d.len() <= MAX_SERIES_POINTS);
        let mean = |p: &[[f64; 2]]| p.iter().map(|x| x[1]).sum::<f64>() / p.len() as f64;
        assert!((mean(&d) - 49.5).abs() < 1.0, "{}", mean(&d));
        assert!(d.windows(2).all(|w| w[0][0] < w[1][0]), "in order");
        let small = downsample(&[1.0, f64::NAN, 3.0], MAX_SERIES_POINTS);
        assert_eq!(small, vec![[0.0, 1.0], [2.0, 3.0]]);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let (lo, hi, t) = ticks(0.0095, 0.0123);
        assert!(lo <= 0.0095 && hi >= 0.0123 && t.len() >= 3, "{t:?}");
        assert_eq!(number(0.0096161), "0.0096");
        assert_eq!(number(1234.56), "1234.6");
    }
}
