//! OSCAL 1.1.2 JSON: assessment results (one result for the range; one observation per
//! decision, its `relevant-evidence` naming the decision and each evidence document by
//! digest; one finding per assessed control objective, `satisfied` or `not-satisfied`, linked
//! to the observations that show it) and a plan of action and milestones (one risk and one
//! item per exception active at the end of the range, the risk's `deadline` its expiry).
//!
//! UUIDs are version 5, derived from what they name (decision ids, control ids, the range and
//! the chain head), so the same store and range give the same UUIDs.
//!
//! The `oscal` format is one JSON object holding both documents' root objects:
//! `{"assessment-results": {…}, "plan-of-action-and-milestones": {…}}`; a POA&M needs at least
//! one item, so without active exceptions that member is left out. [`OscalDocuments`] gives
//! each document on its own (what the CLI writes as two files).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::controls::{self, NIST};
use crate::model::{ControlCoverage, DecisionEntry, ExceptionEntry, Report, Status};

pub const OSCAL_VERSION: &str = "1.1.2";
/// Namespace of the properties this crate defines.
pub const NS: &str = "https://portcullis.dev/ns/oscal";

/// The two documents of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct OscalDocuments {
    /// `{"assessment-results": {…}}`.
    pub assessment_results: Value,
    /// `{"plan-of-action-and-milestones": {…}}`, when some exception is active.
    pub poam: Option<Value>,
}

