//! The smart diff: the candidate compared with what the inventory says runs in the environment
//! under the same artifact name. The baseline's evidence is the evidence of its recorded
//! decision (stored blobs); components are matched by package (purl without version, else
//! ecosystem and name) and ordered with the evidence crate's per-ecosystem version ordering;
//! findings are matched by the firewall's key with the component version left out; licenses
//! by component; provenance facts from attestations (the verified ones when any is).
//!
//! When nothing runs there, or its evidence cannot be had, the diff says so
//! (`baseline.state`: `none` / `unknown`, with a reason) and carries no changes, so the diff
//! rules (which are about changes) stay silent rather than read an empty diff as "no change".

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use portcullis_evidence::purl::Purl;
use portcullis_evidence::version::Scheme;
use portcullis_evidence::{Ecosystem, Limits};
use portcullis_policy::input::{
    InputArtifact, InputAttestation, InputComponent, InputComponentChanges, InputDiff,
    InputDiffBaseline, InputDiffChanges, InputDiffComponent, InputDiffFinding, InputFinding,
    InputFindingChanges, InputLicenseChange, InputProvenanceChange, InputProvenanceFacts,
    InputProvenanceFieldChange, InputVersionChange, PolicyInput,
};
use portcullis_store::{Store, StoreError};

use crate::decision::ArtifactId;
use crate::document::EvidenceDoc;
use crate::input::AdvisoryIndex;
use crate::trust::AttestationTrust;

/// `baseline.state` values.
pub mod states {
    pub const KNOWN: &str = "known";
    pub const NONE: &str = "none";
    pub const UNKNOWN: &str = "unknown";
}

/// Why a diff could not be computed at all (the store failed, or a stored record is broken).
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Record(String),
    /// The candidate's evidence is not given and no decision about it is recorded.
    #[error("{0}")]
    NoCandidate(String),
}

/// The evidence-derived facts of the running artifact, built once and shared.
#[derive(Debug)]
pub struct BaselineSide {
    /// Tells sides apart for the diff memo (unique per process).
    id: u64,
    components: Vec<InputComponent>,
    findings: Vec<InputFinding>,
    attestations: Vec<InputAttestation>,
}

impl BaselineSide {
    /// The facts of `docs`, deduplicated the way the firewall builds a decision's input.
    /// Attestations are verified for `digest` (the running artifact's) with `trust`: only
    /// verified ones give provenance facts.
    pub fn from_docs(
        docs: Vec<EvidenceDoc>,
        digest: &str,
        trust: Option<&AttestationTrust>,
    ) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let input = candidate_input(docs, digest, trust);
        Self {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            components: input.components,
            findings: input.findings,
            attestations: input.attestations,
        }
    }
}

/// What runs in the environment, and its evidence when known.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub info: InputDiffBaseline,
    side: Option<Arc<BaselineSide>>,
}

impl Baseline {
    /// Nothing of the name runs in the environment.
    pub fn none(reason: impl Into<String>) -> Self {
        Self {
            info: InputDiffBaseline {
                state: states::NONE.into(),
                reason: Some(reason.into()),
                ..InputDiffBaseline::default()
            },
            side: None,
        }
    }

    /// Something runs, but its evidence cannot be had.
    pub fn unknown(mut info: InputDiffBaseline, reason: impl Into<String>) -> Self {
        info.state = states::UNKNOWN.into();
        info.reason = Some(reason.into());
        Self { info, side: None }
    }

    /// The running artifact with the facts of its evidence.
    pub fn known(mut info: InputDiffBaseline, side: Arc<BaselineSide>) -> Self {
        info.state = states::KNOWN.into();
        info.reason = None;
        Self {
            info,
            side: Some(side),
        }
    }

    pub fn is_known(&self) -> bool {
        self.side.is_some()
    }

    /// What runs there as the policy's `previous`, from the firewall's inventory and the
    /// recorded evidence of its decision (`None` unless known).
    pub fn previous(&self) -> Option<portcullis_policy::input::InputPrevious> {
        let side = self.side.as_ref()?;
        Some(portcullis_policy::input::InputPrevious {
            artifact: self.info.artifact.clone()?,
            deployed_at: self.info.deployed_at.clone(),
            findings: side.findings.clone(),
            source: portcullis_policy::input::FactSource::Firewall,
        })
    }

