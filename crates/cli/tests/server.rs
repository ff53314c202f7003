//! `portcullis serve` as a real process, and `portcullis gate --server URL` against it: the
//! same outputs and exit codes as a local gate, with the decision recorded by the server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

struct Server(Serve);

impl std::ops::Deref for Server {
    type Target = Serve;
    fn deref(&self) -> &Serve {
        &self.0
    }
}

impl Server {
    fn start(home: &Path) -> Server {
        Server(Serve::start(
            home,
            &[
                "--config",
                "examples/portcullis.yaml",
                "--kev",
                "examples/kev.json",
                "--trusted-keys",
                "examples/keys",
            ],
        ))
    }

    /// SIGTERM: a graceful shutdown exits 0.
    fn stop(mut self) {
        let pid = self.0.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.child.try_wait().unwrap() {
                assert!(status.success(), "serve exits 0 on SIGTERM: {status}");
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "serve did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn run_remote(home: &Path, args: &[String], token: Option<&str>) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PORTCULLIS_") {
            c.env_remove(k);
        }
    }
    if let Some(t) = token {
        c.env("PORTCULLIS_TOKEN", t);
    }
    c.env("PORTCULLIS_HOME", home)
        .current_dir(root())
        .args(args)
        .output()
        .expect("run portcullis")
}

/// Remote flags: the README's command without what the server keeps itself.
/// examples/exceptions.yaml without the exceptions already expired, in a file of its own
/// (None when every one has expired).
fn current_example_exceptions() -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string(root().join("examples/exceptions.yaml")).unwrap();
    let mut doc: Value = yaml_serde::from_str(&text).unwrap();
    let today = chrono::Utc::now().date_naive();
    let list = doc["exceptions"].as_array_mut().unwrap();
    list.retain(|e| {
        chrono::NaiveDate::parse_from_str(e["expires"].as_str().unwrap(), "%Y-%m-%d")
            .is_ok_and(|d| d >= today)
    });
    if list.is_empty() {
        return None;
    }
    let path = fresh_home().join("exceptions.json");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    Some(path)
}

fn remote_command(local: &[String], url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = 0;
    for a in local {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        match a.as_str() {
            "--advisories" | "--kev" | "--exceptions" | "--config" | "--trusted-keys" => skip = 1,
            _ => out.push(a.clone()),
        }
    }
    out.extend(["--server".to_string(), url.to_string()]);
    out
}

