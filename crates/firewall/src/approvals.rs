//! Approvals: a person with an approver token (or the key of a trusted approval attestation)
//! approves one artifact digest for one environment, and for one change when it names one.
//! Approvals expire, can be revoked, and are in the audit chain; the decision service reads the
//! ones in force and hands them to the policy as established facts. An approver the request
//! names in free text is only ever an asserted fact.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use portcullis_policy::input::{FactSource, InputApproval};
use portcullis_store::{ApprovalRow, Change, Entry, Store, Write, kinds};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::{Actor, Permission};
use crate::registry::RegistryError;

/// How long an approval lasts when the approver does not say.
pub const DEFAULT_TTL: Duration = Duration::hours(24);
/// The longest an approval may last: an approval is for a change about to happen.
pub const MAX_TTL: Duration = Duration::days(30);

/// What an approver approves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalGrant {
    /// `sha256:<64 hex>`: the exact artifact approved.
    pub artifact_digest: String,
    pub environment: String,
    /// The change (ticket) approved, when the approval is for one change only.
    #[serde(default)]
    pub change_ref: Option<String>,
    /// Why it is approved.
    pub reason: String,
    /// When it lapses; [`DEFAULT_TTL`] from now when absent, at most [`MAX_TTL`].
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Where an approval stands at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    Active,
    Expired,
    Revoked,
}

