//! The dashboard's pages and forms. Each handler reads through the store's queries and the
//! firewall's functions, or changes state through `portcullis_firewall::registry` exactly as the
//! API does, then renders a template.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use askama::Template;
use axum::Extension;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration as Days, NaiveDate, SecondsFormat, Utc};
use portcullis_firewall::ServiceError;
use portcullis_firewall::record::{StoredRequest, load_decision};
use portcullis_firewall::registry::AdvisoryDoc;
use portcullis_firewall::{Decision, Exception, Violation};
use portcullis_store::VerifyFailure;
use portcullis_store::proof::{ExportError, ExportRequest, export_bundle};
use serde::Deserialize;
use serde_json::Value;

use super::{ASSETS, COOKIE, Dash, PageError, Transport, User, check_csrf, urlencode};
use crate::AppState;
use crate::auth::Permission;
use portcullis_report::charts::{self, Bar, HBars, StackedBars};
use portcullis_report::{Format, ReportQuery};

type Page = Result<Response, PageError>;

/// Days the overview covers.
const OVERVIEW_DAYS: i64 = 14;
/// Exceptions expiring within this many days are "expiring soon".
const EXPIRING_DAYS: i64 = 14;

// ------------------------------------------------------------------ layout

/// What every page's frame needs.
pub struct Layout {
    pub title: String,
    pub nav: &'static str,
    pub user: Option<UserView>,
    pub css: String,
    pub htmx: String,
    pub sse: String,
}

pub struct UserView {
    pub token_id: String,
    pub role: &'static str,
    pub csrf: String,
    pub can_approve: bool,
    pub can_admin: bool,
    /// May re-gate a decision (ci, approver, admin).
    pub can_regate: bool,
}

fn layout(title: impl Into<String>, nav: &'static str, user: Option<&User>) -> Layout {
    let [css, htmx, sse] = &*ASSETS;
    Layout {
        title: title.into(),
        nav,
        user: user.map(|u| UserView {
            token_id: u.token_id.clone(),
            role: u.role.as_str(),
            csrf: u.csrf.clone(),
            can_approve: u.may(Permission::Approve),
            can_admin: u.may(Permission::Admin),
            can_regate: u.may(Permission::Decide) || u.may(Permission::Approve),
        }),
        css: css.url(),
        htmx: htmx.url(),
        sse: sse.url(),
    }
}

fn html_response(status: StatusCode, html: String) -> Response {
    let mut r = (status, Html(html)).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

fn render<T: Template>(t: &T) -> Page {
    let html = t.render().map_err(PageError::internal)?;
    Ok(html_response(StatusCode::OK, html))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    error: &'a PageError,
}

pub fn error_page(e: &PageError) -> Response {
    let page = ErrorPage {
        layout: layout(e.title.clone(), "", None),
        error: e,
    };
    match page.render() {
        Ok(html) => html_response(e.status, html),
        Err(_) => (e.status, format!("{}: {}", e.title, e.detail)).into_response(),
    }
}

fn form<T>(f: Result<Form<T>, FormRejection>) -> Result<T, PageError> {
    f.map(|Form(t)| t)
        .map_err(|e| PageError::bad_request(e.body_text()))
}

fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, PageError> {
    q.map(|Query(t)| t)
        .map_err(|e| PageError::bad_request(e.body_text()))
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// `sha256:abcdef…` shortened for tables (the full digest is in the title).
pub fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let head: String = hex.chars().take(12).collect();
    if digest.starts_with("sha256:") {
        format!("sha256:{head}…")
    } else {
        head
    }
}

fn when(ts: &str) -> String {
    match DateTime::parse_from_rfc3339(ts) {
        Ok(t) => t
            .with_timezone(&Utc)
            .format("%Y-%m-%d %H:%M UTC")
            .to_string(),
        Err(_) => ts.to_string(),
    }
}

fn duration_text(d: Days) -> String {
    let secs = d.num_seconds().max(0);
    if secs < 120 {
        format!("{secs} s")
    } else if secs < 2 * 3600 {
        format!("{} min", secs / 60)
    } else if secs < 2 * 86400 {
        format!("{:.1} h", secs as f64 / 3600.0)
    } else {
        format!("{:.1} days", secs as f64 / 86400.0)
    }
}

// ------------------------------------------------------------------ login

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: Option<String>,
}

