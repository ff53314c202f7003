//! Semgrep JSON output (`semgrep --json`: `results[]`, `errors[]`, `version`), and Semgrep
//! Supply Chain findings as the Semgrep API returns them (`{vulns: [...], hasMore, cursor}`).
//!
//! Code results are `Weakness` findings (`Secret` when the rule's metadata says its category or
//! product is secrets). Severity: `ERROR` high, `WARNING` medium, `INFO` low (Semgrep's own
//! reading of its levels), the newer `CRITICAL`/`HIGH`/`MEDIUM`/`LOW` as written, `INVENTORY` /
//! `EXPERIMENT` info. The matched source (`extra.lines`) is not kept.
//!
//! `errors[]` are files or rules Semgrep itself could not process: they are not findings, they
//! become `scan_errors` (the scan is incomplete).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Limits;
use crate::error::ParseError;
use crate::format::Format;
use crate::formats::sarif::cwe_ids;
use crate::formats::scanner_common::strings;
use crate::json::from_slice_located;
use crate::model::{
    CodeLocation, ComponentRef, Ecosystem, Evidence, Finding, FindingKind, Severity, Tool,
    normalize_path,
};

const FORMAT: Format = Format::SemgrepJson;

#[derive(Deserialize)]
struct Doc {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    results: Option<Vec<SResult>>,
    #[serde(default)]
    vulns: Option<Vec<Vuln>>,
    #[serde(default)]
    errors: Option<Vec<SemgrepError>>,
}

#[derive(Deserialize)]
struct SemgrepError {
    #[serde(default, rename = "type")]
    kind: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    level: Option<String>,
}

impl SemgrepError {
    /// `level path: message` on one line; `type` is a string or a `[name, ...]` list.
    fn describe(&self) -> String {
        let kind = match &self.kind {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(a)) => a
                .first()
                .and_then(|v| v.as_str())
                .unwrap_or("error")
                .to_string(),
            _ => "error".to_string(),
        };
        let mut out = format!("semgrep {}", self.level.as_deref().unwrap_or("error"));
        out.push_str(&format!(" ({kind})"));
        if let Some(p) = &self.path {
            out.push_str(&format!(" {p}"));
        }
        if let Some(m) = &self.message {
            let first = m.lines().next().unwrap_or("");
            out.push_str(&format!(": {first}"));
        }
        out
    }
}

#[derive(Deserialize)]
struct SResult {
    check_id: String,
    path: String,
    start: Position,
    #[serde(default)]
    end: Option<Position>,
    extra: Extra,
}

#[derive(Deserialize)]
struct Position {
    line: u32,
    #[serde(default)]
    col: Option<u32>,
}

#[derive(Deserialize)]
struct Extra {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    is_ignored: Option<bool>,
}

#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(default, deserialize_with = "strings")]
    cwe: Vec<String>,
    #[serde(default, deserialize_with = "strings")]
    references: Vec<String>,
    #[serde(default, deserialize_with = "strings")]
    category: Vec<String>,
    #[serde(default, deserialize_with = "strings")]
    product: Vec<String>,
    #[serde(default, deserialize_with = "strings")]
    source: Vec<String>,
    #[serde(default, rename = "shortDescription", deserialize_with = "strings")]
    short_description: Vec<String>,
}

