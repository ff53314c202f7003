//! The routes and their handlers. Each handler checks the caller's role, turns the body into
//! the firewall's types, and calls the firewall or the registry: nothing is decided here.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use portcullis_firewall::DecisionService;
use portcullis_firewall::record::{Documents, blob_kinds};
use portcullis_firewall::registry::AdvisoryDoc;
use portcullis_firewall::rules::RuleInfo;
use portcullis_firewall::service::Ask;
use portcullis_firewall::{
    ArtifactId, Decision, DecisionRequest, EvidenceDoc, Exception, RequestContext,
    UnreadableEvidence, sha256,
};
use portcullis_policy::input::{
    InputExposure, InputHistoryEntry, InputPrevious, InputVerification,
};
use portcullis_store::VerifyFailure;
use portcullis_store::proof::{ExportError, ExportRequest, export_bundle};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Caller, Permission, Role};
use crate::body::{self, Json};
use crate::problem::{Problem, codes};
use crate::schemas::ExceptionGrant;
use crate::state::AppState;

#[doc(hidden)]
pub mod bodies;

type ApiResult = Result<Response, Problem>;

/// The API's routes, each documented by its handler's `#[utoipa::path]` (the path there is
/// the route: the router and the document cannot disagree). `routes::router` adds the
/// fallbacks and layers.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(decide, list_decisions))
        .routes(routes!(show_decision))
        .routes(routes!(upload_evidence))
        .routes(routes!(list_advisories, add_advisory))
        .routes(routes!(withdraw_advisory))
        .routes(routes!(advisory_impact))
        .routes(routes!(list_exceptions, grant_exceptions))
        .routes(routes!(revoke_exception))
        .routes(routes!(list_approvals, grant_approval))
        .routes(routes!(revoke_approval))
        .routes(routes!(record_facts))
        .routes(routes!(record_deployment))
        .routes(routes!(inventory))
        .routes(routes!(diff))
        .routes(routes!(environments))
        .routes(routes!(posture))
        .routes(routes!(sync_inventory, remove_deployment))
        .routes(routes!(snapshots))
        .routes(routes!(snapshot_diff))
        .routes(routes!(snapshot))
        .routes(routes!(audit_verify))
        .routes(routes!(audit_export))
        .routes(routes!(report))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(crate::admission::review))
        .routes(routes!(list_watches))
        .routes(routes!(show_watch))
}

fn json_response<T: Serialize>(status: StatusCode, v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(bytes) => {
            let mut r = (status, bytes).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => Problem::internal(e).into_response(),
    }
}

fn ok<T: Serialize>(v: &T) -> ApiResult {
    Ok(json_response(StatusCode::OK, v))
}

type QueryResult<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

/// A query string, or a problem document naming what is wrong with it.
fn query<T>(q: QueryResult<T>) -> Result<T, Problem> {
    q.map(|Query(q)| q)
        .map_err(|e| Problem::new(codes::INVALID_REQUEST, e.body_text()))
}

// ------------------------------------------------------------------ operations

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    description = "Liveness: the process answers. No token needed.",
    responses(
        (status = 200, description = "`{\"status\": \"ok\"}`", body = serde_json::Value),
    ),
)]
async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    description = "Readiness: the store answers and the policies are loaded; 503 while starting or shutting down. No token needed.",
    responses(
        (status = 200, description = "`{status, database, rules, policy_bundle, advisories, exceptions}`", body = serde_json::Value),
        (status = 503, description = "starting, shutting down, or the database does not answer (problem code: unavailable)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn readyz(State(state): State<Arc<AppState>>) -> ApiResult {
    if !state.is_ready() {
        return Err(Problem::new(
            codes::UNAVAILABLE,
            "starting or shutting down",
        ));
    }
    state.store.ping().await.map_err(|e| {
        // The cause names the database; /readyz answers anyone.
        tracing::error!(error = %e, "readiness: the database does not answer");
        Problem::new(codes::UNAVAILABLE, "the database does not answer")
    })?;
    let live = state.live();
    ok(&json!({
        "status": "ready",
        "database": format!("{:?}", state.store.backend()).to_lowercase(),
        "rules": live.firewall.bundle().rules().len(),
        "policy_bundle": live.firewall.bundle().digest(),
        "advisories": live.firewall.advisories().len(),
        "exceptions": live.firewall.exceptions().len(),
    }))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    description = "Prometheus metrics (OpenMetrics text). No token needed.",
    responses(
        (status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text"),
    ),
)]
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut r = state.metrics.encode().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

// ------------------------------------------------------------------ decisions

/// An artifact as `NAME@sha256:HEX` or `{name, digest}`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ArtifactRef {
    /// `NAME@sha256:HEX`
    Text(String),
    Parts {
        name: String,
        digest: String,
    },
}

impl ArtifactRef {
    pub fn resolve(&self) -> Result<ArtifactId, Problem> {
        let text = match self {
            Self::Text(t) => t.clone(),
            Self::Parts { name, digest } => format!("{name}@{digest}"),
        };
        ArtifactId::parse(&text)
            .map_err(|e| Problem::new(codes::INVALID_REQUEST, format!("artifact {e}")))
    }
}

/// One evidence document: exact bytes (base64), a JSON value, or the digest of a document
/// uploaded before (`POST /v1/evidence`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceItem {
    /// Where it came from (a file name), for reports.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
    /// The document as a JSON value. Kept as the bytes sent (never built into a JSON tree:
    /// a body's worth of tiny values would cost many times the body), and those bytes are the
    /// document whose digest is recorded.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub content: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    pub content_base64: Option<String>,
    /// The client could not read this document (why): recorded, and the decision fails
    /// closed, as at a local gate.
    #[serde(default)]
    pub unreadable: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextBody {
    #[serde(default)]
    pub pipeline: Option<String>,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub requester: Option<String>,
    #[serde(default)]
    pub approver: Option<String>,
    #[serde(default)]
    pub change_ref: Option<String>,
    /// RFC 3339; now when absent.
    #[serde(default)]
    pub time: Option<String>,
}

/// A break-glass override: the deployment goes on whatever the decision, on the record.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    pub reason: String,
}

/// `POST /v1/decisions`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The artifact decided (`NAME@sha256:HEX` or `{name, digest}`). May be left out when
    /// `image` is given: the artifact is then the image's repository at the digest the
    /// reference resolves to.
    #[serde(default)]
    pub artifact: Option<ArtifactRef>,
    /// An image reference (`registry/repository:tag` or `@sha256:…`): resolved once, and
    /// every SBOM, scan report, signature and attestation attached to it in its registry
    /// (cosign tags, OCI referrers, Buildx attestation manifests) is fetched, verified and
    /// decided on with any `evidence` given. A registry that cannot be reached, refuses the
    /// credentials or answers something malformed gives 502 `registry-*`, never a decision.
    #[serde(default)]
    pub image: Option<String>,
    pub environment: String,
    #[serde(default)]
    pub context: ContextBody,
    #[serde(default)]
    pub evidence: Vec<EvidenceItem>,
    /// Canary verifications (`PolicyInput` `verifications[]`: kind, score, verdict, evidence).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub verifications: Vec<InputVerification>,
    /// Exposure checks (`PolicyInput` `exposures[]`).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub exposures: Vec<InputExposure>,
    /// The previous deployment (`PolicyInput` `previous`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub previous: Option<InputPrevious>,
    /// Deployment history (`PolicyInput` `history[]`).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<InputHistoryEntry>,
    /// Kubernetes objects to check with the deployment (`gate --manifest`): each with its
    /// `source` (`FILE#N`) and `object`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub manifests: Vec<portcullis_policy::kubernetes::Manifest>,
    #[serde(default, rename = "override")]
    pub override_: Option<OverrideBody>,
    /// A what-if evaluation: decided (at `context.time` when given) and answered, never
    /// recorded; the decision says `what_if: true`. Otherwise the decision is recorded and the
    /// firewall's own facts replace what the request says about itself (time, requester,
    /// approvals, history, what runs): see `decision.facts` and `decision.ignored`.
    #[serde(default)]
    pub what_if: bool,
}