/// Only a path of this dashboard: never an open redirect.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/ui") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_string()
        }
        _ => "/ui".to_string(),
    }
}

pub async fn login_form(
    q: Result<Query<NextQuery>, axum::extract::rejection::QueryRejection>,
) -> Page {
    let next = q.ok().and_then(|Query(q)| q.next);
    render(&LoginPage {
        layout: layout("Log in", "", None),
        next: safe_next(next.as_deref()),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
    transport: Option<Extension<Transport>>,
    headers: HeaderMap,
    f: Result<Form<LoginForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    let next = safe_next(f.next.as_deref());
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if origin != "null" && origin.split("://").nth(1) != Some(host) {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Cross-site request refused",
                format!("the login form was posted from {origin}, not from this dashboard"),
            ));
        }
    }
    let Some((token_id, role)) = state.tokens().check(f.token.trim()) else {
        tracing::info!("dashboard: login refused (unknown or revoked token)");
        let html = LoginPage {
            layout: layout("Log in", "", None),
            next,
            error: Some("Unknown or revoked token.".into()),
        }
        .render()
        .map_err(PageError::internal)?;
        return Ok(html_response(StatusCode::UNAUTHORIZED, html));
    };
    let (secret, _) = dash.open_session(&token_id).map_err(PageError::internal)?;
    tracing::info!(token = %token_id, role = role.as_str(), "dashboard: login");
    let secure = transport.is_some_and(|Extension(t)| t.tls);
    let cookie = format!(
        "{COOKIE}={secret}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{}",
        12 * 3600,
        if secure { "; Secure" } else { "" }
    );
    let mut r = see_other(&next);
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(PageError::internal)?,
    );
    Ok(r)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    Extension(dash): Extension<Arc<Dash>>,
    user: User,
    headers: HeaderMap,
    f: Result<Form<CsrfForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    if let Some(secret) = super::cookie_value(&headers, COOKIE) {
        dash.close_session(secret);
    }
    let mut r = see_other("/ui/login");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("pcl_session=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(r)
}

// ------------------------------------------------------------------ overview

/// A decision row as the tables show it.
pub struct DecisionLine {
    pub id: String,
    pub outcome: String,
    pub artifact: String,
    pub digest: String,
    pub digest_short: String,
    pub environment: String,
    pub decided_at: String,
    pub seq: i64,
}

fn decision_lines(
    rows: &[portcullis_store::DecisionRow],
    outcomes: &HashMap<String, String>,
) -> Vec<DecisionLine> {
    rows.iter()
        .map(|r| DecisionLine {
            id: r.id.clone(),
            outcome: outcomes
                .get(&r.id)
                .cloned()
                .unwrap_or_else(|| portcullis_store::outcome(&r.verdict, 0).to_string()),
            artifact: r.artifact_name.clone(),
            digest: r.artifact_digest.clone(),
            digest_short: short(&r.artifact_digest),
            environment: r.environment.clone(),
            decided_at: when(&r.decided_at),
            seq: r.seq,
        })
        .collect()
}

async fn lines_of(
    state: &AppState,
    rows: &[portcullis_store::DecisionRow],
) -> Result<Vec<DecisionLine>, PageError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let outcomes = state.store.outcomes(&ids).await?;
    Ok(decision_lines(rows, &outcomes))
}

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

pub struct AdvisoryLine {
    pub id: String,
    pub kind: String,
    pub summary: String,
    pub added_at: String,
    pub added_by: String,
    pub withdrawn: Option<String>,
    pub affected: Vec<AffectedLine>,
    pub impact_error: Option<String>,
}

pub struct AffectedLine {
    pub environment: String,
    pub artifact: String,
    pub digest_short: String,
    pub purl: String,
}

