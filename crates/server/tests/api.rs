//! The API against a real server on a loopback port: round trips, problem documents, the
//! token × role matrix, and the OpenAPI document in step with the router.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use portcullis_server::ServerSettings;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::{Value, json};

async fn sqlite_server(opts: Options) -> (TestServer, portcullis_store::testing::TestDb) {
    let db = database(Backend::Sqlite).await.unwrap();
    (TestServer::start(db.config(), opts).await, db)
}

fn log4j_evidence() -> Vec<Value> {
    vec![
        evidence_file(&examples().join("evidence/checkout-api.cdx.json")),
        evidence_file(&examples().join("evidence/trivy-image.json")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_round_trip_and_are_recorded() {
    let (s, _db) = sqlite_server(Options::default()).await;
    let (status, body) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "staging", "evidence": log4j_evidence(),
                    "context": {"pipeline": "test", "time": "2026-11-23T12:00:00Z"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let d = &body["decision"];
    assert_eq!(d["decision"], "deny");
    assert_eq!(body["exit_code"], 1);
    assert!(
        d["chain"]["seq"].as_u64().unwrap() > 0,
        "recorded in the chain: {d}"
    );
    // A ci token cannot date its decision: the firewall's clock times it, and the decision
    // says what it did not use.
    assert_ne!(d["decided_at"], "2026-11-23T12:00:00.000Z");
    assert!(
        d["ignored"].as_array().unwrap().iter().any(|i| i
            .as_str()
            .unwrap()
            .starts_with("context.time 2026-11-23T12:00:00.000Z")),
        "{d}"
    );
    let time = d["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fact"] == "time")
        .unwrap();
    assert_eq!(time["source"], "firewall");
    let rules: Vec<&str> = d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"PCL-VULN-002"), "{rules:?}");
    assert!(
        body["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "PCL-VULN-002" && r["action"] == "enforce"),
        "the rules a report needs come along"
    );
    // The requester defaults to the token.
    let id = d["id"].as_str().unwrap();
    let (status, shown) = s.get(Role::Viewer, &format!("/v1/decisions/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        &shown["decision"], d,
        "the stored decision is the one answered"
    );
    let (_, list) = s
        .get(Role::Viewer, "/v1/decisions?env=staging&limit=5")
        .await;
    assert_eq!(list["decisions"].as_array().unwrap().len(), 1);
    let (_, none) = s.get(Role::Viewer, "/v1/decisions?env=production").await;
    assert!(none["decisions"].as_array().unwrap().is_empty());
    let (status, p) = s.get(Role::Viewer, "/v1/decisions/nope").await;
    assert_eq!((status, p["code"].as_str()), (404, Some("not-found")));

    // Upload, then decide by digest: the same verdict and the same evidence digests.
    let bytes = std::fs::read(examples().join("evidence/trivy-image.json")).unwrap();
    let r = s
        .client
        .post(format!("{}/v1/evidence", s.base))
        .bearer_auth(s.token(Role::Ci))
        .header("x-portcullis-source", "trivy-image.json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "stored already, with the decision"
    );
    let up: Value = r.json().await.unwrap();
    let digest = up["digest"].as_str().unwrap().to_string();
    assert_eq!(up["format"], "trivy-json");
    assert_eq!(up["audit_entry"], Value::Null);
    let r = s
        .client
        .post(format!("{}/v1/evidence", s.base))
        .bearer_auth(s.token(Role::Ci))
        .body(std::fs::read(examples().join("evidence/semgrep.json")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "a new document");
    let up: Value = r.json().await.unwrap();
    assert!(up["audit_entry"].as_u64().is_some());
    let r = s
        .client
        .post(format!("{}/v1/evidence", s.base))
        .bearer_auth(s.token(Role::Ci))
        .body("not evidence at all")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422, "unknown formats are refused");
    let (_, by_digest) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "staging",
                    "evidence": [log4j_evidence()[0].clone(), {"digest": digest}]}),
        )
        .await;
    assert_eq!(by_digest["decision"]["decision"], "deny");
    let digests: Vec<&str> = by_digest["decision"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    assert!(digests.contains(&digest.as_str()), "{digests:?}");

    // An unknown digest is unreadable evidence: it fails closed (exit code 2), never allows.
    let (_, unknown) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "dev",
                    "evidence": [{"digest": format!("sha256:{}", "0".repeat(64))}]}),
        )
        .await;
    assert_eq!(unknown["exit_code"], 2, "{unknown}");
    assert_eq!(unknown["decision"]["decision"], "deny");

    let (status, v) = s.get(Role::Viewer, "/v1/audit/verify").await;
    assert_eq!(status, 200);
    assert_eq!(v["intact"], true);
    let r = s
        .client
        .get(format!("{}/v1/audit/export?decision={id}", s.base))
        .bearer_auth(s.token(Role::Viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let bundle = r.bytes().await.unwrap();
    let report = portcullis_store::proof::verify_bundle(&bundle, None).expect("a valid bundle");
    assert!(format!("{report:?}").contains(id));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advisories_exceptions_deployments_and_inventory() {
    let (s, _db) = sqlite_server(Options::default()).await;
    // 2.4.0 runs in dev (deployed before the advisory).
    let (status, dep) = s
        .post(
            Role::Ci,
            "/v1/deployments",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "dev"}),
        )
        .await;
    assert_eq!(status, 201, "{dep}");
    assert!(dep["warning"].as_str().unwrap().contains("no decision"));
    // The SBOM must be on the server for impact: a decision stores it.
    let (_, d) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "dev", "evidence": log4j_evidence()}),
        )
        .await;
    assert!(
        !d["decision"]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["rule"] == "PCL-VULN-001")
    );
    let osv: Value = serde_json::from_slice(
        &std::fs::read(examples().join("evidence/log4shell.osv.json")).unwrap(),
    )
    .unwrap();
    let reloads = || {
        let (c, url) = (s.client.clone(), format!("{}/metrics", s.base));
        async move {
            let text = c.get(url).send().await.unwrap().text().await.unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("portcullis_state_reloads_total "))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap()
        }
    };
    let before = reloads().await;
    let (status, added) = s
        .post(Role::Admin, "/v1/advisories", &json!({"osv": osv}))
        .await;
    assert_eq!(status, 201, "{added}");
    // In force when answered (one reload); its own change event, in-process and from the
    // chain poll, does not load it again.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(reloads().await - before, 1.0, "one reload per change");
    let affected = added["affected"].as_array().unwrap();
    assert_eq!(affected.len(), 1, "{added}");
    assert_eq!(affected[0]["environment"], "dev");
    assert!(
        added["impact_entry"].as_u64().is_some(),
        "impact is on the record"
    );
    let (status, again) = s
        .post(Role::Admin, "/v1/advisories", &json!({"osv": osv}))
        .await;
    assert_eq!((status, again["code"].as_str()), (409, Some("conflict")));
    // In force at once: the same artifact is now denied in dev by PCL-VULN-001.
    let (_, d) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "dev", "evidence": log4j_evidence()}),
        )
        .await;
    assert_eq!(d["decision"]["decision"], "deny");
    assert!(
        d["decision"]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["rule"] == "PCL-VULN-001")
    );
    let (_, impact) = s
        .get(Role::Viewer, "/v1/advisories/GHSA-jfh8-c2jp-5v3q/impact")
        .await;
    assert_eq!(impact["affected"].as_array().unwrap().len(), 1);
    let (_, list) = s.get(Role::Viewer, "/v1/advisories").await;
    assert_eq!(list["advisories"].as_array().unwrap().len(), 1);
    let (status, _) = s
        .post(
            Role::Admin,
            "/v1/advisories/GHSA-jfh8-c2jp-5v3q/withdraw",
            &json!({"reason": "test"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, list) = s.get(Role::Viewer, "/v1/advisories").await;
    assert!(list["advisories"].as_array().unwrap().is_empty());

    // A block rule.
    let (status, b) = s
        .post(
            Role::Admin,
            "/v1/advisories",
            &json!({"block_rule": {"id": "BLOCK-T1", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core", "vers": "vers:maven/<2.17.1", "reason": "test"}}),
        )
        .await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["affected"].as_array().unwrap().len(), 1);

    // Exceptions: granted, listed, in force, revoked.
    let (status, g) = s
        .post(
            Role::Approver,
            "/v1/exceptions",
            &json!({"id": "EXC-T1", "rule": "PCL-VULN-001", "key": "*log4j-core*", "artifact": "registry.example.com/shop/*",
                    "environments": ["dev"], "expires": "2099-01-01", "reason": "test", "approver": "dana@example.com"}),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    let (_, d) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "dev", "evidence": log4j_evidence()}),
        )
        .await;
    assert!(
        d["decision"]["excepted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["exception"]["id"] == "EXC-T1"),
        "{}",
        d["decision"]
    );
    let (_, ex) = s.get(Role::Viewer, "/v1/exceptions").await;
    assert_eq!(ex["exceptions"][0]["exception"]["id"], "EXC-T1");
    let (status, _) = s
        .post(
            Role::Approver,
            "/v1/exceptions/EXC-T1/revoke",
            &json!({"reason": "fixed"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, p) = s
        .post(
            Role::Approver,
            "/v1/exceptions/EXC-T1/revoke",
            &json!({"reason": "fixed"}),
        )
        .await;
    assert_eq!((status, p["code"].as_str()), (409, Some("conflict")));

    let (_, inv) = s.get(Role::Viewer, "/v1/inventory?env=dev").await;
    assert_eq!(inv["inventory"].as_array().unwrap().len(), 1);
    let (_, v) = s.get(Role::Viewer, "/v1/audit/verify").await;
    assert_eq!(v["intact"], true, "{v:#}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_override_is_audited_and_needs_an_approver() {
    let (s, _db) = sqlite_server(Options::default()).await;
    let body = json!({"artifact": LOG4J_ARTIFACT, "environment": "staging", "evidence": log4j_evidence(),
                      "override": {"reason": "incident INC-7: hotfix"}});
    let (status, p) = s.post(Role::Ci, "/v1/decisions", &body).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("forbidden")));
    let (status, r) = s.post(Role::Approver, "/v1/decisions", &body).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r["decision"]["decision"], "deny",
        "the decision itself stands"
    );
    assert_eq!(r["exit_code"], 0, "the override lets it through");
    let seq = r["override"]["audit_entry"].as_u64().unwrap();
    let entry = s.store.entry(seq).await.unwrap().unwrap();
    assert_eq!(entry.kind, "override");
    assert!(
        entry.body.contains("INC-7") && entry.body.contains(r["decision"]["id"].as_str().unwrap())
    );
    let empty =
        json!({"artifact": LOG4J_ARTIFACT, "environment": "staging", "override": {"reason": " "}});
    let (status, _) = s.post(Role::Approver, "/v1/decisions", &empty).await;
    assert_eq!(status, 422);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_problem_documents() {
    let settings = ServerSettings {
        body_limit: Some(64 * 1024),
        ..Default::default()
    };
    let (s, _db) = sqlite_server(Options {
        settings,
        ..Default::default()
    })
    .await;
    let send = |body: Vec<u8>, ct: &'static str| {
        let req = s
            .client
            .post(format!("{}/v1/decisions", s.base))
            .bearer_auth(s.token(Role::Ci))
            .header("content-type", ct)
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            (status, ct, v)
        }
    };
    let (status, ct, p) = send(b"{\"artifact\": ".to_vec(), "application/json").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (400, Some("malformed-json")),
        "{p}"
    );
    assert_eq!(ct, "application/problem+json");
    assert!(p["detail"].as_str().unwrap().contains("line 1"), "{p}");
    assert_eq!(p["status"], 400);
    assert!(p["type"].as_str().unwrap().ends_with("/malformed-json"));

    let (status, _, p) = send(
        br#"{"artifact": "a@sha256:00", "environment": 7}"#.to_vec(),
        "application/json",
    )
    .await;
    assert_eq!((status, p["code"].as_str()), (422, Some("invalid-request")));
    assert!(
        p["detail"].as_str().unwrap().contains("/environment"),
        "{p}"
    );

    let (status, _, p) = send(
        br#"{"artifact": "a@sha256:00", "environment": "dev", "colour": "red"}"#.to_vec(),
        "application/json",
    )
    .await;
    assert_eq!((status, p["code"].as_str()), (422, Some("invalid-request")));
    assert!(p["detail"].as_str().unwrap().contains("colour"), "{p}");

    let (status, _, p) = send(
        br#"{"artifact": "a@sha256:00", "environment": "dev", "evidence": [{"digest": "x", "content": {}}]}"#.to_vec(),
        "application/json",
    )
    .await;
    assert_eq!((status, p["code"].as_str()), (422, Some("invalid-request")));

    let big = format!(
        r#"{{"artifact": "a@sha256:00", "environment": "{}"}}"#,
        "x".repeat(100 * 1024)
    );
    let (status, _, p) = send(big.into_bytes(), "application/json").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (413, Some("body-too-large")),
        "{p}"
    );

    let (status, _, p) = send(b"{}".to_vec(), "text/plain").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (415, Some("unsupported-media-type"))
    );

    let (status, _, p) = send(
        br#"{"artifact": "no-digest", "environment": "dev"}"#.to_vec(),
        "application/json",
    )
    .await;
    assert_eq!((status, p["code"].as_str()), (422, Some("invalid-request")));
    assert!(
        p["detail"].as_str().unwrap().contains("NAME@sha256:HEX"),
        "{p}"
    );

    let (status, p) = s.get(Role::Viewer, "/v1/decisions?limit=many").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("invalid-request")),
        "{p}"
    );
    let (status, p) = s.get(Role::Viewer, "/v1/decisions?colour=red").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("invalid-request")),
        "{p}"
    );
    let (status, p) = s.get(Role::Viewer, "/v1/decisions?since=yesterday").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("invalid-request")),
        "{p}"
    );
    let (status, p) = s.get(Role::Viewer, "/v1/nothing-here").await;
    assert_eq!((status, p["code"].as_str()), (404, Some("not-found")));
    let r = s
        .client
        .delete(format!("{}/v1/decisions", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    s.stop().await;
}

/// Every endpoint, every role and no token: who may call what.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_role_matrix_covers_every_endpoint() {
    let (s, _db) = sqlite_server(Options::default()).await;
    let open = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
    // (method, path, permission needed, body)
    let body_for = |path: &str| -> Value {
        match path {
            "/v1/decisions" => json!({"artifact": LOG4J_ARTIFACT, "environment": "dev"}),
            "/v1/advisories" => {
                json!({"block_rule": {"purl": "pkg:npm/left-pad", "reason": "matrix"}})
            }
            "/v1/exceptions" => {
                json!({"rule": "PCL-VULN-001", "key": "x", "artifact": "*", "environments": ["dev"], "expires": "2099-01-01", "reason": "m", "approver": "a@example.com"})
            }
            "/v1/deployments" => json!({"artifact": LOG4J_ARTIFACT, "environment": "dev"}),
            "/v1/tokens" => json!({"name": "matrix", "role": "viewer"}),
            "/v1/approvals" => {
                json!({"artifact_digest": LOG4J_ARTIFACT.split('@').nth(1).unwrap(), "environment": "production", "reason": "matrix"})
            }
            "/v1/facts" => {
                json!({"artifact_digest": LOG4J_ARTIFACT.split('@').nth(1).unwrap(), "environment": "production", "verifications": [{"kind": "canary", "score": 90.0, "verdict": "pass", "evidence": null, "details": null}]})
            }
            "/v1/integrations/flagger/confirm-rollout" => {
                json!({"name": "checkout", "namespace": "shop", "phase": "Progressing", "metadata": {"environment": "dev", "artifact": LOG4J_ARTIFACT}})
            }
            "/v1/integrations/rollouts/analysis" => {
                json!({"profile": "none", "namespace": "shop", "rollout": "checkout", "canary_hash": "a1", "stable_hash": "b2", "image": LOG4J_ARTIFACT, "environment": "dev"})
            }
            "/v1/admission" => {
                json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
                "uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "name": "p", "namespace": "dev", "operation": "CREATE", "userInfo": {},
                "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}})
            }
            p if p.ends_with("/withdraw") || p.ends_with("/revoke") => json!({"reason": "matrix"}),
            _ => json!({}),
        }
    };
    let need = |method: &str, path: &str| -> Option<Role> {
        if open.contains(&path) {
            return None;
        }
        Some(match (method, path) {
            ("GET", p) if p.starts_with("/v1/tokens") => Role::Admin,
            // Progressive delivery: canary analyses record results; Flagger's confirm hooks decide.
            ("GET" | "POST", "/v1/integrations/rollouts/analysis") => Role::Verifier,
            ("POST", "/v1/integrations/flagger/confirm-rollout") => Role::Ci,
            // Verifying reads: POST is there for clients that do not send a GET with effects.
            ("GET", _) | ("POST", "/v1/audit/verify") => Role::Viewer,
            ("POST", "/v1/decisions" | "/v1/evidence" | "/v1/deployments" | "/v1/admission") => {
                Role::Ci
            }
            ("POST", p) if p.starts_with("/v1/exceptions") || p.starts_with("/v1/approvals") => {
                Role::Approver
            }
            ("POST", "/v1/facts") => Role::Verifier,
            // Reporting what runs, and removals.
            ("POST" | "DELETE", p) if p.starts_with("/v1/environments/") => Role::Ci,
            ("POST", _) => Role::Admin,
            _ => unreachable!(),
        })
    };
    let allowed = |needed: Role, role: Role| match needed {
        Role::Viewer => true,
        Role::Admin => role == Role::Admin,
        other => role == other || role == Role::Admin,
    };
    let mut checked = 0;
    for (method, route) in documented() {
        let method = method.as_str();
        let path = route
            .replace("{id}", "X-1")
            .replace("{env}", "production")
            .replace("{seq}", "1")
            .replace("{hook}", "confirm-rollout");
        let needed = need(method, &path);
        let mut roles: Vec<Option<Role>> = Role::ALL.iter().map(|r| Some(*r)).collect();
        roles.push(None);
        for role in roles {
            let mut req = match method {
                "GET" => s.client.get(format!("{}{path}", s.base)),
                "DELETE" => s.client.delete(format!("{}{path}", s.base)),
                _ => {
                    let b = s.client.post(format!("{}{path}", s.base));
                    if path == "/v1/evidence" {
                        b.body(std::fs::read(examples().join("evidence/trivy-image.json")).unwrap())
                    } else {
                        b.json(&body_for(&path))
                    }
                }
            };
            if let Some(r) = role {
                req = req.bearer_auth(s.token(r));
            }
            let status = req.send().await.unwrap().status().as_u16();
            let expect_ok = match (needed, role) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(n), Some(r)) => allowed(n, r),
            };
            if expect_ok {
                assert!(
                    status != 401 && status != 403,
                    "{method} {path} as {role:?}: {status}, expected to be let in"
                );
            } else {
                let want = if role.is_none() { 401 } else { 403 };
                assert_eq!(status, want, "{method} {path} as {role:?}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, documented().len() * (Role::ALL.len() + 1));
    // A revoked token is refused at once.
    let (_, t) = s
        .post(
            Role::Admin,
            "/v1/tokens",
            &json!({"name": "short-lived", "role": "viewer"}),
        )
        .await;
    let secret = t["token"].as_str().unwrap().to_string();
    let id = t["id"].as_str().unwrap().to_string();
    let get = |tok: String| {
        let r = s
            .client
            .get(format!("{}/v1/inventory", s.base))
            .bearer_auth(tok);
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(secret.clone()).await, 200);
    let (status, _) = s
        .post(Role::Admin, &format!("/v1/tokens/{id}/revoke"), &json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(get(secret).await, 401);
    // Tokens are stored hashed.
    let row = s.store.token(&id).await.unwrap().unwrap();
    assert!(
        row.digest.starts_with("sha256:")
            && !row.digest.contains(&t["token"].as_str().unwrap()[4..])
    );
    s.stop().await;
}

/// Every (METHOD, path) the OpenAPI document has, generated from the handlers.
fn documented() -> Vec<(String, String)> {
    let doc = serde_json::to_value(portcullis_server::routes::openapi()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out.sort();
    out
}

/// The document and the real router agree. The API's routes are built only through
/// utoipa-axum's `OpenApiRouter::routes` (the path in each handler's `#[utoipa::path]` is its
/// route), so a route cannot be added without its documentation; here every documented
/// operation is called on the running server and must reach a handler (not the not-found or
/// method-not-allowed fallback), and every other method on a documented path must reach the
/// method-not-allowed fallback (no undocumented method on a documented path). The dashboard
/// (HTML under `/ui`, and `/` redirecting there) is not API: it is excluded by that prefix and
/// must not appear in the document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_lists_exactly_the_routes() {
    use portcullis_server::routes::{DASHBOARD_PREFIX, NO_SUCH_ENDPOINT, NO_SUCH_METHOD};
    let doc = serde_json::to_value(portcullis_server::routes::openapi()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = documented();
    assert!(ops.len() >= 25, "{ops:?}");
    let (s, _db) = sqlite_server(Options::default()).await;
    let call = |method: &str, path: &str| {
        let url = format!("{}{}", s.base, path.replace("{id}", "X-1"));
        let req = match method {
            "GET" => s.client.get(url),
            "POST" => s.client.post(url).json(&json!({})),
            "PUT" => s.client.put(url).json(&json!({})),
            "DELETE" => s.client.delete(url),
            _ => s.client.patch(url).json(&json!({})),
        };
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    for (method, path) in &ops {
        assert!(
            !path.starts_with(DASHBOARD_PREFIX) && path != "/",
            "{method} {path}: the dashboard is not API"
        );
        let (status, body) = call(method, path).await;
        assert!(
            !(status == 404 && body["detail"] == NO_SUCH_ENDPOINT),
            "{method} {path} is documented but the router has no such route"
        );
        assert!(
            !(status == 405 && body["detail"] == NO_SUCH_METHOD),
            "{method} {path} is documented but the router does not take {method} there"
        );
        for other in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if ops.iter().any(|(m, p)| m == other && p == path) {
                continue;
            }
            let (status, body) = call(other, path).await;
            assert_eq!(
                (status, body["detail"].as_str()),
                (405, Some(NO_SUCH_METHOD)),
                "{other} {path} is routed but not documented"
            );
        }
    }
    // Every problem code the server can answer is documented, and every one a handler or
    // extractor answers is named by some operation's responses.
    let text = serde_json::to_string(&doc).unwrap();
    let paths = doc["paths"].to_string();
    for (code, _, _) in portcullis_server::problem::codes::ALL {
        assert!(
            text.contains(code),
            "problem code {code} is not in openapi.json"
        );
        if !["method-not-allowed", "not-acceptable"].contains(&code) {
            assert!(
                paths.contains(&format!("problem code: {code}")),
                "no operation answers problem code {code}"
            );
        }
    }
    // And the server serves it.
    let served: Value = s
        .client
        .get(format!("{}/openapi.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, doc);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints() {
    let (s, _db) = sqlite_server(Options::default()).await;
    let r = s
        .client
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r: Value = s
        .client
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "ready");
    assert!(r["rules"].as_u64().unwrap() > 10);
    s.post(
        Role::Ci,
        "/v1/decisions",
        &json!({"artifact": LOG4J_ARTIFACT, "environment": "staging", "evidence": log4j_evidence()}),
    )
    .await;
    let text = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"portcullis_decisions_total{result="deny",environment="staging"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"portcullis_violations_total{rule="PCL-VULN-002",environment="staging"}"#)
    );
    assert!(text.contains("portcullis_decision_duration_seconds_bucket"));
    assert!(text.contains("portcullis_audit_chain_length"));
    assert!(text.contains("# EOF"));
    s.stop().await;
}

/// `GET /v1/reports`: the report of a range in each format, for a viewer; bad parameters are
/// problem documents naming the parameter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_export_the_range_in_every_format() {
    let (s, _db) = sqlite_server(Options::default()).await;
    let (status, body) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "staging", "evidence": log4j_evidence(),
                    "context": {"pipeline": "test", "time": "2026-11-23T12:00:00Z"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["decision"]["id"].as_str().unwrap().to_string();

    // Decisions are timed by the firewall's clock: today's range.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let range = format!("from={today}&to={today}");
    let (status, v) = s
        .get(Role::Viewer, &format!("/v1/reports?{range}&env=staging"))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["schema"], "portcullis.report/v1");
    assert_eq!(v["summary"]["decisions"], 1);
    assert_eq!(v["summary"]["denied"], 1);
    assert_eq!(v["decisions"][0]["id"], id.as_str());
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT00:00:00Z")
        .to_string();
    assert_eq!(v["range"]["to"], tomorrow.as_str());
    assert_eq!(v["chain"]["verified"], true);
    let ra5 = v["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["framework"] == "nist-800-53" && c["control"] == "RA-5")
        .unwrap();
    assert_eq!(ra5["status"], "not-satisfied");
    assert_eq!(ra5["violated_in"][0], id.as_str());

    // Another environment's report has none of it.
    let (_, v) = s
        .get(Role::Viewer, &format!("/v1/reports?{range}&env=production"))
        .await;
    assert_eq!(v["summary"]["decisions"], 0);

    let get = |format: &str| {
        s.client
            .get(format!("{}/v1/reports?{range}&format={format}", s.base))
            .bearer_auth(s.token(Role::Viewer))
            .send()
    };
    let r = get("html").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("id=\"d-{id}\"")) && html.contains("<svg"));
    assert!(html.contains("@page { size: A4") || html.contains("@page { size: a4"));
    // Letter and summary only: the page size changes and the decision's row is left out.
    let r = get("html&paper=letter&summary_only=true").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let summary = r.text().await.unwrap();
    assert!(summary.contains("@page { size: letter"));
    assert!(!summary.contains(&format!("id=\"d-{id}\"")));
    let r = get("oscal").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with(&format!(
                "attachment; filename=\"portcullis-report-all-{}T000000Z-",
                chrono::Utc::now().format("%Y%m%d")
            ))
    );
    let oscal: Value = r.json().await.unwrap();
    assert_eq!(
        oscal["assessment-results"]["metadata"]["oscal-version"],
        "1.1.2"
    );
    assert_eq!(
        oscal["assessment-results"]["results"][0]["observations"][0]["relevant-evidence"][0]["href"],
        format!("urn:portcullis:decision:{id}")
    );

    for (query, word) in [
        ("format=docx", "format"),
        ("from=last-week", "from"),
        ("from=2026-11-24&to=2026-11-01", "not before"),
        ("colour=red", "colour"),
        ("format=html&paper=a3", "paper"),
        ("format=json&summary_only=true", "summary-only"),
        ("format=html&summary_only=maybe", "summary_only"),
    ] {
        let (status, v) = s.get(Role::Viewer, &format!("/v1/reports?{query}")).await;
        assert_eq!(status, 422, "{query}: {v}");
        assert_eq!(v["code"], "invalid-request");
        assert!(v["detail"].as_str().unwrap().contains(word), "{query}: {v}");
    }
    s.stop().await;
}
