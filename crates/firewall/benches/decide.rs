//! `Firewall::decide` on the issue-3 bundle (1,000 components, 300 findings, 50 matched
//! advisories, 2 attestations), with the built-in library. Latency percentiles and throughput on
//! 2 threads come from the `decide_load` example (docs/benchmarks.md).

use criterion::{Criterion, criterion_group, criterion_main};

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/bundle.rs"]
mod bundle;

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
    g.bench_function("policy_input_only", |b| b.iter(|| fw.policy_input(&req)));
    g.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
