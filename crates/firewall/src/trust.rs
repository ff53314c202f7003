//! What the firewall trusts to sign attestations, and the verification of the attestations a
//! request carries. The trust material is kept as the text it was read from, so that a
//! decision's record holds it and a replay verifies with exactly the same keys.

use portcullis_attest::sigstore::{IdentitySpec, SigstoreTrust};
use portcullis_attest::{ArtifactDigest, Thresholds, Trust, TrustedKey, TrustedKeys, Verification};
use portcullis_evidence::Format;
use serde_json::Value;
use std::path::Path;

use crate::config::AttestationConfig;
use crate::document::{EvidenceDoc, StoredFile};
use crate::error::FirewallError;

/// Trusted public keys (PEM, SPKI, each named by its file stem) for DSSE envelopes, and a
/// Sigstore trust root (`trusted_root.json`) with the identities allowed to sign bundles.
#[derive(Debug, Clone, Default)]
pub struct AttestationTrust {
    trust: Trust,
    /// The key files as read (what the record stores).
    files: Vec<StoredFile>,
    /// The trusted root as read (what the record stores).
    root: Option<StoredFile>,
}

/// A file of a trusted-keys directory that is not a usable key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedKeyFile {
    pub path: String,
    pub reason: String,
}

impl AttestationTrust {
    /// Every regular, non-hidden file of `dir` as a PEM public key named by its file stem.
    /// Files that are not usable keys are returned as refused (a caller warns); a directory
    /// with no usable key is an error, as is one that cannot be read.
    pub fn load_dir(dir: &Path) -> Result<(Self, Vec<RefusedKeyFile>), FirewallError> {
        let err = |message: String| FirewallError::Config {
            file: dir.display().to_string(),
            line: None,
            column: None,
            message,
        };
        let paths = portcullis_attest::keys::key_files(dir)
            .map_err(|e| err(format!("trusted keys: cannot read the directory: {e}")))?;
        let mut files = Vec::new();
        let mut refused = Vec::new();
        for path in paths {
            match std::fs::read(&path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => files.push(StoredFile {
                        path: path.display().to_string(),
                        text,
                    }),
                    Err(_) => refused.push(RefusedKeyFile {
                        path: path.display().to_string(),
                        reason: "not a text (PEM) file".into(),
                    }),
                },
                Err(e) => refused.push(RefusedKeyFile {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                }),
            }
        }
        let (trust, mut more) = Self::from_files(files);
        refused.append(&mut more);
        if trust.trust.keys.is_empty() {
            let why: Vec<String> = refused
                .iter()
                .map(|r| format!("{}: {}", r.path, r.reason))
                .collect();
            return Err(err(if why.is_empty() {
                "trusted keys: the directory holds no key file".into()
            } else {
                format!("trusted keys: no usable key ({})", why.join("; "))
            }));
        }
        Ok((trust, refused))
    }

    /// Keys from files already read (a record's copy, or a test's). Files that are not usable
    /// keys are returned as refused.
    pub fn from_files(files: Vec<StoredFile>) -> (Self, Vec<RefusedKeyFile>) {
        let mut keys = Vec::new();
        let mut kept = Vec::new();
        let mut refused = Vec::new();
        for file in files {
            let name = Path::new(&file.path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match TrustedKey::from_pem(&name, &file.text) {
                Ok(key) => {
                    keys.push(key);
                    kept.push(file);
                }
                Err(reason) => refused.push(RefusedKeyFile {
                    path: file.path,
                    reason: reason.to_string(),
                }),
            }
        }
        (
            Self {
                trust: Trust {
                    keys: TrustedKeys::from_keys(keys),
                    ..Trust::default()
                },
                files: kept,
                root: None,
            },
            refused,
        )
    }

    /// Read a Sigstore `trusted_root.json` (see [`AttestationTrust::with_sigstore_root`]).
    pub fn load_sigstore_root(
        self,
        path: &Path,
        identities: &[IdentitySpec],
    ) -> Result<Self, FirewallError> {
        let text = std::fs::read_to_string(path).map_err(|e| FirewallError::Config {
            file: path.display().to_string(),
            line: None,
            column: None,
            message: format!("Sigstore trusted root: cannot read: {e}"),
        })?;
        self.with_sigstore_root(
            StoredFile {
                path: path.display().to_string(),
                text,
            },
            identities,
        )
    }

    /// Verify Sigstore bundles against this trusted root, signed by one of `identities` (the
    /// configuration's `attestations.identities`: a root without identities would let anyone
    /// with a certificate sign, so it is refused).
    pub fn with_sigstore_root(
        mut self,
        root: StoredFile,
        identities: &[IdentitySpec],
    ) -> Result<Self, FirewallError> {
        let err = |file: &str, message: String| FirewallError::Config {
            file: file.to_string(),
            line: None,
            column: None,
            message,
        };
        if identities.is_empty() {
            return Err(err(
                &root.path,
                "Sigstore trusted root given, but `attestations.identities` in the configuration \
                 lists nobody who may sign (certificate_identity[_regexp] and \
                 certificate_oidc_issuer[_regexp])"
                    .into(),
            ));
        }
        let mut parsed = Vec::new();
        for (i, spec) in identities.iter().enumerate() {
            parsed.push(
                spec.to_identity(i)
                    .map_err(|e| err("configuration", format!("attestations: identities: {e}")))?,
            );
        }
        let sigstore = SigstoreTrust::from_json(&root.text, Path::new(&root.path), parsed)
            .map_err(|e| err(&root.path, e.to_string()))?;
        self.trust.sigstore = Some(sigstore);
        self.root = Some(root);
        Ok(self)
    }

    /// The key files as read.
    pub fn files(&self) -> &[StoredFile] {
        &self.files
    }

    /// The Sigstore trusted root as read.
    pub fn sigstore_root(&self) -> Option<&StoredFile> {
        self.root.as_ref()
    }

    pub fn keys(&self) -> &TrustedKeys {
        &self.trust.keys
    }

    pub fn is_empty(&self) -> bool {
        self.trust.keys.is_empty() && self.trust.sigstore.is_none()
    }

    /// The same trust with the configuration's thresholds.
    pub(crate) fn with_thresholds(mut self, thresholds: Thresholds) -> Self {
        self.trust.thresholds = thresholds;
        self
    }
}

