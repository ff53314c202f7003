//! SARIF 2.1.0: one run, `tool.driver` portcullis with the rules of the bundle; one result per
//! violation, warning and excepted violation (with a suppression), located in the code when
//! the finding says where, else in the evidence file it comes from.

use std::collections::HashMap;

use portcullis_firewall::engine_rules;
use portcullis_policy::Action;
use serde_json::{Value, json};

use super::{Item, Report, RuleInfo, Status, severity_score};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

// `value[key] = ..` on a `json!({..})` object inserts the key; it cannot panic.
#[allow(clippy::indexing_slicing)]
pub fn document(r: &Report<'_>) -> Value {
    let d = r.decision;
    let rule_index: HashMap<&str, usize> = r
        .rules
        .iter()
        .enumerate()
        .map(|(i, x)| (x.id.as_str(), i))
        .collect();

    // Evidence files as run artifacts, in path order.
    let mut files: Vec<(&str, &str)> = r
        .files
        .iter()
        .map(|(digest, path)| (path.as_str(), digest.as_str()))
        .collect();
    files.sort();
    let artifact_index: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, (_, digest))| (*digest, i))
        .collect();
    let artifacts: Vec<Value> = files
        .iter()
        .map(|(path, digest)| {
            let mut a = json!({
                "location": { "uri": uri(path) },
                "roles": ["referencedOnCommandLine"],
            });
            if let Some(hex) = digest.strip_prefix("sha256:") {
                a["hashes"] = json!({ "sha-256": hex });
            }
            a
        })
        .collect();

    let results: Vec<Value> = r
        .items()
        .map(|item| result(r, item, &rule_index, &artifact_index))
        .collect();

    let notifications: Vec<Value> = d
        .errors
        .iter()
        .map(|e| json!({ "level": "error", "message": { "text": e } }))
        .collect();

    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "portcullis",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://example.invalid/portcullis",
                    "rules": r.rules.iter().map(descriptor).collect::<Vec<_>>(),
                }
            },
            "automationDetails": { "id": format!("portcullis-gate/{}/", d.environment) },
            "invocations": [{
                "executionSuccessful": d.errors.is_empty(),
                "exitCode": r.exit_code,
                "endTimeUtc": d.decided_at,
                "toolExecutionNotifications": notifications,
            }],
            "artifacts": artifacts,
            "results": results,
            "properties": {
                "decision": d.decision.as_str(),
                "decisionId": d.id,
                "artifact": format!("{}@{}", d.artifact.name, d.artifact.digest),
                "environment": d.environment,
                "policyBundleDigest": d.policy_bundle_digest,
                "engineVersion": d.engine_version,
            },
        }]
    })
}

fn level(action: Action) -> &'static str {
    match action {
        Action::Enforce => "error",
        Action::Warn => "warning",
        Action::Off => "none",
    }
}

// `value[key] = ..` on a `json!({..})` object inserts the key; it cannot panic.
#[allow(clippy::indexing_slicing)]
fn descriptor(rule: &RuleInfo) -> Value {
    let description = if rule.description.is_empty() {
        &rule.title
    } else {
        &rule.description
    };
    let mut properties = json!({
        "category": rule.category,
        "severity": rule.severity,
        "action": rule.action.as_str(),
        "controls": rule.controls,
        "tags": std::iter::once(rule.category.clone())
            .chain(rule.controls.iter().cloned())
            .collect::<Vec<_>>(),
    });
    if let Some(score) = severity_score(&rule.severity) {
        properties["security-severity"] = json!(score);
    }
    json!({
        "id": rule.id,
        "name": pascal_case(&rule.title),
        "shortDescription": { "text": rule.title },
        "fullDescription": { "text": description },
        "help": {
            "text": format!("{description}\n\nHow to fix: {}", rule.remediation),
            "markdown": format!("{description}\n\n**How to fix:** {}", rule.remediation),
        },
        "defaultConfiguration": {
            "enabled": rule.action != Action::Off,
            "level": level(rule.action),
        },
        "properties": properties,
    })
}

