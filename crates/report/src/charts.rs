//! Charts as self-contained SVG, rendered on the server: no script, no external font or CSS,
//! a `viewBox` so they scale on screen and in print, `<title>`/`<desc>` for screen readers,
//! axis ticks, a legend, and every series drawn with a colour *and* a pattern plus direct value
//! labels, so a black-and-white printout still reads. All text is XML-escaped.
//!
//! The two charts take plain data: [`StackedBars`] (e.g. allowed / denied / warned per day) and
//! [`HBars`] (e.g. the most violated rules). Missing values count as zero; nothing here panics.

use std::fmt::Write as _;

/// A stacked bar chart over categories (usually days): one bar per label, one segment per series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackedBars {
    /// Shown above the chart and as the SVG `<title>`.
    pub title: String,
    /// The SVG `<desc>`: what the chart shows, for screen readers.
    pub description: String,
    /// One label per bar, left to right (e.g. `2026-11-28`).
    pub labels: Vec<String>,
    /// Stacked bottom to top in this order; `values[i]` belongs to `labels[i]`.
    pub series: Vec<Series>,
}

/// One series of a [`StackedBars`] chart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub values: Vec<u64>,
}

/// A horizontal bar chart: one bar per row, largest first as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HBars {
    pub title: String,
    pub description: String,
    pub bars: Vec<Bar>,
}

/// One bar of an [`HBars`] chart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: u64,
}

/// Okabe–Ito colours (distinguishable with the common colour-vision deficiencies); series `i`
/// takes `PALETTE[i % len]` and `PATTERNS[i % len]`.
const PALETTE: [&str; 8] = [
    "#009E73", "#D55E00", "#E69F00", "#0072B2", "#CC79A7", "#56B4E9", "#F0E442", "#999999",
];

/// Pattern overlays drawn in black on the series colour, so series differ without colour.
#[derive(Debug, Clone, Copy)]
enum Pattern {
    Solid,
    Diagonal,
    Dots,
    Cross,
    Horizontal,
    Vertical,
    BackDiagonal,
    Grid,
}

const PATTERNS: [Pattern; 8] = [
    Pattern::Solid,
    Pattern::Diagonal,
    Pattern::Dots,
    Pattern::Cross,
    Pattern::Horizontal,
    Pattern::Vertical,
    Pattern::BackDiagonal,
    Pattern::Grid,
];

const WIDTH: u64 = 760;
const FONT: &str = "font-family=\"sans-serif\"";
const INK: &str = "#222222";
const LABEL_LIMIT: usize = 38;

