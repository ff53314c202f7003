//! Posture (`/ui/posture`): what runs in each environment and whether it may — each running
//! artifact compliant, in violation (of which rules, for how long) or undecided, violations
//! first and longest first, each linked to the decision it stands on.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use portcullis_firewall::posture::{EnvironmentPosture, State as Standing};

use super::page::{Layout, Page, User, layout, render, short, when};
use crate::state::AppState;

pub struct RunningLine {
    pub artifact: String,
    pub digest: String,
    pub digest_short: String,
    /// `compliant`, `violation`, `undecided` or `pending`.
    pub state: &'static str,
    /// The badge's class.
    pub badge: &'static str,
    pub rules: Vec<String>,
    pub since: String,
    /// `in violation for 3d 4h`.
    pub held: String,
    pub decision_id: Option<String>,
}

pub struct EnvironmentLines {
    pub environment: String,
    pub violation: usize,
    pub undecided: usize,
    pub compliant: usize,
    pub pending: usize,
    pub running: Vec<RunningLine>,
}

#[derive(Template)]
#[template(path = "posture.html")]
struct PosturePage {
    layout: Layout,
    environments: Vec<EnvironmentLines>,
}

fn lines(p: EnvironmentPosture) -> EnvironmentLines {
    let mut running: Vec<RunningLine> = p
        .artifacts
        .into_iter()
        .map(|s| {
            let (state, badge, held) = match s.state {
                Standing::Violation => (
                    "violation",
                    "deny",
                    format!(
                        "in violation for {}",
                        portcullis_firewall::posture::span(s.seconds)
                    ),
                ),
                Standing::Undecided => (
                    "undecided",
                    "warn",
                    format!(
                        "undecided for {}",
                        portcullis_firewall::posture::span(s.seconds)
                    ),
                ),
                Standing::Compliant => (
                    "compliant",
                    "allow",
                    format!(
                        "compliant for {}",
                        portcullis_firewall::posture::span(s.seconds)
                    ),
                ),
            };
            RunningLine {
                digest_short: short(&s.artifact.digest),
                artifact: s.artifact.name,
                digest: s.artifact.digest,
                state,
                badge,
                rules: s.rules,
                since: when(&s.since),
                held,
                decision_id: s.decision_id,
            }
        })
        .collect();
    running.extend(p.pending.iter().map(|a| RunningLine {
        artifact: a.name.clone(),
        digest_short: short(&a.digest),
        digest: a.digest.clone(),
        state: "pending",
        badge: "neutral",
        rules: Vec::new(),
        since: String::new(),
        held: "running, not judged yet".into(),
        decision_id: None,
    }));
    EnvironmentLines {
        environment: p.environment,
        violation: p.violation,
        undecided: p.undecided,
        compliant: p.compliant,
        pending: p.pending.len(),
        running,
    }
}

pub async fn posture(State(state): State<Arc<AppState>>, user: User) -> Page {
    let mut environments = Vec::new();
    for e in state.service.environments().await? {
        environments.push(lines(state.service.posture(&e.environment).await?));
    }
    // Environments with something in violation first.
    environments.sort_by_key(|e| (e.violation == 0, e.undecided == 0, e.environment.clone()));
    render(&PosturePage {
        layout: layout("Posture", "posture", Some(&user)),
        environments,
    })
}
