//! Flagger's webhooks: `POST /v1/integrations/flagger/{hook}` for `confirm-rollout`,
//! `pre-rollout`, `rollout` and `confirm-promotion`. Flagger POSTs
//! `{name, namespace, phase, checksum, metadata: {string: string}}` and goes on on a 2xx answer;
//! anything else halts it (its log and events show the answer's body: here a problem document
//! with the reason).
//!
//! Flagger sends no headers of its own choosing (its webhook spec has none), so the token comes
//! from `metadata.token` when there is no `Authorization` header (see
//! docs/integrations.md for the risk). The metadata names the rest:
//! `environment`, `image` (a registry reference; for `pre-rollout` and `rollout` pinned by
//! digest) or `artifact` (`NAME@sha256:HEX`), and for `rollout` the analysis `profile`.
//!
//! - `confirm-rollout`, `confirm-promotion`: a decision now, through `DecisionService::decide`
//!   as `POST /v1/decisions` asks it (with `image`, the registry's attachments are fetched);
//!   allow → 200, deny → 412, a registry failure → 502: never a 2xx without an allowing
//!   decision. Role ci or admin.
//! - `pre-rollout`: the latest recorded decision for that digest there must exist and allow.
//!   Any role.
//! - `rollout`: the profile's canary analysis of the canary's pods against the primary's,
//!   recorded as a verification fact of the digest (as the Argo Rollouts endpoint does); pass
//!   → 200, anything else → 412. Role verifier or admin.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use portcullis_firewall::record::Documents;
use portcullis_firewall::service::Ask;
use portcullis_firewall::{ArtifactId, DecisionRequest, DecisionService};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::auth::{Caller, Permission};
use crate::integrations::canary::{self, CanaryAsk};
use crate::integrations::denials::{Denial, VERDICT_INPUTS};
use crate::integrations::json_ok;
use crate::integrations::profiles::{ScopeValues, safe_value};
use crate::problem::{Problem, codes};
use crate::state::AppState;

/// The hooks answered here.
pub const HOOKS: [&str; 4] = [
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-promotion",
];

/// What Flagger POSTs to a webhook.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FlaggerPayload {
    /// The Canary's name.
    pub name: String,
    pub namespace: String,
    /// `Initialized`, `Waiting`, `Progressing`, `Promoting`, `Finalising`, `Succeeded`, `Failed`.
    pub phase: String,
    #[serde(default)]
    pub checksum: Option<String>,
    /// The webhook's `metadata` (strings): `environment`, `image` or `artifact`, `profile`
    /// (rollout), `token`.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

fn malformed(detail: String) -> Problem {
    Problem::new(codes::MALFORMED_WEBHOOK, detail)
}

fn halted(detail: String) -> Problem {
    Problem::new(codes::ROLLOUT_HALTED, detail)
}

/// The payload, or a 400 naming where it is wrong.
pub fn parse_payload(bytes: &[u8]) -> Result<FlaggerPayload, Problem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let p: FlaggerPayload = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let place = e.path().to_string();
        let inner = e.into_inner();
        malformed(format!(
            "Flagger webhook payload at {place} (line {} column {}): {inner}",
            inner.line(),
            inner.column()
        ))
    })?;
    de.end()
        .map_err(|e| malformed(format!("Flagger webhook payload: {e}")))?;
    for (field, v) in [("name", &p.name), ("namespace", &p.namespace)] {
        if !safe_value(v) {
            return Err(malformed(format!(
                "Flagger webhook payload at {field}: {v:?} is not a Kubernetes name"
            )));
        }
    }
    Ok(p)
}

/// The caller named by `metadata.token` (when there is no `Authorization` header).
fn caller(state: &AppState, p: &FlaggerPayload) -> Result<Caller, Problem> {
    let token = p.metadata.get("token").ok_or_else(|| {
        Problem::new(
            codes::UNAUTHENTICATED,
            "send the token as `Authorization: Bearer <token>` or in the webhook's metadata.token",
        )
    })?;
    let mut h = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
        .map_err(|_| Problem::new(codes::UNAUTHENTICATED, "unknown or revoked token"))?;
    h.insert(header::AUTHORIZATION, value);
    Caller::from_headers(&h, state)
}

fn meta<'a>(p: &'a FlaggerPayload, key: &str, hook: &str) -> Result<&'a str, Problem> {
    p.metadata
        .get(key)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            malformed(format!(
                "Flagger webhook payload at metadata.{key}: the {hook} hook needs it (set it in the Canary's webhook metadata)"
            ))
        })
}

/// The digest-pinned artifact the metadata names (`artifact`, else `image`).
fn pinned(p: &FlaggerPayload, hook: &str) -> Result<ArtifactId, Problem> {
    match (p.metadata.get("artifact"), p.metadata.get("image")) {
        (Some(a), _) => canary::artifact_of("metadata.artifact", a),
        (None, Some(i)) => canary::artifact_of("metadata.image", i),
        (None, None) => Err(malformed(format!(
            "Flagger webhook payload at metadata: the {hook} hook needs `image` (pinned by digest) or `artifact` (NAME@sha256:HEX)"
        ))),
    }
}

