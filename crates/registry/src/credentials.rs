//! Registry credentials as Docker and its peers keep them: a `config.json` with `auths`
//! (`auth` = base64 of `user:password`, or `username`/`password`, or an `identitytoken`), and
//! credential helpers (`credsStore`, `credHelpers`) run as `docker-credential-<name> get`.
//!
//! Written here rather than taken from the `docker_credential` crate because that crate reads
//! only the default location, and `--registry-config FILE` must name any file; the format is
//! small and documented (docker/cli `configfile`, docker-credential-helpers' protocol).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use crate::ErrorKind;

/// How long a credential helper may take before it is killed.
const HELPER_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest `config.json` read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// What to present to one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Anonymous,
    Basic {
        username: String,
        password: String,
    },
    /// An identity token (OAuth2 refresh token) or a registry token used as a bearer token.
    Token(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Anonymous => write!(f, "Anonymous"),
            Self::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Self::Token(_) => write!(f, "Token(***)"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
    #[serde(default, rename = "registrytoken")]
    registry_token: Option<String>,
}

/// Credentials read from one Docker `config.json` (or none).
#[derive(Debug, Default)]
pub struct Credentials {
    /// The file they came from (for messages).
    pub path: Option<PathBuf>,
    file: ConfigFile,
}

/// The `config.json` Docker would read: `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`.
pub fn default_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".docker/config.json"))
}

