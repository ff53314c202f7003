//! The diff over HTTP: every decision carries it (after `POST /v1/deployments`, the diff rules
//! fire), `GET /v1/diff` answers the same comparison on the candidate's recorded evidence, and
//! what cannot be compared is a problem document, not an empty diff.
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

const BASE: &str = "defectdojo/defectdojo-django@sha256:53302007b6bca69dbb20922a2efcf873ff28947732a28bf6b4d33d17006463b5";
const CANDIDATE: &str = "defectdojo/defectdojo-django@sha256:b914ffbdf28309f2f5fc46caf1a78bbd90f1e2786dd0f01b69c8b00a07a9d078";

fn evidence(which: &str) -> Value {
    let dir = repo().join("crates/firewall/tests/fixtures/diff");
    Value::Array(
        ["cdx.xml", "grype.json", "provenance.intoto.jsonl"]
            .iter()
            .map(|ext| evidence_file(&dir.join(format!("{which}.{ext}"))))
            .collect(),
    )
}

fn rules(d: &Value) -> Vec<String> {
    let mut r: Vec<String> = d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{} {}",
                v["rule"].as_str().unwrap(),
                v["key"].as_str().unwrap()
            )
        })
        .filter(|r| r.starts_with("PCL-DIFF-"))
        .collect();
    r.sort();
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_carry_the_diff_and_get_diff_answers_it() {
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(db.config(), Options::default()).await;
    let (status, first) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": BASE, "environment": "production", "evidence": evidence("base")}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let first = &first["decision"];
    assert_eq!(first["diff"]["baseline"]["state"], "none");
    assert_eq!(first["diff"]["changes"], Value::Null);
    assert!(rules(first).is_empty());

    let (status, dep) = s
        .post(
            Role::Ci,
            "/v1/deployments",
            &json!({"artifact": BASE, "environment": "production"}),
        )
        .await;
    assert_eq!(status, 201, "{dep}");

    let (status, second) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": CANDIDATE, "environment": "production", "evidence": evidence("candidate")}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    let second = &second["decision"];
    assert_eq!(second["diff"]["baseline"]["state"], "known");
    assert_eq!(second["diff"]["baseline"]["decision"], first["id"]);
    assert_eq!(
        rules(second),
        [
            "PCL-DIFF-002 curl@7.64.0-4+deb10u1",
            "PCL-DIFF-002 libpq5@11.10-0+deb10u1",
            "PCL-DIFF-003 source_repo",
        ]
    );

    // GET /v1/diff: the same comparison, on the candidate's recorded evidence.
    let (status, report) = s
        .get(
            Role::Viewer,
            &format!("/v1/diff?env=production&artifact={CANDIDATE}"),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["diff"], second["diff"]);
    assert_eq!(report["candidate"]["decision"], second["id"]);
    assert_eq!(report["environment"], "production");
    let changes = &report["diff"]["changes"];
    assert_eq!(
        changes["components"]["downgraded"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(changes["findings"]["new"].as_array().unwrap().len(), 7);

    // Where nothing runs: said, with no changes.
    let (status, staging) = s
        .get(
            Role::Viewer,
            &format!("/v1/diff?env=staging&artifact={CANDIDATE}"),
        )
        .await;
    assert_eq!(status, 200, "{staging}");
    assert_eq!(staging["diff"]["baseline"]["state"], "none");
    assert_eq!(staging["diff"]["changes"], Value::Null);

    // An artifact with no recorded decision, and a malformed query: problem documents.
    let unknown =
        "other/app@sha256:0000000000000000000000000000000000000000000000000000000000000001";
    let (status, p) = s
        .get(
            Role::Viewer,
            &format!("/v1/diff?env=production&artifact={unknown}"),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (404, Some("not-found")),
        "{p}"
    );
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("no decision about other/app@")
    );
    let (status, p) = s.get(Role::Viewer, "/v1/diff?env=production").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("invalid-request")),
        "{p}"
    );
    let (status, p) = s
        .get(
            Role::Viewer,
            "/v1/diff?env=production&artifact=not-an-artifact",
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("invalid-request")),
        "{p}"
    );
    s.stop().await;
}
