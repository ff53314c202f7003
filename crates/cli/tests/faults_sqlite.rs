//! Faults of the SQLite store, with the real binary (docs/reliability.md):
//!
//! - a full disk: the store on a small tmpfs the test mounts, filled with decisions by
//!   `portcullis gate` and by `portcullis serve` (`POST /v1/decisions`): the gate exits 2 naming
//!   the full disk and the database, the API answers 507 `storage-full`, neither ever allows;
//!   nothing acknowledged is lost; once space is freed, decisions are recorded again and the
//!   chain verifies;
//! - the clock stepping backwards between decisions (libfaketime, a running server and
//!   successive gates; SQLite and PostgreSQL): entry times never go backwards along the chain,
//!   the chain verifies, and an exception expired by the firewall's clock does not come back;
//! - two servers on one SQLite file and gate processes writing to it at once: one chain
//!   without gaps or forks, no acknowledged decision lost.
//!
//! Mounting needs root (CAP_SYS_ADMIN) and libfaketime its library
//! (`PORTCULLIS_LIBFAKETIME`, else the Debian package `faketime`'s path): without them those
//! tests are skipped with a message, except under CI (`CI=true`), where they fail.
#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{CLEAN_ARTIFACT, Serve, allowed_command, denied_command, example_config, root};
use serde_json::{Value, json};

const POSTGRES_URL_VAR: &str = "PORTCULLIS_TEST_POSTGRES_URL";

// ---------------------------------------------------------------- A. a full disk

#[test]
fn gate_on_a_full_disk_exits_2_and_recovers_when_space_is_freed() {
    let test = "gate on a full disk";
    let Some(fs) = Tmpfs::mount(test, 1536) else {
        return;
    };
    let home = fs.dir.join("home");
    let db = home.join("portcullis.db");
    let config = example_config();
    let mut acks: Vec<Ack> = Vec::new();

    // Decisions until the disk is full (about 40 fit in 1.5 MiB).
    let mut failure = None;
    for n in 0..300u64 {
        let o = run(&home, &gate_args(&config.path, n, false));
        match o.status.code() {
            Some(0 | 1) => {
                acks.push(Ack::of_gate(&o).unwrap_or_else(|| {
                    panic!("gate {n} exited 0/1 without recording:\n{}", err(&o))
                }))
            }
            _ => {
                failure = Some(o);
                break;
            }
        }
    }
    let first = failure.expect("300 decisions never filled a 1.5 MiB disk");
    let filled_after = acks.len();
    expect_full_gate(&first, &db);

    // Every byte left taken, so that nothing more fits: a denied and an allowed request fail
    // alike (exit 2, never 0), and record nothing.
    let filler = fs.fill();
    let mut seen_while_full = Vec::new();
    for (n, allowed) in [(1000, false), (1001, true), (1002, true)] {
        let o = run(&home, &gate_args(&config.path, n, allowed));
        expect_full_gate(&o, &db);
        seen_while_full.push(first_error_line(&o));
    }

    // Reading a full store works: it verifies and holds every acknowledged decision.
    let verified = verify(&home);
    check_acks(&home, &acks, verified);

    // Space freed (the filler removed, the file system made larger): recorded again at once.
    let freed = Instant::now();
    std::fs::remove_file(&filler).unwrap();
    fs.resize(4096);
    let o = run(&home, &gate_args(&config.path, 2000, true));
    let recovered = freed.elapsed();
    assert_eq!(
        o.status.code(),
        Some(0),
        "after freeing space:\n{}",
        err(&o)
    );
    acks.push(Ack::of_gate(&o).expect("the decision after freeing space is recorded"));
    let o = run(&home, &gate_args(&config.path, 2001, false));
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    acks.push(Ack::of_gate(&o).unwrap());
    let entries = verify(&home);
    check_acks(&home, &acks, entries);
    eprintln!(
        "gate on a full disk (tmpfs of 1536 KiB): {filled_after} decisions recorded before the \
         first failure; exit {:?}: {}; while full (filler file): exits 2, 2, 2: {:?}; after \
         freeing space the next gate recorded its decision in {} ms (exit 0); {} decisions \
         acknowledged, all found; audit verify: {entries} entries intact",
        first.status.code(),
        first_error_line(&first),
        seen_while_full,
        recovered.as_millis(),
        acks.len(),
    );
    fs.passed();
}

