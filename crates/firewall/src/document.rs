//! Documents as the firewall reads and keeps them: an evidence document parsed with the
//! digest of its bytes, evidence that could not be read, and a text file kept on the record
//! (a configuration, a key, a template).

use portcullis_evidence::{Evidence, Format, Limits, ParseError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One evidence document, parsed, with the digest of its bytes.
#[derive(Debug, Clone)]
pub struct EvidenceDoc {
    /// File path or upload name.
    pub source: String,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    pub evidence: Evidence,
    /// The JSON documents of an attestation file (envelopes, bundles, statements) as read,
    /// for verifying their signatures; empty for other kinds of evidence.
    pub attestation_documents: Vec<serde_json::Value>,
    /// Where the document was fetched from, when it came from an OCI registry.
    pub origin: Option<portcullis_registry::Origin>,
}

impl EvidenceDoc {
    /// Detect the format of `bytes` and parse them.
    pub fn parse(source: &str, bytes: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        let evidence = portcullis_evidence::parse(bytes, limits)?;
        let attestation_documents = attestation_documents(evidence.format, bytes);
        Ok(Self {
            source: source.to_string(),
            digest: sha256(bytes),
            evidence,
            attestation_documents,
            origin: None,
        })
    }
}

/// An evidence document as kept: its digest, detected format and size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EvidenceFile {
    pub digest: String,
    pub format: String,
    pub size: usize,
}

/// Evidence that was offered but could not be read: the decision fails closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableEvidence {
    pub source: String,
    pub digest: Option<String>,
    pub error: String,
}

/// The JSON documents of an attestation-kind evidence file (empty for other kinds).
pub(crate) fn attestation_documents(format: Format, bytes: &[u8]) -> Vec<Value> {
    match format {
        Format::Dsse | Format::IntotoJsonl | Format::SigstoreBundle | Format::IntotoStatement => {
            portcullis_attest::read_documents(bytes).unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// A text file as kept on the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    pub path: String,
    pub text: String,
}

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}
