//! Re-judging what runs: whenever something that can change a verdict changes — an advisory
//! added or withdrawn, an exception granted, revoked or expired, the policy bundle or
//! configuration, a verification or exposure result or evidence recorded for a running digest,
//! a deployment — every running artifact the change can affect is decided again with the same
//! decision service (`DecisionService::regate`: recorded like any decision) and its posture
//! settled (`posture::settle`). A decision recorded for a running digest through any door
//! settles its posture too.
//!
//! Bounded and observable: one queue keyed by (environment, artifact) — however many changes
//! arrive together, each running artifact is decided once for them — drained by a few workers
//! at a rate limit, its length told with every re-judgement (`Event::Rejudged`). With several
//! replicas on one database only the holder of the posture lease (`Store::try_lease`) judges;
//! the others stand by and take over when it goes. Exceptions that expire are noticed by the
//! clock, not by the next request: their expiry is recorded when it comes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use portcullis_store::{StoreEvent, kinds};
use serde::Deserialize;
use serde_json::Value;

use crate::access::{Actor, Role};
use crate::decision::ArtifactId;
use crate::exceptions::Exception;
use crate::posture::{self, State};
use crate::service::{DecisionService, Event, ServiceError};

/// How re-judging runs (`posture:` in the server settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejudgeSettings {
    /// Re-judgements per second at most, over all workers.
    #[serde(default = "default_rate")]
    pub per_second: f64,
    /// Re-judgements at once.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Running artifacts waiting at most; beyond, the queue is dropped and everything that
    /// runs is reconciled once it drains (nothing is lost, it is only late).
    #[serde(default = "default_queue")]
    pub max_queue: usize,
    /// How often a replica without the lease tries to take it (seconds).
    #[serde(default = "default_lease_retry")]
    pub lease_retry_seconds: u64,
    /// The longest wait between looks for exceptions that expired (seconds); an expiry due
    /// sooner is waited for exactly.
    #[serde(default = "default_expiry_check")]
    pub expiry_check_seconds: u64,
}

fn default_rate() -> f64 {
    500.0
}
fn default_workers() -> usize {
    2
}
fn default_queue() -> usize {
    200_000
}
fn default_lease_retry() -> u64 {
    5
}
fn default_expiry_check() -> u64 {
    60
}

impl Default for RejudgeSettings {
    fn default() -> Self {
        Self {
            per_second: default_rate(),
            workers: default_workers(),
            max_queue: default_queue(),
            lease_retry_seconds: default_lease_retry(),
            expiry_check_seconds: default_expiry_check(),
        }
    }
}

impl RejudgeSettings {
    /// What is wrong with these settings, if anything.
    pub fn check(&self) -> Result<(), String> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return Err(format!(
                "posture.per_second: {} is not a positive rate",
                self.per_second
            ));
        }
        if self.workers == 0 || self.workers > 64 {
            return Err(format!("posture.workers: {} is not 1 to 64", self.workers));
        }
        if self.max_queue == 0 {
            return Err("posture.max_queue: at least 1".into());
        }
        Ok(())
    }
}

/// The identity re-judgements are recorded under.
pub const ACTOR: &str = "portcullis (posture)";

/// (environment, artifact name).
type Key = (String, String);

#[derive(Debug, Clone)]
struct Job {
    /// Decide again (else: settle from the latest decision, unless it predates the state).
    regate: bool,
    cause: String,
}

#[derive(Debug, Default)]
struct Queue {
    order: VecDeque<Key>,
    jobs: HashMap<Key, Job>,
    /// Jobs were dropped (the queue was full): reconcile everything once it drains.
    overflowed: bool,
}

/// A bounded set of recently seen values (event sequence numbers, decision ids).
#[derive(Debug)]
struct Recent<T> {
    order: VecDeque<T>,
    set: HashSet<T>,
    cap: usize,
}

impl<T: std::hash::Hash + Eq + Clone> Recent<T> {
    fn new(cap: usize) -> Self {
        Self {
            order: VecDeque::new(),
            set: HashSet::new(),
            cap,
        }
    }

