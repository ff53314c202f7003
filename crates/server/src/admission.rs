//! The Kubernetes admission webhook (`POST /v1/admission`, AdmissionReview v1): every container
//! image of a workload must be pinned by digest in protected environments, and the latest
//! decision recorded for that digest in the namespace's environment must be an allow.
//!
//! The answer a kubectl user reads is one line per reason, each starting with its rule id.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kube_core::DynamicObject;
use kube_core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use portcullis_store::Change;
use serde::Serialize;
use serde_json::{Value, json};

use crate::auth::{Caller, Permission};
use crate::body::Json;
use crate::metrics::ResultLabels;
use crate::problem::{Problem, codes};
use crate::state::AppState;
use portcullis_firewall::{ArtifactId, DecisionRequest, sha256};

/// Rule ids of the webhook's own checks.
pub mod rules {
    /// An image referenced by tag only in a protected environment.
    pub const NO_DIGEST: &str = "PCL-ADM-001";
    /// No decision recorded for the image's digest in the environment.
    pub const NO_DECISION: &str = "PCL-ADM-002";
    /// The latest decision for the digest in the environment is a deny.
    pub const DENIED: &str = "PCL-ADM-003";
    /// The webhook could not evaluate (store unreachable, bad object): fail closed or open.
    pub const ERROR: &str = "PCL-ADM-004";
}

pub use crate::settings::{AdmissionConfig, FailureMode, NamespaceConfig, RecordMode, Target};

/// A container image of the object under review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    /// `containers[0]`, `initContainers[1]`, …
    pub container: String,
    pub name: String,
    pub image: String,
    pub digest: Option<String>,
}

/// The pod spec of a workload of a supported kind, with its path in the object.
pub fn pod_spec<'a>(kind: &str, object: &'a Value) -> Option<&'a Value> {
    let spec = object.get("spec")?;
    match kind {
        "Pod" => Some(spec),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            spec.get("template")?.get("spec")
        }
        "CronJob" => spec
            .get("jobTemplate")?
            .get("spec")?
            .get("template")?
            .get("spec"),
        _ => None,
    }
}

pub const KINDS: [&str; 7] = [
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
];

/// Every image of a pod spec (containers, init containers, ephemeral containers).
pub fn images(spec: &Value) -> Vec<ImageRef> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(items) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in items.iter().enumerate() {
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            out.push(ImageRef {
                container: format!("{list}[{i}]"),
                name: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                image: image.to_string(),
                digest: digest_of(image),
            });
        }
    }
    out
}

