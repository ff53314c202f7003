//! `portcullis verify canary`: run a canary analysis (metrics and logs against a baseline) and
//! report it; `portcullis verify logs`: the log part alone, without a configuration file. A report command: the report goes to stdout (or `--output`), as text, as the
//! JSON evidence document `portcullis gate --verification FILE` reads, or as an HTML page with
//! charts; errors go to stderr.
//!
//! Exit codes: 0 pass, 1 marginal or fail, 2 bad configuration, unreadable input or an
//! unreachable provider.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand, ValueEnum};
use portcullis_firewall::decision::ArtifactId;
use portcullis_firewall::registry::{ArtifactReport, Registry};
use portcullis_verify::analysis::{self, Subject};
use portcullis_verify::config::AnalysisConfig;
use portcullis_verify::judge::Verdict;
use portcullis_verify::report::{Report, ReportArtifact};

use crate::exit;
use crate::state::{StoreArgs, cli_actor, runtime};

/// The kind of stored verification documents.
const BLOB_KIND: &str = "verification";

#[derive(Subcommand, Debug)]
pub enum VerifyCommand {
    /// Compare a canary with its baseline (metrics and logs, as the configuration says) and
    /// report the score and verdict. Exit 0 pass, 1 marginal or fail, 2 error.
    Canary(CanaryArgs),
    /// Compare the canary's logs with the baseline's only (templates new or more frequent in
    /// the canary), with default settings. Exit 0 pass, 1 marginal or fail, 2 error.
    Logs(LogsArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// A readable report.
    #[default]
    Human,
    /// The verification evidence document (JSON).
    Json,
    /// A self-contained HTML page: per metric a chart of the baseline and the canary over the
    /// analysis, and the log templates with samples (inline CSS and SVG, no script).
    Html,
}

#[derive(Args, Debug)]
pub struct CanaryArgs {
    /// The analysis (`analysis.yaml`, kind CanaryAnalysis).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The baseline's log files (or globs such as `logs/baseline/*.log`).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE|GLOB")]
    pub baseline: Vec<String>,
    /// The canary's log files (or globs).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE|GLOB")]
    pub canary: Vec<String>,
    /// Templates or lines matching this regular expression are ignored (repeatable).
    #[arg(long, value_name = "REGEX")]
    pub ignore: Vec<String>,
    /// A score of at least this passes.
    #[arg(long, default_value_t = 95.0)]
    pub pass: f64,
    /// A score of at most this fails.
    #[arg(long, default_value_t = 75.0)]
    pub marginal: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What every `verify` command takes: the subject, the output, the store.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// The artifact the canary runs.
    #[arg(long, env = "PORTCULLIS_ARTIFACT", value_name = "NAME@sha256:HEX")]
    pub artifact: Option<String>,
    /// The environment the canary runs in.
    #[arg(long = "env", env = "PORTCULLIS_ENV", value_name = "ENV")]
    pub environment: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Store the report (JSON) as evidence of the artifact in the store (needs --artifact).
    #[arg(long, requires = "artifact")]
    pub record: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn run(cmd: &VerifyCommand) -> anyhow::Result<u8> {
    match cmd {
        VerifyCommand::Canary(args) => {
            let config = AnalysisConfig::load(&args.config)?;
            analyse(&config, &args.common)
        }
        VerifyCommand::Logs(args) => {
            // The same configuration a file would give, built from the flags.
            let doc = serde_json::json!({
                "apiVersion": portcullis_verify::config::API_VERSION,
                "kind": portcullis_verify::config::KIND,
                "thresholds": {"pass": args.pass, "marginal": args.marginal},
                "logs": {"baseline": args.baseline, "canary": args.canary, "ignore": args.ignore},
            });
            let text = serde_json::to_string(&doc)?;
            let config = AnalysisConfig::parse(std::path::Path::new("(command line)"), &text)?;
            analyse(&config, &args.common)
        }
    }
}

fn analyse(config: &AnalysisConfig, args: &CommonArgs) -> anyhow::Result<u8> {
    let artifact = args
        .artifact
        .as_deref()
        .map(ArtifactId::parse)
        .transpose()
        .map_err(|e| anyhow!("--artifact {e}"))?;
    let subject = Subject {
        artifact: artifact.as_ref().map(|a| ReportArtifact {
            name: a.name.clone(),
            digest: a.digest.clone(),
        }),
        environment: args.environment.clone(),
    };
    // A bar on a terminal while large logs are read (64 MiB and more in all).
    let lazy = crate::render::LazyBar::new("reading logs [{bar:30}] {bytes}/{total_bytes}");
    let shown = |read: u64, total: u64| {
        if total >= 64 << 20 {
            lazy.show();
            lazy.bar.set_length(total);
            lazy.bar.set_position(read);
        }
    };
    let report = analysis::run_with_progress(config, &subject, Some(&shown));
    lazy.bar.finish_and_clear();
    let report = report?;
    // The bytes written with `--format json` are the bytes recorded: one digest for both.
    let mut json = serde_json::to_vec_pretty(&report).context("cannot serialize the report")?;
    json.push(b'\n');

    if args.record {
        record(args, &report, &json)?;
    }

    let text = match args.format {
        Format::Human => report.human().into_bytes(),
        Format::Json => json,
        Format::Html => portcullis_verify::html::page(&report).into_bytes(),
    };
    match &args.output {
        Some(path) => std::fs::write(path, &text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&text)?;
            out.flush()?;
        }
    }
    Ok(match report.verdict {
        Verdict::Pass => exit::OK,
        Verdict::Marginal | Verdict::Fail => exit::DENIED,
    })
}

/// Store the report as an evidence document of the artifact (one audit entry).
fn record(args: &CommonArgs, report: &Report, json: &[u8]) -> anyhow::Result<()> {
    let Some(artifact) = &report.artifact else {
        return Err(anyhow!("--record needs --artifact"));
    };
    let rt = runtime()?;
    let store = rt.block_on(args.store.open())?;
    let location = store.location().to_string();
    let registry = Registry::new(store, portcullis_evidence::Limits::default());
    let subject = ArtifactId {
        name: artifact.name.clone(),
        digest: artifact.digest.clone(),
    };
    let (digest, entry) = rt.block_on(registry.record_artifact_evidence(
        &subject,
        ArtifactReport {
            blob_kind: BLOB_KIND,
            kind: "canary",
            format: "portcullis-verification",
            bytes: json,
            details: serde_json::json!({
                "environment": report.environment, "score": report.score,
                "verdict": report.verdict,
            }),
        },
        &cli_actor(&None),
    ))?;
    let seq = entry.unwrap_or(0);
    eprintln!(
        "recorded: verification {digest} for {}@{} (audit entry {seq}) in {}",
        artifact.name, artifact.digest, location
    );
    // The result itself, as a recorded fact of later decisions about this digest in this
    // environment (an inline report given to the gate is only asserted).
    let Some(environment) = &report.environment else {
        eprintln!(
            "note: without --env the result is kept as evidence only, not as a recorded fact of an environment's decisions"
        );
        return Ok(());
    };
    let verifications = portcullis_verify::evidence::verifications_from_json(json, &digest)
        .map_err(|e| anyhow!("the report just written cannot be read back: {e}"))?;
    let facts = portcullis_firewall::sources::FactsToRecord {
        artifact_digest: artifact.digest.clone(),
        environment: environment.clone(),
        verifications,
        exposures: Vec::new(),
    };
    let rows = rt.block_on(portcullis_firewall::sources::record(
        registry.store(),
        &facts,
        &cli_actor(&None),
    ))?;
    for r in rows {
        eprintln!(
            "recorded: {} {} for {} in {environment} (audit entry {})",
            r.kind, r.id, artifact.digest, r.seq
        );
    }
    Ok(())
}
