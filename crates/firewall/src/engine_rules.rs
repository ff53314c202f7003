//! The firewall's own rules: raised by the engine in Rust, not by Rego — fail-closed handling
//! of unreadable evidence and failed rules, and the admission rules. They sit in the same
//! catalogue as the library's rules (`portcullis policy list`, `docs/catalogue.md`), and the
//! admission rules take actions per environment and exceptions like any other rule.

use portcullis_policy::Action;

/// Evidence was offered but could not be read.
pub const UNREADABLE_EVIDENCE: &str = "PCL-ENGINE-001";
/// A rule could not be evaluated (runtime error, time limit, malformed violation).
pub const RULE_ERROR: &str = "PCL-ENGINE-002";
/// Prefix of the rule id of a Gatekeeper constraint's violations: `GK.<Kind>.<name>`.
pub const GATEKEEPER_PREFIX: &str = "GK.";
/// Prefix of the admission rules' ids.
pub const ADMISSION_PREFIX: &str = "PCL-ADM-";

/// What one of the firewall's own rules is, for decisions, listings and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineRule {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub severity: &'static str,
    pub controls: &'static [&'static str],
    pub remediation: &'static str,
    /// Default action in protected environments (configurable for admission rules).
    pub protected: Action,
    /// Default action in unprotected environments.
    pub unprotected: Action,
}

pub const UNREADABLE: EngineRule = EngineRule {
    id: UNREADABLE_EVIDENCE,
    title: "Evidence could not be read",
    description: "Evidence was offered but could not be read or parsed; the decision fails \
                  closed rather than take it as \"no findings\".",
    severity: "high",
    controls: &["nist-800-53:SI-7", "nist-800-53:CA-7"],
    remediation: "Fix or regenerate the evidence file; `portcullis evidence inspect FILE` \
                  shows what is wrong.",
    protected: Action::Enforce,
    unprotected: Action::Enforce,
};

pub const FAILED: EngineRule = EngineRule {
    id: RULE_ERROR,
    title: "Policy rule failed",
    description: "A policy rule could not be evaluated (runtime error, time limit, malformed \
                  violation); the decision fails closed where the rule enforces.",
    severity: "high",
    controls: &[],
    remediation: "Fix the rule's Rego, or set its action to `off` for this environment in \
                  portcullis.yaml.",
    protected: Action::Enforce,
    unprotected: Action::Enforce,
};

/// An image referenced by tag only (or no image) where images are admitted by digest.
pub const ADM_NO_DIGEST: EngineRule = EngineRule {
    id: "PCL-ADM-001",
    title: "Image not pinned by digest",
    description: "A container of the workload names its image by tag only (or names none): \
                  what runs could change under the same name, and no decision can be looked \
                  up for it. Enforced in protected environments, a warning elsewhere.",
    severity: "high",
    controls: &["nist-800-53:SI-7", "nist-800-53:CM-2"],
    remediation: "Deploy the image by digest (IMAGE@sha256:…), as the pipeline's gate decided \
                  it.",
    protected: Action::Enforce,
    unprotected: Action::Warn,
};

/// No decision is recorded for the image's digest in the environment.
pub const ADM_NO_DECISION: EngineRule = EngineRule {
    id: "PCL-ADM-002",
    title: "No recorded decision for the image",
    description: "The firewall's store holds no decision for the image's digest in the \
                  namespace's environment: it never went through the gate. Enforced in \
                  protected environments, a warning elsewhere.",
    severity: "high",
    controls: &["nist-800-53:CM-3", "nist-800-53:CM-14"],
    remediation: "Run `portcullis gate --env ENV` on the image before deploying it.",
    protected: Action::Enforce,
    unprotected: Action::Warn,
};

/// The latest decision for the image's digest in the environment is a deny.
pub const ADM_DENIED: EngineRule = EngineRule {
    id: "PCL-ADM-003",
    title: "The image was denied",
    description: "The latest decision recorded for the image's digest in the namespace's \
                  environment is a deny. A break-glass override of that decision admits it \
                  with a warning naming who and why.",
    severity: "critical",
    controls: &["nist-800-53:CM-3", "nist-800-53:SI-7"],
    remediation: "Fix what the decision denied and gate the new image, or have an approver \
                  grant an exception or a break-glass override.",
    protected: Action::Enforce,
    unprotected: Action::Enforce,
};

/// The webhook could not evaluate: it fails closed or open as the namespace says.
pub const ADM_ERROR: EngineRule = EngineRule {
    id: "PCL-ADM-004",
    title: "Admission could not be evaluated",
    description: "The admission webhook could not evaluate the object (the store unreachable, \
                  an object without a pod template, a rule that failed): it denies where the \
                  namespace fails closed (the default) and admits with a warning where it \
                  fails open.",
    severity: "high",
    controls: &["nist-800-53:SI-17"],
    remediation: "Read the reason in the message; fix the object or the firewall's store.",
    protected: Action::Enforce,
    unprotected: Action::Enforce,
};

/// The rules every decision may raise: its fail-closed handling (what gate reports list).
pub const FAIL_CLOSED: [EngineRule; 2] = [UNREADABLE, FAILED];

/// The admission rules whose action portcullis.yaml may set and exceptions may cover.
pub const ADMISSION: [EngineRule; 3] = [ADM_NO_DIGEST, ADM_NO_DECISION, ADM_DENIED];

/// Every rule of the firewall's own.
pub const ALL: [EngineRule; 6] = [
    UNREADABLE,
    FAILED,
    ADM_NO_DIGEST,
    ADM_NO_DECISION,
    ADM_DENIED,
    ADM_ERROR,
];

/// The engine rule `id`, if it is one.
pub fn get(id: &str) -> Option<&'static EngineRule> {
    ALL.iter().find(|r| r.id == id)
}
