//! The HTML report: one self-contained file (inline CSS and SVG charts, no script, no external
//! resource), readable on screen and designed for print (A4 or Letter: columns sized to their
//! content so no word breaks, table headers repeated on every page, rows kept whole, a running
//! header with the scope and "Page X of Y"). Summary first — scope and verdicts, control
//! coverage, exceptions and advisories, what ran — then one compact table row per decision
//! (left out with [`Options::summary_only`]).
//!
//! Rendered from the askama templates in `crates/report/templates/` (`report.html`, one
//! `decision.html` row per decision, `snapshot.html`, `macros.html`, `report.css`), which escape
//! every value from the store. The only markup they take as is: the SVG charts ([`Svg`], from
//! [`charts`], which escapes their text itself), [`Html`] made here (text escaped here, with
//! `<wbr>` break points and digest spans), and the running header's CSS string ([`Css`],
//! escaped here for CSS).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use askama::Template;

use crate::ReportError;
use crate::charts::{self, Series, StackedBars};
use crate::controls::{self, FRAMEWORKS};
use crate::model::{
    ControlCoverage, DecisionEntry, EnvironmentSnapshots, Outcome, Report, SnapshotEntry, Status,
};

/// The paper a report is printed on (`@page size`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Paper {
    /// 210 × 297 mm.
    #[default]
    A4,
    /// US Letter, 8.5 × 11 in.
    Letter,
}

impl Paper {
    pub const ALL: [Paper; 2] = [Paper::A4, Paper::Letter];

    pub fn as_str(self) -> &'static str {
        match self {
            Paper::A4 => "a4",
            Paper::Letter => "letter",
        }
    }

    /// The paper named `name` (`a4`, `letter`; any case).
    pub fn from_name(name: &str) -> Option<Paper> {
        Paper::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name.trim()))
    }

    fn css(self) -> &'static str {
        match self {
            Paper::A4 => "A4",
            Paper::Letter => "letter",
        }
    }
}

impl std::str::FromStr for Paper {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Paper::from_name(s).ok_or_else(|| format!("unknown paper {s:?}: expected a4 or letter"))
    }
}

impl std::fmt::Display for Paper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the HTML (and so the PDF) report is laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub paper: Paper,
    /// Leave out the per-decision rows (and the snapshots between the first and the last of
    /// each environment): the summary of a long period. Counts, coverage, exceptions and
    /// advisories are the same as in the full report.
    pub summary_only: bool,
}

impl Options {
    /// The options of a report in `format` (the one rule for every way in: `portcullis report`,
    /// the API, the dashboard): summary only is an html and pdf layout; json and oscal always
    /// carry every decision.
    pub fn for_format(
        format: crate::Format,
        paper: Paper,
        summary_only: bool,
    ) -> Result<Options, String> {
        if summary_only && matches!(format, crate::Format::Json | crate::Format::Oscal) {
            return Err(format!(
                "a summary-only report is html or pdf: the {} report always carries every decision",
                format.as_str()
            ));
        }
        Ok(Options {
            paper,
            summary_only,
        })
    }
}

/// An SVG chart from [`charts`]: markup the templates insert without escaping. Only this module
/// makes one, and only from [`charts::stacked_bars`], whose text parts (titles, labels,
/// descriptions) are XML-escaped as they are drawn.
struct Svg(String);

impl std::fmt::Display for Svg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Svg {}

/// Markup made in this module: text escaped by [`escape`], with `<wbr>` and `<span>` added.
struct Html(String);

