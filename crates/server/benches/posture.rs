//! Re-judging load: 10,000 running artifacts across 20 environments, then an advisory that
//! affects 500 of them. Reports the time until every posture is updated (each of the 500 in
//! violation with PCL-VULN-001, none of the others changed), and the server's latency for new
//! decisions (`POST /v1/decisions` over loopback, one client at a time) while idle and while
//! the re-judging runs, side by side.
//!
//! `cargo bench -p portcullis-server --bench posture` (SQLite in a temporary directory; with
//! `PORTCULLIS_TEST_POSTGRES_URL` set, PostgreSQL too). `PORTCULLIS_BENCH_ARTIFACTS`,
//! `PORTCULLIS_BENCH_AFFECTED` and `PORTCULLIS_BENCH_ENVIRONMENTS` change the sizes (defaults
//! 10000, 500, 20). docs/benchmarks.md has the figures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use portcullis_firewall::access::{Actor, Role};
use portcullis_firewall::decision::ArtifactId;
use portcullis_firewall::posture::State;
use portcullis_firewall::record::Documents;
use portcullis_firewall::request::{DecisionRequest, EvidenceDoc};
use portcullis_firewall::service::Ask;
use portcullis_firewall::{Config, Firewall};
use portcullis_policy::PolicyBundle;
use portcullis_server::{AppState, ServerSettings};
use portcullis_store::{Backend, Store, StoreConfig};
use serde_json::{Value, json};

fn env_size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sbom(name: &str, log4j: bool, i: usize) -> Vec<u8> {
    let mut components = vec![json!({"type": "library", "name": "serde",
        "version": "1.0.200", "purl": "pkg:cargo/serde@1.0.200"})];
    if log4j {
        components.push(
            json!({"type": "library", "group": "org.apache.logging.log4j",
            "name": "log4j-core", "version": "2.14.1",
            "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}),
        );
    }
    serde_json::to_vec(&json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "metadata": {"component": {"type": "application", "name": name, "version": format!("1.0.{i}")}},
        "components": components}))
    .unwrap()
}

