//! Exceptions (`/ui/exceptions`): the list with expiry and revocation, granting (optionally
//! re-gating a decision at once), revoking.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use chrono::{Duration as Days, Utc};
use portcullis_firewall::Exception;
use portcullis_firewall::ServiceError;
use serde::Deserialize;

use super::lines::{ExceptionLine, exception_lines};
use super::page::{
    Layout, NoticeQuery, Page, PageError, ReasonForm, User, check_csrf, form, layout, render,
    see_other, urlencode,
};
use super::regate::regate_decision;
use crate::auth::Permission;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "exceptions.html")]
struct ExceptionsPage {
    layout: Layout,
    exceptions: Vec<ExceptionLine>,
    notice: Option<String>,
    grant_expires: String,
}

pub async fn exceptions(
    State(state): State<Arc<AppState>>,
    user: User,
    q: Result<Query<NoticeQuery>, axum::extract::rejection::QueryRejection>,
) -> Page {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    render(&ExceptionsPage {
        layout: layout("Exceptions", "exceptions", Some(&user)),
        exceptions: exception_lines(&state, true).await?,
        notice: q.done,
        grant_expires: (Utc::now() + Days::days(30)).format("%Y-%m-%d").to_string(),
    })
}

#[derive(Deserialize)]
pub struct GrantForm {
    csrf: String,
    rule: String,
    key: String,
    artifact: String,
    environments: String,
    expires: String,
    reason: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    evidence: String,
    /// Re-gate this decision once the exception is in force.
    #[serde(default)]
    regate: String,
}

pub async fn grant_exception(
    State(state): State<Arc<AppState>>,
    user: User,
    headers: HeaderMap,
    f: Result<Form<GrantForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    user.require(Permission::Approve)?;
    // Fields are only trimmed here: the firewall checks them (the one validation every way
    // of granting shares) and its refusal is shown on the form.
    let expires = f.expires.trim();
    let opt = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    };
    let exception = Exception {
        id: opt(&f.id),
        rule: f.rule.trim().to_string(),
        key: f.key.trim().to_string(),
        artifact: f.artifact.trim().to_string(),
        environments: f
            .environments
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        expires: expires.to_string(),
        reason: f.reason.trim().to_string(),
        approver: user.actor(),
        evidence: opt(&f.evidence),
    };
    let granted = state
        .service
        .grant_exceptions(vec![exception], &user.as_actor())
        .await
        .map_err(|e| match e {
            ServiceError::Invalid(m) => PageError::bad_request(m),
            other => PageError::from(other),
        })?
        .into_iter()
        .next()
        .map(|g| g.id)
        .unwrap_or_default();
    let regate_id = f.regate.trim();
    if !regate_id.is_empty() {
        let d = regate_decision(&state, &user, regate_id).await?;
        return Ok(see_other(&format!(
            "/ui/decisions/{}?regated_from={}",
            urlencode(&d.id),
            urlencode(regate_id)
        )));
    }
    Ok(see_other(&format!(
        "/ui/exceptions?done={}",
        urlencode(&format!("Granted {granted}."))
    )))
}

pub async fn revoke_exception(
    State(state): State<Arc<AppState>>,
    user: User,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Result<Form<ReasonForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    user.require(Permission::Approve)?;
    state
        .service
        .revoke_exception(&id, &user.as_actor(), &f.reason)
        .await?;
    Ok(see_other(&format!(
        "/ui/exceptions?done={}",
        urlencode(&format!("Revoked {id}."))
    )))
}
