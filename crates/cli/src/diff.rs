//! `portcullis diff`: the candidate artifact compared with what the inventory says runs in an
//! environment. The comparison is the firewall's (`portcullis_firewall::diff`), the same one
//! every decision carries; this module reads files and prints.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use portcullis_firewall::diff::{self, BaselineCache};
use portcullis_firewall::{ArtifactId, ConfigSource};

use crate::gate::{Unread, describe, display, evidence_files, read_evidence};
use crate::render;
use crate::{LimitArgs, exit, state};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// A report for people.
    Human,
    /// The diff as JSON (what `GET /v1/diff` answers).
    Json,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The environment whose running artifact (per the inventory) is the baseline.
    #[arg(long = "env", env = "PORTCULLIS_ENV", value_name = "ENV")]
    pub environment: String,
    /// The candidate: NAME picks what runs in ENV under the same name.
    #[arg(long, env = "PORTCULLIS_ARTIFACT", value_name = "NAME@sha256:HEX")]
    pub artifact: String,
    /// The candidate's evidence files or directories, read as `gate` reads them. Default: the
    /// evidence of the candidate's latest recorded decision.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub evidence: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
    /// Write the output to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Colour in the human report: `auto` when stdout is a terminal (and NO_COLOR is unset).
    #[arg(long, value_enum, default_value_t = render::ColorChoice::Auto)]
    pub color: render::ColorChoice,
    /// Public keys trusted to sign attestations (as `gate --trusted-keys`): only verified
    /// provenance gives the builder, repository and commit the diff compares.
    #[arg(long, env = "PORTCULLIS_TRUSTED_KEYS", value_name = "DIR")]
    pub trusted_keys: Option<PathBuf>,
    /// A Sigstore trusted_root.json (as `gate --trusted-root`; identities from `--config`).
    #[arg(long, env = "PORTCULLIS_TRUSTED_ROOT", value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// The configuration whose `attestations.identities` may sign Sigstore bundles.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub store: state::StoreArgs,
}

/// Exit 0 with the report; 2 when the candidate's evidence cannot be read or the store fails.
pub fn run(args: &DiffArgs) -> anyhow::Result<u8> {
    let artifact = ArtifactId::parse(&args.artifact).map_err(|e| anyhow!("--artifact {e}"))?;
    if args.environment.trim().is_empty() {
        return Err(anyhow!("--env: the environment is empty"));
    }
    let limits = args.limits.limits();
    let evidence = if args.evidence.is_empty() {
        None
    } else {
        let mut docs = Vec::new();
        for path in evidence_files(&args.evidence)? {
            match read_evidence(&path, &limits) {
                Ok((_, doc)) => docs.push(doc),
                // The diff of unreadable evidence would be wrong: no report, a clear error.
                Err(Unread::Io(e) | Unread::Parse(_, e)) => {
                    return Err(anyhow!("--evidence {}: {}", display(&path), describe(&e)));
                }
            }
        }
        Some(docs)
    };
    let setup = portcullis_firewall::Setup {
        config: match &args.config {
            Some(path) => ConfigSource::File(path.clone()),
            None => ConfigSource::Discover,
        },
        trusted_keys: args.trusted_keys.clone(),
        trusted_root: args.trusted_root.clone(),
        limits,
        ..Default::default()
    };
    let (config, _) = setup.load_config()?;
    let mut notes = Vec::new();
    let trust = setup.load_trust(&config, &mut notes)?;
    for n in notes {
        eprintln!("note: {n}");
    }
    let rt = state::runtime()?;
    let store = rt.block_on(args.store.open())?;
    let report = rt
        .block_on(diff::report(
            &store,
            &args.environment,
            &artifact,
            evidence,
            &limits,
            &BaselineCache::default(),
            trust.as_ref(),
        ))
        .with_context(|| {
            format!(
                "the diff of {}@{} against {}",
                artifact.name, artifact.digest, args.environment
            )
        })?;
    let bytes = match args.format {
        DiffFormat::Json => {
            let mut out = serde_json::to_vec_pretty(&report)?;
            out.push(b'\n');
            out
        }
        DiffFormat::Human => {
            let color = args.output.is_none()
                && match args.color {
                    render::ColorChoice::Always => true,
                    render::ColorChoice::Never => false,
                    render::ColorChoice::Auto => {
                        use std::io::IsTerminal;
                        std::io::stdout().is_terminal()
                            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    }
                };
            let mut out = Vec::new();
            render::diff::write_report(&mut out, &report, color)?;
            out
        }
    };
    match &args.output {
        Some(p) => {
            std::fs::write(p, &bytes).with_context(|| format!("cannot write {}", p.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(exit::OK)
}
