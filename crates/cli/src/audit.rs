//! `portcullis audit verify | export | checkpoint`: the audit chain from the command line.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use portcullis_store::proof::{ExportRequest, export_bundle, verify_bundle};
use portcullis_store::{Store, VerifyFailure};

use crate::exit;
use crate::state::{StoreArgs, runtime};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the whole chain and every checkpoint (or, with --bundle, a proof bundle with no
    /// database). Exit 0 intact, 1 tampered (naming the first bad entry), 2 unreadable.
    Verify(VerifyArgs),
    /// Write a self-contained proof bundle — entries, documents, policy bundle, a signed
    /// checkpoint, the public key — that `audit verify --bundle` checks off-line.
    Export(ExportArgs),
    /// Sign a checkpoint at the head of the chain now.
    Checkpoint(CheckpointArgs),
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A proof bundle written by `audit export`: verified without any database.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// The public key (hex, or a file holding it) every checkpoint must be signed by.
    #[arg(long, value_name = "HEX|FILE")]
    pub trusted_key: Option<String>,
    /// A signed checkpoint kept outside the database (`audit checkpoint -o FILE`): a chain
    /// whose head is behind it is reported truncated, one that differs from it rewritten.
    /// Repeatable.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Vec<PathBuf>,
    /// A witness directory (every `*.json` checkpoint in it, as the server writes them).
    #[arg(long, value_name = "DIR")]
    pub witness_dir: Option<PathBuf>,
    /// The server's settings file (`serve --server-config`): its `audit.trusted_key` and
    /// `audit.witness_dir` are used unless given here.
    #[arg(long = "server-config", value_name = "FILE")]
    pub server_config: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Export the proof of one decision.
    #[arg(long, value_name = "ID", conflicts_with_all = ["from", "to"])]
    pub decision: Option<String>,
    /// First entry of a range to export.
    #[arg(long, value_name = "SEQ", requires = "to")]
    pub from: Option<u64>,
    /// Last entry of a range to export.
    #[arg(long, value_name = "SEQ", requires = "from")]
    pub to: Option<u64>,
    /// Where to write the bundle (default: stdout).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// Also write the checkpoint to FILE (JSON), to keep outside the database and give to
    /// `audit verify --checkpoint FILE` later.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn run(cmd: &AuditCommand) -> anyhow::Result<u8> {
    match cmd {
        AuditCommand::Verify(a) => verify(a),
        AuditCommand::Export(a) => export(a),
        AuditCommand::Checkpoint(a) => {
            let rt = runtime()?;
            let store = rt.block_on(a.store.open())?;
            match rt.block_on(store.checkpoint())? {
                Some(c) => {
                    println!(
                        "checkpoint at entry {} ({}) signed by key {}",
                        c.seq, c.hash, c.key_id
                    );
                    if let Some(p) = &a.output {
                        std::fs::write(p, portcullis_store::witness::to_json(&c))
                            .with_context(|| format!("cannot write {}", p.display()))?;
                        eprintln!(
                            "wrote {}; keep it outside the database and check the chain against it with `portcullis audit verify --checkpoint {}`",
                            p.display(),
                            p.display()
                        );
                    }
                }
                None => println!("the chain is empty: nothing to sign"),
            }
            Ok(exit::OK)
        }
    }
}

fn trusted_key(arg: &Option<String>) -> anyhow::Result<Option<String>> {
    let Some(k) = arg else { return Ok(None) };
    let text = if std::path::Path::new(k).is_file() {
        std::fs::read_to_string(k).with_context(|| format!("--trusted-key {k}"))?
    } else {
        k.clone()
    };
    let hex = text.trim().to_ascii_lowercase();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "--trusted-key: expected an ed25519 public key as 64 hex digits (or a file holding one)"
        );
    }
    Ok(Some(hex))
}

/// The `audit` section of the server's settings file.
fn server_audit(
    path: &std::path::Path,
) -> anyhow::Result<portcullis_server::settings::AuditSettings> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let settings = portcullis_server::ServerSettings::parse(&text, &path.display().to_string())?;
    Ok(settings.audit)
}

