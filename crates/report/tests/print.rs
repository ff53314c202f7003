//! The printed report of a long period: 1,000 decisions recorded with the real firewall (the
//! built-in library, the example SBOMs and Trivy report, three environments, 25 services)
//! into a fresh SQLite store, reported and printed to PDF by headless Chromium. Checked on the
//! PDF's text (tests/support/print.rs): every table header word whole, no column narrower than
//! its longest word, the running header and "Page N of M" on every page; and its length.
//! Skips with a message outside CI without Chromium or poppler (pdftotext), fails under CI.
//!
//! The printed files are kept in `$CARGO_TARGET_TMPDIR/printed/` to look at
//! (`pdftoppm -r 60 -png -f 1 -l 4 FILE.pdf /tmp/page`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/print.rs"]
mod print;

use std::path::Path;

use chrono::{Duration, SubsecRound, Utc};
use portcullis_evidence::Limits;
use portcullis_firewall::record::{Documents, blob_kinds};
use portcullis_firewall::{ArtifactId, Config, DecisionRequest, EvidenceDoc, Firewall};
use portcullis_policy::PolicyBundle;
use portcullis_report::{Options, Paper, Report, ReportQuery, build};
use portcullis_store::{Store, StoreConfig};

const CONFIG: &str = r#"
environments:
  dev: { protected: false }
  staging: { protected: true }
  production: { protected: true }
"#;

/// `n` decisions over the last 30 days, recorded and reported.
async fn history(n: usize) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::in_home(dir.path()))
        .await
        .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let limits = Limits::default();
    let mut docs = Documents::default();
    let mut evidence = Vec::new();
    for p in [
        "examples/evidence/checkout-api.cdx.json",
        "examples/evidence/trivy-image.json",
        "examples/evidence/clean/checkout-api-2.4.1.cdx.json",
    ] {
        let bytes = std::fs::read(root.join(p)).unwrap();
        evidence.push(EvidenceDoc::parse(p, &bytes, &limits).unwrap());
        docs.add(blob_kinds::EVIDENCE, bytes);
    }
    let fw = Firewall::new(
        PolicyBundle::builtin().unwrap(),
        Config::from_yaml(CONFIG, "print.yaml").unwrap(),
    )
    .unwrap();
    let to = Utc::now().trunc_subsecs(0);
    let from = to - Duration::days(30);
    let envs = ["dev", "staging", "production"];
    for i in 0..n {
        let name = format!("registry.example.com/shop/service-{}", i % 25);
        let mut req = DecisionRequest::new(
            ArtifactId {
                digest: portcullis_firewall::sha256(format!("{name}/{i}").as_bytes()),
                name,
            },
            envs[i % envs.len()],
        );
        req.context.time = Some(from + Duration::seconds((i as i64 * 2_592_000) / n as i64));
        if i % 2 == 0 {
            req.evidence.push(evidence[0].clone());
            req.evidence.push(evidence[1].clone());
        } else {
            req.evidence.push(evidence[2].clone());
        }
        let mut d = fw.decide(&req);
        fw.record(&store, &req, &mut d, &docs).await.unwrap();
    }
    let query = ReportQuery {
        env: None,
        from,
        to: to + Duration::seconds(1),
    };
    let mut seen = 0;
    let report = portcullis_report::build_with_progress(&store, &query, &mut |done, total| {
        assert_eq!(total, n);
        assert_eq!(done, seen + 1);
        seen = done;
    })
    .await
    .unwrap();
    assert_eq!(seen, n, "progress reached the end");
    let again = build(&store, &query).await.unwrap();
    assert_eq!(report.decisions, again.decisions);
    report
}

