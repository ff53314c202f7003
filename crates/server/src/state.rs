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
use chrono::Utc;
use portcullis_evidence::Limits;
use portcullis_firewall::record::{Documents, blob_kinds};
use portcullis_firewall::{Firewall, registry};
use portcullis_store::{Store, StoreEvent};

use crate::auth::{self, Caller};
use crate::problem::Problem;
use crate::settings::ServerSettings;
use crate::{metrics, notify};

/// Why the state could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the policies could not be compiled: {0}")]
    Warm(portcullis_firewall::FirewallError),
    #[error(transparent)]
    Store(#[from] portcullis_store::StoreError),
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
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
    ) -> Result<Arc<Self>, StateError> {
        // Ready means ready: the first requests do not each compile the policy bundle.
        let engines = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        firewall.warm(engines).map_err(StateError::Warm)?;
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
    pub async fn reload(&self) -> Result<(), StateError> {
        self.reload_unless_loaded(None).await
    }

    /// Reload, unless the state loaded already includes the chain up to `seq` (checked under
    /// the reload lock, so a change is loaded once however many ways its event arrives).
    async fn reload_unless_loaded(&self, seq: Option<u64>) -> Result<(), StateError> {
        let _one_at_a_time = self.reloading.lock().await;
        if seq.is_some_and(|s| s <= self.loaded_seq.load(Ordering::SeqCst)) {
            return Ok(());
        }
        // Read the head first: everything up to it is in what is loaded below.
        let head = self.store.head().await?.map_or(0, |(seq, _)| seq);
        let mut docs = self.base_docs.clone();
        let mut advisories = Vec::new();
        for (_, bytes, found) in registry::advisories_in_force(&self.store, &self.limits).await? {
            docs.add(blob_kinds::ADVISORY, bytes);
            advisories.extend(found);
        }
        let exceptions = registry::exceptions_in_force(&self.store, Utc::now()).await?;
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

    pub async fn reload_tokens(&self) -> Result<(), StateError> {
        let tokens = Arc::new(auth::Tokens::load(&self.store).await?);
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

impl AppState {
    /// From now on /readyz answers 503, so load balancers stop sending new requests.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }
}

impl Caller {
    /// The caller named by the `Authorization: Bearer` header, among `state`'s tokens.
    pub fn from_headers(headers: &HeaderMap, state: &AppState) -> Result<Self, Problem> {
        Caller::from_bearer(headers, &state.tokens())
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
