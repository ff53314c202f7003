//! The Kubernetes admission webhook (`POST /v1/admission`, AdmissionReview v1): the review is
//! read off the wire and handed to the firewall (`DecisionService::admit`: the admission
//! rules PCL-ADM-*, the pod spec's rules, exceptions, recording, failing closed or open, and —
//! with `admission.decide_from_registry` — deciding images from their registries); its answer
//! goes back as an AdmissionResponse.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kube_core::DynamicObject;
use kube_core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use serde_json::{Value, json};

use crate::auth::{Caller, Permission, Role};
use crate::body::Json;
use crate::metrics::ResultLabels;
use crate::problem::{Problem, codes};
pub use crate::settings::{AdmissionConfig, FailureMode, NamespaceConfig, RecordMode, Target};
use crate::state::AppState;
use portcullis_firewall::Actor;
pub use portcullis_firewall::engine_rules::{
    ADM_DENIED, ADM_ERROR, ADM_NO_DECISION, ADM_NO_DIGEST,
};
pub use portcullis_firewall::service::ADMISSION_REVIEWED;
use portcullis_firewall::service::Review;

#[utoipa::path(
    post,
    path = "/v1/admission",
    tag = "admission",
    operation_id = "admission_review",
    description = "The Kubernetes validating admission webhook (AdmissionReview v1): images must be pinned by digest in protected environments, and the latest decision for the digest in the namespace's environment must be an allow. Where `admission.decide_from_registry` is on, an image without a decision is decided there and then from what is attached to it in its registry (within `registry_budget_ms`) and the decision recorded. Role: ci or admin (no token when `admission.anonymous` is set).",
    request_body = crate::schemas::AdmissionReviewBody,
    responses(
        (status = 200, description = "The AdmissionReview answered: `response.allowed`, one line per reason in `response.status.message`", body = crate::schemas::AdmissionReviewBody),
        (status = 422, description = "Not an AdmissionReview with a request (problem code: invalid-request)", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn review(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(raw): Json<Value>,
) -> Result<Response, Problem> {
    let actor = if state.settings.admission.anonymous {
        // Reached only by the API server (mutual TLS or a network policy): it acts as a
        // deployer would.
        Actor::new("kube-apiserver", Role::Ci)
    } else {
        let caller = Caller::from_headers(&headers, &state)?;
        caller.require(Permission::Decide)?;
        caller.as_actor()
    };
    let started = Instant::now();
    let (review, req) = review_of(raw)?;
    let answer = state.service.admit(&review, &actor).await?;
    let mut resp = AdmissionResponse::from(&req);
    if let Some(message) = answer.message {
        resp = resp.deny(message);
    }
    if !answer.warnings.is_empty() {
        resp.warnings = Some(answer.warnings);
    }
    let result = if resp.allowed { "allowed" } else { "denied" };
    if resp.allowed {
        tracing::debug!(uid = %req.uid, namespace = ?req.namespace, kind = %req.kind.kind, name = %req.name, "admission allowed");
    } else {
        tracing::info!(uid = %req.uid, namespace = ?req.namespace, kind = %req.kind.kind, name = %req.name, reason = %resp.result.message, dry_run = req.dry_run, "admission denied");
    }
    state
        .metrics
        .admissions
        .get_or_create(&ResultLabels {
            result: result.into(),
        })
        .inc();
    state
        .metrics
        .admission_seconds
        .observe(started.elapsed().as_secs_f64());
    let review = resp.into_review();
    // AdmissionReview answers carry apiVersion and kind of the request's version (v1).
    let mut v = serde_json::to_value(&review).map_err(Problem::internal)?;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "apiVersion".into(),
            json!(kube_core::admission::META_API_VERSION_V1),
        );
        o.insert("kind".into(), json!(kube_core::admission::META_KIND));
    }
    Ok((StatusCode::OK, axum::Json(v)).into_response())
}

/// The firewall's [`Review`] of an AdmissionReview body (parsed as JSON by the handler), and
/// the request it carries (the answer names its uid). Not an AdmissionReview v1 with a request:
/// 422 `invalid-request`.
pub fn review_of(raw: Value) -> Result<(Review, AdmissionRequest<DynamicObject>), Problem> {
    let review: AdmissionReview<DynamicObject> = serde_json::from_value(raw.clone())
        .map_err(|e| Problem::new(codes::INVALID_REQUEST, format!("AdmissionReview: {e}")))?;
    let req: AdmissionRequest<DynamicObject> = review.try_into().map_err(|_| {
        Problem::new(
            codes::INVALID_REQUEST,
            "an AdmissionReview (admission.k8s.io/v1) with a request is expected",
        )
    })?;
    let review = Review {
        uid: req.uid.clone(),
        namespace: req.namespace.clone().unwrap_or_default(),
        kind: req.kind.kind.clone(),
        name: req.name.clone(),
        operation: operation(&req.operation).into(),
        dry_run: req.dry_run,
        user: req.user_info.username.clone(),
        object: match &req.object {
            Some(o) => Some(serde_json::to_value(o).map_err(Problem::internal)?),
            None => None,
        },
        raw,
    };
    Ok((review, req))
}

fn operation(op: &Operation) -> &'static str {
    match op {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}