impl std::fmt::Display for Html {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Html {}

/// A CSS string literal (`"…"`) with every character but letters, digits, space and `-_.:,/`
/// written as a CSS escape, so nothing from the store can end the string, the rule or the
/// `<style>` element.
struct Css(String);

impl std::fmt::Display for Css {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Css {}

fn css_string(text: &str) -> Css {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || " -_.:,/".contains(c) {
            out.push(c);
        } else {
            let _ = write!(out, "\\{:x} ", u32::from(c));
        }
    }
    out.push('"');
    Css(out)
}

/// HTML-escape one character the way askama does (numeric references).
fn escape(out: &mut String, c: char) {
    match c {
        '<' => out.push_str("&#60;"),
        '>' => out.push_str("&#62;"),
        '&' => out.push_str("&#38;"),
        '"' => out.push_str("&#34;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

/// `text` escaped, with a break opportunity after each `/ : @ | , _ .` and `-`, and every 16
/// digits of a long hex run (a digest inside a name): long names, keys and purls wrap at their
/// punctuation instead of widening their column or breaking a word.
fn wrap(text: &str) -> Html {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut hex_run = 0usize;
    for c in text.chars() {
        escape(&mut out, c);
        if "/:@|,_.-".contains(c) {
            out.push_str("<wbr>");
            hex_run = 0;
        } else if c.is_ascii_hexdigit() {
            hex_run += 1;
            if hex_run.is_multiple_of(16) {
                out.push_str("<wbr>");
            }
        } else {
            hex_run = 0;
        }
    }
    Html(out)
}

/// A time (`2026-11-02T10:00:00Z`), escaped, which may wrap only between its date and its time.
fn when(text: &str) -> Html {
    let mut out = String::with_capacity(text.len() + 5);
    for c in text.chars() {
        if c == 'T' {
            out.push_str("<wbr>");
        }
        escape(&mut out, c);
    }
    Html(out)
}

/// A digest (`sha256:…`): the algorithm, then its hex in a span that may break anywhere.
fn digest(text: &str) -> Html {
    let mut out = String::from("<code>");
    let (algo, hex) = match text.split_once(':') {
        Some((algo, hex)) => (Some(algo), hex),
        None => (None, text),
    };
    if let Some(algo) = algo {
        algo.chars().for_each(|c| escape(&mut out, c));
        out.push_str(":<wbr>");
    }
    out.push_str("<span class=\"hex\">");
    hex.chars().for_each(|c| escape(&mut out, c));
    out.push_str("</span></code>");
    Html(out)
}

/// `sha256:0123456789ab…` (`len` hex digits; without `sha256:` when `algo` is false): enough to
/// tell documents apart in a row; the full digest is in the JSON report.
fn short_digest(text: &str, len: usize, algo: bool) -> String {
    let (algo, hex) = match text.split_once(':') {
        Some((a, hex)) if algo => (a, hex),
        Some((_, hex)) => ("", hex),
        None => ("", text),
    };
    let short: String = hex.chars().take(len).collect();
    let more = if hex.chars().count() > len { "…" } else { "" };
    if algo.is_empty() {
        format!("{short}{more}")
    } else {
        format!("{algo}:{short}{more}")
    }
}

/// One framework's rows of the control coverage table.
struct FrameworkCoverage<'a> {
    name: &'static str,
    rows: Vec<CoverageRow<'a>>,
    satisfied: usize,
    not_satisfied: usize,
    not_assessed: usize,
}

/// A control with the decisions that failed it split: a violation (enforced) or only warnings.
struct CoverageRow<'a> {
    row: &'a ControlCoverage,
    violated_in: Vec<&'a str>,
    warned_in: Vec<&'a str>,
}

/// Counts of failed rules over the report's decisions, violations apart from warnings.
#[derive(Default)]
struct Totals {
    violations: u64,
    violation_decisions: u64,
    warnings: u64,
    warning_decisions: u64,
}

/// A rule that failed in the range: in how many decisions as a violation, as a warning.
struct RuleRow {
    rule: String,
    title: String,
    violated: usize,
    warned: usize,
}

/// One environment's snapshots as shown: all of them, or (summary only) the last one.
struct RunningView<'a> {
    env: &'a EnvironmentSnapshots,
    shown: Vec<&'a SnapshotEntry>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    r: &'a Report,
    /// `environment production` or `all environments (dev, production)`.
    scope: String,
    title: String,
    /// `@page size`.
    paper: &'static str,
    /// The running header: a CSS string.
    running: Css,
    summary_only: bool,
    /// Whether the decision rows are in the document (links to them work).
    detail: bool,
    totals: Totals,
    rules: Vec<RuleRow>,
    day_chart: Svg,
    frameworks: Vec<FrameworkCoverage<'a>>,
    running_envs: Vec<RunningView<'a>>,
    decision_rows: Html,
}

impl ReportPage<'_> {
    fn wrap(&self, text: &str) -> Html {
        wrap(text)
    }

