//! `Firewall::decide` on the issue-3 bundle (1,000 components, 300 findings, 50 matched
//! advisories, 2 attestations), with the built-in library. Latency percentiles and throughput on
//! 2 threads come from the `decide_load` example (docs/benchmarks.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{Criterion, criterion_group, criterion_main};

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/bundle.rs"]
mod bundle;

use portcullis_firewall::{EvidenceDoc, diff};

fn decide(c: &mut Criterion) {
    // The cache on: criterion repeats the same request (the warm path of docs/benchmarks.md).
    let (fw, req) = bundle::setup(true);
    let d = fw.decide(&req);
    let input = fw.policy_input(&req);
    assert_eq!(input.components.len(), bundle::COMPONENTS);
    assert_eq!(input.findings.len(), bundle::FINDINGS);
    assert_eq!(input.advisories.len(), bundle::ADVISORIES);
    assert_eq!(input.attestations.len(), 2);
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let mut g = c.benchmark_group("decide");
    g.bench_function("decide_1000c_300f_50a_2att", |b| b.iter(|| fw.decide(&req)));
    // The same warm decision evaluating every rule (the path before rule results were reused).
    let (every_rule, every_rule_req) = bundle::setup(true);
    let every_rule = every_rule.with_result_reuse(false);
    g.bench_function("decide_1000c_300f_50a_2att_no_reuse", |b| {
        b.iter(|| every_rule.decide(&every_rule_req))
    });
    g.bench_function("policy_input_only", |b| b.iter(|| fw.policy_input(&req)));
    // Converting the input for the engine: built straight from the Rust data (what decisions
    // do) and the JSON text round trip it replaced, on the same input.
    g.bench_function("input_value_direct", |b| {
        b.iter(|| portcullis_policy::value::to_value(&input).unwrap())
    });
    g.bench_function("input_value_via_json", |b| {
        b.iter(|| portcullis_policy::bundle::input_value_via_json(&input).unwrap())
    });

    // The diff against what runs (docs/diff.md): redeploying the same evidence (nothing
    // changes), and against an unrelated small artifact (1,000 components added, 300 findings
    // new: the largest diff this bundle gives). The baseline side is read once, as a server's
    // cache keeps it; `decide` reuses the diff computed for the same evidence and baseline.
    let baseline = |docs: Vec<EvidenceDoc>| {
        diff::Baseline::known(
            portcullis_policy::input::InputDiffBaseline::default(),
            std::sync::Arc::new(diff::BaselineSide::from_docs(docs, "", None)),
        )
    };
    let mut redeploy = req.clone();
    redeploy.baseline = Some(baseline(req.evidence.clone()));
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diff");
    let small: Vec<EvidenceDoc> = [
        "base.cdx.xml",
        "base.grype.json",
        "base.provenance.intoto.jsonl",
    ]
    .iter()
    .map(|f| {
        let bytes = std::fs::read(fixtures.join(f)).unwrap();
        EvidenceDoc::parse(f, &bytes, &portcullis_evidence::Limits::default()).unwrap()
    })
    .collect();
    let all_new_baseline = baseline(small);
    let mut all_new = req.clone();
    all_new.baseline = Some(all_new_baseline.clone());
    let d = fw.decide(&all_new);
    let changes = d.diff.and_then(|d| d.changes).unwrap();
    eprintln!(
        "diff against the small artifact: {} components added, {} removed, {} findings new",
        changes.components.added.len(),
        changes.components.removed.len(),
        changes.findings.new.len()
    );
    assert!(changes.components.added.len() > bundle::COMPONENTS / 2);
    g.bench_function("decide_diff_redeploy", |b| b.iter(|| fw.decide(&redeploy)));
    g.bench_function("decide_diff_all_new", |b| b.iter(|| fw.decide(&all_new)));
    let candidate = fw.policy_input(&req);
    g.bench_function("diff_compare_all_new", |b| {
        b.iter(|| diff::compare(&all_new_baseline, &candidate))
    });
    g.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
