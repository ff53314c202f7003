//! The Argo Rollouts endpoint and Flagger's `rollout` hook against a real Prometheus, read the
//! way the controllers read them. Series for a stable ReplicaSet, a healthy canary and a bad
//! one (three times the errors, +40% latency), labelled by pod-template hash (and, for Flagger,
//! `app=checkout-primary` / `app=checkout`), are backfilled with `promtool tsdb
//! create-blocks-from openmetrics` over the last 40 minutes; a `prometheus` of the test's own
//! serves them. The request is built from `deploy/integrations/argo-rollouts/
//! analysistemplate.yaml` as Argo builds it (its method, path, headers and jsonBody with the
//! args substituted), and the real HTTP answer is read with the template's `jsonPath` by
//! `jsonpath-ng` (PyPI) and judged by its `successCondition`/`failureCondition`
//! (`fixtures/argo_condition.py`): the healthy canary succeeds, the bad one fails. Each result
//! is recorded for the canary's digest, and the gate to production then lists it as a recorded
//! fact (the bad one denies there). The same request with its body sent as another media type
//! (or none) gets 415, never an analysis.
//!
//! Needs `prometheus` and `promtool` (Debian package `prometheus`) and jsonpath-ng in
//! `$HOME/.cache/portcullis/venv-jsonpath` (`scripts/install-jsonpath`); without them the test
//! skips with a message, and under CI (`CI=true`) fails. `scripts/test` installs both under CI.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use portcullis_server::ServerSettings;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde::Deserialize;
use serde_json::{Value, json};

const STABLE: &str = "5c3a8b2d1";
const HEALTHY: &str = "6d4b9c7f8";
const BAD: &str = "7e5c0d3a9";
const GOOD_IMAGE: &str = "registry.example.com/shop/checkout:1.5@sha256:5555555555555555555555555555555555555555555555555555555555555555";
const BAD_IMAGE: &str = "registry.example.com/shop/checkout:1.6@sha256:6666666666666666666666666666666666666666666666666666666666666666";
const STEP: i64 = 15;
const POINTS: i64 = 160; // 40 minutes

fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn jsonpath_python() -> Option<PathBuf> {
    let venv = std::env::var_os("PORTCULLIS_JSONPATH_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/portcullis/venv-jsonpath"))
        })?;
    let python = venv.join("bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import jsonpath_ng"])
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(python)
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

/// Two counters and a gauge per series, one sample every 15 s from `start`.
fn openmetrics(start: i64) -> String {
    // (labels, error ratio, p99 latency, seed)
    let series = [
        (
            format!("namespace=\"shop\",rollouts_pod_template_hash=\"{STABLE}\""),
            0.01,
            0.25,
            11,
        ),
        (
            format!("namespace=\"shop\",rollouts_pod_template_hash=\"{HEALTHY}\""),
            0.01,
            0.25,
            23,
        ),
        (
            format!("namespace=\"shop\",rollouts_pod_template_hash=\"{BAD}\""),
            0.03,
            0.35,
            37,
        ),
        (
            "namespace=\"shop\",app=\"checkout-primary\"".to_string(),
            0.01,
            0.25,
            41,
        ),
        (
            "namespace=\"shop\",app=\"checkout\"".to_string(),
            0.03,
            0.35,
            53,
        ),
    ];
    let mut requests = String::from("# TYPE app_requests counter\n");
    let mut failed = String::from("# TYPE app_requests_failed counter\n");
    let mut latency = String::from("# TYPE app_latency_p99_seconds gauge\n");
    for (labels, ratio, p99, seed) in series {
        let mut noise = Noise(seed);
        let (mut total, mut fails) = (0.0f64, 0.0f64);
        for i in 0..POINTS {
            let t = start + i * STEP;
            let n = noise.normal(1500.0, 40.0).round().max(0.0);
            total += n;
            fails += (n * ratio * noise.normal(1.0, 0.15)).round().max(0.0);
            let l = noise.normal(p99, p99 * 0.08).max(0.001);
            requests.push_str(&format!("app_requests_total{{{labels}}} {total} {t}\n"));
            failed.push_str(&format!(
                "app_requests_failed_total{{{labels}}} {fails} {t}\n"
            ));
            latency.push_str(&format!("app_latency_p99_seconds{{{labels}}} {l:.5} {t}\n"));
        }
    }
    format!("{requests}{failed}{latency}# EOF\n")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(promtool: &Path, url: &str, server: &mut Server, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = server.0.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            panic!("prometheus exited ({status}) before it was ready:\n{log}");
        }
        let ready = std::net::TcpStream::connect(url.trim_start_matches("http://")).is_ok();
        if ready {
            // The port is open; the TSDB may still be loading: ask until a query answers.
            if let Ok(out) = Command::new(promtool)
                .args(["query", "instant", url, "count(app_requests_total)"])
                .output()
                && out.status.success()
                && !String::from_utf8_lossy(&out.stdout).trim().is_empty()
            {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    panic!("prometheus at {url} was not ready within 60 s:\n{log}");
}

const CONFIG: &str = r#"environments:
  production: { protected: true }
rules:
  PCL-VERIFY-001:
    params: { min_score: 85 }
  PCL-PROV-002: { actions: { "*": off } }
  PCL-PROV-003: { actions: { "*": off } }
"#;

const ANALYSIS: &str = r#"apiVersion: portcullis.dev/v1
kind: CanaryAnalysis
thresholds: {pass: 95, marginal: 75}
provider:
  prometheus:
    url: PROMETHEUS
    baselineScope: 'ignored="by the profile"'
    canaryScope: 'ignored="by the profile"'
groups:
  - name: errors
    weight: 50
    metrics:
      - name: error_rate
        query: 'sum(rate(app_requests_failed_total{${scope}}[1m])) / sum(rate(app_requests_total{${scope}}[1m]))'
        direction: increase
        mustHaveData: true
  - name: performance
    weight: 50
    metrics:
      - name: latency_p99
        query: 'max(app_latency_p99_seconds{${scope}})'
        direction: increase
"#;

const SETTINGS: &str = r#"integrations:
  profiles:
    checkout:
      analysis: analysis.yaml
      baseline_scope: 'namespace="{namespace}",rollouts_pod_template_hash="{stable_hash}"'
      canary_scope: 'namespace="{namespace}",rollouts_pod_template_hash="{canary_hash}"'
      window: 20m
      step: 15s
      environments: [production]
    checkout-flagger:
      analysis: analysis.yaml
      baseline_scope: 'namespace="{namespace}",app="{name}-primary"'
      canary_scope: 'namespace="{namespace}",app="{name}"'
      window: 20m
      step: 15s
"#;

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let d = yaml_serde::Deserializer::from_str(&text).next().unwrap();
    Value::deserialize(d).unwrap()
}

/// `{{ args.NAME }}` replaced as Argo does.
fn substitute(text: &str, args: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{{ args.{name} }}}}"), value);
    }
    assert!(!out.contains("{{"), "an argument left: {out}");
    out
}

