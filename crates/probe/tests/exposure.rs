//! Real listeners on 127.0.0.1 (plain TCP, TLS with a test CA, HTTP with and without security
//! headers): every deviation is found and nothing else is reported. Only 127.0.0.1 is probed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use portcullis_probe::{Expectations, Options, Report, ScanConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "portcullis-probe-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn options() -> Options {
    Options {
        scan: ScanConfig {
            concurrency: 512,
            timeout: Duration::from_millis(1500),
            rate: None,
            reprobes: 2,
        },
        tls_timeout: Duration::from_secs(5),
        http_timeout: Duration::from_secs(5),
        ..Options::default()
    }
}

async fn probe(dir: &Path, yaml: &str) -> Report {
    let path = dir.join("expect.yaml");
    std::fs::write(&path, yaml).unwrap();
    let exp = Expectations::load(&path).unwrap();
    portcullis_probe::run(&exp, &options()).await.unwrap()
}

/// (check, expected) of every deviation.
fn deviations(r: &Report) -> BTreeSet<(String, String)> {
    r.deviating()
        .map(|c| (c.check.clone(), c.expected.clone().unwrap_or_default()))
        .collect()
}

fn ephemeral_range() -> (u16, u16) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap_or_else(|_| "32768 60999".into());
    let mut it = text.split_whitespace().filter_map(|x| x.parse().ok());
    (it.next().unwrap_or(32768), it.next().unwrap_or(60999))
}

async fn bind_in(lo: u16, hi: u16) -> TcpListener {
    for p in (lo..=hi).step_by(97) {
        if let Ok(l) = TcpListener::bind(("127.0.0.1", p)).await {
            return l;
        }
    }
    panic!("no free port in {lo}-{hi}");
}

async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_each_deviation_found_nothing_else() {
    let allowed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let required = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stray = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (lo, hi) = ephemeral_range();
    let ephemeral = bind_in(lo, hi).await;
    let [a, r, s, e] =
        [&allowed, &required, &stray, &ephemeral].map(|l| l.local_addr().unwrap().port());
    let closed_required = free_port().await;
    let must_filter = free_port().await;
    // Scan a window of the ephemeral range around the ephemeral listener (self-connects live
    // there) plus every declared port.
    let (wlo, whi) = (
        e.saturating_sub(1000).max(lo),
        e.saturating_add(1000).min(hi),
    );
    let dir = temp_dir("ports");
    let yaml = format!(
        "apiVersion: portcullis.dev/probe/v1
targets:
  - name: local
    address: 127.0.0.1
    tcp:
      scan: [\"{wlo}-{whi}\", {a}, {r}, {s}]
      allowed: [{a}, {e}]
      required: [{r}, {closed_required}]
      filtered: [{must_filter}]
"
    );
    let report = probe(&dir, &yaml).await;
    let got: BTreeSet<(String, String)> = report
        .deviating()
        .map(|c| (c.check.clone(), c.observed.clone().unwrap_or_default()))
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("port".to_string(), format!("{s}/tcp")),
        (
            "port-required".to_string(),
            format!("{closed_required}/tcp closed"),
        ),
        (
            "port-filtered".to_string(),
            format!("{must_filter}/tcp closed"),
        ),
    ]
    .into();
    // Other processes on this machine may listen in the window: those are real, undeclared
    // open ports (true positives), never ours, never self-connects.
    assert!(got.is_superset(&want), "{:#?}", report.checks);
    // Other tests on this machine start and stop listeners in the ephemeral range all the
    // time (servers, registries): a port open at the scan and closed a moment later is one of
    // those. A scanner that reported closed ports open (self-connects) would show them by the
    // dozen in a 2,000-port window, not one or two.
    let listening = |port: u16| {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .is_ok_and(|c| c.local_addr().ok() != c.peer_addr().ok())
    };
    let mut vanished = Vec::new();
    for (check, observed) in got.difference(&want) {
        let port: u16 = observed.trim_end_matches("/tcp").parse().unwrap();
        assert_eq!(check, "port");
        assert!(![a, r, s, e].contains(&port));
        if !listening(port) {
            vanished.push(port);
        }
    }
    let open: BTreeSet<u16> = report.targets[0].open[0].ports.iter().copied().collect();
    assert!(open.is_superset(&[a, r, s, e].into()), "{open:?}");
    // Nothing else in the window is reported open unless something else really listens there.
    for p in &open {
        if !([a, r, s, e].contains(p) || listening(*p) || vanished.contains(p)) {
            vanished.push(*p);
        }
    }
    assert!(
        vanished.len() <= 2,
        "reported open but nothing listens now: {vanished:?} (self-connects retried: {})",
        report.probe.self_connects
    );
    for c in report.deviating() {
        assert_eq!(c.probes, 3, "re-probed twice: {c:?}");
        assert_eq!(c.controls, vec!["CM-7", "SC-7"]);
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["kind"], "exposure");
    assert_eq!(json["version"], "1");
    drop((allowed, required, stray, ephemeral));
}

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca() -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "Portcullis test CA");
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = p.self_signed(&key).unwrap();
    Ca { cert, key }
}

