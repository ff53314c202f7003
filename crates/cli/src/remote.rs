//! `portcullis gate --server URL`: the gate's request, sent to a Portcullis server, which
//! decides and records it (so a pipeline cannot skip the record); the answer is rendered
//! exactly as a local decision, with the server's rules, and gives the same exit code.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use portcullis_firewall::record::Documents;
use portcullis_firewall::rules::RuleInfo;
use portcullis_firewall::{Decision, DecisionRequest};
use portcullis_server::api::DecisionResponse;
use serde_json::{Value, json};

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
fn body(req: &DecisionRequest, docs: &Documents) -> anyhow::Result<Value> {
    let mut evidence = Vec::new();
    for d in &req.evidence {
        let bytes = docs
            .get(&d.digest)
            .ok_or_else(|| anyhow!("{}: bytes not kept", d.source))?;
        evidence.push(json!({
            "name": d.source,
            "content_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
        }));
    }
    for u in &req.unreadable {
        evidence.push(json!({"name": u.source, "digest": u.digest, "unreadable": u.error}));
    }
    let time = req
        .context
        .time
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    Ok(json!({
        "artifact": format!("{}@{}", req.artifact.name, req.artifact.digest),
        "environment": req.environment,
        "context": {
            "pipeline": req.context.pipeline, "stage": req.context.stage,
            "requester": req.context.requester, "approver": req.context.approver,
            "change_ref": req.context.change_ref, "time": time,
        },
        "evidence": evidence,
        "verifications": req.verifications,
        "exposures": req.exposures,
        "previous": req.previous,
        "history": req.history,
        "manifests": req.manifests,
    }))
}

pub fn decide(
    _args: &GateArgs,
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
    let body = body(req, docs)?;
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
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .with_context(|| format!("{endpoint}: no answer"))?;
        if !status.is_success() {
            let problem: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            bail!(
                "{endpoint}: {status}: {} ({})",
                problem["detail"]
                    .as_str()
                    .unwrap_or(&String::from_utf8_lossy(&bytes)),
                problem["code"].as_str().unwrap_or("no problem code")
            );
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{endpoint}: not a decision answer"))
    })?;
    if answer.decision.artifact != req.artifact || answer.decision.environment != req.environment {
        bail!("{endpoint}: the server answered about another artifact or environment");
    }
    if answer.decision.chain.is_none() {
        bail!("{endpoint}: the decision was not recorded by the server");
    }
    Ok((
        answer.decision,
        answer.rules,
        answer.exit_code,
        url.to_string(),
    ))
}
