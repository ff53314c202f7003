//! in-toto Statements (v0.1 and v1) and the binding of their subjects to an artifact digest.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Malformed;

/// The payload type of an in-toto Statement in a DSSE envelope.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";

/// One subject of a Statement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Subject {
    pub name: String,
    /// Algorithm → lowercase hex.
    pub digest: BTreeMap<String, String>,
}

/// An in-toto Statement, as read from a DSSE payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub statement_type: String,
    pub predicate_type: String,
    pub subjects: Vec<Subject>,
    pub predicate: Value,
}

/// An artifact digest, `sha256:HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactDigest {
    /// 64 lowercase hex digits.
    pub sha256: String,
}

/// A text that is not an artifact digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}`: an artifact digest is `sha256:` and 64 hex digits")]
pub struct DigestError {
    pub input: String,
}

impl std::str::FromStr for ArtifactDigest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, DigestError> {
        let invalid = || DigestError {
            input: s.to_owned(),
        };
        let hex = s.strip_prefix("sha256:").ok_or_else(invalid)?;
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        Ok(ArtifactDigest {
            sha256: hex.to_ascii_lowercase(),
        })
    }
}

impl std::fmt::Display for ArtifactDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", self.sha256)
    }
}

fn malformed(at: impl Into<String>, what: impl Into<String>) -> Malformed {
    Malformed {
        at: at.into(),
        what: what.into(),
    }
}

impl Statement {
    /// Read a Statement from the decoded payload. Places in errors are JSON pointers under
    /// `/payload`.
    pub fn from_payload(payload: &[u8]) -> Result<Self, Malformed> {
        let v: Value = serde_json::from_slice(payload)
            .map_err(|e| malformed("/payload", format!("is not JSON: {e}")))?;
        if !v.is_object() {
            return Err(malformed("/payload", "is not a JSON object"));
        }
        let statement_type = match v.get("_type") {
            Some(Value::String(t)) if t == STATEMENT_V01 || t == STATEMENT_V1 => t.clone(),
            Some(Value::String(t)) => {
                return Err(malformed(
                    "/payload/_type",
                    format!("`{t}` is not an in-toto Statement (v0.1 or v1)"),
                ));
            }
            Some(_) => return Err(malformed("/payload/_type", "is not a string")),
            None => return Err(malformed("/payload/_type", "is missing")),
        };
        let predicate_type = match v.get("predicateType") {
            Some(Value::String(t)) => t.clone(),
            Some(_) => return Err(malformed("/payload/predicateType", "is not a string")),
            None => return Err(malformed("/payload/predicateType", "is missing")),
        };
        let list = match v.get("subject") {
            Some(Value::Array(list)) if !list.is_empty() => list,
            Some(Value::Array(_)) => return Err(malformed("/payload/subject", "is empty")),
            Some(_) => return Err(malformed("/payload/subject", "is not an array")),
            None => return Err(malformed("/payload/subject", "is missing")),
        };
        let mut subjects = Vec::with_capacity(list.len());
        for (i, s) in list.iter().enumerate() {
            let at = format!("/payload/subject/{i}");
            let name = match s.get("name") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(n)) => n.clone(),
                Some(_) => return Err(malformed(format!("{at}/name"), "is not a string")),
            };
            let Some(Value::Object(digests)) = s.get("digest") else {
                return Err(malformed(
                    format!("{at}/digest"),
                    "is missing or not an object",
                ));
            };
            let mut digest = BTreeMap::new();
            for (alg, value) in digests {
                let Value::String(hex) = value else {
                    return Err(malformed(format!("{at}/digest/{alg}"), "is not a string"));
                };
                digest.insert(alg.clone(), hex.to_ascii_lowercase());
            }
            subjects.push(Subject { name, digest });
        }
        Ok(Statement {
            statement_type,
            predicate_type,
            subjects,
            predicate: v.get("predicate").cloned().unwrap_or(Value::Null),
        })
    }

    /// Whether a subject carries the artifact's SHA-256.
    pub fn names_artifact(&self, artifact: &ArtifactDigest) -> bool {
        self.subjects
            .iter()
            .any(|s| s.digest.get("sha256") == Some(&artifact.sha256))
    }
}
