//! Latency percentiles and throughput of `Firewall::decide` on the issue-3 bundle, from several
//! threads sharing one `Firewall` (as the server does).
//!
//! `cargo run --release -p portcullis-firewall --example decide_load -- [THREADS] [DECISIONS] [cold|warm|warm-noreuse|all]`
//! `cargo run --release -p portcullis-firewall --example decide_load -- --write DIR` writes the
//! bundle as files for timing `portcullis gate` (docs/benchmarks.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../benches/support/bundle.rs"]
mod bundle;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--write") {
        let dir = std::path::PathBuf::from(
            args.get(1)
                .cloned()
                .unwrap_or_else(|| "bench-bundle".into()),
        );
        std::fs::create_dir_all(dir.join("advisories")).unwrap();
        for (name, bytes) in bundle::documents() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        for (name, bytes) in bundle::advisories() {
            std::fs::write(dir.join("advisories").join(name), bytes).unwrap();
        }
        println!("{} {}", bundle::ARTIFACT, bundle::digest());
        return;
    }
    let threads: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(2);
    let total: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4000);
    // `cold`: every decision builds and converts the input (as for new evidence);
    // `warm-noreuse`: the evidence set was seen before (another environment, admission of
    // another replica) and its converted input is reused, every rule evaluated (the path
    // before rule results were reused); `warm`: the same with rule results reused;
    // `all` (the default): the three in turn, in one run.
    let modes: Vec<&str> = match args.get(2).map(String::as_str) {
        None | Some("all") => vec!["cold", "warm-noreuse", "warm"],
        Some(m @ ("cold" | "warm" | "warm-noreuse")) => vec![m],
        Some(other) => panic!("unknown mode {other}: cold, warm, warm-noreuse or all"),
    };
    for mode in modes {
        run(mode, threads, total);
    }
}

fn run(mode: &str, threads: usize, total: usize) {
    let (fw, req) = bundle::setup(mode != "cold");
    let fw = Arc::new(fw.with_result_reuse(mode == "warm"));
    let req = Arc::new(req);
    let first = fw.decide(&req);
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let per = total / threads;
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let fw = fw.clone();
            let req = req.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    let d = fw.decide(&req);
                    lat.push(t.elapsed());
                    std::hint::black_box(d);
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let wall = started.elapsed();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "decide ({mode}): threads={threads} decisions={} violations={} warnings={} p50={:.2?} p99={:.2?} max={:.2?} throughput={:.0}/s",
        lat.len(),
        first.violations.len(),
        first.warnings.len(),
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1],
        lat.len() as f64 / wall.as_secs_f64()
    );
}
