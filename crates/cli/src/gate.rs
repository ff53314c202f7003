//! `portcullis gate`: read the evidence, build the firewall, decide, render, exit 0/1/2.
//!
//! The decision itself is `Firewall::decide` (the one evaluation path); this module only reads
//! files, reports what it could not read, and picks the exit code.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use portcullis_evidence::{ErrorKind, Limits, ParseError};
use portcullis_firewall::admission::AdmissionConfig;
use portcullis_firewall::record::{Documents, blob_kinds};
use portcullis_firewall::service::{Ask, Decided};
use portcullis_firewall::setup::read_limited;
use portcullis_firewall::{
    ArtifactId, ConfigSource, Decision, DecisionRequest, DecisionService, EvidenceDoc, Firewall,
    RequestContext, Setup, UnreadableEvidence, sha256,
};
use portcullis_policy::PolicyInput;
use portcullis_policy::input::{
    FactSource, InputExposure, InputHistoryEntry, InputPrevious, InputVerification,
};
use portcullis_policy::kubernetes::parse_manifests;
use serde::de::DeserializeOwned;

use crate::remote;
use crate::render::{self, OutputFormat, Report};
use crate::{GateArgs, PolicyArgs};

/// Where the configuration comes from: `--config FILE`, else `./portcullis.yaml`, else the
/// built-in defaults.
pub fn config_source(args: &PolicyArgs) -> ConfigSource {
    match &args.config {
        Some(path) => ConfigSource::File(path.clone()),
        None => ConfigSource::Discover,
    }
}

/// What the firewall is built from: the configuration and policies, with these limits.
pub fn setup(args: &PolicyArgs, limits: Limits) -> Setup {
    Setup {
        config: config_source(args),
        policies: args.policy.clone(),
        limits,
        ..Setup::default()
    }
}

pub fn run(args: &GateArgs) -> anyhow::Result<u8> {
    if let Some(url) = &args.server {
        remote::check_args(args, url)?;
    }
    let (req, docs, mut files) = read_request(args)?;
    let mut notes: Vec<String> = Vec::new();
    let (decision, rules, code, location, req) = match &args.server {
        None => {
            let (decided, location) = decide_local(args, req, docs, &mut files, &mut notes)?;
            let Decided {
                decision,
                exit_code,
                rules,
                request,
                ..
            } = decided;
            (decision, rules, exit_code, location, request)
        }
        Some(url) => {
            let (decision, rules, code, location) = remote::decide(args, url, &req, &docs)?;
            // Advisories come from the server's store: named as a local gate names its store's.
            for e in decision.evidence.iter().filter(|e| e.kind == "advisory") {
                files
                    .entry(e.digest.clone())
                    .or_insert_with(|| format!("{} (store)", e.source));
            }
            (decision, rules, code, location, req)
        }
    };
    let mut report = Report::new(&decision, rules, &req, files, code);
    report.server = args.server.clone();
    write_outputs(args, &decision, &report, &notes, &location, code)
}

