//! The hours after a deployment, as the firewall records them: a watch started for a recorded
//! deployment, each interval's checks claimed by one replica and their results (recorded as
//! facts of the running digest too, so that a failed check counts in later decisions), and the
//! watch's end. Everything is an audit entry (`watch.started`, `watch.claimed`, `watch.check`,
//! `watch.finished`): the state survives a restart and every replica of one database reads the
//! same. Running the checks (probing, querying Prometheus) is not done here: the
//! `portcullis-watch` crate does it and records through [`Watches`].
//!
//! One replica per interval: `watch.started`, `watch.claimed` and `watch.finished` entries each
//! carry a small content-addressed document naming (kind, watch, interval) as their first write
//! and are appended only if that document is new. The store serializes appends (one writer on
//! SQLite, an advisory lock on PostgreSQL), so of several replicas claiming interval k of a
//! watch exactly one gets the entry and runs the checks; the others see `false`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use portcullis_store::{Change, Entry, NewBlob, Store, Write, kinds};
use serde::{Deserialize, Serialize};

use crate::access::{Actor, Permission};
use crate::decision::ArtifactId;
use crate::registry::RegistryError;
use crate::sources::FactsToRecord;

/// The prefix of every watch entry kind.
pub const KIND_PREFIX: &str = "watch.";
/// The blob kind of the documents that make watch entries unique.
pub const CLAIM_BLOB: &str = "watch-claim";
/// Entries read per page when the store is scanned.
const PAGE: i64 = 1000;

/// The watch of deployment entry `deployment_seq` (one per deployment).
pub fn watch_id(deployment_seq: u64) -> String {
    format!("wch_{deployment_seq}")
}

/// A deployment as its audit entry says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployed {
    pub seq: u64,
    /// When it was recorded (RFC 3339).
    pub at: String,
    pub environment: String,
    pub artifact: ArtifactId,
}

/// What a watch is to do, as recorded when it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchPlan {
    pub id: String,
    pub environment: String,
    pub artifact: ArtifactId,
    /// What ran there before (the baseline of the comparisons), when known.
    pub previous: Option<ArtifactId>,
    pub deployment_seq: u64,
    /// RFC 3339: the window starts here.
    pub deployed_at: String,
    pub duration_seconds: u64,
    pub interval_seconds: u64,
    /// The kinds of check run at each interval (`exposure`, `canary`).
    pub checks: Vec<String>,
    /// The setting that asked for it (`watch[0]` of the server settings).
    pub setting: String,
    /// Log files and their sizes at the deployment: what comes after is the new version's.
    #[serde(default)]
    pub log_offsets: BTreeMap<String, u64>,
}

impl WatchPlan {
    /// How many intervals the window has (the last one may be shorter).
    pub fn intervals(&self) -> u32 {
        let n = self
            .duration_seconds
            .div_ceil(self.interval_seconds.max(1))
            .max(1);
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    pub fn deployed_time(&self) -> Option<DateTime<Utc>> {
        parse_time(&self.deployed_at)
    }

    /// When the window ends.
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        let secs = i64::try_from(self.duration_seconds).ok()?;
        self.deployed_time()
            .map(|t| t + chrono::TimeDelta::seconds(secs))
    }

    /// When interval `k` (1-based) is due: its end, capped at the window's end.
    pub fn due_at(&self, k: u32) -> Option<DateTime<Utc>> {
        let secs = u64::from(k)
            .saturating_mul(self.interval_seconds)
            .min(self.duration_seconds);
        self.deployed_time()
            .map(|t| t + chrono::TimeDelta::seconds(i64::try_from(secs).unwrap_or(i64::MAX)))
    }
}

/// RFC 3339 to a time.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What one check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    /// Between the thresholds: recorded, not a failure.
    Marginal,
    Fail,
    /// The check could not run (the target or Prometheus did not answer): not a verdict on
    /// the service.
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Marginal => "marginal",
            Self::Fail => "fail",
            Self::Error => "error",
        }
    }
}

