//! Stores recorded decisions (`decisions`): verdict, artifact, environment, document digests.

use super::pool::{Db, Store, on_db};
use crate::error::StoreError;
use crate::records::{DecisionRow, HistoryDecision};

/// The columns of a [`DecisionRow`].
const DECISION_COLUMNS: &str = "id, seq, artifact_name, artifact_digest, environment, verdict, decided_at, decision_digest, request_digest, policy_bundle";

/// The end both spellings of the history share: the picked sequence numbers, each with its
/// environment's last deployment.
macro_rules! history_picked {
    () => {
        "picked(e, s) AS (
    SELECT e, s FROM recent WHERE s IS NOT NULL AND k <= CAST($2 AS BIGINT)
    UNION
    SELECT e, allow_seq FROM landmarks WHERE allow_seq IS NOT NULL
    UNION
    SELECT e, deployed_allow_seq FROM landmarks WHERE deployed_allow_seq IS NOT NULL
)
SELECT p.s, m.deployed_seq FROM picked p CROSS JOIN landmarks m WHERE m.e = p.e"
    };
}

/// [`Store::decision_history_of_digest`]: `$1` the digest, `$2` the decisions kept per
/// environment; answers the sequence numbers of the decisions to read, each with the last
/// deployment of the digest to its environment. Every step is a lookup at the end of an index
/// range, so no plan reads all the decisions of the digest: `envs` walks its distinct
/// environments (a skip scan of `decisions_by_artifact`); `recent` walks down the newest `$2`
/// decisions of each, one at a time; `marks` finds per environment the last deployment
/// (`deployments_by_artifact`) and the newest allow, and `landmarks` the newest allow before
/// that deployment (`decisions_by_artifact_verdict`). The rows themselves are read by a second
/// statement, by sequence number (`decisions_by_seq`): joined here instead, PostgreSQL's
/// planner (which cannot estimate the CTEs' sizes) read every decision of the digest into a
/// hash join.
///
/// The two backends get the same query in two spellings, because their planners need
/// different ones to take those indexes. SQLite: plain equalities, `artifact_digest = $1 AND
/// environment = e … ORDER BY seq DESC` (`EXPLAIN QUERY PLAN`: every lookup `SEARCH … USING
/// COVERING INDEX … (artifact_digest=? AND environment=?…)`); SQLite positions on a row
/// comparison with its first column only, so the PostgreSQL spelling would read every
/// decision of the digest there.
const HISTORY_SQL_SQLITE: &str = concat!(
    "\
WITH RECURSIVE envs(e) AS (
    SELECT (SELECT environment FROM decisions WHERE artifact_digest = $1
            ORDER BY environment LIMIT 1)
    UNION ALL
    SELECT (SELECT environment FROM decisions WHERE artifact_digest = $1 AND environment > envs.e
            ORDER BY environment LIMIT 1)
    FROM envs WHERE envs.e IS NOT NULL
),
recent(e, s, k) AS (
    SELECT e, (SELECT seq FROM decisions WHERE artifact_digest = $1 AND environment = envs.e
               ORDER BY seq DESC LIMIT 1), CAST(1 AS BIGINT)
    FROM envs WHERE envs.e IS NOT NULL
    UNION ALL
    SELECT e, (SELECT seq FROM decisions WHERE artifact_digest = $1 AND environment = recent.e
               AND seq < recent.s ORDER BY seq DESC LIMIT 1), k + 1
    FROM recent WHERE recent.s IS NOT NULL AND k < CAST($2 AS BIGINT)
),
marks AS (
    SELECT e,
        (SELECT seq FROM deployments WHERE artifact_digest = $1 AND environment = envs.e
         ORDER BY seq DESC LIMIT 1) AS deployed_seq,
        (SELECT seq FROM decisions WHERE artifact_digest = $1 AND environment = envs.e
         AND verdict = 'allow' ORDER BY seq DESC LIMIT 1) AS allow_seq
    FROM envs WHERE envs.e IS NOT NULL
),
landmarks AS (
    SELECT e, deployed_seq, allow_seq,
        (SELECT seq FROM decisions WHERE artifact_digest = $1 AND environment = marks.e
         AND verdict = 'allow' AND seq < marks.deployed_seq ORDER BY seq DESC LIMIT 1)
            AS deployed_allow_seq
    FROM marks
),
",
    history_picked!()
);

