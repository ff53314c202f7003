//! Stores the audit chain: entries (`audit_log`), signed checkpoints, the head; verifies them.

use std::collections::HashMap;

use serde_json::Value;

use super::pool::{Inner, Store, Witness, now, on_db};
use super::scan::{Batch, Read};
use super::tables::{Finding, TABLES, check_tables, checked_kinds};
use crate::chain::{Chain, ChainCheck, Checkpoint, Entry, Tamper, Verified};
use crate::error::StoreError;
use crate::records::kinds;

/// Entries read per query while verifying.
const VERIFY_CHUNK: i64 = 50_000;

/// An `audit_log` row. A sequence number is read as the database has it and reinterpreted as
/// unsigned (a negative one, which only tampering writes, becomes one the verifier names instead
/// of a read error).
#[derive(sqlx::FromRow)]
struct EntryRecord {
    seq: i64,
    at: String,
    kind: String,
    body: String,
    body_digest: String,
    prev_hash: String,
    hash: String,
}

impl From<EntryRecord> for Entry {
    fn from(r: EntryRecord) -> Self {
        Entry {
            seq: r.seq as u64,
            at: r.at,
            kind: r.kind,
            body: r.body,
            body_digest: r.body_digest,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// A `checkpoints` row (the sequence number as for [`EntryRecord`]).
#[derive(sqlx::FromRow)]
struct CheckpointRecord {
    version: i32,
    seq: i64,
    hash: String,
    at: String,
    key_id: String,
    public_key: String,
    signature: String,
}

impl From<CheckpointRecord> for Checkpoint {
    fn from(r: CheckpointRecord) -> Self {
        Checkpoint {
            version: u8::try_from(r.version).unwrap_or(0),
            seq: r.seq as u64,
            hash: r.hash,
            at: r.at,
            key_id: r.key_id,
            public_key: r.public_key,
            signature: r.signature,
        }
    }
}

/// Why `Store::verify` failed: the chain was tampered with, table rows disagree with it, or
/// the store could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    #[error("{0}")]
    Tamper(Tamper),
    /// The chain holds, but rows of the tables the firewall acts on disagree with it (each
    /// named by table and key).
    #[error("{}", list(.0))]
    Tables(Vec<Finding>),
    #[error("{0}")]
    Store(StoreError),
}

fn list(findings: &[Finding]) -> String {
    let mut out = format!(
        "{} table row(s) disagree with the audit chain:",
        findings.len()
    );
    for f in findings {
        out.push_str(&format!("\n  {f}"));
    }
    out
}

/// What `Store::verify_with` checks beyond the chain itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The public key (hex) every checkpoint must be signed by.
    pub trusted_key: Option<String>,
    /// Checkpoints kept outside the database (a file, a witness directory): a chain whose head
    /// is behind one is truncated, one that differs from one was rewritten.
    pub witnessed: Vec<Checkpoint>,
    /// Told how many entries are checked so far, after each batch read (a progress bar).
    pub progress: Progress,
}

/// A callback told the number of entries checked so far ([`VerifyOptions::progress`]).
#[derive(Clone, Default)]
pub struct Progress(Option<std::sync::Arc<dyn Fn(u64) + Send + Sync>>);

impl Progress {
    pub fn new(f: impl Fn(u64) + Send + Sync + 'static) -> Self {
        Progress(Some(std::sync::Arc::new(f)))
    }

    fn tell(&self, checked: u64) {
        if let Some(f) = &self.0 {
            f(checked);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(set)"
        } else {
            "Progress(none)"
        })
    }
}

/// What reading the chain gathered for the checks after it.
struct Scanned {
    verified: Verified,
    /// Checkpoint keys the chain registered: (entry, public key in lowercase hex).
    registered: Vec<(u64, String)>,
    /// The entries of the kinds the table checks read, by sequence number, each with the
    /// members of its body they read (the entry's own `body` left empty).
    recorded: HashMap<u64, (Entry, Value)>,
}

