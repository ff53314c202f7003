//! The `portcullis` binary: argument parsing, output formats, progress and exit codes.
//! Capabilities live in the library crates; this crate only wires them to the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod approve;
mod attest;
mod audit;
mod catalogue;
mod diff;
mod gate;
mod init;
mod inspect;
mod policy;
mod policy_eval;
mod posture;
mod probe;
mod registry;
mod remote;
mod render;
mod report;
mod serve;
mod state;
mod verify;

// Parsing evidence is allocation-heavy (millions of small strings for a large SBOM); mimalloc
// is markedly faster at that than glibc's allocator (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes (a contract: pipelines branch on them).
pub mod exit {
    /// Everything read and, for the gate, allowed.
    pub const OK: u8 = 0;
    /// Denied by policy (`policy test`: a test failed).
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
    /// Write a first `portcullis.yaml`: the environments, which are protected, where an
    /// approval is needed and the promotion order — asked on a terminal, or from flags — with
    /// comments, checked as `gate` reads it; then print the commands to run next.
    Init(Box<init::InitArgs>),
    /// Read evidence files (SBOMs, scans, SAST/DAST reports, advisories, attestations).
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Decide whether an artifact may be deployed to an environment, on its evidence.
    ///
    /// Exit 0 allowed, 1 denied by policy, 2 usage error, unreadable evidence or an error in
    /// the decision. A human summary always goes to stderr; `--format` picks what goes to
    /// stdout (or `--output`).
    Gate(Box<GateArgs>),
    /// The policy library: list its rules, run its tests, evaluate a query.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Attestations: verify a DSSE / in-toto statement against trusted keys for an artifact.
    #[command(subcommand)]
    Attest(attest::AttestCommand),
    /// The audit trail: verify the chain, export proof bundles, sign a checkpoint.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Recorded decisions: show, list, replay.
    #[command(subcommand)]
    Decision(registry::DecisionCommand),
    /// Advisories and block rules in force everywhere: add, list, withdraw, impact.
    #[command(subcommand)]
    Advisory(registry::AdvisoryCommand),
    /// Exceptions granted in the store: add, list, revoke.
    #[command(subcommand)]
    Exception(registry::ExceptionCommand),
    /// Check running targets against an expectations file (ports, TLS, HTTP headers).
    ///
    /// Exit 0 when everything matches, 1 on a deviation, 2 on a bad file or targets that
    /// cannot be probed. `--format json` is exposure evidence for `gate --exposure`.
    Probe(Box<probe::ProbeArgs>),
    /// Record that an artifact now runs in an environment (the inventory).
    Deployed(registry::DeployedArgs),
    /// Approve one artifact digest for one environment (and change), or revoke an approval:
    /// what PCL-CHG-002 counts (an approver the gate is only told about is asserted).
    Approve(Box<approve::ApproveArgs>),
    /// Serve the decision API and the Kubernetes admission webhook.
    Serve(Box<serve::ServeArgs>),
    /// API tokens of the server: create (printed once), list, revoke.
    #[command(subcommand)]
    Token(serve::TokenCommand),
    /// Seed an embedded store with the examples (a Log4Shell block, an allowed deploy, an
    /// exception, an advisory with impact) and serve it, printing the URL and tokens.
    Demo(serve::DemoArgs),
    /// Deployment verification: canary analysis of metrics and logs against a baseline.
    #[command(subcommand)]
    Verify(verify::VerifyCommand),
    /// Audit and compliance report of a time range: decisions with their proof, exceptions,
    /// advisories, NIST SP 800-53 / HIPAA control coverage, the chain's verification — as
    /// html, pdf, json or oscal. Exit 0 written, 1 written but the audit chain does not
    /// verify, 2 error.
    Report(Box<report::ReportArgs>),
    /// Compare an artifact with what the inventory says runs in an environment under the same
    /// name: components added, removed, upgraded, downgraded; findings new and fixed; licenses
    /// and provenance changed. Exit 0 with the report, 2 on unreadable evidence or a store error.
    Diff(Box<diff::DiffArgs>),
    /// Every rule id and error code a user can meet (library and engine rules, API problem
    /// codes, evidence errors, attestation failures, exit codes): docs/catalogue.md.
    Catalogue(catalogue::CatalogueArgs),
    /// What runs where, as recorded with `deployed` or reported with `inventory sync`.
    Inventory(InventoryArgs),
    /// The posture of what runs in an environment: each running artifact compliant, in
    /// violation (of which rules, since when) or undecided. Exit 0 when everything running is
    /// compliant, 1 when anything is in violation, undecided or not judged yet, 2 on errors.
    Posture(Box<posture::PostureArgs>),
    /// Snapshots of what ran in an environment after each change: list, show, diff.
    #[command(subcommand)]
    Snapshot(posture::SnapshotCommand),
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct InventoryArgs {
    #[command(subcommand)]
    command: Option<InventoryCommand>,
    #[arg(long = "env")]
    environment: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: registry::ListFormat,
    #[command(flatten)]
    store: state::StoreArgs,
}

#[derive(Subcommand, Debug)]
enum InventoryCommand {
    /// Replace what runs in an environment with a report of it (`kubectl get pods -A -o
    /// json`, or image references pinned by digest, one per line): new artifacts and digests
    /// recorded as deployments, the rest as removals, then one snapshot. Exit 2 on a report
    /// that cannot be read (the error names the file and the place).
    Sync(Box<posture::SyncArgs>),
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Every rule with its id, category, severity, controls, parameters and the action it
    /// takes in each environment.
    List(PolicyListArgs),
    /// Run the `test_` rules of the built-in library and of DIRs (like `opa test -v`).
    Test(PolicyTestArgs),
    /// Evaluate a Rego query against the policies, an input and data (like `opa eval`): e.g.
    /// a rule's `violation` set on the input `gate --emit-input` wrote.
    ///
    /// Exit 0 when evaluated (also when the query is undefined), 1 with `--fail` on an
    /// undefined query or `--fail-defined` on a defined one, 2 on an error (a file that
    /// cannot be read, a policy or query that does not compile, a failing builtin).
    Eval(Box<policy_eval::PolicyEvalArgs>),
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
    #[arg(required_unless_present = "image", value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// An image in an OCI registry: list everything attached to it (cosign tags, OCI
    /// referrers, Buildx attestation manifests), where each was found and what it is; the
    /// documents Portcullis reads as evidence are fetched and summarized like files.
    #[arg(long, value_name = "REF", conflicts_with = "paths")]
    pub image: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
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

/// Where policies and configuration come from, shared by `gate` and `policy list`.
#[derive(Args, Debug, Clone)]
pub struct PolicyArgs {
    /// A directory of users' Rego policies, added to the built-in library (repeatable).
    #[arg(long = "policy", value_name = "DIR")]
    pub policy: Vec<PathBuf>,
    /// `portcullis.yaml`: environments, rule parameters and actions. Default: ./portcullis.yaml
    /// when it exists, else built-in defaults (every environment protected).
    #[arg(long, env = "PORTCULLIS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// How OCI registries are reached (on top of the configuration's `registry:`).
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// A Docker config.json with registry credentials (`auths`, `credHelpers`,
    /// `credsStore`). Default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
    #[arg(long, env = "PORTCULLIS_REGISTRY_CONFIG", value_name = "FILE")]
    pub registry_config: Option<PathBuf>,
    /// A PEM bundle of CAs trusted for registries, beside the system's roots (repeatable).
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Vec<PathBuf>,
    /// A registry reached over plain HTTP, HOST:PORT (repeatable; every other is HTTPS).
    #[arg(long, value_name = "HOST:PORT")]
    pub insecure_registry: Vec<String>,
    /// Seconds for resolving an image and fetching what is attached (default 60).
    #[arg(long, value_name = "SECONDS")]
    pub registry_timeout: Option<u64>,
}

impl RegistryArgs {
    pub fn settings(&self) -> portcullis_registry::RegistrySettings {
        portcullis_registry::RegistrySettings {
            config: self.registry_config.clone(),
            ca: self.registry_ca.clone(),
            insecure: self.insecure_registry.clone(),
            timeout_seconds: self.registry_timeout,
            ..Default::default()
        }
    }
}

#[derive(Args, Debug)]
pub struct GateArgs {
    /// The artifact about to be deployed. Optional with `--manifest` (the manifests are then
    /// the subject, named `manifests`, with the digest of their bytes) and with `--image`
    /// (the image's repository at the digest its reference resolves to).
    #[arg(
        long,
        env = "PORTCULLIS_ARTIFACT",
        value_name = "NAME@sha256:HEX",
        required_unless_present_any = ["manifest", "image"]
    )]
    pub artifact: Option<String>,
    /// An image in an OCI registry (`registry/repository:tag` or `@sha256:…`): the tag is
    /// resolved once, and every SBOM, scan report, signature and attestation attached to the
    /// image (cosign tags, OCI referrers, Buildx attestation manifests) is fetched, verified
    /// with the firewall's trust and decided on with any `--evidence` files. A registry that
    /// cannot be reached or read exits 2.
    #[arg(long, env = "PORTCULLIS_IMAGE", value_name = "REF")]
    pub image: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The environment it is going to.
    #[arg(long = "env", env = "PORTCULLIS_ENV", value_name = "ENV")]
    pub environment: String,
    /// Evidence files or directories (SBOMs, scans, reports, advisories, attestations); the
    /// format of each is detected from its content.
    #[arg(
        long,
        required_unless_present_any = ["manifest", "image"],
        num_args = 1..,
        value_name = "FILE"
    )]
    pub evidence: Vec<PathBuf>,
    /// Kubernetes manifests about to be applied (multi-document YAML or JSON; a `List` is
    /// expanded; repeatable): the library's Kubernetes rules read their pod specs and
    /// `--gatekeeper` constraints review every object they match.
    #[arg(long, value_name = "FILE")]
    pub manifest: Vec<PathBuf>,
    /// A directory of Gatekeeper ConstraintTemplates and Constraints (YAML/JSON files, told
    /// apart by kind; repeatable).
    #[arg(long, value_name = "DIR")]
    pub gatekeeper: Vec<PathBuf>,
    /// A directory of PEM public keys (SPKI; each named by its file stem) trusted to sign
    /// attestations: DSSE envelopes signed by them (meeting `attestations.threshold` in the
    /// configuration) and naming the artifact are `verified` and give provenance facts.
    #[arg(long, env = "PORTCULLIS_TRUSTED_KEYS", value_name = "DIR")]
    pub trusted_keys: Option<PathBuf>,
    /// A Sigstore trusted_root.json (Fulcio CAs, Rekor keys) that keyless Sigstore bundles are
    /// verified against, off-line; who may sign is `attestations.identities` in the
    /// configuration.
    #[arg(long, env = "PORTCULLIS_TRUSTED_ROOT", value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// OSV advisories the firewall blocks: nothing they affect ships, in any environment.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub advisories: Vec<PathBuf>,
    /// Known-exploited vulnerabilities catalogue (CISA KEV JSON format).
    #[arg(long, env = "PORTCULLIS_KEV", value_name = "FILE")]
    pub kev: Option<PathBuf>,
    /// Exceptions (YAML or JSON): approved, time-boxed waivers of single violations.
    #[arg(long, env = "PORTCULLIS_EXCEPTIONS", value_name = "FILE")]
    pub exceptions: Option<PathBuf>,
    #[command(flatten)]
    pub policies: PolicyArgs,
    /// What goes to stdout (or `--output`); the human summary always goes to stderr.
    #[arg(long, value_enum, env = "PORTCULLIS_FORMAT", default_value_t = render::OutputFormat::Human)]
    pub format: render::OutputFormat,
    /// Write the `--format` output to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the PolicyInput the decision's rules were evaluated on to FILE (JSON): give
    /// it to `portcullis policy eval --input FILE` to evaluate a rule (or any query) on it.
    /// A local decision only (not with --server).
    #[arg(long, value_name = "FILE")]
    pub emit_input: Option<PathBuf>,
    /// Also write the same decision as FORMAT to FILE (repeatable; FORMAT is one of the
    /// `--format` values): one gate, one recorded decision, several outputs, e.g.
    /// `--write sarif=portcullis.sarif --write markdown=summary.md`.
    #[arg(long = "write", value_name = "FORMAT=FILE", value_parser = render::WriteTarget::parse)]
    pub write: Vec<render::WriteTarget>,
    /// Colour in the human summary: `auto` when stderr is a terminal (and NO_COLOR is unset).
    #[arg(long, value_enum, default_value_t = render::ColorChoice::Auto)]
    pub color: render::ColorChoice,
    /// Who asks for the deployment.
    #[arg(long, env = "PORTCULLIS_REQUESTER")]
    pub requester: Option<String>,
    /// Who approved it, as the request asserts. An asserted approver counts only where the
    /// environment accepts asserted facts (`accept_asserted_facts`; not protected ones by
    /// default): record real approvals with `portcullis approve`.
    #[arg(long, env = "PORTCULLIS_APPROVER")]
    pub approver: Option<String>,
    /// The pipeline asking (e.g. the CI workflow or job URL).
    #[arg(long, env = "PORTCULLIS_PIPELINE")]
    pub pipeline: Option<String>,
    /// The pipeline stage.
    #[arg(long, env = "PORTCULLIS_STAGE")]
    pub stage: Option<String>,
    /// Change ticket or request reference.
    #[arg(long = "change-ref", env = "PORTCULLIS_CHANGE_REF")]
    pub change_ref: Option<String>,
    /// Canary verification results: a `portcullis verify canary --format json` report, or
    /// JSON with one PolicyInput `verifications` entry or an array of them (repeatable).
    #[arg(long, value_name = "FILE")]
    pub verification: Vec<PathBuf>,
    /// Exposure check results: JSON, one PolicyInput `exposures` entry or an array (repeatable).
    #[arg(long, value_name = "FILE")]
    pub exposure: Vec<PathBuf>,
    /// What runs in the environment today: JSON, the PolicyInput `previous` object. Used
    /// (asserted) by a what-if evaluation; a recorded decision takes what runs from the
    /// firewall's inventory.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Earlier decisions about this artifact in other environments: JSON, the PolicyInput
    /// `history` array. Used (asserted) by a what-if evaluation; a recorded decision takes
    /// the history from the firewall's own decisions and deployments.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Decide as of this time (RFC 3339) instead of now: a what-if evaluation (`--what-if`),
    /// or on a local store a decision recorded with this time, marked asserted. A server
    /// times recorded decisions with its own clock.
    #[arg(long, env = "PORTCULLIS_TIME", value_name = "RFC3339")]
    pub time: Option<String>,
    /// A what-if evaluation: decide and report, record nothing (the decision says
    /// `what_if: true`); the request's time, history and previous deployment are used, marked
    /// asserted.
    #[arg(long = "what-if")]
    pub what_if: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub store: state::StoreArgs,
    /// Ask a Portcullis server (`portcullis serve`) instead: the same request, decided and
    /// recorded by the server with its policies, advisories and exceptions; the same outputs
    /// and exit codes. The token is read from PORTCULLIS_TOKEN.
    #[arg(long, env = "PORTCULLIS_SERVER", value_name = "URL")]
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct PolicyListArgs {
    #[command(flatten)]
    pub policies: PolicyArgs,
    #[arg(long, value_enum, default_value_t = policy::ListFormat::Human)]
    pub format: policy::ListFormat,
}

