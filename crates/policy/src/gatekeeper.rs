//! Gatekeeper compatibility: ConstraintTemplates (Rego v0 `violation[{"msg": …}]` over
//! `input.review` and `input.parameters`, with their `libs`) and Constraints (`spec.match`,
//! `spec.parameters`, `spec.enforcementAction`), evaluated with regorus as Gatekeeper's
//! admission target does.
//!
//! What differs from Gatekeeper, on purpose or for now:
//! - CEL (`K8sNativeValidation`) code is not evaluated: a template with only CEL code is
//!   reported as unsupported and its constraints fail closed, never pass.
//! - `namespaceSelector` needs the namespace object; when the caller has none (a manifest
//!   without its Namespace), the constraint is evaluated (it may over-match, never
//!   under-match).
//! - A manifest without `metadata.namespace` (applied later into some namespace) is outside
//!   `namespaces`/`excludedNamespaces` and counts as namespaced for `scope` unless its kind is
//!   a built-in cluster-scoped one: constraints over-match such objects rather than miss them.
//! - Builtin errors are `undefined`, as in OPA (Gatekeeper's templates are written for it);
//!   a function regorus lacks is an evaluation error that names it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use regorus::Engine;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use crate::kubernetes::{Manifest, ManifestError, yaml_documents};

/// The only target a template may have.
pub const ADMISSION_TARGET: &str = "admission.k8s.gatekeeper.sh";

/// Errors loading templates and constraints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatekeeperError {
    #[error(transparent)]
    Yaml(#[from] ManifestError),
    /// A template or constraint that breaks Gatekeeper's shape.
    #[error("{file}: document {document}: {what}: {message}")]
    Invalid {
        file: String,
        document: usize,
        /// `ConstraintTemplate NAME` or `constraint KIND/NAME`.
        what: String,
        message: String,
    },
    /// A constraint whose kind no template defines.
    #[error("{file}: constraint {kind}/{name}: no ConstraintTemplate defines kind {kind}")]
    NoTemplate {
        file: String,
        kind: String,
        name: String,
    },
    /// Two templates define the same constraint kind.
    #[error("{second}: ConstraintTemplate kind {kind} is already defined by {first}")]
    DuplicateKind {
        kind: String,
        first: String,
        second: String,
    },
    #[error("{file}: {message}")]
    Io { file: String, message: String },
}

/// What a constraint's violations do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnforcementAction {
    /// Reject (Gatekeeper's default).
    Deny,
    /// Admit with a warning.
    Warn,
    /// Record only.
    Dryrun,
}

impl EnforcementAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Warn => "warn",
            Self::Dryrun => "dryrun",
        }
    }
}

/// A ConstraintTemplate as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintTemplate {
    /// `metadata.name`.
    pub name: String,
    /// `spec.crd.spec.names.kind`: the kind of its constraints.
    pub kind: String,
    /// `FILE#N`.
    pub source: String,
    /// The Rego and its libs, or why the template cannot be evaluated here.
    pub code: Result<RegoCode, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegoCode {
    pub rego: String,
    pub libs: Vec<String>,
}

/// `spec.match` of a constraint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Match {
    /// (apiGroups, kinds) pairs; empty matches every kind.
    pub kinds: Vec<(Vec<String>, Vec<String>)>,
    pub namespaces: Option<Vec<String>>,
    pub excluded_namespaces: Vec<String>,
    pub label_selector: Option<LabelSelector>,
    pub namespace_selector: Option<LabelSelector>,
    /// `*` (default), `Cluster` or `Namespaced`.
    pub scope: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
    /// (key, operator, values).
    pub match_expressions: Vec<(String, String, Vec<String>)>,
}

/// A Constraint as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    /// The kind its template defines.
    pub kind: String,
    pub name: String,
    pub source: String,
    pub matches: Match,
    /// `spec.parameters` (`{}` when absent).
    pub parameters: Json,
    pub enforcement: EnforcementAction,
}

impl Constraint {
    /// `GK.<Kind>.<name>`: the rule id of its violations in a decision.
    pub fn rule_id(&self) -> String {
        format!("GK.{}.{}", self.kind, self.name)
    }
}

/// A violation as a template states it.
#[derive(Debug, Clone, PartialEq)]
pub struct GatekeeperViolation {
    pub msg: String,
    pub details: Json,
}

/// Why a constraint could not be evaluated on an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("template {kind}: {message}")]
    Template { kind: String, message: String },
    #[error("no template defines kind {0}")]
    NoTemplate(String),
    #[error("inventory: {0}")]
    Inventory(String),
    /// The Rego failed (runtime error, time limit).
    #[error("{0}")]
    Eval(String),
    /// `violation` is not a set of `{msg, details}` objects.
    #[error("{0}")]
    Malformed(String),
    /// The review's time ran out before this constraint was evaluated.
    #[error(
        "not evaluated: the time limit of {} ms for reviewing the request's objects ran out before this constraint",
        .0.as_millis()
    )]
    TimeLimit(Duration),
}

