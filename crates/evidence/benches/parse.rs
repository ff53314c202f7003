//! Parse throughput: the typed parser (`portcullis_evidence::parse`, sonic-rs) beside the same
//! parser on serde_json (`json::Engine::Reference`, the path before sonic-rs) and an untyped
//! `serde_json::Value` parse of the same bytes.
//!
//! cargo bench -p portcullis-evidence --bench parse -- --warm-up-time 1 --measurement-time 5
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis_evidence::{Limits, json, parse};

// The same allocator as the `portcullis` binary, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/sbom_gen.rs"]
mod sbom_gen;

fn group(c: &mut Criterion, name: &str, bytes: &[u8]) {
    let limits = Limits::default();
    let typed_ok = match parse(bytes, &limits) {
        Ok(ev) => {
            eprintln!(
                "{name}: {} bytes, {} components, {} findings",
                bytes.len(),
                ev.components.len(),
                ev.findings.len()
            );
            true
        }
        Err(e) => {
            eprintln!("{name}: typed parse unavailable, measuring Value only: {e}");
            false
        }
    };
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(20);
    // Two views, both fair to each side: `*_parse` leaves dropping the result out of the
    // timing; `*_parse_drop` includes it (what a caller pays over the result's lifetime).
    if typed_ok {
        g.bench_function("typed_parse", |b| {
            b.iter_with_large_drop(|| parse(black_box(bytes), &limits))
        });
        g.bench_function("typed_parse_drop", |b| {
            b.iter(|| parse(black_box(bytes), &limits).is_ok())
        });
        g.bench_function("typed_parse_serde_json", |b| {
            b.iter_with_large_drop(|| {
                json::with_engine(json::Engine::Reference, || parse(black_box(bytes), &limits))
            })
        });
    }
    g.bench_function("value_parse", |b| {
        b.iter_with_large_drop(|| serde_json::from_slice::<serde_json::Value>(black_box(bytes)))
    });
    g.bench_function("value_parse_drop", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(bytes)).is_ok())
    });
    g.bench_function("depth_check", |b| {
        b.iter(|| {
            portcullis_evidence::json::check_depth(
                black_box(bytes),
                portcullis_evidence::Format::CyclonedxJson,
                limits.max_depth,
            )
            .is_ok()
        })
    });
    g.finish();
}

fn cyclonedx(c: &mut Criterion) {
    let mut bytes = Vec::new();
    sbom_gen::write_sbom(&mut bytes, 50_000).unwrap();
    group(c, "cyclonedx_json_50k", &bytes);
    engines(c, "cyclonedx_json_50k_engines", &bytes);
}

/// The candidate engines on the same serde target (`serde_json::Value`, so the visitor code is
/// the same for all three): what the choice of sonic-rs rests on.
fn engines(c: &mut Criterion, name: &str, bytes: &[u8]) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(10);
    g.bench_function("serde_json", |b| {
        b.iter_with_large_drop(|| serde_json::from_slice::<serde_json::Value>(black_box(bytes)))
    });
    g.bench_function("sonic_rs", |b| {
        b.iter_with_large_drop(|| sonic_rs::from_slice::<serde_json::Value>(black_box(bytes)))
    });
    // simd-json parses in place: the copy it needs is part of its cost.
    g.bench_function("simd_json", |b| {
        b.iter_with_large_drop(|| {
            let mut copy = black_box(bytes).to_vec();
            simd_json::serde::from_slice::<serde_json::Value>(&mut copy).map(|v| (v, copy))
        })
    });
    g.finish();
}

/// Real documents from the shared corpus (`../shared/corpus`, never copied into the repository).
fn corpus(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    for (name, rel) in [
        ("grype_many_vulns", "scanners/anchore_grype/many_vulns.json"),
        (
            "trivy_legacy_many_vulns",
            "scanners/trivy/legacy_many_vulns.json",
        ),
        (
            "sarif_semgrep_owasp",
            "scanners/sarif/semgrepowasp-benchmark-sample.sarif",
        ),
        (
            "spdx_examplemaven_enriched",
            "spdx-examples/software_example14_spdx2.3_examplemaven-0.0.1-enriched.spdx.json",
        ),
        (
            "cyclonedx_keycloak",
            "cyclonedx-examples/SBOM_keycloak-10.0.2/bom.json",
        ),
    ] {
        let path = root.join(rel);
        match std::fs::read(&path) {
            Ok(bytes) => group(c, name, &bytes),
            Err(_) => eprintln!(
                "SKIPPED: {} is absent; this benchmark needs the corpus",
                path.display()
            ),
        }
    }
}

criterion_group!(benches, cyclonedx, corpus);
criterion_main!(benches);