/// Check the chain as the reader hands it over (on a blocking thread): links, hashes,
/// checkpoints, and gather what the later checks need.
fn check_stream(
    mut rx: tokio::sync::mpsc::Receiver<Batch>,
    checkpoints: &[Checkpoint],
    trusted_key: Option<&str>,
    progress: &Progress,
) -> Result<Scanned, VerifyFailure> {
    let mut checked = 0u64;
    let mut check = ChainCheck::new(checkpoints, trusted_key).map_err(VerifyFailure::Tamper)?;
    let mut registered: Vec<(u64, String)> = Vec::new();
    let mut recorded: HashMap<u64, (Entry, Value)> = HashMap::new();
    let mut first = true;
    while let Some(batch) = rx.blocking_recv() {
        let Read {
            entries: batch,
            recorded: picked,
        } = batch.map_err(VerifyFailure::Store)?;
        // The store's chain starts at entry 1: a later first entry means the oldest were
        // deleted (an exported segment may start later; the store's own chain may not).
        if first {
            if let Some(f) = batch.first().filter(|f| f.seq != 1) {
                return Err(VerifyFailure::Tamper(Tamper::Deleted {
                    expected: 1,
                    found: f.seq,
                }));
            }
            first = batch.is_empty();
        }
        for e in batch.iter().filter(|e| e.kind == kinds::CHECKPOINT_KEY) {
            if let Ok(v) = serde_json::from_str::<Value>(&e.body)
                && let Some(k) = v.get("public_key").and_then(|k| k.as_str())
            {
                registered.push((e.seq, k.to_ascii_lowercase()));
            }
        }
        recorded.extend(picked.into_iter().map(|(e, body)| (e.seq, (e, body))));
        checked += batch.len() as u64;
        check.feed(batch).map_err(VerifyFailure::Tamper)?;
        progress.tell(checked);
    }
    let verified = check.finish().map_err(VerifyFailure::Tamper)?;
    Ok(Scanned {
        verified,
        registered,
        recorded,
    })
}

/// Write the newest stored checkpoint to the witness directory, if one is set and it is new
/// there. Best effort: the change is committed already; a failure is kept for
/// [`Store::witness_failure`] until a write succeeds.
pub(super) async fn witness_latest(inner: &Inner) {
    let last_written = match inner.witness.lock() {
        Ok(w) => match w.as_ref() {
            Some(w) => w.written,
            None => return,
        },
        Err(_) => return,
    };
    let latest: Result<Option<CheckpointRecord>, sqlx::Error> = on_db!(&inner.db, pool => {
        sqlx::query_as("SELECT version, seq, hash, at, key_id, public_key, signature FROM checkpoints ORDER BY seq DESC LIMIT 1")
            .fetch_optional(pool).await
    });
    let cp = match latest {
        Ok(Some(r)) => Checkpoint::from(r),
        Ok(None) => return,
        Err(e) => {
            if let Ok(mut w) = inner.witness.lock()
                && let Some(w) = w.as_mut()
            {
                w.failed = Some(format!("cannot read the newest checkpoint: {e}"));
            }
            return;
        }
    };
    if cp.seq <= last_written && last_written != 0 {
        return;
    }
    if let Ok(mut w) = inner.witness.lock()
        && let Some(w) = w.as_mut()
    {
        match crate::witness::write(&w.dir, &cp) {
            Ok(_) => {
                w.written = cp.seq;
                w.failed = None;
            }
            Err(e) => w.failed = Some(e.to_string()),
        }
    }
}

impl Store {
    /// Write each new checkpoint (and the newest one now) to `dir` too: a witness outside the
    /// database, which `verify_with` checks the chain against.
    pub async fn witness_to(&self, dir: &std::path::Path) -> Result<(), StoreError> {
        if let Ok(mut w) = self.inner.witness.lock() {
            *w = Some(Witness {
                dir: dir.to_path_buf(),
                written: 0,
                failed: None,
            });
        }
        self.checkpoint().await?;
        witness_latest(&self.inner).await;
        match self.witness_failure() {
            Some(e) => Err(StoreError::Invalid(format!("witness directory: {e}"))),
            None => Ok(()),
        }
    }

