//! Reusing rule results on evidence seen before (`crates/firewall/src/reuse.rs`) must never
//! change a decision, and the engine values built straight from Rust data must be those of the
//! JSON round trip they replaced. Any difference is a bug to fix, never a case to skip.
//!
//! - every evidence file of the shared corpus (and the README's example evidence), decided in
//!   a sequence of requests by a firewall that reuses results and by one that keeps nothing:
//!   the decisions must be equal;
//! - a seeded generator of inputs (`PORTCULLIS_REUSE_SEED`, `PORTCULLIS_REUSE_CASES`, default
//!   2,000): policy inputs of real evidence, mutated — values swapped for values seen at the
//!   same place in other inputs, elements dropped and duplicated, fields removed, types broken —
//!   then changed again in fields a rule does not read (by `portcullis_policy::deps`); the
//!   rule's violations must not change.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use portcullis_evidence::Limits;
use portcullis_firewall::*;
use portcullis_policy::{EvalLimits, PolicyBundle, PolicySet, RawViolation};
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use serde_json::Value as Json;

#[path = "support/cases.rs"]
mod case_files;

const CONFIG: &str =
    "environments:\n  production: { protected: true }\n  dev: { protected: false }\n";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Evidence directories of the shared corpus (everything but policy libraries, logs and specs
/// that are not evidence).
const CORPUS_DIRS: [&str; 8] = [
    "advisories",
    "cyclonedx-examples",
    "cyclonedx-spec",
    "delivery",
    "osv",
    "scanners",
    "slsa-provenance",
    "spdx-examples",
];

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            files_under(&p, out);
        } else if p.metadata().is_ok_and(|m| m.len() <= 32 << 20) {
            out.push(p);
        }
    }
}

fn advisories(limits: &Limits) -> Vec<BlockedAdvisory> {
    let path = repo().join("examples/evidence/log4shell.osv.json");
    let bytes = std::fs::read(&path).unwrap();
    let doc = EvidenceDoc::parse("log4shell.osv.json", &bytes, limits).unwrap();
    doc.evidence
        .advisories
        .iter()
        .map(|a| BlockedAdvisory {
            advisory: a.clone(),
            source: doc.digest.clone(),
        })
        .collect()
}

fn firewall(limits: &Limits) -> Firewall {
    let config = Config::from_yaml(CONFIG, "test config").unwrap();
    let kev_path = repo().join("examples/kev.json");
    let kev = KevCatalog::parse(&std::fs::read(&kev_path).unwrap(), "kev.json").unwrap();
    Firewall::new(PolicyBundle::builtin().unwrap(), config)
        .unwrap()
        .with_advisories(advisories(limits))
        .with_kev(kev)
}

fn request_time() -> Option<chrono::DateTime<chrono::Utc>> {
    Some(
        chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    )
}

fn request(doc: EvidenceDoc, env: &str) -> DecisionRequest {
    let artifact = ArtifactId::parse(&format!(
        "registry.example.com/shop/checkout-api@sha256:{}",
        "ab".repeat(32)
    ))
    .unwrap();
    let mut req = DecisionRequest::new(artifact, env.to_string());
    req.context.time = request_time();
    req.evidence.push(doc);
    req
}

/// The same decision from a firewall that reuses results and one that keeps nothing.
fn decide_alike(
    cached: &Firewall,
    fresh: &Firewall,
    req: &DecisionRequest,
    what: &str,
) -> Decision {
    let reused = cached.decide(req);
    let mut computed = fresh.decide(req);
    computed.id = reused.id.clone();
    let a = without_timings(&serde_json::to_string_pretty(&reused).unwrap());
    let b = without_timings(&serde_json::to_string_pretty(&computed).unwrap());
    if a != b {
        let diff: Vec<String> = a
            .lines()
            .zip(b.lines())
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .take(10)
            .map(|(i, (x, y))| format!("line {}:\n  reused:   {x}\n  computed: {y}", i + 1))
            .collect();
        panic!(
            "{what}: reusing rule results changed the decision:\n{}",
            diff.join("\n")
        );
    }
    reused
}

