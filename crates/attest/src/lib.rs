//! Verification of attestations: DSSE envelopes signed by trusted keys, the in-toto Statements
//! they carry, the binding of a Statement's subjects to an artifact digest, and the facts of
//! SLSA provenance (v0.2 and v1) taken from verified Statements only. It states facts —
//! verified or not and why, by which trusted key, for which digest, what the provenance says —
//! and must not decide whether a deployment is allowed: that is policy's job. It reads only
//! the bytes and key files it is given and never panics on any input.
//!
//! Sigstore bundles (Fulcio certificates, Rekor inclusion proofs and signed entry timestamps)
//! are verified off-line against an operator-supplied `trusted_root.json` ([`sigstore`]);
//! [`verify_document`] sends each document to the right verifier.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

pub mod dsse;
pub mod intoto;
pub mod keys;
pub mod sign;
pub mod sigstore;
pub mod slsa;

pub use dsse::{Envelope, SignatureCheck, pae};
pub use intoto::{ArtifactDigest, DigestError, Statement, Subject};
pub use keys::{KeyAlgorithm, KeyError, TrustedKey, TrustedKeys};
pub use sign::{SigningKey, SigningKeyError};
pub use sigstore::{Identity, IdentitySpec, Matcher, SigstoreError, SigstoreTrust, verify_bundle};
pub use slsa::{Material, ProvenanceFacts};

/// Input that cannot be read at all (as opposed to an attestation that does not verify).
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("line {line}: not JSON")]
    NotJson {
        line: usize,
        source: serde_json::Error,
    },
    #[error("no JSON document in the input")]
    Empty,
    #[error("no usable trusted key in {}{}", dir.display(), if refused.is_empty() { String::new() } else { format!(" ({})", refused.join("; ")) })]
    NoTrustedKeys { dir: PathBuf, refused: Vec<String> },
}

/// A place in the envelope (JSON pointer; `/payload/...` inside the decoded payload) and what
/// is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {what}", if at.is_empty() { "the document" } else { at.as_str() })]
pub struct Malformed {
    pub at: String,
    pub what: String,
}

/// Why an attestation does not verify for an artifact (stable codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    BadSignature,
    UntrustedKey,
    DigestMismatch,
    WrongPayloadType,
    MalformedEnvelope,
    BelowThreshold,
    /// The signing certificate had expired at the signing time (the log entry's time).
    ExpiredCertificate,
    /// The signing certificate was not yet valid at the signing time.
    CertificateNotYetValid,
    /// The certificate's identity (SAN) is not an allowed one.
    IdentityMismatch,
    /// The certificate's identity is allowed, but not from its OIDC issuer.
    IssuerMismatch,
    /// The certificate does not chain to a trusted CA valid at the signing time.
    UntrustedCertificate,
    /// The transparency log entry is not proven by a trusted log (inclusion proof, signed
    /// checkpoint, signed entry timestamp) or does not bind this signature.
    InvalidLogEntry,
    /// A timestamp (RFC 3161) does not verify, or no verified time for the signature exists.
    InvalidTimestamp,
    /// A Sigstore bundle, but no Sigstore trust root is configured.
    NoTrustRoot,
}

impl Failure {
    pub const ALL: [Failure; 14] = [
        Failure::BadSignature,
        Failure::UntrustedKey,
        Failure::DigestMismatch,
        Failure::WrongPayloadType,
        Failure::MalformedEnvelope,
        Failure::BelowThreshold,
        Failure::ExpiredCertificate,
        Failure::CertificateNotYetValid,
        Failure::IdentityMismatch,
        Failure::IssuerMismatch,
        Failure::UntrustedCertificate,
        Failure::InvalidLogEntry,
        Failure::InvalidTimestamp,
        Failure::NoTrustRoot,
    ];

