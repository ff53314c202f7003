//! Who is behind a dashboard request: the session cookie, the session, and the token behind it
//! (still valid, with its current role); visitors without one go to the login page.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::page::{PageError, User, urlencode};
use super::state::Dash;
use crate::state::AppState;

/// The session cookie.
pub const COOKIE: &str = "pcl_session";

/// Whether the server speaks TLS (the session cookie is then `Secure`). `serve` adds it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transport {
    pub tls: bool,
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn dash_of(parts: &Parts) -> Option<Arc<Dash>> {
    parts.extensions.get::<Arc<Dash>>().cloned()
}

/// Where to send a visitor without a session: the login page, back here afterwards.
fn to_login(parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/ui");
    let target = format!("/ui/login?next={}", urlencode(next));
    if parts.headers.contains_key("hx-request") {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(v) = HeaderValue::from_str(&target) {
            r.headers_mut().insert("hx-redirect", v);
        }
        return r;
    }
    Redirect::to(&target).into_response()
}

impl FromRequestParts<Arc<AppState>> for User {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(dash) = dash_of(parts) else {
            return Err(PageError::internal("the dashboard's state is missing").into_response());
        };
        let Some(secret) = cookie_value(&parts.headers, COOKIE) else {
            return Err(to_login(parts));
        };
        let Some(session) = dash.session(secret) else {
            return Err(to_login(parts));
        };
        // The token may have been revoked (or its role changed) since the login.
        let Some(role) = state.tokens().role_of(&session.token_id) else {
            dash.close_session(secret);
            return Err(to_login(parts));
        };
        Ok(User {
            token_id: session.token_id,
            role,
            csrf: session.csrf,
        })
    }
}
