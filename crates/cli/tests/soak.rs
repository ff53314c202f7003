//! The soak in short (scripts/soak runs it for 30 minutes, with plots): `portcullis serve` as a
//! real process under a mixed load — admission reviews, decisions with evidence, dashboard
//! pages, /metrics — at half the rate the mix sustains (measured first: CI machines run other
//! tests beside this one), on SQLite and on PostgreSQL. It fails on any error (5xx, refusal,
//! transport), on any acknowledged decision missing from the audit chain (which must verify),
//! and on growth of the server's open descriptors; RSS only on a gross leak (a minute is too
//! short to tell a drift of a few percent from the allocator settling).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[path = "../examples/soak/load.rs"]
#[allow(dead_code)]
mod load;

use std::path::Path;
use std::time::Duration;

use common::*;
use portcullis_store::Backend;
use portcullis_store::testing::TestDb;

fn serve(home: &Path, database_url: Option<&str>) -> (Serve, String) {
    let mut store = Vec::new();
    if let Some(url) = database_url {
        store.extend(["--database-url", url]);
    }
    let mut args = vec!["token", "create", "--role", "admin", "--name", "soak"];
    args.extend(&store);
    let out = portcullis_with_home(&root(), home, &args);
    assert!(out.status.success(), "token create: {}", stderr(&out));
    let token = stdout(&out).trim().to_string();
    let mut args = vec![
        "--config",
        "examples/portcullis.yaml",
        "--kev",
        "examples/kev.json",
        "--trusted-keys",
        "examples/keys",
    ];
    args.extend(&store);
    (Serve::start(home, &args), token)
}

async fn soak(backend: &str, database_url: Option<&str>, seconds: u64) {
    let home = fresh_home();
    let (server, token) = serve(&home, database_url);
    let target = load::Target {
        base: server.url.clone(),
        token,
        pid: server.child.id(),
        repo: root(),
    };
    let mut opts = load::Options::new(load::Mix::new([10, 5, 4, 1]).unwrap());
    opts.warmup = Duration::from_secs(5);
    opts.calibrate = Duration::from_secs(10);
    opts.fraction = 0.5;
    // No more connections than the closed loop opened before the baseline: a queue forming on
    // a busy CI machine would otherwise open more (seen: +4 sockets), which is not a leak.
    opts.in_flight = opts.workers;
    opts.duration = Duration::from_secs(seconds);
    opts.interval = Duration::from_secs(5);
    opts.warmup_share = 1.0 / 3.0;
    // A leak, not a drift: a minute cannot tell a few percent from the allocator settling.
    opts.max_rss_drift_pct = 50.0;
    opts.label = format!("{backend}, CI");
    let summary = load::run(target, opts).await.expect("the soak runs");
    let text = load::report(&summary);
    eprintln!("{text}");
    assert!(summary.requests > 0, "{text}");
    assert!(summary.decisions_acked > 0, "{text}");
    assert!(
        summary.requests_by_kind.values().all(|&n| n > 0),
        "every kind was sent: {text}"
    );
    assert!(summary.chain_intact, "{text}");
    assert!(summary.verdict.is_empty(), "{text}");
    drop(server);
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_of_mixed_load_on_sqlite_loses_nothing_and_leaks_no_descriptors() {
    soak("sqlite", None, 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_load_on_postgresql_loses_nothing_and_leaks_no_descriptors() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    soak("postgres", Some(&db.url), 45).await;
    db.cleanup().await;
}