    /// What identifies the comparison (for the diff memo): the baseline side itself.
    fn cache_key(&self) -> String {
        match &self.side {
            Some(side) => format!("side {}", side.id),
            None => format!("{} {:?}", self.info.state, self.info.reason),
        }
    }
}

/// Baseline sides already read, by the digests of their evidence (a small FIFO).
#[derive(Debug, Default)]
pub struct BaselineCache {
    entries: Mutex<SideEntries>,
    /// The evidence of recorded decisions, by decision id: a decision's request never
    /// changes, so it is read from the store once.
    requests: Mutex<HashMap<String, Arc<DocList>>>,
}

/// Evidence documents as (digest, source).
type DocList = Vec<(String, String)>;

/// Baseline sides by evidence key, and the keys in insertion order.
#[derive(Debug, Default)]
struct SideEntries {
    map: HashMap<String, Arc<BaselineSide>>,
    order: VecDeque<String>,
}

/// Baseline sides kept by a [`BaselineCache`].
const BASELINE_CACHE: usize = 16;

impl BaselineCache {
    fn request(&self, decision: &str) -> Option<Arc<DocList>> {
        self.requests
            .lock()
            .ok()
            .and_then(|r| r.get(decision).cloned())
    }

    fn put_request(&self, decision: &str, evidence: Arc<DocList>) {
        if let Ok(mut r) = self.requests.lock() {
            // Small entries; forgotten all at once rather than tracked one by one.
            if r.len() >= 4 * BASELINE_CACHE {
                r.clear();
            }
            r.insert(decision.to_string(), evidence);
        }
    }

    fn get(&self, key: &str) -> Option<Arc<BaselineSide>> {
        self.entries
            .lock()
            .ok()
            .and_then(|e| e.map.get(key).cloned())
    }

    fn put(&self, key: String, side: Arc<BaselineSide>) {
        if let Ok(mut guard) = self.entries.lock() {
            let SideEntries { map, order } = &mut *guard;
            if map.contains_key(&key) {
                return;
            }
            while order.len() >= BASELINE_CACHE {
                match order.pop_front() {
                    Some(old) => {
                        map.remove(&old);
                    }
                    None => break,
                }
            }
            order.push_back(key.clone());
            map.insert(key, side);
        }
    }
}

