//! Argo Rollouts' `web` metric provider: `GET` (query parameters) or `POST` (a `jsonBody`)
//! `/v1/integrations/rollouts/analysis`. The AnalysisTemplate names a server-side profile and
//! gives the rollout's identity; the answer is read by a `jsonPath` and a `successCondition`
//! (`deploy/integrations/argo-rollouts/`).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::integrations::canary::{self, CanaryAsk};
use crate::integrations::json_ok;
use crate::integrations::profiles::{ScopeError, ScopeValues, safe_value};
use crate::problem::{Problem, codes};
use crate::state::AppState;

/// The rollout being analysed (the query string of a GET, or the JSON body of a POST).
#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RolloutAnalysis {
    /// The server's analysis profile (`integrations.profiles`).
    pub profile: String,
    /// The Rollout's namespace.
    pub namespace: String,
    /// The Rollout's name.
    pub rollout: String,
    /// The canary ReplicaSet's pod-template hash (`valueFrom.podTemplateHashValue: Latest`).
    pub canary_hash: String,
    /// The stable ReplicaSet's pod-template hash (`valueFrom.podTemplateHashValue: Stable`).
    pub stable_hash: String,
    /// The canary's image pinned by digest (`registry/repo[:tag]@sha256:HEX`): the result is
    /// recorded for that digest.
    pub image: String,
    /// The environment the result counts for (a later gate there reads it).
    pub environment: String,
}

#[utoipa::path(
    get,
    path = "/v1/integrations/rollouts/analysis",
    tag = "integrations",
    operation_id = "rollouts_analysis",
    description = "Argo Rollouts' web metric: the named profile's canary analysis of the canary's pods (`canary_hash`) against the stable pods (`stable_hash`) in Prometheus over the profile's window ending now, recorded as a verification fact of the image's digest in the environment (a later gate there lists it as `recorded`). The PromQL, the Prometheus URL and the scopes are the server's (`integrations.profiles`); names and hashes must be lowercase letters, digits, '-' and '.'. Answers `{verdict: pass|marginal|fail, passed, score, failing[], reasons[], metrics[], window, scopes, artifact, environment, profile, recorded}`: read it with `jsonPath: \"{$.verdict}\"` and `successCondition: result == \"pass\"`. Role: verifier or admin.",
    params(RolloutAnalysis),
    responses(
        (status = 200, description = "the analysis and what was recorded", body = serde_json::Value),
        (status = 422, description = "an unknown profile, an environment the profile is not for, a value outside the charset, an image not pinned by digest (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Prometheus could not be asked (problem code: analysis-unavailable)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn rollouts_analysis(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: Result<Query<RolloutAnalysis>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    // The role first: a caller who may not gets 403 whatever it sent.
    caller.require(crate::auth::Permission::Record)?;
    let Query(q) = q.map_err(|e| Problem::new(codes::INVALID_REQUEST, e.body_text()))?;
    run(&state, &caller, q).await
}

#[utoipa::path(
    post,
    path = "/v1/integrations/rollouts/analysis",
    tag = "integrations",
    operation_id = "rollouts_analysis_post",
    description = "The same as the GET, with the fields in a JSON body (Argo Rollouts' `method: POST` with `jsonBody`; see deploy/integrations/argo-rollouts/). Read the answer with `jsonPath: \"{$.verdict}\"` and `successCondition: result == \"pass\"`. Role: verifier or admin.",
    request_body = RolloutAnalysis,
    responses(
        (status = 200, description = "the analysis and what was recorded", body = serde_json::Value),
        (status = 422, description = "an unknown profile, an environment the profile is not for, a value outside the charset, an image not pinned by digest (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Prometheus could not be asked (problem code: analysis-unavailable)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn rollouts_analysis_post(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    req: axum::extract::Request,
) -> Result<Response, Problem> {
    caller.require(crate::auth::Permission::Record)?;
    // JSON as every other body (Argo Rollouts sends `jsonBody` as application/json).
    crate::body::require_json(req.headers())?;
    // Within the body limit, or 413 as a problem document (axum's own answer is plain text).
    let body = crate::body::read_bytes(req, &state).await?;
    let body: RolloutAnalysis = crate::body::parse(&body)?;
    run(&state, &caller, body).await
}

async fn run(state: &AppState, caller: &Caller, q: RolloutAnalysis) -> Result<Response, Problem> {
    caller.require(crate::auth::Permission::Record)?;
    // Named as the caller sent them (the profile's scopes check them again).
    for (field, value) in [
        ("namespace", &q.namespace),
        ("rollout", &q.rollout),
        ("canary_hash", &q.canary_hash),
        ("stable_hash", &q.stable_hash),
    ] {
        if !safe_value(value) {
            return Err(Problem::new(
                codes::INVALID_REQUEST,
                ScopeError::Charset {
                    field,
                    value: value.clone(),
                }
                .to_string(),
            ));
        }
    }
    let artifact = canary::artifact_of("image", &q.image)?;
    let result = canary::analyse_and_record(
        state,
        caller,
        CanaryAsk {
            profile: q.profile,
            values: ScopeValues {
                namespace: Some(q.namespace),
                name: Some(q.rollout),
                canary_hash: Some(q.canary_hash),
                stable_hash: Some(q.stable_hash),
            },
            artifact,
            environment: q.environment,
            via: "argo-rollouts",
        },
    )
    .await?;
    Ok(json_ok(&result.body))
}