    /// Whether `v` is new (and remember it).
    fn insert(&mut self, v: T) -> bool {
        if !self.set.insert(v.clone()) {
            return false;
        }
        self.order.push_back(v);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    fn contains(&self, v: &T) -> bool {
        self.set.contains(v)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Re-judges what runs (see the module documentation).
pub struct Rejudge {
    service: Arc<DecisionService>,
    settings: RejudgeSettings,
    actor: Actor,
    queue: Mutex<Queue>,
    wake: tokio::sync::Notify,
    /// Told each time a job finishes (`drain` waits on it).
    finished: tokio::sync::Notify,
    in_flight: std::sync::atomic::AtomicUsize,
    /// Events already handled (SQLite delivers this process's changes twice).
    seen: Mutex<Recent<u64>>,
    /// Decisions re-judging recorded: their events need no settling.
    own: Mutex<Recent<String>>,
    /// The stored policy bundle (and configuration) in force.
    bundle: String,
    /// When the next re-judgement may start.
    pacer: tokio::sync::Mutex<tokio::time::Instant>,
    /// Wakes the expiry watch when exceptions change.
    exceptions_changed: tokio::sync::Notify,
    done: AtomicU64,
    leading: AtomicBool,
}

impl std::fmt::Debug for Rejudge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rejudge")
            .field("queued", &self.queued())
            .field("done", &self.done.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Rejudge {
    pub fn new(
        service: Arc<DecisionService>,
        settings: RejudgeSettings,
    ) -> Result<Arc<Self>, ServiceError> {
        settings.check().map_err(ServiceError::Invalid)?;
        let bundle = service
            .live()
            .firewall
            .bundle_blob()
            .map_err(|e| ServiceError::Internal(format!("the policy bundle: {e}")))?
            .digest;
        Ok(Arc::new(Self {
            service,
            settings,
            // Not an authenticated caller: a re-decision keeps the requester (and its source)
            // the decision it re-judges was asked by, rather than naming itself.
            actor: Actor {
                name: ACTOR.to_string(),
                role: Role::Admin,
                authenticated: false,
            },
            queue: Mutex::new(Queue::default()),
            wake: tokio::sync::Notify::new(),
            finished: tokio::sync::Notify::new(),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            seen: Mutex::new(Recent::new(100_000)),
            own: Mutex::new(Recent::new(100_000)),
            bundle,
            pacer: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            exceptions_changed: tokio::sync::Notify::new(),
            done: AtomicU64::new(0),
            leading: AtomicBool::new(false),
        }))
    }

    /// Running artifacts waiting to be judged.
    pub fn queued(&self) -> usize {
        lock(&self.queue).order.len()
    }

    /// Re-judgements done since start.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Whether this process holds the posture lease (judges what runs).
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    /// Queue (environment, artifact) for judging; merged with a job already waiting for it.
    pub fn enqueue(&self, environment: &str, name: &str, regate: bool, cause: &str) {
        let mut q = lock(&self.queue);
        let key = (environment.to_string(), name.to_string());
        if let Some(job) = q.jobs.get_mut(&key) {
            job.regate |= regate;
            return;
        }
        if q.order.len() >= self.settings.max_queue {
            q.overflowed = true;
            return;
        }
        q.order.push_back(key.clone());
        q.jobs.insert(
            key,
            Job {
                regate,
                cause: cause.to_string(),
            },
        );
        drop(q);
        self.wake.notify_one();
    }

    fn pop(&self) -> Option<(Key, Job)> {
        let mut q = lock(&self.queue);
        let key = q.order.pop_front()?;
        let job = q.jobs.remove(&key)?;
        // Counted before the queue lock is let go: `drain` never sees neither.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Some((key, job))
    }

    /// Everything the store change `kind` at `seq` can affect, queued.
    pub async fn changed(&self, kind: &str, seq: u64) -> Result<(), ServiceError> {
        if kind == StoreEvent::RELOAD {
            return self.reconcile(None).await.map(|_| ());
        }
        if !lock(&self.seen).insert(seq) {
            return Ok(());
        }
        let interesting = kind.starts_with("advisory.")
            || kind.starts_with("exception.")
            || matches!(
                kind,
                kinds::FACT_RECORDED | kinds::EVIDENCE_STORED | kinds::DEPLOYMENT | kinds::DECISION
            );
        if !interesting || kind == kinds::ADVISORY_IMPACT {
            return Ok(());
        }
        let store = self.service.store();
        let Some(entry) = store.entries(seq, seq).await?.into_iter().next() else {
            return Ok(());
        };
        if entry.kind != kind {
            return Ok(());
        }
        let body: Value = serde_json::from_str(&entry.body).unwrap_or(Value::Null);
        let text = |p: &str| body.pointer(p).and_then(Value::as_str).map(str::to_string);
        match kind {
            kinds::ADVISORY_ADDED | kinds::ADVISORY_WITHDRAWN => {
                let Some(id) = text("/advisory_id") else {
                    return Ok(());
                };
                for row in self.service.advisory_impact(&id).await? {
                    self.enqueue(&row.environment, &row.artifact_name, true, kind);
                }
            }
            k if k.starts_with("exception.") => {
                self.exceptions_changed.notify_one();
                let Some(id) = text("/exception_id") else {
                    return Ok(());
                };
                let envs = match store.exception(&id).await? {
                    Some(row) => serde_json::from_str::<Exception>(&row.body)
                        .map(|e| e.environments)
                        .unwrap_or_default(),
                    None => Vec::new(),
                };
                let everywhere = envs.is_empty() || envs.iter().any(|e| e.contains('*'));
                for row in store.inventory(None).await? {
                    if everywhere
                        || envs
                            .iter()
                            .any(|e| e.eq_ignore_ascii_case(&row.environment))
                    {
                        self.enqueue(&row.environment, &row.artifact_name, true, kind);
                    }
                }
            }
            kinds::FACT_RECORDED => {
                let rows = body.get("rows").and_then(Value::as_array);
                for r in rows.into_iter().flatten() {
                    let (Some(digest), Some(env)) = (
                        r.get("artifact_digest").and_then(Value::as_str),
                        r.get("environment").and_then(Value::as_str),
                    ) else {
                        continue;
                    };
                    for row in store.running_digest(digest).await? {
                        if row.environment == env {
                            self.enqueue(&row.environment, &row.artifact_name, true, kind);
                        }
                    }
                }
            }
            kinds::EVIDENCE_STORED => {
                if let Some(digest) = text("/artifact/digest") {
                    for row in store.running_digest(&digest).await? {
                        self.enqueue(&row.environment, &row.artifact_name, true, kind);
                    }
                }
            }
            kinds::DEPLOYMENT => {
                if let (Some(env), Some(name)) = (text("/environment"), text("/artifact/name")) {
                    self.enqueue(&env, &name, false, kind);
                }
            }
            kinds::DECISION => {
                let id = text("/decision_id").unwrap_or_default();
                if lock(&self.own).contains(&id) {
                    return Ok(());
                }
                if let (Some(env), Some(digest)) = (text("/environment"), text("/artifact/digest"))
                {
                    for row in store.running_digest(&digest).await? {
                        if row.environment == env {
                            self.enqueue(&row.environment, &row.artifact_name, false, kind);
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Queue every running artifact (of `environment`) whose posture is missing or stale:
    /// no posture, another digest, a latest decision made under another policy bundle or
    /// configuration, or made before the newest change that can affect it. Returns how many
    /// were queued.
    pub async fn reconcile(&self, environment: Option<&str>) -> Result<usize, ServiceError> {
        let store = self.service.store();
        let postures = store.posture(environment).await?;
        let newest_change = store
            .newest_of_kinds(&[
                kinds::ADVISORY_ADDED,
                kinds::ADVISORY_WITHDRAWN,
                kinds::EXCEPTION_GRANTED,
                kinds::EXCEPTION_REVOKED,
                kinds::EXCEPTION_EXPIRED,
            ])
            .await?;
        let mut n = 0;
        for row in store.inventory(environment).await? {
            let posture = postures
                .iter()
                .find(|p| p.environment == row.environment && p.artifact_name == row.artifact_name);
            let latest = store
                .latest_decision(&row.artifact_digest, &row.environment)
                .await?;
            let stale_decision = latest
                .as_ref()
                .is_some_and(|d| d.policy_bundle != self.bundle || (d.seq as u64) < newest_change);
            let stale_posture = match (posture, &latest) {
                (None, _) => true,
                (Some(p), _) if p.artifact_digest != row.artifact_digest => true,
                (Some(p), Some(d)) => p.decision_id.as_deref() != Some(d.id.as_str()),
                (Some(p), None) => p.state != State::Undecided.as_str(),
            };
            if stale_decision || stale_posture {
                self.enqueue(
                    &row.environment,
                    &row.artifact_name,
                    stale_decision,
                    "reconcile",
                );
                n += 1;
            }
        }
        Ok(n)
    }

    /// Judge one running artifact now.
    async fn judge(&self, (environment, name): Key, job: Job) -> Result<(), ServiceError> {
        let store = self.service.store();
        let Some(row) = store.running(&environment, &name).await? else {
            return Ok(());
        };
        let artifact = ArtifactId {
            name: name.clone(),
            digest: row.artifact_digest.clone(),
        };
        let started = Instant::now();
        let latest = store
            .latest_decision(&artifact.digest, &environment)
            .await?;
        let mut regated = false;
        let mut failed = false;
        let (judgement, decision_id) = match latest {
            None => ((State::Undecided, Vec::new()), None),
            Some(d) => {
                let regate = job.regate
                    || (d.seq as u64) <= self.service.state_seq()
                    || d.policy_bundle != self.bundle;
                if regate {
                    regated = true;
                    match self.service.regate(&d.id, &self.actor).await {
                        Ok(decided) => {
                            lock(&self.own).insert(decided.decision.id.clone());
                            (
                                posture::judged(&decided.decision),
                                Some(decided.decision.id),
                            )
                        }
                        Err(e) => {
                            failed = true;
                            tracing::error!(environment = %environment, artifact = %name, error = %e, "re-judging failed: the artifact is undecided");
                            ((State::Undecided, Vec::new()), None)
                        }
                    }
                } else {
                    let (_, decision) = self.service.decision(&d.id).await?;
                    (posture::judged(&decision), Some(d.id))
                }
            }
        };
        let transition = posture::settle(
            store,
            &environment,
            &artifact,
            judgement,
            decision_id.as_deref(),
            &job.cause,
        )
        .await?;
        self.done.fetch_add(1, Ordering::Relaxed);
        self.service.tell(Event::Rejudged {
            environment: environment.clone(),
            artifact: name,
            regated,
            queued: self.queued(),
            took: started.elapsed(),
            failed,
        });
        if let Some(t) = transition {
            self.service.tell(Event::PostureChanged(Box::new(t)));
        }
        Ok(())
    }

    /// Wait for the rate limit.
    async fn pace(&self) {
        let interval = Duration::from_secs_f64(1.0 / self.settings.per_second);
        let at = {
            let mut next = self.pacer.lock().await;
            let now = tokio::time::Instant::now();
            let at = (*next).max(now);
            *next = at + interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }

    async fn run_one(&self, key: Key, job: Job) {
        self.pace().await;
        let what = format!("{}/{}", key.0, key.1);
        if let Err(e) = self.judge(key, job).await {
            tracing::error!(artifact = %what, error = %e, "re-judging failed");
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.finished.notify_waiters();
    }

    /// After an overflow, once the queue drained: everything that runs, reconciled.
    async fn after_overflow(&self) {
        let overflowed = {
            let mut q = lock(&self.queue);
            std::mem::take(&mut q.overflowed)
        };
        if overflowed && let Err(e) = self.reconcile(None).await {
            tracing::error!(error = %e, "reconciling after the queue overflowed failed");
        }
    }

    /// Judge everything queued, here, until the queue is empty (the command line, tests).
    pub async fn drain(&self) {
        loop {
            match self.pop() {
                Some((key, job)) => self.run_one(key, job).await,
                None => {
                    self.after_overflow().await;
                    if self.queued() == 0 {
                        return;
                    }
                }
            }
        }
    }

    /// Wait until nothing is queued or being judged (at most `limit`); whether it got there.
    pub async fn settled(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let finished = self.finished.notified();
            if self.queued() == 0 && self.in_flight.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, finished).await.is_err() {
                return self.queued() == 0 && self.in_flight.load(Ordering::SeqCst) == 0;
            }
        }
    }

    async fn worker(self: Arc<Self>) {
        loop {
            let woken = self.wake.notified();
            match self.pop() {
                Some((key, job)) => {
                    self.run_one(key, job).await;
                    // Let another worker take the next one if there is more.
                    if self.queued() > 0 {
                        self.wake.notify_one();
                    }
                }
                None => {
                    self.after_overflow().await;
                    if self.queued() == 0 {
                        // Missed wake-ups are bounded: look again at least every second.
                        let _ = tokio::time::timeout(Duration::from_secs(1), woken).await;
                    }
                }
            }
        }
    }

    /// Record the expiry of exceptions as it comes (the expiry entries are changes like any
    /// other: they put the exception out of force and re-judge what it covered).
    async fn watch_expiry(self: Arc<Self>) {
        let longest = Duration::from_secs(self.settings.expiry_check_seconds.max(1));
        loop {
            let changed = self.exceptions_changed.notified();
            let now = Utc::now();
            match self.service.store().record_expired_exceptions(now).await {
                Ok(ids) if !ids.is_empty() => {
                    tracing::info!(exceptions = ?ids, "exceptions expired");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "cannot record expired exceptions"),
            }
            let next = match self.service.store().exceptions(false).await {
                Ok(rows) => rows
                    .iter()
                    .filter(|r| r.expiry_seq.is_none())
                    .filter_map(|r| DateTime::parse_from_rfc3339(&r.expires_at).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .filter(|t| *t > now)
                    .min(),
                Err(_) => None,
            };
            let wait = next
                .and_then(|t| (t - Utc::now()).to_std().ok())
                // Just past the expiry: an exception is in force until its instant.
                .map(|d| d + Duration::from_millis(5))
                .unwrap_or(longest)
                .min(longest);
            let _ = tokio::time::timeout(wait, changed).await;
        }
    }

    /// Follow the store's changes and judge what they affect (reloading the state in force
    /// first where they change it).
    async fn follow(self: Arc<Self>) {
        loop {
            let mut sub = match self.service.store().subscribe().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "re-judging cannot subscribe to store changes; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            // Anything may have happened while not listening.
            if let Err(e) = self.reconcile(None).await {
                tracing::error!(error = %e, "reconciling what runs failed");
            }
            loop {
                let ev = sub.next().await;
                if StoreEvent::reloads(&ev.kind) || ev.kind == StoreEvent::RELOAD {
                    let upto = (ev.kind != StoreEvent::RELOAD).then_some(ev.seq);
                    if let Err(e) = self.service.reload_unless_loaded(upto).await {
                        tracing::error!(error = %e, "reload after {} failed", ev.kind);
                    }
                }
                if let Err(e) = self.changed(&ev.kind, ev.seq).await {
                    tracing::error!(error = %e, kind = %ev.kind, seq = ev.seq, "cannot tell what a change affects; reconciling");
                    if let Err(e) = self.reconcile(None).await {
                        tracing::error!(error = %e, "reconciling what runs failed");
                    }
                }
            }
        }
    }

    /// Take the posture lease (waiting while another replica holds it), then judge what runs
    /// for as long as this process lives and holds it. A lease lost (on PostgreSQL, its
    /// session ended: the database restarted, the connection was cut) stops the judging here
    /// at once, since another replica may take it now, and it is taken again like at start.
    pub async fn run(self: Arc<Self>) {
        let retry = Duration::from_secs(self.settings.lease_retry_seconds.max(1));
        loop {
            let mut lease = loop {
                match self
                    .service
                    .store()
                    .try_lease(portcullis_store::POSTURE_LEASE)
                    .await
                {
                    Ok(Some(l)) => break l,
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "cannot take the posture lease"),
                }
                tokio::time::sleep(retry).await;
            };
            self.leading.store(true, Ordering::SeqCst);
            tracing::info!("judging the posture of what runs (this replica holds the lease)");
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..self.settings.workers {
                tasks.spawn(self.clone().worker());
            }
            tasks.spawn(self.clone().watch_expiry());
            tasks.spawn(self.clone().follow());
            loop {
                tokio::select! {
                    done = tasks.join_next() => if done.is_none() {
                        return;
                    },
                    () = tokio::time::sleep(retry) => if !lease.held().await {
                        break;
                    },
                }
            }
            tasks.shutdown().await;
            self.leading.store(false, Ordering::SeqCst);
            drop(lease);
            tracing::warn!(
                "lost the posture lease (its database session ended): no longer judging what runs; taking it again"
            );
        }
    }
}