/// What `POST /v1/decisions` answers: the decision (the documented Decision JSON), the exit
/// code a local gate would have returned, and the rules a report needs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DecisionResponse {
    /// The Decision JSON: `{id, decision: "allow"|"deny", artifact{name, digest}, environment, violations[], warnings[], excepted[], policy_bundle_digest, evidence[{kind, format, digest}], engine_version, decided_at, chain{seq, hash}}`.
    #[schema(value_type = Object)]
    pub decision: Decision,
    /// What a local gate would exit with: 0 allowed, 1 denied by policy, 2 unreadable evidence or an internal error.
    pub exit_code: u8,
    /// The rules in force for the environment: `{id, title, category, severity, controls[], remediation, action}`.
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<RuleInfo>,
    /// Present when a break-glass override let a denied deployment through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#override: Option<Value>,
}

#[utoipa::path(
    post,
    path = "/v1/decisions",
    tag = "decisions",
    operation_id = "decide",
    description = "Decide whether an artifact may be deployed to an environment (`Firewall::decide`, as `portcullis gate`), and record the decision. Role: ci or admin; a break-glass `override` needs approver or admin and is recorded on the audit trail.",
    request_body = DecisionBody,
    responses(
        (status = 200, description = "The decision (also when it is a deny: see `exit_code`)", body = DecisionResponse),
        (status = 403, description = "the role does not allow deciding, or an override without role approver or admin (problem code: forbidden)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "bad artifact, empty environment, evidence given twice or not base64, bad context.time, an override without a reason, an artifact whose digest is not the one `image` resolves to (problem code: invalid-request); `image` is not an image reference (problem code: registry-reference)", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "the server's registry settings cannot be used: its Docker config.json or CA bundle (problem code: registry-config)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`image`: the registry cannot be reached (problem code: registry-unreachable), refuses the server's credentials (problem code: registry-unauthorized), has no such tag or digest (problem code: registry-not-found), answers something malformed (problem code: registry-malformed), has a manifest, document or list over the server's limits (problem code: registry-too-large), or fails otherwise (problem code: registry-error); nothing is recorded", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "`image`: the registry did not answer within the server's registry timeout (problem code: registry-timeout)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn decide(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<DecisionBody>,
) -> ApiResult {
    // Refused before the evidence is read (or fetched from the store by digest).
    DecisionService::may_ask(
        &caller.as_actor(),
        body.override_.as_ref().map(|o| o.reason.as_str()),
    )?;
    let (request, documents) =
        build_request(&body, &state.limits, Some(caller.actor()), state.as_ref()).await?;
    let decided = state
        .service
        .decide(Ask {
            request,
            documents,
            actor: caller.as_actor(),
            override_reason: body.override_.as_ref().map(|o| o.reason.clone()),
            image: body.image.clone(),
        })
        .await?;
    ok(&DecisionResponse {
        decision: decided.decision,
        exit_code: decided.exit_code,
        rules: decided.rules,
        r#override: decided
            .overridden
            .map(|o| json!({"by": o.by, "reason": o.reason, "audit_entry": o.audit_entry})),
    })
}

/// What [`build_request`] needs of the server beyond the body: the documents read before
/// (`parsed`) and those uploaded before (the store). The server answers from its state;
/// the fuzz target ([`bodies`]) from nothing, so that both run the same translation.
pub(crate) trait EvidenceLookup {
    /// The document of `digest` read before under the name `source`, when kept.
    fn kept(&self, digest: &str, source: &str) -> Option<crate::parsed::Parsed>;
    /// The bytes uploaded as `digest` (`POST /v1/evidence`), when there are any.
    async fn uploaded(&self, digest: &str) -> Result<Option<Vec<u8>>, Problem>;
    /// Keep a document just read for the requests that send it again.
    fn keep(&self, parsed: crate::parsed::Parsed);
}

impl EvidenceLookup for AppState {
    fn kept(&self, digest: &str, source: &str) -> Option<crate::parsed::Parsed> {
        self.parsed.get(digest, source)
    }

    async fn uploaded(&self, digest: &str) -> Result<Option<Vec<u8>>, Problem> {
        Ok(self.store.blob(digest).await?.map(|(_, bytes)| bytes))
    }

    fn keep(&self, parsed: crate::parsed::Parsed) {
        self.parsed.put(parsed);
    }
}

/// The firewall's request from the API body, evidence read under `limits`; `requester` is
/// the requester when the body names none. Evidence that cannot be read becomes unreadable
/// evidence (the decision fails closed), as at the CLI gate.
pub(crate) async fn build_request(
    body: &DecisionBody,
    limits: &portcullis_evidence::Limits,
    requester: Option<String>,
    evidence: &impl EvidenceLookup,
) -> Result<(DecisionRequest, Documents), Problem> {
    let artifact = match (&body.artifact, &body.image) {
        (Some(a), _) => a.resolve()?,
        (None, Some(_)) => ArtifactId {
            name: String::new(),
            digest: String::new(),
        },
        (None, None) => {
            return Err(Problem::new(
                codes::INVALID_REQUEST,
                "give `artifact` (NAME@sha256:HEX) or `image` (a registry reference)",
            ));
        }
    };
    if body.environment.trim().is_empty() {
        return Err(Problem::new(codes::INVALID_REQUEST, "environment is empty"));
    }
    let time = match &body.context.time {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    Problem::new(
                        codes::INVALID_REQUEST,
                        format!("context.time {t:?}: not an RFC 3339 time ({e})"),
                    )
                })?,
        ),
        None => None,
    };
    let mut docs = Documents::default();
    let mut req = DecisionRequest::new(artifact, body.environment.clone());
    req.what_if = body.what_if;
    req.context = RequestContext {
        pipeline: body.context.pipeline.clone(),
        stage: body.context.stage.clone(),
        requester: body.context.requester.clone().or(requester),
        approver: body.context.approver.clone(),
        change_ref: body.context.change_ref.clone(),
        time,

        ..RequestContext::default()
    };
    for (i, item) in body.evidence.iter().enumerate() {
        let source = item
            .name
            .clone()
            .unwrap_or_else(|| format!("evidence[{i}]"));
        if let Some(error) = &item.unreadable {
            if item.content.is_some() || item.content_base64.is_some() {
                return Err(Problem::new(
                    codes::INVALID_REQUEST,
                    format!("evidence[{i}]: unreadable evidence has no content"),
                ));
            }
            req.unreadable.push(UnreadableEvidence {
                source,
                digest: item.digest.clone(),
                error: error.clone(),
            });
            continue;
        }
        // A document referred to by digest and read before under this name: as read then.
        if let (None, None, Some(d)) = (&item.content, &item.content_base64, &item.digest)
            && let Some(kept) = evidence.kept(d, &source)
        {
            docs.add_shared(blob_kinds::EVIDENCE, d, kept.bytes);
            req.evidence.push((*kept.doc).clone());
            continue;
        }
        let bytes = match (&item.content, &item.content_base64, &item.digest) {
            (Some(v), None, None) => v.get().as_bytes().to_vec(),
            (None, Some(b64), None) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| {
                    Problem::new(
                        codes::INVALID_REQUEST,
                        format!("evidence[{i}].content_base64: not base64 ({e})"),
                    )
                })?,
            (None, None, Some(d)) => {
                match evidence.uploaded(d).await? {
                    Some(bytes) => bytes,
                    None => {
                        req.unreadable.push(UnreadableEvidence {
                        source,
                        digest: Some(d.clone()),
                        error: format!("{d}: no such document on the server (upload it with POST /v1/evidence)"),
                    });
                        continue;
                    }
                }
            }
            _ => {
                return Err(Problem::new(
                    codes::INVALID_REQUEST,
                    format!("evidence[{i}]: give exactly one of content, content_base64 or digest"),
                ));
            }
        };
        if bytes.len() as u64 > limits.max_bytes {
            req.unreadable.push(UnreadableEvidence {
                source,
                digest: Some(sha256(&bytes)),
                error: format!(
                    "{} bytes, more than the limit of {}",
                    bytes.len(),
                    limits.max_bytes
                ),
            });
            continue;
        }
        let digest = sha256(&bytes);
        if let Some(kept) = evidence.kept(&digest, &source) {
            docs.add_shared(blob_kinds::EVIDENCE, &digest, kept.bytes);
            req.evidence.push((*kept.doc).clone());
            continue;
        }
        match EvidenceDoc::parse(&source, &bytes, limits) {
            Ok(doc) => {
                let bytes = std::sync::Arc::new(bytes);
                docs.add_shared(blob_kinds::EVIDENCE, &doc.digest, bytes.clone());
                evidence.keep(crate::parsed::Parsed {
                    doc: std::sync::Arc::new(doc.clone()),
                    bytes,
                });
                req.evidence.push(doc);
            }
            Err(e) => req.unreadable.push(UnreadableEvidence {
                source,
                digest: Some(digest),
                error: e.to_string(),
            }),
        }
    }
    req.verifications = body.verifications.clone();
    req.exposures = body.exposures.clone();
    req.previous = body.previous.clone();
    req.history = body.history.clone();
    // Objects sent by a client are manifests, never admission requests.
    req.manifests = body
        .manifests
        .iter()
        .cloned()
        .map(|mut m| {
            m.admission = None;
            m
        })
        .collect();
    Ok((req, docs))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DecisionQuery {
    env: Option<String>,
    artifact: Option<String>,
    since: Option<String>,
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v1/decisions",
    tag = "decisions",
    operation_id = "list_decisions",
    description = "Recorded decisions, newest first, filtered by `env`, `artifact` and `since`. Role: viewer or above.",
    params(DecisionQuery),
    responses(
        (status = 200, description = "`{decisions: [DecisionRow]}`", body = serde_json::Value),
        (status = 422, description = "an unknown parameter, or since not RFC 3339 (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn list_decisions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: QueryResult<DecisionQuery>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let q = query(q)?;
    if let Some(s) = &q.since {
        DateTime::parse_from_rfc3339(s).map_err(|e| {
            Problem::new(
                codes::INVALID_REQUEST,
                format!("since {s:?}: not an RFC 3339 time ({e})"),
            )
        })?;
    }
    let rows = state
        .store
        .decisions(
            q.env.as_deref(),
            q.artifact.as_deref(),
            q.since.as_deref(),
            q.limit.unwrap_or(50).clamp(1, 1000),
        )
        .await?;
    ok(&json!({"decisions": rows}))
}

#[utoipa::path(
    get,
    path = "/v1/decisions/{id}",
    tag = "decisions",
    operation_id = "show_decision",
    description = "One recorded decision (the Decision JSON) and its audit entry. Role: viewer or above.",
    params(("id" = String, Path, description = "the decision id")),
    responses(
        (status = 200, description = "`{decision: Decision, audit_entry}`", body = serde_json::Value),
        (status = 404, description = "no such decision (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn show_decision(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let (row, decision) = state.service.decision(&id).await?;
    ok(&json!({"decision": decision, "audit_entry": row.seq}))
}

// ------------------------------------------------------------------ evidence

#[utoipa::path(
    post,
    path = "/v1/evidence",
    tag = "evidence",
    operation_id = "upload_evidence",
    description = "Upload one evidence document (exact bytes; format detected from the content); decisions can then name it by digest. Header `X-Portcullis-Source` names it. Role: ci or admin.",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the document's bytes"),
    responses(
        (status = 201, description = "Stored: `{digest, format, size, audit_entry}`", body = serde_json::Value),
        (status = 200, description = "Stored before: `{digest, format, size, audit_entry: null}`", body = serde_json::Value),
        (status = 422, description = "not a known evidence format (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn upload_evidence(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    req: Request,
) -> ApiResult {
    caller.require(Permission::Decide)?;
    let name = req
        .headers()
        .get("x-portcullis-source")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("upload")
        .to_string();
    let bytes = body::read_bytes(req, &state).await?;
    let (file, entry) = state
        .service
        .store_evidence(&name, &bytes, &caller.as_actor())
        .await?;
    let status = if entry.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(
        status,
        &json!({
            "digest": file.digest, "format": file.format,
            "size": file.size, "audit_entry": entry,
        }),
    ))
}

// ------------------------------------------------------------------ advisories

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AllQuery {
    #[serde(default)]
    all: bool,
    env: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/advisories",
    tag = "advisories",
    operation_id = "list_advisories",
    description = "Advisories and block rules in force (`all=true`: withdrawn ones too). Role: viewer or above.",
    params(AllQuery),
    responses(
        (status = 200, description = "`{advisories: [AdvisoryRow]}`", body = serde_json::Value),
    ),
    security(("bearer" = [])),
)]
async fn list_advisories(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: QueryResult<AllQuery>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let q = query(q)?;
    ok(&json!({"advisories": state.store.advisories(q.all).await?}))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BlockRuleBody {
    #[serde(default)]
    id: Option<String>,
    purl: String,
    #[serde(default)]
    vers: String,
    reason: String,
}

/// `POST /v1/advisories`: one OSV record (`{osv: {...}}`), or a block rule
/// (`{block_rule: {purl, vers, reason}}`): exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum AdvisoryBody {
    /// An OSV record (a JSON object; anything else is refused with 422).
    Osv(Value),
    BlockRule(BlockRuleBody),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

#[utoipa::path(
    post,
    path = "/v1/advisories",
    tag = "advisories",
    operation_id = "add_advisory",
    description = "Add an OSV record or a block rule; in force on every replica within a second, its impact on what is deployed recorded and notified. Role: admin.",
    request_body = AdvisoryBody,
    responses(
        (status = 201, description = "`{advisory, audit_entry, impact_entry, affected: [PackageInUse]}`", body = serde_json::Value),
        (status = 409, description = "an advisory with that id exists (problem code: conflict)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "neither or both of osv and block_rule, or an invalid record (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn add_advisory(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(raw): Json<Value>,
) -> ApiResult {
    caller.require(Permission::Admin)?;
    let doc = advisory_doc(&raw, &state.limits)?;
    let added = state
        .service
        .add_advisories(vec![doc], &caller.as_actor())
        .await?;
    let a = added
        .into_iter()
        .next()
        .ok_or_else(|| Problem::internal("the advisory was not added"))?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"advisory": a.id, "audit_entry": a.entry.seq, "impact_entry": a.impact_entry, "affected": a.affected}),
    ))
}

/// The advisory a `POST /v1/advisories` body gives: exactly one of `osv` or `block_rule`.
pub(crate) fn advisory_doc(
    raw: &Value,
    limits: &portcullis_evidence::Limits,
) -> Result<AdvisoryDoc, Problem> {
    // Exactly one key, osv or block_rule (what the schema says): said plainly, before serde's
    // words for an enum.
    let one_key = raw
        .as_object()
        .is_some_and(|o| o.len() == 1 && (o.contains_key("osv") || o.contains_key("block_rule")));
    if !one_key {
        return Err(Problem::new(
            codes::INVALID_REQUEST,
            "give exactly one of osv (an OSV record) or block_rule ({purl, vers, reason})",
        ));
    }
    let body: AdvisoryBody = serde_path_to_error::deserialize(raw).map_err(|e| {
        Problem::new(
            codes::INVALID_REQUEST,
            format!("request body at {}: {}", e.path(), e.inner()),
        )
    })?;
    Ok(match body {
        AdvisoryBody::Osv(osv) => {
            let bytes = serde_json::to_vec(&osv).map_err(Problem::internal)?;
            AdvisoryDoc::osv("osv", bytes, limits)?
        }
        AdvisoryBody::BlockRule(r) => {
            AdvisoryDoc::block_rule(r.id.as_deref(), &r.purl, &r.vers, &r.reason)?
        }
    })
}

#[utoipa::path(
    post,
    path = "/v1/advisories/{id}/withdraw",
    tag = "advisories",
    operation_id = "withdraw_advisory",
    description = "Withdraw an advisory or block rule (with a reason). Role: admin.",
    request_body = ReasonBody,
    params(("id" = String, Path, description = "the advisory id")),
    responses(
        (status = 200, description = "`{advisory, audit_entry}`", body = serde_json::Value),
        (status = 404, description = "no such advisory (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "withdrawn already (problem code: conflict)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn withdraw_advisory(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<ReasonBody>,
) -> ApiResult {
    let e = state
        .service
        .withdraw_advisory(&id, &caller.as_actor(), &body.reason)
        .await?;
    ok(&json!({"advisory": id, "audit_entry": e.seq}))
}

#[utoipa::path(
    get,
    path = "/v1/advisories/{id}/impact",
    tag = "advisories",
    operation_id = "advisory_impact",
    description = "The deployed artifacts an advisory affects now. Role: viewer or above.",
    params(("id" = String, Path, description = "the advisory id")),
    responses(
        (status = 200, description = "`{advisory, affected: [PackageInUse]}`", body = serde_json::Value),
        (status = 404, description = "no such advisory (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn advisory_impact(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let affected = state.service.advisory_impact(&id).await?;
    ok(&json!({"advisory": id, "affected": affected}))
}

// ------------------------------------------------------------------ exceptions

#[utoipa::path(
    get,
    path = "/v1/exceptions",
    tag = "exceptions",
    operation_id = "list_exceptions",
    description = "Exceptions in force (`all=true`: expired and revoked ones too). Role: viewer or above.",
    params(AllQuery),
    responses(
        (status = 200, description = "`{exceptions: [ExceptionRow with its exception]}`", body = serde_json::Value),
    ),
    security(("bearer" = [])),
)]
async fn list_exceptions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: QueryResult<AllQuery>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let q = query(q)?;
    let out: Vec<Value> = state
        .service
        .exceptions(q.all)
        .await?
        .into_iter()
        .map(|x| {
            let mut v = serde_json::to_value(&x.row).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.remove("body");
                o.insert("exception".into(), json!(x.exception));
                o.insert("status".into(), json!(x.status));
            }
            v
        })
        .collect();
    ok(&json!({"exceptions": out}))
}

#[utoipa::path(
    post,
    path = "/v1/exceptions",
    tag = "exceptions",
    operation_id = "grant_exceptions",
    description = "Grant one exception, or several as `{exceptions: [...]}`. Role: approver or admin.",
    request_body = ExceptionGrant,
    responses(
        (status = 201, description = "`{granted: [{audit_entry, exception_id}]}`", body = serde_json::Value),
        (status = 409, description = "an exception with that id exists (problem code: conflict)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "an invalid exception (scope, expiry, key) (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn grant_exceptions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    req: Request,
) -> ApiResult {
    caller.require(Permission::Approve)?;
    let bytes = {
        let ct_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !ct_ok {
            return Err(Problem::new(
                codes::UNSUPPORTED_MEDIA_TYPE,
                "send the body with Content-Type: application/json",
            ));
        }
        body::read_bytes(req, &state).await?
    };
    // Untagged enums lose serde's error messages: try each shape for a precise one.
    let value: Value = body::parse(&bytes)?;
    let list = if value.get("exceptions").is_some() {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Many {
            exceptions: Vec<Exception>,
        }
        body::parse::<Many>(&bytes)?.exceptions
    } else {
        vec![body::parse::<Exception>(&bytes)?]
    };
    let granted: Vec<Value> = state
        .service
        .grant_exceptions(list, &caller.as_actor())
        .await?
        .iter()
        .map(|g| json!({"audit_entry": g.entry.seq, "exception_id": g.id}))
        .collect();
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"granted": granted}),
    ))
}

