//! What can go wrong, typed. Every message names the file (or URL), the format and the place.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The analysis configuration is unreadable or invalid.
    #[error("{path}: {format}: {message}")]
    Config {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    /// A series or log file could not be read or parsed.
    #[error("{path}: {format}: {message}")]
    Input {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    /// A metrics provider (Prometheus) did not answer or answered nonsense.
    #[error("{provider}: {message}")]
    Provider { provider: String, message: String },
}

impl VerifyError {
    pub fn config(
        path: impl Into<PathBuf>,
        format: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::Config {
            path: path.into(),
            format,
            message: message.into(),
        }
    }

    pub fn input(
        path: impl Into<PathBuf>,
        format: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::Input {
            path: path.into(),
            format,
            message: message.into(),
        }
    }

    pub fn provider(provider: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Provider {
            provider: provider.into(),
            message: message.into(),
        }
    }
}