/// Escape text for XML content and attribute values. Characters XML 1.0 does not allow
/// (most C0 controls) become U+FFFD so the document stays well-formed.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Render a stacked bar chart as an SVG document (`<svg …>…</svg>`).
pub fn stacked_bars(chart: &StackedBars) -> String {
    let id = chart_id("sb", &chart.title, chart.labels.len(), chart.series.len());
    let totals: Vec<u64> = (0..chart.labels.len())
        .map(|i| {
            chart
                .series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0))
                .fold(0u64, u64::saturating_add)
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0);
    let (step, top) = nice_scale(max);

    // Layout: title, plot, x labels, legend rows below.
    let left = 56u64;
    let right = 16u64;
    let plot_top = 44u64;
    let plot_h = 240u64;
    let plot_w = WIDTH - left - right;
    let legend_cols = 4u64;
    let legend_rows = (chart.series.len() as u64).div_ceil(legend_cols).max(1);
    let height = plot_top + plot_h + 44 + legend_rows * 22 + 8;

    let mut svg = open_svg(&id, height, &chart.title, &chart.description);
    write_defs(&mut svg, &id, chart.series.len());
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"24\" {FONT} font-size=\"16\" font-weight=\"bold\" fill=\"{INK}\">{}</text>",
        left,
        escape_xml(&chart.title)
    );

    // Y axis: grid lines and ticks.
    let y_of = |v: u64| -> f64 {
        if top == 0 {
            (plot_top + plot_h) as f64
        } else {
            (plot_top + plot_h) as f64 - (v as f64 / top as f64) * plot_h as f64
        }
    };
    let mut tick = 0u64;
    loop {
        let y = y_of(tick);
        let _ = write!(
            svg,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#cccccc\" stroke-width=\"1\"/>\
             <text x=\"{}\" y=\"{:.1}\" {FONT} font-size=\"12\" text-anchor=\"end\" fill=\"{INK}\">{tick}</text>",
            left + plot_w,
            left - 6,
            y + 4.0
        );
        if tick >= top || step == 0 {
            break;
        }
        tick = tick.saturating_add(step);
    }
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{plot_top}\" x2=\"{left}\" y2=\"{}\" stroke=\"{INK}\" stroke-width=\"1\"/>\
         <line x1=\"{left}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"{INK}\" stroke-width=\"1\"/>",
        plot_top + plot_h,
        left + plot_w
    );

    if chart.labels.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" {FONT} font-size=\"14\" text-anchor=\"middle\" fill=\"{INK}\">No data in this range</text>",
            left + plot_w / 2,
            plot_top + plot_h / 2
        );
    }

    // Bars.
    let n = chart.labels.len().max(1) as f64;
    let slot = plot_w as f64 / n;
    let bar_w = (slot * 0.7).max(1.0);
    // Show at most ~12 x labels; the rest stay in each bar's tooltip <title>.
    let label_every = chart.labels.len().div_ceil(12).max(1);
    for (i, label) in chart.labels.iter().enumerate() {
        let x = left as f64 + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut base = 0u64;
        let _ = write!(svg, "<g><title>{}", escape_xml(label));
        for s in &chart.series {
            let v = s.values.get(i).copied().unwrap_or(0);
            let _ = write!(svg, " — {}: {v}", escape_xml(&s.name));
        }
        svg.push_str("</title>");
        for (k, s) in chart.series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let y1 = y_of(base.saturating_add(v));
            let y0 = y_of(base);
            let h = (y0 - y1).max(0.5);
            filled_rect(&mut svg, k, x, y1, bar_w, h);
            // Direct label inside the segment when it fits, on a white box so patterns don't hide it.
            let text = v.to_string();
            let text_w = 7.0 * text.len() as f64 + 4.0;
            if h >= 15.0 && bar_w >= text_w {
                let cx = x + bar_w / 2.0;
                let cy = y1 + h / 2.0;
                let _ = write!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{text_w:.1}\" height=\"13\" fill=\"#ffffff\" fill-opacity=\"0.85\"/>\
                     <text x=\"{cx:.1}\" y=\"{:.1}\" {FONT} font-size=\"11\" text-anchor=\"middle\" fill=\"#000000\">{text}</text>",
                    cx - text_w / 2.0,
                    cy - 7.0,
                    cy + 4.0
                );
            }
            base = base.saturating_add(v);
        }
        // Total above the bar.
        let total = totals.get(i).copied().unwrap_or(0);
        if total > 0 && bar_w >= 7.0 * total.to_string().len() as f64 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" {FONT} font-size=\"11\" text-anchor=\"middle\" fill=\"{INK}\">{total}</text>",
                x + bar_w / 2.0,
                y_of(total) - 3.0
            );
        }
        svg.push_str("</g>");
        if i % label_every == 0 {
            let _ = write!(
                svg,
                "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"{INK}\" stroke-width=\"1\"/>\
                 <text x=\"{0:.1}\" y=\"{3}\" {FONT} font-size=\"11\" text-anchor=\"middle\" fill=\"{INK}\">{4}</text>",
                x + bar_w / 2.0,
                plot_top + plot_h,
                plot_top + plot_h + 4,
                plot_top + plot_h + 18,
                escape_xml(&truncate(label, 12))
            );
        }
    }

    // Legend.
    let legend_top = plot_top + plot_h + 32;
    let col_w = plot_w / legend_cols;
    for (k, s) in chart.series.iter().enumerate() {
        let row = k as u64 / legend_cols;
        let col = k as u64 % legend_cols;
        let x = left + col * col_w;
        let y = legend_top + row * 22;
        let total: u64 = s.values.iter().copied().fold(0u64, u64::saturating_add);
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"16\" height=\"14\" fill=\"url(#{id}-p{k})\" stroke=\"{INK}\" stroke-width=\"0.75\"/>\
             <text x=\"{}\" y=\"{}\" {FONT} font-size=\"12\" fill=\"{INK}\">{} ({total})</text>",
            x + 22,
            y + 12,
            escape_xml(&truncate(&s.name, 28))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Render a horizontal bar chart as an SVG document (`<svg …>…</svg>`).
pub fn hbars(chart: &HBars) -> String {
    let id = chart_id("hb", &chart.title, chart.bars.len(), 1);
    let max = chart.bars.iter().map(|b| b.value).max().unwrap_or(0);
    let (step, top) = nice_scale(max);
    let left = 280u64;
    let right = 48u64;
    let plot_top = 44u64;
    let row_h = 24u64;
    let plot_h = (chart.bars.len() as u64).max(1) * row_h;
    let plot_w = WIDTH - left - right;
    let height = plot_top + plot_h + 34;

    let mut svg = open_svg(&id, height, &chart.title, &chart.description);
    write_defs(&mut svg, &id, 1);
    let _ = write!(
        svg,
        "<text x=\"16\" y=\"24\" {FONT} font-size=\"16\" font-weight=\"bold\" fill=\"{INK}\">{}</text>",
        escape_xml(&chart.title)
    );
    let x_of = |v: u64| -> f64 {
        if top == 0 {
            left as f64
        } else {
            left as f64 + (v as f64 / top as f64) * plot_w as f64
        }
    };
    // X axis ticks and grid.
    let mut tick = 0u64;
    loop {
        let x = x_of(tick);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{plot_top}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#cccccc\" stroke-width=\"1\"/>\
             <text x=\"{x:.1}\" y=\"{}\" {FONT} font-size=\"12\" text-anchor=\"middle\" fill=\"{INK}\">{tick}</text>",
            plot_top + plot_h,
            plot_top + plot_h + 16
        );
        if tick >= top || step == 0 {
            break;
        }
        tick = tick.saturating_add(step);
    }
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{plot_top}\" x2=\"{left}\" y2=\"{}\" stroke=\"{INK}\" stroke-width=\"1\"/>",
        plot_top + plot_h
    );
    if chart.bars.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" {FONT} font-size=\"14\" text-anchor=\"middle\" fill=\"{INK}\">No data in this range</text>",
            left + plot_w / 2,
            plot_top + row_h / 2 + 5
        );
    }
    for (i, bar) in chart.bars.iter().enumerate() {
        let y = plot_top + i as u64 * row_h;
        let w = x_of(bar.value) - left as f64;
        let _ = write!(
            svg,
            "<g><title>{}: {}</title>\
             <text x=\"{}\" y=\"{}\" {FONT} font-size=\"12\" text-anchor=\"end\" fill=\"{INK}\">{}</text>\
             {}\
             <text x=\"{:.1}\" y=\"{}\" {FONT} font-size=\"12\" fill=\"{INK}\">{}</text></g>",
            escape_xml(&bar.label),
            bar.value,
            left - 8,
            y + row_h / 2 + 4,
            escape_xml(&truncate(&bar.label, LABEL_LIMIT)),
            {
                let mut r = String::new();
                filled_rect(
                    &mut r,
                    0,
                    left as f64,
                    (y + 4) as f64,
                    w,
                    (row_h - 8) as f64,
                );
                r
            },
            left as f64 + w + 6.0,
            y + row_h / 2 + 4,
            bar.value
        );
    }
    svg.push_str("</svg>");
    svg
}

