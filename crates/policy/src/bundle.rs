//! Policy bundles: the built-in library plus users' directories, checked and compiled once,
//! evaluated many times by a pool of engines (one per concurrent evaluation: a regorus engine
//! is not shared between threads).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use regorus::Engine;
use sha2::{Digest, Sha256};

use crate::error::PolicyError;
use crate::input::PolicyInput;
use crate::metadata::{RuleMeta, SEVERITIES, is_valid_rule_id};

/// Packages under this prefix are rules; everything else is helper code.
pub const RULES_PREFIX: [&str; 2] = ["portcullis", "rules"];

// The built-in library, embedded at build time (build.rs lists `library/`).
include!(concat!(env!("OUT_DIR"), "/library.rs"));

/// One Rego file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    /// `builtin/<path>` for the library, the file path for users' policies.
    pub path: String,
    pub text: String,
}

impl PolicySource {
    /// Files named `*_test.rego` hold `test_` rules; they are loaded by `policy test` only.
    pub fn is_test(&self) -> bool {
        self.path.ends_with("_test.rego")
    }
}

/// A rule of the bundle: a package under `portcullis.rules` with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub meta: RuleMeta,
    /// Package path without `data.` (`portcullis.rules.vuln.blocked_advisory`).
    pub package: String,
    /// File that declares the package.
    pub source: String,
    /// Whether the rule comes from the built-in library.
    pub builtin: bool,
    /// The top-level input fields the rule may read (`None`: any, or not known): a result
    /// depends on nothing else but the rule parameters ([`crate::deps`]).
    pub reads: crate::deps::Reads,
}

/// A checked set of policies with a digest that identifies it in decisions.
#[derive(Debug)]
pub struct PolicyBundle {
    sources: Vec<PolicySource>,
    rules: Vec<Rule>,
    digest: String,
    /// Compiled engine without input, cloned for every evaluator.
    prototype: Mutex<Engine>,
}

/// Limits on one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalLimits {
    /// Wall time allowed for all rules of one evaluation together.
    pub timeout: Duration,
}

impl Default for EvalLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
        }
    }
}

impl PolicyBundle {
    /// The files of the built-in library, without compiling them.
    pub fn builtin_sources() -> Vec<PolicySource> {
        builtin_sources()
    }

    /// The built-in library alone.
    pub fn builtin() -> Result<Self, PolicyError> {
        Self::from_sources(builtin_sources())
    }

    /// The built-in library plus every `*.rego` file under each directory (recursively, in
    /// path order).
    pub fn load(dirs: &[PathBuf]) -> Result<Self, PolicyError> {
        let mut sources = builtin_sources();
        for dir in dirs {
            sources.extend(read_dir(dir)?);
        }
        Self::from_sources(sources)
    }

    /// Only the given directories, without the built-in library.
    pub fn load_without_builtin(dirs: &[PathBuf]) -> Result<Self, PolicyError> {
        let mut sources = Vec::new();
        for dir in dirs {
            sources.extend(read_dir(dir)?);
        }
        Self::from_sources(sources)
    }

