//! Portcullis firewall: `Firewall::decide`, the one evaluation path every way in (CLI gate, HTTP
//! API, admission webhook, re-gating, replay) calls. It builds the `PolicyInput` (advisories
//! matched in Rust), evaluates the policies, applies the action of each rule in the environment
//! and the exceptions, and fails closed on any error.
//!
//! It must not parse formats itself (the evidence crate does) or speak HTTP.

pub mod access;
pub mod admission;
pub mod approvals;
pub mod clock;
pub mod config;
pub mod decision;
pub mod diff;
pub mod document;
pub mod engine_rules;
pub mod error;
pub mod exceptions;
pub mod facts;
pub mod impact;
pub mod input;
pub mod inventory;
pub mod kev;
pub mod names;
pub mod posture;
pub mod record;
pub mod regate;
pub mod registry;
pub mod rejudge;
pub mod request;
mod reuse;
pub mod rules;
pub mod service;
pub mod setup;
pub mod signed;
pub mod sources;
pub mod stored;
pub mod trust;
pub mod violation;
pub mod watch;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{SubsecRound, Utc};
use portcullis_policy::gatekeeper::{EnforcementAction, Gatekeeper};
use portcullis_policy::input::{InputDiff, InputEnvironment, PolicyInput};
use portcullis_policy::{
    Action, EvalLimits, EvidenceValue, PolicyBundle, PolicySet, RawViolation, Rule, input_value,
};

pub use access::{Actor, Permission, Role};
pub use config::Config;
pub use decision::*;
pub use error::FirewallError;
pub use exceptions::{CompiledException, Coverage, Exception};
pub use input::BlockedAdvisory;
pub use kev::KevCatalog;
pub use request::*;
pub use service::{DecisionService, ServiceError};
pub use setup::{ConfigSource, Loaded, Setup};
pub use trust::{AttestationTrust, RefusedKeyFile};

/// The engine version recorded in every decision.
pub const ENGINE_VERSION: &str = concat!("portcullis ", env!("CARGO_PKG_VERSION"));

/// Policies, configuration, advisories and exceptions, ready to decide.
#[derive(Debug)]
pub struct Firewall {
    /// Compiled once, shared by every [`Firewall::fork`].
    policies: Arc<PolicySet>,
    config: Config,
    advisories: input::AdvisoryIndex,
    kev: Option<KevCatalog>,
    /// Digest of the KEV document, for the record.
    kev_source: Option<String>,
    exceptions: Vec<CompiledException>,
    /// Gatekeeper templates and constraints reviewing the request's Kubernetes objects.
    gatekeeper: Option<Arc<Gatekeeper>>,
    /// The keys attestations are verified with (none: nothing verifies).
    trust: Option<Arc<AttestationTrust>>,
    /// The limits evidence was read with (recorded so a replay reads it the same way).
    limits: portcullis_evidence::Limits,
    /// The stored form of the policy bundle and configuration, made once (it is large).
    stored_bundle: Arc<std::sync::OnceLock<Result<portcullis_store::NewBlob, String>>>,
    prepared: Mutex<PreparedCache>,
    /// Whether rule results are reused on evidence seen before ([`reuse`]); off only to
    /// measure what it saves.
    reuse_results: bool,
    /// Running artifacts' evidence already read for diffs (shared by every fork).
    baselines: Arc<diff::BaselineCache>,
}

/// The evidence-derived input of a set of evidence documents, built and converted once.
#[derive(Debug)]
struct Prepared {
    input: PolicyInput,
    /// Approvals and results signed by a trusted key in the evidence (per environment).
    signed: signed::SignedFacts,
    value: Result<EvidenceValue, portcullis_policy::EvalError>,
    /// The last diff of this evidence against a baseline.
    diff: diff::DiffMemo,
    /// Rule results on this evidence, reused by later decisions ([`reuse`]).
    results: reuse::Memo,
}