/// What one constraint said about one object.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintResult {
    /// Index into [`Gatekeeper::constraints`].
    pub constraint: usize,
    pub outcome: Result<Vec<GatekeeperViolation>, ReviewError>,
}

#[derive(Debug)]
struct Compiled {
    /// `data.<package>.violation`.
    entrypoint: String,
    prototype: Mutex<Engine>,
}

/// A set of templates and constraints, compiled, ready to review objects.
#[derive(Debug)]
pub struct Gatekeeper {
    templates: Vec<ConstraintTemplate>,
    compiled: BTreeMap<String, Result<Compiled, String>>,
    constraints: Vec<Constraint>,
    /// The documents it was read from (path, text): what a decision record keeps.
    sources: Vec<(String, String)>,
    digest: String,
    timeout: Duration,
}

impl Gatekeeper {
    /// Templates and constraints from every `*.yaml`, `*.yml` and `*.json` file under `dir`
    /// (recursively, in path order), told apart by kind; other documents are ignored.
    pub fn load_dir(dir: &Path) -> Result<Self, GatekeeperError> {
        Self::from_sources(read_dir_sources(dir)?)
    }

    /// Templates and constraints from documents (path, YAML or JSON text).
    pub fn from_sources(sources: Vec<(String, String)>) -> Result<Self, GatekeeperError> {
        let mut templates = Vec::new();
        let mut constraints = Vec::new();
        let mut digest = Sha256::new();
        for (path, text) in &sources {
            digest.update((path.len() as u64).to_le_bytes());
            digest.update(path.as_bytes());
            digest.update((text.len() as u64).to_le_bytes());
            digest.update(text.as_bytes());
            for (document, doc) in yaml_documents(path, text)? {
                let api = doc.get("apiVersion").and_then(Json::as_str).unwrap_or("");
                let kind = doc.get("kind").and_then(Json::as_str).unwrap_or("");
                if api.starts_with("templates.gatekeeper.sh/") && kind == "ConstraintTemplate" {
                    templates.push(parse_template(path, document, &doc)?);
                } else if api.starts_with("constraints.gatekeeper.sh/") {
                    constraints.push(parse_constraint(path, document, &doc)?);
                }
            }
        }
        Self::new(
            templates,
            constraints,
            sources,
            format!("sha256:{:x}", digest.finalize()),
        )
    }

    /// Compile `templates`; every constraint must name a template's kind.
    pub fn new(
        templates: Vec<ConstraintTemplate>,
        constraints: Vec<Constraint>,
        sources: Vec<(String, String)>,
        digest: String,
    ) -> Result<Self, GatekeeperError> {
        let mut compiled = BTreeMap::new();
        for t in &templates {
            if let Some(first) = templates
                .iter()
                .find(|o| o.kind == t.kind && o.source != t.source)
                && compiled.contains_key(&t.kind)
            {
                return Err(GatekeeperError::DuplicateKind {
                    kind: t.kind.clone(),
                    first: first.source.clone(),
                    second: t.source.clone(),
                });
            }
            compiled.insert(t.kind.clone(), compile(t));
        }
        for c in &constraints {
            if !compiled.contains_key(&c.kind) {
                return Err(GatekeeperError::NoTemplate {
                    file: c.source.clone(),
                    kind: c.kind.clone(),
                    name: c.name.clone(),
                });
            }
        }
        Ok(Self {
            templates,
            compiled,
            constraints,
            sources,
            digest,
            timeout: Duration::from_secs(2),
        })
    }