/// One check of one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `exposure` (the probe's expectations) or `canary` (metrics and logs against the
    /// version before).
    pub kind: String,
    pub verdict: Verdict,
    /// 0-100 (canary).
    #[serde(default)]
    pub score: Option<f64>,
    /// What failed, one line each (or why the check could not run).
    #[serde(default)]
    pub failed: Vec<String>,
    /// The metrics that failed (canary).
    #[serde(default)]
    pub metrics: Vec<String>,
    /// The ports that deviate (exposure).
    #[serde(default)]
    pub ports: Vec<u16>,
    /// The digest of the report it stored (the probe's report, the canary analysis's).
    #[serde(default)]
    pub evidence: Option<String>,
}

/// A report a check made, stored with its interval's record as evidence of the artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The blob kind (`evidence` for the probe's report, `verification` for a canary
    /// analysis, as `portcullis probe --record` and `verify canary --record` store them).
    pub blob_kind: String,
    pub bytes: Vec<u8>,
}

/// A time range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: String,
    pub end: String,
}

/// The checks of one interval, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub watch_id: String,
    /// 1-based.
    pub interval: u32,
    /// When the checks ran (RFC 3339).
    pub at: String,
    /// The new version's window so far.
    pub window: Span,
    /// The version before's window of the same length, before the deployment.
    #[serde(default)]
    pub baseline: Option<Span>,
    pub results: Vec<CheckResult>,
    /// The facts recorded for the running digest (`fct_…`).
    #[serde(default)]
    pub facts: Vec<String>,
    /// The replica (actor) that ran them.
    #[serde(default)]
    pub by: String,
}

impl CheckRecord {
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| r.verdict == Verdict::Fail)
    }

    /// Whether every check ran (none ended in an error).
    pub fn complete(&self) -> bool {
        self.results.iter().all(|r| r.verdict != Verdict::Error)
    }

    /// The failed checks, one line each: `canary: metric error_rate …`.
    pub fn failures(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .flat_map(|r| r.failed.iter().map(move |f| format!("{}: {f}", r.kind)))
            .collect()
    }
}

/// Where a watch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    /// The whole window passed without a failed check.
    Passed,
    /// A check failed.
    Failed,
    /// The window ended without a failure but no interval's checks all ran.
    Inconclusive,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Inconclusive => "inconclusive",
        }
    }
}

/// An interval's checks taken by a replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub interval: u32,
    pub by: String,
    pub at: String,
}

/// A watch as the store tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchState {
    #[serde(flatten)]
    pub plan: WatchPlan,
    pub status: Status,
    /// The audit entry that started it.
    pub started_seq: u64,
    pub started_at: String,
    pub ends_at: Option<String>,
    pub finished_at: Option<String>,
    /// Why it ended as it did.
    pub reason: Option<String>,
    pub claimed: Vec<Claim>,
    pub checks: Vec<CheckRecord>,
}

impl WatchState {
    /// The last interval claimed (0: none).
    pub fn last_claimed(&self) -> u32 {
        self.claimed.iter().map(|c| c.interval).max().unwrap_or(0)
    }
}

/// The end of a watch, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Finished {
    watch_id: String,
    status: Status,
    reason: String,
    #[serde(default)]
    failed_checks: Vec<String>,
    by: String,
}

/// The store's watches: the records of the hours after each deployment.
pub struct Watches<'a> {
    store: &'a Store,
}

