//! The posture API: environments and their counts, an environment's posture, inventory
//! reports (kubectl JSON and plain lists; bad ones answered 422 naming the place), removals,
//! snapshots and their diff — each with the role it needs (viewer reads, ci reports, nobody
//! without a token), on SQLite and PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::*;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::{Value, json};

const CART: &str = "registry.example.com/shop/cart@sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// A raw request: `(status, body)`; `token` None sends none.
async fn raw(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<Role>,
    body: Option<(&str, Vec<u8>)>,
) -> (u16, Value) {
    let mut req = s.client.request(method, format!("{}{path}", s.base));
    if let Some(role) = token {
        req = req.bearer_auth(s.token(role));
    }
    if let Some((content_type, bytes)) = body {
        req = req
            .header("content-type", content_type)
            .header("x-portcullis-source", "cluster-report")
            .body(bytes);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn sync(s: &TestServer, role: Option<Role>, content_type: &str, body: &str) -> (u16, Value) {
    raw(
        s,
        reqwest::Method::POST,
        "/v1/environments/production/inventory",
        role,
        Some((content_type, body.as_bytes().to_vec())),
    )
    .await
}

/// The posture of production once nothing is pending (re-judging runs in the background).
async fn settled_posture(s: &TestServer) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, p) = s
            .get(Role::Viewer, "/v1/environments/production/posture")
            .await;
        assert_eq!(status, 200, "{p}");
        if p["pending"].as_array().unwrap().is_empty() || std::time::Instant::now() > deadline {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pods(image_id: &str) -> String {
    json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "checkout-api-7d9f8c6b5-x2k4q", "namespace": "shop"},
         "status": {"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "image": "registry.example.com/shop/checkout-api:2.4.0",
             "imageID": image_id, "state": {"running": {"startedAt": "2026-11-20T08:00:04Z"}}},
            {"name": "envoy", "ready": false, "image": "docker.io/envoyproxy/envoy:v1.31.2",
             "imageID": "", "state": {"waiting": {"reason": "ContainerCreating"}}}]}}
    ]})
    .to_string()
}

