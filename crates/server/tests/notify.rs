//! Outgoing notifications to a real HTTP receiver on loopback: a deny (generic JSON), an
//! advisory's impact (Slack format), an exception about to expire; a receiver that fails is
//! retried with backoff, and one that never answers is counted in /metrics.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use common::*;
use portcullis_server::ServerSettings;
use portcullis_server::auth::Role;
use portcullis_server::notify::{Format, NotificationConfig, Webhook};
use portcullis_store::Backend;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, Value)>>>,
    /// Answer 503 to this many requests first.
    fail_first: Arc<Mutex<usize>>,
}

async fn receive(
    State(r): State<Receiver>,
    uri: axum::http::Uri,
    axum::Json(v): axum::Json<Value>,
) -> StatusCode {
    {
        let mut f = r.fail_first.lock().unwrap();
        if *f > 0 {
            *f -= 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    r.got.lock().unwrap().push((uri.path().to_string(), v));
    StatusCode::OK
}

async fn receiver(fail_first: usize) -> (String, Receiver) {
    let r = Receiver {
        fail_first: Arc::new(Mutex::new(fail_first)),
        ..Default::default()
    };
    let app = Router::new()
        .route("/generic", post(receive))
        .route(
            "/moved",
            post(|| async { (StatusCode::FOUND, [("location", "/generic")]) }),
        )
        .route("/slack", post(receive))
        .with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (base, r)
}

async fn wait_for(r: &Receiver, pred: impl Fn(&[(String, Value)]) -> bool) {
    let start = Instant::now();
    while !pred(&r.got.lock().unwrap()) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not received: {:?}",
            r.got.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_impact_and_expiry_notifications_with_retries() {
    let (base, recv) = receiver(2).await;
    let settings = ServerSettings {
        notifications: NotificationConfig {
            webhooks: vec![
                Webhook {
                    name: Some("generic".into()),
                    url: format!("{base}/generic"),
                    format: Format::Generic,
                    events: None,
                },
                Webhook {
                    name: Some("slack".into()),
                    url: format!("{base}/slack"),
                    format: Format::Slack,
                    events: Some(vec![portcullis_server::notify::EventKind::AdvisoryImpact]),
                },
                Webhook {
                    name: Some("nobody".into()),
                    // A port nothing listens on (closed at once, on loopback).
                    url: "http://127.0.0.1:9/hook".into(),
                    format: Format::Generic,
                    events: Some(vec![portcullis_server::notify::EventKind::Deny]),
                },
            ],
            exception_expiry_days: 7,
            expiry_check_seconds: 1,
            attempts: 4,
            backoff_ms: 50,
            timeout_ms: 2000,
        },
        ..Default::default()
    };
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            settings,
            ..Default::default()
        },
    )
    .await;
    let ex = examples();
    // A deny: generic JSON with the decision (after two 503s: retried).
    let (_, d) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "staging",
                    "evidence": [evidence_file(&ex.join("evidence/checkout-api.cdx.json"))]}),
        )
        .await;
    assert_eq!(d["decision"]["decision"], "deny");
    let id = d["decision"]["id"].as_str().unwrap().to_string();
    wait_for(&recv, |g| {
        g.iter().any(|(p, v)| {
            p == "/generic" && v["event"] == "deny" && v["detail"]["decision"]["id"] == id
        })
    })
    .await;

    // An advisory with impact: Slack gets {"text": …} naming the affected artifact.
    s.post(
        Role::Ci,
        "/v1/deployments",
        &json!({"artifact": LOG4J_ARTIFACT, "environment": "staging"}),
    )
    .await;
    let osv: Value =
        serde_json::from_slice(&std::fs::read(ex.join("evidence/log4shell.osv.json")).unwrap())
            .unwrap();
    let (status, _) = s
        .post(Role::Admin, "/v1/advisories", &json!({"osv": osv}))
        .await;
    assert_eq!(status, 201);
    wait_for(&recv, |g| {
        g.iter().any(|(p, v)| {
            p == "/slack"
                && v["text"].as_str().is_some_and(|t| {
                    t.contains("GHSA-jfh8-c2jp-5v3q") && t.contains("checkout-api")
                })
                && v.as_object().unwrap().len() == 1
        })
    })
    .await;

    // An exception expiring within 7 days.
    let soon = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let (status, g) = s
        .post(
            Role::Approver,
            "/v1/exceptions",
            &json!({"id": "EXC-SOON", "rule": "PCL-VULN-002", "key": "CVE-2022-42003", "artifact": "*",
                    "environments": ["staging"], "expires": soon, "reason": "r", "approver": "a@example.com"}),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    wait_for(&recv, |g| {
        g.iter().any(|(p, v)| {
            p == "/generic"
                && v["event"] == "exception-expiring"
                && v["detail"]["exception"] == "EXC-SOON"
        })
    })
    .await;

    // The receiver that never answers: counted after its attempts.
    let start = Instant::now();
    loop {
        let text = s
            .client
            .get(format!("{}/metrics", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains(r#"portcullis_notification_failures_total{target="nobody"} 1"#) {
            assert!(text.contains(r#"portcullis_notifications_sent_total{target="generic"}"#));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.stop().await;
}

/// A receiver answering 302 to elsewhere (here: a path that would accept it): the payload is
/// not sent on; the delivery fails and is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed() {
    let (base, recv) = receiver(0).await;
    let settings = ServerSettings {
        notifications: NotificationConfig {
            webhooks: vec![Webhook {
                name: Some("moved".into()),
                url: format!("{base}/moved"),
                format: Format::Generic,
                events: None,
            }],
            exception_expiry_days: 7,
            expiry_check_seconds: 3600,
            attempts: 1,
            backoff_ms: 10,
            timeout_ms: 2000,
        },
        ..Default::default()
    };
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            settings,
            ..Default::default()
        },
    )
    .await;
    let (_, d) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "staging",
                    "evidence": [evidence_file(&examples().join("evidence/checkout-api.cdx.json"))]}),
        )
        .await;
    assert_eq!(d["decision"]["decision"], "deny");
    s.state.notifier.flush(Duration::from_secs(10)).await;
    let metrics = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("portcullis_notification_failures_total{target=\"moved\"} 1"),
        "{metrics}"
    );
    assert!(
        recv.got.lock().unwrap().is_empty(),
        "followed the redirect: {:?}",
        recv.got.lock().unwrap()
    );
    s.stop().await;
}

