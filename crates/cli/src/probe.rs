//! `portcullis probe`: check running targets against an expectations file.
//!
//! Exit 0 when everything matches, 1 on a deviation, 2 on a bad file or targets that cannot be
//! probed (unresolvable names, unreadable CA bundles).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Args;
use portcullis_firewall::ArtifactId;
use portcullis_firewall::record::blob_kinds;
use portcullis_firewall::registry::{ArtifactReport, Registry};
use portcullis_probe::{Expectations, Options, ProbeError, Report, ScanConfig};

use crate::exit;
use crate::state::{StoreArgs, cli_actor};

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// The expectations file (YAML, `apiVersion: portcullis.dev/probe/v1`).
    #[arg(long, value_name = "FILE")]
    pub expect: PathBuf,
    /// The artifact the targets run (recorded with the evidence).
    #[arg(long, env = "PORTCULLIS_ARTIFACT", value_name = "NAME@sha256:HEX")]
    pub artifact: Option<String>,
    /// The environment the targets are in.
    #[arg(long = "env", env = "PORTCULLIS_ENV", value_name = "ENV")]
    pub environment: Option<String>,
    /// Store the report as exposure evidence of the artifact (needs --artifact).
    #[arg(long)]
    pub record: bool,
    /// `human` (summary only), `json` (the exposure evidence) or `junit`.
    #[arg(long, value_enum, default_value_t = ProbeFormat::Human)]
    pub format: ProbeFormat,
    /// Write the machine output to FILE instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// TCP connects in flight at most (lowered to fit the open-files limit).
    #[arg(long, default_value_t = 2048)]
    pub concurrency: usize,
    /// Per TCP connect, in milliseconds (default 1500: above the kernel's 1 s SYN retry).
    #[arg(long, default_value_t = 1500, value_name = "MS")]
    pub timeout_ms: u64,
    /// New TCP connects per second at most (default: unpaced).
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<u32>,
    /// How often every deviation is probed again before it is reported.
    #[arg(long, default_value_t = 3)]
    pub reprobes: u32,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeFormat {
    Human,
    Json,
    Junit,
}

pub fn run(args: &ProbeArgs) -> anyhow::Result<u8> {
    let artifact = args
        .artifact
        .as_deref()
        .map(ArtifactId::parse)
        .transpose()
        .map_err(|e| anyhow!("--artifact {e}"))?;
    if args.record && artifact.is_none() {
        return Err(anyhow!(
            "--record stores the report as evidence of an artifact: give --artifact"
        ));
    }
    let expectations = match Expectations::load(&args.expect) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::ERROR);
        }
    };
    let options = Options {
        scan: ScanConfig {
            concurrency: args.concurrency.max(1),
            timeout: Duration::from_millis(args.timeout_ms.max(1)),
            rate: args.rate,
            reprobes: args.reprobes,
        },
        artifact: args.artifact.clone(),
        environment: args.environment.clone(),
        ..Options::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let progress = scan_progress(options.counters.clone());
    let result = rt.block_on(portcullis_probe::run(&expectations, &options));
    progress.finish();
    let report = match result {
        Ok(r) => r,
        Err(
            e @ (ProbeError::Resolve { .. }
            | ProbeError::Unreachable { .. }
            | ProbeError::Undeclared(_)),
        ) => {
            eprintln!("error: {e} (no target was judged)");
            return Ok(exit::ERROR);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::ERROR);
        }
    };
    let body = serde_json::to_vec_pretty(&report).context("cannot serialize the report")?;

    if args.record
        && let Some(artifact) = &artifact
    {
        let digest = rt.block_on(record(&args.store, artifact, &report, &body))?;
        eprintln!("recorded: exposure evidence {digest} for {}", artifact.name);
    }

    let mut err = std::io::stderr().lock();
    report.write_human(&mut err)?;
    drop(err);

    let mut machine: Vec<u8> = Vec::new();
    match args.format {
        ProbeFormat::Human => {}
        ProbeFormat::Json => {
            machine.extend_from_slice(&body);
            machine.push(b'\n');
        }
        ProbeFormat::Junit => report.write_junit(&mut machine)?,
    }
    match &args.output {
        Some(path) => {
            if args.format == ProbeFormat::Human {
                report.write_human(&mut machine)?;
            }
            std::fs::write(path, &machine)
                .with_context(|| format!("cannot write {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(&machine)?,
    }
    Ok(if report.deviations > 0 {
        exit::DENIED
    } else {
        exit::OK
    })
}

/// Store the report as an evidence document of the artifact, with its audit entry.
async fn record(
    store: &StoreArgs,
    artifact: &ArtifactId,
    report: &Report,
    body: &[u8],
) -> anyhow::Result<String> {
    let store = store.open().await?;
    let registry = Registry::new(store, portcullis_evidence::Limits::default());
    let (digest, _) = registry
        .record_artifact_evidence(
            artifact,
            ArtifactReport {
                blob_kind: blob_kinds::EVIDENCE,
                kind: "exposure",
                format: "portcullis-probe",
                bytes: body,
                details: serde_json::json!({
                    "source": report.expectations.file,
                    "environment": report.environment, "deviations": report.deviations,
                }),
            },
            &cli_actor(&None),
        )
        .await
        .context("the exposure evidence could not be recorded")?;
    // The checks themselves, as recorded facts of later decisions about this digest in this
    // environment (an inline report given to the gate is only asserted).
    if let Some(environment) = &report.environment {
        let exposures = portcullis_probe::evidence::exposures_from_json(body, &digest)
            .map_err(|e| anyhow::anyhow!("the report just written cannot be read back: {e}"))?;
        if !exposures.is_empty() {
            let facts = portcullis_firewall::sources::FactsToRecord {
                artifact_digest: artifact.digest.clone(),
                environment: environment.clone(),
                verifications: Vec::new(),
                exposures,
            };
            portcullis_firewall::sources::record(registry.store(), &facts, &cli_actor(&None))
                .await
                .context("the exposure results could not be recorded")?;
        }
    }
    Ok(digest)
}

/// A progress bar on stderr (on a terminal) following the scan's counters.
struct ScanProgress {
    done: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ScanProgress {
    fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn scan_progress(counters: Arc<portcullis_probe::scan::Counters>) -> ScanProgress {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if !std::io::stderr().is_terminal() {
        return ScanProgress { done, thread: None };
    }
    let stop = done.clone();
    let thread = std::thread::spawn(move || {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} probing [{bar:30}] {pos}/{len} ports {per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        while !stop.load(Ordering::Relaxed) {
            pb.set_length(counters.ports_total.load(Ordering::Relaxed));
            pb.set_position(counters.ports_done.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(100));
        }
        pb.finish_and_clear();
    });
    ScanProgress {
        done,
        thread: Some(thread),
    }
}
