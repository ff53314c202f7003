//! Stores break-glass overrides of denied decisions (`overrides`).

use super::pool::{Store, on_db};
use crate::error::StoreError;
use crate::records::OverrideRow;

impl Store {
    /// The break-glass override of decision `id`, if there is one, checked against its audit
    /// entry (a forged row is [`StoreError::Tampered`]).
    pub async fn override_of(&self, id: &str) -> Result<Option<OverrideRow>, StoreError> {
        self.check_rows("overrides", "WHERE decision_id = $1", &[id])
            .await?;
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT * FROM overrides WHERE decision_id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(|e| self.err(e))?
        }))
    }
}
