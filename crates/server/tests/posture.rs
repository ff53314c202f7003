//! The posture of what runs, kept by the server in the background: an advisory added while an
//! affected artifact runs in two environments (and an unaffected one in a third) puts both
//! in violation within a second, and withdrawing it brings them back; an exception that
//! expires while its artifact runs is noticed by the clock, with no request; a policy change
//! (a server started with another configuration on the same store) re-judges what runs. Each
//! transition is a `posture.changed` audit entry and a notification. On SQLite and on
//! PostgreSQL.

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
use axum::routing::post;
use common::*;
use portcullis_firewall::posture::State as Posture;
use portcullis_server::ServerSettings;
use portcullis_server::auth::Role;
use portcullis_server::notify::{EventKind, Format, NotificationConfig, Webhook};
use portcullis_store::{Backend, StoreConfig, kinds};
use serde_json::{Value, json};

const CLEAN: &str = "registry.example.com/shop/cart@sha256:1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";

/// Three environments where the log4j artifact and the clean one are allowed before the
/// advisory: no provenance or approval rules in force; PCL-VULN-001 enforced everywhere.
const CONFIG: &str = "environments:\n  east: {protected: false}\n  west: {protected: false}\n  north: {protected: false}\n";

/// The same, with PCL-VULN-001 only warning in `west`: a configuration change.
const CONFIG_WARN_WEST: &str = "environments:\n  east: {protected: false}\n  west: {protected: false}\n  north: {protected: false}\nrules:\n  PCL-VULN-001:\n    actions: {west: warn}\n";

fn sbom(name: &str, components: Value) -> Value {
    json!({"name": format!("{name}.cdx.json"), "content": {
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "metadata": {"component": {"type": "application", "name": name, "version": "1.0.0"}},
        "components": components}})
}

fn log4j_sbom() -> Value {
    sbom(
        "checkout-api",
        json!([{"type": "library", "group": "org.apache.logging.log4j", "name": "log4j-core",
                "version": "2.14.1", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}]),
    )
}

fn clean_sbom() -> Value {
    sbom(
        "cart",
        json!([{"type": "library", "name": "serde", "version": "1.0.200",
                "purl": "pkg:cargo/serde@1.0.200"}]),
    )
}

#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Value>>>);

async fn receive(State(r): State<Receiver>, axum::Json(v): axum::Json<Value>) -> &'static str {
    r.0.lock().unwrap().push(v);
    "ok"
}

async fn receiver() -> (String, Receiver) {
    let r = Receiver::default();
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, r)
}

fn options(config: &std::path::Path, hook: &str) -> Options {
    Options {
        settings: ServerSettings {
            notifications: NotificationConfig {
                webhooks: vec![Webhook {
                    name: Some("posture".into()),
                    url: hook.to_string(),
                    format: Format::Generic,
                    events: Some(vec![EventKind::Posture]),
                }],
                attempts: 2,
                backoff_ms: 50,
                ..Default::default()
            },
            ..Default::default()
        },
        gatekeeper: None,
        config: Some(config.to_path_buf()),
    }
}

async fn state_of(s: &TestServer, env: &str, name: &str) -> Option<(Posture, Vec<String>)> {
    let p = s.state.service.posture(env).await.unwrap();
    p.artifacts
        .iter()
        .find(|a| a.artifact.name == name)
        .map(|a| (a.state, a.rules.clone()))
}

