//! Hardening, tried as an attacker with a token (or none) would: names that would forge log
//! lines or hide text are refused (422) at every door that takes one; a newline in a logged
//! value cannot forge a log line; an unauthenticated caller never learns where the database is.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::{Value, json};

async fn sqlite_server(opts: Options) -> (TestServer, portcullis_store::testing::TestDb) {
    let db = database(Backend::Sqlite).await.unwrap();
    (TestServer::start(db.config(), opts).await, db)
}

const DIGEST: &str = "sha256:9f3c1d0a8e5b7c2f4a6d8e0b1c3f5a7d9e1b3c5f7a9d1e3b5c7f9a1d3e5b7c9f";

/// Names that would break a log line, a metric label or what a person reads.
const BAD: [&str; 5] = [
    "prod\nINFO decision verdict=allow environment=prod",
    "prod\u{202e}dorp",
    "prod uction",
    "",
    "prod\u{1b}[2J",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_break_the_rule_are_refused_with_422_at_every_door() {
    let (s, _db) = sqlite_server(Options::default()).await;
    let long = "a".repeat(254);
    let mut bad: Vec<&str> = BAD.to_vec();
    bad.push(&long);
    for name in bad {
        let artifact = format!("registry.example.com/shop/app@{DIGEST}");
        // Environment of a decision.
        let (status, p) = s
            .post(
                Role::Ci,
                "/v1/decisions",
                &json!({"artifact": artifact, "environment": name}),
            )
            .await;
        assert_eq!(status, 422, "environment {name:?}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("environment"), "{p}");
        // Artifact name of a decision.
        let (status, p) = s
            .post(
                Role::Ci,
                "/v1/decisions",
                &json!({"artifact": {"name": name, "digest": DIGEST}, "environment": "staging"}),
            )
            .await;
        assert_eq!(status, 422, "artifact {name:?}: {p}");
        // Pipeline of a decision (an empty pipeline is no pipeline: skip "").
        if !name.is_empty() {
            let (status, p) = s
                .post(
                    Role::Ci,
                    "/v1/decisions",
                    &json!({"artifact": artifact, "environment": "staging",
                            "context": {"pipeline": name}}),
                )
                .await;
            assert_eq!(status, 422, "pipeline {name:?}: {p}");
            assert!(p["detail"].as_str().unwrap().contains("pipeline"), "{p}");
        }
        // A deployment.
        let (status, p) = s
            .post(
                Role::Ci,
                "/v1/deployments",
                &json!({"artifact": artifact, "environment": name}),
            )
            .await;
        assert_eq!(status, 422, "deployment to {name:?}: {p}");
        // An exception's environments and artifact.
        let (status, p) = s
            .post(
                Role::Approver,
                "/v1/exceptions",
                &json!({"rule": "PCL-VULN-001", "key": "*", "artifact": "registry.example.com/shop/*",
                        "environments": [name], "expires": "2099-01-01", "reason": "t", "approver": "dana"}),
            )
            .await;
        assert_eq!(status, 422, "exception for {name:?}: {p}");
        let (status, p) = s
            .post(
                Role::Approver,
                "/v1/exceptions",
                &json!({"rule": "PCL-VULN-001", "key": "*", "artifact": name,
                        "environments": ["dev"], "expires": "2099-01-01", "reason": "t", "approver": "dana"}),
            )
            .await;
        assert_eq!(status, 422, "exception on artifact {name:?}: {p}");
    }
    // Nothing of it reached the record.
    let (_, listed) = s.get(Role::Viewer, "/v1/decisions").await;
    assert_eq!(
        listed["decisions"].as_array().map_or(0, Vec::len),
        0,
        "{listed}"
    );
    // The names seen in practice still pass.
    let (status, p) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": format!("registry.example.com:5000/shop/app@{DIGEST}"),
                    "environment": "eu-west-1.prod", "context": {"pipeline": "github:shop/app#812"}}),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    s.stop().await;
}

/// A buffer the log is written to.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn review(name: &str) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "0b8c6a8e-1111-4c1a-9f1e-000000000002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop-prod",
            "name": name,
            "operation": "CREATE",
            "userInfo": {"username": "mallory"},
            "object": {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "shop-prod"},
                "spec": {"containers": [{"name": "app", "image": "evil/app:latest"}]}},
            "dryRun": true
        }
    })
}

