//! TLS checks: versions accepted, weak cipher families, and the certificate (name, expiry,
//! chain, signature algorithm). Handshakes go through rustls; what rustls cannot offer
//! (SSLv3, TLS 1.0/1.1, CBC/RC4/3DES) through [`crate::hello`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;

use crate::expect::{TlsExpectation, TlsPolicy};
use crate::hello::{self, Answer};
use crate::protocol::{CipherFamily, Version};
use crate::report::Check;

/// Where trust comes from for chain checks.
#[derive(Debug, Clone)]
pub struct Roots {
    pub label: String,
    pub store: Arc<rustls::RootCertStore>,
}

impl Roots {
    /// The system's roots (rustls-native-certs).
    pub fn system() -> Self {
        let mut store = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
        Self {
            label: "the system roots".into(),
            store: Arc::new(store),
        }
    }

    /// A PEM bundle.
    pub fn bundle(path: &std::path::Path) -> Result<Self, BundleError> {
        use rustls_pki_types::pem::PemObject;
        let mut store = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(path)?.collect::<Result<Vec<_>, _>>()?;
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(BundleError::NoCertificate);
        }
        Ok(Self {
            label: path.display().to_string(),
            store: Arc::new(store),
        })
    }
}

/// Why a CA bundle cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{0}")]
    Pem(#[from] rustls_pki_types::pem::Error),
    #[error("no usable certificate in the bundle")]
    NoCertificate,
}

