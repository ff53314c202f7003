//! What can go wrong in the store. Every message names the database (backend and location,
//! never a password) or the record it is about.

use crate::canonical::CanonicalError;
use crate::keys::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{location}: {message}")]
    Database { location: String, message: String },
    #[error("{location}: migrations: {message}")]
    Migration { location: String, message: String },
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("canonical JSON: {0}")]
    Canonical(#[from] CanonicalError),
    #[error("{what}: not found")]
    NotFound { what: String },
    #[error("{0}")]
    Invalid(String),
    #[error("stored {what} is corrupt: {message}")]
    Corrupt { what: String, message: String },
    /// A table row disagrees with the audit entry that recorded it (or has none): it was
    /// changed in the database. Nothing may be decided from it.
    #[error(
        "{table} row {key} was altered: it does not agree with the audit chain: {reason} (run `portcullis audit verify`)"
    )]
    Tampered {
        table: String,
        key: String,
        reason: String,
    },
    #[error("the store's writer has stopped: {0}")]
    Writer(String),
}

impl StoreError {
    pub(crate) fn db(location: &str, e: impl std::fmt::Display) -> Self {
        StoreError::Database {
            location: location.to_string(),
            message: e.to_string(),
        }
    }
}
