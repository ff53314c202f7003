//! Portcullis as a service: the decision API (`/v1/...`, OpenAPI at `/openapi.json`), the
//! Kubernetes admission webhook (`/v1/admission`), API tokens with roles, live advisories and
//! exceptions shared by every replica of one database, outgoing notifications, `/healthz`,
//! `/readyz` and `/metrics`.
//!
//! It must not hold business logic: every decision is `Firewall::decide` and every record goes
//! through `portcullis_firewall::registry` or `Firewall::record`, exactly as the CLI does.

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

use chrono::Utc;
use portcullis_evidence::Limits;
use portcullis_firewall::record::{Documents, blob_kinds};
use portcullis_firewall::{Firewall, registry};
use portcullis_store::{Store, StoreEvent};
use serde::Deserialize;

pub use admission::AdmissionConfig;
pub use notify::NotificationConfig;

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

/// The firewall in force and the documents its advisories and KEV catalogue came from (what
/// each decision records). Replaced as a whole when advisories or exceptions change, so a
/// request decides and records with one consistent state.
pub struct Live {
    pub firewall: Firewall,
    pub docs: Documents,
}

/// Everything a request handler needs.
pub struct AppState {
    pub store: Store,
    /// Compiled policies and configuration, without advisories or exceptions.
    base: Firewall,
    /// The KEV catalogue's bytes, when there is one.
    base_docs: Documents,
    live: RwLock<Arc<Live>>,
    tokens: RwLock<Arc<auth::Tokens>>,
    pub metrics: metrics::Metrics,
    pub settings: ServerSettings,
    pub limits: Limits,
    pub notifier: notify::Notifier,
    ready: AtomicBool,
    shutting_down: AtomicBool,
    /// One reload at a time: a reload that read the store before a change never replaces
    /// one that read it after.
    reloading: tokio::sync::Mutex<()>,
    /// The head of the chain when the live state was last loaded: a change event at or before
    /// it is in that state already (each change is otherwise reloaded twice on the replica that
    /// made it: by its handler, and again when its own event comes back).
    loaded_seq: std::sync::atomic::AtomicU64,
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
    ) -> Result<Arc<Self>, String> {
        // Ready means ready: the first requests do not each compile the policy bundle.
        let engines = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        firewall.warm(engines).map_err(|e| e.to_string())?;
        let metrics = metrics::Metrics::new();
        let notifier = notify::Notifier::start(
            settings.notifications.clone(),
            metrics.notification_failures.clone(),
            metrics.notifications_sent.clone(),
        );
        let state = Arc::new(Self {
            store,
            live: RwLock::new(Arc::new(Live {
                firewall: firewall.fork(),
                docs: base_docs.clone(),
            })),
            base: firewall,
            base_docs,
            tokens: RwLock::new(Arc::new(auth::Tokens::default())),
            metrics,
            settings,
            limits,
            notifier,
            ready: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            reloading: tokio::sync::Mutex::new(()),
            loaded_seq: std::sync::atomic::AtomicU64::new(0),
        });
        state.reload().await?;
        state.reload_tokens().await?;
        state.ready.store(true, Ordering::SeqCst);
        Ok(state)
    }

    /// The state to decide with now.
    pub fn live(&self) -> Arc<Live> {
        match self.live.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn tokens(&self) -> Arc<auth::Tokens> {
        match self.tokens.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Rebuild the live state from the advisories and exceptions in the store.
    pub async fn reload(&self) -> Result<(), String> {
        self.reload_unless_loaded(None).await
    }

    /// Reload, unless the state loaded already includes the chain up to `seq` (checked under
    /// the reload lock, so a change is loaded once however many ways its event arrives).
    async fn reload_unless_loaded(&self, seq: Option<u64>) -> Result<(), String> {
        let _one_at_a_time = self.reloading.lock().await;
        if seq.is_some_and(|s| s <= self.loaded_seq.load(Ordering::SeqCst)) {
            return Ok(());
        }
        // Read the head first: everything up to it is in what is loaded below.
        let head = self
            .store
            .head()
            .await
            .map_err(|e| e.to_string())?
            .map_or(0, |(seq, _)| seq);
        let mut docs = self.base_docs.clone();
        let mut advisories = Vec::new();
        for (_, bytes, found) in registry::advisories_in_force(&self.store, &self.limits)
            .await
            .map_err(|e| e.to_string())?
        {
            docs.add(blob_kinds::ADVISORY, bytes);
            advisories.extend(found);
        }
        let exceptions = registry::exceptions_in_force(&self.store, Utc::now())
            .await
            .map_err(|e| e.to_string())?;
        let firewall = self
            .base
            .fork()
            .with_advisories(advisories)
            .with_exceptions(exceptions)
            .with_limits(self.limits);
        let live = Arc::new(Live { firewall, docs });
        match self.live.write() {
            Ok(mut g) => *g = live,
            Err(p) => *p.into_inner() = live,
        }
        self.metrics.reloads.inc();
        self.metrics.chain_length.set(head);
        self.loaded_seq
            .fetch_max(u64::try_from(head).unwrap_or(0), Ordering::SeqCst);
        Ok(())
    }

    pub async fn reload_tokens(&self) -> Result<(), String> {
        let tokens = Arc::new(
            auth::Tokens::load(&self.store)
                .await
                .map_err(|e| e.to_string())?,
        );
        match self.tokens.write() {
            Ok(mut g) => *g = tokens,
            Err(p) => *p.into_inner() = tokens,
        }
        Ok(())
    }

    /// After a change made through this replica (its audit entry `seq`): put it in force
    /// before answering, unless its change event got there first. A failed reload is logged.
    pub async fn reload_after(&self, what: &str, seq: Option<u64>) {
        if let Err(e) = self.reload_unless_loaded(seq).await {
            tracing::error!(error = %e, "reload after {what} failed");
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.shutting_down.load(Ordering::SeqCst)
    }
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
            Ok(h) => h.map_or(0, |(seq, _)| seq) as u64 > state.loaded_seq.load(Ordering::SeqCst),
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
                if let Err(e) = state.reload_unless_loaded(upto).await {
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
