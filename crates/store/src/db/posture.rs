//! Stores the posture of what runs (`posture`: per environment and artifact, the state its
//! latest decision gives it and since when) and the snapshots of environments (`snapshots`:
//! the running set after each change); and the lease one replica holds to re-judge what runs.

use sqlx::Connection;

use super::pool::{Db, Store, on_db};
use crate::error::StoreError;
use crate::records::{DeploymentRow, PostureRow, SnapshotArtifact, SnapshotRow};

/// The PostgreSQL advisory lock of the replica that re-judges what runs ("PCLPOSTU").
pub const POSTURE_LEASE: i64 = 0x50434c504f535455;

/// A snapshot row as stored (its artifacts as JSON text).
#[derive(sqlx::FromRow)]
struct StoredSnapshot {
    seq: i64,
    environment: String,
    taken_at: String,
    cause: String,
    artifacts: String,
}

impl StoredSnapshot {
    fn parse(self) -> Result<SnapshotRow, StoreError> {
        let artifacts: Vec<SnapshotArtifact> =
            serde_json::from_str(&self.artifacts).map_err(|e| StoreError::Corrupt {
                what: format!("snapshot {} of {}", self.seq, self.environment),
                message: format!("its artifacts are not the stored JSON: {e}"),
            })?;
        Ok(SnapshotRow {
            seq: self.seq,
            environment: self.environment,
            taken_at: self.taken_at,
            cause: self.cause,
            artifacts,
        })
    }
}

/// Held by the one process that may re-judge what runs; dropping it lets another take over.
pub struct Lease {
    /// PostgreSQL: the session holding the advisory lock (the lock goes with it).
    _session: Option<sqlx::postgres::PgConnection>,
}

impl Lease {
    /// Whether the lease is still held. On PostgreSQL the lock lives as long as its session:
    /// when the database restarts (or the connection is cut) the lock is gone with it, and
    /// another replica may take it; the holder learns it here (its session does not answer
    /// within 5 s).
    pub async fn held(&mut self) -> bool {
        use sqlx::Connection as _;
        match self._session.as_mut() {
            None => true,
            Some(conn) => matches!(
                tokio::time::timeout(std::time::Duration::from_secs(5), conn.ping()).await,
                Ok(Ok(()))
            ),
        }
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").finish_non_exhaustive()
    }
}

