//! The hours after a deployment, end to end against real parts: two small HTTP services on
//! 127.0.0.1 count their requests and errors on `/metrics`; a `prometheus` of the test's own
//! scrapes them every second; the test sends them traffic, records a deployment of each, and
//! runs the watch (interval 3 s, duration 15 s) on a real store. After its deployment one service
//! answers five times as many requests with an error and opens a port its expectations do not
//! allow: its watch fails within two intervals, naming the metric and the port, records the
//! failed results as facts of its digest and calls the rollback webhook. The other, unchanged,
//! passes the whole window.
//!
//! Without `prometheus` (Debian package `prometheus`) the test skips with a message; under CI
//! (`CI=true`) that is a failure. `scripts/test` installs the package under CI.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_firewall::watch::{Status, Verdict, WatchState};
use portcullis_firewall::{
    Actor, ArtifactId, ConfigSource, DecisionService, Role, Setup, admission::AdmissionConfig,
};
use portcullis_store::{Store, StoreConfig};
use portcullis_watch::{Ended, Runner, WatchSetting, Watches};

fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Kills the Prometheus process when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A service: every request to `/` is counted; one in `fail_every` answers 500.
#[derive(Default)]
struct Service {
    requests: AtomicU64,
    failed: AtomicU64,
    regressed: AtomicBool,
}

impl Service {
    fn fail_every(&self) -> u64 {
        if self.regressed.load(Ordering::SeqCst) {
            2
        } else {
            10
        }
    }
}

