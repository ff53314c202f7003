//! The store from the command line, on the real binary: the gate records every decision;
//! `decision show | list | replay`; advisories and block rules in force from the store;
//! exceptions granted and revoked; deployments, the inventory and advisory impact; `audit
//! verify | export | checkpoint`, proof bundles and tampering (DESIGN.md "Storage and the audit
//! chain").
//!
//! Each test runs on SQLite (a fresh `PORTCULLIS_HOME`) and on PostgreSQL
//! (`PORTCULLIS_DATABASE_URL` naming a database of its own on the server
//! `PORTCULLIS_TEST_POSTGRES_URL` names, dropped afterwards). Without that variable the
//! PostgreSQL variants say so and pass, except under CI (`CI=true`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::*;
use portcullis_store::testing::{unique_database_name, with_database};
use serde_json::Value;
use sqlx::Connection;

const POSTGRES_URL_VAR: &str = "PORTCULLIS_TEST_POSTGRES_URL";
const LOG4SHELL: &str = "GHSA-jfh8-c2jp-5v3q";
const LOG4SHELL_FILE: &str = "examples/evidence/log4shell.osv.json";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// The example configuration with a generous evaluation time limit: a decision that hits the
/// limit fails closed (exit 2) and does not replay, and the debug binary on a loaded 2-core CI
/// machine is slow. Everything else as in examples/portcullis.yaml.
fn config_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let example = example_config();
        let path = root().join(&example.path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("timeout_ms: 2000"), "{}", path.display());
        text.replace("timeout_ms: 2000", "timeout_ms: 60000")
    })
}

/// Where one test keeps its state: a fresh home (the SQLite database and the checkpoint key)
/// and, on PostgreSQL, a database of its own.
struct State {
    home: PathBuf,
    config: String,
    /// PostgreSQL: the test database's URL, the server's, and the database's name.
    postgres: Option<(String, String, String)>,
}

impl State {
    fn sqlite() -> Self {
        let home = fresh_home();
        let config = home.join("portcullis.yaml");
        std::fs::write(&config, config_text()).unwrap();
        Self {
            config: config.display().to_string(),
            home,
            postgres: None,
        }
    }

    fn postgres() -> Option<Self> {
        let server = match std::env::var(POSTGRES_URL_VAR) {
            Ok(u) if !u.trim().is_empty() => u.trim().to_string(),
            _ => portcullis_testkit::skip_or_fail!(
                "PostgreSQL tests",
                "{POSTGRES_URL_VAR} is not set"
            ),
        };
        let name = unique_database_name();
        block_on(async {
            let mut c = sqlx::PgConnection::connect(&server)
                .await
                .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}: cannot connect: {e}"));
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
            let _ = c.close().await;
        });
        let mut s = Self::sqlite();
        s.postgres = Some((with_database(&server, &name), server, name));
        Some(s)
    }

    fn url(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(u, _, _)| u.as_str())
    }

    /// `portcullis ARGS` in the repository root, with this state.
    fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        let mut env = vec![];
        if let Some(url) = self.url() {
            env.push(("PORTCULLIS_DATABASE_URL", url.to_string()));
        }
        run_with(&root(), &self.home, &env, args)
    }

    /// Run `sql` on the store's database (as an attacker with database access would).
    fn sql(&self, sql: &str) -> u64 {
        block_on(async {
            let r = match self.url() {
                Some(url) => {
                    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                    let r = sqlx::query(sql).execute(&mut c).await;
                    let _ = c.close().await;
                    r.map(|r| r.rows_affected())
                }
                None => {
                    let url = format!("sqlite://{}", self.home.join("portcullis.db").display());
                    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                    let r = sqlx::query(sql).execute(&mut c).await;
                    let _ = c.close().await;
                    r.map(|r| r.rows_affected())
                }
            };
            r.unwrap_or_else(|e| panic!("{sql}: {e}"))
        })
    }

    /// The README's denied run, without `--advisories` (those in the store are in force).
    fn denied(&self) -> Vec<String> {
        without(denied_command(&self.config), "--advisories")
    }

    fn allowed(&self) -> Vec<String> {
        without(allowed_command(&self.config), "--advisories")
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
        let Some((_, server, name)) = &self.postgres else {
            return;
        };
        block_on(async {
            match sqlx::PgConnection::connect(server).await {
                Ok(mut c) => {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(e) = sqlx::query(&sql).execute(&mut c).await {
                        eprintln!("warning: could not drop the test database {name}: {e}");
                    }
                    let _ = c.close().await;
                }
                Err(e) => eprintln!("warning: could not drop the test database {name}: {e}"),
            }
        });
    }
}

/// Like `portcullis_with_home`, with extra environment variables.
fn run_with<S: AsRef<std::ffi::OsStr>>(
    cwd: &Path,
    home: &Path,
    env: &[(&str, String)],
    args: &[S],
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PORTCULLIS_") {
            c.env_remove(k);
        }
    }
    c.env("PORTCULLIS_HOME", home);
    for (k, v) in env {
        c.env(k, v);
    }
    c.current_dir(cwd)
        .args(args)
        .output()
        .expect("run portcullis")
}