#[utoipa::path(
    post,
    path = "/v1/exceptions/{id}/revoke",
    tag = "exceptions",
    operation_id = "revoke_exception",
    description = "Revoke an exception (with a reason). Role: approver or admin.",
    request_body = ReasonBody,
    params(("id" = String, Path, description = "the exception id")),
    responses(
        (status = 200, description = "`{exception, audit_entry}`", body = serde_json::Value),
        (status = 404, description = "no such exception (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "revoked or expired already (problem code: conflict)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn revoke_exception(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<ReasonBody>,
) -> ApiResult {
    let e = state
        .service
        .revoke_exception(&id, &caller.as_actor(), &body.reason)
        .await?;
    ok(&json!({"exception": id, "audit_entry": e.seq}))
}

// ------------------------------------------------------------------ approvals

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ApprovalQuery {
    /// Only approvals of this artifact digest.
    artifact_digest: Option<String>,
    /// Only approvals for this environment.
    environment: Option<String>,
    /// Expired and revoked ones too.
    #[serde(default)]
    all: bool,
}

/// `POST /v1/approvals`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ApprovalBody {
    /// `sha256:<64 hex>`: the exact artifact approved.
    artifact_digest: String,
    environment: String,
    /// The change approved; a request must then name the same change.
    #[serde(default)]
    change_ref: Option<String>,
    reason: String,
    /// RFC 3339; 24 hours from now when absent, at most 30 days.
    #[serde(default)]
    expires_at: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/approvals",
    tag = "approvals",
    operation_id = "list_approvals",
    description = "Approvals in force (`all=true`: expired and revoked ones too), newest first. Role: viewer or above.",
    params(ApprovalQuery),
    responses(
        (status = 200, description = "`{approvals: [{id, artifact_digest, environment, change_ref, approver, source, reason, granted_at, expires_at, revoked_at, status, audit_entry}]}`", body = serde_json::Value),
    ),
    security(("bearer" = [])),
)]
async fn list_approvals(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: QueryResult<ApprovalQuery>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let q = query(q)?;
    let out: Vec<Value> = state
        .service
        .approvals(
            q.artifact_digest.as_deref(),
            q.environment.as_deref(),
            q.all,
        )
        .await?
        .into_iter()
        .map(|(row, status)| {
            let mut v = serde_json::to_value(&row).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("status".into(), json!(status));
            }
            v
        })
        .collect();
    ok(&json!({"approvals": out}))
}

