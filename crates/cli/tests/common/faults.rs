//! What the fault tests share: `portcullis serve` processes that can be killed, HTTP calls that
//! say what came back (or that nothing did), a load of decisions whose acknowledgements are
//! kept, and the chain as the database has it.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::root;

/// `portcullis ARGS` in the repository root with the store in `home` (and `database`, a
/// PostgreSQL URL, when given), without any PORTCULLIS_* variable of the caller's environment.
pub fn command(home: &Path, database: Option<&str>, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PORTCULLIS_") {
            c.env_remove(k);
        }
    }
    c.env("PORTCULLIS_HOME", home);
    if let Some(url) = database {
        c.env("PORTCULLIS_DATABASE_URL", url);
    }
    c.current_dir(root()).args(args).stdin(Stdio::null());
    c
}

pub fn run(home: &Path, database: Option<&str>, args: &[&str]) -> Output {
    command(home, database, args)
        .output()
        .expect("run portcullis")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A new API token of `role` (`portcullis token create`).
pub fn token(home: &Path, database: Option<&str>, role: &str) -> String {
    let o = run(
        home,
        database,
        &[
            "token",
            "create",
            "--role",
            role,
            "--name",
            &format!("fault test {role}"),
        ],
    );
    assert!(o.status.success(), "token create: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A `portcullis serve` process on an ephemeral 127.0.0.1 port; its log lines kept; SIGKILLed
/// when dropped if still running.
pub struct Replica {
    pub child: Child,
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
}

/// The flags every fault test's server runs with (the README's).
pub const SERVE_FLAGS: [&str; 6] = [
    "--config",
    "examples/portcullis.yaml",
    "--kev",
    "examples/kev.json",
    "--trusted-keys",
    "examples/keys",
];

impl Replica {
    pub fn start(home: &Path, database: Option<&str>, extra: &[&str]) -> Replica {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend(SERVE_FLAGS);
        args.extend(extra);
        let mut child = command(home, database, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start portcullis serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("serving on ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
                if let Ok(mut l) = lines.lock() {
                    l.push(line);
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "portcullis serve did not say where it listens:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Replica { child, url, log }
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its last `n` log lines.
    pub fn log_tail(&self, n: usize) -> String {
        let l = self.log.lock().unwrap();
        l[l.len().saturating_sub(n)..].join("\n")
    }

    /// Its log lines containing `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// An HTTP client that reports every status as it is and gives up after `timeout`.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

/// POST a JSON body: the status and the JSON answer, or why nothing came back.
pub fn post(
    agent: &ureq::Agent,
    url: &str,
    token: &str,
    body: &Value,
) -> Result<(u16, Value), String> {
    let mut r = agent
        .post(url)
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(body)
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let value = r.body_mut().read_json::<Value>().unwrap_or(Value::Null);
    Ok((status, value))
}

/// GET: the status, or why nothing came back.
pub fn get_status(agent: &ureq::Agent, url: &str) -> Result<u16, String> {
    agent
        .get(url)
        .call()
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

/// A small decision request (dev, one inline SBOM); `n` makes its version its own.
pub fn decision_body(n: usize) -> Value {
    json!({
        "artifact": "registry.example.com/shop/fault-test@sha256:4e0d0c3c1d9b7f5b2a6e8c0d2f4a6b8c0e2d4f6a8b0c2e4d6f8a0b2c4d6e8f0a",
        "environment": "dev",
        "evidence": [{"name": "fault.cdx.json", "content": {
            "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
            "metadata": {"component": {"type": "application", "name": "fault-test", "version": format!("1.0.{n}")}},
            "components": [{"type": "library", "name": "left-pad", "version": "1.3.0",
                            "purl": "pkg:npm/left-pad@1.3.0"}]}}]
    })
}

/// A decision the server acknowledged (a 2xx with its chain position).
#[derive(Debug, Clone)]
pub struct Ack {
    pub id: String,
    pub seq: u64,
    pub hash: String,
    pub verdict: String,
}

impl Ack {
    /// From a 2xx answer to POST /v1/decisions.
    pub fn of(answer: &Value) -> Ack {
        let d = &answer["decision"];
        Ack {
            id: d["id"].as_str().expect("a decision id").to_string(),
            seq: d["chain"]["seq"]
                .as_u64()
                .expect("the decision's chain seq"),
            hash: d["chain"]["hash"]
                .as_str()
                .expect("the decision's chain hash")
                .to_string(),
            verdict: d["decision"].as_str().unwrap_or("").to_string(),
        }
    }
}

/// What a load of decisions saw: each request's start and end (since `t0`) and outcome.
#[derive(Debug, Clone)]
pub struct Call {
    pub start: Duration,
    pub end: Duration,
    /// The HTTP status, or None when no answer came (a refused or reset connection).
    pub status: Option<u16>,
    pub ack: Option<Ack>,
    pub error: Option<String>,
}

/// `workers` threads sending decisions to `urls` (round robin) until `stop` is set; every
/// call kept. Bounded: at most `max_each` calls per thread.
pub fn load(
    urls: Arc<Mutex<Vec<String>>>,
    token: &str,
    workers: usize,
    t0: Instant,
    stop: Arc<std::sync::atomic::AtomicBool>,
    max_each: usize,
) -> Vec<std::thread::JoinHandle<Vec<Call>>> {
    (0..workers)
        .map(|w| {
            let (urls, token, stop) = (urls.clone(), token.to_string(), stop.clone());
            std::thread::spawn(move || {
                let agent = agent(Duration::from_secs(30));
                let mut calls = Vec::new();
                for i in 0..max_each {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let url = {
                        let u = urls.lock().unwrap();
                        format!("{}/v1/decisions", u[(w + i) % u.len()])
                    };
                    let start = t0.elapsed();
                    let r = post(&agent, &url, &token, &decision_body(w * 100_000 + i));
                    let end = t0.elapsed();
                    let call = match r {
                        Ok((s, v)) => Call {
                            start,
                            end,
                            status: Some(s),
                            ack: (200..300).contains(&s).then(|| Ack::of(&v)),
                            error: (!(200..300).contains(&s)).then(|| v.to_string()),
                        },
                        Err(e) => {
                            // Nothing listening (a killed server): do not spin.
                            std::thread::sleep(Duration::from_millis(20));
                            Call {
                                start,
                                end,
                                status: None,
                                ack: None,
                                error: Some(e),
                            }
                        }
                    };
                    calls.push(call);
                }
                calls
            })
        })
        .collect()
}

/// The chain as the database has it: seq → (kind, hash, decision id of its body).
pub struct ChainRow {
    pub kind: String,
    pub hash: String,
    pub decision_id: Option<String>,
}

/// Every audit entry of the store at `url` (`postgres://…` or an SQLite file path).
pub fn read_chain(url: &str) -> BTreeMap<u64, ChainRow> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows: Vec<(i64, String, String, String)> = rt.block_on(async {
        let sql = "SELECT seq, kind, hash, body FROM audit_log ORDER BY seq";
        if url.starts_with("postgres") {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        } else {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect(&format!("sqlite://{url}"))
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        }
    });
    rows.into_iter()
        .map(|(seq, kind, hash, body)| {
            let decision_id = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|b| b.get("decision_id")?.as_str().map(str::to_string));
            (
                seq as u64,
                ChainRow {
                    kind,
                    hash,
                    decision_id,
                },
            )
        })
        .collect()
}

/// Every acknowledged decision is in `chain` at the position and with the hash it was
/// acknowledged with, and the chain has no gap; panics naming the first that is not.
pub fn assert_acknowledged_in_chain(acks: &[&Ack], chain: &BTreeMap<u64, ChainRow>, label: &str) {
    let seqs: Vec<u64> = chain.keys().copied().collect();
    let last = seqs.last().copied().unwrap_or(0);
    assert_eq!(
        seqs,
        (1..=last).collect::<Vec<u64>>(),
        "{label}: the chain has a gap"
    );
    for a in acks {
        let row = chain.get(&a.seq).unwrap_or_else(|| {
            panic!(
                "{label}: decision {} was acknowledged at entry {}, which is not in the chain (head {last})",
                a.id, a.seq
            )
        });
        assert_eq!(
            row.hash, a.hash,
            "{label}: entry {} is not the one acknowledged for decision {}",
            a.seq, a.id
        );
        assert_eq!(
            row.decision_id.as_deref(),
            Some(a.id.as_str()),
            "{label}: entry {} ({}) is not decision {}",
            a.seq,
            row.kind,
            a.id
        );
    }
}

/// `portcullis audit verify` on the store exits 0.
pub fn assert_chain_verifies(home: &Path, database: Option<&str>, label: &str) -> String {
    let o = run(home, database, &["audit", "verify"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{label}: portcullis audit verify:\n{}",
        text(&o)
    );
    text(&o)
}

/// A temporary directory of the test's own (removed when dropped).
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("portcullis-fault-")
        .tempdir()
        .unwrap()
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

pub fn home_in(dir: &Path, name: &str) -> PathBuf {
    let h = dir.join(name);
    std::fs::create_dir_all(&h).unwrap();
    h
}

/// One integer a query on the PostgreSQL database at `url` answers.
pub fn pg_number(url: &str, sql: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    })
}
