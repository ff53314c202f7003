//! The database behind the store: SQLite (the embedded default, one file) or PostgreSQL (several
//! replicas sharing one database), with one API and one test suite.
//!
//! Why sqlx: one maintained async driver crate for both backends, with migrations embedded at
//! build time and the tokio runtime the server runs on anyway. Queries are written once, in
//! the SQL both dialects accept (`$1` parameters, `ON CONFLICT`), and expanded for each backend
//! by the `on_db!` / `define_commit!` macros, so that each is type-checked against its driver.
//!
//! Appends are serialized — `BEGIN IMMEDIATE` on SQLite (one writer), a transaction-scoped
//! advisory lock on PostgreSQL — and grouped: one writer task per process commits every change
//! waiting for it in one transaction (group commit), so throughput holds when many callers
//! record at once. A caller hears back only after the commit is durable.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Row};
use tokio::sync::{mpsc, oneshot};

use crate::chain::{Chain, ChainCheck, Checkpoint, Entry, Tamper, Verified};
use crate::error::StoreError;
use crate::keys::CheckpointKey;
use crate::records::*;

/// Changes committed in one transaction at most.
const MAX_BATCH: usize = 512;
/// Rows of one multi-row component insert (6 parameters each).
const COMPONENT_CHUNK: usize = 500;
/// Entries read per query while verifying.
const VERIFY_CHUNK: i64 = 50_000;
/// The PostgreSQL advisory lock that serializes appends ("PCLAUDIT").
const APPEND_LOCK: i64 = 0x50434c4155444954;

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
}

impl StoreConfig {
    /// SQLite in `home/portcullis.db`, the key in `home/checkpoint.key`.
    pub fn in_home(home: &Path) -> Self {
        Self {
            url: format!("sqlite://{}", home.join("portcullis.db").display()),
            key_path: home.join("checkpoint.key"),
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(1),
            max_batch: MAX_BATCH,
        }
    }
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run `$body` with `$pool` bound to the backend's pool; the body is expanded once per backend.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// A column of a row, with the error naming it.
macro_rules! col {
    ($row:expr, $name:literal) => {
        $row.try_get($name)
            .map_err(|e| StoreError::Invalid(format!("column {}: {e}", $name)))?
    };
}

/// Insert component rows in multi-row statements.
macro_rules! insert_components {
    ($conn:expr, $evidence:expr, $rows:expr, $err:expr) => {
        for chunk in $rows.chunks(COMPONENT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO components (evidence_digest, purl_type, namespace, name, version, purl) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 6;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6
                ));
            }
            let mut q = sqlx::query(&sql);
            for c in chunk {
                q = q
                    .bind($evidence)
                    .bind(&c.purl_type)
                    .bind(&c.namespace)
                    .bind(&c.name)
                    .bind(&c.version)
                    .bind(&c.purl);
            }
            q.execute($conn).await.map_err($err)?;
        }
    };
}

struct Inner {
    db: Db,
    location: String,
    key: CheckpointKey,
    checkpoint_every: u64,
    checkpoint_interval: Duration,
    max_batch: usize,
    /// Changes replicas must learn of, for subscribers in this process.
    events: tokio::sync::broadcast::Sender<StoreEvent>,
}

/// The PostgreSQL channel that carries [`StoreEvent`]s between replicas.
pub const CHANGES_CHANNEL: &str = "portcullis_changes";

/// A request to the writer task.
struct Job {
    changes: Vec<Change>,
    reply: oneshot::Sender<Result<Vec<Option<Entry>>, StoreError>>,
}

/// The store. Cheap to clone; every clone shares the pool and the writer.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    writer: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner.location)
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
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

