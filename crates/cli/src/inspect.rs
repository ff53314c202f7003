//! `portcullis evidence inspect`: detect, parse and summarize evidence files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use portcullis_evidence::{
    Artifact, ErrorKind, Evidence, FindingKind, Format, Limits, ParseError, Severity, Tool,
};
use serde::Serialize;

use crate::{InspectArgs, exit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

/// What `inspect` says of one file.
#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    format: Format,
    #[serde(skip_serializing_if = "Option::is_none")]
    format_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact: Option<Artifact>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool: Option<Tool>,
    counts: Counts,
    /// Errors the tool reported about its own run: the evidence may be incomplete.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scan_errors: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<Evidence>,
}

#[derive(Debug, Serialize, Default)]
struct Counts {
    components: usize,
    findings: usize,
    /// kind -> severity -> count, only non-zero entries.
    findings_by_kind: BTreeMap<FindingKind, BTreeMap<Severity, usize>>,
    advisories: usize,
    statements: usize,
    /// VEX analysis state -> number of findings carrying it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    vex: BTreeMap<String, usize>,
}

impl Counts {
    fn of(ev: &Evidence) -> Self {
        let mut by_kind: BTreeMap<FindingKind, BTreeMap<Severity, usize>> = BTreeMap::new();
        let mut vex: BTreeMap<String, usize> = BTreeMap::new();
        for f in &ev.findings {
            *by_kind
                .entry(f.kind)
                .or_default()
                .entry(f.severity)
                .or_default() += 1;
            if let Some(v) = &f.vex {
                *vex.entry(v.state.clone()).or_default() += 1;
            }
        }
        Self {
            components: ev.components.len(),
            findings: ev.findings.len(),
            findings_by_kind: by_kind,
            advisories: ev.advisories.len(),
            statements: ev.attestations.len(),
            vex,
        }
    }
}

#[derive(Debug, Serialize)]
struct ErrorReport {
    file: String,
    kind: &'static str,
    message: String,
}

#[derive(Debug, Serialize)]
struct JsonOutput {
    files: Vec<FileReport>,
    errors: Vec<ErrorReport>,
}

