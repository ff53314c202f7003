//! Outputs of a decision. Every renderer walks the same [`Item`]s — the firewall's `Violation`
//! with its status (enforced, warning, excepted) — so the terminal, JSON, SARIF, JUnit and
//! GitHub annotations, the markdown summary and GitLab Code Quality never disagree about what
//! was found.

pub mod codequality;
pub mod diff;
pub mod github;
pub mod human;
pub mod junit;
pub mod markdown;
pub mod sarif;

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use portcullis_firewall::{Decision, DecisionRequest, Exception, Violation};
use portcullis_policy::Action;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Only the human summary (on stderr; also to `--output` when given).
    Human,
    /// The decision as JSON.
    Json,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
    /// JUnit XML (test reports).
    Junit,
    /// GitHub Actions workflow commands (annotations).
    Github,
    /// Markdown: a GitHub job summary or a GitLab merge-request note.
    Markdown,
    /// GitLab Code Quality (Code Climate JSON issues).
    Codequality,
}

/// `--write FORMAT=FILE`: one more output of the same decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteTarget {
    pub format: OutputFormat,
    pub path: std::path::PathBuf,
}

impl WriteTarget {
    /// `FORMAT=FILE`, FORMAT one of the `--format` values.
    pub fn parse(s: &str) -> Result<Self, String> {
        let names = || {
            <OutputFormat as clap::ValueEnum>::value_variants()
                .iter()
                .filter_map(clap::ValueEnum::to_possible_value)
                .map(|p| p.get_name().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (format, path) = s
            .split_once('=')
            .ok_or_else(|| format!("expected FORMAT=FILE (FORMAT one of {})", names()))?;
        let format = <OutputFormat as clap::ValueEnum>::from_str(format.trim(), true)
            .map_err(|_| format!("unknown format {format:?}: expected one of {}", names()))?;
        if path.is_empty() {
            return Err(format!("no file after {format:?}=: expected FORMAT=FILE"));
        }
        Ok(Self {
            format,
            path: path.into(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether the human summary on stderr is coloured.
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// A progress bar on stderr for reading many files; hidden for one file or without a terminal.
pub fn progress(len: u64) -> ProgressBar {
    if len < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} reading evidence [{bar:30}] {pos}/{len} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb
}

/// A progress bar on stderr for long work of `len` steps (the template's `{bar}`, `{pos}`,
/// `{len}`, `{wide_msg}`…); hidden when `len` is 0 or stderr is not a terminal.
pub fn progress_bar(len: u64, template: &str) -> ProgressBar {
    if len == 0 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(&format!("{{spinner}} {template}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb
}

/// A progress bar drawn on stderr only once the work turns out long ([`LazyBar::show`]), and
/// never without a terminal: short runs print no bar at all.
#[derive(Clone)]
pub struct LazyBar {
    pub bar: ProgressBar,
    terminal: bool,
}

impl LazyBar {
    pub fn new(template: &str) -> Self {
        let bar = progress_bar(1, template);
        let terminal = !bar.is_hidden();
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        LazyBar { bar, terminal }
    }

    /// Draw from now on (on a terminal).
    pub fn show(&self) {
        if self.terminal && self.bar.is_hidden() {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }
}

/// What a violation did to the decision.
#[derive(Debug, Clone, Copy)]
pub enum Status<'a> {
    /// Enforced: it denies.
    Enforced,
    /// The rule warns in this environment.
    Warning,
    /// An exception let it through.
    Excepted(&'a Exception),
}

impl Status<'_> {
    pub fn word(self) -> &'static str {
        match self {
            Status::Enforced => "violation",
            Status::Warning => "warning",
            Status::Excepted(_) => "excepted",
        }
    }
}

/// One violation as every output shows it.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub violation: &'a Violation,
    pub status: Status<'a>,
}

pub use portcullis_firewall::rules::RuleInfo;

/// A decision with what the renderers need around it.
pub struct Report<'a> {
    pub decision: &'a Decision,
    /// Rules of the bundle, then the firewall's own (fail-closed) rules.
    pub rules: Vec<RuleInfo>,
    /// Document digest -> file it was read from.
    pub files: BTreeMap<String, String>,
    /// Finding key -> where in the code it is (path, line), for SAST and IaC findings.
    pub locations: HashMap<String, (String, Option<u32>)>,
    pub exit_code: u8,
    /// The Portcullis server that decided (`gate --server`): the markdown links to its
    /// dashboard.
    pub server: Option<String>,
}

impl<'a> Report<'a> {
    pub fn new(
        decision: &'a Decision,
        rules: Vec<RuleInfo>,
        req: &DecisionRequest,
        mut files: BTreeMap<String, String>,
        exit_code: u8,
    ) -> Self {
        for e in &decision.evidence {
            files
                .entry(e.digest.clone())
                .or_insert_with(|| e.source.clone());
        }
        // Where findings point in the code (first location reported for a finding key).
        let mut locations: HashMap<String, (String, Option<u32>)> = HashMap::new();
        for f in req.evidence.iter().flat_map(|d| &d.evidence.findings) {
            if let Some(l) = &f.location {
                locations
                    .entry(f.key.clone())
                    .or_insert_with(|| (l.path.clone(), l.start_line));
            }
        }
        Self {
            decision,
            rules,
            files,
            locations,
            exit_code,
            server: None,
        }
    }

    /// Violations, then warnings, then excepted violations.
    pub fn items(&self) -> impl Iterator<Item = Item<'a>> + use<'a> {
        let d: &'a Decision = self.decision;
        d.violations
            .iter()
            .map(|v| Item {
                violation: v,
                status: Status::Enforced,
            })
            .chain(d.warnings.iter().map(|v| Item {
                violation: v,
                status: Status::Warning,
            }))
            .chain(d.excepted.iter().map(|e| Item {
                violation: &e.violation,
                status: Status::Excepted(&e.exception),
            }))
    }

    pub fn rule(&self, id: &str) -> Option<&RuleInfo> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The file a document digest was read from.
    pub fn file(&self, digest: &str) -> Option<&str> {
        self.files.get(digest).map(String::as_str)
    }

    /// Where in the code a violation points, when it is about a finding with a location.
    pub fn code_location(&self, v: &Violation) -> Option<&(String, Option<u32>)> {
        v.evidence_refs
            .iter()
            .filter(|r| r.kind == "finding")
            .find_map(|r| self.locations.get(&r.id))
    }

    /// The evidence files a violation rests on, in order, without repeats.
    pub fn evidence_files<'v>(&self, v: &'v Violation) -> Vec<(&'v str, String)> {
        let mut out: Vec<(&'v str, String)> = Vec::new();
        for r in &v.evidence_refs {
            for d in &r.evidence {
                if out.iter().any(|(x, _)| *x == d.as_str()) {
                    continue;
                }
                let file = self.file(d).unwrap_or("").to_string();
                out.push((d.as_str(), file));
            }
        }
        out
    }
}

/// `sha256:9f3c1d0a…b7c9f`: enough to tell documents apart and to find them.
pub fn short_digest(d: &str) -> String {
    let (alg, hex) = d.split_once(':').unwrap_or(("", d));
    let short = match (
        hex.get(..8),
        hex.len().checked_sub(5).and_then(|i| hex.get(i..)),
    ) {
        (Some(head), Some(tail)) if hex.len() > 16 => format!("{head}…{tail}"),
        _ => hex.to_string(),
    };
    if alg.is_empty() {
        short
    } else {
        format!("{alg}:{short}")
    }
}

/// Numeric severity for code scanning (`security-severity`, CVSS-like).
pub fn severity_score(s: &str) -> Option<&'static str> {
    match s {
        "critical" => Some("9.5"),
        "high" => Some("8.0"),
        "medium" => Some("5.5"),
        "low" => Some("2.0"),
        "info" => Some("0.0"),
        _ => None,
    }
}

/// Counts shown in every summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub violations: usize,
    pub warnings: usize,
    pub excepted: usize,
    pub expired: usize,
    pub errors: usize,
    pub evaluated: usize,
}

impl Report<'_> {
    pub fn counts(&self) -> Counts {
        let d = self.decision;
        Counts {
            violations: d.violations.len(),
            warnings: d.warnings.len(),
            excepted: d.excepted.len(),
            expired: d.expired_exceptions.len(),
            errors: d.errors.len(),
            evaluated: self
                .rules
                .iter()
                .filter(|r| r.source.is_some() && r.action != Action::Off)
                .count(),
        }
    }
}

impl Report<'_> {
    /// `N violations, N warnings, N excepted, N expired exceptions, N errors (exit C)`: the
    /// closing line every summary ends with.
    pub fn counts_line(&self) -> String {
        let c = self.counts();
        format!(
            "{}, {}, {} excepted, {}, {} (exit {})",
            plural(c.violations, "violation", "violations"),
            plural(c.warnings, "warning", "warnings"),
            c.excepted,
            plural(c.expired, "expired exception", "expired exceptions"),
            plural(c.errors, "error", "errors"),
            self.exit_code
        )
    }
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_digests_keep_both_ends() {
        assert_eq!(
            short_digest("sha256:9f3c1d0a8e5b7c2f4a6d8e0b1c3f5a7d9e1b3c5f7a9d1e3b5c7f9a1d3e5b7c9f"),
            "sha256:9f3c1d0a…b7c9f"
        );
        assert_eq!(short_digest("sha256:abc"), "sha256:abc");
        assert_eq!(short_digest("x"), "x");
    }
}