    /// The stable code decisions carry (`attestations[].failure`).
    pub fn code(self) -> &'static str {
        match self {
            Failure::BadSignature => "bad_signature",
            Failure::UntrustedKey => "untrusted_key",
            Failure::DigestMismatch => "digest_mismatch",
            Failure::WrongPayloadType => "wrong_payload_type",
            Failure::MalformedEnvelope => "malformed_envelope",
            Failure::BelowThreshold => "below_threshold",
            Failure::ExpiredCertificate => "expired_certificate",
            Failure::CertificateNotYetValid => "certificate_not_yet_valid",
            Failure::IdentityMismatch => "identity_mismatch",
            Failure::IssuerMismatch => "issuer_mismatch",
            Failure::UntrustedCertificate => "untrusted_certificate",
            Failure::InvalidLogEntry => "invalid_log_entry",
            Failure::InvalidTimestamp => "invalid_timestamp",
            Failure::NoTrustRoot => "no_trust_root",
        }
    }

    /// The phrase reasons start with.
    pub fn description(self) -> &'static str {
        match self {
            Failure::BadSignature => "bad signature",
            Failure::UntrustedKey => "untrusted key",
            Failure::DigestMismatch => "digest mismatch",
            Failure::WrongPayloadType => "wrong payload type",
            Failure::MalformedEnvelope => "malformed envelope",
            Failure::BelowThreshold => "below threshold",
            Failure::ExpiredCertificate => "expired certificate",
            Failure::CertificateNotYetValid => "certificate not yet valid",
            Failure::IdentityMismatch => "identity mismatch",
            Failure::IssuerMismatch => "issuer mismatch",
            Failure::UntrustedCertificate => "untrusted certificate",
            Failure::InvalidLogEntry => "invalid log entry",
            Failure::InvalidTimestamp => "invalid timestamp",
            Failure::NoTrustRoot => "no trust root",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.description())
    }
}

/// The result of verifying one attestation for one artifact.
///
/// `verified` is true only when the envelope's signatures meet the threshold of trusted keys,
/// it carries a well-formed in-toto Statement, and a subject is the artifact. A failed
/// verification never carries provenance facts; `signer` is still named when the signatures
/// were good but the subject was another artifact.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    pub verified: bool,
    /// Name (key file stem) of the first trusted key that verified a signature.
    pub signer: Option<String>,
    /// Every distinct trusted key that verified a signature.
    pub signers: Vec<String>,
    pub predicate_type: Option<String>,
    pub subject_matches_artifact: bool,
    pub provenance: Option<ProvenanceFacts>,
    /// `"<failure>: <detail>"`, the failure being one of [`Failure::description`].
    pub reason: Option<String>,
    pub failure: Option<Failure>,
}

impl Verification {
    fn failed(failure: Failure, detail: impl std::fmt::Display) -> Self {
        Verification {
            verified: false,
            signer: None,
            signers: Vec::new(),
            predicate_type: None,
            subject_matches_artifact: false,
            provenance: None,
            reason: Some(format!("{failure}: {detail}")),
            failure: Some(failure),
        }
    }
}

/// How many distinct trusted keys must sign, per predicate type (default 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    pub default: usize,
    pub per_predicate_type: BTreeMap<String, usize>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            default: 1,
            per_predicate_type: BTreeMap::new(),
        }
    }
}

impl Thresholds {
    /// The same threshold for every predicate type (at least 1).
    pub fn uniform(n: usize) -> Self {
        Thresholds {
            default: n.max(1),
            per_predicate_type: BTreeMap::new(),
        }
    }

    pub fn for_predicate_type(&self, predicate_type: &str) -> usize {
        self.per_predicate_type
            .get(predicate_type)
            .copied()
            .unwrap_or(self.default)
            .max(1)
    }
}

/// Everything attestations are verified against: trusted keys (DSSE envelopes) with their
/// thresholds, and a Sigstore trust root with the allowed identities (Sigstore bundles).
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub keys: TrustedKeys,
    pub thresholds: Thresholds,
    pub sigstore: Option<SigstoreTrust>,
}

/// Verify one attestation document for `artifact`: a keyless Sigstore bundle against the
/// Sigstore trust root ([`verify_bundle`]; without one it fails with [`Failure::NoTrustRoot`]),
/// anything else (a DSSE envelope, or a bundle signed with a public key) against the trusted
/// keys ([`verify`]).
pub fn verify_document(document: &Value, artifact: &ArtifactDigest, trust: &Trust) -> Verification {
    if sigstore::is_keyless_bundle(document) {
        return match &trust.sigstore {
            Some(s) => verify_bundle(document, artifact, s),
            None => Verification::failed(
                Failure::NoTrustRoot,
                "a Sigstore bundle, but no Sigstore trust root (trusted_root.json) is configured",
            ),
        };
    }
    verify(document, artifact, &trust.keys, &trust.thresholds)
}

/// The JSON documents of an attestation file: one JSON value, or JSON lines (`.intoto.jsonl`).
pub fn read_documents(bytes: &[u8]) -> Result<Vec<Value>, AttestError> {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return Ok(vec![v]);
    }
    let mut out = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let v = serde_json::from_slice(line).map_err(|source| AttestError::NotJson {
            line: i + 1,
            source,
        })?;
        out.push(v);
    }
    if out.is_empty() {
        return Err(AttestError::Empty);
    }
    Ok(out)
}

