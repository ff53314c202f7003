//! What can go wrong in the store. Every message names the database (backend and location,
//! never a password) or the record it is about.

use crate::canonical::CanonicalError;
use crate::keys::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{location}: {message}")]
    Database { location: String, message: String },
    /// The database does not answer (refused or lost connections, no connection to be had in
    /// time, a server shutting down or starting): nothing was done; the same request may
    /// succeed once it is back.
    #[error("{location}: the database does not answer: {message}")]
    Unavailable { location: String, message: String },
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
    /// A database error, naming the database: [`StoreError::Unavailable`] when `e` is an sqlx
    /// error that says the database cannot be reached.
    pub(crate) fn db(location: &str, e: impl std::fmt::Display + 'static) -> Self {
        let unreachable = (&e as &dyn std::any::Any)
            .downcast_ref::<sqlx::Error>()
            .is_some_and(unreachable);
        let (location, message) = (location.to_string(), e.to_string());
        if unreachable {
            StoreError::Unavailable { location, message }
        } else {
            StoreError::Database { location, message }
        }
    }

    /// Whether the database could not be reached (the caller may try again later: HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// Whether an sqlx error means the database cannot be reached now, rather than that it
/// refused what was asked: no connection (refused, reset, timed out, TLS), none free in time,
/// the pool closed, or the server shutting down, starting or recovering (SQLSTATE class 08
/// "connection exception", 57P01..57P03 "admin/crash shutdown, cannot connect now").
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}
