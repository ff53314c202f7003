//! `portcullis attest verify`: verify a DSSE attestation against trusted keys for an artifact.
//!
//! Exit 0 when verified and bound to the artifact, 1 when not (the reason is printed), 2 on
//! unreadable input (missing file, not JSON, no usable key in the directory, a bad digest).

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use portcullis_attest::{ArtifactDigest, Thresholds, TrustedKeys, Verification};

use crate::exit;

#[derive(Subcommand, Debug)]
pub enum AttestCommand {
    /// Verify a DSSE envelope (or `.intoto.jsonl` lines of them) carrying an in-toto
    /// Statement: signatures by trusted keys, and a subject that is the artifact.
    ///
    /// Exit 0 verified, 1 not verified (with the reason), 2 unreadable input.
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The attestation: a DSSE envelope (JSON) or JSON lines of envelopes.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The artifact the attestation must name as a subject.
    #[arg(long, value_name = "sha256:HEX")]
    pub artifact: String,
    /// A directory of PEM public keys (SPKI); each is named by its file stem.
    #[arg(long, value_name = "DIR")]
    pub trusted_keys: PathBuf,
    /// Distinct trusted keys that must sign (default 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub threshold: u16,
    #[arg(long, value_enum, default_value_t = AttestFormat::Human)]
    pub format: AttestFormat,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttestFormat {
    Human,
    Json,
}

pub fn run(cmd: &AttestCommand) -> anyhow::Result<u8> {
    match cmd {
        AttestCommand::Verify(args) => verify(args),
    }
}

fn verify(args: &VerifyArgs) -> anyhow::Result<u8> {
    let artifact: ArtifactDigest = args.artifact.parse().map_err(|e: String| anyhow!(e))?;
    let bytes = std::fs::read(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let documents = portcullis_attest::read_documents(&bytes)
        .with_context(|| format!("{}", args.file.display()))?;
    let keys = TrustedKeys::load_dir(&args.trusted_keys)?;
    for refused in &keys.refused {
        eprintln!(
            "warning: {} is not trusted: {}",
            refused.path.display(),
            refused.reason
        );
    }
    let thresholds = Thresholds::uniform(usize::from(args.threshold));
    let results: Vec<Verification> = documents
        .iter()
        .map(|d| portcullis_attest::verify(d, &artifact, &keys, &thresholds))
        .collect();
    let verified = results.iter().any(|v| v.verified);
    match args.format {
        AttestFormat::Json => {
            let out = serde_json::json!({
                "file": args.file.display().to_string(),
                "artifact": artifact.to_string(),
                "verified": verified,
                "results": results,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        AttestFormat::Human => {
            for (i, v) in results.iter().enumerate() {
                let place = if results.len() > 1 {
                    format!("{}:{}", args.file.display(), i + 1)
                } else {
                    args.file.display().to_string()
                };
                print_human(&place, &artifact, v);
            }
        }
    }
    Ok(if verified { exit::OK } else { exit::DENIED })
}

fn print_human(place: &str, artifact: &ArtifactDigest, v: &Verification) {
    if v.verified {
        println!(
            "{place}: verified for {artifact}, signed by {}",
            v.signers.join(", ")
        );
        if let Some(t) = &v.predicate_type {
            println!("  predicate type: {t}");
        }
        if let Some(p) = &v.provenance {
            let show = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
            println!("  SLSA provenance {}", p.slsa_version);
            println!("  builder: {}", show(&p.builder_id));
            println!("  build type: {}", show(&p.build_type));
            println!(
                "  source: {} ref {} commit {}",
                show(&p.source_repository),
                show(&p.source_ref),
                show(&p.source_commit)
            );
        }
    } else {
        println!(
            "{place}: NOT verified: {}",
            v.reason.as_deref().unwrap_or("unknown")
        );
    }
}
