//! Rule metadata: what every rule package declares in its `metadata` object.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What a rule is about. Reports group by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Security,
    PerformanceResiliency,
    Quality,
    Regulatory,
    Business,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Security => "security",
            Category::PerformanceResiliency => "performance-resiliency",
            Category::Quality => "quality",
            Category::Regulatory => "regulatory",
            Category::Business => "business",
        }
    }
}

/// What a violation of a rule does to the decision in an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The violation denies the deployment.
    Enforce,
    /// The violation is reported; the deployment goes on.
    Warn,
    /// The rule is not evaluated.
    Off,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Enforce => "enforce",
            Action::Warn => "warn",
            Action::Off => "off",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Default actions per environment class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultActions {
    /// Production and other protected environments.
    pub protected: Action,
    /// Everything else (dev, test, preview).
    pub unprotected: Action,
}

/// Control mappings: which framework requirements the rule gives evidence for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Controls {
    /// NIST SP 800-53 rev5 control ids (`RA-5`, `SI-2`, `CM-7(1)`).
    #[serde(default, rename = "nist-800-53")]
    pub nist_800_53: Vec<String>,
    /// HIPAA Security Rule sections (`164.308(a)(1)(ii)(A)`).
    #[serde(default)]
    pub hipaa: Vec<String>,
    /// SLSA v1 requirements (`build-l2`, `build-l3`).
    #[serde(default)]
    pub slsa: Vec<String>,
}

impl Controls {
    /// `framework:id` strings, as a decision lists them.
    pub fn qualified(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.nist_800_53.iter().map(|c| format!("nist-800-53:{c}")));
        out.extend(self.hipaa.iter().map(|c| format!("hipaa:{c}")));
        out.extend(self.slsa.iter().map(|c| format!("slsa:{c}")));
        out
    }
}

/// The `metadata` object of a rule package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMeta {
    /// Stable id users grep for and write exceptions against (`PCL-VULN-001`).
    pub id: String,
    pub title: String,
    /// One or two sentences: what the rule checks and why it matters.
    #[serde(default)]
    pub description: String,
    pub category: Category,
    /// Default severity of its violations (a violation may state its own).
    pub severity: String,
    pub actions: DefaultActions,
    pub controls: Controls,
    /// How to fix a violation, in general; violations add specifics.
    pub remediation: String,
    /// Parameters with their defaults; `portcullis.yaml` overrides them per rule.
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

/// Severity words a rule or violation may use.
pub const SEVERITIES: [&str; 6] = ["critical", "high", "medium", "low", "info", "unknown"];

/// Whether `id` has the shape of a rule id: upper-case letters, digits and dashes.
pub fn is_valid_rule_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}
