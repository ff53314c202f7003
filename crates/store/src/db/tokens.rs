//! Stores the server's API tokens (`api_tokens`): name, role, secret digest, revocation.

use super::pool::{Store, on_db};
use crate::error::StoreError;
use crate::records::TokenRow;

impl Store {
    /// An API token by the digest of its secret (revoked ones too: the caller checks),
    /// checked against its audit entries (a changed role or digest, or a revocation undone, is
    /// [`StoreError::Tampered`]).
    pub async fn token_by_digest(&self, digest: &str) -> Result<Option<TokenRow>, StoreError> {
        self.check_rows("api_tokens", "WHERE digest = $1", &[digest])
            .await?;
        let row = self
            .token_rows("SELECT * FROM api_tokens WHERE digest = $1", Some(digest))
            .await?
            .pop();
        if let Some(t) = row.as_ref().filter(|t| t.revoked_at.is_none()) {
            self.check_not_undone("api_tokens", "revoked_seq", std::slice::from_ref(&t.id))
                .await?;
        }
        Ok(row)
    }

    pub async fn token(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        Ok(self
            .token_rows("SELECT * FROM api_tokens WHERE id = $1", Some(id))
            .await?
            .pop())
    }

    /// API tokens, oldest first; revoked ones too when `all`. Checked against the chain.
    pub async fn tokens(&self, all: bool) -> Result<Vec<TokenRow>, StoreError> {
        let sql = if all {
            "SELECT * FROM api_tokens ORDER BY seq"
        } else {
            "SELECT * FROM api_tokens WHERE revoked_at IS NULL ORDER BY seq"
        };
        self.check_rows("api_tokens", "", &[]).await?;
        let rows = self.token_rows(sql, None).await?;
        let live: Vec<String> = rows
            .iter()
            .filter(|t| t.revoked_at.is_none())
            .map(|t| t.id.clone())
            .collect();
        self.check_not_undone("api_tokens", "revoked_seq", &live)
            .await?;
        Ok(rows)
    }

    async fn token_rows(&self, sql: &str, arg: Option<&str>) -> Result<Vec<TokenRow>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query_as(sql);
            if let Some(a) = arg { q = q.bind(a); }
            q.fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }
}
