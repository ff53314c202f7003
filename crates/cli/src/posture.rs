//! What runs and whether it may: `portcullis posture --env ENV` (exit 0 all compliant, 1
//! anything running in violation, undecided or not judged yet, 2 on errors), `portcullis
//! snapshot list|show|diff` and `portcullis inventory sync`. Each reads the local store or,
//! with `--server URL`, asks a Portcullis server; the firewall crate does the work.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use portcullis_firewall::admission::AdmissionConfig;
use portcullis_firewall::inventory::{self, SnapshotDiff};
use portcullis_firewall::names::{self, NameKind};
use portcullis_firewall::posture::{self, EnvironmentPosture, State};
use portcullis_firewall::rejudge::{Rejudge, RejudgeSettings};
use portcullis_firewall::{DecisionService, Setup};
use portcullis_server::api::InventorySynced;
use portcullis_store::SnapshotRow;
use serde::de::DeserializeOwned;

use crate::registry::{ListFormat, print_json};
use crate::state::{StoreArgs, cli_actor, runtime};
use crate::{PolicyArgs, exit};

/// Ask a server instead of the local store.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// A Portcullis server (`portcullis serve`) to ask instead of the local store.
    #[arg(long, env = "PORTCULLIS_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// The API token for `--server` (role viewer to read, ci to report what runs).
    #[arg(
        long,
        env = "PORTCULLIS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// A Portcullis server's API, with a token.
struct Remote {
    base: reqwest::Url,
    token: String,
    client: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Remote {
    fn of(args: &ServerArgs) -> anyhow::Result<Option<Self>> {
        let Some(url) = &args.server else {
            return Ok(None);
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--server {url:?}: expected an http:// or https:// URL");
        }
        let base =
            reqwest::Url::parse(url).with_context(|| format!("--server {url:?}: not a URL"))?;
        let token = args
            .token
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| anyhow!("--server {url}: give --token or set PORTCULLIS_TOKEN"))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .context("HTTP client")?;
        Ok(Some(Self {
            base,
            token: token.trim().to_string(),
            client,
            rt: runtime()?,
        }))
    }

    /// The URL of `segments` (each escaped) with `query`.
    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> anyhow::Result<reqwest::Url> {
        let mut u = self.base.clone();
        u.path_segments_mut()
            .map_err(|()| anyhow!("--server {}: cannot be a base URL", self.base))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query);
        }
        Ok(u)
    }

    fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> anyhow::Result<T> {
        self.rt.block_on(async {
            let req = req.bearer_auth(&self.token).build().context("request")?;
            let endpoint = format!("{} {}", req.method(), req.url());
            let resp = self
                .client
                .execute(req)
                .await
                .with_context(|| format!("cannot reach {endpoint}"))?;
            crate::remote::answer(resp, &endpoint, "an answer it can read").await
        })
    }

    fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        self.send(self.client.get(self.url(segments, query)?))
    }
}

// ---------------------------------------------------------------- posture

