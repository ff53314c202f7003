//! GitLab Code Quality (`artifacts: reports: codequality:`): the subset of the Code Climate
//! issue format GitLab reads — a JSON array of `{description, check_name, fingerprint,
//! severity, location: {path, lines: {begin}}}`.
//!
//! Enforced violations and warnings are issues (excepted ones are not: an exception accepted
//! them), and so is each error. An issue points at the code when the finding says where, else
//! at the first evidence file the violation rests on. The fingerprint is the rule, the key and
//! the artifact's name — not its digest — so the same issue in the next pipeline is the same
//! issue, and merge requests show what is new.

use serde_json::{Value, json};

use super::{Report, Status};
use portcullis_firewall::sha256;

/// GitLab's severities: info, minor, major, critical, blocker.
fn severity(s: &str, status: Status<'_>) -> &'static str {
    match (s, status) {
        (_, Status::Warning) if s != "critical" && s != "high" => "info",
        ("critical", Status::Enforced) => "blocker",
        ("critical", _) => "critical",
        ("high", _) => "major",
        ("medium", _) => "minor",
        _ => "info",
    }
}

fn fingerprint(parts: &[&str]) -> String {
    let joined = parts.join("\u{0}");
    let digest = sha256(joined.as_bytes());
    digest
        .strip_prefix("sha256:")
        .unwrap_or(&digest)
        .to_string()
}

pub fn document(r: &Report<'_>) -> Value {
    let d = r.decision;
    // Where issues without a better place point: the first evidence file given.
    let fallback = d
        .evidence
        .iter()
        .map(|e| r.file(&e.digest).unwrap_or(e.source.as_str()).to_string())
        .find(|f| !f.is_empty())
        .unwrap_or_else(|| d.artifact.name.clone());
    let mut issues = Vec::new();
    for item in r.items() {
        if matches!(item.status, Status::Excepted(_)) {
            continue;
        }
        let v = item.violation;
        let (path, line) = match r.code_location(v) {
            Some((p, l)) => (p.clone(), l.unwrap_or(1)),
            None => (
                r.evidence_files(v)
                    .into_iter()
                    .map(|(digest, file)| {
                        if file.is_empty() {
                            digest.to_string()
                        } else {
                            file
                        }
                    })
                    .next()
                    .unwrap_or_else(|| fallback.clone()),
                1,
            ),
        };
        let mut description = format!("{} [{}]: {}", v.rule, v.severity, v.title);
        if !v.message.is_empty() && v.message != v.title {
            description.push_str(" — ");
            description.push_str(&v.message);
        }
        if matches!(item.status, Status::Warning) {
            description.push_str(" (warning: does not deny here)");
        }
        if !v.remediation.is_empty() {
            description.push_str(" Fix: ");
            description.push_str(&v.remediation);
        }
        issues.push(json!({
            "type": "issue",
            "description": description,
            "check_name": v.rule,
            "categories": ["Security"],
            "fingerprint": fingerprint(&[&v.rule, &v.key, &d.artifact.name, &d.environment]),
            "severity": severity(&v.severity, item.status),
            "location": { "path": path, "lines": { "begin": line } },
        }));
    }
    for e in &d.errors {
        issues.push(json!({
            "type": "issue",
            "description": format!("Portcullis could not decide on everything given: {e}"),
            "check_name": "portcullis/error",
            "categories": ["Security"],
            "fingerprint": fingerprint(&["error", e, &d.artifact.name, &d.environment]),
            "severity": "blocker",
            "location": { "path": fallback, "lines": { "begin": 1 } },
        }));
    }
    Value::Array(issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities() {
        assert_eq!(severity("critical", Status::Enforced), "blocker");
        assert_eq!(severity("critical", Status::Warning), "critical");
        assert_eq!(severity("high", Status::Enforced), "major");
        assert_eq!(severity("medium", Status::Enforced), "minor");
        assert_eq!(severity("medium", Status::Warning), "info");
        assert_eq!(severity("low", Status::Enforced), "info");
        assert_eq!(severity("whatever", Status::Enforced), "info");
    }

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        assert_eq!(fingerprint(&["a", "b"]), fingerprint(&["a", "b"]));
        assert_ne!(fingerprint(&["a", "b"]), fingerprint(&["ab", ""]));
        assert_eq!(fingerprint(&["a"]).len(), 64);
    }
}
