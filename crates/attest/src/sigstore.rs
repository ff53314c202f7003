//! Sigstore bundles (v0.1, v0.2, v0.3) verified off-line against a `trusted_root.json` the
//! operator supplies, with constraints on the signer's identity (certificate SAN) and OIDC
//! issuer.
//!
//! The cryptographic work — the Fulcio chain at the log entry's time, the signature by the
//! leaf key, the Rekor inclusion proof and signed checkpoint, the signed entry timestamp, the
//! entry body binding this signature — is done by `sigstore-verify` (sigstore/sigstore-rust),
//! which reads a TrustedRoot document and needs no network. This module adds what Portcullis
//! needs around it: the trust root loaded with errors naming the file and place, several
//! allowed identities with exact or regex matching (the crate matches one exact identity), the
//! in-toto Statement read by this crate's parser (facts, subject check), and stable failure
//! codes. (sigstore-verify proved fit: off-line with a supplied TrustedRoot, bundles v0.1 to
//! v0.3, maintained by the Sigstore project. Its cost: aws-lc-rs, a C library built with `cc`,
//! is its only built-in crypto provider.)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::{Bundle, SignatureContent};
use sigstore_verify::{
    CertificateError, Error as SigstoreVerifyError, TransparencyLogError, VerificationPolicy,
    Verifier,
};

use crate::intoto::{self, ArtifactDigest, Statement};
use crate::{Failure, ProvenanceFacts, Verification};

/// The media types of the bundle versions read here.
pub const BUNDLE_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
];

/// The media type prefix every Sigstore bundle has (known version or not).
const BUNDLE_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// The media type prefix of a TrustedRoot document.
const TRUSTED_ROOT_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.trustedroot";

/// Largest trusted_root.json read (the public-good one is about 10 KiB).
pub const MAX_TRUSTED_ROOT_BYTES: u64 = 4 * 1024 * 1024;

/// Whether a document is a Sigstore bundle (its `mediaType` says so, whatever the version).
pub fn is_bundle(document: &Value) -> bool {
    document
        .get("mediaType")
        .and_then(Value::as_str)
        .is_some_and(|m| m.starts_with(BUNDLE_MEDIA_TYPE_PREFIX))
}

/// Whether a document is a keyless Sigstore bundle (a Fulcio certificate, verified against a
/// trust root); a bundle signed with a plain public key is verified against trusted keys.
pub fn is_keyless_bundle(document: &Value) -> bool {
    is_bundle(document)
        && document
            .pointer("/verificationMaterial/publicKey")
            .is_none()
}

/// A Sigstore trust root or identity constraint that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SigstoreError {
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: Sigstore trusted root (TrustedRoot JSON): {what}", path.display())]
    TrustedRoot { path: PathBuf, what: String },
    #[error("identity constraint {flag} `{pattern}`: not a valid regular expression: {source}")]
    Regex {
        flag: String,
        pattern: String,
        source: Box<regex::Error>,
    },
    #[error(
        "no identity constraint: a Sigstore trust root needs at least one allowed identity \
         (certificate SAN) and OIDC issuer, exact or regex"
    )]
    NoIdentity,
    #[error("identity constraint {index}: {what}")]
    BadIdentity { index: usize, what: String },
}

/// How a certificate value (SAN or issuer) is matched.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// The whole value equals this string.
    Exact(String),
    /// The whole value matches this regular expression (anchored at both ends, unlike
    /// cosign's `--certificate-identity-regexp`, which matches a substring).
    Regex(regex::Regex),
}

impl Matcher {
    pub fn exact(value: impl Into<String>) -> Self {
        Matcher::Exact(value.into())
    }

    /// A regex matcher; `flag` names the option it came from, for the error.
    pub fn regex(pattern: &str, flag: &str) -> Result<Self, SigstoreError> {
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .map(Matcher::Regex)
            .map_err(|source| SigstoreError::Regex {
                flag: flag.to_owned(),
                pattern: pattern.to_owned(),
                source: Box::new(source),
            })
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(want) => want == value,
            Matcher::Regex(re) => re.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "`{s}`"),
            Matcher::Regex(re) => write!(f, "regex `{}`", re.as_str()),
        }
    }
}