fn open_svg(id: &str, height: u64, title: &str, description: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-labelledby=\"{id}-title {id}-desc\" preserveAspectRatio=\"xMinYMin meet\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>\
         <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height}\" fill=\"#ffffff\"/>",
        escape_xml(title),
        escape_xml(description)
    )
}

/// A bar segment in series `k`'s colour with its black overlay drawn out as lines (or dots)
/// over the segment, on the same 8-unit grid as the legend's `<pattern>`. Written out rather
/// than filled with the pattern: Chromium's PDF output repeats a pattern's whole definition
/// for every shape that uses it, which made a 31-bar chart weigh 4 MB in a printed report.
fn filled_rect(svg: &mut String, k: usize, x: f64, y: f64, w: f64, h: f64) {
    let colour = PALETTE.get(k % PALETTE.len()).copied().unwrap_or("#999999");
    let pattern = PATTERNS
        .get(k % PATTERNS.len())
        .copied()
        .unwrap_or(Pattern::Solid);
    let _ = write!(
        svg,
        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{colour}\"/>"
    );
    let d = overlay_path(pattern, x, y, w, h);
    if !d.is_empty() {
        let (paint, width) = match pattern {
            Pattern::Dots => ("fill=\"#000000\"", ""),
            Pattern::Grid => ("fill=\"none\" stroke=\"#000000\"", " stroke-width=\"0.8\""),
            Pattern::Cross => ("fill=\"none\" stroke=\"#000000\"", " stroke-width=\"1\""),
            _ => ("fill=\"none\" stroke=\"#000000\"", " stroke-width=\"1.2\""),
        };
        let _ = write!(svg, "<path d=\"{d}\" {paint}{width}/>");
    }
    let _ = write!(
        svg,
        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"none\" stroke=\"{INK}\" stroke-width=\"0.75\"/>"
    );
}