impl OscalDocuments {
    /// Both root objects in one JSON object (the `oscal` format).
    pub fn combined(&self) -> Value {
        let mut out = serde_json::Map::new();
        for doc in std::iter::once(&self.assessment_results).chain(self.poam.as_ref()) {
            if let Some(obj) = doc.as_object() {
                for (k, v) in obj {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Value::Object(out)
    }
}

fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:portcullis:report")
}

/// A v5 UUID for `parts`, joined with a separator no part contains.
fn uuid(parts: &[&str]) -> String {
    Uuid::new_v5(&namespace(), parts.join("\u{1f}").as_bytes()).to_string()
}

fn prop(name: &str, value: &str) -> Value {
    json!({"name": name, "ns": NS, "value": value})
}

/// Percent-encode what may not appear in a URN's specific part.
fn urn_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `urn:portcullis:decision:<id>` (the server serves it at `GET /v1/decisions/<id>`).
pub fn decision_href(id: &str) -> String {
    format!("urn:portcullis:decision:{}", urn_part(id))
}

/// `urn:portcullis:evidence:sha256:<hex>`.
pub fn evidence_href(digest: &str) -> String {
    format!("urn:portcullis:evidence:{}", urn_part(digest))
}

/// Prop values must not be empty (OSCAL's `string` is at least one non-space character).
fn nonempty(s: &str) -> &str {
    if s.trim().is_empty() { "-" } else { s }
}

fn range_key(report: &Report) -> String {
    format!(
        "{}|{}|{}|{}",
        report.range.environment.as_deref().unwrap_or("*"),
        report.range.from,
        report.range.to,
        report.chain.last_hash.as_deref().unwrap_or("")
    )
}

fn metadata(report: &Report, title: String) -> Value {
    json!({
        "title": title,
        "last-modified": report.generated_at,
        "version": format!("audit-chain-{}", report.chain.entries),
        "oscal-version": OSCAL_VERSION,
        "props": [prop("report-schema", &report.schema)],
    })
}

fn scope(report: &Report) -> String {
    format!(
        "{} from {} to {}",
        report
            .range
            .environment
            .as_deref()
            .map(|e| format!("environment {e}"))
            .unwrap_or_else(|| "all environments".into()),
        report.range.from,
        report.range.to
    )
}

/// The OSCAL documents of `report`.
pub fn documents(report: &Report) -> OscalDocuments {
    OscalDocuments {
        assessment_results: assessment_results(report),
        poam: poam(report),
    }
}

fn observation_uuid(decision: &str) -> String {
    uuid(&["observation", decision])
}

fn observation(d: &DecisionEntry) -> Value {
    let mut evidence = vec![json!({
        "href": decision_href(&d.id),
        "description": format!(
            "Decision {} ({}), audit chain entry {} with hash {}; policy bundle {}.",
            d.id, d.verdict, d.chain_seq, nonempty(&d.chain_hash), nonempty(&d.policy_bundle_digest)
        ),
    })];
    for e in &d.evidence {
        evidence.push(json!({
            "href": evidence_href(&e.digest),
            "description": format!(
                "Evidence {} ({} {}) from {}, digest {}.",
                e.digest, nonempty(&e.kind), nonempty(&e.format), nonempty(&e.source), e.digest
            ),
        }));
    }
    let mut found: Vec<String> = Vec::new();
    for v in &d.violations {
        found.push(format!("violation {} on {}: {}", v.rule, v.key, v.message));
    }
    for v in &d.warnings {
        found.push(format!("warning {} on {}: {}", v.rule, v.key, v.message));
    }
    for x in &d.excepted {
        found.push(format!(
            "excepted {} on {} by exception {} ({}, until {})",
            x.rule,
            x.key,
            x.exception_id.as_deref().unwrap_or("without id"),
            x.approver,
            x.expires
        ));
    }
    for e in &d.errors {
        found.push(format!("error: {e}"));
    }
    let mut obs = json!({
        "uuid": observation_uuid(&d.id),
        "title": format!("Decision {}: {} {} in {}", d.id, d.verdict, d.artifact.name, d.environment),
        "description": format!(
            "The deployment firewall decided {} for {}@{} in environment {} at {}.",
            d.outcome.as_str(), d.artifact.name, d.artifact.digest, d.environment, d.decided_at
        ),
        "props": [
            prop("decision-id", nonempty(&d.id)),
            prop("verdict", nonempty(&d.verdict)),
            prop("environment", nonempty(&d.environment)),
            prop("artifact-digest", nonempty(&d.artifact.digest)),
        ],
        "methods": ["TEST"],
        "types": ["control-objective"],
        "collected": d.decided_at,
        "relevant-evidence": evidence,
    });
    if !found.is_empty()
        && let Some(o) = obs.as_object_mut()
    {
        o.insert("remarks".into(), Value::String(found.join("\n\n")));
    }
    obs
}

fn objective_id(c: &ControlCoverage) -> String {
    format!(
        "{}_obj",
        controls::oscal_control_id(&c.framework, &c.control)
    )
}

fn finding(report: &Report, c: &ControlCoverage) -> Option<Value> {
    let (state, reason, evidence) = match c.status {
        Status::Satisfied => ("satisfied", "pass", &c.evaluated_in),
        Status::NotSatisfied => ("not-satisfied", "fail", &c.violated_in),
        Status::NotAssessed => return None,
    };
    let name = format!(
        "{} {}{}",
        controls::framework_name(&c.framework),
        c.control,
        if c.title.is_empty() {
            String::new()
        } else {
            format!(" {}", c.title)
        }
    );
    let description = match c.status {
        Status::NotSatisfied => format!(
            "{} of {} decisions that evaluated rules mapped to {} had an unexcepted violation of them (rules {}).",
            c.violated_in.len(),
            c.evaluated_in.len().max(c.violated_in.len()),
            c.control,
            c.rules.join(", ")
        ),
        _ => format!(
            "{} decisions evaluated rules mapped to {} ({}) with no unexcepted violation{}.",
            c.evaluated_in.len(),
            c.control,
            c.rules.join(", "),
            if c.excepted_in.is_empty() {
                String::new()
            } else {
                format!(
                    "; exceptions let violations through in {} of them",
                    c.excepted_in.len()
                )
            }
        ),
    };
    let mut f = json!({
        "uuid": uuid(&["finding", &c.framework, &c.control, &range_key(report)]),
        "title": format!("{name}: {}", c.status.label().to_lowercase()),
        "description": description,
        "props": [
            prop("framework", &c.framework),
            prop("control", nonempty(&c.control)),
        ],
        "target": {
            "type": "objective-id",
            "target-id": objective_id(c),
            "title": name,
            "status": {"state": state, "reason": reason},
        },
    });
    let related: Vec<Value> = evidence
        .iter()
        .map(|id| json!({"observation-uuid": observation_uuid(id)}))
        .collect();
    if !related.is_empty()
        && let Some(o) = f.as_object_mut()
    {
        o.insert("related-observations".into(), Value::Array(related));
    }
    Some(f)
}

fn assessment_results(report: &Report) -> Value {
    let key = range_key(report);
    let plan = uuid(&["assessment-plan", &key]);
    let include: Vec<Value> = report
        .coverage
        .iter()
        .map(|c| json!({"control-id": controls::oscal_control_id(&c.framework, &c.control)}))
        .collect();
    let selection = if include.is_empty() {
        json!({"description": "No control is mapped by the policy library.", "include-all": {}})
    } else {
        json!({
            "description": "Every NIST SP 800-53 rev5 control and HIPAA Security Rule section the policy library maps rules to (HIPAA ids are Portcullis tokens: hipaa-164.308.a.1.ii.b for 164.308(a)(1)(ii)(B)).",
            "include-controls": include,
        })
    };
    let not_assessed: Vec<String> = report
        .coverage
        .iter()
        .filter(|c| c.status == Status::NotAssessed)
        .map(|c| format!("{}:{}", c.framework, c.control))
        .collect();
    let chain = if report.chain.verified {
        format!(
            "The audit chain verified: {} entries, {} signed checkpoints, head {}.",
            report.chain.entries,
            report.chain.checkpoints,
            report.chain.last_hash.as_deref().unwrap_or("-")
        )
    } else {
        format!(
            "The audit chain did NOT verify: {}.",
            report.chain.failure.as_deref().unwrap_or("unknown failure")
        )
    };
    let mut result = json!({
        "uuid": uuid(&["result", &key]),
        "title": format!("Deployment decisions, {}", scope(report)),
        "description": format!(
            "Controls assessed by the deployment firewall's decisions ({} decisions: {} allowed, {} allowed with warnings, {} denied). {chain}",
            report.summary.counts.decisions,
            report.summary.counts.allowed,
            report.summary.counts.warned,
            report.summary.counts.denied
        ),
        "start": report.range.from,
        "end": report.range.to,
        "props": [
            prop("audit-chain-verified", if report.chain.verified { "true" } else { "false" }),
            prop("audit-chain-entries", &report.chain.entries.to_string()),
            prop("decisions", &report.summary.counts.decisions.to_string()),
        ],
        "reviewed-controls": {"control-selections": [selection]},
        "remarks": if not_assessed.is_empty() {
            chain.clone()
        } else {
            format!("{chain}\n\nNot assessed in this range (no finding): {}.", not_assessed.join(", "))
        },
    });
    let observations: Vec<Value> = report.decisions.iter().map(observation).collect();
    let findings: Vec<Value> = report
        .coverage
        .iter()
        .filter_map(|c| finding(report, c))
        .collect();
    if let Some(o) = result.as_object_mut() {
        if !observations.is_empty() {
            o.insert("observations".into(), Value::Array(observations));
        }
        if !findings.is_empty() {
            o.insert("findings".into(), Value::Array(findings));
        }
    }
    json!({
        "assessment-results": {
            "uuid": uuid(&["assessment-results", &key]),
            "metadata": metadata(report, format!("Portcullis assessment results, {}", scope(report))),
            "import-ap": {"href": format!("#{plan}")},
            "results": [result],
            "back-matter": {"resources": [{
                "uuid": plan,
                "title": "Assessment plan: the Portcullis policy library",
                "description": format!(
                    "Every deployment is evaluated by the rules of its policy bundle; each rule maps to {} controls and HIPAA sections. The decisions' policy bundles: {}.",
                    if report.coverage.iter().any(|c| c.framework == NIST) { "NIST SP 800-53 rev5" } else { "no NIST" },
                    bundles(report)
                ),
            }]},
        }
    })
}

fn bundles(report: &Report) -> String {
    let mut list: Vec<&str> = report
        .decisions
        .iter()
        .map(|d| d.policy_bundle_digest.as_str())
        .collect();
    list.sort_unstable();
    list.dedup();
    if list.is_empty() {
        "none in this range".into()
    } else {
        list.join(", ")
    }
}

fn poam_item(report: &Report, e: &ExceptionEntry) -> (Value, Value) {
    let key = range_key(report);
    let risk_uuid = uuid(&["risk", &e.id, &key]);
    let risk = json!({
        "uuid": risk_uuid,
        "title": format!("Exception {}: {} on {}", e.id, e.rule, e.key),
        "description": format!(
            "Violations of rule {} about {} by {} in {} are let through by exception {}.",
            e.rule, e.key, e.artifact, e.environments.join(", "), e.id
        ),
        "statement": format!("Reason given: {}", nonempty(&e.reason)),
        "props": [
            prop("exception-id", nonempty(&e.id)),
            prop("rule", nonempty(&e.rule)),
            prop("approver", nonempty(&e.approver)),
            prop("granted-by", nonempty(&e.granted_by)),
        ],
        "status": "deviation-approved",
        "deadline": e.expires_at,
    });
    let mut item = json!({
        "uuid": uuid(&["poam-item", &e.id, &key]),
        "title": format!("Remove the need for exception {} ({} on {})", e.id, e.rule, e.key),
        "description": format!(
            "Approved by {} and granted by {} on {}, until {}: {}. Fix what rule {} reports about {} before the exception expires.",
            nonempty(&e.approver), nonempty(&e.granted_by), e.granted_at, e.expires_at, nonempty(&e.reason), e.rule, e.key
        ),
        "props": [
            prop("exception-id", nonempty(&e.id)),
            prop("deadline", nonempty(&e.expires_at)),
        ],
        "related-risks": [{"risk-uuid": risk_uuid}],
    });
    let used: Vec<Value> = e
        .used_by
        .iter()
        .filter(|id| report.decisions.iter().any(|d| &d.id == *id))
        .map(|id| json!({"observation-uuid": observation_uuid(id)}))
        .collect();
    if !used.is_empty()
        && let Some(o) = item.as_object_mut()
    {
        o.insert("related-observations".into(), Value::Array(used));
    }
    (risk, item)
}

fn poam(report: &Report) -> Option<Value> {
    let active: Vec<&ExceptionEntry> = report.exceptions.iter().filter(|e| e.active).collect();
    if active.is_empty() {
        return None;
    }
    let (risks, items): (Vec<Value>, Vec<Value>) =
        active.iter().map(|e| poam_item(report, e)).unzip();
    // The observations the items cite (decisions that used an exception).
    let observations: Vec<Value> = report
        .decisions
        .iter()
        .filter(|d| active.iter().any(|e| e.used_by.contains(&d.id)))
        .map(observation)
        .collect();
    let mut doc = json!({
        "uuid": uuid(&["poam", &range_key(report)]),
        "metadata": metadata(report, format!("Portcullis plan of action and milestones: exceptions active at {}", report.range.to)),
        "risks": risks,
        "poam-items": items,
    });
    if !observations.is_empty()
        && let Some(o) = doc.as_object_mut()
    {
        o.insert("observations".into(), Value::Array(observations));
    }
    Some(json!({"plan-of-action-and-milestones": doc}))
}
