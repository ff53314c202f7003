//! One door: the same request through every way in — `portcullis gate` on a local store,
//! `portcullis gate --server`, `POST /v1/decisions`, the dashboard's re-gate and `decision
//! replay` — gets the same decision (verdict, violations, warnings, excepted, errors, evidence,
//! bundle digest, attestations, diff) and the same audit entry kinds, apart from ids, times
//! and chain positions. And an advisory added through the CLI, the API and the dashboard
//! leaves the same entries, its impact included.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use portcullis_store::{Store, StoreConfig};
use serde_json::{Value, json};

const CONFIG: &str = "examples/portcullis.yaml";
const EVIDENCE: [&str; 3] = [
    "examples/evidence/checkout-api.cdx.json",
    "examples/evidence/trivy-image.json",
    "examples/evidence/checkout-api.intoto.jsonl",
];

/// The example exceptions' CVE waiver, with an expiry far enough ahead for the test to stay
/// true (an exception is only granted until a time still to come).
fn exceptions_file(dir: &Path) -> PathBuf {
    let path = dir.join("exceptions.yaml");
    std::fs::write(
        &path,
        "exceptions:\n  - id: EXC-PARITY-1\n    rule: PCL-VULN-002\n    key: CVE-2022-42003\n    \
         artifact: registry.example.com/shop/checkout-api\n    environments: [staging]\n    \
         expires: 2099-12-31\n    reason: reached only through our own DTOs\n    \
         approver: dana@example.com\n",
    )
    .unwrap();
    path
}

