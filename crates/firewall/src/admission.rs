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
//! Where `decide_from_registry` is on (Kyverno's model), an image pinned by digest that has no
//! decision for the environment is decided there and then by the decision service from what
//! is attached to it in its registry (SBOMs, attestations, scan reports), within the
//! namespace's registry budget, and recorded like any other decision: the same rules then judge
//! it. The service keeps the decision per (digest, environment) in memory until the state in
//! force changes.
//!
//! This module holds the admission settings, the facts and the rules; reading an
//! AdmissionReview off the wire is the server's business.

use std::collections::BTreeMap;
use std::time::Duration;

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
    /// Overrides `decide_from_registry` for this namespace.
    #[serde(default)]
    pub decide_from_registry: Option<bool>,
    /// Overrides `registry_budget_ms` for this namespace.
    #[serde(default)]
    pub registry_budget_ms: Option<u64>,
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
    /// Keep the inventory from what is admitted (default on): a workload admitted (created
    /// or updated, not a dry run, not owned by a controller whose own review counts) runs its
    /// images in the namespace's environment; a workload deleted no longer does.
    #[serde(default = "default_true")]
    pub record_inventory: bool,
    /// Accept reviews without an API token (only over mutual TLS: the server refuses to
    /// start with it otherwise).
    #[serde(default)]
    pub anonymous: bool,
    /// A namespace not listed in `namespaces` is protected (default), as an environment the
    /// configuration does not declare is.
    #[serde(default = "default_true")]
    pub protect_unmapped: bool,
    /// An image pinned by digest with no decision recorded for the namespace's environment
    /// (or only one the webhook made under an earlier state: advisories, exceptions, policies)
    /// is decided now from what is attached to it in its registry, recorded like any other
    /// decision, and judged by PCL-ADM-002/003 as its recorded decision (Kyverno's model).
    /// Off by default: such an image is denied by PCL-ADM-002 until a gate decides it.
    #[serde(default)]
    pub decide_from_registry: bool,
    /// Milliseconds one review may spend reaching registries (waiting for a slot, resolving
    /// the images and fetching what is attached); past it the images not fetched fail as the
    /// namespace's failure mode says. Keep it below the webhook's `timeoutSeconds`.
    #[serde(default = "default_registry_budget_ms")]
    pub registry_budget_ms: u64,
    /// Images decided from their registries at once, over all reviews.
    #[serde(default = "default_registry_concurrency")]
    pub registry_concurrency: usize,
    /// How long the decision the webhook judged an image by is kept in memory (seconds):
    /// what a decision recorded by another replica or process waits for at most. Advisory,
    /// exception and policy changes, and decisions recorded through this server, clear it at
    /// once.
    #[serde(default = "default_cache_ttl_seconds")]
    pub cache_ttl_seconds: u64,
    /// The most (digest, environment) decisions kept in memory.
    #[serde(default = "default_cache_max_entries")]
    pub cache_max_entries: u64,
}

/// Default `registry_budget_ms`: below Kubernetes' default webhook timeout (10 s).
pub const DEFAULT_REGISTRY_BUDGET_MS: u64 = 8_000;
pub const DEFAULT_REGISTRY_CONCURRENCY: usize = 4;
pub const DEFAULT_CACHE_TTL_SECONDS: u64 = 600;
pub const DEFAULT_CACHE_MAX_ENTRIES: u64 = 10_000;
/// The longest `registry_budget_ms` accepted: Kubernetes' longest webhook timeout (30 s).
pub const MAX_REGISTRY_BUDGET_MS: u64 = 30_000;

fn default_registry_budget_ms() -> u64 {
    DEFAULT_REGISTRY_BUDGET_MS
}

fn default_registry_concurrency() -> usize {
    DEFAULT_REGISTRY_CONCURRENCY
}

fn default_cache_ttl_seconds() -> u64 {
    DEFAULT_CACHE_TTL_SECONDS
}

fn default_cache_max_entries() -> u64 {
    DEFAULT_CACHE_MAX_ENTRIES
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
            record_inventory: true,
            anonymous: false,
            protect_unmapped: true,
            decide_from_registry: false,
            registry_budget_ms: DEFAULT_REGISTRY_BUDGET_MS,
            registry_concurrency: DEFAULT_REGISTRY_CONCURRENCY,
            cache_ttl_seconds: DEFAULT_CACHE_TTL_SECONDS,
            cache_max_entries: DEFAULT_CACHE_MAX_ENTRIES,
        }
    }
}