/// `text` without the elapsed times of time-limit errors (they differ from run to run).
fn without_timings(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("(elapsed=") {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match rest.find(')') {
            Some(j) => rest = &rest[j + 1..],
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// The requests of one evidence set a firewall sees in turn: the gate to production, another
/// environment, a later gate with other people and time, and the first again.
fn sequence(doc: &EvidenceDoc) -> Vec<DecisionRequest> {
    let first = request(doc.clone(), "production");
    let dev = request(doc.clone(), "dev");
    let mut later = request(doc.clone(), "production");
    later.context.time = Some(
        chrono::DateTime::parse_from_rfc3339("2027-03-01T08:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    );
    later.context.requester = Some("someone-else".into());
    later.context.change_ref = Some("CHG-42".into());
    vec![first.clone(), dev, later, first]
}

/// The input value built from Rust data must be the one the JSON round trip gives.
fn values_alike(fw: &Firewall, req: &DecisionRequest, what: &str) -> Json {
    let input = fw.policy_input(req);
    let direct = portcullis_policy::value::to_value(&input).unwrap();
    let via_json = portcullis_policy::bundle::input_value_via_json(&input).unwrap();
    assert!(direct == via_json, "{what}: the engine values differ");
    serde_json::to_value(&input).unwrap()
}

/// Inputs of real evidence, for the generator: every corpus file that parses as evidence.
fn corpus_inputs(seeds: &mut Vec<Json>) -> usize {
    let Some(corpus) = portcullis_testkit::corpus("RVM differential test", "") else {
        return 0;
    };
    let limits = Limits::default();
    let cached = firewall(&limits);
    let fresh = firewall(&limits).with_evidence_cache(0);
    let mut files = Vec::new();
    for d in CORPUS_DIRS {
        files_under(&corpus.join(d), &mut files);
    }
    let mut parsed = 0;
    let mut fired = BTreeSet::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path.strip_prefix(&corpus).unwrap().display().to_string();
        let Ok(doc) = EvidenceDoc::parse(&name, &bytes, &limits) else {
            continue;
        };
        parsed += 1;
        for (n, req) in sequence(&doc).iter().enumerate() {
            let d = decide_alike(&cached, &fresh, req, &format!("{name}, request {n}"));
            fired.extend(
                d.violations
                    .iter()
                    .chain(&d.warnings)
                    .map(|v| v.rule.clone()),
            );
        }
        seeds.push(values_alike(&cached, &request(doc, "production"), &name));
    }
    eprintln!(
        "corpus: {} files, {parsed} parsed as evidence, each decided alike in 4 requests with \
         and without reuse; rules that fired: {}",
        files.len(),
        fired.len()
    );
    assert!(
        parsed >= 200,
        "only {parsed} corpus files parsed as evidence: the corpus is not where it should be"
    );
    parsed
}

/// Inputs of the repository's example evidence (the README's gate) and the benchmark shape.
fn example_inputs(seeds: &mut Vec<Json>) {
    let limits = Limits::default();
    let cached = firewall(&limits);
    let fresh = firewall(&limits).with_evidence_cache(0);
    let dir = repo().join("examples/evidence");
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    let artifact = ArtifactId::parse(&format!(
        "registry.example.com/shop/checkout-api@sha256:{}",
        "ab".repeat(32)
    ))
    .unwrap();
    let mut all = DecisionRequest::new(artifact, "production");
    all.context.time = request_time();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path.strip_prefix(&dir).unwrap().display().to_string();
        if let Ok(doc) = EvidenceDoc::parse(&name, &bytes, &limits) {
            all.evidence.push(doc);
        }
    }
    for env in ["production", "dev", "production"] {
        let mut req = all.clone();
        req.environment = env.into();
        decide_alike(
            &cached,
            &fresh,
            &req,
            &format!("examples/evidence in {env}"),
        );
        seeds.push(values_alike(&cached, &req, "examples/evidence"));
    }
}

/// Every decision case of `tests/cases`, decided in turn as given, in another environment, later
/// with other people, and as given again — by a firewall that reuses results and by one that
/// keeps nothing. Their inputs join the generator's seeds (they make every rule fire).
fn case_inputs(seeds: &mut Vec<Json>) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    files.retain(|p| p.extension().is_some_and(|x| x == "yaml"));
    for path in &files {
        let name = path.strip_prefix(&dir).unwrap().display().to_string();
        let loaded = case_files::load(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let fresh = case_files::load(path).unwrap().fw.with_evidence_cache(0);
        let (cached, req) = (loaded.fw, loaded.req);
        let mut other = req.clone();
        other.environment = if req.environment == "dev" {
            "production"
        } else {
            "dev"
        }
        .into();
        let mut later = req.clone();
        later.context.time = later.context.time.map(|t| t + chrono::Duration::days(3));
        later.context.requester = Some("someone-else".into());
        for (n, r) in [&req, &other, &later, &req].into_iter().enumerate() {
            decide_alike(&cached, &fresh, r, &format!("case {name}, request {n}"));
        }
        seeds.push(serde_json::to_value(cached.policy_input(&req)).unwrap());
        values_alike(&cached, &req, &name);
    }
    assert!(files.len() >= 100, "only {} decision cases", files.len());
    files.len()
}

#[test]
fn decision_cases_decide_alike_with_and_without_reuse() {
    let mut seeds = Vec::new();
    let n = case_inputs(&mut seeds);
    eprintln!("{n} decision cases, each decided alike in 4 requests with and without reuse");
}

#[test]
fn corpus_and_examples_decide_alike_with_and_without_reuse() {
    let mut seeds = Vec::new();
    example_inputs(&mut seeds);
    corpus_inputs(&mut seeds);
}

/// Every value seen at each place (object keys joined, array indices dropped) in the seeds.
fn pools(seeds: &[Json]) -> BTreeMap<String, Vec<Json>> {
    fn walk(v: &Json, path: &str, out: &mut BTreeMap<String, BTreeSet<String>>) {
        // Kept as JSON text so that the pool is a set; small values only.
        let text = v.to_string();
        if text.len() <= 4096 {
            out.entry(path.to_string()).or_default().insert(text);
        }
        match v {
            Json::Object(m) => {
                for (k, x) in m {
                    walk(x, &format!("{path}.{k}"), out);
                }
            }
            Json::Array(a) => {
                for x in a {
                    walk(x, &format!("{path}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut sets = BTreeMap::new();
    for s in seeds {
        walk(s, "", &mut sets);
    }
    sets.into_iter()
        .map(|(k, v)| {
            (
                k,
                v.into_iter()
                    .map(|t| serde_json::from_str(&t).unwrap())
                    .collect(),
            )
        })
        .collect()
}

/// Values that break types or hit edge cases, used now and then.
fn odd_value(rng: &mut impl RngExt) -> Json {
    let odd = [
        Json::Null,
        Json::Bool(true),
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(1e300),
        serde_json::json!(0.5),
        serde_json::json!(""),
        serde_json::json!("CRITICAL"),
        serde_json::json!("critical"),
        serde_json::json!("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
        serde_json::json!("2026-11-23T12:00:00Z"),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!(["a", 1, null]),
    ];
    odd.choose(rng).cloned().unwrap_or(Json::Null)
}

/// Apply one random mutation somewhere in `v`.
fn mutate(v: &mut Json, path: &str, pools: &BTreeMap<String, Vec<Json>>, rng: &mut impl RngExt) {
    // Go down with some probability while there is somewhere to go.
    let descend = rng.random_bool(0.8);
    match v {
        Json::Object(m) if descend && !m.is_empty() => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = keys.choose(rng).unwrap().clone();
            if rng.random_bool(0.05) {
                m.remove(&k);
                return;
            }
            let child = m.get_mut(&k).unwrap();
            mutate(child, &format!("{path}.{k}"), pools, rng);
        }
        Json::Array(a) if descend && !a.is_empty() => {
            let i = rng.random_range(0..a.len());
            match rng.random_range(0..10) {
                0 => {
                    a.remove(i);
                }
                1 => {
                    let x = a[i].clone();
                    a.push(x);
                }
                _ => mutate(&mut a[i], &format!("{path}[]"), pools, rng),
            }
        }
        _ => {
            if rng.random_bool(0.07) {
                *v = odd_value(rng);
            } else if let Some(pool) = pools.get(path)
                && let Some(x) = pool.choose(rng)
            {
                *v = x.clone();
            } else if let Json::Bool(b) = v {
                *b = !*b;
            }
        }
    }
}

fn outcome(r: &portcullis_policy::RuleResult) -> Result<Vec<String>, String> {
    match &r.outcome {
        Ok(vs) => {
            let mut vs: Vec<RawViolation> = vs.clone();
            vs.sort_by(|a, b| a.key.cmp(&b.key).then(a.message.cmp(&b.message)));
            Ok(vs.iter().map(|v| format!("{v:?}")).collect())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn generated_inputs_respect_the_found_dependencies() {
    let mut seeds = Vec::new();
    example_inputs(&mut seeds);
    let corpus = corpus_inputs(&mut seeds);
    case_inputs(&mut seeds);
    let cases: usize = std::env::var("PORTCULLIS_REUSE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("PORTCULLIS_REUSE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_0021);
    let pools = pools(&seeds);
    // A generous time limit: the inputs are small, but a debug build on a busy machine must
    // not run out of time before the last rules (a time limit is never reused anyway).
    let set = PolicySet::new(
        PolicyBundle::builtin().unwrap(),
        &BTreeMap::new(),
        EvalLimits {
            timeout: std::time::Duration::from_secs(120),
        },
    )
    .unwrap();
    let rules = set.bundle().rules().to_vec();
    let top: Vec<String> = seeds[0].as_object().unwrap().keys().cloned().collect();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut checked: BTreeMap<String, usize> = BTreeMap::new();
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    for case in 0..cases {
        let mut a = seeds.choose(&mut rng).unwrap().clone();
        for _ in 0..rng.random_range(1..=12) {
            mutate(&mut a, "", &pools, &mut rng);
        }
        if !a.is_object() {
            // The whole input replaced by an odd value: nothing to change field by field.
            continue;
        }
        // B: A with some top-level fields taken from another seed, or mutated further.
        let mut b = a.clone();
        let mut changed = BTreeSet::new();
        for _ in 0..rng.random_range(1..=3) {
            let field = top.choose(&mut rng).unwrap().clone();
            let other = seeds.choose(&mut rng).unwrap();
            let obj = b.as_object_mut().unwrap();
            if rng.random_bool(0.5) {
                obj.insert(field.clone(), other[&field].clone());
            } else if let Some(v) = obj.get_mut(&field) {
                mutate(v, &format!(".{field}"), &pools, &mut rng);
            }
            changed.insert(field);
        }
        // The direct conversion of any JSON value is the JSON round trip's.
        let va = portcullis_policy::value::to_value(&a).unwrap();
        let vb = portcullis_policy::value::to_value(&b).unwrap();
        assert!(
            va == regorus_round_trip(&a),
            "case {case}: direct and JSON values differ"
        );
        let ra = set.evaluate_value(Ok(va), &|_, _| true);
        let rb = set.evaluate_value(Ok(vb), &|_, _| true);
        for (x, y) in ra.iter().zip(&rb) {
            let rule = &rules[x.rule];
            let id = rule.meta.id.clone();
            if matches!(&x.outcome, Ok(v) if !v.is_empty()) {
                *fired.entry(id.clone()).or_default() += 1;
            }
            let Some(reads) = &rule.reads else {
                continue;
            };
            if reads.iter().any(|f| changed.contains(f)) {
                continue;
            }
            *checked.entry(id.clone()).or_default() += 1;
            assert_eq!(
                outcome(x),
                outcome(y),
                "case {case} (PORTCULLIS_REUSE_SEED={seed}): rule {id} reads {reads:?}, yet \
                 changing {changed:?} changed its result.\nA: {}\nB: {}",
                serde_json::to_string(&a).unwrap(),
                serde_json::to_string(&b).unwrap()
            );
        }
    }
    eprintln!(
        "{cases} generated pairs from {} seeds ({corpus} of the corpus); checks per rule: \
         {checked:?}; rules that fired: {fired:?}",
        seeds.len()
    );
    // Every rule was checked, and the generator reaches the rules (or agreement says little).
    for rule in &rules {
        assert!(
            checked.get(&rule.meta.id).copied().unwrap_or(0) >= cases / 10,
            "rule {} checked too rarely: {checked:?}",
            rule.meta.id
        );
    }
    let silent: Vec<&str> = rules
        .iter()
        .map(|r| r.meta.id.as_str())
        .filter(|id| !fired.contains_key(*id))
        .collect();
    assert!(
        silent.len() * 4 <= rules.len(),
        "the generated inputs made too few rules fire; silent: {silent:?}"
    );
}

fn regorus_round_trip(v: &Json) -> regorus::Value {
    regorus::Value::from_json_str(&v.to_string()).unwrap()
}
