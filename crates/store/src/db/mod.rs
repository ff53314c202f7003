//! Stores nothing itself: opens the database (SQLite or PostgreSQL) and runs its migrations.
//!
//! The database behind the store: SQLite (the embedded default, one file) or PostgreSQL (several
//! replicas sharing one database), with one API and one test suite.
//!
//! Why sqlx: one maintained async driver crate for both backends, with migrations embedded at
//! build time and the tokio runtime the server runs on anyway. Queries are written once, in
//! the SQL both dialects accept (`$1` parameters, `ON CONFLICT`), and expanded for each backend
//! by the `on_db!` / `define_commit!` macros, so that each is type-checked against its driver.
//! Rows are read with `sqlx::FromRow`: record types by column name, one- or two-column reads as
//! tuples.
//!
//! Appends are serialized — `BEGIN IMMEDIATE` on SQLite (one writer), a transaction-scoped
//! advisory lock on PostgreSQL — and grouped: one writer task per process commits every change
//! waiting for it in one transaction (group commit), so throughput holds when many callers
//! record at once. A caller hears back only after the commit is durable.
//!
//! One module per thing stored. `pool` (the pools, the [`Store`] handle, `on_db!`) is a leaf the
//! others build on; this module opens the store and imports the others, never the reverse.

mod advisories;
mod append;
mod approvals;
mod audit;
mod blobs;
mod decisions;
mod deployments;
mod events;
mod exceptions;
mod grouped;
mod index;
mod overrides;
mod pool;
mod posture;
mod scan;
mod stats;
mod summary;
mod tables;
mod tokens;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::mpsc;

use crate::error::StoreError;
use crate::keys::CheckpointKey;
use crate::records::{Change, Write, kinds};
use pool::{Db, Inner, on_db};

pub use audit::{Progress as VerifyProgress, VerifyFailure, VerifyOptions};
pub use events::{CHANGES_CHANNEL, Subscription};
pub use pool::Store;
pub use posture::{Lease, POSTURE_LEASE};
pub use summary::{DailyCount, DecisionSummary, RuleCount, outcome};
pub use tables::{
    Finding, Link, RowValues, TABLES, TableCheck, check_row, check_tables, table_check,
};

/// Where the store is and how it signs.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://PATH` (or a plain path) or `postgres://…`.
    pub url: String,
    /// The checkpoint signing key (created there on first use).
    pub key_path: PathBuf,
    /// Sign a checkpoint once this many entries were appended since the last one…
    pub checkpoint_every: u64,
    /// …or once the last one is this old (and something was appended since).
    pub checkpoint_interval: Duration,
    /// Most changes committed in one transaction (group commit); 1 commits each alone.
    pub max_batch: usize,
    /// PostgreSQL: the least time between two checks, after commits, of the tables' planner
    /// statistics (the store analyzes tables that grew; see `Store::refresh_statistics`).
    pub statistics_interval: Duration,
}

impl StoreConfig {
    /// SQLite in `home/portcullis.db`, the key in `home/checkpoint.key`.
    pub fn in_home(home: &Path) -> Self {
        Self {
            url: format!("sqlite://{}", home.join("portcullis.db").display()),
            key_path: home.join("checkpoint.key"),
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(1),
            max_batch: pool::MAX_BATCH,
            statistics_interval: Duration::from_secs(10),
        }
    }
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Create `dir` (and its parents) when missing; the directory made for the store is the
/// owner's alone (0700). An existing directory is left as it is (it may be shared, /tmp).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The SQLite database file, readable and writable by its owner alone (0600): created so
/// when missing, tightened when it exists. SQLite gives its -wal and -shm files the database
/// file's mode.
fn private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(m) = std::fs::metadata(&side)
                && m.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The SQLite pool's connections (one writer at a time; the rest read beside it in WAL mode).
const SQLITE_CONNECTIONS: u32 = 4;

/// How long a PostgreSQL query waits for a connection (see [`Store::open`]).
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt.min(10)))).await;
}