/// `light` with the approvals and results the request's evidence signs for its environment.
fn with_signed(
    mut light: PolicyInput,
    prepared: &Prepared,
    req: &DecisionRequest,
    now: chrono::DateTime<Utc>,
) -> PolicyInput {
    let env = req.environment.as_str();
    light.context.approvals.extend(prepared.signed.approvals(
        env,
        req.context.change_ref.as_deref(),
        now,
    ));
    light
        .verifications
        .extend(prepared.signed.verifications(env));
    light.exposures.extend(prepared.signed.exposures(env));
    light
}

/// A small FIFO cache of prepared evidence, keyed by the documents' digests and names.
#[derive(Debug, Default)]
struct PreparedCache {
    capacity: usize,
    entries: HashMap<String, Arc<Prepared>>,
    order: VecDeque<String>,
}

/// Prepared evidence sets kept by default (see [`Firewall::with_evidence_cache`]).
pub const DEFAULT_EVIDENCE_CACHE: usize = 16;

impl Firewall {
    /// Check `config` against `bundle` and compile the rule parameters.
    pub fn new(bundle: PolicyBundle, config: Config) -> Result<Self, FirewallError> {
        config.check(&bundle)?;
        let limits = EvalLimits {
            timeout: config.timeout(),
        };
        let policies = PolicySet::new(bundle, &config.params(), limits).map_err(|e| match e {
            portcullis_policy::PolicyError::Params { rule, message } => {
                config.error_at(&rule, format!("rules: {rule}: params: {message}"))
            }
            other => FirewallError::Policy(other),
        })?;
        Ok(Self {
            policies: Arc::new(policies),
            config,
            advisories: input::AdvisoryIndex::default(),
            kev: None,
            kev_source: None,
            exceptions: Vec::new(),
            gatekeeper: None,
            trust: None,
            limits: portcullis_evidence::Limits::default(),
            stored_bundle: Arc::default(),
            prepared: Mutex::new(PreparedCache {
                capacity: DEFAULT_EVIDENCE_CACHE,
                ..PreparedCache::default()
            }),
            reuse_results: true,
            baselines: Arc::default(),
        })
    }

    /// The same policies, configuration, KEV catalogue and limits (shared, not recompiled),
    /// with no advisories and no exceptions: a server builds each new state of advisories and
    /// exceptions from one compiled firewall this way.
    pub fn fork(&self) -> Self {
        let capacity = self.prepared.lock().map(|c| c.capacity).unwrap_or(0);
        Self {
            policies: self.policies.clone(),
            config: self.config.clone(),
            advisories: input::AdvisoryIndex::default(),
            kev: self.kev.clone(),
            kev_source: self.kev_source.clone(),
            exceptions: Vec::new(),
            limits: self.limits,
            gatekeeper: self.gatekeeper.clone(),
            trust: self.trust.clone(),
            stored_bundle: self.stored_bundle.clone(),
            prepared: Mutex::new(PreparedCache {
                capacity,
                ..PreparedCache::default()
            }),
            reuse_results: self.reuse_results,
            baselines: self.baselines.clone(),
        }
    }

    /// Compile `n` policy engines ahead of the first evaluations (shared by every fork).
    pub fn warm(&self, n: usize) -> Result<(), FirewallError> {
        self.policies
            .warm(n)
            .map_err(|e| FirewallError::Engine(format!("policy engines: {e}")))
    }

    /// Reuse rule results on evidence seen before (the default), or evaluate every rule every
    /// time: for benchmarks that measure what reuse saves.
    #[doc(hidden)]
    pub fn with_result_reuse(mut self, reuse: bool) -> Self {
        self.reuse_results = reuse;
        self
    }

    /// Advisories whose affected packages must not ship.
    pub fn with_advisories(mut self, advisories: Vec<BlockedAdvisory>) -> Self {
        self.advisories = input::AdvisoryIndex::new(advisories);
        self.clear_prepared();
        self
    }

    /// Keep the prepared input of the last `capacity` evidence sets, so that deciding again on
    /// the same documents (another environment, each replica at admission, re-gating) does not
    /// rebuild and reconvert it. 0 turns the cache off.
    pub fn with_evidence_cache(self, capacity: usize) -> Self {
        if let Ok(mut c) = self.prepared.lock() {
            c.capacity = capacity;
            c.entries.clear();
            c.order.clear();
        }
        self
    }

