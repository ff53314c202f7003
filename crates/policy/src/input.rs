//! `PolicyInput`: the one document every policy reads (`input` in Rego).
//!
//! It is a contract with users' own policies: fields are added, never renamed or removed, within
//! a version; `schema/policy-input.v1.schema.json` is generated from these types and a test keeps
//! the two equal. Every collection is always present (empty when there is nothing), and every
//! optional fact is `null` rather than absent, so a policy never silently skips a check because a
//! field it reads is undefined.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The version this crate writes in `version`.
pub const INPUT_VERSION: &str = "1";

/// Everything a policy may look at for one decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    /// Always `"1"` for this shape.
    pub version: String,
    /// The artifact about to be deployed.
    pub artifact: InputArtifact,
    /// Where it is going.
    pub environment: InputEnvironment,
    /// Who asks, from which pipeline, and when.
    pub context: InputContext,
    /// Every evidence document the decision read, with its digest.
    pub evidence: Vec<InputEvidence>,
    /// Components, deduplicated across SBOMs and scans by purl (or name@version).
    pub components: Vec<InputComponent>,
    /// Findings deduplicated across tools by `key`; `sources` lists every tool that reported one.
    pub findings: Vec<InputFinding>,
    /// Advisories known to the firewall (blocked advisories) matched against the components in
    /// Rust, with the evidence crate's per-ecosystem version ranges: one entry per (advisory,
    /// component). Rego never compares versions.
    pub advisories: Vec<InputAdvisory>,
    /// In-toto statements found in the evidence. `verified` is true only when `attest` checked
    /// the signature against a trusted key.
    pub attestations: Vec<InputAttestation>,
    /// Results of automated verification (canary analysis).
    pub verifications: Vec<InputVerification>,
    /// Results of exposure checks (what a deployed service really exposes vs. what was declared).
    pub exposures: Vec<InputExposure>,
    /// What runs in this environment today, when known.
    pub previous: Option<InputPrevious>,
    /// Earlier decisions about this same artifact digest in other environments (promotion).
    pub history: Vec<InputHistoryEntry>,
    /// Kubernetes objects under review (manifests given to `gate --manifest`, the object of an
    /// admission request), with the pod spec of workloads read out. Empty when none.
    #[serde(default)]
    pub kubernetes: Vec<InputKubernetesObject>,
    /// What changes compared with what the inventory says runs in this environment under the
    /// same artifact name. `null` when the caller did not look (no store, an admission review);
    /// when it looked, `baseline.state` says whether there was anything to compare with.
    #[serde(default)]
    pub diff: Option<InputDiff>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputArtifact {
    pub name: String,
    /// `sha256:<hex>`.
    pub digest: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputEnvironment {
    pub name: String,
    /// Protected environments (production, regulated) get the strict default actions.
    pub protected: bool,
    /// Whether the environment is declared in the configuration (an undeclared one is treated
    /// as protected).
    pub declared: bool,
    pub labels: BTreeMap<String, String>,
    /// Whether facts the request only asserted (`source: "asserted"`) may satisfy a rule here.
    /// False in protected environments unless `accept_asserted_facts` says otherwise in
    /// portcullis.yaml: there an asserted approval, history entry or passing canary does not
    /// count. (Asserted *problems*, such as an exposure deviation, always count.)
    #[serde(default)]
    pub accepts_asserted: bool,
}

/// Where a fact the firewall decides on came from. Only `asserted` facts come from the party
/// being gated; the others are established by the firewall.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum FactSource {
    /// The firewall's own clock or store: its recorded decisions, its inventory.
    Firewall,
    /// Recorded in the firewall's store by an authenticated caller whose role may record it
    /// (`portcullis verify … --record`, `portcullis approve`, the API), with an audit entry.
    Recorded,
    /// In a DSSE envelope signed by a key the firewall trusts.
    Signed,
    /// The identity the firewall authenticated (an API token, an mTLS client certificate).
    Authenticated,
    /// Said by the request itself: not established, and in an environment that does not accept
    /// asserted facts it satisfies no rule.
    #[default]
    Asserted,
}

impl FactSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firewall => "firewall",
            Self::Recorded => "recorded",
            Self::Signed => "signed",
            Self::Authenticated => "authenticated",
            Self::Asserted => "asserted",
        }
    }

    /// Whether the firewall established the fact (anything but `asserted`).
    pub fn established(self) -> bool {
        self != Self::Asserted
    }
}

