//! Advisories (`/ui/advisories`): the list with each one's impact, adding an OSV record or a
//! block rule, withdrawing.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use portcullis_firewall::registry::{self, AdvisoryDoc};
use portcullis_store::{Change, kinds};
use serde::Deserialize;
use serde_json::{Value, json};

use super::lines::{AdvisoryLine, advisory_impact, advisory_lines};
use super::page::{
    Layout, NoticeQuery, Page, PageError, ReasonForm, User, check_csrf, form, layout, render,
    see_other, urlencode,
};
use crate::auth::Permission;
use crate::notify::Event;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "advisories.html")]
struct AdvisoriesPage {
    layout: Layout,
    advisories: Vec<AdvisoryLine>,
    notice: Option<String>,
}

pub async fn advisories(
    State(state): State<Arc<AppState>>,
    user: User,
    q: Result<Query<NoticeQuery>, axum::extract::rejection::QueryRejection>,
) -> Page {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    render(&AdvisoriesPage {
        layout: layout("Advisories", "advisories", Some(&user)),
        advisories: advisory_lines(&state, true, 500).await?,
        notice: q.done,
    })
}

#[derive(Deserialize)]
pub struct AdvisoryForm {
    csrf: String,
    #[serde(default)]
    osv: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    purl: String,
    #[serde(default)]
    vers: String,
    #[serde(default)]
    reason: String,
}

pub async fn add_advisory(
    State(state): State<Arc<AppState>>,
    user: User,
    headers: HeaderMap,
    f: Result<Form<AdvisoryForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    user.require(Permission::Admin)?;
    let doc = match (f.osv.trim().is_empty(), f.purl.trim().is_empty()) {
        (false, true) => {
            let v: Value = serde_json::from_str(f.osv.trim())
                .map_err(|e| PageError::bad_request(format!("the OSV record is not JSON: {e}")))?;
            let bytes = serde_json::to_vec(&v).map_err(PageError::internal)?;
            AdvisoryDoc::osv("osv", bytes, &state.limits)?
        }
        (true, false) => {
            let id = f.id.trim();
            AdvisoryDoc::block_rule(
                (!id.is_empty()).then_some(id),
                f.purl.trim(),
                f.vers.trim(),
                &f.reason,
            )?
        }
        _ => {
            return Err(PageError::bad_request(
                "give either an OSV record, or a block rule (purl, version range, reason)",
            ));
        }
    };
    let id = doc.id.clone();
    let entries = registry::add_advisories(&state.store, vec![doc], &user.actor()).await?;
    let seq = entries.first().map(|e| e.seq);
    state.reload_after(&format!("adding {id}"), seq).await;
    // The impact, recorded as the API records it.
    if let Some(row) = state.store.advisory(&id).await? {
        let affected = advisory_impact(&state, &row).await?;
        state
            .store
            .append(vec![Change::new(
                kinds::ADVISORY_IMPACT,
                json!({"advisory_id": id, "affected": affected, "by": user.actor()}),
                vec![],
            )])
            .await?;
        if !affected.is_empty() {
            state.notifier.send(Event::AdvisoryImpact {
                advisory: id.clone(),
                affected,
            });
        }
    }
    Ok(see_other(&format!(
        "/ui/advisories?done={}",
        urlencode(&format!("Added {id}."))
    )))
}

pub async fn withdraw_advisory(
    State(state): State<Arc<AppState>>,
    user: User,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Result<Form<ReasonForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    user.require(Permission::Admin)?;
    let e = registry::withdraw_advisory(&state.store, &id, &user.actor(), &f.reason).await?;
    state
        .reload_after(&format!("withdrawing {id}"), Some(e.seq))
        .await;
    Ok(see_other(&format!(
        "/ui/advisories?done={}",
        urlencode(&format!("Withdrew {id}."))
    )))
}
