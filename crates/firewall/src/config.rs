//! `portcullis.yaml`: environments, rule parameters and, per rule × environment, the action.
//!
//! ```yaml
//! environments:
//!   production: { protected: true, labels: { tier: prod } }
//!   staging:    { protected: true }
//!   dev:        { protected: false }
//! rules:
//!   PCL-VULN-002:
//!     params: { min_severity: high }
//!     actions: { production: enforce, staging: warn, unprotected: off }
//! evaluation:
//!   timeout_ms: 2000
//! ```
//!
//! An action key is an environment name, an environment class (`protected`, `unprotected`) or
//! `"*"`; the most specific wins, then the rule's own defaults.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use portcullis_policy::{Action, PolicyBundle, Rule};
use serde::{Deserialize, Serialize};

use crate::error::FirewallError;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub environments: BTreeMap<String, EnvironmentConfig>,
    #[serde(default)]
    pub rules: BTreeMap<String, RuleConfig>,
    #[serde(default)]
    pub evaluation: EvaluationConfig,
    /// How many trusted signers attestations need (the keys themselves are given with
    /// `--trusted-keys DIR`).
    #[serde(default, skip_serializing_if = "AttestationConfig::is_default")]
    pub attestations: AttestationConfig,
    /// How OCI registries are reached (`gate --image`, admission from registry evidence):
    /// credentials file, CA bundles, plain-HTTP registries, limits.
    #[serde(
        default,
        skip_serializing_if = "portcullis_registry::RegistrySettings::is_default"
    )]
    pub registry: portcullis_registry::RegistrySettings,
    /// Where this configuration was read from (for messages); not part of the file.
    #[serde(skip)]
    pub source: Option<String>,
    #[serde(skip)]
    text: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Protected environments get the strict default actions of each rule.
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Whether facts the request only asserts (an approver it names, a history it claims, an
    /// inline canary result) may satisfy rules here. Default: not in protected environments,
    /// yes elsewhere.
    #[serde(default)]
    pub accept_asserted_facts: Option<bool>,
}