#[utoipa::path(
    post,
    path = "/v1/integrations/flagger/{hook}",
    tag = "integrations",
    operation_id = "flagger_webhook",
    description = "Flagger's webhooks (`confirm-rollout`, `pre-rollout`, `rollout`, `confirm-promotion`): a 2xx lets the canary go on, anything else halts it with the problem document's reason. The token is the `Authorization` header or, since Flagger sends no headers, `metadata.token`. `confirm-rollout` and `confirm-promotion` ask for a decision now about `metadata.image` (or `metadata.artifact`) in `metadata.environment` (role ci or admin); `pre-rollout` needs the latest recorded decision for that digest there to allow (any role); `rollout` runs the canary analysis `metadata.profile` of the canary's pods against the primary's and records it as a verification fact of the digest (role verifier or admin).",
    params(("hook" = String, Path, description = "confirm-rollout | pre-rollout | rollout | confirm-promotion")),
    request_body = FlaggerPayload,
    responses(
        (status = 200, description = "go on: `{proceed: true, hook, ...}` with the decision or the analysis", body = serde_json::Value),
        (status = 400, description = "the payload is not what Flagger sends, or metadata it needs is missing (problem code: malformed-webhook)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such hook (problem code: not-found)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "halt: the decision denies, no allowing decision is recorded, or the canary analysis did not pass (problem code: rollout-halted)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "an unknown profile, an environment the profile is not for, an image not pinned by digest (problem code: invalid-request)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Prometheus could not be asked (problem code: analysis-unavailable), or the image's registry failed (registry-*)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn flagger_webhook(
    State(state): State<Arc<AppState>>,
    Path(hook): Path<String>,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> Result<Response, Problem> {
    // Within the body limit, or 413 as a problem document (axum's own answer is plain text).
    let body = crate::body::read_bytes(req, &state).await?;
    if !HOOKS.contains(&hook.as_str()) {
        return Err(Problem::new(
            codes::NOT_FOUND,
            format!(
                "no Flagger hook {hook:?} here (answered: {})",
                HOOKS.join(", ")
            ),
        ));
    }
    let needs = match hook.as_str() {
        "confirm-rollout" | "confirm-promotion" => Permission::Decide,
        "rollout" => Permission::Record,
        _ => Permission::Read,
    };
    // A token in the header is checked before the payload is read; one in the metadata after.
    let header_caller = if headers.contains_key(header::AUTHORIZATION) {
        let c = Caller::from_headers(&headers, &state)?;
        c.require(needs)?;
        Some(c)
    } else {
        None
    };
    let p = parse_payload(&body)?;
    let caller = match header_caller {
        Some(c) => c,
        None => {
            let c = caller(&state, &p)?;
            c.require(needs)?;
            c
        }
    };
    let environment = meta(&p, "environment", &hook)?.to_string();
    match hook.as_str() {
        "confirm-rollout" | "confirm-promotion" => {
            decide(&state, &caller, &p, &hook, environment).await
        }
        "pre-rollout" => ready(&state, &caller, &p, environment).await,
        _ => analyse(&state, &caller, &p, environment).await,
    }
}

/// A decision now; allow → 200, deny → 412.
async fn decide(
    state: &AppState,
    caller: &Caller,
    p: &FlaggerPayload,
    hook: &str,
    environment: String,
) -> Result<Response, Problem> {
    DecisionService::may_ask(&caller.as_actor(), None)?;
    let (artifact, image) = match (p.metadata.get("artifact"), p.metadata.get("image")) {
        (Some(a), _) => (canary::artifact_of("metadata.artifact", a)?, None),
        (None, Some(i)) if !i.trim().is_empty() => (
            // Resolved by the service from the registry.
            ArtifactId {
                name: String::new(),
                digest: String::new(),
            },
            Some(i.trim().to_string()),
        ),
        _ => {
            return Err(malformed(format!(
                "Flagger webhook payload at metadata: the {hook} hook needs `image` (a registry reference) or `artifact` (NAME@sha256:HEX)"
            )));
        }
    };
    // The same denial, asked again with nothing changed since (see `Denials`).
    let reference = p
        .metadata
        .get("artifact")
        .or_else(|| p.metadata.get("image"))
        .map(|r| r.trim().to_string())
        .unwrap_or_default();
    let memo_key = reference.contains("@sha256:").then(|| {
        format!(
            "{hook}\u{0}{}\u{0}{}\u{0}{}\u{0}{environment}\u{0}{reference}\u{0}{}",
            p.namespace,
            p.name,
            p.checksum.as_deref().unwrap_or(""),
            caller.actor()
        )
    });
    if let Some(key) = &memo_key
        && let Some(denial) = state.flagger_denials.get(key)
        && denial.state_seq == state.service.state_seq()
        && state.store.newest_of_kinds(&VERDICT_INPUTS).await? <= denial.seq
    {
        return Err(halted(format!(
            "{} (decision {} stands: nothing that could change it has been recorded since; asked again, not decided again)",
            denial.detail, denial.decision
        )));
    }
    let state_before = state.service.state_seq();
    let mut request = DecisionRequest::new(artifact, environment);
    request.context.pipeline = Some(format!("flagger/{}/{}", p.namespace, p.name));
    request.context.stage = Some(hook.to_string());
    request.context.change_ref = p.checksum.clone();
    request.context.requester = Some(caller.actor());
    let decided = state
        .service
        .decide(Ask {
            request,
            documents: Documents::default(),
            actor: caller.as_actor(),
            override_reason: None,
            image,
        })
        .await?;
    let d = &decided.decision;
    let artifact = format!("{}@{}", d.artifact.name, d.artifact.digest);
    if decided.exit_code == 0 {
        return Ok(json_ok(&json!({
            "proceed": true,
            "hook": hook,
            "decision": {"id": d.id, "decision": d.decision.as_str(), "artifact": artifact, "environment": d.environment},
        })));
    }
    let mut reasons: Vec<String> = d
        .violations
        .iter()
        .map(|v| format!("{}: {}", v.rule, v.message))
        .collect();
    reasons.extend(d.errors.iter().cloned());
    let detail = format!(
        "decision {} denies {artifact} in {}: {}",
        d.id,
        d.environment,
        if reasons.is_empty() {
            "see the decision".to_string()
        } else {
            reasons.join("; ")
        }
    );
    if let (Some(key), Some(chain)) = (memo_key, &d.chain) {
        state.flagger_denials.put(
            key,
            Denial {
                detail: detail.clone(),
                decision: d.id.clone(),
                seq: chain.seq,
                state_seq: state_before,
                at: Instant::now(),
            },
        );
    }
    Err(halted(detail))
}

/// The latest recorded decision for the digest there must allow.
async fn ready(
    state: &AppState,
    caller: &Caller,
    p: &FlaggerPayload,
    environment: String,
) -> Result<Response, Problem> {
    caller.require(Permission::Read)?;
    let artifact = pinned(p, "pre-rollout")?;
    let rows = state
        .store
        .decisions(Some(&environment), Some(&artifact.digest), None, 1)
        .await?;
    let Some(latest) = rows.first() else {
        return Err(halted(format!(
            "no decision is recorded for {}@{} in {environment}: ask for one first (the confirm-rollout hook, or `portcullis gate`)",
            artifact.name, artifact.digest
        )));
    };
    if latest.verdict != "allow" {
        return Err(halted(format!(
            "the latest decision for {} in {environment}, {} ({}), is {}",
            latest.artifact_digest, latest.id, latest.decided_at, latest.verdict
        )));
    }
    Ok(json_ok(&json!({
        "proceed": true,
        "hook": "pre-rollout",
        "decision": {"id": latest.id, "decision": latest.verdict, "decided_at": latest.decided_at, "artifact": format!("{}@{}", latest.artifact_name, latest.artifact_digest), "environment": latest.environment},
    })))
}

/// The canary analysis against the primary, recorded; pass → 200.
async fn analyse(
    state: &AppState,
    caller: &Caller,
    p: &FlaggerPayload,
    environment: String,
) -> Result<Response, Problem> {
    caller.require(Permission::Record)?;
    let artifact = pinned(p, "rollout")?;
    let profile = meta(p, "profile", "rollout")?.to_string();
    let result = canary::analyse_and_record(
        state,
        caller,
        CanaryAsk {
            profile,
            values: ScopeValues {
                namespace: Some(p.namespace.clone()),
                name: Some(p.name.clone()),
                canary_hash: None,
                stable_hash: None,
            },
            artifact,
            environment,
            via: "flagger",
        },
    )
    .await?;
    if result.verdict == portcullis_verify::judge::Verdict::Pass {
        let mut body = result.body;
        if let Value::Object(m) = &mut body {
            m.insert("proceed".into(), Value::Bool(true));
            m.insert("hook".into(), Value::String("rollout".into()));
        }
        return Ok(json_ok(&body));
    }
    let b = &result.body;
    let text = |pointer: &str| {
        b.pointer(pointer)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .unwrap_or_default()
    };
    let list = |pointer: &str, key: Option<&str>| {
        b.pointer(pointer)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|x| match key {
                        Some(k) => x.get(k).and_then(Value::as_str),
                        None => x.as_str(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    };
    let reasons = list("/reasons", None);
    Err(halted(format!(
        "canary analysis {} of {}/{}: {} (score {}): {}; recorded as {}",
        text("/profile"),
        p.namespace,
        p.name,
        text("/verdict"),
        text("/score"),
        if reasons.is_empty() {
            "below the pass threshold".to_string()
        } else {
            reasons
        },
        list("/recorded/facts", Some("id")),
    )))
}
