//! The server's own settings (`serve --server-config FILE`, YAML): the admission webhook's
//! namespaces and failure modes, notifications, body limit and request timeout.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

/// Closed: an error denies. Open: an error admits (with a warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureMode {
    #[default]
    Closed,
    Open,
}

/// Which reviews go on the audit trail (never a dry run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordMode {
    /// Every answer.
    All,
    /// Denials only (the API server's own audit log has the rest).
    #[default]
    Denied,
    None,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceConfig {
    /// The environment this namespace deploys to (default: the namespace's name).
    #[serde(default)]
    pub environment: Option<String>,
    /// Overrides whether the environment is protected.
    #[serde(default)]
    pub protected: Option<bool>,
    #[serde(default)]
    pub failure: Option<FailureMode>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionConfig {
    /// Namespace → environment, protection and failure mode.
    #[serde(default)]
    pub namespaces: BTreeMap<String, NamespaceConfig>,
    /// Environments whose namespaces are protected (when not said per namespace).
    #[serde(default = "default_protected")]
    pub protected_environments: Vec<String>,
    /// Failure mode where a namespace says none.
    #[serde(default)]
    pub failure: FailureMode,
    #[serde(default)]
    pub record: RecordMode,
    /// Accept reviews without an API token (when the webhook is reached only by the API
    /// server, over mutual TLS or a network policy).
    #[serde(default)]
    pub anonymous: bool,
}

fn default_protected() -> Vec<String> {
    vec!["prod".into(), "production".into()]
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            namespaces: BTreeMap::new(),
            protected_environments: default_protected(),
            failure: FailureMode::Closed,
            record: RecordMode::Denied,
            anonymous: false,
        }
    }
}

/// Where a namespace deploys and how strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub environment: String,
    pub protected: bool,
    pub failure: FailureMode,
}

impl AdmissionConfig {
    pub fn target(&self, namespace: &str) -> Target {
        let ns = self.namespaces.get(namespace);
        let environment = ns
            .and_then(|n| n.environment.clone())
            .unwrap_or_else(|| namespace.to_string());
        let protected = ns.and_then(|n| n.protected).unwrap_or_else(|| {
            self.protected_environments
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&environment))
        });
        Target {
            environment,
            protected,
            failure: ns.and_then(|n| n.failure).unwrap_or(self.failure),
        }
    }
}
