//! The audit chain (`/ui/audit`): head, last checkpoint, and verifying the whole chain.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use chrono::{SecondsFormat, Utc};
use portcullis_store::VerifyFailure;
use serde::Deserialize;

use super::lines::{ChainStatus, chain_status};
use super::page::{Layout, Page, PageError, User, layout, query, render};
use super::state::{ChainCheck, Dash};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    chain: ChainStatus,
    just_verified: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    verify: Option<String>,
}

/// The chain's head and last checkpoint; `?verify=1` verifies the whole chain now (as
/// `GET /v1/audit/verify` does) and keeps the result for the overview.
pub async fn audit(
    State(state): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
    user: User,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Page {
    let q = query(q)?;
    let verify = q.verify.is_some_and(|v| v != "0");
    if verify {
        let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let options = state
            .settings
            .audit
            .verify_options()
            .map_err(PageError::internal)?;
        let check = match state.store.verify_with(&options).await {
            Ok(v) => ChainCheck {
                at,
                intact: true,
                detail: format!(
                    "{} entries and {} signed checkpoints verify; last hash {}",
                    v.entries, v.checkpoints, v.last_hash
                ),
            },
            Err(VerifyFailure::Tamper(t)) => ChainCheck {
                at,
                intact: false,
                detail: t.to_string(),
            },
            Err(e @ VerifyFailure::Tables(_)) => ChainCheck {
                at,
                intact: false,
                detail: e.to_string(),
            },
            Err(VerifyFailure::Store(e)) => return Err(PageError::internal(e)),
        };
        dash.set_chain_check(check);
    }
    render(&AuditPage {
        layout: layout("Audit chain", "audit", Some(&user)),
        chain: chain_status(&state, &dash).await?,
        just_verified: verify,
    })
}
