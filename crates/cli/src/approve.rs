//! `portcullis approve`: approve one artifact digest for one environment (and change), or
//! revoke an approval. On a server (`--server`, with an approver token in PORTCULLIS_TOKEN) the
//! approver is the token; on a local store, the name the command line is told (`--by`).

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use portcullis_firewall::approvals::{self, ApprovalGrant};
use serde_json::{Value, json};

use crate::exit;
use crate::state::{StoreArgs, cli_actor, runtime};

#[derive(Args, Debug)]
pub struct ApproveArgs {
    /// The artifact approved: `NAME@sha256:HEX` or `sha256:HEX` (the digest is what is bound).
    #[arg(long, value_name = "ARTIFACT", required_unless_present = "revoke")]
    pub artifact: Option<String>,
    /// The environment it is approved for.
    #[arg(long = "env", value_name = "ENV", required_unless_present = "revoke")]
    pub environment: Option<String>,
    /// The change approved: a request must then name the same change (`--change-ref`).
    #[arg(long = "change-ref", value_name = "REF")]
    pub change_ref: Option<String>,
    /// Why it is approved (or, with --revoke, why the approval is withdrawn).
    #[arg(long)]
    pub reason: String,
    /// When the approval lapses (RFC 3339); 24 hours from now by default, at most 30 days.
    #[arg(long, value_name = "RFC3339")]
    pub expires: Option<String>,
    /// Revoke this approval (`apr_…`) instead.
    #[arg(long, value_name = "ID")]
    pub revoke: Option<String>,
    /// Who approves, on a local store (a server takes the token's identity instead).
    #[arg(long)]
    pub by: Option<String>,
    /// Approve on a Portcullis server; the approver token is read from PORTCULLIS_TOKEN.
    #[arg(long, env = "PORTCULLIS_SERVER", value_name = "URL")]
    pub server: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn digest_of(artifact: &str) -> &str {
    artifact.rsplit_once('@').map_or(artifact, |(_, d)| d)
}

pub fn run(a: &ApproveArgs) -> anyhow::Result<u8> {
    let expires_at = a
        .expires
        .as_deref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| anyhow!("--expires {t:?}: not an RFC 3339 time ({e})"))
        })
        .transpose()?;
    if let Some(url) = &a.server {
        return remote(a, url);
    }
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    let actor = cli_actor(&a.by);
    if let Some(id) = &a.revoke {
        let e = rt.block_on(approvals::revoke(&store, id, &actor, &a.reason))?;
        println!("revoked: {id} (audit entry {})", e.seq);
        return Ok(exit::OK);
    }
    let grant = ApprovalGrant {
        artifact_digest: digest_of(a.artifact.as_deref().unwrap_or_default()).to_string(),
        environment: a.environment.clone().unwrap_or_default(),
        change_ref: a.change_ref.clone(),
        reason: a.reason.clone(),
        expires_at,
    };
    let (row, entry) = rt.block_on(approvals::grant(&store, &grant, &actor))?;
    println!(
        "approved: {} {} for {}{} by {} until {} (audit entry {})",
        row.id,
        row.artifact_digest,
        row.environment,
        row.change_ref
            .as_deref()
            .map(|c| format!(", change {c}"))
            .unwrap_or_default(),
        row.approver,
        row.expires_at,
        entry.seq
    );
    Ok(exit::OK)
}

fn remote(a: &ApproveArgs, url: &str) -> anyhow::Result<u8> {
    let token = std::env::var("PORTCULLIS_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            anyhow!("--server {url}: set PORTCULLIS_TOKEN to a token with role approver")
        })?;
    let base = url.trim_end_matches('/');
    let (endpoint, body) = match &a.revoke {
        Some(id) => (
            format!("{base}/v1/approvals/{id}/revoke"),
            json!({"reason": a.reason}),
        ),
        None => (
            format!("{base}/v1/approvals"),
            json!({
                "artifact_digest": digest_of(a.artifact.as_deref().unwrap_or_default()),
                "environment": a.environment, "change_ref": a.change_ref,
                "reason": a.reason, "expires_at": a.expires,
            }),
        ),
    };
    let rt = runtime()?;
    let answer: Value = rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
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
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "{endpoint}: {status}: {}",
                v.get("detail")
                    .and_then(Value::as_str)
                    .unwrap_or("no detail")
            );
        }
        Ok(v)
    })?;
    let field = |path: &str| {
        answer
            .pointer(path)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .unwrap_or_else(|| "?".into())
    };
    match &a.revoke {
        Some(id) => println!("revoked: {id} (audit entry {})", field("/audit_entry")),
        None => println!(
            "approved: {} {} for {} by {} until {} (audit entry {})",
            field("/approval/id"),
            field("/approval/artifact_digest"),
            field("/approval/environment"),
            field("/approval/approver"),
            field("/approval/expires_at"),
            field("/audit_entry")
        ),
    }
    Ok(exit::OK)
}
