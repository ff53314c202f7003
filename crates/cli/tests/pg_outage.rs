//! PostgreSQL stopped for real under load, and started again: a server of the test's own
//! (its own data directory and port) with two `portcullis serve` replicas on it while clients
//! send decisions to both. The database is stopped with `pg_ctl stop -m immediate` (no
//! shutdown checkpoint: as a crash) and later with `-m fast` (sessions ended, a clean
//! shutdown), each time for a few seconds. While it is down:
//!
//! - POST /v1/decisions answers 503 (problem code `unavailable`), never a 2xx, and in bounded
//!   time; /readyz answers 503;
//! - `portcullis gate --server` and a local `portcullis gate` on the PostgreSQL store exit 2;
//! - POST /v1/admission fails closed in a namespace configured `failure: closed` (denied,
//!   PCL-ADM-004 "failing closed") and open in one configured `failure: open` (admitted with a
//!   PCL-ADM-004 warning), where both deny the same image (PCL-ADM-002) when it is up.
//!
//! Once it is back, each replica answers /readyz and records decisions again within
//! [`BACK_WITHIN`] (measured, printed); every decision acknowledged (a 2xx with its chain
//! position) before, between and after the outages is in the chain with the hash it was
//! acknowledged with, and `portcullis audit verify` passes.
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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faults::*;
use serde_json::{Value, json};

const REPLICAS: usize = 2;
const CLIENTS: usize = 3;
/// How long each outage lasts at least.
const OUTAGE: Duration = Duration::from_secs(3);
/// The longest a replica may take to serve again once the database is back.
const BACK_WITHIN: Duration = Duration::from_secs(5);
/// The longest an answer may take while the database is down (a webhook's budget is 10 s).
const ANSWER_WITHIN: Duration = Duration::from_secs(8);
/// An image pinned by digest that no decision covers.
const UNKNOWN: &str = "registry.example.com/shop/never-gated@sha256:abababababababababababababababababababababababababababababababab";

fn review(namespace: &str, uid: &str) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "name": "never-gated", "namespace": namespace, "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:argocd:argocd-application-controller"},
            "object": {
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "never-gated", "namespace": namespace},
                "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {
                    "metadata": {"labels": {"app": "x"}},
                    "spec": {"securityContext": {"runAsNonRoot": true, "runAsUser": 10001},
                             "containers": [{"name": "api", "image": UNKNOWN,
                                             "securityContext": {"allowPrivilegeEscalation": false,
                                                                 "readOnlyRootFilesystem": true,
                                                                 "capabilities": {"drop": ["ALL"]}}}]}}}
            },
            "oldObject": null, "dryRun": false
        }
    })
}

/// (allowed, message + warnings, how long it took) of an admission review.
fn admit(
    agent: &ureq::Agent,
    url: &str,
    token: &str,
    namespace: &str,
    n: usize,
) -> (bool, String, Duration) {
    let started = Instant::now();
    let (status, r) = post(
        agent,
        &format!("{url}/v1/admission"),
        token,
        &review(namespace, &format!("uid-{namespace}-{n}")),
    )
    .unwrap_or_else(|e| panic!("admission review in {namespace}: no answer: {e}"));
    let took = started.elapsed();
    assert_eq!(status, 200, "admission review in {namespace}: {r}");
    let resp = &r["response"];
    let words = format!(
        "{} {}",
        resp["status"]["message"].as_str().unwrap_or(""),
        resp["warnings"]
    );
    (resp["allowed"].as_bool().expect("allowed"), words, took)
}