impl EnvironmentConfig {
    /// Whether asserted facts may satisfy rules here (`accept_asserted_facts`, else
    /// `!protected`).
    pub fn accepts_asserted(&self) -> bool {
        self.accept_asserted_facts.unwrap_or(!self.protected)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Parameter overrides (see `portcullis policy list` for each rule's parameters).
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Action per environment name, class (`protected`/`unprotected`) or `"*"`.
    #[serde(default)]
    pub actions: BTreeMap<String, Action>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Wall time allowed for evaluating all rules of one decision.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    2000
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        Self {
            timeout_ms: default_timeout_ms(),
        }
    }
}

/// ```yaml
/// attestations:
///   threshold: 1                                   # distinct trusted signers, by default
///   thresholds: { "https://slsa.dev/provenance/v1": 2 }   # per predicate type
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationConfig {
    #[serde(default = "one")]
    pub threshold: usize,
    #[serde(default)]
    pub thresholds: BTreeMap<String, usize>,
    /// Who may sign Sigstore bundles (with `--trusted-root`): the certificate SAN and OIDC
    /// issuer, each exact or a regular expression matching the whole value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<portcullis_attest::sigstore::IdentitySpec>,
}

fn one() -> usize {
    1
}

impl Default for AttestationConfig {
    fn default() -> Self {
        Self {
            threshold: 1,
            thresholds: BTreeMap::new(),
            identities: Vec::new(),
        }
    }
}

impl AttestationConfig {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The environment classes an action key may name.
pub const CLASSES: [&str; 2] = ["protected", "unprotected"];

impl Config {
    /// Read and check a configuration file. Errors name the file, line and column.
    pub fn load(path: &Path) -> Result<Self, FirewallError> {
        let text = std::fs::read_to_string(path).map_err(|e| FirewallError::Config {
            file: path.display().to_string(),
            line: None,
            column: None,
            message: format!("cannot read: {e}"),
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// Parse a configuration from YAML (JSON is YAML too).
    pub fn from_yaml(text: &str, source: &str) -> Result<Self, FirewallError> {
        let mut config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            yaml_serde::from_str(text).map_err(|e| {
                let loc = e.location();
                FirewallError::Config {
                    file: source.to_string(),
                    line: loc.as_ref().map(|l| l.line()),
                    column: loc.as_ref().map(|l| l.column()),
                    message: e.to_string(),
                }
            })?
        };
        config.source = Some(source.to_string());
        config.text = Some(text.to_string());
        Ok(config)
    }

    /// The text the configuration was read from (`None` for the built-in defaults).
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Check the configuration against a policy bundle: every rule id it names exists.
    pub fn check(&self, bundle: &PolicyBundle) -> Result<(), FirewallError> {
        for (id, rc) in &self.rules {
            if crate::engine_rules::ADMISSION.iter().any(|r| r.id == id) {
                if !rc.params.is_empty() {
                    return Err(self.error_at(
                        id,
                        format!("rules: {id}: an admission rule takes no params, only actions"),
                    ));
                }
                continue;
            }
            if bundle.rule(id).is_none() {
                return Err(self.error_at(
                    id,
                    format!(
                        "rules: no rule {id} in the policy bundle (see `portcullis policy list`)"
                    ),
                ));
            }
        }
        if self.attestations.threshold == 0 {
            return Err(self.error_at(
                "threshold",
                "attestations: threshold must be at least 1 (a signature that is not required \
                 cannot be verified)"
                    .into(),
            ));
        }
        for (i, spec) in self.attestations.identities.iter().enumerate() {
            if let Err(e) = spec.to_identity(i) {
                return Err(self.error_at("identities", format!("attestations: identities: {e}")));
            }
        }
        if let Some((ty, _)) = self.attestations.thresholds.iter().find(|(_, n)| **n == 0) {
            return Err(self.error_at(
                ty,
                format!("attestations: thresholds: {ty}: must be at least 1"),
            ));
        }
        Ok(())
    }

    /// An error pointing at the first line that mentions `needle` as a key.
    pub fn error_at(&self, needle: &str, message: String) -> FirewallError {
        let (line, column) = self
            .text
            .as_deref()
            .and_then(|t| locate_key(t, needle))
            .map_or((None, None), |(l, c)| (Some(l), Some(c)));
        FirewallError::Config {
            file: self
                .source
                .clone()
                .unwrap_or_else(|| "configuration".into()),
            line,
            column,
            message,
        }
    }

    /// The environment's settings, and whether it is declared. An undeclared environment is
    /// treated as protected: a typo in `--env` must not loosen the gate.
    pub fn environment(&self, name: &str) -> (EnvironmentConfig, bool) {
        match self.environments.get(name) {
            Some(e) => (e.clone(), true),
            None => (
                EnvironmentConfig {
                    protected: true,
                    labels: BTreeMap::new(),
                    accept_asserted_facts: None,
                },
                false,
            ),
        }
    }

    /// The action of `rule` in environment `env`.
    pub fn action(&self, rule: &Rule, env: &str) -> Action {
        // Undeclared environments are protected (see `environment`).
        let protected = self.environments.get(env).is_none_or(|e| e.protected);
        let class = if protected {
            "protected"
        } else {
            "unprotected"
        };
        if let Some(rc) = self.rules.get(&rule.meta.id) {
            for key in [env, class, "*"] {
                if let Some(a) = rc.actions.get(key) {
                    return *a;
                }
            }
        }
        if protected {
            rule.meta.actions.protected
        } else {
            rule.meta.actions.unprotected
        }
    }

    /// Parameter overrides for every rule that has some.
    pub fn params(&self) -> BTreeMap<String, serde_json::Map<String, serde_json::Value>> {
        self.rules
            .iter()
            .filter(|(_, r)| !r.params.is_empty())
            .map(|(id, r)| (id.clone(), r.params.clone()))
            .collect()
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.evaluation.timeout_ms)
    }
}

/// 1-based (line, column) of the first occurrence of `needle` followed by `:`. An empty
/// needle (a rule named "") is found nowhere: it would match at every position.
fn locate_key(text: &str, needle: &str) -> Option<(usize, usize)> {
    if needle.is_empty() {
        return None;
    }
    for (i, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line.get(from..).and_then(|l| l.find(needle)) {
            let at = from + pos;
            let rest = line.get(at + needle.len()..).unwrap_or("");
            let rest = rest.trim_start_matches(['"', '\'']);
            if rest.trim_start().starts_with(':') {
                return Some((i + 1, at + 1));
            }
            from = at + needle.len();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_rule_name_is_refused_without_searching_forever() {
        // Found by the firewall_config fuzz target: `locate_key(text, "")` looped for ever.
        let text = "{\"rules\": {?7777777777777777777776$, \"\":}}";
        assert_eq!(locate_key(text, ""), None);
        let config = Config::from_yaml(text, "portcullis.yaml").unwrap();
        let err = config.error_at("", "rules: no rule".into()).to_string();
        assert!(err.contains("portcullis.yaml"), "{err}");
    }

    #[test]
    fn a_type_error_points_at_line_and_column() {
        let err = Config::from_yaml(
            "environments:\n  prod:\n    protected: maybe\n",
            "portcullis.yaml",
        )
        .unwrap_err();
        let FirewallError::Config {
            file, line, column, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(file, "portcullis.yaml");
        assert_eq!((*line, *column), (Some(3), Some(16)), "{err}");
        assert!(
            err.to_string().starts_with("portcullis.yaml:3:16:"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_action_is_an_error() {
        let err = Config::from_yaml(
            "rules:\n  PCL-VULN-001:\n    actions: { prod: block }\n",
            "c.yaml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("c.yaml:3:"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_an_error() {
        let err = Config::from_yaml("environment:\n  prod: {}\n", "c.yaml").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `environment`"),
            "{err}"
        );
    }

    #[test]
    fn locate_finds_the_key_not_a_value() {
        let text = "a: PCL-X\nrules:\n  \"PCL-X\": {}\n";
        assert_eq!(locate_key(text, "PCL-X"), Some((3, 4)));
    }
}
