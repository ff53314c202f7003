//! Outgoing notifications: webhooks (generic JSON, or Slack-compatible `{"text": …}`) on a
//! deny, on an advisory that affects deployed artifacts, on a break-glass override, and on
//! exceptions that expire soon. Delivered in the background with retries and exponential
//! backoff; a delivery that fails every attempt is counted in /metrics and logged.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use portcullis_firewall::Decision;
use portcullis_store::{PackageInUse, Store};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

use crate::metrics::TargetLabels;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Deny,
    AdvisoryImpact,
    ExceptionExpiring,
    Override,
    /// A running artifact entered violation (or became undecided), or came back to compliant.
    Posture,
    /// A new signed checkpoint of the audit chain: a witness outside the database. Sent only
    /// to webhooks that list it in `events`.
    Checkpoint,
    /// A check failed in the hours after a deployment (docs/watch.md).
    WatchFailed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Generic,
    Slack,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Names the target in /metrics and logs (default: the URL's host).
    #[serde(default)]
    pub name: Option<String>,
    pub url: String,
    #[serde(default)]
    pub format: Format,
    /// Which events (default: all).
    #[serde(default)]
    pub events: Option<Vec<EventKind>>,
}

impl Webhook {
    fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.url
                .split("://")
                .nth(1)
                .and_then(|r| r.split('/').next())
                .unwrap_or(&self.url)
                .to_string()
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationConfig {
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    /// Notify about exceptions expiring within this many days.
    #[serde(default = "default_days")]
    pub exception_expiry_days: i64,
    /// How often to look for expiring exceptions (seconds).
    #[serde(default = "default_check")]
    pub expiry_check_seconds: u64,
    /// Attempts per delivery (the first one included).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// First retry delay (milliseconds); doubled at each retry.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    /// Per-attempt timeout (milliseconds).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_days() -> i64 {
    7
}
fn default_check() -> u64 {
    3600
}
fn default_attempts() -> u32 {
    5
}
fn default_backoff() -> u64 {
    500
}
fn default_timeout() -> u64 {
    5000
}

impl Default for NotificationConfig {
    fn default() -> Self {
        Self {
            webhooks: Vec::new(),
            exception_expiry_days: default_days(),
            expiry_check_seconds: default_check(),
            attempts: default_attempts(),
            backoff_ms: default_backoff(),
            timeout_ms: default_timeout(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    Deny(Box<Decision>),
    AdvisoryImpact {
        advisory: String,
        affected: Vec<PackageInUse>,
    },
    ExceptionExpiring {
        id: String,
        rule: String,
        key: String,
        expires_at: String,
    },
    Override {
        decision: Box<Decision>,
        by: String,
        reason: String,
    },
    Checkpoint(portcullis_store::Checkpoint),
    Posture(Box<portcullis_firewall::posture::Transition>),
    WatchFailed(Box<portcullis_watch::Ended>),
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Deny(_) => EventKind::Deny,
            Self::AdvisoryImpact { .. } => EventKind::AdvisoryImpact,
            Self::ExceptionExpiring { .. } => EventKind::ExceptionExpiring,
            Self::Override { .. } => EventKind::Override,
            Self::Checkpoint(_) => EventKind::Checkpoint,
            Self::Posture(_) => EventKind::Posture,
            Self::WatchFailed(_) => EventKind::WatchFailed,
        }
    }

    /// One line a person reads.
    pub fn text(&self) -> String {
        match self {
            Self::Deny(d) => {
                let rules: Vec<&str> = d.violations.iter().map(|v| v.rule.as_str()).collect();
                format!(
                    "Portcullis denied {}@{} in {} ({}; decision {})",
                    d.artifact.name,
                    d.artifact.digest,
                    d.environment,
                    if rules.is_empty() {
                        "errors in the evaluation".to_string()
                    } else {
                        rules.join(", ")
                    },
                    d.id
                )
            }
            Self::AdvisoryImpact { advisory, affected } => {
                let mut t = format!(
                    "Advisory {advisory} affects {} deployed artifact(s):",
                    affected.len()
                );
                for a in affected.iter().take(20) {
                    t.push_str(&format!(
                        "\n• {} {}@{} ({})",
                        a.environment, a.artifact_name, a.artifact_digest, a.purl
                    ));
                }
                t
            }
            Self::ExceptionExpiring {
                id,
                rule,
                key,
                expires_at,
            } => format!("Exception {id} ({rule} on {key}) expires at {expires_at}"),
            Self::Override {
                decision,
                by,
                reason,
            } => format!(
                "Break-glass override by {by}: {}@{} deployed to {} despite a deny (decision {}): {reason}",
                decision.artifact.name, decision.artifact.digest, decision.environment, decision.id
            ),
            Self::Checkpoint(c) => format!(
                "Audit chain checkpoint: entry {} has hash {} (signed by key {})",
                c.seq, c.hash, c.key_id
            ),
            Self::Posture(t) => {
                let what = format!(
                    "{}@{} in {}",
                    t.artifact.name, t.artifact.digest, t.environment
                );
                match t.to {
                    portcullis_firewall::posture::State::Compliant => format!(
                        "{what} is compliant again ({}; audit entry {})",
                        t.cause, t.seq
                    ),
                    portcullis_firewall::posture::State::Violation => format!(
                        "{what} is now in violation of {} ({}; decision {}; audit entry {})",
                        t.rules.join(", "),
                        t.cause,
                        t.decision_id.as_deref().unwrap_or("-"),
                        t.seq
                    ),
                    portcullis_firewall::posture::State::Undecided => format!(
                        "{what} runs without a decision that holds ({}; audit entry {})",
                        t.cause, t.seq
                    ),
                }
            }
            Self::WatchFailed(e) => format!(
                "Watch {} failed: {}@{} in {} ({}){}",
                e.state.plan.id,
                e.state.plan.artifact.name,
                e.state.plan.artifact.digest,
                e.state.plan.environment,
                e.reason,
                match &e.rollback {
                    Some(Ok(_)) => "; rollback requested",
                    Some(Err(_)) => "; the rollback webhook failed",
                    None => "",
                }
            ),
        }
    }

    fn generic(&self) -> Value {
        let detail = match self {
            Self::Deny(d) => json!({"decision": d}),
            Self::AdvisoryImpact { advisory, affected } => {
                json!({"advisory": advisory, "affected": affected})
            }
            Self::ExceptionExpiring {
                id,
                rule,
                key,
                expires_at,
            } => json!({"exception": id, "rule": rule, "key": key, "expires_at": expires_at}),
            Self::Override {
                decision,
                by,
                reason,
            } => json!({"decision": decision, "by": by, "reason": reason}),
            Self::Checkpoint(c) => json!({"checkpoint": c}),
            Self::Posture(t) => json!({"posture": t}),
            Self::WatchFailed(e) => json!({
                "watch": e.state, "reason": e.reason, "failed_checks": e.failed_checks,
                "rollback": e.rollback.as_ref().map(|r| match r {
                    Ok(status) => json!({"status": status}),
                    Err(error) => json!({"error": error}),
                }),
            }),
        };
        json!({"event": self.kind(), "text": self.text(), "detail": detail, "sent_at": Utc::now().to_rfc3339()})
    }

    pub fn payload(&self, format: Format) -> Value {
        match format {
            Format::Generic => self.generic(),
            Format::Slack => json!({"text": self.text()}),
        }
    }
}

/// Sends events to the configured webhooks in the background.
pub struct Notifier {
    tx: Option<mpsc::Sender<Event>>,
    pending: Arc<AtomicUsize>,
}

impl Notifier {
    pub fn start(
        config: NotificationConfig,
        failures: Family<TargetLabels, Counter>,
        sent: Family<TargetLabels, Counter>,
    ) -> Self {
        let pending = Arc::new(AtomicUsize::new(0));
        if config.webhooks.is_empty() {
            return Self { tx: None, pending };
        }
        let (tx, mut rx) = mpsc::channel::<Event>(4096);
        // Redirects are not followed: a receiver (or whoever answers for it) cannot send the
        // payload on to another address, inside the cluster or out.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(config.timeout_ms.max(1)))
            .build()
            .ok();
        let config = Arc::new(config);
        let limit = Arc::new(Semaphore::new(16));
        let pending2 = pending.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                let Some(client) = client.clone() else {
                    pending2.fetch_sub(1, Ordering::SeqCst);
                    continue;
                };
                for hook in config.webhooks.iter().filter(|h| match &h.events {
                    Some(evs) => evs.contains(&ev.kind()),
                    // Checkpoints go only where they are asked for (a witness).
                    None => ev.kind() != EventKind::Checkpoint,
                }) {
                    let (client, hook, ev) = (client.clone(), hook.clone(), ev.clone());
                    let (config, failures, sent) = (config.clone(), failures.clone(), sent.clone());
                    let (limit, pending) = (limit.clone(), pending2.clone());
                    pending.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        let _permit = limit.acquire().await;
                        let label = TargetLabels {
                            target: hook.label().into(),
                        };
                        if deliver(&client, &hook, &ev, &config).await {
                            sent.get_or_create(&label).inc();
                        } else {
                            failures.get_or_create(&label).inc();
                        }
                        pending.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                pending2.fetch_sub(1, Ordering::SeqCst);
            }
        });
        Self {
            tx: Some(tx),
            pending,
        }
    }