async fn posture_api(backend: Backend) {
    let Some(db) = database(backend).await else {
        return;
    };
    let s = TestServer::start(db.config(), Options::default()).await;

    // A decision about the Log4Shell build in production: denied (the examples' policies).
    let (status, d) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({
                "artifact": LOG4J_ARTIFACT, "environment": "production",
                "evidence": [
                    evidence_file(&examples().join("evidence/checkout-api.cdx.json")),
                    evidence_file(&examples().join("evidence/trivy-image.json")),
                ],
            }),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["decision"]["decision"], "deny", "{d}");
    let decision_id = d["decision"]["id"].as_str().unwrap().to_string();

    // Nobody without a token, and a viewer cannot report what runs.
    for path in [
        "/v1/environments",
        "/v1/environments/production/posture",
        "/v1/environments/production/snapshots",
    ] {
        let (status, p) = raw(&s, reqwest::Method::GET, path, None, None).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (401, Some("unauthenticated")),
            "{path}"
        );
    }
    let text = format!("{LOG4J_ARTIFACT}\n");
    let (status, p) = sync(&s, None, "text/plain", &text).await;
    assert_eq!(status, 401, "{p}");
    let (status, p) = sync(&s, Some(Role::Viewer), "text/plain", &text).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (403, Some("forbidden")),
        "{p}"
    );

    // kubectl's pods: the running container counts by its imageID; the one still creating
    // is skipped.
    let body = pods(&format!("docker-pullable://{LOG4J_ARTIFACT}"));
    let (status, synced) = sync(&s, Some(Role::Ci), "application/json", &body).await;
    assert_eq!(status, 200, "{synced}");
    assert_eq!(synced["format"], "kubectl");
    assert_eq!(synced["added"].as_array().unwrap().len(), 1, "{synced}");
    assert_eq!(
        synced["added"][0]["name"],
        "registry.example.com/shop/checkout-api"
    );
    assert_eq!(synced["skipped"].as_array().unwrap().len(), 1, "{synced}");
    assert!(synced["snapshot"].as_u64().is_some(), "{synced}");
    let first_snapshot = synced["snapshot"].as_i64().unwrap();

    // A plain list, as admin: cart is added, checkout-api unchanged.
    let (status, synced) = sync(
        &s,
        Some(Role::Admin),
        "text/plain; charset=utf-8",
        &format!("# production\n{LOG4J_ARTIFACT}\n{CART}\n"),
    )
    .await;
    assert_eq!(status, 200, "{synced}");
    assert_eq!(synced["format"], "list");
    assert_eq!(synced["unchanged"], 1);
    assert_eq!(synced["added"][0]["name"], "registry.example.com/shop/cart");

    // Bad reports: 422 naming the source and the place; another media type: 415.
    let (status, p) = sync(&s, Some(Role::Ci), "text/plain", "nginx:1.25\n").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("invalid-request")),
        "{p}"
    );
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .starts_with("cluster-report: line 1: "),
        "{p}"
    );
    let (status, p) = sync(
        &s,
        Some(Role::Ci),
        "application/json",
        r#"{"kind": "List", "items": [{"kind": "Deployment"}]}"#,
    )
    .await;
    assert_eq!(status, 422, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("items[0]"), "{p}");
    let (status, p) = sync(&s, Some(Role::Ci), "application/json", "{\"kind\": ").await;
    assert_eq!(status, 422, "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("line 1, column"),
        "{p}"
    );
    let (status, p) = sync(&s, Some(Role::Ci), "application/octet-stream", &text).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (415, Some("unsupported-media-type")),
        "{p}"
    );

    // Re-judging settles the posture: checkout-api in violation under the decision; cart
    // runs without a decision about it, undecided.
    let p = settled_posture(&s).await;
    assert_eq!(p["environment"], "production");
    assert_eq!(p["violation"], 1, "{p:#}");
    assert_eq!(p["undecided"], 1, "{p:#}");
    assert_eq!(p["compliant"], 0, "{p:#}");
    let first = &p["artifacts"][0];
    assert_eq!(first["state"], "violation", "violations first: {p:#}");
    assert_eq!(
        first["artifact"]["name"],
        "registry.example.com/shop/checkout-api"
    );
    assert!(
        !first["rules"].as_array().unwrap().is_empty(),
        "the rules it violates: {p:#}"
    );
    assert!(first["seconds"].as_i64().unwrap() >= 0);
    assert!(first["seq"].as_i64().unwrap() > 0);
    assert!(first["decision_id"].is_string(), "{p:#}");
    let _ = decision_id;
    assert_eq!(p["artifacts"][1]["state"], "undecided", "{p:#}");

    // Every role that reads sees the environments with their counts.
    for role in Role::ALL {
        let (status, e) = s.get(role, "/v1/environments").await;
        assert_eq!(status, 200, "{role:?}: {e}");
        let prod = e["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["environment"] == "production")
            .unwrap_or_else(|| panic!("{e}"));
        assert_eq!(prod["running"], 2, "{e}");
        assert_eq!(prod["violation"], 1, "{e}");
        assert_eq!(prod["undecided"], 1, "{e}");
        assert_eq!(prod["pending"], 0, "{e}");
    }
    let (status, p) = s
        .get(Role::Viewer, "/v1/environments/no%20such/posture")
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("invalid-request")),
        "{p}"
    );

    // Removal: not as viewer, not without a token; then as ci; then it is not there.
    let del = "/v1/environments/production/inventory?artifact=registry.example.com/shop/cart";
    let (status, _) = raw(&s, reqwest::Method::DELETE, del, None, None).await;
    assert_eq!(status, 401);
    let (status, p) = raw(&s, reqwest::Method::DELETE, del, Some(Role::Viewer), None).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (403, Some("forbidden")),
        "{p}"
    );
    let (status, p) = raw(&s, reqwest::Method::DELETE, del, Some(Role::Ci), None).await;
    assert_eq!(status, 200, "{p}");
    assert!(p["audit_entry"].as_u64().is_some(), "{p}");
    let (status, p) = raw(&s, reqwest::Method::DELETE, del, Some(Role::Ci), None).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (404, Some("not-found")),
        "{p}"
    );
    let (status, p) = raw(
        &s,
        reqwest::Method::DELETE,
        "/v1/environments/production/inventory",
        Some(Role::Ci),
        None,
    )
    .await;
    assert_eq!(status, 422, "no ?artifact=: {p}");

    // Snapshots: the two reports and the removal, newest first.
    let (status, list) = s
        .get(Role::Viewer, "/v1/environments/production/snapshots")
        .await;
    assert_eq!(status, 200, "{list}");
    let snaps = list["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 3, "{list:#}");
    assert_eq!(snaps[2]["seq"], first_snapshot);
    assert_eq!(snaps[2]["cause"], "inventory.sync");
    assert_eq!(snaps[0]["artifacts"].as_array().unwrap().len(), 1);
    let a = &snaps[2]["artifacts"][0];
    assert_eq!(a["verdict"], "deny", "{list:#}");
    assert_eq!(a["decision_id"], decision_id.as_str());
    let (status, one) = s
        .get(
            Role::Viewer,
            &format!("/v1/environments/production/snapshots/{}", snaps[1]["seq"]),
        )
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["artifacts"].as_array().unwrap().len(), 2, "{one}");
    let (status, p) = s
        .get(
            Role::Viewer,
            &format!("/v1/environments/staging/snapshots/{}", snaps[1]["seq"]),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (404, Some("not-found")),
        "{p}"
    );
    let (status, p) = s
        .get(Role::Viewer, "/v1/environments/production/snapshots/latest")
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("invalid-request")),
        "{p}"
    );
    let (status, limited) = s
        .get(
            Role::Viewer,
            "/v1/environments/production/snapshots?limit=1&from=2000-01-01T00:00:00Z",
        )
        .await;
    assert_eq!(status, 200, "{limited}");
    assert_eq!(limited["snapshots"].as_array().unwrap().len(), 1);
    let (status, p) = s
        .get(
            Role::Viewer,
            "/v1/environments/production/snapshots?from=yesterday",
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("invalid-request")),
        "{p}"
    );

    // The diff from the first report to the latest: cart came and went, checkout-api stayed.
    let (status, d) = s
        .get(
            Role::Viewer,
            &format!("/v1/environments/production/snapshots/diff?from={first_snapshot}"),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["to"], snaps[0]["seq"]);
    assert_eq!(d["unchanged"], 1, "{d:#}");
    let (status, d) = s
        .get(
            Role::Viewer,
            &format!(
                "/v1/environments/production/snapshots/diff?from={}&to={}",
                snaps[1]["seq"], snaps[0]["seq"]
            ),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(
        d["removed"][0]["name"], "registry.example.com/shop/cart",
        "{d:#}"
    );
    let (status, _) = s
        .get(Role::Viewer, "/v1/environments/production/snapshots/diff")
        .await;
    assert_eq!(status, 422, "from is required");

    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_api_sqlite() {
    posture_api(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_api_postgres() {
    posture_api(Backend::Postgres).await;
}