    /// Wall time allowed for a review: every constraint on the objects of one request (see
    /// [`Gatekeeper::review_until`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn templates(&self) -> &[ConstraintTemplate] {
        &self.templates
    }

    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    pub fn sources(&self) -> &[(String, String)] {
        &self.sources
    }

    /// `sha256:` over every document's path and text.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// Templates that cannot be evaluated, with why (their constraints fail closed).
    pub fn problems(&self) -> Vec<(String, String)> {
        self.templates
            .iter()
            .filter_map(|t| match self.compiled.get(&t.kind) {
                Some(Err(e)) => Some((format!("{} ({})", t.kind, t.source), e.clone())),
                _ => None,
            })
            .collect()
    }

    /// Evaluate every constraint whose `spec.match` matches `review` on it, within the
    /// review's time limit. `namespace` is the namespace object, when known; `inventory` is
    /// `data.inventory` (see [`inventory`]).
    pub fn review(
        &self,
        review: &Manifest,
        namespace: Option<&Json>,
        inventory: Option<&Json>,
    ) -> Vec<ConstraintResult> {
        self.review_until(review, namespace, inventory, self.deadline())
    }

    /// When a review starting now must end: one time limit for every constraint on every
    /// object of a request, as Gatekeeper's webhook has one timeout per request. A limit per
    /// constraint instead would let a directory of many slow constraints (or a request of
    /// many objects) hold a gate for their product.
    pub fn deadline(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.timeout).unwrap_or(now)
    }

    /// [`Gatekeeper::review`] that must end by `deadline`: a constraint still running then
    /// fails with the engine's time-limit error, and the ones after it are not evaluated
    /// ([`ReviewError::TimeLimit`]); either way it fails closed.
    pub fn review_until(
        &self,
        review: &Manifest,
        namespace: Option<&Json>,
        inventory: Option<&Json>,
        deadline: Instant,
    ) -> Vec<ConstraintResult> {
        let mut out = Vec::new();
        for (i, c) in self.constraints.iter().enumerate() {
            if !c.matches.matches(review, namespace) {
                continue;
            }
            out.push(ConstraintResult {
                constraint: i,
                outcome: self.evaluate_until(c, review, namespace, inventory, deadline),
            });
        }
        out
    }

    /// Evaluate one constraint on `review`, whether its match selects it or not, within the
    /// time limit.
    pub fn evaluate(
        &self,
        c: &Constraint,
        review: &Manifest,
        namespace: Option<&Json>,
        inventory: Option<&Json>,
    ) -> Result<Vec<GatekeeperViolation>, ReviewError> {
        self.evaluate_until(c, review, namespace, inventory, self.deadline())
    }

    fn evaluate_until(
        &self,
        c: &Constraint,
        review: &Manifest,
        namespace: Option<&Json>,
        inventory: Option<&Json>,
        deadline: Instant,
    ) -> Result<Vec<GatekeeperViolation>, ReviewError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReviewError::TimeLimit(self.timeout));
        }
        let compiled = match self.compiled.get(&c.kind) {
            Some(Ok(compiled)) => compiled,
            Some(Err(e)) => {
                return Err(ReviewError::Template {
                    kind: c.kind.clone(),
                    message: e.clone(),
                });
            }
            None => return Err(ReviewError::NoTemplate(c.kind.clone())),
        };
        let mut engine = match compiled.prototype.lock() {
            Ok(e) => e.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(inv) = inventory {
            engine
                .add_data(regorus::Value::from(json!({ "inventory": inv })))
                .map_err(|e| ReviewError::Inventory(e.to_string()))?;
        }
        let input = json!({
            "review": review_input(review, namespace),
            "parameters": c.parameters,
        });
        engine.set_input(regorus::Value::from(input));
        engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
            limit: left,
            check_interval: std::num::NonZeroU32::MIN.saturating_add(63),
        });
        let value = engine
            .eval_rule(compiled.entrypoint.clone())
            .map_err(|e| ReviewError::Eval(e.to_string()))?;
        violations_of(&value).map_err(ReviewError::Malformed)
    }
}

/// The `*.yaml`, `*.yml` and `*.json` files under `dir` (recursively, in path order), as
/// (path, text) for [`Gatekeeper::from_sources`].
pub fn read_dir_sources(dir: &Path) -> Result<Vec<(String, String)>, GatekeeperError> {
    let io = |p: &Path, e: std::io::Error| GatekeeperError::Io {
        file: p.display().to_string(),
        message: e.to_string(),
    };
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
            let path = entry.map_err(|e| io(&d, e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut sources = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| io(&f, e))?;
        sources.push((f.display().to_string(), text));
    }
    Ok(sources)
}

/// `input.review` as Gatekeeper builds it for an object.
pub fn review_input(m: &Manifest, namespace: Option<&Json>) -> Json {
    let (group, version) = split_api_version(m.api_version());
    let mut review = json!({
        "kind": {"group": group, "version": version, "kind": m.kind()},
        "name": m.name(),
        "namespace": m.namespace().unwrap_or(""),
        "operation": "CREATE",
        "object": m.object,
    });
    if let (Some(a), Some(r)) = (&m.admission, review.as_object_mut()) {
        r.insert("operation".into(), Json::from(a.operation.clone()));
        if let Some(o) = &a.old_object {
            r.insert("oldObject".into(), o.clone());
        }
        if let Some(u) = &a.user_info {
            r.insert("userInfo".into(), u.clone());
        }
        if let Some(uid) = &a.uid {
            r.insert("uid".into(), Json::from(uid.clone()));
        }
        r.insert("dryRun".into(), Json::from(a.dry_run));
    }
    if let (Some(ns), Some(r)) = (namespace, review.as_object_mut()) {
        r.insert("_unstable".into(), json!({ "namespace": ns }));
    }
    review
}

