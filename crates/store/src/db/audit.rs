//! Stores the audit chain: entries (`audit_log`), signed checkpoints, the head; verifies them.

use super::pool::{Store, now, on_db};
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
            seq: r.seq as u64,
            hash: r.hash,
            at: r.at,
            key_id: r.key_id,
            public_key: r.public_key,
            signature: r.signature,
        }
    }
}

/// Why `Store::verify` failed: the chain was tampered with, or the store could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    #[error("{0}")]
    Tamper(Tamper),
    #[error("{0}")]
    Store(StoreError),
}

impl Store {
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
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(pool).await.map_err(|e| self.err(e))?
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
        let rows: Vec<EntryRecord> = on_db!(&self.inner.db, pool => {
            sqlx::query_as(sql)
                .bind(from).bind(second)
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
            sqlx::query_as("SELECT seq, hash, at, key_id, public_key, signature FROM checkpoints ORDER BY seq")
                .fetch_all(pool).await.map_err(|e| self.err(e))?
        });
        Ok(rows.into_iter().map(Checkpoint::from).collect())
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
}
