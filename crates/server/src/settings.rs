//! The server's own settings (`serve --server-config FILE`, YAML): the admission webhook's
//! namespaces and failure modes, notifications, body limit, request timeout, how much work
//! runs at once, and the canary analysis profiles of progressive delivery (`integrations:`).

use serde::Deserialize;

use crate::notify::NotificationConfig;

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
    /// How the audit chain is verified and witnessed.
    #[serde(default)]
    pub audit: AuditSettings,
    /// How much work runs at once; beyond it the server answers 503 with Retry-After.
    #[serde(default)]
    pub limits: WorkLimits,
    /// How what runs is judged again when advisories, exceptions, policies or evidence change.
    #[serde(default)]
    pub posture: portcullis_firewall::rejudge::RejudgeSettings,
    /// The hours after a deployment: what to watch, how long, how often (docs/watch.md).
    #[serde(default)]
    pub watch: Vec<portcullis_watch::WatchSetting>,
    /// Progressive delivery: the canary analysis profiles Argo Rollouts and Flagger name
    /// (docs/integrations.md).
    #[serde(default)]
    pub integrations: crate::integrations::profiles::IntegrationSettings,
    /// `integrations.profiles`, with the analyses they name read (by [`ServerSettings::parse`]).
    #[serde(skip)]
    pub profiles: crate::integrations::profiles::Profiles,
    /// `watch`, with the files it names read (by [`ServerSettings::parse`]).
    #[serde(skip)]
    pub watches: portcullis_watch::Watches,
    /// OIDC issuers whose ID tokens are accepted in place of API tokens (docs/integrations.md).
    #[serde(default)]
    pub oidc: Vec<crate::oidc::IssuerSetting>,
    /// `oidc`, checked and with the keys read (by [`ServerSettings::parse`]).
    #[serde(skip)]
    pub issuers: std::sync::Arc<crate::oidc::Issuers>,
}

/// `audit:` — the checkpoint key pinned for verification, and where checkpoints are witnessed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// The ed25519 public key (64 hex digits) every checkpoint must be signed by: `/v1/audit/
    /// verify` and the dashboard refuse checkpoints signed by any other key.
    #[serde(default)]
    pub trusted_key: Option<String>,
    /// A directory the server writes each new signed checkpoint to (keep it on other storage
    /// than the database, or sync it away); verification checks the chain against it.
    #[serde(default)]
    pub witness_dir: Option<std::path::PathBuf>,
}

impl AuditSettings {
    /// The verification options these settings give: the pinned key and the witnessed
    /// checkpoints (read now).
    pub fn verify_options(&self) -> Result<portcullis_store::VerifyOptions, String> {
        let witnessed = match &self.witness_dir {
            Some(dir) if dir.exists() => portcullis_store::witness::read_dir(dir)
                .map_err(|e| format!("audit.witness_dir {e}"))?,
            _ => Vec::new(),
        };
        Ok(portcullis_store::VerifyOptions {
            trusted_key: self
                .trusted_key
                .as_ref()
                .map(|k| k.trim().to_ascii_lowercase()),
            witnessed,
            ..Default::default()
        })
    }

    /// Whether the pinned key is 64 hex digits.
    pub fn check(&self) -> Result<(), String> {
        match &self.trusted_key {
            Some(k) if k.trim().len() != 64 || !k.trim().bytes().all(|b| b.is_ascii_hexdigit()) => {
                Err("audit.trusted_key: expected an ed25519 public key as 64 hex digits".into())
            }
            _ => Ok(()),
        }
    }
}

/// How much work the server takes on at once (each beyond its limit is refused with 503 and
/// `Retry-After`, not queued: a queue is memory too).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkLimits {
    /// Requests in flight (every route but /healthz, /readyz and /metrics).
    #[serde(default = "default_requests")]
    pub concurrent_requests: usize,
    /// Reports being made (`GET /v1/reports`; a PDF runs a browser).
    #[serde(default = "default_reports")]
    pub report_jobs: usize,
    /// Proof bundles being exported (`GET /v1/audit/export`).
    #[serde(default = "default_exports")]
    pub proof_exports: usize,
    /// Seconds a refused client is told to wait (`Retry-After`).
    #[serde(default = "default_retry_after")]
    pub retry_after_seconds: u64,
}

