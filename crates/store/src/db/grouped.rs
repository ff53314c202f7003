//! Stores nothing itself: the rows of a commit group gathered per table, to be written in
//! multi-row statements — a constant number of statements per table and group instead of one
//! per row (each a round trip on PostgreSQL, a hand-over to sqlx's worker thread on SQLite).
//!
//! Only writes whose outcome nothing in the group reads are gathered: document, artifact/evidence
//! link and decision rows (not the first write of an only-if-new change, whose row count
//! decides whether the change is recorded), the dashboard's summary and daily counts, and the
//! audit entries. The commit writes what is gathered before any other statement, so every read
//! in the transaction (a snapshot) sees the rows before it, as when each was written alone.

use std::collections::BTreeMap;

use super::summary::DecisionFacts;
use crate::records::Write;

/// A value bound to a multi-row statement.
pub(super) enum Arg<'a> {
    Str(&'a str),
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Bytes(&'a [u8]),
}

/// Most parameters bound to one statement: SQLite's limit (32,766 since 3.32; PostgreSQL's is
/// 65,535).
const MAX_PARAMS: usize = 32_766;

/// Rows of one statement shape: `head` (`INSERT INTO t (a, b) VALUES `), `cols` values per row,
/// `tail` (`ON CONFLICT …`).
struct Rows<'a> {
    head: &'static str,
    cols: usize,
    tail: &'static str,
    args: Vec<Arg<'a>>,
}

impl<'a> Rows<'a> {
    const fn new(head: &'static str, cols: usize, tail: &'static str) -> Self {
        Self {
            head,
            cols,
            tail,
            args: Vec::new(),
        }
    }

