//! Recording decisions in the store and replaying them (DESIGN.md "Storage and the audit
//! chain": a decision stores digests of its evidence and policy bundle; both are kept, so a
//! replay reproduces it exactly).
//!
//! Every store-backed test runs on SQLite (a temporary directory) and on PostgreSQL (a database
//! of its own on the server `PORTCULLIS_TEST_POSTGRES_URL` names, dropped afterwards). Without
//! that variable the PostgreSQL variants say so and pass, except under CI (`CI=true`).
//!
//! The acceptance test: 400 decisions drawn with a seeded generator (evidence from
//! examples/evidence and ../shared/corpus, environments, artifacts, advisories, block rules, KEV,
//! exceptions in and out of force, verifications, exposures, previous and history, unreadable
//! evidence, millisecond decision times) are recorded; 200 of them, picked at random, replay
//! identically. Reproduce a run with `PORTCULLIS_TEST_SEED=N`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use portcullis_evidence::{BlockRule, Limits};
use portcullis_firewall::record::{self, Documents, RecordError, blob_kinds};
use portcullis_firewall::*;
use portcullis_policy::input::{
    InputArtifact, InputExposure, InputHistoryEntry, InputPrevious, InputVerification,
};
use portcullis_policy::{PolicyBundle, PolicySource};
use portcullis_store::testing::TestDb;
use portcullis_store::{Backend, Store, kinds};

// ------------------------------------------------------------------------------------------
// Backends

/// Open a fresh store on `backend`, run `body` on it (as a task, so that a failing test still
/// drops its database), clean up, and fail as the body failed.
async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let config = db.config();
    let outcome = tokio::spawn(async move {
        let store = Store::open(&config)
            .await
            .unwrap_or_else(|e| panic!("cannot open the store: {e}"));
        assert_eq!(store.backend(), backend);
        body(store).await;
    })
    .await;
    db.cleanup().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(p) => std::panic::resume_unwind(p),
            Err(e) => panic!("the test task did not finish: {e}"),
        }
    }
}

/// `name_sqlite` and `name_postgres` running `async fn name(store: Store)`.
macro_rules! on_both_backends {
    ($($body:ident => $sqlite:ident, $postgres:ident;)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            run(Backend::Sqlite, $body).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            run(Backend::Postgres, $body).await;
        }
    )+};
}

on_both_backends! {
    replay_200_random_recorded_decisions => replay_200_random_recorded_decisions_sqlite, replay_200_random_recorded_decisions_postgres;
    record_sets_chain_and_refs_and_load_returns_the_decision => record_sets_chain_and_refs_and_load_returns_the_decision_sqlite, record_sets_chain_and_refs_and_load_returns_the_decision_postgres;
    replay_fails_naming_a_tampered_document => replay_fails_naming_a_tampered_document_sqlite, replay_fails_naming_a_tampered_document_postgres;
    record_refuses_documents_whose_bytes_were_not_kept => record_refuses_documents_whose_bytes_were_not_kept_sqlite, record_refuses_documents_whose_bytes_were_not_kept_postgres;
    replay_decides_at_the_exact_request_time => replay_decides_at_the_exact_request_time_sqlite, replay_decides_at_the_exact_request_time_postgres;
    replay_uses_a_configuration_built_in_code => replay_uses_a_configuration_built_in_code_sqlite, replay_uses_a_configuration_built_in_code_postgres;
    replay_reproduces_manifests_and_gatekeeper_constraints => replay_reproduces_manifests_and_gatekeeper_constraints_sqlite, replay_reproduces_manifests_and_gatekeeper_constraints_postgres;
    replay_verifies_attestations_with_the_recorded_keys => replay_verifies_attestations_with_the_recorded_keys_sqlite, replay_verifies_attestations_with_the_recorded_keys_postgres;
}

/// An SQL literal of `bytes` for the blobs' content column.
fn bytes_literal(store: &Store, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match store.backend() {
        Backend::Sqlite => format!("X'{hex}'"),
        Backend::Postgres => format!("'\\x{hex}'::bytea"),
    }
}

// ------------------------------------------------------------------------------------------
// Fixtures

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// `../shared/corpus`, or `None` (after saying so) when absent; under CI absent is a failure.
fn corpus() -> Option<PathBuf> {
    portcullis_testkit::corpus("corpus part (drawing from examples/ only)", "")
}

/// Real scanner outputs, SBOMs and provenance from the corpus (small ones: the test decides
/// 400 times).
const CORPUS_EVIDENCE: &[&str] = &[
    "scanners/cyclonedx/log4j.json",
    "scanners/trivy/scheme_2_many_vulns.json",
    "scanners/trivy/misconfigurations_and_secrets.json",
    "scanners/anchore_grype/many_vulns4.json",
    "scanners/checkov/checkov-report-many-vuln.json",
    "scanners/osv_scanner/some_findings.json",
    "scanners/zap/5_zap_sample_one.xml",
    "scanners/semgrep/high-medium-low-severities.json",
    "scanners/bandit/one_vuln.json",
    "scanners/sarif/gitleaks_7.5.0.sarif",
    "scanners/spdx/spdx_one_vuln.json",
    "spdx-examples/presentations_OSS-NA-2023_SPDXVersion2.3_04-SBOMwSecurity.json",
    "slsa-provenance/binary-linux-amd64-untrusted-builder.intoto.jsonl",
];

const EXAMPLE_EVIDENCE: &[&str] = &[
    "evidence/checkout-api.cdx.json",
    "evidence/trivy-image.json",
    "evidence/semgrep.json",
    "evidence/zap-baseline.xml",
    "evidence/checkout-api.intoto.jsonl",
    "evidence/clean/checkout-api-2.4.1.cdx.json",
    "evidence/clean/checkout-api-2.4.1.intoto.jsonl",
    "evidence/clean/trivy-image.json",
    // An OSV record handed in as evidence blocks too.
    "evidence/log4shell.osv.json",
];

const ARTIFACT_NAMES: &[&str] = &[
    "registry.example.com/shop/checkout-api",
    "registry.example.com/shop/cart",
    "ghcr.io/acme/billing",
];

const ENVIRONMENTS: &[&str] = &["dev", "staging", "production", "qa-undeclared"];

