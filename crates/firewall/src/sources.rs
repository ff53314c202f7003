//! The firewall's own sources for the facts a decision rests on. Before a decision that will be
//! recorded, the decision service replaces what the request says about itself with what the
//! firewall knows: its clock, the caller it authenticated, the approvals, decisions,
//! deployments and verification results in its store. What the request said instead is kept
//! out of the decision and listed in `ignored`; facts it brings that the firewall cannot
//! establish (an inline canary result) stay in, marked asserted, and count only where the
//! environment accepts asserted facts.

use chrono::{DateTime, Utc};
use portcullis_policy::input::{FactSource, InputExposure, InputHistoryEntry, InputVerification};
use portcullis_store::Store;

use crate::access::{Actor, Role};
use crate::registry::RegistryError;
use crate::request::DecisionRequest;

/// How many of the newest decisions about a digest in each environment the history holds. The
/// newest `allow` there and the newest `allow` followed by a deployment there are held besides,
/// however old: the promotion order (PCL-CHG-004) is judged from them, and later decisions must
/// not push them out.
pub const HISTORY_PER_ENVIRONMENT: i64 = 20;

/// The firewall's clock, at the precision decisions are recorded with (so that a replay
/// decides at exactly the same time).
pub fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// The firewall's clock for a decision: now, but never before the last entry of the audit
/// chain. A clock stepped back (by mistake, NTP or an attacker on the host) cannot date a
/// decision before what the firewall has already recorded, so an exception or approval that
/// had expired by then does not come back into force.
pub async fn clock(store: &Store) -> Result<DateTime<Utc>, RegistryError> {
    let now = now_millis();
    let head = store
        .head_time()
        .await?
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc));
    Ok(match head {
        Some(h) if h > now => h,
        _ => now,
    })
}

/// Mark every fact the request carries as asserted, whatever it says of itself: a request
/// cannot call its own canary result "recorded".
pub fn distrust(req: &mut DecisionRequest) {
    for v in &mut req.verifications {
        v.source = FactSource::Asserted;
        v.recorded_by = None;
    }
    for e in &mut req.exposures {
        e.source = FactSource::Asserted;
        e.recorded_by = None;
    }
    for h in &mut req.history {
        h.source = FactSource::Asserted;
    }
    if let Some(p) = &mut req.previous {
        p.source = FactSource::Asserted;
    }
    req.approvals.clear();
}

