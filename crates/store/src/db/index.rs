//! Stores the package index of new SBOMs (`components`) after the chain commit, in
//! transactions of its own.
//!
//! The index is derived data: the chain commit that stores a new SBOM writes its component rows
//! into `pending_components` (one row, compressed), and the indexer moves them into `components`
//! [`slice`] rows per transaction, each transaction also recording how far it got, and deletes
//! the pending row with the last slice. So a decision with a new 1,000-component SBOM holds the
//! chain writer for one insert instead of a thousand index updates (on SQLite, where every
//! writer shares one lock, the indexer takes it a slice at a time, queued fairly with the chain
//! commits by the in-process write lock).
//!
//! Nothing is lost when the process stops in between: the pending row is committed with the
//! chain, a slice with its progress. A store indexes what is pending when it opens, and
//! [`Store::deployed_with_package`] indexes whatever is still pending before it answers, so that
//! `advisory impact` never misses an SBOM.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use sqlx::Connection;
use tokio::sync::mpsc;

use super::pool::{Db, Inner, Store};
use crate::error::StoreError;
use crate::records::ComponentRow;

/// Rows of one multi-row component insert (6 parameters each).
pub(super) const COMPONENT_CHUNK: usize = 500;

/// Insert component rows in multi-row statements.
macro_rules! insert_components {
    ($conn:expr, $evidence:expr, $rows:expr, $err:expr) => {
        for chunk in $rows.chunks($crate::db::index::COMPONENT_CHUNK) {
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
pub(super) use insert_components;

/// Components per index transaction: on SQLite short enough that a chain commit queued behind
/// it waits a few milliseconds; PostgreSQL's index transactions do not hold the chain's lock.
fn slice(db: &Db) -> usize {
    match db {
        Db::Sqlite(_) => 32,
        Db::Postgres(_) => 2_000,
    }
}

/// The component rows as `pending_components` keeps them: a JSON array of `[purl_type,
/// namespace, name, version, purl]`, zstd-compressed.
pub(super) fn encode(rows: &[ComponentRow]) -> Result<Vec<u8>, StoreError> {
    let plain: Vec<[&str; 5]> = rows
        .iter()
        .map(|c| {
            [
                c.purl_type.as_str(),
                c.namespace.as_str(),
                c.name.as_str(),
                c.version.as_str(),
                c.purl.as_str(),
            ]
        })
        .collect();
    let json = serde_json::to_vec(&plain)
        .map_err(|e| StoreError::Invalid(format!("cannot encode component rows: {e}")))?;
    crate::records::compress(&json)
        .map_err(|e| StoreError::Invalid(format!("cannot compress component rows: {e}")))
}

fn decode(digest: &str, bytes: &[u8]) -> Result<Vec<ComponentRow>, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        what: format!("the pending component rows of {digest}"),
        message,
    };
    let json =
        zstd::stream::decode_all(bytes).map_err(|e| corrupt(format!("cannot decompress: {e}")))?;
    let plain: Vec<[String; 5]> =
        serde_json::from_slice(&json).map_err(|e| corrupt(format!("not component rows: {e}")))?;
    Ok(plain
        .into_iter()
        .map(|[purl_type, namespace, name, version, purl]| ComponentRow {
            purl_type,
            namespace,
            name,
            version,
            purl,
        })
        .collect())
}

/// One slice of one pending SBOM, in the transaction `conn` is in: returns whether the SBOM is
/// indexed whole now (or was, by another indexer). `rows` caches the decoded rows across slices.
macro_rules! define_slice {
    ($name:ident, $Conn:ty, $lock:literal) => {
        async fn $name(
            conn: &mut $Conn,
            inner: &Inner,
            digest: &str,
            rows: &mut Option<Vec<ComponentRow>>,
        ) -> Result<bool, StoreError> {
            let err = |e: sqlx::Error| StoreError::db(&inner.location, e);
            let pending: Option<(Vec<u8>, i64)> = sqlx::query_as(concat!(
                "SELECT rows, done FROM pending_components WHERE evidence_digest = $1",
                $lock
            ))
            .bind(digest)
            .fetch_optional(&mut *conn)
            .await
            .map_err(err)?;
            let Some((bytes, done)) = pending else {
                return Ok(true);
            };
            if rows.is_none() {
                *rows = Some(decode(digest, &bytes)?);
            }
            let all = rows.as_deref().unwrap_or_default();
            let from = usize::try_from(done).unwrap_or(0).min(all.len());
            let to = (from + slice(&inner.db)).min(all.len());
            let part = all.get(from..to).unwrap_or_default();
            insert_components!(&mut *conn, digest, part, err);
            if to >= all.len() {
                sqlx::query("DELETE FROM pending_components WHERE evidence_digest = $1")
                    .bind(digest)
                    .execute(&mut *conn)
                    .await
                    .map_err(err)?;
            } else {
                sqlx::query("UPDATE pending_components SET done = $1 WHERE evidence_digest = $2")
                    .bind(i64::try_from(to).unwrap_or(i64::MAX))
                    .bind(digest)
                    .execute(&mut *conn)
                    .await
                    .map_err(err)?;
            }
            Ok(to >= all.len())
        }
    };
}

define_slice!(slice_sqlite, sqlx::SqliteConnection, "");
define_slice!(slice_postgres, sqlx::PgConnection, " FOR UPDATE");

/// Index one pending SBOM whole, a slice per transaction.
async fn index_one(inner: &Inner, digest: &str) -> Result<(), StoreError> {
    let err = |e: sqlx::Error| StoreError::db(&inner.location, e);
    let mut rows = None;
    loop {
        let finished = match &inner.db {
            Db::Sqlite(pool) => {
                // Queued with the chain commits of this process (fairly: a commit waits for one
                // slice at most), and SQLite's lock against other processes.
                let _turn = inner.write_lock.lock().await;
                let mut conn = pool.acquire().await.map_err(err)?;
                // Derived data: a slice lost to a power cut is redone from the pending row,
                // which the chain commit wrote durably. No fsync per slice.
                sqlx::query("PRAGMA synchronous = NORMAL")
                    .execute(&mut *conn)
                    .await
                    .map_err(err)?;
                let done = async {
                    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
                    let finished = slice_sqlite(&mut tx, inner, digest, &mut rows).await?;
                    tx.commit().await.map_err(err)?;
                    Ok::<_, StoreError>(finished)
                }
                .await;
                if sqlx::query("PRAGMA synchronous = FULL")
                    .execute(&mut *conn)
                    .await
                    .is_err()
                {
                    // Never hand a connection that does not sync back to the pool.
                    conn.close_on_drop();
                }
                done?
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(err)?;
                let finished = slice_postgres(&mut tx, inner, digest, &mut rows).await?;
                tx.commit().await.map_err(err)?;
                finished
            }
        };
        if finished {
            return Ok(());
        }
    }
}

/// Index every pending SBOM; returns how many this call indexed.
pub(super) async fn index_pending(inner: &Inner) -> Result<usize, StoreError> {
    let err = |e: sqlx::Error| StoreError::db(&inner.location, e);
    let mut indexed = 0;
    loop {
        let next: Vec<(String,)> = super::pool::on_db!(&inner.db, pool => {
            sqlx::query_as("SELECT evidence_digest FROM pending_components ORDER BY evidence_digest LIMIT 64")
                .fetch_all(pool).await.map_err(err)?
        });
        if next.is_empty() {
            return Ok(indexed);
        }
        for (digest,) in next {
            index_one(inner, &digest).await?;
            indexed += 1;
        }
    }
}

/// The indexer task: indexes what is pending each time it is asked (after every commit that
/// stored a new SBOM, and once when the store opens). A failure is left pending: the next
/// request, or the next `deployed_with_package` (which reports it), tries again.
pub(super) async fn indexer(inner: Arc<Inner>, mut requests: mpsc::Receiver<()>) {
    while requests.recv().await.is_some() {
        if !inner.index_paused.load(Ordering::Relaxed) {
            let _ = index_pending(&inner).await;
        }
    }
}

impl Store {
    /// Index the components of every SBOM stored but not indexed yet (the indexer does so in
    /// the background; this waits for it). Returns how many SBOMs this call indexed.
    pub async fn index_pending(&self) -> Result<usize, StoreError> {
        index_pending(&self.inner).await
    }

    /// Stop (or resume) indexing new SBOMs in the background: tests use it to stand for a
    /// process that stopped between the chain commit and the index. `deployed_with_package`
    /// still indexes what is pending.
    #[doc(hidden)]
    pub fn pause_indexing(&self, paused: bool) {
        self.inner.index_paused.store(paused, Ordering::Relaxed);
    }
}
