//! The OpenAPI document tells the truth about what the server accepts and answers: each test
//! here pins one disagreement `scripts/api-fuzz` (schemathesis against the served document)
//! found, checked both in the document and on a running server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::*;
use portcullis_server::ServerSettings;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn sqlite_server(opts: Options) -> (TestServer, portcullis_store::testing::TestDb) {
    let db = database(Backend::Sqlite).await.unwrap();
    (TestServer::start(db.config(), opts).await, db)
}

fn document() -> Value {
    serde_json::to_value(portcullis_server::routes::openapi()).unwrap()
}

/// Every operation of the document: (METHOD, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// A parameter documented `in: path` is a `{name}` of the path; `GET /v1/approvals` had its
/// query parameters documented as (required) path parameters of a path that has none, so a
/// client following the document could not call it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_parameters_are_in_the_path_and_the_rest_in_the_query() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            let place = p["in"].as_str().unwrap();
            let templated = path.contains(&format!("{{{name}}}"));
            assert_eq!(
                place == "path",
                templated,
                "{method} {path}: parameter {name} is documented in {place}"
            );
        }
    }
    let approvals = &doc["paths"]["/v1/approvals"]["get"]["parameters"];
    let names: Vec<(&str, &str)> = approvals
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("artifact_digest", "query"),
            ("environment", "query"),
            ("all", "query")
        ]
    );
    // And the server reads them from the query: a bad `all` is refused, a good one taken.
    let (s, _db) = sqlite_server(Options::default()).await;
    let (status, body) = s.get(Role::Viewer, "/v1/approvals?all=maybe").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid-request"))
    );
    let (status, body) = s
        .get(Role::Viewer, "/v1/approvals?all=true&environment=prod")
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["approvals"].is_array());
    s.stop().await;
}

/// `GET /v1/reports` answers JSON, HTML or PDF by `format`: each is documented (it was
/// documented as application/octet-stream only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_document_the_content_type_of_each_format() {
    let doc = document();
    let content = &doc["paths"]["/v1/reports"]["get"]["responses"]["200"]["content"];
    let mut documented: Vec<&str> = content
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort();
    assert_eq!(
        documented,
        ["application/json", "application/pdf", "text/html"]
    );
    let (s, _db) = sqlite_server(Options::default()).await;
    for format in ["json", "html", "oscal"] {
        let r = s
            .client
            .get(format!("{}/v1/reports?format={format}", s.base))
            .bearer_auth(s.token(Role::Viewer))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "format {format}");
        let media = r.headers()["content-type"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .trim()
            .to_string();
        assert!(
            documented.contains(&media.as_str()),
            "format {format}: {media} is not documented"
        );
    }
    s.stop().await;
}

/// `POST /v1/advisories` takes exactly one of `osv` and `block_rule`: the document says so
/// (it allowed both, neither and nulls), and the server refuses what the document forbids
/// (`{"osv": ..., "block_rule": null}` was accepted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advisory_is_exactly_one_of_osv_or_block_rule() {
    let doc = document();
    let schema = &doc["components"]["schemas"]["AdvisoryBody"];
    let shapes = schema["oneOf"].as_array().expect("oneOf");
    let mut keys: Vec<&str> = shapes
        .iter()
        .map(|s| {
            let required = s["required"].as_array().unwrap();
            assert_eq!(required.len(), 1, "{s}");
            required[0].as_str().unwrap()
        })
        .collect();
    keys.sort();
    assert_eq!(keys, ["block_rule", "osv"]);

    let (s, _db) = sqlite_server(Options::default()).await;
    let rule = json!({"purl": "pkg:npm/left-pad", "vers": "vers:npm/<2.0.0", "reason": "schema"});
    for body in [
        json!({}),
        json!({"osv": null, "block_rule": rule}),
        json!({"block_rule": rule, "osv": {"id": "X"}}),
        json!({"block_rule": null}),
        json!({"osv": 5}),
        json!([]),
    ] {
        let (status, answer) = s.post(Role::Admin, "/v1/advisories", &body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (422, Some("invalid-request")),
            "{body} -> {answer}"
        );
    }
    let (status, answer) = s
        .post(Role::Admin, "/v1/advisories", &json!({"block_rule": rule}))
        .await;
    assert_eq!(status, 201, "{answer}");
    s.stop().await;
}

/// The problems any operation may answer are on every operation (DELETE too, which was left
/// out): 500 and 408 everywhere, 503 (no request permit) everywhere but the probes and
/// /metrics, 401/403 where a token is needed, 400/413/415/422 where there is a body.
#[test]
fn every_operation_documents_the_problems_it_may_answer() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        let has = |status: &str| responses.contains_key(status);
        let mut expected = vec!["500", "408"];
        if !["/healthz", "/readyz", "/metrics"].contains(&path.as_str()) {
            expected.push("503");
        }
        if op.get("security").is_some() {
            expected.extend(["401", "403"]);
        }
        if op.get("requestBody").is_some() {
            expected.extend(["400", "413", "415", "422"]);
        }
        if op["parameters"].as_array().is_some_and(|p| !p.is_empty()) {
            expected.push("422");
        }
        for status in expected {
            assert!(has(status), "{method} {path} does not document {status}");
            if status != "200" {
                assert!(
                    responses[status]["content"]
                        .get("application/problem+json")
                        .is_some(),
                    "{method} {path} {status}: not a problem document"
                );
            }
        }
    }
}

/// A request not answered within `request_timeout_seconds` gets 408 with a problem document
/// (the timeout layer answered an empty body, not what the document says).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_timeout_is_a_problem_document() {
    let settings = ServerSettings {
        request_timeout_seconds: Some(1),
        ..ServerSettings::default()
    };
    let (s, _db) = sqlite_server(Options {
        settings,
        ..Options::default()
    })
    .await;
    // Headers promising a body that never comes: the handler waits for it until the timeout.
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/decisions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        s.token(Role::Ci)
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&answer).contains("\"code\"") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 10 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{text}"
    );
    assert!(text.contains("\"code\":\"request-timeout\""), "{text}");
    s.stop().await;
}

/// A body over `body_limit` gets 413 as a problem document on the integration endpoints too
/// (they read the body themselves; axum's answer was plain text, not what the document says).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_bodies_over_the_limit_are_problem_documents() {
    let settings = ServerSettings {
        body_limit: Some(1024),
        ..ServerSettings::default()
    };
    let (s, _db) = sqlite_server(Options {
        settings,
        ..Options::default()
    })
    .await;
    let big = json!({"name": "x".repeat(4096)});
    for path in [
        "/v1/integrations/flagger/confirm-rollout",
        "/v1/integrations/rollouts/analysis",
        "/v1/decisions",
    ] {
        let r = s
            .client
            .post(format!("{}{path}", s.base))
            .bearer_auth(s.token(Role::Admin))
            .json(&big)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 413, "{path}");
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/problem+json",
            "{path}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "body-too-large", "{path}");
    }
    s.stop().await;
}
