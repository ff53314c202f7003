//! Facts come from the firewall's own sources: tried the way a pipeline with a `ci` token
//! would try it (naming its approver, back-dating the time, claiming a staging allow and an
//! inline passing canary), and with real approvals and recorded results against a real server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::{Value, json};

const CLEAN: &str = "registry.example.com/shop/checkout-api@sha256:fefd31d2667bc768c7174b24c29c256ff27d4903a2d552ee8c4951c9d094363c";
const CLEAN_DIGEST: &str =
    "sha256:fefd31d2667bc768c7174b24c29c256ff27d4903a2d552ee8c4951c9d094363c";
const OTHER_DIGEST: &str =
    "sha256:9f3c1d0a8e5b7c2f4a6d8e0b1c3f5a7d9e1b3c5f7a9d1e3b5c7f9a1d3e5b7c9f";

/// Production is protected and takes no asserted facts; a change freeze covers 2020–2099.
const CONFIG: &str = r#"environments:
  dev: { protected: false }
  staging: { protected: true }
  production: { protected: true }
rules:
  PCL-CHG-001:
    params:
      windows:
        - { start: "2020-01-01T00:00:00Z", end: "2099-12-31T00:00:00Z", environments: [production], reason: "year-long freeze" }
  # No trusted builder is configured here: provenance is not what these tests are about.
  PCL-PROV-002: { actions: { "*": off } }
  PCL-PROV-003: { actions: { "*": off } }
"#;

async fn server() -> (
    TestServer,
    portcullis_store::testing::TestDb,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portcullis.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            config: Some(config),
            ..Default::default()
        },
    )
    .await;
    (s, db, dir)
}

fn evidence() -> Value {
    let ex = examples();
    json!([
        evidence_file(&ex.join("evidence/clean/checkout-api-2.4.1.cdx.json")),
        evidence_file(&ex.join("evidence/clean/checkout-api-2.4.1.intoto.jsonl")),
        evidence_file(&ex.join("evidence/clean/trivy-image.json")),
    ])
}

fn decision_for(artifact: &str, environment: &str, extra: Value) -> Value {
    let mut body =
        json!({"artifact": artifact, "environment": environment, "evidence": evidence()});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn decide(s: &TestServer, role: Role, body: &Value) -> Value {
    let (status, r) = s.post(role, "/v1/decisions", body).await;
    assert_eq!(status, 200, "{r}");
    r["decision"].clone()
}

fn rules(d: &Value) -> Vec<String> {
    d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap().to_string())
        .collect()
}

fn facts<'a>(d: &'a Value, fact: &str) -> Vec<&'a Value> {
    d["facts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["fact"] == fact)
        .collect()
}

