//! Running the real `portcullis` binary from the repository root, as the README does.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where the README's commands run).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `../shared/corpus` beside the checkout, or `None` with a message saying what `needs` it;
/// absence fails under CI.
pub fn corpus(needs: &str) -> Option<PathBuf> {
    portcullis_testkit::corpus(needs, "")
}

/// A fresh, empty state directory (PORTCULLIS_HOME) for one run.
pub fn fresh_home() -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "portcullis-cli-test-{}-{n}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("create state dir");
    dir
}

/// Run `portcullis ARGS` in `cwd`, without any PORTCULLIS_* variable of the caller's
/// environment, with a fresh state directory (so tests never write into the checkout).
pub fn portcullis_in<S: AsRef<std::ffi::OsStr>>(cwd: &Path, args: &[S]) -> Output {
    let home = fresh_home();
    let out = portcullis_with_home(cwd, &home, args);
    let _ = std::fs::remove_dir_all(&home);
    out
}

/// Run `portcullis ARGS` in `cwd` with the store in `home`.
pub fn portcullis_with_home<S: AsRef<std::ffi::OsStr>>(
    cwd: &Path,
    home: &Path,
    args: &[S],
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PORTCULLIS_") {
            c.env_remove(k);
        }
    }
    c.env("PORTCULLIS_HOME", home);
    c.current_dir(cwd)
        .args(args)
        .output()
        .expect("run portcullis")
}

/// Run `portcullis ARGS` in the repository root.
pub fn portcullis<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    portcullis_in(&root(), args)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Ids of the rules of the built-in library in this build.
pub fn rule_ids() -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let o = portcullis_in(dir.path(), &["policy", "list", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// A configuration file (in `dir`) declaring the three example environments, in which every
/// rule of the library except `keep` is `off`: tests of the outputs do not depend on which
/// other rules the library has.
pub fn config_only(dir: &Path, keep: &[&str]) -> PathBuf {
    let mut text = String::from(
        "environments:\n  dev: { protected: false }\n  staging: { protected: true }\n  production: { protected: true }\nrules:\n",
    );
    for id in rule_ids() {
        if !keep.contains(&id.as_str()) {
            text.push_str(&format!("  {id}: {{ actions: {{ \"*\": off }} }}\n"));
        }
    }
    if text.ends_with("rules:\n") {
        text.push_str("  {}\n");
    }
    let path = dir.join("portcullis.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `examples/portcullis.yaml`, as the README uses it. It configures rules of the whole
/// library; on a build that lacks some of them (a branch before the library is complete), a
/// copy without those entries is used and the test says so. Under CI the example must match
/// the library exactly.
pub struct ExampleConfig {
    pub path: String,
    _dir: Option<tempfile::TempDir>,
}

pub fn example_config() -> ExampleConfig {
    let rel = "examples/portcullis.yaml";
    let text = std::fs::read_to_string(root().join(rel)).unwrap();
    let mut doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let ids = rule_ids();
    let rules = doc
        .get_mut("rules")
        .and_then(|r| r.as_mapping_mut())
        .expect("examples/portcullis.yaml has rules");
    let unknown: Vec<String> = rules
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .filter(|k| !ids.contains(k))
        .collect();
    if unknown.is_empty() {
        return ExampleConfig {
            path: rel.to_string(),
            _dir: None,
        };
    }
    if portcullis_testkit::under_ci() {
        panic!("{rel} configures rules this build does not have: {unknown:?}");
    }
    eprintln!(
        "NOTE: {rel} configures rules this build does not have ({}); using a copy without them",
        unknown.join(", ")
    );
    for k in &unknown {
        rules.remove(k.as_str());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portcullis.yaml");
    std::fs::write(&path, yaml_serde::to_string(&doc).unwrap()).unwrap();
    ExampleConfig {
        path: path.display().to_string(),
        _dir: Some(dir),
    }
}

pub const DENIED_ARTIFACT: &str = "registry.example.com/shop/checkout-api@sha256:9f3c1d0a8e5b7c2f4a6d8e0b1c3f5a7d9e1b3c5f7a9d1e3b5c7f9a1d3e5b7c9f";
pub const CLEAN_ARTIFACT: &str = "registry.example.com/shop/checkout-api@sha256:fefd31d2667bc768c7174b24c29c256ff27d4903a2d552ee8c4951c9d094363c";
pub const TIME: &str = "2026-11-23T12:00:00Z";

/// The README's denied run (checkout-api 2.4.0 to staging), before `--format`.
pub fn denied_command(config: &str) -> Vec<String> {
    [
        "gate",
        "--config",
        config,
        "--artifact",
        DENIED_ARTIFACT,
        "--env",
        "staging",
        "--time",
        TIME,
        "--evidence",
        "examples/evidence/checkout-api.cdx.json",
        "examples/evidence/trivy-image.json",
        "examples/evidence/checkout-api.intoto.jsonl",
        "--trusted-keys",
        "examples/keys",
        "--advisories",
        "examples/evidence/log4shell.osv.json",
        "--kev",
        "examples/kev.json",
        "--exceptions",
        "examples/exceptions.yaml",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The README's allowed run (checkout-api 2.4.1 to production).
pub fn allowed_command(config: &str) -> Vec<String> {
    [
        "gate",
        "--config",
        config,
        "--artifact",
        CLEAN_ARTIFACT,
        "--env",
        "production",
        "--time",
        TIME,
        "--evidence",
        "examples/evidence/clean",
        "--trusted-keys",
        "examples/keys",
        "--advisories",
        "examples/evidence/log4shell.osv.json",
        "--kev",
        "examples/kev.json",
        "--exceptions",
        "examples/exceptions.yaml",
        "--verification",
        "examples/gate/canary-2.4.1.json",
        "--history",
        "examples/gate/history-2.4.1.json",
        "--requester",
        "alice@example.com",
        "--approver",
        "bob@example.com",
        "--change-ref",
        "CHG-2026-1142",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn with(mut cmd: Vec<String>, extra: &[&str]) -> Vec<String> {
    cmd.extend(extra.iter().map(|s| s.to_string()));
    cmd
}

/// A `portcullis serve` process listening on an ephemeral 127.0.0.1 port, started in the
/// repository root with the store in `home` (no PORTCULLIS_* variable of the caller's
/// environment); killed when dropped if still running.
pub struct Serve {
    pub child: std::process::Child,
    pub url: String,
}

impl Serve {
    /// `portcullis serve --listen 127.0.0.1:0 ARGS`; waits for the address it logs.
    pub fn start(home: &Path, args: &[&str]) -> Serve {
        let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PORTCULLIS_") {
                c.env_remove(k);
            }
        }
        c.env("PORTCULLIS_HOME", home).current_dir(root());
        Serve::spawn(c, args)
    }

    /// `serve --listen 127.0.0.1:0 ARGS` run by `c` (the binary, its environment and
    /// directory set); waits for the address it logs.
    pub fn spawn(mut c: Command, args: &[&str]) -> Serve {
        use std::io::{BufRead, BufReader};
        let mut child = c
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start portcullis serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // The server's errors, in the test's output (the cause of a 500 is only there).
                if line.contains("ERROR") {
                    eprintln!("serve: {line}");
                }
                if let Some(rest) = line.split("serving on ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the server says where it listens");
        Serve { child, url }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
