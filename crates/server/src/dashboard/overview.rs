//! The overview (`/ui`): decisions per day and environment, the most violated rules, recent
//! advisories, exceptions expiring soon, the chain's status and the latest decisions.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::HeaderValue;
use chrono::{DateTime, Duration as Days, Utc};
use portcullis_report::charts::{self, Bar, HBars, StackedBars};

use super::lines::{
    AdvisoryLine, ChainStatus, DecisionLine, ExceptionLine, advisory_lines, chain_status,
    exception_lines, lines_of,
};
use super::page::{Layout, Page, User, layout, render};
use super::state::Dash;
use crate::state::AppState;

/// Days the overview covers.
const OVERVIEW_DAYS: i64 = 14;
/// Exceptions expiring within this many days are "expiring soon".
const EXPIRING_DAYS: i64 = 14;

pub struct EnvTotals {
    pub environment: String,
    pub allow: i64,
    pub warn: i64,
    pub deny: i64,
    pub total: i64,
}

pub struct RuleLine {
    pub rule: String,
    pub title: String,
    pub n: i64,
    pub environments: i64,
}

pub struct PostureLine {
    pub environment: String,
    pub violation: usize,
    pub undecided: usize,
    pub pending: usize,
    pub compliant: usize,
    /// The longest time in violation (empty when none is).
    pub longest: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    days: i64,
    per_day_svg: String,
    per_env_svg: String,
    rules_svg: String,
    envs: Vec<EnvTotals>,
    rules: Vec<RuleLine>,
    advisories: Vec<AdvisoryLine>,
    expiring: Vec<ExceptionLine>,
    chain: ChainStatus,
    decisions: Vec<DecisionLine>,
    total: i64,
    /// What runs, per environment, by posture.
    posture: Vec<PostureLine>,
    running: usize,
    running_violation: usize,
    running_undecided: usize,
}