#[test]
fn server_on_a_full_disk_answers_507_and_recovers_when_space_is_freed() {
    let test = "server on a full disk";
    let Some(fs) = Tmpfs::mount(test, 1536) else {
        return;
    };
    let home = fs.dir.join("home");
    let token = admin_token(&home);
    let server = start_server(&home);
    let http = Http::new(&server.url, &token);
    let mut acks: Vec<Ack> = Vec::new();

    let mut failure = None;
    for n in 0..300u64 {
        let (status, body) = http.decide(n, false);
        if status == 200 {
            acks.push(
                Ack::of_api(&body).unwrap_or_else(|| panic!("200 without a decision: {body}")),
            );
        } else {
            failure = Some((status, body));
            break;
        }
    }
    let (status, problem) = failure.expect("300 decisions never filled a 1.5 MiB disk");
    let filled_after = acks.len();
    let status_first = status;
    expect_full_api(status, &problem);

    let filler = fs.fill();
    let mut seen_while_full = Vec::new();
    for (n, clean) in [(1000, false), (1001, true), (1002, true)] {
        let (status, body) = http.decide(n, clean);
        expect_full_api(status, &body);
        seen_while_full.push(format!("{status} {}", body["code"]));
    }
    // It still reads: the decisions recorded are there.
    let (status, _) = http.get(&format!("/v1/decisions/{}", acks[0].id));
    assert_eq!(
        status, 200,
        "a decision is still read while the disk is full"
    );

    let freed = Instant::now();
    std::fs::remove_file(&filler).unwrap();
    fs.resize(4096);
    let (status, body) = http.decide(2000, true);
    let recovered = freed.elapsed();
    assert_eq!(status, 200, "after freeing space: {body}");
    acks.push(Ack::of_api(&body).unwrap());
    let (status, body) = http.decide(2001, false);
    assert_eq!(status, 200, "{body}");
    acks.push(Ack::of_api(&body).unwrap());
    stop(server);

    let entries = verify(&home);
    check_acks(&home, &acks, entries);
    eprintln!(
        "server on a full disk (tmpfs of 1536 KiB): {filled_after} decisions recorded before the \
         first failure: HTTP {status_first} {}: {}; while full (filler file): {:?}; after freeing \
         space the next POST was answered 200 in {} ms, without a restart; {} decisions \
         acknowledged, all found; audit verify: {entries} entries intact",
        problem["code"],
        problem["detail"],
        seen_while_full,
        recovered.as_millis(),
        acks.len(),
    );
    fs.passed();
}

