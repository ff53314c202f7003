//! The soak's load generator: a mixed load on a running `portcullis serve` — admission reviews,
//! decisions with evidence, dashboard pages and /metrics — first closed-loop to measure the rate
//! the mix sustains, then open-loop at a fixed fraction of it (each request has its due time;
//! its latency counts from then, so a slow server cannot hide its queueing). Every interval it
//! samples the server process (RSS, open descriptors), the window's latencies per kind, and the
//! audit chain's length; at the end it checks that every acknowledged decision is in the chain
//! and computes the drift. Shared by `cargo run --release --example soak` (scripts/soak) and
//! the CI test `crates/cli/tests/soak.rs`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::{Value, json};

/// The clean 2.4.1 build of the example shop (examples/evidence/clean): allowed in production.
pub const CLEAN: &str = "registry.example.com/shop/checkout-api@sha256:fefd31d2667bc768c7174b24c29c256ff27d4903a2d552ee8c4951c9d094363c";

/// What the load is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Admission,
    Decision,
    Dashboard,
    Metrics,
}

pub const KINDS: [Kind; 4] = [
    Kind::Admission,
    Kind::Decision,
    Kind::Dashboard,
    Kind::Metrics,
];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Admission => "admission",
            Kind::Decision => "decision",
            Kind::Dashboard => "dashboard",
            Kind::Metrics => "metrics",
        }
    }
    fn index(self) -> usize {
        match self {
            Kind::Admission => 0,
            Kind::Decision => 1,
            Kind::Dashboard => 2,
            Kind::Metrics => 3,
        }
    }
}

/// The mix: weights of admission, decision, dashboard and metrics requests, interleaved evenly
/// (a fixed sequence, so two runs send the same requests in the same order).
#[derive(Debug, Clone)]
pub struct Mix {
    pub weights: [u32; 4],
    sequence: Vec<Kind>,
}

impl Mix {
    pub fn new(weights: [u32; 4]) -> anyhow::Result<Self> {
        let total: u32 = weights.iter().sum();
        if total == 0 || total > 1000 {
            bail!("mix weights {weights:?}: their sum must be 1..=1000");
        }
        // Smooth weighted round robin: each kind appears as evenly spread as its weight allows.
        let mut credit = [0i64; 4];
        let mut sequence = Vec::with_capacity(total as usize);
        for _ in 0..total {
            for (c, w) in credit.iter_mut().zip(weights) {
                *c += i64::from(w);
            }
            let mut best = 0;
            for (i, c) in credit.iter().enumerate() {
                if *c > credit.get(best).copied().unwrap_or(i64::MIN) {
                    best = i;
                }
            }
            if let Some(c) = credit.get_mut(best) {
                *c -= i64::from(total);
            }
            sequence.push(KINDS.get(best).copied().unwrap_or(Kind::Metrics));
        }
        Ok(Self { weights, sequence })
    }

    pub fn kind(&self, i: u64) -> Kind {
        let n = self.sequence.len().max(1) as u64;
        self.sequence
            .get((i % n) as usize)
            .copied()
            .unwrap_or(Kind::Metrics)
    }

