//! The whole server's router: the API, the admission webhook, the dashboard, the not-found and
//! method-not-allowed fallbacks (problem documents), the body limit and the request timeout.
//! The only module that imports both the API and the dashboard.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::problem::{Problem, codes};
use crate::state::AppState;
use crate::{api, dashboard};

/// The OpenAPI document of the API (checked in; a test keeps it and the router in step).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The server: every route, its fallbacks and layers, with `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state
        .settings
        .body_limit
        .unwrap_or(crate::settings::DEFAULT_BODY_LIMIT);
    let timeout = state.settings.request_timeout_seconds.unwrap_or(60);
    api::router()
        .route("/openapi.json", get(openapi))
        .merge(dashboard::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(timeout.max(1)),
        ))
        .with_state(state)
}

async fn not_found() -> Problem {
    Problem::new(codes::NOT_FOUND, "no such endpoint (see /openapi.json)")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        codes::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method (see /openapi.json)",
    )
}

async fn openapi() -> Response {
    let mut r = OPENAPI.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