impl<'a> Watches<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Deployments recorded after entry `after`, at most `limit`.
    pub async fn deployments_after(
        &self,
        after: u64,
        limit: i64,
    ) -> Result<Vec<Deployed>, RegistryError> {
        let entries = self
            .store
            .entries_with_prefix(kinds::DEPLOYMENT, after, limit)
            .await?;
        Ok(entries.iter().filter_map(deployed).collect())
    }

    /// What ran as `name` in `environment` before deployment entry `before`.
    pub async fn previous(
        &self,
        environment: &str,
        name: &str,
        before: u64,
    ) -> Result<Option<Deployed>, RegistryError> {
        let mut after = 0;
        let mut found: Option<Deployed> = None;
        loop {
            let page = self
                .store
                .entries_with_prefix(kinds::DEPLOYMENT, after, PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for d in page.iter().filter_map(deployed) {
                if d.seq >= before {
                    return Ok(found);
                }
                if d.environment == environment && d.artifact.name == name {
                    found = Some(d);
                }
            }
        }
        Ok(found)
    }

    /// Record that a watch starts (once per watch id, whoever asks first).
    pub async fn start(
        &self,
        plan: &WatchPlan,
        actor: &Actor,
    ) -> Result<Option<Entry>, RegistryError> {
        actor.require(Permission::Record, "starting a watch")?;
        crate::names::check(crate::names::NameKind::Environment, &plan.environment)?;
        if plan.interval_seconds == 0 || plan.duration_seconds == 0 {
            return Err(RegistryError::Invalid(
                "a watch needs a duration and an interval".into(),
            ));
        }
        let mut body = serde_json::to_value(plan)
            .map_err(|e| RegistryError::Internal(format!("watch plan: {e}")))?;
        if let Some(o) = body.as_object_mut() {
            o.insert("started_by".into(), actor.name.clone().into());
        }
        self.once(kinds::WATCH_STARTED, &plan.id, 0, body).await
    }

    /// Take interval `k` of watch `id` for `actor` (this replica): `true` when it is ours to
    /// run, `false` when another replica (or an earlier run of this one) took it.
    pub async fn claim(&self, id: &str, k: u32, actor: &Actor) -> Result<bool, RegistryError> {
        actor.require(Permission::Record, "running a watch's checks")?;
        let body = serde_json::json!({
            "watch_id": id, "interval": k, "by": actor.name, "at": crate::clock::now(),
        });
        Ok(self
            .once(kinds::WATCH_CLAIMED, id, k, body)
            .await?
            .is_some())
    }

    /// Record one interval's checks with the reports they made (kept as evidence of the
    /// artifact); `facts` (the running digest's verification and exposure results) are
    /// recorded first, as the firewall's own facts of later decisions.
    pub async fn record_check(
        &self,
        mut check: CheckRecord,
        reports: &[CheckReport],
        facts: Option<&FactsToRecord>,
        actor: &Actor,
    ) -> Result<Option<Entry>, RegistryError> {
        actor.require(Permission::Record, "recording a watch's checks")?;
        if let Some(f) = facts.filter(|f| !f.verifications.is_empty() || !f.exposures.is_empty()) {
            let rows = crate::sources::record(self.store, f, actor).await?;
            check.facts = rows.into_iter().map(|r| r.id).collect();
        }
        check.by = actor.name.clone();
        let body = serde_json::to_value(&check)
            .map_err(|e| RegistryError::Internal(format!("watch check: {e}")))?;
        let id = check.watch_id.clone();
        let artifact = self
            .get(&id)
            .await?
            .map(|w| w.plan.artifact.digest)
            .ok_or_else(|| RegistryError::NotFound(format!("no watch {id}")))?;
        let mut writes = Vec::new();
        for r in reports {
            let blob = NewBlob::new(&r.blob_kind, &r.bytes)?;
            let evidence_digest = blob.digest.clone();
            writes.push(Write::Blob {
                blob,
                components: Vec::new(),
            });
            writes.push(Write::ArtifactEvidence {
                artifact_digest: artifact.clone(),
                evidence_digest,
            });
        }
        self.once_with(kinds::WATCH_CHECK, &id, check.interval, body, writes)
            .await
    }

    /// Record the end of watch `id` (once): `failed_checks` names what failed.
    pub async fn finish(
        &self,
        id: &str,
        status: Status,
        reason: &str,
        failed_checks: Vec<String>,
        actor: &Actor,
    ) -> Result<Option<Entry>, RegistryError> {
        actor.require(Permission::Record, "ending a watch")?;
        if status == Status::Running {
            return Err(RegistryError::Invalid(
                "a watch ends passed, failed or inconclusive".into(),
            ));
        }
        let body = serde_json::to_value(Finished {
            watch_id: id.to_string(),
            status,
            reason: reason.to_string(),
            failed_checks,
            by: actor.name.clone(),
        })
        .map_err(|e| RegistryError::Internal(format!("watch end: {e}")))?;
        self.once(kinds::WATCH_FINISHED, id, 0, body).await
    }

    /// Every watch (of `environment` when given), newest first.
    pub async fn list(&self, environment: Option<&str>) -> Result<Vec<WatchState>, RegistryError> {
        let mut watches: BTreeMap<String, WatchState> = BTreeMap::new();
        self.follow(&mut watches, 0).await?;
        let mut out: Vec<WatchState> = watches
            .into_values()
            .filter(|w| environment.is_none_or(|env| w.plan.environment == env))
            .collect();
        out.sort_by_key(|w| std::cmp::Reverse(w.started_seq));
        Ok(out)
    }

    /// Bring `known` up to date with the watch entries after entry `after`, and return the
    /// last entry read (`after` when there is none): a reader that keeps `known` reads each
    /// entry once. Entries about watches not in `known` (ended ones it dropped) are skipped.
    pub async fn follow(
        &self,
        known: &mut BTreeMap<String, WatchState>,
        mut after: u64,
    ) -> Result<u64, RegistryError> {
        loop {
            let page = self
                .store
                .entries_with_prefix(KIND_PREFIX, after, PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                fold(known, e)?;
            }
        }
        Ok(after)
    }

    /// Watch `id`.
    pub async fn get(&self, id: &str) -> Result<Option<WatchState>, RegistryError> {
        Ok(self.list(None).await?.into_iter().find(|w| w.plan.id == id))
    }

    /// Append `body` as a `kind` entry unless one for (`kind`, `id`, `k`) exists.
    async fn once(
        &self,
        kind: &str,
        id: &str,
        k: u32,
        body: serde_json::Value,
    ) -> Result<Option<Entry>, RegistryError> {
        self.once_with(kind, id, k, body, Vec::new()).await
    }

    /// [`Self::once`], writing `more` too when it is appended.
    async fn once_with(
        &self,
        kind: &str,
        id: &str,
        k: u32,
        body: serde_json::Value,
        more: Vec<Write>,
    ) -> Result<Option<Entry>, RegistryError> {
        let unique = NewBlob::new(CLAIM_BLOB, format!("{kind} {id} {k}").as_bytes())?;
        let mut writes = vec![Write::Blob {
            blob: unique,
            components: Vec::new(),
        }];
        writes.extend(more);
        let entries = self
            .store
            .append(vec![Change::if_new(kind, body, writes)])
            .await?;
        Ok(entries.into_iter().flatten().next())
    }
}