fn split_api_version(api: &str) -> (&str, &str) {
    match api.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api),
    }
}

/// `data.inventory` over `objects`, as Gatekeeper's sync cache lays it out:
/// `namespace[ns][apiVersion][kind][name]` for namespaced objects and
/// `cluster[apiVersion][kind][name]` for the others.
pub fn inventory<'a>(objects: impl IntoIterator<Item = &'a Json>) -> Json {
    let mut cluster = serde_json::Map::new();
    let mut namespaced = serde_json::Map::new();
    for o in objects {
        let api = o.get("apiVersion").and_then(Json::as_str).unwrap_or("");
        let kind = o.get("kind").and_then(Json::as_str).unwrap_or("");
        let md = o.get("metadata");
        let name = md
            .and_then(|m| m.get("name"))
            .and_then(Json::as_str)
            .unwrap_or("");
        let ns = md
            .and_then(|m| m.get("namespace"))
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty());
        match ns {
            Some(ns) => {
                let root = namespaced
                    .entry(ns.to_string())
                    .or_insert_with(|| json!({}));
                insert_path(root, &[api, kind, name], o.clone());
            }
            None => {
                let root = cluster.entry(api.to_string()).or_insert_with(|| json!({}));
                insert_path(root, &[kind, name], o.clone());
            }
        }
    }
    json!({"cluster": cluster, "namespace": namespaced})
}

fn insert_path(root: &mut Json, path: &[&str], value: Json) {
    let mut cur = root;
    for (i, p) in path.iter().enumerate() {
        let Some(map) = cur.as_object_mut() else {
            return;
        };
        if i + 1 == path.len() {
            map.insert((*p).to_string(), value);
            return;
        }
        cur = map.entry((*p).to_string()).or_insert_with(|| json!({}));
    }
}

fn compile(t: &ConstraintTemplate) -> Result<Compiled, String> {
    let code = t.code.as_ref().map_err(Clone::clone)?;
    let mut engine = Engine::new();
    engine.set_rego_v0(true);
    for (i, lib) in code.libs.iter().enumerate() {
        crate::parse_cost::check(lib).map_err(|e| format!("lib {i}: {e}"))?;
        engine
            .add_policy(format!("{}#lib[{i}]", t.source), lib.clone())
            .map_err(|e| format!("lib {i}: {e}"))?;
    }
    crate::parse_cost::check(&code.rego).map_err(|e| format!("rego: {e}"))?;
    let package = engine
        .add_policy(format!("{}#rego", t.source), code.rego.clone())
        .map_err(|e| e.to_string())?;
    let package = package
        .strip_prefix("data.")
        .unwrap_or(&package)
        .to_string();
    if package.starts_with("lib.") || package == "lib" {
        return Err(format!(
            "the template's package {package} is under `lib`, which is for libs"
        ));
    }
    Ok(Compiled {
        entrypoint: format!("data.{package}.violation"),
        prototype: Mutex::new(engine),
    })
}

fn violations_of(value: &regorus::Value) -> Result<Vec<GatekeeperViolation>, String> {
    let items: Vec<&regorus::Value> = match value {
        regorus::Value::Undefined => return Ok(Vec::new()),
        regorus::Value::Set(s) => s.iter().collect(),
        regorus::Value::Array(a) => a.iter().collect(),
        _ => return Err("`violation` must be a set of objects {msg, details}".into()),
    };
    let mut out = Vec::new();
    for v in items {
        let json_text = v.to_json_str().map_err(|e| e.to_string())?;
        let j: Json = serde_json::from_str(&json_text).map_err(|e| e.to_string())?;
        let msg = match j.get("msg") {
            Some(Json::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => return Err(format!("a violation has no `msg`: {json_text}")),
        };
        out.push(GatekeeperViolation {
            msg,
            details: j.get("details").cloned().unwrap_or(Json::Null),
        });
    }
    out.sort_by(|a, b| a.msg.cmp(&b.msg));
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Parsing.

fn invalid(file: &str, document: usize, what: &str, message: impl Into<String>) -> GatekeeperError {
    GatekeeperError::Invalid {
        file: file.into(),
        document,
        what: what.into(),
        message: message.into(),
    }
}

fn get<'a>(v: &'a Json, path: &[&str]) -> Option<&'a Json> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    Some(cur)
}

fn strings(
    v: Option<&Json>,
    file: &str,
    document: usize,
    what: &str,
    field: &str,
) -> Result<Vec<String>, GatekeeperError> {
    match v {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str().map(str::to_string).ok_or_else(|| {
                    invalid(
                        file,
                        document,
                        what,
                        format!("{field}: every entry must be a string"),
                    )
                })
            })
            .collect(),
        Some(_) => Err(invalid(
            file,
            document,
            what,
            format!("{field} must be a list of strings"),
        )),
    }
}