#[utoipa::path(
    post,
    path = "/v1/approvals",
    tag = "approvals",
    operation_id = "grant_approval",
    description = "Approve one artifact digest for one environment (and change, when given). The approver is the caller's token, never a name in the body. Role: approver or admin.",
    request_body = ApprovalBody,
    responses(
        (status = 201, description = "`{approval: {id, …}, audit_entry}`", body = serde_json::Value),
        (status = 422, description = "not a digest, an empty environment or reason, an expiry in the past or more than 30 days ahead (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn grant_approval(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<ApprovalBody>,
) -> ApiResult {
    caller.require(Permission::Approve)?;
    let expires_at = match body.expires_at.as_deref() {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    Problem::new(
                        codes::INVALID_REQUEST,
                        format!("expires_at {t:?}: not an RFC 3339 time ({e})"),
                    )
                })?,
        ),
        None => None,
    };
    let grant = portcullis_firewall::approvals::ApprovalGrant {
        artifact_digest: body.artifact_digest,
        environment: body.environment,
        change_ref: body.change_ref,
        reason: body.reason,
        expires_at,
    };
    let (row, entry) = state
        .service
        .grant_approval(&grant, &caller.as_actor())
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"approval": row, "audit_entry": entry.seq}),
    ))
}

#[utoipa::path(
    post,
    path = "/v1/approvals/{id}/revoke",
    tag = "approvals",
    operation_id = "revoke_approval",
    description = "Revoke an approval (with a reason). Role: approver or admin.",
    request_body = ReasonBody,
    params(("id" = String, Path, description = "the approval id")),
    responses(
        (status = 200, description = "`{approval, audit_entry}`", body = serde_json::Value),
        (status = 404, description = "no such approval (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "revoked already (problem code: conflict)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn revoke_approval(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<ReasonBody>,
) -> ApiResult {
    caller.require(Permission::Approve)?;
    let e = state
        .service
        .revoke_approval(&id, &caller.as_actor(), &body.reason)
        .await?;
    ok(&json!({"approval": id, "audit_entry": e.seq}))
}

// ------------------------------------------------------------------ recorded facts

/// `POST /v1/facts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FactsBody {
    /// `sha256:<64 hex>`.
    artifact_digest: String,
    environment: String,
    /// Canary analyses (`PolicyInput` `verifications[]`: kind, score, verdict, evidence, details).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    verifications: Vec<InputVerification>,
    /// Exposure checks (`PolicyInput` `exposures[]`).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    exposures: Vec<InputExposure>,
}

#[utoipa::path(
    post,
    path = "/v1/facts",
    tag = "facts",
    operation_id = "record_facts",
    description = "Record verification (canary) and exposure results measured for one artifact digest in one environment (what `portcullis verify canary --record` and `portcullis probe --record` send). Later decisions about that digest there count them as recorded, by the caller. Role: verifier or admin (not ci: the pipeline being gated does not report its own results).",
    request_body = FactsBody,
    responses(
        (status = 201, description = "`{recorded: [{id, kind, audit_entry}]}`", body = serde_json::Value),
        (status = 422, description = "not a digest, an empty environment, nothing to record, a score outside 0-100 (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn record_facts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<FactsBody>,
) -> ApiResult {
    caller.require(Permission::Record)?;
    let facts = portcullis_firewall::sources::FactsToRecord {
        artifact_digest: body.artifact_digest,
        environment: body.environment,
        verifications: body.verifications,
        exposures: body.exposures,
    };
    let rows = state
        .service
        .record_facts(&facts, &caller.as_actor())
        .await?;
    let out: Vec<Value> = rows
        .iter()
        .map(|r| json!({"id": r.id, "kind": r.kind, "audit_entry": r.seq}))
        .collect();
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"recorded": out}),
    ))
}

