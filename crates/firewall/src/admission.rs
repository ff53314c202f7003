//! Admission: what the firewall says about a Kubernetes workload about to be admitted. Every
//! container image must be pinned by digest in protected environments (PCL-ADM-001), and the
//! latest decision recorded for that digest in the namespace's environment must exist
//! (PCL-ADM-002) and be an allow (PCL-ADM-003). These are rules of the engine like any other:
//! `Firewall::decide` raises them from facts the firewall looked up in its own store
//! ([`AdmissionFacts`]), so per-environment actions (`rules: PCL-ADM-002: actions: …` in
//! portcullis.yaml) and exceptions apply to them, and a break-glass override of the decision
//! turns PCL-ADM-003 into a warning. PCL-ADM-004 is the webhook failing closed or open when it
//! cannot evaluate at all.
//!
//! This module holds the admission settings, the facts and the rules; reading an
//! AdmissionReview off the wire is the server's business.

use std::collections::BTreeMap;

use portcullis_policy::Action;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::decision::{EvidenceRef, Violation};
use crate::engine_rules::{self, EngineRule};

/// Closed: an error denies. Open: an error admits (with a warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureMode {
    #[default]
    Closed,
    Open,
}

/// Which reviews go on the audit trail (never a dry run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordMode {
    /// Every answer.
    All,
    /// Denials only (the API server's own audit log has the rest).
    #[default]
    Denied,
    None,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceConfig {
    /// The environment this namespace deploys to (default: the namespace's name).
    #[serde(default)]
    pub environment: Option<String>,
    /// Overrides whether the environment is protected.
    #[serde(default)]
    pub protected: Option<bool>,
    #[serde(default)]
    pub failure: Option<FailureMode>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionConfig {
    /// Namespace → environment, protection and failure mode.
    #[serde(default)]
    pub namespaces: BTreeMap<String, NamespaceConfig>,
    /// Environments whose namespaces are protected (when not said per namespace).
    #[serde(default = "default_protected")]
    pub protected_environments: Vec<String>,
    /// Failure mode where a namespace says none.
    #[serde(default)]
    pub failure: FailureMode,
    #[serde(default)]
    pub record: RecordMode,
    /// Accept reviews without an API token (only over mutual TLS: the server refuses to
    /// start with it otherwise).
    #[serde(default)]
    pub anonymous: bool,
    /// A namespace not listed in `namespaces` is protected (default), as an environment the
    /// configuration does not declare is.
    #[serde(default = "default_true")]
    pub protect_unmapped: bool,
}

fn default_true() -> bool {
    true
}

fn default_protected() -> Vec<String> {
    vec!["prod".into(), "production".into()]
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            namespaces: BTreeMap::new(),
            protected_environments: default_protected(),
            failure: FailureMode::Closed,
            record: RecordMode::Denied,
            anonymous: false,
            protect_unmapped: true,
        }
    }
}

/// Where a namespace deploys and how strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub environment: String,
    pub protected: bool,
    pub failure: FailureMode,
}

impl AdmissionConfig {
    pub fn target(&self, namespace: &str) -> Target {
        let ns = self.namespaces.get(namespace);
        let environment = ns
            .and_then(|n| n.environment.clone())
            .unwrap_or_else(|| namespace.to_string());
        let protected = match ns {
            None if self.protect_unmapped => true,
            _ => ns.and_then(|n| n.protected).unwrap_or_else(|| {
                self.protected_environments
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(&environment))
            }),
        };
        Target {
            environment,
            protected,
            failure: ns.and_then(|n| n.failure).unwrap_or(self.failure),
        }
    }
}

/// A container image of the object under review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    /// `containers[0]`, `initContainers[1]`, …
    pub container: String,
    pub name: String,
    pub image: String,
    pub digest: Option<String>,
}

/// The workload kinds admission judges (their pod templates).
pub const KINDS: [&str; 7] = [
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
];

/// The pod spec of a workload of a supported kind.
pub fn pod_spec<'a>(kind: &str, object: &'a Value) -> Option<&'a Value> {
    let spec = object.get("spec")?;
    match kind {
        "Pod" => Some(spec),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            spec.get("template")?.get("spec")
        }
        "CronJob" => spec
            .get("jobTemplate")?
            .get("spec")?
            .get("template")?
            .get("spec"),
        _ => None,
    }
}

/// Every image of a pod spec (init containers, containers, ephemeral containers).
pub fn images(spec: &Value) -> Vec<ImageRef> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(items) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in items.iter().enumerate() {
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            out.push(ImageRef {
                container: format!("{list}[{i}]"),
                name: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                image: image.to_string(),
                digest: digest_of(image),
            });
        }
    }
    out
}

