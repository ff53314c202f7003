//! `portcullis attest verify`: verify an attestation for an artifact — a DSSE envelope against
//! trusted keys, a Sigstore bundle against a trusted_root.json and the allowed identities.
//!
//! Exit 0 when verified and bound to the artifact, 1 when not (the reason is printed), 2 on
//! unreadable input (missing file, not JSON, no usable key in the directory, an unusable trust
//! root or identity flag, a bad digest).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use portcullis_attest::{
    ArtifactDigest, Identity, Matcher, SigstoreTrust, Thresholds, Trust, TrustedKeys, Verification,
};

use crate::exit;

#[derive(Subcommand, Debug)]
pub enum AttestCommand {
    /// Verify a DSSE envelope (or `.intoto.jsonl` lines of them) carrying an in-toto
    /// Statement: signatures by trusted keys, and a subject that is the artifact. A Sigstore
    /// bundle (v0.1-v0.3) is verified off-line against `--trusted-root` and the certificate
    /// identity and issuer flags (Fulcio chain, Rekor proof, signer identity).
    ///
    /// Exit 0 verified, 1 not verified (with the reason), 2 unreadable input.
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The attestation: a DSSE envelope or Sigstore bundle (JSON), or JSON lines of them.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The artifact the attestation must name as a subject.
    #[arg(long, value_name = "sha256:HEX")]
    pub artifact: String,
    /// A directory of PEM public keys (SPKI); each is named by its file stem. Required
    /// unless --trusted-root is given.
    #[arg(long, value_name = "DIR", required_unless_present = "trusted_root")]
    pub trusted_keys: Option<PathBuf>,
    /// A Sigstore trusted_root.json (TrustedRoot format: Fulcio CAs, Rekor log keys), for
    /// Sigstore bundles. Obtained out of band (e.g. `cosign trusted-root`); never fetched.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// An allowed certificate identity (SAN: email or URI), matched exactly. Repeatable.
    #[arg(long, value_name = "VALUE", requires = "trusted_root")]
    pub certificate_identity: Vec<String>,
    /// An allowed certificate identity as a regular expression matching the whole SAN.
    /// Repeatable.
    #[arg(long, value_name = "RE", requires = "trusted_root")]
    pub certificate_identity_regexp: Vec<String>,
    /// The OIDC issuer the identities must come from (Fulcio extension
    /// 1.3.6.1.4.1.57264.1.8 / .1.1), matched exactly.
    #[arg(
        long,
        value_name = "VALUE",
        requires = "trusted_root",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    pub certificate_oidc_issuer: Option<String>,
    /// The OIDC issuer as a regular expression matching the whole issuer URL.
    #[arg(long, value_name = "RE", requires = "trusted_root")]
    pub certificate_oidc_issuer_regexp: Option<String>,
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
    let artifact: ArtifactDigest = args.artifact.parse()?;
    let bytes = std::fs::read(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let documents = portcullis_attest::read_documents(&bytes)
        .with_context(|| format!("{}", args.file.display()))?;
    let keys = match &args.trusted_keys {
        Some(dir) => {
            let keys = TrustedKeys::load_dir(dir)?;
            for refused in &keys.refused {
                eprintln!(
                    "warning: {} is not trusted: {}",
                    refused.path.display(),
                    refused.reason
                );
            }
            keys
        }
        None => TrustedKeys::default(),
    };
    let sigstore = match &args.trusted_root {
        Some(path) => Some(SigstoreTrust::load(path, identities(args)?)?),
        None => None,
    };
    let trust = Trust {
        keys,
        thresholds: Thresholds::uniform(usize::from(args.threshold)),
        sigstore,
    };
    let results: Vec<Verification> = documents
        .iter()
        .map(|d| portcullis_attest::verify_document(d, &artifact, &trust))
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

/// The allowed identities from the cosign-style flags: every identity (exact or regex) with
/// the one issuer (exact or regex). Both are required with a trust root, as in cosign.
fn identities(args: &VerifyArgs) -> anyhow::Result<Vec<Identity>> {
    let issuer = match (
        &args.certificate_oidc_issuer,
        &args.certificate_oidc_issuer_regexp,
    ) {
        (Some(exact), None) => Matcher::exact(exact),
        (None, Some(re)) => Matcher::regex(re, "--certificate-oidc-issuer-regexp")?,
        _ => bail!(
            "--trusted-root needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp \
             (the OIDC issuer the signer's identity must come from)"
        ),
    };
    let mut out: Vec<Identity> = args
        .certificate_identity
        .iter()
        .map(|san| Identity {
            san: Matcher::exact(san),
            issuer: issuer.clone(),
        })
        .collect();
    for re in &args.certificate_identity_regexp {
        out.push(Identity {
            san: Matcher::regex(re, "--certificate-identity-regexp")?,
            issuer: issuer.clone(),
        });
    }
    if out.is_empty() {
        bail!(
            "--trusted-root needs --certificate-identity or --certificate-identity-regexp \
             (who may sign)"
        );
    }
    Ok(out)
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