fn digest(i: usize, salt: u8) -> String {
    format!("sha256:{:02x}{:062x}", salt, i)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Figures {
    backend: &'static str,
    seeded: Duration,
    updated: Duration,
    idle: Vec<Duration>,
    during: Vec<Duration>,
}

async fn one_decision(client: &reqwest::Client, base: &str, token: &str, i: usize) -> Duration {
    let body = json!({"artifact": format!("bench/new-{i}@{}", digest(i, 0xee)),
        "environment": "env-00",
        "evidence": [{"name": "new.cdx.json", "content": serde_json::from_slice::<Value>(&sbom("new", false, i)).unwrap()}]});
    let t = Instant::now();
    let r = client
        .post(format!("{base}/v1/decisions"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let _ = r.bytes().await.unwrap();
    t.elapsed()
}

async fn run(backend: &'static str, config: StoreConfig) -> Figures {
    let artifacts = env_size("PORTCULLIS_BENCH_ARTIFACTS", 10_000);
    let affected = env_size("PORTCULLIS_BENCH_AFFECTED", 500);
    let envs = env_size("PORTCULLIS_BENCH_ENVIRONMENTS", 20);
    let store = Store::open(&config).await.unwrap();
    let mut yaml = String::from("environments:\n");
    for e in 0..envs {
        yaml.push_str(&format!("  env-{e:02}: {{protected: false}}\n"));
    }
    let config_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config_file.path(), &yaml).unwrap();
    let fw = Firewall::new(
        PolicyBundle::load(&[]).unwrap(),
        Config::load(config_file.path()).unwrap(),
    )
    .unwrap();
    let (secret, _) = portcullis_server::auth::create_token(&store, "bench", Role::Ci, "bench")
        .await
        .unwrap();
    let state = AppState::new(
        store.clone(),
        fw,
        Documents::default(),
        ServerSettings::default(),
        portcullis_evidence::Limits::default(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(portcullis_server::serve(
        state.clone(),
        listener,
        None,
        async move {
            let _ = rx.await;
        },
    ));

    // Seed: every artifact decided (allowed) and deployed; affected ones spread evenly.
    let seeding = Instant::now();
    let actor = Actor::new("bench", Role::Admin);
    let every = (artifacts / affected.max(1)).max(1);
    let limits = portcullis_evidence::Limits::default();
    let mut affected_keys = Vec::new();
    let service = state.service.clone();
    let mut tasks = tokio::task::JoinSet::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..4 {
        let (service, actor, next) = (service.clone(), actor.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= artifacts {
                    break;
                }
                let log4j = i % every == 0 && i / every < affected;
                let env = format!("env-{:02}", i % envs);
                let name = format!("bench/svc-{i}");
                let bytes = sbom(&name, log4j, i);
                let doc = EvidenceDoc::parse("sbom.cdx.json", &bytes, &limits).unwrap();
                let mut documents = Documents::default();
                documents.add("evidence", bytes);
                let artifact = ArtifactId {
                    name: name.clone(),
                    digest: digest(i, 0x01),
                };
                let mut request = DecisionRequest::new(artifact.clone(), &env);
                request.evidence.push(doc);
                let d = service
                    .decide(Ask {
                        request,
                        documents,
                        actor: actor.clone(),
                        override_reason: None,
                        image: None,
                    })
                    .await
                    .unwrap();
                assert!(d.decision.allowed(), "{:?}", d.decision.violations);
                service
                    .record_deployment(&artifact, &env, &actor)
                    .await
                    .unwrap();
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    for i in 0..artifacts {
        if i % every == 0 && i / every < affected {
            affected_keys.push((format!("env-{:02}", i % envs), format!("bench/svc-{i}")));
        }
    }
    // Every deployment's event reaches the queue, and every posture is settled.
    let waiting = Instant::now();
    loop {
        state.rejudge.settled(Duration::from_secs(600)).await;
        let counts = portcullis_firewall::posture::counts(&store).await.unwrap();
        let compliant: i64 = counts.values().map(|c| c.compliant).sum();
        if compliant as usize == artifacts {
            break;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(600),
            "the initial postures did not settle: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seeded = seeding.elapsed();
    eprintln!(
        "{backend}: seeded {artifacts} running artifacts in {envs} environments in {seeded:?}"
    );

    // Idle latency of new decisions.
    let client = reqwest::Client::new();
    let samples = env_size("PORTCULLIS_BENCH_SAMPLES", 200);
    for i in 0..20 {
        one_decision(&client, &base, &secret, 1_000_000 + i).await;
    }
    let mut idle = Vec::new();
    for i in 0..samples {
        idle.push(one_decision(&client, &base, &secret, i).await);
    }

    // The advisory, with new decisions going on all along.
    let osv = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/evidence/log4shell.osv.json"),
    )
    .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let load = {
        let (client, base, secret, done) =
            (client.clone(), base.clone(), secret.clone(), done.clone());
        tokio::spawn(async move {
            let mut during = Vec::new();
            let mut i = 2_000_000;
            while !done.load(Ordering::SeqCst) {
                during.push(one_decision(&client, &base, &secret, i).await);
                i += 1;
            }
            during
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let doc = portcullis_firewall::registry::AdvisoryDoc::osv("log4shell.osv.json", osv, &limits)
        .unwrap();
    state
        .service
        .add_advisories(vec![doc], &actor)
        .await
        .unwrap();
    let updated = loop {
        let mut all = true;
        for (env, name) in &affected_keys {
            let p = store.posture_of(env, name).await.unwrap();
            if p.map(|p| p.state) != Some(State::Violation.as_str().to_string()) {
                all = false;
                break;
            }
        }
        if all {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "not updated within 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    done.store(true, Ordering::SeqCst);
    let during = load.await.unwrap();
    let counts = portcullis_firewall::posture::counts(&store).await.unwrap();
    let violation: i64 = counts.values().map(|c| c.violation).sum();
    assert_eq!(violation as usize, affected_keys.len(), "{counts:?}");
    let _ = stop.send(());
    let _ = server.await;
    Figures {
        backend,
        seeded,
        updated,
        idle,
        during,
    }
}

fn report(f: &mut Figures) {
    f.idle.sort();
    f.during.sort();
    let (ip50, ip99) = (percentile(&f.idle, 0.5), percentile(&f.idle, 0.99));
    let (dp50, dp99) = (percentile(&f.during, 0.5), percentile(&f.during, 0.99));
    println!(
        "{:<10} | seeded in {:>6.1} s | all postures updated in {:>6.2} s | new decisions idle p50 {:>6.1} ms p99 {:>6.1} ms (n={}) | during p50 {:>6.1} ms p99 {:>6.1} ms (n={}) | p99 ratio {:.2}",
        f.backend,
        f.seeded.as_secs_f64(),
        f.updated.as_secs_f64(),
        ip50.as_secs_f64() * 1e3,
        ip99.as_secs_f64() * 1e3,
        f.idle.len(),
        dp50.as_secs_f64() * 1e3,
        dp99.as_secs_f64() * 1e3,
        f.during.len(),
        dp99.as_secs_f64() / ip99.as_secs_f64().max(1e-9),
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not run it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = StoreConfig::in_home(dir.path());
        let mut f = run("SQLite", sqlite).await;
        report(&mut f);
        if let Some(db) = portcullis_store::testing::TestDb::new(Backend::Postgres).await {
            let mut f = run("PostgreSQL", db.config()).await;
            report(&mut f);
            db.cleanup().await;
        } else {
            println!("PostgreSQL: skipped (set PORTCULLIS_TEST_POSTGRES_URL)");
        }
    });
}