/// `sha256:<64 hex>` when the reference is pinned by digest.
pub fn digest_of(image: &str) -> Option<String> {
    let (_, d) = image.rsplit_once('@')?;
    crate::decision::sha256_digest(d)
}

/// The latest decision recorded for an image's digest in the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedDecision {
    pub id: String,
    pub verdict: String,
    pub decided_at: String,
    /// A break-glass override of that decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden: Option<RecordedOverride>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedOverride {
    pub actor: String,
    pub reason: String,
    pub seq: i64,
}

/// One image and what the store says about its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFact {
    pub image: ImageRef,
    /// None: no decision is recorded for the digest (or the image has none).
    pub latest: Option<RecordedDecision>,
}

/// The facts the admission rules judge, established by the firewall from its own store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionFacts {
    /// Whether the namespace's environment is protected (its rules' default actions).
    pub protected: bool,
    pub images: Vec<ImageFact>,
}

/// The action of admission rule `rule` in `env`: `rules.<id>.actions` in portcullis.yaml
/// (environment, then `protected`/`unprotected` as the namespace is, then `*`), else the
/// rule's default for the class.
pub fn action(config: &crate::Config, rule: &EngineRule, env: &str, protected: bool) -> Action {
    let class = if protected {
        "protected"
    } else {
        "unprotected"
    };
    if let Some(rc) = config.rules.get(rule.id) {
        for key in [env, class, "*"] {
            if let Some(a) = rc.actions.get(key) {
                return *a;
            }
        }
    }
    if protected {
        rule.protected
    } else {
        rule.unprotected
    }
}

/// A violation of admission rule `rule` about `image`, keyed by `key` (the digest, or the
/// image reference without one).
fn violation(
    rule: &EngineRule,
    action: Action,
    fact: &ImageFact,
    key: &str,
    message: String,
) -> Violation {
    let img = &fact.image;
    let mut subjects = vec![img.image.clone()];
    if let Some((repo, _)) = img.image.split_once('@') {
        subjects.push(repo.to_string());
    }
    Violation {
        rule: rule.id.into(),
        title: rule.title.into(),
        category: "security".into(),
        key: key.to_string(),
        severity: rule.severity.into(),
        action: action.as_str().into(),
        message,
        controls: rule.controls.iter().map(|c| c.to_string()).collect(),
        evidence_refs: fact
            .latest
            .iter()
            .map(|d| EvidenceRef {
                kind: "decision".into(),
                id: d.id.clone(),
                purl: None,
                evidence: Vec::new(),
            })
            .collect(),
        remediation: rule.remediation.into(),
        subjects,
    }
}

/// What the admission rules find: violations to route (enforced or warned as their action
/// says, exceptions applied) and warnings that stand as they are (a break-glass override).
pub(crate) struct Findings {
    pub routed: Vec<(Violation, Action)>,
    pub overridden: Vec<Violation>,
}

