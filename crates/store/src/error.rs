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
    /// The database cannot take this now: the disk that holds it is full, another writer
    /// kept it locked longer than the store waits, or it does not answer (refused or lost
    /// connections, a server shutting down or starting). Nothing was written; the same call
    /// can succeed later. Servers answer it as unavailable (503, or 507 for a full disk),
    /// never as a decision.
    #[error("{location}: {message}")]
    Unavailable {
        location: String,
        cause: Unavailable,
        message: String,
    },
}

/// Why the database cannot take a change now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No space left on the disk that holds the database (SQLite `SQLITE_FULL`, PostgreSQL
    /// `53100 disk_full`, or `ENOSPC` from the file system).
    Full,
    /// Locked by another writer (SQLite `SQLITE_BUSY`/`SQLITE_LOCKED`) or no connection free
    /// in time.
    Busy,
    /// The database does not answer: no connection (refused, reset, TLS), the pool closed, or
    /// the server shutting down, starting or recovering (PostgreSQL SQLSTATE class 08
    /// "connection exception", 57P01..57P03).
    Unreachable,
}

impl Unavailable {
    /// A stable name (the API's problem code is built on it).
    pub fn code(self) -> &'static str {
        match self {
            Unavailable::Full => "storage-full",
            Unavailable::Busy => "storage-busy",
            Unavailable::Unreachable => "storage-unreachable",
        }
    }
}

impl StoreError {
    /// A database error, naming the database. A full disk, a lock held too long or a database
    /// that does not answer becomes [`StoreError::Unavailable`], with words that say so.
    pub(crate) fn db(location: &str, e: impl Cause) -> Self {
        let message = e.to_string();
        match e.unavailable() {
            Some(cause @ Unavailable::Full) => StoreError::Unavailable {
                location: location.to_string(),
                cause,
                message: format!(
                    "the disk that holds the database is full ({message}): nothing was \
                     written; free space there and try again"
                ),
            },
            Some(cause @ Unavailable::Busy) => StoreError::Unavailable {
                location: location.to_string(),
                cause,
                message: format!(
                    "the database did not take the change in time: locked by another writer, \
                     or no connection free ({message}): nothing was written; try again"
                ),
            },
            Some(cause @ Unavailable::Unreachable) => StoreError::Unavailable {
                location: location.to_string(),
                cause,
                message: format!(
                    "the database does not answer ({message}): nothing was done; try again once \
                     it is back"
                ),
            },
            None => StoreError::Database {
                location: location.to_string(),
                message,
            },
        }
    }

    /// Why the database cannot take this now, if that is what went wrong.
    pub fn unavailable(&self) -> Option<Unavailable> {
        match self {
            StoreError::Unavailable { cause, .. } => Some(*cause),
            _ => None,
        }
    }

    /// Whether nothing was done because the database cannot take it now (the caller may try
    /// again later: HTTP 503 or 507).
    pub fn is_unavailable(&self) -> bool {
        self.unavailable().is_some()
    }
}

/// What a database call failed with: its words, and whether it says the database cannot take
/// a change now.
pub(crate) trait Cause: std::fmt::Display {
    fn unavailable(&self) -> Option<Unavailable> {
        None
    }
}

/// A cause with words put before it ("cannot open: CAUSE"), still saying what the cause says
/// of the database (a full disk when the store opens is still a full disk).
pub(crate) struct Context<E>(pub &'static str, pub E);

impl<E: Cause> std::fmt::Display for Context<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0, self.1)
    }
}

impl<E: Cause> Cause for Context<E> {
    fn unavailable(&self) -> Option<Unavailable> {
        self.1.unavailable()
    }
}

impl Cause for String {}
impl Cause for &str {}

impl Cause for std::io::Error {
    fn unavailable(&self) -> Option<Unavailable> {
        // ENOSPC (28 on Linux and the BSDs), EDQUOT (122 on Linux): no space for this file.
        match self.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                Some(Unavailable::Full)
            }
            _ => None,
        }
    }
}

impl Cause for sqlx::Error {
    fn unavailable(&self) -> Option<Unavailable> {
        match self {
            sqlx::Error::Database(db) => {
                let code = db.code()?;
                match db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                    // SQLite's extended result code; the primary code is its low byte.
                    // 4874, SQLITE_IOERR_SHMSIZE: the shared-memory file cannot grow (a full
                    // tmpfs when the store opens).
                    Some(_) => match code.parse::<i64>().ok()? {
                        4874 => Some(Unavailable::Full),
                        c => match c & 0xff {
                            13 => Some(Unavailable::Full),
                            5 | 6 => Some(Unavailable::Busy),
                            _ => None,
                        },
                    },
                    // PostgreSQL's SQLSTATE.
                    None => match code.as_ref() {
                        "53100" => Some(Unavailable::Full),
                        "57P01" | "57P02" | "57P03" => Some(Unavailable::Unreachable),
                        c if c.starts_with("08") => Some(Unavailable::Unreachable),
                        _ => None,
                    },
                }
            }
            sqlx::Error::Io(e) => Some(e.unavailable().unwrap_or(Unavailable::Unreachable)),
            sqlx::Error::Tls(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                Some(Unavailable::Unreachable)
            }
            sqlx::Error::PoolTimedOut => Some(Unavailable::Busy),
            _ => None,
        }
    }
}

impl Cause for rusqlite::Error {
    fn unavailable(&self) -> Option<Unavailable> {
        match self.sqlite_error_code()? {
            rusqlite::ErrorCode::DiskFull => Some(Unavailable::Full),
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                Some(Unavailable::Busy)
            }
            _ => None,
        }
    }
}