#[derive(Args, Debug)]
pub struct PostureArgs {
    /// The environment.
    #[arg(long = "env", env = "PORTCULLIS_ENV", value_name = "ENV")]
    pub environment: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: ListFormat,
    /// Judge what runs there first, here (local store only; for setups without a server):
    /// every running artifact whose posture is missing or stale is decided again with the
    /// policies, configuration and advisories in force, and its posture settled.
    #[arg(long, conflicts_with = "server")]
    pub regate: bool,
    #[command(flatten)]
    pub policies: PolicyArgs,
    /// With --regate: PEM public keys trusted to sign attestations (as `gate --trusted-keys`).
    #[arg(long, env = "PORTCULLIS_TRUSTED_KEYS", value_name = "DIR")]
    pub trusted_keys: Option<PathBuf>,
    /// With --regate: the known-exploited catalogue (as `gate --kev`).
    #[arg(long, env = "PORTCULLIS_KEV", value_name = "FILE")]
    pub kev: Option<PathBuf>,
    #[command(flatten)]
    pub remote: ServerArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `portcullis posture --env ENV`.
pub fn run(a: &PostureArgs) -> anyhow::Result<u8> {
    names::check(NameKind::Environment, &a.environment).map_err(|e| anyhow!("--env {e}"))?;
    let p: EnvironmentPosture = match Remote::of(&a.remote)? {
        Some(r) => r.get(&["v1", "environments", &a.environment, "posture"], &[])?,
        None => {
            let rt = runtime()?;
            let store = rt.block_on(a.store.open())?;
            if a.regate {
                let loaded = Setup {
                    kev: a.kev.clone(),
                    trusted_keys: a.trusted_keys.clone(),
                    ..crate::gate::setup(&a.policies, portcullis_evidence::Limits::default())
                }
                .load()?;
                for n in &loaded.notes {
                    eprintln!("note: {n}");
                }
                rt.block_on(async {
                    let service = Arc::new(
                        DecisionService::open(store, loaded, AdmissionConfig::default()).await?,
                    );
                    let rejudge = Rejudge::new(service.clone(), RejudgeSettings::default())?;
                    let queued = rejudge.reconcile(Some(&a.environment)).await?;
                    if queued > 0 {
                        eprintln!(
                            "re-judging {queued} running artifact(s) in {}",
                            a.environment
                        );
                    }
                    rejudge.drain().await;
                    Ok::<_, anyhow::Error>(service.posture(&a.environment).await?)
                })?
            } else {
                rt.block_on(posture::read(&store, &a.environment))?
            }
        }
    };
    if a.format == ListFormat::Json {
        print_json(&p)?;
    } else {
        print_posture(&p);
    }
    if p.failing() {
        Ok(exit::DENIED)
    } else {
        Ok(exit::OK)
    }
}

fn print_posture(p: &EnvironmentPosture) {
    let running = p.artifacts.len() + p.pending.len();
    println!(
        "{}: {running} running — {} in violation, {} undecided, {} compliant, {} not judged yet (at {})",
        p.environment,
        p.violation,
        p.undecided,
        p.compliant,
        p.pending.len(),
        p.at
    );
    for s in &p.artifacts {
        let label = match s.state {
            State::Violation => "VIOLATION",
            State::Undecided => "UNDECIDED",
            State::Compliant => "compliant",
        };
        println!("  {label:<10} {}@{}", s.artifact.name, s.artifact.digest);
        let how = match s.state {
            State::Violation => format!(
                "in violation for {}",
                portcullis_firewall::posture::span(s.seconds)
            ),
            State::Undecided => format!(
                "undecided for {}",
                portcullis_firewall::posture::span(s.seconds)
            ),
            State::Compliant => format!(
                "compliant for {}",
                portcullis_firewall::posture::span(s.seconds)
            ),
        };
        let decision = s
            .decision_id
            .as_deref()
            .map(|d| format!("; decision {d}"))
            .unwrap_or_else(|| "; no decision about this digest here".into());
        println!(
            "             {how}, since {}{decision} (entry {})",
            s.since, s.seq
        );
        if !s.rules.is_empty() {
            println!("             rules: {}", s.rules.join(", "));
        }
    }
    for a in &p.pending {
        println!("  {:<10} {}@{}", "pending", a.name, a.digest);
        println!("             running, not judged yet");
    }
    if running == 0 {
        println!("  nothing runs in {} (as recorded)", p.environment);
    }
    if !p.pending.is_empty() {
        eprintln!(
            "note: {} running artifact(s) not judged yet: wait for the server's re-judging, or run with --regate on a local store",
            p.pending.len()
        );
    }
}

// ---------------------------------------------------------------- snapshots

#[derive(Subcommand, Debug)]
pub enum SnapshotCommand {
    /// The snapshots of an environment, newest first: one after each change of what runs.
    List {
        environment: String,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
        #[command(flatten)]
        remote: ServerArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// What ran in an environment at one snapshot (the latest when SEQ is left out): each
    /// artifact, its digest and the decision it ran under with its verdict.
    Show {
        environment: String,
        seq: Option<i64>,
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
        #[command(flatten)]
        remote: ServerArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// What changed in an environment from snapshot A to snapshot B (the latest when left out).
    Diff {
        environment: String,
        a: i64,
        b: Option<i64>,
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
        #[command(flatten)]
        remote: ServerArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(serde::Deserialize)]
struct SnapshotList {
    snapshots: Vec<SnapshotRow>,
}

/// The snapshots of `environment` (newest first), locally or from the server.
fn list_snapshots(
    remote: &Option<Remote>,
    store: &StoreArgs,
    environment: &str,
    limit: i64,
) -> anyhow::Result<Vec<SnapshotRow>> {
    match remote {
        Some(r) => Ok(r
            .get::<SnapshotList>(
                &["v1", "environments", environment, "snapshots"],
                &[("limit", limit.to_string())],
            )?
            .snapshots),
        None => {
            let rt = runtime()?;
            let store = rt.block_on(store.open())?;
            Ok(rt.block_on(store.snapshots(Some(environment), None, None, limit))?)
        }
    }
}

/// Snapshot `seq` of `environment` (the latest when None).
fn one_snapshot(
    remote: &Option<Remote>,
    store: &StoreArgs,
    environment: &str,
    seq: Option<i64>,
) -> anyhow::Result<SnapshotRow> {
    let Some(seq) = seq else {
        return list_snapshots(remote, store, environment, 1)?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("{environment}: no snapshot in the store"));
    };
    match remote {
        Some(r) => r.get(
            &[
                "v1",
                "environments",
                environment,
                "snapshots",
                &seq.to_string(),
            ],
            &[],
        ),
        None => {
            let rt = runtime()?;
            let store = rt.block_on(store.open())?;
            match rt.block_on(store.snapshot(seq))? {
                Some(s) if s.environment == environment => Ok(s),
                _ => bail!("snapshot {seq} of {environment}: not in the store"),
            }
        }
    }
}

pub fn snapshot(cmd: &SnapshotCommand) -> anyhow::Result<u8> {
    match cmd {
        SnapshotCommand::List {
            environment,
            limit,
            format,
            remote,
            store,
        } => {
            let rows = list_snapshots(
                &Remote::of(remote)?,
                store,
                environment,
                (*limit).clamp(1, 1000),
            )?;
            if *format == ListFormat::Json {
                print_json(&rows)?;
            } else if rows.is_empty() {
                println!("{environment}: no snapshot in the store");
            } else {
                for s in &rows {
                    println!(
                        "{:>8}  {}  {:<22} {} artifact(s)",
                        s.seq,
                        s.taken_at,
                        s.cause,
                        s.artifacts.len()
                    );
                }
            }
        }
        SnapshotCommand::Show {
            environment,
            seq,
            format,
            remote,
            store,
        } => {
            let s = one_snapshot(&Remote::of(remote)?, store, environment, *seq)?;
            if *format == ListFormat::Json {
                print_json(&s)?;
            } else {
                print_snapshot(&s);
            }
        }
        SnapshotCommand::Diff {
            environment,
            a,
            b,
            format,
            remote,
            store,
        } => {
            let remote = Remote::of(remote)?;
            let d: SnapshotDiff = match &remote {
                Some(r) => {
                    let mut q = vec![("from", a.to_string())];
                    if let Some(b) = b {
                        q.push(("to", b.to_string()));
                    }
                    r.get(
                        &["v1", "environments", environment, "snapshots", "diff"],
                        &q,
                    )?
                }
                None => {
                    let first = one_snapshot(&None, store, environment, Some(*a))?;
                    let second = one_snapshot(&None, store, environment, *b)?;
                    inventory::diff_snapshots(&first, &second)
                }
            };
            if *format == ListFormat::Json {
                print_json(&d)?;
            } else {
                print_diff(&d);
            }
        }
    }
    Ok(exit::OK)
}

fn verdict(decision: &Option<String>, verdict: &Option<String>) -> String {
    match (decision, verdict) {
        (Some(d), Some(v)) => format!("{v} (decision {d})"),
        (Some(d), None) => format!("decision {d}"),
        _ => "no decision".into(),
    }
}

fn print_snapshot(s: &SnapshotRow) {
    println!(
        "snapshot {} of {}: taken {} after {}; {} artifact(s) running",
        s.seq,
        s.environment,
        s.taken_at,
        s.cause,
        s.artifacts.len()
    );
    for a in &s.artifacts {
        println!("  {}@{}", a.name, a.digest);
        println!(
            "      deployed {}; {}",
            a.deployed_at,
            verdict(&a.decision_id, &a.verdict)
        );
    }
}

fn print_diff(d: &SnapshotDiff) {
    println!(
        "{}: snapshot {} → {}: {} added, {} removed, {} changed, {} unchanged",
        d.environment,
        d.from,
        d.to,
        d.added.len(),
        d.removed.len(),
        d.changed.len(),
        d.unchanged
    );
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    for c in &d.added {
        println!(
            "  + {}@{}  {}",
            c.name,
            or_none(&c.after),
            verdict(&c.decision_after, &c.verdict_after)
        );
    }
    for c in &d.removed {
        println!("  - {}@{}", c.name, or_none(&c.before));
    }
    for c in &d.changed {
        println!(
            "  ~ {}  {} → {}  {}",
            c.name,
            or_none(&c.before),
            or_none(&c.after),
            verdict(&c.decision_after, &c.verdict_after)
        );
    }
}

// ---------------------------------------------------------------- inventory sync

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// The environment the report is of.
    #[arg(long = "env", env = "PORTCULLIS_ENV", value_name = "ENV")]
    pub environment: String,
    /// `kubectl get pods -A -o json`, or image references pinned by digest one per line;
    /// `-` reads stdin.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    pub format: ListFormat,
    #[arg(long)]
    pub by: Option<String>,
    #[command(flatten)]
    pub remote: ServerArgs,
}

/// `portcullis inventory sync --env ENV FILE|-`: replace what runs in ENV with the report
/// (`store`: the `inventory` command's, global).
pub fn sync(a: &SyncArgs, store: &StoreArgs) -> anyhow::Result<u8> {
    let (name, bytes) = if a.file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read stdin")?;
        ("stdin".to_string(), buf)
    } else {
        let bytes =
            std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
        (a.file.display().to_string(), bytes)
    };
    let answer: InventorySynced = match Remote::of(&a.remote)? {
        Some(r) => {
            let json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            let req = r
                .client
                .post(r.url(&["v1", "environments", &a.environment, "inventory"], &[])?)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    if json {
                        "application/json"
                    } else {
                        "text/plain"
                    },
                )
                .header("x-portcullis-source", name.as_str())
                .body(bytes);
            r.send(req)?
        }
        None => {
            let set = inventory::parse_running(&name, &bytes)?;
            let rt = runtime()?;
            let store = rt.block_on(store.open())?;
            let synced = rt.block_on(inventory::sync(
                &store,
                &a.environment,
                &set.artifacts,
                &cli_actor(&a.by).name,
                &format!("{name} ({})", set.format),
            ))?;
            InventorySynced::new(synced, &set)
        }
    };
    if a.format == ListFormat::Json {
        print_json(&answer)?;
    } else {
        print_synced(&answer);
    }
    Ok(exit::OK)
}

fn print_synced(s: &InventorySynced) {
    let snapshot = s
        .snapshot
        .map(|n| format!(" (snapshot at audit entry {n})"))
        .unwrap_or_else(|| " (nothing changed: no snapshot)".into());
    println!(
        "{}: {} added, {} replaced, {} removed, {} unchanged{snapshot}",
        s.environment,
        s.added.len(),
        s.replaced.len(),
        s.removed.len(),
        s.unchanged
    );
    for x in &s.added {
        println!("  + {}@{}", x.name, x.digest);
    }
    for (before, x) in &s.replaced {
        println!("  ~ {}  {before} → {}", x.name, x.digest);
    }
    for x in &s.removed {
        println!("  - {}@{}", x.name, x.digest);
    }
    for k in &s.skipped {
        println!("  skipped: {k}");
    }
}
