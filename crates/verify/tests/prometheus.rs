//! End to end against a real Prometheus: baseline and canary series are backfilled with
//! `promtool tsdb create-blocks-from openmetrics`, a `prometheus` of the test's own serves them
//! on 127.0.0.1, and the analysis queries it over HTTP. A healthy canary passes; one with three
//! times the error rate and +40% latency fails, naming those metrics. The same series exported
//! from it — `query_range` responses saved as JSON, `promtool tsdb dump` text — and read by the
//! files provider give the same analysis.
//!
//! Without `prometheus` and `promtool` (Debian package `prometheus`) the test skips with a
//! message; under CI (`CI=true` or `CI=1`) that is a failure. `scripts/test` installs the
//! package under CI.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_verify::analysis::{self, Subject};
use portcullis_verify::config::AnalysisConfig;
use portcullis_verify::judge::Verdict;

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

/// A deterministic pseudo-random source (xorshift) with normal deviates (Box–Muller).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

const STEP: i64 = 15;
const POINTS: i64 = 240; // one hour

/// (track, error ratio, p99 latency in seconds, seed)
const TRACKS: [(&str, f64, f64, u64); 3] = [
    ("baseline", 0.01, 0.25, 11),
    ("canary-healthy", 0.01, 0.25, 23),
    ("canary-regressed", 0.03, 0.35, 37),
];

/// The OpenMetrics text: two counters and a gauge per track, one sample every 15 s.
fn openmetrics(start: i64) -> String {
    let mut requests = String::from("# TYPE app_requests counter\n");
    let mut failed = String::from("# TYPE app_requests_failed counter\n");
    let mut latency = String::from("# TYPE app_latency_p99_seconds gauge\n");
    for (track, ratio, p99, seed) in TRACKS {
        let mut noise = Noise(seed);
        let (mut total, mut fails) = (0.0f64, 0.0f64);
        for i in 0..POINTS {
            let t = start + i * STEP;
            let n = noise.normal(1500.0, 40.0).round().max(0.0);
            total += n;
            fails += (n * ratio * noise.normal(1.0, 0.15)).round().max(0.0);
            let l = noise.normal(p99, p99 * 0.08).max(0.001);
            requests.push_str(&format!(
                "app_requests_total{{track=\"{track}\"}} {total} {t}\n"
            ));
            failed.push_str(&format!(
                "app_requests_failed_total{{track=\"{track}\"}} {fails} {t}\n"
            ));
            latency.push_str(&format!(
                "app_latency_p99_seconds{{track=\"{track}\"}} {l:.5} {t}\n"
            ));
        }
    }
    format!("{requests}{failed}{latency}# EOF\n")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(url: &str, server: &mut Server, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .build()
        .into();
    while Instant::now() < deadline {
        if let Some(status) = server.0.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            panic!("prometheus exited ({status}) before it was ready:\n{log}");
        }
        if let Ok(r) = agent.get(&format!("{url}/-/ready")).call()
            && r.status() == 200
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    panic!("prometheus at {url} was not ready within 60 s:\n{log}");
}

fn config(url: &str, canary: &str, start: i64) -> AnalysisConfig {
    let provider = format!(
        "  prometheus:\n    url: {url}\n    baselineScope: 'track=\"baseline\"'\n    canaryScope: 'track=\"{canary}\"'\n"
    );
    config_with(&provider, start)
}

/// The analysis with the given `provider:` body (the files provider ignores the queries).
fn config_with(provider: &str, start: i64) -> AnalysisConfig {
    let ts = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap().to_rfc3339();
    let yaml = format!(
        r#"
apiVersion: portcullis.dev/v1
kind: CanaryAnalysis
thresholds: {{pass: 95, marginal: 75}}
analysis:
  start: {start}
  end: {end}
  intervals: 2
  step: 15s
provider:
{provider}groups:
  - name: errors
    weight: 50
    metrics:
      - name: error_rate
        query: 'sum(rate(app_requests_failed_total{{${{scope}}}}[1m])) / sum(rate(app_requests_total{{${{scope}}}}[1m]))'
        direction: increase
        mustHaveData: true
  - name: performance
    weight: 50
    metrics:
      - name: latency_p99
        query: 'max(app_latency_p99_seconds{{${{scope}}}})'
        direction: increase
      - name: throughput
        query: 'sum(rate(app_requests_total{{${{scope}}}}[1m]))'
        direction: decrease
        effectSize: {{allowedDecrease: 0.9}}
"#,
        start = ts(start + 120),
        end = ts(start + POINTS * STEP),
    );
    AnalysisConfig::parse(Path::new("prometheus-test.yaml"), &yaml).unwrap()
}

/// The `query_range` responses of Prometheus for every metric of `config` on one track, over
/// the whole analysis window, saved as one file the files provider reads:
/// `{"error_rate": <response>, ...}` — what a person gets from curl and jq.
fn export_query_range(url: &str, config: &AnalysisConfig, track: &str, path: &Path) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let window = config.analysis.as_ref().unwrap();
    let mut out = serde_json::Map::new();
    for m in config.groups.iter().flat_map(|g| &g.metrics) {
        let query = m
            .query
            .as_ref()
            .unwrap()
            .replace("${scope}", &format!("track=\"{track}\""));
        let body = agent
            .get(&format!("{url}/api/v1/query_range"))
            .query("query", &query)
            .query("start", window.start.timestamp().to_string())
            .query("end", window.end.timestamp().to_string())
            .query("step", "15")
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let response: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(response["status"], "success", "{body}");
        out.insert(m.name.clone(), response);
    }
    std::fs::write(path, serde_json::Value::Object(out).to_string()).unwrap();
}

