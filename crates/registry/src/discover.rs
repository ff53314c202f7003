//! Resolving an image and finding what is attached to it, by every scheme; fetching the
//! documents that are evidence.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt as _;
use oci_client::Reference;
use oci_client::manifest::OciDescriptor;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use crate::media::Kind;
use crate::media::{self, kind_of};
use crate::{ErrorKind, ImageRef, Registry, RegistryError, classify};

/// How an attachment was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// cosign's `sha256-<hex>.{sig,att,sbom}` tags.
    CosignTag,
    /// An OCI 1.1 referrer (the referrers API, or the `sha256-<hex>` fallback tag where the
    /// registry lacks it).
    Referrer,
    /// An attestation manifest of Docker Buildx inside the image index.
    BuildxAttestation,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CosignTag => "cosign-tag",
            Self::Referrer => "referrer",
            Self::BuildxAttestation => "buildx-attestation",
        }
    }
}

/// Where one attached document came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    pub registry: String,
    pub repository: String,
    pub scheme: Scheme,
    /// The tag that names the attachment's manifest (cosign's scheme).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Digest of the manifest that lists the document.
    pub manifest: String,
    /// The manifest's artifact type (referrers), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Media type of the document (the layer's).
    pub media_type: String,
    /// `sha256:<hex>` of the document.
    pub digest: String,
    pub size: u64,
    /// The layer's annotations (predicate type, signature, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// One document attached to the image, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub kind: Kind,
    pub origin: Origin,
}

/// A document fetched, its digest checked.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub kind: Kind,
    pub origin: Origin,
    pub bytes: Vec<u8>,
}

/// An attachment listed but not read as evidence, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub kind: Kind,
    pub origin: Origin,
    pub reason: String,
}

/// An image resolved, with what is attached to it.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub image: ImageRef,
    /// Everything attached, fetched or not, in the order found.
    pub attachments: Vec<Attachment>,
    /// The documents fetched (evidence kinds), in the order found.
    pub documents: Vec<Fetched>,
    /// Attachments not read as evidence.
    pub skipped: Vec<Skipped>,
    /// Attached documents that could not be fetched (too large, wrong digest): the firewall
    /// treats each as unreadable evidence.
    pub failed: Vec<(Origin, RegistryError)>,
}

