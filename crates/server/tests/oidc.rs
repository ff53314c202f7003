//! OIDC workload identity: ID tokens as GitHub Actions and GitLab CI mint them, signed by keys
//! the test makes (ES256 with rcgen, RS256 with openssl), checked offline against a JWKS file
//! named in the server settings. The right token decides and is the decision's authenticated
//! requester; a wrong issuer, audience, expiry, key, algorithm or repository is refused; a
//! rotated key is picked up from the file; bad settings name the place.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis_server::ServerSettings;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::{Value, json};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const AUDIENCE: &str = "https://portcullis.example.com";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An ES256 key pair: the signing key and its public JWK.
fn ec_key(kid: &str) -> (EncodingKey, Value) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let raw = pair.public_key_raw(); // 0x04 || x || y
    assert_eq!(raw.len(), 65);
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                     "x": b64(&raw[1..33]), "y": b64(&raw[33..65])});
    (EncodingKey::from_ec_der(&pair.serialize_der()), jwk)
}

/// An RS256 key pair made by openssl (GitHub signs with RS256), or None where it is missing.
fn rsa_key(dir: &Path, kid: &str) -> Option<(EncodingKey, Value)> {
    let pem = dir.join(format!("{kid}.pem"));
    let der = dir.join(format!("{kid}.der"));
    let ok = std::process::Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&pem)
        .arg("2048")
        .output()
        .ok()?
        .status
        .success();
    if !ok {
        return None;
    }
    let out = std::process::Command::new("openssl")
        .args(["rsa", "-traditional", "-outform", "DER", "-in"])
        .arg(&pem)
        .arg("-out")
        .arg(&der)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let modulus = std::process::Command::new("openssl")
        .args(["rsa", "-noout", "-modulus", "-in"])
        .arg(&pem)
        .output()
        .ok()?;
    let text = String::from_utf8(modulus.stdout).unwrap();
    let hex = text.trim().strip_prefix("Modulus=").unwrap();
    let n: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let jwk =
        json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(&n), "e": "AQAB"});
    Some((
        EncodingKey::from_rsa_der(&std::fs::read(&der).unwrap()),
        jwk,
    ))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The claims of a GitHub Actions ID token (the documented example's fields).
fn github_claims(repository: &str, git_ref: &str) -> Value {
    let t = now();
    json!({
        "jti": "example-id", "sub": format!("repo:{repository}:ref:{git_ref}"),
        "aud": AUDIENCE, "ref": git_ref, "sha": "example-sha", "repository": repository,
        "repository_owner": repository.split('/').next().unwrap(), "run_id": "1", "run_number": "1",
        "run_attempt": "1", "actor": "octocat", "workflow": "deploy", "head_ref": "", "base_ref": "",
        "event_name": "push", "ref_type": "branch", "job_workflow_ref": format!("{repository}/.github/workflows/deploy.yml@{git_ref}"),
        "iss": ISSUER, "nbf": t - 5, "exp": t + 300, "iat": t - 5,
    })
}

fn sign(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn settings(dir: &Path, algorithms: &[&str], max_lifetime: Option<u64>) -> ServerSettings {
    let text = format!(
        r#"oidc:
  - issuer: {ISSUER}
    audience: {AUDIENCE}
    jwks_file: jwks.json
    algorithms: [{}]
    leeway_seconds: 30
{}    requester: [repository, ref, workflow]
    roles:
      - role: ci
        claims: {{repository: acme/payments, ref: "refs/heads/main"}}
      - role: ci
        claims: {{repository: "acme/*", ref: "refs/tags/v*"}}
      - role: viewer
        claims: {{repository_owner: acme}}
"#,
        algorithms.join(", "),
        max_lifetime
            .map(|m| format!("    max_lifetime_seconds: {m}\n"))
            .unwrap_or_default()
    );
    let path = dir.join("server.yaml");
    std::fs::write(&path, &text).unwrap();
    ServerSettings::parse(&text, &path.display().to_string()).unwrap()
}

fn write_jwks(dir: &Path, keys: &[&Value]) {
    std::fs::write(dir.join("jwks.json"), json!({"keys": keys}).to_string()).unwrap();
}

async fn call(s: &TestServer, token: &str, method: reqwest::Method, path: &str) -> (u16, Value) {
    let mut req = s
        .client
        .request(method.clone(), format!("{}{path}", s.base))
        .bearer_auth(token);
    if method == reqwest::Method::POST {
        req = req.json(&json!({
            "artifact": "registry.example.com/acme/payments@sha256:5555555555555555555555555555555555555555555555555555555555555555",
            "environment": "staging",
            "evidence": [evidence_file(&examples().join("evidence/checkout-api.cdx.json"))],
        }));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn decide(s: &TestServer, token: &str) -> (u16, Value) {
    call(s, token, reqwest::Method::POST, "/v1/decisions").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tokens_are_accepted_or_refused_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let (key, jwk) = ec_key("k1");
    let (other_key, _) = ec_key("k1"); // same kid, another key: a forgery
    write_jwks(dir.path(), &[&jwk]);
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            settings: settings(dir.path(), &["ES256"], Some(3600)),
            ..Options::default()
        },
    )
    .await;

    // The right repository and branch: role ci, and the decision's requester is who the token
    // names, as authenticated by the firewall.
    let good = sign(
        Algorithm::ES256,
        "k1",
        &key,
        &github_claims("acme/payments", "refs/heads/main"),
    );
    let (status, body) = decide(&s, &good).await;
    assert_eq!(status, 200, "{body}");
    let requester = body["decision"]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fact"] == "requester")
        .unwrap_or_else(|| panic!("no requester fact: {body}"));
    assert_eq!(
        requester["value"],
        "oidc:token.actions.githubusercontent.com repository=acme/payments ref=refs/heads/main workflow=deploy",
        "{requester}"
    );
    assert_eq!(requester["source"], "authenticated", "{requester}");

    // A tag of another repository of the owner matches the second rule.
    let tag = sign(
        Algorithm::ES256,
        "k1",
        &key,
        &github_claims("acme/ledger", "refs/tags/v1.2.0"),
    );
    assert_eq!(decide(&s, &tag).await.0, 200);

    // The owner's other branches get only the viewer rule: read, not decide.
    let branch = sign(
        Algorithm::ES256,
        "k1",
        &key,
        &github_claims("acme/payments", "refs/heads/feature"),
    );
    assert_eq!(
        call(&s, &branch, reqwest::Method::GET, "/v1/decisions")
            .await
            .0,
        200
    );
    let (status, body) = decide(&s, &branch).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("role viewer"),
        "{body}"
    );

    // Another owner's repository matches no rule at all: 403 naming who.
    let stranger = sign(
        Algorithm::ES256,
        "k1",
        &key,
        &github_claims("evil/payments", "refs/heads/main"),
    );
    let (status, body) = decide(&s, &stranger).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("repository=evil/payments"),
        "{body}"
    );

    // Refused outright (401), each with its reason.
    let mut cases: Vec<(&str, String, &str)> = Vec::new();
    let mut c = github_claims("acme/payments", "refs/heads/main");
    c["iss"] = json!("https://gitlab.example.com");
    cases.push((
        "wrong issuer",
        sign(Algorithm::ES256, "k1", &key, &c),
        "not trusted",
    ));
    let mut c = github_claims("acme/payments", "refs/heads/main");
    c["aud"] = json!("https://another-service.example.com");
    cases.push((
        "wrong audience",
        sign(Algorithm::ES256, "k1", &key, &c),
        "audience",
    ));
    let mut c = github_claims("acme/payments", "refs/heads/main");
    c["exp"] = json!(now() - 120);
    c["iat"] = json!(now() - 600);
    c["nbf"] = json!(now() - 600);
    cases.push(("expired", sign(Algorithm::ES256, "k1", &key, &c), "expired"));
    let mut c = github_claims("acme/payments", "refs/heads/main");
    c.as_object_mut().unwrap().remove("exp");
    cases.push(("no exp", sign(Algorithm::ES256, "k1", &key, &c), "exp"));
    let mut c = github_claims("acme/payments", "refs/heads/main");
    c["nbf"] = json!(now() + 600);
    cases.push((
        "not yet valid",
        sign(Algorithm::ES256, "k1", &key, &c),
        "not valid yet",
    ));
    let mut c = github_claims("acme/payments", "refs/heads/main");
    c["exp"] = json!(now() + 86_400);
    cases.push((
        "too long-lived",
        sign(Algorithm::ES256, "k1", &key, &c),
        "longer than",
    ));
    cases.push((
        "forged with another key",
        sign(
            Algorithm::ES256,
            "k1",
            &other_key,
            &github_claims("acme/payments", "refs/heads/main"),
        ),
        "signature",
    ));
    cases.push((
        "unknown key id",
        sign(
            Algorithm::ES256,
            "k9",
            &key,
            &github_claims("acme/payments", "refs/heads/main"),
        ),
        "k9",
    ));
    // HS256 with the public JWK as the shared secret (the classic key-confusion attack).
    cases.push((
        "HMAC algorithm",
        sign(
            Algorithm::HS256,
            "k1",
            &EncodingKey::from_secret(jwk.to_string().as_bytes()).unwrap(),
            &github_claims("acme/payments", "refs/heads/main"),
        ),
        "not accepted",
    ));
    // alg none: header and claims, empty signature.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(github_claims("acme/payments", "refs/heads/main")
            .to_string()
            .as_bytes())
    );
    cases.push(("alg none", none, "OIDC token refused"));
    // A valid token with its payload swapped for one naming another repository.
    let parts: Vec<&str> = good.split('.').collect();
    let swapped = format!(
        "{}.{}.{}",
        parts[0],
        b64(github_claims("acme/payments", "refs/heads/main")
            .to_string()
            .replace("\"deploy\"", "\"release\"")
            .as_bytes()),
        parts[2]
    );
    cases.push(("payload swapped", swapped, "signature"));
    let mut c = github_claims("acme/payments", "refs/heads/main");
    c.as_object_mut().unwrap().remove("workflow");
    cases.push((
        "requester claim missing",
        sign(Algorithm::ES256, "k1", &key, &c),
        "workflow",
    ));
    cases.push(("garbage", "a.b.c".into(), "OIDC token refused"));
    for (what, token, says) in &cases {
        let (status, body) = decide(&s, token).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(
            body["detail"].as_str().unwrap_or("").contains(says),
            "{what}: expected {says:?} in {body}"
        );
    }
    // Nothing refused left a decision behind: only the two accepted ones are recorded.
    let (_, listed) = s.get(Role::Viewer, "/v1/decisions").await;
    let count = listed["decisions"]
        .as_array()
        .or_else(|| listed.as_array())
        .map(Vec::len)
        .unwrap_or_default();
    assert_eq!(count, 2, "{listed}");

    // API tokens keep working beside OIDC.
    let (status, _) = s.get(Role::Viewer, "/v1/decisions").await;
    assert_eq!(status, 200);

    // The issuer rotates its key: the operator adds it to the file, and a token signed with it
    // is accepted without a restart.
    let (new_key, new_jwk) = ec_key("k2");
    write_jwks(dir.path(), &[&jwk, &new_jwk]);
    let rotated = sign(
        Algorithm::ES256,
        "k2",
        &new_key,
        &github_claims("acme/payments", "refs/heads/main"),
    );
    assert_eq!(decide(&s, &rotated).await.0, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_as_github_signs_them() {
    let dir = tempfile::tempdir().unwrap();
    let Some((key, jwk)) = rsa_key(dir.path(), "gh1") else {
        portcullis_testkit::skip_or_fail("rs256_tokens_as_github_signs_them", "openssl not found");
        return;
    };
    write_jwks(dir.path(), &[&jwk]);
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            // The default algorithm list is RS256.
            settings: {
                let text = format!(
                    "oidc:\n  - issuer: {ISSUER}\n    audience: {AUDIENCE}\n    jwks_file: jwks.json\n    requester: [repository, ref]\n    roles:\n      - role: ci\n        claims: {{repository: acme/payments}}\n"
                );
                let path = dir.path().join("server.yaml");
                ServerSettings::parse(&text, &path.display().to_string()).unwrap()
            },
            ..Options::default()
        },
    )
    .await;
    let token = sign(
        Algorithm::RS256,
        "gh1",
        &key,
        &github_claims("acme/payments", "refs/heads/main"),
    );
    let (status, body) = decide(&s, &token).await;
    assert_eq!(status, 200, "{body}");
    // Signed with RS256 but sent as PS256 or ES256: refused.
    let ps = sign(
        Algorithm::PS256,
        "gh1",
        &key,
        &github_claims("acme/payments", "refs/heads/main"),
    );
    assert_eq!(decide(&s, &ps).await.0, 401);
    s.stop().await;
}