    pub fn describe(&self) -> String {
        let total: u32 = self.weights.iter().sum();
        KINDS
            .iter()
            .zip(self.weights)
            .map(|(k, w)| {
                format!(
                    "{} {:.0} %",
                    k.name(),
                    100.0 * f64::from(w) / f64::from(total)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The dashboard pages the load visits in turn (`{decision}`: the latest acknowledged decision).
pub const PAGES: [&str; 7] = [
    "/ui",
    "/ui/decisions",
    "/ui/decisions/{decision}",
    "/ui/audit",
    "/ui/environments",
    "/ui/posture",
    "/ui/rules",
];

/// How the run goes.
#[derive(Debug, Clone)]
pub struct Options {
    pub mix: Mix,
    /// Closed-loop warm-up (not measured) before the rate is measured.
    pub warmup: Duration,
    /// Closed-loop measurement of the sustained rate, with `workers` requests in flight.
    pub calibrate: Duration,
    pub workers: usize,
    /// The rate to run at; None: `fraction` of the measured one.
    pub rate: Option<f64>,
    pub fraction: f64,
    pub duration: Duration,
    pub interval: Duration,
    /// Requests in flight at most (the client's connections); the rest wait, and their wait
    /// counts in their latency.
    pub in_flight: usize,
    /// The part of the run that is warm-up for the drift (RSS and fds are compared from the
    /// first sample after it).
    pub warmup_share: f64,
    pub max_rss_drift_pct: f64,
    /// Open descriptors the server may have more at the end than after the warm-up.
    pub fd_slack: i64,
    /// Where the samples go (`<out>.csv`) and the summary (`<out>.json`).
    pub out: Option<PathBuf>,
    /// What the figures are labelled with (backend, machine conditions).
    pub label: String,
    pub quiet: bool,
}

impl Options {
    pub fn new(mix: Mix) -> Self {
        Self {
            mix,
            warmup: Duration::from_secs(5),
            calibrate: Duration::from_secs(20),
            workers: 8,
            rate: None,
            fraction: 0.8,
            duration: Duration::from_secs(1800),
            interval: Duration::from_secs(10),
            in_flight: 32,
            warmup_share: 1.0 / 6.0,
            max_rss_drift_pct: 10.0,
            fd_slack: 2,
            out: None,
            label: String::new(),
            quiet: false,
        }
    }
}

/// The server under load.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// An admin token (decides, records a deployment, reads, logs in to the dashboard).
    pub token: String,
    /// The server process (its /proc entry is read).
    pub pid: u32,
    /// The repository root (examples/ and the admission fixture are read from it).
    pub repo: PathBuf,
}

/// The request bodies: scripts/bench-server's.
///
/// The load's decisions are of 2.4.1 to staging (3 evidence documents and the canary result);
/// production is decided once, in `prepare`, so that the admission reviews are allowed. The
/// first soak runs decided to production and, after 500 decisions of the digest, were denied
/// by PCL-CHG-004: the history then held the newest 500 decisions of the digest, and the
/// staging allow dropped out. The history now keeps per environment the newest
/// `HISTORY_PER_ENVIRONMENT` decisions plus the newest allow and the newest deployed allow
/// (crates/firewall/src/sources.rs), so that no longer happens; the load still decides to
/// staging so that its figures compare with the runs before.
pub struct Bodies {
    pub admission: Vec<u8>,
    pub decision: Vec<u8>,
    pub production: Vec<u8>,
}

fn read(repo: &Path, rel: &str) -> anyhow::Result<Vec<u8>> {
    let p = repo.join(rel);
    std::fs::read(&p).with_context(|| format!("{}: cannot read", p.display()))
}

fn read_json(repo: &Path, rel: &str) -> anyhow::Result<Value> {
    serde_json::from_slice(&read(repo, rel)?).with_context(|| format!("{rel}: not JSON"))
}

impl Bodies {
    pub fn load(repo: &Path) -> anyhow::Result<Self> {
        let fixture = "crates/server/tests/fixtures/admission/deployment.json";
        let text = String::from_utf8(read(repo, fixture)?).context(fixture)?;
        let admission = text
            .replace("NAMESPACE", "production")
            .replace("INIT_IMAGE", CLEAN)
            .replace("\"IMAGE\"", &format!("\"{CLEAN}\""))
            .replace("DRY_RUN", "false");
        serde_json::from_str::<Value>(&admission).context("the admission review")?;
        let evidence = |rel: &str| -> anyhow::Result<Value> {
            Ok(json!({"name": rel, "content_base64":
                base64::engine::general_purpose::STANDARD.encode(read(repo, rel)?)}))
        };
        let clean = vec![
            evidence("examples/evidence/clean/checkout-api-2.4.1.cdx.json")?,
            evidence("examples/evidence/clean/checkout-api-2.4.1.intoto.jsonl")?,
            evidence("examples/evidence/clean/trivy-image.json")?,
        ];
        let canary = read_json(repo, "examples/gate/canary-2.4.1.json")?;
        let production = json!({
            "artifact": CLEAN, "environment": "production", "evidence": clean,
            "verifications": [canary.clone()],
            "history": read_json(repo, "examples/gate/history-2.4.1.json")?,
            "context": {"requester": "alice@example.com", "approver": "bob@example.com",
                        "change_ref": "CHG-1"},
        });
        let staging = json!({
            "artifact": CLEAN, "environment": "staging", "evidence": clean,
            "verifications": [canary], "context": {"pipeline": "soak", "change_ref": "CHG-1"},
        });
        Ok(Self {
            admission: admission.into_bytes(),
            decision: serde_json::to_vec(&staging)?,
            production: serde_json::to_vec(&production)?,
        })
    }
}

/// One acknowledged decision: its id and audit entry.
#[derive(Debug, Clone)]
struct Acked {
    id: String,
    seq: u64,
    hash: String,
}

/// The requests of one window.
#[derive(Default)]
struct Window {
    latencies: [Vec<u32>; 4],
    errors: [u64; 4],
    unexpected: [u64; 4],
}

impl Window {
    fn requests(&self) -> u64 {
        self.latencies.iter().map(|l| l.len() as u64).sum::<u64>() + self.errors.iter().sum::<u64>()
    }
}

/// What the load shares between its tasks.
struct Shared {
    window: Mutex<Window>,
    acked: Mutex<Vec<Acked>>,
    /// The first few failures, as text, and how many of each.
    failures: Mutex<BTreeMap<String, u64>>,
    latest: Mutex<String>,
    errors: AtomicU64,
    unexpected: AtomicU64,
    requests: AtomicU64,
    by_kind: [AtomicU64; 4],
    pending: AtomicU64,
}

impl Shared {
    fn new(first_decision: String) -> Self {
        Self {
            window: Mutex::new(Window::default()),
            acked: Mutex::new(Vec::new()),
            failures: Mutex::new(BTreeMap::new()),
            latest: Mutex::new(first_decision),
            errors: AtomicU64::new(0),
            unexpected: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            by_kind: Default::default(),
            pending: AtomicU64::new(0),
        }
    }

    fn take_window(&self) -> Window {
        self.window
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    fn note(&self, mut what: String) {
        if what.len() > 300 {
            let mut cut = 300;
            while !what.is_char_boundary(cut) {
                cut -= 1;
            }
            what.truncate(cut);
            what.push('…');
        }
        if let Ok(mut f) = self.failures.lock()
            && (f.len() < 50 || f.contains_key(&what))
        {
            *f.entry(what).or_default() += 1;
        }
    }

    fn record(&self, kind: Kind, outcome: Outcome, took: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let i = kind.index();
        if let Some(n) = self.by_kind.get(i) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        let Ok(mut w) = self.window.lock() else {
            return;
        };
        match outcome {
            Outcome::Ok => {
                if let Some(l) = w.latencies.get_mut(i) {
                    l.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
                }
            }
            Outcome::Unexpected(what) => {
                if let Some(l) = w.latencies.get_mut(i) {
                    l.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
                }
                if let Some(u) = w.unexpected.get_mut(i) {
                    *u += 1;
                }
                drop(w);
                self.unexpected.fetch_add(1, Ordering::Relaxed);
                self.note(format!("{}: unexpected answer: {what}", kind.name()));
            }
            Outcome::Error(what) => {
                if let Some(e) = w.errors.get_mut(i) {
                    *e += 1;
                }
                drop(w);
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.note(format!("{}: {what}", kind.name()));
            }
        }
    }
}

enum Outcome {
    Ok,
    /// A 2xx/3xx answer that is not the expected one (a denied decision, a refused review).
    Unexpected(String),
    /// A transport error or a status that is not a success.
    Error(String),
}

/// The client side: one connection pool, the bodies, the session cookie.
struct Client {
    http: reqwest::Client,
    target: Target,
    bodies: Bodies,
    cookie: String,
}

impl Client {
    async fn send(&self, kind: Kind, shared: &Shared) -> Outcome {
        let t = &self.target;
        let result = match kind {
            Kind::Admission => {
                self.http
                    .post(format!("{}/v1/admission", t.base))
                    .bearer_auth(&t.token)
                    .header("content-type", "application/json")
                    .body(self.bodies.admission.clone())
                    .send()
                    .await
            }
            Kind::Decision => {
                self.http
                    .post(format!("{}/v1/decisions", t.base))
                    .bearer_auth(&t.token)
                    .header("content-type", "application/json")
                    .body(self.bodies.decision.clone())
                    .send()
                    .await
            }
            Kind::Dashboard => {
                let n = shared.requests.load(Ordering::Relaxed) as usize;
                let page = PAGES.get(n % PAGES.len()).copied().unwrap_or("/ui");
                let page = if page.contains("{decision}") {
                    let id = shared.latest.lock().map(|l| l.clone()).unwrap_or_default();
                    page.replace("{decision}", &id)
                } else {
                    page.to_string()
                };
                self.http
                    .get(format!("{}{page}", t.base))
                    .header("cookie", &self.cookie)
                    .send()
                    .await
            }
            Kind::Metrics => self.http.get(format!("{}/metrics", t.base)).send().await,
        };
        let resp = match result {
            Ok(r) => r,
            Err(e) => return Outcome::Error(format!("transport: {}", error_chain(&e))),
        };
        let status = resp.status();
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Outcome::Error(format!("reading the answer: {}", error_chain(&e))),
        };
        if status.as_u16() != 200 {
            let text = String::from_utf8_lossy(body.get(..200).unwrap_or(&body)).into_owned();
            return Outcome::Error(format!("HTTP {status}: {text}"));
        }
        match kind {
            Kind::Admission => {
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                if v.pointer("/response/allowed") == Some(&Value::Bool(true)) {
                    Outcome::Ok
                } else {
                    Outcome::Unexpected(format!(
                        "not allowed: {}",
                        v.pointer("/response/status").cloned().unwrap_or_default()
                    ))
                }
            }
            Kind::Decision => {
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                let id = v.pointer("/decision/id").and_then(Value::as_str);
                let seq = v.pointer("/decision/chain/seq").and_then(Value::as_u64);
                let hash = v.pointer("/decision/chain/hash").and_then(Value::as_str);
                match (id, seq, hash) {
                    (Some(id), Some(seq), Some(hash)) => {
                        if let Ok(mut a) = shared.acked.lock() {
                            a.push(Acked {
                                id: id.to_string(),
                                seq,
                                hash: hash.to_string(),
                            });
                        }
                        if let Ok(mut l) = shared.latest.lock() {
                            *l = id.to_string();
                        }
                        if v.get("exit_code") == Some(&json!(0)) {
                            Outcome::Ok
                        } else {
                            Outcome::Unexpected(format!(
                                "exit code {}: {}",
                                v.get("exit_code").cloned().unwrap_or_default(),
                                v.pointer("/decision/violations")
                                    .cloned()
                                    .unwrap_or_default()
                            ))
                        }
                    }
                    _ => Outcome::Error("a decision without id or chain entry".into()),
                }
            }
            Kind::Dashboard | Kind::Metrics => Outcome::Ok,
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        let _ = write!(s, ": {c}");
        source = c.source();
    }
    s
}

/// One sample of the server, per interval.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    pub t_s: f64,
    pub rss_kib: u64,
    pub fds: i64,
    pub fds_sockets: i64,
    pub requests: u64,
    pub errors: u64,
    pub unexpected: u64,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// p99 per kind, in KINDS order (NaN: no request of that kind in the window).
    pub p99_kind_ms: [f64; 4],
    pub chain_length: i64,
    pub decisions_acked: u64,
    /// The server's CPU time in the window per request answered (ms): rising at a steady rate,
    /// the server does more per request (as its store grows); flat, a slower window was the
    /// machine's other load.
    pub cpu_ms_per_request: f64,
    /// Of the RSS, anonymous memory (the heap: `RssAnon`), KiB; the rest is files mapped.
    pub anon_kib: u64,
    /// The server's threads: a pool that grows in a burst and keeps its threads shows here.
    pub threads: u64,
}

const CSV_HEADER: &str = "t_s,rss_kib,fds,fds_sockets,requests,errors,unexpected,rate,p50_ms,p99_ms,max_ms,p99_admission_ms,p99_decision_ms,p99_dashboard_ms,p99_metrics_ms,chain_length,decisions_acked,cpu_ms_per_request,anon_kib,threads";

impl Sample {
    fn csv(&self) -> String {
        let [a, d, u, m] = self.p99_kind_ms;
        format!(
            "{:.1},{},{},{},{},{},{},{:.1},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{},{},{:.2},{},{}",
            self.t_s,
            self.rss_kib,
            self.fds,
            self.fds_sockets,
            self.requests,
            self.errors,
            self.unexpected,
            self.rate,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            a,
            d,
            u,
            m,
            self.chain_length,
            self.decisions_acked,
            self.cpu_ms_per_request,
            self.anon_kib,
            self.threads
        )
    }
}

/// The `p`-quantile (0..=1) of sorted latencies in µs, in ms (nearest rank).
fn quantile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    f64::from(sorted.get(i).copied().unwrap_or(0)) / 1000.0
}

/// RSS (KiB) of `pid`, from /proc/PID/status.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_number(pid, "VmRSS")
}

/// A number field of /proc/PID/status (`VmRSS`, `RssAnon` in KiB, `Threads`).
pub fn status_number(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("/proc/{pid}/status: the server is gone?"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("/proc/{pid}/status: no {field} line"))
}

/// CPU time (user + system, all threads) of `pid` in ms, from /proc/PID/stat (USER_HZ 100,
/// as on every Linux this runs on).
pub fn cpu_ms(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("/proc/{pid}/stat: the server is gone?"))?;
    // The fields after the command (in parentheses, which may hold spaces): utime and stime
    // are the 12th and 13th of them.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    match f.as_slice() {
        [u, s] => Ok((u + s) * 10),
        _ => bail!("/proc/{pid}/stat: no utime and stime"),
    }
}

