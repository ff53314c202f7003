//! Errors loading and checking policies.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    #[error("{path}: cannot read policies: {message}")]
    Io { path: String, message: String },
    /// The Rego does not parse or compile; regorus's message carries `file:line:col`.
    #[error("{file}: Rego: {message}")]
    Compile { file: String, message: String },
    /// A rule package breaks the library contract (metadata, id, violation shape).
    #[error("{file}: rule package {rule}: {message}")]
    Rule {
        file: String,
        rule: String,
        message: String,
    },
    /// Parameters given for a rule it does not take.
    #[error("parameters for rule {rule}: {message}")]
    Params { rule: String, message: String },
}
