//! Stores blocking advisories (`advisories`): OSV records and block rules, and their withdrawal.

use super::pool::{Store, on_db};
use crate::error::StoreError;
use crate::records::AdvisoryRow;

impl Store {
    /// Advisories, oldest first; withdrawn ones too when `all`. Each row is checked against
    /// its audit entries (a row that disagrees is [`StoreError::Tampered`]).
    pub async fn advisories(&self, all: bool) -> Result<Vec<AdvisoryRow>, StoreError> {
        let sql = if all {
            "SELECT * FROM advisories ORDER BY seq"
        } else {
            "SELECT * FROM advisories WHERE withdrawn_at IS NULL ORDER BY seq"
        };
        self.check_rows("advisories", "", &[]).await?;
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
            let mut q = sqlx::query_as(sql);
            if let Some(id) = id { q = q.bind(id); }
            q.fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }
}
