//! Loading: the one place a firewall is built from its configuration — `portcullis.yaml`, the
//! users' policies, the KEV catalogue, Gatekeeper templates, the keys and Sigstore root
//! attestations are verified with — and, for a local gate, advisories and exceptions given as
//! files. Every file is read with the same size limit; what is wrong is an error naming the
//! file, what is merely worth knowing is a note.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use portcullis_evidence::{ErrorKind, Limits, ParseError};
use portcullis_policy::PolicyBundle;
use portcullis_policy::gatekeeper::{Gatekeeper, read_dir_sources};

use crate::exceptions::{CompiledException, parse_exceptions};
use crate::record::{Documents, blob_kinds};
use crate::trust::AttestationTrust;
use crate::{BlockedAdvisory, Config, Firewall, FirewallError, KevCatalog, sha256};

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConfigSource {
    /// This file.
    File(PathBuf),
    /// `./portcullis.yaml` when it exists, else the built-in defaults.
    #[default]
    Discover,
    /// The built-in defaults.
    Defaults,
}

/// Everything a firewall is built from.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    pub config: ConfigSource,
    /// Directories of users' Rego policies, added to the built-in library.
    pub policies: Vec<PathBuf>,
    /// A known-exploited catalogue (CISA KEV format).
    pub kev: Option<PathBuf>,
    /// Directories of Gatekeeper ConstraintTemplates and Constraints.
    pub gatekeeper: Vec<PathBuf>,
    /// A directory of PEM public keys trusted to sign attestations.
    pub trusted_keys: Option<PathBuf>,
    /// A Sigstore `trusted_root.json` for keyless bundles.
    pub trusted_root: Option<PathBuf>,
    /// OSV advisories given as files (a local gate), in force beside the store's.
    pub advisories: Vec<PathBuf>,
    /// An exceptions file (a local gate), in force beside the store's.
    pub exceptions: Option<PathBuf>,
    /// Size and depth limits for every document read.
    pub limits: Limits,
    /// Registry settings given as flags (`--registry-config`, `--registry-ca`,
    /// `--insecure-registry`), on top of the configuration file's `registry:`.
    pub registry: portcullis_registry::RegistrySettings,
}

