//! Canary analyses on the dashboard: the reports a decision's verification results point at
//! (their `evidence` digest: the report `portcullis verify canary --record` stored, or a report
//! handed to the gate as evidence), drawn by `portcullis_verify::html` (charts of baseline vs
//! canary per metric, log templates with samples); and `/ui/canary/{digest}`, one report on a
//! page of its own.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use portcullis_verify::report::Report;

use super::page::{Layout, Page, PageError, User, layout, render};
use crate::state::AppState;

/// One canary report, drawn.
pub struct CanaryView {
    pub digest: String,
    /// The report's view (trusted HTML: every text in it is escaped by the renderer).
    pub html: String,
}

/// What a stored document is, read as a canary report: `Ok(None)` when it is another kind of
/// document, `Err` when it says it is a canary report but does not read as one.
pub fn as_report(bytes: &[u8]) -> Result<Option<Report>, String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(None);
    };
    if value.get("kind").and_then(|k| k.as_str()) != Some("canary")
        || value.get("apiVersion").is_none()
    {
        return Ok(None);
    }
    serde_json::from_value::<Report>(value)
        .map(Some)
        .map_err(|e| format!("a canary report that does not read: {e}"))
}

/// The canary reports stored under `digests` (each once, in order). A document that is not a
/// canary report is left out; one that claims to be but does not read is said.
pub async fn views(
    state: &AppState,
    digests: &[String],
    level: u8,
) -> Result<(Vec<CanaryView>, Vec<String>), PageError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for d in digests {
        if d.is_empty() || !seen.insert(d.clone()) {
            continue;
        }
        let Some((_, bytes)) = state.store.blob(d).await? else {
            continue;
        };
        match as_report(&bytes) {
            Ok(Some(report)) => out.push(CanaryView {
                digest: d.clone(),
                html: portcullis_verify::html::section(&report, level),
            }),
            Ok(None) => {}
            Err(e) => problems.push(format!("document {d}: {e}")),
        }
    }
    Ok((out, problems))
}

#[derive(Template)]
#[template(path = "canary.html")]
struct CanaryPage {
    layout: Layout,
    digest: String,
    css: &'static str,
    html: String,
}

/// `/ui/canary/{digest}`: the stored canary report `digest`.
pub async fn canary(
    State(state): State<Arc<AppState>>,
    user: User,
    Path(digest): Path<String>,
) -> Page {
    let Some((_, bytes)) = state.store.blob(&digest).await? else {
        return Err(PageError::not_found(format!(
            "document {digest}: not in the store"
        )));
    };
    let report = match as_report(&bytes) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err(PageError::not_found(format!(
                "document {digest}: not a canary report"
            )));
        }
        Err(e) => return Err(PageError::internal(format!("document {digest}: {e}"))),
    };
    render(&CanaryPage {
        layout: layout(
            format!("Canary analysis {}", super::page::short(&digest)),
            "decisions",
            Some(&user),
        ),
        digest,
        css: portcullis_verify::html::CSS,
        html: portcullis_verify::html::section(&report, 1),
    })
}
