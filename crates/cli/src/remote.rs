//! `portcullis gate --server URL`: the gate's request, sent to a Portcullis server, which
//! decides and records it (so a pipeline cannot skip the record); the answer is rendered
//! exactly as a local decision, with the server's rules, and gives the same exit code.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use portcullis_firewall::record::Documents;
use portcullis_firewall::rules::RuleInfo;
use portcullis_firewall::{Decision, DecisionRequest};
use portcullis_server::api::{
    ArtifactRef, ContextBody, DecisionBody, DecisionResponse, EvidenceItem,
};
use serde_json::Value;

use crate::GateArgs;

/// What only a local gate reads: the server uses its own.
pub fn check_args(args: &GateArgs, url: &str) -> anyhow::Result<()> {
    let local_only = [
        (
            !args.advisories.is_empty(),
            "--advisories",
            "add them to the server (portcullis advisory add, or POST /v1/advisories)",
        ),
        (
            args.kev.is_some(),
            "--kev",
            "give it to the server (portcullis serve --kev)",
        ),
        (
            args.exceptions.is_some(),
            "--exceptions",
            "grant them on the server (POST /v1/exceptions)",
        ),
        (
            !args.policies.policy.is_empty(),
            "--policy",
            "the server's policies decide",
        ),
        (
            args.policies.config.is_some(),
            "--config",
            "the server's configuration decides",
        ),
        (
            !args.gatekeeper.is_empty(),
            "--gatekeeper",
            "the server's constraints decide (portcullis serve --gatekeeper)",
        ),
        (
            args.trusted_keys.is_some(),
            "--trusted-keys",
            "the server verifies attestations with its own keys (portcullis serve --trusted-keys)",
        ),
        (
            args.registry.registry_config.is_some()
                || !args.registry.registry_ca.is_empty()
                || !args.registry.insecure_registry.is_empty()
                || args.registry.registry_timeout.is_some(),
            "--registry-config, --registry-ca, --insecure-registry and --registry-timeout",
            "the server fetches --image with its own registry settings (portcullis serve --registry-*)",
        ),
        (
            args.trusted_root.is_some(),
            "--trusted-root",
            "the server verifies Sigstore bundles with its own trust root (portcullis serve --trusted-root)",
        ),
        (
            args.emit_input.is_some(),
            "--emit-input",
            "the server builds the policy input; a local gate (without --server) writes it",
        ),
    ];
    for (given, flag, instead) in local_only {
        if given {
            bail!("{flag} cannot be used with --server {url}: {instead}");
        }
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("--server {url:?}: expected an http:// or https:// URL");
    }
    Ok(())
}

/// The API body for `req` (evidence as its exact bytes; unreadable files as such, so that the
/// server records them and fails closed as a local gate would).
fn body(
    req: &DecisionRequest,
    docs: &Documents,
    image: Option<&str>,
) -> anyhow::Result<DecisionBody> {
    let mut evidence = Vec::new();
    for d in &req.evidence {
        let bytes = docs
            .get(&d.digest)
            .ok_or_else(|| anyhow!("{}: bytes not kept", d.source))?;
        evidence.push(EvidenceItem {
            name: Some(d.source.clone()),
            content_base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ..Default::default()
        });
    }
    for u in &req.unreadable {
        evidence.push(EvidenceItem {
            name: Some(u.source.clone()),
            digest: u.digest.clone(),
            unreadable: Some(u.error.clone()),
            ..Default::default()
        });
    }
    let c = &req.context;
    Ok(DecisionBody {
        artifact: (!req.artifact.digest.is_empty())
            .then(|| ArtifactRef::Text(format!("{}@{}", req.artifact.name, req.artifact.digest))),
        image: image.map(str::to_string),
        environment: req.environment.clone(),
        context: ContextBody {
            pipeline: c.pipeline.clone(),
            stage: c.stage.clone(),
            requester: c.requester.clone(),
            approver: c.approver.clone(),
            change_ref: c.change_ref.clone(),
            time: c
                .time
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        },
        evidence,
        verifications: req.verifications.clone(),
        exposures: req.exposures.clone(),
        previous: req.previous.clone(),
        history: req.history.clone(),
        manifests: req.manifests.clone(),
        override_: None,
        what_if: req.what_if,
    })
}

pub fn decide(
    args: &GateArgs,
    url: &str,
    req: &DecisionRequest,
    docs: &Documents,
) -> anyhow::Result<(Decision, Vec<RuleInfo>, u8, String)> {
    let token = std::env::var("PORTCULLIS_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            anyhow!("--server {url}: set PORTCULLIS_TOKEN to an API token with role ci")
        })?;
    let body = body(req, docs, args.image.as_deref())?;
    let endpoint = format!("{}/v1/decisions", url.trim_end_matches('/'));
    let rt = crate::state::runtime()?;
    let answer: DecisionResponse = rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .context("HTTP client")?;
        let resp = client
            .post(&endpoint)
            .bearer_auth(token.trim())
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot reach {endpoint}"))?;
        answer(resp, &endpoint, "a decision answer").await
    })?;
    // With --image and no --artifact the server names the artifact (the digest it resolved);
    // the decision must still say which reference it was asked about.
    let artifact_ok = if req.artifact.digest.is_empty() {
        answer
            .decision
            .image
            .as_ref()
            .is_some_and(|p| Some(p.reference.as_str()) == args.image.as_deref().map(str::trim))
            && answer.decision.artifact.digest.starts_with("sha256:")
    } else {
        answer.decision.artifact == req.artifact
    };
    if !artifact_ok || answer.decision.environment != req.environment {
        bail!("{endpoint}: the server answered about another artifact or environment");
    }
    if req.what_if && !answer.decision.what_if {
        bail!("{endpoint}: asked for a what-if evaluation, the server answered with a decision");
    }
    if answer.decision.chain.is_none() && !req.what_if {
        bail!("{endpoint}: the decision was not recorded by the server");
    }
    Ok((
        answer.decision,
        answer.rules,
        answer.exit_code,
        url.to_string(),
    ))
}

/// A Portcullis server's answer: its JSON (`what` it should be, for the error) on success, else
/// an error naming the endpoint, the status, and the problem document's detail and code.
pub async fn answer<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    endpoint: &str,
    what: &str,
) -> anyhow::Result<T> {
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .with_context(|| format!("{endpoint}: no answer"))?;
    if !status.is_success() {
        let problem: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        bail!(
            "{endpoint}: {status}: {} ({})",
            problem
                .get("detail")
                .and_then(Value::as_str)
                .unwrap_or(&String::from_utf8_lossy(&bytes)),
            problem
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("no problem code")
        );
    }
    serde_json::from_slice(&bytes).with_context(|| format!("{endpoint}: not {what}"))
}
