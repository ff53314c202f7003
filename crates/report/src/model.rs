//! The report: what every format renders. Its JSON form is the `json` format, versioned by
//! [`SCHEMA`] (docs/reports.md documents each field); add fields, never rename them.

use std::collections::BTreeMap;

use portcullis_firewall::{ArtifactId, EvidenceRecord, Violation};
use serde::{Deserialize, Serialize};

/// `schema` of the JSON report.
pub const SCHEMA: &str = "portcullis.report/v1";

/// What a report covers. Decisions count when `from <= decided_at < to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    /// One environment, or all of them.
    pub env: Option<String>,
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    /// RFC 3339 UTC.
    pub generated_at: String,
    pub range: Range,
    pub summary: Summary,
    /// Oldest first.
    pub decisions: Vec<DecisionEntry>,
    pub exceptions: Vec<ExceptionEntry>,
    pub advisories: Vec<AdvisoryEntry>,
    /// Every control of the frameworks' mappings, by framework then control.
    pub coverage: Vec<ControlCoverage>,
    pub chain: ChainResult,
    /// Decisions per UTC day of the range, oldest first (days without decisions included).
    pub days: Vec<DayCounts>,
    /// Rules by number of decisions they were violated in (enforced or warned, unexcepted),
    /// most first.
    pub rules: Vec<RuleCount>,
    /// What ran in each environment during the range: what ran when it began, and every
    /// snapshot taken in it (after each change of what runs), each artifact with the decision
    /// it ran under and that decision's verdict.
    #[serde(default)]
    pub running: Vec<EnvironmentSnapshots>,
}

/// What ran in one environment during the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSnapshots {
    pub environment: String,
    /// The last snapshot taken before the range began: what was running when it began (None
    /// when nothing was recorded before).
    pub at_start: Option<SnapshotEntry>,
    /// The snapshots taken in the range, oldest first.
    pub snapshots: Vec<SnapshotEntry>,
}

/// What ran in an environment after one change of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    /// Its audit entry.
    pub chain_seq: i64,
    /// RFC 3339 UTC.
    pub taken_at: String,
    /// The kinds of the changes it follows (`deployment.recorded`, `deployment.removed`,
    /// `inventory.sync`).
    pub cause: String,
    pub artifacts: Vec<RunningArtifact>,
}

/// One artifact running at a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningArtifact {
    pub name: String,
    pub digest: String,
    pub deployed_at: String,
    /// The latest decision about this digest in the environment when the snapshot was taken
    /// (None: it ran without one).
    pub decision_id: Option<String>,
    /// That decision's verdict (`allow`, `deny`).
    pub verdict: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub environment: Option<String>,
    pub from: String,
    pub to: String,
}

/// Decisions by outcome. `allowed` excludes those allowed with warnings (`warned`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub decisions: u64,
    pub allowed: u64,
    pub warned: u64,
    pub denied: u64,
    /// Decisions with errors (unreadable evidence, failed rules), whatever the verdict.
    pub with_errors: u64,
    /// Denied decisions a break-glass override let through.
    pub overridden: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    #[serde(flatten)]
    pub counts: Counts,
    pub per_environment: BTreeMap<String, Counts>,
    /// Violations let through by an exception, over all decisions.
    pub excepted_violations: u64,
    /// Exceptions used by at least one decision of the range.
    pub exceptions_used: u64,
    /// Exceptions active at the end of the range (the POA&M's items).
    pub exceptions_active: u64,
    pub advisories: u64,
    pub controls_satisfied: u64,
    pub controls_not_satisfied: u64,
    pub controls_not_assessed: u64,
}

/// `allow`, `warn` (allowed with warnings) or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Allow,
    Warn,
    Deny,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Warn => "warn",
            Outcome::Deny => "deny",
        }
    }
}

