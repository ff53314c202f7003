//! `portcullis attest verify`: verify an attestation for an artifact — a DSSE envelope against
//! trusted keys, a Sigstore bundle against a trusted_root.json and the allowed identities.
//! `portcullis attest sign`: sign an in-toto Statement with an operator's key into a DSSE
//! envelope (what `scripts/image` does with the image's own provenance).
//!
//! Exit 0 when verified and bound to the artifact, 1 when not (the reason is printed), 2 on
//! unreadable input (missing file, not JSON, no usable key in the directory, an unusable trust
//! root or identity flag, a bad digest).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use portcullis_attest::intoto::PAYLOAD_TYPE as INTOTO_PAYLOAD_TYPE;
use portcullis_attest::{
    ArtifactDigest, Identity, KeyAlgorithm, Matcher, SigningKey, SigstoreTrust, Statement,
    Thresholds, Trust, TrustedKeys, Verification,
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
    /// Sign an in-toto Statement with a private key (PKCS#8 PEM: Ed25519, ECDSA P-256 or
    /// P-384) into a DSSE envelope, printed as one JSON line (an `.intoto.jsonl` line) or
    /// written to --output. The signature is deterministic: the same statement and key give
    /// the same envelope. `--public-key` writes the key's public half for --trusted-keys.
    ///
    /// Exit 0 signed, 2 unreadable input (the key or the statement, with the reason).
    Sign(SignArgs),
}

#[derive(Args, Debug)]
pub struct SignArgs {
    /// The in-toto Statement (JSON) to sign; `-` reads standard input.
    #[arg(value_name = "STATEMENT")]
    pub statement: PathBuf,
    /// The private key: PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), unencrypted.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The keyid written with the signature (default: `sha256:` and the SHA-256 of the
    /// public key, which verifiers match whatever the trusted key's file is called).
    #[arg(long, value_name = "ID")]
    pub key_id: Option<String>,
    /// Write the envelope here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the key's public half (PEM SPKI) here.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
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
        AttestCommand::Sign(args) => sign(args),
    }
}

fn sign(args: &SignArgs) -> anyhow::Result<u8> {
    let pem = std::fs::read_to_string(&args.key)
        .with_context(|| format!("the signing key {}", args.key.display()))?;
    let key = SigningKey::from_pem(&pem)
        .with_context(|| format!("the signing key {}", args.key.display()))?;
    let (name, statement) = if args.statement.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .context("the statement on standard input")?;
        ("standard input".to_owned(), buf)
    } else {
        let bytes = std::fs::read(&args.statement)
            .with_context(|| format!("the statement {}", args.statement.display()))?;
        (args.statement.display().to_string(), bytes)
    };
    // Sign only what a verifier will read as an in-toto Statement: a typo found now is
    // better than an envelope every gate refuses later.
    let parsed = Statement::from_payload(&statement).map_err(|m| {
        anyhow::anyhow!("{name}: not an in-toto Statement: at {}: {}", m.at, m.what)
    })?;
    if parsed.subjects.is_empty() {
        bail!("{name}: the Statement names no subject with a digest: it would verify for nothing");
    }
    let envelope = key.envelope(INTOTO_PAYLOAD_TYPE, &statement, args.key_id.as_deref());
    let mut line = serde_json::to_string(&envelope)?;
    line.push('\n');
    match &args.output {
        Some(path) => {
            std::fs::write(path, &line).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{line}"),
    }
    if let Some(path) = &args.public_key {
        std::fs::write(path, key.public_key_pem())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "signed {name} ({} subject{}) with a {} key, keyid {}",
        parsed.subjects.len(),
        if parsed.subjects.len() == 1 { "" } else { "s" },
        match key.algorithm() {
            KeyAlgorithm::Ed25519 => "Ed25519",
            KeyAlgorithm::EcdsaP256 => "ECDSA P-256",
            KeyAlgorithm::EcdsaP384 => "ECDSA P-384",
            KeyAlgorithm::RsaSha256 => "RSA",
        },
        args.key_id.clone().unwrap_or_else(|| key.keyid())
    );
    Ok(exit::OK)
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
