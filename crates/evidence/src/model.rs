//! The normalized evidence model every parser produces.
//!
//! Field names are part of the `evidence inspect --format json` output and, later, of the
//! `PolicyInput` document that user policies read: rename nothing without versioning it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::format::Format;

/// Everything one evidence document said, normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The detected format.
    pub format: Format,
    /// The version of that format the document declares (e.g. `1.6`, `SPDX-2.3`, `2.1.0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_version: Option<String>,
    /// The tool that produced the document, when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<Tool>,
    /// When the document says it was produced (RFC 3339 as written by the tool).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The artifact the document is about (SBOM subject, scanned image, ...), when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advisories: Vec<Advisory>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<Attestation>,
    /// Errors the tool reported about its own run (files it could not scan, a run that did not
    /// complete). Non-empty means the evidence may be incomplete: a partial scan must not pass
    /// for a clean one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scan_errors: Vec<String>,
}

impl Evidence {
    /// An empty document of `format`; parsers fill it in.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            format_version: None,
            tool: None,
            created: None,
            artifact: None,
            components: Vec::new(),
            findings: Vec::new(),
            advisories: Vec::new(),
            attestations: Vec::new(),
            scan_errors: Vec::new(),
        }
    }
}

/// The thing being deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub name: String,
    /// `sha256:<hex>` (or another `alg:hex`), lower-case, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// A tool that produced evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Tool {
    pub fn new(name: impl Into<String>, version: Option<String>) -> Self {
        Self {
            name: name.into(),
            version,
        }
    }
}

/// A package ecosystem, as named by purl types and OSV ecosystems.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Npm,
    Cargo,
    Golang,
    Maven,
    Pypi,
    Deb,
    Rpm,
    Apk,
    Gem,
    Nuget,
    Composer,
    Hex,
    Pub,
    Swift,
    Cocoapods,
    Conan,
    Github,
    Docker,
    Oci,
    Generic,
    /// Any other purl type, kept as written (lower-case).
    #[serde(untagged)]
    Other(String),
}

impl Ecosystem {
    /// From a purl type (`pkg:<type>/...`). Case-insensitive, as the purl spec says types are.
    pub fn from_purl_type(ty: &str) -> Self {
        match ty.to_ascii_lowercase().as_str() {
            "npm" => Self::Npm,
            "cargo" => Self::Cargo,
            "golang" => Self::Golang,
            "maven" => Self::Maven,
            "pypi" => Self::Pypi,
            "deb" => Self::Deb,
            "rpm" => Self::Rpm,
            "apk" | "alpine" => Self::Apk,
            "gem" => Self::Gem,
            "nuget" => Self::Nuget,
            "composer" => Self::Composer,
            "hex" => Self::Hex,
            "pub" => Self::Pub,
            "swift" => Self::Swift,
            "cocoapods" => Self::Cocoapods,
            "conan" => Self::Conan,
            "github" => Self::Github,
            "docker" => Self::Docker,
            "oci" => Self::Oci,
            "generic" => Self::Generic,
            other => Self::Other(other.to_string()),
        }
    }

