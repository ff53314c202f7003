//! The state every request handler shares: the store, the firewall in force (rebuilt when
//! advisories or exceptions change, on any replica), the API tokens, metrics and notifier; and
//! how a request's caller is found from its bearer token.

use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use portcullis_evidence::Limits;
use portcullis_firewall::record::Documents;
use portcullis_firewall::service::{Event, Observer, ServiceError};
use portcullis_firewall::{DecisionService, Firewall, Loaded};
use portcullis_store::{Store, StoreEvent};

use crate::auth::{self, Caller};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::problem::{Problem, codes};
use crate::settings::{ServerSettings, WorkLimits};
use crate::{metrics, notify};

pub use portcullis_firewall::service::Live;

/// Everything a request handler needs.
pub struct AppState {
    pub store: Store,
    /// The firewall on the store: every decision and record goes through it.
    pub service: Arc<DecisionService>,
    /// Judges what runs again when anything that can change a verdict changes.
    pub rejudge: Arc<portcullis_firewall::rejudge::Rejudge>,
    tokens: RwLock<Arc<auth::Tokens>>,
    pub metrics: Arc<metrics::Metrics>,
    pub settings: ServerSettings,
    pub limits: Limits,
    pub notifier: Arc<notify::Notifier>,
    /// Room for work (settings.limits): requests, reports, proof exports.
    pub slots: Slots,
    /// Denials of Flagger's confirm hooks, answered again while nothing that could change them
    /// was recorded (Flagger asks again every interval while a canary waits).
    pub flagger_denials: crate::integrations::denials::Denials,
    /// Evidence documents read before, by digest and name (`parsed`).
    pub parsed: crate::parsed::ParsedEvidence,
    ready: AtomicBool,
    shutting_down: AtomicBool,
}

/// What the server does with the firewall's events: metrics and notifications.
struct Watch {
    metrics: Arc<metrics::Metrics>,
    notifier: Arc<notify::Notifier>,
}

impl Observer for Watch {
    fn notice(&self, event: &Event) {
        match event {
            Event::Decided {
                decision,
                took,
                by,
                regated_from,
                overridden,
            } => {
                metrics::observe_decision(&self.metrics, decision, *took);
                tracing::info!(
                    decision = %decision.id,
                    verdict = decision.decision.as_str(),
                    environment = %decision.environment,
                    artifact = %format!("{}@{}", decision.artifact.name, decision.artifact.digest),
                    violations = decision.violations.len(),
                    errors = decision.errors.len(),
                    overridden = *overridden,
                    regated_from = regated_from.as_deref().unwrap_or(""),
                    by = %by,
                    millis = took.as_millis() as u64,
                    "decision"
                );
                // Re-judging what runs tells of its denials as posture transitions.
                if !decision.allowed() && !overridden && by != portcullis_firewall::rejudge::ACTOR {
                    self.notifier.send(notify::Event::Deny(decision.clone()));
                }
            }
            Event::Overridden {
                decision,
                by,
                reason,
            } => self.notifier.send(notify::Event::Override {
                decision: decision.clone(),
                by: by.clone(),
                reason: reason.clone(),
            }),
            Event::AdvisoryImpact { advisory, affected } => {
                self.notifier.send(notify::Event::AdvisoryImpact {
                    advisory: advisory.clone(),
                    affected: affected.clone(),
                })
            }
            Event::Rejudged {
                queued,
                took,
                regated,
                failed,
                ..
            } => {
                self.metrics
                    .rejudge_queue
                    .set(i64::try_from(*queued).unwrap_or(i64::MAX));
                let result = if *failed {
                    "failed"
                } else if *regated {
                    "regated"
                } else {
                    "settled"
                };
                self.metrics
                    .rejudged
                    .get_or_create(&metrics::ResultLabels {
                        result: result.into(),
                    })
                    .inc();
                self.metrics.rejudge_seconds.observe(took.as_secs_f64());
            }
            Event::PostureChanged(t) => {
                self.metrics
                    .posture_transitions
                    .get_or_create(&metrics::TransitionLabels {
                        to: t.to.as_str().into(),
                        environment: t.environment.clone().into(),
                    })
                    .inc();
                tracing::info!(
                    environment = %t.environment,
                    artifact = %format!("{}@{}", t.artifact.name, t.artifact.digest),
                    from = t.from.map_or("", |s| s.as_str()),
                    to = t.to.as_str(),
                    rules = %t.rules.join(","),
                    cause = %t.cause,
                    "posture"
                );
                if t.entered_violation() || t.left_violation() {
                    self.notifier.send(notify::Event::Posture(t.clone()));
                }
            }
            Event::Reloaded { seq } => {
                self.metrics.reloads.inc();
                self.metrics
                    .chain_length
                    .set(i64::try_from(*seq).unwrap_or(i64::MAX));
            }
            Event::Tampered { table, key, reason } => {
                self.metrics.tampered_row(table);
                tracing::error!(table = %table, key = %key, problem = %reason, "a table row disagrees with the audit chain: nothing was decided from it");
            }
        }
    }
}