    /// Parse, check and compile `sources` (test files included for `policy test`, excluded
    /// from evaluation).
    pub fn from_sources(sources: Vec<PolicySource>) -> Result<Self, PolicyError> {
        let mut digest = Sha256::new();
        let mut ordered: Vec<&PolicySource> = sources.iter().collect();
        ordered.sort_by(|a, b| a.path.cmp(&b.path));
        for s in &ordered {
            // Length-prefixed so that no two different bundles hash alike.
            digest.update((s.path.len() as u64).to_le_bytes());
            digest.update(s.path.as_bytes());
            digest.update((s.text.len() as u64).to_le_bytes());
            digest.update(s.text.as_bytes());
        }
        let digest = format!("sha256:{:x}", digest.finalize());

        let mut engine = new_engine();
        for s in sources.iter().filter(|s| !s.is_test()) {
            crate::parse_cost::check(&s.text).map_err(|e| PolicyError::Compile {
                file: s.path.clone(),
                message: e.to_string(),
            })?;
            engine
                .add_policy(s.path.clone(), s.text.clone())
                .map_err(|e| PolicyError::Compile {
                    file: s.path.clone(),
                    message: e.to_string(),
                })?;
        }
        let mut rules = discover_rules(&mut engine)?;
        let packages: Vec<&str> = rules.iter().map(|r| r.package.as_str()).collect();
        let files: Vec<crate::deps::File<'_>> = sources
            .iter()
            .map(|s| (s.path.as_str(), s.text.as_str()))
            .collect();
        let reads = crate::deps::reads(&files, &packages);
        for (rule, reads) in rules.iter_mut().zip(reads) {
            rule.reads = reads;
        }
        // Evaluate every rule once against an empty input so that errors in rule bodies that
        // the parser accepts (unknown functions, bad references) surface at load time. The
        // built-in library alone is checked so by its tests (`check_on_empty_input`) rather
        // than on every start; with users' files loaded (which may add to the library's own
        // packages), every rule is.
        if sources.iter().any(|s| !s.path.starts_with("builtin/")) {
            check_on_empty_input(&mut engine, rules.iter())?;
        }
        Ok(Self {
            sources,
            rules,
            digest,
            prototype: Mutex::new(engine),
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn sources(&self) -> &[PolicySource] {
        &self.sources
    }

    /// `sha256:` over every file's path and text: what a decision records to be replayable.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.meta.id == id)
    }

    fn engine(&self) -> Engine {
        match self.prototype.lock() {
            Ok(e) => e.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

fn new_engine() -> Engine {
    let mut engine = Engine::new();
    // A builtin error (e.g. a regex that does not compile) must be an error, not `undefined`:
    // undefined would silently skip a check.
    engine.set_strict_builtin_errors(true);
    engine
}

fn builtin_sources() -> Vec<PolicySource> {
    BUILTIN_LIBRARY
        .iter()
        .map(|(path, text)| PolicySource {
            path: format!("builtin/{path}"),
            text: (*text).to_string(),
        })
        .collect()
}

fn read_dir(dir: &Path) -> Result<Vec<PolicySource>, PolicyError> {
    let io = |path: &Path, e: std::io::Error| PolicyError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let meta = std::fs::metadata(dir).map_err(|e| io(dir, e))?;
    if !meta.is_dir() {
        return Err(PolicyError::Io {
            path: dir.display().to_string(),
            message: "not a directory".into(),
        });
    }
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
            let entry = entry.map_err(|e| io(&d, e))?;
            let path = entry.path();
            let ty = entry.file_type().map_err(|e| io(&path, e))?;
            if ty.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rego") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            Ok(PolicySource {
                path: path.display().to_string(),
                text,
            })
        })
        .collect()
}

/// Evaluate `rules` against an empty input: a rule that fails there (other than by running out
/// of time: evaluations have their own limit, so the check gets a short one) is refused.
fn check_on_empty_input<'a>(
    engine: &mut Engine,
    rules: impl Iterator<Item = &'a Rule>,
) -> Result<(), PolicyError> {
    engine.set_input(regorus::Value::new_object());
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: Duration::from_millis(250),
        check_interval: std::num::NonZeroU32::MIN.saturating_add(63),
    });
    for rule in rules {
        if let Err(e) = engine.eval_rule(format!("data.{}.violation", rule.package)) {
            let timed_out = e.downcast_ref::<regorus::LimitError>().is_some()
                || e.to_string().contains("exceeded time limit");
            if !timed_out {
                engine.clear_execution_timer_config();
                return Err(PolicyError::Compile {
                    file: rule.source.clone(),
                    message: format!("rule {}: {e}", rule.meta.id),
                });
            }
        }
    }
    engine.clear_execution_timer_config();
    Ok(())
}