/// Put the firewall's own facts into `req`, asked for by `actor`. The previous deployment
/// comes from the diff baseline, which the service sets after this.
pub async fn establish(
    store: &Store,
    req: &mut DecisionRequest,
    actor: &Actor,
) -> Result<(), RegistryError> {
    distrust(req);
    // Who asks: the identity the firewall authenticated. A re-gate keeps the requester of the
    // decision it repeats (restored as authenticated from the record).
    if actor.authenticated && req.context.requester_source != FactSource::Authenticated {
        if let Some(claimed) = req.context.requester.take()
            && claimed.trim() != actor.name
        {
            req.ignored.push(format!(
                "context.requester {claimed:?}: the requester is the caller the firewall authenticated, {}",
                actor.name
            ));
        }
        req.context.requester = Some(actor.name.clone());
        req.context.requester_source = FactSource::Authenticated;
    } else if req.context.requester_source != FactSource::Authenticated {
        req.context.requester_source = FactSource::Asserted;
    }
    // When: the firewall's clock, unless an admin dates a recorded decision (it says so) or a
    // what-if evaluation asks for another time (never recorded).
    match req.context.time {
        Some(t) if !(req.what_if || actor.role == Role::Admin) => {
            req.ignored.push(format!(
                "context.time {}: a recorded decision is timed by the firewall's clock; ask for a what-if evaluation to decide at another time",
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ));
            req.context.time = Some(clock(store).await?);
            req.context.time_source = FactSource::Firewall;
        }
        Some(_) => req.context.time_source = FactSource::Asserted,
        None => {
            req.context.time = Some(clock(store).await?);
            req.context.time_source = FactSource::Firewall;
        }
    }
    let at = match req.context.time {
        Some(t) => t,
        None => clock(store).await?,
    };
    let digest = req.artifact.digest.clone();
    let environment = req.environment.clone();
    // Approvals in force at the decision time, bound to this digest, environment and change.
    req.approvals = crate::approvals::in_force(
        store,
        &digest,
        &environment,
        req.context.change_ref.as_deref(),
        at,
    )
    .await?;
    // The history of this digest: the store's decisions and deployments. A server never uses
    // a history the request brings; the command line on its own store (whose operator can
    // write anything into it anyway) and a what-if evaluation add theirs, marked asserted.
    let own = history(store, &digest).await?;
    let keep_claims = req.what_if || !actor.authenticated;
    if keep_claims {
        let claimed = std::mem::take(&mut req.history);
        req.history = own;
        req.history.extend(claimed);
    } else {
        if !req.history.is_empty() {
            req.ignored.push(format!(
                "history ({} entries): the history is the firewall's own record of decisions and deployments",
                req.history.len()
            ));
        }
        req.history = own;
    }
    if !keep_claims && let Some(p) = req.previous.take() {
        req.ignored.push(format!(
            "previous {}@{}: what runs is the firewall's own inventory",
            p.artifact.name, p.artifact.digest
        ));
    }
    // Verification and exposure results the firewall recorded for this digest here.
    for row in store.recorded_facts(&digest, &environment).await? {
        let source = if row.source == "signed" {
            FactSource::Signed
        } else {
            FactSource::Recorded
        };
        let bad = |e: serde_json::Error| {
            RegistryError::Internal(format!(
                "recorded fact {} in the store is not readable: {e}",
                row.id
            ))
        };
        match row.kind.as_str() {
            "verification" => {
                let mut v: InputVerification = serde_json::from_str(&row.body).map_err(bad)?;
                v.source = source;
                v.recorded_by = Some(row.recorded_by.clone());
                req.verifications.push(v);
            }
            "exposure" => {
                let mut e: InputExposure = serde_json::from_str(&row.body).map_err(bad)?;
                e.source = source;
                e.recorded_by = Some(row.recorded_by.clone());
                req.exposures.push(e);
            }
            other => {
                return Err(RegistryError::Internal(format!(
                    "recorded fact {}: unknown kind {other:?}",
                    row.id
                )));
            }
        }
    }
    // A result the request hands in that the firewall recorded too (the same result, whichever
    // document carried it) counts once, as recorded.
    let bare_v = |v: &InputVerification| InputVerification {
        source: FactSource::Asserted,
        recorded_by: None,
        evidence: None,
        ..v.clone()
    };
    let recorded_v: Vec<InputVerification> = req
        .verifications
        .iter()
        .filter(|v| v.source.established())
        .map(bare_v)
        .collect();
    req.verifications
        .retain(|v| v.source.established() || !recorded_v.contains(&bare_v(v)));
    let bare_e = |e: &InputExposure| InputExposure {
        source: FactSource::Asserted,
        recorded_by: None,
        evidence: None,
        ..e.clone()
    };
    let recorded_e: Vec<InputExposure> = req
        .exposures
        .iter()
        .filter(|e| e.source.established())
        .map(bare_e)
        .collect();
    req.exposures
        .retain(|e| e.source.established() || !recorded_e.contains(&bare_e(e)));
    Ok(())
}