impl AppState {
    /// `firewall`: compiled policies and configuration (and KEV); `base_docs` the bytes of its
    /// KEV document. Loads advisories, exceptions and tokens from the store.
    pub async fn new(
        store: Store,
        firewall: Firewall,
        base_docs: Documents,
        settings: ServerSettings,
        limits: Limits,
    ) -> Result<Arc<Self>, StateError> {
        let loaded = Loaded {
            firewall: firewall.with_limits(limits),
            docs: base_docs,
            advisories: Vec::new(),
            exceptions: Vec::new(),
            files: Default::default(),
            notes: Vec::new(),
            registry: Default::default(),
        };
        Self::from_loaded(store, loaded, settings).await
    }

    /// The firewall `loaded` (`portcullis_firewall::Setup::load`) served on `store`.
    pub async fn from_loaded(
        store: Store,
        loaded: Loaded,
        settings: ServerSettings,
    ) -> Result<Arc<Self>, StateError> {
        let limits = loaded.firewall.limits();
        settings
            .audit
            .check()
            .map_err(portcullis_store::StoreError::Invalid)?;
        if let Some(dir) = &settings.audit.witness_dir {
            store.witness_to(dir).await?;
        }
        let service =
            DecisionService::open(store.clone(), loaded, settings.admission.clone()).await?;
        // Ready means ready: the first requests do not each compile the policy bundle.
        let engines = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        service.warm(engines)?;
        let metrics = Arc::new(metrics::Metrics::new());
        let notifier = Arc::new(notify::Notifier::start(
            settings.notifications.clone(),
            metrics.notification_failures.clone(),
            metrics.notifications_sent.clone(),
        ));
        metrics.reloads.inc();
        metrics
            .chain_length
            .set(i64::try_from(service.loaded_seq()).unwrap_or(i64::MAX));
        service.observe(Arc::new(Watch {
            metrics: metrics.clone(),
            notifier: notifier.clone(),
        }));
        let slots = Slots::new(&settings.limits);
        let service = Arc::new(service);
        let rejudge =
            portcullis_firewall::rejudge::Rejudge::new(service.clone(), settings.posture.clone())?;
        let state = Arc::new(Self {
            store,
            service,
            rejudge,
            tokens: RwLock::new(Arc::new(auth::Tokens::default())),
            metrics,
            settings,
            limits,
            notifier,
            slots,
            flagger_denials: Default::default(),
            parsed: Default::default(),
            ready: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
        });
        state.reload_tokens().await?;
        state.ready.store(true, Ordering::SeqCst);
        Ok(state)
    }

    /// The state to decide with now.
    pub fn live(&self) -> Arc<Live> {
        self.service.live()
    }