/// A gate that failed on the full disk: exit 2, nothing recorded, words that name the cause
/// and the database.
fn expect_full_gate(o: &Output, db: &Path) {
    let e = err(o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(!e.contains("recorded: decision"), "{e}");
    assert!(
        serde_json::from_slice::<Value>(&o.stdout).is_err(),
        "no decision on stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let line = first_error_line(o);
    assert!(
        line.contains("the disk that holds the database is full")
            && line.contains(&db.display().to_string()),
        "the error names the full disk and the database {}: {line}",
        db.display()
    );
    assert_eq!(
        line.matches("the disk that holds the database is full")
            .count(),
        1,
        "the cause is named once: {line}"
    );
}

fn expect_full_api(status: u16, problem: &Value) {
    assert_eq!(status, 507, "{problem}");
    assert_eq!(problem["code"], "storage-full", "{problem}");
    assert!(problem.get("decision").is_none(), "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("nothing was recorded"), "{problem}");
    assert!(
        !detail.contains("portcullis.db"),
        "the path stays in the log: {problem}"
    );
}

// ---------------------------------------------------------------- B. the clock steps back

#[test]
fn sqlite_chain_times_never_go_backwards_when_the_clock_steps_back() {
    let Some(faketime) = FakeTime::find("SQLite clock step") else {
        return;
    };
    let home = common::fresh_home();
    clock_steps_back(&faketime, &home, None);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn postgres_chain_times_never_go_backwards_when_the_clock_steps_back() {
    let Some(faketime) = FakeTime::find("PostgreSQL clock step") else {
        return;
    };
    let server = match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_string(),
        _ => portcullis_testkit::skip_or_fail!(
            "PostgreSQL clock step",
            "{POSTGRES_URL_VAR} is not set"
        ),
    };
    let database = PgDatabase::create(&server, "clock");
    let home = common::fresh_home();
    clock_steps_back(&faketime, &home, Some(&database.url));
    let _ = std::fs::remove_dir_all(&home);
    database.passed();
}

/// Gates and a server whose clock steps back an hour, then two, between decisions.
fn clock_steps_back(faketime: &FakeTime, home: &Path, database_url: Option<&str>) {
    let config = example_config();
    let clock = home.join("faketime");
    let mut acks = Vec::new();
    let set = |offset: &str| std::fs::write(&clock, offset).unwrap();
    let gate = |n: u64, acks: &mut Vec<Ack>| {
        let mut c = faketime.command(home, &clock, database_url);
        // No --time: the decision is timed by the (stepped) clock too.
        let args: Vec<String> = gate_args(&config.path, n, false)
            .into_iter()
            .collect::<Vec<_>>();
        let args = without_time(&args);
        let o = c.args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", err(&o));
        acks.push(Ack::of_gate(&o).unwrap());
    };

    // An exception granted while the clock is two hours behind, to expire half an hour
    // before the real now: expired once the clock is right, and so recorded.
    set("-2h");
    let expires = (chrono::Utc::now() - chrono::Duration::minutes(30))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let exception = home.join("exception.yaml");
    std::fs::write(
        &exception,
        format!(
            "exceptions:\n  - id: EXC-CLOCK-1\n    rule: PCL-VULN-002\n    key: \
             vuln:CVE-2024-5535|pkg:deb/debian/openssl@3.0.11-1~deb12u2\n    artifact: \
             registry.example.com/shop/checkout-api\n    environments: [staging]\n    expires: \
             {expires}\n    reason: the clock test\n    approver: dana@example.com\n"
        ),
    )
    .unwrap();
    let o = faketime
        .command(home, &clock, database_url)
        .args([
            "exception",
            "add",
            "--file",
            &exception.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "exception add: {}", err(&o));

    set("+0");
    gate(0, &mut acks);
    let in_force_now = excepted(&decision_of(home, database_url, &acks[0].id), "EXC-CLOCK-1");
    set("-1h");
    gate(1, &mut acks);
    set("-2h");
    gate(2, &mut acks);
    let in_force_stepped_back =
        excepted(&decision_of(home, database_url, &acks[2].id), "EXC-CLOCK-1");

    // A server started on the right time, its clock stepped back while it runs.
    set("+0");
    let token = {
        let o = faketime
            .command(home, &clock, database_url)
            .args(["token", "create", "--role", "ci", "--name", "clock"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", err(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let server = faketime.serve(home, &clock, database_url);
    let http = Http::new(&server.url, &token);
    let api = |n: u64, acks: &mut Vec<Ack>| {
        let (status, body) = http.decide(n, false);
        assert_eq!(status, 200, "{body}");
        acks.push(Ack::of_api(&body).unwrap());
        body["decision"]["decided_at"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let mut decided_at = vec![api(10, &mut acks)];
    set("-1h");
    decided_at.push(api(11, &mut acks));
    set("-2h");
    decided_at.push(api(12, &mut acks));
    set("+0");
    decided_at.push(api(13, &mut acks));
    stop(server);

    // The chain: verified, every acknowledged decision in it, its times never going back.
    let entries = {
        let mut c = plain(home, database_url);
        let o = c.args(["audit", "verify", "--json"]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "audit verify: {}", err(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["entries"].as_u64().unwrap()
    };
    let chain = export(home, database_url, entries);
    let times: Vec<(u64, String)> = chain.values().map(|e| (e.seq, e.at.clone())).collect();
    for pair in times.windows(2) {
        assert!(
            pair[0].1 <= pair[1].1,
            "entry {} at {} comes after entry {} at {}: the chain's time went back",
            pair[1].0,
            pair[1].1,
            pair[0].0,
            pair[0].1
        );
    }
    for a in &acks {
        let e = chain
            .get(&a.seq)
            .unwrap_or_else(|| panic!("entry {} missing", a.seq));
        assert_eq!(e.hash, a.hash, "decision {} at entry {}", a.id, a.seq);
    }
    // The firewall's clock never goes back past what the chain has recorded: a decision made
    // while the host's clock is behind is dated at the chain's head, not before it.
    for pair in decided_at.windows(2) {
        assert!(pair[0] <= pair[1], "decided_at went back: {decided_at:?}");
    }
    assert!(!in_force_now, "the exception has expired by the real clock");
    assert!(
        !in_force_stepped_back,
        "an exception expired by the firewall's clock came back into force when the host's \
         clock stepped back two hours"
    );
    let last_entry_times: Vec<&str> = acks.iter().map(|a| chain[&a.seq].at.as_str()).collect();
    eprintln!(
        "clock stepped back ({}): {} decisions (4 gates, 4 API) at entries {:?}; their entry \
         times {:?}; the server's decided_at {:?}; the chain of {entries} entries verifies and \
         its times never go back; the exception expired by the firewall's clock was applied at \
         the real time: {in_force_now}, two hours back: {in_force_stepped_back}",
        database_url.map_or("SQLite", |_| "PostgreSQL"),
        acks.len(),
        acks.iter().map(|a| a.seq).collect::<Vec<_>>(),
        last_entry_times,
        decided_at,
    );
}

/// Whether the decision lists exception `id` as applied.
fn excepted(decision: &Value, id: &str) -> bool {
    decision["excepted"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|x| x.to_string().contains(&format!("\"{id}\"")))
}

fn decision_of(home: &Path, database_url: Option<&str>, id: &str) -> Value {
    let o = plain(home, database_url)
        .args(["decision", "show", id])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn without_time(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
        } else if a == "--time" {
            skip = true;
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// libfaketime, stepping the clock of the processes it is preloaded in by what a file says
/// (re-read at every call: FAKETIME_NO_CACHE); monotonic clocks are left alone.
struct FakeTime {
    library: PathBuf,
}

impl FakeTime {
    fn find(test: &str) -> Option<FakeTime> {
        let candidates: Vec<PathBuf> = std::env::var_os("PORTCULLIS_LIBFAKETIME")
            .map(PathBuf::from)
            .into_iter()
            .chain(
                [
                    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                    "/usr/lib/faketime/libfaketime.so.1",
                    "/usr/local/lib/faketime/libfaketime.so.1",
                ]
                .map(PathBuf::from),
            )
            .collect();
        match candidates.into_iter().find(|p| p.is_file()) {
            Some(library) => Some(FakeTime { library }),
            None => portcullis_testkit::skip_or_fail!(
                test,
                "libfaketime is not installed (Debian package `faketime`, or \
                 PORTCULLIS_LIBFAKETIME=PATH to libfaketime.so.1)"
            ),
        }
    }

    fn command(&self, home: &Path, clock: &Path, database_url: Option<&str>) -> Command {
        let mut c = plain(home, database_url);
        c.env("LD_PRELOAD", &self.library)
            .env("FAKETIME_TIMESTAMP_FILE", clock)
            .env("FAKETIME_NO_CACHE", "1")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .env("FAKETIME_DONT_RESET", "1");
        c
    }

    fn serve(&self, home: &Path, clock: &Path, database_url: Option<&str>) -> Serve {
        let c = self.command(home, clock, database_url);
        Serve::spawn(c, &server_args())
    }
}

// ---------------------------------------------------------------- C. writers on one file

#[test]
fn two_servers_and_gates_on_one_sqlite_file_keep_one_chain() {
    let secs: f64 = std::env::var("PORTCULLIS_FAULT_SECS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(5.0);
    let home = common::fresh_home();
    let token = admin_token(&home);
    let config = example_config();
    let servers = [start_server(&home), start_server(&home)];
    let storm = Duration::from_secs_f64(secs);
    let started = Instant::now();
    // Per writer: its acknowledgements and its failures.
    let results: Vec<(String, Vec<Ack>, Vec<String>)> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (i, server) in servers.iter().enumerate() {
            for t in 0..2u64 {
                let (url, token) = (server.url.clone(), token.clone());
                handles.push(s.spawn(move || {
                    let http = Http::new(&url, &token);
                    let (mut acks, mut errors) = (Vec::new(), Vec::new());
                    let mut n = 0;
                    while started.elapsed() < storm && n < 2000 {
                        let (status, body) =
                            http.decide(100_000 * (i as u64 * 2 + t + 1) + n, n % 3 == 0);
                        match Ack::of_api(&body) {
                            Some(a) if status == 200 => acks.push(a),
                            _ => errors.push(format!("HTTP {status}: {body}")),
                        }
                        n += 1;
                    }
                    (format!("server {i} client {t}"), acks, errors)
                }));
            }
        }
        for g in 0..3u64 {
            let (home, config) = (home.clone(), config.path.clone());
            handles.push(s.spawn(move || {
                let (mut acks, mut errors) = (Vec::new(), Vec::new());
                let mut n = 0;
                while started.elapsed() < storm && n < 500 {
                    let o = run(
                        &home,
                        &gate_args(&config, 1_000_000 * (g + 1) + n, n % 2 == 1),
                    );
                    match (o.status.code(), Ack::of_gate(&o)) {
                        (Some(0 | 1), Some(a)) => acks.push(a),
                        _ => errors.push(format!("gate exit {:?}: {}", o.status.code(), err(&o))),
                    }
                    n += 1;
                }
                (format!("gate process loop {g}"), acks, errors)
            }));
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let took = started.elapsed();
    for s in servers {
        stop(s);
    }

    let mut acks: Vec<Ack> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut per_writer = Vec::new();
    for (who, a, e) in results {
        per_writer.push(format!(
            "{who}: {} acknowledged, {} failed",
            a.len(),
            e.len()
        ));
        acks.extend(a);
        errors.extend(e.into_iter().map(|e| format!("{who}: {e}")));
    }
    assert!(
        errors.is_empty(),
        "{} writes failed; the first:\n{}",
        errors.len(),
        errors[0]
    );

    let entries = verify(&home);
    check_acks(&home, &acks, entries);
    // One chain: entries 1..=N, each linked to the one before, no sequence number twice.
    let chain = export(&home, None, entries);
    assert_eq!(
        chain.keys().copied().collect::<Vec<_>>(),
        (1..=entries).collect::<Vec<_>>()
    );
    for (seq, e) in &chain {
        if let Some(prev) = chain.get(&(seq - 1)) {
            assert_eq!(
                e.prev_hash,
                prev.hash,
                "entry {seq} does not link to entry {}",
                seq - 1
            );
        }
    }
    let mut at_seq: HashMap<u64, &str> = HashMap::new();
    for a in &acks {
        if let Some(other) = at_seq.insert(a.seq, &a.id) {
            panic!(
                "decisions {other} and {} were both acknowledged at entry {}",
                a.id, a.seq
            );
        }
    }
    eprintln!(
        "two servers and 3 gate loops on one SQLite file for {:.1} s: {} decisions \
         acknowledged ({}), all found at the entry and hash reported; no write failed; the \
         chain of {entries} entries is contiguous, linked and verifies",
        took.as_secs_f64(),
        acks.len(),
        per_writer.join("; "),
    );
    let _ = std::fs::remove_dir_all(&home);
}

// ---------------------------------------------------------------- helpers

/// A decision a writer acknowledged: its id, audit entry and that entry's hash.
#[derive(Debug, Clone)]
struct Ack {
    id: String,
    seq: u64,
    hash: String,
}

impl Ack {
    /// From a gate's JSON on stdout, checked against its `recorded:` line.
    fn of_gate(o: &Output) -> Option<Ack> {
        let d: Value = serde_json::from_slice(&o.stdout).ok()?;
        let ack = Ack {
            id: d.get("id")?.as_str()?.to_string(),
            seq: d.pointer("/chain/seq")?.as_u64()?,
            hash: d.pointer("/chain/hash")?.as_str()?.to_string(),
        };
        let line = format!("recorded: decision {} (audit entry {})", ack.id, ack.seq);
        err(o).contains(&line).then_some(ack)
    }

    /// From `POST /v1/decisions`'s answer.
    fn of_api(body: &Value) -> Option<Ack> {
        let d = body.get("decision")?;
        Some(Ack {
            id: d.get("id")?.as_str()?.to_string(),
            seq: d.pointer("/chain/seq")?.as_u64()?,
            hash: d.pointer("/chain/hash")?.as_str()?.to_string(),
        })
    }
}

/// `portcullis audit verify` passes; the number of entries.
fn verify(home: &Path) -> u64 {
    let o = run(home, &["audit", "verify", "--json"]);
    assert_eq!(o.status.code(), Some(0), "audit verify: {}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["entries"].as_u64().unwrap()
}

/// Every acknowledged decision is stored at the entry, with the hash, it was reported at.
fn check_acks(home: &Path, acks: &[Ack], entries: u64) {
    let o = run(
        home,
        &["decision", "list", "--format", "json", "--limit", "1000000"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let listed: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let stored: HashMap<&str, u64> = listed
        .iter()
        .filter_map(|d| Some((d.get("id")?.as_str()?, d.get("seq")?.as_u64()?)))
        .collect();
    let chain = export(home, None, entries);
    for a in acks {
        assert_eq!(
            stored.get(a.id.as_str()),
            Some(&a.seq),
            "decision {} was acknowledged at entry {}",
            a.id,
            a.seq
        );
        assert_eq!(
            chain.get(&a.seq).map(|e| e.hash.as_str()),
            Some(a.hash.as_str()),
            "entry {} has the hash decision {} was acknowledged with",
            a.seq,
            a.id
        );
    }
}

struct ChainEntry {
    seq: u64,
    at: String,
    hash: String,
    prev_hash: String,
}

/// Entries 1..=`n`, from a proof bundle of that range.
fn export(home: &Path, database_url: Option<&str>, n: u64) -> BTreeMap<u64, ChainEntry> {
    // Beside the store, never on it (its disk may be full).
    let file = std::env::temp_dir().join(format!(
        "portcullis-faults-{}-{}-{n}.bundle.json",
        std::process::id(),
        home.display().to_string().len()
    ));
    let o = plain(home, database_url)
        .args([
            "audit",
            "export",
            "--from",
            "1",
            "--to",
            &n.to_string(),
            "--output",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "audit export: {}", err(&o));
    let bundle: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let _ = std::fs::remove_file(&file);
    let mut out = BTreeMap::new();
    for e in bundle["entries"].as_array().unwrap() {
        let field = |k: &str| e[k].as_str().unwrap_or_default().to_string();
        let seq = e["seq"].as_u64().unwrap();
        out.insert(
            seq,
            ChainEntry {
                seq,
                at: field("at"),
                hash: field("hash"),
                prev_hash: field("prev_hash"),
            },
        );
    }
    out
}

/// The README's denied (or allowed) gate with an artifact digest of its own (`n`), as JSON.
fn gate_args(config: &str, n: u64, allowed: bool) -> Vec<String> {
    let mut args = if allowed {
        allowed_command(config)
    } else {
        denied_command(config)
    };
    let digest = format!("sha256:{n:064x}");
    for i in 1..args.len() {
        if args[i - 1] == "--artifact" {
            // The allowed run keeps its real digest (an allow needs its attestation).
            if !allowed {
                let name = args[i].split('@').next().unwrap().to_string();
                args[i] = format!("{name}@{digest}");
            } else {
                args[i] = CLEAN_ARTIFACT.to_string();
            }
        }
    }
    args.extend(["--format".to_string(), "json".to_string()]);
    args
}

/// `portcullis ARGS` on the store in `home` (no PORTCULLIS_* of the caller's environment).
fn plain(home: &Path, database_url: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PORTCULLIS_") {
            c.env_remove(k);
        }
    }
    c.env("PORTCULLIS_HOME", home)
        .current_dir(root())
        .stdin(Stdio::null());
    if let Some(url) = database_url {
        c.env("PORTCULLIS_DATABASE_URL", url);
    }
    c
}

fn run<S: AsRef<std::ffi::OsStr>>(home: &Path, args: &[S]) -> Output {
    plain(home, None).args(args).output().unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn first_error_line(o: &Output) -> String {
    err(o)
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default()
        .to_string()
}

fn admin_token(home: &Path) -> String {
    let o = run(
        home,
        &["token", "create", "--role", "admin", "--name", "faults"],
    );
    assert!(o.status.success(), "token create: {}", err(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn server_args() -> Vec<&'static str> {
    vec![
        "--config",
        "examples/portcullis.yaml",
        "--kev",
        "examples/kev.json",
        "--trusted-keys",
        "examples/keys",
    ]
}

fn start_server(home: &Path) -> Serve {
    Serve::start(home, &server_args())
}

/// SIGTERM, and wait (30 s at most) for a clean exit.
fn stop(mut server: Serve) {
    let pid = server.child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "serve exits 0 on SIGTERM: {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("serve did not stop within 30 s of SIGTERM");
}

/// `POST /v1/decisions` and friends.
struct Http {
    agent: ureq::Agent,
    url: String,
    token: String,
    sbom: Value,
    scan: Value,
    clean_sbom: Value,
    clean_scan: Value,
}

impl Http {
    fn new(url: &str, token: &str) -> Http {
        let read = |p: &str| -> Value {
            serde_json::from_slice(&std::fs::read(root().join(p)).unwrap()).unwrap()
        };
        Http {
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(120)))
                .http_status_as_error(false)
                .build()
                .into(),
            url: url.to_string(),
            token: token.to_string(),
            sbom: read("examples/evidence/checkout-api.cdx.json"),
            scan: read("examples/evidence/trivy-image.json"),
            clean_sbom: read("examples/evidence/clean/checkout-api-2.4.1.cdx.json"),
            clean_scan: read("examples/evidence/clean/trivy-image.json"),
        }
    }

    /// A decision about an artifact digest of its own (`n`): the README's denied evidence, or
    /// the clean one (`clean`).
    fn decide(&self, n: u64, clean: bool) -> (u16, Value) {
        let (sbom, scan) = if clean {
            (&self.clean_sbom, &self.clean_scan)
        } else {
            (&self.sbom, &self.scan)
        };
        let body = json!({
            "artifact": format!("registry.example.com/shop/checkout-api@sha256:{n:064x}"),
            "environment": if clean { "dev" } else { "staging" },
            "evidence": [
                {"name": "sbom.cdx.json", "content": sbom},
                {"name": "trivy.json", "content": scan},
            ],
        });
        let answer = self
            .agent
            .post(&format!("{}/v1/decisions", self.url))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body)
            .unwrap_or_else(|e| panic!("POST /v1/decisions: {e}"));
        let status = answer.status().as_u16();
        let body: Value = answer.into_body().read_json().unwrap_or(Value::Null);
        (status, body)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let answer = self
            .agent
            .get(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = answer.status().as_u16();
        (
            status,
            answer.into_body().read_json().unwrap_or(Value::Null),
        )
    }
}

/// A tmpfs of the test's own, unmounted (and its directory removed) when dropped, whatever
/// happened; its contents are copied out first when the test failed.
struct Tmpfs {
    dir: PathBuf,
    passed: bool,
}

impl Tmpfs {
    /// `mount -t tmpfs -o size=KIBk`, or `None` after a skip (or a failure under CI) saying
    /// why it cannot be mounted here.
    fn mount(test: &str, kib: u64) -> Option<Tmpfs> {
        let dir = common::fresh_home().join("tmpfs");
        std::fs::create_dir_all(&dir).unwrap();
        let o = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k,mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .output();
        match o {
            Ok(o) if o.status.success() => Some(Tmpfs { dir, passed: false }),
            Ok(o) => portcullis_testkit::skip_or_fail!(
                test,
                "cannot mount a tmpfs of {kib} KiB on {} (needs root or CAP_SYS_ADMIN): {}",
                dir.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => portcullis_testkit::skip_or_fail!(test, "cannot run mount: {e}"),
        }
    }

    /// Remount with a new size.
    fn resize(&self, kib: u64) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,size={kib}k"), "tmpfs"])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "remount: {}", err(&o));
    }

    /// A file that takes every byte left; its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let path = self.dir.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        // Bounded: the file system is a few MiB at most.
        for _ in 0..100_000 {
            match f.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
        // What a page does not hold, byte by byte.
        for _ in 0..4096 {
            if f.write_all(&[0]).is_err() {
                break;
            }
        }
        let _ = f.sync_all();
        path
    }

    fn passed(mut self) {
        self.passed = true;
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if !self.passed {
            let keep = self.dir.with_file_name("kept");
            let _ = Command::new("cp")
                .arg("-a")
                .arg(&self.dir)
                .arg(&keep)
                .status();
            eprintln!("the failed test's store is copied to {}", keep.display());
        }
        for _ in 0..50 {
            match Command::new("umount").arg(&self.dir).status() {
                Ok(s) if s.success() => break,
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        if Command::new("mountpoint")
            .arg("-q")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success())
        {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
        if self.passed {
            let _ = std::fs::remove_dir_all(self.dir.parent().unwrap_or(&self.dir));
        }
    }
}

/// A database of the test's own on the PostgreSQL server: dropped when the test passes, kept
/// (and named) when it fails. `pcl_t_<pid>_…`, as `scripts/test` drops those left behind.
struct PgDatabase {
    server: String,
    name: String,
    url: String,
    passed: bool,
}

impl PgDatabase {
    fn create(server: &str, what: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("pcl_t_{}_{what}_{nanos:09}", std::process::id());
        let o = psql(server, &format!("CREATE DATABASE {name}"));
        assert!(
            o.status.success(),
            "cannot create database {name}: {}",
            err(&o)
        );
        let (base, query) = match server.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (server, None),
        };
        let authority = base.find("://").map_or(0, |i| i + 3);
        let end = base[authority..]
            .find('/')
            .map_or(base.len(), |i| authority + i);
        let mut url = format!("{}/{name}", &base[..end]);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        Self {
            server: server.to_string(),
            name,
            url,
            passed: false,
        }
    }

    fn passed(mut self) {
        self.passed = true;
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if !self.passed {
            eprintln!("the test's PostgreSQL database is kept: {}", self.name);
            return;
        }
        let _ = psql(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) -> Output {
    Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is set, but psql cannot run: {e}"))
}
