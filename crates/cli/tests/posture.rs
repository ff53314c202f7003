//! What runs stays under watch, from the command line: `posture --env` exit codes across three
//! environments before and after a Log4Shell advisory (and after it is withdrawn), `inventory
//! sync` from kubectl's pod JSON, a plain list and stdin (and bad reports naming the place),
//! `snapshot list|show|diff` after deploy, replace and remove, and a tampered snapshot row
//! caught by `audit verify`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::Value;

const ADVISORY: &str = "GHSA-jfh8-c2jp-5v3q";
const CLEAN_NAME: &str = "registry.example.com/shop/checkout-api";

struct Home {
    home: PathBuf,
    _config_dir: tempfile::TempDir,
    config: String,
}

impl Home {
    /// A fresh store, and a configuration in which only PCL-VULN-001 (blocked advisories) is
    /// on: a posture depends on the advisories in force and nothing else.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = config_only(dir.path(), &["PCL-VULN-001"])
            .display()
            .to_string();
        Self {
            home: fresh_home(),
            _config_dir: dir,
            config,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        portcullis_with_home(&root(), &self.home, args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "portcullis {args:?}\n{}{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    fn gate(&self, artifact: &str, env: &str, evidence: &str) {
        let o = self.run(&[
            "gate",
            "--config",
            &self.config,
            "--artifact",
            artifact,
            "--env",
            env,
            "--evidence",
            evidence,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }

    /// `posture --env ENV --regate` (json): its exit code and its document.
    fn posture(&self, env: &str) -> (Option<i32>, Value) {
        let o = self.run(&[
            "posture",
            "--env",
            env,
            "--regate",
            "--config",
            &self.config,
            "--format",
            "json",
        ]);
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
        (o.status.code(), v)
    }

    /// `inventory sync --env ENV FILE` with the report on stdin when `stdin` is given.
    fn sync(&self, env: &str, file: &str, stdin: Option<&[u8]>) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PORTCULLIS_") {
                c.env_remove(k);
            }
        }
        c.env("PORTCULLIS_HOME", &self.home)
            .current_dir(root())
            .args(["inventory", "sync", "--env", env, file])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or_default()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn sql(&self, sql: &str) -> u64 {
        use sqlx::Connection;
        let url = format!("sqlite://{}", self.home.join("portcullis.db").display());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                let n = sqlx::query(sql)
                    .execute(&mut c)
                    .await
                    .unwrap()
                    .rows_affected();
                let _ = c.close().await;
                n
            })
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn fixture(name: &str) -> String {
    fixtures().join("posture").join(name).display().to_string()
}

fn states(v: &Value) -> Vec<(String, String)> {
    v["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["artifact"]["name"].as_str().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn posture_exit_codes_follow_an_advisory_across_three_environments() {
    let h = Home::new();
    let log4j = "examples/evidence/checkout-api.cdx.json";
    let clean = "examples/evidence/clean/checkout-api-2.4.1.cdx.json";
    // Nothing blocks Log4Shell yet: all three are allowed and deployed.
    h.gate(DENIED_ARTIFACT, "staging", log4j);
    h.gate(DENIED_ARTIFACT, "production", log4j);
    h.gate(CLEAN_ARTIFACT, "dev", clean);
    for (artifact, env) in [
        (DENIED_ARTIFACT, "staging"),
        (DENIED_ARTIFACT, "production"),
        (CLEAN_ARTIFACT, "dev"),
    ] {
        h.ok(&["deployed", "--artifact", artifact, "--env", env]);
    }
    // Without --regate nothing is judged yet: not all compliant, exit 1.
    let o = h.run(&["posture", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("pending"), "{}", stdout(&o));
    assert!(stderr(&o).contains("not judged yet"), "{}", stderr(&o));
    for env in ["staging", "production", "dev"] {
        let (code, v) = h.posture(env);
        assert_eq!(code, Some(0), "{env}: {v:#}");
        assert_eq!(v["compliant"], 1, "{v:#}");
    }

    // Log4Shell lands: the two environments running log4j-core 2.14.1 fall into violation.
    h.ok(&["advisory", "add", "examples/evidence/log4shell.osv.json"]);
    for (env, want) in [("staging", 1), ("production", 1), ("dev", 0)] {
        let (code, v) = h.posture(env);
        assert_eq!(code, Some(want), "{env}: {v:#}");
        if want == 1 {
            assert_eq!(v["violation"], 1, "{v:#}");
            let a = &v["artifacts"][0];
            assert_eq!(a["state"], "violation");
            assert_eq!(a["rules"], serde_json::json!(["PCL-VULN-001"]));
            assert!(a["decision_id"].is_string(), "{v:#}");
        } else {
            assert_eq!(states(&v), [(CLEAN_NAME.to_string(), "compliant".into())]);
        }
    }
    // The human form says what, which rules and for how long.
    let o = h.run(&["posture", "--env", "production"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("VIOLATION"), "{out}");
    assert!(out.contains("in violation for "), "{out}");
    assert!(out.contains("rules: PCL-VULN-001"), "{out}");

    // Withdrawn: everything is compliant again.
    h.ok(&[
        "advisory",
        "withdraw",
        ADVISORY,
        "--reason",
        "patched upstream",
    ]);
    for env in ["staging", "production", "dev"] {
        let (code, v) = h.posture(env);
        assert_eq!(code, Some(0), "{env}: {v:#}");
    }

    // An environment name that is not one: exit 2.
    let o = h.run(&["posture", "--env", "no such/env"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn inventory_sync_reads_kubectl_json_a_list_and_stdin() {
    let h = Home::new();
    let o = h.sync("prod-k8s", &fixture("pods.json"), None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("prod-k8s: 2 added, 0 replaced, 0 removed, 0 unchanged"),
        "{out}"
    );
    assert!(
        out.contains(&format!("+ {CLEAN_NAME}@sha256:9f3c1d0a")),
        "{out}"
    );
    assert!(
        out.contains("+ docker.io/envoyproxy/envoy@sha256:5e4f"),
        "{out}"
    );
    // The pending pod's container has no digest yet; the finished job does not run.
    assert!(
        out.contains(
            "skipped: pod shop/search-5c7b9d-qw8zt container search: no image digest reported yet"
        ),
        "{out}"
    );
    assert!(
        out.contains("skipped: pod shop/db-migrate-29384-lk2pd: Succeeded, not running"),
        "{out}"
    );

    // The list replaces checkout-api's digest, adds cart and drops envoy.
    let o = h.sync("prod-k8s", &fixture("running.txt"), None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("1 added, 1 replaced, 1 removed, 0 unchanged"),
        "{out}"
    );
    assert!(out.contains("- docker.io/envoyproxy/envoy@"), "{out}");

    // The same list from stdin: nothing changes.
    let text = std::fs::read(fixture("running.txt")).unwrap();
    let o = h.sync("prod-k8s", "-", Some(&text));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("0 added, 0 replaced, 0 removed, 2 unchanged (nothing changed"));

    let inv = h.ok(&["inventory", "--env", "prod-k8s", "--format", "json"]);
    let inv: Value = serde_json::from_str(&inv).unwrap();
    let names: Vec<&str> = inv
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["artifact_name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&CLEAN_NAME), "{names:?}");
    assert!(
        names.contains(&"registry.example.com/shop/cart"),
        "{names:?}"
    );

    // Reports that cannot be read: exit 2, naming the file and the place; nothing changes.
    let o = h.sync("prod-k8s", &fixture("bad-pods.json"), None);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains(&format!(
            "{}: items[0]: expected a Pod",
            fixture("bad-pods.json")
        )),
        "{}",
        stderr(&o)
    );
    let o = h.sync("prod-k8s", &fixture("unpinned.txt"), None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!(
            "{}: line 2: expected an image reference pinned by digest",
            fixture("unpinned.txt")
        )),
        "{}",
        stderr(&o)
    );
    let o = h.sync(
        "prod-k8s",
        "-",
        Some(b"{\"kind\": \"List\", \"items\": [\n"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("stdin: line 2"), "{}", stderr(&o));
    let o = h.sync("prod-k8s", "/nonexistent/pods.json", None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/pods.json"),
        "{}",
        stderr(&o)
    );
    let after: Value =
        serde_json::from_str(&h.ok(&["inventory", "--env", "prod-k8s", "--format", "json"]))
            .unwrap();
    assert_eq!(after.as_array().unwrap().len(), 2);
}

fn snapshots(h: &Home, env: &str) -> Vec<Value> {
    let out = h.ok(&["snapshot", "list", env, "--format", "json"]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn snapshots_after_deploy_replace_and_remove() {
    let h = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let env = "production";
    // Deploy: checkout-api (decided) and cart (no decision).
    h.gate(
        CLEAN_ARTIFACT,
        env,
        "examples/evidence/clean/checkout-api-2.4.1.cdx.json",
    );
    h.ok(&["deployed", "--artifact", CLEAN_ARTIFACT, "--env", env]);
    let cart = "registry.example.com/shop/cart@sha256:2222222222222222222222222222222222222222222222222222222222222222";
    h.ok(&["deployed", "--artifact", cart, "--env", env]);
    // Replace checkout-api's digest.
    h.ok(&["deployed", "--artifact", DENIED_ARTIFACT, "--env", env]);
    // Remove cart: a report of the cluster without it.
    let list = write(dir.path(), "running.txt", &format!("{DENIED_ARTIFACT}\n"));
    let o = h.sync(env, &list, None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let list = snapshots(&h, env);
    assert_eq!(list.len(), 4, "{list:#?}");
    let seqs: Vec<i64> = list.iter().map(|s| s["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    let causes: Vec<&str> = list.iter().map(|s| s["cause"].as_str().unwrap()).collect();
    assert_eq!(causes[0], "inventory.sync", "{causes:?}");
    let first = &list[3];
    assert_eq!(first["artifacts"].as_array().unwrap().len(), 1);
    assert_eq!(first["artifacts"][0]["verdict"], "allow");
    assert!(first["artifacts"][0]["decision_id"].is_string());

    // The human list.
    let out = h.ok(&["snapshot", "list", env]);
    assert_eq!(out.lines().count(), 4, "{out}");

    // show: the latest when no SEQ is given, or the one asked for.
    let latest = h.ok(&["snapshot", "show", env]);
    assert!(
        latest.contains(&format!("snapshot {} of production", seqs[0])),
        "{latest}"
    );
    assert!(latest.contains(DENIED_ARTIFACT), "{latest}");
    assert!(
        latest.contains("no decision"),
        "a digest deployed without a decision: {latest}"
    );
    let second: Value = serde_json::from_str(&h.ok(&[
        "snapshot",
        "show",
        env,
        &seqs[2].to_string(),
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        second["artifacts"].as_array().unwrap().len(),
        2,
        "{second:#}"
    );
    // A snapshot of another environment is not this one's.
    let o = h.run(&["snapshot", "show", "staging", &seqs[0].to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not in the store"), "{}", stderr(&o));

    // diff: from the first snapshot to the latest.
    let d: Value = serde_json::from_str(&h.ok(&[
        "snapshot",
        "diff",
        env,
        &seqs[3].to_string(),
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(d["from"], seqs[3]);
    assert_eq!(d["to"], seqs[0]);
    assert_eq!(d["changed"].as_array().unwrap().len(), 1, "{d:#}");
    assert_eq!(
        d["changed"][0]["before"],
        CLEAN_ARTIFACT.split_once('@').unwrap().1
    );
    assert_eq!(d["changed"][0]["verdict_before"], "allow");
    assert_eq!(d["added"].as_array().unwrap().len(), 0, "{d:#}");
    // From the second (cart added) to the third (checkout-api replaced): cart unchanged.
    let out = h.ok(&[
        "snapshot",
        "diff",
        env,
        &seqs[2].to_string(),
        &seqs[1].to_string(),
    ]);
    assert!(
        out.contains("0 added, 0 removed, 1 changed, 1 unchanged"),
        "{out}"
    );
    let out = h.ok(&["snapshot", "diff", env, &seqs[1].to_string()]);
    assert!(
        out.contains("0 added, 1 removed, 0 changed, 1 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("- registry.example.com/shop/cart@sha256:2222"),
        "{out}"
    );

    // A snapshot row rewritten in the database: `audit verify` names the table.
    assert!(h.ok(&["audit", "verify"]).contains("intact"));
    let n = h.sql(&format!(
        "UPDATE snapshots SET artifacts = replace(artifacts, 'allow', 'deny') WHERE seq = {}",
        seqs[3]
    ));
    assert_eq!(n, 1);
    let o = h.run(&["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(text.contains("snapshots"), "{text}");
    // And reading it is refused, never shown as recorded.
    let o = h.run(&["snapshot", "show", env, &seqs[3].to_string()]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}
