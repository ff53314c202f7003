//! Bandit JSON (`bandit -f json`): each `results[]` entry is one `Weakness` finding, but for the
//! hard-coded password checks (B105-B107), which are `Secret` findings without Bandit's message
//! (it quotes the password).
//!
//! `metrics` are not read. `errors[]` (files Bandit could not parse) are not findings: they
//! become `scan_errors`. The `code` excerpt is not kept.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Limits;
use crate::error::ParseError;
use crate::format::Format;
use crate::json::from_slice_located;
use crate::model::{CodeLocation, Evidence, Finding, FindingKind, Severity, Tool, normalize_path};

const FORMAT: Format = Format::BanditJson;

#[derive(Deserialize)]
struct Doc {
    #[serde(default)]
    generated_at: Option<String>,
    results: Vec<Issue>,
    #[serde(default)]
    errors: Vec<BanditError>,
}

#[derive(Deserialize)]
struct BanditError {
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct Issue {
    test_id: String,
    #[serde(default)]
    test_name: Option<String>,
    #[serde(default)]
    issue_severity: Option<String>,
    #[serde(default)]
    issue_confidence: Option<String>,
    #[serde(default)]
    issue_text: Option<String>,
    filename: String,
    #[serde(default)]
    line_number: Option<u32>,
    #[serde(default)]
    line_range: Vec<u32>,
    /// 0-based.
    #[serde(default)]
    col_offset: Option<u32>,
    #[serde(default)]
    issue_cwe: Option<Cwe>,
    #[serde(default)]
    more_info: Option<String>,
}

#[derive(Deserialize)]
struct Cwe {
    #[serde(default)]
    id: Option<u32>,
}

/// Parse a Bandit JSON report.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let doc: Doc = from_slice_located(bytes, FORMAT, limits)?;
    let mut evidence = Evidence::new(FORMAT);
    let tool = Tool::new("bandit", None);
    evidence.tool = Some(tool.clone());
    evidence.created = doc.generated_at;
    evidence.scan_errors = doc
        .errors
        .iter()
        .map(|e| {
            format!(
                "bandit could not scan {}: {}",
                e.filename.as_deref().unwrap_or("?"),
                e.reason.as_deref().unwrap_or("no reason given")
            )
        })
        .collect();
    evidence.findings = doc.results.into_iter().map(|i| finding(i, &tool)).collect();
    Ok(evidence)
}

fn finding(i: Issue, tool: &Tool) -> Finding {
    let path = normalize_path(&i.filename);
    let line = i.line_number.filter(|n| *n > 0);
    let key = Finding::code_key(&i.test_id, &BTreeMap::new(), Some(&path), line);
    let severity = i
        .issue_severity
        .as_deref()
        .map(Severity::from_word)
        .unwrap_or(Severity::Unknown);
    let secret = crate::formats::scanner_common::is_hardcoded_secret_rule("bandit", &i.test_id);
    let kind = if secret {
        FindingKind::Secret
    } else {
        FindingKind::Weakness
    };
    let mut f = Finding::new(kind, i.test_id.clone(), severity, tool.clone(), key);
    f.rule_id = Some(i.test_id);
    f.original_severity = match (i.issue_severity, i.issue_confidence) {
        (Some(s), Some(c)) => Some(format!("{s} (confidence {c})")),
        (s, _) => s,
    };
    f.title = i.test_name;
    // B105-B107 messages quote the hard-coded password: not kept.
    f.description = if secret { None } else { i.issue_text };
    f.location = Some(CodeLocation {
        path,
        start_line: line,
        end_line: i
            .line_range
            .iter()
            .copied()
            .max()
            .filter(|e| Some(*e) != line),
        start_column: i.col_offset.map(|c| c.saturating_add(1)),
        resource: None,
    });
    f.cwes = i
        .issue_cwe
        .and_then(|c| c.id)
        .filter(|n| *n > 0)
        .into_iter()
        .collect();
    f.references = i.more_info.into_iter().collect();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_issue() {
        let e = parse(
            br#"{"errors":[],"generated_at":"2020-12-30T10:03:39Z","metrics":{"_totals":{"loc":2}},
              "results":[{"code":"2 assert False\n","filename":"one\\one.py","issue_confidence":"HIGH",
              "issue_severity":"LOW","issue_text":"Use of assert detected.","line_number":2,"line_range":[2,3],
              "col_offset":4,"issue_cwe":{"id":703,"link":"https://cwe.mitre.org/data/definitions/703.html"},
              "more_info":"https://bandit.readthedocs.io/b101","test_id":"B101","test_name":"assert_used"}]}"#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(e.created.as_deref(), Some("2020-12-30T10:03:39Z"));
        let f = &e.findings[0];
        assert_eq!(f.key, "code:B101|one/one.py:2");
        assert_eq!(f.severity, Severity::Low);
        assert_eq!(
            f.original_severity.as_deref(),
            Some("LOW (confidence HIGH)")
        );
        assert_eq!(f.cwes, [703]);
        let l = f.location.as_ref().unwrap();
        assert_eq!(
            (l.start_line, l.end_line, l.start_column),
            (Some(2), Some(3), Some(5))
        );
    }

    #[test]
    fn missing_results_is_an_error() {
        let e = parse(br#"{"errors":[],"metrics":{}}"#, &Limits::default()).unwrap_err();
        let ev = parse(
            br#"{"errors":[{"filename":"x.py","reason":"syntax error while parsing AST from file"}],"results":[]}"#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            ev.scan_errors,
            vec!["bandit could not scan x.py: syntax error while parsing AST from file"]
        );
        assert_eq!(e.kind, crate::ErrorKind::Shape);
    }
}