/// One allowed signer: the certificate SAN (email or URI) and the OIDC issuer (Fulcio
/// extension 1.3.6.1.4.1.57264.1.8, or the legacy 1.3.6.1.4.1.57264.1.1) must both match.
#[derive(Debug, Clone)]
pub struct Identity {
    pub san: Matcher,
    pub issuer: Matcher,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} from issuer {}", self.san, self.issuer)
    }
}

/// An allowed identity as written in configuration, with cosign's flag names: one of
/// `certificate_identity` / `certificate_identity_regexp` and one of `certificate_oidc_issuer` /
/// `certificate_oidc_issuer_regexp`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_identity_regexp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_oidc_issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_oidc_issuer_regexp: Option<String>,
}

impl IdentitySpec {
    /// The identity; `index` names this spec in errors (its place in a list).
    pub fn to_identity(&self, index: usize) -> Result<Identity, SigstoreError> {
        let bad = |what: &str| SigstoreError::BadIdentity {
            index,
            what: what.to_owned(),
        };
        let san = match (
            &self.certificate_identity,
            &self.certificate_identity_regexp,
        ) {
            (Some(v), None) => Matcher::exact(v),
            (None, Some(re)) => Matcher::regex(re, "certificate_identity_regexp")?,
            (Some(_), Some(_)) => {
                return Err(bad(
                    "both certificate_identity and certificate_identity_regexp: give one",
                ));
            }
            (None, None) => {
                return Err(bad(
                    "no certificate_identity or certificate_identity_regexp (who may sign)",
                ));
            }
        };
        let issuer = match (
            &self.certificate_oidc_issuer,
            &self.certificate_oidc_issuer_regexp,
        ) {
            (Some(v), None) => Matcher::exact(v),
            (None, Some(re)) => Matcher::regex(re, "certificate_oidc_issuer_regexp")?,
            (Some(_), Some(_)) => {
                return Err(bad(
                    "both certificate_oidc_issuer and certificate_oidc_issuer_regexp: give one",
                ));
            }
            (None, None) => {
                return Err(bad(
                    "no certificate_oidc_issuer or certificate_oidc_issuer_regexp",
                ));
            }
        };
        Ok(Identity { san, issuer })
    }

    /// Every spec of a list as an identity (errors name the list index).
    pub fn to_identities(specs: &[IdentitySpec]) -> Result<Vec<Identity>, SigstoreError> {
        specs
            .iter()
            .enumerate()
            .map(|(i, s)| s.to_identity(i))
            .collect()
    }
}

/// What a Sigstore bundle is verified against: a TrustedRoot (Fulcio CAs, Rekor log keys,
/// optionally CT logs and timestamp authorities, each with its validity period) and the
/// identities allowed to sign.
#[derive(Clone)]
pub struct SigstoreTrust {
    verifier: Arc<Verifier>,
    /// SCTs are checked when the trust root lists CT logs (the public-good one does).
    check_sct: bool,
    /// Where the trust root came from (for messages).
    pub source: PathBuf,
    pub identities: Vec<Identity>,
    pub fulcio_authorities: usize,
    pub rekor_logs: usize,
    pub ct_logs: usize,
    pub timestamp_authorities: usize,
}

impl std::fmt::Debug for SigstoreTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigstoreTrust")
            .field("source", &self.source)
            .field("identities", &self.identities)
            .field("fulcio_authorities", &self.fulcio_authorities)
            .field("rekor_logs", &self.rekor_logs)
            .field("ct_logs", &self.ct_logs)
            .field("timestamp_authorities", &self.timestamp_authorities)
            .finish_non_exhaustive()
    }
}

