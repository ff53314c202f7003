//! `portcullis report`: the audit and compliance report of a time range, as HTML, PDF, JSON or
//! OSCAL. A one-line summary goes to stderr; the report to stdout or `--output`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use portcullis_report::{Bound, Format, Options, Paper, ReportQuery, oscal, parse_bound};

use crate::exit;
use crate::state::{StoreArgs, runtime};

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// One environment (default: all of them).
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Start of the range: RFC 3339, or a date (its start, UTC). Default: 30 days before --to.
    #[arg(long, value_name = "TIME|DATE")]
    pub from: Option<String>,
    /// End of the range, excluded: RFC 3339, or a date (included: the range ends at its end,
    /// UTC). Default: now.
    #[arg(long, value_name = "TIME|DATE")]
    pub to: Option<String>,
    /// html (self-contained), pdf (headless Chromium), json, or oscal (OSCAL 1.1.2 assessment
    /// results and POA&M).
    #[arg(long, default_value = "html", value_name = "FORMAT", value_parser = parse_format)]
    pub format: Format,
    /// Paper the html and pdf reports are laid out for: a4 or letter.
    #[arg(long, default_value = "a4", value_name = "PAPER", value_parser = parse_paper)]
    pub paper: Paper,
    /// html and pdf: the summary (scope and verdicts, control coverage, exceptions, advisories,
    /// what ran) without a row per decision, for long periods.
    #[arg(long)]
    pub summary_only: bool,
    /// Where to write it (default: stdout). With --format oscal, an existing directory gets two
    /// files: assessment-results.json and plan-of-action-and-milestones.json.
    #[arg(long, short, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_paper(s: &str) -> Result<Paper, String> {
    s.parse()
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
        .map_err(|e: portcullis_report::ParseError| e.to_string())
}

pub fn run(a: &ReportArgs) -> anyhow::Result<u8> {
    let to = match &a.to {
        Some(t) => parse_bound(t, Bound::To).map_err(|e| anyhow::anyhow!("--to: {e}"))?,
        None => chrono::Utc::now(),
    };
    let from = match &a.from {
        Some(t) => parse_bound(t, Bound::From).map_err(|e| anyhow::anyhow!("--from: {e}"))?,
        None => to - chrono::Duration::days(30),
    };
    let options = Options::for_format(a.format, a.paper, a.summary_only)
        .map_err(|e| anyhow::anyhow!("--summary-only applies to --format html and pdf ({e})"))?;
    if a.format == Format::Pdf && a.output.is_none() && std::io::stdout().is_terminal() {
        bail!("--format pdf writes binary data: give --output FILE (or redirect stdout)");
    }
    let query = ReportQuery {
        env: a.environment.clone(),
        from,
        to,
    };
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    // A bar on a terminal for long reports: the decisions read, the rows rendered, then
    // Chromium printing (one step it does not report on).
    let long = |total: usize| total >= 200;
    let lazy = crate::render::LazyBar::new("{msg} [{bar:30}] {pos}/{len} decisions");
    let bar = lazy.bar.clone();
    let show = {
        let lazy = lazy.clone();
        move || lazy.show()
    };
    bar.set_message("reading");
    let report = {
        let bar = bar.clone();
        let show = show.clone();
        let mut tell = move |done: usize, total: usize| {
            if long(total) {
                show();
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
        };
        rt.block_on(portcullis_report::build_with_progress(
            &store, &query, &mut tell,
        ))
        .context("cannot build the report")?
    };

    let written = match (&a.output, a.format) {
        (Some(dir), Format::Oscal) if dir.is_dir() => {
            let docs = oscal::documents(&report);
            let ar = dir.join("assessment-results.json");
            std::fs::write(&ar, serde_json::to_vec_pretty(&docs.assessment_results)?)
                .with_context(|| format!("cannot write {}", ar.display()))?;
            let poam_path = dir.join("plan-of-action-and-milestones.json");
            match &docs.poam {
                Some(poam) => {
                    std::fs::write(&poam_path, serde_json::to_vec_pretty(poam)?)
                        .with_context(|| format!("cannot write {}", poam_path.display()))?;
                    format!("{} and {}", ar.display(), poam_path.display())
                }
                None => {
                    // A stale POA&M from an earlier run must not pass for this one.
                    if poam_path.is_file() {
                        std::fs::remove_file(&poam_path).with_context(|| {
                            format!("cannot remove the stale {}", poam_path.display())
                        })?;
                    }
                    format!(
                        "{} (no POA&M: no exception is active at the end of the range)",
                        ar.display()
                    )
                }
            }
        }
        (output, format) => {
            bar.set_message("rendering");
            bar.set_position(0);
            let mut tell = |done: usize, total: usize| {
                if long(total) {
                    show();
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                    if done == total && format == Format::Pdf {
                        bar.set_message("printing with Chromium after");
                    }
                }
            };
            let bytes = portcullis_report::render_with(&report, format, &options, &mut tell);
            bar.finish_and_clear();
            let bytes = bytes?;
            match output {
                Some(path) => {
                    std::fs::write(path, &bytes)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    path.display().to_string()
                }
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&bytes)?;
                    out.flush()?;
                    "stdout".into()
                }
            }
        }
    };

    let s = &report.summary;
    eprintln!(
        "report {} {}..{}: {} decisions ({} allowed, {} with warnings, {} denied), {} exceptions used, {} advisories; controls {} satisfied, {} not satisfied, {} not assessed; audit chain {}; {} written to {written}",
        report
            .range
            .environment
            .as_deref()
            .unwrap_or("(all environments)"),
        report.range.from,
        report.range.to,
        s.counts.decisions,
        s.counts.allowed,
        s.counts.warned,
        s.counts.denied,
        s.exceptions_used,
        s.advisories,
        s.controls_satisfied,
        s.controls_not_satisfied,
        s.controls_not_assessed,
        if report.chain.verified {
            "verified".to_string()
        } else {
            format!(
                "DOES NOT VERIFY ({})",
                report.chain.failure.as_deref().unwrap_or("?")
            )
        },
        a.format
    );
    // A report over a chain that does not verify is written, but the run fails.
    Ok(if report.chain.verified {
        exit::OK
    } else {
        exit::DENIED
    })
}