impl std::fmt::Display for FactSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An approval of this artifact digest for this environment, in force at the decision time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputApproval {
    /// The approval's id in the store, or the digest of the signed attestation.
    pub id: String,
    /// Who approved: the identity the firewall authenticated (`token:…`, a certificate
    /// subject) or, for a signed approval, the signing key's id.
    pub approver: String,
    /// `recorded` (granted through the firewall), `signed` (a trusted key's attestation), or
    /// `asserted` (named by the request, e.g. `--approver`).
    pub source: FactSource,
    /// RFC 3339 UTC.
    pub granted_at: Option<String>,
    /// RFC 3339 UTC; null: does not expire.
    pub expires_at: Option<String>,
    /// The change reference the approval is bound to, when it names one.
    pub change_ref: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputContext {
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    pub requester: Option<String>,
    pub approver: Option<String>,
    /// Change ticket or request reference, when the pipeline gives one.
    pub change_ref: Option<String>,
    /// Decision time, RFC 3339 UTC.
    pub time: String,
    /// Decision time as seconds since the Unix epoch (for arithmetic in Rego).
    pub time_unix: i64,
    /// Where the time came from: `firewall` (its clock) for every recorded decision;
    /// `asserted` only in a what-if evaluation, which is never recorded as a decision.
    #[serde(default)]
    pub time_source: FactSource,
    /// Where `requester` came from: `authenticated` when the firewall authenticated the
    /// caller, `asserted` when the request named it.
    #[serde(default)]
    pub requester_source: FactSource,
    /// Approvals in force for this digest and environment (and change reference when the
    /// approval names one), from the store or signed attestations; an `approver` named by the
    /// request appears here with source `asserted`.
    #[serde(default)]
    pub approvals: Vec<InputApproval>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputEvidence {
    /// `sha256:<hex>` of the document's bytes.
    pub digest: String,
    /// Where it came from (file path or upload name).
    pub source: String,
    /// Format id (`cyclonedx-json`, `trivy`, `sarif`, …).
    pub format: String,
    /// `sbom` | `vulnerability-scan` | `sast` | `dast` | `iac` | `advisory` | `attestation`.
    pub kind: String,
    pub tool: Option<String>,
    pub tool_version: Option<String>,
    /// When the tool produced it (RFC 3339), if the document says.
    pub created: Option<String>,
    /// `created` as Unix seconds, when it parses.
    pub created_unix: Option<i64>,
    /// The artifact the document describes, if it names one.
    pub subject: Option<InputArtifactRef>,
    /// Errors the tool reported about its own run: the scan is incomplete.
    pub scan_errors: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputArtifactRef {
    pub name: String,
    pub digest: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputComponent {
    /// Canonical purl, or `name@version` when the component has none.
    pub key: String,
    pub purl: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub ecosystem: Option<String>,
    /// SPDX ids or expressions as declared.
    pub licenses: Vec<String>,
    /// Digests of the evidence documents that list it.
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputFinding {
    /// Stable identity across tools and runs (see the evidence crate).
    pub key: String,
    /// `vulnerability` | `weakness` | `dast` | `misconfiguration` | `secret`.
    pub kind: String,
    pub id: String,
    pub aliases: Vec<String>,
    pub title: Option<String>,
    /// `critical` | `high` | `medium` | `low` | `info` | `unknown` — the highest any source gave.
    pub severity: String,
    /// Highest CVSS base score any source gave.
    pub cvss: Option<f64>,
    pub component: Option<InputFindingComponent>,
    pub location: Option<InputLocation>,
    pub endpoint: Option<InputEndpoint>,
    pub rule_id: Option<String>,
    pub cwes: Vec<u32>,
    /// Versions that fix it, as the tools reported them.
    pub fixed_versions: Vec<String>,
    /// The lowest of `fixed_versions` above the installed version, ordered by the component's
    /// ecosystem (computed in Rust): the version to upgrade to. `null` when no reported fix is
    /// above the installed version or either is unknown.
    pub fix_version: Option<String>,
    /// Whether any source names a fix (a fixed version or fix state `fixed`).
    pub fix_available: bool,
    /// `fixed` | `not-fixed` | `wont-fix` | `unknown`, when a tool said.
    pub fix_state: Option<String>,
    /// VEX analysis state (`not_affected`, `false_positive`, `resolved`, `exploitable`, …).
    pub vex_state: Option<String>,
    /// Why the tool suppressed it, when it did (SARIF suppressions, `# nosec`).
    pub suppressed: Option<String>,
    /// Present when the CVE is in the known-exploited catalogue the firewall was given.
    pub known_exploited: Option<InputKnownExploited>,
    /// Every tool and document that reported it.
    pub sources: Vec<InputFindingSource>,
    /// For messages, computed once: the id with its aliases (`CVE-2021-44228 (GHSA-…)`).
    /// The three message fields are computed by the firewall; they may be left out of
    /// hand-written findings (e.g. `previous`).
    #[serde(default)]
    pub label: String,
    /// For messages: `name version` of the component, `null` without one.
    #[serde(default)]
    pub component_label: Option<String>,
    /// For messages: the tools that reported it, sorted and comma-separated.
    #[serde(default)]
    pub tools: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputFindingComponent {
    pub purl: Option<String>,
    pub name: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputLocation {
    pub path: String,
    pub line: Option<u32>,
    /// IaC resource or Kubernetes object the finding is about.
    pub resource: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputEndpoint {
    pub url: String,
    pub method: Option<String>,
    pub param: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputKnownExploited {
    /// `dateAdded` of the catalogue entry (YYYY-MM-DD).
    pub date_added: String,
    pub due_date: Option<String>,
    /// `knownRansomwareCampaignUse` is `Known`.
    pub ransomware: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputFindingSource {
    pub tool: String,
    /// Digest of the evidence document.
    pub evidence: String,
    /// The id this tool used.
    pub id: String,
    /// The severity this tool gave.
    pub severity: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputAdvisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: String,
    pub published: Option<String>,
    /// The affected component this entry is about.
    pub component: InputFindingComponent,
    /// The lowest version that fixes it, above the component's version, when the advisory says.
    pub fixed_version: Option<String>,
    /// Digest of the document the advisory came from.
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputAttestation {
    /// Digest of the evidence document holding it.
    pub evidence: String,
    /// The predicate type the Statement claims (read even when it does not verify, for
    /// messages; empty when the payload is not a Statement).
    pub predicate_type: String,
    /// True only when the signatures meet the threshold of trusted keys (or the Sigstore
    /// certificate, log entry and identity verify), the payload is an in-toto Statement and a
    /// subject is the artifact being decided.
    pub verified: bool,
    /// Who signed, when a trusted key or certificate verified a signature: the key's name (its
    /// file stem) or the certificate identity. Set also when only the subject is wrong.
    pub signer: Option<String>,
    /// Every distinct trusted signer whose signature verified.
    pub signers: Vec<String>,
    /// The key ids the signatures name, verified or not (for messages).
    pub keyids: Vec<String>,
    /// A subject of the Statement has the artifact's sha256 digest (as claimed; see `verified`).
    pub subject_matches_artifact: bool,
    /// Why it does not verify: `unsigned`, `bad_signature`, `untrusted_key`, `digest_mismatch`,
    /// `wrong_payload_type`, `malformed_envelope`, `below_threshold`, `no_trust_configured`, or
    /// a Sigstore failure (`expired_certificate`, `identity_mismatch`, ...). Null when verified.
    pub failure: Option<String>,
    /// The failure with its detail, for people.
    pub reason: Option<String>,
    /// The subjects the Statement claims.
    pub subjects: Vec<InputSubject>,
    /// Provenance facts: set only when `verified` (a claim that does not verify says nothing).
    pub builder_id: Option<String>,
    pub build_type: Option<String>,
    pub source_repo: Option<String>,
    pub source_ref: Option<String>,
    pub source_commit: Option<String>,
    /// `0.2` or `1` for SLSA provenance (verified only).
    pub slsa_version: Option<String>,
    /// The workflow or config file that ran (verified only).
    pub entry_point: Option<String>,
    /// Names of the build's top-level parameters (v0.2 `invocation.parameters`, v1
    /// `externalParameters`), values left out (verified only).
    pub parameters: Vec<String>,
    /// v0.2 `materials` / v1 `resolvedDependencies` (verified only).
    pub materials: Vec<InputMaterial>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputMaterial {
    pub uri: String,
    /// Algorithm -> hex digest.
    pub digest: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSubject {
    pub name: String,
    /// `sha256:<hex>` when the subject has a sha256 digest.
    pub digest: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputVerification {
    /// `canary` for canary analysis.
    pub kind: String,
    /// 0–100.
    pub score: f64,
    /// `pass` | `marginal` | `fail` (as `portcullis verify canary` concludes), or `inconclusive`, as the analysis concluded.
    pub verdict: String,
    /// Digest of the evidence document that holds the result.
    pub evidence: Option<String>,
    pub details: Option<String>,
    /// `recorded` (by `portcullis verify … --record` or the API), `signed`, or `asserted`
    /// (given inline by the request).
    #[serde(default)]
    pub source: FactSource,
    /// Who recorded or signed it, when established.
    #[serde(default)]
    pub recorded_by: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputExposure {
    /// The service or host checked.
    pub target: String,
    /// `port` | `tls` | `header`.
    pub check: String,
    /// What was declared (e.g. `443/tcp`, `TLSv1.2`, `strict-transport-security`).
    pub expected: Option<String>,
    /// What was observed.
    pub observed: Option<String>,
    /// Whether the observation deviates from the declaration.
    pub deviation: bool,
    pub message: String,
    pub evidence: Option<String>,
    /// `recorded` (by `portcullis probe … --record` or the API), `signed`, or `asserted`.
    #[serde(default)]
    pub source: FactSource,
    /// Who recorded or signed it, when established.
    #[serde(default)]
    pub recorded_by: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputPrevious {
    pub artifact: InputArtifact,
    pub deployed_at: Option<String>,
    /// Findings of the running version (same shape as `findings`; only what was known).
    pub findings: Vec<InputFinding>,
    /// `firewall` (its inventory and recorded decisions) or `asserted`.
    #[serde(default)]
    pub source: FactSource,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputHistoryEntry {
    pub environment: String,
    /// `allow` | `deny`.
    pub decision: String,
    pub decided_at: String,
    /// Whether the artifact was actually deployed there after the decision.
    pub deployed: bool,
    /// `firewall` (its recorded decisions and inventory) or `asserted`.
    #[serde(default)]
    pub source: FactSource,
}

/// The candidate compared with what runs in the environment (the smart diff). Every list is
/// sorted, so that the same two artifacts always give the same document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputDiff {
    /// What the candidate is compared with.
    pub baseline: InputDiffBaseline,
    /// The changes; `null` unless `baseline.state` is `known` (never an empty diff that would
    /// read as "nothing changed").
    pub changes: Option<InputDiffChanges>,
}

/// The artifact running in the environment, and whether its evidence is known.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputDiffBaseline {
    /// `known`: the running artifact and the evidence of its recorded decision were found;
    /// `none`: nothing of this name runs in the environment; `unknown`: something runs, but its
    /// evidence cannot be had (see `reason`).
    pub state: String,
    /// Why the state is `none` or `unknown`; `null` when `known`.
    pub reason: Option<String>,
    /// The artifact the inventory says runs there (`null` when none).
    pub artifact: Option<InputArtifact>,
    /// When it was recorded as deployed.
    pub deployed_at: Option<String>,
    /// The recorded decision whose evidence is the baseline.
    pub decision: Option<String>,
    /// Digests of the baseline's evidence documents (sorted).
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputDiffChanges {
    pub components: InputComponentChanges,
    pub findings: InputFindingChanges,
    /// Components on both sides whose declared licenses differ.
    pub licenses: Vec<InputLicenseChange>,
    pub provenance: InputProvenanceChange,
}

/// Components matched by package (purl without version and qualifiers, else ecosystem and
/// name); versions ordered by the package's ecosystem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputComponentChanges {
    pub added: Vec<InputDiffComponent>,
    pub removed: Vec<InputDiffComponent>,
    pub upgraded: Vec<InputVersionChange>,
    pub downgraded: Vec<InputVersionChange>,
    /// Components on both sides at the same version.
    pub unchanged: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputDiffComponent {
    /// The package: purl without version, qualifiers and subpath, else `ecosystem/name` or name.
    pub package: String,
    /// The component's key in its side's `components` (purl, or name@version).
    pub key: String,
    pub name: String,
    pub version: Option<String>,
    pub ecosystem: Option<String>,
    pub purl: Option<String>,
    pub licenses: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputVersionChange {
    pub package: String,
    pub name: String,
    pub ecosystem: Option<String>,
    /// The version running (baseline) and the candidate's.
    pub from: String,
    pub to: String,
    /// The components' keys on each side.
    pub from_key: String,
    pub to_key: String,
}

/// Findings matched by key with the component version left out (`vuln:<ID>|<package>`), so a
/// vulnerability still present after an upgrade is neither new nor fixed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputFindingChanges {
    /// In the candidate, not in the baseline.
    pub new: Vec<InputDiffFinding>,
    /// In the baseline, not in the candidate.
    pub fixed: Vec<InputDiffFinding>,
    pub unchanged: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputDiffFinding {
    /// What the two sides are matched by.
    pub match_key: String,
    /// The finding's key in its side's `findings` (what exceptions bind to).
    pub key: String,
    pub kind: String,
    pub id: String,
    pub aliases: Vec<String>,
    pub severity: String,
    pub component: Option<InputFindingComponent>,
    pub fixed_versions: Vec<String>,
    pub vex_state: Option<String>,
    pub suppressed: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputLicenseChange {
    pub package: String,
    pub name: String,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    /// Licenses declared before and after (sorted).
    pub from: Vec<String>,
    pub to: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputProvenanceChange {
    pub baseline: InputProvenanceFacts,
    pub candidate: InputProvenanceFacts,
    /// The facts that differ where both sides state them (`builder`, `source_repo`,
    /// `source_commit`).
    pub changed: Vec<InputProvenanceFieldChange>,
}

/// Provenance facts of one side, from its attestations: only the verified ones when any is
/// verified, else every one (then `verified` is false).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputProvenanceFacts {
    pub verified: bool,
    /// Attestations the facts come from.
    pub attestations: u64,
    pub builders: Vec<String>,
    pub source_repos: Vec<String>,
    pub source_commits: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputProvenanceFieldChange {
    /// `builder` | `source_repo` | `source_commit`.
    pub field: String,
    pub from: Vec<String>,
    pub to: Vec<String>,
}

/// A Kubernetes object under review. For workloads (Pod, Deployment, StatefulSet, DaemonSet,
/// ReplicaSet, ReplicationController, Job, CronJob) the pod spec is read out into
/// `containers` and the host namespace flags; other kinds have none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputKubernetesObject {
    /// `<namespace>/<kind>/<name>`: what violations about the object are keyed by. The
    /// namespace is `default` when a namespaced workload states none (kubectl's default).
    pub key: String,
    pub api_version: String,
    pub kind: String,
    /// `metadata.namespace` as written (`null` when the manifest states none).
    pub namespace: Option<String>,
    pub name: String,
    /// Where it came from: `FILE#N` (N-th YAML document, from 1; `FILE#N.items[I]` inside a
    /// `List`), or `admission:<uid>`.
    pub source: String,
    pub labels: BTreeMap<String, String>,
    /// Whether the object carries a pod spec.
    pub workload: bool,
    pub host_network: bool,
    pub host_pid: bool,
    pub host_ipc: bool,
    /// Containers, init containers and ephemeral containers of the pod spec.
    pub containers: Vec<InputContainer>,
    /// The object as written.
    pub object: serde_json::Value,
}

/// A container of a pod spec, with its effective security settings (the container's
/// `securityContext` over the pod's, where Kubernetes inherits them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputContainer {
    pub name: String,
    pub image: String,
    /// An init container.
    pub init: bool,
    /// An ephemeral (debug) container.
    pub ephemeral: bool,
    /// `securityContext.privileged` is true.
    pub privileged: bool,
    pub run_as_non_root: Option<bool>,
    pub run_as_user: Option<i64>,
    pub allow_privilege_escalation: Option<bool>,
    pub capabilities_add: Vec<String>,
    pub read_only_root_fs: Option<bool>,
}

/// The JSON Schema of [`PolicyInput`], as committed in `schema/policy-input.v1.schema.json`.
pub fn schema() -> serde_json::Value {
    let schema = schemars::schema_for!(PolicyInput);
    serde_json::to_value(schema).unwrap_or(serde_json::Value::Null)
}
