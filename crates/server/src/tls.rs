//! HTTPS (rustls): the certificate and key are read from PEM files and read again when the
//! files change (cert-manager and kubelet rotate them in place), so a renewed certificate is
//! served without a restart; with a client CA bundle, clients must present a certificate it
//! signed (mutual TLS). A reload that fails keeps the last good configuration and says why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// Where the TLS material is.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// CA bundle for client certificates: set, clients must present one (mTLS).
    pub client_ca: Option<PathBuf>,
}

/// How often the files are checked for changes.
pub const RELOAD_CHECK: Duration = Duration::from_secs(2);

impl TlsFiles {
    fn paths(&self) -> Vec<&Path> {
        let mut v = vec![self.cert.as_path(), self.key.as_path()];
        if let Some(ca) = &self.client_ca {
            v.push(ca);
        }
        v
    }

    fn stamp(&self) -> Vec<Option<(SystemTime, u64)>> {
        self.paths()
            .iter()
            .map(|p| {
                std::fs::metadata(p)
                    .ok()
                    .and_then(|m| Some((m.modified().ok()?, m.len())))
            })
            .collect()
    }

    /// A rustls configuration from the files (errors name the file).
    pub fn load(&self) -> Result<ServerConfig, TlsError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|e| TlsError::file(&self.cert, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError::file(&self.cert, e))?;
        if certs.is_empty() {
            return Err(TlsError::NoCertificate(self.cert.clone()));
        }
        let key =
            PrivateKeyDer::from_pem_file(&self.key).map_err(|e| TlsError::file(&self.key, e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rustls)?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(ca).map_err(|e| TlsError::file(ca, e))? {
                    let c = c.map_err(|e| TlsError::file(ca, e))?;
                    roots.add(c).map_err(|e| TlsError::file(ca, e))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| TlsError::file(ca, e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Pair {
                cert: self.cert.clone(),
                key: self.key.clone(),
                error: e,
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Why the certificate, key or client CA could not be loaded (each names its file).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {error}")]
    File { path: PathBuf, error: String },
    #[error("{0}: no PEM certificate")]
    NoCertificate(PathBuf),
    #[error("{cert} / {key}: {error}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        error: rustls::Error,
    },
    #[error("TLS: {0}")]
    Rustls(rustls::Error),
}

impl TlsError {
    fn file(path: &Path, error: impl std::fmt::Display) -> Self {
        Self::File {
            path: path.to_path_buf(),
            error: error.to_string(),
        }
    }
}

/// Serve `app` over TLS on `listener` until `shutdown`; in-flight requests finish first (at
/// most 30 s).
pub async fn serve_tls(
    app: Router,
    listener: tokio::net::TcpListener,
    files: TlsFiles,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let first = files
        .load()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let current = Arc::new(RwLock::new(Arc::new(first)));
    let reloader = {
        let current = current.clone();
        let files = files.clone();
        tokio::spawn(async move {
            let mut seen = files.stamp();
            loop {
                tokio::time::sleep(RELOAD_CHECK).await;
                let now = files.stamp();
                if now == seen {
                    continue;
                }
                seen = now;
                match files.load() {
                    Ok(c) => {
                        if let Ok(mut g) = current.write() {
                            *g = Arc::new(c);
                        }
                        tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "TLS reload failed; serving the previous certificate")
                    }
                }
            }
        })
    };
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let config = match current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let service = TowerToHyperService::new(app);
            let conn = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .http1_only()
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .into_owned();
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    reloader.abort();
    tracing::info!("shutting down: finishing requests in flight");
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after 30 s: closing them");
    }
    Ok(())
}