fn leaf(
    ca: &Ca,
    names: &[&str],
    expired: bool,
) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    if expired {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (
        vec![cert.der().clone(), ca.cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

const GOOD_HEADERS: &str = "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\nContent-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\nSet-Cookie: session=1; Secure; HttpOnly; SameSite=Lax\r\nServer: web\r\n";
const BAD_HEADERS: &str = "Content-Security-Policy: default-src 'self' 'unsafe-inline'\r\nSet-Cookie: session=1; Path=/\r\nServer: nginx/1.25.3\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Credentials: true\r\n";

async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S, head: &str) {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 65536 {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    let _ = s
        .write_all(format!("{head}Content-Length: 2\r\nConnection: close\r\n\r\nok").as_bytes())
        .await;
    let _ = s.shutdown().await;
}

/// A plain HTTP server answering every request with `head` (status line and headers).
async fn http_server(head: String) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let head = head.clone();
            tokio::spawn(async move { answer(s, &head).await });
        }
    });
    port
}

async fn tls_server(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    head: &'static str,
) -> u16 {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(Ok(tls)) =
                    tokio::time::timeout(Duration::from_secs(5), acceptor.accept(s)).await
                {
                    answer(tls, head).await;
                }
            });
        }
    });
    port
}

fn tls_yaml(port: u16, extra: &str) -> String {
    format!(
        "      - port: {port}
        server_name: localhost
{extra}        certificate:
          min_days_valid: 30
          ca_bundle: ca.pem
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_each_deviation_found_nothing_else() {
    let ca = ca();
    let dir = temp_dir("tls");
    std::fs::write(dir.join("ca.pem"), ca.cert.pem()).unwrap();
    let all = &[&rustls::version::TLS13, &rustls::version::TLS12];
    let ok_head = "HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=31536000\r\n";
    let (c, k) = leaf(&ca, &["localhost", "127.0.0.1"], false);
    let valid = tls_server(c, k, all, ok_head).await;
    let (c, k) = leaf(&ca, &["localhost"], true);
    let expired = tls_server(c, k, all, ok_head).await;
    let (c, k) = leaf(&ca, &["other.example"], false);
    let wrong_name = tls_server(c, k, all, ok_head).await;
    let (c, k) = leaf(&ca, &["localhost"], false);
    let tls12_only = tls_server(c, k, &[&rustls::version::TLS12], ok_head).await;
    let other_ca = self::ca();
    let (c, k) = leaf(&other_ca, &["localhost"], false);
    let untrusted = tls_server(c, k, all, ok_head).await;

    let yaml = format!(
        "apiVersion: portcullis.dev/probe/v1
targets:
  - name: local
    address: 127.0.0.1
    tls:
{}{}{}{}{}    http:
      - url: https://localhost:{valid}/
        status: 200
        hsts_min_max_age: 15552000
        ca_bundle: ca.pem
",
        tls_yaml(valid, "        profile: intermediate\n"),
        tls_yaml(expired, ""),
        tls_yaml(wrong_name, ""),
        tls_yaml(tls12_only, "        profile: modern\n"),
        tls_yaml(untrusted, ""),
    );
    let report = probe(&dir, &yaml).await;
    let by_port = |port: u16| -> BTreeSet<(String, String)> {
        report
            .deviating()
            .filter(|c| c.target.ends_with(&format!(":{port}")))
            .map(|c| (c.check.clone(), c.expected.clone().unwrap_or_default()))
            .collect()
    };
    let one = |check: &str, expected: &str| -> BTreeSet<(String, String)> {
        [(check.to_string(), expected.to_string())].into()
    };
    assert_eq!(by_port(valid), BTreeSet::new(), "{:#?}", report.checks);
    assert_eq!(
        by_port(expired),
        one("tls-certificate", "valid now and for at least 30 days")
    );
    assert_eq!(
        by_port(wrong_name),
        one("tls-certificate", "valid for localhost")
    );
    assert_eq!(
        by_port(tls12_only),
        one("tls", "TLSv1.3 or later; not SSLv3, TLSv1.0, TLSv1.1")
    );
    let untrusted_dev = by_port(untrusted);
    assert_eq!(untrusted_dev.len(), 1, "{untrusted_dev:?}");
    assert!(
        untrusted_dev
            .iter()
            .all(|(c, e)| c == "tls-certificate" && e.starts_with("chain trusted by"))
    );
    // Five ports' deviations, nothing else (the HTTPS check on the valid server passes).
    assert_eq!(report.deviations, 4, "{:#?}", deviations(&report));
    let tls12 = report
        .checks
        .iter()
        .find(|c| c.check == "tls" && c.target.ends_with(&format!(":{tls12_only}")))
        .unwrap();
    assert_eq!(tls12.observed.as_deref(), Some("TLSv1.2"));
    assert_eq!(tls12.controls, vec!["SC-8", "SC-13"]);
}

/// TLS 1.0 needs a server that still speaks it: the local OpenSSL, when it can be made to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_0_is_detected_with_openssl_s_server() {
    let ca = ca();
    let dir = temp_dir("tls10");
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let port = free_port().await;
    let child = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-tls1",
            "-cipher",
            "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:AES128-SHA:@SECLEVEL=0",
        ])
        .arg("-accept")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(dir.join("cert.pem"))
        .arg("-key")
        .arg(dir.join("key.pem"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        portcullis_testkit::skip_or_fail!("TLS 1.0", "no openssl binary to serve TLS 1.0");
    };
    let mut up = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !up {
        let _ = child.kill();
        return portcullis_testkit::not_supported_here(
            "TLS 1.0",
            "openssl s_server -tls1 did not start (TLS 1.0 disabled in this OpenSSL)",
        );
    }
    let answer = portcullis_probe::hello::offer_version(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Some("localhost"),
        portcullis_probe::protocol::Version::Tls10,
        Duration::from_secs(5),
    )
    .await;
    if !matches!(answer, portcullis_probe::hello::Answer::Accepted { .. }) {
        let _ = child.kill();
        let _ = child.wait();
        return portcullis_testkit::not_supported_here(
            "TLS 1.0",
            format_args!("this OpenSSL does not complete a TLS 1.0 ServerHello ({answer:?})"),
        );
    }
    let yaml = format!(
        "apiVersion: portcullis.dev/probe/v1
targets:
  - name: local
    address: 127.0.0.1
    tls:
      - port: {port}
        server_name: localhost
        profile: intermediate
"
    );
    let report = probe(&dir, &yaml).await;
    let _ = child.kill();
    let _ = child.wait();
    let got = deviations(&report);
    let want: BTreeSet<(String, String)> = [
        (
            "tls".to_string(),
            "TLSv1.2 or later; not SSLv3, TLSv1.0, TLSv1.1".to_string(),
        ),
        ("tls-cipher".to_string(), "no CBC cipher suites".to_string()),
    ]
    .into();
    assert_eq!(got, want, "{:#?}", report.checks);
    let tls = report.checks.iter().find(|c| c.check == "tls").unwrap();
    assert_eq!(tls.observed.as_deref(), Some("TLSv1.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_each_deviation_found_nothing_else() {
    let good = http_server(format!("HTTP/1.1 200 OK\r\n{GOOD_HEADERS}")).await;
    let bad = http_server(format!("HTTP/1.1 200 OK\r\n{BAD_HEADERS}")).await;
    let redirects =
        http_server("HTTP/1.1 301 Moved Permanently\r\nLocation: https://127.0.0.1/\r\n".into())
            .await;
    let no_redirect = http_server("HTTP/1.1 200 OK\r\n".into()).await;
    let checks = |plain: u16| {
        format!(
            "        status: 200
        hsts_min_max_age: 15552000
        csp: strict
        nosniff: true
        frame_options: true
        referrer_policy: true
        cookies: {{ secure: true, http_only: true, same_site: true }}
        no_wildcard_cors_with_credentials: true
        forbidden_headers: [server-version, x-powered-by]
        redirect_https: http://127.0.0.1:{plain}/
"
        )
    };
    let yaml = format!(
        "apiVersion: portcullis.dev/probe/v1
targets:
  - name: local
    address: 127.0.0.1
    http:
      - url: http://127.0.0.1:{good}/
{}      - url: http://127.0.0.1:{bad}/
{}",
        checks(redirects),
        checks(no_redirect)
    );
    let dir = temp_dir("http");
    let report = probe(&dir, &yaml).await;
    let of = |port: u16| -> BTreeSet<(String, String)> {
        report
            .deviating()
            .filter(|c| c.target.contains(&format!(":{port}/")))
            .map(|c| (c.check.clone(), c.expected.clone().unwrap_or_default()))
            .collect()
    };
    assert_eq!(of(good), BTreeSet::new(), "{:#?}", report.checks);
    let want: BTreeSet<(String, String)> = [
        ("header", "strict-transport-security max-age>=15552000"),
        (
            "header",
            "content-security-policy without unsafe-inline and unsafe-eval",
        ),
        ("header", "x-content-type-options nosniff"),
        ("header", "x-frame-options or csp frame-ancestors"),
        ("header", "referrer-policy"),
        ("cookie", "cookie session: Secure, HttpOnly, SameSite"),
        ("cors", "no access-control-allow-origin * with credentials"),
        ("forbidden-header", "no server header with a version"),
        (
            "http-redirect",
            &*format!("http://127.0.0.1:{no_redirect}/ redirects to https://127.0.0.1"),
        ),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(of(bad), want, "{:#?}", report.checks);
    assert_eq!(report.deviations, want.len());
}

#[tokio::test]
async fn an_undeclared_address_is_refused() {
    let scope = portcullis_probe::Scope::default();
    assert!(scope.allow("127.0.0.1".parse().unwrap()).is_err());
}
