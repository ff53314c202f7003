//! Stores nothing itself: the connection pools, the [`Store`] handle, and `on_db!` dispatch.
//!
//! `on_db!` expands a query once per backend. A leaf: it imports no sibling module, and every
//! sibling builds on it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use crate::chain::Entry;
use crate::error::StoreError;
use crate::keys::CheckpointKey;
use crate::records::{Change, StoreEvent};

#[derive(Debug, Clone)]
pub(super) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run `$body` with `$pool` bound to the backend's pool; the body is expanded once per backend.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::pool::Db::Sqlite($pool) => $body,
            $crate::db::pool::Db::Postgres($pool) => $body,
        }
    };
}
pub(super) use on_db;

/// What every clone of a [`Store`] shares.
pub(super) struct Inner {
    pub(super) db: Db,
    /// The database's URL without password, for messages.
    pub(super) location: String,
    pub(super) key: CheckpointKey,
    pub(super) checkpoint_every: u64,
    pub(super) checkpoint_interval: Duration,
    pub(super) max_batch: usize,
    /// Changes replicas must learn of, for subscribers in this process.
    pub(super) events: tokio::sync::broadcast::Sender<StoreEvent>,
    /// Where each new checkpoint is also written (a witness outside the database), and the
    /// last sequence number written there.
    pub(super) witness: std::sync::Mutex<Option<Witness>>,
    /// Taken by each SQLite transaction of this process that writes (a chain commit, an index
    /// slice), so that they queue here in order instead of in SQLite's busy handler, which
    /// sleeps in steps of up to 100 ms.
    pub(super) write_lock: tokio::sync::Mutex<()>,
    /// The background indexer is paused (tests: a process stopped before indexing).
    pub(super) index_paused: std::sync::atomic::AtomicBool,
    /// PostgreSQL: the least time between two refreshes of the planner statistics (`stats`).
    pub(super) statistics_interval: Duration,
}

/// A witness directory the store writes each new checkpoint to.
pub(super) struct Witness {
    pub(super) dir: std::path::PathBuf,
    /// The last checkpoint written there.
    pub(super) written: u64,
    /// Why the last write failed, until one succeeds.
    pub(super) failed: Option<String>,
}

/// A request to the writer task.
pub(super) struct Job {
    pub(super) changes: Vec<Change>,
    pub(super) reply: oneshot::Sender<Result<Vec<Option<Entry>>, StoreError>>,
}

/// The store. Cheap to clone; every clone shares the pool and the writer.
#[derive(Clone)]
pub struct Store {
    pub(super) inner: Arc<Inner>,
    pub(super) writer: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner.location)
    }
}

impl Store {
    /// A database error, naming the database.
    pub(super) fn err(&self, e: impl crate::error::Cause) -> StoreError {
        StoreError::db(&self.inner.location, e)
    }
}

/// Now, as the store writes times (RFC 3339 UTC, milliseconds).
pub(super) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Changes committed in one transaction at most.
pub(super) const MAX_BATCH: usize = 512;
/// The PostgreSQL advisory lock that serializes appends ("PCLAUDIT").
pub(super) const APPEND_LOCK: i64 = 0x50434c4155444954;