/// `sha256:<64 hex>` when the reference is pinned by digest.
pub fn digest_of(image: &str) -> Option<String> {
    let (_, d) = image.rsplit_once('@')?;
    let hex = d.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

/// The outcome for one review.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub denials: Vec<String>,
    pub warnings: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/v1/admission",
    tag = "admission",
    operation_id = "admission_review",
    description = "The Kubernetes validating admission webhook (AdmissionReview v1): images must be pinned by digest in protected environments, and the latest decision for the digest in the namespace's environment must be an allow. Role: ci or admin (no token when `admission.anonymous` is set).",
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
    if !state.settings.admission.anonymous {
        let caller = Caller::from_headers(&headers, &state)?;
        caller.require(Permission::Decide)?;
    }
    let started = Instant::now();
    let review: AdmissionReview<DynamicObject> = serde_json::from_value(raw.clone())
        .map_err(|e| Problem::new(codes::INVALID_REQUEST, format!("AdmissionReview: {e}")))?;
    let req: AdmissionRequest<DynamicObject> = review.try_into().map_err(|_| {
        Problem::new(
            codes::INVALID_REQUEST,
            "an AdmissionReview (admission.k8s.io/v1) with a request is expected",
        )
    })?;
    let resp = answer(&state, &req, &raw).await;
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

async fn answer(
    state: &AppState,
    req: &AdmissionRequest<DynamicObject>,
    raw: &Value,
) -> AdmissionResponse {
    let namespace = req.namespace.clone().unwrap_or_default();
    let target = state.settings.admission.target(&namespace);
    let base = AdmissionResponse::from(req);
    let kind = req.kind.kind.as_str();
    let what = format!(
        "{kind} {}{}",
        if namespace.is_empty() {
            String::new()
        } else {
            format!("{namespace}/")
        },
        if req.name.is_empty() {
            req.object
                .as_ref()
                .and_then(|o| o.metadata.generate_name.clone())
                .unwrap_or_default()
        } else {
            req.name.clone()
        }
    );
    if matches!(req.operation, Operation::Delete | Operation::Connect) || !KINDS.contains(&kind) {
        return base;
    }
    let verdict = match evaluate(state, req, raw, &target).await {
        Ok(v) => v,
        Err(e) => {
            let line = format!("{} portcullis could not evaluate {what}: {e}", rules::ERROR);
            match target.failure {
                FailureMode::Closed => Verdict {
                    denials: vec![format!("{line} (failing closed)")],
                    warnings: vec![],
                },
                FailureMode::Open => Verdict {
                    denials: vec![],
                    warnings: vec![format!("{line} (failing open: admitted)")],
                },
            }
        }
    };
    let record = match state.settings.admission.record {
        RecordMode::All => true,
        RecordMode::Denied => !verdict.denials.is_empty(),
        RecordMode::None => false,
    };
    if record && !req.dry_run {
        let body = json!({
            "uid": req.uid, "object": what, "namespace": namespace,
            "environment": target.environment, "operation": format!("{:?}", req.operation),
            "user": req.user_info.username,
            "allowed": verdict.denials.is_empty(),
            "denials": verdict.denials, "warnings": verdict.warnings,
        });
        if let Err(e) = state
            .store
            .append(vec![Change::new(ADMISSION_REVIEWED, body, vec![])])
            .await
        {
            tracing::error!(error = %e, "admission review {} could not be recorded", req.uid);
            if target.failure == FailureMode::Closed {
                return base.deny(format!(
                    "{} portcullis could not record its answer for {what}: {e} (failing closed)",
                    rules::ERROR
                ));
            }
        }
    }
    let mut resp = if verdict.denials.is_empty() {
        base
    } else {
        let mut msg = format!(
            "portcullis denied {what} in environment {}:",
            target.environment
        );
        for d in &verdict.denials {
            msg.push_str("\n- ");
            msg.push_str(d);
        }
        base.deny(msg)
    };
    if !verdict.warnings.is_empty() {
        resp.warnings = Some(verdict.warnings);
    }
    resp
}

/// The audit entry kind of a recorded admission review.
pub const ADMISSION_REVIEWED: &str = "admission.reviewed";

async fn evaluate(
    state: &AppState,
    req: &AdmissionRequest<DynamicObject>,
    raw: &Value,
    target: &Target,
) -> Result<Verdict, String> {
    let object = req
        .object
        .as_ref()
        .ok_or_else(|| "the review carries no object".to_string())?;
    let kind = req.kind.kind.as_str();
    let spec =
        pod_spec(kind, &object.data).ok_or_else(|| format!("a {kind} without a pod template"))?;
    let mut v = Verdict::default();
    let env = &target.environment;
    let mut seen: std::collections::HashMap<String, Option<portcullis_store::DecisionRow>> =
        std::collections::HashMap::new();
    for img in images(spec) {
        let who = format!("container {:?} ({})", img.name, img.container);
        if img.image.is_empty() {
            v.denials
                .push(format!("{} {who} has no image", rules::NO_DIGEST));
            continue;
        }
        let Some(digest) = &img.digest else {
            let line = format!(
                "{} {who}: image {} has no digest; {env} admits images by digest only (IMAGE@sha256:…)",
                rules::NO_DIGEST,
                img.image
            );
            if target.protected {
                v.denials.push(line);
            } else {
                v.warnings.push(line);
            }
            continue;
        };
        // Containers often share an image (an init container of the same build): ask once.
        let latest = match seen.get(digest) {
            Some(d) => d.clone(),
            None => {
                let d = state
                    .store
                    .latest_decision(digest, env)
                    .await
                    .map_err(|e| format!("the store: {e}"))?;
                seen.insert(digest.clone(), d.clone());
                d
            }
        };
        match latest {
            None => {
                let line = format!(
                    "{} {who}: no decision is recorded for {digest} in {env} (run `portcullis gate --env {env}` on it)",
                    rules::NO_DECISION
                );
                if target.protected {
                    v.denials.push(line);
                } else {
                    v.warnings.push(line);
                }
            }
            Some(d) if d.verdict != "allow" => {
                let line = format!(
                    "{} {who}: the latest decision for {digest} in {env} is {} (decision {}, {})",
                    rules::DENIED,
                    d.verdict,
                    d.id,
                    d.decided_at
                );
                let overridden = state
                    .store
                    .override_of(&d.id)
                    .await
                    .map_err(|e| format!("the store: {e}"))?;
                match overridden {
                    // Break-glass: admitted, and said so to whoever deploys.
                    Some(o) => v.warnings.push(format!(
                        "{line}; admitted by the break-glass override of {} ({}; audit entry {})",
                        o.actor, o.reason, o.seq
                    )),
                    None => v.denials.push(line),
                }
            }
            Some(_) => {}
        }
    }
    workload_rules(state, req, raw, target, &mut v).await?;
    Ok(v)
}

/// The pod spec itself, through `Firewall::decide` (the one evaluation path): the library's
/// Kubernetes rules (`PCL-K8S-*`) and the Gatekeeper constraints (`GK.*`), with their
/// actions in the environment and the exceptions in force. Rules about the artifact's
/// evidence are the gate's business, not admission's, and are left out here.
async fn workload_rules(
    state: &AppState,
    req: &AdmissionRequest<DynamicObject>,
    raw: &Value,
    target: &Target,
    v: &mut Verdict,
) -> Result<(), String> {
    let object = req
        .object
        .as_ref()
        .ok_or_else(|| "the review carries no object".to_string())?;
    let bytes = serde_json::to_vec(object).map_err(|e| e.to_string())?;
    let namespace = req.namespace.clone().unwrap_or_default();
    let artifact = ArtifactId {
        name: format!("k8s/{namespace}/{}/{}", req.kind.kind, req.name),
        digest: sha256(&bytes),
    };
    let mut dreq = DecisionRequest::new(artifact, target.environment.clone())
        .with_admission_review(raw)
        .map_err(|e| format!("the object: {e}"))?;
    // The pod spec only: the artifact's evidence was judged at the gate (its decision is
    // what the image checks above look up).
    dreq.rule_scope = Some(vec!["PCL-K8S-".into()]);
    let live = state.live();
    let decision = tokio::task::spawn_blocking(move || live.firewall.decide(&dreq))
        .await
        .map_err(|e| e.to_string())?;
    if !decision.errors.is_empty() {
        return Err(format!("policy evaluation: {}", decision.errors.join("; ")));
    }
    let ours = |rule: &str| rule.starts_with("PCL-K8S-") || rule.starts_with("GK.");
    for x in decision.violations.iter().filter(|x| ours(&x.rule)) {
        v.denials.push(format!("{} {}", x.rule, x.message));
    }
    for x in decision.warnings.iter().filter(|x| ours(&x.rule)) {
        v.warnings.push(format!("{} {}", x.rule, x.message));
    }
    Ok(())
}
