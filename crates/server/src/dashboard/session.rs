//! Logging in (with an API token) and out.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::auth::{COOKIE, Transport, cookie_value};
use super::page::{
    CsrfForm, Layout, Page, PageError, User, check_csrf, form, html_response, layout, render,
    see_other,
};
use super::state::Dash;
use crate::state::AppState;

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

pub async fn logout(
    Extension(dash): Extension<Arc<Dash>>,
    user: User,
    headers: HeaderMap,
    f: Result<Form<CsrfForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    if let Some(secret) = cookie_value(&headers, COOKIE) {
        dash.close_session(secret);
    }
    let mut r = see_other("/ui/login");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("pcl_session=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(r)
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
}