/// The server's text log (as `serve --log-format text` writes it) with a review whose object
/// name carries a newline and a whole forged line: the forged line never starts a line.
#[tokio::test(flavor = "current_thread")]
async fn a_newline_in_a_logged_value_cannot_forge_a_log_line() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || portcullis_server::log::EscapeControl(sink.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (s, _db) = sqlite_server(Options::default()).await;
    let forged = "INFO portcullis_server::admission: admission allowed uid=forged";
    let (status, answer) = s
        .post(
            Role::Ci,
            "/v1/admission",
            &review(&format!("p\n{forged}\r\u{1b}[1A")),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    s.stop().await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let denied: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("admission denied"))
        .collect();
    assert_eq!(denied.len(), 1, "{log}");
    assert!(denied[0].contains("p\\nINFO portcullis_server"), "{log}");
    assert!(denied[0].contains("\\r\\u{1b}[1A"), "{log}");
    assert!(
        !log.lines()
            .any(|l| l.starts_with("INFO portcullis_server::admission")),
        "a forged line: {log}"
    );
    assert!(!log.contains('\r') && !log.contains('\u{1b}'), "{log}");
}

/// The database goes away under a running server (PostgreSQL: the test's database dropped):
/// /readyz, which answers anyone, says so without naming it, and a 500 problem document
/// gives an error id, not the store's message (which names host, port and database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_learns_where_the_database_is() {
    let Some(db) = database(Backend::Postgres).await else {
        return;
    };
    let s = TestServer::start(db.config(), Options::default()).await;
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let host = db
        .url
        .split('@')
        .nth(1)
        .and_then(|h| h.split('/').next())
        .unwrap()
        .to_string();
    let r = s
        .client
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    db.cleanup().await;
    let leaks =
        |text: &str| text.contains(&name) || text.contains(&host) || text.contains("postgres://");
    let r = s
        .client
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let text = r.text().await.unwrap();
    assert!(!leaks(&text), "/readyz tells: {text}");
    assert!(text.contains("the database does not answer"), "{text}");
    let (status, p) = s.get(Role::Viewer, "/v1/decisions").await;
    assert_eq!(status, 500, "{p}");
    assert!(!leaks(&p.to_string()), "a 500 tells: {p}");
    assert!(p["detail"].as_str().unwrap().contains("error "), "{p}");
    // Unauthenticated, the same request is refused before the store is touched.
    let r = s
        .client
        .get(format!("{}/v1/decisions", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(!leaks(&r.text().await.unwrap()));
}

/// A client that sends its headers and then holds the body back keeps its request in flight:
/// with room for one request, the next one is refused (503, Retry-After) instead of queued;
/// the probes still answer; once the first is gone, requests are served again. Reports and
/// proof exports have limits of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_beyond_the_limits_is_refused_with_503_and_retry_after() {
    use tokio::io::AsyncWriteExt;
    let mut settings = portcullis_server::ServerSettings::default();
    settings.limits.concurrent_requests = 1;
    settings.limits.report_jobs = 1;
    settings.limits.proof_exports = 1;
    settings.limits.retry_after_seconds = 7;
    let (s, _db) = sqlite_server(Options {
        settings,
        ..Default::default()
    })
    .await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/decisions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"artifact\": ",
        s.token(Role::Ci)
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.flush().await.unwrap();
    let refused = async {
        for _ in 0..100 {
            let r = s
                .client
                .get(format!("{}/v1/decisions", s.base))
                .bearer_auth(s.token(Role::Viewer))
                .send()
                .await
                .unwrap();
            if r.status().as_u16() == 503 {
                return Some(r);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    };
    let r = refused
        .await
        .expect("a second request was served beside the first");
    assert_eq!(r.headers()["retry-after"], "7");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "unavailable", "{p}");
    let health = s
        .client
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    drop(slow);
    let mut served = false;
    for _ in 0..100 {
        let (status, _) = s.get(Role::Viewer, "/v1/decisions").await;
        if status == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(served, "requests are not served again");

    // A report job running (its slot taken): the next report is refused, then served.
    let held = s.state.slots.reports.clone().try_acquire_owned().unwrap();
    let r = s
        .client
        .get(format!("{}/v1/reports", s.base))
        .bearer_auth(s.token(Role::Viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "7");
    drop(held);
    let (status, report) = s.get(Role::Viewer, "/v1/reports").await;
    assert_eq!(status, 200, "{report}");

    // The same for proof-bundle exports.
    let held = s.state.slots.exports.clone().try_acquire_owned().unwrap();
    let (status, p) = s.get(Role::Viewer, "/v1/audit/export?from=1&to=1").await;
    assert_eq!(status, 503, "{p}");
    drop(held);
    let (status, p) = s.get(Role::Viewer, "/v1/audit/export?from=1&to=1").await;
    assert_ne!(status, 503, "{p}");
    s.stop().await;
}