#[derive(Args, Debug)]
pub struct PolicyTestArgs {
    /// Directories of Rego files (policies and their `*_test.rego`), tested together with the
    /// built-in library. A file at the same relative path as a library file replaces it, so
    /// `policy test crates/policy/library` tests the library as it is on disk.
    #[arg(value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Test only DIRs: the built-in rules are left out (their helpers, `data.portcullis.lib`,
    /// stay available to your policies).
    #[arg(long, requires = "dirs")]
    pub no_builtin: bool,
    /// Show only failures, errors and the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// regorus's Rego parser uses `anyhow` errors to backtrack, and with `RUST_BACKTRACE` set (as
/// in many CI environments) each of those captures a stack trace: loading the policy library
/// takes twice as long (docs/benchmarks.md). `RUST_LIB_BACKTRACE=0` turns off library
/// backtraces while panics keep theirs; the process re-executes itself once with it, since
/// setting the variable in-process is `unsafe` (and this workspace forbids `unsafe`).
#[cfg(unix)]
fn without_library_backtraces() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("RUST_BACKTRACE").is_none()
        || std::env::var_os("RUST_LIB_BACKTRACE").is_some()
    {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    // `exec` returns only on failure; then carry on in this process.
    let _ = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("RUST_LIB_BACKTRACE", "0")
        .exec();
}

#[cfg(not(unix))]
fn without_library_backtraces() {}

fn main() -> ExitCode {
    without_library_backtraces();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Evidence(EvidenceCommand::Inspect(args)) => inspect::run(&args),
        Command::Evidence(EvidenceCommand::Formats) => {
            for f in portcullis_evidence::Format::ALL {
                println!("{:<18} {}", f.id(), f.name());
            }
            Ok(exit::OK)
        }
        Command::Init(args) => init::run(&args),
        Command::Gate(args) => gate::run(&args),
        Command::Policy(PolicyCommand::List(args)) => policy::list(&args),
        Command::Policy(PolicyCommand::Test(args)) => policy::test(&args),
        Command::Policy(PolicyCommand::Eval(args)) => policy_eval::run(&args),
        Command::Attest(cmd) => attest::run(&cmd),
        Command::Audit(cmd) => audit::run(&cmd),
        Command::Decision(cmd) => registry::decision(&cmd),
        Command::Advisory(cmd) => registry::advisory(&cmd),
        Command::Exception(cmd) => registry::exception(&cmd),
        Command::Probe(args) => probe::run(&args),
        Command::Deployed(args) => registry::deployed(&args),
        Command::Approve(args) => approve::run(&args),
        Command::Serve(args) => serve::serve(&args),
        Command::Token(cmd) => serve::token(&cmd),
        Command::Demo(args) => serve::demo(&args),
        Command::Verify(cmd) => verify::run(&cmd),
        Command::Report(args) => report::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Catalogue(args) => catalogue::run(&args),
        Command::Inventory(InventoryArgs {
            command: Some(InventoryCommand::Sync(args)),
            store,
            ..
        }) => posture::sync(&args, &store),
        Command::Inventory(a) => registry::inventory(a.environment.as_deref(), a.format, &a.store),
        Command::Posture(args) => posture::run(&args),
        Command::Snapshot(cmd) => posture::snapshot(&cmd),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(exit::ERROR)
        }
    }
}

/// An error and its causes, as `{:#}` writes them, without a cause whose words the message
/// before it already holds (an error that says "decision … could not be recorded: CAUSE" and
/// also returns CAUSE as its source would otherwise name the cause twice).
fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let words = cause.to_string();
        if out.is_empty() {
            out = words;
        } else if !out.contains(&words) {
            out.push_str(": ");
            out.push_str(&words);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[derive(Debug)]
    struct Cause;
    impl std::fmt::Display for Cause {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("db: disk full")
        }
    }
    impl std::error::Error for Cause {}

    #[derive(Debug)]
    struct Outer(Cause);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "decision D could not be recorded: {}", self.0)
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_is_named_once() {
        let e = anyhow::Error::new(Outer(Cause));
        assert_eq!(
            error_text(&e),
            "decision D could not be recorded: db: disk full"
        );
        // A context whose words differ from its cause's keeps both, as `{:#}` does.
        let e = anyhow::Error::new(Cause).context("cannot open the store");
        assert_eq!(error_text(&e), "cannot open the store: db: disk full");
        assert_eq!(error_text(&e), format!("{e:#}"));
    }
}