impl PolicyBundle {
    /// The load-time check of users' rules ([`PolicyBundle::from_sources`]) run on every rule,
    /// the built-in library's included: what the library's tests run.
    pub fn check_on_empty_input(&self) -> Result<(), PolicyError> {
        let mut engine = self.engine();
        check_on_empty_input(&mut engine, self.rules.iter())
    }
}

fn discover_rules(engine: &mut Engine) -> Result<Vec<Rule>, PolicyError> {
    let packages = engine
        .get_policy_package_components()
        .map_err(|e| PolicyError::Compile {
            file: String::new(),
            message: e.to_string(),
        })?;
    // One rule per package, declared by the first file (in load order) of that package.
    let mut seen = BTreeMap::<String, String>::new();
    for p in packages {
        if p.components.len() <= RULES_PREFIX.len()
            || p.components.iter().zip(RULES_PREFIX).any(|(a, b)| a != b)
        {
            continue;
        }
        if let Some(bad) = p.components.iter().find(|c| !is_identifier(c)) {
            return Err(PolicyError::Rule {
                file: p.source_file,
                rule: p.components.join("."),
                message: format!("package component {bad:?} is not a plain identifier"),
            });
        }
        seen.entry(p.components.join(".")).or_insert(p.source_file);
    }
    engine.set_input(regorus::Value::new_object());
    let mut rules = Vec::new();
    let mut ids = BTreeSet::new();
    for (package, file) in seen {
        let rule_err = |message: String| PolicyError::Rule {
            file: file.clone(),
            rule: package.clone(),
            message,
        };
        let value = engine
            .eval_rule(format!("data.{package}.metadata"))
            .map_err(|e| rule_err(format!("metadata: {e}")))?;
        if value == regorus::Value::Undefined {
            return Err(rule_err(
                "a rule package must define `metadata` (see crates/policy/library/README.md)"
                    .into(),
            ));
        }
        let json = value
            .to_json_str()
            .map_err(|e| rule_err(format!("metadata: {e}")))?;
        let meta: RuleMeta = serde_json::from_str(&json)
            .map_err(|e| rule_err(format!("metadata is not valid: {e}")))?;
        if !is_valid_rule_id(&meta.id) {
            return Err(rule_err(format!(
                "rule id {:?} must be upper-case letters, digits and dashes (e.g. TEAM-001)",
                meta.id
            )));
        }
        if !SEVERITIES.contains(&meta.severity.as_str()) {
            return Err(rule_err(format!(
                "severity {:?} is not one of {}",
                meta.severity,
                SEVERITIES.join(", ")
            )));
        }
        if !ids.insert(meta.id.clone()) {
            return Err(rule_err(format!("rule id {} is used twice", meta.id)));
        }
        let builtin = file.starts_with("builtin/");
        rules.push(Rule {
            meta,
            package,
            source: file,
            builtin,
            reads: None,
        });
    }
    rules.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    Ok(rules)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Why rules cannot be evaluated at all (as opposed to one rule failing, see [`RuleResult`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The input cannot be converted for the engine.
    #[error("{0}")]
    Input(String),
    /// The rule parameters are not data the engine takes.
    #[error("rule parameters: {0}")]
    Params(String),
}

/// Why a rule could not be evaluated (the decision fails closed where it enforces).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The input could not be given to the engine.
    #[error("policy input: {0}")]
    Input(String),
    /// No engine could be prepared.
    #[error("{0}")]
    Engine(String),
    /// The evaluation's time ran out before this rule ran.
    #[error("evaluation time limit of {0:?} reached before this rule ran")]
    TimeLimit(std::time::Duration),
    /// The engine failed on this rule (a runtime error, its own time limit).
    #[error("{0}")]
    Evaluation(String),
    /// The rule gave violations that are not of the documented shape.
    #[error("{0}")]
    Malformed(String),
}

/// What a rule said about one input.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    /// Index into [`PolicyBundle::rules`].
    pub rule: usize,
    /// The violations, or why the rule could not be evaluated.
    pub outcome: Result<Vec<RawViolation>, RuleError>,
}

