//! The decision: what `Firewall::decide` returns and every output renders (DESIGN.md,
//! "Contracts users depend on").

use serde::{Deserialize, Serialize};

use crate::exceptions::Exception;
pub use crate::violation::{EvidenceRef, Violation};

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }
}

/// Why an artifact reference is not `NAME@sha256:HEX`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArtifactIdError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactId {
    pub name: String,
    /// `sha256:<hex>`.
    pub digest: String,
}

/// `sha256:<64 hex>` (lowercased) when `d` is exactly that: the one check of an artifact digest.
pub fn sha256_digest(d: &str) -> Option<String> {
    let hex = d.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

impl ArtifactId {
    /// Parse `NAME@sha256:HEX`.
    pub fn parse(s: &str) -> Result<Self, ArtifactIdError> {
        let (name, digest) = s
            .rsplit_once('@')
            .ok_or_else(|| ArtifactIdError(format!("{s:?}: expected NAME@sha256:HEX")))?;
        if !digest.starts_with("sha256:") {
            return Err(ArtifactIdError(format!(
                "{s:?}: the digest must be sha256:HEX"
            )));
        }
        let digest = sha256_digest(digest).ok_or_else(|| {
            ArtifactIdError(format!("{s:?}: sha256 digest must be 64 hex digits"))
        })?;
        if name.is_empty() {
            return Err(ArtifactIdError(format!(
                "{s:?}: the artifact name is empty"
            )));
        }
        Ok(Self {
            name: name.to_string(),
            digest,
        })
    }
}

/// A violation an exception let through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Excepted {
    pub violation: Violation,
    pub exception: Exception,
}

/// An expired exception that would have covered a violation: it covered nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiredException {
    pub rule: String,
    pub key: String,
    pub exception: Exception,
}

/// An evidence document the decision read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    pub kind: String,
    pub format: String,
    pub digest: String,
    pub source: String,
    /// Where it was fetched from, when it came from an OCI registry (`gate --image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<portcullis_registry::Origin>,
}

/// The image a decision was asked about by reference: what the reference resolved to, and
/// what was attached to it but not read as evidence (the documents read are in `evidence`,
/// each with its origin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePull {
    /// The reference as given (`registry/repository:tag` or `@digest`).
    pub reference: String,
    pub image: portcullis_registry::ImageRef,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<portcullis_registry::Skipped>,
}

/// Position in the audit chain (set when the decision is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainRef {
    pub seq: u64,
    pub hash: String,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: String,
    pub decision: Verdict,
    pub artifact: ArtifactId,
    pub environment: String,
    /// Enforced violations: any one denies.
    pub violations: Vec<Violation>,
    /// Violations of rules in `warn` mode.
    pub warnings: Vec<Violation>,
    pub excepted: Vec<Excepted>,
    #[serde(default)]
    pub expired_exceptions: Vec<ExpiredException>,
    /// Why the decision could not be made normally (unreadable evidence, a rule that failed):
    /// each one denies in an enforcing environment.
    #[serde(default)]
    pub errors: Vec<String>,
    pub policy_bundle_digest: String,
    /// Digest of the Gatekeeper templates and constraints in force, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gatekeeper_digest: Option<String>,
    pub evidence: Vec<EvidenceRecord>,
    /// The image reference the decision was asked about and what it resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImagePull>,
    /// Every attestation of the evidence as verified for this artifact: verified or not and
    /// why, who signed, and the provenance facts of the verified ones (the proof points of the
    /// provenance rules).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<portcullis_policy::input::InputAttestation>,
    pub engine_version: String,
    pub decided_at: String,
    /// The artifact compared with what runs in the environment, when the caller looked it up
    /// (see `docs/diff.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<portcullis_policy::input::InputDiff>,
    /// Each fact the decision was made from and where it came from (see `facts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<crate::facts::Fact>,
    /// A what-if evaluation (a requested time, say): never recorded as a decision.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub what_if: bool,
    /// What the request said that the firewall did not use, and why (history a request
    /// claims where the store knows it, a time outside a what-if, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
    pub chain: Option<ChainRef>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.decision == Verdict::Allow
    }

    /// The gate's exit code for this decision: 0 allowed, 1 denied by policy, 2 when anything
    /// could not be read or evaluated (whatever the verdict). The CLI exits with it; the
    /// server returns it, so a remote gate exits the same way.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if self.allowed() {
            0
        } else {
            1
        }
    }
}