impl ApprovalStatus {
    pub fn of(row: &ApprovalRow, now: DateTime<Utc>) -> Self {
        if row.revoked_at.is_some() {
            Self::Revoked
        } else if parse_time(&row.expires_at).is_none_or(|t| t <= now) {
            Self::Expired
        } else {
            Self::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Record an approval by `actor` (role approver or admin). The approver is the identity the
/// firewall knows the actor by, never a name the request gives.
pub async fn grant(
    store: &Store,
    grant: &ApprovalGrant,
    actor: &Actor,
) -> Result<(ApprovalRow, Entry), RegistryError> {
    actor.require(Permission::Approve, "approving a deployment")?;
    let now = Utc::now();
    let digest = crate::decision::sha256_digest(grant.artifact_digest.trim()).ok_or_else(|| {
        RegistryError::Invalid(format!(
            "artifact digest {:?}: an approval is for one exact artifact, `sha256:` and 64 hex digits",
            grant.artifact_digest
        ))
    })?;
    let environment = grant.environment.trim();
    crate::names::check(crate::names::NameKind::Environment, environment)
        .map_err(|e| RegistryError::Invalid(e.to_string()))?;
    if grant.reason.trim().is_empty() {
        return Err(RegistryError::Invalid(
            "an approval must say why (reason)".into(),
        ));
    }
    let change_ref = grant
        .change_ref
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    if let Some(c) = &change_ref
        && (c.len() > 256 || c.chars().any(char::is_control))
    {
        return Err(RegistryError::Invalid(
            "change reference: at most 256 characters, no control characters".into(),
        ));
    }
    let expires = grant.expires_at.unwrap_or(now + DEFAULT_TTL);
    if expires <= now {
        return Err(RegistryError::Invalid(format!(
            "expires_at {}: in the past",
            expires.to_rfc3339_opts(SecondsFormat::Secs, true)
        )));
    }
    if expires > now + MAX_TTL {
        return Err(RegistryError::Invalid(format!(
            "expires_at {}: an approval lasts at most {} days",
            expires.to_rfc3339_opts(SecondsFormat::Secs, true),
            MAX_TTL.num_days()
        )));
    }
    let row = ApprovalRow {
        id: crate::access::random_id("apr")?,
        seq: 0,
        artifact_digest: digest,
        environment: environment.to_string(),
        change_ref,
        approver: actor.name.clone(),
        source: if actor.authenticated {
            "authenticated"
        } else {
            "local"
        }
        .to_string(),
        reason: grant.reason.trim().to_string(),
        granted_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
        expires_at: expires.to_rfc3339_opts(SecondsFormat::Millis, true),
        revoked_at: None,
        revoked_by: None,
        revoke_reason: None,
        revoke_seq: None,
    };
    let entries = store
        .append(vec![Change::new(
            kinds::APPROVAL_GRANTED,
            json!({
                "approval_id": row.id, "artifact_digest": row.artifact_digest,
                "environment": row.environment, "change_ref": row.change_ref,
                "approver": row.approver, "role": actor.role.as_str(), "source": row.source,
                "reason": row.reason, "granted_at": row.granted_at, "expires_at": row.expires_at,
            }),
            vec![Write::Approval(row.clone())],
        )])
        .await?;
    let entry = entries
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| RegistryError::Internal("the approval was not recorded".into()))?;
    let row = ApprovalRow {
        seq: entry.seq as i64,
        ..row
    };
    Ok((row, entry))
}

/// Revoke approval `id` (role approver or admin), with the reason.
pub async fn revoke(
    store: &Store,
    id: &str,
    actor: &Actor,
    reason: &str,
) -> Result<Entry, RegistryError> {
    actor.require(Permission::Approve, "revoking an approval")?;
    if reason.trim().is_empty() {
        return Err(RegistryError::Invalid(
            "a reason must say why the approval is revoked".into(),
        ));
    }
    if store.approval(id).await?.is_none() {
        return Err(RegistryError::NotFound(format!(
            "approval {id}: not in the store"
        )));
    }
    let entries = store
        .append(vec![Change::if_new(
            kinds::APPROVAL_REVOKED,
            json!({"approval_id": id, "by": actor.name, "reason": reason}),
            vec![Write::ApprovalRevoked {
                id: id.to_string(),
                at: crate::clock::now(),
                by: actor.name.clone(),
                reason: reason.to_string(),
            }],
        )])
        .await?;
    entries
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| RegistryError::Conflict(format!("approval {id} was already revoked")))
}

/// Whether `row` approves `digest` in `environment` for `change_ref` at `now`: not revoked,
/// granted before and lapsing after `now`, and for the request's change when it names one.
pub fn applies(
    row: &ApprovalRow,
    digest: &str,
    environment: &str,
    change_ref: Option<&str>,
    now: DateTime<Utc>,
) -> bool {
    row.artifact_digest.eq_ignore_ascii_case(digest)
        && row.environment == environment
        && ApprovalStatus::of(row, now) == ApprovalStatus::Active
        && parse_time(&row.granted_at).is_some_and(|t| t <= now)
        && change_matches(row.change_ref.as_deref(), change_ref)
}

/// Whether an approval for change `approved` (any change when none) covers a request for
/// change `requested`.
pub fn change_matches(approved: Option<&str>, requested: Option<&str>) -> bool {
    match (approved, requested) {
        (None, _) => true,
        (Some(a), Some(r)) => a == r.trim(),
        (Some(_), None) => false,
    }
}

/// The approvals in force for a decision, as the policy input carries them.
pub async fn in_force(
    store: &Store,
    digest: &str,
    environment: &str,
    change_ref: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<InputApproval>, RegistryError> {
    Ok(store
        .approvals(Some(&digest.to_ascii_lowercase()), Some(environment), false)
        .await?
        .iter()
        .filter(|r| applies(r, digest, environment, change_ref, now))
        .map(|r| InputApproval {
            id: r.id.clone(),
            approver: r.approver.clone(),
            source: if r.source == "signed" {
                FactSource::Signed
            } else {
                FactSource::Recorded
            },
            granted_at: Some(r.granted_at.clone()),
            expires_at: Some(r.expires_at.clone()),
            change_ref: r.change_ref.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> ApprovalRow {
        ApprovalRow {
            id: "apr_1".into(),
            seq: 1,
            artifact_digest: format!("sha256:{}", "a".repeat(64)),
            environment: "production".into(),
            change_ref: Some("CHG-1".into()),
            approver: "token:tok_b".into(),
            source: "authenticated".into(),
            reason: "reviewed".into(),
            granted_at: "2026-12-01T10:00:00.000Z".into(),
            expires_at: "2026-12-02T10:00:00.000Z".into(),
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
            revoke_seq: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    #[test]
    fn an_approval_is_bound_to_digest_environment_change_and_time() {
        let r = row();
        let d = r.artifact_digest.clone();
        let t = at("2026-12-01T12:00:00Z");
        assert!(applies(&r, &d, "production", Some("CHG-1"), t));
        assert!(
            !applies(&r, &d, "production", Some("CHG-2"), t),
            "another change"
        );
        assert!(!applies(&r, &d, "production", None, t), "no change named");
        assert!(
            !applies(&r, &d, "staging", Some("CHG-1"), t),
            "another environment"
        );
        let other = format!("sha256:{}", "b".repeat(64));
        assert!(
            !applies(&r, &other, "production", Some("CHG-1"), t),
            "another digest"
        );
        assert!(
            !applies(
                &r,
                &d,
                "production",
                Some("CHG-1"),
                at("2026-12-02T10:00:00Z")
            ),
            "expired"
        );
        assert!(
            !applies(
                &r,
                &d,
                "production",
                Some("CHG-1"),
                at("2026-12-01T09:00:00Z")
            ),
            "before it was granted"
        );
        let revoked = ApprovalRow {
            revoked_at: Some("2026-12-01T11:00:00Z".into()),
            ..row()
        };
        assert!(
            !applies(&revoked, &d, "production", Some("CHG-1"), t),
            "revoked"
        );
        let any_change = ApprovalRow {
            change_ref: None,
            ..row()
        };
        assert!(applies(&any_change, &d, "production", Some("CHG-9"), t));
        assert!(applies(&any_change, &d, "production", None, t));
    }
}
