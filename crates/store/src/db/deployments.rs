//! Stores deployments (`deployments`, every one) and the inventory (`inventory`, what runs now).

use super::pool::{Store, on_db};
use crate::error::StoreError;
use crate::records::DeploymentRow;

impl Store {
    /// What runs where: the current artifact per (environment, name), optionally one
    /// environment; each row checked against its deployment entry.
    pub async fn inventory(
        &self,
        environment: Option<&str>,
    ) -> Result<Vec<DeploymentRow>, StoreError> {
        // The inventory keeps no deployer: `deployed_by` is read as empty.
        let sql = match environment {
            Some(_) => {
                "SELECT seq, environment, artifact_name, artifact_digest, deployed_at, '' AS deployed_by FROM inventory WHERE environment = $1 ORDER BY environment, artifact_name"
            }
            None => {
                "SELECT seq, environment, artifact_name, artifact_digest, deployed_at, '' AS deployed_by FROM inventory ORDER BY environment, artifact_name"
            }
        };
        match environment {
            Some(env) => {
                self.check_rows("inventory", "WHERE environment = $1", &[env])
                    .await?
            }
            None => self.check_rows("inventory", "", &[]).await?,
        }
        Ok(on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query_as(sql);
            if let Some(env) = environment { q = q.bind(env); }
            q.fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// Every recorded deployment of exactly this artifact digest, oldest first.
    pub async fn deployments_of_digest(
        &self,
        artifact_digest: &str,
    ) -> Result<Vec<DeploymentRow>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT seq, environment, artifact_name, artifact_digest, deployed_at, deployed_by FROM deployments WHERE artifact_digest = $1 ORDER BY seq")
                .bind(artifact_digest)
                .fetch_all(pool)
                .await
                .map_err(|e| self.err(e))?
        }))
    }
}