/// `name_sqlite` and `name_postgres` running `fn name(state: &State)`.
macro_rules! on_both_backends {
    ($($body:ident => $sqlite:ident, $postgres:ident;)+) => {$(
        #[test]
        fn $sqlite() {
            $body(&State::sqlite());
        }

        #[test]
        fn $postgres() {
            let Some(state) = State::postgres() else { return };
            $body(&state);
        }
    )+};
}

on_both_backends! {
    gate_records_and_decision_show_gives_the_same_json => gate_records_and_decision_show_gives_the_same_json_sqlite, gate_records_and_decision_show_gives_the_same_json_postgres;
    a_stored_advisory_is_in_force_until_withdrawn => a_stored_advisory_is_in_force_until_withdrawn_sqlite, a_stored_advisory_is_in_force_until_withdrawn_postgres;
    a_block_rule_blocks_what_it_names => a_block_rule_blocks_what_it_names_sqlite, a_block_rule_blocks_what_it_names_postgres;
    an_exception_covers_until_revoked => an_exception_covers_until_revoked_sqlite, an_exception_covers_until_revoked_postgres;
    impact_lists_exactly_the_deployed_affected_artifacts => impact_lists_exactly_the_deployed_affected_artifacts_sqlite, impact_lists_exactly_the_deployed_affected_artifacts_postgres;
    an_exported_proof_bundle_verifies_and_any_changed_byte_fails => an_exported_proof_bundle_verifies_and_any_changed_byte_fails_sqlite, an_exported_proof_bundle_verifies_and_any_changed_byte_fails_postgres;
    audit_verify_names_the_modified_entry => audit_verify_names_the_modified_entry_sqlite, audit_verify_names_the_modified_entry_postgres;
    audit_verify_with_a_checkpoint_catches_truncation => audit_verify_with_a_checkpoint_catches_truncation_sqlite, audit_verify_with_a_checkpoint_catches_truncation_postgres;
}

// ------------------------------------------------------------------------------------------
// Helpers

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert_eq!(
        code(o),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

#[track_caller]
fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(o),
            stderr(o)
        )
    })
}

/// `cmd` without `flag` and the values after it (up to the next flag).
fn without(cmd: Vec<String>, flag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut skipping = false;
    for a in cmd {
        if a == flag {
            skipping = true;
            continue;
        }
        if skipping && !a.starts_with("--") {
            continue;
        }
        skipping = false;
        out.push(a);
    }
    out
}

/// The id and audit entry of `recorded: decision ID (audit entry N) in …` on stderr.
#[track_caller]
fn recorded(o: &Output) -> (String, u64) {
    let err = stderr(o);
    let line = err
        .lines()
        .find_map(|l| l.strip_prefix("recorded: decision "))
        .unwrap_or_else(|| panic!("no `recorded:` line in:\n{err}"));
    let (id, rest) = line.split_once(' ').unwrap();
    let seq = rest
        .strip_prefix("(audit entry ")
        .and_then(|r| r.split_once(')'))
        .map(|(n, _)| n.parse::<u64>().unwrap())
        .unwrap_or_else(|| panic!("unexpected `recorded:` line: {line}"));
    (id.to_string(), seq)
}

/// Gate with `--format json`: the exit code, the decision, its id and audit entry.
#[track_caller]
fn gate(s: &State, cmd: Vec<String>) -> (Option<i32>, Value, String, u64) {
    let o = s.run(&with(cmd, &["--format", "json"]));
    assert!(
        matches!(code(&o), Some(0 | 1)),
        "gate: exit {:?}\n{}",
        code(&o),
        stderr(&o)
    );
    let d = json_of(&o);
    let (id, seq) = recorded(&o);
    (code(&o), d, id, seq)
}

/// `(rule, key)` of a decision's list (`violations`, `warnings`).
fn listed<'a>(d: &'a Value, list: &str) -> Vec<(&'a str, &'a str)> {
    d[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["rule"].as_str().unwrap(), v["key"].as_str().unwrap()))
        .collect()
}

