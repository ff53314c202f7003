//! The request bodies of the API handlers, read from bytes as the handlers read them
//! ([`crate::body::parse`] into the handler's own body type) and turned into the firewall's
//! types as far as that needs no store: for the fuzz targets (`crates/fuzzing`,
//! `fuzz/fuzz_targets/api_bodies.rs`), which must reach the same code a request does.
//! Nothing here is routed.

use chrono::{DateTime, Utc};
use portcullis_evidence::Limits;
use portcullis_firewall::{CompiledException, DecisionRequest, Exception};
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
            let req = decision_request(bytes, limits)?;
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

/// The server's state as the fuzz target has it: nothing read before, nothing uploaded. Evidence
/// referred to by digest alone is unreadable, as on a server without that document.
struct NoStore;

impl super::EvidenceLookup for NoStore {
    fn kept(&self, _digest: &str, _source: &str) -> Option<crate::parsed::Parsed> {
        None
    }

    async fn uploaded(&self, _digest: &str) -> Result<Option<Vec<u8>>, Problem> {
        Ok(None)
    }

    fn keep(&self, _parsed: crate::parsed::Parsed) {}
}

/// The decisions handler's request from `bytes` ([`super::build_request`], the same function,
/// on [`NoStore`] and with no caller to name the requester).
fn decision_request(bytes: &[u8], limits: &Limits) -> Result<DecisionRequest, Problem> {
    let b: DecisionBody = body::parse(bytes)?;
    // Nothing in `NoStore` waits: the future is ready when first polled.
    futures_executor::block_on(super::build_request(&b, limits, None, &NoStore)).map(|(req, _)| req)
}

#[cfg(test)]
mod tests {
    use portcullis_firewall::{UnreadableEvidence, sha256};

    use super::*;

    const ARTIFACT: &str =
        "shop/app@sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const UPLOADED: &str =
        "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn limits() -> Limits {
        Limits {
            max_bytes: 64,
            ..Limits::default()
        }
    }

    fn detail(r: Result<DecisionRequest, Problem>) -> String {
        match r {
            Ok(req) => panic!("read: {req:?}"),
            Err(p) => format!("{}: {}", p.code, p.detail),
        }
    }

    /// The fuzz target's path records what the server records: an oversized document as
    /// unreadable with the size (never skipped), a document it does not have as the server
    /// says of a missing upload, manifests without the admission context a client claims,
    /// and the server's own refusals word for word. A copy of `build_request` drifting from
    /// the handler's fails here.
    #[test]
    fn decision_body_read_as_the_server_reads_it() {
        let big = format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[],"x":"{}"}}"#,
            "x".repeat(64)
        );
        let bytes = format!(
            r#"{{"artifact": "{ARTIFACT}", "environment": "production",
                "evidence": [{{"name": "big.json", "content": {big}}}, {{"name": "up.json", "digest": "{UPLOADED}"}}],
                "manifests": [{{"source": "deploy.yaml#1",
                                "object": {{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "p"}}}},
                                "admission": {{"operation": "CREATE", "uid": "forged"}}}}]}}"#
        );
        let req = decision_request(bytes.as_bytes(), &limits()).expect("read");
        assert!(req.evidence.is_empty(), "{:?}", req.evidence);
        assert_eq!(
            req.unreadable,
            [
                UnreadableEvidence {
                    source: "big.json".into(),
                    digest: Some(sha256(big.as_bytes())),
                    error: format!("{} bytes, more than the limit of 64", big.len()),
                },
                UnreadableEvidence {
                    source: "up.json".into(),
                    digest: Some(UPLOADED.into()),
                    error: format!(
                        "{UPLOADED}: no such document on the server (upload it with POST /v1/evidence)"
                    ),
                },
            ]
        );
        assert_eq!(req.manifests.len(), 1);
        assert_eq!(
            req.manifests.first().map(|m| m.source.as_str()),
            Some("deploy.yaml#1")
        );
        assert!(
            req.manifests.iter().all(|m| m.admission.is_none()),
            "{:?}",
            req.manifests
        );
        // No caller here to name the requester.
        assert_eq!(req.context.requester, None);
        assert_eq!(
            read(Body::Decision, bytes.as_bytes(), &limits()),
            Ok("0 evidence, 2 unreadable".to_string())
        );

        // A document within the limit is parsed.
        let small = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1}"#;
        let bytes = format!(
            r#"{{"artifact": "{ARTIFACT}", "environment": "dev", "evidence": [{{"content": {small}}}]}}"#
        );
        let req = decision_request(bytes.as_bytes(), &limits()).expect("read");
        assert_eq!(req.unreadable, []);
        assert_eq!(
            req.evidence
                .iter()
                .map(|d| (d.source.as_str(), d.digest.clone()))
                .collect::<Vec<_>>(),
            [("evidence[0]", sha256(small.as_bytes()))]
        );

        // The handler's refusals, word for word.
        let refused = [
            (
                r#"{"environment": "dev"}"#.to_string(),
                "invalid-request: give `artifact` (NAME@sha256:HEX) or `image` (a registry reference)",
            ),
            (
                format!(r#"{{"artifact": "{ARTIFACT}", "environment": " "}}"#),
                "invalid-request: environment is empty",
            ),
            (
                format!(
                    r#"{{"artifact": "{ARTIFACT}", "environment": "dev", "evidence": [{{"unreadable": "gone", "content": {{}}}}]}}"#
                ),
                "invalid-request: evidence[0]: unreadable evidence has no content",
            ),
            (
                format!(
                    r#"{{"artifact": "{ARTIFACT}", "environment": "dev", "evidence": [{{"content": {{}}, "digest": "{UPLOADED}"}}]}}"#
                ),
                "invalid-request: evidence[0]: give exactly one of content, content_base64 or digest",
            ),
        ];
        for (bytes, want) in refused {
            assert_eq!(detail(decision_request(bytes.as_bytes(), &limits())), want);
        }
        let bytes = format!(
            r#"{{"artifact": "{ARTIFACT}", "environment": "dev", "evidence": [{{"content_base64": "%%"}}]}}"#
        );
        let got = detail(decision_request(bytes.as_bytes(), &limits()));
        assert!(
            got.starts_with("invalid-request: evidence[0].content_base64: not base64 ("),
            "{got}"
        );
        let bytes = format!(
            r#"{{"artifact": "{ARTIFACT}", "environment": "dev", "context": {{"time": "yesterday"}}}}"#
        );
        let got = detail(decision_request(bytes.as_bytes(), &limits()));
        assert!(
            got.starts_with(r#"invalid-request: context.time "yesterday": not an RFC 3339 time ("#),
            "{got}"
        );
    }
}
