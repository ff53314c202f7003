//! Checkov JSON (`checkov -o json`): one report object, or an array of reports (one per
//! `check_type`), or — when nothing was scanned — a bare summary.
//!
//! Each `results.failed_checks[]` entry is one `Misconfiguration` finding (`Secret` for the
//! `secrets` framework, whose `code_block` holding the secret is never read). Passed and
//! skipped checks are not findings. `severity` is often `null` (it needs a Bridgecrew API key):
//! that is `Unknown`, never `Info`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Limits;
use crate::error::{ErrorKind, ParseError, Place};
use crate::format::Format;
use crate::json::from_slice_located;
use crate::model::{CodeLocation, Evidence, Finding, FindingKind, Severity, Tool, normalize_path};

const FORMAT: Format = Format::CheckovJson;

#[derive(Deserialize)]
struct Report {
    #[serde(default)]
    check_type: Option<String>,
    #[serde(default)]
    results: Option<Results>,
    #[serde(default)]
    summary: Option<Summary>,
    /// The bare-summary form has the summary's fields at the top level.
    #[serde(default)]
    failed: Option<u64>,
    #[serde(default)]
    checkov_version: Option<String>,
}

#[derive(Deserialize)]
struct Results {
    #[serde(default)]
    failed_checks: Vec<Check>,
}

#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    checkov_version: Option<String>,
}

#[derive(Deserialize)]
struct Check {
    check_id: String,
    #[serde(default)]
    bc_check_id: Option<String>,
    #[serde(default)]
    check_name: Option<String>,
    #[serde(default)]
    file_path: Option<String>,
    #[serde(default)]
    file_line_range: Option<Vec<i64>>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    guideline: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    short_description: Option<String>,
}

/// Parse a Checkov JSON report (or array of reports).
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    // An array of reports or one report: look at the first byte rather than trying both, so
    // that a shape error keeps its exact JSON pointer.
    let is_array = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let reports: Vec<Report> = if is_array {
        from_slice_located(bytes, FORMAT, limits)?
    } else {
        vec![from_slice_located(bytes, FORMAT, limits)?]
    };
    let mut evidence = Evidence::new(FORMAT);
    let version = reports.iter().find_map(|r| {
        r.summary
            .as_ref()
            .and_then(|s| s.checkov_version.clone())
            .or_else(|| r.checkov_version.clone())
    });
    let tool = Tool::new("checkov", version);
    evidence.tool = Some(tool.clone());
    for report in reports {
        let Some(results) = report.results else {
            // A bare summary lists no checks; refuse one that says some failed.
            if let Some(n) = report.failed.filter(|n| *n > 0) {
                return Err(ParseError::new(
                    ErrorKind::Unsupported,
                    Some(FORMAT),
                    format!("summary-only report says {n} checks failed but lists none"),
                )
                .at(Place::Pointer(String::new())));
            }
            continue;
        };
        let secrets = report
            .check_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("secrets"));
        for c in results.failed_checks {
            evidence.findings.push(finding(c, secrets, &tool));
        }
    }
    Ok(evidence)
}

fn finding(c: Check, secrets: bool, tool: &Tool) -> Finding {
    let kind = if secrets || c.check_id.starts_with("CKV_SECRET") {
        FindingKind::Secret
    } else {
        FindingKind::Misconfiguration
    };
    let path = c
        .file_path
        .as_deref()
        .map(normalize_path)
        .filter(|p| !p.is_empty());
    let line = |i: usize| {
        c.file_line_range
            .as_ref()
            .and_then(|r| r.get(i))
            .and_then(|n| u32::try_from(*n).ok())
            .filter(|n| *n > 0)
    };
    let (start, end) = (line(0), line(1));
    let key = Finding::code_key(&c.check_id, &BTreeMap::new(), path.as_deref(), start);
    let severity = c
        .severity
        .as_deref()
        .map(Severity::from_word)
        .unwrap_or(Severity::Unknown);
    let mut f = Finding::new(kind, c.check_id.clone(), severity, tool.clone(), key);
    f.rule_id = Some(c.check_id);
    f.aliases = c.bc_check_id.into_iter().collect();
    f.original_severity = c.severity;
    f.title = c.check_name;
    f.description = c.description.or(c.short_description);
    if path.is_some() || c.resource.is_some() {
        f.location = Some(CodeLocation {
            path: path.unwrap_or_default(),
            start_line: start,
            end_line: end,
            start_column: None,
            resource: c.resource,
        });
    }
    f.references = c.guideline.into_iter().collect();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Evidence, ParseError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn failed_checks_only() {
        let e = p(r#"[{"check_type":"terraform","results":{
              "passed_checks":[{"check_id":"CKV_1"}],
              "failed_checks":[{"check_id":"CKV_AWS_20","bc_check_id":"BC_AWS_S3_1","check_name":"S3 public",
                 "file_path":"/main.tf","file_line_range":[3,9],"resource":"aws_s3_bucket.b","severity":null,
                 "guideline":"https://g"}],
              "skipped_checks":[{"check_id":"CKV_2"}]},
              "summary":{"checkov_version":"3.0.0"}},
            {"check_type":"secrets","results":{"failed_checks":[{"check_id":"CKV_SECRET_2","file_path":"a.env",
                 "file_line_range":[1,1],"severity":"HIGH"}]}}]"#)
        .unwrap();
        assert_eq!(e.tool.as_ref().unwrap().version.as_deref(), Some("3.0.0"));
        let [a, b] = &e.findings[..] else {
            panic!("{:?}", e.findings)
        };
        assert_eq!(a.kind, FindingKind::Misconfiguration);
        assert_eq!(a.severity, Severity::Unknown);
        assert_eq!(a.aliases, ["BC_AWS_S3_1"]);
        assert_eq!(a.key, "code:CKV_AWS_20|/main.tf:3");
        let l = a.location.as_ref().unwrap();
        assert_eq!((l.start_line, l.end_line), (Some(3), Some(9)));
        assert_eq!(l.resource.as_deref(), Some("aws_s3_bucket.b"));
        assert_eq!(b.kind, FindingKind::Secret);
        assert_eq!(b.severity, Severity::High);
    }

    #[test]
    fn bare_summary() {
        let e = p(r#"{"passed":0,"failed":0,"skipped":0,"checkov_version":"2.1.269"}"#).unwrap();
        assert!(e.findings.is_empty());
        let e = p(r#"{"passed":0,"failed":3,"checkov_version":"2.1.269"}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
    }

    #[test]
    fn missing_check_id_is_an_error() {
        let e = p(r#"{"check_type":"terraform","results":{"failed_checks":[{"file_path":"x"}]}}"#)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(
            e.place,
            Some(Place::Pointer("/results/failed_checks/0".into()))
        );
    }
}