/// What Argo's web metric concludes from the answer: `(result, success, failure)`.
fn argo_reads(python: &Path, metric: &Value, body: &str) -> (Value, bool, bool) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/argo_condition.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(metric["provider"]["web"]["jsonPath"].as_str().unwrap())
        .arg(metric["successCondition"].as_str().unwrap_or(""))
        .arg(metric["failureCondition"].as_str().unwrap_or(""))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "jsonpath-ng: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["result"].clone(),
        v["success"].as_bool().unwrap(),
        v["failure"].as_bool().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_analysis_as_argo_rollouts_and_flagger_ask_it() {
    let (Some(prometheus), Some(promtool)) = (find("prometheus"), find("promtool")) else {
        portcullis_testkit::skip_or_fail!(
            "prometheus",
            "prometheus and promtool are not installed (Debian: apt-get install prometheus)"
        );
    };
    let Some(python) = jsonpath_python() else {
        portcullis_testkit::skip_or_fail!(
            "jsonpath-ng",
            "jsonpath-ng is not installed in $HOME/.cache/portcullis/venv-jsonpath (run scripts/install-jsonpath)"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // The last 40 minutes up to a few seconds ago: the profile's window (20 minutes ending
    // when asked) lies inside.
    let now = chrono::Utc::now().timestamp();
    let start = (now - 5 - (POINTS - 1) * STEP) / STEP * STEP;
    let om = dir.path().join("series.om");
    std::fs::write(&om, openmetrics(start)).unwrap();
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
    wait_ready(&promtool, &url, &mut server, dir.path());

    // The server, its profiles reading that Prometheus.
    std::fs::write(
        dir.path().join("analysis.yaml"),
        ANALYSIS.replace("PROMETHEUS", &url),
    )
    .unwrap();
    let config = dir.path().join("portcullis.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let settings_file = dir.path().join("server.yaml");
    let settings = ServerSettings::parse(SETTINGS, settings_file.to_str().unwrap()).unwrap();
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        db.config(),
        Options {
            config: Some(config),
            settings,
            ..Default::default()
        },
    )
    .await;

    // The AnalysisTemplate as shipped, and the request Argo builds from it.
    let template = yaml(&repo().join("deploy/integrations/argo-rollouts/analysistemplate.yaml"));
    let metric = &template["spec"]["metrics"][0];
    let web = &metric["provider"]["web"];
    let defaults: Vec<(String, String)> = template["spec"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| {
            Some((
                a["name"].as_str()?.to_string(),
                a["value"].as_str()?.to_string(),
            ))
        })
        .collect();
    let ask = |canary: &'static str, image: &'static str| {
        let mut args: Vec<(&str, String)> = defaults
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        args.extend([
            ("namespace", "shop".to_string()),
            ("rollout", "checkout".to_string()),
            ("canary-hash", canary.to_string()),
            ("stable-hash", STABLE.to_string()),
            ("image", image.to_string()),
            ("portcullis-token", s.token(Role::Verifier).to_string()),
        ]);
        let url = web["url"].as_str().unwrap();
        let path = &url[url.find("/v1/").unwrap()..];
        let method =
            reqwest::Method::from_bytes(web["method"].as_str().unwrap_or("GET").as_bytes())
                .unwrap();
        let mut req = s.client.request(method, format!("{}{path}", s.base));
        for h in web["headers"].as_array().unwrap() {
            req = req.header(
                h["key"].as_str().unwrap(),
                substitute(h["value"].as_str().unwrap(), &args),
            );
        }
        if let Some(body) = web["jsonBody"].as_object() {
            let body: serde_json::Map<String, Value> = body
                .iter()
                .map(|(k, v)| (k.clone(), json!(substitute(v.as_str().unwrap(), &args))))
                .collect();
            req = req.json(&body);
        }
        req
    };

    // A healthy canary: Argo's metric succeeds.
    let r = ask(HEALTHY, GOOD_IMAGE).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    let (result, success, failure) = argo_reads(&python, metric, &text);
    let good: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (result.clone(), success, failure),
        (json!("pass"), true, false),
        "{good:#}"
    );
    assert!(
        good["scopes"]["canary"].as_str().unwrap().contains(HEALTHY),
        "{good}"
    );
    for m in good["metrics"].as_array().unwrap() {
        assert_eq!(m["failed"], false, "{m}");
    }
    assert_eq!(
        good["recorded"]["facts"][0]["kind"], "verification",
        "{good}"
    );

    // The same request with its body sent as another media type: 415 as every other JSON
    // body, never an analysis (nor a pass) and nothing recorded. Without a Content-Type too.
    let before = s.store.head().await.unwrap();
    for content_type in [Some("text/plain"), None] {
        let mut req = ask(HEALTHY, GOOD_IMAGE).build().unwrap();
        match content_type {
            Some(t) => {
                req.headers_mut().insert(
                    reqwest::header::CONTENT_TYPE,
                    reqwest::header::HeaderValue::from_static(t),
                );
            }
            None => {
                req.headers_mut().remove(reqwest::header::CONTENT_TYPE);
            }
        }
        assert!(req.body().is_some(), "the body is sent as before");
        let r = s.client.execute(req).await.unwrap();
        assert_eq!(r.status().as_u16(), 415, "{content_type:?}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["code"], "unsupported-media-type", "{p}");
        assert!(p.get("verdict").is_none(), "{p}");
    }
    assert_eq!(s.store.head().await.unwrap(), before);

    // A bad canary: Argo's metric fails, and the answer names what failed.
    let r = ask(BAD, BAD_IMAGE).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    let (result, success, failure) = argo_reads(&python, metric, &text);
    let bad: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (result, success, failure),
        (json!("fail"), false, true),
        "{bad:#}"
    );
    let failing: Vec<&str> = bad["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        failing.contains(&"error_rate") && failing.contains(&"latency_p99"),
        "{failing:?}"
    );
    // The condition really reads the answer: the same template against the healthy answer
    // with its verdict changed fails too.
    let mut forged = good.clone();
    forged["verdict"] = json!("marginal");
    let (_, success, failure) = argo_reads(&python, metric, &forged.to_string());
    assert!(!success && !failure, "marginal: inconclusive");

    // The gate to production reads each result as a recorded fact of that digest.
    for (image, counted_verdict, denies) in [(GOOD_IMAGE, "pass", false), (BAD_IMAGE, "fail", true)]
    {
        let artifact = image
            .split_once(':')
            .map(|(repo, rest)| format!("{repo}@{}", rest.split_once('@').unwrap().1));
        let (status, r) = s
            .post(
                Role::Ci,
                "/v1/decisions",
                &json!({"artifact": artifact.unwrap(), "environment": "production"}),
            )
            .await;
        assert_eq!(status, 200, "{r}");
        let d = &r["decision"];
        let verification: Vec<&Value> = d["facts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["fact"] == "verification")
            .collect();
        assert_eq!(verification.len(), 1, "{d:#}");
        let v = verification[0];
        assert_eq!(v["source"], "recorded", "{v}");
        assert_eq!(v["counted"], true, "{v}");
        assert!(v["value"].to_string().contains(counted_verdict), "{v}");
        let fired: Vec<&str> = d["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["rule"].as_str().unwrap())
            .collect();
        assert_eq!(fired.contains(&"PCL-VERIFY-001"), denies, "{fired:?}");
    }

    // The stable pods named as the canary would compare equal with themselves and record a
    // pass for any digest: refused, and nothing recorded.
    let before = s.store.head().await.unwrap();
    let r = ask(STABLE, BAD_IMAGE).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let p: Value = r.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("same pods"), "{p}");
    assert_eq!(s.store.head().await.unwrap(), before);

    // Flagger's rollout hook: the canary (app=checkout) against the primary, the bad series:
    // halted, with the reason, and recorded.
    let payload = json!({
        "name": "checkout", "namespace": "shop", "phase": "Progressing", "checksum": "85d557f47b",
        "metadata": {"environment": "production", "profile": "checkout-flagger", "image": BAD_IMAGE,
                     "token": s.token(Role::Verifier)},
    });
    let r = s
        .client
        .post(format!("{}/v1/integrations/flagger/rollout", s.base))
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 412);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "rollout-halted", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("error_rate"), "{p}");
    s.stop().await;
    drop(server);
}