/// Parse a ConstraintTemplate document.
pub fn parse_template(
    file: &str,
    document: usize,
    doc: &Json,
) -> Result<ConstraintTemplate, GatekeeperError> {
    let name = get(doc, &["metadata", "name"])
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    let what = format!("ConstraintTemplate {name}");
    let kind = get(doc, &["spec", "crd", "spec", "names", "kind"])
        .and_then(Json::as_str)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| invalid(file, document, &what, "spec.crd.spec.names.kind is missing"))?
        .to_string();
    let targets = get(doc, &["spec", "targets"])
        .and_then(Json::as_array)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid(file, document, &what, "spec.targets is missing or empty"))?;
    if targets.len() > 1 {
        return Err(invalid(
            file,
            document,
            &what,
            "spec.targets must hold exactly one target",
        ));
    }
    let target = targets.first().unwrap_or(&Json::Null);
    let target_name = target.get("target").and_then(Json::as_str).unwrap_or("");
    if target_name != ADMISSION_TARGET {
        return Err(invalid(
            file,
            document,
            &what,
            format!("spec.targets[0].target is {target_name:?}, not {ADMISSION_TARGET}"),
        ));
    }
    let libs_of = |v: Option<&Json>, field: &str| strings(v, file, document, &what, field);
    let code = if let Some(rego) = target.get("rego").and_then(Json::as_str) {
        Ok(RegoCode {
            rego: rego.to_string(),
            libs: libs_of(target.get("libs"), "spec.targets[0].libs")?,
        })
    } else {
        let code = target.get("code").and_then(Json::as_array);
        let rego = code
            .into_iter()
            .flatten()
            .find(|c| c.get("engine").and_then(Json::as_str) == Some("Rego"));
        match rego {
            Some(c) => {
                let rego = get(c, &["source", "rego"])
                    .and_then(Json::as_str)
                    .ok_or_else(|| {
                        invalid(
                            file,
                            document,
                            &what,
                            "code[engine: Rego].source.rego is missing",
                        )
                    })?;
                Ok(RegoCode {
                    rego: rego.to_string(),
                    libs: libs_of(
                        get(c, &["source", "libs"]),
                        "code[engine: Rego].source.libs",
                    )?,
                })
            }
            None => {
                let engines: Vec<&str> = code
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.get("engine").and_then(Json::as_str))
                    .collect();
                if engines.is_empty() {
                    return Err(invalid(
                        file,
                        document,
                        &what,
                        "the target has neither rego nor code",
                    ));
                }
                Err(format!(
                    "only {} code (CEL), no Rego: not supported",
                    engines.join(", ")
                ))
            }
        }
    };
    Ok(ConstraintTemplate {
        name,
        kind,
        source: format!("{file}#{document}"),
        code,
    })
}

/// Parse a Constraint document.
pub fn parse_constraint(
    file: &str,
    document: usize,
    doc: &Json,
) -> Result<Constraint, GatekeeperError> {
    let kind = doc
        .get("kind")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    let name = get(doc, &["metadata", "name"])
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    let what = format!("constraint {kind}/{name}");
    if kind.is_empty() || name.is_empty() {
        return Err(invalid(
            file,
            document,
            &what,
            "kind and metadata.name are required",
        ));
    }
    let spec = doc.get("spec").cloned().unwrap_or(Json::Null);
    let enforcement = match spec.get("enforcementAction").and_then(Json::as_str) {
        None | Some("deny") => EnforcementAction::Deny,
        Some("warn") => EnforcementAction::Warn,
        Some("dryrun") => EnforcementAction::Dryrun,
        Some(other) => {
            return Err(invalid(
                file,
                document,
                &what,
                format!("spec.enforcementAction {other:?} is not deny, warn or dryrun"),
            ));
        }
    };
    let m = spec.get("match").cloned().unwrap_or(Json::Null);
    let list = |field: &str| {
        strings(
            m.get(field),
            file,
            document,
            &what,
            &format!("spec.match.{field}"),
        )
    };
    let mut kinds = Vec::new();
    for (i, k) in m
        .get("kinds")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let f = |x: &str| {
            strings(
                k.get(x),
                file,
                document,
                &what,
                &format!("spec.match.kinds[{i}].{x}"),
            )
        };
        kinds.push((f("apiGroups")?, f("kinds")?));
    }
    let matches = Match {
        kinds,
        namespaces: match m.get("namespaces") {
            None | Some(Json::Null) => None,
            Some(_) => Some(list("namespaces")?),
        },
        excluded_namespaces: list("excludedNamespaces")?,
        label_selector: selector(
            m.get("labelSelector"),
            file,
            document,
            &what,
            "labelSelector",
        )?,
        namespace_selector: selector(
            m.get("namespaceSelector"),
            file,
            document,
            &what,
            "namespaceSelector",
        )?,
        scope: m
            .get("scope")
            .and_then(Json::as_str)
            .unwrap_or("*")
            .to_string(),
        name: m.get("name").and_then(Json::as_str).map(str::to_string),
    };
    if !["*", "Cluster", "Namespaced"].contains(&matches.scope.as_str()) {
        return Err(invalid(
            file,
            document,
            &what,
            format!(
                "spec.match.scope {:?} is not *, Cluster or Namespaced",
                matches.scope
            ),
        ));
    }
    Ok(Constraint {
        kind,
        name,
        source: format!("{file}#{document}"),
        matches,
        parameters: spec.get("parameters").cloned().unwrap_or_else(|| json!({})),
        enforcement,
    })
}