/// A firewall ready to decide, with what it was built from.
#[derive(Debug)]
pub struct Loaded {
    /// Compiled policies, configuration, KEV, Gatekeeper and trust; the advisories and
    /// exceptions given as files are in `advisories` and `exceptions`, not in it (the
    /// decision service adds them to the store's, in force).
    pub firewall: Firewall,
    /// The bytes of the KEV and advisory documents (what each decision records).
    pub docs: Documents,
    pub advisories: Vec<BlockedAdvisory>,
    pub exceptions: Vec<CompiledException>,
    /// Digest → file, for reports that name the documents a decision used.
    pub files: BTreeMap<String, String>,
    /// Things worth saying that are not errors (defaults used, keys skipped, …).
    pub notes: Vec<String>,
    /// How OCI registries are reached: the configuration's `registry:` (its relative paths
    /// taken from the configuration file's directory) with the flags' on top.
    pub registry: portcullis_registry::RegistrySettings,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Firewall(#[from] FirewallError),
    /// A flag's document that names its own file in `source`.
    #[error("{flag}: {source}")]
    Flag {
        flag: &'static str,
        source: FirewallError,
    },
    #[error("{flag} {path}: {message}")]
    File {
        flag: &'static str,
        path: String,
        message: String,
    },
}

fn file_error(flag: &'static str, path: &Path, message: impl Into<String>) -> LoadError {
    LoadError::File {
        flag,
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// The bytes of `path`, refusing a file over `limits.max_bytes` before reading it (an
/// evidence error of kind `io` or `too-large`, with no format: nothing was parsed).
pub fn read_limited(path: &Path, limits: &Limits) -> Result<Vec<u8>, ParseError> {
    let io_err =
        |e: std::io::Error| ParseError::new(ErrorKind::Io, None, format!("cannot read: {e}"));
    let len = std::fs::metadata(path).map_err(io_err)?.len();
    if len > limits.max_bytes {
        return Err(ParseError::new(
            ErrorKind::TooLarge,
            None,
            format!(
                "{len} bytes is over the limit of {} bytes (raise it with --max-bytes)",
                limits.max_bytes
            ),
        ));
    }
    std::fs::read(path).map_err(io_err)
}

impl Setup {
    /// The configuration, and a note when it is not the one named.
    pub fn load_config(&self) -> Result<(Config, Option<String>), LoadError> {
        let read = |path: &Path| -> Result<Config, LoadError> {
            let bytes = read_limited(path, &self.limits)
                .map_err(|e| file_error("--config", path, e.message))?;
            let text = String::from_utf8(bytes)
                .map_err(|e| file_error("--config", path, format!("not UTF-8 text: {e}")))?;
            Ok(Config::from_yaml(&text, &path.display().to_string())?)
        };
        match &self.config {
            ConfigSource::File(path) => Ok((read(path)?, None)),
            ConfigSource::Discover if Path::new("portcullis.yaml").is_file() => Ok((
                read(Path::new("portcullis.yaml"))?,
                Some("using ./portcullis.yaml".into()),
            )),
            ConfigSource::Discover => Ok((
                Config::default(),
                Some(
                    "no --config and no ./portcullis.yaml: built-in defaults, no environments \
                     declared, so every environment is treated as protected (`portcullis \
                     init` writes a portcullis.yaml that declares yours)"
                        .into(),
                ),
            )),
            ConfigSource::Defaults => Ok((Config::default(), None)),
        }
    }

    /// The built-in library plus the users' policy directories.
    pub fn load_bundle(&self) -> Result<PolicyBundle, LoadError> {
        Ok(PolicyBundle::load(&self.policies).map_err(FirewallError::from)?)
    }

    /// Build the firewall.
    pub fn load(&self) -> Result<Loaded, LoadError> {
        let (config, note) = self.load_config()?;
        let mut notes: Vec<String> = note.into_iter().collect();
        let bundle = self.load_bundle()?;
        let mut files = BTreeMap::new();
        let mut docs = Documents::default();
        let registry = registry_settings(&config).merged(&self.registry);
        let mut firewall = Firewall::new(bundle, config)?.with_limits(self.limits);

        if let Some(path) = &self.kev {
            let bytes = read_limited(path, &self.limits)
                .map_err(|e| file_error("--kev", path, e.message))?;
            let digest = sha256(&bytes);
            let kev = KevCatalog::parse(&bytes, &path.display().to_string())?;
            files.insert(digest.clone(), path.display().to_string());
            docs.add(blob_kinds::KEV, bytes);
            firewall = firewall.with_kev_from(kev, &digest);
        }
        if let Some(gk) = self.load_gatekeeper(&mut notes)? {
            firewall = firewall.with_gatekeeper(gk);
        }
        if let Some(trust) = self.load_trust(firewall.config(), &mut notes)? {
            firewall = firewall.with_trust(trust);
        }

        let mut advisories = Vec::new();
        for path in &self.advisories {
            let bytes = read_limited(path, &self.limits)
                .map_err(|e| file_error("--advisories", path, e.message))?;
            let digest = sha256(&bytes);
            let ev = portcullis_evidence::parse(&bytes, &self.limits)
                .map_err(|e| file_error("--advisories", path, e.to_string()))?;
            if ev.advisories.is_empty() {
                return Err(file_error(
                    "--advisories",
                    path,
                    format!(
                        "{} holds no advisories (an OSV record or a list of them is expected)",
                        ev.format.name()
                    ),
                ));
            }
            files.insert(digest.clone(), path.display().to_string());
            docs.add(blob_kinds::ADVISORY, bytes);
            advisories.extend(ev.advisories.into_iter().map(|a| BlockedAdvisory {
                advisory: a,
                source: digest.clone(),
            }));
        }
        let exceptions = match &self.exceptions {
            Some(path) => {
                let bytes = read_limited(path, &self.limits)
                    .map_err(|e| file_error("--exceptions", path, e.message))?;
                let text = String::from_utf8(bytes).map_err(|e| {
                    file_error("--exceptions", path, format!("not UTF-8 text: {e}"))
                })?;
                parse_exceptions(&text, &path.display().to_string())?
            }
            None => Vec::new(),
        };
        Ok(Loaded {
            firewall,
            docs,
            advisories,
            exceptions,
            files,
            notes,
            registry,
        })
    }

    /// Gatekeeper templates and constraints (None when no directory is given); what cannot be
    /// evaluated is said in `notes` (its constraints fail closed).
    pub fn load_gatekeeper(
        &self,
        notes: &mut Vec<String>,
    ) -> Result<Option<Gatekeeper>, LoadError> {
        if self.gatekeeper.is_empty() {
            return Ok(None);
        }
        let mut sources = Vec::new();
        for dir in &self.gatekeeper {
            sources.extend(
                read_dir_sources(dir)
                    .map_err(|e| file_error("--gatekeeper", dir, e.to_string()))?,
            );
        }
        let gk = Gatekeeper::from_sources(sources).map_err(|e| LoadError::File {
            flag: "--gatekeeper",
            path: self
                .gatekeeper
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            message: e.to_string(),
        })?;
        if gk.constraints().is_empty() {
            notes.push(format!(
                "--gatekeeper: no constraints found ({} templates)",
                gk.templates().len()
            ));
        }
        for (template, why) in gk.problems() {
            notes.push(format!(
                "Gatekeeper template {template} cannot be evaluated ({why}): its constraints fail closed"
            ));
        }
        Ok(Some(gk))
    }

    /// The trusted keys and Sigstore root (None when neither is given). Key files that are not
    /// usable keys are said in `notes`; a directory with no usable key, an unreadable root or
    /// a root without `attestations.identities` is an error: a typo must not quietly leave
    /// every attestation unverified.
    pub fn load_trust(
        &self,
        config: &Config,
        notes: &mut Vec<String>,
    ) -> Result<Option<AttestationTrust>, LoadError> {
        if self.trusted_keys.is_none() && self.trusted_root.is_none() {
            return Ok(None);
        }
        let mut trust = AttestationTrust::default();
        if let Some(dir) = &self.trusted_keys {
            let (keys, refused) =
                AttestationTrust::load_dir(dir).map_err(|source| LoadError::Flag {
                    flag: "--trusted-keys",
                    source,
                })?;
            for r in refused {
                notes.push(format!(
                    "--trusted-keys: {} is not trusted: {}",
                    r.path, r.reason
                ));
            }
            trust = keys;
        }
        if let Some(root) = &self.trusted_root {
            trust = trust
                .load_sigstore_root(root, &config.attestations.identities)
                .map_err(|source| LoadError::Flag {
                    flag: "--trusted-root",
                    source,
                })?;
        }
        Ok(Some(trust))
    }
}

/// The configuration's registry settings, with relative paths taken from the directory of the
/// file it was read from.
fn registry_settings(config: &Config) -> portcullis_registry::RegistrySettings {
    let mut settings = config.registry.clone();
    let Some(dir) = config
        .source
        .as_deref()
        .map(std::path::Path::new)
        .and_then(std::path::Path::parent)
    else {
        return settings;
    };
    let rebase = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    };
    if let Some(p) = settings.config.as_mut() {
        rebase(p);
    }
    settings.ca.iter_mut().for_each(rebase);
    settings
}