impl SigstoreTrust {
    /// Read a `trusted_root.json` file (see [`SigstoreTrust::from_json`]).
    pub fn load(path: &Path, identities: Vec<Identity>) -> Result<Self, SigstoreError> {
        let io = |source| SigstoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_TRUSTED_ROOT_BYTES {
            return Err(SigstoreError::TrustedRoot {
                path: path.to_path_buf(),
                what: format!("{size} bytes, more than the {MAX_TRUSTED_ROOT_BYTES} read"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::from_json(&text, path, identities)
    }

    /// A trust root from the text of a TrustedRoot document (`source` names it in errors).
    /// It must have a Fulcio CA and a Rekor log or timestamp authority, and there must be at
    /// least one allowed identity.
    pub fn from_json(
        text: &str,
        source: &Path,
        identities: Vec<Identity>,
    ) -> Result<Self, SigstoreError> {
        let bad = |what: String| SigstoreError::TrustedRoot {
            path: source.to_path_buf(),
            what,
        };
        let value: Value = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "line {} column {}: not JSON: {e}",
                e.line(),
                e.column()
            ))
        })?;
        match value.get("mediaType") {
            Some(Value::String(m)) if m.starts_with(TRUSTED_ROOT_MEDIA_TYPE_PREFIX) => {}
            Some(Value::String(m)) => {
                return Err(bad(format!(
                    "/mediaType: `{m}` is not a TrustedRoot \
                     (application/vnd.dev.sigstore.trustedroot+json;version=0.1)"
                )));
            }
            Some(_) => return Err(bad("/mediaType: is not a string".into())),
            None => return Err(bad("/mediaType: is missing".into())),
        }
        let root: TrustedRoot = serde_path_to_error::deserialize(&value)
            .map_err(|e| bad(format!("{}: {}", json_pointer(e.path()), e.inner())))?;
        if root.certificate_authorities.is_empty() {
            return Err(bad(
                "/certificateAuthorities: no Fulcio certificate authority".into(),
            ));
        }
        if root.tlogs.is_empty() && root.timestamp_authorities.is_empty() {
            return Err(bad(
                "/tlogs: no Rekor log (and no timestamp authority): nothing can vouch for \
                 the signing time"
                    .into(),
            ));
        }
        let verifier = Verifier::new(&root).map_err(|e| bad(e.to_string()))?;
        if identities.is_empty() {
            return Err(SigstoreError::NoIdentity);
        }
        Ok(SigstoreTrust {
            verifier: Arc::new(verifier),
            check_sct: !root.ctlogs.is_empty(),
            source: source.to_path_buf(),
            identities,
            fulcio_authorities: root.certificate_authorities.len(),
            rekor_logs: root.tlogs.len(),
            ct_logs: root.ctlogs.len(),
            timestamp_authorities: root.timestamp_authorities.len(),
        })
    }

    fn policy(&self) -> VerificationPolicy {
        let policy = VerificationPolicy::any_identity();
        if self.check_sct {
            policy
        } else {
            policy.skip_sct()
        }
    }
}

/// `serde_path_to_error`'s path as a JSON pointer.
fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