// Supply Chain (API) shape.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vuln {
    #[serde(default)]
    title: Option<String>,
    advisory: Advisory,
    matched_dependency: Dependency,
    #[serde(default)]
    dependency_file_location: Option<FileLocation>,
    #[serde(default)]
    triage: Option<Triage>,
    #[serde(default)]
    closest_safe_dependency: Option<Dependency>,
    #[serde(default)]
    package_manager: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Advisory {
    rule_id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    references: References,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct References {
    #[serde(default, deserialize_with = "strings")]
    cve_ids: Vec<String>,
    #[serde(default, deserialize_with = "strings")]
    cwe_ids: Vec<String>,
    #[serde(default, deserialize_with = "strings")]
    urls: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    name: String,
    #[serde(default)]
    version_specifier: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileLocation {
    #[serde(default)]
    path: Option<String>,
    /// The API writes numbers as strings (`"222"`).
    #[serde(default, deserialize_with = "strings")]
    start_line: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Triage {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    dismiss_reason: Option<String>,
}

/// Parse Semgrep JSON (CLI results or Supply Chain API vulns).
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let doc: Doc = from_slice_located(bytes, FORMAT, limits)?;
    let mut evidence = Evidence::new(FORMAT);
    let tool = Tool::new("semgrep", doc.version.clone());
    evidence.tool = Some(tool.clone());
    evidence.scan_errors = doc
        .errors
        .unwrap_or_default()
        .iter()
        .map(SemgrepError::describe)
        .collect();
    match (doc.results, doc.vulns) {
        (Some(results), _) => {
            evidence.findings = results
                .into_iter()
                .map(|r| code_finding(r, &tool))
                .collect();
        }
        (None, Some(vulns)) => {
            evidence.findings = vulns
                .into_iter()
                .map(|v| supply_chain_finding(v, &tool))
                .collect();
        }
        (None, None) => {
            return Err(ParseError::shape(
                FORMAT,
                "",
                "neither `results` (Semgrep CLI) nor `vulns` (Semgrep Supply Chain API) is present",
            ));
        }
    }
    Ok(evidence)
}

fn severity_of(word: &str) -> Severity {
    match word.trim().to_ascii_uppercase().as_str() {
        "ERROR" => Severity::High,
        "WARNING" => Severity::Medium,
        "INFO" => Severity::Low,
        "INVENTORY" | "EXPERIMENT" => Severity::Info,
        other => Severity::from_word(other),
    }
}

fn code_finding(r: SResult, tool: &Tool) -> Finding {
    let extra = r.extra;
    let meta = extra.metadata;
    let is_secret = meta
        .category
        .iter()
        .chain(meta.product.iter())
        .any(|c| c.eq_ignore_ascii_case("secrets"));
    let kind = if is_secret {
        FindingKind::Secret
    } else {
        FindingKind::Weakness
    };
    // "requires login" is what Semgrep writes instead of a fingerprint when logged out.
    let fingerprint = extra
        .fingerprint
        .filter(|f| !crate::formats::scanner_common::is_placeholder_fingerprint(f));
    let path = normalize_path(&r.path);
    let mut fps = BTreeMap::new();
    if let Some(fp) = &fingerprint {
        fps.insert("fingerprint".to_string(), fp.clone());
    }
    let key = Finding::code_key(&r.check_id, &fps, Some(&path), Some(r.start.line));
    let severity = extra
        .severity
        .as_deref()
        .map(severity_of)
        .unwrap_or(Severity::Unknown);
    let mut f = Finding::new(kind, r.check_id.clone(), severity, tool.clone(), key);
    f.original_severity = extra.severity;
    f.rule_id = Some(r.check_id);
    f.title = meta.short_description.into_iter().next();
    f.description = extra.message;
    f.location = Some(CodeLocation {
        path,
        start_line: Some(r.start.line),
        end_line: r.end.map(|e| e.line),
        start_column: r.start.col,
        resource: None,
    });
    f.fingerprint = fingerprint;
    let mut cwes: Vec<u32> = meta.cwe.iter().flat_map(|c| cwe_ids(c)).collect();
    cwes.sort_unstable();
    cwes.dedup();
    f.cwes = cwes;
    f.references = meta.references;
    for s in meta.source {
        if !f.references.contains(&s) {
            f.references.push(s);
        }
    }
    if extra.is_ignored == Some(true) {
        f.suppression = Some("nosemgrep".to_string());
    }
    f
}

/// The ecosystem of the matched dependency, from the package manager only: the advisory's own
/// `ecosystem` names just the first of the ecosystems an advisory covers (the corpus has pypi
/// `grpcio` under a `gem` advisory), so it is not used.
fn ecosystem_of(package_manager: &str) -> Option<Ecosystem> {
    Some(match package_manager.to_ascii_lowercase().as_str() {
        "npm" | "yarn" | "pnpm" => Ecosystem::Npm,
        "pip" | "pipenv" | "poetry" | "pypi" | "uv" => Ecosystem::Pypi,
        "maven" | "gradle" => Ecosystem::Maven,
        "gomod" | "go" => Ecosystem::Golang,
        "cargo" => Ecosystem::Cargo,
        "bundler" | "gem" | "rubygems" => Ecosystem::Gem,
        "composer" => Ecosystem::Composer,
        "nuget" => Ecosystem::Nuget,
        "pub" => Ecosystem::Pub,
        "mix" | "hex" => Ecosystem::Hex,
        "swiftpm" | "swift" => Ecosystem::Swift,
        "cocoapods" => Ecosystem::Cocoapods,
        _ => return None,
    })
}

fn supply_chain_finding(v: Vuln, tool: &Tool) -> Finding {
    let a = v.advisory;
    let mut cves: Vec<String> = a.references.cve_ids.clone();
    let id = if cves.is_empty() {
        a.rule_id.clone()
    } else {
        cves.remove(0)
    };
    let mut aliases = cves;
    if id != a.rule_id {
        aliases.push(a.rule_id.clone());
    }
    let name = v.matched_dependency.name;
    let version = v.matched_dependency.version_specifier;
    let key = Finding::package_key(&id, &aliases, None, &name, version.as_deref());
    let severity = a
        .severity
        .as_deref()
        .map(Severity::from_word)
        .unwrap_or(Severity::Unknown);
    let mut f = Finding::new(FindingKind::Vulnerability, id, severity, tool.clone(), key);
    f.aliases = aliases;
    f.original_severity = a.severity;
    f.rule_id = Some(a.rule_id);
    f.title = a.title.or(v.title);
    f.description = a.description;
    let path = v
        .dependency_file_location
        .as_ref()
        .and_then(|l| l.path.as_deref())
        .map(normalize_path)
        .filter(|p| !p.is_empty());
    f.component = Some(ComponentRef {
        purl: None,
        name,
        version,
        ecosystem: v.package_manager.as_deref().and_then(ecosystem_of),
        path: path.clone(),
    });
    if let Some(path) = path {
        let line = v
            .dependency_file_location
            .as_ref()
            .and_then(|l| l.start_line.first())
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|n| *n > 0);
        f.location = Some(CodeLocation {
            path,
            start_line: line,
            end_line: None,
            start_column: None,
            resource: None,
        });
    }
    if let Some(fixed) = v.closest_safe_dependency.and_then(|d| d.version_specifier) {
        f.fixed_versions.push(fixed);
    }
    let mut cwes: Vec<u32> = a
        .references
        .cwe_ids
        .iter()
        .flat_map(|c| cwe_ids(c))
        .collect();
    cwes.sort_unstable();
    cwes.dedup();
    f.cwes = cwes;
    f.references = a.references.urls;
    // Triaged away in Semgrep: ignored (with a reason) or closed (no longer present).
    if let Some(t) = v.triage
        && let Some(status) = t.status
        && matches!(status.as_str(), "IGNORED" | "CLOSED" | "FIXED")
    {
        let reason = t.dismiss_reason.filter(|r| r != "UNKNOWN_REASON");
        f.suppression = Some(match reason {
            Some(r) => format!(
                "semgrep triage {}: {}",
                status.to_lowercase(),
                r.to_lowercase()
            ),
            None => format!("semgrep triage {}", status.to_lowercase()),
        });
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Evidence, ParseError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn results_map_with_and_without_fingerprints() {
        let e = p(r#"{"version":"1.2.3","errors":[],"results":[
          {"check_id":"py.sqli","path":"./app/db.py","start":{"line":3,"col":5},"end":{"line":4,"col":1},
           "extra":{"message":"SQL","severity":"ERROR","fingerprint":"abc123",
                    "metadata":{"cwe":["CWE-89: SQL Injection"],"references":"https://x"}}},
          {"check_id":"py.assert","path":"a.py","start":{"line":7,"col":1},
           "extra":{"message":"m","severity":"INFO","fingerprint":"requires login","metadata":{"cwe":"CWE-703"}}},
          {"check_id":"x","path":"a.py","start":{"line":1},"extra":{"severity":"CRITICAL","is_ignored":true}}]}"#)
        .unwrap();
        assert_eq!(e.tool.as_ref().unwrap().version.as_deref(), Some("1.2.3"));
        let [a, b, c] = &e.findings[..] else {
            panic!("{:?}", e.findings)
        };
        assert_eq!(a.key, "code:py.sqli|fp:fingerprint=abc123");
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.cwes, [89]);
        assert_eq!(a.references, ["https://x"]);
        assert_eq!(a.location.as_ref().unwrap().path, "app/db.py");
        assert_eq!(b.key, "code:py.assert|a.py:7");
        assert_eq!(b.fingerprint, None);
        assert_eq!(b.severity, Severity::Low);
        assert_eq!(c.severity, Severity::Critical);
        assert_eq!(c.suppression.as_deref(), Some("nosemgrep"));
    }

    #[test]
    fn missing_required_fields_are_located() {
        let e = p(r#"{"results":[{"check_id":"a","start":{"line":1},"extra":{}}]}"#).unwrap_err();
        assert_eq!(e.place, Some(crate::Place::Pointer("/results/0".into())));
        assert!(e.message.contains("path"), "{e}");
        let e = p(r#"{"errors":[]}"#).unwrap_err();
        let ev = p(
            r#"{"results":[],"errors":[{"code":3,"level":"warn","type":["PartialParsing",[]],
            "message":"Syntax error at line a.py:3:\n `x`","path":"a.py"}]}"#,
        )
        .unwrap();
        assert_eq!(
            ev.scan_errors,
            vec!["semgrep warn (PartialParsing) a.py: Syntax error at line a.py:3:"]
        );
        assert_eq!(e.kind, crate::ErrorKind::Shape);
    }

    #[test]
    fn supply_chain_vulns() {
        let e = p(
            r#"{"vulns":[{"advisory":{"ruleId":"ssc-1","severity":"HIGH","title":"T",
            "references":{"cveIds":["CVE-2023-1"],"cweIds":["CWE-617: Reachable"],"urls":["u"]}},
            "matchedDependency":{"name":"grpcio","versionSpecifier":"1.47.0"},
            "dependencyFileLocation":{"path":"requirements.txt","startLine":"22"},
            "closestSafeDependency":{"name":"grpcio","versionSpecifier":"1.53.0"},
            "triage":{"status":"IGNORED","dismissReason":"FALSE_POSITIVE"},
            "packageManager":"pip"}],"hasMore":false,"cursor":"1"}"#,
        )
        .unwrap();
        let f = &e.findings[0];
        assert_eq!(f.kind, FindingKind::Vulnerability);
        assert_eq!(f.id, "CVE-2023-1");
        assert_eq!(f.aliases, ["ssc-1"]);
        assert_eq!(f.key, "vuln:CVE-2023-1|grpcio@1.47.0");
        assert_eq!(
            f.component.as_ref().unwrap().ecosystem,
            Some(Ecosystem::Pypi)
        );
        assert_eq!(f.location.as_ref().unwrap().start_line, Some(22));
        assert_eq!(f.fixed_versions, ["1.53.0"]);
        assert_eq!(f.cwes, [617]);
        assert_eq!(
            f.suppression.as_deref(),
            Some("semgrep triage ignored: false_positive")
        );
    }
}
