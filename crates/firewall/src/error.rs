//! Errors reading the firewall's configuration, exceptions and feeds.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FirewallError {
    /// `portcullis.yaml` (or another configuration document) is wrong.
    #[error("{}: {message}", place(file, *line, *column))]
    Config {
        file: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// An exceptions file is wrong.
    #[error("{}: exceptions: {message}", place(file, *line, *column))]
    Exceptions {
        file: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// A known-exploited catalogue (CISA KEV format) is wrong.
    #[error("{file}: CISA KEV catalogue: {message}")]
    Kev { file: String, message: String },
    #[error(transparent)]
    Policy(#[from] portcullis_policy::PolicyError),
    /// The policy engines could not be prepared.
    #[error("{0}")]
    Engine(String),
}

fn place(file: &str, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file.to_string(),
    }
}
