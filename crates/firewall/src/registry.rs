//! The records every way in changes the same way: advisories and block rules (add, withdraw),
//! exceptions (grant, revoke), deployments, and the state a firewall is built from (advisories
//! and exceptions in force). The CLI and the server both call these, so a record made through
//! one is the record made through the other.

use chrono::{DateTime, SecondsFormat, Utc};
use portcullis_evidence::{BlockRule, Limits};
use portcullis_store::{
    AdvisoryRow, Change, DecisionRow, DeploymentRow, Entry, ExceptionRow, NewBlob, PackageInUse,
    Store, StoreError, TokenRow, Write, kinds,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::BlockedAdvisory;
use crate::access::{AccessError, Actor, Permission, Role};
use crate::decision::ArtifactId;
use crate::exceptions::{CompiledException, Exception};
use crate::record::{advisories_in, blob_kinds};
use crate::request::{EvidenceDoc, EvidenceFile};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The actor's role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Internal(String),
    /// The request is wrong (bad document, missing reason).
    #[error("{0}")]
    Invalid(String),
    /// The record exists already, or is in a state that forbids the change.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
}

pub use crate::clock::now;
use crate::names::{self, NameKind};

impl From<names::NameError> for RegistryError {
    fn from(e: names::NameError) -> Self {
        Self::Invalid(e.to_string())
    }
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
        // Exactly as compiled (fractions of a second kept): the row's expiry is the one the
        // clock records, and it must not come before the exception stops covering anything.
        let expires_at = c.expires_at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
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
/// (None when there is none: the caller warns), and snapshot the environment.
pub async fn record_deployment(
    store: &Store,
    artifact: &ArtifactId,
    environment: &str,
    by: &str,
) -> Result<(Entry, Option<DecisionRow>), RegistryError> {
    names::check(NameKind::Environment, environment)?;
    names::check(NameKind::Artifact, &artifact.name)?;
    let latest = store.latest_decision(&artifact.digest, environment).await?;
    let entries = store
        .append(vec![
            deployment_change(artifact, environment, by, latest.as_ref(), None),
            snapshot_change(environment, kinds::DEPLOYMENT),
        ])
        .await?;
    let entry = entries
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| RegistryError::Invalid("the deployment was not recorded".into()))?;
    Ok((entry, latest))
}

/// The change that snapshots `environment` after the changes before it in the same append.
pub fn snapshot_change(environment: &str, cause: &str) -> Change {
    Change::new(
        kinds::SNAPSHOT,
        json!({"environment": environment, "cause": cause}),
        vec![Write::Snapshot {
            environment: environment.to_string(),
            cause: cause.to_string(),
        }],
    )
}

/// The change that records `artifact` running in `environment`.
pub fn deployment_change(
    artifact: &ArtifactId,
    environment: &str,
    by: &str,
    decision: Option<&portcullis_store::DecisionRow>,
    source: Option<&str>,
) -> Change {
    let mut body = json!({
        "environment": environment, "artifact": artifact, "by": by,
        "decision_id": decision.map(|d| d.id.clone()),
        "decision": decision.map(|d| d.verdict.clone()),
    });
    if let (Some(s), Some(o)) = (source, body.as_object_mut()) {
        o.insert("source".into(), Value::String(s.to_string()));
    }
    Change::new(
        kinds::DEPLOYMENT,
        body,
        vec![Write::Deployment(DeploymentRow {
            seq: 0,
            environment: environment.to_string(),
            artifact_name: artifact.name.clone(),
            artifact_digest: artifact.digest.clone(),
            deployed_at: now(),
            deployed_by: by.to_string(),
        })],
    )
}

impl From<AccessError> for RegistryError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Store(e) => Self::Store(e),
            AccessError::Forbidden(m) => Self::Forbidden(m),
            AccessError::Invalid(m) => Self::Invalid(m),
            AccessError::NotFound(m) => Self::NotFound(m),
            AccessError::Conflict(m) => Self::Conflict(m),
            e @ AccessError::Randomness(_) => Self::Internal(e.to_string()),
        }
    }
}