/// The overlay of `pattern` inside the rectangle, as one path: each line cut to the rectangle
/// (so nothing is drawn outside it and no clip path is needed).
fn overlay_path(pattern: Pattern, x: f64, y: f64, w: f64, h: f64) -> String {
    const STEP: f64 = 8.0;
    let mut d = String::new();
    if w <= 0.0 || h <= 0.0 {
        return d;
    }
    let (x1, y1) = (x + w, y + h);
    // A line of slope ±1 through the point (c, y) cut to the rectangle.
    let mut diagonal = |c: f64, down: bool| {
        // Down (\): points (c + t, y + t); up (/): points (c - t, y + t), t ≥ 0.
        let (t0, t1) = if down {
            ((x - c).max(0.0), (x1 - c).min(h))
        } else {
            ((c - x1).max(0.0), (c - x).min(h))
        };
        if t1 > t0 {
            let (ax, bx) = if down {
                (c + t0, c + t1)
            } else {
                (c - t0, c - t1)
            };
            let _ = write!(d, "M{ax:.1},{:.1}L{bx:.1},{:.1}", y + t0, y + t1);
        }
    };
    let first = (x / STEP).floor() * STEP;
    let diagonals = |f: &mut dyn FnMut(f64)| {
        let mut c = first - h - STEP;
        while c <= x1 + h + STEP {
            f(c);
            c += STEP;
        }
    };
    match pattern {
        Pattern::Solid => {}
        Pattern::Diagonal => diagonals(&mut |c| diagonal(c, false)),
        Pattern::BackDiagonal => diagonals(&mut |c| diagonal(c, true)),
        Pattern::Cross => {
            diagonals(&mut |c| diagonal(c, false));
            diagonals(&mut |c| diagonal(c, true));
        }
        Pattern::Horizontal | Pattern::Vertical | Pattern::Grid => {
            if matches!(pattern, Pattern::Horizontal | Pattern::Grid) {
                let mut ly = (y / STEP).floor() * STEP + STEP / 2.0;
                while ly < y1 {
                    if ly > y {
                        let _ = write!(d, "M{x:.1},{ly:.1}H{x1:.1}");
                    }
                    ly += STEP;
                }
            }
            if matches!(pattern, Pattern::Vertical | Pattern::Grid) {
                let mut lx = first + STEP / 2.0;
                while lx < x1 {
                    if lx > x {
                        let _ = write!(d, "M{lx:.1},{y:.1}V{y1:.1}");
                    }
                    lx += STEP;
                }
            }
        }
        Pattern::Dots => {
            let r = 1.5;
            let mut cy = (y / STEP).floor() * STEP + STEP / 2.0;
            while cy < y1 {
                let mut cx = first + STEP / 2.0;
                while cx < x1 {
                    if cx - r >= x && cx + r <= x1 && cy - r >= y && cy + r <= y1 {
                        let _ = write!(
                            d,
                            "M{:.1},{cy:.1}a{r},{r} 0 1,0 {},0a{r},{r} 0 1,0 -{},0",
                            cx - r,
                            2.0 * r,
                            2.0 * r
                        );
                    }
                    cx += STEP;
                }
                cy += STEP;
            }
        }
    }
    d
}

