//! Stores content-addressed documents (`blobs`), their components and artifact/evidence links.
//!
//! Answers which deployed artifacts contain a package (the candidates of an advisory's impact).

use super::index::{COMPONENT_CHUNK, insert_components};
use super::pool::{Store, on_db};
use crate::error::StoreError;
use crate::records::{ComponentRow, PackageInUse};

/// A `blobs` row as read back: the content still compressed.
#[derive(sqlx::FromRow)]
struct StoredBlob {
    kind: String,
    compression: String,
    content: Vec<u8>,
}

impl Store {
    /// A stored document: its kind and raw bytes (checked against the digest).
    pub async fn blob(&self, digest: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let row: Option<StoredBlob> = on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT kind, compression, content FROM blobs WHERE digest = $1")
                .bind(digest).fetch_optional(pool).await.map_err(|e| self.err(e))?
        });
        let Some(StoredBlob {
            kind,
            compression,
            content,
        }) = row
        else {
            return Ok(None);
        };
        let corrupt = |message: String| StoreError::Corrupt {
            what: format!("document {digest}"),
            message,
        };
        let raw = match compression.as_str() {
            "zstd" => zstd::stream::decode_all(content.as_slice())
                .map_err(|e| corrupt(format!("cannot decompress: {e}")))?,
            "none" => content,
            other => return Err(corrupt(format!("unknown compression {other:?}"))),
        };
        if crate::records::digest(&raw) != digest {
            return Err(corrupt("its content does not match its digest".into()));
        }
        Ok(Some((kind, raw)))
    }

    /// Which of `digests` are stored already (one query per 500), so a caller need not
    /// compress and offer a document the store has.
    pub async fn blobs_present(
        &self,
        digests: &[&str],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut present = std::collections::HashSet::new();
        for chunk in digests.chunks(COMPONENT_CHUNK) {
            let mut sql = String::from("SELECT digest FROM blobs WHERE digest IN (");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("${}", i + 1));
            }
            sql.push(')');
            let rows: Vec<(String,)> = on_db!(&self.inner.db, pool => {
                let mut q = sqlx::query_as(&sql);
                for d in chunk {
                    q = q.bind(*d);
                }
                q.fetch_all(pool).await.map_err(|e| self.err(e))?
            });
            present.extend(rows.into_iter().map(|(d,)| d));
        }
        Ok(present)
    }

    pub async fn has_blob(&self, digest: &str) -> Result<bool, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query("SELECT 1 FROM blobs WHERE digest = $1")
                .bind(digest).fetch_optional(pool).await.map_err(|e| self.err(e))?.is_some()
        }))
    }

    /// Deployed artifacts (in the inventory) whose evidence lists a component of package
    /// (`purl_type`, `namespace`, `name`); `namespace: None` matches any namespace. Versions
    /// are not filtered here: the caller decides which are affected. SBOMs whose index is still
    /// pending are indexed before the query.
    pub async fn deployed_with_package(
        &self,
        purl_type: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Vec<PackageInUse>, StoreError> {
        // SBOMs stored but not indexed yet are indexed first: never answered without them.
        super::index::index_pending(&self.inner).await?;
        let base = "SELECT DISTINCT i.environment, i.artifact_name, i.artifact_digest, i.deployed_at, c.purl, c.version \
                    FROM components c \
                    JOIN artifact_evidence ae ON ae.evidence_digest = c.evidence_digest \
                    JOIN inventory i ON i.artifact_digest = ae.artifact_digest \
                    WHERE c.purl_type = $1 AND c.name = $2";
        let sql = match namespace {
            Some(_) => format!("{base} AND c.namespace = $3 ORDER BY 1, 2, 5"),
            None => format!("{base} ORDER BY 1, 2, 5"),
        };
        Ok(on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query_as(&sql).bind(purl_type).bind(name);
            if let Some(ns) = namespace { q = q.bind(ns); }
            q.fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// Bulk-load components and artifact/evidence links without audit entries: for
    /// benchmarks and migrations from another tool only (the rows are an index, not a record).
    pub async fn load_index(
        &self,
        evidence_digest: &str,
        artifact_digests: &[String],
        components: &[ComponentRow],
    ) -> Result<(), StoreError> {
        on_db!(&self.inner.db, pool => {
            let mut tx = pool.begin().await.map_err(|e| self.err(e))?;
            insert_components!(&mut *tx, evidence_digest, components, |e| self.err(e));
            for a in artifact_digests {
                sqlx::query("INSERT INTO artifact_evidence (artifact_digest, evidence_digest) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(a).bind(evidence_digest).execute(&mut *tx).await.map_err(|e| self.err(e))?;
            }
            tx.commit().await.map_err(|e| self.err(e))?;
        });
        Ok(())
    }
}