    pub fn tokens(&self) -> Arc<auth::Tokens> {
        match self.tokens.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Rebuild the live state from the advisories and exceptions in the store.
    pub async fn reload(&self) -> Result<(), ServiceError> {
        self.service.reload().await
    }

    pub async fn reload_tokens(&self) -> Result<(), StateError> {
        let tokens = Arc::new(auth::Tokens::load(&self.store).await?);
        match self.tokens.write() {
            Ok(mut g) => *g = tokens,
            Err(p) => *p.into_inner() = tokens,
        }
        Ok(())
    }

    /// Put the chain up to `seq` in force (unless it is already); a failed reload is logged.
    pub async fn reload_after(&self, what: &str, seq: Option<u64>) {
        if let Err(e) = self.service.reload_unless_loaded(seq).await {
            tracing::error!(error = %e, "reload after {what} failed");
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.shutting_down.load(Ordering::SeqCst)
    }
}

/// Room for work: a permit per request in flight, report being made, proof bundle being
/// exported. A permit not to be had is a 503 with Retry-After ([`busy`]).
pub struct Slots {
    pub requests: Arc<Semaphore>,
    pub reports: Arc<Semaphore>,
    pub exports: Arc<Semaphore>,
    retry_after: u64,
}

impl Slots {
    pub fn new(limits: &WorkLimits) -> Self {
        Self {
            requests: Arc::new(Semaphore::new(limits.concurrent_requests.max(1))),
            reports: Arc::new(Semaphore::new(limits.report_jobs.max(1))),
            exports: Arc::new(Semaphore::new(limits.proof_exports.max(1))),
            retry_after: limits.retry_after_seconds.max(1),
        }
    }

    /// A permit of `which`, or the 503 answer that says to come back later.
    pub fn take(
        &self,
        which: &Arc<Semaphore>,
        what: &'static str,
    ) -> Result<OwnedSemaphorePermit, Busy> {
        which.clone().try_acquire_owned().map_err(|_| {
            tracing::warn!(limit = what, "at the limit: refused with 503");
            Busy {
                what,
                retry_after: self.retry_after,
            }
        })
    }
}

/// The server is at its limit of `what`: 503 with `Retry-After`.
#[derive(Debug, Clone, Copy)]
pub struct Busy {
    pub what: &'static str,
    pub retry_after: u64,
}

impl IntoResponse for Busy {
    fn into_response(self) -> Response {
        let mut r = Problem::new(
            codes::UNAVAILABLE,
            format!(
                "too many {} at once; retry in {} s",
                self.what, self.retry_after
            ),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&self.retry_after.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// The paths no request permit is needed for ([`limit_requests`]): never 503 busy.
pub const UNLIMITED_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Every request but the probes and /metrics takes a request permit for as long as it runs.
pub async fn limit_requests(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if UNLIMITED_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    match state.slots.take(&state.slots.requests, "requests") {
        Ok(permit) => {
            let r = next.run(req).await;
            drop(permit);
            r
        }
        Err(busy) => busy.into_response(),
    }
}

/// Why the server cannot start (or reload its tokens).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Store(#[from] portcullis_store::StoreError),
}

/// Follow the store's change events (every replica's, on PostgreSQL) and reload what they
/// touch. Runs until the process ends.
pub async fn follow_changes(state: Arc<AppState>) {
    loop {
        let mut sub = match state.store.subscribe().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot subscribe to store changes; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // Anything may have changed while we were not listening (at start-up, AppState::new
        // has just loaded everything: nothing to do unless the chain moved since).
        let moved = match state.store.head().await {
            Ok(h) => h.map_or(0, |(seq, _)| seq) as u64 > state.service.loaded_seq(),
            Err(_) => true,
        };
        if moved {
            state.reload_after("subscribing", None).await;
            if let Err(e) = state.reload_tokens().await {
                tracing::error!(error = %e, "token reload failed");
            }
        }
        loop {
            let ev = sub.next().await;
            tracing::debug!(kind = %ev.kind, seq = ev.seq, "store change");
            let everything = ev.kind == StoreEvent::RELOAD;
            let tokens = ev.kind.starts_with("token.") || everything;
            if StoreEvent::reloads(&ev.kind) || everything {
                let upto = (!everything).then_some(ev.seq);
                if let Err(e) = state.service.reload_unless_loaded(upto).await {
                    tracing::error!(error = %e, "reload after {} failed", ev.kind);
                }
            }
            if tokens && let Err(e) = state.reload_tokens().await {
                tracing::error!(error = %e, "token reload after {} failed", ev.kind);
            }
        }
    }
}

impl AppState {
    /// From now on /readyz answers 503, so load balancers stop sending new requests.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }
}

impl Caller {
    /// The caller named by the `Authorization: Bearer` header, among `state`'s tokens.
    pub fn from_headers(headers: &HeaderMap, state: &AppState) -> Result<Self, Problem> {
        Caller::from_bearer(headers, &state.tokens(), &state.settings.issuers)
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Caller::from_headers(&parts.headers, state)
    }
}
