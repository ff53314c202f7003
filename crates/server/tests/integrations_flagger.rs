//! Flagger's webhooks and the Argo Rollouts endpoint, as the controllers call them: Flagger's
//! payload from its docs (`fixtures/flagger/`, see the README there) with the token in
//! `metadata.token` (Flagger sends no headers); a decision that allows lets the rollout go on,
//! one that denies halts it with the rules in the problem document; the pre-rollout check reads
//! the latest decision; a malformed payload is a 400 problem document; every role and no token
//! against every new endpoint. (The analyses against a real Prometheus are in
//! `integrations_rollouts.rs`; here the profile's Prometheus is a closed port.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;

use common::*;
use portcullis_server::ServerSettings;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::{Value, json};

const DIGEST: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const IMAGE: &str = "registry.example.com/shop/checkout:1.4@sha256:2222222222222222222222222222222222222222222222222222222222222222";

const CONFIG: &str = r#"environments:
  dev: { protected: false }
  production: { protected: true }
rules:
  PCL-PROV-002: { actions: { "*": off } }
  PCL-PROV-003: { actions: { "*": off } }
"#;

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn server() -> (
    TestServer,
    portcullis_store::testing::TestDb,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portcullis.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    std::fs::write(
        dir.path().join("analysis.yaml"),
        format!(
            "apiVersion: portcullis.dev/v1\nkind: CanaryAnalysis\nprovider:\n  prometheus:\n    url: http://127.0.0.1:{}\n    baselineScope: x\n    canaryScope: x\n    timeout: 2s\ngroups:\n  - name: errors\n    metrics:\n      - name: error_rate\n        query: 'sum(rate(app_requests_failed_total{{${{scope}}}}[1m]))'\n",
            closed_port()
        ),
    )
    .unwrap();
    let settings_file = dir.path().join("server.yaml");
    let text = "integrations:\n  profiles:\n    checkout:\n      analysis: analysis.yaml\n      baseline_scope: 'namespace=\"{namespace}\",app=\"{name}-primary\"'\n      canary_scope: 'namespace=\"{namespace}\",app=\"{name}\"'\n      window: 5m\n";
    std::fs::write(&settings_file, text).unwrap();
    let settings = ServerSettings::parse(text, settings_file.to_str().unwrap()).unwrap();
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            config: Some(config),
            settings,
            ..Default::default()
        },
    )
    .await;
    (s, db, dir)
}

/// Flagger's documented webhook payload, its metadata replaced by `metadata`.
fn payload(metadata: Value) -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flagger/webhook-payload.json");
    let mut p: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(
        p["metadata"]["token"], "16688eb5e9f289f1991c",
        "the docs' payload"
    );
    p["metadata"] = metadata;
    p
}

/// POST a raw body to a hook: `(status, content type, body)`.
async fn hook_raw(
    s: &TestServer,
    hook: &str,
    body: Vec<u8>,
    bearer: Option<&str>,
) -> (u16, String, Value) {
    let mut req = s
        .client
        .post(format!("{}/v1/integrations/flagger/{hook}", s.base))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, r.json().await.unwrap_or(Value::Null))
}