fn excepted(d: &Value) -> Vec<(&str, &str, &str)> {
    d["excepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["violation"]["rule"].as_str().unwrap(),
                e["violation"]["key"].as_str().unwrap(),
                e["exception"]["id"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

fn has_rule(d: &Value, list: &str, rule: &str, key_prefix: &str) -> bool {
    listed(d, list)
        .iter()
        .any(|(r, k)| *r == rule && k.starts_with(key_prefix))
}

// ------------------------------------------------------------------------------------------
// Decisions

fn gate_records_and_decision_show_gives_the_same_json(s: &State) {
    let o = s.run(&with(s.denied(), &["--format", "json"]));
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    let (id, seq) = recorded(&o);
    let d = json_of(&o);
    assert_eq!(d["id"], id.as_str());
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["chain"]["seq"], seq);
    let hash = d["chain"]["hash"].as_str().expect("chain.hash");
    assert_eq!(hash.len(), 64, "{hash}");
    let err = stderr(&o);
    match s.url() {
        Some(_) => assert!(err.contains(" in postgres://"), "{err}"),
        None => assert!(err.contains(" in sqlite://"), "{err}"),
    }

    // `decision show` gives the gate's JSON: same decision, chain filled and equal.
    let shown = s.run(&["decision", "show", &id]);
    ok(&shown);
    assert_eq!(json_of(&shown), d);

    // An allowed decision is recorded too, after it.
    let o = s.run(&with(s.allowed(), &["--format", "json"]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let (allowed_id, allowed_seq) = recorded(&o);
    assert!(allowed_seq > seq);
    assert_eq!(json_of(&o)["chain"]["seq"], allowed_seq);
    let shown = s.run(&["decision", "show", &allowed_id]);
    assert_eq!(json_of(&shown), json_of(&o));

    // Listed newest first, filtered by environment.
    let list = json_of(&s.run(&["decision", "list", "--format", "json"]));
    let rows: Vec<(&str, &str, i64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
                r["seq"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (allowed_id.as_str(), "allow", allowed_seq as i64),
            (id.as_str(), "deny", seq as i64)
        ]
    );
    let list = json_of(&s.run(&["decision", "list", "--env", "staging", "--format", "json"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());

    // Both replay.
    let o = s.run(&["decision", "replay", "--all"]);
    let out = ok(&o);
    for i in [&id, &allowed_id] {
        assert!(out.contains(&format!("{i}: reproduced")), "{out}");
    }
    assert!(!out.contains("DIFFERS"), "{out}");
    assert!(
        stderr(&o).contains("replayed 2 decisions: 2 reproduced, 0 differ"),
        "{}",
        stderr(&o)
    );
    let out = ok(&s.run(&["decision", "replay", "--sample", "1"]));
    assert_eq!(out.matches(": reproduced").count(), 1, "{out}");
    ok(&s.run(&["decision", "replay", &id]));

    // Nothing to replay, or no such decision: usage errors.
    assert_eq!(code(&s.run(&["decision", "replay"])), Some(2));
    let o = s.run(&["decision", "show", "no-such-decision"]);
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("no-such-decision"), "{}", stderr(&o));
}

/// A decision that cannot be recorded is an error (exit 2), never an allow.
#[test]
fn a_gate_against_an_unusable_store_exits_2() {
    let home = fresh_home();
    let config = home.join("portcullis.yaml");
    std::fs::write(&config, config_text()).unwrap();
    let allowed = with(
        allowed_command(config.to_str().unwrap()),
        &["--format", "json"],
    );
    let check = |what: &str, env: Vec<(&str, String)>, home: &Path| {
        let o = run_with(&root(), home, &env, &allowed);
        assert_eq!(code(&o), Some(2), "{what}: {}", stderr(&o));
        assert!(
            o.stdout.is_empty(),
            "{what}: nothing is reported: {}",
            stdout(&o)
        );
        assert!(
            stderr(&o).contains("cannot open the store"),
            "{what}: {}",
            stderr(&o)
        );
    };

    // A PostgreSQL server that is not there (the driver retries until its timeout: run it
    // beside the rest).
    let refused = {
        let allowed = allowed.clone();
        let home = home.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let env = vec![(
                "PORTCULLIS_DATABASE_URL",
                "postgres://nobody@127.0.0.1:1/x".to_string(),
            )];
            let o = run_with(&root(), &home, &env, &allowed);
            (o, started.elapsed())
        })
    };

    // A state directory that is a file.
    let file = home.join("not-a-directory");
    std::fs::write(&file, "x").unwrap();
    check("PORTCULLIS_HOME is a file", vec![], &file);

    // A database that does not exist on a server that is there.
    if let Ok(server) = std::env::var(POSTGRES_URL_VAR)
        && !server.trim().is_empty()
    {
        let url = with_database(server.trim(), "pcl_no_such_database");
        check(
            "no such database",
            vec![("PORTCULLIS_DATABASE_URL", url)],
            &home,
        );
    }

    let (o, took) = refused.join().unwrap();
    assert_eq!(code(&o), Some(2), "connection refused: {}", stderr(&o));
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("cannot open the store"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("postgres://nobody@127.0.0.1:1/x"),
        "the error names the database: {}",
        stderr(&o)
    );
    eprintln!(
        "connection refused: exit 2 after {:.1} s",
        took.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&home);
}

/// A database URL with a scheme the store does not speak (a typo of `postgres://`) must be an
/// error, not an SQLite file of that name in the working directory: the gate would decide
/// without the shared store's advisories and record where nobody looks.
#[test]
fn a_gate_refuses_a_database_url_it_does_not_support() {
    let cwd = tempfile::tempdir().unwrap();
    let home = fresh_home();
    let clean = root().join("examples/evidence/clean");
    let config = home.join("portcullis.yaml");
    std::fs::write(&config, config_text()).unwrap();
    for url in [
        "postgress://postgres@127.0.0.1:5432/portcullis",
        "mysql://root@127.0.0.1/portcullis",
    ] {
        let args = [
            "gate",
            "--config",
            config.to_str().unwrap(),
            "--artifact",
            CLEAN_ARTIFACT,
            "--env",
            "dev",
            "--time",
            TIME,
            "--evidence",
            clean.to_str().unwrap(),
        ];
        let o = run_with(
            cwd.path(),
            &home,
            &[("PORTCULLIS_DATABASE_URL", url.to_string())],
            &args,
        );
        let made: Vec<String> = std::fs::read_dir(cwd.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            code(&o),
            Some(2),
            "PORTCULLIS_DATABASE_URL={url}: exit {:?} (made {made:?} in the working directory)\n{}",
            code(&o),
            stderr(&o)
        );
        assert!(made.is_empty(), "{url}: made {made:?}");
    }
    let _ = std::fs::remove_dir_all(&home);
}

// ------------------------------------------------------------------------------------------
// Advisories

fn a_stored_advisory_is_in_force_until_withdrawn(s: &State) {
    let out = ok(&s.run(&["advisory", "add", LOG4SHELL_FILE, "--by", "sec@example.com"]));
    assert!(out.contains("added: audit entry"), "{out}");

    // The gate has no --advisories: the store's advisory denies.
    let (c, d, first, _) = gate(s, s.denied());
    assert_eq!(c, Some(1));
    assert!(
        has_rule(&d, "violations", "PCL-VULN-001", &format!("{LOG4SHELL}|")),
        "{:?}",
        listed(&d, "violations")
    );
    let advisory_digest = {
        let list = json_of(&s.run(&["advisory", "list", "--format", "json"]));
        let rows = list.as_array().unwrap();
        assert_eq!(rows.len(), 1, "{list:#}");
        assert_eq!(rows[0]["id"], LOG4SHELL);
        assert_eq!(rows[0]["kind"], "osv");
        assert_eq!(rows[0]["added_by"], "sec@example.com");
        assert!(rows[0]["withdrawn_at"].is_null());
        rows[0]["digest"].as_str().unwrap().to_string()
    };
    assert!(
        d["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["digest"] == advisory_digest.as_str() && e["kind"] == "advisory"),
        "the decision names the advisory document: {:#}",
        d["evidence"]
    );

    // Adding it again is refused.
    let o = s.run(&["advisory", "add", LOG4SHELL_FILE]);
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("already in force"), "{}", stderr(&o));

    // Withdrawn: the same gate no longer has PCL-VULN-001.
    let out = ok(&s.run(&[
        "advisory",
        "withdraw",
        LOG4SHELL,
        "--reason",
        "false positive for the test",
        "--by",
        "sec@example.com",
    ]));
    assert!(out.contains(&format!("withdrawn: {LOG4SHELL}")), "{out}");
    let (_, d, second, _) = gate(s, s.denied());
    for list in ["violations", "warnings"] {
        assert!(
            !has_rule(&d, list, "PCL-VULN-001", ""),
            "{list}: {:?}",
            listed(&d, list)
        );
    }
    assert!(!d["evidence"].to_string().contains(&advisory_digest));
    let list = json_of(&s.run(&["advisory", "list", "--format", "json"]));
    assert_eq!(list, serde_json::json!([]));
    let list = json_of(&s.run(&["advisory", "list", "--all", "--format", "json"]));
    assert_eq!(list[0]["withdrawn_by"], "sec@example.com");
    assert_eq!(list[0]["withdraw_reason"], "false positive for the test");
    let o = s.run(&["advisory", "withdraw", LOG4SHELL, "--reason", "again"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));

    // Both decisions replay as made: the first with the advisory, the second without.
    let out = ok(&s.run(&["decision", "replay", "--all"]));
    for id in [&first, &second] {
        assert!(out.contains(&format!("{id}: reproduced")), "{out}");
    }
}

fn a_block_rule_blocks_what_it_names(s: &State) {
    let out = ok(&s.run(&[
        "advisory",
        "add",
        "--purl",
        "pkg:maven/com.fasterxml.jackson.core/jackson-databind",
        "--vers",
        "vers:maven/<2.14.0",
        "--reason",
        "CVE-2022-42003: deep wrapper array nesting",
        "--id",
        "BLOCK-jackson",
    ]));
    assert!(out.contains("added: audit entry"), "{out}");
    let list = json_of(&s.run(&["advisory", "list", "--format", "json"]));
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{list:#}");
    assert_eq!(rows[0]["id"], "BLOCK-jackson");
    assert_eq!(rows[0]["kind"], "block-rule");
    assert_eq!(
        rows[0]["summary"],
        "CVE-2022-42003: deep wrapper array nesting"
    );

    // jackson-databind 2.13.4.2 is blocked…
    let (c, d, _, _) = gate(s, s.denied());
    assert_eq!(c, Some(1));
    assert!(
        has_rule(
            &d,
            "violations",
            "PCL-VULN-001",
            "BLOCK-jackson|pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.13.4.2"
        ),
        "{:?}",
        listed(&d, "violations")
    );
    // …2.18.2 is not.
    let (c, d, _, _) = gate(s, s.allowed());
    assert_eq!(c, Some(0), "{:?}", listed(&d, "violations"));
    assert!(!has_rule(&d, "violations", "PCL-VULN-001", ""));

    // Bad block rules: exit 2, naming the field.
    for (args, field) in [
        (
            ["pkg:maven/a/b@1.0", "vers:maven/<2", "r", "BLOCK-1"],
            "purl",
        ),
        (["maven/a/b", "vers:maven/<2", "r", "BLOCK-1"], "purl"),
        (["pkg:maven/a/b", "vers:npm/<2", "r", "BLOCK-1"], "vers"),
        (["pkg:maven/a/b", "<2", "r", "BLOCK-1"], "vers"),
        (["pkg:maven/a/b", "vers:maven/<2", " ", "BLOCK-1"], "reason"),
        (["pkg:maven/a/b", "vers:maven/<2", "r", "BLOCK 1"], "id"),
    ] {
        let o = s.run(&[
            "advisory", "add", "--purl", args[0], "--vers", args[1], "--reason", args[2], "--id",
            args[3],
        ]);
        assert_eq!(code(&o), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("`{field}`")),
            "{args:?}: the error does not name `{field}`: {}",
            stderr(&o)
        );
    }
    let o = s.run(&[
        "advisory",
        "add",
        "--purl",
        "pkg:maven/a/b",
        "--vers",
        "vers:maven/<2",
    ]);
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("--reason"), "{}", stderr(&o));
    let list = json_of(&s.run(&["advisory", "list", "--all", "--format", "json"]));
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "nothing else was added: {list:#}"
    );
}

// ------------------------------------------------------------------------------------------
// Exceptions

fn an_exception_covers_until_revoked(s: &State) {
    ok(&s.run(&["advisory", "add", LOG4SHELL_FILE]));
    let (_, d, _, _) = gate(s, s.denied());
    let key = listed(&d, "violations")
        .into_iter()
        .find(|(r, _)| *r == "PCL-VULN-001")
        .map(|(_, k)| k.to_string())
        .expect("PCL-VULN-001");

    let out = ok(&s.run(&[
        "exception",
        "add",
        "--id",
        "EXC-TEST-1",
        "--rule",
        "PCL-VULN-001",
        "--key",
        LOG4SHELL,
        "--artifact",
        "registry.example.com/shop/checkout-api",
        "--env",
        "staging,production",
        "--expires",
        "2099-06-30",
        "--reason",
        "JNDI lookups are disabled by -Dlog4j2.formatMsgNoLookups",
        "--approver",
        "dana@example.com",
        "--by",
        "carol@example.com",
    ]));
    assert!(out.contains("granted: audit entry"), "{out}");

    // The next gate lets the violation through, naming the exception.
    let (c, d, excepted_id, _) = gate(s, s.denied());
    assert_eq!(c, Some(1), "other violations still deny");
    assert!(!has_rule(&d, "violations", "PCL-VULN-001", ""));
    assert!(
        excepted(&d).contains(&("PCL-VULN-001", key.as_str(), "EXC-TEST-1")),
        "{:?}",
        excepted(&d)
    );

    let list = json_of(&s.run(&["exception", "list", "--format", "json"]));
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{list:#}");
    assert_eq!(rows[0]["id"], "EXC-TEST-1");
    assert_eq!(rows[0]["granted_by"], "carol@example.com");
    assert_eq!(rows[0]["exception"]["approver"], "dana@example.com");
    assert_eq!(
        rows[0]["exception"]["environments"],
        serde_json::json!(["staging", "production"])
    );
    assert!(rows[0]["revoked_at"].is_null());
    let human = ok(&s.run(&["exception", "list"]));
    assert!(human.contains("granted by carol@example.com"), "{human}");

    // Ids are not reused.
    let o = s.run(&[
        "exception",
        "add",
        "--id",
        "EXC-TEST-1",
        "--rule",
        "PCL-VULN-001",
        "--key",
        "x",
        "--artifact",
        "x",
        "--env",
        "dev",
        "--expires",
        "2099-01-01",
        "--reason",
        "r",
        "--approver",
        "a",
    ]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));

    // Revoked: a violation again.
    let out = ok(&s.run(&[
        "exception",
        "revoke",
        "EXC-TEST-1",
        "--reason",
        "the flag was removed",
        "--by",
        "erin@example.com",
    ]));
    assert!(out.contains("revoked: EXC-TEST-1"), "{out}");
    let (_, d, revoked_id, _) = gate(s, s.denied());
    assert!(
        has_rule(&d, "violations", "PCL-VULN-001", &key),
        "{:?}",
        listed(&d, "violations")
    );
    assert!(excepted(&d).iter().all(|(_, _, id)| *id != "EXC-TEST-1"));
    assert_eq!(
        json_of(&s.run(&["exception", "list", "--format", "json"])),
        serde_json::json!([])
    );
    let list = json_of(&s.run(&["exception", "list", "--all", "--format", "json"]));
    assert_eq!(list[0]["revoked_by"], "erin@example.com");
    assert_eq!(list[0]["revoke_reason"], "the flag was removed");
    let o = s.run(&["exception", "revoke", "EXC-TEST-1", "--reason", "again"]);
    assert_eq!(code(&o), Some(2));

    // A bad exception names what is wrong.
    let o = s.run(&[
        "exception",
        "add",
        "--rule",
        "PCL-VULN-001",
        "--key",
        "x",
        "--artifact",
        "x",
        "--env",
        "dev",
        "--expires",
        "next week",
        "--reason",
        "r",
        "--approver",
        "a",
    ]);
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("`expires`"), "{}", stderr(&o));

    let out = ok(&s.run(&["decision", "replay", &excepted_id, &revoked_id]));
    assert_eq!(out.matches(": reproduced").count(), 2, "{out}");
}