// ------------------------------------------------------------------ deployments

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DeploymentBody {
    artifact: ArtifactRef,
    environment: String,
}

#[utoipa::path(
    post,
    path = "/v1/deployments",
    tag = "deployments",
    operation_id = "record_deployment",
    description = "Record that an artifact now runs in an environment (the inventory). Role: ci or admin.",
    request_body = DeploymentBody,
    responses(
        (status = 201, description = "`{audit_entry, artifact, environment, decision: {id, decision} | null, warning}`", body = serde_json::Value),
        (status = 422, description = "bad artifact or environment (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn record_deployment(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<DeploymentBody>,
) -> ApiResult {
    let artifact = body.artifact.resolve()?;
    let (entry, latest) = state
        .service
        .record_deployment(&artifact, &body.environment, &caller.as_actor())
        .await?;
    let warning = latest.is_none().then(|| {
        format!(
            "no decision is recorded for this artifact in {}",
            body.environment
        )
    });
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "audit_entry": entry.seq, "artifact": artifact, "environment": body.environment,
            "decision": latest.map(|d| json!({"id": d.id, "decision": d.verdict})),
            "warning": warning,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/inventory",
    tag = "deployments",
    operation_id = "inventory",
    description = "What runs where (`env` filters). Role: viewer or above.",
    params(AllQuery),
    responses(
        (status = 200, description = "`{inventory: [Deployed]}`", body = serde_json::Value),
    ),
    security(("bearer" = [])),
)]
async fn inventory(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: QueryResult<AllQuery>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let q = query(q)?;
    ok(&json!({"inventory": state.store.inventory(q.env.as_deref()).await?}))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DiffQuery {
    env: String,
    artifact: String,
}

/// The artifact compared with what runs in `env`, on the evidence of its latest recorded
/// decision (what `portcullis diff` prints without `--evidence`).
#[utoipa::path(
    get,
    path = "/v1/diff",
    tag = "deployments",
    operation_id = "diff",
    description = "The artifact compared with what runs in `env`, on the evidence of its latest recorded decision (`portcullis diff`). Role: viewer or above.",
    params(DiffQuery),
    responses(
        (status = 200, description = "The diff report", body = serde_json::Value),
        (status = 404, description = "no recorded decision for the artifact (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "empty env or a bad artifact (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn diff(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: QueryResult<DiffQuery>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let q = query(q)?;
    if q.env.trim().is_empty() {
        return Err(Problem::new(codes::INVALID_REQUEST, "env is empty"));
    }
    let artifact = ArtifactRef::Text(q.artifact).resolve()?;
    match state.service.diff(&q.env, &artifact, None).await {
        Ok(report) => ok(&report),
        Err(portcullis_firewall::diff::DiffError::NoCandidate(m)) => {
            Err(Problem::new(codes::NOT_FOUND, m))
        }
        Err(portcullis_firewall::diff::DiffError::Store(e)) => Err(e.into()),
        Err(e) => Err(Problem::internal(e)),
    }
}

// ------------------------------------------------------------------ posture

#[utoipa::path(
    get,
    path = "/v1/environments",
    tag = "posture",
    operation_id = "environments",
    description = "Every environment something runs in, with its running artifacts counted by posture: `compliant`, `violation`, `undecided` (no decision about the digest there) and `pending` (running, not judged yet). Role: viewer or above.",
    responses(
        (status = 200, description = "`{environments: [{environment, running, compliant, violation, undecided, pending, longest_violation_seconds}]}`", body = serde_json::Value),
    ),
    security(("bearer" = [])),
)]
async fn environments(State(state): State<Arc<AppState>>, caller: Caller) -> ApiResult {
    caller.require(Permission::Read)?;
    ok(&json!({"environments": state.service.environments().await?}))
}

#[utoipa::path(
    get,
    path = "/v1/environments/{env}/posture",
    tag = "posture",
    operation_id = "posture",
    description = "The posture of what runs in an environment: each running artifact with its state (`compliant`, `violation`, `undecided`), the rules it violates, since when and for how many seconds, the decision that put it there and its audit entry; violations first, longest first; `pending` lists what runs but is not judged yet. Role: viewer or above.",
    params(("env" = String, Path, description = "the environment")),
    responses(
        (status = 200, description = "`{environment, at, artifacts: [{artifact, state, rules, since, seconds, decision_id, seq}], pending, compliant, violation, undecided}`", body = serde_json::Value),
        (status = 422, description = "not a valid environment name (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn posture(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(env): Path<String>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    ok(&state.service.posture(&env).await?)
}

/// What `POST /v1/environments/{env}/inventory` answers (and `portcullis inventory sync`
/// prints): what changed, the format read and the containers not counted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InventorySynced {
    pub environment: String,
    /// Newly running.
    #[schema(value_type = Vec<Object>)]
    pub added: Vec<ArtifactId>,
    /// Running under a new digest: `[previous digest, artifact]`.
    #[schema(value_type = Vec<Object>)]
    pub replaced: Vec<(String, ArtifactId)>,
    /// No longer running.
    #[schema(value_type = Vec<Object>)]
    pub removed: Vec<ArtifactId>,
    pub unchanged: usize,
    /// The snapshot's audit entry (null when nothing changed).
    pub snapshot: Option<u64>,
    /// `kubectl` or `list`.
    pub format: String,
    /// Containers not counted, each with the reason.
    pub skipped: Vec<String>,
}

impl InventorySynced {
    pub fn new(
        synced: portcullis_firewall::inventory::Synced,
        set: &portcullis_firewall::inventory::RunningSet,
    ) -> Self {
        Self {
            environment: synced.environment,
            added: synced.added,
            replaced: synced.replaced,
            removed: synced.removed,
            unchanged: synced.unchanged,
            snapshot: synced.snapshot,
            format: set.format.to_string(),
            skipped: set.skipped.clone(),
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/environments/{env}/inventory",
    tag = "posture",
    operation_id = "sync_inventory",
    description = "Replace what runs in an environment with a report of it: the output of `kubectl get pods -A -o json` (a List of Pods or one Pod; each running container counts with the digest its runtime reports, `imageID`) or a text list of image references pinned by digest, one per line. New artifacts and digests are recorded as deployments, what is not listed as removed, then one snapshot is taken; re-judging follows. Header `X-Portcullis-Source` names the report. Role: ci or admin.",
    params(("env" = String, Path, description = "the environment")),
    request_body(content = String, content_type = "text/plain", description = "kubectl's pod JSON (send as application/json) or image references pinned by digest, one per line (text/plain)"),
    responses(
        (status = 200, description = "`{environment, added, replaced, removed, unchanged, snapshot, format, skipped}`", body = InventorySynced),
        (status = 415, description = "neither application/json nor text/plain (problem code: unsupported-media-type)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a report that cannot be read: the detail names the source, the place (line, JSON position, item) and what is wrong (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn sync_inventory(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(env): Path<String>,
    req: Request,
) -> ApiResult {
    caller.require(Permission::Decide)?;
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if media != "application/json" && media != "text/plain" {
        return Err(Problem::new(
            codes::UNSUPPORTED_MEDIA_TYPE,
            "send kubectl's pod JSON as application/json, or a list of image references as text/plain",
        ));
    }
    let source = req
        .headers()
        .get("x-portcullis-source")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .unwrap_or("request body")
        .to_string();
    let bytes = body::read_bytes(req, &state).await?;
    let set = portcullis_firewall::inventory::parse_running(&source, &bytes)
        .map_err(|e| Problem::new(codes::INVALID_REQUEST, e.to_string()))?;
    let synced = state
        .service
        .sync_inventory(
            &env,
            &set.artifacts,
            &format!("{source} ({})", set.format),
            &caller.as_actor(),
        )
        .await?;
    ok(&InventorySynced::new(synced, &set))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct RemovalQuery {
    /// The artifact's name (it may contain slashes).
    artifact: String,
}

#[utoipa::path(
    delete,
    path = "/v1/environments/{env}/inventory",
    tag = "posture",
    operation_id = "remove_deployment",
    description = "Record that an artifact (`?artifact=NAME`) no longer runs in an environment: a `deployment.removed` entry and a snapshot. Role: ci or admin.",
    params(("env" = String, Path, description = "the environment"), RemovalQuery),
    responses(
        (status = 200, description = "`{environment, artifact, audit_entry}`", body = serde_json::Value),
        (status = 401, description = "no token, or an unknown or revoked one (problem code: unauthenticated)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "the token's role does not allow this (problem code: forbidden)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "the artifact does not run there (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a missing or bad parameter (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "the server failed (problem code: internal)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn remove_deployment(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(env): Path<String>,
    q: QueryResult<RemovalQuery>,
) -> ApiResult {
    caller.require(Permission::Decide)?;
    let q = query(q)?;
    match state
        .service
        .remove_deployment(&env, &q.artifact, &caller.as_actor())
        .await?
    {
        Some(entry) => ok(&json!({
            "environment": env, "artifact": q.artifact, "audit_entry": entry.seq,
        })),
        None => Err(Problem::new(
            codes::NOT_FOUND,
            format!("{} does not run in {env}", q.artifact),
        )),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SnapshotsQuery {
    /// Taken at or after (RFC 3339).
    from: Option<String>,
    /// Taken before (RFC 3339).
    to: Option<String>,
    /// At most (default 50, 1 to 1000).
    limit: Option<i64>,
}

fn rfc3339(name: &str, v: &Option<String>) -> Result<(), Problem> {
    if let Some(s) = v {
        DateTime::parse_from_rfc3339(s).map_err(|e| {
            Problem::new(
                codes::INVALID_REQUEST,
                format!("{name} {s:?}: not an RFC 3339 time ({e})"),
            )
        })?;
    }
    Ok(())
}

#[utoipa::path(
    get,
    path = "/v1/environments/{env}/snapshots",
    tag = "posture",
    operation_id = "snapshots",
    description = "The snapshots of an environment taken in [from, to), newest first: after each change of what runs, the artifacts, their digests and the decision each ran under with its verdict. Role: viewer or above.",
    params(("env" = String, Path, description = "the environment"), SnapshotsQuery),
    responses(
        (status = 200, description = "`{environment, snapshots: [{seq, environment, taken_at, cause, artifacts: [{name, digest, deployed_at, decision_id, verdict}]}]}`", body = serde_json::Value),
        (status = 422, description = "from or to not RFC 3339, or an unknown parameter (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn snapshots(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(env): Path<String>,
    q: QueryResult<SnapshotsQuery>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let q = query(q)?;
    rfc3339("from", &q.from)?;
    rfc3339("to", &q.to)?;
    let rows = state
        .service
        .snapshots(
            Some(&env),
            q.from.as_deref(),
            q.to.as_deref(),
            q.limit.unwrap_or(50).clamp(1, 1000),
        )
        .await?;
    ok(&json!({"environment": env, "snapshots": rows}))
}

fn seq_of(name: &str, text: &str) -> Result<i64, Problem> {
    text.parse::<i64>().map_err(|_| {
        Problem::new(
            codes::INVALID_REQUEST,
            format!("{name} {text:?}: not a snapshot's audit entry number"),
        )
    })
}

#[utoipa::path(
    get,
    path = "/v1/environments/{env}/snapshots/{seq}",
    tag = "posture",
    operation_id = "snapshot",
    description = "One snapshot of an environment (by its audit entry). Role: viewer or above.",
    params(
        ("env" = String, Path, description = "the environment"),
        ("seq" = i64, Path, description = "the snapshot's audit entry"),
    ),
    responses(
        (status = 200, description = "`{seq, environment, taken_at, cause, artifacts}`", body = serde_json::Value),
        (status = 404, description = "no such snapshot of this environment (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "seq is not a number (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn snapshot(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((env, seq)): Path<(String, String)>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let seq = seq_of("seq", &seq)?;
    ok(&state.service.snapshot(&env, seq).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SnapshotDiffQuery {
    /// The earlier snapshot (audit entry).
    from: i64,
    /// The later snapshot (default: the latest).
    to: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v1/environments/{env}/snapshots/diff",
    tag = "posture",
    operation_id = "snapshot_diff",
    description = "What changed in an environment from one snapshot to another (the latest when `to` is left out): artifacts added, removed, changed (another digest, or another decision), and how many are unchanged. Role: viewer or above.",
    params(("env" = String, Path, description = "the environment"), SnapshotDiffQuery),
    responses(
        (status = 200, description = "`{environment, from, to, added, removed, changed, unchanged}`", body = serde_json::Value),
        (status = 404, description = "a snapshot not of this environment, or none yet (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "from missing or not a number (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn snapshot_diff(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(env): Path<String>,
    q: QueryResult<SnapshotDiffQuery>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let q = query(q)?;
    ok(&state.service.snapshot_diff(&env, q.from, q.to).await?)
}

// ------------------------------------------------------------------ audit

#[utoipa::path(
    method(get, post),
    path = "/v1/audit/verify",
    tag = "audit",
    operation_id = "audit_verify",
    description = "Verify the whole audit chain, its signed checkpoints (with the key pinned in `audit.trusted_key`), the witnessed checkpoints (`audit.witness_dir`: a chain cut short is truncated) and every table the firewall acts on against the chain. Role: viewer or above.",
    responses(
        (status = 200, description = "`{intact: true, entries, checkpoints, witnessed, last_hash}`", body = serde_json::Value),
        (status = 409, description = "the chain does not verify, or table rows disagree with it (`rows`: table, key, problem; the document also has `intact: false`) (problem code: audit-chain-broken)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn audit_verify(State(state): State<Arc<AppState>>, caller: Caller) -> ApiResult {
    caller.require(Permission::Read)?;
    let options = state
        .settings
        .audit
        .verify_options()
        .map_err(Problem::internal)?;
    let broken = |detail: String, rows: serde_json::Value| {
        Ok(json_response(
            StatusCode::CONFLICT,
            &json!({
                "type": "https://portcullis.dev/problems/audit-chain-broken",
                "title": codes::AUDIT_CHAIN_BROKEN.2, "status": 409,
                "code": codes::AUDIT_CHAIN_BROKEN.0,
                "detail": detail, "intact": false, "rows": rows,
            }),
        ))
    };
    match state.store.verify_with(&options).await {
        Ok(v) => {
            state.metrics.chain_length.set(v.entries as i64);
            ok(
                &json!({"intact": true, "entries": v.entries, "checkpoints": v.checkpoints,
                    "witnessed": options.witnessed.len(), "last_hash": v.last_hash,
                    "witness_failure": state.store.witness_failure()}),
            )
        }
        Err(VerifyFailure::Tamper(t)) => {
            tracing::error!(problem = %t, "audit chain verification failed");
            broken(t.to_string(), json!([]))
        }
        Err(VerifyFailure::Tables(findings)) => {
            let rows: Vec<serde_json::Value> = findings
                .iter()
                .map(|f| json!({"table": f.table, "key": f.key, "seq": f.seq, "problem": f.reason}))
                .collect();
            for f in &findings {
                tracing::error!(table = %f.table, key = %f.key, problem = %f.reason, "table row disagrees with the audit chain");
                state.metrics.tampered_row(&f.table);
            }
            broken(VerifyFailure::Tables(findings).to_string(), json!(rows))
        }
        Err(VerifyFailure::Store(e)) => Err(Problem::internal(e)),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    decision: Option<String>,
    from: Option<u64>,
    to: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/v1/audit/export",
    tag = "audit",
    operation_id = "audit_export",
    description = "A proof bundle a third party can check without the database: of one decision (`decision=ID`) or a range (`from`, `to`). Role: viewer or above.",
    params(ExportQuery),
    responses(
        (status = 200, description = "The proof bundle (JSON)", body = serde_json::Value),
        (status = 404, description = "no such decision or range (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the entries do not verify (problem code: audit-chain-broken)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "neither decision nor from and to (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn audit_export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: QueryResult<ExportQuery>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let _slot = match state.slots.take(&state.slots.exports, "proof exports") {
        Ok(permit) => permit,
        Err(busy) => return Ok(busy.into_response()),
    };
    let q = query(q)?;
    let what = match (q.decision, q.from, q.to) {
        (Some(id), None, None) => ExportRequest::Decision(id),
        (None, Some(from), Some(to)) => ExportRequest::Range { from, to },
        _ => {
            return Err(Problem::new(
                codes::INVALID_REQUEST,
                "say what to export: ?decision=ID, or ?from=SEQ&to=SEQ",
            ));
        }
    };
    let bytes = export_bundle(&state.store, &what)
        .await
        .map_err(|e| match e {
            ExportError::NotFound(m) => Problem::new(codes::NOT_FOUND, m),
            ExportError::Invalid(m) => Problem::new(codes::INVALID_REQUEST, m),
            ExportError::Tampered(m) => Problem::new(codes::AUDIT_CHAIN_BROKEN, m),
            other => Problem::internal(other),
        })?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

// ------------------------------------------------------------------ reports

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReportParams {
    env: Option<String>,
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
    /// html and pdf: `a4` (default) or `letter`.
    paper: Option<String>,
    /// html and pdf: the summary without a row per decision (for long ranges).
    summary_only: Option<bool>,
}

/// The audit and compliance report of a range (`portcullis report`), in any of its formats.
#[utoipa::path(
    get,
    path = "/v1/reports",
    tag = "audit",
    operation_id = "report",
    description = "The audit and compliance report of a range (`portcullis report`): `format` json (default), html, pdf or oscal; `env`; `from` and `to` (default: the last 30 days); for html and pdf, `paper` (a4, letter) and `summary_only`. Role: viewer or above.",
    params(ReportParams),
    responses(
        (status = 200, description = "The report in the asked format: json and oscal as application/json, html as text/html, pdf as application/pdf", content(
            (serde_json::Value = "application/json"),
            (String = "text/html"),
            (Vec<u8> = "application/pdf"),
        )),
        (status = 409, description = "a recorded decision does not read back (problem code: audit-chain-broken)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "an unknown format or a bad bound (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no PDF renderer (problem code: unavailable)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn report(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: QueryResult<ReportParams>,
) -> ApiResult {
    use portcullis_report::{Bound, Format, ReportError, ReportQuery, parse_bound};
    caller.require(Permission::Read)?;
    let _slot = match state.slots.take(&state.slots.reports, "reports") {
        Ok(permit) => permit,
        Err(busy) => return Ok(busy.into_response()),
    };
    let q = query(q)?;
    let invalid =
        |what: &str, e: String| Problem::new(codes::INVALID_REQUEST, format!("{what}: {e}"));
    let format: Format = match q.format.as_deref() {
        None => Format::Json,
        Some(f) => f
            .parse()
            .map_err(|e: portcullis_report::ParseError| invalid("format", e.to_string()))?,
    };
    let to = match q.to.as_deref() {
        Some(t) => parse_bound(t, Bound::To).map_err(|e| invalid("to", e.to_string()))?,
        None => Utc::now(),
    };
    let from = match q.from.as_deref() {
        Some(t) => parse_bound(t, Bound::From).map_err(|e| invalid("from", e.to_string()))?,
        None => to - chrono::Duration::days(30),
    };
    let paper = match q.paper.as_deref() {
        None => portcullis_report::Paper::default(),
        Some(p) => p.parse().map_err(|e| invalid("paper", e))?,
    };
    let options =
        portcullis_report::Options::for_format(format, paper, q.summary_only.unwrap_or(false))
            .map_err(|e| invalid("summary_only", e))?;
    let env = q.env.filter(|e| !e.trim().is_empty());
    let query = ReportQuery {
        env: env.clone(),
        from,
        to,
    };
    let problem = |e: ReportError| match e {
        ReportError::Query(m) => Problem::new(codes::INVALID_REQUEST, m),
        e @ ReportError::Record { .. } => Problem::new(codes::AUDIT_CHAIN_BROKEN, e.to_string()),
        e @ ReportError::Pdf(_) => Problem::new(codes::UNAVAILABLE, e.to_string()),
        other => Problem::internal(other),
    };
    let report = portcullis_report::build(&state.store, &query)
        .await
        .map_err(problem)?;
    // Rendering (Chromium for PDF) blocks: off the async workers.
    let bytes = tokio::task::spawn_blocking(move || {
        portcullis_report::render_with(&report, format, &options, &mut |_, _| {})
    })
    .await
    .map_err(Problem::internal)?
    .map_err(problem)?;
    let name = format!(
        "portcullis-report-{}-{}-{}.{}",
        env.as_deref()
            .unwrap_or("all")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            })
            .collect::<String>(),
        from.format("%Y%m%dT%H%M%SZ"),
        to.format("%Y%m%dT%H%M%SZ"),
        format.extension()
    );
    let disposition = if format == Format::Html || format == Format::Json {
        "inline"
    } else {
        "attachment"
    };
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    if format == Format::Html {
        // The report has no script and loads nothing: say so to the browser.
        r.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    Ok(r)
}

// ------------------------------------------------------------------ tokens

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    name: String,
    #[schema(value_type = crate::schemas::RoleName)]
    role: Role,
}

#[utoipa::path(
    post,
    path = "/v1/tokens",
    tag = "tokens",
    operation_id = "create_token",
    description = "Create an API token; the secret is in this answer only. Role: admin.",
    request_body = TokenBody,
    responses(
        (status = 201, description = "`{token, id, name, role, audit_entry}`", body = serde_json::Value),
        (status = 422, description = "an empty name (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn create_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<TokenBody>,
) -> ApiResult {
    let (secret, row) = state
        .service
        .create_token(&body.name, body.role, &caller.as_actor())
        .await?;
    if let Err(e) = state.reload_tokens().await {
        tracing::error!(error = %e, "token reload failed");
    }
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"token": secret, "id": row.id, "name": row.name, "role": row.role, "audit_entry": row.seq}),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/tokens",
    tag = "tokens",
    operation_id = "list_tokens",
    description = "API tokens (never their secrets). Role: admin.",
    responses(
        (status = 200, description = "`{tokens: [TokenRow]}`", body = serde_json::Value),
    ),
    security(("bearer" = [])),
)]
async fn list_tokens(State(state): State<Arc<AppState>>, caller: Caller) -> ApiResult {
    caller.require(Permission::Admin)?;
    ok(&json!({"tokens": state.store.tokens(true).await?}))
}

#[utoipa::path(
    post,
    path = "/v1/tokens/{id}/revoke",
    tag = "tokens",
    operation_id = "revoke_token",
    description = "Revoke an API token: refused at once on every replica. Role: admin.",
    params(("id" = String, Path, description = "the token id")),
    responses(
        (status = 200, description = "`{token, audit_entry}`", body = serde_json::Value),
        (status = 404, description = "no such token (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "revoked already (problem code: conflict)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn revoke_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let seq = state.service.revoke_token(&id, &caller.as_actor()).await?;
    if let Err(e) = state.reload_tokens().await {
        tracing::error!(error = %e, "token reload failed");
    }
    ok(&json!({"token": id, "audit_entry": seq}))
}

// ------------------------------------------------------------------ watches

#[utoipa::path(
    get,
    path = "/v1/environments/{env}/watches",
    tag = "deployments",
    operation_id = "list_watches",
    description = "The watches of the hours after each deployment to `env`, newest first: the plan (artifact, version before, duration, interval, checks), the status (`running`, `passed`, `failed`, `inconclusive`) with its reason, each interval's claim and checks (when, kind, verdict, what failed: metric names, port numbers). Role: viewer or above.",
    params(("env" = String, Path, description = "the environment")),
    responses(
        (status = 200, description = "`{watches: [Watch]}`", body = serde_json::Value),
    ),
    security(("bearer" = [])),
)]
async fn list_watches(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(env): Path<String>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let watches = state.service.watches().list(Some(&env)).await?;
    ok(&json!({"watches": watches}))
}

#[utoipa::path(
    get,
    path = "/v1/watches/{id}",
    tag = "deployments",
    operation_id = "show_watch",
    description = "One watch (`wch_<deployment entry>`): its plan, status and checks. Role: viewer or above.",
    params(("id" = String, Path, description = "the watch id")),
    responses(
        (status = 200, description = "`{watch: Watch}`", body = serde_json::Value),
        (status = 404, description = "no such watch (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
async fn show_watch(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(Permission::Read)?;
    let watch = state
        .service
        .watches()
        .get(&id)
        .await?
        .ok_or_else(|| Problem::new(codes::NOT_FOUND, format!("no watch {id}")))?;
    ok(&json!({"watch": watch}))
}