/// Verify a Sigstore bundle for `artifact`.
///
/// Keyless bundles only: the Fulcio certificate must chain to a CA of the trust root valid at
/// the signing time (the Rekor entry's integrated time, vouched for by its signed entry
/// timestamp, or an RFC 3161 timestamp), the leaf must be valid at that time, the signature
/// must be the leaf key's, the Rekor entry must be proven (inclusion proof under a checkpoint
/// signed by a trusted log key, and/or the SET) and its body must bind this signature; then
/// the SAN and issuer must match an allowed identity, and a DSSE bundle's in-toto Statement
/// must name the artifact (a message-signature bundle must sign the artifact's digest).
pub fn verify_bundle(
    document: &Value,
    artifact: &ArtifactDigest,
    trust: &SigstoreTrust,
) -> Verification {
    let media_type = match document.get("mediaType") {
        Some(Value::String(m)) => m.as_str(),
        Some(_) => {
            return Verification::failed(Failure::MalformedEnvelope, "/mediaType: is not a string");
        }
        None => return Verification::failed(Failure::MalformedEnvelope, "/mediaType: is missing"),
    };
    if !BUNDLE_MEDIA_TYPES.contains(&media_type) {
        return Verification::failed(
            Failure::MalformedEnvelope,
            format!(
                "/mediaType: `{media_type}` is not a Sigstore bundle version read here (known: {})",
                BUNDLE_MEDIA_TYPES.join(", ")
            ),
        );
    }
    let bundle: Bundle = match serde_path_to_error::deserialize(document) {
        Ok(b) => b,
        Err(e) => {
            return Verification::failed(
                Failure::MalformedEnvelope,
                format!("{}: {}", json_pointer(e.path()), e.inner()),
            );
        }
    };
    // The Statement is read (not trusted) before the cryptography so that a malformed one is
    // named as such; nothing of it is used unless verification succeeds.
    let statement = match &bundle.content {
        SignatureContent::DsseEnvelope(envelope) => {
            if envelope.payload_type != intoto::PAYLOAD_TYPE {
                return Verification::failed(
                    Failure::WrongPayloadType,
                    format!(
                        "/dsseEnvelope/payloadType: `{}`, expected `{}`",
                        envelope.payload_type,
                        intoto::PAYLOAD_TYPE
                    ),
                );
            }
            match Statement::from_payload(envelope.payload.as_bytes()) {
                Ok(s) => Some(s),
                Err(mut m) => {
                    m.at = format!("/dsseEnvelope{}", m.at);
                    return Verification::failed(Failure::MalformedEnvelope, m);
                }
            }
        }
        SignatureContent::MessageSignature(_) => None,
        _ => {
            return Verification::failed(
                Failure::MalformedEnvelope,
                "the bundle has neither a dsseEnvelope nor a messageSignature",
            );
        }
    };
    if bundle.signing_certificate().is_none() {
        return Verification::failed(
            Failure::UntrustedKey,
            "/verificationMaterial: the bundle is signed with a public key, not a Fulcio \
             certificate; only keyless (certificate) bundles are verified against a Sigstore \
             trust root",
        );
    }
    let digest = match sigstore_verify::types::Sha256Hash::from_hex(&artifact.sha256) {
        Ok(d) => d,
        Err(e) => return Verification::failed(Failure::DigestMismatch, format!("{artifact}: {e}")),
    };
    let result = match trust.verifier.verify(digest, &bundle, &trust.policy()) {
        Ok(r) => r,
        Err(e) => return failure_of(&e, &bundle, statement.as_ref(), artifact),
    };
    let san = result.identity().map(|s| s.as_str().to_owned());
    let issuer = result.issuer().map(str::to_owned);
    let Some(san) = san else {
        return Verification::failed(
            Failure::IdentityMismatch,
            "the certificate has no email or URI subject alternative name",
        );
    };
    let allowed = trust
        .identities
        .iter()
        .any(|i| i.san.matches(&san) && issuer.as_deref().is_some_and(|iss| i.issuer.matches(iss)));
    if !allowed {
        let allowed_list: Vec<String> = trust.identities.iter().map(ToString::to_string).collect();
        let issuer_text = issuer.as_deref().unwrap_or("(none)");
        let san_known = trust.identities.iter().any(|i| i.san.matches(&san));
        return if san_known {
            Verification::failed(
                Failure::IssuerMismatch,
                format!(
                    "certificate identity `{san}` was issued by `{issuer_text}`, not an allowed \
                     issuer (allowed: {})",
                    allowed_list.join("; ")
                ),
            )
        } else {
            Verification::failed(
                Failure::IdentityMismatch,
                format!(
                    "certificate identity `{san}` (issuer `{issuer_text}`) is not allowed \
                     (allowed: {})",
                    allowed_list.join("; ")
                ),
            )
        };
    }
    let (predicate_type, provenance) = match &statement {
        Some(s) => (Some(s.predicate_type.clone()), ProvenanceFacts::of(s)),
        None => (None, None),
    };
    // sigstore-verify checked the subject already; check it again with this crate's reading
    // of the Statement, so that both parsers must agree before anything is verified.
    if let Some(s) = statement.as_ref().filter(|s| !s.names_artifact(artifact)) {
        return digest_mismatch(s, artifact);
    }
    Verification {
        verified: true,
        signer: Some(san.clone()),
        signers: vec![san],
        predicate_type,
        subject_matches_artifact: true,
        provenance,
        reason: None,
        failure: None,
    }
}

