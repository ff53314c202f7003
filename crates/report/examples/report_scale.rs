//! How long a report takes over a history of N recorded decisions: records them with the real
//! firewall into a fresh SQLite store (or `--database-url postgres://…`), then times `build`
//! and each format's `render`.
//!
//! ```sh
//! cargo run -p portcullis-report --example report_scale -- 1000            # SQLite
//! cargo run -p portcullis-report --example report_scale -- 1000 --pdf      # + Chromium
//! cargo run -p portcullis-report --example report_scale -- 1000 --html r.html  # keep the HTML
//! cargo run -p portcullis-report --example report_scale -- 1000 --pdf r.pdf    # keep the PDF
//! # --summary-only, --paper letter: as `portcullis report` takes them
//! ```
//! Figures are in docs/reports.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::time::Instant;

use chrono::{Duration, SubsecRound, Utc};
use portcullis_evidence::Limits;
use portcullis_firewall::record::{Documents, blob_kinds};
use portcullis_firewall::{ArtifactId, Config, DecisionRequest, EvidenceDoc, Firewall};
use portcullis_policy::PolicyBundle;
use portcullis_report::{Format, Options, Paper, ReportQuery, build, render_with};
use portcullis_store::{Store, StoreConfig};

const CONFIG: &str = r#"
environments:
  dev: { protected: false }
  staging: { protected: true }
  production: { protected: true }
"#;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(200);
    let pdf = args.iter().any(|a| a == "--pdf");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .filter(|v| !v.starts_with("--"))
            .cloned()
    };
    let options = Options {
        paper: value("--paper")
            .map(|p| p.parse::<Paper>())
            .transpose()?
            .unwrap_or_default(),
        summary_only: args.iter().any(|a| a == "--summary-only"),
    };
    let dir = tempfile::tempdir()?;
    let mut config = StoreConfig::in_home(dir.path());
    if let Some(i) = args.iter().position(|a| a == "--database-url") {
        config.url = args.get(i + 1).ok_or("--database-url URL")?.clone();
    }
    let store = Store::open(&config).await?;

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let limits = Limits::default();
    let mut docs = Documents::default();
    let mut evidence = Vec::new();
    for p in [
        "examples/evidence/checkout-api.cdx.json",
        "examples/evidence/trivy-image.json",
        "examples/evidence/clean/checkout-api-2.4.1.cdx.json",
    ] {
        let bytes = std::fs::read(root.join(p))?;
        evidence.push(EvidenceDoc::parse(p, &bytes, &limits)?);
        docs.add(blob_kinds::EVIDENCE, bytes);
    }
    let fw = Firewall::new(
        PolicyBundle::builtin()?,
        Config::from_yaml(CONFIG, "scale.yaml")?,
    )?;

    let to = Utc::now().trunc_subsecs(0);
    let from = to - Duration::days(30);
    let envs = ["dev", "staging", "production"];
    let started = Instant::now();
    for i in 0..n {
        let name = format!("registry.example.com/shop/service-{}", i % 25);
        let mut req = DecisionRequest::new(
            ArtifactId {
                digest: portcullis_firewall::sha256(format!("{name}/{i}").as_bytes()),
                name,
            },
            envs[i % envs.len()],
        );
        req.context.time = Some(from + Duration::seconds((i as i64 * 2_592_000) / n.max(1) as i64));
        if i % 2 == 0 {
            req.evidence.push(evidence[0].clone());
            req.evidence.push(evidence[1].clone());
        } else {
            req.evidence.push(evidence[2].clone());
        }
        let mut d = fw.decide(&req);
        fw.record(&store, &req, &mut d, &docs).await?;
    }
    eprintln!(
        "recorded {n} decisions in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let query = ReportQuery {
        env: None,
        from,
        to: to + Duration::seconds(1),
    };
    let t = Instant::now();
    let report = build(&store, &query).await?;
    println!(
        "build: {n} decisions, {} controls: {:.0} ms",
        report.coverage.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    let mut formats = vec![Format::Json, Format::Html, Format::Oscal];
    if pdf {
        formats.push(Format::Pdf);
    }
    for f in formats {
        let t = Instant::now();
        let bytes = render_with(&report, f, &options, &mut |_, _| {})?;
        let keep = match f {
            Format::Html => value("--html"),
            Format::Pdf => value("--pdf"),
            _ => None,
        };
        if let Some(path) = keep {
            std::fs::write(path, &bytes)?;
        }
        println!(
            "render {f}: {} bytes in {:.0} ms",
            bytes.len(),
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
