//! The request bodies of the API handlers, read from bytes as the handlers read them
//! ([`crate::body::parse`] into the handler's own body type) and turned into the firewall's
//! types as far as that needs no store: for the fuzz targets (`crates/fuzzing`,
//! `fuzz/fuzz_targets/api_bodies.rs`), which must reach the same code a request does.
//! Nothing here is routed.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use portcullis_evidence::Limits;
use portcullis_firewall::{
    ArtifactId, CompiledException, DecisionRequest, EvidenceDoc, Exception, RequestContext,
    UnreadableEvidence,
};
use serde::Deserialize;
use serde_json::Value;

use super::{ApprovalBody, DecisionBody, DeploymentBody, FactsBody, ReasonBody, TokenBody};
use crate::body;
use crate::problem::{Problem, codes};

/// The bodies the API accepts, by the route that takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `POST /v1/decisions`.
    Decision,
    /// `POST /v1/advisories`.
    Advisory,
    /// `POST /v1/advisories/{id}/withdraw`, `.../exceptions/{id}/revoke`, `.../approvals/{id}/revoke`.
    Reason,
    /// `POST /v1/exceptions`.
    Exceptions,
    /// `POST /v1/approvals`.
    Approval,
    /// `POST /v1/facts`.
    Facts,
    /// `POST /v1/deployments`.
    Deployment,
    /// `PUT /v1/inventory/{env}` (kubectl's pod JSON or image references, one a line).
    Inventory,
    /// `POST /v1/tokens`.
    Token,
}

impl Body {
    pub const ALL: [Body; 9] = [
        Body::Decision,
        Body::Advisory,
        Body::Reason,
        Body::Exceptions,
        Body::Approval,
        Body::Facts,
        Body::Deployment,
        Body::Inventory,
        Body::Token,
    ];
}

/// Read `bytes` as the body `which` (evidence and advisories under `limits`, as the server's
/// limits): the handler's parse and the translation that needs no store. `Ok` holds a short
/// description of what was read; an error is the problem the handler would answer.
pub fn read(which: Body, bytes: &[u8], limits: &Limits) -> Result<String, Problem> {
    match which {
        Body::Decision => {
            let b: DecisionBody = body::parse(bytes)?;
            let req = decision_request(&b, limits)?;
            Ok(format!(
                "{} evidence, {} unreadable",
                req.evidence.len(),
                req.unreadable.len()
            ))
        }
        Body::Advisory => {
            let raw: Value = body::parse(bytes)?;
            let doc = super::advisory_doc(&raw, limits)?;
            Ok(format!("{doc:?}").chars().take(64).collect())
        }
        Body::Reason => body::parse::<ReasonBody>(bytes).map(|b| b.reason),
        Body::Exceptions => {
            let value: Value = body::parse(bytes)?;
            let list = if value.get("exceptions").is_some() {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Many {
                    exceptions: Vec<Exception>,
                }
                body::parse::<Many>(bytes)?.exceptions
            } else {
                vec![body::parse::<Exception>(bytes)?]
            };
            // What the registry does first with each (`Registry::grant_exceptions`).
            let n = list.len();
            for e in list {
                CompiledException::compile(e)
                    .map_err(|e| Problem::new(codes::INVALID_REQUEST, e.to_string()))?;
            }
            Ok(format!("{n} exceptions"))
        }
        Body::Approval => {
            let b: ApprovalBody = body::parse(bytes)?;
            if let Some(t) = b.expires_at.as_deref() {
                rfc3339("expires_at", t)?;
            }
            checked_digest_and_environment(&b.artifact_digest, &b.environment)
        }
        Body::Facts => {
            let b: FactsBody = body::parse(bytes)?;
            checked_digest_and_environment(&b.artifact_digest, &b.environment)
        }
        Body::Deployment => {
            let b: DeploymentBody = body::parse(bytes)?;
            let a = b.artifact.resolve()?;
            Ok(format!("{}@{} in {}", a.name, a.digest, b.environment))
        }
        Body::Inventory => portcullis_firewall::inventory::parse_running("request body", bytes)
            .map(|set| format!("{} artifacts ({})", set.artifacts.len(), set.format))
            .map_err(|e| Problem::new(codes::INVALID_REQUEST, e.to_string())),
        Body::Token => body::parse::<TokenBody>(bytes).map(|b| b.name),
    }
}

fn rfc3339(what: &str, t: &str) -> Result<DateTime<Utc>, Problem> {
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            Problem::new(
                codes::INVALID_REQUEST,
                format!("{what} {t:?}: not an RFC 3339 time ({e})"),
            )
        })
}

/// The checks the approvals and facts registries make first (`approvals::grant`,
/// `sources::record`).
fn checked_digest_and_environment(digest: &str, environment: &str) -> Result<String, Problem> {
    let d = portcullis_firewall::sha256_digest(digest.trim())
        .ok_or_else(|| Problem::new(codes::INVALID_REQUEST, "not a digest"))?;
    portcullis_firewall::names::check(
        portcullis_firewall::names::NameKind::Environment,
        environment.trim(),
    )
    .map_err(|e| Problem::new(codes::INVALID_REQUEST, e.to_string()))?;
    Ok(d)
}

/// `build_request` of the decisions handler without the server's state: evidence referred to
/// by digest alone is unreadable here (the handler looks it up in the store), and nothing is
/// kept in the cache of parsed documents.
fn decision_request(body: &DecisionBody, limits: &Limits) -> Result<DecisionRequest, Problem> {
    let artifact = match (&body.artifact, &body.image) {
        (Some(a), _) => a.resolve()?,
        (None, Some(_)) => ArtifactId {
            name: String::new(),
            digest: String::new(),
        },
        (None, None) => {
            return Err(Problem::new(codes::INVALID_REQUEST, "no artifact or image"));
        }
    };
    if body.environment.trim().is_empty() {
        return Err(Problem::new(codes::INVALID_REQUEST, "environment is empty"));
    }
    let time = match &body.context.time {
        Some(t) => Some(rfc3339("context.time", t)?),
        None => None,
    };
    let mut req = DecisionRequest::new(artifact, body.environment.clone());
    req.what_if = body.what_if;
    req.context = RequestContext {
        pipeline: body.context.pipeline.clone(),
        stage: body.context.stage.clone(),
        requester: body.context.requester.clone(),
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
                    "unreadable with content",
                ));
            }
            req.unreadable.push(UnreadableEvidence {
                source,
                digest: item.digest.clone(),
                error: error.clone(),
            });
            continue;
        }
        let bytes = match (&item.content, &item.content_base64, &item.digest) {
            (Some(v), None, None) => v.get().as_bytes().to_vec(),
            (None, Some(b64), None) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| Problem::new(codes::INVALID_REQUEST, format!("not base64 ({e})")))?,
            (None, None, Some(d)) => {
                req.unreadable.push(UnreadableEvidence {
                    source,
                    digest: Some(d.clone()),
                    error: "not in the store".into(),
                });
                continue;
            }
            _ => return Err(Problem::new(codes::INVALID_REQUEST, "not exactly one")),
        };
        if bytes.len() as u64 > limits.max_bytes {
            continue;
        }
        match EvidenceDoc::parse(&source, &bytes, limits) {
            Ok(doc) => req.evidence.push(doc),
            Err(e) => req.unreadable.push(UnreadableEvidence {
                source,
                digest: None,
                error: e.to_string(),
            }),
        }
    }
    req.verifications = body.verifications.clone();
    req.exposures = body.exposures.clone();
    req.previous = body.previous.clone();
    req.history = body.history.clone();
    req.manifests = body.manifests.clone();
    Ok(req)
}
