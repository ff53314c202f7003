//! The expectations file: what each declared target is meant to expose.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ProbeError;

/// The `apiVersion` this build reads.
pub const API_VERSION: &str = "portcullis.dev/probe/v1";

/// Largest expectations file read, in bytes.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

pub const DEFAULT_PORT_CONTROLS: [&str; 2] = ["CM-7", "SC-7"];
pub const DEFAULT_TLS_CONTROLS: [&str; 2] = ["SC-8", "SC-13"];
pub const DEFAULT_HTTP_CONTROLS: [&str; 2] = ["SC-8", "SC-23"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expectations {
    pub api_version: String,
    pub targets: Vec<Target>,
    /// Where the file was read from (relative CA bundle paths resolve against its directory).
    #[serde(skip)]
    pub source: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    /// An IP address or a host name (every A/AAAA record is probed).
    pub address: String,
    #[serde(default)]
    pub tcp: Option<TcpExpectation>,
    #[serde(default)]
    pub tls: Vec<TlsExpectation>,
    #[serde(default)]
    pub http: Vec<HttpExpectation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpExpectation {
    /// `all`, `top-1000` or a list of ports and ranges.
    #[serde(default)]
    pub scan: Option<ScanScope>,
    /// Ports that may be open; anything else open is a deviation.
    #[serde(default)]
    pub allowed: PortList,
    /// Ports that must be open.
    #[serde(default)]
    pub required: PortList,
    /// Ports the firewall must drop (no answer at all, not even a reset).
    #[serde(default)]
    pub filtered: PortList,
    #[serde(default)]
    pub controls: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ScanScope {
    Named(String),
    Ports(PortList),
}

/// Ports and ranges: `[443, "8000-8100"]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct PortList(pub Vec<PortItem>);

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PortItem {
    Port(u16),
    Range(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsExpectation {
    pub port: u16,
    /// SNI and the name the certificate must be valid for (default: the target's address).
    #[serde(default)]
    pub server_name: Option<String>,
    /// `modern` (TLS 1.3 only) or `intermediate` (TLS 1.2+, AEAD ciphers only), after Mozilla's
    /// server-side TLS profiles. Explicit settings below override it.
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub min_version: Option<String>,
    #[serde(default)]
    pub forbidden_protocols: Option<Vec<String>>,
    #[serde(default)]
    pub forbidden_ciphers: Option<Vec<String>>,
    #[serde(default)]
    pub certificate: Option<CertificateExpectation>,
    #[serde(default)]
    pub controls: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateExpectation {
    #[serde(default = "yes")]
    pub valid_for_name: bool,
    /// The certificate must stay valid for at least this many days.
    #[serde(default)]
    pub min_days_valid: Option<u32>,
    /// A PEM CA bundle (relative to the expectations file), or `system` (the default).
    #[serde(default)]
    pub ca_bundle: Option<String>,
    #[serde(default = "yes")]
    pub no_weak_signature: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpExpectation {
    pub url: String,
    #[serde(default)]
    pub status: Option<u16>,
    /// Strict-Transport-Security with at least this max-age (seconds).
    #[serde(default)]
    pub hsts_min_max_age: Option<u64>,
    /// Content-Security-Policy present; `strict` also forbids unsafe-inline and unsafe-eval.
    #[serde(default)]
    pub csp: Option<CspExpectation>,
    #[serde(default)]
    pub nosniff: bool,
    /// X-Frame-Options, or CSP frame-ancestors.
    #[serde(default)]
    pub frame_options: bool,
    #[serde(default)]
    pub referrer_policy: bool,
    #[serde(default)]
    pub cookies: Option<CookieExpectation>,
    /// No `Access-Control-Allow-Origin: *` together with credentials.
    #[serde(default)]
    pub no_wildcard_cors_with_credentials: bool,
    /// Headers that must not be sent; `server-version` forbids a Server header with a version.
    #[serde(default)]
    pub forbidden_headers: Vec<String>,
    /// Plain HTTP on this host redirects to HTTPS on the same host: `true` (port 80), or the
    /// plain `http://` URL to try.
    #[serde(default)]
    pub redirect_https: Option<RedirectExpectation>,
    /// CA bundle for HTTPS URLs (default: system roots).
    #[serde(default)]
    pub ca_bundle: Option<String>,
    #[serde(default)]
    pub controls: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RedirectExpectation {
    Enabled(bool),
    From(String),
}

impl RedirectExpectation {
    /// The plain-HTTP URL to try for `url`, if the redirect is expected.
    pub fn plain_url(&self, url: &reqwest::Url) -> Option<reqwest::Url> {
        match self {
            Self::Enabled(false) => None,
            Self::Enabled(true) => {
                let mut u = url.clone();
                u.set_scheme("http").ok()?;
                u.set_port(None).ok()?;
                Some(u)
            }
            Self::From(s) => reqwest::Url::parse(s).ok(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CspExpectation {
    Present(bool),
    Mode(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieExpectation {
    #[serde(default)]
    pub secure: bool,
    #[serde(default)]
    pub http_only: bool,
    #[serde(default)]
    pub same_site: bool,
}

/// The TLS settings a [`TlsExpectation`] amounts to, profile applied.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsPolicy {
    pub min_version: crate::protocol::Version,
    pub forbidden_protocols: BTreeSet<crate::protocol::Version>,
    pub forbidden_ciphers: BTreeSet<crate::protocol::CipherFamily>,
}

impl Expectations {
    /// Read and validate an expectations file.
    pub fn load(path: &Path) -> Result<Self, ProbeError> {
        let file = || path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| ProbeError::Read(file(), e))?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(ProbeError::Invalid {
                file: file(),
                location: String::new(),
                message: format!(
                    "{} bytes, more than the {MAX_FILE_BYTES} accepted",
                    meta.len()
                ),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| ProbeError::Read(file(), e))?;
        let mut parsed = Self::parse(&text, &file())?;
        parsed.source = path.to_path_buf();
        Ok(parsed)
    }

    /// Parse and validate; errors name `file`, the line:column and the field path.
    pub fn parse(text: &str, file: &str) -> Result<Self, ProbeError> {
        let de = yaml_serde::Deserializer::from_str(text);
        let parsed: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let loc = inner
                .location()
                .map(|l| format!("{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            ProbeError::Invalid {
                file: file.to_string(),
                location: if path == "." || path.is_empty() {
                    loc
                } else if loc.is_empty() {
                    path
                } else {
                    format!("{loc} ({path})")
                },
                message: inner.to_string(),
            }
        })?;
        parsed.validate(file)?;
        Ok(parsed)
    }

    fn validate(&self, file: &str) -> Result<(), ProbeError> {
        let bad = |location: String, message: String| ProbeError::Invalid {
            file: file.to_string(),
            location,
            message,
        };
        if self.api_version != API_VERSION {
            return Err(bad(
                "apiVersion".into(),
                format!(
                    "unknown apiVersion {:?} (this build reads {API_VERSION:?})",
                    self.api_version
                ),
            ));
        }
        if self.targets.is_empty() {
            return Err(bad("targets".into(), "no targets declared".into()));
        }
        let mut names = BTreeSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            let at = |f: &str| format!("targets[{i}]{f}");
            if t.name.trim().is_empty() || !names.insert(t.name.as_str()) {
                return Err(bad(
                    at(".name"),
                    format!("empty or repeated name {:?}", t.name),
                ));
            }
            if t.address.trim().is_empty() {
                return Err(bad(at(".address"), "empty address".into()));
            }
            if let Some(tcp) = &t.tcp {
                for (field, list) in [
                    ("allowed", &tcp.allowed),
                    ("required", &tcp.required),
                    ("filtered", &tcp.filtered),
                ] {
                    list.ports()
                        .map_err(|m| bad(at(&format!(".tcp.{field}")), m.to_string()))?;
                }
                if let Some(scope) = &tcp.scan {
                    scope
                        .ports()
                        .map_err(|m| bad(at(".tcp.scan"), m.to_string()))?;
                }
            }
            for (j, tls) in t.tls.iter().enumerate() {
                tls.policy()
                    .map_err(|m| bad(at(&format!(".tls[{j}]")), m.to_string()))?;
            }
            for (j, h) in t.http.iter().enumerate() {
                let url = reqwest::Url::parse(&h.url)
                    .map_err(|e| bad(at(&format!(".http[{j}].url")), e.to_string()))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(bad(
                        at(&format!(".http[{j}].url")),
                        "only http and https URLs are probed".into(),
                    ));
                }
                if !same_host(url.host_str().unwrap_or(""), &t.address)
                    && !tls_names(t).any(|n| same_host(url.host_str().unwrap_or(""), n))
                {
                    return Err(bad(
                        at(&format!(".http[{j}].url")),
                        format!(
                            "host {:?} is not the target's address {:?} (or a declared server_name): only declared targets are probed",
                            url.host_str().unwrap_or(""),
                            t.address
                        ),
                    ));
                }
                if let Some(RedirectExpectation::From(plain)) = &h.redirect_https {
                    let p = reqwest::Url::parse(plain).map_err(|e| {
                        bad(at(&format!(".http[{j}].redirect_https")), e.to_string())
                    })?;
                    if p.scheme() != "http" || p.host_str() != url.host_str() {
                        return Err(bad(
                            at(&format!(".http[{j}].redirect_https")),
                            "an http:// URL on the same host as url".into(),
                        ));
                    }
                }
                if let Some(CspExpectation::Mode(m)) = &h.csp
                    && m != "strict"
                {
                    return Err(bad(
                        at(&format!(".http[{j}].csp")),
                        format!("{m:?}: csp is true, false or \"strict\""),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The CA bundle path as declared, resolved against the expectations file's directory.
    pub fn resolve(&self, declared: &str) -> PathBuf {
        let p = Path::new(declared);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.source
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .join(p)
        }
    }
}

fn tls_names(t: &Target) -> impl Iterator<Item = &str> {
    t.tls.iter().filter_map(|x| x.server_name.as_deref())
}

fn same_host(a: &str, b: &str) -> bool {
    a.trim_matches(['[', ']'])
        .eq_ignore_ascii_case(b.trim_matches(['[', ']']))
}

/// A declared value that means nothing (ports, scan scope, TLS profile, versions, ciphers); the
/// caller adds the file and the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarationError {
    #[error("port 0 is not a TCP port")]
    PortZero,
    #[error("{range:?}: {item:?} is not a port 1-65535")]
    NotAPort { range: String, item: String },
    #[error("{0:?}: the range is reversed")]
    ReversedRange(String),
    #[error("{0:?}: scan is `all`, `top-1000` or a list of ports and ranges")]
    UnknownScan(String),
    #[error("profile {0:?}: known profiles are `modern` and `intermediate`")]
    UnknownProfile(String),
    #[error("min_version {0:?}: one of SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3")]
    UnknownMinVersion(String),
    #[error("forbidden_protocols: {0:?}")]
    UnknownProtocol(String),
    #[error("forbidden_ciphers: {0:?} (known: CBC, RC4, 3DES)")]
    UnknownCipher(String),
}

impl PortList {
    /// The ports named, sorted; an error names the bad item.
    pub fn ports(&self) -> Result<BTreeSet<u16>, DeclarationError> {
        let mut out = BTreeSet::new();
        for item in &self.0 {
            match item {
                PortItem::Port(0) => return Err(DeclarationError::PortZero),
                PortItem::Port(p) => {
                    out.insert(*p);
                }
                PortItem::Range(s) => {
                    let (lo, hi) = parse_range(s)?;
                    out.extend(lo..=hi);
                }
            }
        }
        Ok(out)
    }
}

fn parse_range(s: &str) -> Result<(u16, u16), DeclarationError> {
    let num = |x: &str| {
        x.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| DeclarationError::NotAPort {
                range: s.to_owned(),
                item: x.to_owned(),
            })
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (lo, hi) = (num(a)?, num(b)?);
            if lo > hi {
                return Err(DeclarationError::ReversedRange(s.to_owned()));
            }
            Ok((lo, hi))
        }
        None => num(s).map(|p| (p, p)),
    }
}

impl ScanScope {
    pub fn ports(&self) -> Result<BTreeSet<u16>, DeclarationError> {
        match self {
            ScanScope::Named(n) if n == "all" => Ok((1..=u16::MAX).collect()),
            ScanScope::Named(n) if n == "top-1000" => {
                Ok(crate::top_ports::TOP_1000.iter().copied().collect())
            }
            ScanScope::Named(n) => Err(DeclarationError::UnknownScan(n.clone())),
            ScanScope::Ports(list) => list.ports(),
        }
    }
}

impl TcpExpectation {
    /// Every port probed: the scan scope plus every port named in the declaration.
    pub fn scan_ports(&self) -> BTreeSet<u16> {
        let mut ports = match &self.scan {
            Some(s) => s.ports().unwrap_or_default(),
            None => crate::top_ports::TOP_1000.iter().copied().collect(),
        };
        for list in [&self.allowed, &self.required, &self.filtered] {
            ports.extend(list.ports().unwrap_or_default());
        }
        ports
    }

    pub fn controls(&self) -> Vec<String> {
        controls(&self.controls, &DEFAULT_PORT_CONTROLS)
    }
}

impl TlsExpectation {
    pub fn policy(&self) -> Result<TlsPolicy, DeclarationError> {
        use crate::protocol::CipherFamily;
        use crate::protocol::Version;
        let legacy: BTreeSet<Version> = [Version::Ssl3, Version::Tls10, Version::Tls11].into();
        let weak: BTreeSet<CipherFamily> = CipherFamily::ALL.into_iter().collect();
        let mut policy = match self.profile.as_deref() {
            None | Some("intermediate") => TlsPolicy {
                min_version: Version::Tls12,
                forbidden_protocols: legacy,
                forbidden_ciphers: weak,
            },
            Some("modern") => TlsPolicy {
                min_version: Version::Tls13,
                forbidden_protocols: legacy,
                forbidden_ciphers: weak,
            },
            Some(other) => return Err(DeclarationError::UnknownProfile(other.to_owned())),
        };
        if let Some(v) = &self.min_version {
            policy.min_version =
                Version::parse(v).ok_or_else(|| DeclarationError::UnknownMinVersion(v.clone()))?;
        }
        if let Some(list) = &self.forbidden_protocols {
            policy.forbidden_protocols = list
                .iter()
                .map(|v| {
                    Version::parse(v).ok_or_else(|| DeclarationError::UnknownProtocol(v.clone()))
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(list) = &self.forbidden_ciphers {
            policy.forbidden_ciphers = list
                .iter()
                .map(|c| {
                    CipherFamily::parse(c).ok_or_else(|| DeclarationError::UnknownCipher(c.clone()))
                })
                .collect::<Result<_, _>>()?;
        }
        Ok(policy)
    }

    pub fn controls(&self) -> Vec<String> {
        controls(&self.controls, &DEFAULT_TLS_CONTROLS)
    }
}

impl HttpExpectation {
    pub fn controls(&self) -> Vec<String> {
        controls(&self.controls, &DEFAULT_HTTP_CONTROLS)
    }
}

fn controls(declared: &Option<Vec<String>>, default: &[&str]) -> Vec<String> {
    declared
        .clone()
        .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_lists() {
        let l: PortList = yaml_serde::from_str("[22, \"8000-8002\", \"443\"]").unwrap();
        assert_eq!(
            l.ports().unwrap().into_iter().collect::<Vec<_>>(),
            vec![22, 443, 8000, 8001, 8002]
        );
        let bad: PortList = yaml_serde::from_str("[\"9-3\"]").unwrap();
        assert!(bad.ports().is_err());
    }

    #[test]
    fn errors_name_file_line_and_path() {
        let text = "apiVersion: portcullis.dev/probe/v1\ntargets:\n  - name: a\n    address: 127.0.0.1\n    tcp:\n      allowd: [1]\n";
        let e = Expectations::parse(text, "x.yaml").unwrap_err().to_string();
        assert!(e.contains("x.yaml"), "{e}");
        assert!(e.contains("6:"), "{e}");
        assert!(e.contains("targets[0].tcp"), "{e}");
    }

    #[test]
    fn unknown_api_version_and_garbage_are_errors() {
        for text in [
            "apiVersion: v0\ntargets: []\n",
            "\u{0}\u{1}::",
            "",
            "targets: 5",
        ] {
            assert!(Expectations::parse(text, "f").is_err(), "{text:?}");
        }
    }

    #[test]
    fn the_example_parses() {
        let text = include_str!("../../../examples/probe/expectations.yaml");
        let e = Expectations::parse(text, "examples/probe/expectations.yaml").unwrap();
        let tcp = e.targets[0].tcp.as_ref().unwrap();
        assert!(tcp.scan_ports().len() >= 1000);
        assert_eq!(tcp.controls(), vec!["CM-7", "SC-7"]);
        assert_eq!(e.targets[0].tls[0].controls(), vec!["SC-8", "SC-13"]);
    }

    #[test]
    fn no_panic_on_mangled_input() {
        let text = include_str!("../../../examples/probe/expectations.yaml");
        let bytes = text.as_bytes();
        for cut in (0..bytes.len()).step_by(7) {
            let mangled = String::from_utf8_lossy(&bytes[..cut]);
            let _ = Expectations::parse(&mangled, "f");
            let swapped = mangled.replace(':', "-").replace('[', "{");
            let _ = Expectations::parse(&swapped, "f");
        }
    }

    #[test]
    fn http_url_must_be_the_target() {
        let text = "apiVersion: portcullis.dev/probe/v1\ntargets:\n  - name: a\n    address: 127.0.0.1\n    http:\n      - url: http://example.com/\n";
        let e = Expectations::parse(text, "f").unwrap_err().to_string();
        assert!(e.contains("only declared targets"), "{e}");
    }
}