    /// From an OSV `affected[].package.ecosystem` value (`Maven`, `PyPI`, `Debian:11`, ...).
    pub fn from_osv(name: &str) -> Self {
        let base = name.split(':').next().unwrap_or(name);
        match base {
            "npm" => Self::Npm,
            "crates.io" => Self::Cargo,
            "Go" => Self::Golang,
            "Maven" => Self::Maven,
            "PyPI" => Self::Pypi,
            "Debian" | "Ubuntu" => Self::Deb,
            "Red Hat" | "Rocky Linux" | "AlmaLinux" | "SUSE" | "openSUSE" | "Mageia"
            | "openEuler" => Self::Rpm,
            "Alpine" | "Wolfi" | "Chainguard" => Self::Apk,
            "RubyGems" => Self::Gem,
            "NuGet" => Self::Nuget,
            "Packagist" => Self::Composer,
            "Hex" => Self::Hex,
            "Pub" => Self::Pub,
            "SwiftURL" => Self::Swift,
            "GitHub Actions" => Self::Github,
            other => Self::Other(other.to_ascii_lowercase()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Npm => "npm",
            Self::Cargo => "cargo",
            Self::Golang => "golang",
            Self::Maven => "maven",
            Self::Pypi => "pypi",
            Self::Deb => "deb",
            Self::Rpm => "rpm",
            Self::Apk => "apk",
            Self::Gem => "gem",
            Self::Nuget => "nuget",
            Self::Composer => "composer",
            Self::Hex => "hex",
            Self::Pub => "pub",
            Self::Swift => "swift",
            Self::Cocoapods => "cocoapods",
            Self::Conan => "conan",
            Self::Github => "github",
            Self::Docker => "docker",
            Self::Oci => "oci",
            Self::Generic => "generic",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A cryptographic hash of a component or file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hash {
    /// Algorithm, lower-case without punctuation: `sha256`, `sha1`, `sha512`, `md5`, `blake2b256`...
    pub alg: String,
    /// Lower-case hex.
    pub value: String,
}

/// A software component (package, library, image layer, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// The document-local reference (CycloneDX bom-ref, SPDX SPDXID) that dependency edges use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    /// Canonical purl (see [`crate::purl`]), when the document gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// From the purl type; `None` when there is no purl and the document does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<Ecosystem>,
    /// SPDX license ids or expressions, or license names as written when not SPDX.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Hash>,
    /// `bom_ref`s of the components this one depends on directly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// What kind of problem a finding reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    /// A known vulnerability in a component (CVE, GHSA, ...).
    Vulnerability,
    /// A weakness in first-party code (SAST).
    Weakness,
    /// An alert from dynamic testing of a running application.
    Dast,
    /// A misconfiguration (IaC, Kubernetes, Dockerfile, ...).
    Misconfiguration,
    /// A secret found in code or an image.
    Secret,
}

impl FindingKind {
    pub const ALL: [FindingKind; 5] = [
        Self::Vulnerability,
        Self::Weakness,
        Self::Dast,
        Self::Misconfiguration,
        Self::Secret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vulnerability => "vulnerability",
            Self::Weakness => "weakness",
            Self::Dast => "dast",
            Self::Misconfiguration => "misconfiguration",
            Self::Secret => "secret",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Normalized severity. `Unknown` is kept apart from `Info` on purpose: a scanner that could not
/// rate a finding has not said it is harmless, and policy must be able to tell the two apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Unknown,
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Highest first, for reports.
    pub const ALL: [Severity; 6] = [
        Self::Critical,
        Self::High,
        Self::Medium,
        Self::Low,
        Self::Info,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Info => "info",
            Self::Unknown => "unknown",
        }
    }

    /// A CVSS base score (v2, v3 or v4) to its qualitative rating (CVSS v3.1 specification,
    /// table 14): 0.0 none (info), 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0-10.0 critical.
    pub fn from_cvss_score(score: f64) -> Self {
        if !score.is_finite() || score < 0.0 {
            Self::Unknown
        } else if score >= 9.0 {
            Self::Critical
        } else if score >= 7.0 {
            Self::High
        } else if score >= 4.0 {
            Self::Medium
        } else if score > 0.0 {
            Self::Low
        } else {
            Self::Info
        }
    }

    /// A scanner's severity word, case-insensitive: critical, high, medium/moderate, low,
    /// info/informational/negligible/none/note. Anything else is `Unknown`.
    pub fn from_word(word: &str) -> Self {
        match word.trim().to_ascii_lowercase().as_str() {
            "critical" | "crit" | "very high" => Self::Critical,
            "high" | "important" | "error" => Self::High,
            "medium" | "moderate" | "warning" => Self::Medium,
            "low" => Self::Low,
            "info" | "informational" | "information" | "negligible" | "none" | "note" => Self::Info,
            _ => Self::Unknown,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A score as the source gave it (CVSS vector and base score, OWASP risk, EPSS, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// `CVSSv2`, `CVSSv3`, `CVSSv31`, `CVSSv4`, `OWASP`, `SSVC`, `other`, as the source names it.
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
    /// Who rated it (`nvd`, `ghsa`, a distribution, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The component a package finding concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<Ecosystem>,
    /// Where the scanner found it (a lock file, an image layer path, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A place in source code or a file in an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeLocation {
    /// Normalized with [`normalize_path`].
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_column: Option<u32>,
    /// The infrastructure resource concerned (IaC findings), e.g. `aws_s3_bucket.logs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// Where a DAST alert was observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

/// A VEX / CycloneDX analysis state for a vulnerability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexStatus {
    /// CycloneDX `analysis.state` (`resolved`, `resolved_with_pertinent_evidence`, `exploitable`,
    /// `in_triage`, `false_positive`, `not_affected`) or OpenVEX / CSAF status mapped onto it.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One problem reported by one tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable de-duplication key across tools: see [`Finding::package_key`] and
    /// [`Finding::code_key`].
    pub key: String,
    pub kind: FindingKind,
    /// The primary id: vulnerability id (CVE, GHSA, ...) or, for rule-based tools, the rule id.
    pub id: String,
    /// Other ids of the same vulnerability (CVE <-> GHSA <-> distro ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub severity: Severity,
    /// The severity as the tool wrote it, before normalization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_severity: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<Score>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<CodeLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// The rule that fired, for rule-based tools (SAST, IaC, secret and DAST scanners).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    pub tool: Tool,
    /// Versions that fix it, when the source says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_versions: Vec<String>,
    /// The tool's own fingerprint, when it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// CWE numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwes: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Whether a fix exists, as the scanner states it (Trivy `Status`, Grype `fix.state`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_state: Option<FixState>,
    /// A VEX statement about it carried in the same document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex: Option<VexStatus>,
    /// The tool marked it suppressed (SARIF suppressions, nosec, ...), with the reason if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<String>,
}

impl Finding {
    /// A finding with the required fields set and everything else empty.
    pub fn new(
        kind: FindingKind,
        id: impl Into<String>,
        severity: Severity,
        tool: Tool,
        key: String,
    ) -> Self {
        Self {
            key,
            kind,
            id: id.into(),
            aliases: Vec::new(),
            title: None,
            description: None,
            severity,
            original_severity: None,
            scores: Vec::new(),
            component: None,
            location: None,
            endpoint: None,
            rule_id: None,
            tool,
            fixed_versions: Vec::new(),
            fingerprint: None,
            cwes: Vec::new(),
            references: Vec::new(),
            fix_state: None,
            vex: None,
            suppression: None,
        }
    }

    /// The de-duplication key of a package finding: `vuln:<ID>|<purl core>`.
    ///
    /// `ID` is the CVE id among `id` and `aliases` when there is one (scanners disagree on
    /// whether they lead with the GHSA, the CVE or a distribution id, but nearly all carry the
    /// CVE), else the lexicographically smallest id, upper-cased; the purl core drops qualifiers
    /// and subpath (Trivy adds `arch`/`distro`, Grype does not). Without a purl, the ecosystem,
    /// name and version stand in for it.
    pub fn package_key(
        id: &str,
        aliases: &[String],
        purl: Option<&str>,
        name: &str,
        version: Option<&str>,
    ) -> String {
        let canonical = canonical_vuln_id(id, aliases);
        let subject = match purl {
            Some(p) => purl_core(p),
            None => format!("{}@{}", name, version.unwrap_or("")),
        };
        format!("vuln:{canonical}|{subject}")
    }

    /// The de-duplication key of a code finding: the tool's partial fingerprints when it gives
    /// them (`code:<rule>|fp:<name>=<value>,...`, sorted by name), else
    /// `code:<rule>|<normalized path>:<line>`.
    pub fn code_key(
        rule_id: &str,
        fingerprints: &BTreeMap<String, String>,
        path: Option<&str>,
        line: Option<u32>,
    ) -> String {
        if !fingerprints.is_empty() {
            let fp: Vec<String> = fingerprints
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            return format!("code:{rule_id}|fp:{}", fp.join(","));
        }
        let path = path.map(normalize_path).unwrap_or_default();
        match line {
            Some(l) => format!("code:{rule_id}|{path}:{l}"),
            None => format!("code:{rule_id}|{path}"),
        }
    }

    /// The de-duplication key of a DAST alert: `dast:<rule>|<METHOD> <url>|<param>`.
    pub fn dast_key(rule_id: &str, endpoint: &Endpoint) -> String {
        format!(
            "dast:{rule_id}|{} {}|{}",
            endpoint
                .method
                .as_deref()
                .unwrap_or("")
                .to_ascii_uppercase(),
            endpoint.url,
            endpoint.param.as_deref().unwrap_or("")
        )
    }
}

/// Whether the vendor or distribution has fixed a vulnerability, normalized from the words
/// scanners use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixState {
    /// A fixed version exists.
    Fixed,
    /// Affected, no fix published yet.
    NotFixed,
    /// The maintainer will not fix it.
    WontFix,
    /// A fix is deferred.
    Deferred,
    /// The package is out of support: no fix will come.
    EndOfLife,
    UnderInvestigation,
    /// The maintainer states the package is not affected.
    NotAffected,
    Unknown,
}

impl FixState {
    /// Trivy `Status` (`fixed`, `affected`, `will_not_fix`, `fix_deferred`, `end_of_life`,
    /// `under_investigation`, `not_affected`) and Grype `fix.state` (`fixed`, `not-fixed`,
    /// `wont-fix`, `unknown`).
    pub fn from_word(word: &str) -> Self {
        match word.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "fixed" => Self::Fixed,
            "affected" | "not_fixed" => Self::NotFixed,
            "will_not_fix" | "wont_fix" => Self::WontFix,
            "fix_deferred" | "deferred" => Self::Deferred,
            "end_of_life" => Self::EndOfLife,
            "under_investigation" => Self::UnderInvestigation,
            "not_affected" => Self::NotAffected,
            _ => Self::Unknown,
        }
    }
}

/// Longest title or description kept on a finding, in bytes.
///
/// Parsers copy text that several findings share (a SARIF rule's description, a CycloneDX
/// vulnerability affecting many components) into each finding; without a bound a 1 MB document
/// could expand into gigabytes of model.
pub const MAX_FINDING_TEXT: usize = 16 * 1024;

/// `text` cut to [`MAX_FINDING_TEXT`] bytes on a character boundary, marked when cut.
pub fn bounded_text(text: &str) -> String {
    if text.len() <= MAX_FINDING_TEXT {
        return text.to_string();
    }
    let mut end = MAX_FINDING_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{} [truncated by portcullis]",
        text.get(..end).unwrap_or("")
    )
}

/// The id two tools would agree on: a CVE when one is known, else the smallest id.
pub fn canonical_vuln_id(id: &str, aliases: &[String]) -> String {
    let all = std::iter::once(id).chain(aliases.iter().map(String::as_str));
    let mut cves: Vec<String> = all
        .clone()
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| s.starts_with("CVE-"))
        .collect();
    cves.sort();
    if let Some(c) = cves.into_iter().next() {
        return c;
    }
    all.map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .min()
        .unwrap_or_default()
}

/// `pkg:type/namespace/name@version` without qualifiers or subpath, type lower-cased.
pub fn purl_core(purl: &str) -> String {
    let end = purl.find(['?', '#']).unwrap_or(purl.len());
    let core = purl.get(..end).unwrap_or(purl);
    match core.split_once('/') {
        Some((scheme_type, rest)) => format!("{}/{}", scheme_type.to_ascii_lowercase(), rest),
        None => core.to_string(),
    }
}

/// A path as tools disagree on writing it, made comparable: `file://` and leading `./` removed,
/// back-slashes made forward, repeated slashes folded.
pub fn normalize_path(path: &str) -> String {
    let p = path.trim();
    let p = p.strip_prefix("file://").unwrap_or(p);
    let mut out = String::with_capacity(p.len());
    let mut prev_slash = false;
    for c in p.chars() {
        let c = if c == '\\' { '/' } else { c };
        if c == '/' {
            if prev_slash {
                continue;
            }
            prev_slash = true;
        } else {
            prev_slash = false;
        }
        out.push(c);
    }
    let mut s = out.as_str();
    while let Some(rest) = s.strip_prefix("./") {
        s = rest;
    }
    s.to_string()
}

/// An OSV-style advisory: what is affected, in which version ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Set when the advisory has been withdrawn; a withdrawn advisory matches nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// Normalized from `severity[]` scores or `database_specific.severity`.
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<Score>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwes: Vec<u32>,
}

/// One affected package of an advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// The OSV ecosystem as written (`Maven`, `PyPI`, `Debian:11`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub osv_ecosystem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<Ecosystem>,
    /// Package name in the ecosystem's convention (`org.apache.logging.log4j:log4j-core`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<AffectedRange>,
    /// Explicitly enumerated affected versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Affected versions as a `vers:` range (a block rule's range), in the package's scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vers: Option<String>,
}