async fn approve(s: &TestServer, role: Role, body: Value) -> Value {
    let (status, r) = s.post(role, "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{r}");
    r["approval"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_ci_token_says_about_itself_counts_for_nothing() {
    let (s, _db, _dir) = server().await;
    let attack = decision_for(
        CLEAN,
        "production",
        json!({
            "context": {"requester": "alice@example.com", "approver": "bob@example.com",
                        "change_ref": "CHG-1", "time": "2019-06-01T12:00:00Z"},
            "history": [{"environment": "staging", "decision": "allow",
                         "decided_at": "2019-05-31T12:00:00Z", "deployed": true,
                         "source": "firewall"}],
            "verifications": [{"kind": "canary", "score": 99.0, "verdict": "pass",
                               "evidence": null, "details": null,
                               "source": "recorded", "recorded_by": "token:someone"}],
        }),
    );
    let d = decide(&s, Role::Ci, &attack).await;
    assert_eq!(d["decision"], "deny");
    let fired = rules(&d);
    for rule in [
        "PCL-CHG-001",
        "PCL-CHG-002",
        "PCL-CHG-004",
        "PCL-VERIFY-001",
    ] {
        assert!(
            fired.contains(&rule.to_string()),
            "{rule} must fire: {fired:?}"
        );
    }
    // The decision says what it rests on, and what it did not use.
    let time = facts(&d, "time")[0];
    assert_eq!(time["source"], "firewall");
    assert!(
        !time["value"].as_str().unwrap().starts_with("2019"),
        "{time}"
    );
    let requester = facts(&d, "requester")[0];
    assert_eq!(requester["source"], "authenticated");
    assert!(
        requester["value"]
            .as_str()
            .unwrap()
            .starts_with("token:tok_")
    );
    let approval = facts(&d, "approval")[0];
    assert_eq!(
        (&approval["source"], &approval["counted"]),
        (&json!("asserted"), &json!(false))
    );
    let canary = facts(&d, "verification")[0];
    assert_eq!(
        (&canary["source"], &canary["counted"]),
        (&json!("asserted"), &json!(false))
    );
    assert!(
        facts(&d, "history").is_empty(),
        "the claimed history is not used: {d}"
    );
    let ignored: Vec<&str> = d["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    for what in [
        "context.time 2019-06-01",
        "history (1 entries)",
        "context.requester \"alice@example.com\"",
    ] {
        assert!(
            ignored.iter().any(|i| i.starts_with(what)),
            "{what}: {ignored:?}"
        );
    }
    // Recorded with the firewall's time.
    assert!(d["chain"]["seq"].as_u64().unwrap() > 0);
    assert!(!d["decided_at"].as_str().unwrap().starts_with("2019"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_approval_counts_only_for_its_digest_environment_change_and_time() {
    let (s, _db, _dir) = server().await;
    let ask = decision_for(CLEAN, "production", json!({}));
    let chg002 = |d: &Value| rules(d).contains(&"PCL-CHG-002".to_string());

    // Nothing approved yet.
    assert!(chg002(&decide(&s, Role::Ci, &ask).await));
    // A ci token cannot approve.
    let (status, _) = s
        .post(
            Role::Ci,
            "/v1/approvals",
            &json!({"artifact_digest": CLEAN_DIGEST, "environment": "production", "reason": "me"}),
        )
        .await;
    assert_eq!(status, 403);
    // Approved for another environment, another digest, another change: not this one.
    approve(
        &s,
        Role::Approver,
        json!({"artifact_digest": CLEAN_DIGEST, "environment": "staging", "reason": "r"}),
    )
    .await;
    approve(
        &s,
        Role::Approver,
        json!({"artifact_digest": OTHER_DIGEST, "environment": "production", "reason": "r"}),
    )
    .await;
    approve(&s, Role::Approver, json!({"artifact_digest": CLEAN_DIGEST, "environment": "production", "change_ref": "CHG-9", "reason": "r"})).await;
    let d = decide(&s, Role::Ci, &ask).await;
    assert!(chg002(&d), "{d}");
    let with_other_change = decision_for(
        CLEAN,
        "production",
        json!({"context": {"change_ref": "CHG-8"}}),
    );
    assert!(chg002(&decide(&s, Role::Ci, &with_other_change).await));
    let with_its_change = decision_for(
        CLEAN,
        "production",
        json!({"context": {"change_ref": "CHG-9"}}),
    );
    assert!(!chg002(&decide(&s, Role::Ci, &with_its_change).await));

    // Approved for this digest and environment: it counts, and the decision says by whom.
    let a = approve(&s, Role::Approver, json!({"artifact_digest": CLEAN_DIGEST, "environment": "production", "reason": "reviewed CHG-1"})).await;
    let d = decide(&s, Role::Ci, &ask).await;
    assert!(!chg002(&d), "{d}");
    let counted: Vec<&Value> = facts(&d, "approval")
        .into_iter()
        .filter(|f| f["counted"] == true)
        .collect();
    assert_eq!(counted.len(), 1, "{d}");
    assert_eq!(counted[0]["source"], "recorded");
    assert_eq!(counted[0]["by"], a["approver"]);

    // Revoked: it no longer counts.
    let id = a["id"].as_str().unwrap();
    let (status, r) = s
        .post(
            Role::Approver,
            &format!("/v1/approvals/{id}/revoke"),
            &json!({"reason": "wrong build"}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert!(chg002(&decide(&s, Role::Ci, &ask).await));

    // Expired: it no longer counts.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    approve(&s, Role::Approver, json!({"artifact_digest": CLEAN_DIGEST, "environment": "production", "reason": "brief", "expires_at": soon})).await;
    assert!(!chg002(&decide(&s, Role::Ci, &ask).await));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(chg002(&decide(&s, Role::Ci, &ask).await));

    // The approver is the requester: an admin approving and asking itself.
    approve(
        &s,
        Role::Admin,
        json!({"artifact_digest": CLEAN_DIGEST, "environment": "production", "reason": "self"}),
    )
    .await;
    let d = decide(&s, Role::Admin, &ask).await;
    let fired = rules(&d);
    assert!(fired.contains(&"PCL-CHG-002".to_string()), "{fired:?}");
    assert!(fired.contains(&"PCL-CHG-003".to_string()), "{fired:?}");
    // …while a ci token asking with the admin's approval is fine.
    assert!(!chg002(&decide(&s, Role::Ci, &ask).await));

    // Every approval is listed, with its state.
    let (status, list) = s
        .get(
            Role::Viewer,
            &format!("/v1/approvals?artifact_digest={CLEAN_DIGEST}&all=true"),
        )
        .await;
    assert_eq!(status, 200);
    let states: Vec<&str> = list["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"revoked") && states.contains(&"expired") && states.contains(&"active"),
        "{states:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_results_and_the_stores_history_count() {
    let (s, _db, _dir) = server().await;
    let canary = json!({"kind": "canary", "score": 93.0, "verdict": "pass", "evidence": null, "details": "ok"});
    // The pipeline may not record its own canary result.
    let body = json!({"artifact_digest": CLEAN_DIGEST, "environment": "production", "verifications": [canary]});
    let (status, _) = s.post(Role::Ci, "/v1/facts", &body).await;
    assert_eq!(status, 403);
    let (status, r) = s.post(Role::Verifier, "/v1/facts", &body).await;
    assert_eq!(status, 201, "{r}");
    let mut staging_canary = body.clone();
    staging_canary["environment"] = json!("staging");
    let (status, r) = s.post(Role::Verifier, "/v1/facts", &staging_canary).await;
    assert_eq!(status, 201, "{r}");
    // Staging passed, on the firewall's own record.
    let staging = decide(&s, Role::Ci, &decision_for(CLEAN, "staging", json!({}))).await;
    assert_eq!(staging["decision"], "allow", "{staging}");
    let d = decide(&s, Role::Ci, &decision_for(CLEAN, "production", json!({}))).await;
    let fired = rules(&d);
    assert!(!fired.contains(&"PCL-VERIFY-001".to_string()), "{fired:?}");
    assert!(!fired.contains(&"PCL-CHG-004".to_string()), "{fired:?}");
    let v = facts(&d, "verification")[0];
    assert_eq!(
        (&v["source"], &v["counted"]),
        (&json!("recorded"), &json!(true))
    );
    assert!(v["by"].as_str().unwrap().starts_with("token:tok_"));
    let h = facts(&d, "history");
    assert!(
        h.iter()
            .any(|f| f["source"] == "firewall"
                && f["value"].as_str().unwrap().starts_with("staging: ")),
        "{h:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_what_if_evaluation_decides_at_its_time_and_records_nothing() {
    let (s, _db, _dir) = server().await;
    let body = decision_for(
        CLEAN,
        "production",
        json!({"what_if": true, "context": {"time": "2019-06-01T12:00:00Z"}}),
    );
    let (status, r) = s.post(Role::Ci, "/v1/decisions", &body).await;
    assert_eq!(status, 200, "{r}");
    let d = &r["decision"];
    assert_eq!(d["what_if"], true);
    assert!(d["chain"].is_null(), "{d}");
    assert!(
        !rules(d).contains(&"PCL-CHG-001".to_string()),
        "2019 is before the freeze"
    );
    assert_eq!(facts(d, "time")[0]["source"], "asserted");
    let (status, _) = s
        .get(
            Role::Viewer,
            &format!("/v1/decisions/{}", d["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 404, "a what-if evaluation is not on the record");
    s.stop().await;
}