/// An advisory added, with its impact (recorded too).
#[derive(Debug, Clone)]
pub struct AdvisoryAdded {
    pub id: String,
    pub entry: Entry,
    pub affected: Vec<PackageInUse>,
    pub impact_entry: Option<u64>,
}

/// An exception as granted.
#[derive(Debug, Clone)]
pub struct Granted {
    pub id: String,
    pub entry: Entry,
}

/// Where an exception stands. One definition, for every way of looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExceptionStatus {
    Active,
    /// Past its expiry (or its expiry cannot be read): it covers nothing.
    Expired,
    Revoked,
}

impl ExceptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    /// The status of a stored exception at `now`.
    pub fn of(row: &ExceptionRow, now: DateTime<Utc>) -> Self {
        if row.revoked_at.is_some() {
            Self::Revoked
        } else if expiry(row).is_none_or(|t| t <= now) {
            Self::Expired
        } else {
            Self::Active
        }
    }
}

/// When a stored exception expires (None: unreadable, which counts as expired).
pub fn expiry(row: &ExceptionRow) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&row.expires_at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A stored exception, read.
#[derive(Debug, Clone)]
pub struct ExceptionState {
    pub row: ExceptionRow,
    /// None when the stored body cannot be read.
    pub exception: Option<Exception>,
    pub status: ExceptionStatus,
    pub expires: Option<DateTime<Utc>>,
}

/// A report kept as evidence of an artifact (see [`Registry::record_artifact_evidence`]).
#[derive(Debug, Clone)]
pub struct ArtifactReport<'a> {
    /// The blob kind it is stored as.
    pub blob_kind: &'a str,
    /// `canary`, `exposure`, …
    pub kind: &'a str,
    /// The document's format (`portcullis-verification`, `portcullis-probe`).
    pub format: &'a str,
    pub bytes: &'a [u8],
    /// Fields of the audit entry that say what the report found (an object).
    pub details: Value,
}

/// The records of a store, changed as an actor: each change checked (role, fields, expiry)
/// and recorded the one way, whichever door it came through. `DecisionService` puts each
/// change in force; a one-shot command line uses this alone.
#[derive(Debug, Clone)]
pub struct Registry {
    store: Store,
    limits: Limits,
}