/// Open descriptors of `pid`, and how many of them are sockets.
pub fn fds(pid: u32) -> anyhow::Result<(i64, i64)> {
    let dir = format!("/proc/{pid}/fd");
    let mut total = 0;
    let mut sockets = 0;
    for entry in std::fs::read_dir(&dir).with_context(|| format!("{dir}: cannot list"))? {
        let Ok(entry) = entry else { continue };
        total += 1;
        if std::fs::read_link(entry.path())
            .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
        {
            sockets += 1;
        }
    }
    Ok((total, sockets))
}

/// `portcullis_audit_chain_length` of /metrics (-1 when it cannot be read).
async fn chain_length(http: &reqwest::Client, base: &str) -> i64 {
    let Ok(r) = http.get(format!("{base}/metrics")).send().await else {
        return -1;
    };
    let Ok(text) = r.text().await else { return -1 };
    text.lines()
        .find(|l| l.starts_with("portcullis_audit_chain_length "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(-1, |v| v as i64)
}

/// What the run found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub label: String,
    pub mix: String,
    pub workers: usize,
    pub sustained_rate: Option<f64>,
    pub sustained_p99_ms: Option<f64>,
    pub rate: f64,
    pub achieved_rate: f64,
    pub duration_s: f64,
    /// Requests the open loop sent (their due times all fell within the duration).
    pub scheduled: u64,
    pub requests: u64,
    pub requests_by_kind: BTreeMap<String, u64>,
    pub errors: u64,
    pub unexpected: u64,
    pub failures: BTreeMap<String, u64>,
    pub warmup_s: f64,
    pub rss_start_kib: u64,
    /// RSS after the warm-up and at the end: each the median of the samples of a window
    /// (`rss_window_s` long) that starts at the warm-up's end, and that ends the run.
    pub rss_warm_kib: u64,
    pub rss_end_kib: u64,
    pub rss_window_s: f64,
    pub rss_max_kib: u64,
    /// The drift the check reads: of the two medians.
    pub rss_drift_pct: f64,
    /// The same from the single samples at the warm-up's end and the run's end (shown, not
    /// checked: it moves with where in its scatter each sample fell).
    pub rss_warm_sample_kib: u64,
    pub rss_end_sample_kib: u64,
    pub rss_drift_sample_pct: f64,
    /// Least-squares slope of RSS over the second half of the run after the warm-up, MiB per
    /// hour: what is left of a trend once the early settling is over (shown, not checked).
    pub rss_late_slope_mib_per_h: f64,
    pub fds_start: i64,
    pub fds_warm: i64,
    pub fds_end: i64,
    pub fds_max: i64,
    pub fds_growth: i64,
    pub non_socket_fds_growth: i64,
    pub p99_first_ms: f64,
    pub p99_warm_ms: f64,
    pub p99_last_ms: f64,
    pub p99_max_ms: f64,
    pub p99_whole_run_ms: f64,
    pub p99_whole_run_by_kind_ms: BTreeMap<String, f64>,
    pub chain_start: i64,
    pub chain_end: u64,
    pub chain_intact: bool,
    pub chain_growth: i64,
    pub decisions_acked: u64,
    pub decisions_missing: u64,
    pub max_rss_drift_pct: f64,
    pub fd_slack: i64,
    /// Why the run failed (empty: it passed).
    pub verdict: Vec<String>,
}

/// The whole soak: prepare, measure, run, check. Err only when the run could not be made.
pub async fn run(target: Target, opts: Options) -> anyhow::Result<Summary> {
    let say = |s: String| {
        if !opts.quiet {
            eprintln!("soak: {s}");
        }
    };
    let bodies = Bodies::load(&target.repo)?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(opts.in_flight)
        .pool_idle_timeout(None)
        .timeout(Duration::from_secs(60))
        .build()?;
    let first = prepare(&http, &target, &bodies).await?;
    let cookie = login(&http, &target).await?;
    say("prepared: 2.4.1 allowed in staging and production; logged in to the dashboard".into());
    let client = Arc::new(Client {
        http,
        target: target.clone(),
        bodies,
        cookie,
    });
    // The sampler's own connection, apart from the load's.
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    // 1. Closed loop: warm-up, then the sustained rate of the mix.
    let (sustained_rate, sustained_p99) = if let Some(r) = opts.rate {
        say(format!("rate given: {r:.1} req/s (not measured)"));
        (None, None)
    } else {
        let warm = Arc::new(Shared::new(first.clone()));
        closed_loop(&client, &warm, &opts.mix, opts.workers, opts.warmup).await;
        let measured = Arc::new(Shared::new(first.clone()));
        let started = Instant::now();
        closed_loop(&client, &measured, &opts.mix, opts.workers, opts.calibrate).await;
        let took = started.elapsed().as_secs_f64();
        let w = measured.take_window();
        let mut all: Vec<u32> = w.latencies.iter().flatten().copied().collect();
        all.sort_unstable();
        let errors = measured.errors.load(Ordering::Relaxed);
        let rate = all.len() as f64 / took;
        let p99 = quantile_ms(&all, 0.99);
        say(format!(
            "sustained (closed loop, {} in flight, {:.0} s): {rate:.1} req/s, p99 {p99:.1} ms, {errors} errors",
            opts.workers, took
        ));
        if errors > 0 {
            let f = measured
                .failures
                .lock()
                .map(|f| f.clone())
                .unwrap_or_default();
            bail!("errors while measuring the sustained rate: {f:?}");
        }
        (Some(rate), Some(p99))
    };
    let rate = opts
        .rate
        .or(sustained_rate.map(|r| r * opts.fraction))
        .unwrap_or(1.0)
        .max(0.1);

    // 2. Open loop at `rate` for the duration, sampled every interval.
    let chain_start = chain_length(&probe, &target.base).await;
    let shared = Arc::new(Shared::new(first));
    let (rss0, (fds0, _)) = (rss_kib(target.pid)?, fds(target.pid)?);
    say(format!(
        "open loop at {rate:.1} req/s for {:.0} s ({}); server RSS {} MiB, {fds0} fds, chain {chain_start}",
        opts.duration.as_secs_f64(),
        opts.mix.describe(),
        rss0 / 1024
    ));
    let mut csv = match &opts.out {
        Some(out) => {
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir).ok();
            }
            let p = out.with_extension("csv");
            let mut f = std::fs::File::create(&p).with_context(|| format!("{}", p.display()))?;
            writeln!(f, "{CSV_HEADER}")?;
            Some(f)
        }
        None => None,
    };
    let start = tokio::time::Instant::now();
    let end = start + opts.duration;
    let scheduler = {
        let (client, shared, mix) = (client.clone(), shared.clone(), opts.mix.clone());
        let backlog = ((rate * 30.0) as u64).max(1000);
        let permits = Arc::new(tokio::sync::Semaphore::new(opts.in_flight.max(1)));
        tokio::spawn(async move {
            let mut i: u64 = 0;
            loop {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due).await;
                let kind = mix.kind(i);
                i += 1;
                if shared.pending.load(Ordering::Relaxed) > backlog {
                    shared.record(
                        kind,
                        Outcome::Error(
                            "the generator's backlog is full (the server stalls)".into(),
                        ),
                        Duration::ZERO,
                    );
                    continue;
                }
                shared.pending.fetch_add(1, Ordering::Relaxed);
                let (client, shared, permits) = (client.clone(), shared.clone(), permits.clone());
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    let outcome = client.send(kind, &shared).await;
                    shared.record(kind, outcome, due.elapsed());
                    shared.pending.fetch_sub(1, Ordering::Relaxed);
                });
            }
            i
        })
    };
    let mut samples: Vec<Sample> = Vec::new();
    let mut whole: [Vec<u32>; 4] = Default::default();
    let mut cpu_before = cpu_ms(target.pid)?;
    let mut next = start + opts.interval;
    while next <= end + Duration::from_millis(1) {
        tokio::time::sleep_until(next).await;
        let w = shared.take_window();
        let s = sample(
            &target,
            &probe,
            &w,
            next.duration_since(start),
            opts.interval,
            &shared,
            &mut cpu_before,
        )
        .await?;
        for (all, l) in whole.iter_mut().zip(&w.latencies) {
            all.extend_from_slice(l);
        }
        if let Some(f) = csv.as_mut() {
            writeln!(f, "{}", s.csv())?;
            f.flush().ok();
        }
        say(format!(
            "t={:>5.0}s rss {:>4} MiB (anon {:>4}) thr {:>3} fds {:>3} req {:>5} ({:.0}/s) err {} p99 {:.1} ms [adm {:.1} dec {:.1} ui {:.1} met {:.1}] chain {} cpu {:.1} ms/req",
            s.t_s,
            s.rss_kib / 1024,
            s.anon_kib / 1024,
            s.threads,
            s.fds,
            s.requests,
            s.rate,
            s.errors + s.unexpected,
            s.p99_ms,
            s.p99_kind_ms[0],
            s.p99_kind_ms[1],
            s.p99_kind_ms[2],
            s.p99_kind_ms[3],
            s.chain_length,
            s.cpu_ms_per_request
        ));
        samples.push(s);
        next += opts.interval;
    }
    let scheduled = scheduler.await.unwrap_or(0);
    // The last requests in flight finish (bounded).
    let drain = Instant::now();
    while shared.pending.load(Ordering::Relaxed) > 0 && drain.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let still = shared.pending.load(Ordering::Relaxed);
    if still > 0 {
        shared.note(format!(
            "{still} requests still unanswered 90 s after the end"
        ));
        shared.errors.fetch_add(still, Ordering::Relaxed);
    }
    let _tail = shared.take_window();
    let elapsed = start.elapsed().as_secs_f64();

    // 3. Every acknowledged decision is in the chain, which verifies.
    let acked = shared.acked.lock().map(|a| a.clone()).unwrap_or_default();
    say(format!(
        "checking the chain and the {} acknowledged decisions",
        acked.len()
    ));
    let verify: Value = probe
        .get(format!("{}/v1/audit/verify", target.base))
        .bearer_auth(&target.token)
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .context("/v1/audit/verify")?
        .json()
        .await
        .context("/v1/audit/verify: not JSON")?;
    let chain_intact = verify.get("intact") == Some(&Value::Bool(true));
    let chain_end = verify.get("entries").and_then(Value::as_u64).unwrap_or(0);
    let missing = missing_decisions(&probe, &target, &acked, chain_end, &shared).await;

    let mut summary = summarize(
        &opts,
        &samples,
        &shared,
        &mut whole,
        SummaryInput {
            sustained_rate,
            sustained_p99,
            rate,
            scheduled,
            elapsed,
            rss0,
            fds0,
            chain_start,
            chain_end,
            chain_intact,
            acked: acked.len() as u64,
            missing,
        },
    );
    summary.verdict = verdict(&summary, &opts);
    if let Some(out) = &opts.out {
        let p = out.with_extension("json");
        std::fs::write(&p, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("{}", p.display()))?;
    }
    Ok(summary)
}

