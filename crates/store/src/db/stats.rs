//! Keeps PostgreSQL's planner statistics of the store's tables current as they grow, when the
//! server's autovacuum does not (it may be off, or not yet have come round).
//!
//! Why the store does it: sqlx prepares each statement once per connection, and PostgreSQL keeps
//! a prepared statement's plan until the statistics of its tables change. A long-running server
//! prepares its statements on the tables of a new store, nearly empty, where a sequential scan is
//! the cheapest plan; without an `ANALYZE` that plan stays as the tables grow. Seen in the
//! 30-minute soak on a PostgreSQL with `autovacuum = off`: the history's and the dashboard's
//! reads scanned `decisions`, `decision_summary` and `blobs` whole, 80 times a second, and the
//! server fell from 455 to under 250 requests a second in three minutes; one `ANALYZE` brought
//! back the index scans. With autovacuum on, it analyzes a table once 50 rows plus 10 % of it
//! have changed (`autovacuum_analyze_threshold`, `autovacuum_analyze_scale_factor`), and finds
//! little left to do here.
//!
//! What it does: after commits (at most once per `StoreConfig::statistics_interval`), it asks
//! `pg_stat_user_tables` which tables of the store's schema have changed by more than that same
//! threshold since their last analyze, and analyzes those. Nothing else (no `VACUUM`: that stays
//! the server's or its operator's). A failure is reported in the log and tried again after the
//! next commits; it never fails a write.

use std::sync::Arc;

use sqlx::postgres::PgPool;
use tokio::sync::mpsc;

use super::pool::{Db, Inner, Store};
use crate::error::StoreError;

/// Rows changed since the last analyze, beyond which a table is analyzed: autovacuum's
/// defaults (`autovacuum_analyze_threshold` + `autovacuum_analyze_scale_factor` × rows).
const ANALYZE_BASE_ROWS: f64 = 50.0;
const ANALYZE_SCALE: f64 = 0.1;

/// The store's tables (of the connection's schema) whose statistics are out of date.
async fn stale_tables(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    // `reltuples` is -1 for a table never analyzed: counted as empty.
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT s.relname::text FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE s.schemaname = current_schema() AND s.relname <> '_sqlx_migrations' \
         AND s.n_mod_since_analyze > $1 + $2 * GREATEST(c.reltuples, 0) ORDER BY s.relname",
    )
    .bind(ANALYZE_BASE_ROWS)
    .bind(ANALYZE_SCALE)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

/// Analyze the stale tables; returns their names.
async fn refresh(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let tables = stale_tables(pool).await?;
    for table in &tables {
        // The name comes from the catalogue, quoted as an identifier all the same.
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        sqlx::query(&format!("ANALYZE {quoted}"))
            .execute(pool)
            .await?;
    }
    Ok(tables)
}

/// Whether the PostgreSQL server runs autovacuum (None: it could not be read).
async fn autovacuum_on(pool: &PgPool) -> Option<bool> {
    let (v,): (String,) = sqlx::query_as("SELECT current_setting('autovacuum')")
        .fetch_one(pool)
        .await
        .ok()?;
    Some(v == "on")
}

/// The statistics task (PostgreSQL only): woken after commits, refreshes at most once per
/// interval.
pub(super) async fn maintainer(inner: Arc<Inner>, mut commits: mpsc::Receiver<()>) {
    let Db::Postgres(pool) = &inner.db else {
        return;
    };
    let mut failed = false;
    let mut first = true;
    while commits.recv().await.is_some() {
        // The interval first: a backend reports the rows it changed about a second after its
        // commit, and the commits of the interval are read in one check (they wake this task
        // at most once more). A short-lived process (a CLI gate) ends before it: no query and
        // no warning at its start.
        tokio::time::sleep(inner.statistics_interval).await;
        if std::mem::take(&mut first) && autovacuum_on(pool).await == Some(false) {
            tracing::warn!(
                store = %inner.location,
                "PostgreSQL's autovacuum is off: the store analyzes its own tables as they grow, \
                 but nothing vacuums them (turn autovacuum on, or schedule VACUUM)"
            );
        }
        match refresh(pool).await {
            Ok(tables) => {
                if !tables.is_empty() {
                    tracing::debug!(store = %inner.location, ?tables, "analyzed");
                }
                failed = false;
            }
            // Once per run of failures: the database being away is reported elsewhere.
            Err(e) if !failed => {
                failed = true;
                tracing::warn!(store = %inner.location, error = %e, "cannot refresh the planner statistics");
            }
            Err(_) => {}
        }
    }
}

impl Store {
    /// Analyze the tables whose planner statistics are out of date now, as the background
    /// task does after commits, and return their names (always empty on SQLite, whose
    /// planner needs no statistics to use the store's indexes).
    pub async fn refresh_statistics(&self) -> Result<Vec<String>, StoreError> {
        match &self.inner.db {
            Db::Sqlite(_) => Ok(Vec::new()),
            Db::Postgres(pool) => refresh(pool).await.map_err(|e| self.err(e)),
        }
    }
}