// ------------------------------------------------------------------------------------------
// Deployments, inventory, impact

fn impact(s: &State) -> Vec<(String, String, String)> {
    let o = s.run(&["advisory", "impact", LOG4SHELL, "--format", "json"]);
    let v = json_of(&o);
    assert_eq!(v["advisory"], LOG4SHELL);
    let mut rows: Vec<(String, String, String)> = v["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let version = r["version"].as_str().unwrap();
            assert!(
                ["2.14.1"].contains(&version),
                "an unaffected version is listed: {r}"
            );
            assert!(
                r["purl"]
                    .as_str()
                    .unwrap()
                    .starts_with("pkg:maven/org.apache.logging.log4j/log4j-core@"),
                "{r}"
            );
            (
                r["environment"].as_str().unwrap().to_string(),
                r["artifact_name"].as_str().unwrap().to_string(),
                r["artifact_digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    rows.dedup();
    rows
}

fn inventory(s: &State) -> BTreeSet<(String, String)> {
    json_of(&s.run(&["inventory", "--format", "json"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["environment"].as_str().unwrap().to_string(),
                format!(
                    "{}@{}",
                    r["artifact_name"].as_str().unwrap(),
                    r["artifact_digest"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

fn impact_lists_exactly_the_deployed_affected_artifacts(s: &State) {
    ok(&s.run(&["advisory", "add", LOG4SHELL_FILE]));
    // Nothing deployed yet.
    assert_eq!(impact(s), []);

    // The vulnerable build (log4j-core 2.14.1) and the fixed one (2.17.1), each gated (which
    // records their evidence).
    let (c, _, _, _) = gate(s, s.denied());
    assert_eq!(c, Some(1));
    let (c, _, _, _) = gate(s, s.allowed());
    assert_eq!(c, Some(0));
    // Deployed anyway (break-glass), and the fixed one in production; an artifact without
    // any evidence in dev.
    let other = format!("registry.example.com/shop/cart@sha256:{}", "0c".repeat(32));
    for (artifact, env) in [
        (DENIED_ARTIFACT, "staging"),
        (CLEAN_ARTIFACT, "production"),
        (other.as_str(), "dev"),
    ] {
        let o = s.run(&["deployed", "--artifact", artifact, "--env", env]);
        let out = ok(&o);
        assert!(out.contains(&format!("runs in {env}")), "{out}");
    }
    let o = s.run(&["deployed", "--artifact", &other, "--env", "dev"]);
    assert!(
        stderr(&o).contains("no decision is recorded"),
        "{}",
        stderr(&o)
    );
    let (denied_name, denied_digest) = DENIED_ARTIFACT.split_once('@').unwrap();
    assert_eq!(
        inventory(s),
        BTreeSet::from([
            ("dev".to_string(), other.clone()),
            ("production".to_string(), CLEAN_ARTIFACT.to_string()),
            ("staging".to_string(), DENIED_ARTIFACT.to_string()),
        ])
    );
    assert_eq!(
        impact(s),
        [(
            "staging".to_string(),
            denied_name.to_string(),
            denied_digest.to_string()
        )]
    );
    let one = json_of(&s.run(&["inventory", "--env", "production", "--format", "json"]));
    assert_eq!(one.as_array().unwrap().len(), 1, "{one:#}");
    let human = ok(&s.run(&["advisory", "impact", LOG4SHELL]));
    assert!(human.contains("1 deployed artifacts affected"), "{human}");

    // The fixed build replaces the vulnerable one in staging: nothing is affected any more.
    ok(&s.run(&["deployed", "--artifact", CLEAN_ARTIFACT, "--env", "staging"]));
    assert_eq!(impact(s), []);
    assert_eq!(
        inventory(s),
        BTreeSet::from([
            ("dev".to_string(), other.clone()),
            ("production".to_string(), CLEAN_ARTIFACT.to_string()),
            ("staging".to_string(), CLEAN_ARTIFACT.to_string()),
        ])
    );
    let human = ok(&s.run(&["advisory", "impact", LOG4SHELL]));
    assert!(human.contains("no deployed artifact"), "{human}");

    let o = s.run(&["advisory", "impact", "GHSA-none"]);
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("GHSA-none"), "{}", stderr(&o));
}

// ------------------------------------------------------------------------------------------
// The audit chain

/// The public key `audit export -o` says to check the bundle with.
#[track_caller]
fn exported_key(o: &Output) -> String {
    let err = stderr(o);
    let key = err
        .split("--trusted-key ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_hexdigit()).next())
        .unwrap_or_else(|| panic!("no --trusted-key in:\n{err}"))
        .to_string();
    assert_eq!(key.len(), 64, "{key}");
    key
}

fn an_exported_proof_bundle_verifies_and_any_changed_byte_fails(s: &State) {
    let (c, _, id, seq) = gate(s, s.denied());
    assert_eq!(c, Some(1));
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("decision.proof.json");
    let path = bundle.to_str().unwrap();
    let o = s.run(&["audit", "export", "--decision", &id, "-o", path]);
    ok(&o);
    let key = exported_key(&o);

    // Intact: it verifies without any database (another, empty home), with or without the
    // trusted key (hex or a file holding it).
    let elsewhere = fresh_home();
    let verify = |args: &[&str]| {
        let mut all = vec!["audit", "verify", "--bundle", path];
        all.extend_from_slice(args);
        run_with(&root(), &elsewhere, &[], &all)
    };
    let out = ok(&verify(&[]));
    assert!(
        out.contains(&format!(
            "proof bundle intact: decision {id} (deny) at entry {seq}"
        )),
        "{out}"
    );
    ok(&verify(&["--trusted-key", &key]));
    let key_file = dir.path().join("key.pub");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    ok(&verify(&["--trusted-key", key_file.to_str().unwrap()]));
    let report = json_of(&verify(&["--json"]));
    assert_eq!(report["public_key"], key.as_str());
    assert!(
        !elsewhere.join("portcullis.db").exists(),
        "verifying a bundle opens no store"
    );

    // Any single byte changed: exit 1, never 0. Positions spread over the file, each with
    // another byte value.
    let original = std::fs::read(&bundle).unwrap();
    let positions = if s.url().is_some() { 12 } else { 50 };
    for k in 0..positions {
        let at = (k * original.len()) / positions + (k * 7) % 13;
        let at = at.min(original.len() - 1);
        let mut changed = original.clone();
        changed[at] = changed[at].wrapping_add(1 + k as u8);
        std::fs::write(&bundle, &changed).unwrap();
        let o = verify(&[]);
        assert_eq!(
            code(&o),
            Some(1),
            "byte {at} of {} changed from {:?} to {:?}: exit {:?}\n{}{}",
            original.len(),
            original[at] as char,
            changed[at] as char,
            code(&o),
            stdout(&o),
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("proof bundle does not verify"),
            "{}",
            stderr(&o)
        );
    }
    std::fs::write(&bundle, &original).unwrap();
    ok(&verify(&[]));

    // Another key: exit 1. That of a second store, and one that is not a key at all.
    let other = State::sqlite();
    ok(&other.run(&[
        "advisory",
        "add",
        "--purl",
        "pkg:npm/lodash",
        "--vers",
        "vers:npm/<4.17.21",
        "--reason",
        "prototype pollution",
    ]));
    let other_bundle = dir.path().join("other.proof.json");
    let o = other.run(&[
        "audit",
        "export",
        "--from",
        "1",
        "--to",
        "2",
        "-o",
        other_bundle.to_str().unwrap(),
    ]);
    ok(&o);
    let other_key = exported_key(&o);
    assert_ne!(other_key, key);
    let o = verify(&["--trusted-key", &other_key]);
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    let o = verify(&["--trusted-key", &"11".repeat(32)]);
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    // Not a key: a usage error.
    let o = verify(&["--trusted-key", "xyz"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));

    // A range of the chain exports and verifies too.
    let range = dir.path().join("range.proof.json");
    ok(&s.run(&[
        "audit",
        "export",
        "--from",
        "1",
        "--to",
        &seq.to_string(),
        "-o",
        range.to_str().unwrap(),
    ]));
    let out = ok(&run_with(
        &root(),
        &elsewhere,
        &[],
        &[
            "audit",
            "verify",
            "--bundle",
            range.to_str().unwrap(),
            "--trusted-key",
            &key,
        ],
    ));
    assert!(out.contains(&format!("entries 1..={seq}")), "{out}");
    let _ = std::fs::remove_dir_all(&elsewhere);
}

fn audit_verify_names_the_modified_entry(s: &State) {
    let (c, _, id, seq) = gate(s, s.denied());
    assert_eq!(c, Some(1));
    let (c, _, _, allowed_seq) = gate(s, s.allowed());
    assert_eq!(c, Some(0));
    let out = ok(&s.run(&["audit", "verify"]));
    assert!(out.contains("audit chain intact"), "{out}");
    let out = ok(&s.run(&["audit", "checkpoint"]));
    assert!(
        out.contains(&format!("checkpoint at entry {allowed_seq}")),
        "{out}"
    );
    let v = json_of(&s.run(&["audit", "verify", "--json"]));
    assert_eq!(v["intact"], true);
    assert_eq!(v["entries"], allowed_seq);

    // Rewrite the recorded verdict in the audit log.
    let n =
        s.sql("UPDATE audit_log SET body = replace(body, 'deny', 'allow') WHERE kind = 'decision'");
    assert!(n >= 1);
    let o = s.run(&["audit", "verify"]);
    assert_eq!(code(&o), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains(&format!("entry {seq} was modified")),
        "{}",
        stderr(&o)
    );
    let v = json_of(&s.run(&["audit", "verify", "--json"]));
    assert_eq!(v["intact"], false);

    // Nothing is exported from a chain that does not verify, and the decision no longer
    // matches its entry.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.json");
    let o = s.run(&[
        "audit",
        "export",
        "--decision",
        &id,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    assert!(!out.exists());
    let o = s.run(&["decision", "show", &id]);
    assert_ne!(code(&o), Some(0), "{}", stdout(&o));
}

/// The newest entries cut off in SQL together with their checkpoints and rows: the database
/// alone cannot tell, a checkpoint kept outside it (`audit checkpoint -o`, a witness
/// directory) can. A flipped verdict is named by table and row.
fn audit_verify_with_a_checkpoint_catches_truncation(s: &State) {
    let (c, _, denied_id, denied_seq) = gate(s, s.denied());
    assert_eq!(c, Some(1));
    let (c, _, _, allowed_seq) = gate(s, s.allowed());
    assert_eq!(c, Some(0));
    let dir = tempfile::tempdir().unwrap();
    let witness_dir = dir.path().join("witness");
    std::fs::create_dir_all(&witness_dir).unwrap();
    let file = witness_dir.join("kept.json");
    let out = ok(&s.run(&["audit", "checkpoint", "-o", file.to_str().unwrap()]));
    assert!(
        out.contains(&format!("checkpoint at entry {allowed_seq}")),
        "{out}"
    );
    let file = file.to_str().unwrap();
    let out = ok(&s.run(&["audit", "verify", "--checkpoint", file]));
    assert!(out.contains("1 witnessed"), "{out}");

    // Everything after the denied decision removed, rows and checkpoints included.
    s.sql(&format!("DELETE FROM audit_log WHERE seq > {denied_seq}"));
    s.sql(&format!("DELETE FROM checkpoints WHERE seq > {denied_seq}"));
    s.sql(&format!("DELETE FROM decisions WHERE seq > {denied_seq}"));
    s.sql(&format!(
        "DELETE FROM decision_summary WHERE seq > {denied_seq}"
    ));
    ok(&s.run(&["audit", "checkpoint"]));
    // Not caught without a witness (and the command says so).
    let o = s.run(&["audit", "verify"]);
    assert_eq!(code(&o), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("no witnessed checkpoint"),
        "{}",
        stderr(&o)
    );
    // Caught with one: a file, or a witness directory.
    for args in [
        vec!["audit", "verify", "--checkpoint", file],
        vec![
            "audit",
            "verify",
            "--witness-dir",
            witness_dir.to_str().unwrap(),
        ],
    ] {
        let o = s.run(&args);
        assert_eq!(code(&o), Some(1), "{args:?}: {}{}", stdout(&o), stderr(&o));
        assert!(
            stderr(&o).contains(&format!(
                "chain truncated: it ends at entry {denied_seq}, but a signed checkpoint covers entry {allowed_seq}"
            )),
            "{}",
            stderr(&o)
        );
    }
    // A witness that is not a checkpoint: a usage error naming the file.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{}").unwrap();
    let o = s.run(&["audit", "verify", "--checkpoint", bad.to_str().unwrap()]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.json"), "{}", stderr(&o));

    // A verdict flipped in the table: named by table and row.
    s.sql(&format!(
        "UPDATE decisions SET verdict = 'allow' WHERE id = '{denied_id}'"
    ));
    let o = s.run(&["audit", "verify"]);
    assert_eq!(code(&o), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains(&format!("decisions row id={denied_id}"))
            && stderr(&o).contains("verdict"),
        "{}",
        stderr(&o)
    );
    let v = json_of(&s.run(&["audit", "verify", "--json"]));
    assert_eq!(v["rows"][0]["table"], "decisions", "{v}");
}