/// Default requests in flight: each may hold a body of `body_limit` bytes (16 MiB), a few
/// times over while it is read: 64 × 16 MiB bounds that to about 1 GiB, even at the limit.
pub const DEFAULT_CONCURRENT_REQUESTS: usize = 64;
pub const DEFAULT_REPORT_JOBS: usize = 2;
pub const DEFAULT_PROOF_EXPORTS: usize = 2;

fn default_requests() -> usize {
    DEFAULT_CONCURRENT_REQUESTS
}
fn default_reports() -> usize {
    DEFAULT_REPORT_JOBS
}
fn default_exports() -> usize {
    DEFAULT_PROOF_EXPORTS
}
fn default_retry_after() -> u64 {
    1
}

impl Default for WorkLimits {
    fn default() -> Self {
        Self {
            concurrent_requests: DEFAULT_CONCURRENT_REQUESTS,
            report_jobs: DEFAULT_REPORT_JOBS,
            proof_exports: DEFAULT_PROOF_EXPORTS,
            retry_after_seconds: default_retry_after(),
        }
    }
}

/// Server settings that do not read: the file, the line:column, the field, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{place}: server settings, at {path}: {message}")]
pub struct SettingsError {
    /// The settings file.
    pub file: String,
    pub place: String,
    pub path: String,
    pub message: String,
}

impl ServerSettings {
    /// Read the settings in `text` (the content of the file `source`) and the files its
    /// `watch:` items name (relative to `source`).
    pub fn parse(text: &str, source: &str) -> Result<Self, SettingsError> {
        let mut settings = Self::parse_only(text, source)?;
        settings.watches =
            portcullis_watch::Watches::load(&settings.watch, std::path::Path::new(source))
                .map_err(|e| SettingsError {
                    file: e.file,
                    // The line of `watch:`; the path names the item and the field.
                    place: text
                        .lines()
                        .position(|l| l.starts_with("watch:"))
                        .map(|i| format!("{}:1", i + 1))
                        .unwrap_or_default(),
                    path: e.place,
                    message: e.message,
                })?;
        let base = std::path::Path::new(source)
            .parent()
            .unwrap_or(std::path::Path::new("."));
        settings.issuers = std::sync::Arc::new(
            crate::oidc::Issuers::load(&settings.oidc, base, source).map_err(|e| {
                SettingsError {
                    place: text
                        .lines()
                        .position(|l| l.starts_with("oidc:"))
                        .map(|i| format!("{}:1", i + 1))
                        .unwrap_or_default(),
                    file: e.file,
                    path: e.place,
                    message: e.message,
                }
            })?,
        );
        settings.profiles = crate::integrations::profiles::Profiles::load(
            &settings.integrations,
            std::path::Path::new(source),
        )
        .map_err(|e| SettingsError {
            file: source.to_string(),
            place: text
                .lines()
                .position(|l| l.starts_with("integrations:"))
                .map(|i| format!("{}:1", i + 1))
                .unwrap_or_default(),
            path: e.place,
            message: e.message,
        })?;
        Ok(settings)
    }

    fn parse_only(text: &str, source: &str) -> Result<Self, SettingsError> {
        let de = yaml_serde::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let place = inner
                .location()
                .map(|l| format!("{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            SettingsError {
                file: source.to_string(),
                place,
                path,
                message: inner.to_string(),
            }
        })
    }
}

// ------------------------------------------------------------------ admission webhook

/// The admission settings are the firewall's (it judges admission reviews).
pub use portcullis_firewall::admission::{
    AdmissionConfig, FailureMode, NamespaceConfig, RecordMode, Target,
};
