//! Registry access: an image reference resolved to its digest, and the evidence the tool chain
//! attached to it, fetched from an OCI registry by every scheme in use:
//!
//! - cosign's tag scheme: `sha256-<hex>.att` (DSSE attestations), `.sig` (simple signing
//!   signatures), `.sbom` (`cosign attach sbom`);
//! - OCI 1.1 referrers: the referrers API, or the `sha256-<hex>` fallback tag where a registry
//!   lacks it (Sigstore bundles, GitHub artifact attestations, SBOMs, scan reports);
//! - Docker Buildx attestation manifests inside an image index (in-toto SBOM and provenance
//!   layers).
//!
//! The crate states what is attached and hands over the bytes with where each came from; it
//! verifies digests and enforces size and count limits, and decides nothing.

pub mod credentials;
mod discover;
pub mod media;

use std::path::PathBuf;
use std::time::Duration;

use oci_client::Reference;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use serde::{Deserialize, Serialize};

pub use credentials::{Credential, Credentials};
pub use discover::{Attachment, Fetched, Kind, Origin, Pulled, Scheme, Skipped};

/// Limits on what is read from a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest manifest or index read.
    pub max_manifest_bytes: usize,
    /// The largest attached document (blob) read.
    pub max_blob_bytes: usize,
    /// The most referrers (and cosign or Buildx attachments) of one image read.
    pub max_referrers: usize,
    /// The most documents fetched for one image.
    pub max_documents: usize,
    pub connect_timeout: Duration,
    /// Between two reads of one response.
    pub read_timeout: Duration,
    /// For the whole resolution and fetch of one image.
    pub total_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_manifest_bytes: 4 << 20,
            max_blob_bytes: 64 << 20,
            max_referrers: 128,
            max_documents: 256,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(20),
            total_timeout: Duration::from_secs(60),
        }
    }
}

/// How registries are reached: credentials, trust and plain-HTTP exceptions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySettings {
    /// A Docker `config.json` (else `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`).
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// PEM bundles of CAs trusted for registries, beside the system's roots.
    #[serde(default)]
    pub ca: Vec<PathBuf>,
    /// `HOST:PORT` of registries reached over plain HTTP (never any other).
    #[serde(default)]
    pub insecure: Vec<String>,
    /// Seconds for resolving an image and fetching what is attached (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// The largest manifest read, in bytes (default 4 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_manifest_bytes: Option<usize>,
    /// The largest attached document read, in bytes (default 64 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_blob_bytes: Option<usize>,
    /// The most attachments of one image read (default 128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_referrers: Option<usize>,
}

impl RegistrySettings {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The limits these settings give (defaults for what they leave out).
    pub fn limits(&self) -> Limits {
        let d = Limits::default();
        Limits {
            max_manifest_bytes: self.max_manifest_bytes.unwrap_or(d.max_manifest_bytes),
            max_blob_bytes: self.max_blob_bytes.unwrap_or(d.max_blob_bytes),
            max_referrers: self.max_referrers.unwrap_or(d.max_referrers),
            total_timeout: self
                .timeout_seconds
                .map(Duration::from_secs)
                .unwrap_or(d.total_timeout),
            ..d
        }
    }

    /// These settings with `other`'s added (flags on top of the configuration file): a
    /// credentials file or limit `other` gives wins; CA bundles and insecure hosts add up.
    pub fn merged(&self, other: &RegistrySettings) -> RegistrySettings {
        let mut out = self.clone();
        if other.config.is_some() {
            out.config = other.config.clone();
        }
        out.ca.extend(other.ca.iter().cloned());
        out.insecure.extend(other.insecure.iter().cloned());
        out.timeout_seconds = other.timeout_seconds.or(out.timeout_seconds);
        out.max_manifest_bytes = other.max_manifest_bytes.or(out.max_manifest_bytes);
        out.max_blob_bytes = other.max_blob_bytes.or(out.max_blob_bytes);
        out.max_referrers = other.max_referrers.or(out.max_referrers);
        out
    }
}

