//! Progressive delivery: the endpoints Argo Rollouts' web metrics and Flagger's webhooks call
//! (Argo CD's PreSync hook uses `POST /v1/decisions` as any pipeline does). Each translates the
//! controller's request into the firewall's: decisions through `DecisionService::decide`,
//! canary results recorded through `DecisionService::record_facts`.

pub mod canary;
pub mod denials;
pub mod flagger;
pub mod profiles;
pub mod rollouts;

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The integration routes, each documented by its handler.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(
            rollouts::rollouts_analysis,
            rollouts::rollouts_analysis_post
        ))
        .routes(routes!(flagger::flagger_webhook))
}

/// 200 with `v` as JSON.
pub fn json_ok<T: Serialize>(v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(bytes) => {
            let mut r = (StatusCode::OK, bytes).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => crate::problem::Problem::internal(e).into_response(),
    }
}