/// An OSV range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedRange {
    pub kind: RangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub events: Vec<RangeEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RangeKind {
    Semver,
    Ecosystem,
    Git,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeEvent {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

/// A DSSE envelope (parsed only; verification is the `attest` crate's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub payload_type: String,
    /// The decoded payload bytes, base64 in JSON output.
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
    /// The decoded signature bytes, base64 in JSON output.
    #[serde(with = "b64")]
    pub sig: Vec<u8>,
}

/// An in-toto attestation: the statement, and the envelope it came in when it came in one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attestation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope: Option<Envelope>,
    pub statement: Statement,
}

/// An in-toto Statement (v0.1 or v1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// `_type` as written: `https://in-toto.io/Statement/v0.1` or `https://in-toto.io/Statement/v1`.
    pub statement_type: String,
    pub subjects: Vec<Subject>,
    pub predicate_type: String,
    /// The predicate, as JSON.
    pub predicate: serde_json::Value,
    /// SLSA provenance facts when the predicate is SLSA provenance v0.2 or v1 (unverified here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    /// Algorithm -> lower-case hex.
    pub digest: BTreeMap<String, String>,
}

/// Facts of a SLSA provenance predicate, common to v0.2 and v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// `0.2` or `1`.
    pub slsa_version: String,
    pub builder_id: String,
    pub build_type: String,
    /// Source repository URI (v0.2 `invocation.configSource.uri`, v1 the resolved dependency or
    /// external parameter that names the workflow's repository), without the `git+` prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_repo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_commit: Option<String>,
    /// v0.2 `invocation` / v1 `buildDefinition.externalParameters`, as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation: Option<serde_json::Value>,
    /// v0.2 `materials` / v1 `resolvedDependencies`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub materials: Vec<Material>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_started_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_finished_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_key_prefers_cve_and_drops_qualifiers() {
        let a = Finding::package_key(
            "GHSA-jfh8-c2jp-5v3q",
            &["CVE-2021-44228".into()],
            Some("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar"),
            "log4j-core",
            Some("2.14.1"),
        );
        let b = Finding::package_key(
            "CVE-2021-44228",
            &[],
            Some("pkg:Maven/org.apache.logging.log4j/log4j-core@2.14.1"),
            "log4j-core",
            Some("2.14.1"),
        );
        assert_eq!(a, b);
        assert_eq!(
            a,
            "vuln:CVE-2021-44228|pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
        );
    }

    #[test]
    fn code_key_uses_fingerprints_then_location() {
        let mut fp = BTreeMap::new();
        assert_eq!(
            Finding::code_key("py/sql", &fp, Some("./src//a.py"), Some(3)),
            "code:py/sql|src/a.py:3"
        );
        fp.insert("primaryLocationLineHash".into(), "abc:1".into());
        assert_eq!(
            Finding::code_key("py/sql", &fp, Some("src/a.py"), Some(3)),
            "code:py/sql|fp:primaryLocationLineHash=abc:1"
        );
    }

    #[test]
    fn fix_states_from_trivy_and_grype_words() {
        assert_eq!(FixState::from_word("will_not_fix"), FixState::WontFix);
        assert_eq!(FixState::from_word("wont-fix"), FixState::WontFix);
        assert_eq!(FixState::from_word("not-fixed"), FixState::NotFixed);
        assert_eq!(FixState::from_word("affected"), FixState::NotFixed);
        assert_eq!(FixState::from_word("Fixed"), FixState::Fixed);
        assert_eq!(FixState::from_word("?"), FixState::Unknown);
    }

    #[test]
    fn cvss_thresholds() {
        assert_eq!(Severity::from_cvss_score(10.0), Severity::Critical);
        assert_eq!(Severity::from_cvss_score(9.0), Severity::Critical);
        assert_eq!(Severity::from_cvss_score(8.9), Severity::High);
        assert_eq!(Severity::from_cvss_score(4.0), Severity::Medium);
        assert_eq!(Severity::from_cvss_score(0.1), Severity::Low);
        assert_eq!(Severity::from_cvss_score(0.0), Severity::Info);
        assert_eq!(Severity::from_cvss_score(f64::NAN), Severity::Unknown);
    }

    #[test]
    fn long_text_is_bounded_on_a_char_boundary() {
        assert_eq!(bounded_text("short"), "short");
        let long = "é".repeat(MAX_FINDING_TEXT); // two bytes each
        let b = bounded_text(&long);
        assert!(b.ends_with(" [truncated by portcullis]"));
        assert!(b.len() <= MAX_FINDING_TEXT + 30);
    }

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize_path("file://src\\main.rs"), "src/main.rs");
        assert_eq!(normalize_path("././a//b"), "a/b");
        assert_eq!(normalize_path("/abs/x"), "/abs/x");
    }
}