impl Store {
    /// Open (creating when needed) the store at `config.url`, run its migrations, load or create
    /// the checkpoint key and register it in the chain. Must be called inside a tokio runtime.
    pub async fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        let location = redact(&config.url);
        let db = if is_postgres(&config.url) {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
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
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::db(&location, format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
                .map_err(|e| StoreError::db(&location, e))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Durable commits: a decision reported as recorded survives a power cut.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(120));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(120))
                .connect_with(options)
                .await
                .map_err(|e| StoreError::db(&location, format!("cannot open: {e}")))?;
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
        });
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer(inner.clone(), rx));
        let store = Self { inner, writer: tx };
        store.register_key().await?;
        Ok(store)
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

    async fn register_key(&self) -> Result<(), StoreError> {
        let key_id = self.inner.key.key_id();
        let known: Option<String> = on_db!(&self.inner.db, pool => {
            sqlx::query("SELECT key_id FROM checkpoint_keys WHERE key_id = $1")
                .bind(&key_id)
                .fetch_optional(pool)
                .await
                .map_err(|e| self.err(e))?
                .map(|r| r.try_get::<String, _>(0).unwrap_or_default())
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

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::db(&self.inner.location, e)
    }

    /// Append changes: each becomes an audit entry (in order) with its rows, committed
    /// together with whatever else is waiting (group commit). Returns each change's entry, or
    /// `None` for an `only_if_new` change that changed nothing. Returns once durable.
    pub async fn append(&self, changes: Vec<Change>) -> Result<Vec<Option<Entry>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job { changes, reply })
            .await
            .map_err(|e| StoreError::Writer(e.to_string()))?;
        rx.await.map_err(|e| StoreError::Writer(e.to_string()))?
    }

    /// Subscribe to the changes replicas must learn of (see [`Subscription`]).
    pub async fn subscribe(&self) -> Result<Subscription, StoreError> {
        let local = self.inner.events.subscribe();
        let remote = match &self.inner.db {
            Db::Sqlite(pool) => Remote::Poll {
                pool: pool.clone(),
                last: self.head().await?.map(|(seq, _)| seq).unwrap_or(0),
                pending: Default::default(),
            },
            Db::Postgres(pool) => {
                let mut l = sqlx::postgres::PgListener::connect_with(pool)
                    .await
                    .map_err(|e| self.err(e))?;
                l.listen(CHANGES_CHANNEL).await.map_err(|e| self.err(e))?;
                Remote::Listen(Box::new(l))
            }
        };
        Ok(Subscription { local, remote })
    }

    /// An API token by the digest of its secret (revoked ones too: the caller checks).
    pub async fn token_by_digest(&self, digest: &str) -> Result<Option<TokenRow>, StoreError> {
        Ok(self
            .token_rows("SELECT * FROM api_tokens WHERE digest = $1", Some(digest))
            .await?
            .pop())
    }

    pub async fn token(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        Ok(self
            .token_rows("SELECT * FROM api_tokens WHERE id = $1", Some(id))
            .await?
            .pop())
    }

    /// API tokens, oldest first; revoked ones too when `all`.
    pub async fn tokens(&self, all: bool) -> Result<Vec<TokenRow>, StoreError> {
        let sql = if all {
            "SELECT * FROM api_tokens ORDER BY seq"
        } else {
            "SELECT * FROM api_tokens WHERE revoked_at IS NULL ORDER BY seq"
        };
        self.token_rows(sql, None).await
    }

    async fn token_rows(&self, sql: &str, arg: Option<&str>) -> Result<Vec<TokenRow>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query(sql);
            if let Some(a) = arg { q = q.bind(a); }
            let rows = q.fetch_all(pool).await.map_err(|e| self.err(e))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(TokenRow {
                    id: col!(r, "id"),
                    name: col!(r, "name"),
                    role: col!(r, "role"),
                    digest: col!(r, "digest"),
                    created_at: col!(r, "created_at"),
                    created_by: col!(r, "created_by"),
                    seq: col!(r, "seq"),
                    revoked_at: col!(r, "revoked_at"),
                    revoked_by: col!(r, "revoked_by"),
                });
            }
            out
        }))
    }

    /// The break-glass override of decision `id`, if there is one.
    pub async fn override_of(&self, id: &str) -> Result<Option<OverrideRow>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            match sqlx::query("SELECT * FROM overrides WHERE decision_id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(|e| self.err(e))?
            {
                None => None,
                Some(r) => Some(OverrideRow {
                    decision_id: col!(r, "decision_id"),
                    seq: col!(r, "seq"),
                    actor: col!(r, "actor"),
                    reason: col!(r, "reason"),
                    at: col!(r, "at"),
                }),
            }
        }))
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(&self.inner.db, pool => {
            sqlx::query("SELECT 1").execute(pool).await.map_err(|e| self.err(e))?;
        });
        Ok(())
    }

    /// Sign a checkpoint at the head of the chain now (and store it).
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let head = self.head().await?;
        let Some((seq, hash)) = head else {
            return Ok(None);
        };
        let cps = self.checkpoints().await?;
        if let Some(c) = cps.iter().find(|c| c.seq == seq as u64) {
            return Ok(Some(c.clone()));
        }
        let cp = Chain::at(seq as u64, &hash).checkpoint(&self.inner.key, &now());
        let cp2 = cp.clone();
        on_db!(&self.inner.db, pool => {
            sqlx::query("INSERT INTO checkpoints (seq, hash, at, key_id, public_key, signature) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (seq) DO NOTHING")
                .bind(cp2.seq as i64).bind(&cp2.hash).bind(&cp2.at).bind(&cp2.key_id).bind(&cp2.public_key).bind(&cp2.signature)
                .execute(pool).await.map_err(|e| self.err(e))?;
        });
        Ok(Some(cp))
    }

    /// A checkpoint at `seq` signed now by this store's key (not stored): what an export
    /// anchors its last entry with. The entry must exist.
    pub async fn sign_checkpoint_at(&self, seq: u64) -> Result<Checkpoint, StoreError> {
        let e = self.entry(seq).await?.ok_or_else(|| StoreError::NotFound {
            what: format!("audit entry {seq}"),
        })?;
        Ok(Chain::at(e.seq, &e.hash).checkpoint(&self.inner.key, &now()))
    }

    /// Sequence number and hash of the last entry.
    pub async fn head(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            match sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(pool).await.map_err(|e| self.err(e))? {
                Some(r) => Some((col!(r, "seq"), col!(r, "hash"))),
                None => None,
            }
        }))
    }

    /// Entries `from..=to` in sequence order.
    pub async fn entries(&self, from: u64, to: u64) -> Result<Vec<Entry>, StoreError> {
        let to = i64::try_from(to).unwrap_or(i64::MAX);
        self.entry_rows(
            "SELECT seq, at, kind, body, body_digest, prev_hash, hash FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
            from,
            to,
        )
        .await
    }

    /// Entries read by `sql`, which binds a first sequence number and one more integer.
    async fn entry_rows(
        &self,
        sql: &str,
        from: u64,
        second: i64,
    ) -> Result<Vec<Entry>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        Ok(on_db!(&self.inner.db, pool => {
            let rows = sqlx::query(sql)
                .bind(from).bind(second)
                .fetch_all(pool).await.map_err(|e| self.err(e))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let seq: i64 = col!(r, "seq");
                out.push(Entry {
                    seq: seq as u64,
                    at: col!(r, "at"),
                    kind: col!(r, "kind"),
                    body: col!(r, "body"),
                    body_digest: col!(r, "body_digest"),
                    prev_hash: col!(r, "prev_hash"),
                    hash: col!(r, "hash"),
                });
            }
            out
        }))
    }

    pub async fn entry(&self, seq: u64) -> Result<Option<Entry>, StoreError> {
        Ok(self.entries(seq, seq).await?.pop())
    }

    /// Every stored checkpoint, by sequence number.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            let rows = sqlx::query("SELECT seq, hash, at, key_id, public_key, signature FROM checkpoints ORDER BY seq")
                .fetch_all(pool).await.map_err(|e| self.err(e))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let seq: i64 = col!(r, "seq");
                out.push(Checkpoint {
                    seq: seq as u64,
                    hash: col!(r, "hash"),
                    at: col!(r, "at"),
                    key_id: col!(r, "key_id"),
                    public_key: col!(r, "public_key"),
                    signature: col!(r, "signature"),
                });
            }
            out
        }))
    }

    /// Verify the whole chain and every checkpoint: names the first bad entry. Every
    /// checkpoint must be signed by `trusted_key` when given, else by a key the chain itself
    /// registered (a `checkpoint-key.registered` entry before the checkpoint).
    pub async fn verify(&self, trusted_key: Option<&str>) -> Result<Verified, VerifyFailure> {
        let checkpoints = self.checkpoints().await.map_err(VerifyFailure::Store)?;
        let mut check =
            ChainCheck::new(&checkpoints, trusted_key).map_err(VerifyFailure::Tamper)?;
        let mut registered: Vec<(u64, String)> = Vec::new();
        let mut next = 1u64;
        loop {
            let chunk = self
                .entries_after(next, VERIFY_CHUNK)
                .await
                .map_err(VerifyFailure::Store)?;
            let Some(last) = chunk.last() else { break };
            // The store's chain starts at entry 1: a later first entry means the oldest were
            // deleted (an exported segment may start later; the store's own chain may not).
            if let Some(first) = chunk.first().filter(|f| next == 1 && f.seq != 1) {
                return Err(VerifyFailure::Tamper(Tamper::Deleted {
                    expected: 1,
                    found: first.seq,
                }));
            }
            next = last.seq + 1;
            for e in chunk.iter().filter(|e| e.kind == kinds::CHECKPOINT_KEY) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&e.body)
                    && let Some(k) = v.get("public_key").and_then(|k| k.as_str())
                {
                    registered.push((e.seq, k.to_ascii_lowercase()));
                }
            }
            let n = chunk.len() as i64;
            check.feed(chunk).map_err(VerifyFailure::Tamper)?;
            if n < VERIFY_CHUNK {
                break;
            }
        }
        let verified = check.finish().map_err(VerifyFailure::Tamper)?;
        // Every commit that appends signs a checkpoint when none exists: a chain without one
        // had them deleted.
        if verified.entries > 0 && checkpoints.is_empty() {
            return Err(VerifyFailure::Tamper(Tamper::BadCheckpoint {
                seq: 0,
                reason: "the chain has entries but no signed checkpoint: they were deleted".into(),
            }));
        }
        if trusted_key.is_none() {
            for c in &checkpoints {
                let pk = c.public_key.to_ascii_lowercase();
                if !registered.iter().any(|(seq, k)| *seq <= c.seq && *k == pk) {
                    return Err(VerifyFailure::Tamper(Tamper::BadCheckpoint {
                        seq: c.seq,
                        reason: format!(
                            "signed by key {}, which the chain never registered",
                            c.key_id
                        ),
                    }));
                }
            }
        }
        Ok(verified)
    }

    /// Up to `limit` entries from `from` on (by sequence number, as stored).
    async fn entries_after(&self, from: u64, limit: i64) -> Result<Vec<Entry>, StoreError> {
        self.entry_rows(
            "SELECT seq, at, kind, body, body_digest, prev_hash, hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
            from,
            limit,
        )
        .await
    }

    /// A stored document: its kind and raw bytes (checked against the digest).
    pub async fn blob(&self, digest: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let row: Option<(String, String, Vec<u8>)> = on_db!(&self.inner.db, pool => {
            match sqlx::query("SELECT kind, compression, content FROM blobs WHERE digest = $1")
                .bind(digest).fetch_optional(pool).await.map_err(|e| self.err(e))? {
                Some(r) => Some((col!(r, "kind"), col!(r, "compression"), col!(r, "content"))),
                None => None,
            }
        });
        let Some((kind, compression, content)) = row else {
            return Ok(None);
        };
        let corrupt = |message: String| StoreError::Corrupt {
            what: format!("document {digest}"),
            message,
        };
        let raw = match compression.as_str() {
            "zstd" => zstd::stream::decode_all(content.as_slice())
                .map_err(|e| corrupt(format!("cannot decompress: {e}")))?,
            "none" => content,
            other => return Err(corrupt(format!("unknown compression {other:?}"))),
        };
        if crate::records::digest(&raw) != digest {
            return Err(corrupt("its content does not match its digest".into()));
        }
        Ok(Some((kind, raw)))
    }

    pub async fn has_blob(&self, digest: &str) -> Result<bool, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query("SELECT 1 FROM blobs WHERE digest = $1")
                .bind(digest).fetch_optional(pool).await.map_err(|e| self.err(e))?.is_some()
        }))
    }

    pub async fn decision(&self, id: &str) -> Result<Option<DecisionRow>, StoreError> {
        let mut rows = self.decisions_where("WHERE id = $1", &[id], 1).await?;
        Ok(rows.pop())
    }

    /// Decisions, newest first, filtered by environment, artifact (name or digest) and time.
    pub async fn decisions(
        &self,
        environment: Option<&str>,
        artifact: Option<&str>,
        since: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        let mut clauses = Vec::new();
        let mut params: Vec<&str> = Vec::new();
        if let Some(env) = environment {
            params.push(env);
            clauses.push(format!("environment = ${}", params.len()));
        }
        if let Some(a) = artifact {
            params.push(a);
            let n = params.len();
            clauses.push(format!("(artifact_digest = ${n} OR artifact_name = ${n})"));
        }
        if let Some(s) = since {
            params.push(s);
            clauses.push(format!("decided_at >= ${}", params.len()));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        self.decisions_where(&filter, &params, limit).await
    }

    async fn decisions_where(
        &self,
        filter: &str,
        params: &[&str],
        limit: i64,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        // A negative limit means none (PostgreSQL refuses a negative LIMIT).
        let limit = if limit < 0 { i64::MAX } else { limit };
        let sql = format!(
            "SELECT id, seq, artifact_name, artifact_digest, environment, verdict, decided_at, decision_digest, request_digest, policy_bundle FROM decisions {filter} ORDER BY seq DESC LIMIT {limit}"
        );
        Ok(on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query(&sql);
            for p in params {
                q = q.bind(*p);
            }
            let rows = q.fetch_all(pool).await.map_err(|e| self.err(e))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(DecisionRow {
                    id: col!(r, "id"),
                    seq: col!(r, "seq"),
                    artifact_name: col!(r, "artifact_name"),
                    artifact_digest: col!(r, "artifact_digest"),
                    environment: col!(r, "environment"),
                    verdict: col!(r, "verdict"),
                    decided_at: col!(r, "decided_at"),
                    decision_digest: col!(r, "decision_digest"),
                    request_digest: col!(r, "request_digest"),
                    policy_bundle: col!(r, "policy_bundle"),
                });
            }
            out
        }))
    }

    /// The latest decision about this artifact digest in this environment.
    pub async fn latest_decision(
        &self,
        artifact_digest: &str,
        environment: &str,
    ) -> Result<Option<DecisionRow>, StoreError> {
        let mut rows = self
            .decisions_where(
                "WHERE artifact_digest = $1 AND environment = $2",
                &[artifact_digest, environment],
                1,
            )
            .await?;
        Ok(rows.pop())
    }

    /// Ids of every recorded decision (oldest first).
    pub async fn decision_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            let rows = sqlx::query("SELECT id FROM decisions ORDER BY seq").fetch_all(pool).await.map_err(|e| self.err(e))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows { out.push(col!(r, "id")); }
            out
        }))
    }

    /// Advisories, oldest first; withdrawn ones too when `all`.
    pub async fn advisories(&self, all: bool) -> Result<Vec<AdvisoryRow>, StoreError> {
        let sql = if all {
            "SELECT * FROM advisories ORDER BY seq"
        } else {
            "SELECT * FROM advisories WHERE withdrawn_at IS NULL ORDER BY seq"
        };
        self.advisory_rows(sql, None).await
    }

    pub async fn advisory(&self, id: &str) -> Result<Option<AdvisoryRow>, StoreError> {
        Ok(self
            .advisory_rows("SELECT * FROM advisories WHERE id = $1", Some(id))
            .await?
            .pop())
    }

    async fn advisory_rows(
        &self,
        sql: &str,
        id: Option<&str>,
    ) -> Result<Vec<AdvisoryRow>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query(sql);
            if let Some(id) = id { q = q.bind(id); }
            let rows = q.fetch_all(pool).await.map_err(|e| self.err(e))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(AdvisoryRow {
                    id: col!(r, "id"),
                    kind: col!(r, "kind"),
                    digest: col!(r, "digest"),
                    summary: col!(r, "summary"),
                    added_at: col!(r, "added_at"),
                    added_by: col!(r, "added_by"),
                    seq: col!(r, "seq"),
                    withdrawn_at: col!(r, "withdrawn_at"),
                    withdrawn_by: col!(r, "withdrawn_by"),
                    withdraw_reason: col!(r, "withdraw_reason"),
                });
            }
            out
        }))
    }

    /// Exceptions, oldest first; revoked ones too when `all`.
    pub async fn exceptions(&self, all: bool) -> Result<Vec<ExceptionRow>, StoreError> {
        let sql = if all {
            "SELECT * FROM exceptions ORDER BY seq"
        } else {
            "SELECT * FROM exceptions WHERE revoked_at IS NULL ORDER BY seq"
        };
        self.exception_rows(sql, None).await
    }

    pub async fn exception(&self, id: &str) -> Result<Option<ExceptionRow>, StoreError> {
        Ok(self
            .exception_rows("SELECT * FROM exceptions WHERE id = $1", Some(id))
            .await?
            .pop())
    }

    async fn exception_rows(
        &self,
        sql: &str,
        id: Option<&str>,
    ) -> Result<Vec<ExceptionRow>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query(sql);
            if let Some(id) = id { q = q.bind(id); }
            let rows = q.fetch_all(pool).await.map_err(|e| self.err(e))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(ExceptionRow {
                    id: col!(r, "id"),
                    body: col!(r, "body"),
                    granted_by: col!(r, "granted_by"),
                    granted_at: col!(r, "granted_at"),
                    expires_at: col!(r, "expires_at"),
                    seq: col!(r, "seq"),
                    revoked_at: col!(r, "revoked_at"),
                    revoked_by: col!(r, "revoked_by"),
                    revoke_reason: col!(r, "revoke_reason"),
                    expiry_seq: col!(r, "expiry_seq"),
                });
            }
            out
        }))
    }

    /// Record the expiry of every unrevoked exception past its expiry at `now` whose expiry
    /// is not yet on the record. Returns the ids recorded.
    pub async fn record_expired_exceptions(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let mut changes = Vec::new();
        let mut ids = Vec::new();
        for e in self.exceptions(false).await? {
            if e.expiry_seq.is_some() {
                continue;
            }
            let expired = DateTime::parse_from_rfc3339(&e.expires_at)
                .map(|t| t.with_timezone(&Utc) <= now)
                .unwrap_or(false);
            if expired {
                changes.push(Change::if_new(
                    kinds::EXCEPTION_EXPIRED,
                    serde_json::json!({"exception_id": e.id, "expires_at": e.expires_at}),
                    vec![Write::ExceptionExpired { id: e.id.clone() }],
                ));
                ids.push(e.id);
            }
        }
        if changes.is_empty() {
            return Ok(ids);
        }
        let entries = self.append(changes).await?;
        Ok(ids
            .into_iter()
            .zip(entries)
            .filter_map(|(id, e)| e.map(|_| id))
            .collect())
    }

    /// What runs where: the current artifact per (environment, name), optionally one
    /// environment.
    pub async fn inventory(
        &self,
        environment: Option<&str>,
    ) -> Result<Vec<DeploymentRow>, StoreError> {
        let sql = match environment {
            Some(_) => {
                "SELECT seq, environment, artifact_name, artifact_digest, deployed_at, '' AS deployed_by FROM inventory WHERE environment = $1 ORDER BY environment, artifact_name"
            }
            None => {
                "SELECT seq, environment, artifact_name, artifact_digest, deployed_at, '' AS deployed_by FROM inventory ORDER BY environment, artifact_name"
            }
        };
        Ok(on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query(sql);
            if let Some(env) = environment { q = q.bind(env); }
            let rows = q.fetch_all(pool).await.map_err(|e| self.err(e))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(DeploymentRow {
                    seq: col!(r, "seq"),
                    environment: col!(r, "environment"),
                    artifact_name: col!(r, "artifact_name"),
                    artifact_digest: col!(r, "artifact_digest"),
                    deployed_at: col!(r, "deployed_at"),
                    deployed_by: col!(r, "deployed_by"),
                });
            }
            out
        }))
    }

    /// Deployed artifacts (in the inventory) whose evidence lists a component of package
    /// (`purl_type`, `namespace`, `name`); `namespace: None` matches any namespace. Versions
    /// are not filtered here: the caller decides which are affected.
    pub async fn deployed_with_package(
        &self,
        purl_type: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Vec<PackageInUse>, StoreError> {
        let base = "SELECT DISTINCT i.environment, i.artifact_name, i.artifact_digest, i.deployed_at, c.purl, c.version \
                    FROM components c \
                    JOIN artifact_evidence ae ON ae.evidence_digest = c.evidence_digest \
                    JOIN inventory i ON i.artifact_digest = ae.artifact_digest \
                    WHERE c.purl_type = $1 AND c.name = $2";
        let sql = match namespace {
            Some(_) => format!("{base} AND c.namespace = $3 ORDER BY 1, 2, 5"),
            None => format!("{base} ORDER BY 1, 2, 5"),
        };
        Ok(on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query(&sql).bind(purl_type).bind(name);
            if let Some(ns) = namespace { q = q.bind(ns); }
            let rows = q.fetch_all(pool).await.map_err(|e| self.err(e))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(PackageInUse {
                    environment: col!(r, "environment"),
                    artifact_name: col!(r, "artifact_name"),
                    artifact_digest: col!(r, "artifact_digest"),
                    deployed_at: col!(r, "deployed_at"),
                    purl: col!(r, "purl"),
                    version: col!(r, "version"),
                });
            }
            out
        }))
    }

    /// Bulk-load components and artifact/evidence links without audit entries: for
    /// benchmarks and migrations from another tool only (the rows are an index, not a record).
    pub async fn load_index(
        &self,
        evidence_digest: &str,
        artifact_digests: &[String],
        components: &[ComponentRow],
    ) -> Result<(), StoreError> {
        let inner = &self.inner;
        on_db!(&inner.db, pool => {
            let mut tx = pool.begin().await.map_err(|e| self.err(e))?;
            insert_components!(&mut *tx, evidence_digest, components, |e| self.err(e));
            for a in artifact_digests {
                sqlx::query("INSERT INTO artifact_evidence (artifact_digest, evidence_digest) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(a).bind(evidence_digest).execute(&mut *tx).await.map_err(|e| self.err(e))?;
            }
            tx.commit().await.map_err(|e| self.err(e))?;
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

#[macro_use]
mod summary;
pub use summary::{DailyCount, DecisionSummary, RuleCount, outcome};

/// Why `Store::verify` failed: the chain was tampered with, or the store could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    #[error("{0}")]
    Tamper(Tamper),
    #[error("{0}")]
    Store(StoreError),
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt.min(10)))).await;
}

