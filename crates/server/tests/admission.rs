//! The admission webhook with AdmissionReview fixtures against a real server: allowed, denied,
//! dryRun, unknown image, tag without digest, the pod spec through the library's Kubernetes
//! rules and a Gatekeeper constraint, warnings, and failing closed or open.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use portcullis_server::ServerSettings;
use portcullis_server::admission::{AdmissionConfig, FailureMode, NamespaceConfig, RecordMode};
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::{Value, json};

/// The clean 2.4.1 build: allowed in production (examples/README).
const CLEAN: &str = "registry.example.com/shop/checkout-api@sha256:fefd31d2667bc768c7174b24c29c256ff27d4903a2d552ee8c4951c9d094363c";
const UNKNOWN: &str = "registry.example.com/shop/checkout-api@sha256:abababababababababababababababababababababababababababababababab";

fn fixture(name: &str, namespace: &str, image: &str, dry_run: bool) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/admission")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("NAMESPACE", namespace)
        .replace("INIT_IMAGE", image)
        .replace("\"IMAGE\"", &format!("{image:?}"))
        .replace("DRY_RUN", if dry_run { "true" } else { "false" });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn settings() -> ServerSettings {
    let mut admission = AdmissionConfig::default();
    admission.namespaces.insert(
        "shop-prod".into(),
        NamespaceConfig {
            environment: Some("production".into()),
            ..Default::default()
        },
    );
    admission.namespaces.insert(
        "lenient".into(),
        NamespaceConfig {
            environment: Some("production".into()),
            failure: Some(FailureMode::Open),
            ..Default::default()
        },
    );
    // Mapped, so not protected (an unmapped namespace is).
    admission.namespaces.insert(
        "dev".into(),
        NamespaceConfig {
            environment: Some("dev".into()),
            ..Default::default()
        },
    );
    admission.record = RecordMode::Denied;
    ServerSettings {
        admission,
        ..Default::default()
    }
}

fn privileged_containers() -> Option<PathBuf> {
    let template = portcullis_testkit::corpus(
        "Gatekeeper corpus",
        "gatekeeper-library/library/pod-security-policy/privileged-containers/template.yaml",
    )?;
    template.parent().map(Path::to_path_buf)
}

async fn server() -> Option<(TestServer, portcullis_store::testing::TestDb)> {
    let gk = privileged_containers()?;
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            settings: settings(),
            gatekeeper: Some(gk),
            ..Default::default()
        },
    )
    .await;
    // A recorded allow for the clean build and a deny for 2.4.0, in production. The clean build
    // passes staging first: the promotion order is judged from the firewall's own history.
    let ex = examples();
    for env in ["staging", "production"] {
        let (_, allow) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": CLEAN, "environment": env,
                "evidence": [evidence_file(&ex.join("evidence/clean/checkout-api-2.4.1.cdx.json")),
                             evidence_file(&ex.join("evidence/clean/checkout-api-2.4.1.intoto.jsonl")),
                             evidence_file(&ex.join("evidence/clean/trivy-image.json"))],
                "verifications": [serde_json::from_slice::<Value>(&std::fs::read(ex.join("gate/canary-2.4.1.json")).unwrap()).unwrap()],
                "history": serde_json::from_slice::<Value>(&std::fs::read(ex.join("gate/history-2.4.1.json")).unwrap()).unwrap(),
                "context": {"requester": "alice@example.com", "approver": "bob@example.com", "change_ref": "CHG-1", "time": "2026-11-23T12:00:00Z"}}),
        )
        .await;
        assert_eq!(
            allow["decision"]["decision"], "allow",
            "{}",
            allow["decision"]
        );
        if env == "staging" {
            let (status, body) = s
                .post(
                    Role::Ci,
                    "/v1/deployments",
                    &json!({"artifact": CLEAN, "environment": "staging"}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
    }
    let (_, deny) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "production",
                "evidence": [evidence_file(&ex.join("evidence/checkout-api.cdx.json")),
                             evidence_file(&ex.join("evidence/trivy-image.json"))]}),
        )
        .await;
    assert_eq!(deny["decision"]["decision"], "deny");
    Some((s, db))
}