/// The request the command line describes: the artifact (or the manifests as the subject),
/// the context, and every evidence file read — those that cannot be read go in as unreadable
/// evidence, so the decision fails closed. With the documents' bytes and their file names.
fn read_request(
    args: &GateArgs,
) -> anyhow::Result<(DecisionRequest, Documents, BTreeMap<String, String>)> {
    let limits = args.limits.limits();
    // Manifests are read first: without --artifact, their bytes name the subject.
    let mut manifest_bytes = Vec::new();
    for path in &args.manifest {
        manifest_bytes.push((path, read_limited(path, &limits)));
    }
    let artifact = match &args.artifact {
        Some(a) => ArtifactId::parse(a).map_err(|e| anyhow!("--artifact {e}"))?,
        // The decision service names it from the reference and the digest it resolves to.
        None if args.image.is_some() => ArtifactId {
            name: String::new(),
            digest: String::new(),
        },
        None => {
            let mut all = Vec::new();
            for (path, bytes) in &manifest_bytes {
                let bytes = bytes
                    .as_ref()
                    .map_err(|e| anyhow!("--manifest {}: {}", path.display(), describe(e)))?;
                all.extend((bytes.len() as u64).to_le_bytes());
                all.extend(bytes);
            }
            ArtifactId {
                name: "manifests".into(),
                digest: sha256(&all),
            }
        }
    };
    // The firewall's clock unless --time says otherwise (then the decision says it was
    // asserted).
    let time = match args.time.as_deref() {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| anyhow!("--time {t:?}: not an RFC 3339 time ({e})"))?,
        ),
        None => None,
    };
    let mut docs = Documents::default();
    let mut files: BTreeMap<String, String> = BTreeMap::new();

    let mut req = DecisionRequest::new(artifact, args.environment.clone());
    req.context = RequestContext {
        pipeline: args.pipeline.clone(),
        stage: args.stage.clone(),
        requester: args.requester.clone(),
        approver: args.approver.clone(),
        change_ref: args.change_ref.clone(),
        time,
        ..RequestContext::default()
    };
    req.what_if = args.what_if;

    for (path, bytes) in manifest_bytes {
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                req.unreadable.push(UnreadableEvidence {
                    source: display(path),
                    digest: None,
                    error: describe(&e),
                });
                continue;
            }
        };
        let digest = sha256(&bytes);
        files.insert(digest.clone(), display(path));
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|e| format!("not UTF-8 text: {e}"))
            .and_then(|text| parse_manifests(&display(path), text).map_err(|e| e.to_string()));
        match parsed {
            Ok(ms) => req.manifests.extend(ms),
            Err(error) => req.unreadable.push(UnreadableEvidence {
                source: display(path),
                digest: Some(digest),
                error: format!("Kubernetes manifest: {error}"),
            }),
        }
    }

    let evidence_files = evidence_files(&args.evidence)?;
    let progress = render::progress(evidence_files.len() as u64);
    for path in &evidence_files {
        progress.set_message(display(path));
        match read_evidence(path, &limits) {
            Ok((bytes, doc)) => {
                files.insert(doc.digest.clone(), display(path));
                docs.add(blob_kinds::EVIDENCE, bytes);
                req.evidence.push(doc);
            }
            Err(Unread::Io(e)) => req.unreadable.push(UnreadableEvidence {
                source: display(path),
                digest: None,
                error: describe(&e),
            }),
            Err(Unread::Parse(digest, e)) => {
                files.insert(digest.clone(), display(path));
                req.unreadable.push(UnreadableEvidence {
                    source: display(path),
                    digest: Some(digest),
                    error: describe(&e),
                });
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();

    for path in &args.verification {
        match read_verifications(path, &limits) {
            Ok((digest, entries)) => {
                files.insert(digest.clone(), display(path));
                req.verifications.extend(entries);
            }
            Err(u) => req.unreadable.push(u),
        }
    }
    for path in &args.exposure {
        match read_exposures(path, &limits) {
            Ok((digest, entries)) => {
                files.insert(digest.clone(), display(path));
                req.exposures.extend(entries);
            }
            Err(u) => req.unreadable.push(u),
        }
    }
    if let Some(path) = &args.previous {
        match read_json::<InputPrevious>(path, &limits) {
            Ok((digest, previous)) => {
                files.insert(digest, display(path));
                req.previous = Some(previous);
            }
            Err(u) => req.unreadable.push(u),
        }
    }
    if let Some(path) = &args.history {
        match read_json::<Vec<InputHistoryEntry>>(path, &limits) {
            Ok((digest, history)) => {
                files.insert(digest, display(path));
                req.history = history;
            }
            Err(u) => req.unreadable.push(u),
        }
    }

    Ok((req, docs, files))
}

/// The human summary on stderr (with the notes and where it was recorded), the `--format`
/// output on stdout or `--output`; the exit code.
fn write_outputs(
    args: &GateArgs,
    decision: &Decision,
    report: &Report,
    notes: &[String],
    location: &str,
    code: u8,
) -> anyhow::Result<u8> {
    let color = args.color.enabled();

    let mut err = std::io::stderr().lock();
    for n in notes {
        writeln!(err, "note: {n}")?;
    }
    if let Some(pull) = &decision.image {
        writeln!(err, "image: {} -> {}", pull.reference, pull.image.pinned())?;
        for e in decision.evidence.iter().filter(|e| e.origin.is_some()) {
            writeln!(err, "  fetched {} {}: {}", e.kind, e.digest, e.source)?;
        }
        for s in &pull.skipped {
            writeln!(
                err,
                "  not read {} {}: {} ({})",
                s.kind.as_str(),
                s.origin.digest,
                portcullis_firewall::service::origin_source(&s.origin),
                s.reason
            )?;
        }
    }
    render::human::write(&mut err, report, color)?;
    if let Some(chain) = &decision.chain {
        writeln!(
            err,
            "recorded: decision {} (audit entry {}) in {}",
            decision.id, chain.seq, location
        )?;
    }
    drop(err);

    match &args.output {
        Some(p) => write_file(p, &rendered(args.format, decision, report)?)?,
        None => {
            if args.format != OutputFormat::Human {
                let mut out = std::io::stdout().lock();
                out.write_all(&rendered(args.format, decision, report)?)?;
                out.flush()?;
            }
        }
    }
    for w in &args.write {
        write_file(&w.path, &rendered(w.format, decision, report)?)
            .with_context(|| format!("--write {}", w.path.display()))?;
    }
    Ok(code)
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Pretty JSON with a final newline.
fn pretty<T: serde::Serialize>(v: &T) -> anyhow::Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v)?;
    out.push(b'\n');
    Ok(out)
}

/// The decision in `format` (the human summary without colour).
fn rendered(format: OutputFormat, decision: &Decision, report: &Report) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        OutputFormat::Human => {
            let mut out = Vec::new();
            render::human::write(&mut out, report, false)?;
            out
        }
        OutputFormat::Json => pretty(decision)?,
        OutputFormat::Sarif => pretty(&render::sarif::document(report))?,
        OutputFormat::Junit => render::junit::document(report).into_bytes(),
        OutputFormat::Github => render::github::document(report).into_bytes(),
        OutputFormat::Markdown => render::markdown::document(report).into_bytes(),
        OutputFormat::Codequality => pretty(&render::codequality::document(report))?,
    })
}