/// One `<pattern>` per series (for the legend's swatches): the series colour with a black
/// overlay of its own shape.
fn write_defs(svg: &mut String, id: &str, series: usize) {
    svg.push_str("<defs>");
    for k in 0..series {
        let colour = PALETTE.get(k % PALETTE.len()).copied().unwrap_or("#999999");
        let pattern = PATTERNS
            .get(k % PATTERNS.len())
            .copied()
            .unwrap_or(Pattern::Solid);
        let overlay = match pattern {
            Pattern::Solid => String::new(),
            Pattern::Diagonal => {
                "<path d=\"M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4\" stroke=\"#000000\" stroke-width=\"1.2\"/>"
                    .to_string()
            }
            Pattern::BackDiagonal => {
                "<path d=\"M-2,6 l4,4 M0,0 l8,8 M6,-2 l4,4\" stroke=\"#000000\" stroke-width=\"1.2\"/>"
                    .to_string()
            }
            Pattern::Dots => "<circle cx=\"4\" cy=\"4\" r=\"1.5\" fill=\"#000000\"/>".to_string(),
            Pattern::Cross => {
                "<path d=\"M0,0 l8,8 M8,0 l-8,8\" stroke=\"#000000\" stroke-width=\"1\"/>".to_string()
            }
            Pattern::Horizontal => {
                "<path d=\"M0,4 h8\" stroke=\"#000000\" stroke-width=\"1.2\"/>".to_string()
            }
            Pattern::Vertical => {
                "<path d=\"M4,0 v8\" stroke=\"#000000\" stroke-width=\"1.2\"/>".to_string()
            }
            Pattern::Grid => {
                "<path d=\"M0,4 h8 M4,0 v8\" stroke=\"#000000\" stroke-width=\"0.8\"/>".to_string()
            }
        };
        let _ = write!(
            svg,
            "<pattern id=\"{id}-p{k}\" patternUnits=\"userSpaceOnUse\" width=\"8\" height=\"8\">\
             <rect width=\"8\" height=\"8\" fill=\"{colour}\"/>{overlay}</pattern>"
        );
    }
    svg.push_str("</defs>");
}

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about five ticks, and the axis top (a multiple
/// of the step ≥ `max`). `max == 0` gives a 0..1 axis.
fn nice_scale(max: u64) -> (u64, u64) {
    if max == 0 {
        return (1, 1);
    }
    let rough = max.div_ceil(5).max(1);
    let mut magnitude = 1u64;
    while magnitude.saturating_mul(10) <= rough && magnitude < u64::MAX / 10 {
        magnitude *= 10;
    }
    let step = [1u64, 2, 5, 10]
        .iter()
        .map(|m| m.saturating_mul(magnitude))
        .find(|s| *s >= rough)
        .unwrap_or(magnitude.saturating_mul(10));
    let top = max.div_ceil(step).saturating_mul(step);
    (step, top)
}

fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// An id prefix for the chart's `<pattern>`s and title, unique per chart content so several
/// charts inlined in one HTML page don't share ids (FNV-1a over the title and shape).
fn chart_id(kind: &str, title: &str, a: usize, b: usize) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in title.bytes().chain(a.to_le_bytes()).chain(b.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("pc-{kind}-{:08x}", hash & 0xffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days() -> StackedBars {
        StackedBars {
            title: "Decisions per day".into(),
            description: "Allowed, denied and warned decisions per day".into(),
            labels: vec![
                "2026-11-01".into(),
                "2026-11-02".into(),
                "2026-11-03".into(),
            ],
            series: vec![
                Series {
                    name: "allowed".into(),
                    values: vec![5, 0, 12],
                },
                Series {
                    name: "denied".into(),
                    values: vec![2, 3, 0],
                },
                Series {
                    name: "warned".into(),
                    values: vec![1, 0, 4],
                },
            ],
        }
    }

    /// Parse the SVG with a strict XML reader: every chart must be well-formed XML.
    fn well_formed(svg: &str) {
        let mut depth = 0i64;
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let Some(end) = rest[start..].find('>') else {
                panic!("unclosed tag in {svg}");
            };
            let tag = &rest[start + 1..start + end];
            if tag.starts_with('/') {
                depth -= 1;
            } else if !tag.ends_with('/') {
                depth += 1;
            }
            assert!(depth >= 0, "more closing than opening tags");
            let text = &rest[start + end + 1..];
            let next = text.find('<').unwrap_or(text.len());
            assert!(
                !text[..next].contains('>') && !text[..next].contains('"'),
                "unescaped text {:?}",
                &text[..next]
            );
            rest = text;
        }
        assert_eq!(depth, 0, "unbalanced tags");
    }

    #[test]
    fn stacked_bars_have_title_desc_viewbox_legend_and_ticks() {
        let svg = stacked_bars(&days());
        well_formed(&svg);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 760 "));
        assert!(svg.contains(">Decisions per day</title>"));
        assert!(svg.contains("<desc id="));
        assert!(svg.contains(">Allowed, denied and warned decisions per day</desc>"));
        // Legend names with series totals.
        assert!(svg.contains(">allowed (17)</text>"));
        assert!(svg.contains(">denied (5)</text>"));
        assert!(svg.contains(">warned (5)</text>"));
        // Max total is 16 → step 5, top 20: ticks 0, 5, 10, 15, 20.
        for t in ["0", "5", "10", "15", "20"] {
            assert!(svg.contains(&format!("text-anchor=\"end\" fill=\"#222222\">{t}</text>")));
        }
        assert!(!svg.contains(">25</text>"));
        // Totals above bars and x labels.
        assert!(svg.contains(">16</text>"));
        assert!(svg.contains(">2026-11-02</text>"));
        // No external references: no href to anything but in-document patterns, no style sheet.
        assert!(!svg.contains("http://") || svg.matches("http://").count() == 1);
        assert!(!svg.contains("<style"));
        assert!(!svg.contains("<script"));
    }

    #[test]
    fn every_series_has_its_own_pattern_for_black_and_white_print() {
        let svg = stacked_bars(&days());
        let id = svg
            .split("aria-labelledby=\"")
            .nth(1)
            .and_then(|s| s.split("-title").next())
            .unwrap();
        for k in 0..3 {
            assert!(svg.contains(&format!("<pattern id=\"{id}-p{k}\"")));
            assert!(svg.contains(&format!("fill=\"url(#{id}-p{k})\"")));
        }
        // The bars draw their overlays themselves (the legend alone uses the patterns), each
        // line inside its bar.
        assert_eq!(
            svg.matches("url(#").count(),
            3,
            "only the legend's swatches"
        );
        for colour in PALETTE.iter().take(3) {
            assert!(svg.contains(&format!("fill=\"{colour}\"")), "{colour}");
        }
        for (pattern, (x, y, w, h)) in [
            (Pattern::Diagonal, (13.0, 7.0, 20.0, 55.0)),
            (Pattern::BackDiagonal, (100.0, 3.5, 9.0, 30.0)),
            (Pattern::Cross, (0.0, 0.0, 64.0, 8.0)),
            (Pattern::Grid, (5.0, 5.0, 33.0, 21.0)),
            (Pattern::Dots, (5.0, 5.0, 33.0, 21.0)),
        ] {
            let d = overlay_path(pattern, x, y, w, h);
            assert!(!d.is_empty(), "{pattern:?}");
            let numbers: Vec<f64> = d
                .split(|c: char| c.is_ascii_alphabetic() || c == ',' || c == ' ')
                .filter_map(|n| n.parse().ok())
                .collect();
            if matches!(
                pattern,
                Pattern::Diagonal | Pattern::BackDiagonal | Pattern::Cross
            ) {
                for pair in numbers.chunks(2) {
                    if let [px, py] = pair {
                        assert!(*px >= x - 0.05 && *px <= x + w + 0.05, "{pattern:?} {d}");
                        assert!(*py >= y - 0.05 && *py <= y + h + 0.05, "{pattern:?} {d}");
                    }
                }
            }
        }
        assert!(overlay_path(Pattern::Solid, 0.0, 0.0, 10.0, 10.0).is_empty());
        assert!(overlay_path(Pattern::Diagonal, 0.0, 0.0, 0.0, 10.0).is_empty());
        // The three series differ in their black overlay, not only in colour.
        let overlays: Vec<&str> = svg
            .split("<pattern ")
            .skip(1)
            .map(|p| p.split("</pattern>").next().unwrap())
            .map(|p| p.split("/>").nth(1).unwrap_or(""))
            .collect();
        assert_eq!(overlays.len(), 3);
        assert_ne!(overlays[0], overlays[1]);
        assert_ne!(overlays[1], overlays[2]);
        assert_ne!(overlays[0], overlays[2]);
    }

    #[test]
    fn text_is_escaped() {
        let mut chart = days();
        chart.title = "<script>alert('x')</script> & \"q\"".into();
        chart.labels[0] = "<b>day</b>".into();
        chart.series[0].name = "a&b\u{0}".into();
        let svg = stacked_bars(&chart);
        well_formed(&svg);
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("<b>"));
        assert!(
            svg.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;")
        );
        assert!(svg.contains("a&amp;b\u{FFFD}"));
        assert!(!svg.contains('\u{0}'));

        let svg = hbars(&HBars {
            title: "t<".into(),
            description: "d>".into(),
            bars: vec![Bar {
                label: "</text><script>".into(),
                value: 3,
            }],
        });
        well_formed(&svg);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;/text&gt;&lt;script&gt;"));
    }

    #[test]
    fn ragged_and_empty_inputs_do_not_panic() {
        let mut chart = days();
        chart.series[1].values = vec![1];
        chart.series.push(Series {
            name: "long".into(),
            values: vec![u64::MAX, u64::MAX, u64::MAX, 9],
        });
        well_formed(&stacked_bars(&chart));
        let empty = stacked_bars(&StackedBars::default());
        well_formed(&empty);
        assert!(empty.contains("No data in this range"));
        let empty = hbars(&HBars::default());
        well_formed(&empty);
        assert!(empty.contains("No data in this range"));
        let many = StackedBars {
            labels: (0..400).map(|d| format!("day {d}")).collect(),
            series: vec![Series {
                name: "x".into(),
                values: (0..400).collect(),
            }],
            ..StackedBars::default()
        };
        let svg = stacked_bars(&many);
        well_formed(&svg);
        // Only about a dozen x labels are printed; every bar keeps its label in a tooltip.
        let x_labels = svg
            .matches("text-anchor=\"middle\" fill=\"#222222\">day ")
            .count();
        assert!((10..=13).contains(&x_labels), "{x_labels} x labels");
        assert!(svg.contains("<title>day 399 — x: 399</title>"));
    }

    #[test]
    fn hbars_scale_to_the_largest_value_and_label_each_bar() {
        let svg = hbars(&HBars {
            title: "Most violated rules".into(),
            description: "Violations per rule".into(),
            bars: vec![
                Bar {
                    label: "vuln.critical".into(),
                    value: 40,
                },
                Bar {
                    label: "a-very-long-rule-identifier-that-does-not-fit-in-the-margin".into(),
                    value: 10,
                },
            ],
        });
        well_formed(&svg);
        // Step 10, top 40: the largest bar spans the whole plot (760 - 280 - 48 = 432).
        assert!(svg.contains("width=\"432.0\""));
        assert!(svg.contains("width=\"108.0\""));
        assert!(svg.contains(">vuln.critical</text>"));
        assert!(svg.contains("…</text>"));
        assert!(svg.contains(
            "<title>a-very-long-rule-identifier-that-does-not-fit-in-the-margin: 10</title>"
        ));
        for t in ["0", "10", "20", "30", "40"] {
            assert!(svg.contains(&format!("fill=\"#222222\">{t}</text>")));
        }
    }

    #[test]
    fn nice_scale_steps() {
        assert_eq!(nice_scale(0), (1, 1));
        assert_eq!(nice_scale(1), (1, 1));
        assert_eq!(nice_scale(7), (2, 8));
        assert_eq!(nice_scale(16), (5, 20));
        assert_eq!(nice_scale(100), (20, 100));
        assert_eq!(nice_scale(1234), (500, 1500));
        let (step, top) = nice_scale(u64::MAX);
        assert!(step > 0 && top >= step);
    }

    #[test]
    fn ids_differ_between_charts_on_one_page() {
        let a = stacked_bars(&days());
        let mut other = days();
        other.title = "Per week".into();
        let b = stacked_bars(&other);
        let id = |s: &str| s.split("<title id=\"").nth(1).unwrap()[..20].to_string();
        assert_ne!(id(&a), id(&b));
    }
}