impl Store {
    /// The posture of every running artifact (of one environment), each row checked against
    /// its audit entry.
    pub async fn posture(&self, environment: Option<&str>) -> Result<Vec<PostureRow>, StoreError> {
        match environment {
            Some(env) => {
                self.check_rows("posture", "WHERE environment = $1", &[env])
                    .await?
            }
            None => self.check_rows("posture", "", &[]).await?,
        }
        let sql = match environment {
            Some(_) => "SELECT * FROM posture WHERE environment = $1 ORDER BY artifact_name",
            None => "SELECT * FROM posture ORDER BY environment, artifact_name",
        };
        Ok(on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query_as(sql);
            if let Some(env) = environment { q = q.bind(env); }
            q.fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// The posture of one running artifact (checked).
    pub async fn posture_of(
        &self,
        environment: &str,
        artifact_name: &str,
    ) -> Result<Option<PostureRow>, StoreError> {
        let filter = "WHERE environment = $1 AND artifact_name = $2";
        self.check_rows("posture", filter, &[environment, artifact_name])
            .await?;
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT * FROM posture WHERE environment = $1 AND artifact_name = $2")
                .bind(environment).bind(artifact_name)
                .fetch_optional(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// How many running artifacts are in each state, per environment: (environment, state, n).
    /// A count for the overview, not checked row by row.
    pub async fn posture_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT environment, state, COUNT(*) FROM posture GROUP BY environment, state ORDER BY environment, state")
                .fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// What runs under `artifact_name` in `environment` (checked), if anything.
    pub async fn running(
        &self,
        environment: &str,
        artifact_name: &str,
    ) -> Result<Option<DeploymentRow>, StoreError> {
        let filter = "WHERE environment = $1 AND artifact_name = $2";
        self.check_rows("inventory", filter, &[environment, artifact_name])
            .await?;
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT seq, environment, artifact_name, artifact_digest, deployed_at, '' AS deployed_by FROM inventory WHERE environment = $1 AND artifact_name = $2")
                .bind(environment).bind(artifact_name)
                .fetch_optional(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// Where this exact digest runs now (checked).
    pub async fn running_digest(
        &self,
        artifact_digest: &str,
    ) -> Result<Vec<DeploymentRow>, StoreError> {
        self.check_rows(
            "inventory",
            "WHERE artifact_digest = $1",
            &[artifact_digest],
        )
        .await?;
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT seq, environment, artifact_name, artifact_digest, deployed_at, '' AS deployed_by FROM inventory WHERE artifact_digest = $1 ORDER BY environment, artifact_name")
                .bind(artifact_digest)
                .fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// The environments snapshots were taken of (names only, for reports; each snapshot read
    /// afterwards is checked).
    pub async fn snapshot_environments(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT DISTINCT environment FROM snapshots ORDER BY environment")
                .fetch_all(pool).await.map_err(|e| self.err(e))?
        });
        Ok(rows.into_iter().map(|(e,)| e).collect())
    }

    /// The snapshots of `environment`, newest first: those taken in [from, to) (RFC 3339
    /// bounds, either optional), at most `limit`. Each is checked against its audit entry.
    pub async fn snapshots(
        &self,
        environment: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SnapshotRow>, StoreError> {
        let mut filter = vec!["1 = 1".to_string()];
        let mut params: Vec<&str> = Vec::new();
        for (column, op, value) in [
            ("environment", "=", environment),
            ("taken_at", ">=", from),
            ("taken_at", "<", to),
        ] {
            if let Some(v) = value {
                params.push(v);
                filter.push(format!("{column} {op} ${}", params.len()));
            }
        }
        let filter = format!("WHERE {}", filter.join(" AND "));
        let sql = format!(
            "SELECT seq, environment, taken_at, cause, artifacts FROM snapshots {filter} ORDER BY seq DESC LIMIT {}",
            limit.max(0)
        );
        let rows: Vec<StoredSnapshot> = on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query_as(&sql);
            for p in &params { q = q.bind(*p); }
            q.fetch_all(pool).await.map_err(|e| self.err(e))?
        });
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let seq = r.seq.to_string();
            self.check_rows("snapshots", "WHERE seq = CAST($1 AS BIGINT)", &[&seq])
                .await?;
            out.push(r.parse()?);
        }
        Ok(out)
    }

    /// Snapshot `seq` (its audit entry's sequence number), checked.
    pub async fn snapshot(&self, seq: i64) -> Result<Option<SnapshotRow>, StoreError> {
        let text = seq.to_string();
        self.check_rows("snapshots", "WHERE seq = CAST($1 AS BIGINT)", &[&text])
            .await?;
        let row: Option<StoredSnapshot> = on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT seq, environment, taken_at, cause, artifacts FROM snapshots WHERE seq = $1")
                .bind(seq)
                .fetch_optional(pool).await.map_err(|e| self.err(e))?
        });
        row.map(StoredSnapshot::parse).transpose()
    }

    /// The sequence number of the newest entry of any of `kinds` (0 when there is none).
    pub async fn newest_of_kinds(&self, kinds: &[&str]) -> Result<u64, StoreError> {
        let mut newest = 0u64;
        for kind in kinds {
            let seq: Option<(Option<i64>,)> = on_db!(&self.inner.db, pool => {
                sqlx::query_as("SELECT MAX(seq) FROM audit_log WHERE kind = $1")
                    .bind(*kind)
                    .fetch_optional(pool).await.map_err(|e| self.err(e))?
            });
            if let Some((Some(s),)) = seq {
                newest = newest.max(u64::try_from(s).unwrap_or(0));
            }
        }
        Ok(newest)
    }

    /// The lease of the process that re-judges what runs, if no other holds it: on PostgreSQL
    /// a session advisory lock (released when the holder's connection ends, so a replica that
    /// dies hands over); on SQLite (one server per file) always granted.
    pub async fn try_lease(&self, key: i64) -> Result<Option<Lease>, StoreError> {
        match &self.inner.db {
            Db::Sqlite(_) => Ok(Some(Lease { _session: None })),
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await.map_err(|e| self.err(e))?.detach();
                let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(&mut conn)
                    .await
                    .map_err(|e| self.err(e))?;
                if got {
                    Ok(Some(Lease {
                        _session: Some(conn),
                    }))
                } else {
                    let _ = conn.close().await;
                    Ok(None)
                }
            }
        }
    }
}