/// What went wrong, as a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The reference is not an image reference.
    Reference,
    /// The registry settings (config.json, CA bundle) cannot be used.
    Config,
    /// No connection (refused, DNS, TLS).
    Unreachable,
    /// Credentials refused or missing.
    Unauthorized,
    /// The tag or digest does not exist.
    NotFound,
    /// A manifest or blob is over its limit, or too many referrers.
    TooLarge,
    /// The registry answered something that is not what the OCI specifications say.
    Malformed,
    /// The registry did not answer in time.
    Timeout,
    /// Any other error status.
    Registry,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Reference => "registry-reference",
            Self::Config => "registry-config",
            Self::Unreachable => "registry-unreachable",
            Self::Unauthorized => "registry-unauthorized",
            Self::NotFound => "registry-not-found",
            Self::TooLarge => "registry-too-large",
            Self::Malformed => "registry-malformed",
            Self::Timeout => "registry-timeout",
            Self::Registry => "registry-error",
        }
    }
}

/// A failure reaching or reading a registry, naming the registry and the reference.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("registry {registry}: {reference}: {message} [{}]", kind.code())]
pub struct RegistryError {
    pub kind: ErrorKind,
    pub registry: String,
    pub reference: String,
    pub message: String,
}

/// An image reference resolved to the digest of its manifest (or index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageRef {
    /// `host[:port]` (`docker.io` for Docker Hub).
    pub registry: String,
    pub repository: String,
    /// The tag asked for, when a tag was given (resolved once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `sha256:<hex>` of the manifest or index.
    pub digest: String,
    /// Media type of the manifest or index.
    pub media_type: String,
}

impl ImageRef {
    /// `registry/repository` — the artifact's name.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `registry/repository@digest`.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.name(), self.digest)
    }
}

/// Parse an image reference (`[registry/]repository[:tag][@digest]`).
pub fn parse_reference(image: &str) -> Result<Reference, RegistryError> {
    let image = image.trim();
    image.parse::<Reference>().map_err(|e| RegistryError {
        kind: ErrorKind::Reference,
        registry: String::new(),
        reference: image.to_string(),
        message: format!("not an image reference: {e}"),
    })
}

