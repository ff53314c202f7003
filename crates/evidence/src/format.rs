//! The evidence formats Portcullis reads, their stable ids and human names.
//!
//! A leaf: detection, parsing and errors all name a format, so it depends on none of them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Every evidence format Portcullis reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    CyclonedxJson,
    CyclonedxXml,
    SpdxJson,
    TrivyJson,
    GrypeJson,
    OsvScannerJson,
    Sarif,
    SemgrepJson,
    CheckovJson,
    BanditJson,
    ZapXml,
    ZapJson,
    OsvAdvisory,
    Dsse,
    IntotoStatement,
    IntotoJsonl,
    SigstoreBundle,
}

impl Format {
    pub const ALL: [Format; 17] = [
        Self::CyclonedxJson,
        Self::CyclonedxXml,
        Self::SpdxJson,
        Self::TrivyJson,
        Self::GrypeJson,
        Self::OsvScannerJson,
        Self::Sarif,
        Self::SemgrepJson,
        Self::CheckovJson,
        Self::BanditJson,
        Self::ZapXml,
        Self::ZapJson,
        Self::OsvAdvisory,
        Self::Dsse,
        Self::IntotoStatement,
        Self::IntotoJsonl,
        Self::SigstoreBundle,
    ];

    /// Stable id, used by `--as` and in JSON output.
    pub fn id(self) -> &'static str {
        match self {
            Self::CyclonedxJson => "cyclonedx-json",
            Self::CyclonedxXml => "cyclonedx-xml",
            Self::SpdxJson => "spdx-json",
            Self::TrivyJson => "trivy-json",
            Self::GrypeJson => "grype-json",
            Self::OsvScannerJson => "osv-scanner-json",
            Self::Sarif => "sarif",
            Self::SemgrepJson => "semgrep-json",
            Self::CheckovJson => "checkov-json",
            Self::BanditJson => "bandit-json",
            Self::ZapXml => "zap-xml",
            Self::ZapJson => "zap-json",
            Self::OsvAdvisory => "osv-advisory",
            Self::Dsse => "dsse",
            Self::IntotoStatement => "intoto-statement",
            Self::IntotoJsonl => "intoto-jsonl",
            Self::SigstoreBundle => "sigstore-bundle",
        }
    }

    /// Human name, used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::CyclonedxJson => "CycloneDX JSON",
            Self::CyclonedxXml => "CycloneDX XML",
            Self::SpdxJson => "SPDX JSON",
            Self::TrivyJson => "Trivy JSON",
            Self::GrypeJson => "Grype JSON",
            Self::OsvScannerJson => "OSV-Scanner JSON",
            Self::Sarif => "SARIF",
            Self::SemgrepJson => "Semgrep JSON",
            Self::CheckovJson => "Checkov JSON",
            Self::BanditJson => "Bandit JSON",
            Self::ZapXml => "OWASP ZAP XML",
            Self::ZapJson => "OWASP ZAP JSON",
            Self::OsvAdvisory => "OSV advisory",
            Self::Dsse => "DSSE envelope",
            Self::IntotoStatement => "in-toto Statement",
            Self::IntotoJsonl => "in-toto JSON lines",
            Self::SigstoreBundle => "Sigstore bundle",
        }
    }

    /// `id (Name), id (Name), ...` for error messages.
    pub fn known_list() -> String {
        Self::ALL
            .iter()
            .map(|f| format!("{} ({})", f.id(), f.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|f| f.id().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown format `{s}`; known: {}", Self::known_list()))
    }
}
