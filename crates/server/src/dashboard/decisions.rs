//! The decisions list (`/ui/decisions`), filtered by environment and artifact.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::lines::{DecisionLine, lines_of};
use super::page::{Layout, Page, User, layout, query, render};
use crate::state::AppState;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DecisionsQuery {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    artifact: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Template)]
#[template(path = "decisions.html")]
struct DecisionsPage {
    layout: Layout,
    env: String,
    artifact: String,
    decisions: Vec<DecisionLine>,
}

pub async fn decisions(
    State(state): State<Arc<AppState>>,
    user: User,
    q: Result<Query<DecisionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Page {
    let q = query(q)?;
    let env = q.env.filter(|s| !s.trim().is_empty());
    let artifact = q.artifact.filter(|s| !s.trim().is_empty());
    let rows = state
        .store
        .decisions(
            env.as_deref(),
            artifact.as_deref(),
            None,
            q.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await?;
    render(&DecisionsPage {
        layout: layout("Decisions", "decisions", Some(&user)),
        env: env.unwrap_or_default(),
        artifact: artifact.unwrap_or_default(),
        decisions: lines_of(&state, &rows).await?,
    })
}
