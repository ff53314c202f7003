//! Pipelines (`/ui/pipelines`): pass rate and time blocked per pipeline and stage.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use chrono::{DateTime, Duration as Days, SecondsFormat, Utc};
use portcullis_report::charts::{self, Bar, HBars};

use super::page::{Layout, Page, User, duration_text, layout, render, when};
use crate::state::AppState;

pub struct PipelineLine {
    pub pipeline: String,
    pub stage: String,
    pub decisions: usize,
    pub passed: usize,
    pub denied: usize,
    /// Of the passed, those allowed with warnings (warnings are not violations: they pass).
    pub warned: usize,
    pub pass_rate: String,
    pub blocked: String,
    pub still_blocked: usize,
    pub last: String,
}

#[derive(Template)]
#[template(path = "pipelines.html")]
struct PipelinesPage {
    layout: Layout,
    days: i64,
    pipelines: Vec<PipelineLine>,
    rate_svg: String,
}

/// Decisions a pipelines page reads at most.
const PIPELINE_ROWS: i64 = 200_000;
const PIPELINE_DAYS: i64 = 30;

pub async fn pipelines(State(state): State<Arc<AppState>>, user: User) -> Page {
    let now = Utc::now();
    let since = (now - Days::days(PIPELINE_DAYS)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let rows = state
        .store
        .pipeline_decisions(&since, PIPELINE_ROWS)
        .await?;
    #[derive(Default)]
    struct Acc {
        decisions: usize,
        passed: usize,
        warned: usize,
        denied: usize,
        blocked: Days,
        /// Per (artifact, environment): when it was first denied, while it still is.
        open: HashMap<(String, String), DateTime<Utc>>,
        last: String,
    }
    let mut groups: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for r in &rows {
        let key = (
            r.pipeline.clone().unwrap_or_default(),
            r.stage.clone().unwrap_or_else(|| "—".into()),
        );
        let a = groups.entry(key).or_default();
        a.decisions += 1;
        a.last = r.decided_at.clone();
        let at = DateTime::parse_from_rfc3339(&r.decided_at)
            .map(|t| t.with_timezone(&Utc))
            .ok();
        let subject = (r.artifact_name.clone(), r.environment.clone());
        if r.outcome == "deny" {
            a.denied += 1;
            if let Some(at) = at {
                a.open.entry(subject).or_insert(at);
            }
        } else {
            a.passed += 1;
            if r.outcome == "warn" {
                a.warned += 1;
            }
            if let (Some(since), Some(at)) = (a.open.remove(&subject), at) {
                a.blocked += at - since;
            }
        }
    }
    let pipelines: Vec<PipelineLine> = groups
        .into_iter()
        .map(|((pipeline, stage), a)| {
            let open: Days = a
                .open
                .values()
                .map(|since| now - *since)
                .fold(Days::zero(), |x, y| x + y);
            PipelineLine {
                pipeline,
                stage,
                decisions: a.decisions,
                passed: a.passed,
                warned: a.warned,
                denied: a.denied,
                pass_rate: format!(
                    "{:.0} %",
                    100.0 * a.passed as f64 / a.decisions.max(1) as f64
                ),
                blocked: duration_text(a.blocked + open),
                still_blocked: a.open.len(),
                last: when(&a.last),
            }
        })
        .collect();
    let rate_svg = charts::hbars(&HBars {
        title: "Pass rate per pipeline and stage (%)".into(),
        description: "The share of each pipeline stage's decisions that were allowed.".into(),
        bars: pipelines
            .iter()
            .map(|p| Bar {
                label: format!("{} / {}", p.pipeline, p.stage),
                value: (100 * p.passed / p.decisions.max(1)) as u64,
            })
            .collect(),
    });
    render(&PipelinesPage {
        layout: layout("Pipelines", "pipelines", Some(&user)),
        days: PIPELINE_DAYS,
        pipelines,
        rate_svg,
    })
}
