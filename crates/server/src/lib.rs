//! Portcullis as a service: the decision API (`/v1/...`, OpenAPI at `/openapi.json`), the
//! Kubernetes admission webhook (`/v1/admission`), API tokens with roles, live advisories and
//! exceptions shared by every replica of one database, outgoing notifications, `/healthz`,
//! `/readyz` and `/metrics`.
//!
//! It must not hold business logic: every decision is `Firewall::decide` and every record goes
//! through `portcullis_firewall::registry` or `Firewall::record`, exactly as the CLI does.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod admission;
pub mod api;
pub mod auth;
pub mod body;
pub mod dashboard;
pub mod metrics;
pub mod notify;
pub mod problem;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use portcullis_evidence::Limits;
use portcullis_firewall::record::Documents;
use portcullis_firewall::service::{Event, Observer, ServiceError};
use portcullis_firewall::{DecisionService, Firewall, Loaded};
use portcullis_store::{Store, StoreEvent};
use serde::Deserialize;

pub use notify::NotificationConfig;
pub use portcullis_firewall::admission::AdmissionConfig;

/// The OpenAPI document of the API (checked in; a test keeps it and the router in step).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Default request body limit (bytes).
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The server's own settings (`serve --server-config FILE`, YAML).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    #[serde(default)]
    pub admission: AdmissionConfig,
    #[serde(default)]
    pub notifications: NotificationConfig,
    /// Largest request body accepted, in bytes.
    #[serde(default)]
    pub body_limit: Option<usize>,
    /// A request not answered within this many seconds gets 408 (default 60): a slow or stuck
    /// client cannot hold a connection forever.
    #[serde(default)]
    pub request_timeout_seconds: Option<u64>,
}

impl ServerSettings {
    pub fn parse(text: &str, source: &str) -> Result<Self, String> {
        let de = yaml_serde::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let place = inner
                .location()
                .map(|l| format!("{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            format!("{source}:{place}: server settings, at {path}: {inner}")
        })
    }
}

pub use portcullis_firewall::service::Live;

/// Everything a request handler needs.
pub struct AppState {
    pub store: Store,
    /// The firewall on the store: every decision and record goes through it.
    pub service: Arc<DecisionService>,
    tokens: RwLock<Arc<auth::Tokens>>,
    pub metrics: Arc<metrics::Metrics>,
    pub settings: ServerSettings,
    pub limits: Limits,
    pub notifier: Arc<notify::Notifier>,
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
                if !decision.allowed() && !overridden {
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
            Event::Reloaded { seq } => {
                self.metrics.reloads.inc();
                self.metrics
                    .chain_length
                    .set(i64::try_from(*seq).unwrap_or(i64::MAX));
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
    ) -> Result<Arc<Self>, StartError> {
        let loaded = Loaded {
            firewall: firewall.with_limits(limits),
            docs: base_docs,
            advisories: Vec::new(),
            exceptions: Vec::new(),
            files: Default::default(),
            notes: Vec::new(),
        };
        Self::from_loaded(store, loaded, settings).await
    }

    /// The firewall `loaded` (`portcullis_firewall::Setup::load`) served on `store`.
    pub async fn from_loaded(
        store: Store,
        loaded: Loaded,
        settings: ServerSettings,
    ) -> Result<Arc<Self>, StartError> {
        let limits = loaded.firewall.limits();
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
        let state = Arc::new(Self {
            store,
            service: Arc::new(service),
            tokens: RwLock::new(Arc::new(auth::Tokens::default())),
            metrics,
            settings,
            limits,
            notifier,
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

    pub async fn reload_tokens(&self) -> Result<(), StartError> {
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

/// Why the server cannot start (or reload its tokens).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
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
            if !ev.kind.starts_with("token.") {
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

/// Serve `state` on `listener` until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    tls: Option<tls::TlsFiles>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let follower = tokio::spawn(follow_changes(state.clone()));
    let expiry = tokio::spawn(notify::watch_expiring_exceptions(state.clone()));
    let app = api::router(state.clone())
        .layer(axum::Extension(dashboard::Transport { tls: tls.is_some() }));
    let stopping = state.clone();
    let shutdown = async move {
        shutdown.await;
        // /readyz answers 503 from now on, so load balancers stop sending new requests.
        stopping.shutting_down.store(true, Ordering::SeqCst);
        tracing::info!("shutting down: finishing requests in flight");
    };
    let result = match tls {
        Some(files) => tls::serve_tls(app, listener, files, shutdown).await,
        None => {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
    };
    follower.abort();
    expiry.abort();
    state.notifier.flush(Duration::from_secs(5)).await;
    result
}

/// SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