/// The baseline of `name` in `environment`: the artifact the inventory says runs there and the
/// evidence of its latest recorded decision in that environment (else in any environment).
/// Only a store failure is an error; missing records give a `none` / `unknown` baseline.
pub async fn lookup(
    store: &Store,
    environment: &str,
    name: &str,
    limits: &Limits,
    cache: &BaselineCache,
    trust: Option<&AttestationTrust>,
) -> Result<Baseline, DiffError> {
    let running = store
        .inventory(Some(environment))
        .await?
        .into_iter()
        .find(|r| r.artifact_name == name);
    let Some(row) = running else {
        return Ok(Baseline::none(format!(
            "nothing named {name} is recorded as running in {environment}"
        )));
    };
    let mut info = InputDiffBaseline {
        state: String::new(),
        reason: None,
        artifact: Some(InputArtifact {
            name: row.artifact_name.clone(),
            digest: row.artifact_digest.clone(),
        }),
        deployed_at: Some(row.deployed_at.clone()),
        decision: None,
        evidence: Vec::new(),
    };
    let decision = match store
        .latest_decision(&row.artifact_digest, environment)
        .await?
    {
        Some(d) => Some(d),
        None => store
            .decisions(None, Some(&row.artifact_digest), None, 1)
            .await?
            .into_iter()
            .find(|d| d.artifact_digest == row.artifact_digest),
    };
    let Some(decision) = decision else {
        return Ok(Baseline::unknown(
            info,
            format!(
                "{}@{} runs in {environment}, but no decision about it is recorded, so its evidence is unknown",
                row.artifact_name, row.artifact_digest
            ),
        ));
    };
    info.decision = Some(decision.id.clone());
    if let Some(evidence) = cache.request(&decision.id) {
        info.evidence = evidence.iter().map(|(d, _)| d.clone()).collect();
        return load_side(store, info, &evidence, limits, cache, trust).await;
    }
    let request = match store.blob(&decision.request_digest).await? {
        Some((_, bytes)) => match serde_json::from_slice::<crate::stored::StoredRequest>(&bytes) {
            Ok(r) => r,
            Err(e) => {
                return Err(DiffError::Record(format!(
                    "decision {}: its stored request {} cannot be read: {e}",
                    decision.id, decision.request_digest
                )));
            }
        },
        None => {
            return Ok(Baseline::unknown(
                info,
                format!(
                    "the request of decision {} ({}) is not in the store",
                    decision.id, decision.request_digest
                ),
            ));
        }
    };
    let mut evidence: Vec<(String, String)> = request
        .evidence
        .iter()
        .map(|d| (d.digest.clone(), d.source.clone()))
        .collect();
    evidence.sort();
    evidence.dedup_by(|a, b| a.0 == b.0);
    info.evidence = evidence.iter().map(|(d, _)| d.clone()).collect();
    if !request.unreadable.is_empty() {
        let names: Vec<&str> = request
            .unreadable
            .iter()
            .map(|u| u.source.as_str())
            .collect();
        return Ok(Baseline::unknown(
            info,
            format!(
                "decision {} could not read all of its evidence ({}), so what runs is only partly known",
                decision.id,
                names.join(", ")
            ),
        ));
    }
    if evidence.is_empty() {
        return Ok(Baseline::unknown(
            info,
            format!("decision {} read no evidence documents", decision.id),
        ));
    }
    let evidence = Arc::new(evidence);
    let b = load_side(store, info, &evidence, limits, cache, trust).await?;
    if b.is_known() {
        cache.put_request(&decision.id, evidence);
    }
    Ok(b)
}

/// The baseline recorded with a decision, rebuilt from the stored documents (for replay).
pub async fn from_record(
    store: &Store,
    info: &InputDiffBaseline,
    limits: &Limits,
    cache: &BaselineCache,
    trust: Option<&AttestationTrust>,
) -> Result<Baseline, DiffError> {
    if info.state != states::KNOWN {
        return Ok(Baseline {
            info: info.clone(),
            side: None,
        });
    }
    let evidence: Vec<(String, String)> = info
        .evidence
        .iter()
        .map(|d| (d.clone(), d.clone()))
        .collect();
    let b = load_side(store, info.clone(), &evidence, limits, cache, trust).await?;
    if b.is_known() {
        Ok(b)
    } else {
        Err(DiffError::Record(format!(
            "the recorded baseline cannot be rebuilt: {}",
            b.info.reason.as_deref().unwrap_or("")
        )))
    }
}

async fn load_side(
    store: &Store,
    info: InputDiffBaseline,
    evidence: &[(String, String)],
    limits: &Limits,
    cache: &BaselineCache,
    trust: Option<&AttestationTrust>,
) -> Result<Baseline, DiffError> {
    let key = info.evidence.join(",");
    if let Some(side) = cache.get(&key) {
        return Ok(Baseline::known(info, side));
    }
    let mut docs = Vec::new();
    for (digest, source) in evidence {
        let Some((_, bytes)) = store.blob(digest).await? else {
            return Ok(Baseline::unknown(
                info,
                format!("evidence document {digest} ({source}) is not in the store"),
            ));
        };
        match EvidenceDoc::parse(source, &bytes, limits) {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                return Ok(Baseline::unknown(
                    info,
                    format!("evidence document {digest} ({source}) cannot be read: {e}"),
                ));
            }
        }
    }
    let digest = info
        .artifact
        .as_ref()
        .map(|a| a.digest.clone())
        .unwrap_or_default();
    let side = Arc::new(BaselineSide::from_docs(docs, &digest, trust));
    cache.put(key, side.clone());
    Ok(Baseline::known(info, side))
}