    /// Queue an event (dropped, with a log line, when the queue is full).
    pub fn send(&self, ev: Event) {
        if let Some(tx) = &self.tx {
            self.pending.fetch_add(1, Ordering::SeqCst);
            if tx.try_send(ev).is_err() {
                self.pending.fetch_sub(1, Ordering::SeqCst);
                tracing::error!("notification queue full: event dropped");
            }
        }
    }

    /// Wait (at most `timeout`) for queued deliveries to finish.
    pub async fn flush(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.pending.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn deliver(
    client: &reqwest::Client,
    hook: &Webhook,
    ev: &Event,
    config: &NotificationConfig,
) -> bool {
    let payload = ev.payload(hook.format);
    let mut delay = Duration::from_millis(config.backoff_ms);
    for attempt in 1..=config.attempts.max(1) {
        match client.post(&hook.url).json(&payload).send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) => {
                tracing::warn!(target_name = %hook.label(), status = %r.status(), attempt, "notification refused")
            }
            Err(e) => {
                tracing::warn!(target_name = %hook.label(), error = %e, attempt, "notification failed")
            }
        }
        if attempt < config.attempts {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(Duration::from_secs(60));
        }
    }
    tracing::error!(target_name = %hook.label(), event = ?ev.kind(), "notification not delivered after {} attempts", config.attempts);
    false
}