/// A violation as a rule states it; the firewall adds severity defaults, controls, the action
/// and the evidence digests.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawViolation {
    /// What the violation is about (finding key, component purl, …): exceptions bind to it.
    pub key: String,
    pub message: String,
    #[serde(default)]
    pub severity: Option<String>,
    /// References into the input: `{"finding": key}`, `{"component": key}`,
    /// `{"advisory": id, "component": key}`, `{"evidence": digest}`, `{"attestation": digest}`.
    #[serde(default)]
    pub evidence_refs: Vec<BTreeMap<String, String>>,
    /// Specific remediation (the rule's general one is used when absent).
    #[serde(default)]
    pub remediation: Option<String>,
}

/// A bundle with its rule parameters, ready to evaluate from many threads.
#[derive(Debug)]
pub struct PolicySet {
    bundle: PolicyBundle,
    params: regorus::Value,
    limits: EvalLimits,
    pool: Mutex<Vec<Engine>>,
    /// `data.<package>.violation` of each rule, in bundle order.
    entrypoints: Vec<String>,
}

impl PolicySet {
    /// `params` maps rule id to an object of parameter overrides (`data.portcullis.params`).
    pub fn new(
        bundle: PolicyBundle,
        params: &BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
        limits: EvalLimits,
    ) -> Result<Self, PolicyError> {
        for (id, values) in params {
            let rule = bundle.rule(id).ok_or_else(|| PolicyError::Params {
                rule: id.clone(),
                message: "no such rule".into(),
            })?;
            for (name, value) in values {
                // A parameter keeps the JSON type of its default (a list stays a list): a
                // mistyped override is a configuration error, not a silently different rule.
                if let Some(default) = rule.meta.params.get(name)
                    && !default.is_null()
                    && json_type(default) != json_type(value)
                {
                    return Err(PolicyError::Params {
                        rule: id.clone(),
                        message: format!(
                            "parameter {name:?} must be {} like its default {default}, not {}",
                            json_type(default),
                            json_type(value)
                        ),
                    });
                }
                if !rule.meta.params.contains_key(name) {
                    let known: Vec<&str> = rule.meta.params.keys().map(String::as_str).collect();
                    return Err(PolicyError::Params {
                        rule: id.clone(),
                        message: format!(
                            "unknown parameter {name:?}; the rule takes: {}",
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    });
                }
            }
        }
        let data = serde_json::json!({"portcullis": {"params": params}});
        let params = regorus::Value::from(data);
        let entrypoints = bundle
            .rules
            .iter()
            .map(|r| format!("data.{}.violation", r.package))
            .collect();
        Ok(Self {
            bundle,
            params,
            limits,
            pool: Mutex::new(Vec::new()),
            entrypoints,
        })
    }

    pub fn bundle(&self) -> &PolicyBundle {
        &self.bundle
    }

    fn checkout(&self) -> Result<Engine, EvalError> {
        let pooled = match self.pool.lock() {
            Ok(mut p) => p.pop(),
            Err(poisoned) => poisoned.into_inner().pop(),
        };
        if let Some(e) = pooled {
            return Ok(e);
        }
        let mut engine = self.bundle.engine();
        engine
            .add_data(self.params.clone())
            .map_err(|e| EvalError::Params(e.to_string()))?;
        Ok(engine)
    }

    /// Compile engines until the pool holds `n`, so that the first `n` concurrent evaluations
    /// do not each pay for compiling the bundle (a server warms up before it says ready).
    pub fn warm(&self, n: usize) -> Result<(), EvalError> {
        let have = match self.pool.lock() {
            Ok(p) => p.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        };
        let mut fresh = Vec::new();
        for _ in have..n {
            let mut engine = self.bundle.engine();
            engine
                .add_data(self.params.clone())
                .map_err(|e| EvalError::Params(e.to_string()))?;
            fresh.push(engine);
        }
        for e in fresh {
            self.checkin(e);
        }
        Ok(())
    }

    fn checkin(&self, engine: Engine) {
        match self.pool.lock() {
            Ok(mut p) => p.push(engine),
            Err(poisoned) => poisoned.into_inner().push(engine),
        }
    }

    /// Evaluate the rules `enabled` selects (by index into [`PolicyBundle::rules`] and rule) on
    /// `input`. Every selected rule gets a result; a
    /// rule that fails (runtime error, time limit, malformed violation) gets an `Err` and the
    /// others are still evaluated.
    pub fn evaluate(
        &self,
        input: &PolicyInput,
        enabled: &dyn Fn(usize, &Rule) -> bool,
    ) -> Vec<RuleResult> {
        self.evaluate_value(to_value(input), enabled)
    }

    /// As [`PolicySet::evaluate`], on an input already converted with [`input_value`].
    pub fn evaluate_value(
        &self,
        value: Result<regorus::Value, EvalError>,
        enabled: &dyn Fn(usize, &Rule) -> bool,
    ) -> Vec<RuleResult> {
        let selected: Vec<usize> = self
            .bundle
            .rules
            .iter()
            .enumerate()
            .filter(|(i, r)| enabled(*i, r))
            .map(|(i, _)| i)
            .collect();
        let fail_all = |error: RuleError| {
            selected
                .iter()
                .map(|&rule| RuleResult {
                    rule,
                    outcome: Err(error.clone()),
                })
                .collect::<Vec<_>>()
        };
        if selected.is_empty() {
            return Vec::new();
        }
        let value = match value {
            Ok(v) => v,
            Err(e) => return fail_all(RuleError::Input(e.to_string())),
        };
        // One engine for the rules in turn; after a rule fails, the engine may hold partial
        // state of the rules and helpers it was evaluating (a later rule that uses the same
        // helper would report this one's error): it is dropped and the next rule gets a fresh one.
        let mut engine: Option<Engine> = None;
        let started = Instant::now();
        let mut results = Vec::with_capacity(selected.len());
        for &index in &selected {
            let Some(entrypoint) = self.entrypoints.get(index) else {
                continue;
            };
            let left = self.limits.timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                results.push(RuleResult {
                    rule: index,
                    outcome: Err(RuleError::TimeLimit(self.limits.timeout)),
                });
                continue;
            }
            let e = match engine.as_mut() {
                Some(e) => e,
                None => match self.checkout() {
                    Ok(mut fresh) => {
                        fresh.set_input(value.clone());
                        engine.insert(fresh)
                    }
                    Err(e) => {
                        results.push(RuleResult {
                            rule: index,
                            outcome: Err(RuleError::Engine(e.to_string())),
                        });
                        continue;
                    }
                },
            };
            e.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
                limit: left,
                check_interval: std::num::NonZeroU32::MIN.saturating_add(63),
            });
            let outcome = match e.eval_rule(entrypoint.clone()) {
                Ok(v) => violations_of(&v).map_err(RuleError::Malformed),
                Err(err) => {
                    engine = None;
                    Err(RuleError::Evaluation(err.to_string()))
                }
            };
            results.push(RuleResult {
                rule: index,
                outcome,
            });
        }
        if let Some(mut e) = engine {
            e.set_input(regorus::Value::Undefined);
            self.checkin(e);
        }
        results
    }
}