fn selector(
    v: Option<&Json>,
    file: &str,
    document: usize,
    what: &str,
    field: &str,
) -> Result<Option<LabelSelector>, GatekeeperError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let mut s = LabelSelector::default();
    if let Some(ml) = v.get("matchLabels").and_then(Json::as_object) {
        for (k, val) in ml {
            let val = val.as_str().ok_or_else(|| {
                invalid(
                    file,
                    document,
                    what,
                    format!("spec.match.{field}.matchLabels.{k} must be a string"),
                )
            })?;
            s.match_labels.insert(k.clone(), val.to_string());
        }
    }
    for (i, e) in v
        .get("matchExpressions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("spec.match.{field}.matchExpressions[{i}]");
        let key = e
            .get("key")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        let op = e
            .get("operator")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        if !["In", "NotIn", "Exists", "DoesNotExist"].contains(&op.as_str()) {
            return Err(invalid(
                file,
                document,
                what,
                format!("{at}.operator {op:?} is not In, NotIn, Exists or DoesNotExist"),
            ));
        }
        let values = strings(
            e.get("values"),
            file,
            document,
            what,
            &format!("{at}.values"),
        )?;
        s.match_expressions.push((key, op, values));
    }
    Ok(Some(s))
}

// ---------------------------------------------------------------------------------------------
// Matching.

/// Built-in kinds that are cluster-scoped.
const CLUSTER_SCOPED: [&str; 17] = [
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "CSIDriver",
    "CSINode",
    "APIService",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// Gatekeeper's namespace globs: `*` at the start or end of a pattern.
fn glob(pattern: &str, s: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') && rest.len() > 1 => {
            s.contains(rest.trim_end_matches('*'))
        }
        (Some(suffix), _) => s.ends_with(suffix),
        (None, Some(prefix)) => s.starts_with(prefix),
        (None, None) => pattern == s,
    }
}