/// The candidate's facts (the evidence parts of its policy input) compared with `baseline`.
pub fn compare(baseline: &Baseline, candidate: &PolicyInput) -> InputDiff {
    let Some(side) = &baseline.side else {
        return InputDiff {
            baseline: baseline.info.clone(),
            changes: None,
        };
    };
    let (components, licenses) = components(&side.components, &candidate.components);
    InputDiff {
        baseline: baseline.info.clone(),
        changes: Some(InputDiffChanges {
            components,
            findings: findings(&side.findings, &candidate.findings),
            licenses,
            provenance: provenance(&side.attestations, &candidate.attestations),
        }),
    }
}

/// A diff computed once per (candidate evidence, baseline).
#[derive(Debug, Default)]
pub(crate) struct DiffMemo {
    last: Mutex<Option<(String, Arc<InputDiff>)>>,
}

impl DiffMemo {
    pub(crate) fn get_or_compute(&self, baseline: &Baseline, candidate: &PolicyInput) -> InputDiff {
        let key = baseline.cache_key();
        if let Ok(guard) = self.last.lock()
            && let Some((k, d)) = &*guard
            && *k == key
        {
            let mut d = (**d).clone();
            d.baseline = baseline.info.clone();
            return d;
        }
        let d = compare(baseline, candidate);
        if let Ok(mut guard) = self.last.lock() {
            *guard = Some((key, Arc::new(d.clone())));
        }
        d
    }
}

/// Where the candidate's facts came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CandidateSource {
    /// The recorded decision whose evidence was used (None: evidence given by the caller).
    pub decision: Option<String>,
    /// Digests of the candidate's evidence documents (sorted).
    pub evidence: Vec<String>,
}

/// What `portcullis diff` and `GET /v1/diff` answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiffReport {
    pub artifact: ArtifactId,
    pub environment: String,
    pub candidate: CandidateSource,
    pub diff: InputDiff,
}

/// The facts of `docs` as a decision's input holds them (components, findings,
/// attestations; no advisories).
pub fn candidate_input(
    docs: Vec<EvidenceDoc>,
    digest: &str,
    trust: Option<&AttestationTrust>,
) -> PolicyInput {
    crate::input::build_evidence(&docs, digest, &AdvisoryIndex::default(), None, trust)
}

/// The evidence documents of the latest decision about `artifact` (in `environment`, else in
/// any environment), with that decision's id.
pub async fn recorded_evidence(
    store: &Store,
    artifact: &ArtifactId,
    environment: &str,
    limits: &Limits,
) -> Result<(String, Vec<EvidenceDoc>), DiffError> {
    let decision = match store.latest_decision(&artifact.digest, environment).await? {
        Some(d) => Some(d),
        None => store
            .decisions(None, Some(&artifact.digest), None, 1)
            .await?
            .into_iter()
            .find(|d| d.artifact_digest == artifact.digest),
    };
    let Some(decision) = decision else {
        return Err(DiffError::NoCandidate(format!(
            "no decision about {}@{} is recorded, so its evidence is unknown: give it with --evidence (or `evidence` in the request)",
            artifact.name, artifact.digest
        )));
    };
    let (_, bytes) = store.blob(&decision.request_digest).await?.ok_or_else(|| {
        DiffError::Record(format!(
            "the request of decision {} ({}) is not in the store",
            decision.id, decision.request_digest
        ))
    })?;
    let request: crate::stored::StoredRequest = serde_json::from_slice(&bytes).map_err(|e| {
        DiffError::Record(format!(
            "decision {}: its stored request {} cannot be read: {e}",
            decision.id, decision.request_digest
        ))
    })?;
    let mut docs = Vec::new();
    for d in &request.evidence {
        let (_, bytes) = store.blob(&d.digest).await?.ok_or_else(|| {
            DiffError::Record(format!(
                "evidence document {} ({}) of decision {} is not in the store",
                d.digest, d.source, decision.id
            ))
        })?;
        docs.push(EvidenceDoc::parse(&d.source, &bytes, limits).map_err(|e| {
            DiffError::Record(format!(
                "evidence document {} of decision {}: {}: {e}",
                d.digest, decision.id, d.source
            ))
        })?);
    }
    Ok((decision.id, docs))
}

