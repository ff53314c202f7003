//! Log analysis on the logs of real services under load: a real nginx (its own configuration
//! in a temporary directory, `tests/services/nginx.conf`) in front of a real Python service
//! (`tests/services/shop.py`: http.server and the `logging` module), both on 127.0.0.1, driven
//! by a bounded loop of HTTP requests from this test.
//!
//! - A baseline run and a healthy canary run (the same service, another process) pass with no
//!   unexpected cluster.
//! - A faulty canary (about 10% of order requests raise one of two exceptions, each its own
//!   code path and traceback, one of them chained) fails with exactly one unexpected cluster
//!   per distinct traceback, at error level, whose canary count is the number of requests that
//!   raised it, as this test counted them from the responses.
//! - The same logs compressed with gzip (some named `.gz`, some not) give the same result.
//!
//! Without nginx, python3 or gzip the test skips with a message; under CI (`CI=true`) that is
//! a failure (`scripts/test` installs Debian's nginx-light).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portcullis_verify::analysis::{self, Subject};
use portcullis_verify::config::AnalysisConfig;
use portcullis_verify::judge::Verdict;
use portcullis_verify::logs::{ClusterClass, Level, LogCluster};
use portcullis_verify::report::Report;

const TEST: &str = "real_services";
/// Requests per run.
const REQUESTS: usize = 400;
/// The share of order requests the faulty canary fails.
const FAULTS: f64 = 0.12;

fn find(tool: &str, also: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(also.iter().map(PathBuf::from))
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn services_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/services")
}

/// A child process killed (and reaped) when the test ends, however it ends.
struct Proc {
    child: Child,
    name: &'static str,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn check_alive(&mut self, log: &Path) {
        if let Some(status) = self.child.try_wait().unwrap() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{} exited ({status}):\n{text}", self.name);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A deterministic pseudo-random source (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Tools {
    nginx: PathBuf,
    python: PathBuf,
    gzip: PathBuf,
}

/// One run: the Python service and nginx in front of it, their logs in `dir`.
struct Run {
    dir: PathBuf,
    /// Requests answered 500 by the service, by the exception class it named.
    failures: BTreeMap<String, u64>,
    /// Requests sent.
    sent: usize,
}

impl Run {
    fn logs(&self) -> Vec<PathBuf> {
        ["nginx-access.log", "nginx-error.log", "shop.log"]
            .iter()
            .map(|f| self.dir.join(f))
            .collect()
    }
}

fn start_python(tools: &Tools, dir: &Path, faults: f64, seed: u64) -> (Proc, u16) {
    let log = dir.join("shop.log");
    let stderr = std::fs::File::create(dir.join("shop.stderr")).unwrap();
    let mut child = Command::new(&tools.python)
        .arg("-u")
        .arg(services_dir().join("shop.py"))
        .args(["--port", "0", "--seed", &seed.to_string()])
        .arg("--faults")
        .arg(faults.to_string())
        .arg("--log")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let proc = Proc {
        child,
        name: "python shop.py",
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(15)).unwrap_or_default();
    let Ok(port) = line.trim().parse::<u16>() else {
        let err = std::fs::read_to_string(dir.join("shop.stderr")).unwrap_or_default();
        panic!("shop.py did not print its port (got {line:?}):\n{err}");
    };
    (proc, port)
}