/// A deployment entry read.
fn deployed(e: &Entry) -> Option<Deployed> {
    #[derive(Deserialize)]
    struct Body {
        environment: String,
        artifact: ArtifactId,
    }
    let b: Body = serde_json::from_str(&e.body).ok()?;
    Some(Deployed {
        seq: e.seq,
        at: e.at.clone(),
        environment: b.environment,
        artifact: b.artifact,
    })
}

/// Add entry `e` to the watches read so far.
fn fold(watches: &mut BTreeMap<String, WatchState>, e: &Entry) -> Result<(), RegistryError> {
    let bad = |m: String| {
        RegistryError::Internal(format!(
            "audit entry {} ({}) is not readable: {m}",
            e.seq, e.kind
        ))
    };
    match e.kind.as_str() {
        kinds::WATCH_STARTED => {
            let plan: WatchPlan = serde_json::from_str(&e.body).map_err(|x| bad(x.to_string()))?;
            let ends_at = plan
                .ends_at()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            watches.insert(
                plan.id.clone(),
                WatchState {
                    plan,
                    status: Status::Running,
                    started_seq: e.seq,
                    started_at: e.at.clone(),
                    ends_at,
                    finished_at: None,
                    reason: None,
                    claimed: Vec::new(),
                    checks: Vec::new(),
                },
            );
        }
        kinds::WATCH_CLAIMED => {
            #[derive(Deserialize)]
            struct Body {
                watch_id: String,
                interval: u32,
                by: String,
            }
            let b: Body = serde_json::from_str(&e.body).map_err(|x| bad(x.to_string()))?;
            if let Some(w) = watches.get_mut(&b.watch_id) {
                w.claimed.push(Claim {
                    interval: b.interval,
                    by: b.by,
                    at: e.at.clone(),
                });
            }
        }
        kinds::WATCH_CHECK => {
            let c: CheckRecord = serde_json::from_str(&e.body).map_err(|x| bad(x.to_string()))?;
            if let Some(w) = watches.get_mut(&c.watch_id) {
                w.checks.push(c);
            }
        }
        kinds::WATCH_FINISHED => {
            let f: Finished = serde_json::from_str(&e.body).map_err(|x| bad(x.to_string()))?;
            if let Some(w) = watches.get_mut(&f.watch_id) {
                w.status = f.status;
                w.reason = Some(f.reason);
                w.finished_at = Some(e.at.clone());
            }
        }
        // Kinds a later version may add.
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> WatchPlan {
        WatchPlan {
            id: watch_id(7),
            environment: "production".into(),
            artifact: ArtifactId {
                name: "shop".into(),
                digest: format!("sha256:{}", "a".repeat(64)),
            },
            previous: None,
            deployment_seq: 7,
            deployed_at: "2026-01-01T00:00:00.000Z".into(),
            duration_seconds: 10,
            interval_seconds: 3,
            checks: vec!["exposure".into()],
            setting: "watch[0]".into(),
            log_offsets: BTreeMap::new(),
        }
    }

    #[test]
    fn intervals_cover_the_window() {
        let p = plan();
        assert_eq!(p.intervals(), 4);
        assert_eq!(
            p.due_at(1).unwrap().to_rfc3339(),
            "2026-01-01T00:00:03+00:00"
        );
        // The last interval ends with the window.
        assert_eq!(
            p.due_at(4).unwrap().to_rfc3339(),
            "2026-01-01T00:00:10+00:00"
        );
    }

    #[tokio::test]
    async fn claims_are_taken_once_and_the_state_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&portcullis_store::StoreConfig::in_home(dir.path()))
            .await
            .unwrap();
        let w = Watches::new(&store);
        let actor = Actor::new("watch", crate::access::Role::Verifier);
        let p = plan();
        assert!(w.start(&p, &actor).await.unwrap().is_some());
        assert!(w.start(&p, &actor).await.unwrap().is_none());
        assert!(w.claim(&p.id, 1, &actor).await.unwrap());
        let other = Actor::new("replica-2", crate::access::Role::Verifier);
        assert!(!w.claim(&p.id, 1, &other).await.unwrap());
        let check = CheckRecord {
            watch_id: p.id.clone(),
            interval: 1,
            at: crate::clock::now(),
            window: Span {
                start: p.deployed_at.clone(),
                end: "2026-01-01T00:00:03.000Z".into(),
            },
            baseline: None,
            results: vec![CheckResult {
                kind: "exposure".into(),
                verdict: Verdict::Fail,
                score: None,
                failed: vec!["port 8081 is open".into()],
                metrics: Vec::new(),
                ports: vec![8081],
                evidence: None,
            }],
            facts: Vec::new(),
            by: String::new(),
        };
        let report = CheckReport {
            blob_kind: "evidence".into(),
            bytes: b"{\"kind\": \"exposure\"}".to_vec(),
        };
        assert!(
            w.record_check(check.clone(), std::slice::from_ref(&report), None, &actor)
                .await
                .unwrap()
                .is_some()
        );
        // Once per interval, whoever asks.
        assert!(
            w.record_check(check, &[report], None, &actor)
                .await
                .unwrap()
                .is_none()
        );
        w.finish(&p.id, Status::Failed, "port", vec!["x".into()], &actor)
            .await
            .unwrap()
            .unwrap();
        let state = w.get(&p.id).await.unwrap().unwrap();
        assert_eq!(state.status, Status::Failed);
        assert_eq!(state.claimed.len(), 1);
        assert_eq!(state.checks[0].results[0].ports, vec![8081]);
        assert_eq!(state.checks[0].by, "watch");
        let viewer = Actor::new("v", crate::access::Role::Viewer);
        assert!(w.claim(&p.id, 2, &viewer).await.is_err());
    }
}