pub struct ExceptionLine {
    pub id: String,
    pub rule: String,
    pub key: String,
    pub artifact: String,
    pub environments: String,
    pub reason: String,
    pub approver: String,
    pub granted_by: String,
    pub expires_at: String,
    /// `active` | `expired` | `revoked`.
    pub status: &'static str,
    pub left: String,
    pub revoked: String,
}

/// The last verification of the whole chain this process made.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    pub at: String,
    pub intact: bool,
    pub detail: String,
}

pub struct CheckpointLine {
    pub seq: i64,
    pub at: String,
}

pub struct ChainStatus {
    pub head_seq: i64,
    pub head_hash: String,
    pub checkpoint: Option<CheckpointLine>,
    pub check: Option<ChainCheck>,
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
        description: "Enforced violations recorded per rule, most first.".into(),
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
    };
    let mut r = render(&page)?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::debug!(millis = ms, "dashboard: overview rendered");
    if let Ok(v) = HeaderValue::from_str(&format!("overview;dur={ms:.2}")) {
        r.headers_mut().insert("server-timing", v);
    }
    Ok(r)
}

async fn chain_status(state: &AppState, dash: &Dash) -> Result<ChainStatus, PageError> {
    let (head_seq, head_hash) = state.store.head().await?.unwrap_or((0, String::new()));
    Ok(ChainStatus {
        head_seq,
        head_hash,
        checkpoint: state
            .store
            .last_checkpoint()
            .await?
            .map(|(seq, at)| CheckpointLine { seq, at }),
        check: dash.chain_check(),
    })
}

/// Advisories (withdrawn ones too when `all`), at most `limit`, with the deployed artifacts
/// each affects now (the same impact query as `GET /v1/advisories/{id}/impact`).
async fn advisory_lines(
    state: &AppState,
    all: bool,
    limit: usize,
) -> Result<Vec<AdvisoryLine>, PageError> {
    let mut rows = state.store.advisories(all).await?;
    rows.reverse();
    let mut out = Vec::new();
    for row in rows.into_iter().take(limit) {
        let mut affected = Vec::new();
        let mut impact_error = None;
        if row.withdrawn_at.is_none() {
            match advisory_impact(state, &row).await {
                Ok(list) => {
                    affected = list
                        .into_iter()
                        .map(|p| AffectedLine {
                            environment: p.environment,
                            artifact: p.artifact_name,
                            digest_short: short(&p.artifact_digest),
                            purl: p.purl,
                        })
                        .collect()
                }
                Err(e) => impact_error = Some(e.detail),
            }
        }
        out.push(AdvisoryLine {
            id: row.id,
            kind: row.kind,
            summary: row.summary,
            added_at: when(&row.added_at),
            added_by: row.added_by,
            withdrawn: row.withdrawn_at.map(|at| {
                format!(
                    "withdrawn {} by {}: {}",
                    when(&at),
                    row.withdrawn_by.unwrap_or_default(),
                    row.withdraw_reason.unwrap_or_default()
                )
            }),
            affected,
            impact_error,
        });
    }
    Ok(out)
}

/// The deployed artifacts advisory `row` affects now (the API's impact query).
async fn advisory_impact(
    state: &AppState,
    row: &portcullis_store::AdvisoryRow,
) -> Result<Vec<portcullis_store::PackageInUse>, crate::problem::Problem> {
    Ok(state.service.advisory_impact(&row.id).await?)
}

async fn exception_lines(state: &AppState, all: bool) -> Result<Vec<ExceptionLine>, PageError> {
    let now = Utc::now();
    let mut out = Vec::new();
    for x in state.service.exceptions(all).await? {
        let (row, e, expires) = (&x.row, x.exception.as_ref(), x.expires);
        let status = x.status.as_str();
        out.push(ExceptionLine {
            id: row.id.clone(),
            rule: e.as_ref().map(|e| e.rule.clone()).unwrap_or_default(),
            key: e.as_ref().map(|e| e.key.clone()).unwrap_or_default(),
            artifact: e.as_ref().map(|e| e.artifact.clone()).unwrap_or_default(),
            environments: e
                .as_ref()
                .map(|e| e.environments.join(", "))
                .unwrap_or_default(),
            reason: e.as_ref().map(|e| e.reason.clone()).unwrap_or_default(),
            approver: e.as_ref().map(|e| e.approver.clone()).unwrap_or_default(),
            granted_by: row.granted_by.clone(),
            expires_at: row.expires_at.clone(),
            status,
            left: match expires {
                Some(t) if t > now => format!("in {}", duration_text(t - now)),
                Some(_) => "expired".into(),
                None => "unreadable expiry".into(),
            },
            revoked: row
                .revoked_at
                .as_ref()
                .map(|at| {
                    format!(
                        "revoked {} by {}: {}",
                        when(at),
                        row.revoked_by.clone().unwrap_or_default(),
                        row.revoke_reason.clone().unwrap_or_default()
                    )
                })
                .unwrap_or_default(),
        });
    }
    out.sort_by(|a, b| a.expires_at.cmp(&b.expires_at));
    Ok(out)
}