/// The decisions recorded about `digest` (oldest first), each with whether the digest was
/// deployed to that environment after it: per environment the newest
/// [`HISTORY_PER_ENVIRONMENT`], the newest `allow` and the newest `allow` that was deployed
/// (`Store::decision_history_of_digest`).
pub async fn history(store: &Store, digest: &str) -> Result<Vec<InputHistoryEntry>, RegistryError> {
    let decisions = store
        .decision_history_of_digest(digest, HISTORY_PER_ENVIRONMENT)
        .await?;
    Ok(decisions
        .into_iter()
        .map(|h| InputHistoryEntry {
            environment: h.decision.environment,
            decision: h.decision.verdict,
            decided_at: h.decision.decided_at,
            deployed: h.deployed,
            source: FactSource::Firewall,
        })
        .collect())
}

/// Verification and exposure results to record for one artifact digest in one environment.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FactsToRecord {
    /// `sha256:<64 hex>`.
    pub artifact_digest: String,
    pub environment: String,
    #[serde(default)]
    pub verifications: Vec<InputVerification>,
    #[serde(default)]
    pub exposures: Vec<InputExposure>,
}

/// Record `facts` as measured by `actor` (role verifier or admin): each becomes a recorded fact
/// of later decisions about that digest there, with an audit entry.
pub async fn record(
    store: &Store,
    facts: &FactsToRecord,
    actor: &Actor,
) -> Result<Vec<portcullis_store::RecordedFactRow>, RegistryError> {
    use portcullis_store::{Change, RecordedFactRow, Write, kinds};
    actor.require(
        crate::access::Permission::Record,
        "recording verification or exposure results",
    )?;
    let digest = crate::decision::sha256_digest(facts.artifact_digest.trim()).ok_or_else(|| {
        RegistryError::Invalid(format!(
            "artifact digest {:?}: results are recorded for one exact artifact, `sha256:` and 64 hex digits",
            facts.artifact_digest
        ))
    })?;
    let environment = facts.environment.trim();
    crate::names::check(crate::names::NameKind::Environment, environment)
        .map_err(|e| RegistryError::Invalid(e.to_string()))?;
    if facts.verifications.is_empty() && facts.exposures.is_empty() {
        return Err(RegistryError::Invalid(
            "nothing to record: give verifications or exposures".into(),
        ));
    }
    let mut items: Vec<(&str, serde_json::Value)> = Vec::new();
    for v in &facts.verifications {
        if !(0.0..=100.0).contains(&v.score) || v.kind.trim().is_empty() {
            return Err(RegistryError::Invalid(format!(
                "verification {:?}: kind must be given and score must be 0-100, not {}",
                v.kind, v.score
            )));
        }
        let mut v = v.clone();
        v.source = FactSource::Asserted;
        v.recorded_by = None;
        items.push(("verification", serde_json::to_value(&v).unwrap_or_default()));
    }
    for e in &facts.exposures {
        let mut e = e.clone();
        e.source = FactSource::Asserted;
        e.recorded_by = None;
        items.push(("exposure", serde_json::to_value(&e).unwrap_or_default()));
    }
    let at = crate::clock::now();
    let mut changes = Vec::new();
    let mut rows = Vec::new();
    for (kind, body) in items {
        let row = RecordedFactRow {
            id: crate::access::random_id("fct")?,
            seq: 0,
            kind: kind.to_string(),
            artifact_digest: digest.clone(),
            environment: environment.to_string(),
            body: body.to_string(),
            source: "recorded".into(),
            recorded_by: actor.name.clone(),
            recorded_at: at.clone(),
        };
        changes.push(Change::new(
            kinds::FACT_RECORDED,
            serde_json::json!({
                "fact_id": row.id, "kind": kind, "artifact_digest": row.artifact_digest,
                "environment": row.environment, "fact": body, "source": row.source,
                "recorded_by": row.recorded_by, "role": actor.role.as_str(),
            }),
            vec![Write::Fact(row.clone())],
        ));
        rows.push(row);
    }
    let entries = store.append(changes).await?;
    Ok(rows
        .into_iter()
        .zip(entries)
        .map(|(r, e)| RecordedFactRow {
            seq: e.map_or(0, |e| e.seq as i64),
            ..r
        })
        .collect())
}
