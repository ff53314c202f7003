//! Stores recorded decisions (`decisions`): verdict, artifact, environment, document digests.

use super::pool::{Store, on_db};
use crate::error::StoreError;
use crate::records::DecisionRow;

impl Store {
    /// Decision `id`, checked against its audit entry (a row that disagrees is
    /// [`StoreError::Tampered`]).
    pub async fn decision(&self, id: &str) -> Result<Option<DecisionRow>, StoreError> {
        let mut rows = self.decisions_where("WHERE id = $1", &[id], 1).await?;
        let row = rows.pop();
        if let Some(d) = &row {
            self.check_decision(d).await?;
        }
        Ok(row)
    }

    /// Check a decision row against its audit entry.
    async fn check_decision(&self, d: &DecisionRow) -> Result<(), StoreError> {
        self.check_rows("decisions", "WHERE id = $1", &[&d.id])
            .await?;
        // The row read for checking is the row returned (not changed in between).
        let again = self.decisions_where("WHERE id = $1", &[&d.id], 1).await?;
        if again.first() != Some(d) {
            return Err(StoreError::Tampered {
                table: "decisions".into(),
                key: format!("id={}", d.id),
                reason: "the row changed while it was checked".into(),
            });
        }
        Ok(())
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

    /// Decisions matching `filter` (a `WHERE` clause binding `params` as `$1`, `$2`, …), newest
    /// first, at most `limit` (none when negative).
    pub(super) async fn decisions_where(
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
            let mut q = sqlx::query_as(&sql);
            for p in params {
                q = q.bind(*p);
            }
            q.fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// The latest decision about this artifact digest in this environment, checked against
    /// its audit entry (a row that disagrees is [`StoreError::Tampered`]).
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
        let row = rows.pop();
        if let Some(d) = &row {
            self.check_decision(d).await?;
        }
        Ok(row)
    }

    /// The decisions about exactly this artifact digest, in every environment, newest first
    /// (at most `limit`): the history the promotion order is judged from.
    pub async fn decisions_of_digest(
        &self,
        artifact_digest: &str,
        limit: i64,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        self.decisions_where("WHERE artifact_digest = $1", &[artifact_digest], limit)
            .await
    }

    /// Ids of every recorded decision (oldest first).
    pub async fn decision_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT id FROM decisions ORDER BY seq")
                .fetch_all(pool).await.map_err(|e| self.err(e))?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