/// The state the load's requests expect: 2.4.1 allowed in staging and deployed there, then
/// allowed in production (what `portcullis demo` seeds, on any backend). Returns the id of
/// the production decision.
async fn prepare(http: &reqwest::Client, t: &Target, bodies: &Bodies) -> anyhow::Result<String> {
    let post = |path: &str, body: Vec<u8>| {
        let req = http
            .post(format!("{}{path}", t.base))
            .bearer_auth(&t.token)
            .header("content-type", "application/json")
            .body(body);
        let path = path.to_string();
        async move {
            let r = req.send().await.with_context(|| path.clone())?;
            let status = r.status();
            let v: Value = r.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("{path}: HTTP {status}: {v}");
            }
            Ok::<_, anyhow::Error>(v)
        }
    };
    let d = post("/v1/decisions", bodies.decision.clone()).await?;
    if d.get("exit_code") != Some(&json!(0)) {
        bail!(
            "2.4.1 to staging is not allowed: {}",
            d.pointer("/decision/violations")
                .cloned()
                .unwrap_or_default()
        );
    }
    post(
        "/v1/deployments",
        serde_json::to_vec(&json!({"artifact": CLEAN, "environment": "staging"}))?,
    )
    .await?;
    let d = post("/v1/decisions", bodies.production.clone()).await?;
    if d.get("exit_code") != Some(&json!(0)) {
        bail!(
            "2.4.1 to production is not allowed: {}",
            d.pointer("/decision/violations")
                .cloned()
                .unwrap_or_default()
        );
    }
    let a = post("/v1/admission", bodies.admission.clone()).await?;
    if a.pointer("/response/allowed") != Some(&Value::Bool(true)) {
        bail!("the admission review is not allowed: {a}");
    }
    d.pointer("/decision/id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .context("the production decision has no id")
}

