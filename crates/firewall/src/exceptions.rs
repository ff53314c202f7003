//! Exceptions: a time-boxed, approved "let this violation through" for one rule, one subject,
//! some artifacts and some environments. They are applied in `Firewall::decide` only.
//!
//! ```yaml
//! exceptions:
//!   - id: EXC-17
//!     rule: PCL-VULN-002
//!     key: CVE-2023-44487          # finding id, purl, violation key, or a glob; "*" for all
//!     artifact: registry.example.com/shop/*   # name glob, or an exact sha256:… digest
//!     environments: [staging]                 # or ["*"]
//!     expires: 2026-12-31                     # date (end of that day, UTC) or RFC 3339
//!     reason: Not reachable: HTTP/2 is disabled at the ingress.
//!     approver: dana@example.com
//!     evidence: sha256:…                      # optional: only while the violation rests on this document
//! ```

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::error::FirewallError;
use crate::violation::Violation;

/// One exception as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// Optional id for references in tickets and reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub rule: String,
    pub key: String,
    pub artifact: String,
    pub environments: Vec<String>,
    pub expires: String,
    pub reason: String,
    pub approver: String,
    /// Evidence binding: the `sha256:` digest of the evidence document the exception was
    /// granted on. When set, it covers a violation only while that document is among the
    /// violation's evidence: a new scan needs a new look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionsFile {
    exceptions: Vec<Exception>,
}

/// Why an exception as written cannot be used (which field, and why).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExceptionError(pub String);

/// An exception checked and ready to match.
#[derive(Debug, Clone)]
pub struct CompiledException {
    pub exception: Exception,
    pub expires_at: DateTime<Utc>,
    key: GlobMatcher,
    artifact: ArtifactScope,
}

#[derive(Debug, Clone)]
enum ArtifactScope {
    Digest(String),
    Name(GlobMatcher),
}

/// Where and when a decision is made: what an exception's scope is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub artifact_name: &'a str,
    pub artifact_digest: &'a str,
    pub environment: &'a str,
    pub now: DateTime<Utc>,
}

/// Whether an exception covers a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    Covers,
    /// In scope, but expired: it covers nothing and is reported.
    Expired,
    NotInScope,
}

impl CompiledException {
    pub fn compile(e: Exception) -> Result<Self, ExceptionError> {
        for (field, value) in [
            ("rule", &e.rule),
            ("key", &e.key),
            ("artifact", &e.artifact),
            ("reason", &e.reason),
            ("approver", &e.approver),
        ] {
            if value.trim().is_empty() {
                return Err(ExceptionError(format!("`{field}` must not be empty")));
            }
        }
        if e.environments.is_empty() {
            return Err(ExceptionError(
                "`environments` must name at least one environment (or \"*\")".into(),
            ));
        }
        let expires_at = parse_expiry(&e.expires).map_err(ExceptionError)?;
        if let Some(d) = &e.evidence {
            let hex = d.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ExceptionError(format!(
                    "`evidence`: {d:?} is not a sha256:<64 hex> digest"
                )));
            }
        }
        let key = glob(&e.key).map_err(|m| ExceptionError(format!("`key`: {m}")))?;
        let artifact = if let Some(hex) = e.artifact.strip_prefix("sha256:") {
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ExceptionError(format!(
                    "`artifact`: {:?} is not a sha256 digest",
                    e.artifact
                )));
            }
            ArtifactScope::Digest(e.artifact.to_ascii_lowercase())
        } else {
            ArtifactScope::Name(
                glob(&e.artifact).map_err(|m| ExceptionError(format!("`artifact`: {m}")))?,
            )
        };
        Ok(Self {
            exception: e,
            expires_at,
            key,
            artifact,
        })
    }

    /// Whether this exception covers a violation of `rule` about `key` (or one of `subjects`,
    /// the finding ids, aliases and purls behind it) in `scope`.
    pub fn coverage(&self, v: &Violation, scope: &Scope<'_>) -> Coverage {
        let (rule, key, subjects) = (v.rule.as_str(), v.key.as_str(), v.subjects.as_slice());
        let (artifact_name, artifact_digest, env, now) = (
            scope.artifact_name,
            scope.artifact_digest,
            scope.environment,
            scope.now,
        );
        let e = &self.exception;
        let in_scope = e.rule == rule
            && e.environments.iter().any(|x| x == "*" || x == env)
            && match &self.artifact {
                ArtifactScope::Digest(d) => d.eq_ignore_ascii_case(artifact_digest),
                ArtifactScope::Name(g) => g.is_match(artifact_name),
            }
            && (self.key.is_match(key) || subjects.iter().any(|s| self.key.is_match(s)))
            && e.evidence.as_ref().is_none_or(|d| {
                v.evidence_refs
                    .iter()
                    .any(|r| r.evidence.iter().any(|x| x.eq_ignore_ascii_case(d)))
            });
        if !in_scope {
            Coverage::NotInScope
        } else if now >= self.expires_at {
            Coverage::Expired
        } else {
            Coverage::Covers
        }
    }
}

