//! The Mann-Whitney p-values, Hodges–Lehmann estimates and intervals agree with the reference
//! values of `fixtures/stats_reference.json` (scipy, and R's wilcox.test algorithm in Python;
//! see `fixtures/gen_stats_reference.py`) to 1e-9 relative.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use portcullis_verify::stats::mann_whitney;
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    x: Vec<f64>,
    y: Vec<f64>,
    confidence: f64,
    u: f64,
    p_value: f64,
    estimate: f64,
    lower: f64,
    upper: f64,
    exact_interval: bool,
}

fn rel_err(got: f64, want: f64) -> f64 {
    if want == 0.0 {
        got.abs()
    } else {
        ((got - want) / want).abs()
    }
}

#[test]
fn agrees_with_scipy_and_r_to_1e_9() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stats_reference.json");
    let reference: Reference = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert!(reference.cases.len() >= 30, "at least 30 reference cases");
    let mut worst = (0.0f64, String::new());
    let mut failures = Vec::new();
    for c in &reference.cases {
        let r = mann_whitney(&c.x, &c.y, c.confidence).unwrap();
        assert_eq!(
            r.exact_interval, c.exact_interval,
            "{}: interval method",
            c.name
        );
        for (what, got, want) in [
            ("u", r.u, c.u),
            ("p_value", r.p_value, c.p_value),
            ("estimate", r.estimate, c.estimate),
            ("lower", r.lower, c.lower),
            ("upper", r.upper, c.upper),
        ] {
            let e = rel_err(got, want);
            if e > worst.0 {
                worst = (e, format!("{} {what}", c.name));
            }
            if e > 1e-9 {
                failures.push(format!(
                    "{} {what}: got {got:e}, want {want:e} (rel {e:e})",
                    c.name
                ));
            }
        }
    }
    println!(
        "{} cases; largest relative error {:e} ({})",
        reference.cases.len(),
        worst.0,
        worst.1
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