/// The dashboard session cookie, from logging in with the token.
async fn login(http: &reqwest::Client, t: &Target) -> anyhow::Result<String> {
    let r = http
        .post(format!("{}/ui/login", t.base))
        .form(&[("token", t.token.as_str()), ("next", "/ui")])
        .send()
        .await
        .context("/ui/login")?;
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .filter(|kv| kv.starts_with("pcl_session="))
        })
        .map(str::to_string);
    let status = r.status();
    let cookie = cookie.with_context(|| format!("/ui/login: HTTP {status}, no session cookie"))?;
    let page = http
        .get(format!("{}/ui", t.base))
        .header("cookie", &cookie)
        .send()
        .await?;
    if page.status() != 200 {
        bail!("/ui with the session: HTTP {}", page.status());
    }
    Ok(cookie)
}

async fn closed_loop(
    client: &Arc<Client>,
    shared: &Arc<Shared>,
    mix: &Mix,
    workers: usize,
    for_: Duration,
) {
    let end = Instant::now() + for_;
    let n = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (client, shared, mix, n) = (client.clone(), shared.clone(), mix.clone(), n.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let kind = mix.kind(n.fetch_add(1, Ordering::Relaxed));
                let started = Instant::now();
                let outcome = client.send(kind, &shared).await;
                shared.record(kind, outcome, started.elapsed());
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn sample(
    t: &Target,
    probe: &reqwest::Client,
    w: &Window,
    at: Duration,
    interval: Duration,
    shared: &Shared,
    cpu_before: &mut u64,
) -> anyhow::Result<Sample> {
    let rss = rss_kib(t.pid)?;
    let anon = status_number(t.pid, "RssAnon")?;
    let threads = status_number(t.pid, "Threads")?;
    let cpu = cpu_ms(t.pid)?;
    let cpu_used = cpu.saturating_sub(*cpu_before);
    *cpu_before = cpu;
    let (fds, sockets) = fds(t.pid)?;
    let chain = chain_length(probe, &t.base).await;
    let mut all: Vec<u32> = w.latencies.iter().flatten().copied().collect();
    all.sort_unstable();
    let mut p99_kind = [f64::NAN; 4];
    for (p, l) in p99_kind.iter_mut().zip(&w.latencies) {
        let mut l = l.clone();
        l.sort_unstable();
        *p = quantile_ms(&l, 0.99);
    }
    let requests = w.requests();
    Ok(Sample {
        t_s: at.as_secs_f64(),
        rss_kib: rss,
        fds,
        fds_sockets: sockets,
        requests,
        errors: w.errors.iter().sum(),
        unexpected: w.unexpected.iter().sum(),
        rate: requests as f64 / interval.as_secs_f64(),
        p50_ms: quantile_ms(&all, 0.50),
        p99_ms: quantile_ms(&all, 0.99),
        max_ms: all.last().map_or(f64::NAN, |m| f64::from(*m) / 1000.0),
        p99_kind_ms: p99_kind,
        chain_length: chain,
        decisions_acked: shared.acked.lock().map(|a| a.len() as u64).unwrap_or(0),
        cpu_ms_per_request: cpu_used as f64 / (all.len().max(1) as f64),
        anon_kib: anon,
        threads,
    })
}

/// Acknowledged decisions the server cannot show with the same audit entry, or whose entry is
/// beyond the verified chain.
async fn missing_decisions(
    probe: &reqwest::Client,
    t: &Target,
    acked: &[Acked],
    chain_end: u64,
    shared: &Shared,
) -> u64 {
    let missing = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let acked: Arc<Vec<Acked>> = Arc::new(acked.to_vec());
    let mut tasks = Vec::new();
    let notes: Arc<Mutex<Vec<String>>> = Arc::default();
    for _ in 0..8 {
        let (probe, t, acked, next, missing, notes) = (
            probe.clone(),
            t.clone(),
            acked.clone(),
            next.clone(),
            missing.clone(),
            notes.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(a) = acked.get(i) else { break };
                let mut problem = None;
                if a.seq > chain_end {
                    problem = Some(format!(
                        "entry {} beyond the verified chain ({chain_end})",
                        a.seq
                    ));
                } else {
                    let got = async {
                        let v: Value = probe
                            .get(format!("{}/v1/decisions/{}", t.base, a.id))
                            .bearer_auth(&t.token)
                            .send()
                            .await?
                            .error_for_status()?
                            .json()
                            .await?;
                        Ok::<_, reqwest::Error>(v)
                    }
                    .await;
                    match got {
                        Ok(v) => {
                            let seq = v.pointer("/decision/chain/seq").and_then(Value::as_u64);
                            let hash = v.pointer("/decision/chain/hash").and_then(Value::as_str);
                            if seq != Some(a.seq) || hash != Some(a.hash.as_str()) {
                                problem = Some(format!(
                                    "recorded as {seq:?} {hash:?}, acknowledged as {} {}",
                                    a.seq, a.hash
                                ));
                            }
                        }
                        Err(e) => problem = Some(error_chain(&e)),
                    }
                }
                if let Some(p) = problem {
                    missing.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut n) = notes.lock()
                        && n.len() < 20
                    {
                        n.push(format!("decision {} missing: {p}", a.id));
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    if let Ok(n) = notes.lock() {
        for note in n.iter() {
            shared.note(note.clone());
        }
    }
    missing.load(Ordering::Relaxed)
}

struct SummaryInput {
    sustained_rate: Option<f64>,
    sustained_p99: Option<f64>,
    rate: f64,
    scheduled: u64,
    elapsed: f64,
    rss0: u64,
    fds0: i64,
    chain_start: i64,
    chain_end: u64,
    chain_intact: bool,
    acked: u64,
    missing: u64,
}

fn summarize(
    opts: &Options,
    samples: &[Sample],
    shared: &Shared,
    whole: &mut [Vec<u32>; 4],
    i: SummaryInput,
) -> Summary {
    let warmup_s = opts.duration.as_secs_f64() * opts.warmup_share;
    let warm = samples
        .iter()
        .find(|s| s.t_s >= warmup_s - 1e-6)
        .or(samples.last());
    let last = samples.last();
    let rss_warm_sample = warm.map_or(0, |s| s.rss_kib);
    let rss_end_sample = last.map_or(0, |s| s.rss_kib);
    // The level of RSS is the median of a window of samples, not one sample: a steady
    // server's 10-s samples scatter by a few percent as the allocator gives pages back and
    // takes them again (seen: 145-167 MiB with no trend), so two single samples can differ by
    // 7 % where the level did not move.
    let rss_window_s = (opts.duration.as_secs_f64() * opts.warmup_share).min(60.0);
    let warm_t = warm.map_or(0.0, |s| s.t_s);
    let end_t = last.map_or(0.0, |s| s.t_s);
    let rss_warm = median_kib(samples, warm_t, warm_t + rss_window_s);
    let rss_end = median_kib(samples, end_t - rss_window_s, end_t);
    let drift = |from: u64, to: u64| {
        if from > 0 {
            100.0 * (to as f64 - from as f64) / from as f64
        } else {
            f64::NAN
        }
    };
    let fds_warm = warm.map_or(0, |s| s.fds);
    let fds_end = last.map_or(0, |s| s.fds);
    let nonsock = |s: Option<&Sample>| s.map_or(0, |s| s.fds - s.fds_sockets);
    let p99s: Vec<f64> = samples
        .iter()
        .map(|s| s.p99_ms)
        .filter(|p| p.is_finite())
        .collect();
    let mut by_kind = BTreeMap::new();
    let mut requests_by_kind = BTreeMap::new();
    let mut all: Vec<u32> = Vec::new();
    for ((kind, l), n) in KINDS.iter().zip(whole.iter_mut()).zip(&shared.by_kind) {
        l.sort_unstable();
        by_kind.insert(kind.name().to_string(), quantile_ms(l, 0.99));
        requests_by_kind.insert(kind.name().to_string(), n.load(Ordering::Relaxed));
        all.extend_from_slice(l);
    }
    all.sort_unstable();
    Summary {
        label: opts.label.clone(),
        mix: opts.mix.describe(),
        workers: opts.workers,
        sustained_rate: i.sustained_rate,
        sustained_p99_ms: i.sustained_p99,
        rate: i.rate,
        achieved_rate: samples.iter().map(|s| s.requests).sum::<u64>() as f64
            / (samples.len().max(1) as f64 * opts.interval.as_secs_f64()),
        duration_s: i.elapsed,
        scheduled: i.scheduled,
        requests: shared.requests.load(Ordering::Relaxed),
        requests_by_kind,
        errors: shared.errors.load(Ordering::Relaxed),
        unexpected: shared.unexpected.load(Ordering::Relaxed),
        failures: shared
            .failures
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default(),
        warmup_s: warm.map_or(0.0, |s| s.t_s),
        rss_start_kib: i.rss0,
        rss_warm_kib: rss_warm,
        rss_end_kib: rss_end,
        rss_window_s,
        rss_max_kib: samples.iter().map(|s| s.rss_kib).max().unwrap_or(0),
        rss_drift_pct: drift(rss_warm, rss_end),
        rss_warm_sample_kib: rss_warm_sample,
        rss_end_sample_kib: rss_end_sample,
        rss_drift_sample_pct: drift(rss_warm_sample, rss_end_sample),
        rss_late_slope_mib_per_h: slope_mib_per_h(samples, (warm_t + end_t) / 2.0),
        fds_start: i.fds0,
        fds_warm,
        fds_end,
        fds_max: samples.iter().map(|s| s.fds).max().unwrap_or(0),
        fds_growth: fds_end - fds_warm,
        non_socket_fds_growth: nonsock(last) - nonsock(warm),
        p99_first_ms: samples.first().map_or(f64::NAN, |s| s.p99_ms),
        p99_warm_ms: warm.map_or(f64::NAN, |s| s.p99_ms),
        p99_last_ms: last.map_or(f64::NAN, |s| s.p99_ms),
        p99_max_ms: p99s.iter().copied().fold(f64::NAN, f64::max),
        p99_whole_run_ms: quantile_ms(&all, 0.99),
        p99_whole_run_by_kind_ms: by_kind,
        chain_start: i.chain_start,
        chain_end: i.chain_end,
        chain_intact: i.chain_intact,
        chain_growth: i.chain_end as i64 - i.chain_start,
        decisions_acked: i.acked,
        decisions_missing: i.missing,
        max_rss_drift_pct: opts.max_rss_drift_pct,
        fd_slack: opts.fd_slack,
        verdict: Vec::new(),
    }
}

/// The median RSS of the samples taken from `from` to `to` seconds (0 when there is none).
fn median_kib(samples: &[Sample], from: f64, to: f64) -> u64 {
    let mut v: Vec<u64> = samples
        .iter()
        .filter(|s| s.t_s >= from - 1e-6 && s.t_s <= to + 1e-6)
        .map(|s| s.rss_kib)
        .collect();
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

/// Least-squares slope of RSS (MiB per hour) over the samples from `from` seconds on (NaN
/// with fewer than 3).
fn slope_mib_per_h(samples: &[Sample], from: f64) -> f64 {
    let pts: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.t_s >= from - 1e-6)
        .map(|s| (s.t_s, s.rss_kib as f64 / 1024.0))
        .collect();
    if pts.len() < 3 {
        return f64::NAN;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx > 0.0 {
        sxy / sxx * 3600.0
    } else {
        f64::NAN
    }
}

fn verdict(s: &Summary, opts: &Options) -> Vec<String> {
    let mut v = Vec::new();
    if s.errors > 0 {
        v.push(format!("{} errors (5xx, refusals, transport)", s.errors));
    }
    if s.unexpected > 0 {
        v.push(format!("{} unexpected answers", s.unexpected));
    }
    if !s.chain_intact {
        v.push("the audit chain does not verify".into());
    }
    if s.decisions_missing > 0 {
        v.push(format!(
            "{} acknowledged decisions missing from the chain",
            s.decisions_missing
        ));
    }
    if s.chain_growth < s.decisions_acked as i64 {
        v.push(format!(
            "the chain grew by {} entries, fewer than the {} decisions acknowledged",
            s.chain_growth, s.decisions_acked
        ));
    }
    if s.fds_growth > opts.fd_slack {
        v.push(format!(
            "open descriptors grew from {} to {} after the warm-up (slack {})",
            s.fds_warm, s.fds_end, opts.fd_slack
        ));
    }
    if s.non_socket_fds_growth > 0 {
        v.push(format!(
            "descriptors other than sockets grew by {}",
            s.non_socket_fds_growth
        ));
    }
    if s.rss_drift_pct.is_nan() || s.rss_drift_pct > opts.max_rss_drift_pct {
        v.push(format!(
            "RSS drifted {:.1} % after the warm-up (medians of {:.0} s; limit {} %)",
            s.rss_drift_pct, s.rss_window_s, opts.max_rss_drift_pct
        ));
    }
    v
}

/// The summary as text.
pub fn report(s: &Summary) -> String {
    let mib = |k: u64| k as f64 / 1024.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "soak summary{}",
        if s.label.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.label)
        }
    );
    let _ = writeln!(out, "  mix:              {}", s.mix);
    if let Some(r) = s.sustained_rate {
        let _ = writeln!(
            out,
            "  sustained rate:   {r:.1} req/s (closed loop, {} in flight; p99 {:.1} ms)",
            s.workers,
            s.sustained_p99_ms.unwrap_or(f64::NAN)
        );
    }
    let _ = writeln!(
        out,
        "  target rate:      {:.1} req/s, achieved {:.1} req/s over {:.0} s",
        s.rate, s.achieved_rate, s.duration_s
    );
    let _ = writeln!(
        out,
        "  requests:         {} ({:?}); errors {}, unexpected {}",
        s.requests, s.requests_by_kind, s.errors, s.unexpected
    );
    let _ = writeln!(
        out,
        "  RSS:              start {:.1} MiB; median of {:.0} s after warm-up (t={:.0}s) {:.1} MiB, of the last {:.0} s {:.1} MiB: drift {:+.1} % (limit {} %); max {:.1} MiB",
        mib(s.rss_start_kib),
        s.rss_window_s,
        s.warmup_s,
        mib(s.rss_warm_kib),
        s.rss_window_s,
        mib(s.rss_end_kib),
        s.rss_drift_pct,
        s.max_rss_drift_pct,
        mib(s.rss_max_kib),
    );
    let _ = writeln!(
        out,
        "  RSS samples:      at t={:.0}s {:.1} MiB, at the end {:.1} MiB: {:+.1} %; slope over the second half after warm-up {:+.1} MiB/h",
        s.warmup_s,
        mib(s.rss_warm_sample_kib),
        mib(s.rss_end_sample_kib),
        s.rss_drift_sample_pct,
        s.rss_late_slope_mib_per_h
    );
    let _ = writeln!(
        out,
        "  open fds:         start {}, after warm-up {}, end {}, max {}: growth {} (slack {}), non-socket growth {}",
        s.fds_start,
        s.fds_warm,
        s.fds_end,
        s.fds_max,
        s.fds_growth,
        s.fd_slack,
        s.non_socket_fds_growth
    );
    let _ = writeln!(
        out,
        "  p99 per window:   first {:.1} ms, after warm-up {:.1} ms, last {:.1} ms, max {:.1} ms; whole run {:.1} ms: {:?}",
        s.p99_first_ms,
        s.p99_warm_ms,
        s.p99_last_ms,
        s.p99_max_ms,
        s.p99_whole_run_ms,
        s.p99_whole_run_by_kind_ms
            .iter()
            .map(|(k, v)| format!("{k} {v:.1} ms"))
            .collect::<Vec<_>>()
    );
    let _ = writeln!(
        out,
        "  audit chain:      {} -> {} entries (+{}), intact {}; decisions acknowledged {}, missing {}",
        s.chain_start,
        s.chain_end,
        s.chain_growth,
        s.chain_intact,
        s.decisions_acked,
        s.decisions_missing
    );
    for (what, n) in &s.failures {
        let _ = writeln!(out, "  failure x{n}: {what}");
    }
    if s.verdict.is_empty() {
        let _ = writeln!(out, "  verdict:          PASS");
    } else {
        let _ = writeln!(out, "  verdict:          FAIL: {}", s.verdict.join("; "));
    }
    out
}