/// A registry client with the operator's credentials, trust and limits.
#[derive(Clone)]
pub struct Registry {
    client: oci_client::Client,
    credentials: std::sync::Arc<Credentials>,
    limits: Limits,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("credentials", &self.credentials.path)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Registry {
    /// A client for these settings: the credentials file and CA bundles are read now, so a
    /// mistake in them is an error before any registry is asked.
    pub fn new(settings: &RegistrySettings, limits: Limits) -> Result<Self, RegistryError> {
        let config_error = |message: String| RegistryError {
            kind: ErrorKind::Config,
            registry: String::new(),
            reference: String::new(),
            message,
        };
        let credentials =
            Credentials::load(settings.config.as_deref()).map_err(|(_, m)| config_error(m))?;
        let mut roots = Vec::new();
        for path in &settings.ca {
            let data = std::fs::read(path)
                .map_err(|e| config_error(format!("registry CA bundle {}: {e}", path.display())))?;
            if !String::from_utf8_lossy(&data).contains("-----BEGIN CERTIFICATE-----") {
                return Err(config_error(format!(
                    "registry CA bundle {}: no PEM certificate in it",
                    path.display()
                )));
            }
            roots.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        for host in &settings.insecure {
            if host.is_empty() || host.contains('/') || host.contains("://") {
                return Err(config_error(format!(
                    "insecure registry {host:?}: give HOST or HOST:PORT, without a scheme or path"
                )));
            }
        }
        let config = ClientConfig {
            protocol: if settings.insecure.is_empty() {
                ClientProtocol::Https
            } else {
                ClientProtocol::HttpsExcept(settings.insecure.clone())
            },
            extra_root_certificates: roots,
            connect_timeout: Some(limits.connect_timeout),
            read_timeout: Some(limits.read_timeout),
            platform_resolver: None,
            user_agent: concat!("portcullis/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let client = oci_client::Client::try_from(config)
            .map_err(|e| config_error(format!("registry client: {e}")))?;
        Ok(Self {
            client,
            credentials: std::sync::Arc::new(credentials),
            limits,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Resolve `image` to its digest and fetch every document attached to it, within
    /// `limits.total_timeout`.
    pub async fn pull(&self, image: &str) -> Result<Pulled, RegistryError> {
        let reference = parse_reference(image)?;
        let registry = reference.resolve_registry().to_string();
        let total = self.limits.total_timeout;
        match tokio::time::timeout(total, discover::pull(self, &reference)).await {
            Ok(r) => r,
            Err(_) => Err(RegistryError {
                kind: ErrorKind::Timeout,
                registry,
                reference: image.to_string(),
                message: format!("resolving and fetching took longer than {total:?}"),
            }),
        }
    }

    /// Resolve `image` and list what is attached, fetching nothing but manifests.
    pub async fn inspect(&self, image: &str) -> Result<Pulled, RegistryError> {
        let reference = parse_reference(image)?;
        let registry = reference.resolve_registry().to_string();
        let total = self.limits.total_timeout;
        match tokio::time::timeout(total, discover::inspect(self, &reference)).await {
            Ok(r) => r,
            Err(_) => Err(RegistryError {
                kind: ErrorKind::Timeout,
                registry,
                reference: image.to_string(),
                message: format!("listing took longer than {total:?}"),
            }),
        }
    }

    async fn auth(&self, reference: &Reference) -> Result<RegistryAuth, RegistryError> {
        let registry = reference.resolve_registry();
        let credential =
            self.credentials
                .for_registry(registry)
                .await
                .map_err(|(kind, message)| RegistryError {
                    kind,
                    registry: registry.to_string(),
                    reference: reference.whole(),
                    message,
                })?;
        Ok(match credential {
            Credential::Anonymous => RegistryAuth::Anonymous,
            Credential::Basic { username, password } => RegistryAuth::Basic(username, password),
            Credential::Token(t) => RegistryAuth::Bearer(t),
        })
    }
}

/// A registry error from oci-client's, naming the registry and the reference.
fn classify(reference: &Reference, e: OciDistributionError) -> RegistryError {
    use OciDistributionError as E;
    let (kind, message) = match &e {
        E::ImageManifestNotFoundError(_) => (ErrorKind::NotFound, "not found".to_string()),
        E::RegistryError { envelope, .. } => {
            let codes: Vec<&str> = envelope.errors.iter().map(|e| e.message.as_str()).collect();
            use oci_client::errors::OciErrorCode as C;
            let unknown = envelope
                .errors
                .iter()
                .any(|e| matches!(e.code, C::ManifestUnknown | C::NameUnknown | C::BlobUnknown));
            let denied = envelope
                .errors
                .iter()
                .any(|e| matches!(e.code, C::Unauthorized | C::Denied));
            let kind = if unknown {
                ErrorKind::NotFound
            } else if denied {
                ErrorKind::Unauthorized
            } else {
                ErrorKind::Registry
            };
            (kind, format!("the registry answered: {}", codes.join("; ")))
        }
        E::UnauthorizedError { .. } | E::AuthenticationFailure(_) => (
            ErrorKind::Unauthorized,
            format!("credentials refused or missing ({e})"),
        ),
        E::ServerError { code: 404, .. } => (ErrorKind::NotFound, "not found (404)".to_string()),
        E::ServerError {
            code: 401 | 403, ..
        } => (
            ErrorKind::Unauthorized,
            format!("credentials refused or missing ({e})"),
        ),
        E::RequestError(r) if r.is_timeout() => {
            (ErrorKind::Timeout, format!("no answer in time: {r}"))
        }
        E::RequestError(r) if r.is_connect() => (
            ErrorKind::Unreachable,
            format!("cannot connect: {}", chain(r)),
        ),
        E::RequestError(r) => (ErrorKind::Unreachable, chain(r)),
        E::DigestError(_)
        | E::ManifestParsingError(_)
        | E::VersionedParsingError(_)
        | E::UnsupportedSchemaVersionError(_)
        | E::UnsupportedMediaTypeError(_)
        | E::SpecViolationError(_)
        | E::JsonError(_)
        | E::ManifestEncodingError(_) => (ErrorKind::Malformed, e.to_string()),
        _ => (ErrorKind::Registry, e.to_string()),
    };
    RegistryError {
        kind,
        registry: reference.resolve_registry().to_string(),
        reference: reference.whole(),
        message,
    }
}

/// An error with its sources (reqwest hides the cause: "error sending request").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