fn files_provider(baseline: &Path, canary: &Path, format: &str) -> String {
    format!(
        "  files: {{baseline: '{}', canary: '{}', format: {format}}}\n",
        baseline.display(),
        canary.display()
    )
}

/// Verdict, score and every metric's classification and values used, per interval.
fn metric_outcome(r: &portcullis_verify::report::Report) -> String {
    let m = r.metrics.as_ref().unwrap();
    let mut s = format!("{:?} {:.9}\n", r.verdict, r.score);
    for i in &m.intervals {
        s.push_str(&format!("interval {} {:.9}\n", i.index, i.score));
        for sm in &i.metrics {
            s.push_str(&format!(
                "  {} {:?} {} {}\n",
                sm.name, sm.result.classification, sm.result.baseline.used, sm.result.canary.used
            ));
        }
    }
    s
}

#[test]
fn canary_analysis_against_a_real_prometheus() {
    let (Some(prometheus), Some(promtool)) = (find("prometheus"), find("promtool")) else {
        portcullis_testkit::skip_or_fail!(
            "prometheus",
            "prometheus and promtool are not installed (Debian: apt-get install prometheus)"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Two to three hours ago, aligned to the step: well inside the retention, outside the head.
    let now = chrono::Utc::now().timestamp();
    let start = (now - 3 * 3600) / STEP * STEP;
    let om = dir.path().join("series.om");
    std::fs::File::create(&om)
        .unwrap()
        .write_all(openmetrics(start).as_bytes())
        .unwrap();
    let out = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool backfill failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // promtool's dump of the raw samples, one file per track: the Prometheus text format with
    // `{__name__=...}` series and millisecond timestamps.
    std::fs::create_dir_all(data.join("wal")).unwrap();
    for (track, ..) in TRACKS {
        let out = Command::new(&promtool)
            .args(["tsdb", "dump"])
            .arg(format!("--match={{track=\"{track}\"}}"))
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "promtool tsdb dump failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(dir.path().join(format!("dump-{track}.txt")), &out.stdout).unwrap();
    }

    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1h\n").unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = Command::new(&prometheus)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=30d")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url, &mut server, dir.path());

    let subject = Subject::default();
    let healthy = analysis::run(&config(&url, "canary-healthy", start), &subject).unwrap();
    println!("{}", healthy.human());
    let metrics = healthy.metrics.as_ref().unwrap();
    assert_eq!(metrics.intervals.len(), 2);
    for m in &metrics.intervals[1].metrics {
        assert!(
            m.result.canary.used > 200,
            "{}: {} canary values",
            m.name,
            m.result.canary.used
        );
    }
    assert_eq!(healthy.verdict, Verdict::Pass, "{}", healthy.human());

    let regressed = analysis::run(&config(&url, "canary-regressed", start), &subject).unwrap();
    println!("{}", regressed.human());
    assert_eq!(regressed.verdict, Verdict::Fail);
    let failing = regressed.failing.join("\n");
    assert!(failing.contains("metric error_rate High"), "{failing}");
    assert!(failing.contains("metric latency_p99 High"), "{failing}");
    assert!(!failing.contains("throughput"), "{failing}");
    // The first interval already fails: the analysis ends there.
    assert_eq!(regressed.metrics.as_ref().unwrap().intervals.len(), 1);

    // The same series exported from this Prometheus to files give the same analysis.
    for (canary, report) in [
        ("canary-healthy", &healthy),
        ("canary-regressed", &regressed),
    ] {
        let cfg = config(&url, canary, start);
        let files = |t: &str| dir.path().join(format!("query_range-{t}.json"));
        export_query_range(&url, &cfg, "baseline", &files("baseline"));
        export_query_range(&url, &cfg, canary, &files(canary));
        for format in ["auto", "json"] {
            let from_files = analysis::run(
                &config_with(
                    &files_provider(&files("baseline"), &files(canary), format),
                    start,
                ),
                &subject,
            )
            .unwrap();
            assert_eq!(
                metric_outcome(&from_files),
                metric_outcome(report),
                "{canary}: query_range files ({format}) vs the Prometheus provider"
            );
        }
        // The raw latency gauge from promtool's dump, judged as the Prometheus query is.
        let dump = |t: &str| dir.path().join(format!("dump-{t}.txt"));
        let yaml = format!(
            "apiVersion: portcullis.dev/v1\nkind: CanaryAnalysis\nthresholds: {{pass: 95, marginal: 75}}\nanalysis: {{start: {}, end: {}, intervals: 2, step: 15s}}\nprovider:\n{}groups:\n  - name: performance\n    metrics:\n      - {{name: app_latency_p99_seconds, direction: increase}}\n",
            cfg.analysis.as_ref().unwrap().start.to_rfc3339(),
            cfg.analysis.as_ref().unwrap().end.to_rfc3339(),
            files_provider(&dump("baseline"), &dump(canary), "auto"),
        );
        let dumped = AnalysisConfig::parse(Path::new("dump.yaml"), &yaml).unwrap();
        let from_dump = analysis::run(&dumped, &subject).unwrap();
        let latency = |r: &portcullis_verify::report::Report, name: &str| {
            let m = r.metrics.as_ref().unwrap();
            let sm = m.intervals[0]
                .metrics
                .iter()
                .find(|m| m.name == name)
                .unwrap();
            (
                sm.result.classification,
                sm.result.baseline.used,
                sm.result.canary.used,
            )
        };
        assert_eq!(
            latency(&from_dump, "app_latency_p99_seconds"),
            latency(report, "latency_p99"),
            "{canary}: the dump's latency samples vs the Prometheus query"
        );
    }

    // An unreachable provider is an error, not a verdict.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let e = analysis::run(&config(&closed, "canary-healthy", start), &subject).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!("prometheus {closed}")),
        "{e}"
    );
    drop(server);
}