    fn push<const N: usize>(&mut self, row: [Arg<'a>; N]) {
        debug_assert_eq!(N, self.cols);
        self.args.extend(row);
    }

    /// The statements writing every row, each binding at most [`MAX_PARAMS`]; parameters are
    /// written `{mark}N` (`?N` on SQLite, whose parser looks each `$N` name up in a list: a
    /// statement of n of them cost n² comparisons; `$N` on PostgreSQL).
    fn take(&mut self, out: &mut Vec<(String, Vec<Arg<'a>>)>, mark: char) {
        let per = (MAX_PARAMS / self.cols.max(1)).max(1) * self.cols.max(1);
        let mut args = std::mem::take(&mut self.args);
        while !args.is_empty() {
            let rest = args.split_off(per.min(args.len()));
            let rows = args.len() / self.cols.max(1);
            let mut sql = String::with_capacity(self.head.len() + rows * self.cols * 6);
            sql.push_str(self.head);
            let mut p = 0;
            for r in 0..rows {
                sql.push_str(if r == 0 { "(" } else { ", (" });
                for c in 0..self.cols {
                    p += 1;
                    if c > 0 {
                        sql.push_str(", ");
                    }
                    sql.push(mark);
                    sql.push_str(&p.to_string());
                }
                sql.push(')');
            }
            sql.push_str(self.tail);
            out.push((sql, args));
            args = rest;
        }
    }
}

/// The rows a commit group gathers.
pub(super) struct Group<'a> {
    blobs: Rows<'a>,
    links: Rows<'a>,
    decisions: Rows<'a>,
    summaries: Rows<'a>,
    audit: Rows<'a>,
    /// Decisions per (day, environment, outcome), added to `decision_daily`.
    daily: BTreeMap<(String, String, &'static str), i64>,
    /// Enforced violations per (day, rule, environment), added to `rule_daily`.
    rule_daily: BTreeMap<(String, String, String), i64>,
}

impl<'a> Group<'a> {
    pub(super) fn new() -> Self {
        Self {
            blobs: Rows::new(
                "INSERT INTO blobs (digest, kind, size, compression, content, stored_at) VALUES ",
                6,
                " ON CONFLICT (digest) DO NOTHING",
            ),
            links: Rows::new(
                "INSERT INTO artifact_evidence (artifact_digest, evidence_digest) VALUES ",
                2,
                " ON CONFLICT DO NOTHING",
            ),
            decisions: Rows::new(
                "INSERT INTO decisions (id, seq, artifact_name, artifact_digest, environment, verdict, decided_at, decision_digest, request_digest, policy_bundle) VALUES ",
                10,
                "",
            ),
            summaries: Rows::new(
                "INSERT INTO decision_summary (seq, decision_id, environment, artifact_name, outcome, decided_at, day, pipeline, stage, violations, warnings, excepted) VALUES ",
                12,
                "",
            ),
            audit: Rows::new(
                "INSERT INTO audit_log (seq, at, kind, body, body_digest, prev_hash, hash) VALUES ",
                7,
                "",
            ),
            daily: BTreeMap::new(),
            rule_daily: BTreeMap::new(),
        }
    }

    /// Gather `w` (written by the change of entry `seq` at `at`) when it can wait for the
    /// group's statements; false when it must be written now (`first_of_if_new`: its row count
    /// decides whether the change is recorded).
    pub(super) fn gather(
        &mut self,
        w: &'a Write,
        first_of_if_new: bool,
        seq: i64,
        at: &str,
    ) -> bool {
        if first_of_if_new {
            return false;
        }
        match w {
            // A new SBOM's pending index rows are written only when the document is new.
            Write::Blob { blob, components } if components.is_empty() => {
                self.blobs.push([
                    Arg::Str(&blob.digest),
                    Arg::Str(&blob.kind),
                    Arg::Int(blob.size),
                    Arg::Str("zstd"),
                    Arg::Bytes(&blob.compressed),
                    Arg::Text(at.to_string()),
                ]);
                true
            }
            Write::ArtifactEvidence {
                artifact_digest,
                evidence_digest,
            } => {
                self.links
                    .push([Arg::Str(artifact_digest), Arg::Str(evidence_digest)]);
                true
            }
            Write::Decision(d) => {
                self.decisions.push([
                    Arg::Str(&d.id),
                    Arg::Int(seq),
                    Arg::Str(&d.artifact_name),
                    Arg::Str(&d.artifact_digest),
                    Arg::Str(&d.environment),
                    Arg::Str(&d.verdict),
                    Arg::Str(&d.decided_at),
                    Arg::Str(&d.decision_digest),
                    Arg::Str(&d.request_digest),
                    Arg::Str(&d.policy_bundle),
                ]);
                true
            }
            _ => false,
        }
    }

    /// The dashboard's rows of the decision entry `seq`.
    pub(super) fn summarize(&mut self, f: DecisionFacts, seq: i64) {
        *self
            .daily
            .entry((f.day.clone(), f.environment.clone(), f.outcome))
            .or_insert(0) += 1;
        for rule in &f.rules {
            *self
                .rule_daily
                .entry((f.day.clone(), rule.clone(), f.environment.clone()))
                .or_insert(0) += 1;
        }
        self.summaries.push([
            Arg::Int(seq),
            Arg::Text(f.decision_id),
            Arg::Text(f.environment),
            Arg::Text(f.artifact_name),
            Arg::Str(f.outcome),
            Arg::Text(f.decided_at),
            Arg::Text(f.day),
            Arg::OptText(f.pipeline),
            Arg::OptText(f.stage),
            Arg::Int(f.violations),
            Arg::Int(f.warnings),
            Arg::Int(f.excepted),
        ]);
    }

    /// An audit entry.
    pub(super) fn entry(&mut self, e: &crate::chain::Entry) {
        self.audit.push([
            Arg::Int(i64::try_from(e.seq).unwrap_or(i64::MAX)),
            Arg::Text(e.at.clone()),
            Arg::Text(e.kind.clone()),
            Arg::Text(e.body.clone()),
            Arg::Text(e.body_digest.clone()),
            Arg::Text(e.prev_hash.clone()),
            Arg::Text(e.hash.clone()),
        ]);
    }

    /// The statements that write everything gathered (which is then gone), in order.
    pub(super) fn take(&mut self, mark: char) -> Vec<(String, Vec<Arg<'a>>)> {
        let mut out = Vec::new();
        self.blobs.take(&mut out, mark);
        self.links.take(&mut out, mark);
        self.decisions.take(&mut out, mark);
        self.summaries.take(&mut out, mark);
        let mut daily = Rows::new(
            "INSERT INTO decision_daily (day, environment, outcome, n) VALUES ",
            4,
            " ON CONFLICT (day, environment, outcome) DO UPDATE SET n = decision_daily.n + excluded.n",
        );
        for ((day, environment, outcome), n) in std::mem::take(&mut self.daily) {
            daily.push([
                Arg::Text(day),
                Arg::Text(environment),
                Arg::Str(outcome),
                Arg::Int(n),
            ]);
        }
        daily.take(&mut out, mark);
        let mut rules = Rows::new(
            "INSERT INTO rule_daily (day, rule, environment, n) VALUES ",
            4,
            " ON CONFLICT (day, rule, environment) DO UPDATE SET n = rule_daily.n + excluded.n",
        );
        for ((day, rule, environment), n) in std::mem::take(&mut self.rule_daily) {
            rules.push([
                Arg::Text(day),
                Arg::Text(rule),
                Arg::Text(environment),
                Arg::Int(n),
            ]);
        }
        rules.take(&mut out, mark);
        self.audit.take(&mut out, mark);
        out
    }
}

/// Run the statements of everything `$group` gathered on `$conn` (expanded per backend).
macro_rules! flush_group {
    ($conn:expr, $group:expr, $err:expr, $mark:expr) => {
        for (sql, args) in $group.take($mark) {
            let mut q = sqlx::query(&sql);
            for a in args {
                q = match a {
                    $crate::db::grouped::Arg::Str(s) => q.bind(s),
                    $crate::db::grouped::Arg::Text(s) => q.bind(s),
                    $crate::db::grouped::Arg::OptText(s) => q.bind(s),
                    $crate::db::grouped::Arg::Int(n) => q.bind(n),
                    $crate::db::grouped::Arg::Bytes(b) => q.bind(b),
                };
            }
            q.execute(&mut *$conn).await.map_err($err)?;
        }
    };
}
pub(super) use flush_group;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_split_below_the_parameter_limit() {
        let mut rows = Rows::new("INSERT INTO t (a, b, c) VALUES ", 3, " X");
        let n = MAX_PARAMS / 3 + 5;
        for i in 0..n {
            rows.push([Arg::Int(i as i64), Arg::Str("b"), Arg::Str("c")]);
        }
        let mut out = Vec::new();
        rows.take(&mut out, '$');
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1.len(), (MAX_PARAMS / 3) * 3);
        assert_eq!(out[1].1.len(), 15);
        assert!(
            out[1]
                .0
                .starts_with("INSERT INTO t (a, b, c) VALUES ($1, $2, $3), ($4, $5, $6)")
        );
        assert!(out[1].0.ends_with("($13, $14, $15) X"));
        assert!(out.iter().all(|(_, a)| a.len() <= MAX_PARAMS));
        // Taken: nothing left to write.
        let mut again = Vec::new();
        rows.take(&mut again, '?');
        assert!(again.is_empty());
    }
}
