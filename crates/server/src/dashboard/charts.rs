//! Charts as SVG, drawn on the server: every bar carries its number as text (legible in print
//! and without colour), and a `<title>` for screen readers and hover.

use std::fmt::Write as _;

/// One series of stacked columns: its name, colour and a value per category.
pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub values: Vec<i64>,
}

fn esc(s: &str) -> String {
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

/// Stacked columns, one per category (e.g. a day), with a legend.
pub fn stacked_columns(title: &str, categories: &[String], series: &[Series<'_>]) -> String {
    let width = 720.0_f64;
    let height = 240.0_f64;
    let (left, right, top, bottom) = (40.0, 10.0, 28.0, 44.0);
    let plot_h = height - top - bottom;
    let n = categories.len().max(1) as f64;
    let slot = (width - left - right) / n;
    let bar = (slot * 0.7).max(2.0);
    let totals: Vec<i64> = (0..categories.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0).max(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = esc(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" stroke="#8c959f"/>"##,
        y = top + plot_h,
        x2 = width - right
    );
    let _ = write!(
        svg,
        r#"<text x="{x}" y="{y}" text-anchor="end">{m}</text><text x="{x}" y="{y0}" text-anchor="end">0</text>"#,
        x = left - 4.0,
        y = top + 8.0,
        y0 = top + plot_h,
        m = max as i64
    );
    for (i, cat) in categories.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = top + plot_h;
        for s in series {
            let v = s.values.get(i).copied().unwrap_or(0).max(0);
            if v == 0 {
                continue;
            }
            let h = plot_h * v as f64 / max;
            y -= h;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{c}"><title>{cat}: {v} {name}</title></rect>"#,
                c = esc(s.color),
                cat = esc(cat),
                name = esc(s.name)
            );
        }
        let total = totals.get(i).copied().unwrap_or(0);
        if total > 0 {
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{ty:.1}" text-anchor="middle">{total}</text>"#,
                cx = x + bar / 2.0,
                ty = y - 3.0
            );
        }
        // Every label when they fit, else every few.
        let every = (categories.len() / 10).max(1);
        if i % every == 0 {
            let label = cat.get(5..).unwrap_or(cat);
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{ly:.1}" text-anchor="middle">{l}</text>"#,
                cx = x + bar / 2.0,
                ly = top + plot_h + 14.0,
                l = esc(label)
            );
        }
    }
    let mut lx = left;
    for s in series {
        let _ = write!(
            svg,
            r#"<rect x="{lx:.1}" y="{ly:.1}" width="10" height="10" fill="{c}"/><text x="{tx:.1}" y="{ty:.1}">{name}</text>"#,
            ly = height - 16.0,
            c = esc(s.color),
            tx = lx + 14.0,
            ty = height - 7.0,
            name = esc(s.name)
        );
        lx += 24.0 + 7.0 * s.name.chars().count() as f64;
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars: a label and a value each, longest first as given.
pub fn hbars(title: &str, rows: &[(String, i64)], color: &str) -> String {
    let width = 720.0_f64;
    let row_h = 22.0_f64;
    let label_w = 220.0_f64;
    let top = 6.0_f64;
    let height = top * 2.0 + row_h * rows.len().max(1) as f64;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let plot_w = width - label_w - 60.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = esc(title)
    );
    if rows.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="4" y="{y}">nothing to show</text>"#,
            y = top + 14.0
        );
    }
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let w = (plot_w * (*v).max(0) as f64 / max).max(1.0);
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty:.1}" text-anchor="end">{l}</text><rect x="{x}" y="{ry:.1}" width="{w:.1}" height="{h:.1}" fill="{c}"><title>{l}: {v}</title></rect><text x="{vx:.1}" y="{ty:.1}">{v}</text>"#,
            lx = label_w - 6.0,
            ty = y + 15.0,
            l = esc(label),
            x = label_w,
            ry = y + 3.0,
            h = row_h - 6.0,
            c = esc(color),
            vx = label_w + w + 4.0
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_carry_their_numbers_and_escape_labels() {
        let svg = stacked_columns(
            "Decisions <per day>",
            &["2026-11-27".into(), "2026-11-28".into()],
            &[
                Series {
                    name: "allowed",
                    color: "#1a7f37",
                    values: vec![3, 0],
                },
                Series {
                    name: "denied",
                    color: "#cf222e",
                    values: vec![2, 5],
                },
            ],
        );
        assert!(svg.contains("Decisions &lt;per day&gt;"));
        assert!(!svg.contains("<per day>"));
        // Totals above each column, and each segment's count in its title.
        assert!(svg.contains(">5</text>"));
        assert!(svg.contains("2026-11-27: 3 allowed"));
        assert!(svg.contains("2026-11-28: 5 denied"));
        assert!(
            !svg.contains("2026-11-28: 0 allowed"),
            "empty segments are left out"
        );
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let svg = hbars(
            "rules",
            &[("PCL-VULN-001".into(), 10), ("PCL-VULN-002".into(), 5)],
            "#cf222e",
        );
        assert!(svg.contains(r#"width="440.0""#), "{svg}");
        assert!(svg.contains(r#"width="220.0""#), "{svg}");
        assert!(hbars("none", &[], "#000").contains("nothing to show"));
    }
}