/// Look for exceptions expiring within the configured days, and `notify` once per exception.
pub async fn watch_expiring_exceptions(
    store: Store,
    cfg: NotificationConfig,
    notify: impl Fn(Event) + Send + 'static,
) {
    if cfg.webhooks.is_empty() {
        return;
    }
    let mut told: HashSet<String> = HashSet::new();
    loop {
        match store.exceptions(false).await {
            Ok(rows) => {
                let now = Utc::now();
                for r in rows {
                    if r.expiry_seq.is_some() || told.contains(&r.id) {
                        continue;
                    }
                    let Ok(at) = DateTime::parse_from_rfc3339(&r.expires_at) else {
                        continue;
                    };
                    let left = at.with_timezone(&Utc) - now;
                    if left <= chrono::Duration::days(cfg.exception_expiry_days)
                        && left > chrono::Duration::zero()
                    {
                        let e: Value = serde_json::from_str(&r.body).unwrap_or_default();
                        let field = |k: &str| {
                            e.get(k)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string()
                        };
                        notify(Event::ExceptionExpiring {
                            id: r.id.clone(),
                            rule: field("rule"),
                            key: field("key"),
                            expires_at: r.expires_at.clone(),
                        });
                        told.insert(r.id);
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot list exceptions for expiry notifications")
            }
        }
        tokio::time::sleep(Duration::from_secs(cfg.expiry_check_seconds.max(1))).await;
    }
}

/// Send each new signed checkpoint of the audit chain to the webhooks that witness it (those
/// listing `checkpoint` in `events`), checking every `expiry_check_seconds`.
pub async fn watch_checkpoints(
    store: Store,
    cfg: NotificationConfig,
    notify: impl Fn(Event) + Send + 'static,
) {
    let wanted = cfg.webhooks.iter().any(|h| {
        h.events
            .as_ref()
            .is_some_and(|e| e.contains(&EventKind::Checkpoint))
    });
    if !wanted {
        return;
    }
    let mut last: u64 = 0;
    loop {
        match store.latest_checkpoint().await {
            Ok(Some(c)) if c.seq > last => {
                last = c.seq;
                notify(Event::Checkpoint(c));
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot read the latest checkpoint to witness"),
        }
        tokio::time::sleep(Duration::from_secs(cfg.expiry_check_seconds.max(1))).await;
    }
}