fn verify(a: &VerifyArgs) -> anyhow::Result<u8> {
    let configured = match &a.server_config {
        Some(p) => Some(server_audit(p)?),
        None => None,
    };
    let key_arg = a
        .trusted_key
        .clone()
        .or_else(|| configured.as_ref().and_then(|c| c.trusted_key.clone()));
    let trusted = trusted_key(&key_arg)?;
    let mut witnessed = Vec::new();
    for p in &a.checkpoint {
        witnessed.push(
            portcullis_store::witness::read_file(p).map_err(|e| anyhow!("--checkpoint {e}"))?,
        );
    }
    let witness_dir = a
        .witness_dir
        .clone()
        .or_else(|| configured.as_ref().and_then(|c| c.witness_dir.clone()));
    if let Some(dir) = &witness_dir {
        witnessed.extend(
            portcullis_store::witness::read_dir(dir).map_err(|e| anyhow!("--witness-dir {e}"))?,
        );
    }
    if let Some(path) = &a.bundle {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        return match verify_bundle(&bytes, trusted.as_deref()) {
            Ok(report) => {
                if a.json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    let what = match &report.decision {
                        Some(d) => format!(
                            "decision {} ({}) at entry {}",
                            d.decision_id, d.verdict, d.seq
                        ),
                        None => format!("entries {}..={}", report.first_seq, report.last_seq),
                    };
                    println!(
                        "{}: proof bundle intact: {what}; {} entries, {} documents, checkpoint at entry {} signed by key {}",
                        path.display(),
                        report.entries,
                        report.blobs,
                        report.checkpoint_seq,
                        report.key_id
                    );
                }
                Ok(exit::OK)
            }
            Err(e) => {
                eprintln!("{}: proof bundle does not verify: {e}", path.display());
                Ok(exit::DENIED)
            }
        };
    }
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    let started = std::time::Instant::now();
    let witnesses = witnessed.len();
    // A bar on a terminal when the chain is long enough to wait for.
    let total = rt
        .block_on(store.head())
        .ok()
        .flatten()
        .map_or(0, |(seq, _)| u64::try_from(seq).unwrap_or(0));
    let bar = crate::render::progress_bar(
        if total >= 10_000 { total } else { 0 },
        "verifying the audit chain [{bar:30}] {pos}/{len} entries {wide_msg}",
    );
    let options = portcullis_store::VerifyOptions {
        trusted_key: trusted.clone(),
        witnessed,
        progress: {
            let bar = bar.clone();
            portcullis_store::VerifyProgress::new(move |checked| {
                bar.set_position(checked);
                if checked >= total {
                    bar.set_message("checking the tables against the chain");
                }
            })
        },
    };
    let verified = rt.block_on(store.verify_with(&options));
    bar.finish_and_clear();
    match verified {
        Ok(v) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"intact": true, "entries": v.entries, "checkpoints": v.checkpoints, "witnessed": witnesses, "last_hash": v.last_hash})
                );
            } else {
                println!(
                    "audit chain intact: {} entries, {} checkpoints ({witnesses} witnessed), every table agrees with it, head {} ({} ms, {})",
                    v.entries,
                    v.checkpoints,
                    v.last_hash,
                    started.elapsed().as_millis(),
                    store.location()
                );
                if witnesses == 0 {
                    eprintln!(
                        "note: no witnessed checkpoint (--checkpoint FILE or --witness-dir DIR): the newest entries could have been cut off together with their checkpoints"
                    );
                }
            }
            Ok(exit::OK)
        }
        Err(VerifyFailure::Tamper(t)) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"intact": false, "problem": t.to_string()})
                );
            }
            eprintln!("audit chain TAMPERED: {t} ({})", store.location());
            Ok(exit::DENIED)
        }
        Err(VerifyFailure::Tables(findings)) => {
            if a.json {
                let rows: Vec<_> = findings
                    .iter()
                    .map(|f| serde_json::json!({"table": f.table, "key": f.key, "seq": f.seq, "problem": f.reason}))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"intact": false, "problem": "table rows disagree with the audit chain", "rows": rows})
                );
            }
            eprintln!(
                "audit chain TAMPERED: {} ({})",
                VerifyFailure::Tables(findings),
                store.location()
            );
            Ok(exit::DENIED)
        }
        Err(VerifyFailure::Store(e)) => Err(anyhow!(e)),
    }
}

async fn build_bundle(store: &Store, a: &ExportArgs) -> anyhow::Result<Vec<u8>> {
    let what = match (&a.decision, a.from, a.to) {
        (Some(id), _, _) => ExportRequest::Decision(id.clone()),
        (None, Some(from), Some(to)) => ExportRequest::Range { from, to },
        _ => bail!("say what to export: --decision ID, or --from SEQ --to SEQ"),
    };
    export_bundle(store, &what)
        .await
        .map_err(|e| anyhow!("{e}"))
}

fn export(a: &ExportArgs) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    let bytes = rt.block_on(build_bundle(&store, a))?;
    match &a.output {
        Some(p) => {
            std::fs::write(p, &bytes).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!(
                "wrote {} ({} bytes); check it with `portcullis audit verify --bundle {} --trusted-key {}`",
                p.display(),
                bytes.len(),
                p.display(),
                store.public_key()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(exit::OK)
}
