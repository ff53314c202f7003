//! The admission settings for deciding from registries, through the server: read from the
//! server's YAML, refused when out of range (the server does not start), and a review over
//! HTTP whose image's registry cannot be reached fails closed naming the image and the
//! registry. (Deciding from a real registry is tested against the loopback registry harness in
//! `crates/firewall/tests/admission_registry.rs`.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use portcullis_server::ServerSettings;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::Value;

const SETTINGS: &str = "\
admission:
  decide_from_registry: false
  registry_budget_ms: 6000
  registry_concurrency: 2
  cache_ttl_seconds: 120
  cache_max_entries: 500
  namespaces:
    shop-prod: {environment: production, decide_from_registry: true, registry_budget_ms: 5000}
    legacy: {environment: production}
";

fn fixture(namespace: &str, image: &str) -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/admission/deployment.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("NAMESPACE", namespace)
        .replace("INIT_IMAGE", image)
        .replace("\"IMAGE\"", &format!("{image:?}"))
        .replace("DRY_RUN", "false");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_settings_are_read_per_namespace() {
    let settings = ServerSettings::parse(SETTINGS, "server.yaml").unwrap();
    let a = &settings.admission;
    a.check().unwrap();
    let t = a.target("shop-prod");
    assert!(t.decide_from_registry);
    assert_eq!(t.registry_budget, Duration::from_millis(5000));
    let t = a.target("legacy");
    assert!(!t.decide_from_registry);
    assert_eq!(t.registry_budget, Duration::from_millis(6000));
    assert_eq!(a.registry_concurrency, 2);
    assert_eq!((a.cache_ttl_seconds, a.cache_max_entries), (120, 500));

    let e = ServerSettings::parse(
        "admission:\n  namespaces:\n    a: {decide_from_registy: true}\n",
        "server.yaml",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("admission.namespaces.a")
            && e.to_string().contains("decide_from_registy"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_cannot_work_stop_the_start() {
    let db = database(Backend::Sqlite).await.unwrap();
    let store = portcullis_store::Store::open(&db.config()).await.unwrap();
    let start = |settings: &str, ca: Vec<std::path::PathBuf>| {
        let store = store.clone();
        let settings = ServerSettings::parse(settings, "server.yaml").unwrap();
        async move {
            let mut loaded = portcullis_firewall::Loaded {
                firewall: firewall(&Options::default()),
                docs: Default::default(),
                advisories: Vec::new(),
                exceptions: Vec::new(),
                files: Default::default(),
                notes: Vec::new(),
                registry: Default::default(),
            };
            loaded.registry.ca = ca;
            portcullis_server::AppState::from_loaded(store, loaded, settings)
                .await
                .err()
                .expect("refused")
                .to_string()
        }
    };
    // A budget beyond a webhook's longest timeout.
    let e = start(
        "admission:\n  namespaces:\n    shop-prod: {registry_budget_ms: 45000}\n",
        vec![],
    )
    .await;
    assert!(
        e.contains("admission.namespaces.shop-prod.registry_budget_ms") && e.contains("45000"),
        "{e}"
    );
    // A registry CA bundle that is not there, where a namespace decides from registries: the
    // client is made at start, not at the first review.
    let e = start(
        "admission:\n  namespaces:\n    shop-prod: {decide_from_registry: true}\n",
        vec!["/nonexistent/registry-ca.pem".into()],
    )
    .await;
    assert!(
        e.contains("/nonexistent/registry-ca.pem") && e.contains("[registry-config]"),
        "{e}"
    );
}

/// Nothing listens on the image's registry: the webhook answers in time, denying, with the
/// image, the registry and the failure in the message; the namespace that does not decide from
/// registries answers as it always did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_fails_the_review_closed_over_http() {
    let db = database(Backend::Sqlite).await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let image = format!("127.0.0.1:{port}/shop/api@sha256:{}", "cd".repeat(32));
    let s = TestServer::start(
        db.config(),
        Options {
            settings: ServerSettings::parse(SETTINGS, "server.yaml").unwrap(),
            ..Default::default()
        },
    )
    .await;
    let started = std::time::Instant::now();
    let (status, r) = s
        .post(Role::Ci, "/v1/admission", &fixture("shop-prod", &image))
        .await;
    eprintln!("answered in {:?}", started.elapsed());
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let msg = r["response"]["status"]["message"].as_str().unwrap();
    assert!(msg.contains("- PCL-ADM-004 "), "{msg}");
    assert!(msg.contains(&format!("image {image}")), "{msg}");
    assert!(msg.contains(&format!("registry 127.0.0.1:{port}")), "{msg}");
    assert!(msg.contains("[registry-unreachable]"), "{msg}");
    assert!(msg.ends_with("(failing closed)"), "{msg}");

    let (status, r) = s
        .post(Role::Ci, "/v1/admission", &fixture("legacy", &image))
        .await;
    assert_eq!(status, 200, "{r}");
    let msg = r["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("PCL-ADM-002") && !msg.contains("PCL-ADM-004"),
        "{msg}"
    );
    s.stop().await;
}
