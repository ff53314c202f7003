//! Advisories (`/ui/advisories`): the list with each one's impact, adding an OSV record or a
//! block rule, withdrawing.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use portcullis_firewall::registry::AdvisoryDoc;
use serde::Deserialize;
use serde_json::Value;

use super::lines::{AdvisoryLine, advisory_lines};
use super::page::{
    Layout, NoticeQuery, Page, PageError, ReasonForm, User, check_csrf, form, layout, render,
    see_other, urlencode,
};
use crate::auth::Permission;
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
    // The firewall records the impact too, as for every other way of adding one.
    state
        .service
        .add_advisories(vec![doc], &user.as_actor())
        .await?;
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
    state
        .service
        .withdraw_advisory(&id, &user.as_actor(), &f.reason)
        .await?;
    Ok(see_other(&format!(
        "/ui/advisories?done={}",
        urlencode(&format!("Withdrew {id}."))
    )))
}