fn glob(pattern: &str) -> Result<GlobMatcher, String> {
    // `*` crosses `/` here: keys and artifact names are not paths.
    Glob::new(pattern)
        .map(|g| g.compile_matcher())
        .map_err(|e| e.to_string())
}

/// A date means the end of that day (UTC); a timestamp is taken as written.
fn parse_expiry(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let next = d
            .succ_opt()
            .and_then(|n| n.and_hms_opt(0, 0, 0))
            .ok_or_else(|| format!("`expires`: {s:?} is out of range"))?;
        return Ok(next.and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("`expires`: {s:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time")
        })
}

/// Read exceptions from YAML or JSON: `{exceptions: [...]}` or a bare list.
pub fn parse_exceptions(text: &str, source: &str) -> Result<Vec<CompiledException>, FirewallError> {
    let err =
        |line: Option<usize>, column: Option<usize>, message: String| FirewallError::Exceptions {
            file: source.to_string(),
            line,
            column,
            message,
        };
    let yaml_err = |e: yaml_serde::Error| {
        let loc = e.location();
        err(
            loc.as_ref().map(|l| l.line()),
            loc.as_ref().map(|l| l.column()),
            e.to_string(),
        )
    };
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let is_list = text
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("---"))
        .is_some_and(|l| l.starts_with('-') || l.starts_with('['));
    let list: Vec<Exception> = if is_list {
        yaml_serde::from_str(text).map_err(yaml_err)?
    } else {
        yaml_serde::from_str::<ExceptionsFile>(text)
            .map_err(yaml_err)?
            .exceptions
    };
    list.into_iter()
        .enumerate()
        .map(|(i, e)| {
            let line = locate_entry(text, i);
            CompiledException::compile(e)
                .map_err(|m| err(line, line.map(|_| 1), format!("entry {}: {m}", i + 1)))
        })
        .collect()
}

/// Read an exceptions file.
pub fn load_exceptions(path: &Path) -> Result<Vec<CompiledException>, FirewallError> {
    let text = std::fs::read_to_string(path).map_err(|e| FirewallError::Exceptions {
        file: path.display().to_string(),
        line: None,
        column: None,
        message: format!("cannot read: {e}"),
    })?;
    parse_exceptions(&text, &path.display().to_string())
}

