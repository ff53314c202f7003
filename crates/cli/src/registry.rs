//! The records kept in the store, from the command line: decisions (show, list, replay),
//! advisories (add, list, withdraw, impact), exceptions (add, list, revoke) and deployments.

use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use portcullis_firewall::record;
use portcullis_firewall::registry::{AdvisoryDoc, Registry};
use portcullis_firewall::{ArtifactId, Exception};
use portcullis_store::Store;

use crate::exit;
use crate::state::{StoreArgs, cli_actor, runtime};

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListFormat {
    #[default]
    Human,
    Json,
}

/// Pretty JSON on stdout; a closed pipe (`| head`) ends the output quietly.
pub(crate) fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let r = serde_json::to_writer_pretty(&mut out, v)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out));
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

// ---------------------------------------------------------------- decisions

#[derive(Subcommand, Debug)]
pub enum DecisionCommand {
    /// A recorded decision, as the gate printed it (JSON), with its place in the audit chain.
    Show {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Recorded decisions, newest first.
    List {
        #[arg(long = "env")]
        environment: Option<String>,
        /// Artifact name or `sha256:` digest.
        #[arg(long)]
        artifact: Option<String>,
        /// Only decisions made at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Re-evaluate recorded decisions from their stored inputs; exit 0 when each reproduces
    /// the same decision and violations, 1 (printing the differences) when one does not.
    Replay {
        /// Decision ids (none: see --sample / --all).
        ids: Vec<String>,
        /// Replay this many decisions drawn at random from the store.
        #[arg(long, conflicts_with = "all")]
        sample: Option<usize>,
        /// Replay every recorded decision.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn decision(cmd: &DecisionCommand) -> anyhow::Result<u8> {
    let rt = runtime()?;
    match cmd {
        DecisionCommand::Show { id, store } => {
            let store = rt.block_on(store.open())?;
            let (_, d) = rt.block_on(record::load_decision(&store, id))?;
            print_json(&d)?;
            Ok(exit::OK)
        }
        DecisionCommand::List {
            environment,
            artifact,
            since,
            limit,
            format,
            store,
        } => {
            let store = rt.block_on(store.open())?;
            let rows = rt.block_on(store.decisions(
                environment.as_deref(),
                artifact.as_deref(),
                since.as_deref(),
                *limit,
            ))?;
            if *format == ListFormat::Json {
                print_json(&rows)?;
            } else {
                for r in &rows {
                    println!(
                        "{}  {:<5}  {}@{}  {}  {}  entry {}",
                        r.decided_at,
                        r.verdict,
                        r.artifact_name,
                        r.artifact_digest,
                        r.environment,
                        r.id,
                        r.seq
                    );
                }
            }
            Ok(exit::OK)
        }
        DecisionCommand::Replay {
            ids,
            sample,
            all,
            store,
        } => {
            let store = rt.block_on(store.open())?;
            let mut chosen = ids.clone();
            if *all || sample.is_some() {
                let mut every = rt.block_on(store.decision_ids())?;
                if let Some(n) = sample {
                    shuffle(&mut every);
                    every.truncate(*n);
                }
                chosen.extend(every);
            }
            if chosen.is_empty() {
                bail!("name decisions to replay, or use --sample N / --all");
            }
            let mut differing = 0;
            for id in &chosen {
                let r = rt.block_on(record::replay(&store, id))?;
                if r.differences.is_empty() {
                    println!(
                        "{id}: reproduced ({}, {} violations, {} warnings)",
                        r.replayed.decision.as_str(),
                        r.replayed.violations.len(),
                        r.replayed.warnings.len()
                    );
                } else {
                    differing += 1;
                    println!("{id}: DIFFERS");
                    for d in &r.differences {
                        println!("  {d}");
                    }
                }
            }
            eprintln!(
                "replayed {} decisions: {} reproduced, {differing} differ",
                chosen.len(),
                chosen.len() - differing
            );
            Ok(if differing == 0 {
                exit::OK
            } else {
                exit::DENIED
            })
        }
    }
}

/// Fisher–Yates with randomness from the OS (a sample for replay need not be reproducible).
fn shuffle(v: &mut [String]) {
    let mut seed = [0u8; 8];
    let _ = urandom(&mut seed);
    let mut x = u64::from_le_bytes(seed) | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

fn urandom(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

// ---------------------------------------------------------------- advisories

#[derive(Subcommand, Debug)]
pub enum AdvisoryCommand {
    /// Block what advisories affect, in every environment, from now on: OSV records (files),
    /// or a block rule (--purl, --vers, --reason).
    Add(AdvisoryAddArgs),
    /// The advisories in force (with --all, withdrawn ones too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Stop blocking an advisory (recorded with who and why).
    Withdraw {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Every environment and deployed artifact that contains a version the advisory affects.
    Impact {
        id: String,
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Args, Debug)]
pub struct AdvisoryAddArgs {
    /// OSV records (a record or a list of them per file).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Block rule: the package, without version (`pkg:maven/org.apache.logging.log4j/log4j-core`).
    #[arg(long, requires_all = ["vers", "reason"], conflicts_with = "files")]
    pub purl: Option<String>,
    /// Block rule: the blocked versions (`vers:maven/>=2.0-beta9|<2.15.0`).
    #[arg(long, requires = "purl")]
    pub vers: Option<String>,
    /// Block rule: why.
    #[arg(long, requires = "purl")]
    pub reason: Option<String>,
    /// Block rule id (default: BLOCK-<time>).
    #[arg(long, requires = "purl")]
    pub id: Option<String>,
    #[arg(long)]
    pub by: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn advisory(cmd: &AdvisoryCommand) -> anyhow::Result<u8> {
    let rt = runtime()?;
    match cmd {
        AdvisoryCommand::Add(a) => {
            let store = rt.block_on(a.store.open())?;
            let by = cli_actor(&a.by);
            let mut docs = Vec::new();
            if let Some(purl) = &a.purl {
                docs.push(AdvisoryDoc::block_rule(
                    a.id.as_deref(),
                    purl,
                    a.vers.as_deref().unwrap_or(""),
                    a.reason.as_deref().unwrap_or(""),
                )?);
            } else if a.files.is_empty() {
                bail!("give OSV files, or a block rule with --purl, --vers and --reason");
            }
            for path in &a.files {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                docs.push(AdvisoryDoc::osv(
                    &path.display().to_string(),
                    bytes,
                    &portcullis_evidence::Limits::default(),
                )?);
            }
            let registry = Registry::new(store, portcullis_evidence::Limits::default());
            for a in rt.block_on(registry.add_advisories(docs, &by))? {
                println!("added: audit entry {} ({})", a.entry.seq, a.entry.body);
                let entry = a
                    .impact_entry
                    .map(|s| format!(" (audit entry {s})"))
                    .unwrap_or_default();
                if a.affected.is_empty() {
                    println!("impact: {} affects no deployed artifact{entry}", a.id);
                } else {
                    println!(
                        "impact: {} affects {} deployed artifact(s){entry}:",
                        a.id,
                        a.affected.len()
                    );
                    for r in &a.affected {
                        println!(
                            "  {:<12} {}@{}  {}",
                            r.environment, r.artifact_name, r.artifact_digest, r.purl
                        );
                    }
                }
            }
            Ok(exit::OK)
        }
        AdvisoryCommand::List { all, format, store } => {
            let store = rt.block_on(store.open())?;
            let rows = rt.block_on(store.advisories(*all))?;
            if *format == ListFormat::Json {
                print_json(&rows)?;
            } else {
                for r in &rows {
                    let state = match &r.withdrawn_at {
                        Some(at) => format!(
                            "withdrawn {at} by {}",
                            r.withdrawn_by.clone().unwrap_or_default()
                        ),
                        None => "in force".into(),
                    };
                    println!(
                        "{:<24} {:<10} {}  (added {} by {}; {state})",
                        r.id, r.kind, r.summary, r.added_at, r.added_by
                    );
                }
            }
            Ok(exit::OK)
        }
        AdvisoryCommand::Withdraw {
            id,
            reason,
            by,
            store,
        } => {
            let store = rt.block_on(store.open())?;
            let registry = Registry::new(store, portcullis_evidence::Limits::default());
            let e = rt.block_on(registry.withdraw_advisory(id, &cli_actor(by), reason))?;
            println!("withdrawn: {id} (audit entry {})", e.seq);
            Ok(exit::OK)
        }
        AdvisoryCommand::Impact { id, format, store } => {
            let store = rt.block_on(store.open())?;
            let registry = Registry::new(store, portcullis_evidence::Limits::default());
            let rows = rt.block_on(registry.advisory_impact(id))?;
            if *format == ListFormat::Json {
                print_json(&serde_json::json!({"advisory": id, "affected": rows}))?;
            } else if rows.is_empty() {
                println!("{id}: no deployed artifact contains an affected version");
            } else {
                println!("{id}: {} deployed artifacts affected", rows.len());
                for r in &rows {
                    println!(
                        "  {:<12} {}@{}  {} (deployed {})",
                        r.environment, r.artifact_name, r.artifact_digest, r.purl, r.deployed_at
                    );
                }
            }
            Ok(exit::OK)
        }
    }
}

// ---------------------------------------------------------------- exceptions

#[derive(Subcommand, Debug)]
pub enum ExceptionCommand {
    /// Grant an exception (recorded with who granted it). From flags, or every exception of
    /// an exceptions file (--file).
    Add(ExceptionAddArgs),
    /// The exceptions in the store (with --all, revoked ones too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke an exception (recorded with who and why).
    Revoke {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Args, Debug)]
pub struct ExceptionAddArgs {
    /// An exceptions file (YAML or JSON, as `gate --exceptions` reads).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["rule", "key"])]
    pub file: Option<PathBuf>,
    #[arg(long)]
    pub id: Option<String>,
    #[arg(long, requires_all = ["key", "artifact", "environments", "expires", "reason", "approver"])]
    pub rule: Option<String>,
    #[arg(long)]
    pub key: Option<String>,
    /// Artifact name glob, or an exact `sha256:` digest.
    #[arg(long)]
    pub artifact: Option<String>,
    /// Environments (repeatable, or comma-separated; `*` for all).
    #[arg(long = "env", value_delimiter = ',')]
    pub environments: Vec<String>,
    /// Date (end of that day, UTC) or RFC 3339 time.
    #[arg(long)]
    pub expires: Option<String>,
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub approver: Option<String>,
    /// Bind to an evidence document (`sha256:…`).
    #[arg(long)]
    pub evidence: Option<String>,
    /// Who grants it (default $PORTCULLIS_USER or $USER).
    #[arg(long)]
    pub by: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn exception(cmd: &ExceptionCommand) -> anyhow::Result<u8> {
    let rt = runtime()?;
    match cmd {
        ExceptionCommand::Add(a) => {
            let store = rt.block_on(a.store.open())?;
            let by = cli_actor(&a.by);
            let list: Vec<Exception> = match (&a.file, &a.rule) {
                (Some(path), _) => portcullis_firewall::exceptions::load_exceptions(path)?
                    .into_iter()
                    .map(|c| c.exception)
                    .collect(),
                (None, Some(rule)) => {
                    let e = Exception {
                        id: a.id.clone(),
                        rule: rule.clone(),
                        key: a.key.clone().unwrap_or_default(),
                        artifact: a.artifact.clone().unwrap_or_default(),
                        environments: a.environments.clone(),
                        expires: a.expires.clone().unwrap_or_default(),
                        reason: a.reason.clone().unwrap_or_default(),
                        approver: a.approver.clone().unwrap_or_default(),
                        evidence: a.evidence.clone(),
                    };
                    vec![e]
                }
                _ => bail!(
                    "give --file FILE, or --rule, --key, --artifact, --env, --expires, --reason and --approver"
                ),
            };
            let registry = Registry::new(store, portcullis_evidence::Limits::default());
            for g in rt.block_on(registry.grant_exceptions(list, &by))? {
                println!("granted: audit entry {} ({})", g.entry.seq, g.entry.body);
            }
            Ok(exit::OK)
        }
        ExceptionCommand::List { all, format, store } => {
            let store = rt.block_on(store.open())?;
            let registry = Registry::new(store, portcullis_evidence::Limits::default());
            let states = rt.block_on(registry.exceptions(*all))?;
            if *format == ListFormat::Json {
                let out: Vec<serde_json::Value> = states
                    .iter()
                    .map(|x| {
                        let mut v = serde_json::to_value(&x.row).unwrap_or_default();
                        if let Some(o) = v.as_object_mut() {
                            o.remove("body");
                            o.insert("exception".into(), serde_json::json!(x.exception));
                            o.insert("status".into(), serde_json::json!(x.status));
                        }
                        v
                    })
                    .collect();
                print_json(&out)?;
            } else {
                for x in &states {
                    let r = &x.row;
                    let e = x.exception.as_ref().ok_or_else(|| {
                        anyhow!("exception {}: its stored body cannot be read", r.id)
                    })?;
                    let state = match (&r.revoked_at, x.status) {
                        (Some(at), _) => format!("revoked {at}"),
                        (None, status) => status.as_str().to_string(),
                    };
                    println!(
                        "{:<20} {} {} on {} in {} until {} ({state}; granted by {}, approved by {})",
                        r.id,
                        e.rule,
                        e.key,
                        e.artifact,
                        e.environments.join(","),
                        r.expires_at,
                        r.granted_by,
                        e.approver
                    );
                }
            }
            Ok(exit::OK)
        }
        ExceptionCommand::Revoke {
            id,
            reason,
            by,
            store,
        } => {
            let store = rt.block_on(store.open())?;
            let registry = Registry::new(store, portcullis_evidence::Limits::default());
            let e = rt.block_on(registry.revoke_exception(id, &cli_actor(by), reason))?;
            println!("revoked: {id} (audit entry {})", e.seq);
            Ok(exit::OK)
        }
    }
}

// ---------------------------------------------------------------- deployments

#[derive(Args, Debug)]
pub struct DeployedArgs {
    /// The artifact now running.
    #[arg(long, value_name = "NAME@sha256:HEX")]
    pub artifact: String,
    #[arg(long = "env", value_name = "ENV")]
    pub environment: String,
    #[arg(long)]
    pub by: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `portcullis deployed`: record that an artifact now runs in an environment.
pub fn deployed(a: &DeployedArgs) -> anyhow::Result<u8> {
    let artifact = ArtifactId::parse(&a.artifact).map_err(|e| anyhow!("--artifact {e}"))?;
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    let registry = Registry::new(store, portcullis_evidence::Limits::default());
    let (entry, latest) =
        rt.block_on(registry.record_deployment(&artifact, &a.environment, &cli_actor(&a.by)))?;
    let seq = entry.seq;
    println!(
        "recorded: {}@{} runs in {} (audit entry {seq})",
        artifact.name, artifact.digest, a.environment
    );
    if latest.is_none() {
        eprintln!(
            "warning: no decision is recorded for this artifact in {}",
            a.environment
        );
    }
    Ok(exit::OK)
}

/// `portcullis inventory`: what runs where.
pub fn inventory(
    environment: Option<&str>,
    format: ListFormat,
    store: &StoreArgs,
) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let store: Store = rt.block_on(store.open())?;
    let rows = rt.block_on(store.inventory(environment))?;
    if format == ListFormat::Json {
        print_json(&rows)?;
    } else {
        for r in &rows {
            println!(
                "{:<12} {}@{} (since {}, entry {})",
                r.environment, r.artifact_name, r.artifact_digest, r.deployed_at, r.seq
            );
        }
    }
    Ok(exit::OK)
}