/// The bound on the full report of 1,000 decisions: one table row per decision, at least 12
/// rows to an A4 page (a row is three to five lines of 7.5 pt text: date and time, the
/// artifact's name and digest, the failed rules grouped by rule; 16 fit in practice), plus at
/// most 10 pages of summary, coverage, exceptions, advisories and what ran: 1000 / 12 + 10 = 93.
/// Before this layout the same history printed as 2,020 pages.
const MAX_PAGES_1000: usize = 93;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_decisions_print_as_a_readable_document() {
    if let Err(e) = portcullis_report::pdf::find_chromium() {
        portcullis_testkit::skip_or_fail!(
            "PDF layout",
            "{e} (scripts/test installs Debian's chromium under CI)"
        );
    }
    let report = history(1000).await;
    assert_eq!(report.decisions.len(), 1000);

    let mut rows = 0;
    let html = portcullis_report::html::render_with(&report, &Options::default(), &mut |d, t| {
        assert_eq!(t, 1000);
        rows = d;
    })
    .unwrap();
    assert_eq!(rows, 1000, "progress per decision row");
    assert_eq!(
        html.matches("<tr class=\"").count(),
        1000,
        "one row per decision"
    );

    let Some((pages, size, text)) =
        print::print_and_check("decisions-1000-a4", &report, &Options::default())
    else {
        return;
    };
    assert!(size.contains("(A4)"), "{size}");
    assert!(
        pages <= MAX_PAGES_1000,
        "1,000 decisions print as {pages} pages (at most {MAX_PAGES_1000})"
    );
    // Summary first: the verdicts on page 1, the decisions' rows after the summary sections.
    let first = text.split('\u{c}').next().unwrap();
    assert!(
        first.contains("Scope and verdicts") && first.contains("1000 decisions"),
        "{first}"
    );
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("no {s:?}"));
    assert!(at("Control coverage") < at("Exceptions granted and used"));
    assert!(at("Advisories and their impact") < at("Decisions (1000)"));
    // Warnings are not violations: counted apart.
    let (v, w) = report.decisions.iter().fold((0, 0), |(v, w), d| {
        (v + d.violations.len(), w + d.warnings.len())
    });
    assert!(v > 0 && w > 0);
    let squeezed: String = first.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        squeezed.contains(&format!("{v} violations (enforced)")),
        "{squeezed}"
    );
    assert!(
        squeezed.contains(&format!("{w} warnings (not enforced)")),
        "{squeezed}"
    );

    let letter = Options {
        paper: Paper::Letter,
        summary_only: false,
    };
    let (letter_pages, size, _) =
        print::print_and_check("decisions-1000-letter", &report, &letter).unwrap();
    assert!(size.contains("(letter)"), "{size}");
    assert!(letter_pages <= MAX_PAGES_1000, "{letter_pages}");

    let summary = Options {
        paper: Paper::A4,
        summary_only: true,
    };
    let (summary_pages, _, _) =
        print::print_and_check("decisions-1000-summary", &report, &summary).unwrap();
    assert!(
        summary_pages <= 10,
        "a summary of 1,000 decisions is at most 10 pages: {summary_pages}"
    );
    eprintln!(
        "1,000 decisions: {pages} pages on A4, {letter_pages} on Letter, summary only {summary_pages}"
    );
}

/// The checks catch what they are for: the same table printed in a column too narrow for its
/// words (as the layout before issue 22 printed the Summary's Environment column) breaks
/// words, and the checks name them; printed wide enough, it passes.
#[test]
fn the_checks_find_words_broken_in_a_narrow_column() {
    use portcullis_report::pdf;
    if let Err(e) = pdf::find_chromium() {
        portcullis_testkit::skip_or_fail!(
            "PDF layout",
            "{e} (scripts/test installs Debian's chromium under CI)"
        );
    }
    if std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_err()
    {
        portcullis_testkit::skip_or_fail!(
            "PDF layout",
            "pdftotext (poppler-utils) not found (scripts/test installs it under CI)"
        );
    }
    let table = |width: &str| {
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><style>\
             table {{ width: {width}; table-layout: fixed; border-collapse: collapse; }}\
             th, td {{ overflow-wrap: anywhere; font: 11pt sans-serif; border: 1px solid; }}\
             </style></head><body><table><thead><tr><th>Environment</th><th>Severity</th>\
             <th>Verdict</th></tr></thead><tbody><tr><td>production</td><td>critical</td>\
             <td>violation</td></tr></tbody></table></body></html>"
        )
    };
    let check = |html: &str, name: &str| {
        let bytes = pdf::render(html).unwrap();
        let path = print::kept(name, "pdf");
        std::fs::write(&path, &bytes).unwrap();
        let text = print::pdftotext(&path).unwrap();
        print::layout_problems(html, &text)
    };
    let narrow = check(&table("24mm"), "narrow-column");
    assert!(
        narrow
            .iter()
            .any(|p| p.contains("header word \"Environment\"")),
        "{narrow:#?}"
    );
    assert!(
        narrow
            .iter()
            .any(|p| p.contains("not a word of the report")),
        "{narrow:#?}"
    );
    let wide = check(&table("160mm"), "wide-column");
    assert!(wide.is_empty(), "{wide:#?}");
}
