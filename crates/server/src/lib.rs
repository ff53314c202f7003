//! Portcullis as a service: the decision API (`/v1/...`, OpenAPI at `/openapi.json`), the
//! Kubernetes admission webhook (`/v1/admission`), API tokens with roles, live advisories and
//! exceptions shared by every replica of one database, outgoing notifications, `/healthz`,
//! `/readyz` and `/metrics`.
//!
//! It must not hold business logic or write audit entries: every decision and every record
//! goes through the firewall's decision service (`portcullis_firewall::DecisionService`), as
//! the CLI's do; the server reads requests, checks tokens, and renders answers.

pub mod admission;
pub mod api;
pub mod auth;
pub mod body;
pub mod dashboard;
pub mod integrations;
pub mod log;
pub mod metrics;
pub mod notify;
pub mod oidc;
pub mod parsed;
pub mod problem;
pub mod routes;
pub mod schemas;
pub mod settings;
pub mod state;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use admission::AdmissionConfig;
pub use notify::NotificationConfig;
pub use settings::{DEFAULT_BODY_LIMIT, ServerSettings};
pub use state::{AppState, Live, follow_changes};

/// Serve `state` on `listener` until `shutdown` resolves; in-flight requests finish first.
/// Refuses anonymous admission (`admission.anonymous`) unless clients must present a
/// certificate (mutual TLS): otherwise anyone who reaches the port could ask for admission.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    tls: Option<tls::TlsFiles>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mutual_tls = tls.as_ref().is_some_and(|t| t.client_ca.is_some());
    if state.settings.admission.anonymous && !mutual_tls {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "server settings: admission.anonymous is allowed only with mutual TLS \
             (--tls-cert, --tls-key and --tls-client-ca); otherwise the API server must send a token",
        ));
    }
    let follower = tokio::spawn(follow_changes(state.clone()));
    let notifying = state.clone();
    let expiry = tokio::spawn(notify::watch_expiring_exceptions(
        state.store.clone(),
        state.settings.notifications.clone(),
        move |ev| notifying.notifier.send(ev),
    ));
    let rejudging = tokio::spawn(state.rejudge.clone().run());
    let witnessing = state.clone();
    let checkpoints = tokio::spawn(notify::watch_checkpoints(
        state.store.clone(),
        state.settings.notifications.clone(),
        move |ev| witnessing.notifier.send(ev),
    ));
    let watching = state.clone();
    let watch = tokio::spawn(
        portcullis_watch::Runner::new(
            state.service.clone(),
            state.settings.watches.clone(),
            &format!(
                "watch@{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "server".into())
            ),
            Arc::new(move |ended: &portcullis_watch::Ended| {
                if ended.status == portcullis_firewall::watch::Status::Failed {
                    watching
                        .notifier
                        .send(notify::Event::WatchFailed(Box::new(ended.clone())));
                }
            }),
        )
        .run(),
    );
    let app = routes::router(state.clone())
        .layer(axum::Extension(dashboard::Transport { tls: tls.is_some() }));
    let stopping = state.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.begin_shutdown();
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
    rejudging.abort();
    checkpoints.abort();
    watch.abort();
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
