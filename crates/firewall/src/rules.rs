//! What a report says about each rule: its metadata and its action in the decision's
//! environment. The CLI renders from it, and the server sends it with each decision so that a
//! remote gate renders exactly what a local one would.

use portcullis_policy::gatekeeper::EnforcementAction;
use portcullis_policy::{Action, Rule};
use serde::{Deserialize, Serialize};

use crate::{Firewall, engine_rules};

/// Descriptive metadata of a rule: from the bundle, or the firewall's own fail-closed rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub severity: String,
    pub controls: Vec<String>,
    pub remediation: String,
    /// The action in the decision's environment.
    pub action: Action,
    /// Source file (`builtin/...` for the library).
    pub source: Option<String>,
}

impl Firewall {
    /// Rule metadata and the action of every rule in `env`, plus the firewall's own rules.
    pub fn rule_infos(&self, env: &str) -> Vec<RuleInfo> {
        let config = self.config();
        let mut out: Vec<RuleInfo> = self
            .bundle()
            .rules()
            .iter()
            .map(|r: &Rule| RuleInfo {
                id: r.meta.id.clone(),
                title: r.meta.title.clone(),
                description: r.meta.description.clone(),
                category: r.meta.category.as_str().into(),
                severity: r.meta.severity.clone(),
                controls: r.meta.controls.qualified(),
                remediation: r.meta.remediation.clone(),
                action: config.action(r, env),
                source: Some(r.source.clone()),
            })
            .collect();
        let enforcing = out.iter().any(|r| r.action == Action::Enforce);
        out.extend(engine_rules::FAIL_CLOSED.iter().map(|e| RuleInfo {
            id: e.id.into(),
            title: e.title.into(),
            description: e.description.into(),
            category: "security".into(),
            severity: e.severity.into(),
            controls: e.controls.iter().map(|c| c.to_string()).collect(),
            remediation: e.remediation.into(),
            action: if enforcing {
                Action::Enforce
            } else {
                Action::Warn
            },
            source: None,
        }));
        out.extend(self.gatekeeper_rules());
        out
    }

    /// The rules of the firewall's Gatekeeper constraints (`GK.<Kind>.<name>`).
    fn gatekeeper_rules(&self) -> Vec<RuleInfo> {
        let Some(gk) = self.gatekeeper() else {
            return Vec::new();
        };
        gk.constraints()
            .iter()
            .map(|c| RuleInfo {
                id: c.rule_id(),
                title: format!("Gatekeeper {} {}", c.kind, c.name),
                description: format!(
                    "Gatekeeper constraint {} of kind {} ({}), enforcementAction {}.",
                    c.name,
                    c.kind,
                    c.source,
                    c.enforcement.as_str()
                ),
                category: "security".into(),
                severity: "high".into(),
                controls: Vec::new(),
                remediation: format!(
                    "Change the object so that the constraint admits it, or change the constraint ({}).",
                    c.source
                ),
                action: if c.enforcement == EnforcementAction::Deny {
                    Action::Enforce
                } else {
                    Action::Warn
                },
                source: Some(c.source.clone()),
            })
            .collect()
    }
}