/// Each new signed checkpoint goes to the webhooks that witness it (`events: [checkpoint]`),
/// and to no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_are_sent_to_witness_webhooks_only() {
    let (base, recv) = receiver(0).await;
    let settings = ServerSettings {
        notifications: NotificationConfig {
            webhooks: vec![
                Webhook {
                    name: Some("witness".into()),
                    url: format!("{base}/generic"),
                    format: Format::Generic,
                    events: Some(vec![portcullis_server::notify::EventKind::Checkpoint]),
                },
                Webhook {
                    name: Some("everything-else".into()),
                    url: format!("{base}/slack"),
                    format: Format::Generic,
                    events: None,
                },
            ],
            expiry_check_seconds: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            settings,
            ..Default::default()
        },
    )
    .await;
    wait_for(&recv, |g| {
        g.iter()
            .any(|(p, v)| p == "/generic" && v["event"] == "checkpoint")
    })
    .await;
    let got = recv.got.lock().unwrap().clone();
    let (_, v) = got
        .iter()
        .find(|(p, v)| p == "/generic" && v["event"] == "checkpoint")
        .unwrap();
    let sent: portcullis_store::Checkpoint =
        serde_json::from_value(v["detail"]["checkpoint"].clone()).unwrap();
    let stored = s.store.checkpoints().await.unwrap();
    assert!(stored.contains(&sent), "{sent:?} is one the store signed");
    assert!(
        !got.iter()
            .any(|(p, v)| p == "/slack" && v["event"] == "checkpoint"),
        "a webhook that did not ask for checkpoints gets none: {got:?}"
    );
    s.stop().await;
}