/// Verify one DSSE envelope (JSON) carrying an in-toto Statement for `artifact`.
///
/// Order: the envelope's shape, its payload type, the signatures (before the payload is
/// trusted to be anything), the Statement, the threshold for its predicate type, the subject.
pub fn verify(
    document: &Value,
    artifact: &ArtifactDigest,
    keys: &TrustedKeys,
    thresholds: &Thresholds,
) -> Verification {
    let envelope = match Envelope::from_json(document) {
        Ok(e) => e,
        Err(m) => return Verification::failed(Failure::MalformedEnvelope, m),
    };
    if envelope.payload_type != intoto::PAYLOAD_TYPE {
        return Verification::failed(
            Failure::WrongPayloadType,
            format!(
                "`{}`, expected `{}`",
                envelope.payload_type,
                intoto::PAYLOAD_TYPE
            ),
        );
    }
    let check = envelope.check_signatures(keys);
    if check.signers.is_empty() {
        let bad = check
            .failures
            .iter()
            .find(|f| f.named_trusted_key.is_some());
        return match bad {
            Some(f) => Verification::failed(
                Failure::BadSignature,
                format!(
                    "signature {} names trusted key `{}` but no trusted key verifies it",
                    f.index,
                    f.named_trusted_key.as_deref().unwrap_or_default()
                ),
            ),
            None => Verification::failed(
                Failure::UntrustedKey,
                match check.failures.first().and_then(|f| f.keyid.as_deref()) {
                    Some(k) => format!("no trusted key verifies the signature (keyid `{k}`)"),
                    None => "no trusted key verifies the signature".to_owned(),
                },
            ),
        };
    }
    let statement = match Statement::from_payload(&envelope.payload) {
        Ok(s) => s,
        Err(m) => return Verification::failed(Failure::MalformedEnvelope, m),
    };
    let signer = check.signers.first().cloned();
    let mut out = Verification {
        verified: false,
        signer,
        signers: check.signers.clone(),
        predicate_type: Some(statement.predicate_type.clone()),
        subject_matches_artifact: statement.names_artifact(artifact),
        provenance: None,
        reason: None,
        failure: None,
    };
    let needed = thresholds.for_predicate_type(&statement.predicate_type);
    if check.signers.len() < needed {
        out.failure = Some(Failure::BelowThreshold);
        out.reason = Some(format!(
            "{}: {} distinct trusted key(s) signed, {needed} required",
            Failure::BelowThreshold,
            check.signers.len()
        ));
        return out;
    }
    if !out.subject_matches_artifact {
        let seen: Vec<String> = statement
            .subjects
            .iter()
            .filter_map(|s| s.digest.get("sha256").map(|h| format!("sha256:{h}")))
            .collect();
        out.failure = Some(Failure::DigestMismatch);
        out.reason = Some(format!(
            "{}: no subject is {artifact} (subjects: {})",
            Failure::DigestMismatch,
            if seen.is_empty() {
                "none with sha256".to_owned()
            } else {
                seen.join(", ")
            }
        ));
        return out;
    }
    out.verified = true;
    out.provenance = ProvenanceFacts::of(&statement);
    out
}

/// What an envelope's Statement claims, read WITHOUT checking any signature: for inspection
/// only (e.g. to show what a Sigstore bundle claims when no Sigstore trust root is at hand).
/// Never use it to decide anything.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnverifiedClaims {
    pub payload_type: String,
    pub predicate_type: String,
    pub subjects: Vec<Subject>,
    pub provenance: Option<ProvenanceFacts>,
}

/// Read the claims of an envelope's Statement without verifying it (see [`UnverifiedClaims`]).
pub fn inspect_unverified(document: &Value) -> Result<UnverifiedClaims, Malformed> {
    let envelope = Envelope::from_json(document)?;
    let statement = Statement::from_payload(&envelope.payload)?;
    Ok(UnverifiedClaims {
        payload_type: envelope.payload_type,
        predicate_type: statement.predicate_type.clone(),
        subjects: statement.subjects.clone(),
        provenance: ProvenanceFacts::of(&statement),
    })
}

#[cfg(test)]
mod failure_codes {
    use super::Failure;

    #[test]
    fn each_code_is_the_serialized_form_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for f in Failure::ALL {
            let serialized = serde_json::to_value(f).unwrap();
            assert_eq!(serialized, f.code(), "{f:?}");
            assert!(seen.insert(f.code()), "{} twice", f.code());
        }
    }
}
