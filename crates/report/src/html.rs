//! The HTML report: one self-contained file (inline CSS and SVG charts, no script, no external
//! resource), readable on screen and printed (print CSS: page breaks, no backgrounds needed,
//! statuses in words as well as colour). Rendered from the askama templates in
//! `crates/report/templates/` (`report.html`, one `decision.html` per decision, `macros.html`,
//! `report.css`), which escape every value from the store; the only markup they take as is are
//! the SVG charts, as [`Svg`] values made here from [`charts`], which escapes their text itself.

use askama::Template;

use crate::ReportError;
use crate::charts::{self, Bar, HBars, Series, StackedBars};
use crate::controls::{self, FRAMEWORKS};
use crate::model::{ControlCoverage, Outcome, Report, Status};

/// An SVG chart from [`charts`]: markup the templates insert without escaping. Only this module
/// makes one, and only from [`charts::stacked_bars`] and [`charts::hbars`], whose text parts
/// (titles, labels, descriptions) are XML-escaped as they are drawn.
struct Svg(String);

impl std::fmt::Display for Svg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Svg {}

/// One framework's rows of the control coverage table.
struct FrameworkCoverage<'a> {
    name: &'static str,
    rows: Vec<&'a ControlCoverage>,
    satisfied: usize,
    not_satisfied: usize,
    not_assessed: usize,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    r: &'a Report,
    /// `environment production` or `all environments`.
    scope: String,
    title: String,
    day_chart: Svg,
    rule_chart: Svg,
    frameworks: Vec<FrameworkCoverage<'a>>,
}

/// Render the report as one HTML document.
pub fn render(report: &Report) -> Result<String, ReportError> {
    let scope = report
        .range
        .environment
        .as_deref()
        .map(|e| format!("environment {e}"))
        .unwrap_or_else(|| "all environments".into());
    let title = format!(
        "Portcullis report: {scope}, {} to {}",
        report.range.from, report.range.to
    );
    let frameworks = FRAMEWORKS
        .iter()
        .map(|&framework| {
            let rows: Vec<&ControlCoverage> = report
                .coverage
                .iter()
                .filter(|c| c.framework == framework)
                .collect();
            let count = |s: Status| rows.iter().filter(|c| c.status == s).count();
            FrameworkCoverage {
                name: controls::framework_name(framework),
                satisfied: count(Status::Satisfied),
                not_satisfied: count(Status::NotSatisfied),
                not_assessed: count(Status::NotAssessed),
                rows,
            }
        })
        .collect();
    let page = ReportPage {
        r: report,
        scope,
        title,
        day_chart: Svg(charts::stacked_bars(&day_chart(report))),
        rule_chart: Svg(charts::hbars(&rule_chart(report, 15))),
        frameworks,
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

/// The `top` most violated rules of a report.
pub fn rule_chart(r: &Report, top: usize) -> HBars {
    HBars {
        title: "Most violated rules".into(),
        description: "Rules by the number of decisions with an unexcepted violation of them (enforced or warned), most first.".into(),
        bars: r
            .rules
            .iter()
            .take(top)
            .map(|c| Bar {
                label: if c.title.is_empty() {
                    c.rule.clone()
                } else {
                    format!("{} {}", c.rule, c.title)
                },
                value: c.decisions,
            })
            .collect(),
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
        // charts.rs (XML entities) in the SVG charts' labels and titles.
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
        assert!(html.contains("<svg") && html.contains("&lt;script&gt;alert(1)"));
    }

    #[test]
    fn a_broken_chain_and_statuses_read_without_colour() {
        let html = render(&report()).unwrap();
        assert!(html.contains("✘ NOT VERIFIED"));
        assert!(html.contains("The records below may have been altered."));
        assert!(html.contains("✘ Not satisfied"));
        assert!(html.contains("Break-glass override"));
        assert!(html.contains("@media print"));
        assert!(html.contains("Decisions (1)"));
        // Self-contained: no script, no external resource.
        assert!(!html.contains("<link") && !html.contains("src=") && !html.contains("@import"));
    }
}