    fn digest(&self, text: &str) -> Html {
        digest(text)
    }

    fn when(&self, text: &str) -> Html {
        when(text)
    }

    /// `one` for 1, else `many`.
    fn n(&self, count: &u64, one: &'static str, many: &'static str) -> &'static str {
        if *count == 1 { one } else { many }
    }
}

/// A failed rule of one decision, its subjects grouped.
struct Hit {
    rule: String,
    severity: String,
    count: usize,
    exception_id: String,
    /// `exception_id`, wrapped at its punctuation.
    exception: Html,
}

#[derive(Template)]
#[template(path = "decision.html")]
struct DecisionRow<'a> {
    d: &'a DecisionEntry,
    date: &'a str,
    time: &'a str,
    env: Html,
    name: Html,
    digest: String,
    violations: Vec<Hit>,
    warnings: Vec<Hit>,
    excepted: Vec<Hit>,
    errors: Vec<Html>,
    /// (kind, short digest) of each evidence document.
    evidence: Vec<(&'a str, String)>,
}

impl DecisionRow<'_> {
    fn when(&self, text: &str) -> Html {
        when(text)
    }
}

fn severity_rank(s: &str) -> u8 {
    match s.to_ascii_lowercase().as_str() {
        "critical" => 5,
        "high" => 4,
        "medium" | "moderate" => 3,
        "low" => 2,
        "info" | "informational" | "none" => 1,
        _ => 0,
    }
}

/// Group `(rule, severity, exception)` by rule (and exception), keeping the worst severity.
fn group<'a>(items: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    for (rule, severity, exception) in items {
        match hits
            .iter_mut()
            .find(|h| h.rule == rule && h.exception_id == exception)
        {
            Some(h) => {
                h.count += 1;
                if severity_rank(severity) > severity_rank(&h.severity) {
                    h.severity = severity.to_string();
                }
            }
            None => hits.push(Hit {
                rule: rule.to_string(),
                severity: severity.to_string(),
                count: 1,
                exception_id: exception.to_string(),
                exception: wrap(exception),
            }),
        }
    }
    hits
}

fn decision_row(d: &DecisionEntry) -> Result<String, ReportError> {
    // `2026-11-02T10:00:00.000Z` → `2026-11-02` and `10:00:00Z`.
    let (date, time) = d.decided_at.split_once('T').unwrap_or((&d.decided_at, ""));
    let time = time.split_once('.').map(|(t, _)| t).unwrap_or(time);
    let row = DecisionRow {
        d,
        date,
        time: time.trim_end_matches('Z'),
        env: wrap(&d.environment),
        name: wrap(&d.artifact.name),
        digest: short_digest(&d.artifact.digest, 12, true),
        violations: group(
            d.violations
                .iter()
                .map(|v| (v.rule.as_str(), v.severity.as_str(), "")),
        ),
        warnings: group(
            d.warnings
                .iter()
                .map(|v| (v.rule.as_str(), v.severity.as_str(), "")),
        ),
        excepted: group(d.excepted.iter().map(|x| {
            (
                x.rule.as_str(),
                x.severity.as_str(),
                x.exception_id.as_deref().unwrap_or("(no id)"),
            )
        })),
        errors: d.errors.iter().map(|e| wrap(e)).collect(),
        evidence: d
            .evidence
            .iter()
            .map(|e| (e.kind.as_str(), short_digest(&e.digest, 8, false)))
            .collect(),
    };
    row.render().map_err(|e| ReportError::Render {
        format: "html",
        message: format!("decision {}: {e}", d.id),
    })
}