// `value[key] = ..` on a `json!({..})` object inserts the key; it cannot panic.
#[allow(clippy::indexing_slicing)]
fn result(
    r: &Report<'_>,
    item: Item<'_>,
    rule_index: &HashMap<&str, usize>,
    artifact_index: &HashMap<&str, usize>,
) -> Value {
    let v = item.violation;
    let level = match item.status {
        Status::Enforced => "error",
        Status::Warning => "warning",
        Status::Excepted(_) => "note",
    };

    let subject = v
        .evidence_refs
        .iter()
        .find_map(|e| e.purl.clone())
        .unwrap_or_else(|| v.key.clone());
    let logical = json!([{
        "name": subject,
        "fullyQualifiedName": v.key,
        "kind": "resource",
    }]);
    let mut location = json!({ "logicalLocations": logical });
    if let Some((path, line)) = r.code_location(v) {
        let mut physical = json!({ "artifactLocation": { "uri": uri(path) } });
        if let Some(l) = line.filter(|l| *l >= 1) {
            physical["region"] = json!({ "startLine": l });
        }
        location["physicalLocation"] = physical;
    } else if let Some((digest, path)) = r
        .evidence_files(v)
        .into_iter()
        .find(|(_, path)| !path.is_empty())
    {
        let mut artifact = json!({ "uri": uri(&path) });
        if let Some(i) = artifact_index.get(digest) {
            artifact["index"] = json!(i);
        }
        location["physicalLocation"] = json!({ "artifactLocation": artifact });
    } else if v.rule == engine_rules::UNREADABLE_EVIDENCE {
        // The file that could not be read at all: its key is its path.
        location["physicalLocation"] = json!({ "artifactLocation": { "uri": uri(&v.key) } });
    }

    let mut properties = json!({
        "severity": v.severity,
        "action": v.action,
        "key": v.key,
        "controls": v.controls,
        "remediation": v.remediation,
        "evidenceRefs": v.evidence_refs,
    });
    if let Some(score) = severity_score(&v.severity) {
        properties["security-severity"] = json!(score);
    }
    let mut res = json!({
        "ruleId": v.rule,
        "level": level,
        "kind": "fail",
        "message": { "text": format!("{}\nHow to fix: {}", v.message, v.remediation) },
        "locations": [location],
        "partialFingerprints": { "violationKey/v1": format!("{}|{}", v.rule, v.key) },
        "properties": properties,
    });
    if let Some(i) = rule_index.get(v.rule.as_str()) {
        res["ruleIndex"] = json!(i);
    }
    if let Status::Excepted(x) = item.status {
        res["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": format!(
                "{} (approved by {}, expires {})",
                x.reason, x.approver, x.expires
            ),
            "properties": { "exception": x },
        }]);
    }
    res
}

/// `Component affected by a blocked advisory` -> `ComponentAffectedByABlockedAdvisory`.
fn pascal_case(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            cs.next()
                .map(|c| c.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A file path as a relative URI reference: `/` separators; `:` (which would start a scheme),
/// other reserved and non-ASCII bytes percent-encoded.
pub fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_encoded() {
        assert_eq!(
            uri("examples/evidence/a b.json"),
            "examples/evidence/a%20b.json"
        );
        assert_eq!(uri("dir\\x#1.json"), "dir/x%231.json");
        assert_eq!(uri("/tmp/é"), "/tmp/%C3%A9");
        assert_eq!(uri("c:x"), "c%3Ax");
    }

    #[test]
    fn names_are_pascal_case() {
        assert_eq!(
            pascal_case("Component affected by a blocked advisory"),
            "ComponentAffectedByABlockedAdvisory"
        );
        assert_eq!(
            pascal_case("SBOM missing (protected)"),
            "SBOMMissingProtected"
        );
    }
}
