//! Re-gating a recorded decision from the dashboard (the decision page's button, and granting
//! an exception with "re-gate"): the firewall's decision service decides it again now and
//! records it, as every other door does.

use portcullis_firewall::Decision;

use super::page::{PageError, User};
use crate::state::AppState;

/// Decide recorded decision `id` again, now, with the firewall in force, and record it.
pub async fn regate_decision(
    state: &AppState,
    user: &User,
    id: &str,
) -> Result<Decision, PageError> {
    Ok(state.service.regate(id, &user.as_actor()).await?.decision)
}