impl Credentials {
    /// Read `explicit` (which must exist), else the default location when it exists.
    pub fn load(explicit: Option<&Path>) -> Result<Self, (ErrorKind, String)> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match default_config_path().filter(|p| p.is_file()) {
                Some(p) => p,
                None => return Ok(Self::default()),
            },
        };
        let meta = std::fs::metadata(&path)
            .map_err(|e| (ErrorKind::Config, format!("{}: {e}", path.display())))?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err((
                ErrorKind::Config,
                format!(
                    "{}: Docker config.json is {} bytes, more than the {MAX_CONFIG_BYTES} read",
                    path.display(),
                    meta.len()
                ),
            ));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| (ErrorKind::Config, format!("{}: {e}", path.display())))?;
        let file: ConfigFile = serde_json::from_slice(&bytes).map_err(|e| {
            (
                ErrorKind::Config,
                format!(
                    "{}: Docker config.json: at line {} column {}: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                ),
            )
        })?;
        Ok(Self {
            path: Some(path),
            file,
        })
    }

    /// The credential for `registry` (`host[:port]`): a credential helper named for it, else
    /// an `auths` entry, else the default store, else anonymous.
    pub async fn for_registry(&self, registry: &str) -> Result<Credential, (ErrorKind, String)> {
        if let Some(helper) = self.file.cred_helpers.get(registry) {
            return run_helper(helper, registry).await;
        }
        if let Some(entry) = self.auth_entry(registry) {
            return self.decode(registry, entry);
        }
        if let Some(store) = &self.file.creds_store {
            return run_helper(store, registry).await;
        }
        Ok(Credential::Anonymous)
    }

    /// The `auths` entry for `registry`: keyed by the host, or by a URL naming it
    /// (`https://host/v1/`, as older Docker clients wrote them).
    fn auth_entry(&self, registry: &str) -> Option<&AuthEntry> {
        let hub = matches!(
            registry,
            "docker.io" | "index.docker.io" | "registry-1.docker.io"
        );
        self.file.auths.iter().find_map(|(key, entry)| {
            let host = key
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default();
            let same = host.eq_ignore_ascii_case(registry)
                || (hub
                    && matches!(
                        host,
                        "docker.io" | "index.docker.io" | "registry-1.docker.io"
                    ));
            same.then_some(entry)
        })
    }

    fn decode(&self, registry: &str, e: &AuthEntry) -> Result<Credential, (ErrorKind, String)> {
        let file = self
            .path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if let Some(token) = e.registry_token.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Credential::Token(token.to_string()));
        }
        if let Some(token) = e.identity_token.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Credential::Token(token.to_string()));
        }
        if let Some(auth) = e.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    (
                        ErrorKind::Config,
                        format!("{file}: auths.{registry}.auth is not base64 of \"user:password\""),
                    )
                })?;
            let (username, password) = decoded.split_once(':').ok_or_else(|| {
                (
                    ErrorKind::Config,
                    format!("{file}: auths.{registry}.auth has no ':' between user and password"),
                )
            })?;
            return Ok(Credential::Basic {
                username: username.to_string(),
                password: password.to_string(),
            });
        }
        match (&e.username, &e.password) {
            (Some(u), Some(p)) => Ok(Credential::Basic {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => Ok(Credential::Anonymous),
        }
    }
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// `docker-credential-<helper> get` with the registry on stdin (the credential helpers'
/// protocol); `<token>` as the user name means the secret is an identity token.
async fn run_helper(helper: &str, registry: &str) -> Result<Credential, (ErrorKind, String)> {
    use tokio::io::AsyncWriteExt as _;
    if helper.is_empty()
        || !helper
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err((
            ErrorKind::Config,
            format!("credential helper name {helper:?} is not a plain program name"),
        ));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| (ErrorKind::Config, format!("{program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(registry.as_bytes())
            .await
            .map_err(|e| (ErrorKind::Config, format!("{program}: {e}")))?;
    }
    let out = tokio::time::timeout(HELPER_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            (
                ErrorKind::Timeout,
                format!("{program} get did not answer in {HELPER_TIMEOUT:?}"),
            )
        })?
        .map_err(|e| (ErrorKind::Config, format!("{program}: {e}")))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout);
        if said.contains("credentials not found") {
            return Ok(Credential::Anonymous);
        }
        return Err((
            ErrorKind::Unauthorized,
            format!(
                "{program} get failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out.stdout).map_err(|e| {
        (
            ErrorKind::Config,
            format!("{program} get: not the credential helpers' JSON answer: {e}"),
        )
    })?;
    Ok(if answer.username == "<token>" {
        Credential::Token(answer.secret)
    } else {
        Credential::Basic {
            username: answer.username,
            password: answer.secret,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(json: &str) -> Credentials {
        Credentials {
            path: Some(PathBuf::from("config.json")),
            file: serde_json::from_str(json).unwrap_or_default(),
        }
    }

    #[tokio::test]
    async fn reads_auth_user_password_and_tokens() {
        let c = creds(
            r#"{"auths": {
                "reg.example:5000": {"auth": "dXNlcjpwYTpzcw=="},
                "https://other.example/v1/": {"username": "u", "password": "p"},
                "tok.example": {"identitytoken": "abc"}}}"#,
        );
        assert_eq!(
            c.for_registry("reg.example:5000").await,
            Ok(Credential::Basic {
                username: "user".into(),
                password: "pa:ss".into()
            })
        );
        assert_eq!(
            c.for_registry("other.example").await,
            Ok(Credential::Basic {
                username: "u".into(),
                password: "p".into()
            })
        );
        assert_eq!(
            c.for_registry("tok.example").await,
            Ok(Credential::Token("abc".into()))
        );
        assert_eq!(
            c.for_registry("nowhere.example").await,
            Ok(Credential::Anonymous)
        );
    }

    #[tokio::test]
    async fn bad_auth_is_an_error_naming_the_file() {
        let c = creds(r#"{"auths": {"r": {"auth": "bm9jb2xvbg=="}}}"#);
        let err = c.for_registry("r").await.unwrap_err();
        assert!(
            err.1.contains("config.json") && err.1.contains("':'"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn helper_names_are_plain() {
        let c = creds(r#"{"credHelpers": {"r": "../../bin/sh"}}"#);
        assert!(c.for_registry("r").await.is_err());
    }
}
