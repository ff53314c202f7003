//! The decision service: the firewall on its store, the one door every way in goes through —
//! `portcullis gate` (local store or `--server`), `POST /v1/decisions`, the admission webhook,
//! the dashboard, re-gating and replay. A decision is made, recorded and acted on here (the
//! diff baseline looked up, the decision recorded before anyone hears of it, a break-glass
//! override checked and recorded); records change here (advisories with their impact,
//! exceptions with one validation and one definition of expiry, deployments, evidence uploads,
//! tokens). Entry points only translate their input into these calls and the results into
//! their output; what happens is told to [`Observer`]s (the server's metrics and
//! notifications), whichever door it came through.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use portcullis_evidence::Limits;
use portcullis_store::{
    Change, DecisionRow, Entry, OverrideRow, PackageInUse, Store, StoreError, TokenRow, Write,
    kinds,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::access::{AccessError, Actor, Permission, Role};
use crate::admission::{
    self, AdmissionConfig, AdmissionFacts, FailureMode, ImageFact, RecordMode, RecordedDecision,
    RecordedOverride,
};
use crate::decision::{ArtifactId, Decision};
use crate::diff::{DiffError, DiffReport};
use crate::engine_rules;
use crate::exceptions::{CompiledException, Exception};
use crate::record::{Documents, RecordError, Replay, blob_kinds, load_decision};
use crate::registry::{self, AdvisoryDoc, Registry, RegistryError};
pub use crate::registry::{AdvisoryAdded, ExceptionState, ExceptionStatus, Granted};
use crate::request::{DecisionRequest, EvidenceDoc, EvidenceFile};
use crate::rules::RuleInfo;
use crate::setup::Loaded;
use crate::{BlockedAdvisory, Firewall, sha256};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The actor's role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// The request is wrong.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// The record exists already, or is in a state that forbids the change.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A decision was made but could not be recorded: nobody may act on it.
    #[error("decision {id} could not be recorded: {source}")]
    NotRecorded { id: String, source: RecordError },
    /// A recorded decision could not be read back (replay, re-gating).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// What runs in the environment could not be read for the diff.
    #[error("the diff baseline (what runs in the environment) could not be read: {0}")]
    Baseline(String),
    /// The image could not be resolved, or what is attached to it could not be listed: no
    /// decision (never an allow on evidence that could not be read).
    #[error(transparent)]
    Registry(#[from] portcullis_registry::RegistryError),
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    /// Nothing was done because the database does not answer: the same request may succeed
    /// later (the server answers 503).
    pub fn is_unavailable(&self) -> bool {
        match self {
            ServiceError::Store(e)
            | ServiceError::Record(RecordError::Store(e))
            | ServiceError::NotRecorded {
                source: RecordError::Store(e),
                ..
            } => e.is_unavailable(),
            _ => false,
        }
    }
}

impl From<crate::names::NameError> for ServiceError {
    fn from(e: crate::names::NameError) -> Self {
        Self::Invalid(e.to_string())
    }
}

/// The request's environment, artifact and pipeline names follow the rule of [`crate::names`].
fn check_names(request: &DecisionRequest) -> Result<(), crate::names::NameError> {
    use crate::names::{NameKind, check};
    check(NameKind::Environment, &request.environment)?;
    check(NameKind::Artifact, &request.artifact.name)?;
    if let Some(p) = &request.context.pipeline {
        check(NameKind::Pipeline, p)?;
    }
    Ok(())
}

impl From<RegistryError> for ServiceError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Store(e) => Self::Store(e),
            RegistryError::Forbidden(m) => Self::Forbidden(m),
            RegistryError::Internal(m) => Self::Internal(m),
            RegistryError::Invalid(m) => Self::Invalid(m),
            RegistryError::Conflict(m) => Self::Conflict(m),
            RegistryError::NotFound(m) => Self::NotFound(m),
        }
    }
}

impl From<AccessError> for ServiceError {
    fn from(e: AccessError) -> Self {
        RegistryError::from(e).into()
    }
}

/// What happened, for whoever watches (metrics, notifications, logs).
#[derive(Debug, Clone)]
pub enum Event {
    /// A decision was recorded (through any door, re-gating included).
    Decided {
        decision: Box<Decision>,
        /// How long deciding and recording took.
        took: Duration,
        by: String,
        /// The recorded decision this one re-gated.
        regated_from: Option<String>,
        overridden: bool,
    },
    /// A break-glass override let a denied deployment through.
    Overridden {
        decision: Box<Decision>,
        by: String,
        reason: String,
    },
    /// An advisory was added; these deployed artifacts contain a version it affects.
    AdvisoryImpact {
        advisory: String,
        affected: Vec<PackageInUse>,
    },
    /// A running artifact's posture changed (see `posture`): recorded as a `posture.changed`
    /// entry.
    PostureChanged(Box<crate::posture::Transition>),
    /// Re-gating of what runs: one artifact re-judged (`regated`: decided again rather than
    /// read from its latest decision), with the queue's length after it.
    Rejudged {
        environment: String,
        artifact: String,
        regated: bool,
        queued: usize,
        took: Duration,
        failed: bool,
    },
    /// The state in force was reloaded from the store (chain head `seq`).
    Reloaded { seq: u64 },
    /// A table row read to decide disagrees with its audit entry: nothing was decided from it.
    Tampered {
        table: String,
        key: String,
        reason: String,
    },
}

/// How an admission error caused by a tampered record starts: such a review is denied even
/// where the webhook fails open (an attack is not an outage).
const TAMPERED: &str = "the record was tampered with: ";

/// Told of every [`Event`]; must not block.
pub trait Observer: Send + Sync {
    fn notice(&self, event: &Event);
}

/// The firewall in force (advisories and exceptions of the store, plus those given as files)
/// and the documents it records with each decision. Replaced as a whole when advisories or
/// exceptions change, so a decision is made and recorded with one consistent state.
#[derive(Debug)]
pub struct Live {
    pub firewall: Firewall,
    pub docs: Documents,
    /// Digest → what the document is (`advisory ID (store)`, a file name), for reports.
    pub sources: BTreeMap<String, String>,
}

/// A request for a decision, with the bytes of its evidence (what the record keeps).
#[derive(Debug)]
pub struct Ask {
    pub request: DecisionRequest,
    pub documents: Documents,
    pub actor: Actor,
    /// A break-glass override: the deployment goes on whatever the decision, on the record.
    pub override_reason: Option<String>,
    /// An image reference (tag or digest): resolved once, and everything attached to it in
    /// its registry is fetched and decided on with the request's own evidence.
    pub image: Option<String>,
}

/// A break-glass override as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OverrideRecord {
    pub by: String,
    pub reason: String,
    pub audit_entry: Option<u64>,
}

/// A recorded decision and what a caller needs to render it.
#[derive(Debug, Clone)]
pub struct Decided {
    /// As recorded, with its place in the chain.
    pub decision: Decision,
    /// What `portcullis gate` exits with: 0 allowed (or overridden), 1 denied, 2 errors.
    pub exit_code: u8,
    /// The rules' metadata and actions in the decision's environment.
    pub rules: Vec<RuleInfo>,
    pub overridden: Option<OverrideRecord>,
    /// The request as decided (its diff baseline filled in).
    pub request: DecisionRequest,
}