fn to_value<T: serde::Serialize>(input: &T) -> Result<regorus::Value, EvalError> {
    crate::value::to_value(input).map_err(|e| EvalError::Input(e.to_string()))
}

/// `input` for the engine the way it was converted before [`crate::value`]: written as JSON
/// text and read back. Kept for the tests and the benchmark that hold the two to the same
/// value and compare their speed.
#[doc(hidden)]
pub fn input_value_via_json(input: &PolicyInput) -> Result<regorus::Value, EvalError> {
    let input_error = |e: &dyn std::fmt::Display| EvalError::Input(e.to_string());
    let json = serde_json::to_string(input).map_err(|e| input_error(&e))?;
    regorus::Value::from_json_str(&json).map_err(|e| input_error(&e))
}

/// The evidence-derived parts of a [`PolicyInput`] (components, findings, evidence,
/// advisories, attestations) converted for the engine once, to be shared by every decision
/// on the same evidence (several environments, admission of each replica, re-gating).
#[derive(Debug, Clone)]
pub struct EvidenceValue {
    parts: Vec<(&'static str, regorus::Value)>,
}

impl EvidenceValue {
    /// Convert the evidence-derived parts of `input`.
    pub fn new(input: &PolicyInput) -> Result<Self, EvalError> {
        Ok(Self {
            parts: vec![
                ("components", to_value(&input.components)?),
                ("findings", to_value(&input.findings)?),
                ("evidence", to_value(&input.evidence)?),
                ("advisories", to_value(&input.advisories)?),
                ("attestations", to_value(&input.attestations)?),
            ],
        })
    }
}

/// Convert `input` for the engine, taking the evidence-derived parts from `evidence` (and
/// ignoring those fields of `input`) when given.
pub fn input_value(
    input: &PolicyInput,
    evidence: Option<&EvidenceValue>,
) -> Result<regorus::Value, EvalError> {
    let Some(evidence) = evidence else {
        return to_value(input);
    };
    let mut value = to_value(&LightInput::from(input))?;
    let object = value
        .as_object_mut()
        .map_err(|e| EvalError::Input(e.to_string()))?;
    for (name, part) in &evidence.parts {
        object.insert(regorus::Value::from(*name), part.clone());
    }
    Ok(value)
}

/// The fields of a `PolicyInput` that change with every decision.
#[derive(serde::Serialize)]
struct LightInput<'a> {
    version: &'a str,
    artifact: &'a crate::input::InputArtifact,
    environment: &'a crate::input::InputEnvironment,
    context: &'a crate::input::InputContext,
    verifications: &'a [crate::input::InputVerification],
    exposures: &'a [crate::input::InputExposure],
    previous: &'a Option<crate::input::InputPrevious>,
    history: &'a [crate::input::InputHistoryEntry],
    kubernetes: &'a [crate::input::InputKubernetesObject],
    diff: &'a Option<crate::input::InputDiff>,
}

