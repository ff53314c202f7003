//! What a caller asks the firewall: this artifact, to this environment, with this evidence.

use chrono::{DateTime, Utc};
use portcullis_evidence::{Evidence, Limits, ParseError};
use portcullis_policy::input::{
    InputExposure, InputHistoryEntry, InputPrevious, InputVerification,
};
use sha2::{Digest, Sha256};

use crate::decision::ArtifactId;

/// One evidence document, parsed, with the digest of its bytes.
#[derive(Debug, Clone)]
pub struct EvidenceDoc {
    /// File path or upload name.
    pub source: String,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    pub evidence: Evidence,
}

impl EvidenceDoc {
    /// Detect the format of `bytes` and parse them.
    pub fn parse(source: &str, bytes: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        let evidence = portcullis_evidence::parse(bytes, limits)?;
        Ok(Self {
            source: source.to_string(),
            digest: sha256(bytes),
            evidence,
        })
    }
}

/// Evidence that was offered but could not be read: the decision fails closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableEvidence {
    pub source: String,
    pub digest: Option<String>,
    pub error: String,
}

/// Who asks, from where, when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    pub requester: Option<String>,
    pub approver: Option<String>,
    pub change_ref: Option<String>,
    /// Decision time; now when absent.
    pub time: Option<DateTime<Utc>>,
}

/// A request for a decision.
#[derive(Debug, Clone)]
pub struct DecisionRequest {
    pub artifact: ArtifactId,
    pub environment: String,
    pub context: RequestContext,
    pub evidence: Vec<EvidenceDoc>,
    pub unreadable: Vec<UnreadableEvidence>,
    pub verifications: Vec<InputVerification>,
    pub exposures: Vec<InputExposure>,
    pub previous: Option<InputPrevious>,
    pub history: Vec<InputHistoryEntry>,
}

impl DecisionRequest {
    pub fn new(artifact: ArtifactId, environment: impl Into<String>) -> Self {
        Self {
            artifact,
            environment: environment.into(),
            context: RequestContext::default(),
            evidence: Vec::new(),
            unreadable: Vec::new(),
            verifications: Vec::new(),
            exposures: Vec::new(),
            previous: None,
            history: Vec::new(),
        }
    }
}

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}