    /// Why the last witness write failed (None when it succeeded or no witness is set).
    pub fn witness_failure(&self) -> Option<String> {
        self.inner
            .witness
            .lock()
            .ok()
            .and_then(|w| w.as_ref().and_then(|w| w.failed.clone()))
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
            sqlx::query("INSERT INTO checkpoints (seq, hash, at, key_id, public_key, signature, version) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (seq) DO NOTHING")
                .bind(cp2.seq as i64).bind(&cp2.hash).bind(&cp2.at).bind(&cp2.key_id).bind(&cp2.public_key).bind(&cp2.signature).bind(i32::from(cp2.version))
                .execute(pool).await.map_err(|e| self.err(e))?;
        });
        witness_latest(&self.inner).await;
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
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// The time of the last entry (RFC 3339 UTC, milliseconds), if there is one. Entry times
    /// never go backwards along the chain, so this is the latest time the store has recorded.
    pub async fn head_time(&self) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT at FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(pool).await.map_err(|e| self.err(e))?
        });
        Ok(row.map(|(at,)| at))
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
        let rows: Vec<EntryRecord> = on_db!(&self.inner.db, pool => {
            sqlx::query_as(sql)
                .bind(from).bind(second)
                .fetch_all(pool).await.map_err(|e| self.err(e))?
        });
        Ok(rows.into_iter().map(Entry::from).collect())
    }

    /// Up to `limit` entries after `after` whose kind starts with `prefix` (`watch.`,
    /// `deployment.recorded`), in sequence order.
    pub async fn entries_with_prefix(
        &self,
        prefix: &str,
        after: u64,
        limit: i64,
    ) -> Result<Vec<Entry>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows: Vec<EntryRecord> = on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT seq, at, kind, body, body_digest, prev_hash, hash FROM audit_log WHERE seq > $1 AND substr(kind, 1, length($2)) = $2 ORDER BY seq LIMIT $3")
                .bind(after).bind(prefix).bind(limit)
                .fetch_all(pool).await.map_err(|e| self.err(e))?
        });
        Ok(rows.into_iter().map(Entry::from).collect())
    }

    pub async fn entry(&self, seq: u64) -> Result<Option<Entry>, StoreError> {
        Ok(self.entries(seq, seq).await?.pop())
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

    /// Every stored checkpoint, by sequence number.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let rows: Vec<CheckpointRecord> = on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT version, seq, hash, at, key_id, public_key, signature FROM checkpoints ORDER BY seq")
                .fetch_all(pool).await.map_err(|e| self.err(e))?
        });
        Ok(rows.into_iter().map(Checkpoint::from).collect())
    }

    /// Every entry of `kind`, in order.
    pub(crate) async fn entries_of_kind(&self, kind: &str) -> Result<Vec<Entry>, StoreError> {
        let rows: Vec<EntryRecord> = on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT seq, at, kind, body, body_digest, prev_hash, hash FROM audit_log WHERE kind = $1 ORDER BY seq")
                .bind(kind)
                .fetch_all(pool).await.map_err(|e| self.err(e))?
        });
        Ok(rows.into_iter().map(Entry::from).collect())
    }

    /// The newest stored checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        Ok(self.checkpoints().await?.pop())
    }

    /// The newest signed checkpoint: (seq, signed at).
    pub async fn last_checkpoint(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT seq, at FROM checkpoints ORDER BY seq DESC LIMIT 1")
                .fetch_optional(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// Verify the whole chain and every checkpoint: names the first bad entry. Every
    /// checkpoint must be signed by `trusted_key` when given, else by a key the chain itself
    /// registered (a `checkpoint-key.registered` entry before the checkpoint).
    pub async fn verify(&self, trusted_key: Option<&str>) -> Result<Verified, VerifyFailure> {
        self.verify_with(&VerifyOptions {
            trusted_key: trusted_key.map(str::to_string),
            ..VerifyOptions::default()
        })
        .await
    }

    /// [`Store::verify`], and the chain's head checked against checkpoints kept outside the
    /// database, and every table the firewall acts on checked against the chain (all
    /// disagreeing rows are reported, each by table and key).
    ///
    /// The chain is read by a reader of its own ([`Store::scan_chain`]: rusqlite on SQLite,
    /// binary COPY on PostgreSQL) and checked on a blocking thread while the next rows are read.
    pub async fn verify_with(&self, options: &VerifyOptions) -> Result<Verified, VerifyFailure> {
        let stored = self.checkpoints().await.map_err(VerifyFailure::Store)?;
        let mut checkpoints = stored.clone();
        checkpoints.extend(options.witnessed.iter().cloned());
        let rx = self.scan_chain();
        let trusted = options.trusted_key.clone();
        let progress = options.progress.clone();
        let (scanned, checkpoints) = tokio::task::spawn_blocking(move || {
            let scanned = check_stream(rx, &checkpoints, trusted.as_deref(), &progress);
            (scanned, checkpoints)
        })
        .await
        .map_err(|e| VerifyFailure::Store(self.err(format!("the chain check stopped: {e}"))))?;
        let Scanned {
            verified,
            registered,
            recorded,
        } = scanned?;
        self.finish_verify(
            options.trusted_key.as_deref(),
            &stored,
            &checkpoints,
            verified,
            &registered,
            &recorded,
        )
        .await
    }

    /// What `verify_with` checks once the chain is read: checkpoints present and registered,
    /// the tables against the entries.
    async fn finish_verify(
        &self,
        trusted_key: Option<&str>,
        stored: &[Checkpoint],
        checkpoints: &[Checkpoint],
        verified: Verified,
        registered: &[(u64, String)],
        recorded: &HashMap<u64, (Entry, Value)>,
    ) -> Result<Verified, VerifyFailure> {
        let wanted = checked_kinds();
        // Every commit that appends signs a checkpoint when none exists: a chain without one
        // had them deleted.
        if verified.entries > 0 && stored.is_empty() {
            return Err(VerifyFailure::Tamper(Tamper::BadCheckpoint {
                seq: 0,
                reason: "the chain has entries but no signed checkpoint: they were deleted".into(),
            }));
        }
        if trusted_key.is_none() {
            for c in checkpoints {
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
        let mut tables = Vec::new();
        for t in TABLES {
            let rows = self.all_table_rows(t).await.map_err(VerifyFailure::Store)?;
            tables.push((t, rows));
        }
        let bound = recorded
            .keys()
            .max()
            .copied()
            .unwrap_or(0)
            .max(verified.entries);
        // Entries appended while the tables were read (re-judging writes in the background):
        // the rows they wrote, replaced or removed are left to the next check.
        let later: Vec<(Entry, Value)> = self
            .entries(bound + 1, u64::MAX)
            .await
            .map_err(VerifyFailure::Store)?
            .into_iter()
            .filter(|e| wanted.contains(&e.kind.as_str()))
            .map(|e| {
                let body = serde_json::from_str(&e.body).unwrap_or(Value::Null);
                (e, body)
            })
            .collect();
        let findings = check_tables(&tables, recorded, bound, &later);
        if !findings.is_empty() {
            return Err(VerifyFailure::Tables(findings));
        }
        Ok(verified)
    }

    /// `verify_with` as it was before the chain had a reader of its own: reads of 50,000
    /// entries through sqlx, each checked after it is read, every checked body parsed whole.
    /// Kept only as the baseline of `benches/store_load` (firewall crate); not for use.
    #[doc(hidden)]
    pub async fn verify_with_baseline(
        &self,
        options: &VerifyOptions,
    ) -> Result<Verified, VerifyFailure> {
        let trusted_key = options.trusted_key.as_deref();
        let stored = self.checkpoints().await.map_err(VerifyFailure::Store)?;
        let mut checkpoints = stored.clone();
        checkpoints.extend(options.witnessed.iter().cloned());
        let wanted = checked_kinds();
        let mut recorded: HashMap<u64, (Entry, Value)> = HashMap::new();
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
            for e in chunk.iter().filter(|e| wanted.contains(&e.kind.as_str())) {
                let body = serde_json::from_str(&e.body).unwrap_or(Value::Null);
                recorded.insert(e.seq, (e.clone(), body));
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
        if verified.entries > 0 && stored.is_empty() {
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
        let mut tables = Vec::new();
        for t in TABLES {
            let rows = self
                .table_rows(t, "", &[])
                .await
                .map_err(VerifyFailure::Store)?;
            tables.push((t, rows));
        }
        let bound = recorded
            .keys()
            .max()
            .copied()
            .unwrap_or(0)
            .max(verified.entries);
        // Entries appended while the tables were read (re-judging writes in the background):
        // the rows they wrote, replaced or removed are left to the next check.
        let later: Vec<(Entry, Value)> = self
            .entries(bound + 1, u64::MAX)
            .await
            .map_err(VerifyFailure::Store)?
            .into_iter()
            .filter(|e| wanted.contains(&e.kind.as_str()))
            .map(|e| {
                let body = serde_json::from_str(&e.body).unwrap_or(Value::Null);
                (e, body)
            })
            .collect();
        let findings = check_tables(&tables, &recorded, bound, &later);
        if !findings.is_empty() {
            return Err(VerifyFailure::Tables(findings));
        }
        Ok(verified)
    }
}

/// The re-hash of a format-1 chain to format 2 in one transaction, expanded per backend. Returns
/// false when another process migrated it first.
macro_rules! define_migrate {
    ($name:ident, $Conn:ty) => {
        async fn $name(
            conn: &mut $Conn,
            store: &Store,
        ) -> Result<bool, StoreError> {
            let err = |e: sqlx::Error| store.err(e);
            let claimed = sqlx::query("UPDATE chain_format SET version = 2 WHERE id = 1 AND version = 1")
                .execute(&mut *conn).await.map_err(err)?.rows_affected();
            if claimed == 0 {
                return Ok(false);
            }
            let rows: Vec<EntryRecord> = sqlx::query_as("SELECT seq, at, kind, body, body_digest, prev_hash, hash FROM audit_log ORDER BY seq")
                .fetch_all(&mut *conn).await.map_err(err)?;
            let mut prev = crate::chain::GENESIS.to_string();
            let mut v1_head: Option<(u64, String)> = None;
            for r in rows {
                let e = Entry::from(r);
                let hash = crate::chain::entry_hash(e.seq, &e.at, &e.kind, &e.body_digest, &prev);
                sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3")
                    .bind(&prev).bind(&hash).bind(e.seq as i64)
                    .execute(&mut *conn).await.map_err(err)?;
                v1_head = Some((e.seq, e.hash));
                prev = hash;
            }
            let (head_seq, head_v1) = v1_head.unwrap_or((0, crate::chain::GENESIS.to_string()));
            let mut chain = Chain::at(head_seq, &prev);
            let at = now();
            let entry = chain.append(
                kinds::CHAIN_MIGRATED,
                &serde_json::json!({
                    "from_version": 1,
                    "to_version": crate::chain::FORMAT,
                    "v1_head": {"seq": head_seq, "hash": head_v1},
                }),
                &at,
            )?;
            sqlx::query("INSERT INTO audit_log (seq, at, kind, body, body_digest, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(entry.seq as i64).bind(&entry.at).bind(&entry.kind).bind(&entry.body)
                .bind(&entry.body_digest).bind(&entry.prev_hash).bind(&entry.hash)
                .execute(&mut *conn).await.map_err(err)?;
            let cp = chain.checkpoint(&store.inner.key, &at);
            sqlx::query("INSERT INTO checkpoints (seq, hash, at, key_id, public_key, signature, version) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(cp.seq as i64).bind(&cp.hash).bind(&cp.at).bind(&cp.key_id).bind(&cp.public_key).bind(&cp.signature).bind(i32::from(cp.version))
                .execute(&mut *conn).await.map_err(err)?;
            Ok(true)
        }
    };
}

define_migrate!(migrate_sqlite, sqlx::SqliteConnection);
define_migrate!(migrate_postgres, sqlx::PgConnection);

impl Store {
    /// The entry hash format of the stored chain.
    pub async fn chain_format(&self) -> Result<u8, StoreError> {
        let v: Option<(i32,)> = on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT version FROM chain_format WHERE id = 1")
                .fetch_optional(pool).await.map_err(|e| self.err(e))?
        });
        Ok(v.and_then(|(v,)| u8::try_from(v).ok())
            .unwrap_or(crate::chain::FORMAT))
    }

    /// Migrate a format-1 chain to format 2: verify it as format 1 (with its checkpoints) —
    /// a chain that does not verify is not migrated, and the store does not open — then
    /// re-hash every entry and record the migration as an entry pinning the format-1 head.
    pub(super) async fn migrate_chain(&self) -> Result<(), StoreError> {
        if self.chain_format().await? != 1 {
            return Ok(());
        }
        let checkpoints = self.checkpoints().await?;
        let refused = |t: Tamper| StoreError::Tampered {
            table: "audit_log".into(),
            key: "format 1".into(),
            reason: format!(
                "the chain does not verify in hash format 1, so it is not migrated to format 2: {t}"
            ),
        };
        let mut check = ChainCheck::with_format(&checkpoints, None, 1).map_err(refused)?;
        let mut next = 1u64;
        loop {
            let chunk = self.entries_after(next, VERIFY_CHUNK).await?;
            let Some(last) = chunk.last() else { break };
            next = last.seq + 1;
            let n = chunk.len() as i64;
            check.feed(chunk).map_err(refused)?;
            if n < VERIFY_CHUNK {
                break;
            }
        }
        check.finish().map_err(refused)?;
        let err = |e: sqlx::Error| self.err(e);
        match &self.inner.db {
            super::pool::Db::Sqlite(pool) => {
                use sqlx::Connection;
                let mut conn = pool.acquire().await.map_err(err)?;
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
                if migrate_sqlite(&mut tx, self).await? {
                    tx.commit().await.map_err(err)?;
                }
            }
            super::pool::Db::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(err)?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(super::pool::APPEND_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                if migrate_postgres(&mut tx, self).await? {
                    tx.commit().await.map_err(err)?;
                }
            }
        }
        Ok(())
    }
}