pub fn run(args: &InspectArgs) -> anyhow::Result<u8> {
    if let Some(image) = &args.image {
        return run_image(args, image);
    }
    let limits = args.limits.limits();
    let (files, walked_dir) = collect(&args.paths)?;

    let progress = if walked_dir {
        let pb = ProgressBar::new(files.len() as u64);
        pb.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb
    } else {
        ProgressBar::hidden()
    };

    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for path in &files {
        progress.set_message(path.display().to_string());
        match inspect_file(path, &limits, args.as_format) {
            Ok(ev) => reports.push(FileReport {
                file: path.display().to_string(),
                format: ev.format,
                format_version: ev.format_version.clone(),
                artifact: ev.artifact.clone(),
                tool: ev.tool.clone(),
                counts: Counts::of(&ev),
                scan_errors: ev.scan_errors.clone(),
                evidence: (args.format == OutputFormat::Json).then_some(ev),
            }),
            Err(e) => {
                progress.suspend(|| eprintln!("error: {e}"));
                errors.push(ErrorReport {
                    file: path.display().to_string(),
                    kind: e.kind.code(),
                    message: e.to_string(),
                });
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();

    let mut out = output(args)?;
    match args.format {
        OutputFormat::Human => {
            for r in &reports {
                write_human(&mut out, r)?;
            }
        }
        OutputFormat::Json => {
            let doc = JsonOutput {
                files: reports,
                errors,
            };
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
            out.flush()?;
            return Ok(if doc.errors.is_empty() {
                exit::OK
            } else {
                exit::ERROR
            });
        }
    }
    out.flush()?;
    if files.len() > 1 || !errors.is_empty() {
        eprintln!(
            "{} file(s) read, {} unreadable",
            files.len() - errors.len(),
            errors.len()
        );
    }
    Ok(if errors.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}

fn write_human(out: &mut dyn Write, r: &FileReport) -> std::io::Result<()> {
    let version = r
        .format_version
        .as_deref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    writeln!(out, "{}: {}{}", r.file, r.format.name(), version)?;
    let mut about = Vec::new();
    if let Some(a) = &r.artifact {
        match &a.digest {
            Some(d) => about.push(format!("artifact {} ({d})", a.name)),
            None => about.push(format!("artifact {}", a.name)),
        }
    }
    if let Some(t) = &r.tool {
        about.push(format!(
            "by {}{}",
            t.name,
            t.version
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        ));
    }
    if !about.is_empty() {
        writeln!(out, "  {}", about.join(", "))?;
    }
    let c = &r.counts;
    writeln!(
        out,
        "  {} components, {} advisories, {} statements, {} findings",
        c.components, c.advisories, c.statements, c.findings
    )?;
    for kind in FindingKind::ALL {
        let Some(by_sev) = c.findings_by_kind.get(&kind) else {
            continue;
        };
        let total: usize = by_sev.values().sum();
        let parts: Vec<String> = Severity::ALL
            .iter()
            .filter_map(|s| by_sev.get(s).map(|n| format!("{s} {n}")))
            .collect();
        writeln!(out, "    {kind:<16} {total:>6}  ({})", parts.join(", "))?;
    }
    if !c.vex.is_empty() {
        let parts: Vec<String> = c.vex.iter().map(|(s, n)| format!("{s} {n}")).collect();
        writeln!(out, "    with VEX analysis: {}", parts.join(", "))?;
    }
    if !r.scan_errors.is_empty() {
        writeln!(
            out,
            "  INCOMPLETE: the tool reported {} error(s) about its own run, first: {}",
            r.scan_errors.len(),
            r.scan_errors.first().map(String::as_str).unwrap_or("")
        )?;
    }
    Ok(())
}

/// Read and parse one file. The size limit is checked before reading.
fn inspect_file(
    path: &Path,
    limits: &Limits,
    as_format: Option<Format>,
) -> Result<Evidence, ParseError> {
    let io_err = |e: std::io::Error| {
        ParseError::new(ErrorKind::Io, as_format, format!("cannot read: {e}")).in_file(path)
    };
    let len = std::fs::metadata(path).map_err(io_err)?.len();
    if len > limits.max_bytes {
        return Err(ParseError::new(
            ErrorKind::TooLarge,
            as_format,
            format!(
                "{len} bytes is over the limit of {} bytes (raise it with --max-bytes)",
                limits.max_bytes
            ),
        )
        .in_file(path));
    }
    let file = std::fs::File::open(path).map_err(io_err)?;
    portcullis_evidence::parse_reader(file, as_format, limits).map_err(|e| e.in_file(path))
}

/// Files named directly, and every regular file under the directories named (sorted, hidden
/// files and directories skipped). Returns whether any directory was walked.
pub fn collect(paths: &[PathBuf]) -> anyhow::Result<(Vec<PathBuf>, bool)> {
    let mut files = Vec::new();
    let mut walked = false;
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("{}: cannot read", p.display()))?;
        if meta.is_dir() {
            walked = true;
            let walker = walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                });
            for entry in walker {
                let entry = entry.with_context(|| format!("{}: cannot walk", p.display()))?;
                if entry.file_type().is_file() {
                    files.push(entry.into_path());
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    Ok((files, walked))
}

/// What `inspect --image` says of one attached document.
#[derive(Debug, Serialize)]
struct AttachmentReport {
    kind: &'static str,
    origin: portcullis_registry::Origin,
    /// What it was read as (documents read as evidence).
    #[serde(skip_serializing_if = "Option::is_none")]
    read: Option<FileReport>,
    /// Why it was not read, or could not be.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_read: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct ImageReport {
    reference: String,
    image: portcullis_registry::ImageRef,
    attachments: Vec<AttachmentReport>,
}

/// `evidence inspect --image REF`: resolve, list and read what is attached.
fn run_image(args: &InspectArgs, image: &str) -> anyhow::Result<u8> {
    let limits = args.limits.limits();
    let settings = args.registry.settings();
    let rt = crate::state::runtime()?;
    let pulled = rt.block_on(async {
        let registry = portcullis_registry::Registry::new(&settings, settings.limits())?;
        registry.pull(image).await
    })?;
    let mut attachments = Vec::new();
    let mut unreadable = 0usize;
    for f in pulled.documents {
        let name = portcullis_firewall::service::origin_source(&f.origin);
        let (read, error) = match portcullis_evidence::parse(&f.bytes, &limits) {
            Ok(ev) => (
                Some(FileReport {
                    file: name,
                    format: ev.format,
                    format_version: ev.format_version.clone(),
                    artifact: ev.artifact.clone(),
                    tool: ev.tool.clone(),
                    counts: Counts::of(&ev),
                    scan_errors: ev.scan_errors.clone(),
                    evidence: (args.format == OutputFormat::Json).then_some(ev),
                }),
                None,
            ),
            Err(e) => {
                unreadable += 1;
                (None, Some(e.to_string()))
            }
        };
        attachments.push(AttachmentReport {
            kind: f.kind.as_str(),
            origin: f.origin,
            read,
            not_read: None,
            error,
        });
    }
    for (origin, e) in pulled.failed {
        unreadable += 1;
        let kind = portcullis_registry::media::kind_of(
            &origin.media_type,
            origin.artifact_type.as_deref(),
        );
        attachments.push(AttachmentReport {
            kind: kind.as_str(),
            origin,
            read: None,
            not_read: None,
            error: Some(e.to_string()),
        });
    }
    for s in pulled.skipped {
        attachments.push(AttachmentReport {
            kind: s.kind.as_str(),
            origin: s.origin,
            read: None,
            not_read: Some(s.reason),
            error: None,
        });
    }
    let report = ImageReport {
        reference: image.to_string(),
        image: pulled.image,
        attachments,
    };
    let mut out = output(args)?;
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        OutputFormat::Human => write_image_human(&mut out, &report)?,
    }
    out.flush()?;
    Ok(if unreadable == 0 {
        exit::OK
    } else {
        exit::ERROR
    })
}

fn write_image_human(out: &mut dyn Write, r: &ImageReport) -> std::io::Result<()> {
    writeln!(out, "{} -> {}", r.reference, r.image.pinned())?;
    writeln!(out, "  {}", r.image.media_type)?;
    if r.attachments.is_empty() {
        writeln!(
            out,
            "nothing attached (no cosign tags, referrers or Buildx attestations)"
        )?;
    }
    for a in &r.attachments {
        let o = &a.origin;
        let via = match &o.tag {
            Some(t) => format!("{} {t}", o.scheme.as_str()),
            None => format!("{} {}", o.scheme.as_str(), o.manifest),
        };
        writeln!(out, "{} {} ({} bytes)", a.kind, o.digest, o.size)?;
        writeln!(out, "  found by {via}")?;
        writeln!(out, "  media type {}", o.media_type)?;
        if let Some(t) = &o.artifact_type {
            writeln!(out, "  artifact type {t}")?;
        }
        if let Some(p) = o
            .annotations
            .get("predicateType")
            .or_else(|| o.annotations.get("in-toto.io/predicate-type"))
        {
            writeln!(out, "  predicate type {p}")?;
        }
        if let Some(r) = &a.read {
            let c = &r.counts;
            writeln!(
                out,
                "  read as {}: {} components, {} advisories, {} statements, {} findings",
                r.format.name(),
                c.components,
                c.advisories,
                c.statements,
                c.findings
            )?;
        }
        if let Some(n) = &a.not_read {
            writeln!(out, "  not read: {n}")?;
        }
        if let Some(e) = &a.error {
            writeln!(out, "  error: {e}")?;
        }
    }
    Ok(())
}

/// Where `--output` says, else stdout.
fn output(args: &InspectArgs) -> anyhow::Result<Box<dyn Write>> {
    Ok(match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}
