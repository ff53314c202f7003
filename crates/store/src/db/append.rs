//! Stores every change: each as an audit entry plus the rows of its `Write`s, in group commits.
//!
//! The writer task commits every change waiting for it in one transaction and signs checkpoints
//! as the chain grows.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::Connection;
use tokio::sync::{mpsc, oneshot};

use super::events::{CHANGES_CHANNEL, publish};
use super::grouped::{Group, flush_group};
use super::index::encode;
use super::pool::{Db, Inner, Job, Store, now};
use super::summary::DecisionFacts;
use super::tables::pin_rows;
use crate::chain::{Chain, Entry};
use crate::error::StoreError;
use crate::records::{Change, StoreEvent, Write};

impl Store {
    /// Append changes: each becomes an audit entry (in order) with its rows, committed
    /// together with whatever else is waiting (group commit). Returns each change's entry, or
    /// `None` for an `only_if_new` change that changed nothing. Returns once durable.
    pub async fn append(&self, changes: Vec<Change>) -> Result<Vec<Option<Entry>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job { changes, reply })
            .await
            .map_err(|e| StoreError::Writer(e.to_string()))?;
        rx.await.map_err(|e| StoreError::Writer(e.to_string()))?
    }
}

/// The writer task: takes every job waiting, commits them together, answers each. When the
/// group fails (one bad change), each job is retried alone so that the others still land.
/// After a commit that stored a new SBOM, the indexer is asked to index its components; after
/// every commit, the statistics task may refresh PostgreSQL's planner statistics (`stats`).
pub(super) async fn writer(
    inner: Arc<Inner>,
    mut rx: mpsc::Receiver<Job>,
    index: mpsc::Sender<()>,
    statistics: Option<mpsc::Sender<()>>,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut count = jobs.iter().map(|j| j.changes.len()).sum::<usize>();
        while count < inner.max_batch {
            match rx.try_recv() {
                Ok(j) => {
                    count += j.changes.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let all: Vec<&Change> = jobs.iter().flat_map(|j| j.changes.iter()).collect();
        let sboms = all.iter().any(|c| {
            c.writes
                .iter()
                .any(|w| matches!(w, Write::Blob { components, .. } if !components.is_empty()))
        });
        let committed = commit(&inner, &all).await;
        if sboms {
            // Full: a request is waiting already, which will see this SBOM too.
            let _ = index.try_send(());
        }
        match committed {
            Ok(entries) => {
                // Full: a check is pending, which will see these rows.
                if let Some(s) = &statistics {
                    let _ = s.try_send(());
                }
                let mut entries = entries.into_iter();
                for job in jobs {
                    let mine: Vec<Option<Entry>> =
                        entries.by_ref().take(job.changes.len()).collect();
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Err(e) if jobs.len() == 1 => {
                if let Some(job) = jobs.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
            // The database does not answer: retrying each job alone would wait for it once
            // per job, one after another, while every caller waits. Each hears it now.
            Err(StoreError::Unavailable {
                location,
                cause,
                message,
            }) => {
                for job in jobs {
                    let _ = job.reply.send(Err(StoreError::Unavailable {
                        location: location.clone(),
                        cause,
                        message: message.clone(),
                    }));
                }
            }
            Err(_) => {
                for job in jobs {
                    let mine: Vec<&Change> = job.changes.iter().collect();
                    let _ = job.reply.send(commit(&inner, &mine).await);
                }
            }
        }
    }
}

/// The commit of one batch, expanded for each backend's connection type: the rows of the
/// whole group in multi-row statements per table (`grouped`), the others one by one.
macro_rules! define_commit {
    ($name:ident, $Conn:ty, $mark:literal) => {
        async fn $name(
            conn: &mut $Conn,
            inner: &Inner,
            changes: &[&Change],
            pending: &HashMap<&str, Vec<u8>>,
        ) -> Result<Vec<Option<Entry>>, StoreError> {
            let err = |e: sqlx::Error| StoreError::db(&inner.location, e);
            let head: Option<(i64, String, String)> =
                sqlx::query_as("SELECT seq, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(err)?;
            let (mut chain, head_at) = match head {
                Some((seq, hash, at)) => (Chain::at(seq as u64, &hash), Some(at)),
                None => (Chain::new(), None),
            };
            let start_seq = chain.last_seq();
            let at = not_before(now(), head_at.as_deref());
            let mut group = Group::new();
            let mut out = Vec::with_capacity(changes.len());
            for change in changes {
                let seq = (chain.last_seq() + 1) as i64;
                let mut skip = false;
                // Rows the store computes in the transaction (a snapshot), pinned too.
                let mut computed: Vec<serde_json::Value> = Vec::new();
                for (i, w) in change.writes.iter().enumerate() {
                    if group.gather(w, i == 0 && change.only_if_new, seq, &at) {
                        continue;
                    }
                    // Written now: what the group gathered goes first.
                    flush_group!(conn, group, err, $mark);
                    let n: u64 = match w {
                        Write::Blob { blob, components } => {
                            let n = sqlx::query("INSERT INTO blobs (digest, kind, size, compression, content, stored_at) VALUES ($1, $2, $3, 'zstd', $4, $5) ON CONFLICT (digest) DO NOTHING")
                                .bind(&blob.digest).bind(&blob.kind).bind(blob.size).bind(&blob.compressed).bind(&at)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected();
                            // Its package index is written after this commit (`index`): here
                            // only its rows, in one insert.
                            if let Some(rows) = pending.get(blob.digest.as_str()).filter(|_| n > 0 && !components.is_empty()) {
                                sqlx::query("INSERT INTO pending_components (evidence_digest, rows, done) VALUES ($1, $2, 0) ON CONFLICT (evidence_digest) DO NOTHING")
                                    .bind(&blob.digest).bind(rows)
                                    .execute(&mut *conn).await.map_err(err)?;
                            }
                            n
                        }
                        Write::ArtifactEvidence { artifact_digest, evidence_digest } => {
                            sqlx::query("INSERT INTO artifact_evidence (artifact_digest, evidence_digest) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                                .bind(artifact_digest).bind(evidence_digest)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Decision(d) => {
                            sqlx::query("INSERT INTO decisions (id, seq, artifact_name, artifact_digest, environment, verdict, decided_at, decision_digest, request_digest, policy_bundle) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                                .bind(&d.id).bind(seq).bind(&d.artifact_name).bind(&d.artifact_digest).bind(&d.environment)
                                .bind(&d.verdict).bind(&d.decided_at).bind(&d.decision_digest).bind(&d.request_digest).bind(&d.policy_bundle)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Advisory(a) => {
                            sqlx::query("INSERT INTO advisories (id, kind, digest, summary, added_at, added_by, seq) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                                .bind(&a.id).bind(&a.kind).bind(&a.digest).bind(&a.summary).bind(&a.added_at).bind(&a.added_by).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::AdvisoryWithdrawn { id, at, by, reason } => {
                            sqlx::query("UPDATE advisories SET withdrawn_at = $1, withdrawn_by = $2, withdraw_reason = $3, withdrawn_seq = $5 WHERE id = $4 AND withdrawn_at IS NULL")
                                .bind(at).bind(by).bind(reason).bind(id).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Exception(x) => {
                            sqlx::query("INSERT INTO exceptions (id, body, granted_by, granted_at, expires_at, seq) VALUES ($1, $2, $3, $4, $5, $6)")
                                .bind(&x.id).bind(&x.body).bind(&x.granted_by).bind(&x.granted_at).bind(&x.expires_at).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::ExceptionRevoked { id, at, by, reason } => {
                            sqlx::query("UPDATE exceptions SET revoked_at = $1, revoked_by = $2, revoke_reason = $3, revoked_seq = $5 WHERE id = $4 AND revoked_at IS NULL")
                                .bind(at).bind(by).bind(reason).bind(id).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::ExceptionExpired { id } => {
                            sqlx::query("UPDATE exceptions SET expiry_seq = $1 WHERE id = $2 AND expiry_seq IS NULL")
                                .bind(seq).bind(id)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Deployment(d) => {
                            sqlx::query("INSERT INTO deployments (seq, environment, artifact_name, artifact_digest, deployed_at, deployed_by) VALUES ($1, $2, $3, $4, $5, $6)")
                                .bind(seq).bind(&d.environment).bind(&d.artifact_name).bind(&d.artifact_digest).bind(&d.deployed_at).bind(&d.deployed_by)
                                .execute(&mut *conn).await.map_err(err)?;
                            sqlx::query("INSERT INTO inventory (environment, artifact_name, artifact_digest, deployed_at, seq) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (environment, artifact_name) DO UPDATE SET artifact_digest = excluded.artifact_digest, deployed_at = excluded.deployed_at, seq = excluded.seq")
                                .bind(&d.environment).bind(&d.artifact_name).bind(&d.artifact_digest).bind(&d.deployed_at).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Removal { environment, artifact_name } => {
                            sqlx::query("DELETE FROM posture WHERE environment = $1 AND artifact_name = $2")
                                .bind(environment).bind(artifact_name)
                                .execute(&mut *conn).await.map_err(err)?;
                            sqlx::query("DELETE FROM inventory WHERE environment = $1 AND artifact_name = $2")
                                .bind(environment).bind(artifact_name)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Posture(p) => {
                            sqlx::query("INSERT INTO posture (environment, artifact_name, artifact_digest, state, rules, since, decision_id, changed_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (environment, artifact_name) DO UPDATE SET artifact_digest = excluded.artifact_digest, state = excluded.state, rules = excluded.rules, since = excluded.since, decision_id = excluded.decision_id, changed_at = excluded.changed_at, seq = excluded.seq")
                                .bind(&p.environment).bind(&p.artifact_name).bind(&p.artifact_digest).bind(&p.state)
                                .bind(&p.rules).bind(&p.since).bind(&p.decision_id).bind(&p.changed_at).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Snapshot { environment, cause } => {
                            // The running set as this transaction sees it, with the latest
                            // decision about each digest there.
                            let rows: Vec<(String, String, String, Option<String>, Option<String>)> = sqlx::query_as(
                                "SELECT i.artifact_name, i.artifact_digest, i.deployed_at, d.id, d.verdict FROM inventory i LEFT JOIN decisions d ON d.seq = (SELECT MAX(x.seq) FROM decisions x WHERE x.artifact_digest = i.artifact_digest AND x.environment = i.environment) WHERE i.environment = $1 ORDER BY i.artifact_name")
                                .bind(environment)
                                .fetch_all(&mut *conn).await.map_err(err)?;
                            let artifacts: Vec<crate::records::SnapshotArtifact> = rows
                                .into_iter()
                                .map(|(name, digest, deployed_at, decision_id, verdict)| crate::records::SnapshotArtifact {
                                    name, digest, deployed_at, decision_id, verdict,
                                })
                                .collect();
                            let text = serde_json::to_string(&artifacts)
                                .map_err(|e| StoreError::Invalid(format!("snapshot of {environment}: {e}")))?;
                            sqlx::query("INSERT INTO snapshots (seq, environment, taken_at, cause, artifacts) VALUES ($1, $2, $3, $4, $5)")
                                .bind(seq).bind(environment).bind(&at).bind(cause).bind(&text)
                                .execute(&mut *conn).await.map_err(err)?;
                            computed.push(serde_json::json!({"table": "snapshots", "link": "seq",
                                "environment": environment, "taken_at": at, "cause": cause,
                                "artifacts": text}));
                            1
                        }
                        Write::CheckpointKey { key_id, public_key } => {
                            sqlx::query("INSERT INTO checkpoint_keys (key_id, public_key, seq) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING")
                                .bind(key_id).bind(public_key).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Token(t) => {
                            sqlx::query("INSERT INTO api_tokens (id, name, role, digest, created_at, created_by, seq) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                                .bind(&t.id).bind(&t.name).bind(&t.role).bind(&t.digest).bind(&t.created_at).bind(&t.created_by).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Override(o) => {
                            sqlx::query("INSERT INTO overrides (decision_id, seq, actor, reason, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (decision_id) DO NOTHING")
                                .bind(&o.decision_id).bind(seq).bind(&o.actor).bind(&o.reason).bind(&o.at)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::TokenRevoked { id, at, by } => {
                            sqlx::query("UPDATE api_tokens SET revoked_at = $1, revoked_by = $2, revoked_seq = $4 WHERE id = $3 AND revoked_at IS NULL")
                                .bind(at).bind(by).bind(id).bind(seq)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Approval(a) => {
                            sqlx::query("INSERT INTO approvals (id, seq, artifact_digest, environment, change_ref, approver, source, reason, granted_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                                .bind(&a.id).bind(seq).bind(&a.artifact_digest).bind(&a.environment).bind(&a.change_ref)
                                .bind(&a.approver).bind(&a.source).bind(&a.reason).bind(&a.granted_at).bind(&a.expires_at)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::ApprovalRevoked { id, at, by, reason } => {
                            sqlx::query("UPDATE approvals SET revoked_at = $1, revoked_by = $2, revoke_reason = $3, revoke_seq = $4 WHERE id = $5 AND revoked_at IS NULL")
                                .bind(at).bind(by).bind(reason).bind(seq).bind(id)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                        Write::Fact(x) => {
                            sqlx::query("INSERT INTO recorded_facts (id, seq, kind, artifact_digest, environment, body, source, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                                .bind(&x.id).bind(seq).bind(&x.kind).bind(&x.artifact_digest).bind(&x.environment)
                                .bind(&x.body).bind(&x.source).bind(&x.recorded_by).bind(&x.recorded_at)
                                .execute(&mut *conn).await.map_err(err)?.rows_affected()
                        }
                    };
                    if i == 0 && change.only_if_new && n == 0 {
                        skip = true;
                        break;
                    }
                }
                if skip {
                    out.push(None);
                    continue;
                }
                if change.kind == crate::records::kinds::DECISION {
                    group.summarize(DecisionFacts::from_body(&change.body), seq);
                }
                // The rows written are pinned in the entry, so each can be checked against it.
                let body = pin_rows(&change.body, &change.writes, computed);
                let entry = chain.append(&change.kind, &body, &at)?;
                group.entry(&entry);
                out.push(Some(entry));
            }
            flush_group!(conn, group, err, $mark);
            if chain.last_seq() > start_seq {
                let last: Option<(i64, String)> =
                    sqlx::query_as("SELECT seq, at FROM checkpoints ORDER BY seq DESC LIMIT 1")
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(err)?;
                let due = match last {
                    None => true,
                    Some((seq, cp_at)) => {
                        let old = DateTime::parse_from_rfc3339(&cp_at)
                            .map(|t| {
                                Utc::now().signed_duration_since(t.with_timezone(&Utc))
                                    >= chrono::Duration::from_std(inner.checkpoint_interval)
                                        .unwrap_or(chrono::Duration::MAX)
                            })
                            .unwrap_or(true);
                        chain.last_seq().saturating_sub(seq as u64) >= inner.checkpoint_every || old
                    }
                };
                if due {
                    let cp = chain.checkpoint(&inner.key, &at);
                    sqlx::query("INSERT INTO checkpoints (seq, hash, at, key_id, public_key, signature, version) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                        .bind(cp.seq as i64).bind(&cp.hash).bind(&cp.at).bind(&cp.key_id).bind(&cp.public_key).bind(&cp.signature).bind(i32::from(cp.version))
                        .execute(&mut *conn).await.map_err(err)?;
                }
            }
            Ok(out)
        }
    };
}

/// The time of a new entry: `now`, unless the chain's head is later (the clock stepped back
/// since it was written), then the head's time. Entry times never go backwards along the
/// chain, whatever the clock does; a head whose time cannot be read (not RFC 3339) is passed.
fn not_before(now: String, head: Option<&str>) -> String {
    let parse = |t: &str| DateTime::parse_from_rfc3339(t).map(|t| t.with_timezone(&Utc));
    match (parse(&now), head.map(parse)) {
        (Ok(n), Some(Ok(h))) if h > n => h.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        _ => now,
    }
}

define_commit!(commit_sqlite, sqlx::SqliteConnection, '?');
define_commit!(commit_postgres, sqlx::PgConnection, '$');

/// One transaction for `changes`: serialized against every other writer of the database.
async fn commit(inner: &Inner, changes: &[&Change]) -> Result<Vec<Option<Entry>>, StoreError> {
    let err = |e: sqlx::Error| StoreError::db(&inner.location, e);
    // The component rows of new SBOMs, encoded before the transaction.
    let mut pending: HashMap<&str, Vec<u8>> = HashMap::new();
    for w in changes.iter().flat_map(|c| c.writes.iter()) {
        if let Write::Blob { blob, components } = w
            && !components.is_empty()
            && !pending.contains_key(blob.digest.as_str())
        {
            pending.insert(blob.digest.as_str(), encode(components)?);
        }
    }
    let pending = &pending;
    match &inner.db {
        Db::Sqlite(pool) => {
            let _turn = inner.write_lock.lock().await;
            let mut conn = pool.acquire().await.map_err(err)?;
            let done = async {
                // IMMEDIATE: take the write lock now, so the head read below is the real head.
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
                let out = commit_sqlite(&mut tx, inner, changes, pending).await?;
                tx.commit().await.map_err(err)?;
                Ok::<_, StoreError>(out)
            }
            .await;
            let out = match done {
                Ok(out) => out,
                Err(e) => {
                    // SQLite may end a transaction itself when a write fails (a full disk:
                    // SQLITE_FULL), and the driver's rollback then fails, leaving the
                    // connection counted as inside a transaction: every later append on it
                    // would fail. The connection is closed instead of going back to the pool.
                    let _ = conn.detach().close().await;
                    return Err(e);
                }
            };
            publish(inner, &out);
            super::audit::witness_latest(inner).await;
            Ok(out)
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await.map_err(err)?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(super::pool::APPEND_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            let out = commit_postgres(&mut tx, inner, changes, pending).await?;
            // Delivered to every listening replica when (and only if) the transaction commits.
            for e in out
                .iter()
                .flatten()
                .filter(|e| StoreEvent::is_live(&e.kind))
            {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANGES_CHANNEL)
                    .bind(format!("{}:{}", e.kind, e.seq))
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
            }
            tx.commit().await.map_err(err)?;
            publish(inner, &out);
            super::audit::witness_latest(inner).await;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::not_before;

    #[test]
    fn entry_times_never_go_backwards() {
        let head = "2026-12-05T04:00:00.500Z";
        // The clock stepped back an hour: the head's time.
        assert_eq!(
            not_before("2026-12-05T03:00:00.000Z".into(), Some(head)),
            head
        );
        // The same millisecond, or later: the clock.
        assert_eq!(not_before(head.into(), Some(head)), head);
        assert_eq!(
            not_before("2026-12-05T04:00:00.501Z".into(), Some(head)),
            "2026-12-05T04:00:00.501Z"
        );
        // An empty chain, or a head time that is not RFC 3339: the clock.
        assert_eq!(
            not_before("2026-12-05T03:00:00.000Z".into(), None),
            "2026-12-05T03:00:00.000Z"
        );
        assert_eq!(
            not_before("2026-12-05T03:00:00.000Z".into(), Some("yesterday")),
            "2026-12-05T03:00:00.000Z"
        );
        // A head written with an offset is compared as the instant it names.
        assert_eq!(
            not_before(
                "2026-12-05T03:00:00.000Z".into(),
                Some("2026-12-05T05:00:00.000+01:00")
            ),
            "2026-12-05T04:00:00.000Z"
        );
    }
}
