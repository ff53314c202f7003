//! The `portcullis` binary: argument parsing, output formats, progress and exit codes.
//! Capabilities live in the library crates; this crate only wires them to the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod inspect;

// Parsing evidence is allocation-heavy (millions of small strings for a large SBOM); mimalloc
// is markedly faster at that than glibc's allocator (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes (a contract: pipelines branch on them).
pub mod exit {
    /// Everything read and, for the gate, allowed.
    pub const OK: u8 = 0;
    /// Denied by policy.
    #[allow(dead_code)]
    pub const DENIED: u8 = 1;
    /// Usage error, unreadable evidence or internal error.
    pub const ERROR: u8 = 2;
}

#[derive(Parser, Debug)]
#[command(
    name = "portcullis",
    version,
    about = "Portcullis: a deployment firewall. Evidence in, decisions out, every one on the record."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read evidence files (SBOMs, scans, SAST/DAST reports, advisories, attestations).
    #[command(subcommand)]
    Evidence(EvidenceCommand),
}

#[derive(Subcommand, Debug)]
enum EvidenceCommand {
    /// Detect and parse evidence files; print what each holds.
    Inspect(InspectArgs),
    /// List the evidence formats Portcullis reads.
    Formats,
}

/// Limits on untrusted input, shared by every command that reads evidence.
#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// Largest evidence file accepted, in bytes (default 512 MiB).
    #[arg(long, env = "PORTCULLIS_MAX_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub max_bytes: u64,
    /// Deepest JSON/XML nesting accepted.
    #[arg(long, env = "PORTCULLIS_MAX_DEPTH", default_value_t = 128)]
    pub max_depth: usize,
}

impl LimitArgs {
    pub fn limits(&self) -> portcullis_evidence::Limits {
        portcullis_evidence::Limits {
            max_bytes: self.max_bytes,
            max_depth: self.max_depth,
        }
    }
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Files or directories (walked recursively).
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Output: `human` (a summary per file) or `json` (the normalized model).
    #[arg(long, value_enum, default_value_t = inspect::OutputFormat::Human)]
    pub format: inspect::OutputFormat,
    /// Read every file as this format instead of detecting it (see `evidence formats`).
    #[arg(long = "as", value_name = "FORMAT")]
    pub as_format: Option<portcullis_evidence::Format>,
    /// Write the output to FILE instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Evidence(EvidenceCommand::Inspect(args)) => inspect::run(&args),
        Command::Evidence(EvidenceCommand::Formats) => {
            for f in portcullis_evidence::Format::ALL {
                println!("{:<18} {}", f.id(), f.name());
            }
            Ok(exit::OK)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
