//! What every page shares: the frame (layout, assets, security headers), rendering, the error
//! page, the logged-in user and the CSRF check, form and query parsing, and the small text
//! helpers the tables use. Imports no page module.

use std::sync::LazyLock;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration as Days, Utc};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::auth::{Caller, Permission, Role};
use crate::problem::Problem;

pub type Page = Result<Response, PageError>;

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

pub fn layout(title: impl Into<String>, nav: &'static str, user: Option<&User>) -> Layout {
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

pub fn html_response(status: StatusCode, html: String) -> Response {
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

pub fn render<T: Template>(t: &T) -> Page {
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

pub fn form<T>(f: Result<Form<T>, FormRejection>) -> Result<T, PageError> {
    f.map(|Form(t)| t)
        .map_err(|e| PageError::bad_request(e.body_text()))
}

pub fn query<T>(
    q: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, PageError> {
    q.map(|Query(t)| t)
        .map_err(|e| PageError::bad_request(e.body_text()))
}

pub fn see_other(to: &str) -> Response {
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

pub fn when(ts: &str) -> String {
    match DateTime::parse_from_rfc3339(ts) {
        Ok(t) => t
            .with_timezone(&Utc)
            .format("%Y-%m-%d %H:%M UTC")
            .to_string(),
        Err(_) => ts.to_string(),
    }
}

pub fn duration_text(d: Days) -> String {
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

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    pub done: Option<String>,
}

#[derive(Deserialize)]
pub struct ReasonForm {
    pub csrf: String,
    pub reason: String,
}

/// The person behind a dashboard request: a live session whose token is still valid.
#[derive(Debug, Clone)]
pub struct User {
    pub token_id: String,
    pub role: Role,
    pub csrf: String,
}

impl User {
    pub fn caller(&self) -> Caller {
        Caller {
            identity: None,
            token_id: self.token_id.clone(),
            role: self.role,
        }
    }

    pub fn may(&self, p: Permission) -> bool {
        self.role.allows(p)
    }

    /// The role check every POST makes again (whatever buttons the page showed).
    pub fn require(&self, p: Permission) -> Result<(), PageError> {
        self.caller().require(p).map_err(PageError::from)
    }

    pub fn actor(&self) -> String {
        self.caller().actor()
    }

    /// The user as the firewall sees it (its token's name and role).
    pub fn as_actor(&self) -> portcullis_firewall::Actor {
        self.caller().as_actor()
    }
}

/// Check a form's CSRF token against the session's, and the Origin header (when the browser
/// sends one) against the Host: a cross-site form post fails both.
pub fn check_csrf(user: &User, headers: &HeaderMap, given: &str) -> Result<(), PageError> {
    let same = bool::from(user.csrf.as_bytes().ct_eq(given.as_bytes()));
    if !same {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "The form is stale or was not sent by this dashboard",
            "its CSRF token does not match this session's: reload the page and try again",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin.split("://").nth(1).unwrap_or(origin);
        if origin != "null" && !origin_host.eq_ignore_ascii_case(host) {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Cross-site request refused",
                format!("the form was posted from {origin}, not from this dashboard ({host})"),
            ));
        }
    }
    Ok(())
}

/// An error page: status, title and what went wrong.
#[derive(Debug, Clone)]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub detail: String,
}

impl PageError {
    pub fn new(status: StatusCode, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            title: title.into(),
            detail: detail.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "dashboard: internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server failed",
            detail.to_string(),
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The form is not filled in correctly",
            detail,
        )
    }
}

impl From<Problem> for PageError {
    fn from(p: Problem) -> Self {
        Self {
            status: StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            title: p.title,
            detail: p.detail,
        }
    }
}

impl From<portcullis_store::StoreError> for PageError {
    fn from(e: portcullis_store::StoreError) -> Self {
        PageError::internal(e)
    }
}

impl From<portcullis_firewall::ServiceError> for PageError {
    fn from(e: portcullis_firewall::ServiceError) -> Self {
        PageError::from(Problem::from(e))
    }
}

impl From<portcullis_firewall::registry::RegistryError> for PageError {
    fn from(e: portcullis_firewall::registry::RegistryError) -> Self {
        PageError::from(Problem::from(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(&self)
    }
}

/// A vendored asset, served under a name with its content hash (cached for a year).
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    pub hash: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        let digest = portcullis_firewall::sha256(bytes);
        let hash = digest
            .strip_prefix("sha256:")
            .unwrap_or(&digest)
            .chars()
            .take(16)
            .collect();
        Self {
            name,
            content_type,
            bytes,
            hash,
        }
    }

    /// Where pages link to it.
    pub fn url(&self) -> String {
        format!("/ui/assets/{}/{}", self.hash, self.name)
    }
}

pub static ASSETS: LazyLock<[Asset; 3]> = LazyLock::new(|| {
    [
        Asset::new(
            "dashboard.css",
            "text/css; charset=utf-8",
            include_bytes!("../../assets/dashboard.css"),
        ),
        Asset::new(
            "htmx.min.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../assets/htmx.min.js"),
        ),
        Asset::new(
            "htmx-ext-sse.min.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../assets/htmx-ext-sse.min.js"),
        ),
    ]
});

/// Percent-encode a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(duration_text(Days::seconds(30)), "30 s");
        assert_eq!(duration_text(Days::minutes(90)), "90 min");
        assert_eq!(duration_text(Days::hours(5)), "5.0 h");
        assert_eq!(duration_text(Days::days(3)), "3.0 days");
        assert_eq!(duration_text(Days::seconds(-5)), "0 s");
    }
}