/// Where a namespace deploys and how strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub environment: String,
    pub protected: bool,
    pub failure: FailureMode,
    /// Whether images without a decision are decided from their registries.
    pub decide_from_registry: bool,
    /// How long a review may spend reaching registries.
    pub registry_budget: Duration,
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
            decide_from_registry: ns
                .and_then(|n| n.decide_from_registry)
                .unwrap_or(self.decide_from_registry),
            registry_budget: Duration::from_millis(
                ns.and_then(|n| n.registry_budget_ms)
                    .unwrap_or(self.registry_budget_ms),
            ),
        }
    }

    /// Whether any namespace decides from registries.
    pub fn reaches_registries(&self) -> bool {
        self.decide_from_registry
            || self
                .namespaces
                .values()
                .any(|n| n.decide_from_registry == Some(true))
    }

    /// What is wrong with these settings, if anything: a registry budget of 1 ms to 30 s
    /// (a webhook's longest timeout), at least one registry slot, a cache of some size.
    pub fn check(&self) -> Result<(), String> {
        let budget = |what: &str, ms: u64| {
            if ms == 0 || ms > MAX_REGISTRY_BUDGET_MS {
                Err(format!(
                    "{what}: {ms} is not a budget of 1 to {MAX_REGISTRY_BUDGET_MS} ms (keep it below the webhook's timeoutSeconds)"
                ))
            } else {
                Ok(())
            }
        };
        budget("admission.registry_budget_ms", self.registry_budget_ms)?;
        for (name, ns) in &self.namespaces {
            if let Some(ms) = ns.registry_budget_ms {
                budget(
                    &format!("admission.namespaces.{name}.registry_budget_ms"),
                    ms,
                )?;
            }
        }
        if self.registry_concurrency == 0 {
            return Err("admission.registry_concurrency: at least 1".into());
        }
        if self.cache_max_entries == 0 || self.cache_ttl_seconds == 0 {
            return Err(
                "admission.cache_max_entries and cache_ttl_seconds: at least 1 each".into(),
            );
        }
        Ok(())
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

/// Whether a controller owns `object` (a Pod of a ReplicaSet, a ReplicaSet of a Deployment, a
/// Job of a CronJob): its images count through its owner's review.
pub fn controlled(object: &Value) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        })
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
    /// The rules it found violated (as its audit entry lists them), for the denied user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violated: Vec<String>,
}

/// The pipeline a decision the webhook made from registry evidence names (its stage is the
/// namespace): how such a decision is told from one a gate made.
pub const ADMISSION_PIPELINE: &str = "admission-webhook";

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
                let mut line = format!(
                    "{who}: the latest decision for {digest} in {env} is {} (decision {}, {})",
                    d.verdict, d.id, d.decided_at
                );
                if !d.violated.is_empty() {
                    line.push_str(&format!("; rules violated: {}", d.violated.join(", ")));
                }
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
    fn deciding_from_registries_is_off_unless_configured_and_namespaces_override_it() {
        let config = AdmissionConfig::default();
        let t = config.target("shop-prod");
        assert!(!t.decide_from_registry);
        assert_eq!(t.registry_budget, Duration::from_millis(8_000));
        assert!(!config.reaches_registries());
        config.check().unwrap();

        let config: AdmissionConfig = yaml_serde::from_str(
            "decide_from_registry: true\n\
             registry_budget_ms: 5000\n\
             namespaces:\n\
             \x20 shop-prod: {environment: production, registry_budget_ms: 3000}\n\
             \x20 legacy: {decide_from_registry: false}\n",
        )
        .unwrap();
        config.check().unwrap();
        let t = config.target("shop-prod");
        assert!(t.decide_from_registry);
        assert_eq!(t.registry_budget, Duration::from_millis(3_000));
        assert!(!config.target("legacy").decide_from_registry);
        assert!(config.reaches_registries());
        let t = config.target("elsewhere");
        assert!(t.decide_from_registry);
        assert_eq!(t.registry_budget, Duration::from_millis(5_000));
        assert_eq!(config.cache_ttl_seconds, DEFAULT_CACHE_TTL_SECONDS);

        for bad in [
            "registry_budget_ms: 0\n",
            "registry_budget_ms: 60000\n",
            "namespaces: {a: {registry_budget_ms: 0}}\n",
            "registry_concurrency: 0\n",
            "cache_max_entries: 0\n",
        ] {
            let c: AdmissionConfig = yaml_serde::from_str(bad).unwrap();
            assert!(c.check().is_err(), "{bad}");
        }
        assert!(yaml_serde::from_str::<AdmissionConfig>("decide_from_registy: true\n").is_err());
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
            violated: vec!["PCL-VULN-001".into()],
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
        assert!(
            f.routed[0]
                .0
                .message
                .ends_with("; rules violated: PCL-VULN-001"),
            "{}",
            f.routed[0].0.message
        );

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