fn normalize(text: &str, ids: &[&str]) -> String {
    let mut t = text
        .lines()
        .filter(|l| !l.starts_with("recorded:") && !l.starts_with("note:"))
        .map(|l| match l.find("(deployed ") {
            // Each store recorded its own staging decision and deployment (seed_staging).
            Some(i) if l.trim_start().starts_with("diff against") => {
                format!("{}(deployed …)", &l[..i])
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    for id in ids {
        t = t.replace(id, "DECISION-ID");
    }
    t
}

fn without_record(mut d: Value) -> Value {
    let o = d.as_object_mut().unwrap();
    o.remove("id");
    o.remove("chain");
    // Where the facts came from differs by door: the server authenticated its caller and
    // ignores a history the request claims; the command line on its own store asserts both.
    o.remove("facts");
    o.remove("ignored");
    // Each store recorded its own staging decision and deployment (seed_staging).
    if let Some(b) = d
        .pointer_mut("/diff/baseline")
        .and_then(Value::as_object_mut)
    {
        b.remove("decision");
        b.remove("deployed_at");
    }
    d
}

/// The README's artifact passed staging and was deployed there, on the record of the store at
/// `home`: the promotion order to production is judged from that record.
fn seed_staging(home: &Path, config: &str) {
    let staging: Vec<String> = allowed_command(config)
        .into_iter()
        .map(|a| {
            if a == "production" {
                "staging".into()
            } else {
                a
            }
        })
        .collect();
    let o = portcullis_with_home(&root(), home, &staging);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = portcullis_with_home(
        &root(),
        home,
        &["deployed", "--artifact", CLEAN_ARTIFACT, "--env", "staging"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn gate_against_a_server_behaves_exactly_like_a_local_gate() {
    let home = fresh_home();
    let config = "examples/portcullis.yaml";
    // The server's state: the advisory, the exceptions, a CI token.
    let o = portcullis_with_home(
        &root(),
        &home,
        &["advisory", "add", "examples/evidence/log4shell.osv.json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // The example exceptions still to expire (one expired already, and the store only grants
    // an exception until a time to come).
    let current = current_example_exceptions();
    if let Some(file) = &current {
        let o = portcullis_with_home(
            &root(),
            &home,
            &["exception", "add", "--file", file.to_str().unwrap()],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = portcullis_with_home(
        &root(),
        &home,
        // admin: an admin may date a decision (recorded as asserted), as the local gate's
        // --time does; a ci token's time is the server's clock (crates/server/tests/api.rs).
        &["token", "create", "--role", "admin", "--name", "pipeline"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_string();
    assert!(token.starts_with("pcl_"), "{token}");
    seed_staging(&home, config);
    let server = Server::start(&home);
    // The local gate reads the same advisory and exceptions from its own store.
    let local_home = fresh_home();
    seed_staging(&local_home, config);
    let o = portcullis_with_home(
        &root(),
        &local_home,
        &["advisory", "add", "examples/evidence/log4shell.osv.json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    if let Some(file) = &current {
        let o = portcullis_with_home(
            &root(),
            &local_home,
            &["exception", "add", "--file", file.to_str().unwrap()],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }

    for (local_cmd, want) in [(denied_command(config), 1), (allowed_command(config), 0)] {
        for format in ["json", "sarif"] {
            let local_args = with(local_cmd.clone(), &["--format", format]);
            let local_only: Vec<String> = remote_command(&local_args, "")
                .into_iter()
                .filter(|a| a != "--server" && !a.is_empty())
                .chain([
                    "--config".into(),
                    config.into(),
                    "--kev".into(),
                    "examples/kev.json".into(),
                    "--trusted-keys".into(),
                    "examples/keys".into(),
                ])
                .collect();
            let local = portcullis_with_home(&root(), &local_home, &local_only);
            let remote_home = fresh_home();
            let remote = run_remote(
                &remote_home,
                &remote_command(&local_args, &server.url),
                Some(&token),
            );
            assert_eq!(local.status.code(), Some(want), "{}", stderr(&local));
            assert_eq!(
                remote.status.code(),
                Some(want),
                "remote: {}",
                stderr(&remote)
            );
            // The remote run wrote nothing locally: the server recorded it.
            assert!(!remote_home.join("portcullis.db").exists());
            let _ = std::fs::remove_dir_all(&remote_home);
            assert!(
                stderr(&remote).contains(&format!("in {}", server.url)),
                "{}",
                stderr(&remote)
            );
            if format == "json" {
                let l: Value = serde_json::from_slice(&local.stdout).unwrap();
                let r: Value = serde_json::from_slice(&remote.stdout).unwrap();
                let ids = [l["id"].as_str().unwrap(), r["id"].as_str().unwrap()];
                assert_eq!(without_record(l.clone()), without_record(r.clone()));
                assert_eq!(
                    normalize(&stderr(&local), &ids),
                    normalize(&stderr(&remote), &ids),
                    "the human summary is the same"
                );
                // The server has it on record.
                let shown = portcullis_with_home(
                    &root(),
                    &home,
                    &["decision", "show", r["id"].as_str().unwrap()],
                );
                assert!(shown.status.success(), "{}", stderr(&shown));
            } else {
                // The results and the rules must be the same (the artifacts list differs by
                // what each command line referenced: the server holds the KEV catalogue).
                let part = |o: &std::process::Output| {
                    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
                    (
                        v["runs"][0]["results"].clone(),
                        v["runs"][0]["tool"].clone(),
                    )
                };
                let (l, r) = (part(&local), part(&remote));
                assert!(l.0.as_array().is_some_and(|a| !a.is_empty()) || want == 0);
                assert_eq!(l, r, "SARIF results and rules");
            }
        }
    }

    // Kubernetes manifests go with the request: the same PCL-K8S violations both ways.
    let manifest = local_home.join("pod.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: debug, namespace: shop}\nspec:\n  containers:\n  - name: sh\n    image: busybox@sha256:0000000000000000000000000000000000000000000000000000000000000001\n    securityContext: {privileged: true}\n",
    )
    .unwrap();
    let m = manifest.to_str().unwrap();
    let local_args = with(
        denied_command(config),
        &["--manifest", m, "--format", "json"],
    );
    let local_only: Vec<String> = remote_command(&local_args, "")
        .into_iter()
        .filter(|a| a != "--server" && !a.is_empty())
        .chain([
            "--config".into(),
            config.into(),
            "--kev".into(),
            "examples/kev.json".into(),
            "--trusted-keys".into(),
            "examples/keys".into(),
        ])
        .collect();
    let local = portcullis_with_home(&root(), &local_home, &local_only);
    let remote = run_remote(
        &fresh_home(),
        &remote_command(&local_args, &server.url),
        Some(&token),
    );
    let l: Value = serde_json::from_slice(&local.stdout)
        .unwrap_or_else(|e| panic!("local: {e}: {}", stderr(&local)));
    let r: Value = serde_json::from_slice(&remote.stdout)
        .unwrap_or_else(|e| panic!("remote: {e}: {}", stderr(&remote)));
    assert_eq!(without_record(l.clone()), without_record(r.clone()));
    assert!(
        r["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["rule"] == "PCL-K8S-001"
                && v["key"].as_str().unwrap().starts_with("k8s|shop/Pod/debug")),
        "{r}"
    );

    // Without a token, with a wrong one, or with flags only a local gate reads: exit 2.
    let args = remote_command(&denied_command(config), &server.url);
    let none = run_remote(&fresh_home(), &args, None);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("PORTCULLIS_TOKEN"));
    let wrong = run_remote(&fresh_home(), &args, Some("pcl_wrong"));
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("unauthenticated"),
        "{}",
        stderr(&wrong)
    );
    let mixed = run_remote(
        &fresh_home(),
        &with(args.clone(), &["--kev", "examples/kev.json"]),
        Some(&token),
    );
    assert_eq!(mixed.status.code(), Some(2));
    assert!(stderr(&mixed).contains("--kev cannot be used with --server"));
    // An unreadable file is sent as such: the server records it and fails closed (exit 2).
    let missing = run_remote(
        &fresh_home(),
        &with(
            args.clone(),
            &["--evidence", "examples/evidence/no-such-file.json"],
        ),
        Some(&token),
    );
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("recorded: decision"),
        "{}",
        stderr(&missing)
    );
    server.stop();
    // A server that is gone: exit 2, never an allow.
    let gone = run_remote(&fresh_home(), &args, Some(&token));
    assert_eq!(gone.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&local_home);
}