/// Why a TLS handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("rustls offers TLS 1.2 and 1.3 only")]
    UnsupportedVersion,
    #[error("{0}")]
    Config(#[source] rustls::Error),
    #[error("{name:?} is not a server name: {source}")]
    ServerName {
        name: String,
        source: rustls_pki_types::InvalidDnsNameError,
    },
    #[error("connection: {0}")]
    Connect(#[source] std::io::Error),
    #[error("handshake: {0}")]
    Handshake(#[source] std::io::Error),
    #[error("no protocol version negotiated")]
    NoVersion,
    #[error("no handshake within the timeout")]
    Timeout,
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Completes every handshake and keeps the chain: trust is judged afterwards, on its own, so
/// that an untrusted certificate still tells us its version, suite, name and expiry.
#[derive(Debug)]
struct Recorder {
    provider: Arc<CryptoProvider>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            *chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// One rustls handshake restricted to `version`.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub version: Version,
    pub suite: String,
    pub chain: Vec<CertificateDer<'static>>,
}

pub async fn handshake(
    addr: SocketAddr,
    server_name: &str,
    version: Version,
    timeout: Duration,
) -> Result<Handshake, HandshakeError> {
    let provider = provider();
    let versions: &[&'static rustls::SupportedProtocolVersion] = match version {
        Version::Tls13 => &[&rustls::version::TLS13],
        Version::Tls12 => &[&rustls::version::TLS12],
        _ => return Err(HandshakeError::UnsupportedVersion),
    };
    let recorder = Arc::new(Recorder {
        provider: provider.clone(),
        chain: Mutex::new(Vec::new()),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(HandshakeError::Config)?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let name = server_name_of(server_name)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let run = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(HandshakeError::Connect)?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(HandshakeError::Handshake)?;
        let conn = tls.get_ref().1;
        let version = conn
            .protocol_version()
            .and_then(|v| Version::from_wire(u16::from(v)))
            .ok_or(HandshakeError::NoVersion)?;
        let suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        Ok::<_, HandshakeError>((version, suite))
    };
    let (version, suite) = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| HandshakeError::Timeout)??;
    let chain = recorder.chain.lock().map(|c| c.clone()).unwrap_or_default();
    Ok(Handshake {
        version,
        suite,
        chain,
    })
}

fn server_name_of(s: &str) -> Result<ServerName<'static>, HandshakeError> {
    ServerName::try_from(s.trim_matches(['[', ']']).to_string()).map_err(|source| {
        HandshakeError::ServerName {
            name: s.to_owned(),
            source,
        }
    })
}

/// Everything observed on one TLS port of one address.
#[derive(Debug, Clone)]
pub struct Observation {
    pub accepted: Vec<(Version, String)>,
    pub refused: Vec<(Version, String)>,
    pub families: Vec<(CipherFamily, Answer)>,
    pub chain: Vec<CertificateDer<'static>>,
}

pub async fn observe(
    addr: SocketAddr,
    server_name: &str,
    families: impl Iterator<Item = CipherFamily>,
    timeout: Duration,
) -> Observation {
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    let mut chain = Vec::new();
    for v in [Version::Tls13, Version::Tls12] {
        match handshake(addr, server_name, v, timeout).await {
            Ok(h) => {
                if chain.is_empty() {
                    chain = h.chain;
                }
                accepted.push((v, h.suite));
            }
            Err(e) => refused.push((v, e.to_string())),
        }
    }
    for v in [Version::Tls11, Version::Tls10, Version::Ssl3] {
        match hello::offer_version(addr, Some(server_name), v, timeout).await {
            Answer::Accepted { suite, .. } => accepted.push((v, format!("{suite:#06x}"))),
            Answer::Refused(why) => refused.push((v, why)),
        }
    }
    let mut fam = Vec::new();
    for f in families {
        fam.push((
            f,
            hello::offer_family(addr, Some(server_name), f, timeout).await,
        ));
    }
    Observation {
        accepted,
        refused,
        families: fam,
        chain,
    }
}

/// The checks of one TLS expectation on one address.
pub fn judge(
    target: &str,
    exp: &TlsExpectation,
    policy: &TlsPolicy,
    server_name: &str,
    roots: &Roots,
    obs: &Observation,
    now: i64,
) -> Vec<Check> {
    let controls = exp.controls();
    let mut out = Vec::new();
    let check = crate::report::checker(target, &controls);

    // Versions.
    let names: Vec<&str> = obs.accepted.iter().map(|(v, _)| v.name()).collect();
    let below: Vec<&str> = obs
        .accepted
        .iter()
        .filter(|(v, _)| *v < policy.min_version || policy.forbidden_protocols.contains(v))
        .map(|(v, _)| v.name())
        .collect();
    let mut expected = format!("{} or later", policy.min_version.name());
    if !policy.forbidden_protocols.is_empty() {
        let f: Vec<&str> = policy
            .forbidden_protocols
            .iter()
            .map(|v| v.name())
            .collect();
        expected.push_str(&format!("; not {}", f.join(", ")));
    }
    let (deviation, message) = if names.is_empty() {
        let why: Vec<String> = obs
            .refused
            .iter()
            .take(2)
            .map(|(v, e)| format!("{}: {e}", v.name()))
            .collect();
        (
            true,
            format!("no TLS version accepted ({})", why.join("; ")),
        )
    } else if below.is_empty() {
        (false, "accepted versions as declared".to_string())
    } else {
        (true, format!("accepts {}", below.join(", ")))
    };
    out.push(check(
        "tls",
        expected,
        (!names.is_empty()).then(|| names.join(", ")),
        deviation,
        message,
    ));
    if names.is_empty() {
        return out;
    }

    // Cipher families.
    for (family, answer) in &obs.families {
        let (observed, deviation) = match answer {
            Answer::Accepted { version, suite } => (
                format!("accepts suite {suite:#06x} ({})", version.name()),
                true,
            ),
            Answer::Refused(_) => ("refused".to_string(), false),
        };
        out.push(check(
            "tls-cipher",
            format!("no {} cipher suites", family.name()),
            Some(observed.clone()),
            deviation,
            if deviation {
                format!("a {} cipher suite is accepted: {observed}", family.name())
            } else {
                format!("{} suites refused", family.name())
            },
        ));
    }

    // The certificate.
    if let Some(cert) = &exp.certificate {
        out.extend(certificate_checks(
            target,
            cert,
            server_name,
            roots,
            &obs.chain,
            now,
            &controls,
        ));
    }
    out
}

const WEAK_SIGNATURES: &[(&str, &str)] = &[
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption"),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
    ("1.2.840.10040.4.3", "dsa-with-sha1"),
];

fn certificate_checks(
    target: &str,
    exp: &crate::expect::CertificateExpectation,
    server_name: &str,
    roots: &Roots,
    chain: &[CertificateDer<'static>],
    now: i64,
    controls: &[String],
) -> Vec<Check> {
    let mut out = Vec::new();
    let check = |expected: String, observed: Option<String>, deviation: bool, msg: String| {
        Check::new(
            target,
            "tls-certificate",
            Some(expected),
            observed,
            deviation,
            msg,
            controls,
        )
    };
    let Some(leaf_der) = chain.first() else {
        out.push(check(
            "a certificate".into(),
            None,
            true,
            "the server sent no certificate".into(),
        ));
        return out;
    };
    let leaf = match x509_parser::parse_x509_certificate(leaf_der.as_ref()) {
        Ok((_, c)) => c,
        Err(e) => {
            out.push(check(
                "a certificate".into(),
                None,
                true,
                format!("the certificate cannot be parsed: {e}"),
            ));
            return out;
        }
    };
    let not_before = leaf.validity().not_before.timestamp();
    let not_after = leaf.validity().not_after.timestamp();

    if exp.valid_for_name {
        let names = subject_names(&leaf);
        let ok = names.iter().any(|n| name_matches(n, server_name));
        out.push(check(
            format!("valid for {server_name}"),
            Some(format!("names: {}", names.join(", "))),
            !ok,
            if ok {
                format!("valid for {server_name}")
            } else {
                format!("the certificate is not valid for {server_name}")
            },
        ));
    }

    let days_left = (not_after - now).div_euclid(86_400);
    let min_days = i64::from(exp.min_days_valid.unwrap_or(0));
    let expired = now > not_after || now < not_before;
    let deviation = expired || days_left < min_days;
    let after = chrono::DateTime::from_timestamp(not_after, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_else(|| not_after.to_string());
    out.push(check(
        format!("valid now and for at least {min_days} days"),
        Some(format!("not after {after} ({days_left} days left)")),
        deviation,
        if now > not_after {
            format!("the certificate expired on {after}")
        } else if now < not_before {
            "the certificate is not valid yet".to_string()
        } else if deviation {
            format!("the certificate expires in {days_left} days, within {min_days}")
        } else {
            format!("valid for {days_left} more days")
        },
    ));

    // Trust, judged at a moment inside the leaf's validity so that expiry is not counted
    // twice; a name mismatch is the name check's business.
    let verifier =
        WebPkiServerVerifier::builder_with_provider(roots.store.clone(), provider()).build();
    let trusted = match (verifier, server_name_of(server_name)) {
        (Err(e), _) => Err(format!("no roots: {e}")),
        (_, Err(e)) => Err(e.to_string()),
        (Ok(v), Ok(name)) => {
            let mid = not_before + (not_after - not_before) / 2;
            let at =
                UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(mid).unwrap_or(0)));
            match v.verify_server_cert(leaf_der, chain.get(1..).unwrap_or(&[]), &name, &[], at) {
                Ok(_) => Ok(()),
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. },
                )) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    out.push(check(
        format!("chain trusted by {}", roots.label),
        Some(match &trusted {
            Ok(()) => "trusted".to_string(),
            Err(e) => format!("untrusted: {e}"),
        }),
        trusted.is_err(),
        match &trusted {
            Ok(()) => format!("chain trusted by {}", roots.label),
            Err(e) => format!("the chain is not trusted by {}: {e}", roots.label),
        },
    ));

    if exp.no_weak_signature {
        let mut weak = Vec::new();
        // Every signature the client relies on: all but a self-signed root at the end.
        for der in chain {
            if let Ok((_, c)) = x509_parser::parse_x509_certificate(der.as_ref()) {
                if c.subject() == c.issuer() && chain.len() > 1 {
                    continue;
                }
                let oid = c.signature_algorithm.algorithm.to_id_string();
                if let Some((_, name)) = WEAK_SIGNATURES.iter().find(|(o, _)| *o == oid) {
                    weak.push(format!("{} signed with {name}", c.subject()));
                }
            }
        }
        out.push(check(
            "no weak signature algorithm".into(),
            Some(if weak.is_empty() {
                "none".into()
            } else {
                weak.join("; ")
            }),
            !weak.is_empty(),
            if weak.is_empty() {
                "no weak signature".into()
            } else {
                format!("weak signature: {}", weak.join("; "))
            },
        ));
    }
    out
}

fn subject_names(c: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let mut names = Vec::new();
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push(d.to_string()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => {
                        let a: [u8; 4] =
                            b.get(..4).and_then(|s| s.try_into().ok()).unwrap_or([0; 4]);
                        names.push(std::net::Ipv4Addr::from(a).to_string());
                    }
                    16 => {
                        let a: [u8; 16] = b
                            .get(..16)
                            .and_then(|s| s.try_into().ok())
                            .unwrap_or([0; 16]);
                        names.push(std::net::Ipv6Addr::from(a).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    names
}

/// RFC 6125: exact (case-insensitive), or a wildcard in the leftmost label only.
fn name_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    let n = n.trim_matches(['[', ']']);
    if p == n {
        return true;
    }
    if let Some(rest) = p.strip_prefix("*.")
        && let Some((first, tail)) = n.split_once('.')
    {
        return !first.is_empty() && tail == rest && rest.contains('.');
    }
    if let (Ok(a), Ok(b)) = (p.parse::<std::net::IpAddr>(), n.parse::<std::net::IpAddr>()) {
        return a == b;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_in_every_spelling() {
        assert_eq!(Version::parse("TLSv1.2"), Some(Version::Tls12));
        assert_eq!(Version::parse("TLS 1.0"), Some(Version::Tls10));
        assert_eq!(Version::parse("tls1_1"), Some(Version::Tls11));
        assert_eq!(Version::parse("SSLv3"), Some(Version::Ssl3));
        assert_eq!(Version::parse("TLSv1"), Some(Version::Tls10));
        assert_eq!(Version::parse("1.2"), None);
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("*.example.com", "a.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.com", "example.com"));
        assert!(name_matches("LOCALHOST", "localhost"));
        assert!(name_matches("127.0.0.1", "127.0.0.1"));
    }
}