// ------------------------------------------------------------------ live updates

/// Server-sent events: `change` (with the chain's head) whenever the store's chain moves.
pub async fn events(
    State(state): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
    _user: User,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = dash.head(&state).await;
    // The stream ends when the server shuts down: an open page must not hold up a graceful
    // shutdown (the browser reconnects to the next server).
    let stream = futures_util::stream::unfold((rx, state), |(mut rx, state)| async move {
        loop {
            tokio::select! {
                changed = rx.changed() => {
                    changed.ok()?;
                    let seq = *rx.borrow_and_update();
                    return Some((
                        Ok(SseEvent::default().event("change").data(seq.to_string())),
                        (rx, state),
                    ));
                }
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {
                    if !state.is_ready() {
                        return None;
                    }
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

// ------------------------------------------------------------------ decisions

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

pub struct RefLine {
    pub kind: String,
    pub id: String,
    pub purl: String,
    pub evidence: Vec<String>,
}

pub struct ViolationLine {
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub action: String,
    pub key: String,
    pub message: String,
    pub controls: Vec<String>,
    pub remediation: String,
    pub refs: Vec<RefLine>,
    pub subjects: String,
}

fn violation_line(v: &Violation) -> ViolationLine {
    ViolationLine {
        rule: v.rule.clone(),
        title: v.title.clone(),
        severity: v.severity.clone(),
        action: v.action.clone(),
        key: v.key.clone(),
        message: v.message.clone(),
        controls: v.controls.clone(),
        remediation: v.remediation.clone(),
        refs: v
            .evidence_refs
            .iter()
            .map(|r| RefLine {
                kind: r.kind.clone(),
                id: r.id.clone(),
                purl: r.purl.clone().unwrap_or_default(),
                evidence: r.evidence.clone(),
            })
            .collect(),
        subjects: v.subjects.join(", "),
    }
}

pub struct ExceptedLine {
    pub violation: ViolationLine,
    pub exception_id: String,
    pub reason: String,
    pub approver: String,
    pub expires: String,
}

pub struct DiffSection {
    pub name: String,
    pub items: Vec<String>,
}

pub struct EvidenceLine {
    pub kind: String,
    pub format: String,
    pub digest: String,
    pub source: String,
}

/// One attestation as the decision verified it.
pub struct AttestationLine {
    pub predicate_type: String,
    pub verified: bool,
    pub signer: String,
    /// The failure and its detail (empty when verified).
    pub reason: String,
    pub builder: String,
    /// `repository@ref` and the commit, when the provenance names them (verified only).
    pub source: String,
    pub commit: String,
    pub evidence: String,
}

pub struct VerificationLine {
    pub kind: String,
    pub score: String,
    pub verdict: String,
    pub evidence: String,
}

pub struct Fact {
    pub name: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "decision.html")]
struct DecisionPage {
    layout: Layout,
    id: String,
    outcome: String,
    verdict: String,
    artifact: String,
    digest: String,
    environment: String,
    decided_at: String,
    facts: Vec<Fact>,
    violations: Vec<ViolationLine>,
    warnings: Vec<ViolationLine>,
    excepted: Vec<ExceptedLine>,
    expired: Vec<String>,
    errors: Vec<String>,
    evidence: Vec<EvidenceLine>,
    provenance: Vec<AttestationLine>,
    verifications: Vec<VerificationLine>,
    diff: Vec<DiffSection>,
    diff_present: bool,
    seq: u64,
    hash: String,
    override_text: Option<String>,
    regated_from: Option<String>,
    later: Vec<DecisionLine>,
    grant_expires: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DecisionQuery {
    #[serde(default)]
    regated_from: Option<String>,
}

/// A generic rendering of the smart diff (`diff` in the decision JSON): each list it holds,
/// item by item, and its other fields as values.
fn diff_sections(diff: &Value) -> Vec<DiffSection> {
    let mut out = Vec::new();
    let item = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => {
            let mut parts = Vec::new();
            for (k, v) in o {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                parts.push(format!("{k}: {text}"));
            }
            parts.join(" · ")
        }
        other => other.to_string(),
    };
    match diff {
        Value::Object(o) => {
            let mut scalars = Vec::new();
            for (k, v) in o {
                match v {
                    Value::Array(a) => out.push(DiffSection {
                        name: k.clone(),
                        items: a.iter().map(item).collect(),
                    }),
                    Value::Object(inner) => {
                        for (k2, v2) in inner {
                            if let Value::Array(a) = v2 {
                                out.push(DiffSection {
                                    name: format!("{k} {k2}"),
                                    items: a.iter().map(item).collect(),
                                });
                            } else {
                                scalars.push(format!("{k}.{k2}: {}", item(v2)));
                            }
                        }
                    }
                    other => scalars.push(format!("{k}: {}", item(other))),
                }
            }
            if !scalars.is_empty() {
                out.insert(
                    0,
                    DiffSection {
                        name: "summary".into(),
                        items: scalars,
                    },
                );
            }
        }
        Value::Null => {}
        other => out.push(DiffSection {
            name: "diff".into(),
            items: vec![item(other)],
        }),
    }
    out
}

pub async fn decision(
    State(state): State<Arc<AppState>>,
    user: User,
    Path(id): Path<String>,
    q: Result<Query<DecisionQuery>, axum::extract::rejection::QueryRejection>,
) -> Page {
    let q = query(q)?;
    if state.store.decision(&id).await?.is_none() {
        return Err(PageError::not_found(format!(
            "decision {id}: not in the store"
        )));
    }
    let (row, d) = load_decision(&state.store, &id)
        .await
        .map_err(PageError::internal)?;
    // The stored document as written: fields this build's Decision type does not know yet
    // (the smart diff) are shown from it.
    let raw: Value = match state.store.blob(&row.decision_digest).await? {
        Some((_, bytes)) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        None => Value::Null,
    };
    let request: Option<StoredRequest> = match state.store.blob(&row.request_digest).await? {
        Some((_, bytes)) => serde_json::from_slice(&bytes).ok(),
        None => None,
    };
    let mut facts = Vec::new();
    if let Some(r) = &request {
        let c = &r.context;
        for (name, v) in [
            ("pipeline", &c.pipeline),
            ("stage", &c.stage),
            ("requester", &c.requester),
            ("approver", &c.approver),
            ("change", &c.change_ref),
        ] {
            if let Some(v) = v {
                facts.push(Fact {
                    name,
                    value: v.clone(),
                });
            }
        }
    }
    facts.push(Fact {
        name: "policy bundle",
        value: d.policy_bundle_digest.clone(),
    });
    if let Some(g) = &d.gatekeeper_digest {
        facts.push(Fact {
            name: "Gatekeeper constraints",
            value: g.clone(),
        });
    }
    facts.push(Fact {
        name: "engine",
        value: d.engine_version.clone(),
    });
    let evidence: Vec<EvidenceLine> = d
        .evidence
        .iter()
        .map(|e| EvidenceLine {
            kind: e.kind.clone(),
            format: e.format.clone(),
            digest: e.digest.clone(),
            source: e.source.clone(),
        })
        .collect();
    let provenance: Vec<AttestationLine> = d
        .attestations
        .iter()
        .map(|a| AttestationLine {
            predicate_type: if a.predicate_type.is_empty() {
                "(not a readable Statement)".into()
            } else {
                a.predicate_type.clone()
            },
            verified: a.verified,
            signer: a.signers.join(", "),
            reason: a.reason.clone().unwrap_or_default(),
            builder: a.builder_id.clone().unwrap_or_default(),
            source: match (&a.source_repo, &a.source_ref) {
                (Some(r), Some(at)) => format!("{r}@{at}"),
                (Some(r), None) => r.clone(),
                _ => String::new(),
            },
            commit: a.source_commit.clone().unwrap_or_default(),
            evidence: a.evidence.clone(),
        })
        .collect();
    let verifications = request
        .as_ref()
        .map(|r| {
            r.verifications
                .iter()
                .map(|v| VerificationLine {
                    kind: v.kind.clone(),
                    score: format!("{:.1}", v.score),
                    verdict: v.verdict.clone(),
                    evidence: v.evidence.clone().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let diff_value = raw.get("diff").cloned().unwrap_or(Value::Null);
    let override_text = state.store.override_of(&id).await?.map(|o| {
        format!(
            "Break-glass override by {} at {}: {}",
            o.actor,
            when(&o.at),
            o.reason
        )
    });
    let later_rows: Vec<_> = state
        .store
        .decisions(Some(&d.environment), Some(&d.artifact.digest), None, 10)
        .await?
        .into_iter()
        .filter(|r| r.seq > row.seq)
        .collect();
    let later = lines_of(&state, &later_rows).await?;
    let chain = d.chain.clone();
    let warnings_n = i64::try_from(d.warnings.len()).unwrap_or(i64::MAX);
    render(&DecisionPage {
        layout: layout(format!("Decision {id}"), "decisions", Some(&user)),
        id: d.id.clone(),
        outcome: portcullis_store::outcome(d.decision.as_str(), warnings_n).to_string(),
        verdict: d.decision.as_str().to_string(),
        artifact: d.artifact.name.clone(),
        digest: d.artifact.digest.clone(),
        environment: d.environment.clone(),
        decided_at: when(&d.decided_at),
        facts,
        violations: d.violations.iter().map(violation_line).collect(),
        warnings: d.warnings.iter().map(violation_line).collect(),
        excepted: d
            .excepted
            .iter()
            .map(|x| ExceptedLine {
                violation: violation_line(&x.violation),
                exception_id: x.exception.id.clone().unwrap_or_default(),
                reason: x.exception.reason.clone(),
                approver: x.exception.approver.clone(),
                expires: x.exception.expires.clone(),
            })
            .collect(),
        expired: d
            .expired_exceptions
            .iter()
            .map(|x| {
                format!(
                    "{} on {} (exception {}, expired {})",
                    x.rule,
                    x.key,
                    x.exception.id.clone().unwrap_or_default(),
                    x.exception.expires
                )
            })
            .collect(),
        errors: d.errors.clone(),
        evidence,
        provenance,
        verifications,
        diff_present: !diff_value.is_null(),
        diff: diff_sections(&diff_value),
        seq: chain.as_ref().map_or(0, |c| c.seq),
        hash: chain.map(|c| c.hash).unwrap_or_default(),
        override_text,
        regated_from: q.regated_from,
        later,
        grant_expires: (Utc::now() + Days::days(30)).format("%Y-%m-%d").to_string(),
    })
}

/// Decide recorded decision `id` again, now, with the firewall in force, and record it.
async fn regate_decision(state: &AppState, user: &User, id: &str) -> Result<Decision, PageError> {
    Ok(state.service.regate(id, &user.as_actor()).await?.decision)
}

pub async fn regate(
    State(state): State<Arc<AppState>>,
    user: User,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Result<Form<CsrfForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    if !(user.may(Permission::Decide) || user.may(Permission::Approve)) {
        user.require(Permission::Decide)?;
    }
    let d = regate_decision(&state, &user, &id).await?;
    Ok(see_other(&format!(
        "/ui/decisions/{}?regated_from={}",
        urlencode(&d.id),
        urlencode(&id)
    )))
}

/// The decision's proof bundle (the same export as `GET /v1/audit/export?decision=ID`).
pub async fn proof(
    State(state): State<Arc<AppState>>,
    _user: User,
    Path(id): Path<String>,
) -> Page {
    let bytes = export_bundle(&state.store, &ExportRequest::Decision(id.clone()))
        .await
        .map_err(|e| match e {
            ExportError::NotFound(m) => PageError::not_found(m),
            ExportError::Invalid(m) => PageError::bad_request(m),
            other => PageError::internal(other),
        })?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let name: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"proof-{name}.json\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

// ------------------------------------------------------------------ environments

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

// ------------------------------------------------------------------ advisories

#[derive(Template)]
#[template(path = "advisories.html")]
struct AdvisoriesPage {
    layout: Layout,
    advisories: Vec<AdvisoryLine>,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    done: Option<String>,
}

pub async fn advisories(
    State(state): State<Arc<AppState>>,
    user: User,
    q: Result<Query<NoticeQuery>, axum::extract::rejection::QueryRejection>,
) -> Page {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    render(&AdvisoriesPage {
        layout: layout("Advisories", "advisories", Some(&user)),
        advisories: advisory_lines(&state, true, 500).await?,
        notice: q.done,
    })
}

#[derive(Deserialize)]
pub struct AdvisoryForm {
    csrf: String,
    #[serde(default)]
    osv: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    purl: String,
    #[serde(default)]
    vers: String,
    #[serde(default)]
    reason: String,
}

pub async fn add_advisory(
    State(state): State<Arc<AppState>>,
    user: User,
    headers: HeaderMap,
    f: Result<Form<AdvisoryForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    user.require(Permission::Admin)?;
    let doc = match (f.osv.trim().is_empty(), f.purl.trim().is_empty()) {
        (false, true) => {
            let v: Value = serde_json::from_str(f.osv.trim())
                .map_err(|e| PageError::bad_request(format!("the OSV record is not JSON: {e}")))?;
            let bytes = serde_json::to_vec(&v).map_err(PageError::internal)?;
            AdvisoryDoc::osv("osv", bytes, &state.limits)?
        }
        (true, false) => {
            let id = f.id.trim();
            AdvisoryDoc::block_rule(
                (!id.is_empty()).then_some(id),
                f.purl.trim(),
                f.vers.trim(),
                &f.reason,
            )?
        }
        _ => {
            return Err(PageError::bad_request(
                "give either an OSV record, or a block rule (purl, version range, reason)",
            ));
        }
    };
    let id = doc.id.clone();
    // The firewall records the impact too, as for every other way of adding one.
    state
        .service
        .add_advisories(vec![doc], &user.as_actor())
        .await?;
    Ok(see_other(&format!(
        "/ui/advisories?done={}",
        urlencode(&format!("Added {id}."))
    )))
}

#[derive(Deserialize)]
pub struct ReasonForm {
    csrf: String,
    reason: String,
}

pub async fn withdraw_advisory(
    State(state): State<Arc<AppState>>,
    user: User,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Result<Form<ReasonForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    user.require(Permission::Admin)?;
    state
        .service
        .withdraw_advisory(&id, &user.as_actor(), &f.reason)
        .await?;
    Ok(see_other(&format!(
        "/ui/advisories?done={}",
        urlencode(&format!("Withdrew {id}."))
    )))
}

// ------------------------------------------------------------------ exceptions

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
    let expires = f.expires.trim();
    if NaiveDate::parse_from_str(expires, "%Y-%m-%d").is_err()
        && DateTime::parse_from_rfc3339(expires).is_err()
    {
        return Err(PageError::bad_request(format!(
            "expires {expires:?}: give a date (YYYY-MM-DD) or an RFC 3339 time"
        )));
    }
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
    for (what, v) in [
        ("rule", &exception.rule),
        ("key", &exception.key),
        ("artifact", &exception.artifact),
        ("reason", &exception.reason),
    ] {
        if v.is_empty() {
            return Err(PageError::bad_request(format!("{what} is empty")));
        }
    }
    if exception.environments.is_empty() {
        return Err(PageError::bad_request(
            "environments is empty (name them, comma-separated, or *)",
        ));
    }
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

// ------------------------------------------------------------------ rules

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

// ------------------------------------------------------------------ pipelines

pub struct PipelineLine {
    pub pipeline: String,
    pub stage: String,
    pub decisions: usize,
    pub passed: usize,
    pub denied: usize,
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

// ------------------------------------------------------------------ audit chain

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    chain: ChainStatus,
    just_verified: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    verify: Option<String>,
}

/// The chain's head and last checkpoint; `?verify=1` verifies the whole chain now (as
/// `GET /v1/audit/verify` does) and keeps the result for the overview.
pub async fn audit(
    State(state): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
    user: User,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Page {
    let q = query(q)?;
    let verify = q.verify.is_some_and(|v| v != "0");
    if verify {
        let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let check = match state.store.verify(None).await {
            Ok(v) => ChainCheck {
                at,
                intact: true,
                detail: format!(
                    "{} entries and {} signed checkpoints verify; last hash {}",
                    v.entries, v.checkpoints, v.last_hash
                ),
            },
            Err(VerifyFailure::Tamper(t)) => ChainCheck {
                at,
                intact: false,
                detail: t.to_string(),
            },
            Err(VerifyFailure::Store(e)) => return Err(PageError::internal(e)),
        };
        dash.set_chain_check(check);
    }
    render(&AuditPage {
        layout: layout("Audit chain", "audit", Some(&user)),
        chain: chain_status(&state, &dash).await?,
        just_verified: verify,
    })
}

// ------------------------------------------------------------------ reports

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
}

/// The audit report (`portcullis_report`: the same build and render as `portcullis report`),
/// as a download: `?format=html|pdf|json|oscal&env=&from=&to=` (default: PDF of the last 30
/// days, every environment).
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
        .map_err(PageError::bad_request)?;
    let bound = |v: Option<&str>, b: portcullis_report::Bound, default: DateTime<Utc>| match v
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => portcullis_report::parse_bound(s, b).map_err(PageError::bad_request),
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
    let bytes = tokio::task::spawn_blocking(move || portcullis_report::render(&report, format))
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

// ------------------------------------------------------------------ assets

pub async fn asset(Path((hash, name)): Path<(String, String)>) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.name == name) else {
        return PageError::not_found(format!("no asset {name}")).into_response();
    };
    let mut r = a.bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // An old hash still gets the current file, but is not cached for long.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if hash == a.hash {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dashboard_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/ui/decisions/x")), "/ui/decisions/x");
        for bad in [
            "https://evil.example/ui",
            "//evil.example/ui",
            "/v1/tokens",
            "/ui\\..\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui");
    }

    #[test]
    fn a_diff_renders_its_lists_and_values() {
        let d = serde_json::json!({
            "against": "dec-1",
            "added": [{"rule": "PCL-VULN-001", "key": "CVE-2021-44228"}],
            "removed": [],
            "components": {"upgraded": ["pkg:maven/a/b 1.0 → 1.1"], "count": 3}
        });
        let s = diff_sections(&d);
        let by = |n: &str| s.iter().find(|x| x.name == n).map(|x| x.items.clone());
        assert_eq!(
            by("added"),
            Some(vec!["key: CVE-2021-44228 · rule: PCL-VULN-001".to_string()])
        );
        assert_eq!(by("removed"), Some(vec![]));
        assert_eq!(
            by("components upgraded"),
            Some(vec!["pkg:maven/a/b 1.0 → 1.1".to_string()])
        );
        let summary = by("summary").unwrap_or_default();
        assert!(
            summary.contains(&"against: dec-1".to_string()),
            "{summary:?}"
        );
        assert!(
            summary.contains(&"components.count: 3".to_string()),
            "{summary:?}"
        );
        assert!(diff_sections(&Value::Null).is_empty());
    }

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(duration_text(Days::seconds(30)), "30 s");
        assert_eq!(duration_text(Days::minutes(90)), "90 min");
        assert_eq!(duration_text(Days::hours(5)), "5.0 h");
        assert_eq!(duration_text(Days::days(3)), "3.0 days");
        assert_eq!(duration_text(Days::seconds(-5)), "0 s");
    }
}