/// A hook called as Flagger calls it: the token in the metadata.
async fn hook(s: &TestServer, hook: &str, role: Option<Role>, mut metadata: Value) -> (u16, Value) {
    if let Some(role) = role {
        metadata["token"] = json!(s.token(role));
    }
    let (status, _, body) = hook_raw(
        s,
        hook,
        serde_json::to_vec(&payload(metadata)).unwrap(),
        None,
    )
    .await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_hooks_go_on_on_allow_and_halt_on_deny() {
    let (s, _db, _dir) = server().await;
    let artifact = format!("registry.example.com/shop/checkout@{DIGEST}");
    // Before any decision: pre-rollout halts, naming what to do.
    let (status, r) = hook(
        &s,
        "pre-rollout",
        Some(Role::Viewer),
        json!({"environment": "dev", "image": IMAGE}),
    )
    .await;
    assert_eq!(status, 412, "{r}");
    assert_eq!(r["code"], "rollout-halted");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .contains("no decision is recorded"),
        "{r}"
    );

    // dev is not protected: the decision allows, Flagger goes on.
    let (status, r) = hook(
        &s,
        "confirm-rollout",
        Some(Role::Ci),
        json!({"environment": "dev", "artifact": artifact}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["proceed"], true);
    assert_eq!(r["decision"]["decision"], "allow");
    let id = r["decision"]["id"].as_str().unwrap().to_string();
    // It is on the record, asked as the ci token, with Flagger's canary as the pipeline.
    let (status, d) = s.get(Role::Viewer, &format!("/v1/decisions/{id}")).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["decision"]["artifact"]["digest"], DIGEST);
    // And pre-rollout now finds it (the image reference names the same digest).
    let (status, r) = hook(
        &s,
        "pre-rollout",
        Some(Role::Viewer),
        json!({"environment": "dev", "image": IMAGE}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["decision"]["id"], id.as_str());

    // production is protected: no evidence, no canary result — the decision denies and the
    // promotion halts with the rules that denied.
    let (status, r) = hook(&s, "confirm-promotion", Some(Role::Ci), json!({"environment": "production", "image": format!("registry.example.com/shop/checkout@{DIGEST}")})).await;
    // An image reference is resolved in its registry; this one cannot be reached: no
    // decision, and never a 2xx.
    assert!(
        status >= 500 && r["code"].as_str().unwrap().starts_with("registry-"),
        "{status} {r}"
    );
    let (status, r) = hook(
        &s,
        "confirm-promotion",
        Some(Role::Ci),
        json!({"environment": "production", "artifact": artifact}),
    )
    .await;
    assert_eq!(status, 412, "{r}");
    assert_eq!(r["code"], "rollout-halted");
    let detail = r["detail"].as_str().unwrap();
    assert!(
        detail.contains("denies") && detail.contains("PCL-"),
        "{detail}"
    );
    let denied_id = detail.split_whitespace().nth(1).unwrap().to_string();
    let decisions = |s: &TestServer| {
        let store = s.store.clone();
        async move {
            store
                .decisions(Some("production"), Some(DIGEST), None, 100)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(decisions(&s).await, 1);
    // Flagger asks again at the next interval with nothing changed: the same denial, not one
    // more decision on the record.
    let (status, r) = hook(
        &s,
        "confirm-promotion",
        Some(Role::Ci),
        json!({"environment": "production", "artifact": artifact}),
    )
    .await;
    assert_eq!(status, 412, "{r}");
    let again = r["detail"].as_str().unwrap();
    assert!(
        again.contains(&denied_id) && again.contains("not decided again"),
        "{again}"
    );
    assert_eq!(decisions(&s).await, 1);
    // Something that can change the verdict is recorded (an approval for that digest there):
    // the next ask is decided afresh.
    let (status, a) = s
        .post(
            Role::Approver,
            "/v1/approvals",
            &json!({"artifact_digest": DIGEST, "environment": "production", "reason": "reviewed"}),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let (status, r) = hook(
        &s,
        "confirm-promotion",
        Some(Role::Ci),
        json!({"environment": "production", "artifact": artifact}),
    )
    .await;
    assert_eq!(status, 412, "{r}");
    assert!(
        !r["detail"].as_str().unwrap().contains("not decided again"),
        "{r}"
    );
    assert_eq!(decisions(&s).await, 2);

    // pre-rollout in production reads that denial.
    let (status, r) = hook(
        &s,
        "pre-rollout",
        Some(Role::Viewer),
        json!({"environment": "production", "artifact": artifact}),
    )
    .await;
    assert_eq!(status, 412, "{r}");
    assert!(r["detail"].as_str().unwrap().contains("is deny"), "{r}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_are_400_problem_documents() {
    let (s, _db, _dir) = server().await;
    let ci = s.token(Role::Ci).to_string();
    // The docs' event payload as printed there (a stray parenthesis: not JSON).
    let event = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flagger/event-payload.json"),
    )
    .unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (event, "line"),
        (b"{\"name\": \"podinfo\"}".to_vec(), "namespace"),
        (serde_json::to_vec(&json!({"name": "podinfo", "namespace": "test", "phase": "Progressing", "metadata": {"environment": 3}})).unwrap(), "metadata.environment"),
        (serde_json::to_vec(&json!({"name": "pod\"info", "namespace": "test", "phase": "Progressing"})).unwrap(), "name"),
        (serde_json::to_vec(&payload(json!({"artifact": format!("x@{DIGEST}")}))).unwrap(), "metadata.environment"),
        (serde_json::to_vec(&payload(json!({"environment": "dev"}))).unwrap(), "metadata"),
    ];
    for (body, place) in cases {
        let (status, ct, r) = hook_raw(&s, "confirm-rollout", body, Some(&ci)).await;
        assert_eq!(status, 400, "{r}");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(r["code"], "malformed-webhook", "{r}");
        assert!(
            r["detail"].as_str().unwrap().contains(place),
            "{place}: {r}"
        );
    }
    // A hook that is not answered here.
    let (status, _, r) = hook_raw(
        &s,
        "post-rollout",
        serde_json::to_vec(&payload(json!({}))).unwrap(),
        Some(&ci),
    )
    .await;
    assert_eq!(
        (status, r["code"].as_str()),
        (404, Some("not-found")),
        "{r}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_and_no_token_against_every_new_endpoint() {
    let (s, _db, _dir) = server().await;
    let artifact = format!("registry.example.com/shop/checkout@{DIGEST}");
    let meta = json!({"environment": "dev", "artifact": artifact, "profile": "checkout"});
    let roles: Vec<Option<Role>> = Role::ALL.iter().copied().map(Some).chain([None]).collect();
    for role in &roles {
        // Flagger: token in the metadata.
        for h in [
            "confirm-rollout",
            "pre-rollout",
            "rollout",
            "confirm-promotion",
        ] {
            let (status, r) = hook(&s, h, *role, meta.clone()).await;
            let expected: &[u16] = match (h, role) {
                (_, None) => &[401],
                ("confirm-rollout" | "confirm-promotion", Some(Role::Ci | Role::Admin)) => &[200],
                ("confirm-rollout" | "confirm-promotion", _) => &[403],
                // Any role reads; the first allowing decision may not be there yet.
                ("pre-rollout", _) => &[200, 412],
                // The profile's Prometheus is a closed port: the analysis cannot run.
                ("rollout", Some(Role::Verifier | Role::Admin)) => &[502],
                ("rollout", _) => &[403],
                _ => unreachable!(),
            };
            assert!(expected.contains(&status), "{h} as {role:?}: {status} {r}");
            if status >= 400 {
                assert!(
                    r["code"].is_string(),
                    "{h} as {role:?}: a problem document: {r}"
                );
            }
            if status == 502 {
                assert_eq!(r["code"], "analysis-unavailable", "{r}");
            }
        }
        // Argo Rollouts: a bearer header, GET and POST.
        let q = json!({"profile": "checkout", "namespace": "shop", "rollout": "checkout", "canary_hash": "6d4b9c7f8", "stable_hash": "5c3a8b2d1", "image": IMAGE, "environment": "dev"});
        let url = format!("{}/v1/integrations/rollouts/analysis", s.base);
        let mut get = s.client.get(&url).query(
            &q.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect::<Vec<_>>(),
        );
        let mut post = s.client.post(&url).json(&q);
        if let Some(role) = role {
            get = get.bearer_auth(s.token(*role));
            post = post.bearer_auth(s.token(*role));
        }
        for req in [get, post] {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            let expected = match role {
                None => 401,
                Some(Role::Verifier | Role::Admin) => 502,
                Some(_) => 403,
            };
            assert_eq!(status, expected, "rollouts as {role:?}: {body}");
        }
    }
    // A token in the header works for Flagger too; an unknown one in the metadata does not.
    let (status, _, r) = hook_raw(
        &s,
        "pre-rollout",
        serde_json::to_vec(&payload(meta.clone())).unwrap(),
        Some(s.token(Role::Viewer)),
    )
    .await;
    assert!(status == 200 || status == 412, "{r}");
    let mut bad = meta.clone();
    bad["token"] = json!("pcl_not_a_token");
    let (status, r) = hook(&s, "pre-rollout", None, bad).await;
    assert_eq!(
        (status, r["code"].as_str()),
        (401, Some("unauthenticated")),
        "{r}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_cannot_change_the_query() {
    let (s, _db, _dir) = server().await;
    let url = format!("{}/v1/integrations/rollouts/analysis", s.base);
    let base = json!({"profile": "checkout", "namespace": "shop", "rollout": "checkout", "canary_hash": "6d4b9c7f8", "stable_hash": "5c3a8b2d1", "image": IMAGE, "environment": "dev"});
    let cases = [
        ("canary_hash", json!("x\"} or vector(1) #")),
        ("namespace", json!("shop\",app=~\".*")),
        ("rollout", json!("Checkout")),
        ("profile", json!("nosuch")),
        ("image", json!("registry.example.com/shop/checkout:1.4")),
        ("environment", json!("")),
    ];
    for (field, value) in cases {
        let mut body = base.clone();
        body[field] = value;
        let r = s
            .client
            .post(&url)
            .bearer_auth(s.token(Role::Verifier))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let p: Value = r.json().await.unwrap();
        assert_eq!(status, 422, "{field}: {p}");
        assert_eq!(p["code"], "invalid-request");
        assert!(
            p["detail"].as_str().unwrap().contains(field),
            "{field}: {p}"
        );
    }
    // A field the endpoint does not take (PromQL, a Prometheus URL) is refused too.
    let mut body = base.clone();
    body["query"] = json!("up");
    let r = s
        .client
        .post(&url)
        .bearer_auth(s.token(Role::Verifier))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    s.stop().await;
}

#[test]
fn profiles_that_cannot_work_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.yaml");
    std::fs::write(
        dir.path().join("files.yaml"),
        "apiVersion: portcullis.dev/v1\nkind: CanaryAnalysis\nprovider:\n  files: {baseline: b.csv, canary: c.csv}\ngroups: [{name: g, metrics: [{name: m}]}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prom.yaml"),
        "apiVersion: portcullis.dev/v1\nkind: CanaryAnalysis\nprovider:\n  prometheus: {url: 'http://127.0.0.1:9', baselineScope: x, canaryScope: x}\ngroups: [{name: g, metrics: [{name: m, query: 'up{${scope}}'}]}]\n",
    )
    .unwrap();
    let good = "integrations:\n  profiles:\n    a:\n      analysis: prom.yaml\n      baseline_scope: 'h=\"{stable_hash}\"'\n      canary_scope: 'h=\"{canary_hash}\"'\n      window: 5m\n";
    let s = ServerSettings::parse(good, file.to_str().unwrap()).unwrap();
    assert_eq!(s.profiles.names().collect::<Vec<_>>(), ["a"]);
    for (text, wanted) in [
        (
            good.replace("{stable_hash}", "{pod}").as_str(),
            "integrations.profiles.a.baseline_scope",
        ),
        (
            good.replace("5m", "2d").as_str(),
            "integrations.profiles.a.window",
        ),
        (
            good.replace("    a:", "    A:").as_str(),
            "integrations.profiles.A",
        ),
        (
            "integrations:\n  profiles:\n    a:\n      analysis: nosuch.yaml\n      baseline_scope: x\n      canary_scope: x\n      window: 5m\n",
            "integrations.profiles.a.analysis",
        ),
        (
            "integrations:\n  profiles:\n    a:\n      analysis: files.yaml\n      baseline_scope: x\n      canary_scope: x\n      window: 5m\n",
            "provider.prometheus",
        ),
        (
            "integrations:\n  profiles:\n    a:\n      analysis: files.yaml\n      baseline_scope: x\n      canary_scope: x\n      window: 5m\n      query: up\n",
            "query",
        ),
    ] {
        let e = ServerSettings::parse(text, file.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains(wanted), "{wanted}: {e}");
    }
}
