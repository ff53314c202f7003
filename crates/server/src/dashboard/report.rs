//! The report export (`/ui/report`): `portcullis_report`'s build and render, as a download.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Duration as Days, Utc};
use portcullis_report::{Format, Options, Paper, ReportQuery};
use serde::Deserialize;

use super::page::{Page, PageError, User, query};
use crate::state::AppState;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    /// `a4` (default) or `letter`: the paper the html and pdf reports are laid out for.
    #[serde(default)]
    paper: Option<String>,
    /// `1`, `true` or `on` (a checkbox): the summary without a row per decision (html, pdf).
    #[serde(default)]
    summary: Option<String>,
}

/// The audit report (`portcullis_report`: the same build and render as `portcullis report`),
/// as a download: `?format=html|pdf|json|oscal&env=&from=&to=&paper=a4|letter&summary=1`
/// (default: PDF on A4 of the last 30 days, every environment, with a row per decision).
pub async fn report(
    State(state): State<Arc<AppState>>,
    user: User,
    q: Result<Query<ReportParams>, axum::extract::rejection::QueryRejection>,
) -> Page {
    let q = query(q)?;
    let format: Format = q
        .format
        .as_deref()
        .unwrap_or("pdf")
        .parse()
        .map_err(|e: portcullis_report::ParseError| PageError::bad_request(e.to_string()))?;
    let paper = match q.paper.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Paper::default(),
        Some(p) => p.parse().map_err(PageError::bad_request)?,
    };
    let summary_only = match q.summary.as_deref().map(str::trim) {
        None | Some("" | "0" | "false" | "off") => false,
        Some("1" | "true" | "on") => true,
        Some(other) => {
            return Err(PageError::bad_request(format!(
                "summary {other:?}: use 1 or 0"
            )));
        }
    };
    let options =
        Options::for_format(format, paper, summary_only).map_err(PageError::bad_request)?;
    let bound = |v: Option<&str>, b: portcullis_report::Bound, default: DateTime<Utc>| match v
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => {
            portcullis_report::parse_bound(s, b).map_err(|e| PageError::bad_request(e.to_string()))
        }
        None => Ok(default),
    };
    let now = Utc::now();
    let query = ReportQuery {
        env: q.env.filter(|e| !e.trim().is_empty()),
        from: bound(
            q.from.as_deref(),
            portcullis_report::Bound::From,
            now - Days::days(30),
        )?,
        to: bound(q.to.as_deref(), portcullis_report::Bound::To, now)?,
    };
    let report = portcullis_report::build(&state.store, &query)
        .await
        .map_err(|e| match e {
            portcullis_report::ReportError::Query(m) => PageError::bad_request(m),
            other => PageError::internal(other),
        })?;
    let bytes = tokio::task::spawn_blocking(move || {
        portcullis_report::render_with(&report, format, &options, &mut |_, _| {})
    })
    .await
    .map_err(PageError::internal)?
    .map_err(|e| match e {
        portcullis_report::ReportError::Pdf(m) => {
            PageError::new(StatusCode::SERVICE_UNAVAILABLE, "No PDF renderer", m)
        }
        other => PageError::internal(other),
    })?;
    tracing::info!(format = format.as_str(), by = %user.actor(), "dashboard: report exported");
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"portcullis-report-{}.{}\"",
        now.format("%Y%m%d"),
        format.extension()
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