/// The parts of a manifest or index read here.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(default)]
    subject: Option<Descriptor>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl Manifest {
    fn is_index(&self) -> bool {
        matches!(
            self.media_type.as_deref(),
            Some(media::OCI_INDEX | media::DOCKER_LIST)
        ) || (self.media_type.is_none() && !self.manifests.is_empty() && self.layers.is_empty())
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// `sha256:<64 lower hex>`.
fn is_sha256(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

struct Session<'a> {
    registry: &'a Registry,
    image: &'a Reference,
    host: String,
    repository: String,
}

impl Session<'_> {
    fn error(&self, kind: ErrorKind, reference: String, message: String) -> RegistryError {
        RegistryError {
            kind,
            registry: self.host.clone(),
            reference,
            message,
        }
    }

    fn by_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.host.clone(),
            self.repository.clone(),
            digest.to_string(),
        )
    }

    fn by_tag(&self, tag: &str) -> Reference {
        Reference::with_tag(self.host.clone(), self.repository.clone(), tag.to_string())
    }

    /// A manifest's bytes, their digest (checked against a digest reference) and parsed
    /// shape; `Ok(None)` when it does not exist and `missing_ok`.
    async fn manifest(
        &self,
        reference: &Reference,
        missing_ok: bool,
    ) -> Result<Option<(Vec<u8>, String, Manifest)>, RegistryError> {
        let auth = self.registry.auth(reference).await?;
        let pulled = self
            .registry
            .client
            .pull_manifest_raw(reference, &auth, media::MANIFESTS)
            .await;
        let (bytes, _) = match pulled {
            Ok(b) => b,
            Err(e) => {
                let e = classify(reference, e);
                return if missing_ok && e.kind == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        };
        let max = self.registry.limits.max_manifest_bytes;
        if bytes.len() > max {
            return Err(self.error(
                ErrorKind::TooLarge,
                reference.whole(),
                format!(
                    "the manifest is {} bytes, more than the {max} allowed",
                    bytes.len()
                ),
            ));
        }
        let digest = sha256(&bytes);
        if let Some(asked) = reference.digest()
            && asked != digest
        {
            return Err(self.error(
                ErrorKind::Malformed,
                reference.whole(),
                format!("the manifest's bytes have digest {digest}, not the {asked} asked for"),
            ));
        }
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            self.error(
                ErrorKind::Malformed,
                reference.whole(),
                format!(
                    "not an OCI manifest or index: JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if manifest.schema_version != Some(2) {
            return Err(self.error(
                ErrorKind::Malformed,
                reference.whole(),
                format!(
                    "schemaVersion is {:?}, not 2 (an OCI or Docker v2 manifest)",
                    manifest.schema_version
                ),
            ));
        }
        for d in manifest
            .layers
            .iter()
            .chain(&manifest.manifests)
            .chain(manifest.config.iter())
            .chain(manifest.subject.iter())
        {
            if !is_sha256(&d.digest) || d.size < 0 {
                return Err(self.error(
                    ErrorKind::Malformed,
                    reference.whole(),
                    format!(
                        "a descriptor names {:?} (size {}): only sha256 digests and sizes of 0 or more are read",
                        d.digest, d.size
                    ),
                ));
            }
        }
        Ok(Some((bytes.to_vec(), digest, manifest)))
    }

    /// The layers of an attachment manifest as listed documents.
    fn list_layers(
        &self,
        scheme: Scheme,
        tag: Option<String>,
        manifest_digest: &str,
        manifest: &Manifest,
        out: &mut Vec<Attachment>,
    ) {
        let artifact_type = manifest.artifact_type.clone().or_else(|| {
            // Artifacts written before `artifactType` carry it as the config media type.
            manifest
                .config
                .as_ref()
                .map(|c| c.media_type.clone())
                .filter(|m| {
                    m != media::OCI_EMPTY && m != "application/vnd.oci.image.config.v1+json"
                })
        });
        for layer in &manifest.layers {
            if layer.media_type == media::OCI_EMPTY {
                continue;
            }
            out.push(Attachment {
                kind: kind_of(&layer.media_type, artifact_type.as_deref()),
                origin: Origin {
                    registry: self.host.clone(),
                    repository: self.repository.clone(),
                    scheme,
                    tag: tag.clone(),
                    manifest: manifest_digest.to_string(),
                    artifact_type: artifact_type.clone(),
                    media_type: layer.media_type.clone(),
                    digest: layer.digest.clone(),
                    size: u64::try_from(layer.size).unwrap_or_default(),
                    annotations: layer.annotations.clone(),
                },
            });
        }
    }

    /// Resolve the image and list everything attached.
    async fn list(&self) -> Result<(ImageRef, Vec<Attachment>), RegistryError> {
        let (_, digest, subject) = self.manifest(self.image, false).await?.ok_or_else(|| {
            self.error(ErrorKind::NotFound, self.image.whole(), "not found".into())
        })?;
        let image = ImageRef {
            registry: self.host.clone(),
            repository: self.repository.clone(),
            tag: self
                .image
                .tag()
                .map(str::to_string)
                .filter(|_| self.image.digest().is_none()),
            digest: digest.clone(),
            media_type: subject
                .media_type
                .clone()
                .unwrap_or_else(|| media::OCI_MANIFEST.to_string()),
        };
        let max = self.registry.limits.max_referrers;
        let mut manifests_read = 0usize;
        let mut listed = Vec::new();
        let too_many = |what: &str| {
            self.error(
                ErrorKind::TooLarge,
                image.pinned(),
                format!("more than {max} attachments ({what}): not all could be read"),
            )
        };

        // Docker Buildx: attestation manifests inside the index.
        if subject.is_index() {
            for entry in &subject.manifests {
                let is_attestation = entry
                    .annotations
                    .get(media::BUILDX_REFERENCE_TYPE)
                    .is_some_and(|t| t == media::BUILDX_ATTESTATION_MANIFEST);
                if !is_attestation {
                    continue;
                }
                manifests_read += 1;
                if manifests_read > max {
                    return Err(too_many("Buildx attestation manifests"));
                }
                let reference = self.by_digest(&entry.digest);
                if let Some((_, d, m)) = self.manifest(&reference, false).await? {
                    self.list_layers(Scheme::BuildxAttestation, None, &d, &m, &mut listed);
                }
            }
        }

        // cosign's tag scheme.
        let hex = digest.trim_start_matches("sha256:");
        for suffix in ["sig", "att", "sbom"] {
            let tag = format!("sha256-{hex}.{suffix}");
            if let Some((_, d, m)) = self.manifest(&self.by_tag(&tag), true).await? {
                self.list_layers(Scheme::CosignTag, Some(tag), &d, &m, &mut listed);
            }
        }

        // OCI 1.1 referrers (oci-client falls back to the `sha256-<hex>` tag on a 404).
        let subject_ref = self.by_digest(&digest);
        let referrers = self
            .registry
            .client
            .pull_referrers(&subject_ref, None)
            .await
            .map_err(|e| classify(&subject_ref, e))?;
        let mut seen = BTreeSet::new();
        for entry in &referrers.manifests {
            if !seen.insert(entry.digest.clone()) {
                continue;
            }
            manifests_read += 1;
            if manifests_read > max {
                return Err(too_many("referrers"));
            }
            let reference = self.by_digest(&entry.digest);
            let Some((_, d, m)) = self.manifest(&reference, true).await? else {
                // A fallback-tag index may list a referrer deleted since.
                continue;
            };
            // A referrer is about the image only when its subject says so.
            if m.subject.as_ref().is_none_or(|s| s.digest != digest) {
                continue;
            }
            self.list_layers(Scheme::Referrer, None, &d, &m, &mut listed);
        }
        if listed.len() > max {
            return Err(too_many("documents"));
        }
        Ok((image, listed))
    }

    /// The bytes of one blob, at most `max_blob_bytes`, their digest checked.
    async fn blob(&self, origin: &Origin) -> Result<Vec<u8>, RegistryError> {
        let max = self.registry.limits.max_blob_bytes;
        let whole = format!("{}/{}@{}", self.host, self.repository, origin.digest);
        if origin.size > max as u64 {
            return Err(self.error(
                ErrorKind::TooLarge,
                whole,
                format!(
                    "the document is {} bytes (as its manifest says), more than the {max} allowed",
                    origin.size
                ),
            ));
        }
        let reference = self.by_digest(&origin.digest);
        let descriptor = OciDescriptor {
            media_type: origin.media_type.clone(),
            digest: origin.digest.clone(),
            size: i64::try_from(origin.size).unwrap_or(i64::MAX),
            ..OciDescriptor::default()
        };
        let mut stream = self
            .registry
            .client
            .pull_blob_stream(&reference, &descriptor)
            .await
            .map_err(|e| classify(&reference, e))?;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                self.error(
                    ErrorKind::Unreachable,
                    whole.clone(),
                    format!("reading: {e}"),
                )
            })?;
            if bytes.len() + chunk.len() > max {
                return Err(self.error(
                    ErrorKind::TooLarge,
                    whole,
                    format!("the document is more than the {max} bytes allowed"),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let got = sha256(&bytes);
        if got != origin.digest {
            return Err(self.error(
                ErrorKind::Malformed,
                whole,
                format!("the bytes served have digest {got}, not the one listed"),
            ));
        }
        Ok(bytes)
    }
}

fn session<'a>(registry: &'a Registry, image: &'a Reference) -> Session<'a> {
    Session {
        registry,
        image,
        host: image.resolve_registry().to_string(),
        repository: image.repository().to_string(),
    }
}

/// Why an attachment of `kind` is not read as evidence.
fn skip_reason(kind: Kind) -> &'static str {
    match kind {
        Kind::Signature => {
            "image signatures (cosign simple signing, Notary Project) are listed, not verified: attach a signed attestation or Sigstore bundle"
        }
        _ => "not a kind of document Portcullis reads as evidence",
    }
}

/// A Sigstore bundle holding a `messageSignature` rather than a `dsseEnvelope`.
fn is_message_signature(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .is_ok_and(|v| v.get("messageSignature").is_some() && v.get("dsseEnvelope").is_none())
}

pub(crate) async fn inspect(
    registry: &Registry,
    image: &Reference,
) -> Result<Pulled, RegistryError> {
    let s = session(registry, image);
    let (image, attachments) = s.list().await?;
    let skipped = attachments
        .iter()
        .filter(|a| !a.kind.is_evidence())
        .map(|a| Skipped {
            kind: a.kind,
            origin: a.origin.clone(),
            reason: skip_reason(a.kind).to_string(),
        })
        .collect();
    Ok(Pulled {
        image,
        attachments,
        documents: Vec::new(),
        skipped,
        failed: Vec::new(),
    })
}

pub(crate) async fn pull(registry: &Registry, image: &Reference) -> Result<Pulled, RegistryError> {
    let s = session(registry, image);
    let (image, attachments) = s.list().await?;
    let mut pulled = Pulled {
        image,
        attachments: attachments.clone(),
        documents: Vec::new(),
        skipped: Vec::new(),
        failed: Vec::new(),
    };
    let mut fetched_digests = BTreeSet::new();
    for a in attachments {
        if !a.kind.is_evidence() {
            pulled.skipped.push(Skipped {
                kind: a.kind,
                reason: skip_reason(a.kind).to_string(),
                origin: a.origin,
            });
            continue;
        }
        // The same document attached twice (a referrer and a cosign tag) is read once.
        if !fetched_digests.insert(a.origin.digest.clone()) {
            continue;
        }
        if fetched_digests.len() > registry.limits.max_documents {
            return Err(s.error(
                ErrorKind::TooLarge,
                pulled.image.pinned(),
                format!(
                    "more than {} documents attached: not all could be read",
                    registry.limits.max_documents
                ),
            ));
        }
        match s.blob(&a.origin).await {
            // cosign's new bundle format stores image signatures as Sigstore bundles too: a
            // bundle that signs the digest directly (no in-toto Statement) is a signature.
            Ok(bytes) if a.kind == Kind::SigstoreBundle && is_message_signature(&bytes) => {
                pulled.skipped.push(Skipped {
                    kind: Kind::Signature,
                    reason: skip_reason(Kind::Signature).to_string(),
                    origin: a.origin,
                });
            }
            Ok(bytes) => pulled.documents.push(Fetched {
                kind: a.kind,
                origin: a.origin,
                bytes,
            }),
            // Without the registry nothing can be read: the whole pull fails.
            Err(e)
                if matches!(
                    e.kind,
                    ErrorKind::Unreachable | ErrorKind::Timeout | ErrorKind::Unauthorized
                ) =>
            {
                return Err(e);
            }
            Err(e) => pulled.failed.push((a.origin, e)),
        }
    }
    Ok(pulled)
}