/// A workload under admission review, as the server read it off the wire.
#[derive(Debug, Clone)]
pub struct Review {
    pub uid: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT`.
    pub operation: String,
    pub dry_run: bool,
    pub user: Option<String>,
    /// The object (None for a DELETE).
    pub object: Option<Value>,
    /// The AdmissionReview as received (`{"request": …}`).
    pub raw: Value,
}

impl Review {
    /// `Kind namespace/name`, as a kubectl user reads it.
    pub fn what(&self) -> String {
        let name = if self.name.is_empty() {
            self.object
                .as_ref()
                .and_then(|o| o.pointer("/metadata/generateName"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        } else {
            self.name.clone()
        };
        if self.namespace.is_empty() {
            format!("{} {name}", self.kind)
        } else {
            format!("{} {}/{name}", self.kind, self.namespace)
        }
    }
}

/// The firewall's answer to an admission review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Admission {
    pub allowed: bool,
    /// What a denied user reads: one line per reason, each with its rule id.
    pub message: Option<String>,
    pub warnings: Vec<String>,
    pub environment: String,
}

/// A recorded decision as admission reads it.
struct Recorded {
    decision: RecordedDecision,
    /// Its audit entry.
    seq: i64,
    /// Made by the admission webhook from registry evidence.
    by_webhook: bool,
}

/// What the webhook judged an image by, and under which state in force.
#[derive(Debug, Clone)]
struct Judged {
    decision: RecordedDecision,
    /// [`DecisionService::state_generation`] when it was looked up.
    generation: u64,
}

/// Why no decision could be had for an image under admission review.
#[derive(Debug, Clone, thiserror::Error)]
enum AdmissionLookupError {
    /// The store could not be read (a tampered row among the reasons), as
    /// [`DecisionService::store_failure`] says it.
    #[error("{0}")]
    Store(String),
    /// Its registry could not be reached in time, or what it holds not decided on.
    #[error("{0}")]
    Registry(String),
}

/// A table row that does not match its audit entry.
fn altered(what: String, seq: i64) -> StoreError {
    StoreError::Corrupt {
        what,
        message: format!(
            "the row does not match audit entry {seq}: the record was altered (run `portcullis audit verify`)"
        ),
    }
}

/// The audit entry kind of a recorded admission review.
pub const ADMISSION_REVIEWED: &str = "admission.reviewed";

/// The firewall on its store.
/// How many policy evaluations run at once: the cores this process may use.
pub fn evaluation_slots() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

pub struct DecisionService {
    store: Store,
    registry: Registry,
    /// Compiled policies, configuration, KEV, Gatekeeper and trust; no advisories or
    /// exceptions (each new state is forked from it).
    base: Firewall,
    base_docs: Documents,
    base_sources: BTreeMap<String, String>,
    /// Given as files (a local gate): in force beside the store's.
    file_advisories: Vec<BlockedAdvisory>,
    file_exceptions: Vec<CompiledException>,
    limits: Limits,
    admission: AdmissionConfig,
    /// How registries are reached, and the client (made at first use: a service that never
    /// fetches never reads a Docker config).
    oci_settings: portcullis_registry::RegistrySettings,
    oci: tokio::sync::OnceCell<portcullis_registry::Registry>,
    live: RwLock<Arc<Live>>,
    /// One reload at a time: a reload that read the store before a change never replaces one
    /// that read it after.
    reloading: tokio::sync::Mutex<()>,
    /// Policy evaluations running at once: one per core ([`evaluation_slots`]). Evaluation is
    /// CPU-bound, so more at once decide no faster; and each would hold a thread of tokio's
    /// blocking pool (up to 512), which keeps its allocator heap when idle, so that one burst
    /// (a stalled disk, a paused machine) would raise the server's memory for good. Waiting
    /// here costs no thread.
    evaluations: tokio::sync::Semaphore,
    /// The head of the chain when the live state was loaded: a change at or before it is in
    /// that state already.
    loaded_seq: AtomicU64,
    observers: RwLock<Vec<Arc<dyn Observer>>>,
    /// The decision each (image digest, environment) was judged by at admission where the
    /// webhook decides from registries: bounded, each entry kept `cache_ttl_seconds`, dropped
    /// when the state in force is replaced or a decision for it is recorded here.
    admission_cache: moka::future::Cache<(String, String), Judged>,
    /// Bumped each time the state in force is replaced: an entry of `admission_cache` looked
    /// up under another is not used.
    state_generation: AtomicU64,
    /// The head of the chain once the state in force was in place: a decision the webhook
    /// recorded at or before it was made under an earlier state, and is made again.
    state_seq: AtomicU64,
    /// Images being decided from their registries, over all reviews.
    registry_slots: tokio::sync::Semaphore,
}

impl std::fmt::Debug for DecisionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionService")
            .field("store", &self.store.location())
            .field("loaded_seq", &self.loaded_seq)
            .finish_non_exhaustive()
    }
}

fn poisoned<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

impl DecisionService {
    /// Run a policy evaluation off the async workers, when one of the
    /// [`evaluation_slots`] is free.
    async fn evaluate<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, tokio::task::JoinError> {
        // The semaphore is never closed; were it, evaluating without a slot is still right.
        let _slot = self.evaluations.acquire().await.ok();
        tokio::task::spawn_blocking(f).await
    }

    /// The firewall `loaded` on `store`, with the advisories and exceptions in force there.
    pub async fn open(
        store: Store,
        loaded: Loaded,
        admission: AdmissionConfig,
    ) -> Result<Self, ServiceError> {
        let Loaded {
            firewall,
            docs,
            advisories,
            exceptions,
            files,
            notes: _,
            registry: oci_settings,
        } = loaded;
        let limits = firewall.limits();
        admission.check().map_err(ServiceError::Invalid)?;
        let admission_cache = moka::future::Cache::builder()
            .max_capacity(admission.cache_max_entries)
            .time_to_live(Duration::from_secs(admission.cache_ttl_seconds))
            .build();
        let registry_slots = tokio::sync::Semaphore::new(admission.registry_concurrency);
        let service = Self {
            registry: Registry::new(store.clone(), limits),
            store,
            live: RwLock::new(Arc::new(Live {
                firewall: firewall.fork(),
                docs: docs.clone(),
                sources: files.clone(),
            })),
            base: firewall,
            base_docs: docs,
            base_sources: files,
            file_advisories: advisories,
            file_exceptions: exceptions,
            limits,
            admission,
            oci_settings,
            oci: tokio::sync::OnceCell::new(),
            reloading: tokio::sync::Mutex::new(()),
            evaluations: tokio::sync::Semaphore::new(evaluation_slots()),
            loaded_seq: AtomicU64::new(0),
            observers: RwLock::new(Vec::new()),
            admission_cache,
            state_generation: AtomicU64::new(0),
            state_seq: AtomicU64::new(0),
            registry_slots,
        };
        service.reload().await?;
        if service.admission.reaches_registries() {
            // The webhook reaches registries from its first review: their client (credentials,
            // CA bundles, the system's roots) is made now, and a mistake in its settings stops
            // the start rather than every review.
            service.oci().await?;
        }
        Ok(service)
    }

    /// Tell `observer` of every event from now on.
    pub fn observe(&self, observer: Arc<dyn Observer>) {
        match self.observers.write() {
            Ok(mut g) => g.push(observer),
            Err(p) => p.into_inner().push(observer),
        }
    }

    pub(crate) fn tell(&self, event: Event) {
        for o in poisoned(&self.observers) {
            o.notice(&event);
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn admission_config(&self) -> &AdmissionConfig {
        &self.admission
    }

    /// The state to decide with now.
    pub fn live(&self) -> Arc<Live> {
        poisoned(&self.live)
    }

    /// Compile `n` policy engines ahead of the first evaluations.
    pub fn warm(&self, n: usize) -> Result<(), ServiceError> {
        self.base
            .warm(n)
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// The chain head the state in force was loaded at.
    pub fn loaded_seq(&self) -> u64 {
        self.loaded_seq.load(Ordering::SeqCst)
    }

    /// The head of the chain once the state in force (advisories, exceptions) was in place: a
    /// decision recorded at or before it may have been made under an earlier state.
    pub fn state_seq(&self) -> u64 {
        self.state_seq.load(Ordering::SeqCst)
    }

    /// Rebuild the state in force from the advisories and exceptions in the store.
    pub async fn reload(&self) -> Result<(), ServiceError> {
        self.reload_unless_loaded(None).await
    }

    /// Reload, unless the state loaded already includes the chain up to `seq` (checked under
    /// the reload lock, so a change is loaded once however many ways its event arrives).
    pub async fn reload_unless_loaded(&self, seq: Option<u64>) -> Result<(), ServiceError> {
        let _one_at_a_time = self.reloading.lock().await;
        if seq.is_some_and(|s| s <= self.loaded_seq()) {
            return Ok(());
        }
        // Read the head first: everything up to it is in what is loaded below.
        let head = self.store.head().await?.map_or(0, |(seq, _)| seq);
        let mut docs = self.base_docs.clone();
        let mut sources = self.base_sources.clone();
        let mut advisories = self.file_advisories.clone();
        for (row, bytes, found) in registry::advisories_in_force(&self.store, &self.limits).await? {
            sources.insert(row.digest.clone(), format!("advisory {} (store)", row.id));
            docs.add(blob_kinds::ADVISORY, bytes);
            advisories.extend(found);
        }
        let mut exceptions = registry::exceptions_in_force(&self.store, Utc::now()).await?;
        exceptions.extend(self.file_exceptions.iter().cloned());
        let firewall = self
            .base
            .fork()
            .with_advisories(advisories)
            .with_exceptions(exceptions)
            .with_limits(self.limits);
        let live = Arc::new(Live {
            firewall,
            docs,
            sources,
        });
        match self.live.write() {
            Ok(mut g) => *g = live,
            Err(p) => *p.into_inner() = live,
        }
        self.state_replaced().await;
        let head = u64::try_from(head).unwrap_or(0);
        self.loaded_seq.fetch_max(head, Ordering::SeqCst);
        self.tell(Event::Reloaded { seq: head });
        Ok(())
    }

    /// The state in force was just replaced (advisories, exceptions; policies at start):
    /// what admission judged images by is forgotten, and the decisions the webhook made
    /// until now are made again when next asked for.
    async fn state_replaced(&self) {
        self.state_generation.fetch_add(1, Ordering::SeqCst);
        self.admission_cache.invalidate_all();
        // Read after the swap: a decision recorded after this head was made under the new
        // state (or, in flight during the swap, just before it). Unreadable: every webhook
        // decision so far counts as made under an earlier state.
        let seq = match self.store.head().await {
            Ok(h) => h.map_or(0, |(seq, _)| u64::try_from(seq).unwrap_or(u64::MAX)),
            Err(_) => u64::MAX,
        };
        self.state_seq.store(seq, Ordering::SeqCst);
    }

    /// After a change this service made (its audit entry `seq`): put it in force before
    /// answering. A failed reload is logged by the caller's observer, not fatal: the change is
    /// recorded, and the next reload takes it in.
    async fn reload_after(&self, seq: Option<u64>) -> Result<(), ServiceError> {
        self.reload_unless_loaded(seq).await
    }

    // ------------------------------------------------------------ decisions

    /// Whether `actor` may ask for a decision (with a break-glass override when
    /// `override_reason` is given): ci or admin decide; approver or admin override, with a
    /// reason. A door may ask this before reading a large request.
    pub fn may_ask(actor: &Actor, override_reason: Option<&str>) -> Result<(), ServiceError> {
        match override_reason {
            Some(reason) => {
                if !matches!(actor.role, Role::Approver | Role::Admin) {
                    return Err(ServiceError::Forbidden(format!(
                        "a break-glass override needs role approver or admin; {} has {}",
                        actor.name,
                        actor.role.as_str()
                    )));
                }
                if reason.trim().is_empty() {
                    return Err(ServiceError::Invalid(
                        "a break-glass override must give its reason".into(),
                    ));
                }
                Ok(())
            }
            None => Ok(actor.require(Permission::Decide, "requesting a decision")?),
        }
    }

    /// Decide on `ask`, record the decision with everything it was made from, and apply a
    /// break-glass override. Nothing is returned before it is on the record.
    pub async fn decide(&self, ask: Ask) -> Result<Decided, ServiceError> {
        let Ask {
            mut request,
            mut documents,
            actor,
            override_reason,
            image,
        } = ask;
        Self::may_ask(&actor, override_reason.as_deref())?;
        let started = Instant::now();
        if let Some(image) = image {
            self.pull_image(&image, &mut request, &mut documents)
                .await?;
        }
        check_names(&request)?;
        let live = self.live();
        let mut docs = live.docs.clone();
        docs.merge(&documents);
        let (decision, request) = self
            .decide_and_record(&live, request, &docs, &actor)
            .await?;
        let mut exit_code = decision.exit_code();
        let mut overridden = None;
        if let Some(reason) = override_reason
            && exit_code != 0
        {
            if decision.what_if {
                return Err(ServiceError::Invalid(
                    "a what-if evaluation is not recorded, so it cannot be overridden".into(),
                ));
            }
            overridden = Some(self.record_override(&decision, &actor, &reason).await?);
            exit_code = 0;
        }
        if decision.what_if {
            // Not a decision: nothing is recorded, counted or notified.
            let rules = live.firewall.rule_infos(&decision.environment);
            return Ok(Decided {
                decision,
                exit_code,
                rules,
                overridden: None,
                request,
            });
        }
        self.tell(Event::Decided {
            decision: Box::new(decision.clone()),
            took: started.elapsed(),
            by: actor.name.clone(),
            regated_from: None,
            overridden: overridden.is_some(),
        });
        if let Some(o) = &overridden {
            self.tell(Event::Overridden {
                decision: Box::new(decision.clone()),
                by: o.by.clone(),
                reason: o.reason.clone(),
            });
        }
        let rules = live.firewall.rule_infos(&decision.environment);
        Ok(Decided {
            decision,
            exit_code,
            rules,
            overridden,
            request,
        })
    }

    /// The registry client for the settings in force.
    pub async fn oci(&self) -> Result<&portcullis_registry::Registry, ServiceError> {
        let settings = &self.oci_settings;
        Ok(self
            .oci
            .get_or_try_init(|| async {
                portcullis_registry::Registry::new(settings, settings.limits())
            })
            .await?)
    }

    /// Resolve `image` and fetch what is attached: the request's artifact becomes the
    /// resolved digest (named by the reference unless the request names it), each document
    /// read goes in as evidence with its origin, each that cannot be read as unreadable
    /// evidence (the decision fails closed), and the rest is listed on the decision.
    async fn pull_image(
        &self,
        image: &str,
        request: &mut DecisionRequest,
        documents: &mut Documents,
    ) -> Result<(), ServiceError> {
        let pulled = self.oci().await?.pull(image).await?;
        let digest = &pulled.image.digest;
        if request.artifact.digest.is_empty() {
            request.artifact.digest = digest.clone();
        } else if request.artifact.digest != *digest {
            return Err(ServiceError::Invalid(format!(
                "the artifact is {} but image {image} resolves to {digest}: give one or the other, or the same digest",
                request.artifact.digest
            )));
        }
        if request.artifact.name.is_empty() {
            request.artifact.name = pulled.image.name();
        }
        for f in pulled.documents {
            let source = origin_source(&f.origin);
            match EvidenceDoc::parse(&source, &f.bytes, &self.limits) {
                Ok(mut doc) => {
                    doc.origin = Some(f.origin);
                    documents.add(blob_kinds::EVIDENCE, f.bytes);
                    request.evidence.push(doc);
                }
                Err(e) => request.unreadable.push(crate::request::UnreadableEvidence {
                    source,
                    digest: Some(f.origin.digest.clone()),
                    error: e.to_string(),
                }),
            }
        }
        for (origin, e) in pulled.failed {
            request.unreadable.push(crate::request::UnreadableEvidence {
                source: origin_source(&origin),
                digest: Some(origin.digest.clone()),
                error: e.to_string(),
            });
        }
        request.image = Some(crate::decision::ImagePull {
            reference: image.trim().to_string(),
            image: pulled.image,
            skipped: pulled.skipped,
        });
        Ok(())
    }

    /// The firewall's own facts, the diff baseline, the decision (off the async workers:
    /// evaluation is CPU work), and its record (none for a what-if evaluation).
    async fn decide_and_record(
        &self,
        live: &Arc<Live>,
        mut request: DecisionRequest,
        docs: &Documents,
        actor: &Actor,
    ) -> Result<(Decision, DecisionRequest), ServiceError> {
        crate::sources::establish(&self.store, &mut request, actor).await?;
        // The decision carries the diff against what the inventory says runs there.
        let baseline = live
            .firewall
            .baseline(&self.store, &request.environment, &request.artifact.name)
            .await
            .map_err(|e| match e {
                // The database does not answer: that, not a baseline of its own (a 503).
                crate::diff::DiffError::Store(s) if s.is_unavailable() => ServiceError::Store(s),
                e => ServiceError::Baseline(e.to_string()),
            })?;
        // What runs there is the inventory's; a previous deployment the request asserts is
        // kept (marked asserted) only where the inventory knows nothing and the request may
        // bring its own facts (the command line on its own store, a what-if evaluation).
        if let Some(p) = baseline.previous() {
            if let Some(claimed) = request.previous.take() {
                request.ignored.push(format!(
                    "previous {}@{}: what runs is the firewall's own inventory",
                    claimed.artifact.name, claimed.artifact.digest
                ));
            }
            request.previous = Some(p);
        }
        request.baseline = Some(baseline);
        let deciding = live.clone();
        let (mut decision, request) = self
            .evaluate(move || {
                let d = deciding.firewall.decide(&request);
                (d, request)
            })
            .await
            .map_err(|e| ServiceError::Internal(format!("the decision task failed: {e}")))?;
        if request.what_if {
            return Ok((decision, request));
        }
        live.firewall
            .record(&self.store, &request, &mut decision, docs)
            .await
            .map_err(|source| ServiceError::NotRecorded {
                id: decision.id.clone(),
                source,
            })?;
        self.decision_recorded(&decision.artifact.digest, &decision.environment)
            .await;
        Ok((decision, request))
    }

    async fn record_override(
        &self,
        decision: &Decision,
        actor: &Actor,
        reason: &str,
    ) -> Result<OverrideRecord, ServiceError> {
        let entries = self
            .store
            .append(vec![Change::new(
                kinds::OVERRIDE,
                json!({
                    "decision_id": decision.id, "artifact": decision.artifact,
                    "environment": decision.environment, "by": actor.name,
                    "role": actor.role.as_str(), "reason": reason,
                    "violations": decision.violations.iter().map(|v| v.rule.clone()).collect::<Vec<_>>(),
                }),
                vec![Write::Override(OverrideRow {
                    decision_id: decision.id.clone(),
                    seq: 0,
                    actor: actor.name.clone(),
                    reason: reason.to_string(),
                    at: registry::now(),
                })],
            )])
            .await?;
        self.decision_recorded(&decision.artifact.digest, &decision.environment)
            .await;
        Ok(OverrideRecord {
            by: actor.name.clone(),
            reason: reason.to_string(),
            audit_entry: entries.into_iter().flatten().next().map(|e| e.seq),
        })
    }

    /// Decide recorded decision `id` again, now, with the state in force (new advisories,
    /// exceptions granted or revoked since), and record it.
    pub async fn regate(&self, id: &str, actor: &Actor) -> Result<Decided, ServiceError> {
        if !(actor.may(Permission::Decide) || actor.may(Permission::Approve)) {
            return Err(ServiceError::Forbidden(format!(
                "re-gating needs role ci, approver or admin; {} has role {}",
                actor.name,
                actor.role.as_str()
            )));
        }
        if self.store.decision(id).await?.is_none() {
            return Err(ServiceError::NotFound(format!(
                "decision {id}: not in the store"
            )));
        }
        let started = Instant::now();
        let live = self.live();
        let mut docs = live.docs.clone();
        let request =
            crate::regate::stored_request(&self.store, id, &self.limits, &mut docs).await?;
        let (decision, request) = self.decide_and_record(&live, request, &docs, actor).await?;
        self.tell(Event::Decided {
            decision: Box::new(decision.clone()),
            took: started.elapsed(),
            by: actor.name.clone(),
            regated_from: Some(id.to_string()),
            overridden: false,
        });
        let rules = live.firewall.rule_infos(&decision.environment);
        Ok(Decided {
            exit_code: decision.exit_code(),
            decision,
            rules,
            overridden: None,
            request,
        })
    }

    /// Decide recorded decision `id` again from exactly what it was made from.
    pub async fn replay(&self, id: &str) -> Result<Replay, ServiceError> {
        Ok(crate::record::replay(&self.store, id).await?)
    }

    /// A recorded decision with its place in the chain (checked against the audit entry).
    pub async fn decision(&self, id: &str) -> Result<(DecisionRow, Decision), ServiceError> {
        if self.store.decision(id).await?.is_none() {
            return Err(ServiceError::NotFound(format!(
                "decision {id}: not in the store"
            )));
        }
        Ok(load_decision(&self.store, id).await?)
    }

    /// `artifact` compared with what runs in `environment` (on `evidence`, else on the
    /// evidence of its latest recorded decision).
    pub async fn diff(
        &self,
        environment: &str,
        artifact: &ArtifactId,
        evidence: Option<Vec<EvidenceDoc>>,
    ) -> Result<DiffReport, DiffError> {
        self.live()
            .firewall
            .diff_report(&self.store, environment, artifact, evidence)
            .await
    }

    // ------------------------------------------------------------ advisories

    // ------------------------------------------------------------ records

    /// The store's records, changed as an actor (without putting changes in force: the
    /// methods below do both).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Keep an evidence document for later decisions (`POST /v1/evidence`).
    pub async fn store_evidence(
        &self,
        name: &str,
        bytes: &[u8],
        actor: &Actor,
    ) -> Result<(EvidenceFile, Option<u64>), ServiceError> {
        Ok(self.registry.store_evidence(name, bytes, actor).await?)
    }

    /// Add advisories, put them in force, and record and tell the impact of each.
    pub async fn add_advisories(
        &self,
        docs: Vec<AdvisoryDoc>,
        actor: &Actor,
    ) -> Result<Vec<AdvisoryAdded>, ServiceError> {
        let added = self.registry.add_advisories(docs, actor).await?;
        self.reload_after(added.iter().map(|a| a.entry.seq).max())
            .await?;
        for a in added.iter().filter(|a| !a.affected.is_empty()) {
            self.tell(Event::AdvisoryImpact {
                advisory: a.id.clone(),
                affected: a.affected.clone(),
            });
        }
        Ok(added)
    }

    pub async fn withdraw_advisory(
        &self,
        id: &str,
        actor: &Actor,
        reason: &str,
    ) -> Result<Entry, ServiceError> {
        let e = self.registry.withdraw_advisory(id, actor, reason).await?;
        self.reload_after(Some(e.seq)).await?;
        Ok(e)
    }

    /// Every deployed artifact holding a version advisory `id` affects, now.
    pub async fn advisory_impact(&self, id: &str) -> Result<Vec<PackageInUse>, ServiceError> {
        Ok(self.registry.advisory_impact(id).await?)
    }

    /// Grant exceptions (checked: every field, an expiry still ahead) and put them in force.
    pub async fn grant_exceptions(
        &self,
        list: Vec<Exception>,
        actor: &Actor,
    ) -> Result<Vec<Granted>, ServiceError> {
        let granted = self.registry.grant_exceptions(list, actor).await?;
        self.reload_after(granted.iter().map(|g| g.entry.seq).max())
            .await?;
        Ok(granted)
    }

    pub async fn revoke_exception(
        &self,
        id: &str,
        actor: &Actor,
        reason: &str,
    ) -> Result<Entry, ServiceError> {
        let e = self.registry.revoke_exception(id, actor, reason).await?;
        self.reload_after(Some(e.seq)).await?;
        Ok(e)
    }

    /// Approve one artifact digest for one environment (role approver or admin).
    pub async fn grant_approval(
        &self,
        grant: &crate::approvals::ApprovalGrant,
        actor: &Actor,
    ) -> Result<(portcullis_store::ApprovalRow, Entry), ServiceError> {
        Ok(crate::approvals::grant(&self.store, grant, actor).await?)
    }

    /// Revoke approval `id` (role approver or admin).
    pub async fn revoke_approval(
        &self,
        id: &str,
        actor: &Actor,
        reason: &str,
    ) -> Result<Entry, ServiceError> {
        Ok(crate::approvals::revoke(&self.store, id, actor, reason).await?)
    }

    /// Approvals with their status now, newest first (revoked ones too with `all`).
    pub async fn approvals(
        &self,
        artifact_digest: Option<&str>,
        environment: Option<&str>,
        all: bool,
    ) -> Result<
        Vec<(
            portcullis_store::ApprovalRow,
            crate::approvals::ApprovalStatus,
        )>,
        ServiceError,
    > {
        let now = Utc::now();
        Ok(self
            .store
            .approvals(artifact_digest, environment, all)
            .await?
            .into_iter()
            .map(|r| {
                let st = crate::approvals::ApprovalStatus::of(&r, now);
                (r, st)
            })
            .filter(|(_, st)| all || *st == crate::approvals::ApprovalStatus::Active)
            .collect())
    }

    /// Record verification and exposure results measured by `actor` (role verifier or admin).
    pub async fn record_facts(
        &self,
        facts: &crate::sources::FactsToRecord,
        actor: &Actor,
    ) -> Result<Vec<portcullis_store::RecordedFactRow>, ServiceError> {
        Ok(crate::sources::record(&self.store, facts, actor).await?)
    }

    /// The watches of the hours after each deployment: started, checked and ended through
    /// it; read by anyone who may read.
    pub fn watches(&self) -> crate::watch::Watches<'_> {
        crate::watch::Watches::new(&self.store)
    }

    /// The stored exceptions with their status now (revoked ones too with `all`).
    pub async fn exceptions(&self, all: bool) -> Result<Vec<ExceptionState>, ServiceError> {
        Ok(self.registry.exceptions(all).await?)
    }

    /// Record that `artifact` now runs in `environment`.
    pub async fn record_deployment(
        &self,
        artifact: &ArtifactId,
        environment: &str,
        actor: &Actor,
    ) -> Result<(Entry, Option<DecisionRow>), ServiceError> {
        Ok(self
            .registry
            .record_deployment(artifact, environment, actor)
            .await?)
    }

    /// The posture of `environment`: every running artifact with its state, rules and time
    /// in that state.
    pub async fn posture(
        &self,
        environment: &str,
    ) -> Result<crate::posture::EnvironmentPosture, ServiceError> {
        crate::names::check(crate::names::NameKind::Environment, environment)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        Ok(crate::posture::read(&self.store, environment).await?)
    }

    /// Every environment something runs in, with its running artifacts counted by state.
    pub async fn environments(
        &self,
    ) -> Result<Vec<crate::posture::EnvironmentSummary>, ServiceError> {
        Ok(crate::posture::environments(&self.store).await?)
    }

    /// Replace what runs in `environment` with `running` (a whole report of it, from
    /// `source`): deployments and removals, then one snapshot.
    pub async fn sync_inventory(
        &self,
        environment: &str,
        running: &[ArtifactId],
        source: &str,
        actor: &Actor,
    ) -> Result<crate::inventory::Synced, ServiceError> {
        actor.require(Permission::Decide, "reporting what runs")?;
        Ok(crate::inventory::sync(&self.store, environment, running, &actor.name, source).await?)
    }

    /// Record that `name` no longer runs in `environment` (None: it did not run there).
    pub async fn remove_deployment(
        &self,
        environment: &str,
        name: &str,
        actor: &Actor,
    ) -> Result<Option<Entry>, ServiceError> {
        actor.require(Permission::Decide, "recording a removal")?;
        Ok(crate::inventory::remove(&self.store, environment, name, &actor.name, None).await?)
    }

    /// The snapshots of `environment` (all environments: None) taken in [from, to), newest
    /// first, at most `limit`.
    pub async fn snapshots(
        &self,
        environment: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        limit: i64,
    ) -> Result<Vec<portcullis_store::SnapshotRow>, ServiceError> {
        Ok(self.store.snapshots(environment, from, to, limit).await?)
    }

    /// Snapshot `seq` of `environment` (NotFound when it is not one of that environment's).
    pub async fn snapshot(
        &self,
        environment: &str,
        seq: i64,
    ) -> Result<portcullis_store::SnapshotRow, ServiceError> {
        match self.store.snapshot(seq).await? {
            Some(s) if s.environment == environment => Ok(s),
            _ => Err(ServiceError::NotFound(format!(
                "snapshot {seq} of {environment}: not in the store"
            ))),
        }
    }

    /// What changed in `environment` from snapshot `a` to snapshot `b` (the latest when None).
    pub async fn snapshot_diff(
        &self,
        environment: &str,
        a: i64,
        b: Option<i64>,
    ) -> Result<crate::inventory::SnapshotDiff, ServiceError> {
        let first = self.snapshot(environment, a).await?;
        let second = match b {
            Some(b) => self.snapshot(environment, b).await?,
            None => self
                .store
                .snapshots(Some(environment), None, None, 1)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    ServiceError::NotFound(format!("{environment}: no snapshot in the store"))
                })?,
        };
        Ok(crate::inventory::diff_snapshots(&first, &second))
    }

    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        actor: &Actor,
    ) -> Result<(String, TokenRow), ServiceError> {
        Ok(self.registry.create_token(name, role, actor).await?)
    }

    pub async fn revoke_token(&self, id: &str, actor: &Actor) -> Result<u64, ServiceError> {
        Ok(self.registry.revoke_token(id, actor).await?)
    }

    // ------------------------------------------------------------ admission

    /// Judge a workload under admission review: its images (PCL-ADM-001..003, from what the
    /// store says of each digest) and its pod spec (the library's PCL-K8S-* rules and the
    /// Gatekeeper constraints), with the environment's actions and the exceptions in force;
    /// record the answer as the settings say (never for a dry run); fail closed or open
    /// (PCL-ADM-004) when it cannot be judged.
    pub async fn admit(&self, review: &Review, actor: &Actor) -> Result<Admission, ServiceError> {
        if !self.admission.anonymous {
            actor.require(Permission::Decide, "an admission review")?;
        }
        let target = self.admission.target(&review.namespace);
        let mut answer = Admission {
            allowed: true,
            message: None,
            warnings: Vec::new(),
            environment: target.environment.clone(),
        };
        let op = review.operation.to_ascii_uppercase();
        if op == "DELETE"
            && admission::KINDS.contains(&review.kind.as_str())
            && !review.dry_run
            && self.admission.record_inventory
        {
            // What the deleted workload ran no longer runs (its old object is in the review).
            if let Some(old) = review.raw.pointer("/request/oldObject")
                && !admission::controlled(old)
            {
                let images = crate::inventory::pinned_images(&review.kind, old);
                if let Err(e) = crate::inventory::deleted(
                    &self.store,
                    &target.environment,
                    &images,
                    &actor.name,
                    &format!("admission {}", review.what()),
                )
                .await
                {
                    // A deletion cannot be refused for it: the posture keeps the artifact
                    // until the next inventory sync says otherwise.
                    answer.warnings.push(format!(
                        "portcullis could not record that {} stopped: {e}",
                        review.what()
                    ));
                }
            }
            return Ok(answer);
        }
        if op == "DELETE" || op == "CONNECT" || !admission::KINDS.contains(&review.kind.as_str()) {
            return Ok(answer);
        }
        let what = review.what();
        let (mut denials, mut warnings, excepted) =
            match self.judge_workload(review, &target, actor).await {
                Ok(found) => found,
                Err(e) => {
                    let line = format!(
                        "{} portcullis could not evaluate {what}: {e}",
                        engine_rules::ADM_ERROR.id
                    );
                    match target.failure {
                        _ if e.starts_with(TAMPERED) => {
                            (vec![format!("{line} (failing closed)")], vec![], vec![])
                        }
                        FailureMode::Closed => {
                            (vec![format!("{line} (failing closed)")], vec![], vec![])
                        }
                        FailureMode::Open => (
                            vec![],
                            vec![format!("{line} (failing open: admitted)")],
                            vec![],
                        ),
                    }
                }
            };
        let record = match self.admission.record {
            RecordMode::All => true,
            RecordMode::Denied => !denials.is_empty(),
            RecordMode::None => false,
        };
        if record && !review.dry_run {
            let body = json!({
                "uid": review.uid, "object": what, "namespace": review.namespace,
                "environment": target.environment, "operation": review.operation,
                "user": review.user,
                "allowed": denials.is_empty(),
                "denials": denials, "warnings": warnings, "excepted": excepted,
            });
            if let Err(e) = self
                .store
                .append(vec![Change::new(ADMISSION_REVIEWED, body, vec![])])
                .await
                && target.failure == FailureMode::Closed
            {
                denials = vec![format!(
                    "{} portcullis could not record its answer for {what}: {e} (failing closed)",
                    engine_rules::ADM_ERROR.id
                )];
                warnings.clear();
            }
        }
        // Admitted: what it runs is now in the inventory (its posture judged from here on).
        if denials.is_empty()
            && !review.dry_run
            && self.admission.record_inventory
            && let Some(object) = review.object.as_ref()
            && !admission::controlled(object)
            && let Err(e) = crate::inventory::admitted(
                &self.store,
                &target.environment,
                &crate::inventory::pinned_images(&review.kind, object),
                &actor.name,
                &format!("admission {what}"),
            )
            .await
        {
            let line = format!(
                "{} portcullis could not record what {what} runs: {e}",
                engine_rules::ADM_ERROR.id
            );
            match target.failure {
                FailureMode::Closed => denials = vec![format!("{line} (failing closed)")],
                FailureMode::Open => warnings.push(format!("{line} (failing open: admitted)")),
            }
        }
        if !denials.is_empty() {
            let mut msg = format!(
                "portcullis denied {what} in environment {}:",
                target.environment
            );
            for d in &denials {
                msg.push_str("\n- ");
                msg.push_str(d);
            }
            answer.allowed = false;
            answer.message = Some(msg);
        }
        answer.warnings = warnings;
        Ok(answer)
    }

    /// (denials, warnings, excepted) of a workload, or why it cannot be judged.
    async fn judge_workload(
        &self,
        review: &Review,
        target: &admission::Target,
        actor: &Actor,
    ) -> Result<(Vec<String>, Vec<String>, Vec<String>), String> {
        let object = review
            .object
            .as_ref()
            .ok_or_else(|| "the review carries no object".to_string())?;
        let kind = review.kind.as_str();
        let spec = admission::pod_spec(kind, object)
            .ok_or_else(|| format!("a {kind} without a pod template"))?;
        let env = &target.environment;
        let found = admission::images(spec);
        // Containers often share an image (an init container of the same build): each digest
        // is looked up, and decided, once.
        let mut digests: Vec<(&str, &str)> = Vec::new();
        for image in &found {
            if let Some(d) = &image.digest
                && !digests.iter().any(|(seen, _)| seen == d)
            {
                digests.push((d, &image.image));
            }
        }
        let mut latest: BTreeMap<String, Option<RecordedDecision>> = BTreeMap::new();
        // (digest, why no decision could be made for it)
        let mut unreachable: Vec<(String, String)> = Vec::new();
        if target.decide_from_registry {
            let deadline = tokio::time::Instant::now() + target.registry_budget;
            let looked_up = futures_util::future::join_all(digests.iter().map(|(d, image)| {
                self.admission_decision(image, d, target, review, actor, deadline)
            }))
            .await;
            for ((d, _), result) in digests.iter().zip(looked_up) {
                match result {
                    Ok(r) => {
                        latest.insert(d.to_string(), Some(r));
                    }
                    Err(AdmissionLookupError::Store(e)) => return Err(e),
                    Err(AdmissionLookupError::Registry(e)) => unreachable.push((d.to_string(), e)),
                }
            }
        } else {
            for (d, _) in &digests {
                let r = self
                    .recorded_decision(d, env)
                    .await
                    .map_err(|e| self.store_failure(&e))?;
                latest.insert(d.to_string(), r.map(|r| r.decision));
            }
        }
        // An image no decision could be made for: the review fails as the namespace says;
        // failing open admits that image alone (with a warning), the rest is judged as ever.
        let mut registry_warnings = Vec::new();
        if !unreachable.is_empty() {
            let lines: Vec<&str> = unreachable.iter().map(|(_, e)| e.as_str()).collect();
            match target.failure {
                FailureMode::Closed => return Err(lines.join("; ")),
                FailureMode::Open => {
                    for e in lines {
                        registry_warnings.push(format!(
                            "{} portcullis could not evaluate {}: {e} (failing open: admitted)",
                            engine_rules::ADM_ERROR.id,
                            review.what()
                        ));
                    }
                }
            }
        }
        let images: Vec<ImageFact> = found
            .into_iter()
            .filter(|image| {
                !unreachable
                    .iter()
                    .any(|(d, _)| image.digest.as_deref() == Some(d.as_str()))
            })
            .map(|image| {
                let latest = image
                    .digest
                    .as_ref()
                    .and_then(|d| latest.get(d).cloned().flatten());
                ImageFact { image, latest }
            })
            .collect();
        let bytes = serde_json::to_vec(object).map_err(|e| e.to_string())?;
        let artifact = ArtifactId {
            name: format!("k8s/{}/{kind}/{}", review.namespace, review.name),
            digest: sha256(&bytes),
        };
        let mut request = DecisionRequest::new(artifact, env.clone())
            .with_admission_review(&review.raw)
            .map_err(|e| format!("the object: {e}"))?;
        // The images and the pod spec: the artifact's evidence was judged at the gate (its
        // decision is what the image rules look up).
        request.rule_scope = Some(vec![
            "PCL-K8S-".into(),
            engine_rules::ADMISSION_PREFIX.into(),
        ]);
        request.admission = Some(AdmissionFacts {
            protected: target.protected,
            images,
        });
        let live = self.live();
        let decision = self
            .evaluate(move || live.firewall.decide(&request))
            .await
            .map_err(|e| e.to_string())?;
        if !decision.errors.is_empty() {
            return Err(format!("policy evaluation: {}", decision.errors.join("; ")));
        }
        let ours = |rule: &str| {
            rule.starts_with("PCL-K8S-")
                || rule.starts_with(engine_rules::ADMISSION_PREFIX)
                || rule.starts_with(engine_rules::GATEKEEPER_PREFIX)
        };
        let line = |v: &crate::Violation| format!("{} {}", v.rule, v.message);
        let denials = decision
            .violations
            .iter()
            .filter(|v| ours(&v.rule))
            .map(line)
            .collect();
        let mut warnings: Vec<String> = decision
            .warnings
            .iter()
            .filter(|v| ours(&v.rule))
            .map(line)
            .collect();
        warnings.extend(registry_warnings);
        let mut excepted = Vec::new();
        for x in &decision.excepted {
            let id = x.exception.id.clone().unwrap_or_default();
            warnings.push(format!(
                "{} {} (admitted by exception {id} until {}, approved by {})",
                x.violation.rule, x.violation.message, x.exception.expires, x.exception.approver
            ));
            excepted.push(format!("{} {} {id}", x.violation.rule, x.violation.key));
        }
        Ok((denials, warnings, excepted))
    }

    /// Why a store read failed, as a review's error (a tampered row is told, and fails
    /// closed even where the namespace fails open).
    fn store_failure(&self, e: &StoreError) -> String {
        if let StoreError::Tampered { table, key, reason } = e {
            self.tell(Event::Tampered {
                table: table.clone(),
                key: key.clone(),
                reason: reason.clone(),
            });
            format!("{TAMPERED}{e}")
        } else {
            format!("the store: {e}")
        }
    }

    /// The decision an image pinned to `digest` is judged by where the webhook decides from
    /// registries: the one it was judged by lately (memory: no registry, no store), else the
    /// latest recorded for the environment, else — none, or one the webhook made under an
    /// earlier state (advisories, exceptions, policies) — a decision made now from what is
    /// attached to the image in its registry, recorded like any other. Concurrent reviews of
    /// one digest wait for one lookup. A dry run records nothing: a decision it needs is
    /// evaluated as a what-if, and neither recorded nor kept.
    async fn admission_decision(
        &self,
        image: &str,
        digest: &str,
        target: &admission::Target,
        review: &Review,
        caller: &Actor,
        deadline: tokio::time::Instant,
    ) -> Result<RecordedDecision, AdmissionLookupError> {
        let key = (digest.to_string(), target.environment.clone());
        let generation = self.state_generation.load(Ordering::SeqCst);
        if let Some(judged) = self.admission_cache.get(&key).await {
            if judged.generation == generation {
                return Ok(judged.decision);
            }
            // Looked up under a state replaced since.
            self.admission_cache.invalidate(&key).await;
        }
        let lookup = async {
            let current = |r: &Recorded| {
                !r.by_webhook
                    || u64::try_from(r.seq)
                        .is_ok_and(|seq| seq > self.state_seq.load(Ordering::SeqCst))
            };
            match self
                .recorded_decision(digest, &target.environment)
                .await
                .map_err(|e| AdmissionLookupError::Store(self.store_failure(&e)))?
            {
                Some(r) if current(&r) => Ok(r.decision),
                _ => {
                    self.decide_from_registry(image, digest, target, review, caller, deadline)
                        .await
                }
            }
        };
        if review.dry_run {
            return lookup.await;
        }
        let judged = self
            .admission_cache
            .try_get_with(key, async {
                Ok::<_, AdmissionLookupError>(Judged {
                    decision: lookup.await?,
                    generation,
                })
            })
            .await
            .map_err(|e| (*e).clone())?;
        Ok(judged.decision)
    }

    /// Decide on `image` (pinned to `digest`) from what is attached to it in its registry,
    /// as the admission webhook, and record it (a what-if for a dry run): the registry is
    /// reached within `deadline` (a slot among `registry_concurrency`, resolving, fetching),
    /// the decision is the decision service's like any other.
    async fn decide_from_registry(
        &self,
        image: &str,
        digest: &str,
        target: &admission::Target,
        review: &Review,
        caller: &Actor,
        deadline: tokio::time::Instant,
    ) -> Result<RecordedDecision, AdmissionLookupError> {
        let registry = portcullis_registry::parse_reference(image)
            .map(|r| r.resolve_registry().to_string())
            .unwrap_or_default();
        let mut request = DecisionRequest::new(
            ArtifactId {
                name: String::new(),
                digest: digest.to_string(),
            },
            target.environment.clone(),
        );
        request.context.pipeline = Some(admission::ADMISSION_PIPELINE.into());
        request.context.stage = Some(review.namespace.clone());
        request.what_if = review.dry_run;
        let mut documents = Documents::default();
        let pulled = tokio::time::timeout_at(deadline, async {
            let _slot = self
                .registry_slots
                .acquire()
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            self.pull_image(image, &mut request, &mut documents).await
        })
        .await;
        match pulled {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(AdmissionLookupError::Registry(format!(
                    "image {image}: no decision could be made from its registry: {e}"
                )));
            }
            Err(_) => {
                return Err(AdmissionLookupError::Registry(format!(
                    "image {image}: registry {registry} did not answer within the admission budget of {} ms (resolving the image and fetching what is attached) [{}]",
                    target.registry_budget.as_millis(),
                    portcullis_registry::ErrorKind::Timeout.code()
                )));
            }
        }
        // The webhook decides on behalf of whoever sent the review.
        let actor = Actor {
            name: format!("{} ({})", admission::ADMISSION_PIPELINE, caller.name),
            role: Role::Ci,
            authenticated: caller.authenticated,
        };
        let decided = self
            .decide(Ask {
                request,
                documents,
                actor,
                override_reason: None,
                image: None,
            })
            .await
            .map_err(|e| {
                AdmissionLookupError::Registry(format!(
                    "image {image}: its decision from registry {registry} could not be made or recorded: {e}"
                ))
            })?;
        let d = decided.decision;
        let mut violated: Vec<String> = d.violations.iter().map(|v| v.rule.clone()).collect();
        violated.sort();
        violated.dedup();
        Ok(RecordedDecision {
            verdict: d.decision.as_str().into(),
            id: if d.what_if {
                format!("{}, evaluated for this dry run and not recorded", d.id)
            } else {
                d.id
            },
            decided_at: d.decided_at,
            overridden: None,
            violated,
        })
    }

    /// What a decision recorded for this digest in `env` changes for admission: the webhook's
    /// memory of it is dropped.
    async fn decision_recorded(&self, digest: &str, env: &str) {
        self.admission_cache
            .invalidate(&(digest.to_string(), env.to_string()))
            .await;
    }

    /// The latest decision for `digest` in `env`, with its break-glass override if any. The
    /// decisions and overrides tables are indexes: each row is checked against its audit entry
    /// (covered by the hash chain), so a row edited in the database is an error — the review
    /// fails closed — never an admission.
    async fn recorded_decision(
        &self,
        digest: &str,
        env: &str,
    ) -> Result<Option<Recorded>, StoreError> {
        let Some(d) = self.store.latest_decision(digest, env).await? else {
            return Ok(None);
        };
        let body = self.entry_body(d.seq, kinds::DECISION, &d.id).await?;
        let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
        let recorded_digest = body
            .pointer("/artifact/digest")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if field("decision_id") != d.id
            || field("verdict") != d.verdict
            || field("environment") != env
            || recorded_digest != digest
        {
            return Err(altered(format!("decision {}", d.id), d.seq));
        }
        let by_webhook = field("pipeline") == admission::ADMISSION_PIPELINE;
        let violated = body
            .get("violated_rules")
            .and_then(Value::as_array)
            .map(|rules| {
                rules
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let overridden = if d.verdict == "allow" {
            None
        } else {
            match self.store.override_of(&d.id).await? {
                None => None,
                Some(o) => {
                    let body = self.entry_body(o.seq, kinds::OVERRIDE, &d.id).await?;
                    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
                    if field("decision_id") != d.id
                        || field("by") != o.actor
                        || field("reason") != o.reason
                    {
                        return Err(altered(format!("the override of decision {}", d.id), o.seq));
                    }
                    Some(RecordedOverride {
                        actor: o.actor,
                        reason: o.reason,
                        seq: o.seq,
                    })
                }
            }
        };
        Ok(Some(Recorded {
            seq: d.seq,
            by_webhook,
            decision: RecordedDecision {
                id: d.id,
                verdict: d.verdict,
                decided_at: d.decided_at,
                overridden,
                violated,
            },
        }))
    }

    /// The body of audit entry `seq`, which must be of `kind`.
    async fn entry_body(&self, seq: i64, kind: &str, about: &str) -> Result<Value, StoreError> {
        let entry = match u64::try_from(seq) {
            Ok(s) => self.store.entry(s).await?,
            Err(_) => None,
        };
        let Some(entry) = entry.filter(|e| e.kind == kind) else {
            return Err(altered(format!("the {kind} record of {about}"), seq));
        };
        serde_json::from_str(&entry.body).map_err(|e| StoreError::Corrupt {
            what: format!("audit entry {seq}"),
            message: e.to_string(),
        })
    }
}

/// How a fetched document is named in a decision: the repository and how it was found.
pub fn origin_source(o: &portcullis_registry::Origin) -> String {
    use portcullis_registry::Scheme;
    let via = match (o.scheme, &o.tag) {
        (Scheme::CosignTag, Some(tag)) => format!("tag {tag}"),
        (Scheme::Referrer, _) => format!("referrer {}", o.manifest),
        (Scheme::BuildxAttestation, _) => format!("buildx attestation {}", o.manifest),
        (_, _) => format!("manifest {}", o.manifest),
    };
    format!("{}/{} {via} ({})", o.registry, o.repository, o.media_type)
}
