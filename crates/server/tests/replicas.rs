//! Two replicas on one PostgreSQL database: a block rule added through replica A is in force
//! on replica B (LISTEN/NOTIFY), and withdrawn the same way. Each replica has its own store
//! (pool, listener and checkpoint key), as separate processes would.
//!
//! `PORTCULLIS_REPLICA_TRIALS=50` runs 50 trials and prints p50/p99 of the time from A's
//! answer to B's first deny (scripts/bench-server does; docs/benchmarks.md has the figures).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::{Value, json};

fn log4j_sbom() -> Value {
    json!({"name": "log4j.cdx.json", "content": {
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "metadata": {"component": {"type": "application", "name": "checkout-api", "version": "2.4.0"}},
        "components": [{"type": "library", "group": "org.apache.logging.log4j", "name": "log4j-core",
                        "version": "2.14.1", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}]}})
}

/// Whether B's decision on the log4j artifact names the block rule `id`.
async fn blocked_on(s: &TestServer, id: &str) -> bool {
    let (status, r) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "dev", "evidence": [log4j_sbom()]}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    r["decision"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["rule"] == "PCL-VULN-001" && v["key"].as_str().unwrap_or("").contains(id))
}

async fn wait_until(s: &TestServer, id: &str, want: bool, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if blocked_on(s, id).await == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "replica B did not see {id} {} within {limit:?}",
            if want { "added" } else { "withdrawn" }
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_rule_added_on_one_replica_is_in_force_on_the_other() {
    let Some(db) = database(Backend::Postgres).await else {
        return;
    };
    let a = TestServer::start(db.config_in("a"), Options::default()).await;
    let b = TestServer::start(db.config_in("b"), Options::default()).await;
    let trials: usize = std::env::var("PORTCULLIS_REPLICA_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut seen = Vec::new();
    for i in 0..trials {
        let id = format!("BLOCK-LOG4SHELL-{i}");
        assert!(!blocked_on(&b, &id).await);
        let (status, r) = a
            .post(
                Role::Admin,
                "/v1/advisories",
                &json!({"block_rule": {"id": id, "purl": "pkg:maven/org.apache.logging.log4j/log4j-core",
                                       "vers": "vers:maven/>=2.0.0|<2.15.0", "reason": "Log4Shell"}}),
            )
            .await;
        assert_eq!(status, 201, "{r}");
        seen.push(wait_until(&b, &id, true, Duration::from_secs(10)).await);
        let (status, _) = a
            .post(
                Role::Admin,
                &format!("/v1/advisories/{id}/withdraw"),
                &json!({"reason": "trial over"}),
            )
            .await;
        assert_eq!(status, 200);
        wait_until(&b, &id, false, Duration::from_secs(10)).await;
    }
    seen.sort();
    let pct = |p: f64| seen[((seen.len() as f64 * p).ceil() as usize).clamp(1, seen.len()) - 1];
    eprintln!(
        "replica B denied after A's answer: {} trials, p50 {:?}, p99 {:?}, max {:?}",
        seen.len(),
        pct(0.50),
        pct(0.99),
        seen.last().unwrap()
    );
    // A lost LISTEN connection: whatever was notified meanwhile is lost, so the replica
    // reloads everything once it is back.
    let reloads = |s: &TestServer| {
        let (c, url) = (s.client.clone(), format!("{}/metrics", s.base));
        async move {
            let text = c.get(url).send().await.unwrap().text().await.unwrap();
            text.lines()
                .find(|l| l.starts_with("portcullis_state_reloads_total "))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        }
    };
    let before = reloads(&b).await;
    let killed = a
        .store
        .execute_raw(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .await
        .unwrap();
    assert!(killed >= 1, "the listeners' connections were found");
    let start = Instant::now();
    while reloads(&b).await <= before {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no reload after the listener was cut"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And it still follows changes.
    let (status, _) = a
        .post(
            Role::Admin,
            "/v1/advisories",
            &json!({"block_rule": {"id": "BLOCK-AFTER-RECONNECT", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core",
                                   "vers": "vers:maven/<2.15.0", "reason": "Log4Shell"}}),
        )
        .await;
    assert_eq!(status, 201);
    wait_until(&b, "BLOCK-AFTER-RECONNECT", true, Duration::from_secs(10)).await;

    // Both replicas wrote to one chain, and it verifies.
    let (_, v) = b.get(Role::Viewer, "/v1/audit/verify").await;
    assert_eq!(v["intact"], true, "{v}");
    a.stop().await;
    b.stop().await;
    db.cleanup().await;
}

/// On SQLite, another process on the same file (the CLI's `portcullis advisory add`, here a
/// second store) does not notify: the server polls the chain and is current within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_another_process_change_is_picked_up() {
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(db.config(), Options::default()).await;
    assert!(!blocked_on(&s, "BLOCK-CLI").await);
    let cli = portcullis_store::Store::open(&db.config_in("cli"))
        .await
        .unwrap();
    let doc = portcullis_firewall::registry::AdvisoryDoc::block_rule(
        Some("BLOCK-CLI"),
        "pkg:maven/org.apache.logging.log4j/log4j-core",
        "vers:maven/<2.15.0",
        "Log4Shell",
    )
    .unwrap();
    portcullis_firewall::registry::add_advisories(&cli, vec![doc], "cli")
        .await
        .unwrap();
    wait_until(&s, "BLOCK-CLI", true, Duration::from_secs(10)).await;
    s.stop().await;
}
