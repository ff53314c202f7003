#![allow(clippy::indexing_slicing)]
//! `cargo run --release -p portcullis-cli --example soak -- --base URL --token T --pid PID ...`:
//! a mixed load on a running `portcullis serve` (admission reviews, decisions with evidence,
//! dashboard pages, /metrics) at a fraction of the rate the mix sustains, sampled every 10 s.
//! scripts/soak starts the server and runs this; `load.rs` is the generator (also used by the
//! CI test crates/cli/tests/soak.rs). Exits 1 when the run fails its checks, 2 when it cannot
//! be made.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

mod load;

#[derive(Parser, Debug)]
#[command(about = "Soak test of a running portcullis serve: a mixed load, sampled")]
struct Args {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    base: String,
    /// An admin token (env SOAK_TOKEN)
    #[arg(long, env = "SOAK_TOKEN", hide_env_values = true)]
    token: String,
    /// The server's process id (its RSS and descriptors are read from /proc)
    #[arg(long)]
    pid: u32,
    /// The repository root (request bodies come from examples/ and the test fixtures)
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Weights of admission, decision, dashboard and metrics requests
    #[arg(long, default_value = "10,5,4,1", value_delimiter = ',', num_args = 4)]
    mix: Vec<u32>,
    /// Seconds of the open-loop run
    #[arg(long, default_value_t = 1800)]
    seconds: u64,
    /// Sampling interval, seconds
    #[arg(long, default_value_t = 10)]
    interval: u64,
    /// Closed-loop warm-up seconds before the rate is measured
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// Closed-loop seconds measuring the sustained rate
    #[arg(long, default_value_t = 30)]
    calibrate: u64,
    /// Requests in flight while measuring the sustained rate
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Run at this fraction of the measured sustained rate
    #[arg(long, default_value_t = 0.8)]
    fraction: f64,
    /// Run at this rate (req/s) instead of measuring
    #[arg(long)]
    rate: Option<f64>,
    /// Requests in flight at most during the run (the client's connections)
    #[arg(long, default_value_t = 32)]
    in_flight: usize,
    /// Share of the run that is warm-up for the drift figures
    #[arg(long, default_value_t = 1.0 / 6.0)]
    warmup_share: f64,
    /// Fail when RSS grows more than this many percent after the warm-up
    #[arg(long, default_value_t = 10.0)]
    max_rss_drift: f64,
    /// Fail when open descriptors grow by more than this after the warm-up
    #[arg(long, default_value_t = 2)]
    fd_slack: i64,
    /// Write OUT.csv (a row per interval) and OUT.json (the summary)
    #[arg(long)]
    out: Option<PathBuf>,
    /// A label for the figures (backend, machine conditions)
    #[arg(long, default_value = "")]
    label: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mix = match load::Mix::new([args.mix[0], args.mix[1], args.mix[2], args.mix[3]]) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("soak: {e:#}");
            return ExitCode::from(2);
        }
    };
    let mut opts = load::Options::new(mix);
    opts.warmup = Duration::from_secs(args.warmup);
    opts.calibrate = Duration::from_secs(args.calibrate);
    opts.workers = args.workers;
    opts.rate = args.rate;
    opts.fraction = args.fraction;
    opts.duration = Duration::from_secs(args.seconds);
    opts.interval = Duration::from_secs(args.interval.max(1));
    opts.in_flight = args.in_flight;
    opts.warmup_share = args.warmup_share;
    opts.max_rss_drift_pct = args.max_rss_drift;
    opts.fd_slack = args.fd_slack;
    opts.out = args.out;
    opts.label = args.label;
    let target = load::Target {
        base: args.base.trim_end_matches('/').to_string(),
        token: args.token,
        pid: args.pid,
        repo: args.repo,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soak: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(load::run(target, opts)) {
        Ok(summary) => {
            print!("{}", load::report(&summary));
            if summary.verdict.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("soak: {e:#}");
            ExitCode::from(2)
        }
    }
}