#[test]
fn bad_oidc_settings_name_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let (_, jwk) = ec_key("k1");
    write_jwks(dir.path(), &[&jwk]);
    std::fs::write(
        dir.path().join("secret.json"),
        r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"s"}]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"keys\": [").unwrap();
    let path = dir.path().join("server.yaml");
    let base = format!("oidc:\n  - issuer: {ISSUER}\n    audience: {AUDIENCE}\n");
    let cases = [
        (
            "    jwks_file: jwks.json\n    algorithms: [HS256]\n    roles: [{role: ci, claims: {repository: a/b}}]\n",
            "oidc[0].algorithms",
            "shared-secret",
        ),
        (
            "    jwks_file: jwks.json\n    roles: [{role: ci, claims: {}}]\n",
            "oidc[0].roles[0].claims",
            "at least one claim",
        ),
        (
            "    jwks_file: jwks.json\n    roles: [{role: root, claims: {repository: a/b}}]\n",
            "oidc[0].roles[0].role",
            "unknown role",
        ),
        (
            "    jwks_file: secret.json\n    roles: [{role: ci, claims: {repository: a/b}}]\n",
            "oidc[0].jwks_file",
            "shared secret",
        ),
        (
            "    jwks_file: broken.json\n    roles: [{role: ci, claims: {repository: a/b}}]\n",
            "oidc[0].jwks_file",
            "JWKS (JSON), line 1",
        ),
        (
            "    jwks_file: missing.json\n    roles: [{role: ci, claims: {repository: a/b}}]\n",
            "oidc[0].jwks_file",
            "cannot read",
        ),
        (
            "    jwks_file: jwks.json\n    roles: []\n",
            "oidc[0].roles",
            "no role rule",
        ),
    ];
    for (rest, place, says) in cases {
        let text = format!("{base}{rest}");
        let err = ServerSettings::parse(&text, &path.display().to_string())
            .err()
            .unwrap_or_else(|| panic!("accepted: {text}"))
            .to_string();
        assert!(err.contains(place), "{place}: {err}");
        assert!(err.contains(says), "{says}: {err}");
        assert!(err.contains("server.yaml"), "names the file: {err}");
    }
    // An empty audience would accept tokens minted for any service.
    let text = format!(
        "oidc:\n  - issuer: {ISSUER}\n    audience: ''\n    jwks_file: jwks.json\n    roles: [{{role: ci, claims: {{repository: a/b}}}}]\n"
    );
    let err = ServerSettings::parse(&text, &path.display().to_string())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("oidc[0].audience"), "{err}");
}