/// Render the report as one HTML document, A4, in full.
pub fn render(report: &Report) -> Result<String, ReportError> {
    render_with(report, &Options::default(), &mut |_, _| {})
}

/// Render the report as one HTML document laid out as `options` say. `progress(done, total)` is
/// called after each decision's row (`total` is the number of decisions; never called in a
/// summary-only report, which renders no row).
pub fn render_with(
    report: &Report,
    options: &Options,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<String, ReportError> {
    let scope = match report.range.environment.as_deref() {
        Some(e) => format!("environment {e}"),
        None if report.summary.per_environment.is_empty() => "all environments".into(),
        None => format!(
            "all environments ({})",
            report
                .summary
                .per_environment
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let title = format!(
        "Portcullis report: {scope}, {} to {}",
        report.range.from, report.range.to
    );
    let running = css_string(&format!(
        "Audit report · {scope} · {} to {}{}",
        report.range.from,
        report.range.to,
        if options.summary_only {
            " · summary"
        } else {
            ""
        }
    ));

    // Which controls each decision failed with a violation (enforced), for the coverage split.
    let mut enforced: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut totals = Totals::default();
    let mut rule_rows: BTreeMap<&str, RuleRow> = BTreeMap::new();
    for d in &report.decisions {
        let set = enforced.entry(d.id.as_str()).or_default();
        for v in &d.violations {
            set.extend(v.controls.iter().map(String::as_str));
        }
        totals.violations += d.violations.len() as u64;
        totals.warnings += d.warnings.len() as u64;
        totals.violation_decisions += u64::from(!d.violations.is_empty());
        totals.warning_decisions += u64::from(!d.warnings.is_empty());
        let violated: BTreeMap<&str, &str> = d
            .violations
            .iter()
            .map(|v| (v.rule.as_str(), v.title.as_str()))
            .collect();
        let warned: BTreeMap<&str, &str> = d
            .warnings
            .iter()
            .map(|v| (v.rule.as_str(), v.title.as_str()))
            .collect();
        for (rule, title) in violated.iter().chain(&warned) {
            rule_rows.entry(rule).or_insert_with(|| RuleRow {
                rule: rule.to_string(),
                title: title.to_string(),
                violated: 0,
                warned: 0,
            });
        }
        for rule in violated.keys() {
            if let Some(row) = rule_rows.get_mut(rule) {
                row.violated += 1;
            }
        }
        for rule in warned.keys() {
            if let Some(row) = rule_rows.get_mut(rule) {
                row.warned += 1;
            }
        }
    }
    let mut rules: Vec<RuleRow> = rule_rows.into_values().collect();
    rules.sort_by(|a, b| {
        (b.violated, b.warned)
            .cmp(&(a.violated, a.warned))
            .then_with(|| a.rule.cmp(&b.rule))
    });

    let frameworks = FRAMEWORKS
        .iter()
        .map(|&framework| {
            let rows: Vec<CoverageRow> = report
                .coverage
                .iter()
                .filter(|c| c.framework == framework)
                .map(|c| {
                    let key = format!("{}:{}", c.framework, c.control);
                    let (violated_in, warned_in) =
                        c.violated_in.iter().map(String::as_str).partition(|id| {
                            enforced.get(id).is_some_and(|s| s.contains(key.as_str()))
                        });
                    CoverageRow {
                        row: c,
                        violated_in,
                        warned_in,
                    }
                })
                .collect();
            let count = |s: Status| rows.iter().filter(|c| c.row.status == s).count();
            FrameworkCoverage {
                name: controls::framework_name(framework),
                satisfied: count(Status::Satisfied),
                not_satisfied: count(Status::NotSatisfied),
                not_assessed: count(Status::NotAssessed),
                rows,
            }
        })
        .collect();

    let running_envs = report
        .running
        .iter()
        .map(|env| RunningView {
            env,
            shown: if options.summary_only {
                env.snapshots.last().into_iter().collect()
            } else {
                env.snapshots.iter().collect()
            },
        })
        .collect();

    let mut decision_rows = String::new();
    if !options.summary_only {
        let total = report.decisions.len();
        for (i, d) in report.decisions.iter().enumerate() {
            decision_rows.push_str(&decision_row(d)?);
            decision_rows.push('\n');
            progress(i + 1, total);
        }
    }

    let page = ReportPage {
        r: report,
        scope,
        title,
        paper: options.paper.css(),
        running,
        summary_only: options.summary_only,
        detail: !options.summary_only,
        totals,
        rules,
        day_chart: Svg(charts::stacked_bars(&day_chart(report))),
        frameworks,
        running_envs,
        decision_rows: Html(decision_rows),
    };
    page.render().map_err(|e| ReportError::Render {
        format: "html",
        message: e.to_string(),
    })
}

/// The decisions-per-day chart of a report (allowed, denied, allowed with warnings, stacked).
pub fn day_chart(r: &Report) -> StackedBars {
    StackedBars {
        title: "Decisions per day".into(),
        description: format!(
            "Decisions per UTC day from {} to {}: allowed, allowed with warnings, and denied, stacked.",
            r.range.from, r.range.to
        ),
        labels: r.days.iter().map(|d| d.day.clone()).collect(),
        series: vec![
            Series {
                name: "allowed".into(),
                values: r.days.iter().map(|d| d.allowed).collect(),
            },
            Series {
                name: "denied".into(),
                values: r.days.iter().map(|d| d.denied).collect(),
            },
            Series {
                name: "allowed with warnings".into(),
                values: r.days.iter().map(|d| d.warned).collect(),
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use portcullis_firewall::{ArtifactId, EvidenceRecord, EvidenceRef, Violation};

    const EVIL: &str = "<script>alert(1)</script>\"'&";

    fn violation() -> Violation {
        Violation {
            rule: "PCL-VULN-001".into(),
            title: EVIL.into(),
            category: "security".into(),
            key: format!("{EVIL}|key"),
            severity: "critical".into(),
            action: "enforce".into(),
            message: EVIL.into(),
            controls: vec!["nist-800-53:RA-5".into()],
            evidence_refs: vec![EvidenceRef {
                kind: "advisory".into(),
                id: EVIL.into(),
                purl: None,
                evidence: vec!["sha256:00".into()],
            }],
            remediation: EVIL.into(),
            subjects: vec![],
        }
    }

    fn report() -> Report {
        let decision = DecisionEntry {
            id: format!("d-{EVIL}"),
            decided_at: "2026-11-02T10:00:00.000Z".into(),
            environment: EVIL.into(),
            artifact: ArtifactId {
                name: EVIL.into(),
                digest: "sha256:ab".into(),
            },
            verdict: "deny".into(),
            outcome: Outcome::Deny,
            chain_seq: 7,
            chain_hash: "ff".into(),
            policy_bundle_digest: "sha256:cd".into(),
            engine_version: "portcullis 0.1.0".into(),
            evidence: vec![EvidenceRecord {
                kind: "sbom".into(),
                format: "cyclonedx-json".into(),
                digest: "sha256:00".into(),
                source: EVIL.into(),
                origin: None,
            }],
            violations: vec![violation()],
            warnings: vec![],
            excepted: vec![],
            errors: vec![EVIL.into()],
            requester: Some(EVIL.into()),
            pipeline: None,
            break_glass: Some(OverrideEntry {
                actor: EVIL.into(),
                reason: EVIL.into(),
                at: "2026-11-02T11:00:00Z".into(),
            }),
        };
        Report {
            schema: SCHEMA.into(),
            generated_at: "2026-11-03T00:00:00Z".into(),
            range: Range {
                environment: Some(EVIL.into()),
                from: "2026-11-01T00:00:00Z".into(),
                to: "2026-11-03T00:00:00Z".into(),
            },
            summary: Summary::default(),
            decisions: vec![decision],
            exceptions: vec![ExceptionEntry {
                id: EVIL.into(),
                rule: "PCL-VULN-001".into(),
                key: EVIL.into(),
                artifact: EVIL.into(),
                environments: vec![EVIL.into()],
                reason: EVIL.into(),
                approver: EVIL.into(),
                granted_by: EVIL.into(),
                granted_at: "2026-11-01T00:00:00Z".into(),
                expires_at: "2026-12-01T00:00:00Z".into(),
                revoked_at: Some(EVIL.into()),
                revoked_by: Some(EVIL.into()),
                revoke_reason: Some(EVIL.into()),
                evidence: Some(EVIL.into()),
                active: false,
                used_by: vec![],
                chain_seq: 3,
                granted_in_store: true,
            }],
            advisories: vec![AdvisoryEntry {
                id: EVIL.into(),
                kind: "osv".into(),
                summary: EVIL.into(),
                digest: "sha256:ee".into(),
                added_at: EVIL.into(),
                added_by: EVIL.into(),
                withdrawn_at: None,
                withdraw_reason: None,
                decisions: vec![],
                denied: 0,
                artifacts: vec![EVIL.into()],
                deployed: vec![DeployedImpact {
                    environment: EVIL.into(),
                    artifact_name: EVIL.into(),
                    artifact_digest: "sha256:ab".into(),
                    purl: EVIL.into(),
                }],
            }],
            coverage: vec![ControlCoverage {
                framework: "nist-800-53".into(),
                control: "RA-5".into(),
                title: "Vulnerability Monitoring and Scanning".into(),
                status: Status::NotSatisfied,
                rules: vec![EVIL.into()],
                evaluated_in: vec![format!("d-{EVIL}")],
                violated_in: vec![format!("d-{EVIL}")],
                excepted_in: vec![],
            }],
            chain: ChainResult {
                verified: false,
                entries: 9,
                checkpoints: 1,
                last_hash: None,
                failure: Some(EVIL.into()),
            },
            days: vec![DayCounts {
                day: "2026-11-02".into(),
                allowed: 0,
                warned: 0,
                denied: 1,
            }],
            rules: vec![RuleCount {
                rule: "PCL-VULN-001".into(),
                title: EVIL.into(),
                decisions: 1,
            }],
            running: vec![crate::model::EnvironmentSnapshots {
                environment: EVIL.into(),
                at_start: None,
                snapshots: vec![crate::model::SnapshotEntry {
                    chain_seq: 4,
                    taken_at: EVIL.into(),
                    cause: EVIL.into(),
                    artifacts: vec![crate::model::RunningArtifact {
                        name: EVIL.into(),
                        digest: EVIL.into(),
                        deployed_at: EVIL.into(),
                        decision_id: Some(EVIL.into()),
                        verdict: Some(EVIL.into()),
                    }],
                }],
            }],
        }
    }

    #[test]
    fn every_value_from_the_store_is_escaped() {
        let html = render(&report()).unwrap();
        assert!(!html.contains("<script"), "unescaped script");
        assert!(!html.contains("alert(1)</"), "unescaped text");
        // askama's HTML escaping: numeric character references.
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;&#34;&#39;&#38;"));
        // Attributes too: the decision anchor and the links to it.
        assert!(html.contains("id=\"d-d-&#60;script&#62;"));
        assert!(html.contains("href=\"#d-d-&#60;script&#62;"));
        // Everywhere a value from the store lands it is escaped: by askama in the page, by
        // this module's wrap/digest (the same references).
        let pieces: Vec<&str> = html.split("alert(1)").collect();
        assert!(
            pieces.len() > 10,
            "the hostile value is shown in many places"
        );
        for before in &pieces[..pieces.len() - 1] {
            assert!(
                before.ends_with("&#60;script&#62;") || before.ends_with("&lt;script&gt;"),
                "unescaped before {:?}",
                &before[before.len().saturating_sub(40)..]
            );
        }
        // The day chart's labels are dates; charts.rs escapes chart text (its own tests).
        assert!(html.contains("<svg"));
        // In the running header's CSS string: CSS escapes, nothing that ends the string, the
        // rule or the style element.
        assert!(html.contains(
            r#"@top-center { content: "Audit report \b7  environment \3c script\3e alert\28 1\29 \3c /script\3e \22 \27 \26  \b7  2026-11-01T00:00:00Z"#
        ));
        let style = html.split("</style>").next().unwrap();
        assert!(!style.contains("<script"), "{style}");
    }

    #[test]
    fn paper_and_summary_only() {
        let full = render(&report()).unwrap();
        assert!(full.contains("size: A4;"));
        assert!(full.contains("<tr class=\"deny\" id=\"d-d-&#60;script&#62;"));
        let mut seen = Vec::new();
        let letter = render_with(
            &report(),
            &Options {
                paper: Paper::Letter,
                summary_only: false,
            },
            &mut |done, total| seen.push((done, total)),
        )
        .unwrap();
        assert!(letter.contains("size: letter;"));
        assert_eq!(seen, vec![(1, 1)]);
        let summary = render_with(
            &report(),
            &Options {
                paper: Paper::A4,
                summary_only: true,
            },
            &mut |_, _| panic!("no decision row in a summary"),
        )
        .unwrap();
        assert!(summary.contains("summary-only report"));
        assert!(!summary.contains("<tr class=\"deny\""), "no decision rows");
        // The coverage names the decisions without linking to rows that are not there.
        assert!(!summary.contains("href=\"#d-"));
        assert!(summary.contains("Violated in 1: <code class=\"hex\">d-&#60;script&#62;"));
        assert_eq!("Letter".parse::<Paper>(), Ok(Paper::Letter));
        assert!("a3".parse::<Paper>().unwrap_err().contains("a4 or letter"));
    }

    #[test]
    fn warnings_are_not_violations() {
        let mut r = report();
        let mut warned = violation();
        warned.rule = "PCL-PROV-001".into();
        warned.action = "warn".into();
        r.decisions[0].warnings = vec![warned.clone(), warned];
        let html = render(&r).unwrap();
        assert!(html.contains("<strong>1</strong> violation (enforced) in 1 decision"));
        assert!(html.contains("<strong>2</strong> warnings (not enforced) in 1 decision"));
        // The rules table: PCL-VULN-001 violated in one decision, PCL-PROV-001 warned in one.
        assert!(html.contains(
            "<code>PCL-VULN-001</code></td><td>&#60;script&#62;alert(1)&#60;/script&#62;&#34;&#39;&#38;</td><td class=\"num\">1</td><td class=\"num\">0</td>"
        ));
        assert!(html.contains("<td class=\"num\">0</td><td class=\"num\">1</td>"));
        // The row: grouped by rule, two subjects.
        assert!(html.contains("<span class=\"tag warning\">warnings:</span> <span class=\"rule\"><code>PCL-PROV-001</code> critical ×2</span>"));
    }

    #[test]
    fn a_broken_chain_and_statuses_read_without_colour() {
        let html = render(&report()).unwrap();
        assert!(html.contains("✘ NOT VERIFIED"));
        assert!(html.contains("The records below may have been altered."));
        assert!(html.contains("✘ Not satisfied"));
        assert!(html.contains("<strong>break-glass</strong> by"));
        assert!(html.contains("@media print"));
        assert!(html.contains("Decisions (1)"));
        // Self-contained: no script, no external resource.
        assert!(!html.contains("<link") && !html.contains("src=") && !html.contains("@import"));
    }
}
