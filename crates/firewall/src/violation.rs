//! A violation: one rule's finding about the artifact, and the evidence it rests on (what
//! decisions list, exceptions cover and every output renders).

use serde::{Deserialize, Serialize};

/// A piece of evidence a violation rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// `finding` | `component` | `advisory` | `evidence` | `attestation` | `verification` |
    /// `exposure`.
    pub kind: String,
    /// The finding key, component key, advisory id or document digest.
    pub id: String,
    /// The component's purl, when the reference is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Digests of the evidence documents that state it.
    pub evidence: Vec<String>,
}

/// One rule's finding about the artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: String,
    pub title: String,
    pub category: String,
    /// What the violation is about; exceptions and diffs bind to it.
    pub key: String,
    pub severity: String,
    /// `enforce` (denies) or `warn`.
    pub action: String,
    pub message: String,
    /// `framework:id` (`nist-800-53:RA-5`, `hipaa:164.308(a)(1)(ii)(B)`, `slsa:build-l2`).
    pub controls: Vec<String>,
    pub evidence_refs: Vec<EvidenceRef>,
    pub remediation: String,
    /// Finding ids, aliases and purls behind the violation (what exception keys match).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
}
