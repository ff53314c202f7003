//! The records every way in changes the same way: advisories and block rules (add, withdraw),
//! exceptions (grant, revoke), deployments, and the state a firewall is built from (advisories
//! and exceptions in force). The CLI and the server both call these, so a record made through
//! one is the record made through the other.

use chrono::{DateTime, SecondsFormat, Utc};
use portcullis_evidence::{BlockRule, Limits};
use portcullis_store::{
    AdvisoryRow, Change, DecisionRow, DeploymentRow, Entry, ExceptionRow, NewBlob, Store,
    StoreError, Write, kinds,
};

use crate::BlockedAdvisory;
use crate::decision::ArtifactId;
use crate::exceptions::{CompiledException, Exception};
use crate::record::advisories_in;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request is wrong (bad document, missing reason).
    #[error("{0}")]
    Invalid(String),
    /// The record exists already, or is in a state that forbids the change.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
}

/// RFC 3339 UTC with milliseconds: how records are timed.
pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An advisory document to add: one OSV record, or a block rule.
#[derive(Debug, Clone)]
pub struct AdvisoryDoc {
    pub id: String,
    /// `osv` or `block-rule`.
    pub kind: String,
    pub summary: String,
    pub bytes: Vec<u8>,
}

impl AdvisoryDoc {
    /// A block rule: every version of `purl` in `vers` (all versions when empty) is blocked.
    pub fn block_rule(
        id: Option<&str>,
        purl: &str,
        vers: &str,
        reason: &str,
    ) -> Result<Self, RegistryError> {
        let id = id
            .map(str::to_string)
            .unwrap_or_else(|| format!("BLOCK-{}", Utc::now().format("%Y%m%dT%H%M%S%3f")));
        let rule = BlockRule::new(&id, purl, vers, reason)
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        Ok(Self {
            id: rule.id.clone(),
            kind: "block-rule".into(),
            summary: rule.reason.clone(),
            bytes: rule.to_json(),
        })
    }

    /// One OSV record (`source` names it in errors). A document with several advisories is
    /// refused: each must be withdrawable on its own.
    pub fn osv(source: &str, bytes: Vec<u8>, limits: &Limits) -> Result<Self, RegistryError> {
        let found = advisories_in(&bytes, limits)
            .map_err(|e| RegistryError::Invalid(format!("{source}: {e}")))?;
        match found.as_slice() {
            [adv] => Ok(Self {
                id: adv.id.clone(),
                kind: "osv".into(),
                summary: adv.summary.clone().unwrap_or_default(),
                bytes,
            }),
            _ => Err(RegistryError::Invalid(format!(
                "{source}: holds {} advisories; add one OSV record per document",
                found.len()
            ))),
        }
    }
}

/// Add advisories (one audit entry each, all in one transaction). An id in force or withdrawn
/// before is refused: ids are not reused.
pub async fn add_advisories(
    store: &Store,
    docs: Vec<AdvisoryDoc>,
    by: &str,
) -> Result<Vec<Entry>, RegistryError> {
    let mut changes = Vec::new();
    for doc in docs {
        if let Some(old) = store.advisory(&doc.id).await? {
            return Err(RegistryError::Conflict(match old.withdrawn_at {
                None => format!(
                    "advisory {} is already in force (added {} by {})",
                    doc.id, old.added_at, old.added_by
                ),
                Some(at) => format!(
                    "advisory {} was withdrawn on {at}; ids are not reused",
                    doc.id
                ),
            }));
        }
        let blob = NewBlob::new("advisory", &doc.bytes)?;
        let digest = blob.digest.clone();
        changes.push(Change::new(
            kinds::ADVISORY_ADDED,
            serde_json::json!({"advisory_id": doc.id, "kind": doc.kind, "digest": digest,
                "summary": doc.summary, "by": by, "refs": [digest]}),
            vec![
                Write::Blob {
                    blob,
                    components: Vec::new(),
                },
                Write::Advisory(AdvisoryRow {
                    id: doc.id.clone(),
                    kind: doc.kind,
                    digest,
                    summary: doc.summary,
                    added_at: now(),
                    added_by: by.to_string(),
                    seq: 0,
                    withdrawn_at: None,
                    withdrawn_by: None,
                    withdraw_reason: None,
                }),
            ],
        ));
    }
    Ok(store.append(changes).await?.into_iter().flatten().collect())
}

pub async fn withdraw_advisory(
    store: &Store,
    id: &str,
    by: &str,
    reason: &str,
) -> Result<Entry, RegistryError> {
    if reason.trim().is_empty() {
        return Err(RegistryError::Invalid(
            "a reason must say why the advisory is withdrawn".into(),
        ));
    }
    let row = store
        .advisory(id)
        .await?
        .ok_or_else(|| RegistryError::NotFound(format!("advisory {id}: not in the store")))?;
    let entries = store
        .append(vec![Change::if_new(
            kinds::ADVISORY_WITHDRAWN,
            serde_json::json!({"advisory_id": id, "digest": row.digest, "by": by, "reason": reason}),
            vec![Write::AdvisoryWithdrawn {
                id: id.to_string(),
                at: now(),
                by: by.to_string(),
                reason: reason.to_string(),
            }],
        )])
        .await?;
    entries
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| RegistryError::Conflict(format!("advisory {id} was already withdrawn")))
}

