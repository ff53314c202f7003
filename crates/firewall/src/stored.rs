//! The stored forms of what a decision is made from: the request (its documents by digest),
//! the policy bundle and configuration, and the kinds of blobs they are kept as. `replay`
//! reads them back; the diff reads a baseline's stored request.

use portcullis_policy::input::{
    FactSource, InputApproval, InputExposure, InputHistoryEntry, InputPrevious, InputVerification,
};
use portcullis_policy::kubernetes::Manifest;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::decision::ArtifactId;
use crate::document::StoredFile;
use crate::exceptions::Exception;

/// Version of the stored request format.
pub const REQUEST_VERSION: u32 = 1;

/// Blob kinds.
pub mod blob_kinds {
    pub const EVIDENCE: &str = "evidence";
    pub const DECISION: &str = "decision";
    pub const REQUEST: &str = "decision-request";
    pub const POLICY_BUNDLE: &str = "policy-bundle";
    pub const ADVISORY: &str = "advisory";
    pub const KEV: &str = "kev";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredContext {
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    pub requester: Option<String>,
    pub approver: Option<String>,
    pub change_ref: Option<String>,
    /// The decision time (the request's, or when it was decided).
    pub time: String,
    /// Where the time came from (absent in records from before sources were kept: the firewall).
    #[serde(default = "firewall_source")]
    pub time_source: FactSource,
    #[serde(default)]
    pub requester_source: FactSource,
    /// The established approvals the decision saw.
    #[serde(default)]
    pub approvals: Vec<InputApproval>,
    /// What the request said that was not used.
    #[serde(default)]
    pub ignored: Vec<String>,
}

fn firewall_source() -> FactSource {
    FactSource::Firewall
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDoc {
    pub source: String,
    pub digest: String,
    /// Where it was fetched from (an OCI registry), when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<portcullis_registry::Origin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUnreadable {
    pub source: String,
    pub digest: Option<String>,
    pub error: String,
}

/// An advisory in force: its id and the document it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAdvisory {
    pub id: String,
    pub digest: String,
}

/// Everything a decision was made from, by digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRequest {
    pub version: u32,
    pub artifact: ArtifactId,
    pub environment: String,
    pub context: StoredContext,
    pub evidence: Vec<StoredDoc>,
    pub unreadable: Vec<StoredUnreadable>,
    pub verifications: Vec<InputVerification>,
    pub exposures: Vec<InputExposure>,
    pub previous: Option<InputPrevious>,
    pub history: Vec<InputHistoryEntry>,
    /// Advisory documents in force (OSV records or block rules), by digest.
    pub advisories: Vec<String>,
    pub kev: Option<String>,
    pub exceptions: Vec<Exception>,
    /// The stored policy bundle (library + users' policies + configuration).
    pub policy_bundle: String,
    pub max_bytes: u64,
    pub max_depth: usize,
    /// The Kubernetes objects under review, as given (small: kept inline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<Manifest>,
    /// Namespace objects given for `namespaceSelector`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<serde_json::Value>,
    /// What the artifact was compared with (the diff's baseline), when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<portcullis_policy::input::InputDiffBaseline>,
    /// The image reference the evidence was fetched for, as resolved (`gate --image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<crate::decision::ImagePull>,
}

/// The stored policy bundle: the Rego files and the configuration, as they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredBundle {
    pub version: u32,
    pub engine: String,
    /// The Rego bundle's digest (`policy_bundle_digest` in decisions).
    pub rego_digest: String,
    pub files: Vec<StoredFile>,
    /// The configuration file as written, when it came from one (for people).
    pub config: Option<StoredFile>,
    /// The configuration in force, as the firewall read it (what a replay uses: a
    /// configuration built or changed in code has no file).
    pub settings: Config,
    /// The Gatekeeper templates and constraints in force, as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gatekeeper: Vec<StoredFile>,
    /// The public keys attestations were verified with, as read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_keys: Vec<StoredFile>,
    /// The Sigstore trusted root bundles were verified against, as read (the identities
    /// allowed to sign are in `settings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigstore_root: Option<StoredFile>,
}
