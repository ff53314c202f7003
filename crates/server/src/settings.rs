//! The server's own settings (`serve --server-config FILE`, YAML): the admission webhook's
//! namespaces and failure modes, notifications, body limit and request timeout.

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
    pub fn parse(text: &str, source: &str) -> Result<Self, SettingsError> {
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