/// 1-based line of the `index`-th top-level list entry (`- ` at the list's indentation).
fn locate_entry(text: &str, index: usize) -> Option<usize> {
    let mut indent = None;
    let mut seen = 0;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with("- ") && trimmed != "-" {
            continue;
        }
        let this = line.len() - trimmed.len();
        match indent {
            None => indent = Some(this),
            Some(x) if x != this => continue,
            _ => {}
        }
        if seen == index {
            return Some(i + 1);
        }
        seen += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "exceptions:\n  - rule: PCL-VULN-002\n    key: CVE-2023-44487\n    artifact: shop/*\n    environments: [staging]\n    expires: 2026-12-31\n    reason: not reachable\n    approver: dana\n";

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn violation(rule: &str, subjects: &[String], evidence: &str) -> Violation {
        Violation {
            rule: rule.into(),
            title: String::new(),
            category: "security".into(),
            key: "vuln:X|pkg:golang/net".into(),
            severity: "high".into(),
            action: "enforce".into(),
            message: String::new(),
            controls: Vec::new(),
            evidence_refs: vec![crate::violation::EvidenceRef {
                kind: "finding".into(),
                id: "vuln:X|pkg:golang/net".into(),
                purl: None,
                evidence: vec![evidence.into()],
            }],
            remediation: String::new(),
            subjects: subjects.to_vec(),
        }
    }

    #[test]
    fn evidence_binding_covers_only_violations_resting_on_that_document() {
        let bound = format!("sha256:{}", "ab".repeat(32));
        let text = ONE.replace(
            "    approver: dana\n",
            &format!("    approver: dana\n    evidence: {bound}\n"),
        );
        let e = &parse_exceptions(&text, "x.yaml").unwrap()[0];
        let subjects = vec!["CVE-2023-44487".to_string()];
        let scope = Scope {
            artifact_name: "shop/api",
            artifact_digest: "sha256:00",
            environment: "staging",
            now: at("2026-12-01T00:00:00Z"),
        };
        let on_bound = violation("PCL-VULN-002", &subjects, &bound);
        let on_new_scan = violation(
            "PCL-VULN-002",
            &subjects,
            &format!("sha256:{}", "cd".repeat(32)),
        );
        assert_eq!(e.coverage(&on_bound, &scope), Coverage::Covers);
        assert_eq!(e.coverage(&on_new_scan, &scope), Coverage::NotInScope);
        let bad = ONE.replace(
            "    approver: dana\n",
            "    approver: dana\n    evidence: abc\n",
        );
        let err = parse_exceptions(&bad, "x.yaml").unwrap_err().to_string();
        assert!(err.contains("`evidence`"), "{err}");
    }

    #[test]
    fn scope_and_expiry() {
        let e = &parse_exceptions(ONE, "x.yaml").unwrap()[0];
        let subjects = vec!["CVE-2023-44487".to_string()];
        let d = "sha256:00";
        let cov = |rule: &str, env: &str, name: &str, now: &str| {
            let scope = Scope {
                artifact_name: name,
                artifact_digest: d,
                environment: env,
                now: at(now),
            };
            e.coverage(&violation(rule, &subjects, "sha256:11"), &scope)
        };
        assert_eq!(
            cov(
                "PCL-VULN-002",
                "staging",
                "shop/api",
                "2026-12-31T23:59:59Z"
            ),
            Coverage::Covers
        );
        assert_eq!(
            cov(
                "PCL-VULN-002",
                "staging",
                "shop/api",
                "2027-01-01T00:00:00Z"
            ),
            Coverage::Expired
        );
        assert_eq!(
            cov(
                "PCL-VULN-002",
                "production",
                "shop/api",
                "2026-01-01T00:00:00Z"
            ),
            Coverage::NotInScope
        );
        assert_eq!(
            cov(
                "PCL-VULN-003",
                "staging",
                "shop/api",
                "2026-01-01T00:00:00Z"
            ),
            Coverage::NotInScope
        );
        assert_eq!(
            cov(
                "PCL-VULN-002",
                "staging",
                "billing/api",
                "2026-01-01T00:00:00Z"
            ),
            Coverage::NotInScope
        );
    }

    #[test]
    fn missing_expiry_is_an_error_with_a_place() {
        let text = ONE.replace("    expires: 2026-12-31\n", "");
        let err = parse_exceptions(&text, "x.yaml").unwrap_err().to_string();
        assert!(err.contains("x.yaml:2:"), "{err}");
        assert!(err.contains("missing field `expires`"), "{err}");
    }

    #[test]
    fn a_bad_digest_scope_is_an_error() {
        let text = ONE.replace("shop/*", "sha256:abc");
        let err = parse_exceptions(&text, "x.yaml").unwrap_err().to_string();
        assert!(
            err.contains("x.yaml:2:1: exceptions: entry 1: `artifact`"),
            "{err}"
        );
    }

    #[test]
    fn a_bare_list_is_accepted() {
        let text = ONE.replace("exceptions:\n", "");
        assert_eq!(parse_exceptions(&text, "x.yaml").unwrap().len(), 1);
    }
}
