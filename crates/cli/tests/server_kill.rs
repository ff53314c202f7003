//! SIGKILL of `portcullis serve` itself while clients send it decisions, on SQLite and on
//! PostgreSQL (a server of the test's own): the server is killed at a random moment of the
//! load several times and started again on the same store; at the end every decision whose
//! answer (a 2xx with its chain position) reached a client is in the chain at that position
//! with that hash, the chain has no gap, and `portcullis audit verify` passes.
//!
//! `crash.rs` does the same for `portcullis gate` processes; this is the server's side.
//! `PORTCULLIS_KILL_SEED` replays a run's kill delays (printed by every run).
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[path = "common/faults.rs"]
mod faults;
#[path = "common/pgcluster.rs"]
mod pgcluster;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faults::*;

/// Kills per test, and client threads.
const KILLS: usize = 4;
const CLIENTS: usize = 4;
/// How long the load runs on each server before it is killed: uniform in this range (ms).
const RUN_MS: (u64, u64) = (700, 1600);

#[test]
fn sqlite_server_survives_sigkill_under_load() {
    let dir = scratch();
    let home = home_in(dir.path(), "home");
    let db = home.join("portcullis.db");
    kill_test("SQLite", &home, None, &path_str(&db));
}

#[test]
fn postgres_server_survives_sigkill_under_load() {
    let Some(pg) = pgcluster::PgCluster::start("PostgreSQL server SIGKILL test") else {
        return;
    };
    pg.create_database("portcullis");
    let url = pg.url("portcullis");
    let dir = scratch();
    let home = home_in(dir.path(), "home");
    kill_test("PostgreSQL", &home, Some(&url), &url);
}

fn kill_test(label: &str, home: &Path, database: Option<&str>, chain_url: &str) {
    let seed = match std::env::var("PORTCULLIS_KILL_SEED") {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .expect("PORTCULLIS_KILL_SEED: an integer"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    };
    let mut rng = seed | 1;
    let mut next = move || {
        // xorshift64
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let token = token(home, database, "ci");
    let mut server = Replica::start(home, database, &[]);
    let urls = Arc::new(Mutex::new(vec![server.url.clone()]));
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(urls.clone(), &token, CLIENTS, t0, stop.clone(), 5_000);
    let mut kills = Vec::new();
    let mut restarts = Vec::new();
    for _ in 0..KILLS {
        let ms = RUN_MS.0 + next() % (RUN_MS.1 - RUN_MS.0);
        std::thread::sleep(Duration::from_millis(ms));
        server.kill();
        kills.push(t0.elapsed());
        let started = Instant::now();
        server = Replica::start(home, database, &[]);
        restarts.push(started.elapsed());
        *urls.lock().unwrap() = vec![server.url.clone()];
    }
    // The last server serves a while, then everything stops.
    std::thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::SeqCst);
    let calls: Vec<Call> = workers
        .into_iter()
        .flat_map(|h| h.join().expect("a client thread panicked"))
        .collect();
    server.kill();

    let acks: Vec<&Ack> = calls.iter().filter_map(|c| c.ack.as_ref()).collect();
    let refused = calls.iter().filter(|c| c.status.is_none()).count();
    let other: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c.status, Some(s) if !(200..300).contains(&s)))
        .collect();
    // Acknowledged after the last kill: the server started again serves.
    let last_kill = *kills.last().unwrap();
    let after = calls
        .iter()
        .filter(|c| c.ack.is_some() && c.start > last_kill)
        .count();
    let chain = read_chain(chain_url);
    let in_chain = chain
        .values()
        .filter(|r| r.kind == "decision" || r.decision_id.is_some())
        .count();
    eprintln!(
        "{label}: seed {seed} (PORTCULLIS_KILL_SEED), {KILLS} SIGKILLs of the server at {:?}; \
         restarts took {:?}; {} calls: {} acknowledged ({after} after the last kill), {refused} \
         without an answer, {} other answers; chain: {} entries, {in_chain} with a decision",
        kills,
        restarts,
        calls.len(),
        acks.len(),
        other.len(),
        chain.len(),
    );
    assert!(
        other.is_empty(),
        "{label}: answers other than 2xx: {:?}",
        other.iter().take(3).collect::<Vec<_>>()
    );
    assert!(
        acks.len() >= KILLS,
        "{label}: too few decisions acknowledged: {}",
        acks.len()
    );
    assert!(
        after > 0,
        "{label}: nothing was acknowledged after the last restart"
    );
    assert_acknowledged_in_chain(&acks, &chain, label);
    assert!(
        acks.iter()
            .all(|a| a.verdict == "allow" || a.verdict == "deny"),
        "{label}: a verdict is neither allow nor deny"
    );
    let verified = assert_chain_verifies(home, database, label);
    eprintln!("{label}: {}", verified.trim());
}