impl Registry {
    pub fn new(store: Store, limits: Limits) -> Self {
        Self { store, limits }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Keep an evidence document for later decisions (`POST /v1/evidence`); returns its
    /// digest, format and the audit entry (None when it was kept already).
    pub async fn store_evidence(
        &self,
        name: &str,
        bytes: &[u8],
        actor: &Actor,
    ) -> Result<(EvidenceFile, Option<u64>), RegistryError> {
        actor.require(Permission::Decide, "uploading evidence")?;
        let doc = EvidenceDoc::parse(name, bytes, &self.limits)
            .map_err(|e| RegistryError::Invalid(format!("{name}: {e}")))?;
        let blob = NewBlob::new(blob_kinds::EVIDENCE, bytes)?;
        let entries = self
            .store
            .append(vec![Change::if_new(
                kinds::EVIDENCE_STORED,
                json!({
                    "digest": doc.digest, "format": doc.evidence.format.id(), "size": bytes.len(),
                    "source": name, "by": actor.name, "refs": [doc.digest],
                }),
                vec![Write::Blob {
                    blob,
                    components: Vec::new(),
                }],
            )])
            .await?;
        let file = EvidenceFile {
            digest: doc.digest,
            format: doc.evidence.format.id().to_string(),
            size: bytes.len(),
        };
        Ok((file, entries.into_iter().flatten().next().map(|e| e.seq)))
    }

    /// Keep a report made for an artifact (a canary verification, an exposure probe) as one of
    /// its evidence documents, with its audit entry; `details` says what the report found.
    /// Returns the document's digest and the entry (None when it was kept already).
    pub async fn record_artifact_evidence(
        &self,
        artifact: &ArtifactId,
        report: ArtifactReport<'_>,
        actor: &Actor,
    ) -> Result<(String, Option<u64>), RegistryError> {
        actor.require(Permission::Decide, "recording evidence")?;
        let blob = NewBlob::new(report.blob_kind, report.bytes)?;
        let digest = blob.digest.clone();
        let mut body = json!({
            "digest": digest, "kind": report.kind, "format": report.format,
            "size": report.bytes.len(),
            "artifact": {"name": artifact.name, "digest": artifact.digest},
            "by": actor.name,
        });
        if let (Some(o), Value::Object(more)) = (body.as_object_mut(), report.details) {
            o.extend(more);
        }
        let entries = self
            .store
            .append(vec![Change::new(
                kinds::EVIDENCE_STORED,
                body,
                vec![
                    Write::Blob {
                        blob,
                        components: Vec::new(),
                    },
                    Write::ArtifactEvidence {
                        artifact_digest: artifact.digest.clone(),
                        evidence_digest: digest.clone(),
                    },
                ],
            )])
            .await?;
        Ok((digest, entries.into_iter().flatten().next().map(|e| e.seq)))
    }

    /// Add advisories (one audit entry each), put them in force, and record the impact of
    /// each on what runs (an `advisory.impact` entry each, affected or not).
    pub async fn add_advisories(
        &self,
        docs: Vec<AdvisoryDoc>,
        actor: &Actor,
    ) -> Result<Vec<AdvisoryAdded>, RegistryError> {
        actor.require(Permission::Admin, "adding advisories")?;
        if docs.is_empty() {
            return Err(RegistryError::Invalid("no advisory to add".into()));
        }
        let bytes: Vec<(String, Vec<u8>)> = docs
            .iter()
            .map(|d| (d.id.clone(), d.bytes.clone()))
            .collect();
        let entries = add_advisories(&self.store, docs, &actor.name).await?;
        let mut out = Vec::new();
        for ((id, bytes), entry) in bytes.into_iter().zip(entries) {
            let affected = self.impact_of(&bytes, &id).await?;
            let impact_entry = self
                .store
                .append(vec![Change::new(
                    kinds::ADVISORY_IMPACT,
                    json!({"advisory_id": id, "affected": affected, "by": actor.name}),
                    vec![],
                )])
                .await?
                .into_iter()
                .flatten()
                .next()
                .map(|e| e.seq);
            out.push(AdvisoryAdded {
                id,
                entry,
                affected,
                impact_entry,
            });
        }
        Ok(out)
    }

    pub async fn withdraw_advisory(
        &self,
        id: &str,
        actor: &Actor,
        reason: &str,
    ) -> Result<Entry, RegistryError> {
        actor.require(Permission::Admin, "withdrawing an advisory")?;
        let e = withdraw_advisory(&self.store, id, &actor.name, reason).await?;
        Ok(e)
    }

    /// Every deployed artifact holding a version advisory `id` affects, now.
    pub async fn advisory_impact(&self, id: &str) -> Result<Vec<PackageInUse>, RegistryError> {
        let row =
            self.store.advisory(id).await?.ok_or_else(|| {
                RegistryError::NotFound(format!("advisory {id}: not in the store"))
            })?;
        let (_, bytes) = self.store.blob(&row.digest).await?.ok_or_else(|| {
            RegistryError::Internal(format!("advisory {id}: document {} is missing", row.digest))
        })?;
        self.impact_of(&bytes, id).await
    }

    async fn impact_of(&self, bytes: &[u8], id: &str) -> Result<Vec<PackageInUse>, RegistryError> {
        let advisories = crate::record::advisories_in(bytes, &self.limits)
            .map_err(|e| RegistryError::Internal(format!("advisory {id}: {e}")))?;
        let mut rows = Vec::new();
        for a in advisories
            .iter()
            .filter(|a| a.id == id || advisories.len() == 1)
        {
            rows.extend(crate::impact::impact(&self.store, a).await?);
        }
        Ok(rows)
    }

    /// Check and compile exceptions to grant: every field, and an expiry still ahead.
    pub fn check_exceptions(list: Vec<Exception>) -> Result<Vec<CompiledException>, RegistryError> {
        let now = Utc::now();
        let many = list.len() > 1;
        let mut out = Vec::new();
        for (i, e) in list.into_iter().enumerate() {
            let name = match (&e.id, many) {
                (Some(id), _) => format!("exception {id}: "),
                (None, true) => format!("exception {i}: "),
                (None, false) => "exception: ".to_string(),
            };
            names::check(NameKind::Artifact, &e.artifact)
                .map_err(|m| RegistryError::Invalid(format!("{name}{m}")))?;
            for env in &e.environments {
                names::check(NameKind::Environment, env)
                    .map_err(|m| RegistryError::Invalid(format!("{name}{m}")))?;
            }
            let expires = e.expires.clone();
            let c = CompiledException::compile(e)
                .map_err(|m| RegistryError::Invalid(format!("{name}{m}")))?;
            if c.expires_at <= now {
                return Err(RegistryError::Invalid(format!(
                    "{name}expires {expires}: that is in the past; an exception is granted \
                     until a time still to come"
                )));
            }
            out.push(c);
        }
        Ok(out)
    }

    /// Grant exceptions (checked by [`Self::check_exceptions`]) and put them in force.
    pub async fn grant_exceptions(
        &self,
        list: Vec<Exception>,
        actor: &Actor,
    ) -> Result<Vec<Granted>, RegistryError> {
        actor.require(Permission::Approve, "granting exceptions")?;
        if list.is_empty() {
            return Err(RegistryError::Invalid("no exception to grant".into()));
        }
        let compiled = Self::check_exceptions(list)?;
        let entries = grant_exceptions(&self.store, compiled, &actor.name).await?;
        Ok(entries
            .into_iter()
            .map(|entry| {
                let id = serde_json::from_str::<Value>(&entry.body)
                    .ok()
                    .and_then(|b| b.get("exception_id")?.as_str().map(str::to_string))
                    .unwrap_or_default();
                Granted { id, entry }
            })
            .collect())
    }

    pub async fn revoke_exception(
        &self,
        id: &str,
        actor: &Actor,
        reason: &str,
    ) -> Result<Entry, RegistryError> {
        actor.require(Permission::Approve, "revoking an exception")?;
        let e = revoke_exception(&self.store, id, &actor.name, reason).await?;
        Ok(e)
    }

    /// The stored exceptions (revoked ones too with `all`), each with its status now, after
    /// recording the expiry of those past it.
    pub async fn exceptions(&self, all: bool) -> Result<Vec<ExceptionState>, RegistryError> {
        let now = Utc::now();
        self.store.record_expired_exceptions(now).await?;
        Ok(self
            .store
            .exceptions(all)
            .await?
            .into_iter()
            .map(|row| ExceptionState {
                exception: serde_json::from_str(&row.body).ok(),
                status: ExceptionStatus::of(&row, now),
                expires: expiry(&row),
                row,
            })
            .collect())
    }

    /// Record that `artifact` now runs in `environment`, with the latest decision about it
    /// there (None: none is recorded, which the caller says).
    pub async fn record_deployment(
        &self,
        artifact: &ArtifactId,
        environment: &str,
        actor: &Actor,
    ) -> Result<(Entry, Option<DecisionRow>), RegistryError> {
        actor.require(Permission::Decide, "recording a deployment")?;
        record_deployment(&self.store, artifact, environment, &actor.name).await
    }

    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        actor: &Actor,
    ) -> Result<(String, TokenRow), RegistryError> {
        Ok(crate::access::create_token(&self.store, name, role, actor).await?)
    }

    pub async fn revoke_token(&self, id: &str, actor: &Actor) -> Result<u64, RegistryError> {
        Ok(crate::access::revoke_token(&self.store, id, actor).await?)
    }
}