/// Judge every image of `facts` in `env`.
pub(crate) fn judge(config: &crate::Config, facts: &AdmissionFacts, env: &str) -> Findings {
    let mut out = Findings {
        routed: Vec::new(),
        overridden: Vec::new(),
    };
    let act = |rule: &EngineRule| action(config, rule, env, facts.protected);
    for fact in &facts.images {
        let img = &fact.image;
        let who = format!("container {:?} ({})", img.name, img.container);
        let no_digest = &engine_rules::ADM_NO_DIGEST;
        if img.image.is_empty() {
            let a = act(no_digest);
            let v = violation(
                no_digest,
                a,
                fact,
                &img.container,
                format!("{who} has no image"),
            );
            out.routed.push((v, a));
            continue;
        }
        let Some(digest) = &img.digest else {
            let a = act(no_digest);
            let message = format!(
                "{who}: image {} has no digest; {env} admits images by digest only (IMAGE@sha256:…)",
                img.image
            );
            out.routed
                .push((violation(no_digest, a, fact, &img.image, message), a));
            continue;
        };
        match &fact.latest {
            None => {
                let rule = &engine_rules::ADM_NO_DECISION;
                let a = act(rule);
                let message = format!(
                    "{who}: no decision is recorded for {digest} in {env} (run `portcullis gate --env {env}` on it)"
                );
                out.routed
                    .push((violation(rule, a, fact, digest, message), a));
            }
            Some(d) if d.verdict != "allow" => {
                let rule = &engine_rules::ADM_DENIED;
                let a = act(rule);
                let line = format!(
                    "{who}: the latest decision for {digest} in {env} is {} (decision {}, {})",
                    d.verdict, d.id, d.decided_at
                );
                match &d.overridden {
                    // Break-glass: admitted, and said so to whoever deploys.
                    Some(o) => {
                        let message = format!(
                            "{line}; admitted by the break-glass override of {} ({}; audit entry {})",
                            o.actor, o.reason, o.seq
                        );
                        out.overridden
                            .push(violation(rule, Action::Warn, fact, digest, message));
                    }
                    None => out.routed.push((violation(rule, a, fact, digest, line), a)),
                }
            }
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(image: &str, latest: Option<RecordedDecision>) -> ImageFact {
        ImageFact {
            image: ImageRef {
                container: "containers[0]".into(),
                name: "app".into(),
                image: image.into(),
                digest: digest_of(image),
            },
            latest,
        }
    }

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn a_namespace_without_a_mapping_is_protected_unless_configured_otherwise() {
        let mut config = AdmissionConfig::default();
        config.namespaces.insert(
            "shop-staging".into(),
            NamespaceConfig {
                environment: Some("staging".into()),
                ..Default::default()
            },
        );
        // An attacker's namespace named like nothing the configuration knows.
        let t = config.target("scratch-42");
        assert_eq!(t.environment, "scratch-42");
        assert!(t.protected);
        // A mapped namespace keeps the protected_environments rule.
        assert!(!config.target("shop-staging").protected);
        config.protect_unmapped = false;
        assert!(!config.target("scratch-42").protected);
        assert!(config.target("prod").protected);
    }

    #[test]
    fn digests_are_read_from_references() {
        assert_eq!(digest_of(&format!("r/app@{D}")).as_deref(), Some(D));
        assert_eq!(digest_of("r/app:1.0"), None);
        assert_eq!(digest_of("r/app@sha256:abc"), None);
        assert_eq!(
            digest_of(&format!(
                "r/app@{}",
                D.to_uppercase().replace("SHA256", "sha256")
            ))
            .as_deref(),
            Some(D)
        );
    }

    #[test]
    fn rules_default_by_protection_and_follow_the_configuration() {
        let facts = AdmissionFacts {
            protected: false,
            images: vec![fact("r/app:1", None), fact(&format!("r/app@{D}"), None)],
        };
        let f = judge(&crate::Config::default(), &facts, "dev");
        let got: Vec<(&str, Action)> = f
            .routed
            .iter()
            .map(|(v, a)| (v.rule.as_str(), *a))
            .collect();
        assert_eq!(
            got,
            [("PCL-ADM-001", Action::Warn), ("PCL-ADM-002", Action::Warn)]
        );
        let protected = AdmissionFacts {
            protected: true,
            ..facts.clone()
        };
        let f = judge(&crate::Config::default(), &protected, "prod");
        assert!(f.routed.iter().all(|(_, a)| *a == Action::Enforce));

        let config = crate::Config::from_yaml(
            "rules:\n  PCL-ADM-002:\n    actions: { prod: warn }\n",
            "c.yaml",
        )
        .unwrap();
        let f = judge(&config, &protected, "prod");
        let got: Vec<(&str, Action)> = f
            .routed
            .iter()
            .map(|(v, a)| (v.rule.as_str(), *a))
            .collect();
        assert_eq!(
            got,
            [
                ("PCL-ADM-001", Action::Enforce),
                ("PCL-ADM-002", Action::Warn)
            ]
        );
        assert_eq!(f.routed[1].0.key, D, "keyed by the digest");
    }

    #[test]
    fn a_denied_decision_is_enforced_unless_overridden() {
        let denied = RecordedDecision {
            id: "d1".into(),
            verdict: "deny".into(),
            decided_at: "2026-12-01T00:00:00.000Z".into(),
            overridden: None,
        };
        let image = format!("r/app@{D}");
        let facts = AdmissionFacts {
            protected: false,
            images: vec![fact(&image, Some(denied.clone()))],
        };
        let f = judge(&crate::Config::default(), &facts, "dev");
        assert_eq!(f.routed.len(), 1);
        assert_eq!(
            f.routed[0].1,
            Action::Enforce,
            "a deny is enforced everywhere"
        );
        assert!(f.routed[0].0.message.contains("is deny (decision d1"));

        let overridden = RecordedDecision {
            overridden: Some(RecordedOverride {
                actor: "token:tok_a".into(),
                reason: "incident 7".into(),
                seq: 9,
            }),
            ..denied
        };
        let facts = AdmissionFacts {
            protected: true,
            images: vec![fact(&image, Some(overridden))],
        };
        let f = judge(&crate::Config::default(), &facts, "prod");
        assert!(f.routed.is_empty());
        assert!(
            f.overridden[0]
                .message
                .contains("break-glass override of token:tok_a")
        );
    }
}
