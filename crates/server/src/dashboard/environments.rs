//! Environments (`/ui/environments`): the latest decision in each, and what is deployed where.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;

use super::lines::{DecisionLine, lines_of};
use super::page::{Layout, Page, User, layout, render, short, when};
use crate::state::AppState;

pub struct DeployedLine {
    pub environment: String,
    pub artifact: String,
    pub digest: String,
    pub digest_short: String,
    pub since: String,
    pub decision: Option<DecisionLine>,
}

#[derive(Template)]
#[template(path = "environments.html")]
struct EnvironmentsPage {
    layout: Layout,
    latest: Vec<DecisionLine>,
    deployed: Vec<DeployedLine>,
}

pub async fn environments(State(state): State<Arc<AppState>>, user: User) -> Page {
    let latest_rows = state.store.latest_per_environment().await?;
    let latest = lines_of(&state, &latest_rows).await?;
    let mut deployed = Vec::new();
    for d in state.store.inventory(None).await? {
        let decision = match state
            .store
            .latest_decision(&d.artifact_digest, &d.environment)
            .await?
        {
            Some(row) => lines_of(&state, &[row]).await?.into_iter().next(),
            None => None,
        };
        deployed.push(DeployedLine {
            environment: d.environment,
            artifact: d.artifact_name,
            digest_short: short(&d.artifact_digest),
            digest: d.artifact_digest,
            since: when(&d.deployed_at),
            decision,
        });
    }
    render(&EnvironmentsPage {
        layout: layout("Environments", "environments", Some(&user)),
        latest,
        deployed,
    })
}
