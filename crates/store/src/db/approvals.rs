//! Stores approvals (`approvals`) and the verification and exposure results the firewall
//! recorded (`recorded_facts`).

use super::pool::{Store, on_db};
use crate::error::StoreError;
use crate::records::{ApprovalRow, RecordedFactRow};

impl Store {
    /// Approvals, newest first: of one artifact digest and environment when given; only those
    /// not revoked unless `all` (expiry is the firewall's to judge: it owns the clock).
    pub async fn approvals(
        &self,
        artifact_digest: Option<&str>,
        environment: Option<&str>,
        all: bool,
    ) -> Result<Vec<ApprovalRow>, StoreError> {
        let mut clauses = Vec::new();
        let mut params: Vec<&str> = Vec::new();
        if let Some(d) = artifact_digest {
            params.push(d);
            clauses.push(format!("artifact_digest = ${}", params.len()));
        }
        if let Some(e) = environment {
            params.push(e);
            clauses.push(format!("environment = ${}", params.len()));
        }
        // Every row selected is checked against its audit entries first (a row that disagrees,
        // or a revocation on the record missing from the table, is `StoreError::Tampered`).
        let checked = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        self.check_rows("approvals", &checked, &params).await?;
        if !all {
            clauses.push("revoked_at IS NULL".to_string());
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!("SELECT * FROM approvals {filter} ORDER BY seq DESC");
        let rows: Vec<ApprovalRow> = on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query_as(&sql);
            for p in &params {
                q = q.bind(*p);
            }
            q.fetch_all(pool).await.map_err(|e| self.err(e))?
        });
        let live: Vec<String> = rows
            .iter()
            .filter(|a| a.revoked_at.is_none())
            .map(|a| a.id.clone())
            .collect();
        self.check_not_undone("approvals", "revoke_seq", &live)
            .await?;
        Ok(rows)
    }

    /// One approval by id, checked against its audit entries.
    pub async fn approval(&self, id: &str) -> Result<Option<ApprovalRow>, StoreError> {
        self.check_rows("approvals", "WHERE id = $1", &[id]).await?;
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT * FROM approvals WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(|e| self.err(e))?
        }))
    }

    /// The recorded facts about this artifact digest in this environment, oldest first.
    pub async fn recorded_facts(
        &self,
        artifact_digest: &str,
        environment: &str,
    ) -> Result<Vec<RecordedFactRow>, StoreError> {
        self.check_rows(
            "recorded_facts",
            "WHERE artifact_digest = $1 AND environment = $2",
            &[artifact_digest, environment],
        )
        .await?;
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT * FROM recorded_facts WHERE artifact_digest = $1 AND environment = $2 ORDER BY seq")
                .bind(artifact_digest)
                .bind(environment)
                .fetch_all(pool)
                .await
                .map_err(|e| self.err(e))?
        }))
    }
}
