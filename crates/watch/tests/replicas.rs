//! Replicas of one database share the watches: two runners (each with its own decision service
//! and store handle, as two server processes) watch the same deployment; every interval is
//! claimed and checked once, the end is recorded once, and the one that records it is the only
//! one told. Then a runner stops half-way and a fresh one (a restart) finishes the watch from
//! what the store says. On SQLite (two handles on one file) and PostgreSQL
//! (`PORTCULLIS_TEST_POSTGRES_URL`; skipped with a message outside CI when unset).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_firewall::watch::{Status, WatchState, watch_id};
use portcullis_firewall::{
    Actor, ArtifactId, ConfigSource, DecisionService, Role, Setup, admission::AdmissionConfig,
};
use portcullis_store::testing::TestDb;
use portcullis_store::{Backend, Store};
use portcullis_watch::{Ended, Runner, WatchSetting, Watches};

async fn service(db: &TestDb, home: &str) -> Arc<DecisionService> {
    let store = Store::open(&db.config_in(home)).await.unwrap();
    let loaded = Setup {
        config: ConfigSource::Defaults,
        ..Default::default()
    }
    .load()
    .unwrap();
    Arc::new(
        DecisionService::open(store, loaded, AdmissionConfig::default())
            .await
            .unwrap(),
    )
}

fn watches(dir: &std::path::Path, port: u16) -> Watches {
    std::fs::write(
        dir.join("expect.yaml"),
        format!(
            "apiVersion: portcullis.dev/probe/v1\ntargets:\n  - name: shop\n    address: 127.0.0.1\n    tcp: {{scan: [{port}], allowed: [{port}]}}\n"
        ),
    )
    .unwrap();
    #[derive(serde::Deserialize)]
    struct File {
        watch: Vec<WatchSetting>,
    }
    let f: File = yaml_serde::from_str(
        "watch:\n  - {environment: production, duration: 4s, interval: 1s, lag: 100ms, expectations: expect.yaml}\n",
    )
    .unwrap();
    Watches::load(&f.watch, &dir.join("server.yaml")).unwrap()
}

fn runner(
    service: Arc<DecisionService>,
    watches: Watches,
    name: &str,
    ended: Arc<Mutex<Vec<(String, Ended)>>>,
) -> tokio::task::JoinHandle<()> {
    let name2 = name.to_string();
    tokio::spawn(
        Runner::new(
            service,
            watches,
            name,
            Arc::new(move |e: &Ended| ended.lock().unwrap().push((name2.clone(), e.clone()))),
        )
        .run(),
    )
}

async fn wait_end(service: &DecisionService, id: &str) -> WatchState {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(w) = service.watches().get(id).await.unwrap()
            && w.status != Status::Running
        {
            return w;
        }
        assert!(Instant::now() < deadline, "{id} did not end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn once_each(w: &WatchState) {
    let claimed: Vec<u32> = w.claimed.iter().map(|c| c.interval).collect();
    let unique: BTreeSet<u32> = claimed.iter().copied().collect();
    assert_eq!(
        claimed.len(),
        unique.len(),
        "an interval claimed twice: {w:#?}"
    );
    let checked: Vec<u32> = w.checks.iter().map(|c| c.interval).collect();
    let unique_checked: BTreeSet<u32> = checked.iter().copied().collect();
    assert_eq!(checked.len(), unique_checked.len(), "{w:#?}");
    // A replica stopped between its claim and its record leaves a claim without a check.
    assert!(
        unique_checked.is_subset(&unique),
        "every check was claimed: {w:#?}"
    );
    assert!(unique_checked.contains(&4), "the last interval ran: {w:#?}");
}

async fn replicas_share_the_watches(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (service(&db, "one").await, service(&db, "two").await);
    let ended: Arc<Mutex<Vec<(String, Ended)>>> = Arc::default();
    let r1 = runner(
        one.clone(),
        watches(dir.path(), port),
        "replica-1",
        ended.clone(),
    );
    let r2 = runner(
        two.clone(),
        watches(dir.path(), port),
        "replica-2",
        ended.clone(),
    );
    let ci = Actor::new("ci", Role::Ci);
    let artifact = |c: char| ArtifactId {
        name: "shop".into(),
        digest: format!("sha256:{}", c.to_string().repeat(64)),
    };
    let (entry, _) = one
        .record_deployment(&artifact('a'), "production", &ci)
        .await
        .unwrap();
    let w = wait_end(&two, &watch_id(entry.seq)).await;
    assert_eq!(w.status, Status::Passed, "{w:#?}");
    once_each(&w);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ended.lock().unwrap().len(), 1, "told once");

    // A restart: replica 2 is gone, replica 1 stops half-way, a fresh one finishes.
    r2.abort();
    ended.lock().unwrap().clear();
    let (entry, _) = two
        .record_deployment(&artifact('b'), "production", &ci)
        .await
        .unwrap();
    let id = watch_id(entry.seq);
    tokio::time::sleep(Duration::from_millis(2300)).await;
    r1.abort();
    let half = one.watches().get(&id).await.unwrap().unwrap();
    assert_eq!(half.status, Status::Running, "{half:#?}");
    assert!(!half.checks.is_empty(), "{half:#?}");
    let three = service(&db, "three").await;
    let r3 = runner(
        three.clone(),
        watches(dir.path(), port),
        "replica-3",
        ended.clone(),
    );
    let w = wait_end(&three, &id).await;
    assert_eq!(w.status, Status::Passed, "{w:#?}");
    once_each(&w);
    assert!(w.claimed.iter().any(|c| c.by == "replica-1"), "{w:#?}");
    assert!(w.claimed.iter().any(|c| c.by == "replica-3"), "{w:#?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let told = ended.lock().unwrap().clone();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].0, "replica-3");
    r3.abort();
    drop(listener);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_the_watches_on_sqlite() {
    replicas_share_the_watches(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_the_watches_on_postgres() {
    replicas_share_the_watches(Backend::Postgres).await;
}