    pub fn with_kev(mut self, kev: KevCatalog) -> Self {
        self.kev = Some(kev);
        self.clear_prepared();
        self
    }

    /// The KEV catalogue and the digest of the document it was read from (for the record).
    pub fn with_kev_from(mut self, kev: KevCatalog, digest: &str) -> Self {
        self.kev_source = Some(digest.to_string());
        self.with_kev(kev)
    }

    /// The limits the evidence was read with.
    pub fn with_limits(mut self, limits: portcullis_evidence::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits evidence is read with.
    pub fn limits(&self) -> portcullis_evidence::Limits {
        self.limits
    }

    /// The advisories the firewall blocks.
    pub fn advisories(&self) -> &[BlockedAdvisory] {
        self.advisories.advisories()
    }

    /// The exceptions in force (expired ones included: they are reported).
    pub fn exceptions(&self) -> &[CompiledException] {
        &self.exceptions
    }

    pub fn with_exceptions(mut self, exceptions: Vec<CompiledException>) -> Self {
        self.exceptions = exceptions;
        self
    }

    /// Gatekeeper constraints (with their templates) that review every Kubernetes object of a
    /// request they match (`DecisionRequest::manifests`). Each violation becomes a decision
    /// violation `GK.<Kind>.<name>`: enforced for `deny`, a warning for `warn` and `dryrun`;
    /// a constraint that cannot be evaluated fails closed.
    pub fn with_gatekeeper(mut self, gatekeeper: Gatekeeper) -> Self {
        let gatekeeper = gatekeeper.with_timeout(self.config.timeout());
        self.gatekeeper = (!gatekeeper.sources().is_empty()).then(|| Arc::new(gatekeeper));
        self.stored_bundle = Arc::default();
        self
    }

    /// The keys attestations are verified with: an attestation signed by none of them (or by
    /// fewer than the configured threshold) is reported unverified and gives no facts.
    pub fn with_trust(mut self, trust: AttestationTrust) -> Self {
        let trust = trust.with_thresholds(trust::thresholds(&self.config.attestations));
        self.trust = (!trust.is_empty()).then(|| Arc::new(trust));
        self.stored_bundle = Arc::default();
        self.clear_prepared();
        self
    }

    pub fn trust(&self) -> Option<&AttestationTrust> {
        self.trust.as_deref()
    }

    pub fn gatekeeper(&self) -> Option<&Gatekeeper> {
        self.gatekeeper.as_deref()
    }

    pub fn bundle(&self) -> &PolicyBundle {
        self.policies.bundle()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn clear_prepared(&self) {
        if let Ok(mut c) = self.prepared.lock() {
            c.entries.clear();
            c.order.clear();
        }
    }

    fn prepare(&self, req: &DecisionRequest) -> Arc<Prepared> {
        let build = || {
            let input = input::build_evidence(
                &req.evidence,
                &req.artifact.digest,
                &self.advisories,
                self.kev.as_ref(),
                self.trust.as_deref(),
            );
            let value = EvidenceValue::new(&input);
            let signed =
                signed::SignedFacts::of(&req.evidence, &req.artifact.digest, self.trust.as_deref());
            Arc::new(Prepared {
                input,
                signed,
                value,
                diff: diff::DiffMemo::default(),
                results: reuse::Memo::default(),
            })
        };
        let capacity = self.prepared.lock().map(|c| c.capacity).unwrap_or(0);
        if capacity == 0 {
            return build();
        }
        // Attestations are verified for the artifact: its digest is part of the key.
        let mut key = format!("{}\n", req.artifact.digest);
        for d in &req.evidence {
            key.push_str(&d.digest);
            key.push('\0');
            key.push_str(&d.source);
            key.push('\n');
        }
        if let Some(hit) = self
            .prepared
            .lock()
            .ok()
            .and_then(|c| c.entries.get(&key).cloned())
        {
            return hit;
        }
        let prepared = build();
        if let Ok(mut c) = self.prepared.lock()
            && !c.entries.contains_key(&key)
        {
            while c.order.len() >= c.capacity {
                match c.order.pop_front() {
                    Some(old) => {
                        c.entries.remove(&old);
                    }
                    None => break,
                }
            }
            c.order.push_back(key.clone());
            c.entries.insert(key, prepared.clone());
        }
        prepared
    }

    /// What runs in `environment` under `name`, with the evidence of its recorded decision:
    /// what a request's `baseline` is set to, so that the decision carries the diff.
    pub async fn baseline(
        &self,
        store: &portcullis_store::Store,
        environment: &str,
        name: &str,
    ) -> Result<diff::Baseline, diff::DiffError> {
        diff::lookup(
            store,
            environment,
            name,
            &self.limits,
            &self.baselines,
            self.trust.as_deref(),
        )
        .await
    }

    /// The baseline a recorded decision was compared with, rebuilt from the store (replay).
    pub async fn recorded_baseline(
        &self,
        store: &portcullis_store::Store,
        info: &portcullis_policy::input::InputDiffBaseline,
    ) -> Result<diff::Baseline, diff::DiffError> {
        diff::from_record(
            store,
            info,
            &self.limits,
            &self.baselines,
            self.trust.as_deref(),
        )
        .await
    }

    /// `artifact` compared with what runs in `environment` (on `evidence`, else on the evidence
    /// of its latest recorded decision): what `portcullis diff` and `GET /v1/diff` show.
    pub async fn diff_report(
        &self,
        store: &portcullis_store::Store,
        environment: &str,
        artifact: &ArtifactId,
        evidence: Option<Vec<EvidenceDoc>>,
    ) -> Result<diff::DiffReport, diff::DiffError> {
        diff::report(
            store,
            environment,
            artifact,
            evidence,
            &self.limits,
            &self.baselines,
            self.trust.as_deref(),
        )
        .await
    }

    /// The request's candidate compared with its baseline (None without a baseline).
    fn diff_of(&self, req: &DecisionRequest, prepared: &Prepared) -> Option<InputDiff> {
        let baseline = req.baseline.as_ref()?;
        Some(prepared.diff.get_or_compute(baseline, &prepared.input))
    }

    fn light_input(&self, req: &DecisionRequest, now: chrono::DateTime<Utc>) -> PolicyInput {
        let (settings, declared) = self.config.environment(&req.environment);
        let env = InputEnvironment {
            name: req.environment.clone(),
            protected: settings.protected,
            declared,
            accepts_asserted: settings.accepts_asserted(),
            labels: settings.labels,
        };
        req.light_input(env, now)
    }

    /// The policy input this request gives (what `decide` evaluates).
    pub fn policy_input(&self, req: &DecisionRequest) -> PolicyInput {
        // Millisecond precision, as `decided_at` records it: a replay decides at the same time.
        let now = req.context.time.unwrap_or_else(Utc::now).trunc_subsecs(3);
        let prepared = self.prepare(req);
        let heavy = &prepared.input;
        let light = with_signed(self.light_input(req, now), &prepared, req, now);
        PolicyInput {
            evidence: heavy.evidence.clone(),
            components: heavy.components.clone(),
            findings: heavy.findings.clone(),
            advisories: heavy.advisories.clone(),
            attestations: heavy.attestations.clone(),
            diff: self.diff_of(req, &prepared),
            ..light
        }
    }

    /// Decide. Never fails: an error becomes part of the decision and denies where any rule
    /// enforces.
    pub fn decide(&self, req: &DecisionRequest) -> Decision {
        // Millisecond precision, as `decided_at` records it: a replay decides at the same time.
        let now = req.context.time.unwrap_or_else(Utc::now).trunc_subsecs(3);
        let prepared = self.prepare(req);
        let mut light = with_signed(self.light_input(req, now), &prepared, req, now);
        light.diff = self.diff_of(req, &prepared);
        let value = match &prepared.value {
            Ok(evidence) => input_value(&light, Some(evidence)),
            Err(e) => Err(e.clone()),
        };
        let env = req.environment.as_str();
        let bundle = self.policies.bundle();
        // Each rule's action in this environment, once (rules are in bundle order).
        let actions: Vec<Action> = bundle
            .rules()
            .iter()
            .map(|r| {
                if req.in_scope(&r.meta.id) {
                    self.config.action(r, env)
                } else {
                    Action::Off
                }
            })
            .collect();
        // Rules whose result on this evidence and these request fields is known already.
        let mut keyed = reuse::Light::new(&light);
        let mut reused = Vec::new();
        let mut keys = HashMap::new();
        for (i, rule) in bundle.rules().iter().enumerate() {
            if actions.get(i) == Some(&Action::Off) {
                continue;
            }
            if !self.reuse_results {
                break;
            }
            let Some(key) = keyed.key(i, rule) else {
                continue;
            };
            match prepared.results.get(&key) {
                Some(violations) => reused.push(portcullis_policy::RuleResult {
                    rule: i,
                    outcome: Ok(violations),
                }),
                None => {
                    keys.insert(i, key);
                }
            }
        }
        let known: HashSet<usize> = reused.iter().map(|r| r.rule).collect();
        let mut results = self.policies.evaluate_value(value, &|i, _| {
            actions.get(i) != Some(&Action::Off) && !known.contains(&i)
        });
        for r in &results {
            if let (Some(key), Ok(violations)) = (keys.remove(&r.rule), &r.outcome) {
                prepared.results.put(key, violations);
            }
        }
        results.extend(reused);
        results.sort_by_key(|r| r.rule);
        let enforcing = actions.contains(&Action::Enforce);
        let refs = RefIndex::new(&prepared.input);
        let scope = exceptions::Scope {
            artifact_name: &req.artifact.name,
            artifact_digest: &req.artifact.digest,
            environment: env,
            now,
        };

        let mut outcome = Outcome::default();

        for u in &req.unreadable {
            let (message, v) = unreadable_violation(u, enforcing);
            outcome.errors.push(message);
            if enforcing {
                outcome.violations.push(v);
            } else {
                outcome.warnings.push(v);
            }
        }

        for result in results {
            let Some(rule) = bundle.rules().get(result.rule) else {
                continue;
            };
            let action = actions.get(result.rule).copied().unwrap_or(Action::Enforce);
            match result.outcome {
                Err(e) => {
                    let (message, v) = failed_rule_violation(rule, action, &e.to_string());
                    outcome.errors.push(message);
                    if action == Action::Enforce {
                        outcome.violations.push(v);
                    } else {
                        outcome.warnings.push(v);
                    }
                }
                Ok(raws) => {
                    let mut raws = raws;
                    raws.sort_by(|a, b| a.key.cmp(&b.key).then(a.message.cmp(&b.message)));
                    for raw in raws {
                        let v = violation(rule, action, raw, &refs);
                        self.route(v, action == Action::Enforce, &scope, &mut outcome);
                    }
                }
            }
        }

        if let Some(facts) = &req.admission {
            let found = admission::judge(&self.config, facts, env);
            for (v, action) in found.routed {
                if action != Action::Off && req.in_scope(&v.rule) {
                    self.route(v, action == Action::Enforce, &scope, &mut outcome);
                }
            }
            outcome.warnings.extend(found.overridden);
        }
        if let Some(gk) = &self.gatekeeper {
            self.review_manifests(gk, req, &scope, &mut outcome);
        }
        let Outcome {
            violations,
            warnings,
            excepted,
            expired,
            errors,
        } = outcome;

        let decision = if violations.is_empty() {
            Verdict::Allow
        } else {
            Verdict::Deny
        };
        let mut evidence: Vec<EvidenceRecord> = req
            .evidence
            .iter()
            .map(|d| EvidenceRecord {
                kind: input::evidence_kind(&d.evidence).into(),
                format: d.evidence.format.id().into(),
                digest: d.digest.clone(),
                source: d.source.clone(),
                origin: d.origin.clone(),
            })
            .collect();
        evidence.extend(self.advisories.advisories().iter().map(|a| EvidenceRecord {
            kind: "advisory".into(),
            format: "osv-advisory".into(),
            digest: a.source.clone(),
            source: format!("advisory {}", a.advisory.id),
            origin: None,
        }));
        evidence.sort_by(|a, b| a.digest.cmp(&b.digest).then(a.source.cmp(&b.source)));
        evidence.dedup_by(|a, b| a.digest == b.digest);

        Decision {
            id: uuid::Uuid::now_v7().to_string(),
            decision,
            artifact: req.artifact.clone(),
            environment: req.environment.clone(),
            violations,
            warnings,
            excepted,
            expired_exceptions: expired,
            errors,
            policy_bundle_digest: bundle.digest().to_string(),
            gatekeeper_digest: self.gatekeeper.as_ref().map(|g| g.digest().to_string()),
            evidence,
            image: req.image.clone(),
            attestations: prepared.input.attestations.clone(),
            engine_version: format!("{ENGINE_VERSION} ({})", portcullis_policy::REGO_ENGINE),
            decided_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            facts: facts::of(&light),
            what_if: req.what_if,
            ignored: req.ignored.clone(),
            diff: light.diff,
            chain: None,
        }
    }
}

/// What a decision collects while it evaluates.
#[derive(Default)]
struct Outcome {
    violations: Vec<Violation>,
    warnings: Vec<Violation>,
    excepted: Vec<Excepted>,
    expired: Vec<ExpiredException>,
    errors: Vec<String>,
}

impl Firewall {
    /// File `v` under the exception that covers it, else as enforced or as a warning.
    fn route(&self, v: Violation, enforce: bool, scope: &exceptions::Scope<'_>, out: &mut Outcome) {
        let mut covered_by = None;
        for e in &self.exceptions {
            match e.coverage(&v, scope) {
                Coverage::Covers => {
                    covered_by = Some(e.exception.clone());
                    break;
                }
                Coverage::Expired => out.expired.push(ExpiredException {
                    rule: v.rule.clone(),
                    key: v.key.clone(),
                    exception: e.exception.clone(),
                }),
                Coverage::NotInScope => {}
            }
        }
        match covered_by {
            Some(exception) => out.excepted.push(Excepted {
                violation: v,
                exception,
            }),
            None if enforce => out.violations.push(v),
            None => out.warnings.push(v),
        }
    }

    /// Every Gatekeeper constraint on every Kubernetes object of the request it matches.
    fn review_manifests(
        &self,
        gk: &Gatekeeper,
        req: &DecisionRequest,
        scope: &exceptions::Scope<'_>,
        out: &mut Outcome,
    ) {
        if req.manifests.is_empty() {
            return;
        }
        // Referential constraints (unique ingress host, …) see the request's objects.
        let inventory = portcullis_policy::gatekeeper::inventory(
            req.manifests
                .iter()
                .map(|m| &m.object)
                .chain(req.namespaces.iter()),
        );
        // One time limit for every constraint on every object of the request.
        let deadline = gk.deadline();
        for m in &req.manifests {
            let ns = m.namespace().and_then(|n| req.namespace_object(n));
            let key = format!("k8s|{}", m.key());
            for result in gk.review_until(m, ns, Some(&inventory), deadline) {
                let Some(c) = gk.constraints().get(result.constraint) else {
                    continue;
                };
                let enforce = c.enforcement == EnforcementAction::Deny;
                let action = if enforce {
                    "enforce"
                } else {
                    c.enforcement.as_str()
                };
                let manifest_ref = EvidenceRef {
                    kind: "manifest".into(),
                    id: m.source.clone(),
                    purl: None,
                    evidence: Vec::new(),
                };
                match result.outcome {
                    Err(e) => {
                        let message = format!(
                            "Gatekeeper constraint {}/{} ({}) could not be evaluated on {}: {e}",
                            c.kind, c.name, c.source, m.source
                        );
                        out.errors.push(message.clone());
                        let v = Violation {
                            rule: engine_rules::FAILED.id.into(),
                            title: engine_rules::FAILED.title.into(),
                            category: "security".into(),
                            key: format!("{}|{key}", c.rule_id()),
                            severity: engine_rules::FAILED.severity.into(),
                            action: action.into(),
                            message: format!("{message} (fail-closed)"),
                            controls: Vec::new(),
                            evidence_refs: vec![manifest_ref],
                            remediation: format!(
                                "Fix the ConstraintTemplate of kind {} ({}), or remove the constraint.",
                                c.kind, c.source
                            ),
                            subjects: Vec::new(),
                        };
                        if enforce {
                            out.violations.push(v);
                        } else {
                            out.warnings.push(v);
                        }
                    }
                    Ok(found) => {
                        for g in found {
                            let v = Violation {
                                rule: c.rule_id(),
                                title: format!("Gatekeeper {} {}", c.kind, c.name),
                                category: "security".into(),
                                key: key.clone(),
                                severity: "high".into(),
                                action: action.into(),
                                message: format!("{} ({}): {}", m.key(), m.source, g.msg),
                                controls: Vec::new(),
                                evidence_refs: vec![manifest_ref.clone()],
                                remediation: format!(
                                    "Change the object so that Gatekeeper constraint {}/{} ({}) admits it.",
                                    c.kind, c.name, c.source
                                ),
                                subjects: Vec::new(),
                            };
                            self.route(v, enforce, scope, out);
                        }
                    }
                }
            }
        }
    }
}

/// The fail-closed violation of evidence that could not be read, and its error line.
fn unreadable_violation(u: &UnreadableEvidence, enforcing: bool) -> (String, Violation) {
    let message = format!("{}: {}", u.source, u.error);
    let v = Violation {
        rule: engine_rules::UNREADABLE.id.into(),
        title: engine_rules::UNREADABLE.title.into(),
        category: "security".into(),
        key: u.source.clone(),
        severity: engine_rules::UNREADABLE.severity.into(),
        action: if enforcing { "enforce" } else { "warn" }.into(),
        message: format!("unreadable evidence (fail-closed): {message}"),
        controls: engine_rules::UNREADABLE
            .controls
            .iter()
            .map(|c| c.to_string())
            .collect(),
        evidence_refs: u
            .digest
            .iter()
            .map(|d| EvidenceRef {
                kind: "evidence".into(),
                id: d.clone(),
                purl: None,
                evidence: vec![d.clone()],
            })
            .collect(),
        remediation: engine_rules::UNREADABLE.remediation.into(),
        subjects: Vec::new(),
    };
    (message, v)
}

/// The fail-closed violation of a rule that could not be evaluated, and its error line.
fn failed_rule_violation(rule: &Rule, action: Action, error: &str) -> (String, Violation) {
    let message = format!(
        "rule {} ({}) could not be evaluated: {error}",
        rule.meta.id, rule.source
    );
    let v = Violation {
        rule: engine_rules::FAILED.id.into(),
        title: engine_rules::FAILED.title.into(),
        category: rule.meta.category.as_str().into(),
        key: rule.meta.id.clone(),
        severity: engine_rules::FAILED.severity.into(),
        action: action.as_str().into(),
        message: format!("{message} (fail-closed)"),
        controls: rule.meta.controls.qualified(),
        evidence_refs: Vec::new(),
        remediation: format!(
            "Fix the rule's Rego ({}), or set its action to `off` for this environment in portcullis.yaml.",
            rule.source
        ),
        subjects: Vec::new(),
    };
    (message, v)
}

/// Lookups from rule references to the evidence documents behind them.
struct RefIndex<'a> {
    findings: HashMap<&'a str, &'a portcullis_policy::input::InputFinding>,
    components: HashMap<&'a str, &'a portcullis_policy::input::InputComponent>,
    advisory_aliases: HashMap<&'a str, &'a [String]>,
}

impl<'a> RefIndex<'a> {
    fn new(input: &'a PolicyInput) -> Self {
        let mut components = HashMap::new();
        for c in &input.components {
            components.insert(c.key.as_str(), c);
            if let Some(p) = &c.purl {
                components.insert(p.as_str(), c);
            }
        }
        Self {
            findings: input.findings.iter().map(|f| (f.key.as_str(), f)).collect(),
            components,
            advisory_aliases: input
                .advisories
                .iter()
                .map(|a| (a.id.as_str(), a.aliases.as_slice()))
                .collect(),
        }
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

fn violation(rule: &Rule, action: Action, raw: RawViolation, refs: &RefIndex<'_>) -> Violation {
    let mut evidence_refs = Vec::new();
    let mut subjects = Vec::new();
    for r in &raw.evidence_refs {
        if let Some(key) = r.get("finding") {
            let f = refs.findings.get(key.as_str());
            let mut evidence = Vec::new();
            if let Some(f) = f {
                for s in &f.sources {
                    push_unique(&mut evidence, &s.evidence);
                }
                push_unique(&mut subjects, &f.id);
                for a in &f.aliases {
                    push_unique(&mut subjects, a);
                }
            }
            let purl = f
                .and_then(|f| f.component.as_ref())
                .and_then(|c| c.purl.clone());
            if let Some(p) = &purl {
                push_unique(&mut subjects, p);
                push_unique(&mut subjects, &portcullis_evidence::purl_core(p));
            }
            evidence_refs.push(EvidenceRef {
                kind: "finding".into(),
                id: key.clone(),
                purl,
                evidence,
            });
        }
        if let Some(id) = r.get("advisory") {
            let mut evidence = Vec::new();
            if let Some(d) = r.get("evidence") {
                push_unique(&mut evidence, d);
            }
            push_unique(&mut subjects, id);
            for alias in refs
                .advisory_aliases
                .get(id.as_str())
                .copied()
                .unwrap_or_default()
            {
                push_unique(&mut subjects, alias);
            }
            evidence_refs.push(EvidenceRef {
                kind: "advisory".into(),
                id: id.clone(),
                purl: None,
                evidence,
            });
        }
        if let Some(key) = r.get("component") {
            let c = refs.components.get(key.as_str());
            let purl = c.and_then(|c| c.purl.clone());
            if let Some(p) = &purl {
                push_unique(&mut subjects, p);
                push_unique(&mut subjects, &portcullis_evidence::purl_core(p));
            }
            evidence_refs.push(EvidenceRef {
                kind: "component".into(),
                id: c.map_or_else(|| key.clone(), |c| c.key.clone()),
                purl,
                evidence: c.map(|c| c.sources.clone()).unwrap_or_default(),
            });
        }
        if let Some(source) = r.get("manifest") {
            evidence_refs.push(EvidenceRef {
                kind: "manifest".into(),
                id: source.clone(),
                purl: None,
                evidence: Vec::new(),
            });
        }
        for kind in ["attestation", "verification", "exposure"] {
            if let Some(d) = r.get(kind) {
                evidence_refs.push(EvidenceRef {
                    kind: kind.into(),
                    id: d.clone(),
                    purl: None,
                    evidence: vec![d.clone()],
                });
            }
        }
        if r.get("advisory").is_none()
            && let Some(d) = r.get("evidence")
        {
            evidence_refs.push(EvidenceRef {
                kind: "evidence".into(),
                id: d.clone(),
                purl: None,
                evidence: vec![d.clone()],
            });
        }
    }
    Violation {
        rule: rule.meta.id.clone(),
        title: rule.meta.title.clone(),
        category: rule.meta.category.as_str().into(),
        key: raw.key,
        severity: raw.severity.unwrap_or_else(|| rule.meta.severity.clone()),
        action: action.as_str().into(),
        message: raw.message,
        controls: rule.meta.controls.qualified(),
        evidence_refs,
        remediation: raw
            .remediation
            .unwrap_or_else(|| rule.meta.remediation.clone()),
        subjects,
    }
}