impl Store {
    /// Open (creating when needed) the store at `config.url`, run its migrations, load or create
    /// the checkpoint key and register it in the chain. Must be called inside a tokio runtime.
    pub async fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        let location = redact(&config.url);
        let db = if is_postgres(&config.url) {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                // While the database is down every query waits this long (sqlx retries the
                // connection) before it fails as unavailable: short enough that an admission
                // review, which may ask the store two or three times, still answers within
                // the webhook's 10 s; a pool this size is never busy that long otherwise.
                .acquire_timeout(PG_ACQUIRE_TIMEOUT)
                .connect(&config.url)
                .await
                .map_err(|e| StoreError::db(&location, format!("cannot connect: {e}")))?;
            // sqlx's PostgreSQL migrator takes an advisory lock: replicas may start together.
            sqlx::migrate!("migrations/postgres")
                .run(&pool)
                .await
                .map_err(|e| StoreError::Migration {
                    location: location.clone(),
                    message: e.to_string(),
                })?;
            Db::Postgres(pool)
        } else {
            // Only SQLite URLs or plain paths: a mistyped scheme must not quietly become a
            // local file (and a gate without the shared store's advisories).
            let path = match config
                .url
                .strip_prefix("sqlite://")
                .or_else(|| config.url.strip_prefix("sqlite:"))
            {
                Some(p) => p,
                None if !config.url.contains("://") => &config.url,
                None => {
                    return Err(StoreError::Invalid(format!(
                        "{location}: not a database URL Portcullis knows (postgres://…, \
                         postgresql://…, sqlite://PATH, or a file path)"
                    )));
                }
            };
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                private_dir(dir).map_err(|e| {
                    StoreError::db(&location, format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            if path != ":memory:" && !path.starts_with("file::memory:") {
                private_file(Path::new(path))
                    .map_err(|e| StoreError::db(&location, format!("cannot create: {e}")))?;
            }
            let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
                .map_err(|e| StoreError::db(&location, e))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Durable commits: a decision reported as recorded survives a power cut.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(120));
            // Every connection is opened at once and kept: a connection opened later, when a
            // burst first needs it, grows the server's descriptors, threads and memory after
            // its warm-up (the soak test's check). An in-memory database is one per
            // connection, so it keeps one.
            let in_memory = path == ":memory:" || path.starts_with("file::memory:");
            let pool = SqlitePoolOptions::new()
                .max_connections(SQLITE_CONNECTIONS)
                .min_connections(if in_memory { 1 } else { SQLITE_CONNECTIONS })
                .acquire_timeout(Duration::from_secs(120))
                .connect_with(options)
                .await
                .map_err(|e| StoreError::db(&location, crate::error::Context("cannot open", e)))?;
            // SQLite's migrator takes no lock across processes: several processes creating a
            // new store at once may collide; the losers find the schema made and go on.
            let mut attempt = 0;
            loop {
                match sqlx::migrate!("migrations/sqlite").run(&pool).await {
                    Ok(()) => break,
                    Err(_) if attempt < 20 => {
                        attempt += 1;
                        backoff(attempt).await;
                    }
                    Err(e) => {
                        return Err(StoreError::Migration {
                            location,
                            message: e.to_string(),
                        });
                    }
                }
            }
            Db::Sqlite(pool)
        };
        let key = CheckpointKey::load_or_create(&config.key_path)?;
        let inner = Arc::new(Inner {
            db,
            location,
            key,
            checkpoint_every: config.checkpoint_every.max(1),
            checkpoint_interval: config.checkpoint_interval,
            max_batch: config.max_batch.max(1),
            events: tokio::sync::broadcast::channel(1024).0,
            witness: std::sync::Mutex::new(None),
            write_lock: tokio::sync::Mutex::new(()),
            index_paused: std::sync::atomic::AtomicBool::new(false),
            statistics_interval: config.statistics_interval,
        });
        let (tx, rx) = mpsc::channel(4096);
        // The indexer runs while the writer does; first on what a stopped process left pending.
        let (index_tx, index_rx) = mpsc::channel(1);
        let _ = index_tx.try_send(());
        tokio::spawn(index::indexer(inner.clone(), index_rx));
        // PostgreSQL's planner statistics, refreshed after commits (SQLite needs none).
        let stats_tx = matches!(inner.db, Db::Postgres(_)).then(|| {
            let (stats_tx, stats_rx) = mpsc::channel(1);
            tokio::spawn(stats::maintainer(inner.clone(), stats_rx));
            stats_tx
        });
        tokio::spawn(append::writer(inner.clone(), rx, index_tx, stats_tx));
        let store = Self { inner, writer: tx };
        store.migrate_chain().await?;
        store.register_key().await?;
        Ok(store)
    }

    /// Register this process's checkpoint key in the chain, unless it already is.
    async fn register_key(&self) -> Result<(), StoreError> {
        let key_id = self.inner.key.key_id();
        let known: Option<(String,)> = on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT key_id FROM checkpoint_keys WHERE key_id = $1")
                .bind(&key_id)
                .fetch_optional(pool)
                .await
                .map_err(|e| self.err(e))?
        });
        if known.is_none() {
            let public_key = self.inner.key.public_hex();
            self.append(vec![Change::if_new(
                kinds::CHECKPOINT_KEY,
                serde_json::json!({"key_id": key_id, "public_key": public_key}),
                vec![Write::CheckpointKey {
                    key_id: key_id.clone(),
                    public_key: public_key.clone(),
                }],
            )])
            .await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self.inner.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Where the store is (a URL without password).
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The public key (hex) that signs this process's checkpoints.
    pub fn public_key(&self) -> String {
        self.inner.key.public_hex()
    }

    pub fn key(&self) -> &CheckpointKey {
        &self.inner.key
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(&self.inner.db, pool => {
            sqlx::query("SELECT 1").execute(pool).await.map_err(|e| self.err(e))?;
        });
        Ok(())
    }

    /// Run `ANALYZE` so the planner knows the index sizes (after bulk loads).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        on_db!(&self.inner.db, pool => {
            sqlx::query("ANALYZE").execute(pool).await.map_err(|e| self.err(e))?;
        });
        Ok(())
    }

    /// Run raw SQL (tests use it to tamper with the chain the way an attacker with database
    /// access would).
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query(sql).execute(pool).await.map_err(|e| self.err(e))?.rows_affected()
        }))
    }
}
