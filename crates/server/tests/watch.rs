//! The hours after a deployment through the server: `watch:` in the settings file, a deployment
//! recorded over the API starts a watch, its checks probe a real listener on 127.0.0.1, and its
//! state is read over the API and on the dashboard with a viewer token. A watch whose service
//! opens an undeclared port fails, notifies (`watch-failed`) and calls the rollback webhook; one
//! whose service keeps to its expectations passes. Bad settings name the file and the place.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use portcullis_server::ServerSettings;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::{Value, json};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Keeps every JSON body posted to it, with its path.
async fn receiver(got: Arc<Mutex<Vec<(String, Value)>>>) -> SocketAddr {
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, axum::Json(body): axum::Json<Value>| {
            let got = got.clone();
            async move {
                got.lock().unwrap().push((uri.path().to_string(), body));
                axum::http::StatusCode::OK
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

async fn wait_for_end(s: &TestServer, env: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = s
            .get(Role::Viewer, &format!("/v1/environments/{env}/watches"))
            .await;
        assert_eq!(status, 200, "{body}");
        if let Some(w) = body["watches"].as_array().and_then(|w| w.first())
            && w["status"] != "running"
        {
            return w.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the watch in {env} did not end: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_run_from_the_settings_and_are_read_by_viewers() {
    let dir = tempfile::tempdir().unwrap();
    let service = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = service.local_addr().unwrap().port();
    let undeclared = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = undeclared.local_addr().unwrap().port();
    let closed = free_port();
    for (name, extra) in [("kept", closed), ("broken", open)] {
        std::fs::write(
            dir.path().join(format!("{name}.yaml")),
            format!(
                "apiVersion: portcullis.dev/probe/v1\ntargets:\n  - name: shop\n    address: 127.0.0.1\n    tcp: {{scan: [{port}, {extra}], allowed: [{port}]}}\n"
            ),
        )
        .unwrap();
    }
    let got = Arc::new(Mutex::new(Vec::new()));
    let hook = receiver(got.clone()).await;
    let path = dir.path().join("server.yaml");
    let text = format!(
        r#"notifications:
  webhooks:
    - {{url: 'http://{hook}/notify', events: [watch-failed]}}
  attempts: 1
watch:
  - {{environment: production, duration: 4s, interval: 2s, lag: 100ms, expectations: kept.yaml}}
  - environment: staging
    service: shop
    duration: 4s
    interval: 2s
    lag: 100ms
    expectations: broken.yaml
    rollback: {{url: 'http://{hook}/rollback', attempts: 1}}
"#
    );
    std::fs::write(&path, &text).unwrap();
    let settings = ServerSettings::parse(&text, &path.display().to_string()).unwrap();
    assert_eq!(settings.watches.items.len(), 2);
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            settings,
            ..Options::default()
        },
    )
    .await;

    for (env, c) in [("production", 'a'), ("staging", 'b')] {
        let (status, body) = s
            .post(
                Role::Ci,
                "/v1/deployments",
                &json!({"artifact": format!("shop@{}", digest(c)), "environment": env}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    let failed = wait_for_end(&s, "staging").await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert_eq!(failed["artifact"]["digest"], digest('b'));
    let check = &failed["checks"][0];
    assert_eq!(check["interval"], 1, "{failed:#}");
    assert_eq!(check["results"][0]["kind"], "exposure");
    assert_eq!(check["results"][0]["verdict"], "fail");
    assert_eq!(check["results"][0]["ports"], json!([open]), "{failed:#}");
    assert!(check["at"].as_str().is_some());
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains(&open.to_string()),
        "{failed:#}"
    );

    let passed = wait_for_end(&s, "production").await;
    assert_eq!(passed["status"], "passed", "{passed:#}");
    assert_eq!(passed["checks"].as_array().unwrap().len(), 2, "{passed:#}");

    // One watch by id; unknown ids and callers without a token are refused.
    let id = failed["id"].as_str().unwrap();
    let (status, one) = s.get(Role::Viewer, &format!("/v1/watches/{id}")).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["watch"]["status"], "failed");
    let (status, none) = s.get(Role::Viewer, "/v1/watches/wch_999999").await;
    assert_eq!(status, 404, "{none}");
    assert_eq!(none["code"], "not-found");
    let anonymous = s
        .client
        .get(format!("{}/v1/watches/{id}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The notification and the rollback request.
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = got.lock().unwrap().clone();
    let notified = calls
        .iter()
        .find(|(p, _)| p == "/notify")
        .expect("notified");
    assert_eq!(notified.1["event"], "watch-failed", "{calls:#?}");
    assert!(
        notified.1["text"]
            .as_str()
            .unwrap()
            .contains("rollback requested"),
        "{calls:#?}"
    );
    let rollback = calls
        .iter()
        .find(|(p, _)| p == "/rollback")
        .expect("rollback");
    assert_eq!(rollback.1["environment"], "staging");
    assert_eq!(rollback.1["digest"], digest('b'));
    assert_eq!(calls.len(), 2, "only the failed watch: {calls:#?}");

    // The dashboard lists both with their checks.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/ui/login", s.base))
        .form(&[("token", s.token(Role::Viewer)), ("next", "/ui/watches")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let r = client
        .get(format!("{}/ui/watches", s.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(id), "{html}");
    assert!(
        html.contains(">failed<") && html.contains(">passed<"),
        "{html}"
    );
    assert!(html.contains(&open.to_string()), "{html}");

    drop((service, undeclared));
    s.stop().await;
}

#[test]
fn bad_watch_settings_name_the_file_and_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.yaml");
    let file = path.display().to_string();
    let e = ServerSettings::parse(
        "watch:\n  - {environment: production, duration: 2x, interval: 5m}\n",
        &file,
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with(&format!("{file}:2:")), "{e}");
    assert!(
        e.contains("watch[0].duration") && e.contains("\"2x\""),
        "{e}"
    );
    let e = ServerSettings::parse(
        "body_limit: 1000\nwatch:\n  - {environment: production, duration: 2h, interval: 5m, expectations: nope.yaml}\n",
        &file,
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with(&format!("{file}:2:1")), "{e}");
    assert!(e.contains("watch[0].expectations"), "{e}");
    assert!(e.contains("nope.yaml"), "{e}");
    // Without `watch:` nothing is read.
    assert!(
        ServerSettings::parse("body_limit: 1000\n", &file)
            .unwrap()
            .watches
            .is_empty()
    );
}
