//! Re-gating a recorded decision from the dashboard (the decision page's button, and granting
//! an exception with "re-gate"): `Firewall::decide` + `Firewall::record`, as the API does.

use portcullis_firewall::{Decision, regate};

use super::page::{PageError, User};
use crate::notify::Event;
use crate::state::AppState;

/// Decide recorded decision `id` again, now, with the firewall in force, and record it.
pub async fn regate_decision(
    state: &AppState,
    user: &User,
    id: &str,
) -> Result<Decision, PageError> {
    if state.store.decision(id).await?.is_none() {
        return Err(PageError::not_found(format!(
            "decision {id}: not in the store"
        )));
    }
    let live = state.live();
    let mut docs = live.docs.clone();
    let mut req = regate::stored_request(&state.store, id, &state.limits, &mut docs)
        .await
        .map_err(PageError::internal)?;
    // As POST /v1/decisions: the new decision carries the diff against what runs now.
    req.baseline = Some(
        live.firewall
            .baseline(&state.store, &req.environment, &req.artifact.name)
            .await
            .map_err(|e| {
                PageError::internal(format!("the diff baseline could not be read: {e}"))
            })?,
    );
    let deciding = live.clone();
    let (mut decision, req) = tokio::task::spawn_blocking(move || {
        let d = deciding.firewall.decide(&req);
        (d, req)
    })
    .await
    .map_err(PageError::internal)?;
    live.firewall
        .record(&state.store, &req, &mut decision, &docs)
        .await
        .map_err(|e| {
            PageError::internal(format!(
                "decision {} could not be recorded: {e}",
                decision.id
            ))
        })?;
    tracing::info!(
        decision = %decision.id,
        regated = %id,
        verdict = decision.decision.as_str(),
        environment = %decision.environment,
        by = %user.actor(),
        "decision (re-gated from the dashboard)"
    );
    if !decision.allowed() {
        state.notifier.send(Event::Deny(Box::new(decision.clone())));
    }
    Ok(decision)
}