/// The diff of `artifact` against what runs in `environment`: on `evidence` when given, else on
/// the evidence of the artifact's latest recorded decision.
pub async fn report(
    store: &Store,
    environment: &str,
    artifact: &ArtifactId,
    evidence: Option<Vec<EvidenceDoc>>,
    limits: &Limits,
    cache: &BaselineCache,
    trust: Option<&AttestationTrust>,
) -> Result<DiffReport, DiffError> {
    let (decision, docs) = match evidence {
        Some(docs) => (None, docs),
        None => {
            let (id, docs) = recorded_evidence(store, artifact, environment, limits).await?;
            (Some(id), docs)
        }
    };
    let mut digests: Vec<String> = docs.iter().map(|d| d.digest.clone()).collect();
    digests.sort();
    digests.dedup();
    let baseline = lookup(store, environment, &artifact.name, limits, cache, trust).await?;
    let input = candidate_input(docs, &artifact.digest, trust);
    Ok(DiffReport {
        artifact: artifact.clone(),
        environment: environment.to_string(),
        candidate: CandidateSource {
            decision,
            evidence: digests,
        },
        diff: compare(&baseline, &input),
    })
}

// ----------------------------------------------------------------------------- components

/// The package a component is a version of, its ecosystem and version ordering.
fn package_of(c: &InputComponent) -> (String, Option<String>, Scheme) {
    if let Some(p) = c.purl.as_deref().and_then(|p| Purl::parse(p).ok()) {
        let eco = p.ecosystem();
        return (
            p.without_version().to_string(),
            Some(eco.as_str().to_string()),
            Scheme::for_ecosystem(&eco),
        );
    }
    match c.ecosystem.as_deref().filter(|e| !e.is_empty()) {
        Some(e) => {
            let eco = Ecosystem::from_purl_type(e);
            (
                format!("{e}/{}", c.name),
                Some(e.to_string()),
                Scheme::for_ecosystem(&eco),
            )
        }
        None => (c.name.clone(), None, Scheme::Generic),
    }
}

fn sorted_licenses(c: &InputComponent) -> Vec<String> {
    let set: BTreeSet<&str> = c.licenses.iter().map(String::as_str).collect();
    set.into_iter().map(str::to_string).collect()
}

fn diff_component(package: &str, eco: &Option<String>, c: &InputComponent) -> InputDiffComponent {
    InputDiffComponent {
        package: package.to_string(),
        key: c.key.clone(),
        name: c.name.clone(),
        version: c.version.clone(),
        ecosystem: eco.clone(),
        purl: c.purl.clone(),
        licenses: sorted_licenses(c),
    }
}

struct Group<'a> {
    eco: Option<String>,
    scheme: Scheme,
    base: Vec<&'a InputComponent>,
    cand: Vec<&'a InputComponent>,
}