/// PostgreSQL's spelling of [`HISTORY_SQL_SQLITE`]: each lookup names its index's columns in
/// row comparisons and orders by all of them. With plain equalities PostgreSQL counts the
/// equal columns as constants, so that `decisions_by_seq` (and `decisions_by_environment`)
/// also give the order asked for, and it picks among them by estimate; for the lookups of a
/// prepared statement, whose environment is unknown when it is planned, it estimated that
/// walking `decisions_by_seq` backwards would soon meet the environment. Seen in the soak,
/// with one digest decided 12,000 times in staging and once in production: finding
/// production's newest read every staging decision after it (3.6 ms a lookup, 17,000 buffers a
/// history, growing with the decisions). A row comparison is no equality, so only the intended
/// index gives the order, and PostgreSQL positions on it with all the compared columns at once.
/// A row compared with a NULL member positions nowhere (the scan walks the whole digest), so the
/// lookup before a deployment is made only where there is one.
/// `EXPLAIN (ANALYZE)` of the generic and the custom plan, on the soak's store (13,000
/// decisions of one digest, analyzed) and with 200,000 decisions of 5,000 digests added: every
/// lookup of `decisions` an `Index Only Scan [Backward]` on `decisions_by_artifact` or
/// `decisions_by_artifact_verdict` under `Limit`, about 210 buffers and under 1.2 ms a history.
const HISTORY_SQL_POSTGRES: &str = concat!(
    "\
WITH RECURSIVE envs(e) AS (
    SELECT (SELECT environment FROM decisions
            WHERE artifact_digest >= $1 AND artifact_digest <= $1
            ORDER BY artifact_digest, environment LIMIT 1)
    UNION ALL
    SELECT (SELECT environment FROM decisions
            WHERE (artifact_digest, environment) > ($1, envs.e) AND artifact_digest <= $1
            ORDER BY artifact_digest, environment LIMIT 1)
    FROM envs WHERE envs.e IS NOT NULL
),
recent(e, s, k) AS (
    SELECT e, (SELECT seq FROM decisions
               WHERE (artifact_digest, environment) >= ($1, envs.e)
               AND (artifact_digest, environment) <= ($1, envs.e)
               ORDER BY artifact_digest DESC, environment DESC, seq DESC LIMIT 1), CAST(1 AS BIGINT)
    FROM envs WHERE envs.e IS NOT NULL
    UNION ALL
    SELECT e, (SELECT seq FROM decisions
               WHERE (artifact_digest, environment, seq) < ($1, recent.e, recent.s)
               AND (artifact_digest, environment) >= ($1, recent.e)
               ORDER BY artifact_digest DESC, environment DESC, seq DESC LIMIT 1), k + 1
    FROM recent WHERE recent.s IS NOT NULL AND k < CAST($2 AS BIGINT)
),
marks AS (
    SELECT e,
        (SELECT seq FROM deployments
         WHERE (artifact_digest, environment) >= ($1, envs.e)
         AND (artifact_digest, environment) <= ($1, envs.e)
         ORDER BY artifact_digest DESC, environment DESC, seq DESC LIMIT 1) AS deployed_seq,
        (SELECT seq FROM decisions
         WHERE (artifact_digest, environment, verdict) >= ($1, envs.e, 'allow')
         AND (artifact_digest, environment, verdict) <= ($1, envs.e, 'allow')
         ORDER BY artifact_digest DESC, environment DESC, verdict DESC, seq DESC LIMIT 1)
            AS allow_seq
    FROM envs WHERE envs.e IS NOT NULL
),
landmarks AS (
    SELECT e, deployed_seq, allow_seq,
        CASE WHEN marks.deployed_seq IS NOT NULL THEN
        (SELECT seq FROM decisions
         WHERE (artifact_digest, environment, verdict, seq) < ($1, marks.e, 'allow', marks.deployed_seq)
         AND (artifact_digest, environment, verdict) >= ($1, marks.e, 'allow')
         ORDER BY artifact_digest DESC, environment DESC, verdict DESC, seq DESC LIMIT 1)
        END AS deployed_allow_seq
    FROM marks
),
",
    history_picked!()
);