fn start_nginx(tools: &Tools, dir: &Path, www: &Path, upstream: u16) -> (Proc, u16) {
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let template = std::fs::read_to_string(services_dir().join("nginx.conf")).unwrap();
    let error_log = dir.join("nginx-error.log");
    for _attempt in 0..3 {
        let port = free_port();
        let conf = template
            .replace("@RUN@", &dir.display().to_string())
            .replace("@WWW@", &www.display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@UPSTREAM@", &upstream.to_string());
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(&tools.nginx)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(&error_log)
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut proc = Proc {
            child,
            name: "nginx",
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = proc.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&error_log).unwrap_or_default();
                if log.contains("Address already in use") {
                    break;
                }
                panic!("nginx exited ({status}):\n{log}");
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (proc, port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let log = std::fs::read_to_string(&error_log).unwrap_or_default();
    panic!("nginx did not listen:\n{log}");
}

/// Start the pair, send `REQUESTS` requests through nginx, count the failures, stop the pair.
fn run(tools: &Tools, root: &Path, name: &str, faults: f64, seed: u64) -> Run {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let (mut python, upstream) = start_python(tools, &dir, faults, seed);
    let (mut nginx, port) = start_nginx(tools, &dir, &root.join("www"), upstream);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for _ in 0..REQUESTS {
        let path = match rng.below(100) {
            0..=74 => format!("/orders/{}", 1 + rng.below(5000)),
            75..=86 => format!("/catalogue?page={}", 1 + rng.below(10)),
            87..=94 => "/health".to_string(),
            _ => "/favicon.ico".to_string(),
        };
        let url = format!("http://127.0.0.1:{port}{path}");
        let mut response = agent
            .get(&url)
            .call()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        *statuses.entry(status).or_default() += 1;
        if status == 500 {
            let v: serde_json::Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {body:?}: {e}"));
            let class = v["error"].as_str().unwrap_or_default().to_string();
            *failures.entry(class).or_default() += 1;
        }
    }
    // nginx writes its access line when the request ends: wait until all are there.
    let access = dir.join("nginx-access.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = std::fs::read_to_string(&access)
            .unwrap_or_default()
            .lines()
            .count();
        if lines == REQUESTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: nginx logged {lines} requests of {REQUESTS}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    python.check_alive(&dir.join("shop.stderr"));
    nginx.check_alive(&dir.join("nginx-error.log"));
    drop(nginx);
    drop(python);
    println!("{name}: {REQUESTS} requests, statuses {statuses:?}, failures {failures:?}");
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > (REQUESTS / 2) as u64,
        "{name}: {statuses:?}"
    );
    Run {
        dir,
        failures,
        sent: REQUESTS,
    }
}

fn analyse(dir: &Path, baseline: &[PathBuf], canary: &[PathBuf]) -> Report {
    let list = |files: &[PathBuf]| {
        let quoted: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
        format!("[{}]", quoted.join(", "))
    };
    let yaml = format!(
        "apiVersion: portcullis.dev/v1\nkind: CanaryAnalysis\nthresholds: {{pass: 95, marginal: 75}}\nlogs:\n  baseline: {}\n  canary: {}\n",
        list(baseline),
        list(canary)
    );
    let config = AnalysisConfig::parse(&dir.join("analysis.yaml"), &yaml).unwrap();
    analysis::run(&config, &Subject::default()).unwrap()
}

/// What the comparison of two analyses looks at: every cluster's template, level,
/// classification and counts, the score and the verdict.
type Outcome = (
    Verdict,
    String,
    Vec<(String, Level, ClusterClass, u64, u64)>,
);

fn outcome(r: &Report) -> Outcome {
    let logs = r.logs.as_ref().unwrap();
    let mut clusters: Vec<_> = logs
        .clusters
        .iter()
        .map(|c| {
            (
                c.template.clone(),
                c.level,
                c.classification,
                c.baseline_count,
                c.canary_count,
            )
        })
        .collect();
    clusters.sort_by(|a, b| a.0.cmp(&b.0));
    (r.verdict, format!("{:.6}", r.score), clusters)
}

fn show(clusters: &[LogCluster]) -> String {
    clusters
        .iter()
        .map(|c| {
            format!(
                "  [{:?} {:?}] b={} c={} {:?}\n    {:?}",
                c.classification,
                c.level,
                c.baseline_count,
                c.canary_count,
                c.template,
                c.canary_samples.first().or(c.baseline_samples.first())
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Copies of `files` compressed with the real gzip, every other one without a `.gz` name (the
/// compression is told by content).
fn gzipped(tools: &Tools, files: &[PathBuf], into: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(into).unwrap();
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = f.file_name().unwrap().to_string_lossy();
            let out = into.join(if i % 2 == 0 {
                format!("{name}.gz")
            } else {
                format!("{name}-packed")
            });
            let compressed = Command::new(&tools.gzip).arg("-c").arg(f).output().unwrap();
            assert!(compressed.status.success(), "gzip {}", f.display());
            assert!(compressed.stdout.starts_with(&[0x1f, 0x8b]));
            std::fs::write(&out, compressed.stdout).unwrap();
            out
        })
        .collect()
}

#[test]
fn real_nginx_and_python_logs_under_load() {
    let started = Instant::now();
    let (Some(nginx), Some(python), Some(gzip)) = (
        find("nginx", &["/usr/sbin", "/usr/local/sbin"]),
        find("python3", &["/usr/bin"]),
        find("gzip", &["/usr/bin", "/bin"]),
    ) else {
        portcullis_testkit::skip_or_fail!(
            TEST,
            "needs nginx (Debian: apt-get install nginx-light), python3 and gzip"
        );
    };
    let tools = Tools {
        nginx,
        python,
        gzip,
    };
    let root = tempfile::tempdir().unwrap();
    // One document root for every run, as one deployment's configuration: it has no favicon.
    std::fs::create_dir_all(root.path().join("www")).unwrap();
    std::fs::write(root.path().join("www/index.html"), "<h1>shop</h1>\n").unwrap();

    let baseline = run(&tools, root.path(), "baseline", 0.0, 11);
    let healthy = run(&tools, root.path(), "canary-healthy", 0.0, 23);
    let faulty = run(&tools, root.path(), "canary-faulty", FAULTS, 37);
    assert!(baseline.failures.is_empty() && healthy.failures.is_empty());
    assert_eq!(
        faulty.failures.keys().collect::<Vec<_>>(),
        ["KeyError", "PricingError"],
        "both bugs hit: {:?}",
        faulty.failures
    );
    assert_eq!(baseline.sent + healthy.sent + faulty.sent, 3 * REQUESTS);

    // Healthy: passes, no unexpected cluster.
    let report = analyse(root.path(), &baseline.logs(), &healthy.logs());
    let logs = report.logs.as_ref().unwrap();
    println!("healthy canary:\n{}", show(&logs.clusters));
    assert_eq!(
        logs.unexpected,
        0,
        "healthy canary:\n{}",
        show(&logs.clusters)
    );
    assert_eq!(report.verdict, Verdict::Pass, "{}", report.human());
    // The nginx error log's [error] lines (no favicon) are there on both sides: expected.
    let favicon = logs
        .clusters
        .iter()
        .find(|c| {
            c.baseline_samples
                .iter()
                .any(|s| s.contains("favicon.ico\" failed"))
        })
        .unwrap_or_else(|| panic!("no favicon cluster:\n{}", show(&logs.clusters)));
    assert_eq!(favicon.level, Level::Error, "{favicon:#?}");
    assert_eq!(favicon.classification, ClusterClass::Expected);
    // The service's access lines keep templates of their own: no application message of the
    // same level and length joins them (the miner once merged "catalogue page 3 served" into
    // the access template). One access line per request.
    let access: Vec<&LogCluster> = logs
        .clusters
        .iter()
        .filter(|c| {
            c.baseline_samples
                .iter()
                .chain(&c.canary_samples)
                .any(|s| s.contains("shop.access:"))
        })
        .collect();
    assert!(!access.is_empty(), "{}", show(&logs.clusters));
    // nginx serves /favicon.ico itself (the [error] lines above): every other request reached
    // the service.
    assert_eq!(
        access.iter().map(|c| c.baseline_count).sum::<u64>(),
        baseline.sent as u64 - favicon.baseline_count,
        "access templates hold other lines:\n{}",
        show(&logs.clusters)
    );
    for c in &access {
        assert!(
            !c.template.contains("catalogue"),
            "{}",
            show(&logs.clusters)
        );
    }

    // Faulty: one unexpected cluster per distinct traceback, at error level, one event per
    // failed request.
    let report = analyse(root.path(), &baseline.logs(), &faulty.logs());
    let logs = report.logs.as_ref().unwrap();
    println!("faulty canary:\n{}", show(&logs.clusters));
    assert_eq!(report.verdict, Verdict::Fail, "{}", report.human());
    let unexpected: Vec<&LogCluster> = logs
        .clusters
        .iter()
        .filter(|c| c.classification == ClusterClass::Unexpected)
        .collect();
    assert_eq!(
        unexpected.len(),
        faulty.failures.len(),
        "one unexpected cluster per distinct traceback:\n{}",
        show(&logs.clusters)
    );
    for (class, last_line) in [
        ("KeyError", "KeyError: 'sku-"),
        ("PricingError", "PricingError: coupon 'SAVE-X"),
    ] {
        let hits: Vec<&&LogCluster> = unexpected
            .iter()
            .filter(|c| c.canary_samples.iter().any(|s| s.contains(last_line)))
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "{class}: one cluster holds its tracebacks:\n{}",
            show(&logs.clusters)
        );
        let c = hits[0];
        assert_eq!(c.level, Level::Error, "{class}: {c:#?}");
        assert_eq!(c.baseline_count, 0, "{class}: {c:#?}");
        assert_eq!(
            c.canary_count, faulty.failures[class],
            "{class}: one event per failed request: {c:#?}"
        );
        // The whole traceback is one event: the logging line, the frames, the exception.
        for sample in &c.canary_samples {
            assert!(
                sample.contains("ERROR shop.api: unhandled error on GET /orders/")
                    && sample.contains("Traceback (most recent call last):")
                    && sample.contains(last_line),
                "{class}: a sample is not the whole traceback:\n{sample}"
            );
        }
        if class == "PricingError" {
            let s = &c.canary_samples[0];
            assert!(
                s.contains("ValueError: invalid literal for int()")
                    && s.contains("The above exception was the direct cause"),
                "the chained traceback is one event:\n{s}"
            );
        }
    }

    // The same logs compressed: the same result.
    for (name, canary, report) in [
        ("healthy", &healthy, None),
        ("faulty", &faulty, Some(&report)),
    ] {
        let plain = match report {
            Some(r) => outcome(r),
            None => outcome(&analyse(root.path(), &baseline.logs(), &canary.logs())),
        };
        let gz = root.path().join(format!("gz-{name}"));
        let base_gz = gzipped(&tools, &baseline.logs(), &gz.join("baseline"));
        let canary_gz = gzipped(&tools, &canary.logs(), &gz.join("canary"));
        let compressed = outcome(&analyse(root.path(), &base_gz, &canary_gz));
        assert_eq!(compressed, plain, "{name}: gzip-compressed logs");
    }

    let elapsed = started.elapsed();
    println!("whole test: {:.1} s", elapsed.as_secs_f64());
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}
