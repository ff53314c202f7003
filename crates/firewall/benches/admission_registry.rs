//! Admission deciding from registries (docs/benchmarks.md "Admission deciding from the
//! registry"): the answer to the review of a Pod with 3 images, each with a CycloneDX SBOM
//! (`--components` npm packages) and signed SLSA provenance attached by cosign's tag scheme, in
//! the loopback registry of `portcullis_testkit::registry::TestRegistry` (Distribution with TLS
//! and basic auth), namespace `shop-prod` → environment `production` (protected) with
//! `decide_from_registry: true`. `DecisionService::admit` is timed, from the review to the
//! answer. A bench target without the libtest harness:
//!
//! ```text
//! cargo bench -p portcullis-firewall --bench admission_registry -- measure [--cold N] [--warm N] [--components N]
//! ```
//!
//! - cold: each sample on a fresh store and a fresh decision service (nothing recorded,
//!   nothing kept, a new registry client: new TLS connections), its policy engines compiled
//!   beforehand (`warm`, as the server does at start): the 3 images are resolved, their
//!   attachments fetched, decided and recorded;
//! - cold, state changed: one service; before each sample an advisory that matches nothing is
//!   added (the state in force is replaced): the kept decisions are dropped and the webhook's
//!   recorded decisions count as made under an earlier state, so the 3 images are decided again
//!   from the registry, over the client's open connections;
//! - warm: one service, the review answered once beforehand; the decisions come from memory.
//!
//! Without a command (as `cargo test --all-targets` runs it) it measures nothing and says so;
//! without the registry harness's tools it says what is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/support/admission.rs"]
mod support;

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use portcullis_firewall::DecisionService;
use portcullis_firewall::registry::AdvisoryDoc;
use support::*;

#[derive(Parser)]
#[command(name = "admission_registry")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Passed by `cargo bench`; changes nothing.
    #[arg(long, global = true, hide = true)]
    bench: bool,
}

#[derive(Subcommand)]
enum Command {
    /// p50/p99 of the admission answer, cold and warm.
    Measure {
        /// Cold samples (each on a fresh store and service).
        #[arg(long, default_value = "40")]
        cold: usize,
        /// Warm samples.
        #[arg(long, default_value = "2000")]
        warm: usize,
        /// npm components in each image's SBOM.
        #[arg(long, default_value = "100")]
        components: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    let Some(Command::Measure {
        cold,
        warm,
        components,
    }) = cli.command
    else {
        eprintln!("admission_registry: no command, nothing measured (see --help)");
        return;
    };
    let Some(h) = Harness::start("admission_registry bench") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    eprintln!(
        "admission_registry: {} worker threads, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let names: Vec<(String, String)> = (0..components)
        .map(|i| (format!("pkg-{i}"), format!("1.{}.{}", i % 7, i % 3)))
        .collect();
    let list: Vec<(&str, &str)> = names
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let images: Vec<String> = ["cart", "api", "worker"]
        .iter()
        .map(|name| h.push(&format!("shop/{name}"), &format!("bench-{name}"), &list))
        .collect();
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let review = pod_review(DECIDING, "shop", &refs);
    let setup = h.setup();

    rt.block_on(async {
        // Cold: a fresh store and service per sample.
        let mut cold_samples = Vec::with_capacity(cold);
        for _ in 0..cold {
            let home = tempfile::tempdir().unwrap();
            let service = service(store(home.path()).await, &setup, admission(8_000)).await;
            service.warm(2).unwrap();
            let started = Instant::now();
            let a = service.admit(&review, &apiserver()).await.unwrap();
            cold_samples.push(started.elapsed());
            assert!(a.allowed, "{a:?}");
            assert_eq!(decisions(&service, &refs).await, 3);
        }
        report("cold (fresh store and service)", &mut cold_samples);

        // Cold after a change of state, and warm: one service.
        let home = tempfile::tempdir().unwrap();
        let service = service(store(home.path()).await, &setup, admission(8_000)).await;
        service.warm(2).unwrap();
        let a = service.admit(&review, &apiserver()).await.unwrap();
        assert!(a.allowed, "{a:?}");
        let mut changed = Vec::with_capacity(cold);
        for i in 0..cold {
            let id = format!("PCL-BENCH-{i:04}");
            let doc = AdvisoryDoc::osv(
                &id,
                osv(&id, &format!("not-in-any-sbom-{i}"), "9.9.9"),
                &service.limits(),
            )
            .unwrap();
            service.add_advisories(vec![doc], &admin()).await.unwrap();
            let started = Instant::now();
            let a = service.admit(&review, &apiserver()).await.unwrap();
            changed.push(started.elapsed());
            assert!(a.allowed, "{a:?}");
        }
        assert_eq!(decisions(&service, &refs).await, 3 * (cold + 1));
        report("cold (state changed, same service)", &mut changed);

        let mut warm_samples = Vec::with_capacity(warm);
        for _ in 0..warm {
            let started = Instant::now();
            let a = service.admit(&review, &apiserver()).await.unwrap();
            warm_samples.push(started.elapsed());
            assert!(a.allowed, "{a:?}");
        }
        assert_eq!(
            decisions(&service, &refs).await,
            3 * (cold + 1),
            "warm reviews decide nothing"
        );
        report("warm (decisions kept)", &mut warm_samples);
    });
}

/// Decisions recorded for the images, all environments.
async fn decisions(service: &DecisionService, images: &[&str]) -> usize {
    let mut n = 0;
    for image in images {
        n += service
            .store()
            .decisions_of_digest(&digest(image), 10_000)
            .await
            .unwrap()
            .len();
    }
    n
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64) * q).ceil() as usize;
        samples[i.saturating_sub(1).min(samples.len() - 1)]
    };
    let mean = samples.iter().sum::<Duration>() / samples.len().max(1) as u32;
    println!(
        "{what}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms mean={:.2} ms",
        samples.len(),
        ms(at(0.50)),
        ms(at(0.99)),
        ms(samples[samples.len() - 1]),
        ms(mean)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
