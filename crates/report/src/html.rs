//! The HTML report: one self-contained file (inline CSS and SVG charts, no script, no external
//! resource), readable on screen and printed (print CSS: page breaks, no backgrounds needed,
//! statuses in words as well as colour). Every value from the store is escaped.

use std::fmt::Write as _;

use crate::charts::{self, Bar, HBars, Series, StackedBars};
use crate::controls::{self, FRAMEWORKS};
use crate::model::{DecisionEntry, Report, Status};

/// Escape text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    charts::escape_xml(text)
}

const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1b1b1b; background: #ffffff; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid #1b1b1b; padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #999; padding: .3rem .45rem; text-align: left; vertical-align: top; }
th { background: #eeeeee; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .82rem; word-break: break-all; }
.meta { color: #444; margin: 0 0 1rem; }
.status { font-weight: bold; white-space: nowrap; padding: 0 .3rem; border: 1px solid; border-radius: 3px; }
.status.satisfied, .status.allow, .status.ok { color: #05603a; border-color: #05603a; }
.status.not-satisfied, .status.deny, .status.bad { color: #a4260b; border-color: #a4260b; }
.status.not-assessed, .status.warn { color: #5c4400; border-color: #5c4400; }
.chart { margin: 1rem 0; page-break-inside: avoid; break-inside: avoid; }
.chart svg { width: 100%; height: auto; max-width: 50rem; }
.decision { border: 1px solid #999; padding: .4rem .8rem; margin: .8rem 0; page-break-inside: avoid; break-inside: avoid; }
.decision h3 { margin-top: .3rem; }
.muted { color: #555; }
.summary td.num { width: 8rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { page-break-before: auto; page-break-after: avoid; break-after: avoid; }
  h2.newpage { page-break-before: always; break-before: page; }
  th { background: none; border-bottom: 2px solid #000; }
  a { color: inherit; text-decoration: none; }
  .decision { border-color: #000; }
}
@page { size: A4; margin: 15mm 12mm; }
"#;

/// Render the report as one HTML document.
pub fn render(report: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024 + report.decisions.len() * 2048);
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
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"generator\" content=\"portcullis {}\">\
         <title>{}</title><style>{CSS}</style></head><body>",
        escape(&report.schema),
        escape(&title)
    );
    let _ = write!(
        h,
        "<header><h1>Deployment audit and compliance report</h1>\
         <p class=\"meta\">Scope: <strong>{}</strong> · from <strong>{}</strong> to <strong>{}</strong> (end excluded) · generated {} · schema <code>{}</code></p></header>",
        escape(&scope),
        escape(&report.range.from),
        escape(&report.range.to),
        escape(&report.generated_at),
        escape(&report.schema)
    );
    chain(&mut h, report);
    summary(&mut h, report);
    coverage(&mut h, report);
    exceptions(&mut h, report);
    advisories(&mut h, report);
    decisions(&mut h, report);
    h.push_str("</body></html>\n");
    h
}

fn chain(h: &mut String, r: &Report) {
    h.push_str("<section id=\"chain\"><h2>Audit chain</h2>");
    if r.chain.verified {
        let _ = write!(
            h,
            "<p><span class=\"status ok\">✔ Verified</span> The whole audit chain and its signed checkpoints verified: \
             {} entries, {} checkpoints, head hash <code>{}</code>.</p>",
            r.chain.entries,
            r.chain.checkpoints,
            escape(r.chain.last_hash.as_deref().unwrap_or("-"))
        );
    } else {
        let _ = write!(
            h,
            "<p><span class=\"status bad\">✘ NOT VERIFIED</span> The audit chain failed verification: <strong>{}</strong>. \
             The records below may have been altered.</p>",
            escape(r.chain.failure.as_deref().unwrap_or("unknown failure"))
        );
    }
    h.push_str("</section>");
}

fn summary(h: &mut String, r: &Report) {
    let s = &r.summary;
    h.push_str("<section id=\"summary\"><h2>Summary</h2><table class=\"summary\"><thead><tr><th>Environment</th><th class=\"num\">Decisions</th><th class=\"num\">Allowed</th><th class=\"num\">Allowed with warnings</th><th class=\"num\">Denied</th><th class=\"num\">With errors</th><th class=\"num\">Break-glass overrides</th></tr></thead><tbody>");
    for (env, c) in s
        .per_environment
        .iter()
        .map(|(e, c)| (e.as_str(), c))
        .chain(std::iter::once(("All", &s.counts)))
    {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            if env == "All" {
                "<strong>All</strong>".to_string()
            } else {
                escape(env)
            },
            c.decisions,
            c.allowed,
            c.warned,
            c.denied,
            c.with_errors,
            c.overridden
        );
    }
    let _ = write!(
        h,
        "</tbody></table><p>Violations let through by exceptions: <strong>{}</strong> · exceptions used: <strong>{}</strong> · \
         exceptions active at the end of the range: <strong>{}</strong> · advisories: <strong>{}</strong> · \
         controls satisfied / not satisfied / not assessed: <strong>{} / {} / {}</strong></p>",
        s.excepted_violations,
        s.exceptions_used,
        s.exceptions_active,
        s.advisories,
        s.controls_satisfied,
        s.controls_not_satisfied,
        s.controls_not_assessed
    );
    let per_day = StackedBars {
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
    };
    let _ = write!(
        h,
        "<div class=\"chart\">{}</div>",
        charts::stacked_bars(&per_day)
    );
    let top = HBars {
        title: "Most violated rules".into(),
        description: "Rules by the number of decisions with an unexcepted violation of them (enforced or warned), most first.".into(),
        bars: r
            .rules
            .iter()
            .take(15)
            .map(|c| Bar {
                label: if c.title.is_empty() {
                    c.rule.clone()
                } else {
                    format!("{} {}", c.rule, c.title)
                },
                value: c.decisions,
            })
            .collect(),
    };
    let _ = write!(h, "<div class=\"chart\">{}</div>", charts::hbars(&top));
    h.push_str("</section>");
}

fn status(s: Status) -> String {
    let mark = match s {
        Status::Satisfied => "✔",
        Status::NotSatisfied => "✘",
        Status::NotAssessed => "–",
    };
    format!(
        "<span class=\"status {}\">{mark} {}</span>",
        s.as_str(),
        s.label()
    )
}

fn id_list(ids: &[String], limit: usize) -> String {
    if ids.is_empty() {
        return "<span class=\"muted\">none</span>".into();
    }
    let mut out: Vec<String> = ids
        .iter()
        .take(limit)
        .map(|id| {
            format!(
                "<a href=\"#d-{}\"><code>{}</code></a>",
                escape(id),
                escape(id)
            )
        })
        .collect();
    if ids.len() > limit {
        out.push(format!("and {} more", ids.len() - limit));
    }
    out.join(", ")
}

fn coverage(h: &mut String, r: &Report) {
    h.push_str("<section id=\"coverage\"><h2 class=\"newpage\">Control coverage</h2>\
        <p>A control is <em>satisfied</em> when rules mapped to it were evaluated in the range's decisions with no unexcepted violation, \
        <em>not satisfied</em> when some decision violated it (enforced or warned, not covered by an exception; those decisions are the evidence), \
        and <em>not assessed</em> when no rule mapped to it ran.</p>");
    for framework in FRAMEWORKS {
        let rows: Vec<_> = r
            .coverage
            .iter()
            .filter(|c| c.framework == framework)
            .collect();
        let count = |s: Status| rows.iter().filter(|c| c.status == s).count();
        let _ = write!(
            h,
            "<h3>{}</h3><p>{} controls: {} satisfied, {} not satisfied, {} not assessed.</p>\
             <table><thead><tr><th>Control</th><th>Status</th><th>Rules</th><th class=\"num\">Decisions evaluated</th><th>Evidence</th></tr></thead><tbody>",
            escape(controls::framework_name(framework)),
            rows.len(),
            count(Status::Satisfied),
            count(Status::NotSatisfied),
            count(Status::NotAssessed)
        );
        for c in rows {
            let evidence = match c.status {
                Status::NotSatisfied => format!("Violated in {}", id_list(&c.violated_in, 10)),
                Status::Satisfied => format!("Evaluated in {}", id_list(&c.evaluated_in, 5)),
                Status::NotAssessed => {
                    "<span class=\"muted\">no rule mapped to it ran</span>".into()
                }
            };
            let excepted = if c.excepted_in.is_empty() {
                String::new()
            } else {
                format!("<br>Excepted in {}", id_list(&c.excepted_in, 5))
            };
            let _ = write!(
                h,
                "<tr><td><strong>{}</strong> {}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{evidence}{excepted}</td></tr>",
                escape(&c.control),
                escape(&c.title),
                status(c.status),
                c.rules
                    .iter()
                    .map(|r| format!("<code>{}</code>", escape(r)))
                    .collect::<Vec<_>>()
                    .join(", "),
                c.evaluated_in.len()
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>");
}

fn exceptions(h: &mut String, r: &Report) {
    h.push_str("<section id=\"exceptions\"><h2>Exceptions granted and used</h2>");
    if r.exceptions.is_empty() {
        h.push_str("<p>No exception was in force or used in this range.</p></section>");
        return;
    }
    h.push_str("<table><thead><tr><th>Exception</th><th>Rule and subject</th><th>Who</th><th>Why</th><th>Until</th><th>State</th><th>Used by</th></tr></thead><tbody>");
    for e in &r.exceptions {
        let state = if let Some(at) = &e.revoked_at {
            format!(
                "revoked {} by {}: {}",
                escape(at),
                escape(e.revoked_by.as_deref().unwrap_or("?")),
                escape(e.revoke_reason.as_deref().unwrap_or(""))
            )
        } else if e.active {
            "<strong>active</strong>".into()
        } else {
            "expired or not yet granted".into()
        };
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td><code>{}</code> on <code>{}</code><br>artifact <code>{}</code>, environments {}{}</td>\
             <td>approved by {}<br>granted by {} on {}</td><td>{}</td><td>{}</td><td>{state}</td><td>{}</td></tr>",
            escape(&e.id),
            escape(&e.rule),
            escape(&e.key),
            escape(&e.artifact),
            escape(&e.environments.join(", ")),
            e.evidence
                .as_deref()
                .map(|d| format!("<br>bound to evidence <code>{}</code>", escape(d)))
                .unwrap_or_default(),
            escape(&e.approver),
            escape(&e.granted_by),
            escape(&e.granted_at),
            escape(&e.reason),
            escape(&e.expires_at),
            id_list(&e.used_by, 10)
        );
    }
    h.push_str("</tbody></table></section>");
}

fn advisories(h: &mut String, r: &Report) {
    h.push_str("<section id=\"advisories\"><h2>Advisories and their impact</h2>");
    if r.advisories.is_empty() {
        h.push_str("<p>No advisory was in force or cited in this range.</p></section>");
        return;
    }
    h.push_str("<table><thead><tr><th>Advisory</th><th>Added</th><th class=\"num\">Decisions citing it</th><th class=\"num\">Denied</th><th>Artifacts</th><th>Deployed now and affected</th></tr></thead><tbody>");
    for a in &r.advisories {
        let deployed = if a.deployed.is_empty() {
            "<span class=\"muted\">none</span>".to_string()
        } else {
            a.deployed
                .iter()
                .map(|d| {
                    format!(
                        "{} in <strong>{}</strong> (<code>{}</code>)",
                        escape(&d.artifact_name),
                        escape(&d.environment),
                        escape(&d.purl)
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = write!(
            h,
            "<tr><td><code>{}</code> ({}){}<br>{}</td><td>{} by {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{deployed}</td></tr>",
            escape(&a.id),
            escape(&a.kind),
            a.withdrawn_at
                .as_deref()
                .map(|w| format!(
                    " <strong>withdrawn {}</strong>: {}",
                    escape(w),
                    escape(a.withdraw_reason.as_deref().unwrap_or(""))
                ))
                .unwrap_or_default(),
            escape(&a.summary),
            escape(&a.added_at),
            escape(&a.added_by),
            a.decisions.len(),
            a.denied,
            a.artifacts
                .iter()
                .map(|x| format!("<code>{}</code>", escape(x)))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    h.push_str("</tbody></table></section>");
}

fn violation_rows(h: &mut String, kind: &str, list: &[portcullis_firewall::Violation]) {
    for v in list {
        let refs: Vec<String> = v
            .evidence_refs
            .iter()
            .map(|r| {
                format!(
                    "{} <code>{}</code>{}",
                    escape(&r.kind),
                    escape(&r.id),
                    if r.evidence.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " in {}",
                            r.evidence
                                .iter()
                                .map(|d| format!("<code>{}</code>", escape(d)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                )
            })
            .collect();
        let _ = write!(
            h,
            "<tr><td>{kind}</td><td><code>{}</code> {}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.rule),
            escape(&v.title),
            escape(&v.key),
            escape(&v.severity),
            escape(&v.message),
            escape(&v.controls.join(", ")),
            refs.join("<br>")
        );
    }
}

fn decision(h: &mut String, d: &DecisionEntry) {
    let _ = write!(
        h,
        "<article class=\"decision\" id=\"d-{}\"><h3><span class=\"status {}\">{}</span> {} <code>{}</code> in {}</h3>\
         <p class=\"meta\">Decision <code>{}</code> at {} · audit entry {} <code>{}</code> · policy bundle <code>{}</code> · {}{}</p>",
        escape(&d.id),
        d.outcome.as_str(),
        match d.outcome {
            crate::model::Outcome::Allow => "ALLOW",
            crate::model::Outcome::Warn => "ALLOW (warnings)",
            crate::model::Outcome::Deny => "DENY",
        },
        escape(&d.artifact.name),
        escape(&d.artifact.digest),
        escape(&d.environment),
        escape(&d.id),
        escape(&d.decided_at),
        d.chain_seq,
        escape(&d.chain_hash),
        escape(&d.policy_bundle_digest),
        escape(&d.engine_version),
        [
            d.requester
                .as_deref()
                .map(|r| format!(" · requested by {}", escape(r))),
            d.pipeline
                .as_deref()
                .map(|p| format!(" · pipeline {}", escape(p))),
        ]
        .into_iter()
        .flatten()
        .collect::<String>()
    );
    if let Some(o) = &d.break_glass {
        let _ = write!(
            h,
            "<p><strong>Break-glass override</strong> by {} at {}: {}</p>",
            escape(&o.actor),
            escape(&o.at),
            escape(&o.reason)
        );
    }
    if d.evidence.is_empty() {
        h.push_str("<p>Evidence: none offered.</p>");
    } else {
        h.push_str("<p>Evidence (proof points):</p><ul>");
        for e in &d.evidence {
            let _ = write!(
                h,
                "<li>{} ({}) <code>{}</code> from {}</li>",
                escape(&e.kind),
                escape(&e.format),
                escape(&e.digest),
                escape(&e.source)
            );
        }
        h.push_str("</ul>");
    }
    if !d.violations.is_empty() || !d.warnings.is_empty() {
        h.push_str("<table><thead><tr><th></th><th>Rule</th><th>Subject</th><th>Severity</th><th>Message</th><th>Controls</th><th>Rests on</th></tr></thead><tbody>");
        violation_rows(h, "violation", &d.violations);
        violation_rows(h, "warning", &d.warnings);
        h.push_str("</tbody></table>");
    }
    if !d.excepted.is_empty() {
        h.push_str("<p>Let through by exceptions:</p><ul>");
        for x in &d.excepted {
            let _ = write!(
                h,
                "<li><code>{}</code> on <code>{}</code> ({}) — exception <code>{}</code>, approved by {}, until {}: {}</li>",
                escape(&x.rule),
                escape(&x.key),
                escape(&x.severity),
                escape(x.exception_id.as_deref().unwrap_or("(no id)")),
                escape(&x.approver),
                escape(&x.expires),
                escape(&x.reason)
            );
        }
        h.push_str("</ul>");
    }
    if !d.errors.is_empty() {
        h.push_str("<p>Errors:</p><ul>");
        for e in &d.errors {
            let _ = write!(h, "<li>{}</li>", escape(e));
        }
        h.push_str("</ul>");
    }
    h.push_str("</article>");
}

fn decisions(h: &mut String, r: &Report) {
    let _ = write!(
        h,
        "<section id=\"decisions\"><h2 class=\"newpage\">Decisions ({})</h2>",
        r.decisions.len()
    );
    if r.decisions.is_empty() {
        h.push_str("<p>No decision in this range.</p>");
    }
    for d in &r.decisions {
        decision(h, d);
    }
    h.push_str("</section>");
}
