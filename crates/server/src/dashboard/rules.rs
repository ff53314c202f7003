//! Rules (`/ui/rules`): every rule of the bundle and its action in each environment.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use askama::Template;
use axum::extract::State;

use super::page::{Layout, Page, User, layout, render};
use crate::state::AppState;

pub struct RuleRow {
    pub id: String,
    pub title: String,
    pub category: String,
    pub severity: String,
    pub controls: Vec<String>,
    pub remediation: String,
    /// (environment, action) in the order of `environments`.
    pub actions: Vec<String>,
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    layout: Layout,
    environments: Vec<String>,
    rules: Vec<RuleRow>,
}

pub async fn rules(State(state): State<Arc<AppState>>, user: User) -> Page {
    let live = state.live();
    let mut envs: BTreeSet<String> = live
        .firewall
        .config()
        .environments
        .keys()
        .cloned()
        .collect();
    for r in state.store.latest_per_environment().await? {
        envs.insert(r.environment);
    }
    let environments: Vec<String> = envs.into_iter().collect();
    let per_env: Vec<HashMap<String, String>> = environments
        .iter()
        .map(|e| {
            live.firewall
                .rule_infos(e)
                .into_iter()
                .map(|r| (r.id, format!("{:?}", r.action).to_lowercase()))
                .collect()
        })
        .collect();
    let rules = live
        .firewall
        .rule_infos(environments.first().map_or("", String::as_str))
        .into_iter()
        .map(|r| RuleRow {
            actions: per_env
                .iter()
                .map(|m| m.get(&r.id).cloned().unwrap_or_default())
                .collect(),
            id: r.id,
            title: r.title,
            category: r.category,
            severity: r.severity,
            controls: r.controls,
            remediation: r.remediation,
        })
        .collect();
    render(&RulesPage {
        layout: layout("Rules", "rules", Some(&user)),
        environments,
        rules,
    })
}
