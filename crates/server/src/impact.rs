//! The deployed artifacts an advisory affects now: shared by the API
//! (`GET /v1/advisories/{id}/impact`, and the impact recorded when one is added) and the
//! dashboard's advisory pages.

use portcullis_firewall::impact;

use crate::problem::Problem;
use crate::state::AppState;

/// The deployed packages advisory `id` (in document `bytes`) affects now; a document holding
/// one advisory is taken whatever its id.
pub async fn impact_of(
    state: &AppState,
    bytes: &[u8],
    id: &str,
) -> Result<Vec<portcullis_store::PackageInUse>, Problem> {
    let advisories = portcullis_firewall::record::advisories_in(bytes, &state.limits)
        .map_err(|e| Problem::internal(format!("advisory {id}: {e}")))?;
    let mut rows = Vec::new();
    for a in advisories
        .iter()
        .filter(|a| a.id == id || advisories.len() == 1)
    {
        rows.extend(impact::impact(&state.store, a).await?);
    }
    Ok(rows)
}
