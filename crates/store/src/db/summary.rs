//! Stores the dashboard's summaries (migration 0004): per-decision rows and per-day counters.
//!
//! Each decision's audit entry is summarized when it is appended, in the same transaction
//! (`Group::summarize` in the commit: the group's counters added in one statement); the overview reads the counters with GROUP BY, never
//! the decisions.

use super::pool::{Db, Store, on_db};
use crate::error::StoreError;
use crate::records::DecisionRow;

/// What the summaries keep of a decision's audit entry body.
pub(crate) struct DecisionFacts {
    pub decision_id: String,
    pub environment: String,
    pub artifact_name: String,
    pub outcome: &'static str,
    pub decided_at: String,
    pub day: String,
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    pub violations: i64,
    pub warnings: i64,
    pub excepted: i64,
    pub rules: Vec<String>,
}

impl DecisionFacts {
    /// The facts of a `decision` entry body (as `Firewall::record` writes it).
    pub(crate) fn from_body(body: &serde_json::Value) -> Self {
        let text = |k: &str| {
            body.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let count = |k: &str| {
            body.pointer(&format!("/counts/{k}"))
                .and_then(|v| v.as_i64())
                .unwrap_or(0)
        };
        let opt = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let decided_at = text("decided_at");
        let warnings = count("warnings");
        Self {
            decision_id: text("decision_id"),
            environment: text("environment"),
            artifact_name: body
                .pointer("/artifact/name")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            outcome: outcome(&text("verdict"), warnings),
            day: decided_at.chars().take(10).collect(),
            decided_at,
            pipeline: opt("pipeline"),
            stage: opt("stage"),
            violations: count("violations"),
            warnings,
            excepted: count("excepted"),
            rules: body
                .get("violated_rules")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// `deny`, `warn` (allowed with warnings) or `allow`.
pub fn outcome(verdict: &str, warnings: i64) -> &'static str {
    if verdict != "allow" {
        "deny"
    } else if warnings > 0 {
        "warn"
    } else {
        "allow"
    }
}

/// Decisions of one day in one environment with one outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct DailyCount {
    pub day: String,
    pub environment: String,
    pub outcome: String,
    pub n: i64,
}

/// How often a rule's enforced violations were recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct RuleCount {
    pub rule: String,
    pub n: i64,
    /// How many environments it was violated in.
    pub environments: i64,
}

/// One decision as the pipelines page reads it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct DecisionSummary {
    pub seq: i64,
    pub decision_id: String,
    pub environment: String,
    pub artifact_name: String,
    pub outcome: String,
    pub decided_at: String,
    pub pipeline: Option<String>,
    pub stage: Option<String>,
}

impl Store {
    /// Decisions per day, environment and outcome from `since_day` (`YYYY-MM-DD`) on.
    pub async fn daily_counts(&self, since_day: &str) -> Result<Vec<DailyCount>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT day, environment, outcome, n FROM decision_daily WHERE day >= $1 ORDER BY day, environment, outcome")
                .bind(since_day).fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// Decisions per environment and outcome, all time.
    pub async fn outcome_totals(&self) -> Result<Vec<DailyCount>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT '' AS day, environment, outcome, CAST(SUM(n) AS BIGINT) AS n FROM decision_daily GROUP BY environment, outcome ORDER BY environment, outcome")
                .fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// The rules violated most often from `since_day` on, most first.
    pub async fn top_rules(
        &self,
        since_day: &str,
        limit: i64,
    ) -> Result<Vec<RuleCount>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT rule, CAST(SUM(n) AS BIGINT) AS n, CAST(COUNT(DISTINCT environment) AS BIGINT) AS environments FROM rule_daily WHERE day >= $1 GROUP BY rule ORDER BY n DESC, rule LIMIT $2")
                .bind(since_day).bind(limit.max(0)).fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// The latest decision in each environment. The environments are walked one index lookup
    /// at a time (a "skip scan" on (environment, seq)), then each one's newest decision is one
    /// more: the cost grows with the environments, not with the decisions. `MAX(seq) ... GROUP
    /// BY environment` read the whole index on both backends, on every dashboard overview.
    pub async fn latest_per_environment(&self) -> Result<Vec<DecisionRow>, StoreError> {
        // Each environment's newest: on PostgreSQL spelled as a range of one environment
        // ordered by the index's columns, so that only `decisions_by_environment` gives the
        // order (with `environment = e … ORDER BY seq DESC`, a prepared statement walked
        // `decisions_by_seq` back through every decision of the other environments; see
        // `HISTORY_SQL_POSTGRES` in decisions.rs). SQLite's planner takes the index either way.
        let newest = match &self.inner.db {
            Db::Sqlite(_) => "environment = envs.e ORDER BY seq DESC",
            Db::Postgres(_) => {
                "environment >= envs.e AND environment <= envs.e \
                 ORDER BY environment DESC, seq DESC"
            }
        };
        let filter = format!(
            "WHERE seq IN (WITH RECURSIVE envs(e) AS ( \
               SELECT (SELECT environment FROM decisions ORDER BY environment LIMIT 1) \
               UNION ALL \
               SELECT (SELECT environment FROM decisions WHERE environment > envs.e \
                       ORDER BY environment LIMIT 1) \
               FROM envs WHERE envs.e IS NOT NULL) \
             SELECT (SELECT seq FROM decisions WHERE {newest} LIMIT 1) \
             FROM envs WHERE envs.e IS NOT NULL)"
        );
        let mut out = self.decisions_where(&filter, &[], -1).await?;
        out.sort_by(|a, b| a.environment.cmp(&b.environment));
        Ok(out)
    }

    /// Decisions that name a pipeline, from `since` (RFC 3339) on, oldest first, at most
    /// `limit`.
    pub async fn pipeline_decisions(
        &self,
        since: &str,
        limit: i64,
    ) -> Result<Vec<DecisionSummary>, StoreError> {
        Ok(on_db!(&self.inner.db, pool => {
            sqlx::query_as("SELECT seq, decision_id, environment, artifact_name, outcome, decided_at, pipeline, stage FROM decision_summary WHERE pipeline IS NOT NULL AND decided_at >= $1 ORDER BY seq LIMIT $2")
                .bind(since).bind(limit.max(0)).fetch_all(pool).await.map_err(|e| self.err(e))?
        }))
    }

    /// The outcome (`allow` | `warn` | `deny`) of each of these decisions, by id.
    pub async fn outcomes(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(200) {
            if chunk.is_empty() {
                continue;
            }
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT decision_id, outcome FROM decision_summary WHERE decision_id IN ({})",
                marks.join(", ")
            );
            on_db!(&self.inner.db, pool => {
                let mut q = sqlx::query_as::<_, (String, String)>(&sql);
                for id in chunk { q = q.bind(id); }
                out.extend(q.fetch_all(pool).await.map_err(|e| self.err(e))?);
            });
        }
        Ok(out)
    }
}
