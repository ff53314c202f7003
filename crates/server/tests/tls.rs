//! HTTPS with a test CA: the server answers over TLS, picks up a renewed certificate without a
//! restart, and with a client CA requires client certificates (mutual TLS).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use portcullis_server::tls::TlsFiles;
use portcullis_server::{AppState, ServerSettings};
use portcullis_store::{Backend, Store};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "portcullis test CA");
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate for localhost / 127.0.0.1 signed by `ca`: (cert PEM, key PEM).
fn leaf(ca: &Ca, cn: &str) -> (String, String) {
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

async fn start(files: TlsFiles) -> (String, tokio::sync::oneshot::Sender<()>) {
    let db = portcullis_store::testing::TestDb::new(Backend::Sqlite)
        .await
        .unwrap();
    let store = Store::open(&db.config()).await.unwrap();
    std::mem::forget(db);
    let state = AppState::new(
        store,
        firewall(&Options::default()),
        Default::default(),
        ServerSettings::default(),
        Default::default(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(portcullis_server::serve(
        state,
        listener,
        Some(files),
        async move {
            let _ = rx.await;
        },
    ));
    (format!("https://localhost:{port}"), stop)
}

fn client(ca_pem: &str, identity: Option<&str>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .resolve("localhost", "127.0.0.1:0".parse().unwrap())
        .tls_info(true)
        .timeout(Duration::from_secs(10));
    if let Some(id) = identity {
        b = b.identity(reqwest::Identity::from_pem(id.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

/// The common name of the certificate the server presented.
async fn served_cn(c: &reqwest::Client, url: &str) -> Result<String, String> {
    let r = c
        .get(format!("{url}/healthz"))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(r.status().as_u16(), 200);
    let info = r.extensions().get::<reqwest::tls::TlsInfo>().unwrap();
    let der = info.peer_certificate().unwrap().to_vec();
    // The CN is in the DER as a UTF8String/PrintableString: find the test's marker.
    let text = String::from_utf8_lossy(&der).to_string();
    Ok(["first-cert", "renewed-cert"]
        .iter()
        .find(|m| text.contains(*m))
        .map(|m| m.to_string())
        .unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_certificate_reload() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    let (cert, key) = leaf(&ca, "first-cert");
    let files = TlsFiles {
        cert: dir.path().join("tls.crt"),
        key: dir.path().join("tls.key"),
        client_ca: None,
    };
    std::fs::write(&files.cert, &cert).unwrap();
    std::fs::write(&files.key, &key).unwrap();
    let (url, stop) = start(files.clone()).await;
    let c = client(&ca.pem, None);
    assert_eq!(served_cn(&c, &url).await.unwrap(), "first-cert");
    // Plain HTTP to the TLS port gets nothing useful.
    let plain = reqwest::Client::new()
        .get(url.replace("https://localhost", "http://127.0.0.1") + "/healthz")
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    // Renewed in place (as cert-manager does): served without a restart.
    let (cert2, key2) = leaf(&ca, "renewed-cert");
    std::fs::write(&files.key, &key2).unwrap();
    std::fs::write(&files.cert, &cert2).unwrap();
    let start = Instant::now();
    loop {
        let fresh = client(&ca.pem, None);
        if served_cn(&fresh, &url).await.unwrap() == "renewed-cert" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the new certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A broken file keeps the last good certificate.
    std::fs::write(&files.cert, "not a certificate").unwrap();
    tokio::time::sleep(portcullis_server::tls::RELOAD_CHECK * 2).await;
    assert_eq!(
        served_cn(&client(&ca.pem, None), &url).await.unwrap(),
        "renewed-cert"
    );
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_requires_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    let (cert, key) = leaf(&ca, "first-cert");
    let files = TlsFiles {
        cert: dir.path().join("tls.crt"),
        key: dir.path().join("tls.key"),
        client_ca: Some(dir.path().join("clients.pem")),
    };
    std::fs::write(&files.cert, &cert).unwrap();
    std::fs::write(&files.key, &key).unwrap();
    let clients = self::ca();
    std::fs::write(files.client_ca.as_ref().unwrap(), &clients.pem).unwrap();
    let (url, stop) = start(files).await;
    assert!(
        served_cn(&client(&ca.pem, None), &url).await.is_err(),
        "no client certificate: refused"
    );
    let (ccert, ckey) = leaf(&clients, "kube-apiserver");
    let ok = served_cn(&client(&ca.pem, Some(&format!("{ccert}{ckey}"))), &url).await;
    assert_eq!(ok.unwrap(), "first-cert");
    let other = self::ca();
    let (bcert, bkey) = leaf(&other, "intruder");
    assert!(
        served_cn(&client(&ca.pem, Some(&format!("{bcert}{bkey}"))), &url)
            .await
            .is_err(),
        "a certificate from another CA: refused"
    );
    let _ = stop.send(());
}