/// When the replica at `url` is ready and records a decision again (polled every 50 ms,
/// for at most 30 s): the time since `since`.
fn back(agent: &ureq::Agent, url: &str, token: &str, since: Instant) -> Option<Duration> {
    let mut n = 0;
    while since.elapsed() < Duration::from_secs(30) {
        n += 1;
        let ready = get_status(agent, &format!("{url}/readyz")) == Ok(200);
        if ready
            && let Ok((s, _)) = post(
                agent,
                &format!("{url}/v1/decisions"),
                token,
                &decision_body(900_000 + n),
            )
            && (200..300).contains(&s)
        {
            return Some(since.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

struct Outage {
    mode: &'static str,
    /// Since t0: when the database was down (pg_ctl stop returned), when it was started
    /// again (pg_ctl start called).
    down: Duration,
    up_called: Duration,
    back: Vec<Duration>,
}

#[test]
fn postgres_stopped_and_restarted_under_load() {
    let Some(pg) = pgcluster::PgCluster::start("PostgreSQL outage test") else {
        return;
    };
    pg.create_database("portcullis");
    let url = pg.url("portcullis");
    let db = Some(url.as_str());
    let dir = scratch();
    let cli = home_in(dir.path(), "cli");
    let server_config = dir.path().join("server.yaml");
    std::fs::write(
        &server_config,
        "admission:\n  namespaces:\n    shop-prod: { environment: production, failure: closed }\n    lenient: { environment: production, failure: open }\nposture:\n  lease_retry_seconds: 1\n",
    )
    .unwrap();
    let token = token(&cli, db, "ci");
    let config_flag = ["--server-config", server_config.to_str().unwrap()];
    let mut replicas: Vec<Replica> = (0..REPLICAS)
        .map(|i| Replica::start(&home_in(dir.path(), &format!("r{i}")), db, &config_flag))
        .collect();
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let quick = agent(Duration::from_secs(30));

    // Up: both namespaces deny the image no decision covers.
    for (i, u) in urls.iter().enumerate() {
        for ns in ["shop-prod", "lenient"] {
            let (allowed, words, _) = admit(&quick, u, &token, ns, i);
            assert!(
                !allowed && words.contains("PCL-ADM-002"),
                "{ns} while up: {words}"
            );
        }
        assert_eq!(get_status(&quick, &format!("{u}/readyz")), Ok(200));
    }

    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(
        Arc::new(Mutex::new(urls.clone())),
        &token,
        CLIENTS,
        t0,
        stop.clone(),
        20_000,
    );
    std::thread::sleep(Duration::from_millis(1500));

    let mut outages = Vec::new();
    let mut admissions: Vec<String> = Vec::new();
    let mut n = 100;
    for mode in ["immediate", "fast"] {
        pg.stop(mode);
        let down = t0.elapsed();
        let down_at = Instant::now();
        // Each replica, each namespace: closed denies, open admits, both naming PCL-ADM-004.
        // The replicas and the gates at once (the outage stays short).
        let said: Vec<String> = std::thread::scope(|s| {
            let per_replica: Vec<_> =
                urls.iter()
                    .enumerate()
                    .map(|(i, u)| {
                        let (quick, token) = (&quick, &token);
                        s.spawn(move || {
                let mut admissions = Vec::new();
                let n = n + i;
            let (allowed, words, took) = admit(quick, u, token, "shop-prod", n);
            assert!(
                !allowed && words.contains("PCL-ADM-004") && words.contains("failing closed"),
                "{mode}: replica {i}, namespace shop-prod (failure: closed): {words}"
            );
            assert!(
                took < ANSWER_WITHIN,
                "{mode}: closed admission took {took:?}"
            );
            admissions.push(format!(
                "{mode}: replica {i} shop-prod (closed): denied in {took:?}"
            ));
            let (allowed, words, took) = admit(quick, u, token, "lenient", n);
            assert!(
                allowed && words.contains("PCL-ADM-004") && words.contains("failing open"),
                "{mode}: replica {i}, namespace lenient (failure: open): {words}"
            );
            assert!(took < ANSWER_WITHIN, "{mode}: open admission took {took:?}");
            admissions.push(format!(
                "{mode}: replica {i} lenient (open): admitted with a warning in {took:?}"
            ));
            // A decision asked directly: 503, never a decision.
            let started = Instant::now();
            let (status, p) = post(
                quick,
                &format!("{u}/v1/decisions"),
                token,
                &decision_body(n),
            )
            .unwrap_or_else(|e| panic!("{mode}: no answer to a decision: {e}"));
            assert_eq!(
                status, 503,
                "{mode}: replica {i}: a decision while the database is down: {p}"
            );
            assert_eq!(p["code"], "unavailable", "{p}");
            assert!(
                started.elapsed() < ANSWER_WITHIN,
                "{mode}: the 503 took {:?}",
                started.elapsed()
            );
            assert_eq!(
                get_status(quick, &format!("{u}/readyz")),
                Ok(503),
                "{mode}: replica {i}: /readyz while the database is down"
            );
                admissions
                })
                    })
                    .collect();
            let gates = s.spawn(|| {
                let mut admissions = Vec::new();
                // The gate, remote and local: exit 2.
                let started = Instant::now();
                let o = command(
                    &cli,
                    None,
                    &[
                        "gate",
                        "--artifact",
                        common::DENIED_ARTIFACT,
                        "--env",
                        "dev",
                        "--evidence",
                        "examples/evidence/checkout-api.cdx.json",
                        "--server",
                        &urls[0],
                    ],
                )
                .env("PORTCULLIS_TOKEN", &token)
                .output()
                .unwrap();
                assert_eq!(
                    o.status.code(),
                    Some(2),
                    "{mode}: gate --server: {}",
                    text(&o)
                );
                let remote_took = started.elapsed();
                let started = Instant::now();
                let o = run(
                    &cli,
                    db,
                    &[
                        "gate",
                        "--config",
                        "examples/portcullis.yaml",
                        "--artifact",
                        common::DENIED_ARTIFACT,
                        "--env",
                        "dev",
                        "--evidence",
                        "examples/evidence/checkout-api.cdx.json",
                    ],
                );
                assert_eq!(o.status.code(), Some(2), "{mode}: local gate: {}", text(&o));
                let local_took = started.elapsed();
                admissions.push(format!(
            "{mode}: gate --server exit 2 in {remote_took:?}, local gate exit 2 in {local_took:?}"
        ));
                admissions
            });
            let mut all: Vec<String> = per_replica
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect();
            all.extend(gates.join().unwrap());
            all
        });
        admissions.extend(said);
        n += 10;
        if let Some(rest) = OUTAGE.checked_sub(down_at.elapsed()) {
            std::thread::sleep(rest);
        }
        let up_called = t0.elapsed();
        pg.start_again();
        let up = Instant::now();
        let back: Vec<Duration> = urls
            .iter()
            .enumerate()
            .map(|(i, u)| {
                back(&quick, u, &token, up).unwrap_or_else(|| {
                    panic!(
                        "{mode}: replica {i} did not serve again within 30 s:\n{}",
                        replicas[i].log_tail(20)
                    )
                })
            })
            .collect();
        eprintln!(
            "pg_ctl stop -m {mode}: down {:.1} s; replicas served again {:?} after pg_ctl start returned",
            (up_called - down).as_secs_f64(),
            back
        );
        outages.push(Outage {
            mode,
            down,
            up_called,
            back,
        });
        std::thread::sleep(Duration::from_millis(1000));
    }
    // The posture lease (a session advisory lock) went with the database's sessions: exactly
    // one replica judges what runs again, the one whose session holds the lock.
    let holders = || {
        pg_number(
            &url,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND classid = 1346587728 AND objid = 1330861141 AND objsubid = 1",
        )
    };
    let leaders = |replicas: &[Replica]| -> Vec<i64> {
        replicas
            .iter()
            .map(|r| {
                r.log_count("this replica holds the lease") as i64
                    - r.log_count("lost the posture lease") as i64
            })
            .collect()
    };
    let started = Instant::now();
    while holders() != 1 && started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Long enough for a holder that lost its session to notice (it looks every second).
    std::thread::sleep(Duration::from_secs(3));
    let lease = (holders(), leaders(&replicas));
    eprintln!(
        "posture lease after the outages: {} session(s) hold it; replicas judging (taken - lost): {:?}",
        lease.0, lease.1
    );
    assert_eq!(lease.0, 1, "one session holds the posture lease");
    assert_eq!(
        lease.1.iter().sum::<i64>(),
        1,
        "exactly one replica judges what runs after the outages: {:?}",
        lease.1
    );
    stop.store(true, Ordering::SeqCst);
    let calls: Vec<Call> = workers
        .into_iter()
        .flat_map(|h| h.join().expect("a client thread panicked"))
        .collect();

    // While it was down (from the moment pg_ctl stop returned to the moment pg_ctl start was
    // called), nothing was acknowledged, and every answer was a 503.
    for o in &outages {
        let during: Vec<&Call> = calls
            .iter()
            .filter(|c| c.start >= o.down && c.end <= o.up_called)
            .collect();
        let acked = during.iter().filter(|c| c.ack.is_some()).count();
        let not_503: Vec<&&Call> = during.iter().filter(|c| c.status != Some(503)).collect();
        let slowest = during
            .iter()
            .map(|c| c.end - c.start)
            .max()
            .unwrap_or_default();
        eprintln!(
            "pg_ctl stop -m {}: {} decisions asked while down: {acked} acknowledged, {} not 503; slowest answer {slowest:?}",
            o.mode,
            during.len(),
            not_503.len()
        );
        assert_eq!(
            acked, 0,
            "{}: a decision was acknowledged while the database was down",
            o.mode
        );
        assert!(
            not_503.is_empty(),
            "{}: answers other than 503 while down: {:?}",
            o.mode,
            not_503.iter().take(3).collect::<Vec<_>>()
        );
        assert!(
            !during.is_empty(),
            "{}: no decision was asked while the database was down",
            o.mode
        );
        for (i, b) in o.back.iter().enumerate() {
            assert!(
                *b <= BACK_WITHIN,
                "{}: replica {i} served again only {b:?} after the database returned (limit {BACK_WITHIN:?})",
                o.mode
            );
        }
    }
    let acks: Vec<&Ack> = calls.iter().filter_map(|c| c.ack.as_ref()).collect();
    let last_up = outages.last().unwrap().up_called;
    let after = acks.len()
        - calls
            .iter()
            .filter(|c| c.ack.is_some() && c.start < last_up)
            .count();
    for r in &mut replicas {
        r.kill();
    }
    let chain = read_chain(&url);
    assert_acknowledged_in_chain(&acks, &chain, "PostgreSQL outage");
    let verified = assert_chain_verifies(&cli, db, "PostgreSQL outage");
    eprintln!(
        "{} decisions asked, {} acknowledged ({after} after the last restart), all in the chain ({} entries); {}\n{}",
        calls.len(),
        acks.len(),
        chain.len(),
        verified.trim(),
        admissions.join("\n")
    );
    assert!(after > 0, "nothing acknowledged after the last restart");
}