/// Decide with the local policies, record in the local store (the firewall's decision
/// service does both).
fn decide_local(
    args: &GateArgs,
    req: DecisionRequest,
    docs: Documents,
    files: &mut BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> anyhow::Result<(Decided, String)> {
    let rt = crate::state::runtime()?;
    let store = rt.block_on(args.store.open())?;
    let loaded = Setup {
        kev: args.kev.clone(),
        gatekeeper: args.gatekeeper.clone(),
        trusted_keys: args.trusted_keys.clone(),
        trusted_root: args.trusted_root.clone(),
        advisories: args.advisories.clone(),
        exceptions: args.exceptions.clone(),
        registry: args.registry.settings(),
        ..setup(&args.policies, args.limits.limits())
    }
    .load()?;
    notes.extend(loaded.notes.iter().cloned());
    let config = loaded.firewall.config();
    if !config.environments.is_empty() && !config.environments.contains_key(&args.environment) {
        notes.push(format!(
            "environment {:?} is not declared in {}: treated as protected",
            args.environment,
            config.source.as_deref().unwrap_or("the configuration")
        ));
    }
    let location = store.location().to_string();
    let service = rt.block_on(DecisionService::open(
        store,
        loaded,
        AdmissionConfig::default(),
    ))?;
    for (digest, source) in &service.live().sources {
        files
            .entry(digest.clone())
            .or_insert_with(|| source.clone());
    }
    let actor = crate::state::cli_actor(&args.requester);
    // Nothing is reported before it is on the record: a decision that cannot be recorded is
    // an error (exit 2), never an allow.
    let decided = rt.block_on(service.decide(Ask {
        request: req,
        documents: docs,
        actor,
        override_reason: None,
        image: args.image.clone(),
    }))?;
    if let Some(path) = &args.emit_input {
        let input = decided_input(&service.live().firewall, &decided)?;
        write_file(path, &pretty(&input)?).context("--emit-input")?;
    }
    Ok((decided, location))
}

/// The policy input the decision's rules were evaluated on: the request as decided (its
/// history, previous deployment and baseline filled in by the service), at the decision's time.
fn decided_input(firewall: &Firewall, decided: &Decided) -> anyhow::Result<PolicyInput> {
    let mut req = decided.request.clone();
    if req.context.time.is_none() {
        // The firewall's clock decided: the same instant, still the firewall's.
        let at = DateTime::parse_from_rfc3339(&decided.decision.decided_at)
            .map_err(|e| anyhow!("the decision's time {:?}: {e}", decided.decision.decided_at))?;
        req.context.time = Some(at.with_timezone(&Utc));
        req.context.time_source = FactSource::Firewall;
    }
    Ok(firewall.policy_input(&req))
}

pub(crate) fn display(p: &Path) -> String {
    p.display().to_string()
}

/// Why a file could not be used: not read at all, or read (with this digest) but not parsed.
pub(crate) enum Unread {
    Io(ParseError),
    Parse(String, ParseError),
}

/// A parse error without the file name (the caller names the file): `FORMAT: at PLACE:
/// message [kind]`, or `message [kind]` when the file was not read at all.
pub(crate) fn describe(e: &ParseError) -> String {
    if e.format.is_none() && matches!(e.kind, ErrorKind::Io | ErrorKind::TooLarge) {
        format!("{} [{}]", e.message, e.kind.code())
    } else {
        e.to_string()
    }
}

pub(crate) fn read_evidence(
    path: &Path,
    limits: &Limits,
) -> Result<(Vec<u8>, EvidenceDoc), Unread> {
    let bytes = read_limited(path, limits).map_err(Unread::Io)?;
    match EvidenceDoc::parse(&display(path), &bytes, limits) {
        Ok(doc) => Ok((bytes, doc)),
        Err(e) => Err(Unread::Parse(sha256(&bytes), e)),
    }
}

/// A JSON document of type `T`, with the digest of its bytes.
fn read_json<T: DeserializeOwned>(
    path: &Path,
    limits: &Limits,
) -> Result<(String, T), UnreadableEvidence> {
    let bytes = read_limited(path, limits).map_err(|e| UnreadableEvidence {
        source: display(path),
        digest: None,
        error: describe(&e),
    })?;
    let digest = sha256(&bytes);
    match serde_json::from_slice::<T>(&bytes) {
        Ok(v) => Ok((digest, v)),
        Err(e) => Err(UnreadableEvidence {
            source: display(path),
            digest: Some(digest),
            error: format!("JSON: {e}"),
        }),
    }
}

/// The bytes of a JSON evidence file and their digest, or why it cannot be read.
fn read_json_file(path: &Path, limits: &Limits) -> Result<(String, Vec<u8>), UnreadableEvidence> {
    let bytes = read_limited(path, limits).map_err(|e| UnreadableEvidence {
        source: display(path),
        digest: None,
        error: describe(&e),
    })?;
    Ok((sha256(&bytes), bytes))
}

/// Verification entries from `path`: a canary analysis report or PolicyInput `verifications`
/// entries (the verify crate reads its own reports).
fn read_verifications(
    path: &Path,
    limits: &Limits,
) -> Result<(String, Vec<InputVerification>), UnreadableEvidence> {
    let (digest, bytes) = read_json_file(path, limits)?;
    portcullis_verify::evidence::verifications_from_json(&bytes, &digest)
        .map(|v| (digest.clone(), v))
        .map_err(|e| UnreadableEvidence {
            source: display(path),
            digest: Some(digest.clone()),
            error: e.to_string(),
        })
}

/// Exposure entries from `path`: a `portcullis probe` report or PolicyInput `exposures`
/// entries (the probe crate reads its own reports).
fn read_exposures(
    path: &Path,
    limits: &Limits,
) -> Result<(String, Vec<InputExposure>), UnreadableEvidence> {
    let (digest, bytes) = read_json_file(path, limits)?;
    portcullis_probe::evidence::exposures_from_json(&bytes, &digest)
        .map(|v| (digest.clone(), v))
        .map_err(|e| UnreadableEvidence {
            source: display(path),
            digest: Some(digest.clone()),
            error: e.to_string(),
        })
}

/// Files named, and the files under directories named. A path that cannot be read stays in
/// the list: it becomes unreadable evidence in the decision, never a skipped file.
pub(crate) fn evidence_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            out.extend(crate::inspect::collect(std::slice::from_ref(p))?.0);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}
