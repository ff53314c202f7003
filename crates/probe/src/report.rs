//! The exposure evidence: expected vs observed per check, the deviations, probe metadata.

use std::io::Write;

use serde::{Deserialize, Serialize};

/// `kind` of the evidence document.
pub const KIND: &str = "exposure";
/// Version of the document's shape.
pub const VERSION: &str = "1";

/// One comparison of a declaration with what was observed.
///
/// `target`, `check`, `expected`, `observed`, `deviation` and `message` are what the policy
/// input's exposure entries hold (`portcullis gate --exposure` converts a report to them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The expectation it belongs to (`web tcp`, `web tls 8443`, `web http URL`).
    pub expectation: String,
    pub target: String,
    /// `port` (open, not declared), `port-required`, `port-filtered`, `tls`, `tls-cipher`,
    /// `tls-certificate`, `header`, `cookie`, `cors`, `forbidden-header`, `http-redirect`,
    /// `http-status`, `http`.
    pub check: String,
    pub expected: Option<String>,
    pub observed: Option<String>,
    pub deviation: bool,
    pub message: String,
    /// Controls of the expectation (defaults: CM-7, SC-7 for ports; SC-8, SC-13 for TLS).
    pub controls: Vec<String>,
    /// Probes made (1 + re-probes) and how many of them deviated.
    pub probes: u32,
    pub deviating_probes: u32,
}

impl Check {
    pub fn new(
        target: &str,
        check: &str,
        expected: Option<String>,
        observed: Option<String>,
        deviation: bool,
        message: String,
        controls: &[String],
    ) -> Self {
        Self {
            expectation: String::new(),
            target: target.to_string(),
            check: check.to_string(),
            expected,
            observed,
            deviation,
            message,
            controls: controls.to_vec(),
            probes: 1,
            deviating_probes: u32::from(deviation),
        }
    }

    /// What identifies the check across re-probes.
    pub fn identity(&self) -> (String, String, Option<String>) {
        (
            self.target.clone(),
            self.check.clone(),
            self.expected.clone(),
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbedTarget {
    pub name: String,
    pub address: String,
    /// Every address the name resolved to (all are probed).
    pub addresses: Vec<String>,
    pub ports_scanned: usize,
    /// Open ports per address.
    pub open: Vec<OpenPorts>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenPorts {
    pub address: String,
    pub ports: Vec<u16>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeMeta {
    pub tool: String,
    pub started_at: String,
    pub finished_at: String,
    pub concurrency: usize,
    pub timeout_ms: u64,
    pub rate: Option<u32>,
    pub reprobes: u32,
    pub connects: u64,
    pub self_connects: u64,
    pub resource_retries: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub kind: String,
    pub version: String,
    pub expectations: ExpectationsRef,
    pub artifact: Option<String>,
    pub environment: Option<String>,
    pub probe: ProbeMeta,
    pub targets: Vec<ProbedTarget>,
    pub deviations: usize,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpectationsRef {
    pub file: String,
    pub api_version: String,
    pub digest: String,
}

impl Report {
    pub fn deviating(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.deviation)
    }

    /// A summary for people: every deviation, then the totals.
    pub fn write_human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for c in self.deviating() {
            writeln!(
                out,
                "DEVIATION {} [{}] {}: {} (expected {}, observed {}; {}/{} probes; controls {})",
                c.target,
                c.check,
                c.expectation,
                c.message,
                c.expected.as_deref().unwrap_or("nothing"),
                c.observed.as_deref().unwrap_or("nothing"),
                c.deviating_probes,
                c.probes,
                c.controls.join(", ")
            )?;
        }
        let addresses: usize = self.targets.iter().map(|t| t.addresses.len()).sum();
        writeln!(
            out,
            "probe: {} target(s), {} address(es), {} checks, {} deviation(s), {} connects ({} self-connects retried), {} → {}",
            self.targets.len(),
            addresses,
            self.checks.len(),
            self.deviations,
            self.probe.connects,
            self.probe.self_connects,
            self.probe.started_at,
            self.probe.finished_at
        )
    }

    /// JUnit XML: one testcase per expectation, a failure listing its deviations.
    pub fn write_junit(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut cases: Vec<(&str, Vec<&Check>)> = Vec::new();
        for c in &self.checks {
            match cases.iter_mut().find(|(e, _)| *e == c.expectation) {
                Some((_, v)) => v.push(c),
                None => cases.push((&c.expectation, vec![c])),
            }
        }
        let failures = cases
            .iter()
            .filter(|(_, v)| v.iter().any(|c| c.deviation))
            .count();
        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            out,
            r#"<testsuites name="portcullis probe" tests="{}" failures="{failures}">"#,
            cases.len()
        )?;
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{failures}" timestamp="{}">"#,
            xml(&self.expectations.file),
            cases.len(),
            xml(&self.probe.started_at)
        )?;
        for (name, checks) in &cases {
            let bad: Vec<&&Check> = checks.iter().filter(|c| c.deviation).collect();
            let class = checks.first().map(|c| c.check.as_str()).unwrap_or("");
            if bad.is_empty() {
                writeln!(
                    out,
                    r#"    <testcase name="{}" classname="probe.{}"/>"#,
                    xml(name),
                    xml(class)
                )?;
            } else {
                writeln!(
                    out,
                    r#"    <testcase name="{}" classname="probe.{}">"#,
                    xml(name),
                    xml(class)
                )?;
                let body: Vec<String> = bad
                    .iter()
                    .map(|c| {
                        format!(
                            "{} [{}]: {} (expected {}, observed {})",
                            c.target,
                            c.check,
                            c.message,
                            c.expected.as_deref().unwrap_or("nothing"),
                            c.observed.as_deref().unwrap_or("nothing")
                        )
                    })
                    .collect();
                writeln!(
                    out,
                    r#"      <failure message="{} deviation(s)" type="deviation">{}</failure>"#,
                    bad.len(),
                    xml(&body.join("\n"))
                )?;
                writeln!(out, "    </testcase>")?;
            }
        }
        writeln!(out, "  </testsuite>")?;
        writeln!(out, "</testsuites>")
    }
}

fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => o.push(c),
        }
    }
    o
}

/// How a check of `target` is made: its kind, what was expected and observed, whether that
/// is a deviation, and the message, under the expectation's controls.
pub(crate) fn checker<'a>(
    target: &'a str,
    controls: &'a [String],
) -> impl Fn(&str, String, Option<String>, bool, String) -> Check + 'a {
    move |kind, expected, observed, deviation, msg| {
        Check::new(
            target,
            kind,
            Some(expected),
            observed,
            deviation,
            msg,
            controls,
        )
    }
}