pub async fn overview(
    State(state): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
    user: User,
) -> Page {
    let started = Instant::now();
    let today = Utc::now().date_naive();
    let first = today - Days::days(OVERVIEW_DAYS - 1);
    let since = first.format("%Y-%m-%d").to_string();
    let daily = state.store.daily_counts(&since).await?;
    let days: Vec<String> = (0..OVERVIEW_DAYS)
        .map(|i| (first + Days::days(i)).format("%Y-%m-%d").to_string())
        .collect();
    let mut by_day: HashMap<(&str, &str), i64> = HashMap::new();
    let mut by_env: BTreeMap<String, EnvTotals> = BTreeMap::new();
    for c in &daily {
        *by_day
            .entry((c.day.as_str(), c.outcome.as_str()))
            .or_default() += c.n;
        let e = by_env
            .entry(c.environment.clone())
            .or_insert_with(|| EnvTotals {
                environment: c.environment.clone(),
                allow: 0,
                warn: 0,
                deny: 0,
                total: 0,
            });
        match c.outcome.as_str() {
            "allow" => e.allow += c.n,
            "warn" => e.warn += c.n,
            _ => e.deny += c.n,
        }
        e.total += c.n;
    }
    let series = |name: &str, outcome: &str| charts::Series {
        name: name.to_string(),
        values: days
            .iter()
            .map(|d| {
                by_day
                    .get(&(d.as_str(), outcome))
                    .copied()
                    .unwrap_or(0)
                    .max(0) as u64
            })
            .collect(),
    };
    // Series in the report's palette order: green, vermilion, orange.
    let per_day_svg = charts::stacked_bars(&StackedBars {
        title: format!("Decisions per day, last {OVERVIEW_DAYS} days"),
        description: "Decisions recorded each day: allowed, denied, and allowed with warnings."
            .into(),
        labels: days
            .iter()
            .map(|d| d.get(5..).unwrap_or(d).to_string())
            .collect(),
        series: vec![
            series("allowed", "allow"),
            series("denied", "deny"),
            series("allowed with warnings", "warn"),
        ],
    });
    let envs: Vec<EnvTotals> = by_env.into_values().collect();
    let env_names: Vec<String> = envs.iter().map(|e| e.environment.clone()).collect();
    let count = |f: fn(&EnvTotals) -> i64| -> Vec<u64> {
        envs.iter().map(|e| f(e).max(0) as u64).collect()
    };
    let per_env_svg = charts::stacked_bars(&StackedBars {
        title: format!("Decisions per environment, last {OVERVIEW_DAYS} days"),
        description: "Allowed, denied and warned decisions in each environment.".into(),
        labels: env_names,
        series: vec![
            charts::Series {
                name: "allowed".into(),
                values: count(|e| e.allow),
            },
            charts::Series {
                name: "denied".into(),
                values: count(|e| e.deny),
            },
            charts::Series {
                name: "allowed with warnings".into(),
                values: count(|e| e.warn),
            },
        ],
    });
    let live = state.live();
    let titles: HashMap<String, String> = live
        .firewall
        .rule_infos("")
        .into_iter()
        .map(|r| (r.id, r.title))
        .collect();
    let rules: Vec<RuleLine> = state
        .store
        .top_rules(&since, 10)
        .await?
        .into_iter()
        .map(|r| RuleLine {
            title: titles.get(&r.rule).cloned().unwrap_or_default(),
            rule: r.rule,
            n: r.n,
            environments: r.environments,
        })
        .collect();
    let rules_svg = charts::hbars(&HBars {
        title: format!("Most violated rules, last {OVERVIEW_DAYS} days"),
        description: "Violations (action deny, not excepted) recorded per rule, most first; warnings are not counted.".into(),
        bars: rules
            .iter()
            .map(|r| Bar {
                label: r.rule.clone(),
                value: r.n.max(0) as u64,
            })
            .collect(),
    });
    let advisories = advisory_lines(&state, false, 10).await?;
    let now = Utc::now();
    let expiring = exception_lines(&state, false)
        .await?
        .into_iter()
        .filter(|e| {
            e.status == "active"
                && DateTime::parse_from_rfc3339(&e.expires_at)
                    .is_ok_and(|t| t.with_timezone(&Utc) - now <= Days::days(EXPIRING_DAYS))
        })
        .collect();
    let chain = chain_status(&state, &dash).await?;
    let recent_rows = state.store.decisions(None, None, None, 10).await?;
    let decisions = lines_of(&state, &recent_rows).await?;
    let total = state
        .store
        .outcome_totals()
        .await?
        .iter()
        .map(|c| c.n)
        .sum();
    let summaries = state.service.environments().await?;
    let running = summaries.iter().map(|e| e.running).sum();
    let running_violation = summaries.iter().map(|e| e.violation).sum();
    let running_undecided = summaries.iter().map(|e| e.undecided + e.pending).sum();
    let posture = summaries
        .into_iter()
        .map(|e| PostureLine {
            longest: if e.violation > 0 {
                portcullis_firewall::posture::span(e.longest_violation_seconds)
            } else {
                String::new()
            },
            environment: e.environment,
            violation: e.violation,
            undecided: e.undecided,
            pending: e.pending,
            compliant: e.compliant,
        })
        .collect();
    let page = OverviewPage {
        layout: layout("Overview", "overview", Some(&user)),
        days: OVERVIEW_DAYS,
        per_day_svg,
        per_env_svg,
        rules_svg,
        envs,
        rules,
        advisories,
        expiring,
        chain,
        decisions,
        total,
        posture,
        running,
        running_violation,
        running_undecided,
    };
    let mut r = render(&page)?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::debug!(millis = ms, "dashboard: overview rendered");
    if let Ok(v) = HeaderValue::from_str(&format!("overview;dur={ms:.2}")) {
        r.headers_mut().insert("server-timing", v);
    }
    Ok(r)
}
