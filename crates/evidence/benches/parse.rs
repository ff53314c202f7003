//! Parse throughput: the typed parser (`portcullis_evidence::parse`) beside an untyped
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
use portcullis_evidence::{Limits, parse};

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
}

fn grype(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/scanners/anchore_grype/many_vulns.json");
    match std::fs::read(&path) {
        Ok(bytes) => group(c, "grype_many_vulns", &bytes),
        Err(_) => eprintln!(
            "SKIPPED: {} is absent; the Grype benchmark needs the corpus",
            path.display()
        ),
    }
}

criterion_group!(benches, cyclonedx, grype);
criterion_main!(benches);
