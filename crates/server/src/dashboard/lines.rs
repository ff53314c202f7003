//! The rows several pages show (decisions, advisories with their impact, exceptions, the
//! chain's status) and the store queries that fill them.

use std::collections::HashMap;

use chrono::Utc;

use super::page::{PageError, duration_text, short, when};
use super::state::{ChainCheck, Dash};
use crate::state::AppState;

/// A decision row as the tables show it.
pub struct DecisionLine {
    pub id: String,
    pub outcome: String,
    pub artifact: String,
    pub digest: String,
    pub digest_short: String,
    pub environment: String,
    pub decided_at: String,
    pub seq: i64,
}

pub fn decision_lines(
    rows: &[portcullis_store::DecisionRow],
    outcomes: &HashMap<String, String>,
) -> Vec<DecisionLine> {
    rows.iter()
        .map(|r| DecisionLine {
            id: r.id.clone(),
            outcome: outcomes
                .get(&r.id)
                .cloned()
                .unwrap_or_else(|| portcullis_store::outcome(&r.verdict, 0).to_string()),
            artifact: r.artifact_name.clone(),
            digest: r.artifact_digest.clone(),
            digest_short: short(&r.artifact_digest),
            environment: r.environment.clone(),
            decided_at: when(&r.decided_at),
            seq: r.seq,
        })
        .collect()
}

pub async fn lines_of(
    state: &AppState,
    rows: &[portcullis_store::DecisionRow],
) -> Result<Vec<DecisionLine>, PageError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let outcomes = state.store.outcomes(&ids).await?;
    Ok(decision_lines(rows, &outcomes))
}

pub struct AdvisoryLine {
    pub id: String,
    pub kind: String,
    pub summary: String,
    pub added_at: String,
    pub added_by: String,
    pub withdrawn: Option<String>,
    pub affected: Vec<AffectedLine>,
    pub impact_error: Option<String>,
}

pub struct AffectedLine {
    pub environment: String,
    pub artifact: String,
    pub digest_short: String,
    pub purl: String,
}

pub struct ExceptionLine {
    pub id: String,
    pub rule: String,
    pub key: String,
    pub artifact: String,
    pub environments: String,
    pub reason: String,
    pub approver: String,
    pub granted_by: String,
    pub expires_at: String,
    /// `active` | `expired` | `revoked`.
    pub status: &'static str,
    pub left: String,
    pub revoked: String,
}

pub struct CheckpointLine {
    pub seq: i64,
    pub at: String,
}

pub struct ChainStatus {
    pub head_seq: i64,
    pub head_hash: String,
    pub checkpoint: Option<CheckpointLine>,
    pub check: Option<ChainCheck>,
}

pub async fn chain_status(state: &AppState, dash: &Dash) -> Result<ChainStatus, PageError> {
    let (head_seq, head_hash) = state.store.head().await?.unwrap_or((0, String::new()));
    Ok(ChainStatus {
        head_seq,
        head_hash,
        checkpoint: state
            .store
            .last_checkpoint()
            .await?
            .map(|(seq, at)| CheckpointLine { seq, at }),
        check: dash.chain_check(),
    })
}

/// Advisories (withdrawn ones too when `all`), at most `limit`, with the deployed artifacts
/// each affects now (the same impact query as `GET /v1/advisories/{id}/impact`).
pub async fn advisory_lines(
    state: &AppState,
    all: bool,
    limit: usize,
) -> Result<Vec<AdvisoryLine>, PageError> {
    let mut rows = state.store.advisories(all).await?;
    rows.reverse();
    let mut out = Vec::new();
    for row in rows.into_iter().take(limit) {
        let mut affected = Vec::new();
        let mut impact_error = None;
        if row.withdrawn_at.is_none() {
            match advisory_impact(state, &row).await {
                Ok(list) => {
                    affected = list
                        .into_iter()
                        .map(|p| AffectedLine {
                            environment: p.environment,
                            artifact: p.artifact_name,
                            digest_short: short(&p.artifact_digest),
                            purl: p.purl,
                        })
                        .collect()
                }
                Err(e) => impact_error = Some(e.detail),
            }
        }
        out.push(AdvisoryLine {
            id: row.id,
            kind: row.kind,
            summary: row.summary,
            added_at: when(&row.added_at),
            added_by: row.added_by,
            withdrawn: row.withdrawn_at.map(|at| {
                format!(
                    "withdrawn {} by {}: {}",
                    when(&at),
                    row.withdrawn_by.unwrap_or_default(),
                    row.withdraw_reason.unwrap_or_default()
                )
            }),
            affected,
            impact_error,
        });
    }
    Ok(out)
}

/// The deployed artifacts advisory `row` affects now (the API's impact query).
pub async fn advisory_impact(
    state: &AppState,
    row: &portcullis_store::AdvisoryRow,
) -> Result<Vec<portcullis_store::PackageInUse>, crate::problem::Problem> {
    Ok(state.service.advisory_impact(&row.id).await?)
}

pub async fn exception_lines(state: &AppState, all: bool) -> Result<Vec<ExceptionLine>, PageError> {
    let now = Utc::now();
    let mut out = Vec::new();
    for x in state.service.exceptions(all).await? {
        let (row, e, expires) = (&x.row, x.exception.as_ref(), x.expires);
        let status = x.status.as_str();
        out.push(ExceptionLine {
            id: row.id.clone(),
            rule: e.as_ref().map(|e| e.rule.clone()).unwrap_or_default(),
            key: e.as_ref().map(|e| e.key.clone()).unwrap_or_default(),
            artifact: e.as_ref().map(|e| e.artifact.clone()).unwrap_or_default(),
            environments: e
                .as_ref()
                .map(|e| e.environments.join(", "))
                .unwrap_or_default(),
            reason: e.as_ref().map(|e| e.reason.clone()).unwrap_or_default(),
            approver: e.as_ref().map(|e| e.approver.clone()).unwrap_or_default(),
            granted_by: row.granted_by.clone(),
            expires_at: row.expires_at.clone(),
            status,
            left: match expires {
                Some(t) if t > now => format!("in {}", duration_text(t - now)),
                Some(_) => "expired".into(),
                None => "unreadable expiry".into(),
            },
            revoked: row
                .revoked_at
                .as_ref()
                .map(|at| {
                    format!(
                        "revoked {} by {}: {}",
                        when(at),
                        row.revoked_by.clone().unwrap_or_default(),
                        row.revoke_reason.clone().unwrap_or_default()
                    )
                })
                .unwrap_or_default(),
        });
    }
    out.sort_by(|a, b| a.expires_at.cmp(&b.expires_at));
    Ok(out)
}
