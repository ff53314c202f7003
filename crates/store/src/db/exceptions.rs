//! Stores granted exceptions (`exceptions`): body, expiry, revocation, and expiry on the record.

use chrono::{DateTime, Utc};

use super::pool::{Store, on_db};
use crate::error::StoreError;
use crate::records::{Change, ExceptionRow, Write, kinds};

impl Store {
    /// Exceptions, oldest first; revoked ones too when `all`. Each row is checked against its
    /// audit entries, and no revocation on the record may be missing from the table (a row
    /// that disagrees is [`StoreError::Tampered`]).
    pub async fn exceptions(&self, all: bool) -> Result<Vec<ExceptionRow>, StoreError> {
        let sql = if all {
            "SELECT * FROM exceptions ORDER BY seq"
        } else {
            "SELECT * FROM exceptions WHERE revoked_at IS NULL ORDER BY seq"
        };
        self.check_rows("exceptions", "", &[]).await?;
        let rows = self.exception_rows(sql, None).await?;
        let live: Vec<String> = rows
            .iter()
            .filter(|x| x.revoked_at.is_none())
            .map(|x| x.id.clone())
            .collect();
        self.check_not_undone("exceptions", "revoked_seq", &live)
            .await?;
        Ok(rows)
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
            let mut q = sqlx::query_as(sql);
            if let Some(id) = id { q = q.bind(id); }
            q.fetch_all(pool).await.map_err(|e| self.err(e))?
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
}
