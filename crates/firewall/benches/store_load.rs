//! Store benchmarks (issue 4), on SQLite and PostgreSQL side by side in one run
//! (docs/benchmarks.md "Store (issue 4)"; `scripts/bench-store` runs all three). A bench target
//! without the libtest harness, run through cargo:
//!
//! ```text
//! cargo bench -p portcullis-firewall --bench store_load -- record --sqlite FILE [--postgres URL] [--decisions N] [--runs R] [--writers W]
//! cargo bench -p portcullis-firewall --bench store_load -- verify --sqlite FILE [--postgres URL] [--entries N] [--runs R]
//! cargo bench -p portcullis-firewall --bench store_load -- impact --sqlite FILE [--postgres URL] [--artifacts N] [--components N] [--repeat N] [--seed S]
//! ```
//!
//! Every command takes `--key FILE` (the checkpoint key; default `checkpoint.key` beside the
//! SQLite file) and either backend may be left out (`--postgres ''` is left out too). Without a
//! command (as `cargo test --all-targets` runs it) it measures nothing and says so. The databases must exist (PostgreSQL) or
//! may (SQLite); `verify` and `impact` fill them only as far as they are not filled yet, so a
//! second run on the same databases measures without loading again.
//!
//! - `record`: one real decision (`Firewall::decide` on the README's gate: the example SBOM,
//!   Trivy scan and provenance, the Log4Shell advisory, the KEV excerpt and the example
//!   exceptions, `examples/portcullis.yaml`, environment `staging`), made once; then recorded N
//!   times with `Firewall::record`, each time as a fresh decision (new uuid v7 id, decided now),
//!   so that what is measured is recording, not the policy engine. Variants: (a) W tasks sharing
//!   one `Store` (group commit), (b) the same with `max_batch: 1` (group commit off), (c) W
//!   `Store`s on the same database, one task each (W processes or replicas); and, to separate
//!   the store's share, (a′) as (a) with `Store::append` of the rows `record` writes, made
//!   beforehand, and (a″) the same without the documents that are stored already; (d) as (a)
//!   while one more task records, back to back, decisions whose SBOM is new (1,000 more
//!   components each): the p99 and max latency of the W writers beside (a)'s.
//! - `verify`: a chain of N entries with bodies shaped like the decision entries `record`
//!   writes (the real one, with its ids and digests varied), appended in batches of 5,000
//!   (a checkpoint per batch), then `Store::verify(None)` and, in the same run, the baseline:
//!   `Store::verify_with_baseline`, the sqlx reader `verify` had before issue 21.
//! - `impact`: N artifacts with one SBOM each of M components (`Store::load_index`, purls across
//!   maven, npm and pypi, popular packages in many SBOMs), every 20th holding log4j-core at one
//!   of 15 versions (8 affected by Log4Shell), each deployed (`Write::Deployment`, one of three
//!   environments), `analyze()`; then `impact::impact` for `examples/evidence/log4shell.osv.json`,
//!   repeated, checked against the number of affected artifacts generated. The SBOMs are drawn
//!   from a seeded RNG (`--seed`, default 1592590336): the same seed, the same data set.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use clap::{CommandFactory, Parser, Subcommand};
use portcullis_evidence::purl::Purl;
use portcullis_evidence::{Advisory, Limits};
use portcullis_firewall::record::{Documents, blob_kinds};
use portcullis_firewall::{
    ArtifactId, BlockedAdvisory, Config, Decision, DecisionRequest, EvidenceDoc, Firewall,
    KevCatalog, exceptions, impact, sha256,
};
use portcullis_policy::PolicyBundle;
use portcullis_store::{
    Change, ComponentRow, DeploymentRow, Store, StoreConfig, Write, canonical, kinds,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

const ARTIFACT: &str = "registry.example.com/shop/checkout-api@sha256:9f3c1d0a8e5b7c2f4a6d8e0b1c3f5a7d9e1b3c5f7a9d1e3b5c7f9a1d3e5b7c9f";
/// Changes per append while filling the chain (and per deployment batch).
const FILL_BATCH: usize = 5_000;
const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "production"];
/// The entry kind marking a loaded `impact` data set (first and last entry of the load).
const LOAD_MARK: &str = "benchmark.load";

/// Store benchmarks on SQLite and PostgreSQL side by side.
#[derive(Parser)]
#[command(
    name = "store_load",
    about = "Store benchmarks (docs/benchmarks.md, \"Store (issue 4)\")"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Passed by `cargo bench`; changes nothing.
    #[arg(long, global = true, hide = true)]
    bench: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Decisions recorded per second: W writers, three ways of sharing the store.
    Record(Args),
    /// `Store::verify` over a chain of N entries.
    Verify(Args),
    /// `advisory impact` over N deployed artifacts of M components each.
    Impact(Args),
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Self::Record(_) => "record",
            Self::Verify(_) => "verify",
            Self::Impact(_) => "impact",
        }
    }

    fn args(&self) -> &Args {
        match self {
            Self::Record(a) | Self::Verify(a) | Self::Impact(a) => a,
        }
    }
}

/// Every command takes every flag; each uses those it needs. Numbers may hold `_`.
#[derive(clap::Args)]
struct Args {
    /// The SQLite database file.
    #[arg(long, value_name = "FILE")]
    sqlite: Option<String>,
    /// The PostgreSQL database URL (empty: none).
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// The checkpoint key (default: `checkpoint.key` beside the SQLite file).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Runs of each measurement (record, verify).
    #[arg(long, default_value = "3", value_parser = count)]
    runs: u64,
    /// Decisions recorded per variant and run (record).
    #[arg(long, default_value = "2000", value_parser = count)]
    decisions: u64,
    /// Concurrent writers (record).
    #[arg(long, default_value = "4", value_parser = count)]
    writers: u64,
    /// Chain length (verify).
    #[arg(long, default_value = "1000000", value_parser = count)]
    entries: u64,
    /// Deployed artifacts, one SBOM each (impact).
    #[arg(long, default_value = "10000", value_parser = count)]
    artifacts: u64,
    /// Components per SBOM (impact).
    #[arg(long, default_value = "1000", value_parser = count)]
    components: u64,
    /// Timed runs, after 2 warm-up runs (impact).
    #[arg(long, default_value = "20", value_parser = count)]
    repeat: u64,
    /// Seed of the generated SBOMs (impact): SBOM i draws from seed + i.
    #[arg(long, default_value = "1592590336", value_parser = count)]
    seed: u64,
}

