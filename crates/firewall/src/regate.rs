//! Re-gating: a recorded decision's request decided again now, by the firewall in force (new
//! advisories, exceptions granted or revoked since). The stored request is rebuilt from its
//! documents as `replay` rebuilds it (`record::rebuild_request`), but at the current time and
//! for the caller's firewall; the new decision is recorded as any other (`Firewall::record`),
//! so nothing is decided here.

use chrono::Utc;
use portcullis_evidence::Limits;
use portcullis_store::Store;

use crate::record::{Documents, RecordError, load_decision, load_request, rebuild_request};
use crate::request::DecisionRequest;

/// The request of recorded decision `id`, to be decided again now. The bytes of its evidence
/// documents are added to `docs` (what `Firewall::record` stores with the new decision). The
/// caller looks up the diff baseline in force (`Firewall::baseline`).
pub async fn stored_request(
    store: &Store,
    id: &str,
    limits: &Limits,
    docs: &mut Documents,
) -> Result<DecisionRequest, RecordError> {
    let (row, _) = load_decision(store, id).await?;
    let stored = load_request(store, &row.request_digest, id).await?;
    let mut req = rebuild_request(store, id, &stored, limits, Utc::now(), Some(docs)).await?;
    // Re-gating decides now, on the firewall's clock, with the facts in force now (the
    // decision service looks up approvals and history again).
    req.context.time = None;
    req.context.time_source = portcullis_policy::input::FactSource::Firewall;
    req.approvals.clear();
    Ok(req)
}