/// The thresholds a configuration sets.
pub(crate) fn thresholds(config: &AttestationConfig) -> Thresholds {
    Thresholds {
        default: config.threshold.max(1),
        per_predicate_type: config.thresholds.clone(),
    }
}

/// The firewall's own attestation failure codes (beside the attest crate's `Failure` codes),
/// with what each means.
pub const OWN_FAILURES: [(&str, &str); 2] = [
    (
        UNSIGNED,
        "A bare in-toto Statement: it carries no signature, so it gives no facts.",
    ),
    (
        NO_TRUST_CONFIGURED,
        "No trusted keys (or no Sigstore trusted root for a keyless bundle) were given, so no \
         signature can be verified.",
    ),
];
const UNSIGNED: &str = "unsigned";
const NO_TRUST_CONFIGURED: &str = "no_trust_configured";

/// The outcome of verifying one attestation document: the attest crate's verification, and
/// the failure as a stable snake_case code (the attest crate's, or the firewall's own:
/// `unsigned`, `no_trust_configured`).
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub verification: Verification,
    pub failure: Option<String>,
}

impl Checked {
    pub(crate) fn failed(code: &str, reason: String) -> Self {
        Checked {
            verification: Verification {
                verified: false,
                signer: None,
                signers: Vec::new(),
                predicate_type: None,
                subject_matches_artifact: false,
                provenance: None,
                reason: Some(reason),
                failure: None,
            },
            failure: Some(code.to_string()),
        }
    }

    fn of(verification: Verification) -> Self {
        let failure = verification.failure.map(|f| f.code().to_string());
        Checked {
            verification,
            failure,
        }
    }
}

/// Verify one attestation document of `doc` for the artifact `digest`.
pub(crate) fn verify(
    doc: &EvidenceDoc,
    document: &Value,
    digest: &str,
    trust: Option<&AttestationTrust>,
) -> Checked {
    if doc.evidence.format == Format::IntotoStatement {
        return Checked::failed(
            UNSIGNED,
            "unsigned: a bare in-toto Statement carries no signature (pass the signed DSSE \
             envelope or Sigstore bundle)"
                .into(),
        );
    }
    let artifact: ArtifactDigest = match digest.parse() {
        Ok(a) => a,
        Err(e) => {
            return Checked::failed(
                "digest_mismatch",
                format!("digest mismatch: the artifact digest {digest:?} cannot be matched: {e}"),
            );
        }
    };
    // A keyless bundle needs the Sigstore trust root, anything else trusted keys.
    let keyless = portcullis_attest::sigstore::is_keyless_bundle(document);
    let configured = trust.filter(|t| {
        if keyless {
            t.trust.sigstore.is_some()
        } else {
            !t.trust.keys.is_empty()
        }
    });
    let Some(trust) = configured else {
        let why = if keyless {
            "no trust configured: a Sigstore bundle, but no Sigstore trusted root was given \
             (--trusted-root FILE with attestations.identities in the configuration)"
        } else {
            "no trust configured: no trusted keys were given (--trusted-keys DIR), so no \
             signature can be verified"
        };
        return Checked::failed(NO_TRUST_CONFIGURED, why.into());
    };
    Checked::of(portcullis_attest::verify_document(
        document,
        &artifact,
        &trust.trust,
    ))
}