fn image(artifact: &str) -> String {
    artifact.to_string()
}

async fn review(s: &TestServer, body: &Value) -> Value {
    let (status, r) = s.post(Role::Ci, "/v1/admission", body).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(r["kind"], "AdmissionReview");
    assert_eq!(
        r["response"]["uid"], body["request"]["uid"],
        "the uid is echoed"
    );
    r["response"].clone()
}

fn message(resp: &Value) -> String {
    resp["status"]["message"].as_str().unwrap_or("").to_string()
}

fn warnings(resp: &Value) -> Vec<String> {
    resp["warnings"]
        .as_array()
        .map(|w| w.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_denied_unknown_and_tag_only_images() {
    let Some((s, _db)) = server().await else {
        return;
    };

    let allowed = review(
        &s,
        &fixture("deployment.json", "shop-prod", &image(CLEAN), false),
    )
    .await;
    assert_eq!(allowed["allowed"], true, "{allowed}");
    assert!(warnings(&allowed).is_empty(), "{allowed}");
    let cron = review(
        &s,
        &fixture("cronjob.json", "production", &image(CLEAN), false),
    )
    .await;
    assert_eq!(cron["allowed"], true, "{cron}");

    let denied = review(
        &s,
        &fixture(
            "deployment.json",
            "shop-prod",
            &image(LOG4J_ARTIFACT),
            false,
        ),
    )
    .await;
    assert_eq!(denied["allowed"], false);
    let msg = message(&denied);
    assert!(
        msg.starts_with(
            "portcullis denied Deployment shop-prod/checkout-api in environment production:"
        ),
        "{msg}"
    );
    // One line per reason (init container and container), each with its rule id.
    let lines: Vec<&str> = msg.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{msg}");
    assert!(
        lines.iter().all(|l| l.starts_with("- PCL-ADM-003 ")),
        "{msg}"
    );
    assert!(msg.contains("is deny (decision "), "{msg}");

    let unknown = review(&s, &fixture("deployment.json", "shop-prod", UNKNOWN, false)).await;
    assert_eq!(unknown["allowed"], false);
    assert!(message(&unknown).contains("PCL-ADM-002"), "{unknown}");
    // Not protected (dev): admitted, with a warning.
    let dev = review(&s, &fixture("deployment.json", "dev", UNKNOWN, false)).await;
    assert_eq!(dev["allowed"], true, "{dev}");
    assert!(
        warnings(&dev).iter().any(|w| w.starts_with("PCL-ADM-002")),
        "{dev}"
    );

    let tag = "registry.example.com/shop/checkout-api:2.4.1";
    let tagged = review(&s, &fixture("deployment.json", "production", tag, false)).await;
    assert_eq!(tagged["allowed"], false);
    assert!(message(&tagged).contains("PCL-ADM-001"), "{tagged}");
    assert!(message(&tagged).contains("has no digest"), "{tagged}");
    let tagged_dev = review(&s, &fixture("deployment.json", "dev", tag, false)).await;
    assert_eq!(tagged_dev["allowed"], true);
    assert!(
        warnings(&tagged_dev)
            .iter()
            .any(|w| w.starts_with("PCL-ADM-001"))
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_break_glass_override_is_honoured_at_admission() {
    let Some((s, _db)) = server().await else {
        return;
    };
    let before = review(
        &s,
        &fixture(
            "deployment.json",
            "shop-prod",
            &image(LOG4J_ARTIFACT),
            false,
        ),
    )
    .await;
    assert_eq!(before["allowed"], false);
    let ex = examples();
    let (status, r) = s
        .post(
            Role::Approver,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "production",
                    "evidence": [evidence_file(&ex.join("evidence/checkout-api.cdx.json")),
                                 evidence_file(&ex.join("evidence/trivy-image.json"))],
                    "override": {"reason": "INC-42: payment outage, hotfix"}}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["exit_code"], 0);
    let after = review(
        &s,
        &fixture(
            "deployment.json",
            "shop-prod",
            &image(LOG4J_ARTIFACT),
            false,
        ),
    )
    .await;
    assert_eq!(after["allowed"], true, "{after}");
    assert!(
        warnings(&after)
            .iter()
            .any(|w| w.contains("break-glass override") && w.contains("INC-42")),
        "{after}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_has_no_side_effects() {
    let Some((s, _db)) = server().await else {
        return;
    };
    let head = |s: &TestServer| {
        let store = s.store.clone();
        async move { store.head().await.unwrap().unwrap().0 }
    };
    let before = head(&s).await;
    let r = review(
        &s,
        &fixture("deployment.json", "shop-prod", &image(LOG4J_ARTIFACT), true),
    )
    .await;
    assert_eq!(r["allowed"], false, "a dry run answers the same");
    assert_eq!(head(&s).await, before, "but writes nothing");
    let r = review(
        &s,
        &fixture(
            "deployment.json",
            "shop-prod",
            &image(LOG4J_ARTIFACT),
            false,
        ),
    )
    .await;
    assert_eq!(r["allowed"], false);
    let after = head(&s).await;
    assert_eq!(after, before + 1, "a real denial is recorded");
    let entry = s.store.entry(after as u64).await.unwrap().unwrap();
    assert_eq!(entry.kind, "admission.reviewed");
    assert!(entry.body.contains("705ab4f5-6393-11e8-b7cc-42010a800002"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pod_spec_goes_through_library_rules_and_gatekeeper() {
    let Some((s, _db)) = server().await else {
        return;
    };
    let prod = review(
        &s,
        &fixture("privileged-pod.json", "production", &image(CLEAN), false),
    )
    .await;
    assert_eq!(prod["allowed"], false);
    let msg = message(&prod);
    assert!(msg.contains("- PCL-K8S-001 "), "privileged: {msg}");
    assert!(msg.contains("- PCL-K8S-003 "), "hostPID: {msg}");
    assert!(
        msg.contains("- GK.K8sPSPPrivilegedContainer."),
        "the Gatekeeper constraint: {msg}"
    );
    // dev is not protected: the library's rules warn there; the constraint (deny) still denies.
    let dev = review(
        &s,
        &fixture("privileged-pod.json", "dev", &image(CLEAN), false),
    )
    .await;
    assert!(
        warnings(&dev).iter().any(|w| w.starts_with("PCL-K8S-001")),
        "{dev}"
    );
    assert!(
        message(&dev).contains("GK.K8sPSPPrivilegedContainer."),
        "{dev}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_fail_closed_or_open_per_namespace() {
    let Some((s, _db)) = server().await else {
        return;
    };
    let mut broken = fixture("deployment.json", "shop-prod", &image(CLEAN), false);
    broken["request"]["object"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("template");
    let closed = review(&s, &broken).await;
    assert_eq!(closed["allowed"], false);
    assert!(message(&closed).contains("PCL-ADM-004"), "{closed}");
    assert!(message(&closed).contains("failing closed"));
    let mut open = broken.clone();
    open["request"]["namespace"] = json!("lenient");
    let open = review(&s, &open).await;
    assert_eq!(open["allowed"], true, "{open}");
    assert!(warnings(&open).iter().any(|w| w.contains("failing open")));
    // Not an AdmissionReview at all: a problem document, not an allow.
    let (status, p) = s
        .post(
            Role::Ci,
            "/v1/admission",
            &json!({"kind": "AdmissionReview"}),
        )
        .await;
    assert_eq!(status, 422, "{p}");
    // Deletions are not ours to judge.
    let mut del = fixture(
        "deployment.json",
        "shop-prod",
        &image(LOG4J_ARTIFACT),
        false,
    );
    del["request"]["operation"] = json!("DELETE");
    assert_eq!(review(&s, &del).await["allowed"], true);
    s.stop().await;
}

/// The admission rules are rules of the engine: an exception for PCL-ADM-002 (a digest with no
/// recorded decision) in one namespace admits that image there, and nothing else; revoked, it
/// admits nothing; an exception already expired is refused when granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_for_an_admission_rule_admits_that_image_and_nothing_else() {
    let Some((s, _db)) = server().await else {
        return;
    };
    let digest = UNKNOWN.rsplit_once('@').unwrap().1;
    let other = "registry.example.com/shop/checkout-api@sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
    let until = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let exception = json!({
        "id": "EXC-ADM-1", "rule": "PCL-ADM-002", "key": digest,
        "artifact": "k8s/shop-prod/*", "environments": ["production"], "expires": until,
        "reason": "hotfix image, gated after the fact", "approver": "dana@example.com",
    });
    let before = review(&s, &fixture("deployment.json", "shop-prod", UNKNOWN, false)).await;
    assert_eq!(before["allowed"], false, "{before}");

    let (status, r) = s.post(Role::Approver, "/v1/exceptions", &exception).await;
    assert_eq!(status, 201, "{r}");
    let admitted = review(&s, &fixture("deployment.json", "shop-prod", UNKNOWN, false)).await;
    assert_eq!(admitted["allowed"], true, "{admitted}");
    assert!(
        warnings(&admitted)
            .iter()
            .any(|w| w.starts_with("PCL-ADM-002 ") && w.contains("admitted by exception EXC-ADM-1")),
        "the deployer is told what let it in: {admitted}"
    );
    // Another digest without a decision, in the same namespace: still denied.
    let other_image = review(&s, &fixture("deployment.json", "shop-prod", other, false)).await;
    assert_eq!(other_image["allowed"], false, "{other_image}");
    assert!(message(&other_image).contains("PCL-ADM-002"));
    // The same image in another namespace of the same environment: the exception's artifact
    // scope (k8s/shop-prod/*) does not cover it.
    let elsewhere = review(
        &s,
        &fixture("deployment.json", "production", UNKNOWN, false),
    )
    .await;
    assert_eq!(elsewhere["allowed"], false, "{elsewhere}");
    // A denied image is still denied: the exception is for PCL-ADM-002 only.
    let denied = review(
        &s,
        &fixture("deployment.json", "shop-prod", LOG4J_ARTIFACT, false),
    )
    .await;
    assert_eq!(denied["allowed"], false);

    // Revoked: in force at once, nothing admitted any more.
    let (status, r) = s
        .post(
            Role::Approver,
            "/v1/exceptions/EXC-ADM-1/revoke",
            &json!({"reason": "the image was gated"}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let after = review(&s, &fixture("deployment.json", "shop-prod", UNKNOWN, false)).await;
    assert_eq!(after["allowed"], false, "{after}");

    // An exception whose expiry is past is refused, through this door as through every other.
    let mut expired = exception.clone();
    expired["id"] = json!("EXC-ADM-2");
    expired["expires"] = json!("2020-01-01");
    let (status, p) = s.post(Role::Approver, "/v1/exceptions", &expired).await;
    assert_eq!(status, 422, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("in the past"), "{p}");
    s.stop().await;
}

/// In warn mode (portcullis.yaml: `PCL-ADM-002: actions: {production: warn}`) the admission
/// rule admits with a warning, as any other rule in warn mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admission_rule_in_warn_mode_warns() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portcullis.yaml");
    std::fs::write(
        &config,
        "environments:\n  production: { protected: true }\nrules:\n  PCL-ADM-002:\n    actions: { production: warn }\n",
    )
    .unwrap();
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            settings: settings(),
            config: Some(config),
            ..Default::default()
        },
    )
    .await;
    let r = review(&s, &fixture("deployment.json", "shop-prod", UNKNOWN, false)).await;
    assert_eq!(r["allowed"], true, "{r}");
    assert!(
        warnings(&r).iter().any(|w| w.starts_with("PCL-ADM-002 ")),
        "{r}"
    );
    // PCL-ADM-001 is still enforced there.
    let tag = "registry.example.com/shop/checkout-api:2.4.1";
    let tagged = review(&s, &fixture("deployment.json", "shop-prod", tag, false)).await;
    assert_eq!(tagged["allowed"], false, "{tagged}");
    assert!(message(&tagged).contains("PCL-ADM-001"));
    s.stop().await;
}

/// The decisions and overrides tables are indexes outside the hash chain: flipping a denial
/// to an allow in SQL, or inserting an override row, must not admit anything — the webhook
/// checks each row against its audit entry and fails closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_edited_in_the_database_admits_nothing() {
    let Some((s, _db)) = server().await else {
        return;
    };
    let digest = LOG4J_ARTIFACT.rsplit_once('@').unwrap().1;
    let denied = review(
        &s,
        &fixture(
            "deployment.json",
            "shop-prod",
            &image(LOG4J_ARTIFACT),
            false,
        ),
    )
    .await;
    assert_eq!(denied["allowed"], false);
    assert!(message(&denied).contains("PCL-ADM-003"), "{denied}");

    let changed = s
        .store
        .execute_raw(&format!(
            "UPDATE decisions SET verdict = 'allow' WHERE artifact_digest = '{digest}' AND environment = 'production'"
        ))
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let after = review(
        &s,
        &fixture(
            "deployment.json",
            "shop-prod",
            &image(LOG4J_ARTIFACT),
            false,
        ),
    )
    .await;
    assert_eq!(after["allowed"], false, "a flipped verdict admits: {after}");
    let msg = message(&after);
    assert!(
        msg.contains("PCL-ADM-004") && msg.contains("altered"),
        "{msg}"
    );

    // Put the verdict back, and forge a break-glass override row instead.
    s.store
        .execute_raw(&format!(
            "UPDATE decisions SET verdict = 'deny' WHERE artifact_digest = '{digest}' AND environment = 'production'"
        ))
        .await
        .unwrap();
    let forged = s
        .store
        .execute_raw(&format!(
            "INSERT INTO overrides (decision_id, seq, actor, reason, at) \
             SELECT id, seq, 'token:tok_forged', 'forged', '2026-12-01T00:00:00.000Z' FROM decisions \
             WHERE artifact_digest = '{digest}' AND environment = 'production'"
        ))
        .await
        .unwrap();
    assert_eq!(forged, 1);
    let after = review(
        &s,
        &fixture(
            "deployment.json",
            "shop-prod",
            &image(LOG4J_ARTIFACT),
            false,
        ),
    )
    .await;
    assert_eq!(after["allowed"], false, "a forged override admits: {after}");
    assert!(message(&after).contains("altered"), "{after}");
    s.stop().await;
}

/// A tampered record is an attack, not an outage: even in a namespace that fails open, a
/// verdict flipped in SQL admits nothing; the tampering is counted
/// (`portcullis_tampered_rows_total{table}`) and `/v1/audit/verify` answers 409 naming the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_record_admits_nothing_even_where_failing_open() {
    let Some((s, _db)) = server().await else {
        return;
    };
    let digest = LOG4J_ARTIFACT.rsplit_once('@').unwrap().1;
    let lenient = fixture("deployment.json", "lenient", &image(LOG4J_ARTIFACT), false);
    let denied = review(&s, &lenient).await;
    assert_eq!(denied["allowed"], false, "{denied}");
    let (status, v) = s.get(Role::Viewer, "/v1/audit/verify").await;
    assert_eq!(status, 200, "{v}");

    let changed = s
        .store
        .execute_raw(&format!(
            "UPDATE decisions SET verdict = 'allow' WHERE artifact_digest = '{digest}' AND environment = 'production'"
        ))
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let after = review(&s, &lenient).await;
    assert_eq!(after["allowed"], false, "a flipped verdict admits: {after}");
    let msg = message(&after);
    assert!(
        msg.contains("PCL-ADM-004") && msg.contains("tampered") && msg.contains("failing closed"),
        "{msg}"
    );
    let metrics = s.state.metrics.encode();
    assert!(
        metrics.contains("portcullis_tampered_rows_total{table=\"decisions\"} 1"),
        "{metrics}"
    );

    let (status, p) = s.get(Role::Viewer, "/v1/audit/verify").await;
    assert_eq!(status, 409, "{p}");
    assert_eq!(p["code"], "audit-chain-broken", "{p}");
    assert_eq!(p["rows"][0]["table"], "decisions", "{p}");
    assert!(
        p["rows"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("verdict"),
        "{p}"
    );
    let (status, _) = s.post(Role::Viewer, "/v1/audit/verify", &json!({})).await;
    assert_eq!(status, 409);
    s.stop().await;
}