/// Everything the generated requests are drawn from.
struct Fixtures {
    /// The bytes of every document any request or firewall uses.
    docs: Documents,
    evidence: Vec<EvidenceDoc>,
    /// A truncated SBOM: unreadable evidence (source, digest, error).
    truncated: UnreadableEvidence,
    /// Firewalls with different bundles, configurations, advisories, KEV and exceptions.
    firewalls: Vec<(&'static str, Firewall)>,
    canary: InputVerification,
    history: Vec<InputHistoryEntry>,
    digests: Vec<String>,
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse_doc(source: &str, bytes: &[u8]) -> EvidenceDoc {
    EvidenceDoc::parse(source, bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("{source}: {e}"))
}

/// The advisories of an OSV file, blocked, with its bytes kept.
fn osv_advisories(path: &Path, docs: &mut Documents) -> Vec<BlockedAdvisory> {
    let bytes = read(path);
    let doc = parse_doc(&path.display().to_string(), &bytes);
    let digest = docs.add(blob_kinds::ADVISORY, bytes);
    doc.evidence
        .advisories
        .into_iter()
        .map(|a| BlockedAdvisory {
            advisory: a,
            source: digest.clone(),
        })
        .collect()
}

fn block_rule(id: &str, purl: &str, vers: &str, docs: &mut Documents) -> BlockedAdvisory {
    let rule = BlockRule::new(id, purl, vers, "blocked by the test").unwrap();
    let digest = docs.add(blob_kinds::ADVISORY, rule.to_json());
    BlockedAdvisory {
        advisory: rule.advisory(),
        source: digest,
    }
}

fn kev(docs: &mut Documents) -> (KevCatalog, String) {
    let bytes = read(&examples().join("kev.json"));
    let catalog = KevCatalog::parse(&bytes, "examples/kev.json").unwrap();
    let digest = docs.add(blob_kinds::KEV, bytes);
    (catalog, digest)
}

fn exception(rule: &str, key: &str, artifact: &str, envs: &[&str], expires: &str) -> Exception {
    Exception {
        id: Some(format!("EXC-{rule}-{key}-{expires}")),
        rule: rule.into(),
        key: key.into(),
        artifact: artifact.into(),
        environments: envs.iter().map(|s| s.to_string()).collect(),
        expires: expires.into(),
        reason: "accepted for the test".into(),
        approver: "dana@example.com".into(),
        evidence: None,
    }
}

fn compile(list: Vec<Exception>) -> Vec<CompiledException> {
    list.into_iter()
        .map(|e| CompiledException::compile(e).unwrap())
        .collect()
}

/// The digests artifacts are drawn from: exceptions bind to the first one.
fn artifact_digests() -> Vec<String> {
    vec![
        format!("sha256:{}", "ab".repeat(32)),
        format!("sha256:{}", "9f".repeat(32)),
        format!("sha256:{}", "0c".repeat(32)),
    ]
}

/// The evaluation time limit of the test's configurations. A decision that hits the limit
/// fails closed with an error its replay (on an idle machine) does not reproduce; the
/// debug build on a loaded 2-core CI machine can take seconds to decide, so the
/// configurations give it a minute.
const GENEROUS_TIME_LIMIT: &str = "evaluation:\n  timeout_ms: 60000\n";

/// examples/portcullis.yaml as written, but for the time limit.
fn example_config() -> Config {
    let path = examples().join("portcullis.yaml");
    let text = String::from_utf8(read(&path)).unwrap();
    assert!(
        text.contains("timeout_ms: 2000"),
        "examples/portcullis.yaml changed"
    );
    let text = text.replace("timeout_ms: 2000", "timeout_ms: 60000");
    Config::from_yaml(&text, "examples/portcullis.yaml").unwrap()
}

fn build_fixtures() -> Fixtures {
    let mut docs = Documents::default();
    let mut evidence = Vec::new();
    for rel in EXAMPLE_EVIDENCE {
        let bytes = read(&examples().join(rel));
        evidence.push(parse_doc(&format!("examples/{rel}"), &bytes));
        docs.add(blob_kinds::EVIDENCE, bytes);
    }
    let corpus = corpus();
    if let Some(dir) = &corpus {
        for rel in CORPUS_EVIDENCE {
            let bytes = read(&dir.join(rel));
            evidence.push(parse_doc(&format!("corpus/{rel}"), &bytes));
            docs.add(blob_kinds::EVIDENCE, bytes);
        }
    }

    let sbom = read(&examples().join("evidence/checkout-api.cdx.json"));
    let cut = &sbom[..sbom.len() / 2];
    let err = EvidenceDoc::parse("build/truncated.cdx.json", cut, &Limits::default())
        .expect_err("half an SBOM does not parse");
    let truncated = UnreadableEvidence {
        source: "build/truncated.cdx.json".into(),
        digest: Some(sha256(cut)),
        error: err.to_string(),
    };

    let example_config = example_config();
    let digests = artifact_digests();
    let trivy_digest = evidence[1].digest.clone();

    // 1. The library and the example configuration; nothing else.
    let plain = Firewall::new(PolicyBundle::load(&[]).unwrap(), example_config.clone()).unwrap();

    // 2. A team's policies, the Log4Shell advisory, a block rule, KEV and exceptions (the
    //    example file's, one of which expired in June 2026, and more expiring inside the
    //    range of decision times).
    let mut advisories = osv_advisories(&examples().join("evidence/log4shell.osv.json"), &mut docs);
    advisories.push(block_rule(
        "BLOCK-jackson",
        "pkg:maven/com.fasterxml.jackson.core/jackson-databind",
        "vers:maven/<2.14.0",
        &mut docs,
    ));
    let (catalog, kev_digest) = kev(&mut docs);
    let mut exceptions = exceptions::load_exceptions(&examples().join("exceptions.yaml")).unwrap();
    exceptions.extend(compile(vec![
        exception(
            "PCL-VULN-001",
            "GHSA-jfh8-c2jp-5v3q",
            "registry.example.com/shop/*",
            &["dev", "staging"],
            "2026-12-01T00:00:00Z",
        ),
        exception("PCL-VULN-003", "CVE-2021-44228", "*", &["*"], "2026-11-15"),
        exception(
            "PCL-VULN-002",
            "*",
            &digests[0],
            &["production", "qa-undeclared"],
            "2027-01-10T12:30:00.250Z",
        ),
        Exception {
            evidence: Some(trivy_digest),
            ..exception("PCL-VULN-002", "CVE-*", "*", &["staging"], "2026-12-20")
        },
    ]));
    let team = Firewall::new(
        PolicyBundle::load(&[examples().join("policies")]).unwrap(),
        example_config.clone(),
    )
    .unwrap()
    .with_advisories(advisories)
    .with_kev_from(catalog, &kev_digest)
    .with_exceptions(exceptions);

    // 3. Built-in defaults (no configuration text: every environment protected), the corpus
    //    advisory (or the example one) and a block rule on another ecosystem.
    let mut advisories = match &corpus {
        Some(dir) => osv_advisories(
            &dir.join("advisories/GHSA-jfh8-c2jp-5v3q.osv.json"),
            &mut docs,
        ),
        None => osv_advisories(&examples().join("evidence/log4shell.osv.json"), &mut docs),
    };
    advisories.push(block_rule(
        "BLOCK-log4j-all",
        "pkg:maven/org.apache.logging.log4j/log4j-core",
        "vers:maven/>=2.0-beta9|<2.17.1",
        &mut docs,
    ));
    let defaults = Firewall::new(
        PolicyBundle::load(&[]).unwrap(),
        Config::from_yaml(GENEROUS_TIME_LIMIT, "defaults.yaml").unwrap(),
    )
    .unwrap()
    .with_advisories(advisories)
    .with_exceptions(compile(vec![exception(
        "PCL-VULN-001",
        "*",
        "ghcr.io/acme/*",
        &["*"],
        "2026-12-24T18:00:00Z",
    )]));

    // 4. A configuration written inline, warn-only in staging, with KEV.
    let inline = Config::from_yaml(
        &format!(
            "environments:\n  production: {{ protected: true }}\n  staging: {{ protected: true }}\n  dev: {{ protected: false }}\nrules:\n  PCL-VULN-002:\n    actions: {{ staging: warn }}\n    params: {{ severities: [critical] }}\n{GENEROUS_TIME_LIMIT}"
        ),
        "inline.yaml",
    )
    .unwrap();
    let (catalog, kev_digest) = kev(&mut docs);
    let warnings = Firewall::new(PolicyBundle::load(&[]).unwrap(), inline)
        .unwrap()
        .with_kev_from(catalog, &kev_digest)
        .with_exceptions(compile(vec![exception(
            "PCL-VULN-003",
            "*",
            "registry.example.com/*",
            &["production"],
            "2027-01-01",
        )]));

    let canary: InputVerification =
        serde_json::from_slice(&read(&examples().join("gate/canary-2.4.1.json"))).unwrap();
    let history: Vec<InputHistoryEntry> =
        serde_json::from_slice(&read(&examples().join("gate/history-2.4.1.json"))).unwrap();

    Fixtures {
        docs,
        evidence,
        truncated,
        firewalls: vec![
            ("library", plain),
            ("team", team),
            ("defaults", defaults),
            ("inline", warnings),
        ],
        canary,
        history,
        digests,
    }
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(build_fixtures)
}

// ------------------------------------------------------------------------------------------
// The generator

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

fn seed() -> u64 {
    std::env::var("PORTCULLIS_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026_1123)
}

/// A decision time between 2026-10-01 and 2027-02-01 (across the exceptions' expiries and the
/// year-end freeze), with milliseconds.
fn random_time(rng: &mut Rng) -> DateTime<Utc> {
    let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    let span_ms = 123 * 24 * 3600 * 1000u64;
    start + chrono::Duration::milliseconds((rng.next() % span_ms) as i64)
}

fn random_request(rng: &mut Rng, f: &Fixtures) -> DecisionRequest {
    let artifact = ArtifactId {
        name: rng.pick(ARTIFACT_NAMES).to_string(),
        digest: rng.pick(&f.digests).clone(),
    };
    let mut req = DecisionRequest::new(artifact.clone(), *rng.pick(ENVIRONMENTS));
    req.context = RequestContext {
        pipeline: rng
            .chance(2)
            .then(|| "https://ci.example.com/shop/pipelines/4711".into()),
        stage: rng.chance(2).then(|| "deploy".into()),
        requester: rng.chance(2).then(|| "alice@example.com".into()),
        approver: (!rng.chance(3)).then(|| {
            rng.pick(&["bob@example.com", "alice@example.com"])
                .to_string()
        }),
        change_ref: (!rng.chance(3))
            .then(|| rng.pick(&["CHG-2026-1142", "not-a-ticket"]).to_string()),
        time: Some(random_time(rng)),
        ..Default::default()
    };
    // 0–4 distinct documents (none now and then: nothing offered at all).
    let mut pool: Vec<usize> = (0..f.evidence.len()).collect();
    rng.shuffle(&mut pool);
    let n = if rng.chance(15) { 0 } else { 1 + rng.below(4) };
    for &i in pool.iter().take(n) {
        req.evidence.push(f.evidence[i].clone());
    }
    if rng.chance(8) {
        req.unreadable.push(f.truncated.clone());
    }
    if rng.chance(25) {
        req.unreadable.push(UnreadableEvidence {
            source: "build/missing-scan.json".into(),
            digest: None,
            error: "cannot read: No such file or directory (os error 2) [io]".into(),
        });
    }
    if rng.chance(3) {
        let mut v = f.canary.clone();
        // Scores with decimals: they must survive the stored request exactly.
        v.score = (rng.below(5000) + 5000) as f64 / 100.0 + 0.001 * rng.below(10) as f64;
        v.verdict = rng.pick(&["pass", "fail", "inconclusive"]).to_string();
        v.evidence = Some(sha256(format!("canary {}", v.score).as_bytes()));
        req.verifications.push(v);
    }
    if rng.chance(5) {
        req.exposures.push(InputExposure {
            target: "checkout.example.com".into(),
            check: rng.pick(&["port", "tls", "header"]).to_string(),
            expected: Some("443/tcp".into()),
            observed: Some(rng.pick(&["443/tcp", "8080/tcp"]).to_string()),
            deviation: rng.chance(2),
            message: "observed ports".into(),
            evidence: Some(sha256(b"exposure")),
            ..Default::default()
        });
    }
    if rng.chance(6) {
        req.previous = Some(InputPrevious {
            artifact: InputArtifact {
                name: artifact.name.clone(),
                digest: rng.pick(&f.digests).clone(),
            },
            deployed_at: Some("2026-09-30T08:00:00.000Z".into()),
            findings: Vec::new(),
            ..Default::default()
        });
    }
    if rng.chance(4) {
        req.history = f.history.clone();
        if rng.chance(2) {
            req.history.push(InputHistoryEntry {
                environment: "dev".into(),
                decision: rng.pick(&["allow", "deny"]).to_string(),
                decided_at: "2026-11-01T10:00:00.123Z".into(),
                deployed: rng.chance(2),
                ..Default::default()
            });
        }
    }
    req
}

fn rule_keys(vs: &[Violation]) -> Vec<(String, String)> {
    vs.iter().map(|v| (v.rule.clone(), v.key.clone())).collect()
}

// ------------------------------------------------------------------------------------------
// The acceptance test

const RECORDED: usize = 400;
const REPLAYED: usize = 200;

/// The generated requests and the decisions made on them (made once, recorded on each
/// backend: deciding is the expensive part in a debug build).
struct Generated {
    seed: u64,
    /// Index into [`Fixtures::firewalls`], the request, the decision.
    decisions: Vec<(usize, DecisionRequest, Decision)>,
    /// The decisions to replay (indices), drawn with the same generator.
    picked: Vec<usize>,
}

fn generated() -> &'static Generated {
    static G: OnceLock<Generated> = OnceLock::new();
    G.get_or_init(|| {
        let f = fixtures();
        let seed = seed();
        let mut rng = Rng::new(seed);
        let started = std::time::Instant::now();
        let decisions = (0..RECORDED)
            .map(|_| {
                let which = rng.below(f.firewalls.len());
                let req = random_request(&mut rng, f);
                let d = f.firewalls[which].1.decide(&req);
                (which, req, d)
            })
            .collect();
        eprintln!(
            "seed {seed}: decided {RECORDED} requests in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let mut picked: Vec<usize> = (0..RECORDED).collect();
        rng.shuffle(&mut picked);
        picked.truncate(REPLAYED);
        Generated {
            seed,
            decisions,
            picked,
        }
    })
}

async fn replay_200_random_recorded_decisions(store: Store) {
    let f = fixtures();
    let g = generated();
    let seed = g.seed;
    let started = std::time::Instant::now();
    let mut recorded: Vec<Decision> = Vec::with_capacity(RECORDED);
    let mut which: Vec<&str> = Vec::with_capacity(RECORDED);
    for (fw_index, req, d) in &g.decisions {
        let (name, fw) = &f.firewalls[*fw_index];
        let mut d = d.clone();
        fw.record(&store, req, &mut d, &f.docs)
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: cannot record {}: {e}", d.id));
        assert!(d.chain.is_some(), "record sets the chain");
        recorded.push(d);
        which.push(name);
    }
    eprintln!(
        "{:?}: recorded {RECORDED} decisions in {:.1} s",
        store.backend(),
        started.elapsed().as_secs_f64()
    );

    // The generator covers what it should: both verdicts, exceptions that let violations
    // through and expired ones, unreadable evidence, warnings, every environment.
    let count = |p: &dyn Fn(&Decision) -> bool| recorded.iter().filter(|d| p(d)).count();
    let coverage = [
        ("allow", count(&|d| d.allowed())),
        ("deny", count(&|d| !d.allowed())),
        ("excepted", count(&|d| !d.excepted.is_empty())),
        (
            "expired exception",
            count(&|d| !d.expired_exceptions.is_empty()),
        ),
        ("errors", count(&|d| !d.errors.is_empty())),
        ("warnings", count(&|d| !d.warnings.is_empty())),
        (
            "PCL-VULN-001",
            count(&|d| d.violations.iter().any(|v| v.rule == "PCL-VULN-001")),
        ),
        (
            "PCL-VULN-003",
            count(&|d| {
                d.violations.iter().any(|v| v.rule == "PCL-VULN-003")
                    || d.excepted
                        .iter()
                        .any(|e| e.violation.rule == "PCL-VULN-003")
            }),
        ),
    ];
    eprintln!("coverage: {coverage:?}");
    for (what, n) in coverage {
        assert!(
            n > 0,
            "seed {seed}: no decision with {what} among {RECORDED}"
        );
    }
    for env in ENVIRONMENTS {
        assert!(
            recorded.iter().any(|d| d.environment == *env),
            "no decision for {env}"
        );
    }

    // The chain is intact and each document was stored once.
    store.verify(None).await.expect("the chain verifies");
    let (head, _) = store.head().await.unwrap().unwrap();
    let entries = store.entries(1, head as u64).await.unwrap();
    assert_eq!(
        entries.iter().filter(|e| e.kind == kinds::DECISION).count(),
        RECORDED
    );
    let mut stored: Vec<String> = entries
        .iter()
        .filter(|e| e.kind == kinds::EVIDENCE_STORED)
        .map(|e| {
            let body: serde_json::Value = serde_json::from_str(&e.body).unwrap();
            body["digest"].as_str().unwrap().to_string()
        })
        .collect();
    let n = stored.len();
    stored.sort();
    stored.dedup();
    assert_eq!(stored.len(), n, "a document was stored twice");
    assert_eq!(
        store.decision_ids().await.unwrap(),
        recorded.iter().map(|d| d.id.clone()).collect::<Vec<_>>()
    );

    // 200 of them, at random, replay identically.
    let started = std::time::Instant::now();
    for &i in &g.picked {
        let original = &recorded[i];
        let r = record::replay(&store, &original.id)
            .await
            .unwrap_or_else(|e| {
                panic!("seed {seed}: replay of {} ({}): {e}", original.id, which[i])
            });
        assert!(
            r.differences.is_empty(),
            "seed {seed}: decision #{i} ({} firewall, {}) does not replay: {:#?}",
            which[i],
            original.environment,
            r.differences
        );
        assert_eq!(
            &r.original, original,
            "seed {seed}: the stored decision is the one made"
        );
        assert_eq!(r.replayed.decision, original.decision);
        assert_eq!(
            rule_keys(&r.replayed.violations),
            rule_keys(&original.violations)
        );
        assert_eq!(r.replayed.violations, original.violations);
        // Everything else too, the new id aside.
        let mut replayed = r.replayed.clone();
        assert_ne!(replayed.id, original.id, "a replay is a new decision");
        replayed.id = original.id.clone();
        assert_eq!(
            &replayed, original,
            "seed {seed}: decision #{i} ({} firewall) replays with other details",
            which[i]
        );
    }
    eprintln!(
        "{:?}: replayed {REPLAYED} decisions in {:.1} s",
        store.backend(),
        started.elapsed().as_secs_f64()
    );
}

// ------------------------------------------------------------------------------------------
// What a record holds

/// A request that uses each kind of document: evidence, advisories (OSV and block rule), KEV.
fn log4shell_request(f: &Fixtures, env: &str) -> DecisionRequest {
    let mut req = DecisionRequest::new(
        ArtifactId {
            name: "registry.example.com/shop/checkout-api".into(),
            digest: f.digests[1].clone(),
        },
        env,
    );
    req.context.time = Some(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    req.evidence.push(f.evidence[0].clone()); // checkout-api.cdx.json
    req.evidence.push(f.evidence[1].clone()); // trivy-image.json
    req
}

fn team(f: &Fixtures) -> &Firewall {
    &f.firewalls[1].1
}

async fn record_sets_chain_and_refs_and_load_returns_the_decision(store: Store) {
    let f = fixtures();
    let fw = team(f);
    let req = log4shell_request(f, "staging");
    let mut d = fw.decide(&req);
    assert!(!d.allowed(), "{d:#?}");
    assert!(d.chain.is_none());
    fw.record(&store, &req, &mut d, &f.docs).await.unwrap();
    let chain = d.chain.clone().expect("record sets the chain");

    // The chain position is the decision's entry, and its hash.
    let entry = store.entry(chain.seq).await.unwrap().expect("the entry");
    assert_eq!(entry.kind, kinds::DECISION);
    assert_eq!(entry.hash, chain.hash);
    let (head, head_hash) = store.head().await.unwrap().unwrap();
    assert_eq!((head as u64, head_hash), (chain.seq, chain.hash.clone()));

    // The entry's refs name the decision, its request, the policy bundle, the evidence, the
    // advisories and the KEV catalogue, each stored.
    let body: serde_json::Value = serde_json::from_str(&entry.body).unwrap();
    assert_eq!(body["decision_id"], d.id);
    assert_eq!(body["verdict"], "deny");
    let refs: Vec<String> = serde_json::from_value(body["refs"].clone()).unwrap();
    let row = store
        .decision(&d.id)
        .await
        .unwrap()
        .expect("the decision row");
    assert_eq!(row.seq as u64, chain.seq);
    assert_eq!(row.verdict, "deny");
    let mut want = vec![
        row.decision_digest.clone(),
        row.request_digest.clone(),
        row.policy_bundle.clone(),
    ];
    want.extend(req.evidence.iter().map(|e| e.digest.clone()));
    want.extend(fw.advisories().iter().map(|a| a.source.clone()));
    want.push(sha256(&read(&examples().join("kev.json"))));
    for w in &want {
        assert!(refs.contains(w), "refs {refs:?} lack {w}");
        assert!(store.has_blob(w).await.unwrap(), "{w} is not stored");
    }
    let mut sorted = refs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(refs, sorted, "refs are sorted and unique");
    assert_eq!(body["policy_bundle_digest"], d.policy_bundle_digest);
    assert_eq!(body["decision_digest"], row.decision_digest);
    assert_eq!(body["request_digest"], row.request_digest);

    // The stored decision document is the decision without its chain (it is what the entry
    // hashes over); `load_decision` gives it back with the chain filled.
    let (kind, bytes) = store.blob(&row.decision_digest).await.unwrap().unwrap();
    assert_eq!(kind, blob_kinds::DECISION);
    let doc: Decision = serde_json::from_slice(&bytes).unwrap();
    assert!(doc.chain.is_none());
    let (loaded_row, loaded) = record::load_decision(&store, &d.id).await.unwrap();
    assert_eq!(loaded_row, row);
    assert_eq!(
        loaded, d,
        "load_decision returns the decision made, chain filled"
    );
    let mut without = d.clone();
    without.chain = None;
    assert_eq!(doc, without);

    // The stored request names the same documents, and the policy bundle has the Rego files
    // and the configuration.
    let (_, bytes) = store.blob(&row.request_digest).await.unwrap().unwrap();
    let stored: record::StoredRequest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(stored.version, record::REQUEST_VERSION);
    assert_eq!(stored.environment, "staging");
    assert_eq!(stored.context.time, d.decided_at);
    assert_eq!(stored.policy_bundle, row.policy_bundle);
    assert_eq!(
        stored
            .evidence
            .iter()
            .map(|e| e.digest.clone())
            .collect::<Vec<_>>(),
        req.evidence
            .iter()
            .map(|e| e.digest.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(stored.exceptions.len(), fw.exceptions().len());
    let (_, bytes) = store.blob(&row.policy_bundle).await.unwrap().unwrap();
    let bundle: record::StoredBundle = serde_json::from_slice(&bytes).unwrap();
    // As stored (the configuration's source text is kept beside it, not inside `settings`).
    assert_eq!(
        serde_json::to_value(&bundle).unwrap(),
        serde_json::to_value(fw.stored_bundle()).unwrap()
    );
    assert_eq!(bundle.rego_digest, d.policy_bundle_digest);
    assert!(
        bundle
            .files
            .iter()
            .any(|s| s.path.ends_with("change_reference.rego"))
    );
    assert!(bundle.config.is_some());

    // Deciding again on the same documents stores no document twice: only the decision entry
    // is new.
    let before = store.head().await.unwrap().unwrap().0;
    let production = log4shell_request(f, "production");
    let mut again = fw.decide(&production);
    fw.record(&store, &production, &mut again, &f.docs)
        .await
        .unwrap();
    let after = store.head().await.unwrap().unwrap().0;
    assert_eq!(
        after,
        before + 1,
        "documents already stored get no new entry"
    );
    assert_eq!(again.chain.as_ref().unwrap().seq, after as u64);

    // Both reproduce; the chain verifies.
    for id in [&d.id, &again.id] {
        let r = record::replay(&store, id).await.unwrap();
        assert!(r.differences.is_empty(), "{:?}", r.differences);
        assert_eq!(r.replayed.chain, r.original.chain);
    }
    store.verify(None).await.expect("the chain verifies");

    // An unknown id is an error naming it.
    let e = record::replay(&store, "no-such-decision")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no-such-decision"), "{e}");
}

// ------------------------------------------------------------------------------------------
// Replays that must fail

/// Replace the stored content of document `digest` with other valid zstd content.
async fn swap_blob(store: &Store, digest: &str, other: &[u8]) {
    let compressed = zstd_compress(other);
    let sql = format!(
        "UPDATE blobs SET content = {} WHERE digest = '{digest}'",
        bytes_literal(store, &compressed)
    );
    assert_eq!(
        store.execute_raw(&sql).await.unwrap(),
        1,
        "{digest} is stored"
    );
}

/// zstd without a zstd dependency: the store compresses for us.
fn zstd_compress(raw: &[u8]) -> Vec<u8> {
    portcullis_store::NewBlob::new("test", raw)
        .unwrap()
        .compressed
}

async fn recorded(
    store: &Store,
    f: &Fixtures,
    env: &str,
) -> (Decision, portcullis_store::DecisionRow) {
    let fw = team(f);
    let req = log4shell_request(f, env);
    let mut d = fw.decide(&req);
    fw.record(store, &req, &mut d, &f.docs).await.unwrap();
    let row = store.decision(&d.id).await.unwrap().unwrap();
    // It replays before anyone touches it.
    let r = record::replay(store, &d.id).await.unwrap();
    assert!(r.differences.is_empty(), "{:?}", r.differences);
    (d, row)
}

fn assert_names(e: &RecordError, digest: &str) {
    let message = e.to_string();
    assert!(
        message.contains(digest),
        "the error does not name the document {digest}: {message}"
    );
}

async fn replay_fails_naming_a_tampered_document(store: Store) {
    let f = fixtures();

    // The request of one decision, rewritten to another valid request (another environment):
    // the store's digest check refuses it.
    let (d, row) = recorded(&store, f, "staging").await;
    let (_, bytes) = store.blob(&row.request_digest).await.unwrap().unwrap();
    let mut request: record::StoredRequest = serde_json::from_slice(&bytes).unwrap();
    request.environment = "dev".into();
    swap_blob(
        &store,
        &row.request_digest,
        &serde_json::to_vec(&request).unwrap(),
    )
    .await;
    let e = record::replay(&store, &d.id).await.unwrap_err();
    assert_names(&e, &row.request_digest);
    assert!(e.to_string().contains("does not match its digest"), "{e}");

    // The decisions table (an index) altered to disagree with the audit entry: its verdict,
    // or another decision's document.
    let (d, row) = recorded(&store, f, "dev").await;
    let n = store
        .execute_raw(&format!(
            "UPDATE decisions SET verdict = 'allow' WHERE id = '{}'",
            d.id
        ))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let e = record::load_decision(&store, &d.id).await.unwrap_err();
    // The store refuses the row before the firewall compares it.
    assert!(
        e.to_string().contains("does not match audit entry")
            || e.to_string()
                .contains("does not agree with the audit chain"),
        "{e}"
    );
    assert!(e.to_string().contains(&d.id), "{e}");
    let e = record::replay(&store, &d.id).await.unwrap_err();
    assert!(
        e.to_string().contains("does not match audit entry")
            || e.to_string()
                .contains("does not agree with the audit chain"),
        "{e}"
    );
    let (other, other_row) = recorded(&store, f, "qa-undeclared").await;
    store
        .execute_raw(&format!(
            "UPDATE decisions SET decision_digest = '{}' WHERE id = '{}'",
            row.decision_digest, other.id
        ))
        .await
        .unwrap();
    let e = record::load_decision(&store, &other.id).await.unwrap_err();
    assert!(
        e.to_string().contains("does not match audit entry")
            || e.to_string()
                .contains("does not agree with the audit chain"),
        "{e}"
    );
    assert_ne!(other_row.decision_digest, row.decision_digest);

    // The policy bundle, with a rule removed.
    let (d, row) = recorded(&store, f, "production").await;
    let (_, bytes) = store.blob(&row.policy_bundle).await.unwrap().unwrap();
    let mut bundle: record::StoredBundle = serde_json::from_slice(&bytes).unwrap();
    bundle
        .files
        .retain(|s| !s.path.ends_with("change_reference.rego"));
    swap_blob(
        &store,
        &row.policy_bundle,
        &serde_json::to_vec(&bundle).unwrap(),
    )
    .await;
    let e = record::replay(&store, &d.id).await.unwrap_err();
    assert_names(&e, &row.policy_bundle);

    // An evidence document, in a decision of the library firewall (another policy bundle, so
    // that the broken one above is not read first).
    let plain = &f.firewalls[0].1;
    let req = log4shell_request(f, "dev");
    let mut d = plain.decide(&req);
    plain.record(&store, &req, &mut d, &f.docs).await.unwrap();
    let sbom = req.evidence[0].digest.clone();
    let mut other = read(&examples().join("evidence/clean/checkout-api-2.4.1.cdx.json"));
    other.extend_from_slice(b"\n");
    swap_blob(&store, &sbom, &other).await;
    let e = record::replay(&store, &d.id).await.unwrap_err();
    assert_names(&e, &sbom);

    // The decision document itself.
    let row = store.decision(&d.id).await.unwrap().unwrap();
    let (_, bytes) = store.blob(&row.decision_digest).await.unwrap().unwrap();
    let mut doc: Decision = serde_json::from_slice(&bytes).unwrap();
    doc.decision = Verdict::Allow;
    doc.violations.clear();
    swap_blob(
        &store,
        &row.decision_digest,
        &serde_json::to_vec(&doc).unwrap(),
    )
    .await;
    let e = record::load_decision(&store, &d.id).await.unwrap_err();
    assert_names(&e, &row.decision_digest);
    let e = record::replay(&store, &d.id).await.unwrap_err();
    assert_names(&e, &row.decision_digest);

    // A document that is gone.
    let plain_req = {
        let mut r = log4shell_request(f, "staging");
        // trivy-image.json (intact) and semgrep.json (not stored yet).
        r.evidence = vec![f.evidence[1].clone(), f.evidence[2].clone()];
        r
    };
    let mut d = plain.decide(&plain_req);
    plain
        .record(&store, &plain_req, &mut d, &f.docs)
        .await
        .unwrap();
    let semgrep = plain_req.evidence[1].digest.clone();
    let n = store
        .execute_raw(&format!("DELETE FROM blobs WHERE digest = '{semgrep}'"))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let e = record::replay(&store, &d.id).await.unwrap_err();
    assert_names(&e, &semgrep);
    assert!(e.to_string().contains("not in the store"), "{e}");
}

async fn record_refuses_documents_whose_bytes_were_not_kept(store: Store) {
    let f = fixtures();
    let fw = team(f);
    let req = log4shell_request(f, "staging");

    // Evidence whose bytes the caller did not keep.
    let mut docs = Documents::default();
    let mut d = fw.decide(&req);
    let e = fw.record(&store, &req, &mut d, &docs).await.unwrap_err();
    assert!(e.to_string().contains(&req.evidence[0].digest), "{e}");
    assert!(d.chain.is_none());

    // Advisories and KEV whose bytes were not kept.
    for ev in &req.evidence {
        let bytes = f.docs.get(&ev.digest).unwrap().to_vec();
        docs.add(blob_kinds::EVIDENCE, bytes);
    }
    let e = fw.record(&store, &req, &mut d, &docs).await.unwrap_err();
    assert!(e.to_string().contains("advisory document"), "{e}");
    for a in fw.advisories() {
        docs.add(
            blob_kinds::ADVISORY,
            f.docs.get(&a.source).unwrap().to_vec(),
        );
    }
    let e = fw.record(&store, &req, &mut d, &docs).await.unwrap_err();
    assert!(e.to_string().contains("KEV catalogue"), "{e}");
    assert!(
        store.decision(&d.id).await.unwrap().is_none(),
        "nothing is recorded when a document is missing"
    );
    docs.add(blob_kinds::KEV, read(&examples().join("kev.json")));
    fw.record(&store, &req, &mut d, &docs).await.unwrap();
    assert!(d.chain.is_some());
}

/// A caller that passes a time finer than milliseconds (or none: `Utc::now()`) must still get
/// a decision that replays: the time decided at has to be the time recorded.
async fn replay_decides_at_the_exact_request_time(store: Store) {
    let f = fixtures();
    let expiry = "2026-12-01T00:00:00.000500Z";
    let fw = Firewall::new(PolicyBundle::load(&[]).unwrap(), Config::default())
        .unwrap()
        .with_exceptions(compile(vec![Exception {
            id: Some("EXC-SUBMS".into()),
            ..exception("PCL-VULN-001", "*", "*", &["*"], expiry)
        }]));
    let fw = {
        let mut docs = Documents::default();
        let adv = osv_advisories(&examples().join("evidence/log4shell.osv.json"), &mut docs);
        fw.with_advisories(adv)
    };
    let mut req = log4shell_request(f, "staging");
    // 0.7 ms past midnight: the exception expired 0.2 ms earlier.
    req.context.time = Some(
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + chrono::Duration::microseconds(700),
    );
    let mut d = fw.decide(&req);
    assert!(
        !d.expired_exceptions.is_empty() || !d.excepted.is_empty(),
        "the exception is in scope: {d:#?}"
    );
    fw.record(&store, &req, &mut d, &f.docs).await.unwrap();
    let r = record::replay(&store, &d.id).await.unwrap();
    assert!(
        r.differences.is_empty(),
        "decided at {:?}, recorded as {}: the replay differs: {:#?}",
        req.context.time,
        d.decided_at,
        r.differences
    );
}

/// `Config`'s fields are public: a caller may build or adjust one in code. The record must keep
/// the configuration decided with, not only the text it was read from.
async fn replay_uses_a_configuration_built_in_code(store: Store) {
    let f = fixtures();
    let mut config = Config::from_yaml(GENEROUS_TIME_LIMIT, "built-in-code.yaml").unwrap();
    config.environments.insert(
        "dev".into(),
        config::EnvironmentConfig {
            protected: false,
            ..Default::default()
        },
    );
    let fw = Firewall::new(PolicyBundle::load(&[]).unwrap(), config).unwrap();
    let req = log4shell_request(f, "dev");
    let mut d = fw.decide(&req);
    fw.record(&store, &req, &mut d, &f.docs).await.unwrap();
    let r = record::replay(&store, &d.id).await.unwrap();
    assert!(
        r.differences.is_empty(),
        "decided with dev declared unprotected, replayed without: {:#?}",
        r.differences
    );
}

/// The manifests of the request and the Gatekeeper documents in force are on the record: a
/// replay reaches the same Gatekeeper and Kubernetes violations.
async fn replay_reproduces_manifests_and_gatekeeper_constraints(store: Store) {
    let f = fixtures();
    let template = "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata: {name: t}\nspec:\n  crd: {spec: {names: {kind: K8sNoHostPid}}}\n  targets:\n  - target: admission.k8s.gatekeeper.sh\n    rego: |\n      package k8snohostpid\n      violation[{\"msg\": \"host PID\"}] { input.review.object.spec.hostPID }\n---\napiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sNoHostPid\nmetadata: {name: no-host-pid}\n";
    let gk = portcullis_policy::gatekeeper::Gatekeeper::from_sources(vec![(
        "gk.yaml".into(),
        template.into(),
    )])
    .unwrap();
    let fw = Firewall::new(PolicyBundle::load(&[]).unwrap(), Config::default())
        .unwrap()
        .with_gatekeeper(gk);
    let mut req = log4shell_request(f, "staging");
    req.manifests = parse_manifests(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: true\n  containers: [{name: c, image: 'x:latest', securityContext: {privileged: true}}]\n",
    )
    .unwrap();
    let mut d = fw.decide(&req);
    assert!(
        d.violations
            .iter()
            .any(|v| v.rule == "GK.K8sNoHostPid.no-host-pid"),
        "{:#?}",
        d.violations
    );
    assert!(d.violations.iter().any(|v| v.rule == "PCL-K8S-001"));
    fw.record(&store, &req, &mut d, &f.docs).await.unwrap();
    let r = record::replay(&store, &d.id).await.unwrap();
    assert!(r.differences.is_empty(), "{:#?}", r.differences);
    assert_eq!(r.replayed.gatekeeper_digest, d.gatekeeper_digest);
}

/// The trusted keys are on the record: a replay verifies the attestation with the same keys,
/// whatever keys the replaying machine has, and reaches the same verdict and signer.
async fn replay_verifies_attestations_with_the_recorded_keys(store: Store) {
    let key = std::fs::read_to_string(examples().join("keys/demo-ci.pub")).unwrap();
    let (trust, refused) = AttestationTrust::from_files(vec![record::StoredFile {
        path: "keys/demo-ci.pub".into(),
        text: key,
    }]);
    assert!(refused.is_empty(), "{refused:?}");
    let fw = Firewall::new(PolicyBundle::load(&[]).unwrap(), Config::default())
        .unwrap()
        .with_trust(trust);
    let mut docs = Documents::default();
    let bytes = read(&examples().join("evidence/checkout-api.intoto.jsonl"));
    docs.add(blob_kinds::EVIDENCE, bytes.clone());
    let mut req = DecisionRequest::new(
        ArtifactId::parse(
            "registry.example.com/shop/checkout-api@sha256:9f3c1d0a8e5b7c2f4a6d8e0b1c3f5a7d9e1b3c5f7a9d1e3b5c7f9a1d3e5b7c9f",
        )
        .unwrap(),
        "production",
    );
    req.context.time = Some(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    req.evidence
        .push(parse_doc("checkout-api.intoto.jsonl", &bytes));
    let mut d = fw.decide(&req);
    assert_eq!(d.attestations.len(), 1);
    assert!(d.attestations[0].verified, "{:#?}", d.attestations);
    assert_eq!(d.attestations[0].signer.as_deref(), Some("demo-ci"));
    assert!(
        !d.violations.iter().any(|v| v.rule == "PCL-PROV-001"),
        "{:#?}",
        d.violations
    );
    fw.record(&store, &req, &mut d, &docs).await.unwrap();
    let r = record::replay(&store, &d.id).await.unwrap();
    assert!(r.differences.is_empty(), "{:#?}", r.differences);
    assert!(r.replayed.attestations[0].verified);
    assert_eq!(
        r.replayed.attestations[0].signer.as_deref(),
        Some("demo-ci")
    );

    // Without the keys the same evidence does not verify, and compare says so.
    let unkeyed = Firewall::new(PolicyBundle::load(&[]).unwrap(), Config::default()).unwrap();
    let other = unkeyed.decide(&req);
    assert!(!other.attestations[0].verified);
    assert_eq!(
        other.attestations[0].failure.as_deref(),
        Some("no_trust_configured")
    );
    let diffs = record::compare(&d, &other);
    assert!(
        diffs
            .iter()
            .any(|x| x == "attestation verification differs"),
        "{diffs:#?}"
    );
}

// ------------------------------------------------------------------------------------------
// compare: what a replay reports when the decision comes out differently

/// A rule a changed library might add: it flags every artifact.
const EXTRA_RULE: &str = r#"package portcullis.rules.test.always

metadata := {
	"id": "TEST-001",
	"title": "Always",
	"description": "Flags every deployment (a library that changed).",
	"category": "business",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "enforce"},
	"controls": {"nist-800-53": [], "hipaa": [], "slsa": []},
	"remediation": "None.",
	"params": {},
}

violation contains v if {
	v := {"key": input.artifact.digest, "message": "always"}
}
"#;

#[test]
fn compare_reports_what_a_changed_library_decides_differently() {
    let f = fixtures();
    let plain = &f.firewalls[0].1;
    let mut req = DecisionRequest::new(
        ArtifactId {
            name: "registry.example.com/shop/checkout-api".into(),
            digest: f.digests[2].clone(),
        },
        "dev",
    );
    req.context.time = Some(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    req.evidence.push(f.evidence[5].clone()); // the clean SBOM
    let recorded = plain.decide(&req);
    assert!(recorded.allowed(), "{:#?}", recorded.violations);
    assert!(record::compare(&recorded, &recorded.clone()).is_empty());
    let mut other_id = recorded.clone();
    other_id.id = "another".into();
    other_id.chain = Some(ChainRef {
        seq: 7,
        hash: "sha256:00".into(),
    });
    assert!(
        record::compare(&recorded, &other_id).is_empty(),
        "ids and chain positions are not differences"
    );

    // The same request decided by a firewall whose library gained a rule.
    let mut sources = PolicyBundle::builtin_sources();
    sources.push(PolicySource {
        path: "test/always.rego".into(),
        text: EXTRA_RULE.into(),
    });
    let changed = Firewall::new(
        PolicyBundle::from_sources(sources).unwrap(),
        example_config(),
    )
    .unwrap();
    let replayed = changed.decide(&req);
    let diff = record::compare(&recorded, &replayed);
    let key = &f.digests[2];
    for want in [
        "decision: recorded allow, replayed deny".to_string(),
        format!("violation TEST-001 {key}: replayed, not recorded"),
        format!(
            "policy bundle: recorded {}, replayed {}",
            recorded.policy_bundle_digest, replayed.policy_bundle_digest
        ),
    ] {
        assert!(diff.contains(&want), "{want:?} not in {diff:#?}");
    }
    // And the other way round.
    let diff = record::compare(&replayed, &recorded);
    assert!(
        diff.contains(&"decision: recorded deny, replayed allow".to_string()),
        "{diff:#?}"
    );
    assert!(
        diff.contains(&format!("violation TEST-001 {key}: recorded, not replayed")),
        "{diff:#?}"
    );

    // Each field compare looks at, changed on its own.
    let base = changed.decide(&req);
    let v = base.violations[0].clone();
    type Edit = Box<dyn Fn(&mut Decision)>;
    let cases: Vec<(&str, Edit, String)> = vec![
        (
            "a violation's message",
            Box::new(|d: &mut Decision| d.violations[0].message = "changed".into()),
            format!("violation TEST-001 {key}: recorded and replayed differ in detail"),
        ),
        (
            "a warning",
            Box::new(move |d: &mut Decision| d.warnings.push(v.clone())),
            format!("warning TEST-001 {key}: replayed, not recorded"),
        ),
        (
            "the errors",
            Box::new(|d: &mut Decision| d.errors.push("rule X could not be evaluated".into())),
            "errors: recorded [], replayed [\"rule X could not be evaluated\"]".into(),
        ),
        (
            "the evidence read",
            Box::new(|d: &mut Decision| d.evidence.clear()),
            "evidence read differs".into(),
        ),
        (
            "the decision time",
            Box::new(|d: &mut Decision| d.decided_at = "2026-11-23T12:00:00.001Z".into()),
            "decision time: recorded 2026-11-23T12:00:00.000Z, replayed 2026-11-23T12:00:00.001Z"
                .into(),
        ),
        (
            "the excepted violations",
            Box::new(|d: &mut Decision| {
                let v = d.violations.remove(0);
                d.excepted.push(Excepted {
                    violation: v,
                    exception: exception("TEST-001", "*", "*", &["*"], "2027-01-01"),
                });
            }),
            "excepted violations differ".into(),
        ),
        (
            "the expired exceptions",
            Box::new(|d: &mut Decision| {
                d.expired_exceptions.push(ExpiredException {
                    rule: "TEST-001".into(),
                    key: "k".into(),
                    exception: exception("TEST-001", "*", "*", &["*"], "2026-01-01"),
                })
            }),
            "expired exceptions differ".into(),
        ),
    ];
    for (what, change, want) in cases {
        let mut other = base.clone();
        change(&mut other);
        let diff = record::compare(&base, &other);
        assert!(
            diff.contains(&want),
            "changing {what}: {want:?} not in {diff:#?}"
        );
    }
}