/// A count such as `1000000` or `1_000_000`.
fn count(s: &str) -> Result<u64, String> {
    s.replace('_', "")
        .parse()
        .map_err(|e| format!("`{s}` is not a count: {e}"))
}

/// What the commands read: the flags, with the defaults that depend on others filled in.
struct Settings {
    sqlite: Option<String>,
    postgres: Option<String>,
    key: PathBuf,
    runs: usize,
    decisions: usize,
    writers: usize,
    entries: u64,
    artifacts: usize,
    components: usize,
    repeat: usize,
    seed: u64,
}

impl Settings {
    fn of(a: &Args) -> Self {
        let key = a.key.clone().unwrap_or_else(|| {
            let dir = a
                .sqlite
                .as_deref()
                .and_then(|p| Path::new(p).parent())
                .map(Path::to_path_buf)
                .unwrap_or_else(std::env::temp_dir);
            dir.join("checkpoint.key")
        });
        Self {
            sqlite: a.sqlite.clone(),
            postgres: a.postgres.clone().filter(|v| !v.is_empty()),
            key,
            runs: a.runs as usize,
            decisions: a.decisions as usize,
            writers: a.writers as usize,
            entries: a.entries,
            artifacts: a.artifacts as usize,
            components: a.components as usize,
            repeat: a.repeat as usize,
            seed: a.seed,
        }
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        eprintln!("store_load: no command, nothing measured (see --help)");
        return Ok(());
    };
    let args = Settings::of(command.args());
    let mut backends = Vec::new();
    if let Some(p) = &args.sqlite {
        backends.push(("SQLite", format!("sqlite://{p}")));
    }
    if let Some(u) = &args.postgres {
        backends.push(("PostgreSQL", u.clone()));
    }
    if backends.is_empty() {
        Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "name a database: --sqlite FILE and/or --postgres URL",
            )
            .exit();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    eprintln!(
        "store_load {}: {} worker threads, load average {}",
        command.name(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    match command {
        Command::Record(_) => rt.block_on(record_bench(&args, &backends)),
        Command::Verify(_) => rt.block_on(verify_bench(&args, &backends)),
        Command::Impact(_) => rt.block_on(impact_bench(&args, &backends)),
    }
}

/// CPU time this process has used (user + system), from /proc/self/stat (Linux; zero elsewhere).
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The fields after the command name (which may hold spaces), from field 3 on.
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            Some(rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // USER_HZ is 100 on every Linux this runs on.
    Duration::from_millis(ticks * 10)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn config(url: &str, key: &Path, max_batch: Option<usize>) -> StoreConfig {
    // The defaults of a real store (checkpoint every 1,000 entries or second, group commit).
    let mut c = StoreConfig::in_home(Path::new("."));
    c.url = url.to_string();
    c.key_path = key.to_path_buf();
    if let Some(m) = max_batch {
        c.max_batch = m;
    }
    c
}

fn now_millis() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn pct(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median and spread of a few runs: `median (min–max)`.
fn summary(values: &[f64], decimals: usize) -> String {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return "-".into();
    }
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    if v.len() == 1 {
        format!("{median:.decimals$}")
    } else {
        format!(
            "{median:.decimals$} ({:.decimals$}–{:.decimals$})",
            v[0],
            v[v.len() - 1]
        )
    }
}

// ------------------------------------------------------------------------------------ record

/// The README's gate: a real decision and everything `record` stores with it.
struct Fixture {
    firewall: Firewall,
    request: DecisionRequest,
    docs: Documents,
    decision: Decision,
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn fixture() -> Result<Fixture> {
    let root = examples_dir();
    let limits = Limits::default();
    let mut docs = Documents::default();
    let config = Config::load(&root.join("portcullis.yaml"))?;

    let advisory_bytes = std::fs::read(root.join("evidence/log4shell.osv.json"))?;
    let doc = EvidenceDoc::parse(
        "examples/evidence/log4shell.osv.json",
        &advisory_bytes,
        &limits,
    )?;
    docs.add(blob_kinds::ADVISORY, advisory_bytes);
    let advisories = doc
        .evidence
        .advisories
        .into_iter()
        .map(|a| BlockedAdvisory {
            advisory: a,
            source: doc.digest.clone(),
        })
        .collect();

    let kev_bytes = std::fs::read(root.join("kev.json"))?;
    let kev = KevCatalog::parse(&kev_bytes, "examples/kev.json")?;
    let kev_digest = sha256(&kev_bytes);
    docs.add(blob_kinds::KEV, kev_bytes);

    let firewall = Firewall::new(PolicyBundle::builtin()?, config)?
        .with_advisories(advisories)
        .with_kev_from(kev, &kev_digest)
        .with_exceptions(exceptions::load_exceptions(&root.join("exceptions.yaml"))?);

    let mut request = DecisionRequest::new(ArtifactId::parse(ARTIFACT)?, "staging");
    for name in [
        "checkout-api.cdx.json",
        "trivy-image.json",
        "checkout-api.intoto.jsonl",
    ] {
        let bytes = std::fs::read(root.join("evidence").join(name))?;
        let doc = EvidenceDoc::parse(&format!("examples/evidence/{name}"), &bytes, &limits)?;
        docs.add(blob_kinds::EVIDENCE, bytes);
        request.evidence.push(doc);
    }
    let decision = firewall.decide(&request);
    Ok(Fixture {
        firewall,
        request,
        docs,
        decision,
    })
}

/// The fixture's decision as a new one: fresh id, decided now.
fn fresh(template: &Decision) -> Decision {
    let mut d = template.clone();
    d.id = uuid::Uuid::now_v7().to_string();
    d.decided_at = now_millis();
    d.chain = None;
    d
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Shared,
    NoGroupCommit,
    Separate,
    /// (a) without `Firewall::record`: `Store::append` of rows made beforehand (documents
    /// compressed already), as `record` writes them: the store's share.
    StoreOnly,
    /// The same without the 6 documents stored already (evidence, advisory, KEV, policy
    /// bundle), which `record` offers again with every decision.
    StoreOnlyNewDocuments,
    /// (a), while one more task records, back to back, decisions whose SBOM is new (the
    /// example SBOM with 1,000 more components): how long the others wait behind them.
    NewSbom,
}

impl Variant {
    fn label(self, writers: usize) -> String {
        match self {
            Variant::Shared => format!("(a) {writers} tasks, one Store, group commit"),
            Variant::NoGroupCommit => {
                format!("(b) {writers} tasks, one Store, max_batch 1 (baseline)")
            }
            Variant::Separate => format!("(c) {writers} Stores on one database, 1 task each"),
            Variant::StoreOnly => "(a′) as (a), Store::append of prepared rows".to_string(),
            Variant::StoreOnlyNewDocuments => {
                "(a″) as (a′) without the 6 documents stored already".to_string()
            }
            Variant::NewSbom => format!(
                "(d) as (a), one more task recording decisions with a new {SBOM_COMPONENTS}-component SBOM"
            ),
        }
    }
}

struct RecordRun {
    rate: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// (d): decisions with a new SBOM recorded meanwhile, and their median latency.
    sboms: Option<(usize, Duration)>,
    /// CPU time of this process per decision (the database server's not included).
    cpu: Duration,
}

async fn record_run(
    fx: &Arc<Fixture>,
    url: &str,
    key: &Path,
    variant: Variant,
    writers: usize,
    decisions: usize,
) -> Result<RecordRun> {
    let max_batch = (variant == Variant::NoGroupCommit).then_some(1);
    let mut stores = Vec::new();
    for i in 0..writers {
        if i == 0 || variant == Variant::Separate {
            stores.push(Store::open(&config(url, key, max_batch)).await?);
        }
    }
    // Warm up: the first record of a store stores the evidence and the policy bundle.
    for s in &stores {
        let mut d = fresh(&fx.decision);
        fx.firewall.record(s, &fx.request, &mut d, &fx.docs).await?;
    }
    let per = decisions / writers;
    let prepared = match variant {
        Variant::StoreOnly | Variant::StoreOnlyNewDocuments => {
            let stored = variant == Variant::StoreOnly;
            let mut all = Vec::with_capacity(per * writers);
            for _ in 0..per * writers {
                all.push(prepared_changes(fx, &stores[0], stored).await?);
            }
            Some(all)
        }
        _ => None,
    };
    let mut prepared = prepared.map(|p| p.into_iter());
    let sbom_requests = if variant == Variant::NewSbom {
        let mut all = Vec::new();
        for i in 0..SBOM_DECISIONS {
            all.push(new_sbom_request(fx, i)?);
        }
        all
    } else {
        Vec::new()
    };
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cpu = cpu_time();
    let started = Instant::now();
    // (d): the task recording decisions with a new SBOM, until the writers are done.
    let sbom_task = (variant == Variant::NewSbom).then(|| {
        let store = stores[0].clone();
        let fx = fx.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut lat = Vec::new();
            for (request, docs, decision) in sbom_requests {
                if done.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let mut d = fresh(&decision);
                let t = Instant::now();
                fx.firewall.record(&store, &request, &mut d, &docs).await?;
                lat.push(t.elapsed());
            }
            Ok::<_, Error>(lat)
        })
    });
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = stores[w % stores.len()].clone();
            let fx = fx.clone();
            let mine: Option<Vec<Vec<Change>>> =
                prepared.as_mut().map(|p| p.by_ref().take(per).collect());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                if let Some(mine) = mine {
                    for changes in mine {
                        let t = Instant::now();
                        store.append(changes).await?;
                        lat.push(t.elapsed());
                    }
                    return Ok::<_, Error>(lat);
                }
                for _ in 0..per {
                    let mut d = fresh(&fx.decision);
                    let t = Instant::now();
                    fx.firewall
                        .record(&store, &fx.request, &mut d, &fx.docs)
                        .await?;
                    lat.push(t.elapsed());
                }
                Ok::<_, Error>(lat)
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(decisions);
    for t in tasks {
        lat.extend(t.await??);
    }
    let wall = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let sboms = match sbom_task {
        Some(t) => {
            let mut l = t.await??;
            l.sort();
            Some((l.len(), pct(&l, 0.5)))
        }
        None => None,
    };
    let cpu = cpu_time().saturating_sub(cpu) / lat.len().max(1) as u32;
    lat.sort();
    Ok(RecordRun {
        rate: lat.len() as f64 / wall.as_secs_f64(),
        p50: pct(&lat, 0.50),
        p99: pct(&lat, 0.99),
        max: lat.last().copied().unwrap_or_default(),
        sboms,
        cpu,
    })
}

/// Components added to the example SBOM for (d).
const SBOM_COMPONENTS: usize = 1_000;
/// Decisions with a new SBOM prepared for (d) (more than a run records).
const SBOM_DECISIONS: usize = 40;

/// A request whose SBOM is new: the example SBOM with [`SBOM_COMPONENTS`] more npm components
/// (names unique to this process and `i`), its documents, and the decision on it.
fn new_sbom_request(fx: &Fixture, i: usize) -> Result<(DecisionRequest, Documents, Decision)> {
    let path = examples_dir().join("evidence/checkout-api.cdx.json");
    let mut sbom: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    let tag = format!("{}-{}-{i}", std::process::id(), now_millis());
    if let Some(list) = sbom["components"].as_array_mut() {
        for k in 0..SBOM_COMPONENTS {
            let name = format!("bench-{tag}-{k}");
            list.push(json!({"type": "library", "name": name, "version": "1.0.0",
                "purl": format!("pkg:npm/{name}@1.0.0")}));
        }
    }
    let bytes = serde_json::to_vec(&sbom)?;
    let doc = EvidenceDoc::parse(
        &format!("new-sbom-{i}.cdx.json"),
        &bytes,
        &Limits::default(),
    )?;
    let mut docs = fx.docs.clone();
    docs.add(blob_kinds::EVIDENCE, bytes);
    let mut request = fx.request.clone();
    if let Some(first) = request.evidence.first_mut() {
        *first = doc;
    }
    let decision = fx.firewall.decide(&request);
    Ok((request, docs, decision))
}

/// The changes `Firewall::record` appends for a fresh decision, made without it: the documents
/// already stored (when `stored`), the decision and request documents (compressed here), the
/// evidence links, the decision row and its entry (the fixture's last entry, ids varied).
async fn prepared_changes(fx: &Fixture, store: &Store, stored: bool) -> Result<Vec<Change>> {
    use portcullis_store::{DecisionRow, NewBlob};
    let head = store.head().await?.ok_or("an empty store")?.0 as u64;
    let last = store
        .entry(head)
        .await?
        .ok_or("the head entry is missing")?;
    let template: Value = serde_json::from_str(&last.body)?;
    let bundle = template["policy_bundle"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut changes = Vec::new();
    if stored {
        let mut known: Vec<(String, &str)> = fx
            .request
            .evidence
            .iter()
            .map(|d| (d.digest.clone(), blob_kinds::EVIDENCE))
            .collect();
        known.extend(
            fx.firewall
                .advisories()
                .iter()
                .map(|a| (a.source.clone(), blob_kinds::ADVISORY)),
        );
        if let Some(kev) = template["refs"].as_array().and_then(|refs| {
            refs.iter()
                .filter_map(Value::as_str)
                .find(|r| fx.docs.get(r).is_some() && known.iter().all(|(k, _)| k != r))
        }) {
            known.push((kev.to_string(), blob_kinds::KEV));
        }
        known.push((bundle.clone(), blob_kinds::POLICY_BUNDLE));
        for (digest, kind) in known {
            let bytes = fx.docs.get(&digest).unwrap_or(b"{}");
            let mut blob = NewBlob::new(kind, bytes)?;
            blob.digest = digest.clone();
            changes.push(Change::if_new(
                kinds::EVIDENCE_STORED,
                json!({"digest": digest, "kind": kind, "size": bytes.len()}),
                vec![Write::Blob {
                    blob,
                    components: Vec::new(),
                }],
            ));
        }
    }
    let d = fresh(&fx.decision);
    let decision_blob = NewBlob::new(
        blob_kinds::DECISION,
        &canonical::to_vec(&serde_json::to_value(&d)?)?,
    )?;
    let request_blob = NewBlob::new(
        blob_kinds::REQUEST,
        &canonical::to_vec(
            &json!({"decision": d.id, "time": d.decided_at, "evidence": d.evidence}),
        )?,
    )?;
    let mut body = template;
    body["decision_id"] = json!(d.id);
    body["decided_at"] = json!(d.decided_at);
    body["decision_digest"] = json!(decision_blob.digest);
    body["request_digest"] = json!(request_blob.digest);
    let mut writes = vec![
        Write::Blob {
            blob: decision_blob.clone(),
            components: Vec::new(),
        },
        Write::Blob {
            blob: request_blob.clone(),
            components: Vec::new(),
        },
    ];
    for e in &fx.request.evidence {
        writes.push(Write::ArtifactEvidence {
            artifact_digest: d.artifact.digest.clone(),
            evidence_digest: e.digest.clone(),
        });
    }
    writes.push(Write::Decision(DecisionRow {
        id: d.id.clone(),
        seq: 0,
        artifact_name: d.artifact.name.clone(),
        artifact_digest: d.artifact.digest.clone(),
        environment: d.environment.clone(),
        verdict: d.decision.as_str().into(),
        decided_at: d.decided_at.clone(),
        decision_digest: decision_blob.digest,
        request_digest: request_blob.digest,
        policy_bundle: bundle,
    }));
    changes.push(Change::new(kinds::DECISION, body, writes));
    Ok(changes)
}

async fn record_bench(args: &Settings, backends: &[(&str, String)]) -> Result<()> {
    let fx = Arc::new(fixture()?);
    let d = &fx.decision;
    eprintln!(
        "decision: {} ({} violations, {} warnings, {} excepted, {} errors)",
        d.decision.as_str(),
        d.violations.len(),
        d.warnings.len(),
        d.excepted.len(),
        d.errors.len()
    );
    let variants = [
        Variant::Shared,
        Variant::NoGroupCommit,
        Variant::Separate,
        Variant::StoreOnly,
        Variant::StoreOnlyNewDocuments,
        Variant::NewSbom,
    ];
    // results[variant][backend] = runs
    let mut results: Vec<Vec<Vec<RecordRun>>> = variants
        .iter()
        .map(|_| backends.iter().map(|_| Vec::new()).collect())
        .collect();
    for run in 1..=args.runs {
        for (vi, v) in variants.iter().enumerate() {
            for (bi, (name, url)) in backends.iter().enumerate() {
                let r = record_run(&fx, url, &args.key, *v, args.writers, args.decisions).await?;
                let sboms = r.sboms.map_or(String::new(), |(n, p50)| {
                    format!("  [{n} decisions with a new SBOM, p50 {:.1} ms]", ms(p50))
                });
                eprintln!(
                    "run {run} {name:<10} {:<52} {:>7.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  CPU {:.2} ms/decision  (load {}){sboms}",
                    v.label(args.writers),
                    r.rate,
                    ms(r.p50),
                    ms(r.p99),
                    ms(r.max),
                    ms(r.cpu),
                    load_average()
                );
                results[vi][bi].push(r);
            }
        }
    }
    // The size of what one record appends, from the last entry of the first backend.
    if let Some((_, url)) = backends.first() {
        let store = Store::open(&config(url, &args.key, None)).await?;
        if let Some((seq, _)) = store.head().await?
            && let Some(e) = store.entry(seq as u64).await?
        {
            println!(
                "decision audit entry: {} bytes of canonical JSON (kind {})",
                e.body.len(),
                e.kind
            );
        }
    }
    println!(
        "\nrecord: {} decisions per run, {} writers, {} runs: median (min–max)\n",
        args.decisions, args.writers, args.runs
    );
    println!(
        "| variant | backend | decisions/s | p50 ms | p99 ms | max ms | CPU ms/decision (this process) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (vi, v) in variants.iter().enumerate() {
        for (bi, (name, _)) in backends.iter().enumerate() {
            let runs = &results[vi][bi];
            let f = |g: fn(&RecordRun) -> f64| runs.iter().map(g).collect::<Vec<_>>();
            println!(
                "| {} | {name} | {} | {} | {} | {} | {} |",
                v.label(args.writers),
                summary(&f(|r| r.rate), 0),
                summary(&f(|r| ms(r.p50)), 2),
                summary(&f(|r| ms(r.p99)), 2),
                summary(&f(|r| ms(r.max)), 2),
                summary(&f(|r| ms(r.cpu)), 2),
            );
            if let Some(n) = runs
                .iter()
                .map(|r| r.sboms.map_or(0, |(n, _)| n))
                .max()
                .filter(|n| *n > 0)
            {
                println!(
                    "| (d) the decisions with a new SBOM themselves | {name} | up to {n} per run | {} | | | |",
                    summary(
                        &runs
                            .iter()
                            .filter_map(|r| r.sboms.map(|(_, p)| ms(p)))
                            .collect::<Vec<_>>(),
                        1
                    ),
                );
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------ verify

/// The body of a decision entry as `Firewall::record` writes it, from a scratch store.
async fn decision_body_template(key: &Path) -> Result<Value> {
    let fx = fixture()?;
    let dir = std::env::temp_dir().join(format!("store_load_{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("scratch.db").display());
    let body = {
        let store = Store::open(&config(&url, key, None)).await?;
        let mut d = fresh(&fx.decision);
        fx.firewall
            .record(&store, &fx.request, &mut d, &fx.docs)
            .await?;
        let seq = d.chain.map(|c| c.seq).unwrap_or(0);
        let entry = store
            .entry(seq)
            .await?
            .ok_or("the recorded entry is missing")?;
        serde_json::from_str(&entry.body)?
    };
    let _ = std::fs::remove_dir_all(&dir);
    Ok(body)
}

fn hex_digest(seed: &str) -> String {
    sha256(seed.as_bytes())
}

/// Entry `i` of the filled chain: the template with its ids, time and digests varied.
fn fill_body(template: &Value, i: u64) -> Value {
    let mut b = template.clone();
    let id = uuid::Uuid::now_v7().to_string();
    let decision_digest = hex_digest(&format!("decision {i}"));
    let request_digest = hex_digest(&format!("request {i}"));
    if let Some(o) = b.as_object_mut() {
        // The scratch store pinned its own decision row: the store pins this entry's.
        o.remove("rows");
        o.insert("decision_id".into(), json!(id));
        o.insert("decided_at".into(), json!(now_millis()));
        o.insert(
            "verdict".into(),
            json!(if i.is_multiple_of(4) { "allow" } else { "deny" }),
        );
        o.insert("decision_digest".into(), json!(decision_digest));
        o.insert("request_digest".into(), json!(request_digest));
        if let Some(refs) = o.get_mut("refs").and_then(Value::as_array_mut) {
            refs.retain(|r| {
                r.as_str().is_some_and(|s| {
                    s != template["decision_digest"] && s != template["request_digest"]
                })
            });
            refs.push(json!(decision_digest));
            refs.push(json!(request_digest));
        }
    }
    b
}

async fn fill_chain(name: &str, store: &Store, template: &Value, target: u64) -> Result<()> {
    let mut head = store.head().await?.map_or(0, |h| h.0 as u64);
    if head >= target {
        eprintln!("{name}: the chain holds {head} entries already, not filling");
        return Ok(());
    }
    let started = Instant::now();
    let from = head;
    while head < target {
        let n = (target - head).min(FILL_BATCH as u64);
        // Each with its decisions row, as `record` writes it (`verify` checks the table).
        let changes = (0..n)
            .map(|k| {
                let body = fill_body(template, head + k);
                let text = |k: &str| body[k].as_str().unwrap_or_default().to_string();
                let row = portcullis_store::DecisionRow {
                    id: text("decision_id"),
                    seq: 0,
                    artifact_name: body["artifact"]["name"].as_str().unwrap_or_default().into(),
                    artifact_digest: body["artifact"]["digest"]
                        .as_str()
                        .unwrap_or_default()
                        .into(),
                    environment: text("environment"),
                    verdict: text("verdict"),
                    decided_at: text("decided_at"),
                    decision_digest: text("decision_digest"),
                    request_digest: text("request_digest"),
                    policy_bundle: text("policy_bundle"),
                };
                Change::new(kinds::DECISION, body, vec![Write::Decision(row)])
            })
            .collect();
        store.append(changes).await?;
        head += n;
        if head % 100_000 < FILL_BATCH as u64 || head == target {
            let rate = (head - from) as f64 / started.elapsed().as_secs_f64();
            eprintln!(
                "{name}: {head}/{target} entries ({rate:.0}/s, {:.0} s left)",
                (target - head) as f64 / rate
            );
        }
    }
    Ok(())
}

async fn verify_bench(args: &Settings, backends: &[(&str, String)]) -> Result<()> {
    let template = decision_body_template(&args.key).await?;
    let size = canonical::to_vec(&fill_body(&template, 1))?.len();
    eprintln!("entry body: {size} bytes of canonical JSON");
    let mut stores = Vec::new();
    for (name, url) in backends {
        let store = Store::open(&config(url, &args.key, None)).await?;
        fill_chain(name, &store, &template, args.entries).await?;
        stores.push(store);
    }
    // [backend][reader] = runs; reader 0: `Store::verify`, 1: the sqlx reader before it.
    let mut times: Vec<[Vec<f64>; 2]> = backends.iter().map(|_| Default::default()).collect();
    let mut cpu: Vec<[Vec<f64>; 2]> = backends.iter().map(|_| Default::default()).collect();
    let mut covered = vec![(0u64, 0usize); backends.len()];
    for run in 1..=args.runs {
        for (bi, (name, _)) in backends.iter().enumerate() {
            for (reader, label) in ["verify", "baseline"].iter().enumerate() {
                let c = cpu_time();
                let t = Instant::now();
                let v = if reader == 0 {
                    stores[bi].verify(None).await
                } else {
                    stores[bi]
                        .verify_with_baseline(&portcullis_store::VerifyOptions::default())
                        .await
                }
                .map_err(|e| format!("{name} {label}: {e}"))?;
                let s = t.elapsed().as_secs_f64();
                let c = cpu_time().saturating_sub(c).as_secs_f64();
                eprintln!(
                    "run {run} {name:<10} {label:<8}: {} entries, {} checkpoints in {s:.2} s, CPU {c:.2} s (load {})",
                    v.entries,
                    v.checkpoints,
                    load_average()
                );
                covered[bi] = (v.entries, v.checkpoints);
                times[bi][reader].push(s);
                cpu[bi][reader].push(c);
            }
        }
    }
    println!(
        "\nverify: {} runs, entry bodies of {size} bytes: median (min–max); baseline: the reader before issue 21 (`Store::verify_with_baseline`), in the same run\n",
        args.runs
    );
    println!(
        "| backend | entries | checkpoints | Store::verify(None) s | CPU s (this process) | baseline s | baseline CPU s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (bi, (name, _)) in backends.iter().enumerate() {
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} |",
            covered[bi].0,
            covered[bi].1,
            summary(&times[bi][0], 2),
            summary(&cpu[bi][0], 2),
            summary(&times[bi][1], 2),
            summary(&cpu[bi][1], 2),
        );
    }
    Ok(())
}

// ------------------------------------------------------------------------------------ impact

/// An index below `n`, skewed to small ones: a few packages are in most SBOMs.
fn popular(rng: &mut Xoshiro256PlusPlus, n: u64) -> u64 {
    let u: f64 = rng.random();
    ((u * u * u) * n as f64) as u64
}

const MAVEN_PACKAGES: u64 = 40_000;
const NPM_PACKAGES: u64 = 40_000;
const PYPI_PACKAGES: u64 = 20_000;
const WORDS: [&str; 32] = [
    "core",
    "util",
    "commons",
    "http",
    "client",
    "json",
    "xml",
    "parser",
    "codec",
    "logging",
    "config",
    "cache",
    "crypto",
    "auth",
    "netty",
    "stream",
    "io",
    "rpc",
    "grpc",
    "sql",
    "orm",
    "test",
    "mock",
    "metrics",
    "trace",
    "yaml",
    "cli",
    "async",
    "pool",
    "validator",
    "schema",
    "template",
];
const GROUPS: [&str; 12] = [
    "org.apache",
    "com.fasterxml",
    "io.netty",
    "org.springframework",
    "com.google",
    "io.micrometer",
    "org.eclipse",
    "com.squareup",
    "io.projectreactor",
    "org.hibernate",
    "com.amazonaws",
    "io.opentelemetry",
];
const SCOPES: [&str; 8] = [
    "babel",
    "types",
    "aws-sdk",
    "angular",
    "nestjs",
    "opentelemetry",
    "emotion",
    "testing-library",
];

/// Log4j-core versions the SBOMs hold (every 20th artifact), and whether GHSA-jfh8-c2jp-5v3q
/// (introduced 2.13.0 fixed 2.15.0; 2.4–2.12.2; 0–2.3.1) affects them.
const LOG4J: [(&str, bool); 15] = [
    ("2.14.1", true),
    ("2.14.0", true),
    ("2.13.3", true),
    ("2.12.1", true),
    ("2.11.2", true),
    ("2.8.2", true),
    ("2.3", true),
    ("2.0-beta9", true),
    ("2.3.1", false),
    ("2.12.2", false),
    ("2.12.4", false),
    ("2.15.0", false),
    ("2.16.0", false),
    ("2.17.1", false),
    ("2.23.1", false),
];

fn word(i: u64) -> &'static str {
    WORDS[(i % WORDS.len() as u64) as usize]
}

/// Purl (without version) of package `k` of the universe.
fn package(k: u64) -> String {
    if k < MAVEN_PACKAGES {
        let g = GROUPS[(k % GROUPS.len() as u64) as usize];
        format!(
            "pkg:maven/{g}.{}{}/{}-{}-{k}",
            word(k / 7),
            k % 50,
            word(k / 3),
            word(k / 11)
        )
    } else if k < MAVEN_PACKAGES + NPM_PACKAGES {
        let j = k - MAVEN_PACKAGES;
        if j.is_multiple_of(5) {
            let scope = SCOPES[(j % SCOPES.len() as u64) as usize];
            format!("pkg:npm/%40{scope}/{}-{}{j}", word(j / 3), word(j / 13))
        } else {
            format!("pkg:npm/{}-{}-{j}", word(j / 3), word(j / 7))
        }
    } else {
        let j = k - MAVEN_PACKAGES - NPM_PACKAGES;
        format!("pkg:pypi/py{}-{}-{j}", word(j / 3), word(j / 5))
    }
}

/// The component row `Firewall::record` would index for `purl`.
fn component_row(purl: &str) -> Option<ComponentRow> {
    let p = Purl::parse(purl).ok()?;
    Some(ComponentRow {
        purl_type: p.ty().to_string(),
        namespace: p.namespace().unwrap_or("").to_string(),
        name: p.name().to_string(),
        version: p.version().unwrap_or("").to_string(),
        purl: portcullis_evidence::purl_core(purl),
    })
}

/// SBOM `i`: its digest, the artifact it belongs to and its components.
struct Sbom {
    evidence_digest: String,
    artifact_digest: String,
    rows: Vec<ComponentRow>,
}

fn artifact_digest(i: usize) -> String {
    hex_digest(&format!("artifact {i}"))
}

fn artifact_name(i: usize) -> String {
    // Three artifacts per service: its builds running in dev, staging and production.
    let service = i / 3;
    format!(
        "registry.example.com/team{}/{}-{}-{service}",
        service % 40,
        word(service as u64),
        word(service as u64 / 5)
    )
}

fn sbom(seed: u64, i: usize, components: usize) -> Sbom {
    // A generator of a fixed algorithm (not `StdRng`, which may change between rand versions),
    // so that a seed names the same data set for as long as this file does not change.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_add(i as u64));
    let universe = MAVEN_PACKAGES + NPM_PACKAGES + PYPI_PACKAGES;
    let mut chosen = HashSet::with_capacity(components);
    let mut purls = Vec::with_capacity(components);
    let log4j = i.is_multiple_of(20).then(|| LOG4J[(i / 20) % LOG4J.len()]);
    if let Some((v, _)) = log4j {
        purls.push(format!(
            "pkg:maven/org.apache.logging.log4j/log4j-core@{v}?type=jar"
        ));
        purls.push(format!(
            "pkg:maven/org.apache.logging.log4j/log4j-api@{v}?type=jar"
        ));
    }
    // A namesake in another ecosystem, which must not match.
    if i % 1000 == 7 {
        purls.push("pkg:npm/log4j-core@2.14.1".to_string());
    }
    while purls.len() < components {
        let k = popular(&mut rng, universe);
        if !chosen.insert(k) {
            continue;
        }
        let version = format!(
            "{}.{}.{}",
            k % 5 + rng.random_range(0..2u64),
            rng.random_range(0..20u64),
            rng.random_range(0..10u64)
        );
        let mut purl = format!("{}@{version}", package(k));
        if k < MAVEN_PACKAGES {
            purl.push_str("?type=jar");
        }
        purls.push(purl);
    }
    let mut rows: Vec<ComponentRow> = purls.iter().filter_map(|p| component_row(p)).collect();
    rows.sort_by(|a, b| a.purl.cmp(&b.purl));
    rows.dedup();
    Sbom {
        evidence_digest: hex_digest(&format!("sbom {i}")),
        artifact_digest: artifact_digest(i),
        rows,
    }
}

/// Whether this store holds the whole data set already; errors when it holds part of one.
/// What marks a loaded data set: its size, and the generator and seed it was drawn with.
fn data_set(args: &Settings, state: &str) -> Value {
    json!({
        "artifacts": args.artifacts, "components": args.components,
        "generator": "xoshiro256++", "seed": args.seed, "state": state,
    })
}

async fn loaded(store: &Store, args: &Settings) -> Result<bool> {
    let (artifacts, components) = (args.artifacts, args.components);
    let Some((head, _)) = store.head().await? else {
        return Ok(false);
    };
    let last = store
        .entry(head as u64)
        .await?
        .ok_or("the head entry is missing")?;
    let want = data_set(args, "done");
    if last.kind == LOAD_MARK && serde_json::from_str::<Value>(&last.body)? == want {
        return Ok(true);
    }
    if head > 1 {
        return Err(format!(
            "{}: not a fresh store and not a complete data set of {artifacts} artifacts × \
             {components} components from seed {} (delete it, or drop the database, and run \
             again)",
            store.location(),
            args.seed
        )
        .into());
    }
    Ok(false)
}

async fn mark(store: &Store, args: &Settings, state: &str) -> Result<()> {
    store
        .append(vec![Change::new(
            LOAD_MARK,
            data_set(args, state),
            Vec::new(),
        )])
        .await?;
    Ok(())
}

async fn load(names: &[&str], stores: &[Store], args: &Settings) -> Result<()> {
    let (artifacts, components, seed) = (args.artifacts, args.components, args.seed);
    for s in stores {
        mark(s, args, "started").await?;
    }
    // SBOMs are generated on a thread of their own while the databases load the previous ones.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Sbom>(8);
    let producer = std::thread::spawn(move || {
        for i in 0..artifacts {
            if tx.blocking_send(sbom(seed, i, components)).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut done = 0usize;
    let mut rows = 0usize;
    while let Some(s) = rx.recv().await {
        let artifacts_of = [s.artifact_digest.clone()];
        let loads = stores
            .iter()
            .map(|store| store.load_index(&s.evidence_digest, &artifacts_of, &s.rows));
        for (r, name) in futures_join(loads).await.into_iter().zip(names) {
            r.map_err(|e| format!("{name}: {e}"))?;
        }
        done += 1;
        rows += s.rows.len();
        if done.is_multiple_of(250) || done == artifacts {
            let rate = rows as f64 / started.elapsed().as_secs_f64();
            eprintln!(
                "components: {done}/{artifacts} SBOMs, {rows} rows ({rate:.0} rows/s, {:.0} s left, load {})",
                (artifacts - done) as f64 * components as f64 / rate,
                load_average()
            );
        }
    }
    producer.join().map_err(|_| "the SBOM generator panicked")?;

    let started = Instant::now();
    for chunk_start in (0..artifacts).step_by(FILL_BATCH / 5) {
        let end = (chunk_start + FILL_BATCH / 5).min(artifacts);
        let changes: Vec<Change> = (chunk_start..end).map(deployment).collect();
        let appends = stores.iter().map(|store| store.append(changes.clone()));
        for (r, name) in futures_join(appends).await.into_iter().zip(names) {
            r.map_err(|e| format!("{name}: {e}"))?;
        }
    }
    eprintln!(
        "deployments: {artifacts} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for s in stores {
        let t = Instant::now();
        s.analyze().await?;
        eprintln!(
            "{}: analyze in {:.1} s",
            s.location(),
            t.elapsed().as_secs_f64()
        );
        mark(s, args, "done").await?;
    }
    Ok(())
}

/// Run futures concurrently (on this task) and collect their outputs in order.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = handles.iter().map(|_| None).collect();
    let mut handles: Vec<_> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (h, out) in handles.iter_mut().zip(outputs.iter_mut()) {
            if let Some(f) = h {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *out = Some(v);
                        *h = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

fn deployment(i: usize) -> Change {
    let environment = ENVIRONMENTS[i % ENVIRONMENTS.len()];
    let artifact = ArtifactId {
        name: artifact_name(i),
        digest: artifact_digest(i),
    };
    Change::new(
        kinds::DEPLOYMENT,
        json!({
            "environment": environment, "artifact": artifact, "by": "bench",
            "decision_id": null, "decision": null,
        }),
        vec![Write::Deployment(DeploymentRow {
            seq: 0,
            environment: environment.to_string(),
            artifact_name: artifact.name,
            artifact_digest: artifact.digest,
            deployed_at: now_millis(),
            deployed_by: "bench".into(),
        })],
    )
}

fn log4shell() -> Result<Advisory> {
    let bytes = std::fs::read(examples_dir().join("evidence/log4shell.osv.json"))?;
    let ev = portcullis_evidence::parse(&bytes, &Limits::default())?;
    ev.advisories
        .into_iter()
        .next()
        .ok_or_else(|| "log4shell.osv.json holds no advisory".into())
}

async fn impact_bench(args: &Settings, backends: &[(&str, String)]) -> Result<()> {
    // What was generated, without loading: the artifacts holding log4j-core, affected or not.
    let (mut holders, mut affected) = (0usize, 0usize);
    for i in (0..args.artifacts).step_by(20) {
        holders += 1;
        if LOG4J[(i / 20) % LOG4J.len()].1 {
            affected += 1;
        }
    }
    let mut names = Vec::new();
    let mut stores = Vec::new();
    let mut to_load = Vec::new();
    for (name, url) in backends {
        let store = Store::open(&config(url, &args.key, None)).await?;
        if loaded(&store, args).await? {
            eprintln!("{name}: the data set is loaded already");
        } else {
            to_load.push(stores.len());
        }
        names.push(*name);
        stores.push(store);
    }
    if !to_load.is_empty() {
        let n: Vec<&str> = to_load.iter().map(|&i| names[i]).collect();
        let s: Vec<Store> = to_load.iter().map(|&i| stores[i].clone()).collect();
        eprintln!(
            "loading {} artifacts × {} components into {}",
            args.artifacts,
            args.components,
            n.join(" and ")
        );
        let t = Instant::now();
        load(&n, &s, args).await?;
        eprintln!("loaded in {:.0} s", t.elapsed().as_secs_f64());
    }
    let advisory = log4shell()?;
    println!(
        "\nimpact of {} over {} deployed artifacts × {} components (expected: {affected} \
         affected of {holders} holding log4j-core): {} timed runs after 2 warm-up runs\n",
        advisory.id, args.artifacts, args.components, args.repeat
    );
    println!(
        "| backend | affected rows | candidates | impact p50 ms | impact p99 ms | min–max ms | query only p50 ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut ok = true;
    for (name, store) in names.iter().zip(&stores) {
        let mut lat = Vec::new();
        let mut query = Vec::new();
        let mut count = 0;
        let mut candidates = 0;
        for r in 0..args.repeat + 2 {
            let t = Instant::now();
            let rows = impact::impact(store, &advisory).await?;
            let e = t.elapsed();
            count = rows.len();
            let t = Instant::now();
            let c = store
                .deployed_with_package("maven", Some("org.apache.logging.log4j"), "log4j-core")
                .await?;
            let q = t.elapsed();
            candidates = c.len();
            if r >= 2 {
                lat.push(e);
                query.push(q);
            }
        }
        lat.sort();
        query.sort();
        if count != affected || candidates != holders {
            ok = false;
        }
        println!(
            "| {name} | {count} | {candidates} | {:.2} | {:.2} | {:.2}–{:.2} | {:.2} |",
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99)),
            ms(lat[0]),
            ms(lat[lat.len() - 1]),
            ms(pct(&query, 0.5)),
        );
    }
    if !ok {
        return Err(format!(
            "impact found a number of rows other than generated ({affected} affected, \
             {holders} candidates)"
        )
        .into());
    }
    Ok(())
}