impl<'a> From<&'a PolicyInput> for LightInput<'a> {
    fn from(i: &'a PolicyInput) -> Self {
        // Destructured so that a new PolicyInput field is a compile error here until it is
        // placed on one side or the other.
        let PolicyInput {
            version,
            artifact,
            environment,
            context,
            evidence: _,
            components: _,
            findings: _,
            advisories: _,
            attestations: _,
            verifications,
            exposures,
            previous,
            history,
            kubernetes,
            diff,
        } = i;
        Self {
            version,
            artifact,
            environment,
            context,
            verifications,
            exposures,
            previous,
            history,
            kubernetes,
            diff,
        }
    }
}

fn violations_of(value: &regorus::Value) -> Result<Vec<RawViolation>, String> {
    match value {
        // No violation at all: the partial set is empty or, with no element, undefined.
        regorus::Value::Undefined => Ok(Vec::new()),
        regorus::Value::Set(set) => set
            .iter()
            .map(|v| {
                let json = v.to_json_str().map_err(|e| e.to_string())?;
                serde_json::from_str::<RawViolation>(&json).map_err(|e| {
                    format!("a violation must be an object {{key, message, …}}: {e}: {json}")
                })
            })
            .collect(),
        other => Err(format!(
            "`violation` must be a set (`violation contains v if …`), got {}",
            kind_of(other)
        )),
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

fn kind_of(v: &regorus::Value) -> &'static str {
    match v {
        regorus::Value::Null => "null",
        regorus::Value::Bool(_) => "a boolean",
        regorus::Value::Number(_) => "a number",
        regorus::Value::String(_) => "a string",
        regorus::Value::Array(_) => "an array",
        regorus::Value::Set(_) => "a set",
        regorus::Value::Object(_) => "an object",
        regorus::Value::Undefined => "undefined",
    }
}