async fn serve_app(service: Arc<Service>) -> SocketAddr {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/",
            get({
                let s = service.clone();
                move || async move {
                    let n = s.requests.fetch_add(1, Ordering::SeqCst) + 1;
                    if n.is_multiple_of(s.fail_every()) {
                        s.failed.fetch_add(1, Ordering::SeqCst);
                        (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "failed")
                    } else {
                        (axum::http::StatusCode::OK, "ok")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get({
                let s = service.clone();
                move || async move {
                    format!(
                        "# TYPE app_requests_total counter\napp_requests_total {}\n# TYPE app_requests_failed_total counter\napp_requests_failed_total {}\n",
                        s.requests.load(Ordering::SeqCst),
                        s.failed.load(Ordering::SeqCst)
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

/// The rollback webhook: keeps what it receives.
async fn rollback_receiver(got: Arc<Mutex<Vec<serde_json::Value>>>) -> SocketAddr {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/rollback",
        post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let got = got.clone();
            async move {
                got.lock().unwrap().push(body);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

/// About 50 requests a second to each address until `stop` (or two minutes).
fn traffic(addrs: Vec<SocketAddr>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .http_status_as_error(false)
            .build()
            .into();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
            for a in &addrs {
                let _ = agent.get(&format!("http://{a}/")).call();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

fn prometheus_query(url: &str, query: &str) -> serde_json::Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .get(&format!("{url}/api/v1/query"))
        .query("query", query)
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_json().ok())
        .unwrap_or_default()
}

fn start_prometheus(dir: &Path, bin: &Path, targets: [(SocketAddr, &str); 2]) -> (Server, String) {
    let mut cfg = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: shops\n    static_configs:\n",
    );
    for (addr, svc) in targets {
        cfg.push_str(&format!(
            "      - targets: ['{addr}']\n        labels: {{svc: {svc}}}\n"
        ));
    }
    std::fs::write(dir.join("prometheus.yml"), cfg).unwrap();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(bin)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let url = format!("http://127.0.0.1:{port}");
    // Ready, and both targets scraped.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            panic!("prometheus exited ({status}):\n{log}");
        }
        let up = prometheus_query(&url, "sum(up)");
        if up["data"]["result"][0]["value"][1].as_str() == Some("2") {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            panic!("prometheus at {url} did not scrape both services within 60 s:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    (server, url)
}

fn files(dir: &Path, prometheus: &str, svc: &str, port: u16, extra: u16) {
    std::fs::write(
        dir.join(format!("expect-{svc}.yaml")),
        format!(
            "apiVersion: portcullis.dev/probe/v1\ntargets:\n  - name: shop-{svc}\n    address: 192.0.2.1\n    tcp: {{scan: [{port}, {extra}], allowed: [{port}]}}\n"
        ),
    )
    .unwrap();
    // One scope for both sides: the watch moves the baseline's window before the deployment.
    std::fs::write(
        dir.join(format!("analysis-{svc}.yaml")),
        format!(
            r#"apiVersion: portcullis.dev/v1
kind: CanaryAnalysis
thresholds: {{pass: 90, marginal: 50}}
provider:
  prometheus:
    url: {prometheus}
    baselineScope: 'svc="{svc}"'
    canaryScope: 'svc="{svc}"'
groups:
  - name: errors
    metrics:
      - name: error_rate
        query: 'sum(irate(app_requests_failed_total{{${{scope}}}}[3s])) / sum(irate(app_requests_total{{${{scope}}}}[3s]))'
        direction: increase
        critical: true
        maxRelativeChange: 1.0
        effectSize: {{allowedIncrease: 1.5}}
"#
        ),
    )
    .unwrap();
}

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_regressed_deployment_fails_its_watch_and_an_unchanged_one_passes() {
    let Some(prometheus) = find("prometheus") else {
        portcullis_testkit::skip_or_fail!(
            "after_deploy",
            "prometheus is not installed (Debian: apt-get install prometheus)"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Arc::new(Service::default()), Arc::new(Service::default()));
    let (addr_a, addr_b) = (serve_app(a.clone()).await, serve_app(b.clone()).await);
    let stop = Arc::new(AtomicBool::new(false));
    let load = traffic(vec![addr_a, addr_b], stop.clone());
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let (server, url) = tokio::task::spawn_blocking({
        let prom_dir = prom_dir.clone();
        move || start_prometheus(&prom_dir, &prometheus, [(addr_a, "a"), (addr_b, "b")])
    })
    .await
    .unwrap();

    let (extra_a, extra_b) = (free_port(), free_port());
    files(dir.path(), &url, "a", addr_a.port(), extra_a);
    files(dir.path(), &url, "b", addr_b.port(), extra_b);
    let got = Arc::new(Mutex::new(Vec::new()));
    let hook = rollback_receiver(got.clone()).await;
    let settings = format!(
        r#"
watch:
  - environment: production
    service: shop-a
    duration: 15s
    interval: 3s
    target: 127.0.0.1
    expectations: expect-a.yaml
    analysis: analysis-a.yaml
  - environment: production
    service: shop-b
    duration: 15s
    interval: 3s
    target: '127.0.0.1:{port}'
    expectations: expect-b.yaml
    analysis: analysis-b.yaml
    rollback: {{url: 'http://{hook}/rollback', attempts: 2}}
"#,
        port = addr_b.port()
    );
    #[derive(serde::Deserialize)]
    struct File {
        watch: Vec<WatchSetting>,
    }
    let parsed: File = yaml_serde::from_str(&settings).unwrap();
    let watches = Watches::load(&parsed.watch, &dir.path().join("server.yaml")).unwrap();

    let store = Store::open(&StoreConfig::in_home(&dir.path().join("home")))
        .await
        .unwrap();
    let loaded = Setup {
        config: ConfigSource::Defaults,
        ..Default::default()
    }
    .load()
    .unwrap();
    let service = Arc::new(
        DecisionService::open(store.clone(), loaded, AdmissionConfig::default())
            .await
            .unwrap(),
    );
    let ci = Actor::new("ci", Role::Ci);
    let artifact = |name: &str, c: char| ArtifactId {
        name: name.into(),
        digest: digest(c),
    };
    // The versions before, running (and scraped) for longer than one window.
    for (name, c) in [("shop-a", '1'), ("shop-b", '2')] {
        service
            .record_deployment(&artifact(name, c), "production", &ci)
            .await
            .unwrap();
    }
    let ended: Arc<Mutex<Vec<Ended>>> = Arc::default();
    let runner = Runner::new(
        service.clone(),
        watches,
        "watch@test",
        Arc::new({
            let ended = ended.clone();
            move |e: &Ended| ended.lock().unwrap().push(e.clone())
        }),
    );
    tokio::time::sleep(Duration::from_secs(16)).await;
    // Started now, it leaves the versions before alone: their windows are over.
    let task = tokio::spawn(runner.run());

    // The deployment: b regresses and opens a port its expectations do not allow.
    b.regressed.store(true, Ordering::SeqCst);
    let undeclared = TcpListener::bind(("127.0.0.1", extra_b)).unwrap();
    let (entry_a, _) = service
        .record_deployment(&artifact("shop-a", 'a'), "production", &ci)
        .await
        .unwrap();
    let (entry_b, _) = service
        .record_deployment(&artifact("shop-b", 'b'), "production", &ci)
        .await
        .unwrap();
    let deployed = Instant::now();
    let id = |seq: u64| portcullis_firewall::watch::watch_id(seq);
    let get = |wid: String| {
        let service = service.clone();
        async move { service.watches().get(&wid).await.unwrap() }
    };

    // b fails within two intervals (3 s each, plus the lag and the checks' time).
    let failed: WatchState = loop {
        if let Some(w) = get(id(entry_b.seq)).await
            && w.status != Status::Running
        {
            break w;
        }
        assert!(
            deployed.elapsed() < Duration::from_secs(12),
            "b's watch did not end within two intervals: {:#?}",
            get(id(entry_b.seq)).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed.status, Status::Failed, "{failed:#?}");
    assert_eq!(failed.plan.previous.as_ref().unwrap().digest, digest('2'));
    let check = failed.checks.iter().find(|c| c.failed()).unwrap();
    assert!(check.interval <= 2, "{failed:#?}");
    let exposure = check.results.iter().find(|r| r.kind == "exposure").unwrap();
    assert_eq!(exposure.verdict, Verdict::Fail);
    assert_eq!(exposure.ports, vec![extra_b], "{exposure:#?}");
    let canary = check.results.iter().find(|r| r.kind == "canary").unwrap();
    assert_eq!(canary.verdict, Verdict::Fail, "{canary:#?}");
    assert_eq!(
        canary.metrics,
        vec!["error_rate".to_string()],
        "{canary:#?}"
    );
    // The reports themselves are kept, as evidence of the artifact.
    for r in &check.results {
        let d = r.evidence.as_ref().unwrap();
        assert!(store.has_blob(d).await.unwrap(), "{r:#?}");
    }
    let reason = failed.reason.clone().unwrap();
    assert!(reason.contains("error_rate"), "{reason}");
    assert!(reason.contains(&extra_b.to_string()), "{reason}");

    // Recorded as facts of the running digest: what later decisions read.
    let facts = store
        .recorded_facts(&digest('b'), "production")
        .await
        .unwrap();
    assert!(
        facts
            .iter()
            .any(|f| f.kind == "verification" && f.body.contains("\"fail\"")),
        "{facts:#?}"
    );
    assert!(
        facts
            .iter()
            .any(|f| f.kind == "exposure" && f.body.contains("\"deviation\":true")),
        "{facts:#?}"
    );

    // The rollback webhook was asked, with what to go back to.
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = got.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["environment"], "production");
    assert_eq!(calls[0]["artifact"], "shop-b");
    assert_eq!(calls[0]["digest"], digest('b'));
    assert_eq!(calls[0]["previous_digest"], digest('2'));
    let failed_checks = calls[0]["failed_checks"].to_string();
    assert!(failed_checks.contains("error_rate"), "{failed_checks}");
    assert!(
        failed_checks.contains(&extra_b.to_string()),
        "{failed_checks}"
    );

    // a passes the whole window (15 s, five intervals).
    let passed: WatchState = loop {
        if let Some(w) = get(id(entry_a.seq)).await
            && w.status != Status::Running
        {
            break w;
        }
        assert!(
            deployed.elapsed() < Duration::from_secs(30),
            "a's watch did not end with its window: {:#?}",
            get(id(entry_a.seq)).await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(passed.status, Status::Passed, "{passed:#?}");
    assert_eq!(passed.checks.len(), 5, "{passed:#?}");
    assert!(
        passed
            .checks
            .iter()
            .all(|c| c.results.iter().all(|r| r.verdict == Verdict::Pass)),
        "{passed:#?}"
    );
    assert!(deployed.elapsed() >= Duration::from_secs(15));

    // Each watch ended once, here; only the failed one asked for a rollback.
    let ended = ended.lock().unwrap().clone();
    assert_eq!(ended.len(), 2);
    assert!(
        ended
            .iter()
            .any(|e| e.status == Status::Failed && e.rollback.as_ref().is_some_and(|r| r.is_ok()))
    );
    assert!(
        ended
            .iter()
            .any(|e| e.status == Status::Passed && e.rollback.is_none())
    );

    task.abort();
    stop.store(true, Ordering::SeqCst);
    load.join().unwrap();
    drop(undeclared);
    drop(server);
}