fn components<'a>(
    base: &'a [InputComponent],
    cand: &'a [InputComponent],
) -> (InputComponentChanges, Vec<InputLicenseChange>) {
    let mut groups: BTreeMap<String, Group<'a>> = BTreeMap::new();
    for (side, list) in [(0, base), (1, cand)] {
        for c in list {
            let (package, eco, scheme) = package_of(c);
            let g = groups.entry(package).or_insert_with(|| Group {
                eco,
                scheme,
                base: Vec::new(),
                cand: Vec::new(),
            });
            if side == 0 {
                g.base.push(c);
            } else {
                g.cand.push(c);
            }
        }
    }
    let mut out = InputComponentChanges::default();
    let mut licenses = Vec::new();
    for (package, g) in &groups {
        let scheme = g.scheme;
        let order = |a: &&InputComponent, b: &&InputComponent| {
            let (va, vb) = (a.version.as_deref(), b.version.as_deref());
            match (va, vb) {
                (Some(x), Some(y)) => scheme.compare(x, y).then_with(|| x.cmp(y)),
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
            .then_with(|| a.key.cmp(&b.key))
        };
        // One entry per version on each side (the same version under two qualifiers is one).
        let dedup = |list: &[&'a InputComponent]| -> Vec<&'a InputComponent> {
            let mut v = list.to_vec();
            v.sort_by(order);
            v.dedup_by(|a, b| a.version == b.version);
            v
        };
        let mut b_rest = dedup(&g.base);
        let mut c_rest = dedup(&g.cand);
        // The same version on both sides: unchanged (licenses may still differ).
        let mut same = Vec::new();
        b_rest.retain(
            |b| match c_rest.iter().position(|c| c.version == b.version) {
                Some(i) => {
                    same.push((*b, c_rest.remove(i)));
                    false
                }
                None => true,
            },
        );
        for (b, c) in &same {
            out.unchanged += 1;
            license_change(package, b, c, &mut licenses);
        }
        // Versions only on one side are paired from the highest down; what is left over was
        // added or removed. Components without a version pair only with each other (above).
        let b_versioned: Vec<&InputComponent> = b_rest
            .iter()
            .copied()
            .filter(|c| c.version.is_some())
            .collect();
        let c_versioned: Vec<&InputComponent> = c_rest
            .iter()
            .copied()
            .filter(|c| c.version.is_some())
            .collect();
        let pairs = b_versioned.len().min(c_versioned.len());
        let b_paired = b_versioned.iter().rev().take(pairs);
        let c_paired = c_versioned.iter().rev().take(pairs);
        let mut paired: HashSet<&str> = HashSet::new();
        for (b, c) in b_paired.zip(c_paired) {
            paired.insert(b.key.as_str());
            paired.insert(c.key.as_str());
            let (Some(from), Some(to)) = (b.version.as_deref(), c.version.as_deref()) else {
                continue;
            };
            let change = InputVersionChange {
                package: package.clone(),
                name: c.name.clone(),
                ecosystem: g.eco.clone(),
                from: from.to_string(),
                to: to.to_string(),
                from_key: b.key.clone(),
                to_key: c.key.clone(),
            };
            match scheme.compare(from, to) {
                Ordering::Less => out.upgraded.push(change),
                Ordering::Greater => out.downgraded.push(change),
                // Written differently, the same version in the ecosystem's order.
                Ordering::Equal => out.unchanged += 1,
            }
            license_change(package, b, c, &mut licenses);
        }
        for b in b_rest.iter().filter(|b| !paired.contains(b.key.as_str())) {
            out.removed.push(diff_component(package, &g.eco, b));
        }
        for c in c_rest.iter().filter(|c| !paired.contains(c.key.as_str())) {
            out.added.push(diff_component(package, &g.eco, c));
        }
    }
    let by_component = |a: &InputDiffComponent, b: &InputDiffComponent| {
        (&a.package, &a.version, &a.key).cmp(&(&b.package, &b.version, &b.key))
    };
    out.added.sort_by(by_component);
    out.removed.sort_by(by_component);
    let by_change = |a: &InputVersionChange, b: &InputVersionChange| {
        (&a.package, &a.from, &a.to).cmp(&(&b.package, &b.from, &b.to))
    };
    out.upgraded.sort_by(by_change);
    out.downgraded.sort_by(by_change);
    licenses.sort_by(|a, b| {
        (&a.package, &a.from_version, &a.to_version).cmp(&(
            &b.package,
            &b.from_version,
            &b.to_version,
        ))
    });
    (out, licenses)
}

fn license_change(
    package: &str,
    b: &InputComponent,
    c: &InputComponent,
    out: &mut Vec<InputLicenseChange>,
) {
    let (from, to) = (sorted_licenses(b), sorted_licenses(c));
    if from != to {
        out.push(InputLicenseChange {
            package: package.to_string(),
            name: c.name.clone(),
            from_version: b.version.clone(),
            to_version: c.version.clone(),
            from,
            to,
        });
    }
}

// ----------------------------------------------------------------------------- findings

/// The finding's key with the component's version left out: `vuln:<ID>|<package>` for a
/// package finding, the key itself otherwise (code, DAST, IaC findings carry no version).
pub fn match_key(f: &InputFinding) -> String {
    let (Some(c), Some(rest)) = (&f.component, f.key.strip_prefix("vuln:")) else {
        return f.key.clone();
    };
    let id = rest.split('|').next().unwrap_or(rest);
    let package = c
        .purl
        .as_deref()
        .and_then(|p| Purl::parse(p).ok())
        .map(|p| p.without_version().to_string())
        .unwrap_or_else(|| c.name.clone());
    format!("vuln:{id}|{package}")
}

fn diff_finding(match_key: String, f: &InputFinding) -> InputDiffFinding {
    InputDiffFinding {
        match_key,
        key: f.key.clone(),
        kind: f.kind.clone(),
        id: f.id.clone(),
        aliases: f.aliases.clone(),
        severity: f.severity.clone(),
        component: f.component.clone(),
        fixed_versions: f.fixed_versions.clone(),
        vex_state: f.vex_state.clone(),
        suppressed: f.suppressed.clone(),
    }
}

fn findings(base: &[InputFinding], cand: &[InputFinding]) -> InputFindingChanges {
    let base_keyed: Vec<(String, &InputFinding)> = base.iter().map(|f| (match_key(f), f)).collect();
    let cand_keyed: Vec<(String, &InputFinding)> = cand.iter().map(|f| (match_key(f), f)).collect();
    let in_base: HashSet<&str> = base_keyed.iter().map(|(k, _)| k.as_str()).collect();
    let in_cand: HashSet<&str> = cand_keyed.iter().map(|(k, _)| k.as_str()).collect();
    let mut out = InputFindingChanges::default();
    for (k, f) in &cand_keyed {
        if in_base.contains(k.as_str()) {
            out.unchanged += 1;
        } else {
            out.new.push(diff_finding(k.clone(), f));
        }
    }
    for (k, f) in &base_keyed {
        if !in_cand.contains(k.as_str()) {
            out.fixed.push(diff_finding(k.clone(), f));
        }
    }
    let order = |a: &InputDiffFinding, b: &InputDiffFinding| {
        (&a.match_key, &a.key).cmp(&(&b.match_key, &b.key))
    };
    out.new.sort_by(order);
    out.fixed.sort_by(order);
    out
}

// ----------------------------------------------------------------------------- provenance

fn facts(attestations: &[InputAttestation]) -> InputProvenanceFacts {
    let with_facts: Vec<&InputAttestation> = attestations
        .iter()
        .filter(|a| a.builder_id.is_some() || a.source_repo.is_some() || a.source_commit.is_some())
        .collect();
    let verified = with_facts.iter().any(|a| a.verified);
    let used: Vec<&InputAttestation> = with_facts
        .into_iter()
        .filter(|a| a.verified || !verified)
        .collect();
    let set = |get: fn(&InputAttestation) -> Option<&String>| -> Vec<String> {
        let s: BTreeSet<&String> = used.iter().filter_map(|a| get(a)).collect();
        s.into_iter().cloned().collect()
    };
    InputProvenanceFacts {
        verified,
        attestations: used.len() as u64,
        builders: set(|a| a.builder_id.as_ref()),
        source_repos: set(|a| a.source_repo.as_ref()),
        source_commits: set(|a| a.source_commit.as_ref()),
    }
}

/// A source repository as written in different places made comparable: `git+` and `.git`
/// and a trailing slash dropped, lower-cased.
pub fn normalized_repo(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix("git+").unwrap_or(s);
    let s = s.trim_end_matches('/');
    let s = s.strip_suffix(".git").unwrap_or(s);
    s.to_ascii_lowercase()
}

fn provenance(base: &[InputAttestation], cand: &[InputAttestation]) -> InputProvenanceChange {
    let (b, c) = (facts(base), facts(cand));
    let mut changed = Vec::new();
    type Normalize = fn(&str) -> String;
    let fields: [(&str, &Vec<String>, &Vec<String>, Normalize); 3] = [
        ("builder", &b.builders, &c.builders, |s| {
            s.trim().to_string()
        }),
        (
            "source_repo",
            &b.source_repos,
            &c.source_repos,
            normalized_repo,
        ),
        ("source_commit", &b.source_commits, &c.source_commits, |s| {
            s.trim().to_ascii_lowercase()
        }),
    ];
    for (field, from, to, norm) in fields {
        if from.is_empty() || to.is_empty() {
            continue;
        }
        let nf: BTreeSet<String> = from.iter().map(|s| norm(s)).collect();
        let nt: BTreeSet<String> = to.iter().map(|s| norm(s)).collect();
        if nf != nt {
            changed.push(InputProvenanceFieldChange {
                field: field.into(),
                from: from.clone(),
                to: to.clone(),
            });
        }
    }
    InputProvenanceChange {
        baseline: b,
        candidate: c,
        changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(purl: Option<&str>, name: &str, version: Option<&str>, lic: &[&str]) -> InputComponent {
        InputComponent {
            key: purl
                .map(str::to_string)
                .unwrap_or_else(|| format!("{name}@{}", version.unwrap_or(""))),
            purl: purl.map(str::to_string),
            name: name.into(),
            version: version.map(str::to_string),
            ecosystem: None,
            licenses: lic.iter().map(|s| s.to_string()).collect(),
            sources: Vec::new(),
        }
    }

    #[test]
    fn versions_are_ordered_by_the_ecosystem_not_as_text() {
        let base = [comp(
            Some("pkg:deb/debian/libpq5@11.9-0+deb10u1?arch=amd64"),
            "libpq5",
            Some("11.9-0+deb10u1"),
            &[],
        )];
        let cand = [comp(
            Some("pkg:deb/debian/libpq5@11.10-0+deb10u1?arch=amd64"),
            "libpq5",
            Some("11.10-0+deb10u1"),
            &[],
        )];
        let (c, _) = components(&base, &cand);
        assert_eq!(c.upgraded.len(), 1, "{c:?}");
        assert_eq!(c.upgraded[0].package, "pkg:deb/debian/libpq5");
        assert!(c.downgraded.is_empty());
        let (c, _) = components(&cand, &base);
        assert_eq!(c.downgraded.len(), 1);
        assert_eq!(c.downgraded[0].from, "11.10-0+deb10u1");
    }

    #[test]
    fn several_versions_of_one_package_pair_from_the_top() {
        let base = [
            comp(None, "Django", Some("1.11.29"), &["BSD"]),
            comp(None, "Django", Some("2.2.18"), &["BSD"]),
        ];
        let cand = [
            comp(None, "Django", Some("1.11.29"), &["BSD"]),
            comp(None, "Django", Some("2.2.20"), &["BSD"]),
            comp(None, "Django", Some("3.2"), &["BSD"]),
        ];
        let (c, l) = components(&base, &cand);
        assert_eq!(c.unchanged, 1);
        assert_eq!(c.upgraded.len(), 1);
        assert_eq!(
            (c.upgraded[0].from.as_str(), c.upgraded[0].to.as_str()),
            ("2.2.18", "3.2")
        );
        assert_eq!(c.added.len(), 1);
        assert_eq!(c.added[0].version.as_deref(), Some("2.2.20"));
        assert!(l.is_empty());
    }

    #[test]
    fn a_vulnerability_kept_across_an_upgrade_is_neither_new_nor_fixed() {
        let f = |v: &str| InputFinding {
            key: format!("vuln:CVE-1|pkg:pypi/pip@{v}"),
            kind: "vulnerability".into(),
            id: "CVE-1".into(),
            component: Some(portcullis_policy::input::InputFindingComponent {
                purl: Some(format!("pkg:pypi/pip@{v}")),
                name: "pip".into(),
                version: Some(v.into()),
            }),
            ..InputFinding::default()
        };
        let d = findings(&[f("20.3.3")], &[f("21.0.1")]);
        assert!(d.new.is_empty() && d.fixed.is_empty());
        assert_eq!(d.unchanged, 1);
    }

    #[test]
    fn repositories_compare_without_git_decorations() {
        assert_eq!(
            normalized_repo("git+https://github.com/Acme/Shop.git/"),
            normalized_repo("https://github.com/acme/shop")
        );
    }
}
