//! The rollback webhook: an HTTP POST of JSON naming the environment, the artifact, its digest,
//! the digest that ran before, the reason and the failed checks. Whoever receives it decides
//! how to roll back; Portcullis only asks.

use std::time::Duration;

use portcullis_firewall::watch::WatchState;
use serde::Serialize;

use crate::config::RollbackSetting;

/// What the webhook receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackRequest {
    pub event: &'static str,
    pub watch_id: String,
    pub environment: String,
    pub artifact: String,
    pub digest: String,
    /// What ran there before: the digest to go back to (none when unknown).
    pub previous_digest: Option<String>,
    pub reason: String,
    pub failed_checks: Vec<String>,
}

impl RollbackRequest {
    pub fn new(state: &WatchState, reason: &str, failed_checks: &[String]) -> Self {
        Self {
            event: "watch-failed",
            watch_id: state.plan.id.clone(),
            environment: state.plan.environment.clone(),
            artifact: state.plan.artifact.name.clone(),
            digest: state.plan.artifact.digest.clone(),
            previous_digest: state.plan.previous.as_ref().map(|p| p.digest.clone()),
            reason: reason.to_string(),
            failed_checks: failed_checks.to_vec(),
        }
    }
}

/// POST `request` to the webhook, with retries (1 s, 2 s, …); the HTTP status of the answer
/// that was accepted, or why none was.
pub async fn call(setting: &RollbackSetting, request: &RollbackRequest) -> Result<u16, String> {
    let body = serde_json::to_value(request).map_err(|e| e.to_string())?;
    let setting = setting.clone();
    tokio::task::spawn_blocking(move || post(&setting, &body))
        .await
        .map_err(|e| format!("rollback webhook: {e}"))?
}

fn post(setting: &RollbackSetting, body: &serde_json::Value) -> Result<u16, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(setting.timeout.0))
        .http_status_as_error(false)
        // The payload goes where it is configured to, not where an answer redirects it.
        .max_redirects(0)
        .build()
        .into();
    let mut last = String::new();
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=setting.attempts.max(1) {
        match agent.post(&setting.url).send_json(body) {
            Ok(r) if r.status().is_success() => return Ok(r.status().as_u16()),
            Ok(r) => last = format!("{} answered HTTP {}", setting.url, r.status()),
            Err(e) => last = format!("{}: {e}", setting.url),
        }
        if attempt < setting.attempts {
            std::thread::sleep(delay);
            delay = delay.saturating_mul(2);
        }
    }
    Err(last)
}