/// The commit of one batch, expanded for each backend's connection type.
macro_rules! define_commit {
    ($name:ident, $Conn:ty) => {
        async fn $name(
            conn: &mut $Conn,
            inner: &Inner,
            changes: &[&Change],
        ) -> Result<Vec<Option<Entry>>, StoreError> {
            let err = |e: sqlx::Error| StoreError::db(&inner.location, e);
            let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *conn)
                .await
                .map_err(err)?;
            let mut chain = match head {
                Some(r) => {
                    let seq: i64 = col!(r, "seq");
                    let hash: String = col!(r, "hash");
                    Chain::at(seq as u64, &hash)
                }
                None => Chain::new(),
            };
            let start_seq = chain.last_seq();
            let at = now();
            let mut out = Vec::with_capacity(changes.len());
            for change in changes {
                let seq = (chain.last_seq() + 1) as i64;
                let mut skip = false;
                for (i, w) in change.writes.iter().enumerate() {
                    let n: u64 = match w {
                        Write::Blob { blob, components } => {
                            let n = sqlx::query("INSERT INTO blobs (digest, kind, size, compression, content, stored_at) VALUES ($1, $2, $3, 'zstd', $4, $5) ON CONFLICT (digest) DO NOTHING")
                                .bind(&blob.digest).bind(&blob.kind).bind(blob.size).bind(&blob.compressed).bind(&at)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected();
                            if n > 0 {
                                insert_components!(&mut *conn, &blob.digest, components, err);
                            }
                            n
                        }
                        Write::ArtifactEvidence { artifact_digest, evidence_digest } => {
                            sqlx::query("INSERT INTO artifact_evidence (artifact_digest, evidence_digest) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                                .bind(artifact_digest).bind(evidence_digest)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Decision(d) => {
                            sqlx::query("INSERT INTO decisions (id, seq, artifact_name, artifact_digest, environment, verdict, decided_at, decision_digest, request_digest, policy_bundle) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                                .bind(&d.id).bind(seq).bind(&d.artifact_name).bind(&d.artifact_digest).bind(&d.environment)
                                .bind(&d.verdict).bind(&d.decided_at).bind(&d.decision_digest).bind(&d.request_digest).bind(&d.policy_bundle)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Advisory(a) => {
                            sqlx::query("INSERT INTO advisories (id, kind, digest, summary, added_at, added_by, seq) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                                .bind(&a.id).bind(&a.kind).bind(&a.digest).bind(&a.summary).bind(&a.added_at).bind(&a.added_by).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::AdvisoryWithdrawn { id, at, by, reason } => {
                            sqlx::query("UPDATE advisories SET withdrawn_at = $1, withdrawn_by = $2, withdraw_reason = $3 WHERE id = $4 AND withdrawn_at IS NULL")
                                .bind(at).bind(by).bind(reason).bind(id)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Exception(x) => {
                            sqlx::query("INSERT INTO exceptions (id, body, granted_by, granted_at, expires_at, seq) VALUES ($1, $2, $3, $4, $5, $6)")
                                .bind(&x.id).bind(&x.body).bind(&x.granted_by).bind(&x.granted_at).bind(&x.expires_at).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::ExceptionRevoked { id, at, by, reason } => {
                            sqlx::query("UPDATE exceptions SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 WHERE id = $4 AND revoked_at IS NULL")
                                .bind(at).bind(by).bind(reason).bind(id)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::ExceptionExpired { id } => {
                            sqlx::query("UPDATE exceptions SET expiry_seq = $1 WHERE id = $2 AND expiry_seq IS NULL")
                                .bind(seq).bind(id)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Deployment(d) => {
                            sqlx::query("INSERT INTO deployments (seq, environment, artifact_name, artifact_digest, deployed_at, deployed_by) VALUES ($1, $2, $3, $4, $5, $6)")
                                .bind(seq).bind(&d.environment).bind(&d.artifact_name).bind(&d.artifact_digest).bind(&d.deployed_at).bind(&d.deployed_by)
                                .execute(&mut *conn).await.map_err(err)?;
                            sqlx::query("INSERT INTO inventory (environment, artifact_name, artifact_digest, deployed_at, seq) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (environment, artifact_name) DO UPDATE SET artifact_digest = excluded.artifact_digest, deployed_at = excluded.deployed_at, seq = excluded.seq")
                                .bind(&d.environment).bind(&d.artifact_name).bind(&d.artifact_digest).bind(&d.deployed_at).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::CheckpointKey { key_id, public_key } => {
                            sqlx::query("INSERT INTO checkpoint_keys (key_id, public_key, seq) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING")
                                .bind(key_id).bind(public_key).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Token(t) => {
                            sqlx::query("INSERT INTO api_tokens (id, name, role, digest, created_at, created_by, seq) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                                .bind(&t.id).bind(&t.name).bind(&t.role).bind(&t.digest).bind(&t.created_at).bind(&t.created_by).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Override(o) => {
                            sqlx::query("INSERT INTO overrides (decision_id, seq, actor, reason, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (decision_id) DO NOTHING")
                                .bind(&o.decision_id).bind(seq).bind(&o.actor).bind(&o.reason).bind(&o.at)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::TokenRevoked { id, at, by } => {
                            sqlx::query("UPDATE api_tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL")
                                .bind(at).bind(by).bind(id)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                    };
                    if i == 0 && change.only_if_new && n == 0 {
                        skip = true;
                        break;
                    }
                }
                if skip {
                    out.push(None);
                    continue;
                }
                summarize_decision!(conn, change, seq, err);
                let entry = chain.append(&change.kind, &change.body, &at)?;
                sqlx::query("INSERT INTO audit_log (seq, at, kind, body, body_digest, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(entry.seq as i64).bind(&entry.at).bind(&entry.kind).bind(&entry.body)
                    .bind(&entry.body_digest).bind(&entry.prev_hash).bind(&entry.hash)
                    .execute(&mut *conn).await.map_err(err)?;
                out.push(Some(entry));
            }
            if chain.last_seq() > start_seq {
                let last = sqlx::query("SELECT seq, at FROM checkpoints ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(err)?;
                let due = match last {
                    None => true,
                    Some(r) => {
                        let seq: i64 = col!(r, "seq");
                        let cp_at: String = col!(r, "at");
                        let old = DateTime::parse_from_rfc3339(&cp_at)
                            .map(|t| {
                                Utc::now().signed_duration_since(t.with_timezone(&Utc))
                                    >= chrono::Duration::from_std(inner.checkpoint_interval)
                                        .unwrap_or(chrono::Duration::MAX)
                            })
                            .unwrap_or(true);
                        chain.last_seq().saturating_sub(seq as u64) >= inner.checkpoint_every || old
                    }
                };
                if due {
                    let cp = chain.checkpoint(&inner.key, &at);
                    sqlx::query("INSERT INTO checkpoints (seq, hash, at, key_id, public_key, signature) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(cp.seq as i64).bind(&cp.hash).bind(&cp.at).bind(&cp.key_id).bind(&cp.public_key).bind(&cp.signature)
                        .execute(&mut *conn).await.map_err(err)?;
                }
            }
            Ok(out)
        }
    };
}

define_commit!(commit_sqlite, sqlx::SqliteConnection);
define_commit!(commit_postgres, sqlx::PgConnection);

/// One transaction for `changes`: serialized against every other writer of the database.
async fn commit(inner: &Inner, changes: &[&Change]) -> Result<Vec<Option<Entry>>, StoreError> {
    let err = |e: sqlx::Error| StoreError::db(&inner.location, e);
    match &inner.db {
        Db::Sqlite(pool) => {
            let mut conn = pool.acquire().await.map_err(err)?;
            // IMMEDIATE: take the write lock now, so the head read below is the real head.
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
            let out = commit_sqlite(&mut tx, inner, changes).await?;
            tx.commit().await.map_err(err)?;
            publish(inner, &out);
            Ok(out)
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await.map_err(err)?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(APPEND_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            let out = commit_postgres(&mut tx, inner, changes).await?;
            // Delivered to every listening replica when (and only if) the transaction commits.
            for e in out
                .iter()
                .flatten()
                .filter(|e| StoreEvent::is_live(&e.kind))
            {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANGES_CHANNEL)
                    .bind(format!("{}:{}", e.kind, e.seq))
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
            }
            tx.commit().await.map_err(err)?;
            publish(inner, &out);
            Ok(out)
        }
    }
}

/// Tell this process's subscribers about committed live changes.
fn publish(inner: &Inner, entries: &[Option<Entry>]) {
    for e in entries
        .iter()
        .flatten()
        .filter(|e| StoreEvent::is_live(&e.kind))
    {
        // No subscriber is not an error.
        let _ = inner.events.send(StoreEvent {
            kind: e.kind.clone(),
            seq: e.seq,
        });
    }
}

/// A stream of [`StoreEvent`]s: this process's changes, and on PostgreSQL every replica's
/// (LISTEN/NOTIFY). After anything that may have lost events (a dropped connection, a slow
/// reader) it yields a [`StoreEvent::RELOAD`].
pub struct Subscription {
    local: tokio::sync::broadcast::Receiver<StoreEvent>,
    remote: Remote,
}

/// Where other processes' changes come from.
enum Remote {
    /// PostgreSQL: LISTEN on [`CHANGES_CHANNEL`].
    Listen(Box<sqlx::postgres::PgListener>),
    /// SQLite has no notifications between processes (a CLI and a server on one file): poll
    /// the chain for live entries after the last one seen.
    Poll {
        pool: SqlitePool,
        last: i64,
        pending: std::collections::VecDeque<StoreEvent>,
    },
}

/// How often SQLite subscribers look for other processes' changes.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

impl Subscription {
    /// The next event (waits for it).
    pub async fn next(&mut self) -> StoreEvent {
        let reload = || StoreEvent {
            kind: StoreEvent::RELOAD.into(),
            seq: 0,
        };
        loop {
            let local = async {
                match self.local.recv().await {
                    Ok(e) => Some(e),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Some(reload()),
                    // The store is gone: nothing more will come from here.
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
                }
            };
            let remote = async {
                match &mut self.remote {
                    Remote::Poll {
                        pool,
                        last,
                        pending,
                    } => loop {
                        if let Some(e) = pending.pop_front() {
                            return Some(e);
                        }
                        tokio::time::sleep(POLL_INTERVAL).await;
                        let rows = sqlx::query(
                            "SELECT seq, kind FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 10000",
                        )
                        .bind(*last)
                        .fetch_all(&*pool)
                        .await;
                        match rows {
                            Ok(rows) => {
                                for r in rows {
                                    let (Ok(seq), Ok(kind)) = (
                                        r.try_get::<i64, _>("seq"),
                                        r.try_get::<String, _>("kind"),
                                    ) else {
                                        continue;
                                    };
                                    *last = seq;
                                    if StoreEvent::is_live(&kind) {
                                        pending.push_back(StoreEvent {
                                            kind,
                                            seq: seq as u64,
                                        });
                                    }
                                }
                            }
                            Err(_) => return Some(reload()),
                        }
                    },
                    Remote::Listen(l) => match l.try_recv().await {
                        Ok(Some(n)) => Some(parse_event(n.payload()).unwrap_or_else(reload)),
                        // The connection was lost (sqlx reconnects on the next call): whatever
                        // was sent meanwhile is lost, so reload everything.
                        Ok(None) => Some(reload()),
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            Some(reload())
                        }
                    },
                }
            };
            let got = tokio::select! {
                e = local => e,
                e = remote => e,
            };
            match got {
                Some(e) => return e,
                None => std::future::pending::<()>().await,
            }
        }
    }
}

fn parse_event(payload: &str) -> Option<StoreEvent> {
    let (kind, seq) = payload.rsplit_once(':')?;
    Some(StoreEvent {
        kind: kind.to_string(),
        seq: seq.parse().ok()?,
    })
}

/// The writer task: takes every job waiting, commits them together, answers each. When the
/// group fails (one bad change), each job is retried alone so that the others still land.
async fn writer(inner: Arc<Inner>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut count = jobs.iter().map(|j| j.changes.len()).sum::<usize>();
        while count < inner.max_batch {
            match rx.try_recv() {
                Ok(j) => {
                    count += j.changes.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let all: Vec<&Change> = jobs.iter().flat_map(|j| j.changes.iter()).collect();
        match commit(&inner, &all).await {
            Ok(entries) => {
                let mut entries = entries.into_iter();
                for job in jobs {
                    let mine: Vec<Option<Entry>> =
                        entries.by_ref().take(job.changes.len()).collect();
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Err(e) if jobs.len() == 1 => {
                if let Some(job) = jobs.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
            Err(_) => {
                for job in jobs {
                    let mine: Vec<&Change> = job.changes.iter().collect();
                    let _ = job.reply.send(commit(&inner, &mine).await);
                }
            }
        }
    }
}