/// How many picked decisions [`Store::decision_history_of_digest`] reads per statement.
const HISTORY_BATCH: usize = 500;

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
        self.decisions_ordered(filter, "seq DESC", params, limit)
            .await
    }

    /// [`Store::decisions_where`] in the order `order` (an `ORDER BY` list).
    async fn decisions_ordered(
        &self,
        filter: &str,
        order: &str,
        params: &[&str],
        limit: i64,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        // A negative limit means none (PostgreSQL refuses a negative LIMIT).
        let limit = if limit < 0 { i64::MAX } else { limit };
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM decisions {filter} ORDER BY {order} LIMIT {limit}"
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
        // PostgreSQL: the row-comparison spelling, for the reason `HISTORY_SQL_POSTGRES` gives
        // (with equalities, a prepared statement walked `decisions_by_seq` back through every
        // decision in other environments after this one's newest).
        let (filter, order) = match &self.inner.db {
            Db::Sqlite(_) => (
                "WHERE artifact_digest = $1 AND environment = $2",
                "seq DESC",
            ),
            Db::Postgres(_) => (
                "WHERE (artifact_digest, environment) >= ($1, $2) \
                 AND (artifact_digest, environment) <= ($1, $2)",
                "artifact_digest DESC, environment DESC, seq DESC",
            ),
        };
        let mut rows = self
            .decisions_ordered(filter, order, &[artifact_digest, environment], 1)
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

    /// The decisions of `artifact_digest` a decision's history is built from, oldest first, each
    /// with whether the digest was deployed to that environment after it. For every
    /// environment with a decision about the digest: its newest `per_environment` decisions
    /// (none when negative), the newest `allow` there, and the newest `allow` there followed by
    /// a deployment of the digest to that environment, each once. The landmarks stay however
    /// many decisions follow them, and the cost grows with the environments (a few lookups at
    /// the end of an index each, migration 0009), not with the decisions or deployments of the
    /// digest. The choice and the deployments are read at one moment (one statement). Like
    /// [`Store::decisions_of_digest`], rows are not checked against their audit entries here.
    pub async fn decision_history_of_digest(
        &self,
        artifact_digest: &str,
        per_environment: i64,
    ) -> Result<Vec<HistoryDecision>, StoreError> {
        let per_environment = per_environment.max(0);
        let picked: Vec<(i64, Option<i64>)> = on_db!(&self.inner.db, pool => {
            sqlx::query_as(match &self.inner.db {
                Db::Sqlite(_) => HISTORY_SQL_SQLITE,
                Db::Postgres(_) => HISTORY_SQL_POSTGRES,
            })
                .bind(artifact_digest)
                .bind(per_environment)
                .fetch_all(pool)
                .await
                .map_err(|e| self.err(e))?
        });
        if picked.is_empty() {
            return Ok(Vec::new());
        }
        let deployed: std::collections::HashMap<i64, Option<i64>> = picked.into_iter().collect();
        let mut seqs: Vec<i64> = deployed.keys().copied().collect();
        seqs.sort_unstable();
        // A digest decided in many environments picks many rows: they are read in batches, so
        // that no statement has more parameters than SQLite allows (32,766) or PostgreSQL
        // (65,535).
        let mut rows: Vec<DecisionRow> = Vec::with_capacity(seqs.len());
        for batch in seqs.chunks(HISTORY_BATCH) {
            // By sequence alone: with `artifact_digest = $1` beside it, SQLite chose the
            // digest's index and read every decision of the digest to pick these (found by the
            // soak: the time of this statement grew with the decisions of one digest). The
            // digest is checked here instead.
            let marks: Vec<String> = (1..=batch.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT {DECISION_COLUMNS} FROM decisions WHERE seq IN ({}) ORDER BY seq",
                marks.join(", ")
            );
            let part: Vec<DecisionRow> = on_db!(&self.inner.db, pool => {
                let mut q = sqlx::query_as(&sql);
                for s in batch {
                    q = q.bind(*s);
                }
                q.fetch_all(pool).await.map_err(|e| self.err(e))?
            });
            rows.extend(
                part.into_iter()
                    .filter(|d| d.artifact_digest == artifact_digest),
            );
        }
        Ok(rows
            .into_iter()
            .map(|decision| HistoryDecision {
                deployed: deployed
                    .get(&decision.seq)
                    .copied()
                    .flatten()
                    .is_some_and(|s| s > decision.seq),
                decision,
            })
            .collect())
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