/// Wait until every (env, name) is in `want` (at most `limit`); how long it took.
async fn wait_for(
    s: &TestServer,
    which: &[(&str, &str)],
    want: Posture,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let mut all = true;
        for (env, name) in which {
            if state_of(s, env, name).await.map(|x| x.0) != Some(want) {
                all = false;
            }
        }
        if all {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{which:?} not {want:?} within {limit:?}: {:?}",
            futures_states(s, which).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn futures_states(
    s: &TestServer,
    which: &[(&str, &str)],
) -> Vec<Option<(Posture, Vec<String>)>> {
    let mut out = Vec::new();
    for (env, name) in which {
        out.push(state_of(s, env, name).await);
    }
    out
}

/// `posture --env` as the API's reader says it: whether anything running is not compliant.
async fn failing(s: &TestServer, env: &str) -> bool {
    s.state.service.posture(env).await.unwrap().failing()
}

async fn decide_and_deploy(s: &TestServer, artifact: &str, env: &str, evidence: Value) {
    let (status, d) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": artifact, "environment": env, "evidence": [evidence]}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["decision"]["decision"], "allow", "{d}");
    let (status, r) = s
        .post(
            Role::Ci,
            "/v1/deployments",
            &json!({"artifact": artifact, "environment": env}),
        )
        .await;
    assert_eq!(status, 201, "{r}");
}

async fn posture_entries(s: &TestServer) -> Vec<Value> {
    let (last, _) = s.store.head().await.unwrap().unwrap();
    s.store
        .entries(1, last as u64)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kinds::POSTURE_CHANGED)
        .map(|e| serde_json::from_str(&e.body).unwrap())
        .collect()
}

const LOG4J: &str = "registry.example.com/shop/checkout-api";
const CART: &str = "registry.example.com/shop/cart";

async fn posture_follows_advisories_exceptions_and_policies(config: StoreConfig) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("portcullis.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let (hook, got) = receiver().await;
    let s = TestServer::start(config.clone(), options(&cfg, &hook)).await;

    decide_and_deploy(&s, LOG4J_ARTIFACT, "east", log4j_sbom()).await;
    decide_and_deploy(&s, LOG4J_ARTIFACT, "west", log4j_sbom()).await;
    decide_and_deploy(&s, CLEAN, "north", clean_sbom()).await;
    let all = [(("east"), LOG4J), ("west", LOG4J), ("north", CART)];
    wait_for(&s, &all, Posture::Compliant, Duration::from_secs(10)).await;
    for env in ["east", "west", "north"] {
        assert!(!failing(&s, env).await, "{env}");
    }

    // Log4Shell is published while the artifact runs: no request about it is needed.
    let osv: Value = serde_json::from_slice(
        &std::fs::read(examples().join("evidence/log4shell.osv.json")).unwrap(),
    )
    .unwrap();
    let (status, added) = s
        .post(Role::Admin, "/v1/advisories", &json!({"osv": osv}))
        .await;
    assert_eq!(status, 201, "{added}");
    let took = wait_for(
        &s,
        &[("east", LOG4J), ("west", LOG4J)],
        Posture::Violation,
        Duration::from_secs(10),
    )
    .await;
    println!("advisory added → both running artifacts in violation: {took:?}");
    assert!(
        took < Duration::from_secs(1),
        "in violation after {took:?}, not within 1 s"
    );
    for env in ["east", "west"] {
        let (_, rules) = state_of(&s, env, LOG4J).await.unwrap();
        assert_eq!(rules, ["PCL-VULN-001"], "{env}");
    }
    assert_eq!(
        state_of(&s, "north", CART).await.unwrap().0,
        Posture::Compliant
    );
    assert!(failing(&s, "east").await);
    assert!(failing(&s, "west").await);
    assert!(!failing(&s, "north").await);
    // Since when: the time of the transition, which the reader counts from.
    let p = s.state.service.posture("east").await.unwrap();
    assert_eq!(p.violation, 1);
    assert!(
        p.artifacts[0].decision_id.is_some(),
        "the re-decision is on record"
    );

    // Withdrawn: back to compliant.
    let (status, _) = s
        .post(
            Role::Admin,
            "/v1/advisories/GHSA-jfh8-c2jp-5v3q/withdraw",
            &json!({"reason": "test"}),
        )
        .await;
    assert_eq!(status, 200);
    wait_for(
        &s,
        &[("east", LOG4J), ("west", LOG4J)],
        Posture::Compliant,
        Duration::from_secs(5),
    )
    .await;
    for env in ["east", "west", "north"] {
        assert!(!failing(&s, env).await, "{env}");
    }

    // An exception covers east for a few seconds; the advisory is back (as a block rule).
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(4))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (status, g) = s
        .post(
            Role::Approver,
            "/v1/exceptions",
            &json!({"id": "EXC-EAST", "rule": "PCL-VULN-001", "key": "*log4j-core*",
                    "artifact": "registry.example.com/shop/*", "environments": ["east"],
                    "expires": expires, "reason": "patch rolling out", "approver": "dana@example.com"}),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    let (status, b) = s
        .post(
            Role::Admin,
            "/v1/advisories",
            &json!({"block_rule": {"id": "BLOCK-LOG4J", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core",
                    "vers": "vers:maven/<2.17.1", "reason": "Log4Shell"}}),
        )
        .await;
    assert_eq!(status, 201, "{b}");
    wait_for(
        &s,
        &[("west", LOG4J)],
        Posture::Violation,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        state_of(&s, "east", LOG4J).await.unwrap().0,
        Posture::Compliant,
        "excepted in east"
    );
    // No request: the clock notices the expiry.
    let expiry = chrono::DateTime::parse_from_rfc3339(&expires).unwrap();
    wait_for(
        &s,
        &[("east", LOG4J)],
        Posture::Violation,
        Duration::from_secs(15),
    )
    .await;
    let late = chrono::Utc::now() - expiry.with_timezone(&chrono::Utc);
    println!("exception expired → east in violation after {late}");
    assert!(
        late < chrono::Duration::seconds(2),
        "east went into violation {late} after the exception expired"
    );
    assert!(!failing(&s, "north").await);

    // Transitions are on the record, each with its cause, and were notified.
    let entries = posture_entries(&s).await;
    let causes: Vec<&str> = entries
        .iter()
        .filter(|e| e["to"] == "violation")
        .map(|e| e["cause"].as_str().unwrap())
        .collect();
    assert!(causes.contains(&"advisory.added"), "{causes:?}");
    assert!(causes.contains(&"exception.expired"), "{causes:?}");
    assert!(
        entries
            .iter()
            .any(|e| e["to"] == "compliant" && e["cause"] == "advisory.withdrawn"),
        "{entries:?}"
    );
    let start = Instant::now();
    loop {
        let texts: Vec<String> = got
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|v| v["text"].as_str().unwrap_or_default().to_string())
            .collect();
        let violation = texts
            .iter()
            .any(|t| t.contains("east") && t.contains("now in violation of PCL-VULN-001"));
        let back = texts.iter().any(|t| t.contains("compliant again"));
        if violation && back {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "notifications: {texts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.stop().await;

    // A configuration change: the same store served with PCL-VULN-001 only warning in west.
    std::fs::write(&cfg, CONFIG_WARN_WEST).unwrap();
    let s = TestServer::start(config, options(&cfg, &hook)).await;
    wait_for(
        &s,
        &[("west", LOG4J)],
        Posture::Compliant,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        state_of(&s, "east", LOG4J).await.unwrap().0,
        Posture::Violation
    );
    let entries = posture_entries(&s).await;
    assert!(
        entries.iter().any(|e| e["environment"] == "west"
            && e["to"] == "compliant"
            && e["cause"] == "reconcile"),
        "{entries:?}"
    );
    // Nothing was tampered with on the way.
    s.store.verify(None).await.unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_on_sqlite() {
    let db = database(Backend::Sqlite).await.unwrap();
    posture_follows_advisories_exceptions_and_policies(db.config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_on_postgres() {
    let Some(db) = database(Backend::Postgres).await else {
        return;
    };
    posture_follows_advisories_exceptions_and_policies(db.config()).await;
}

fn admission_review(namespace: &str, image: &str, operation: &str, uid: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/admission/deployment.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("NAMESPACE", namespace)
        .replace("INIT_IMAGE", image)
        .replace("\"IMAGE\"", &format!("{image:?}"))
        .replace("DRY_RUN", "false");
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["request"]["uid"] = json!(uid);
    v["request"]["operation"] = json!(operation);
    if operation == "DELETE" {
        let object = v["request"]["object"].take();
        v["request"]["oldObject"] = object;
    }
    v
}

/// The admission webhook keeps the inventory: what it admits runs (and is judged from then
/// on), a Pod its controller made is not counted twice, a dry run and a denial change
/// nothing, and a deleted workload leaves; each change is a snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_keeps_the_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("portcullis.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let (hook, _got) = receiver().await;
    let mut opts = options(&cfg, &hook);
    let mut admission = portcullis_server::AdmissionConfig::default();
    admission.namespaces.insert(
        "shop-east".into(),
        portcullis_firewall::admission::NamespaceConfig {
            environment: Some("east".into()),
            ..Default::default()
        },
    );
    opts.settings.admission = admission;
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(db.config(), opts).await;
    let (status, d) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "east", "evidence": [log4j_sbom()]}),
        )
        .await;
    assert_eq!(
        (status, &d["decision"]["decision"]),
        (200, &json!("allow")),
        "{d}"
    );
    let image = LOG4J_ARTIFACT.replace("checkout-api@", "checkout-api:2.4.0@");

    // A dry run changes nothing.
    let mut dry = admission_review("shop-east", &image, "CREATE", "u-dry");
    dry["request"]["dryRun"] = json!(true);
    let (status, r) = s.post(Role::Ci, "/v1/admission", &dry).await;
    assert_eq!(
        (status, &r["response"]["allowed"]),
        (200, &json!(true)),
        "{r}"
    );
    assert!(s.store.inventory(Some("east")).await.unwrap().is_empty());

    // Admitted: it runs, named by registry and repository, and its posture is judged.
    let (status, r) = s
        .post(
            Role::Ci,
            "/v1/admission",
            &admission_review("shop-east", &image, "CREATE", "u-1"),
        )
        .await;
    assert_eq!(
        (status, &r["response"]["allowed"]),
        (200, &json!(true)),
        "{r}"
    );
    let inv = s.store.inventory(Some("east")).await.unwrap();
    assert_eq!(inv.len(), 1, "{inv:?}");
    assert_eq!(inv[0].artifact_name, LOG4J);
    wait_for(
        &s,
        &[("east", LOG4J)],
        Posture::Compliant,
        Duration::from_secs(5),
    )
    .await;
    let snaps = s
        .store
        .snapshots(Some("east"), None, None, 10)
        .await
        .unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].cause, "admission");
    assert_eq!(snaps[0].artifacts[0].verdict.as_deref(), Some("allow"));

    // The ReplicaSet its Deployment makes is not another deployment.
    let mut owned = admission_review("shop-east", &image, "CREATE", "u-2");
    owned["request"]["object"]["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout-api", "uid": "x", "controller": true}]);
    let (status, _) = s.post(Role::Ci, "/v1/admission", &owned).await;
    assert_eq!(status, 200);
    assert_eq!(
        s.store
            .snapshots(Some("east"), None, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // Deleted: it leaves the inventory and the posture, and a snapshot says so.
    let (status, r) = s
        .post(
            Role::Ci,
            "/v1/admission",
            &admission_review("shop-east", &image, "DELETE", "u-3"),
        )
        .await;
    assert_eq!(
        (status, &r["response"]["allowed"]),
        (200, &json!(true)),
        "{r}"
    );
    assert!(s.store.inventory(Some("east")).await.unwrap().is_empty());
    let snaps = s
        .store
        .snapshots(Some("east"), None, None, 10)
        .await
        .unwrap();
    assert_eq!(snaps.len(), 2);
    assert!(snaps[0].artifacts.is_empty(), "{:?}", snaps[0]);
    assert!(
        s.state
            .service
            .posture("east")
            .await
            .unwrap()
            .artifacts
            .is_empty()
    );
    s.store.verify(None).await.unwrap();

    // Rewriting history: a snapshot edited in the database.
    let first = snaps[1].seq;
    let n = s
        .store
        .execute_raw(&format!(
            "UPDATE snapshots SET artifacts = '[]' WHERE seq = {first}"
        ))
        .await
        .unwrap();
    assert_eq!(n, 1);
    match s.store.verify(None).await {
        Err(portcullis_store::VerifyFailure::Tables(found)) => {
            assert!(
                found
                    .iter()
                    .any(|f| f.table == "snapshots" && f.key == format!("seq={first}")),
                "{found:?}"
            );
        }
        other => panic!("an edited snapshot verified: {other:?}"),
    }
    let e = s.store.snapshot(first).await.unwrap_err();
    assert!(e.to_string().contains("snapshots"), "{e}");
    s.stop().await;
}

/// A watch after a deployment that finds an undeclared port records it as an exposure fact of
/// the running digest; that fact re-judges the artifact, and its posture goes into violation
/// of PCL-EXPO-001 (enforced in that environment) with no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_watch_puts_what_runs_in_violation() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("portcullis.yaml");
    std::fs::write(
        &cfg,
        "environments:\n  guarded: {protected: false}\nrules:\n  PCL-EXPO-001:\n    actions: {guarded: enforce}\n",
    )
    .unwrap();
    let service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = service.local_addr().unwrap().port();
    let undeclared = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = undeclared.local_addr().unwrap().port();
    std::fs::write(
        dir.path().join("expectations.yaml"),
        format!(
            "apiVersion: portcullis.dev/probe/v1\ntargets:\n  - name: shop\n    address: 127.0.0.1\n    tcp: {{scan: [{port}, {open}], allowed: [{port}]}}\n"
        ),
    )
    .unwrap();
    let path = dir.path().join("server.yaml");
    let text = "watch:\n  - {environment: guarded, duration: 6s, interval: 2s, lag: 100ms, expectations: expectations.yaml}\n";
    std::fs::write(&path, text).unwrap();
    let settings = ServerSettings::parse(text, &path.display().to_string()).unwrap();
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            settings,
            gatekeeper: None,
            config: Some(cfg),
        },
    )
    .await;
    decide_and_deploy(&s, LOG4J_ARTIFACT, "guarded", log4j_sbom()).await;
    wait_for(
        &s,
        &[("guarded", LOG4J)],
        Posture::Compliant,
        Duration::from_secs(5),
    )
    .await;
    // The first interval ends 2 s after the deployment: then the fact, then the re-judging.
    let took = wait_for(
        &s,
        &[("guarded", LOG4J)],
        Posture::Violation,
        Duration::from_secs(15),
    )
    .await;
    println!("deployed → in violation after the watch's first check: {took:?}");
    let (_, rules) = state_of(&s, "guarded", LOG4J).await.unwrap();
    assert_eq!(rules, ["PCL-EXPO-001"]);
    let entries = posture_entries(&s).await;
    assert!(
        entries
            .iter()
            .any(|e| e["to"] == "violation" && e["cause"] == "fact.recorded"),
        "{entries:?}"
    );
    drop((service, undeclared));
    s.stop().await;
}