/// A state directory with the advisory and the exception in its store, as every door's
/// store has them.
fn seeded_home(tmp: &Path) -> PathBuf {
    let home = fresh_home();
    for args in [
        vec!["advisory", "add", "examples/evidence/log4shell.osv.json"],
        vec![
            "exception",
            "add",
            "--file",
            exceptions_file(tmp).to_str().unwrap(),
        ],
    ] {
        let o = portcullis_with_home(&root(), &home, &args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    home
}

fn token(home: &Path, role: &str) -> String {
    let o = portcullis_with_home(
        &root(),
        home,
        &["token", "create", "--role", role, "--name", role],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).trim().to_string()
}

fn serve(home: &Path) -> Serve {
    Serve::start(
        home,
        &[
            "--config",
            CONFIG,
            "--kev",
            "examples/kev.json",
            "--trusted-keys",
            "examples/keys",
        ],
    )
}

async fn open(home: &Path) -> Store {
    Store::open(&StoreConfig::in_home(home)).await.unwrap()
}

async fn head(store: &Store) -> u64 {
    store.head().await.unwrap().map_or(0, |(seq, _)| seq as u64)
}

/// The kinds of the entries appended after `from`.
async fn kinds_since(store: &Store, from: u64) -> Vec<String> {
    let to = head(store).await;
    if to <= from {
        return Vec::new();
    }
    store
        .entries(from + 1, to)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// What a decision decided, without what differs by nature (id, time, chain position).
fn decided(d: &Value) -> Value {
    let mut d = d.clone();
    let o = d.as_object_mut().unwrap();
    for k in ["id", "decided_at", "chain"] {
        assert!(
            o.remove(k).is_some() || k == "chain",
            "{k} missing in {d:?}"
        );
    }
    // Where each fact came from depends on the door (an authenticated caller, the command
    // line's asserted name): the decision itself does not.
    o.remove("facts");
    o.remove("ignored");
    d
}

async fn recorded(store: &Store, id: &str) -> Value {
    let (_, d) = portcullis_firewall::record::load_decision(store, id)
        .await
        .unwrap();
    serde_json::to_value(d).unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A dashboard session: its cookie and CSRF token.
async fn login(base: &str, token: &str) -> (String, String) {
    let r = client()
        .post(format!("{base}/ui/login"))
        .form(&[("token", token), ("next", "/ui")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = client()
        .get(format!("{base}/ui"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a CSRF token")
        .to_string();
    (cookie, csrf)
}

async fn post_form(
    base: &str,
    session: &(String, String),
    path: &str,
    fields: &[(&str, &str)],
) -> String {
    let mut form = vec![("csrf", session.1.as_str())];
    form.extend_from_slice(fields);
    let r = client()
        .post(format!("{base}{path}"))
        .header("cookie", &session.0)
        .header("origin", base)
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    assert_eq!(status, 303, "{path}: {text}");
    location.unwrap()
}

fn gate_args(tmp: &Path) -> Vec<String> {
    let _ = tmp;
    let mut args: Vec<String> = [
        "gate",
        "--artifact",
        DENIED_ARTIFACT,
        "--env",
        "staging",
        "--format",
        "json",
        "--evidence",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(EVIDENCE.iter().map(|s| s.to_string()));
    args
}

fn decision_of(o: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stderr(o)))
}

fn replay_reproduces(home: &Path, id: &str) {
    let o = portcullis_with_home(&root(), home, &["decision", "replay", id]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("{id}: reproduced")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn every_door_makes_and_records_the_same_decision() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();

    // Door 1: a local gate on its own store.
    let local = seeded_home(tmp.path());
    let store = rt.block_on(open(&local));
    let before = rt.block_on(head(&store));
    let args = [
        gate_args(tmp.path()),
        [
            "--config",
            CONFIG,
            "--kev",
            "examples/kev.json",
            "--trusted-keys",
            "examples/keys",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    ]
    .concat();
    let o = portcullis_with_home(&root(), &local, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let d_local = decision_of(&o);
    let kinds_local = rt.block_on(kinds_since(&store, before));
    assert_eq!(
        d_local["decision"], "deny",
        "the request is the README's denied one"
    );
    assert!(!d_local["excepted"].as_array().unwrap().is_empty());
    drop(store);

    // Door 2: `portcullis gate --server` on a server's fresh store.
    let remote = seeded_home(tmp.path());
    let ci = token(&remote, "ci");
    let approver = token(&remote, "approver");
    let server = serve(&remote);
    let store = rt.block_on(open(&remote));
    let before = rt.block_on(head(&store));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PORTCULLIS_") {
            cmd.env_remove(k);
        }
    }
    let o = cmd
        .current_dir(root())
        .env("PORTCULLIS_TOKEN", &ci)
        .env("PORTCULLIS_HOME", tmp.path().join("unused"))
        .args(gate_args(tmp.path()))
        .args(["--server", &server.url])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let d_remote = decision_of(&o);
    let kinds_remote = rt.block_on(kinds_since(&store, before));

    // Door 3: POST /v1/decisions on another fresh store.
    let api_home = seeded_home(tmp.path());
    let api_ci = token(&api_home, "ci");
    let api_approver = token(&api_home, "approver");
    let api_server = serve(&api_home);
    let api_store = rt.block_on(open(&api_home));
    let body = json!({
        "artifact": DENIED_ARTIFACT,
        "environment": "staging",
        "evidence": EVIDENCE.iter().map(|p| json!({
            "name": p,
            "content_base64": base64_encode(&std::fs::read(root().join(p)).unwrap()),
        })).collect::<Vec<_>>(),
    });
    let before = rt.block_on(head(&api_store));
    let (status, answer) = rt.block_on(async {
        let r = client()
            .post(format!("{}/v1/decisions", api_server.url))
            .bearer_auth(&api_ci)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["exit_code"], 1);
    let d_api = answer["decision"].clone();
    let kinds_api = rt.block_on(kinds_since(&api_store, before));

    // Door 4: the dashboard's re-gate of that decision (the documents are stored already: the
    // entries are those of a second decision through the API).
    let before = rt.block_on(head(&api_store));
    let (status, again) = rt.block_on(async {
        let r = client()
            .post(format!("{}/v1/decisions", api_server.url))
            .bearer_auth(&api_ci)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    assert_eq!(status, 200, "{again}");
    let kinds_api_again = rt.block_on(kinds_since(&api_store, before));
    let session = rt.block_on(login(&api_server.url, &api_approver));
    let before = rt.block_on(head(&api_store));
    let id = d_api["id"].as_str().unwrap().to_string();
    let location = rt.block_on(post_form(
        &api_server.url,
        &session,
        &format!("/ui/decisions/{id}/regate"),
        &[],
    ));
    let regated_id = location
        .strip_prefix("/ui/decisions/")
        .and_then(|r| r.split('?').next())
        .unwrap()
        .to_string();
    let kinds_regate = rt.block_on(kinds_since(&api_store, before));
    let d_regate = rt.block_on(recorded(&api_store, &regated_id));

    // The same decision, whichever door.
    let want = decided(&d_local);
    for (door, d) in [
        ("gate --server", &d_remote),
        ("POST /v1/decisions", &d_api),
        ("dashboard re-gate", &d_regate),
    ] {
        assert_eq!(
            decided(d),
            want,
            "{door} decided otherwise than the local gate"
        );
    }
    // Recorded as it was answered.
    assert_eq!(
        decided(&rt.block_on(recorded(&store, d_remote["id"].as_str().unwrap()))),
        want
    );
    // The same entries on a fresh store...
    assert!(
        kinds_local.contains(&"decision".to_string()),
        "{kinds_local:?}"
    );
    assert_eq!(kinds_remote, kinds_local, "gate --server");
    assert_eq!(kinds_api, kinds_local, "POST /v1/decisions");
    // ...and on a store that has the documents already.
    assert_eq!(kinds_regate, kinds_api_again, "dashboard re-gate");
    assert_eq!(kinds_regate, ["decision"]);

    // Door 5: replay reproduces each of them.
    replay_reproduces(&local, d_local["id"].as_str().unwrap());
    replay_reproduces(&remote, d_remote["id"].as_str().unwrap());
    replay_reproduces(&api_home, &id);
    replay_reproduces(&api_home, &regated_id);
    let _ = approver;
    drop((server, api_server));
}

/// The entries an advisory's addition appended: (kind, body without who and when). A server
/// goes on to re-judge what runs (decisions, documents, posture entries of its own): those
/// follow the addition and are not part of it.
async fn advisory_entries(store: &Store, from: u64) -> Vec<(String, Value)> {
    let to = head(store).await;
    store
        .entries(from + 1, to)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.starts_with("advisory."))
        .map(|e| {
            let mut body: Value = serde_json::from_str(&e.body).unwrap();
            let o = body.as_object_mut().unwrap();
            assert!(
                o.remove("by").is_some(),
                "who added it is recorded: {}",
                e.body
            );
            (e.kind, body)
        })
        .collect()
}

/// A store where 2.4.0 (with log4j-core 2.14.1) runs in dev.
fn deployed_home(tmp: &Path) -> PathBuf {
    let home = fresh_home();
    let mut args = gate_args(tmp);
    args[4] = "dev".into();
    args.extend(
        ["--config", CONFIG, "--trusted-keys", "examples/keys"]
            .iter()
            .map(|s| s.to_string()),
    );
    let o = portcullis_with_home(&root(), &home, &args);
    assert!(o.status.code().is_some(), "{}", stderr(&o));
    let o = portcullis_with_home(
        &root(),
        &home,
        &["deployed", "--artifact", DENIED_ARTIFACT, "--env", "dev"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    home
}

#[test]
fn an_advisory_added_through_any_door_records_the_same_entries_and_impact() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let osv_path = "examples/evidence/log4shell.osv.json";

    // The CLI.
    let cli_home = deployed_home(tmp.path());
    let store = rt.block_on(open(&cli_home));
    let before = rt.block_on(head(&store));
    let o = portcullis_with_home(&root(), &cli_home, &["advisory", "add", osv_path]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("affects 1 deployed artifact"),
        "{}",
        stdout(&o)
    );
    let via_cli = rt.block_on(advisory_entries(&store, before));
    drop(store);

    // The API.
    let api_home = deployed_home(tmp.path());
    let admin = token(&api_home, "admin");
    let server = serve(&api_home);
    let store = rt.block_on(open(&api_home));
    let before = rt.block_on(head(&store));
    let osv: Value =
        serde_json::from_slice(&std::fs::read(root().join(osv_path)).unwrap()).unwrap();
    let status = rt.block_on(async {
        client()
            .post(format!("{}/v1/advisories", server.url))
            .bearer_auth(&admin)
            .json(&json!({"osv": osv}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 201);
    let via_api = rt.block_on(advisory_entries(&store, before));
    drop(server);

    // The dashboard.
    let ui_home = deployed_home(tmp.path());
    let admin = token(&ui_home, "admin");
    let server = serve(&ui_home);
    let store = rt.block_on(open(&ui_home));
    let session = rt.block_on(login(&server.url, &admin));
    let before = rt.block_on(head(&store));
    let text = serde_json::to_string(&osv).unwrap();
    rt.block_on(post_form(
        &server.url,
        &session,
        "/ui/advisories",
        &[("osv", &text)],
    ));
    let via_ui = rt.block_on(advisory_entries(&store, before));
    drop(server);

    let kinds: Vec<&str> = via_cli.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["advisory.added", "advisory.impact"]);
    let affected = &via_cli[1].1["affected"];
    assert_eq!(affected.as_array().map(Vec::len), Some(1), "{affected}");
    assert_eq!(affected[0]["environment"], "dev");
    // The impact is the same, whichever door; so is the advisory's record (apart from its
    // digest, which is of the document as each door stored it: the CLI keeps the file's
    // bytes, the API and the dashboard the JSON they were sent).
    let strip = |v: &[(String, Value)]| -> Vec<(String, Value)> {
        v.iter()
            .map(|(k, b)| {
                let mut b = b.clone();
                let o = b.as_object_mut().unwrap();
                o.remove("digest");
                o.remove("refs");
                // The rows pinned by the store carry each door's timestamps.
                o.remove("rows");
                for row in o
                    .get_mut("affected")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    row.as_object_mut().unwrap().remove("deployed_at");
                }
                (k.clone(), b)
            })
            .collect()
    };
    assert_eq!(strip(&via_api), strip(&via_cli), "the API");
    assert_eq!(strip(&via_ui), strip(&via_cli), "the dashboard");
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