fn labels_of(o: &Json) -> BTreeMap<String, String> {
    get(o, &["metadata", "labels"])
        .and_then(Json::as_object)
        .map(|l| {
            l.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

impl LabelSelector {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|(k, op, values)| {
                let has = labels.get(k);
                match op.as_str() {
                    "In" => has.is_some_and(|v| values.contains(v)),
                    "NotIn" => has.is_none_or(|v| !values.contains(v)),
                    "Exists" => has.is_some(),
                    "DoesNotExist" => has.is_none(),
                    _ => false,
                }
            })
    }
}

impl Match {
    /// Whether the constraint applies to `m` (with its namespace object, when known).
    pub fn matches(&self, m: &Manifest, namespace: Option<&Json>) -> bool {
        let (group, _) = split_api_version(m.api_version());
        let kind = m.kind();
        let any =
            |list: &[String], x: &str| list.is_empty() || list.iter().any(|l| l == "*" || l == x);
        if !self.kinds.is_empty()
            && !self
                .kinds
                .iter()
                .any(|(g, k)| any(g, group) && any(k, kind))
        {
            return false;
        }
        let is_namespace = kind == "Namespace" && group.is_empty();
        // A Namespace object is matched by its own name; other cluster-scoped objects are
        // outside namespaces/excludedNamespaces.
        let ns = if is_namespace {
            Some(m.name())
        } else {
            m.namespace()
        };
        // A manifest often leaves out the namespace it will be applied in: without one, only a
        // kind known to be cluster-scoped counts as such (over-matching, never under-matching).
        match self.scope.as_str() {
            "Cluster" if m.namespace().is_some() => return false,
            "Namespaced" if m.namespace().is_none() && CLUSTER_SCOPED.contains(&kind) => {
                return false;
            }
            _ => {}
        }
        if let Some(ns) = ns {
            if let Some(list) = &self.namespaces
                && !list.iter().any(|p| glob(p, ns))
            {
                return false;
            }
            if self.excluded_namespaces.iter().any(|p| glob(p, ns)) {
                return false;
            }
        }
        if let Some(name) = &self.name
            && !glob(name, m.name())
        {
            return false;
        }
        if let Some(sel) = &self.label_selector {
            // On UPDATE either version may match (Gatekeeper checks both).
            let old = m.admission.as_ref().and_then(|a| a.old_object.as_ref());
            let hit = sel.matches(&labels_of(&m.object))
                || old.is_some_and(|o| sel.matches(&labels_of(o)));
            if !hit {
                return false;
            }
        }
        if let Some(sel) = &self.namespace_selector {
            if is_namespace {
                return sel.matches(&labels_of(&m.object));
            }
            if m.namespace().is_some()
                && let Some(ns_obj) = namespace
            {
                return sel.matches(&labels_of(ns_obj));
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8srequiredlabels}
spec:
  crd: {spec: {names: {kind: K8sRequiredLabels}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8srequiredlabels
      import data.lib.helpers.missing
      violation[{"msg": msg, "details": {"missing": m}}] {
        m := missing(input.review.object, input.parameters.labels)
        count(m) > 0
        msg := sprintf("missing labels: %v", [m])
      }
    libs:
    - |
      package lib.helpers
      missing(obj, want) = m {
        provided := {l | obj.metadata.labels[l]}
        required := {l | l := want[_]}
        m := required - provided
      }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata: {name: need-owner}
spec:
  enforcementAction: warn
  match:
    kinds: [{apiGroups: [""], kinds: ["Pod"]}]
    excludedNamespaces: ["kube-*"]
  parameters: {labels: ["owner"]}
"#;

    fn pod(ns: &str, labels: Json) -> Manifest {
        Manifest {
            source: "t#1".into(),
            object: json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": ns, "labels": labels}}),
            admission: None,
        }
    }

    #[test]
    fn template_with_libs_and_match() {
        let gk = Gatekeeper::from_sources(vec![("gk.yaml".into(), TEMPLATE.into())]).unwrap();
        assert!(gk.problems().is_empty(), "{:?}", gk.problems());
        let c = &gk.constraints()[0];
        assert_eq!(c.rule_id(), "GK.K8sRequiredLabels.need-owner");
        assert_eq!(c.enforcement, EnforcementAction::Warn);
        let r = gk.review(&pod("shop", json!({})), None, None);
        assert_eq!(r.len(), 1);
        let vs = r[0].outcome.as_ref().unwrap();
        assert_eq!(vs.len(), 1);
        assert!(vs[0].msg.contains("owner"), "{}", vs[0].msg);
        assert_eq!(vs[0].details, json!({"missing": ["owner"]}));
        let ok = gk.review(&pod("shop", json!({"owner": "me"})), None, None);
        assert_eq!(ok[0].outcome, Ok(vec![]));
        assert!(
            gk.review(&pod("kube-system", json!({})), None, None)
                .is_empty()
        );
    }

    /// Many slow constraints share one time limit: once it has run out, the rest are not
    /// evaluated (each fails closed) instead of each taking the whole limit again.
    #[test]
    fn one_time_limit_for_the_whole_review() {
        let mut text = String::from(
            r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: slow}
spec:
  crd: {spec: {names: {kind: Slow}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package slow
      violation[{"msg": "never"}] {
        r := numbers.range(1, 5000)
        r[i] * r[j] == -1
      }
"#,
        );
        for n in 0..12 {
            text.push_str(&format!(
                "---\napiVersion: constraints.gatekeeper.sh/v1beta1\nkind: Slow\nmetadata: {{name: c{n}}}\n"
            ));
        }
        let gk = Gatekeeper::from_sources(vec![("slow.yaml".into(), text)])
            .unwrap()
            .with_timeout(Duration::from_millis(200));
        assert!(gk.problems().is_empty(), "{:?}", gk.problems());
        let r = gk.review(&pod("a", json!({})), None, None);
        assert_eq!(r.len(), 12);
        assert!(
            r.iter().all(|c| c.outcome.is_err()),
            "a constraint passed: {r:?}"
        );
        let not_evaluated = r
            .iter()
            .filter(|c| matches!(c.outcome, Err(ReviewError::TimeLimit(_))))
            .count();
        // The first constraint spends the limit (25 million steps take far longer than 200 ms).
        assert!(not_evaluated >= 10, "{r:?}");
        let e = r[11].outcome.as_ref().unwrap_err().to_string();
        assert!(e.contains("time limit of 200 ms"), "{e}");
    }

    /// Brackets nested past what regorus parses in bounded time: the template is refused
    /// with the place (found by the fuzzer: 55 nested `[` held the gate for ever).
    #[test]
    fn deeply_nested_rego_is_refused_before_parsing() {
        let t = format!(
            r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {{name: deep}}
spec:
  crd: {{spec: {{names: {{kind: Deep}}}}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package deep
      violation[{{"msg": "x"}}] {{
        x := a{}
      }}
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: Deep
metadata: {{name: c}}
"#,
            "[{".repeat(20)
        );
        let gk = Gatekeeper::from_sources(vec![("deep.yaml".into(), t)]).unwrap();
        let problems = gk.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].1.contains("line 3") && problems[0].1.contains("nested 17 deep"),
            "{problems:?}"
        );
        let r = gk.review(&pod("a", json!({})), None, None);
        assert!(matches!(r[0].outcome, Err(ReviewError::Template { .. })));
    }

    #[test]
    fn cel_only_template_is_unsupported_and_fails_closed() {
        let t = r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cel}
spec:
  crd: {spec: {names: {kind: CelOnly}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    code:
    - engine: K8sNativeValidation
      source: {validations: [{expression: "true"}]}
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CelOnly
metadata: {name: c}
"#;
        let gk = Gatekeeper::from_sources(vec![("cel.yaml".into(), t.into())]).unwrap();
        assert_eq!(gk.problems().len(), 1);
        let r = gk.review(&pod("a", json!({})), None, None);
        let e = r[0].outcome.as_ref().unwrap_err();
        assert!(matches!(e, ReviewError::Template { .. }), "{e:?}");
        assert!(e.to_string().contains("K8sNativeValidation"), "{e}");
    }

    #[test]
    fn constraint_without_template_and_bad_yaml_are_errors() {
        let c = "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: Nope\nmetadata: {name: x}\n";
        let e = Gatekeeper::from_sources(vec![("c.yaml".into(), c.into())]).unwrap_err();
        assert!(
            e.to_string()
                .contains("no ConstraintTemplate defines kind Nope"),
            "{e}"
        );
        let e = Gatekeeper::from_sources(vec![
            ("a.yaml".into(), TEMPLATE.into()),
            ("b.yaml".into(), TEMPLATE.into()),
        ])
        .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "b.yaml#1: ConstraintTemplate kind K8sRequiredLabels is already defined by a.yaml#1"
            ),
            "{e}"
        );
        let e = Gatekeeper::from_sources(vec![("c.yaml".into(), "a: [".into())]).unwrap_err();
        assert!(e.to_string().starts_with("c.yaml: document 1"), "{e}");
    }

    #[test]
    fn selectors_and_globs() {
        assert!(glob("kube-*", "kube-system"));
        assert!(glob("*-system", "kube-system"));
        assert!(!glob("kube-*", "default"));
        let sel = LabelSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![
                ("env".into(), "In".into(), vec!["prod".into()]),
                ("skip".into(), "DoesNotExist".into(), vec![]),
            ],
        };
        let l = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(sel.matches(&l(&[("env", "prod")])));
        assert!(!sel.matches(&l(&[("env", "prod"), ("skip", "y")])));
        assert!(!sel.matches(&l(&[])));
    }

    #[test]
    fn truncated_documents_never_panic() {
        let object = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: b}}\nspec:\n  containers: [{name: c, image: x}]\n";
        for (text, is_template) in [(TEMPLATE, true), (object, false)] {
            for end in (0..=text.len()).filter(|i| text.is_char_boundary(*i)) {
                let part = &text[..end];
                if is_template {
                    if let Ok(gk) = Gatekeeper::from_sources(vec![("t".into(), part.into())]) {
                        let _ = gk.review(&pod("a", json!({})), None, None);
                    }
                } else if let Ok(ms) = crate::kubernetes::parse_manifests("m", part) {
                    for m in &ms {
                        let _ = crate::kubernetes::input_object(m);
                        let _ = review_input(m, None);
                    }
                }
            }
        }
    }

    #[test]
    fn scope_without_a_namespace_over_matches() {
        let namespaced = Match {
            scope: "Namespaced".into(),
            ..Match::default()
        };
        let mut p = pod("", json!({}));
        p.object["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        assert!(
            namespaced.matches(&p, None),
            "a Pod manifest without a namespace"
        );
        let node = Manifest {
            source: "n#1".into(),
            object: json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}),
            admission: None,
        };
        assert!(!namespaced.matches(&node, None));
        let cluster = Match {
            scope: "Cluster".into(),
            ..Match::default()
        };
        assert!(!cluster.matches(&pod("a", json!({})), None));
    }

    #[test]
    fn inventory_layout() {
        let objs = [
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}),
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i", "namespace": "a"}}),
        ];
        let inv = inventory(objs.iter());
        assert!(inv["cluster"]["v1"]["Namespace"]["a"].is_object());
        assert!(inv["namespace"]["a"]["networking.k8s.io/v1"]["Ingress"]["i"].is_object());
    }
}