/// One decision with its proof points: the evidence it read (by digest), the policy bundle,
/// its place in the audit chain, and what it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionEntry {
    pub id: String,
    pub decided_at: String,
    pub environment: String,
    pub artifact: ArtifactId,
    /// `allow` | `deny`, as decided.
    pub verdict: String,
    pub outcome: Outcome,
    pub chain_seq: u64,
    pub chain_hash: String,
    pub policy_bundle_digest: String,
    pub engine_version: String,
    pub evidence: Vec<EvidenceRecord>,
    pub violations: Vec<Violation>,
    pub warnings: Vec<Violation>,
    pub excepted: Vec<ExceptedEntry>,
    pub errors: Vec<String>,
    /// Who asked (pipeline, requester), when the request said.
    pub requester: Option<String>,
    pub pipeline: Option<String>,
    #[serde(rename = "override")]
    pub break_glass: Option<OverrideEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptedEntry {
    pub rule: String,
    pub key: String,
    pub severity: String,
    pub controls: Vec<String>,
    pub exception_id: Option<String>,
    pub approver: String,
    pub reason: String,
    pub expires: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideEntry {
    pub actor: String,
    pub reason: String,
    pub at: String,
}

/// An exception in force at some time in the range, or used by one of its decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionEntry {
    pub id: String,
    pub rule: String,
    pub key: String,
    pub artifact: String,
    pub environments: Vec<String>,
    pub reason: String,
    /// Who approved it (as written in the exception) and who granted it in the store.
    pub approver: String,
    pub granted_by: String,
    pub granted_at: String,
    /// RFC 3339 UTC: the deadline.
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
    /// Bound to this evidence document, when the exception says so.
    pub evidence: Option<String>,
    /// Active at the end of the range: granted, not revoked, not expired.
    pub active: bool,
    /// Decisions of the range it let a violation through in.
    pub used_by: Vec<String>,
    /// Its `exception.granted` audit entry (0 when not granted in the store).
    pub chain_seq: i64,
    /// Granted in the store (`exception add`, `POST /v1/exceptions`); false for one given to
    /// the gate in a file, known from the decisions that used it (`granted_by`/`granted_at`
    /// empty, `id` `unnamed:RULE:KEY:ARTIFACT` when the file gave none).
    #[serde(default = "granted_in_store_default")]
    pub granted_in_store: bool,
}

fn granted_in_store_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryEntry {
    pub id: String,
    /// `osv` | `block-rule` (added to the store), or `not-in-store`: cited by decisions but
    /// never added to the store (given to the gate in a file); its `summary`, `digest`,
    /// `added_*` are empty and `deployed` is not computed.
    pub kind: String,
    pub summary: String,
    pub digest: String,
    pub added_at: String,
    pub added_by: String,
    pub withdrawn_at: Option<String>,
    pub withdraw_reason: Option<String>,
    /// Decisions of the range whose violations, warnings or exceptions cite it.
    pub decisions: Vec<String>,
    /// Of those, the ones denied.
    pub denied: u64,
    /// Artifacts those decisions were about (`name@digest`).
    pub artifacts: Vec<String>,
    /// Deployed artifacts holding an affected version now (the inventory's impact).
    pub deployed: Vec<DeployedImpact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedImpact {
    pub environment: String,
    pub artifact_name: String,
    pub artifact_digest: String,
    pub purl: String,
}

/// `satisfied` | `not-satisfied` | `not-assessed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Satisfied,
    NotSatisfied,
    NotAssessed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Satisfied => "satisfied",
            Status::NotSatisfied => "not-satisfied",
            Status::NotAssessed => "not-assessed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Satisfied => "Satisfied",
            Status::NotSatisfied => "Not satisfied",
            Status::NotAssessed => "Not assessed",
        }
    }
}

/// One control: whether the range's decisions show it met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlCoverage {
    /// `nist-800-53` | `hipaa`.
    pub framework: String,
    /// As the rules write it (`RA-5`, `164.308(a)(1)(ii)(B)`).
    pub control: String,
    pub title: String,
    pub status: Status,
    /// Rules mapped to it (of the library and the bundles the decisions used).
    pub rules: Vec<String>,
    /// Decisions in which a rule mapped to it was evaluated.
    pub evaluated_in: Vec<String>,
    /// Decisions with an unexcepted violation (enforced or warned) mapped to it.
    pub violated_in: Vec<String>,
    /// Decisions in which an exception let a violation mapped to it through.
    pub excepted_in: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainResult {
    /// The whole audit chain and its signed checkpoints verified.
    pub verified: bool,
    pub entries: u64,
    pub checkpoints: u64,
    pub last_hash: Option<String>,
    /// Why it did not verify (names the first bad entry).
    pub failure: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounts {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub allowed: u64,
    pub warned: u64,
    pub denied: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCount {
    pub rule: String,
    pub title: String,
    pub decisions: u64,
}
