//! Media types of manifests and of the documents the tool chain attaches, and what each is.

use serde::{Deserialize, Serialize};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// Every manifest media type asked for.
pub const MANIFESTS: &[&str] = &[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

pub const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
pub const COSIGN_SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Buildx marks an attestation manifest in an index with this annotation …
pub const BUILDX_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
/// … set to this value, and names the image manifest it is about in this one.
pub const BUILDX_ATTESTATION_MANIFEST: &str = "attestation-manifest";
pub const BUILDX_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";

/// What an attached document is, as its media type (or the referrer's artifact type) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Sbom,
    ScanReport,
    /// A DSSE envelope or in-toto Statement.
    Attestation,
    SigstoreBundle,
    /// An image signature (cosign simple signing, Notary Project).
    Signature,
    /// Anything else (image layers, charts, unknown artifacts).
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sbom => "sbom",
            Self::ScanReport => "scan-report",
            Self::Attestation => "attestation",
            Self::SigstoreBundle => "sigstore-bundle",
            Self::Signature => "signature",
            Self::Other => "other",
        }
    }

    /// Whether Portcullis reads documents of this kind as evidence.
    pub fn is_evidence(self) -> bool {
        matches!(
            self,
            Self::Sbom | Self::ScanReport | Self::Attestation | Self::SigstoreBundle
        )
    }
}

/// The kind of a document with media type `media_type` (parameters ignored), in a manifest
/// whose artifact type is `artifact_type`.
pub fn kind_of(media_type: &str, artifact_type: Option<&str>) -> Kind {
    let by_media = kind_of_one(media_type);
    match (by_media, artifact_type) {
        (Kind::Other, Some(a)) => kind_of_one(a),
        // A generic JSON layer of a referrer says what it is through the artifact type.
        (Kind::ScanReport, Some(a)) if essence(media_type) == "application/json" => {
            match kind_of_one(a) {
                Kind::Other => Kind::ScanReport,
                k => k,
            }
        }
        (k, _) => k,
    }
}

fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn kind_of_one(media_type: &str) -> Kind {
    let m = essence(media_type);
    match m.as_str() {
        "text/spdx"
        | "text/spdx+json"
        | "application/spdx+json"
        | "text/spdx+xml"
        | "application/vnd.cyclonedx"
        | "application/vnd.cyclonedx+json"
        | "application/vnd.cyclonedx+xml"
        | "application/vnd.syft+json" => Kind::Sbom,
        DSSE | IN_TOTO => Kind::Attestation,
        COSIGN_SIMPLESIGNING
        | "application/jose+json"
        | "application/cose"
        | "application/vnd.cncf.notary.signature" => Kind::Signature,
        "application/sarif+json" | "application/json" => Kind::ScanReport,
        _ if m.starts_with("application/vnd.dev.sigstore.bundle") => Kind::SigstoreBundle,
        _ if m.contains("sarif")
            || m.contains("trivy")
            || m.contains("grype")
            || m.contains("vulnerability")
            || m.contains("osv") =>
        {
            Kind::ScanReport
        }
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind_of("text/spdx+json", None), Kind::Sbom);
        assert_eq!(
            kind_of("application/vnd.cyclonedx+json; charset=utf-8", None),
            Kind::Sbom
        );
        assert_eq!(kind_of(DSSE, None), Kind::Attestation);
        assert_eq!(
            kind_of(
                "application/vnd.dev.sigstore.bundle.v0.3+json",
                Some("application/vnd.dev.sigstore.bundle.v0.3+json")
            ),
            Kind::SigstoreBundle
        );
        assert_eq!(
            kind_of("application/vnd.dev.sigstore.bundle+json;version=0.2", None),
            Kind::SigstoreBundle
        );
        assert_eq!(kind_of(COSIGN_SIMPLESIGNING, None), Kind::Signature);
        assert_eq!(
            kind_of("application/json", Some("application/spdx+json")),
            Kind::Sbom
        );
        assert_eq!(
            kind_of("application/json", Some("application/x-unknown")),
            Kind::ScanReport
        );
        assert_eq!(
            kind_of("application/vnd.oci.image.layer.v1.tar+gzip", None),
            Kind::Other
        );
    }
}