fn digest_mismatch(statement: &Statement, artifact: &ArtifactDigest) -> Verification {
    let seen: Vec<String> = statement
        .subjects
        .iter()
        .filter_map(|s| s.digest.get("sha256").map(|h| format!("sha256:{h}")))
        .collect();
    let mut v = Verification::failed(
        Failure::DigestMismatch,
        format!(
            "no subject is {artifact} (subjects: {})",
            if seen.is_empty() {
                "none with sha256".to_owned()
            } else {
                seen.join(", ")
            }
        ),
    );
    v.predicate_type = Some(statement.predicate_type.clone());
    v
}

/// The failure code and reason for an error of sigstore-verify.
fn failure_of(
    error: &SigstoreVerifyError,
    bundle: &Bundle,
    statement: Option<&Statement>,
    artifact: &ArtifactDigest,
) -> Verification {
    use SigstoreVerifyError as E;
    match error {
        E::ArtifactMismatch(detail) => match statement {
            Some(s) => digest_mismatch(s, artifact),
            None => Verification::failed(
                Failure::DigestMismatch,
                format!("the message signature is not over {artifact}: {detail}"),
            ),
        },
        E::SignatureInvalid(_) | E::Crypto(_) => Verification::failed(Failure::BadSignature, error),
        E::Certificate(c) => match c {
            CertificateError::Expired { .. } => {
                Verification::failed(Failure::ExpiredCertificate, error)
            }
            CertificateError::NotYetValid { .. } => {
                Verification::failed(Failure::CertificateNotYetValid, error)
            }
            CertificateError::ChainInvalid(_) => match leaf_outside_validity(bundle) {
                Some((failure, detail)) => {
                    Verification::failed(failure, format!("{detail} ({error})"))
                }
                None => Verification::failed(Failure::UntrustedCertificate, error),
            },
            CertificateError::Malformed(_) => {
                Verification::failed(Failure::MalformedEnvelope, error)
            }
            _ => Verification::failed(Failure::UntrustedCertificate, error),
        },
        E::TransparencyLog(t) => match t {
            TransparencyLogError::IntegratedTime(_) => match leaf_outside_validity(bundle) {
                Some((failure, detail)) => {
                    Verification::failed(failure, format!("{detail} ({error})"))
                }
                None => Verification::failed(Failure::InvalidLogEntry, error),
            },
            _ => Verification::failed(Failure::InvalidLogEntry, error),
        },
        E::Timestamp(_) => Verification::failed(Failure::InvalidTimestamp, error),
        E::InvalidTrustRoot(_) | E::TrustRoot(_) | E::TrustedCertificate(_) => {
            Verification::failed(Failure::UntrustedCertificate, error)
        }
        _ => Verification::failed(Failure::MalformedEnvelope, error),
    }
}

/// When the chain was refused: whether the leaf was outside its validity period at a time
/// a log entry of the bundle claims. The claim is not authenticated here; it only picks the
/// failure code of a bundle that is refused anyway.
fn leaf_outside_validity(bundle: &Bundle) -> Option<(Failure, String)> {
    let cert = bundle.signing_certificate()?;
    let info = sigstore_verify::crypto::parse_certificate_info(cert).ok()?;
    bundle
        .verification_material
        .tlog_entries
        .iter()
        .filter_map(|e| e.integrated_time)
        .find_map(|t| {
            if t > info.not_after {
                Some((
                    Failure::ExpiredCertificate,
                    format!(
                        "the certificate had expired at the log entry's time {t} (not after {})",
                        info.not_after
                    ),
                ))
            } else if t < info.not_before {
                Some((
                    Failure::CertificateNotYetValid,
                    format!(
                        "the certificate was not yet valid at the log entry's time {t} (not \
                         before {})",
                        info.not_before
                    ),
                ))
            } else {
                None
            }
        })
}