/// The advisories in the store that are in force, parsed, with each document's bytes (what a
/// decision records as its advisories).
pub async fn advisories_in_force(
    store: &Store,
    limits: &Limits,
) -> Result<Vec<(AdvisoryRow, Vec<u8>, Vec<BlockedAdvisory>)>, RegistryError> {
    let mut out = Vec::new();
    for row in store.advisories(false).await? {
        let (_, bytes) = store.blob(&row.digest).await?.ok_or_else(|| {
            RegistryError::Invalid(format!(
                "advisory {}: document {} is missing from the store",
                row.id, row.digest
            ))
        })?;
        let found = advisories_in(&bytes, limits).map_err(|e| {
            RegistryError::Invalid(format!("advisory {} in the store: {e}", row.id))
        })?;
        let blocked = found
            .into_iter()
            .map(|a| BlockedAdvisory {
                advisory: a,
                source: row.digest.clone(),
            })
            .collect();
        out.push((row, bytes, blocked));
    }
    Ok(out)
}

/// Grant exceptions (ids given or made up; existing ids are refused).
pub async fn grant_exceptions(
    store: &Store,
    list: Vec<CompiledException>,
    by: &str,
) -> Result<Vec<Entry>, RegistryError> {
    let mut changes = Vec::new();
    let stamp = Utc::now().format("%Y%m%dT%H%M%S%3f").to_string();
    for (i, c) in list.into_iter().enumerate() {
        let id = c
            .exception
            .id
            .clone()
            .unwrap_or_else(|| format!("EXC-{stamp}-{i}"));
        if store.exception(&id).await?.is_some() {
            return Err(RegistryError::Conflict(format!(
                "exception {id} exists already; ids are not reused"
            )));
        }
        let mut e = c.exception.clone();
        e.id = Some(id.clone());
        let body = serde_json::to_string(&e)
            .map_err(|e| RegistryError::Invalid(format!("exception {id}: {e}")))?;
        let expires_at = c.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true);
        changes.push(Change::new(
            kinds::EXCEPTION_GRANTED,
            serde_json::json!({"exception_id": id, "exception": e, "expires_at": expires_at, "granted_by": by}),
            vec![Write::Exception(ExceptionRow {
                id,
                body,
                granted_by: by.to_string(),
                granted_at: now(),
                expires_at,
                seq: 0,
                revoked_at: None,
                revoked_by: None,
                revoke_reason: None,
                expiry_seq: None,
            })],
        ));
    }
    Ok(store.append(changes).await?.into_iter().flatten().collect())
}

pub async fn revoke_exception(
    store: &Store,
    id: &str,
    by: &str,
    reason: &str,
) -> Result<Entry, RegistryError> {
    if reason.trim().is_empty() {
        return Err(RegistryError::Invalid(
            "a reason must say why the exception is revoked".into(),
        ));
    }
    if store.exception(id).await?.is_none() {
        return Err(RegistryError::NotFound(format!(
            "exception {id}: not in the store"
        )));
    }
    let entries = store
        .append(vec![Change::if_new(
            kinds::EXCEPTION_REVOKED,
            serde_json::json!({"exception_id": id, "by": by, "reason": reason}),
            vec![Write::ExceptionRevoked {
                id: id.to_string(),
                at: now(),
                by: by.to_string(),
                reason: reason.to_string(),
            }],
        )])
        .await?;
    entries
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| RegistryError::Conflict(format!("exception {id} was already revoked")))
}

/// The exceptions granted in the store (revoked ones left out; expired ones kept, so that a
/// decision reports them), after recording the expiry of those past it.
pub async fn exceptions_in_force(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<CompiledException>, RegistryError> {
    store.record_expired_exceptions(now).await?;
    let mut out = Vec::new();
    for row in store.exceptions(false).await? {
        let e: Exception = serde_json::from_str(&row.body).map_err(|e| {
            RegistryError::Invalid(format!("exception {} in the store: {e}", row.id))
        })?;
        out.push(CompiledException::compile(e).map_err(|m| {
            RegistryError::Invalid(format!("exception {} in the store: {m}", row.id))
        })?);
    }
    Ok(out)
}

/// Record that `artifact` now runs in `environment`, with the latest decision about it there
/// (None when there is none: the caller warns).
pub async fn record_deployment(
    store: &Store,
    artifact: &ArtifactId,
    environment: &str,
    by: &str,
) -> Result<(Entry, Option<DecisionRow>), RegistryError> {
    if environment.trim().is_empty() {
        return Err(RegistryError::Invalid("the environment is empty".into()));
    }
    let latest = store.latest_decision(&artifact.digest, environment).await?;
    let entries = store
        .append(vec![Change::new(
            kinds::DEPLOYMENT,
            serde_json::json!({
                "environment": environment, "artifact": artifact, "by": by,
                "decision_id": latest.as_ref().map(|d| d.id.clone()),
                "decision": latest.as_ref().map(|d| d.verdict.clone()),
            }),
            vec![Write::Deployment(DeploymentRow {
                seq: 0,
                environment: environment.to_string(),
                artifact_name: artifact.name.clone(),
                artifact_digest: artifact.digest.clone(),
                deployed_at: now(),
                deployed_by: by.to_string(),
            })],
        )])
        .await?;
    let entry = entries
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| RegistryError::Invalid("the deployment was not recorded".into()))?;
    Ok((entry, latest))
}
