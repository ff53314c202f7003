//! Watches (`/ui/watches`): the hours after each deployment — running, passed or failed —
//! with every interval's checks (when, which kind, the verdict, what failed).

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use portcullis_firewall::watch::{Status, Verdict};

use super::page::{Layout, Page, User, layout, render, short, when};
use crate::state::AppState;

pub struct WatchLine {
    pub id: String,
    pub status: &'static str,
    /// The badge class: allow, deny or neutral.
    pub badge: &'static str,
    pub environment: String,
    pub artifact: String,
    pub digest: String,
    pub digest_short: String,
    pub previous: String,
    pub started: String,
    pub ends: String,
    pub every: String,
    pub reason: String,
    pub checks: Vec<CheckLine>,
}

pub struct CheckLine {
    pub interval: u32,
    pub at: String,
    pub kind: String,
    pub verdict: &'static str,
    pub badge: &'static str,
    pub score: String,
    pub metrics: String,
    pub ports: String,
    pub failed: Vec<String>,
}

#[derive(Template)]
#[template(path = "watches.html")]
struct WatchesPage {
    layout: Layout,
    watches: Vec<WatchLine>,
}

pub async fn watches(State(state): State<Arc<AppState>>, user: User) -> Page {
    let mut lines = Vec::new();
    for w in state.service.watches().list(None).await? {
        let (status, badge) = match w.status {
            Status::Running => ("running", "neutral"),
            Status::Passed => ("passed", "allow"),
            Status::Failed => ("failed", "deny"),
            Status::Inconclusive => ("inconclusive", "neutral"),
        };
        let mut checks = Vec::new();
        for c in &w.checks {
            for r in &c.results {
                let (verdict, badge) = match r.verdict {
                    Verdict::Pass => ("pass", "allow"),
                    Verdict::Marginal => ("marginal", "neutral"),
                    Verdict::Fail => ("fail", "deny"),
                    Verdict::Error => ("error", "neutral"),
                };
                checks.push(CheckLine {
                    interval: c.interval,
                    at: c.at.clone(),
                    kind: r.kind.clone(),
                    verdict,
                    badge,
                    score: r.score.map(|s| format!("{s:.0}")).unwrap_or_default(),
                    metrics: r.metrics.join(", "),
                    ports: r
                        .ports
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    failed: r.failed.clone(),
                });
            }
        }
        lines.push(WatchLine {
            id: w.plan.id.clone(),
            status,
            badge,
            environment: w.plan.environment.clone(),
            artifact: w.plan.artifact.name.clone(),
            digest_short: short(&w.plan.artifact.digest),
            digest: w.plan.artifact.digest.clone(),
            previous: w
                .plan
                .previous
                .as_ref()
                .map(|p| short(&p.digest))
                .unwrap_or_else(|| "none recorded".into()),
            started: when(&w.plan.deployed_at),
            ends: w.ends_at.as_deref().map(when).unwrap_or_default(),
            every: format!(
                "every {} s for {} s",
                w.plan.interval_seconds, w.plan.duration_seconds
            ),
            reason: w.reason.clone().unwrap_or_default(),
            checks,
        });
    }
    render(&WatchesPage {
        layout: layout("Watches", "watches", Some(&user)),
        watches: lines,
    })
}
