//! Policy evaluations run one per core, however many decisions arrive at once: a burst waits
//! for a free evaluation instead of starting a thread of tokio's blocking pool per request
//! (which the soak test saw keep the server's memory up after every stall).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use portcullis_firewall::admission::AdmissionConfig;
use portcullis_firewall::service::{Ask, evaluation_slots};
use portcullis_firewall::setup::Setup;
use portcullis_firewall::*;
use portcullis_store::testing::TestDb;
use portcullis_store::{Backend, Store};

/// Decisions asked at once: far more than the cores of any machine this runs on.
const BURST: usize = 48;

fn threads() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_decisions_runs_one_evaluation_per_core_without_a_thread_each() {
    let Some(db) = TestDb::new(Backend::Sqlite).await else {
        return;
    };
    let store = Store::open(&db.config()).await.unwrap();
    let loaded = Setup::default().load().unwrap();
    let service = Arc::new(
        DecisionService::open(store, loaded, AdmissionConfig::default())
            .await
            .unwrap(),
    );
    let ask = |n: usize| Ask {
        request: DecisionRequest::new(
            ArtifactId {
                name: format!("registry.example.com/shop/app-{n}"),
                digest: format!("sha256:{:064x}", n + 1),
            },
            "dev",
        ),
        documents: Default::default(),
        actor: Actor::new("token:tok_ci", Role::Ci),
        override_reason: None,
        image: None,
    };
    // One decision first: the store's connections, the runtime's threads and the policy
    // engine are warm, so what the burst adds is the evaluations' threads.
    service.decide(ask(0)).await.unwrap();
    let before = threads();
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(threads(), Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    };
    let burst: Vec<_> = (1..=BURST)
        .map(|n| {
            let service = service.clone();
            tokio::spawn(async move { service.decide(ask(n)).await.map(|d| d.decision.id) })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for task in burst {
        ids.insert(task.await.unwrap().unwrap());
    }
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    // Every decision of the burst was made and recorded.
    assert_eq!(ids.len(), BURST);
    // The watcher is one thread; the store may open its remaining connections (each a
    // thread; 4 at most); the evaluations add at most one thread per core.
    let added = peak.load(Ordering::Relaxed) - before;
    let allowed = 1 + 4 + evaluation_slots() as u64;
    assert!(
        added <= allowed,
        "a burst of {BURST} decisions added {added} threads (allowed {allowed}: one evaluation \
         per core)"
    );
    db.cleanup().await;
}
