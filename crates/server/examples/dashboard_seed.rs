//! Seed a store with many real-shaped decisions for the dashboard benchmark
//! (`scripts/bench-dashboard`, docs/benchmarks.md "Dashboard"):
//!
//! ```text
//! dashboard_seed --url sqlite://FILE|postgres://… --key FILE [--decisions N] [--days D] [--writers W]
//! ```
//!
//! The Log4Shell advisory (examples/evidence/log4shell.osv.json) is added through the registry,
//! then four real decisions are made with `Firewall::decide` under examples/portcullis.yaml (the
//! README's denied 2.4.0 in staging and in dev, the clean 2.4.1 in staging and in production).
//! Each of the N decisions is one of them, recorded with `Firewall::record` as a fresh decision
//! (new uuid v7 id, decided at a time spread over the last D days, one of four pipelines and two
//! stages): the same audit entries, documents and summary rows a server writes, without running
//! the policy engine N times. W tasks record at once (the store's group commit).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, SecondsFormat, Utc};
use portcullis_evidence::Limits;
use portcullis_firewall::record::{Documents, blob_kinds};
use portcullis_firewall::registry::{self, AdvisoryDoc};
use portcullis_firewall::{
    ArtifactId, Config, Decision, DecisionRequest, EvidenceDoc, Firewall, RequestContext,
};
use portcullis_policy::PolicyBundle;
use portcullis_store::{Store, StoreConfig};

type Error = Box<dyn std::error::Error + Send + Sync>;

const LOG4J: &str = "registry.example.com/shop/checkout-api@sha256:9f3c1d0a8e5b7c2f4a6d8e0b1c3f5a7d9e1b3c5f7a9d1e3b5c7f9a1d3e5b7c9f";
const CLEAN: &str = "registry.example.com/shop/checkout-api@sha256:fefd31d2667bc768c7174b24c29c256ff27d4903a2d552ee8c4951c9d094363c";
const PIPELINES: [&str; 4] = ["shop-api", "web", "payments", "batch"];
const STAGES: [&str; 2] = ["build", "deploy"];

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn evidence(path: &str, docs: &mut Documents, limits: &Limits) -> Result<EvidenceDoc, Error> {
    let p = repo().join(path);
    let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let doc = EvidenceDoc::parse(path, &bytes, limits)?;
    docs.add(blob_kinds::EVIDENCE, bytes);
    Ok(doc)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--url").ok_or("--url sqlite://FILE or postgres://… is required")?;
    let key = arg(&args, "--key").ok_or("--key FILE is required")?;
    let n: usize = arg(&args, "--decisions").map_or(Ok(100_000), |s| s.parse())?;
    let days: i64 = arg(&args, "--days").map_or(Ok(30), |s| s.parse())?;
    let writers: usize = arg(&args, "--writers").map_or(Ok(16), |s| s.parse())?;
    let mut config = StoreConfig::in_home(Path::new("."));
    config.url = url;
    config.key_path = PathBuf::from(key);
    let store = Store::open(&config).await?;
    let limits = Limits::default();

    let osv = std::fs::read(repo().join("examples/evidence/log4shell.osv.json"))?;
    if store.advisories(false).await?.is_empty() {
        registry::add_advisories(
            &store,
            vec![AdvisoryDoc::osv("log4shell.osv.json", osv, &limits)?],
            "dashboard_seed",
        )
        .await?;
    }
    let mut docs = Documents::default();
    let mut advisories = Vec::new();
    for (_, bytes, found) in registry::advisories_in_force(&store, &limits).await? {
        docs.add(blob_kinds::ADVISORY, bytes);
        advisories.extend(found);
    }
    let bundle = PolicyBundle::load(&[])?;
    let cfg = Config::load(&repo().join("examples/portcullis.yaml"))?;
    let firewall = Firewall::new(bundle, cfg)?
        .with_advisories(advisories)
        .with_limits(limits);

    let log4j = vec![
        evidence(
            "examples/evidence/checkout-api.cdx.json",
            &mut docs,
            &limits,
        )?,
        evidence("examples/evidence/trivy-image.json", &mut docs, &limits)?,
    ];
    let clean = vec![
        evidence(
            "examples/evidence/clean/checkout-api-2.4.1.cdx.json",
            &mut docs,
            &limits,
        )?,
        evidence(
            "examples/evidence/clean/trivy-image.json",
            &mut docs,
            &limits,
        )?,
    ];
    let mut variants: Vec<(DecisionRequest, Decision)> = Vec::new();
    for (artifact, env, ev) in [
        (LOG4J, "staging", &log4j),
        (LOG4J, "dev", &log4j),
        (CLEAN, "staging", &clean),
        (CLEAN, "production", &clean),
    ] {
        let mut req = DecisionRequest::new(ArtifactId::parse(artifact)?, env);
        req.evidence = ev.clone();
        let d = firewall.decide(&req);
        eprintln!(
            "variant {artifact} -> {env}: {} ({} violations, {} warnings)",
            d.decision.as_str(),
            d.violations.len(),
            d.warnings.len()
        );
        variants.push((req, d));
    }

    let firewall = Arc::new(firewall);
    let variants = Arc::new(variants);
    let docs = Arc::new(docs);
    let now = Utc::now();
    let span_ms = Duration::days(days).num_milliseconds().max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers.max(1) {
        let (store, firewall, variants, docs) = (
            store.clone(),
            firewall.clone(),
            variants.clone(),
            docs.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                let Some((req, d)) = variants.get(i % variants.len()) else {
                    break;
                };
                let at = now - Duration::milliseconds(span_ms * (n - i) as i64 / n as i64);
                let mut req = req.clone();
                req.context = RequestContext {
                    pipeline: PIPELINES
                        .get(i % 7 % PIPELINES.len())
                        .map(|s| s.to_string()),
                    stage: STAGES.get(i % STAGES.len()).map(|s| s.to_string()),
                    requester: Some("ci@example.com".into()),
                    time: Some(at),
                    ..Default::default()
                };
                let mut d = d.clone();
                d.id = uuid::Uuid::now_v7().to_string();
                d.decided_at = at.to_rfc3339_opts(SecondsFormat::Millis, true);
                firewall.record(&store, &req, &mut d, &docs).await?;
                i += writers;
            }
            Ok::<_, Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    store.analyze().await?;
    eprintln!(
        "recorded {n} decisions in {:.1} s ({:.0}/s)",
        started.elapsed().as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}
