//! The scheduler: finds recorded deployments the settings watch, starts their watches, runs
//! each interval's checks when it is due (on the replica that claims it), records the results
//! as facts of the running digest, and ends each watch: failed at the first failed check
//! (with the rollback webhook, when configured), passed when the window is over.
//!
//! Everything it knows comes from the store at each pass, so a restarted replica (or another
//! one) picks up where the watch stands; the claims make each interval run once.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use portcullis_firewall::sources::FactsToRecord;
use portcullis_firewall::watch::{
    CheckRecord, CheckReport, Status, WatchPlan, WatchState, watch_id,
};
use portcullis_firewall::{Actor, DecisionService, Role};
use portcullis_store::{StoreEvent, kinds};

use crate::checks::{self, Windows};
use crate::config::{Watch, Watches};
use crate::rollback::{self, RollbackRequest};

/// A watch that ended here (this replica recorded its end).
#[derive(Debug, Clone)]
pub struct Ended {
    pub state: WatchState,
    pub status: Status,
    pub reason: String,
    pub failed_checks: Vec<String>,
    /// The rollback webhook's answer (HTTP status) or why it failed, when one is configured
    /// and the watch failed.
    pub rollback: Option<Result<u16, String>>,
}

/// Told of each watch that ends here (the server notifies).
pub type OnEnd = Arc<dyn Fn(&Ended) + Send + Sync>;

/// Deployments read per pass.
const PAGE: i64 = 1000;

/// Runs the watches the settings ask for, against one decision service.
pub struct Runner {
    service: Arc<DecisionService>,
    watches: Arc<Watches>,
    actor: Actor,
    on_end: OnEnd,
    /// Watches whose checks run in this process now.
    running: Arc<Mutex<HashSet<String>>>,
    /// The running watches as the store tells them, and the last watch entry read: each pass
    /// reads only what is new.
    known: tokio::sync::Mutex<(u64, BTreeMap<String, WatchState>)>,
}

impl Runner {
    /// `replica` names this process in the records (`watch@host`).
    pub fn new(
        service: Arc<DecisionService>,
        watches: Watches,
        replica: &str,
        on_end: OnEnd,
    ) -> Self {
        Self {
            service,
            watches: Arc::new(watches),
            actor: Actor::new(replica, Role::Verifier),
            on_end,
            running: Arc::default(),
            known: tokio::sync::Mutex::default(),
        }
    }

    /// How often the store is looked at: a quarter of the shortest interval, 200 ms to 5 s.
    pub fn tick(&self) -> Duration {
        let shortest = self
            .watches
            .items
            .iter()
            .map(|w| w.interval)
            .min()
            .unwrap_or(Duration::from_secs(20));
        (shortest / 4).clamp(Duration::from_millis(200), Duration::from_secs(5))
    }

    /// Run until the task is dropped.
    pub async fn run(self) {
        if self.watches.is_empty() {
            return;
        }
        let this = Arc::new(self);
        let mut cursor = 0;
        let tick = this.tick();
        // A deployment wakes the scheduler at once where the store tells of it (live kinds);
        // the tick covers the rest.
        let mut changes = this.service.store().subscribe().await.ok();
        loop {
            if let Err(e) = this.pass(&mut cursor).await {
                tracing::error!(error = %e, "watch: a pass over the store failed");
            }
            let deadline = tokio::time::Instant::now() + tick;
            match &mut changes {
                Some(sub) => loop {
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline) => break,
                        e = sub.next() => {
                            if e.kind == kinds::DEPLOYMENT || e.kind == StoreEvent::RELOAD {
                                break;
                            }
                        }
                    }
                },
                None => tokio::time::sleep_until(deadline).await,
            }
        }
    }

    /// One look at the store: start watches of new deployments, run what is due, end what is
    /// over. Public for tests that step it.
    pub async fn pass(self: &Arc<Self>, cursor: &mut u64) -> Result<(), String> {
        let book = self.service.watches();
        // New deployments (all of them at the first pass: a watch whose window is still open
        // starts late rather than never).
        loop {
            let found = book
                .deployments_after(*cursor, PAGE)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = found.last() else { break };
            *cursor = last.seq;
            for d in &found {
                let Some(w) = self
                    .watches
                    .for_deployment(&d.environment, &d.artifact.name)
                else {
                    continue;
                };
                let Some(at) = portcullis_firewall::watch::parse_time(&d.at) else {
                    continue;
                };
                let window = TimeDelta::from_std(w.duration).unwrap_or(TimeDelta::MAX);
                if at + window <= Utc::now() {
                    continue;
                }
                let previous = book
                    .previous(&d.environment, &d.artifact.name, d.seq)
                    .await
                    .map_err(|e| e.to_string())?
                    .map(|p| p.artifact);
                let plan = WatchPlan {
                    id: watch_id(d.seq),
                    environment: d.environment.clone(),
                    artifact: d.artifact.clone(),
                    previous,
                    deployment_seq: d.seq,
                    deployed_at: d.at.clone(),
                    duration_seconds: w.duration.as_secs(),
                    interval_seconds: w.interval.as_secs(),
                    checks: w.checks(),
                    setting: w.place.clone(),
                    log_offsets: crate::window_logs::offsets(w.logs.as_ref()),
                };
                if book
                    .start(&plan, &self.actor)
                    .await
                    .map_err(|e| e.to_string())?
                    .is_some()
                {
                    tracing::info!(watch = %plan.id, environment = %plan.environment, artifact = %plan.artifact.name, "watch started");
                }
            }
        }
        // Running watches: what is due.
        let now = Utc::now();
        let running: Vec<WatchState> = {
            let mut known = self.known.lock().await;
            let (cursor, watches) = &mut *known;
            *cursor = book
                .follow(watches, *cursor)
                .await
                .map_err(|e| e.to_string())?;
            // Ended watches are not looked at again.
            watches.retain(|_, w| w.status == Status::Running);
            watches.values().cloned().collect()
        };
        for state in running {
            if self.is_running(&state.plan.id) {
                continue;
            }
            let plan = &state.plan;
            let Some(w) = self
                .watches
                .at(&plan.setting, &plan.environment, &plan.artifact.name)
            else {
                continue;
            };
            let n = plan.intervals();
            let lag = TimeDelta::from_std(w.lag).unwrap_or_default();
            let due = (1..=n)
                .rev()
                .find(|k| plan.due_at(*k).is_some_and(|t| t + lag <= now))
                .unwrap_or(0);
            // A failed check whose end was not recorded (the replica stopped in between), or
            // a window that is over: end it.
            if state.checks.iter().any(CheckRecord::failed)
                || (due == n && state.checks.iter().any(|c| c.interval == n))
            {
                self.conclude(w, &state).await;
                continue;
            }
            let grace = TimeDelta::from_std(w.interval.saturating_mul(2)).unwrap_or(TimeDelta::MAX);
            if due == n
                && state.last_claimed() >= n
                && plan.due_at(n).is_some_and(|t| t + grace <= now)
            {
                // Claimed, never recorded (the replica that took it stopped).
                self.conclude(w, &state).await;
                continue;
            }
            if due == 0 || due <= state.last_claimed() {
                continue;
            }
            let claimed = self
                .service
                .watches()
                .claim(&plan.id, due, &self.actor)
                .await
                .map_err(|e| e.to_string())?;
            if !claimed {
                continue;
            }
            self.set_running(&plan.id, true);
            let this = self.clone();
            let w = w.clone();
            tokio::spawn(async move {
                if let Err(e) = this.interval(&w, &state, due).await {
                    tracing::error!(watch = %state.plan.id, interval = due, error = %e, "watch: the checks could not be recorded");
                }
                this.set_running(&state.plan.id, false);
            });
        }
        Ok(())
    }

    /// Run interval `k`'s checks, record them, and end the watch when that is the outcome.
    async fn interval(&self, w: &Watch, state: &WatchState, k: u32) -> Result<(), String> {
        let plan = &state.plan;
        let (Some(deployed), Some(end)) = (plan.deployed_time(), plan.due_at(k)) else {
            return Err(format!("watch {}: unreadable times", plan.id));
        };
        let windows = Windows { deployed, end };
        let (exposure, canary) =
            tokio::join!(checks::exposure(w, plan), checks::canary(w, plan, windows));
        let outcomes: Vec<checks::Outcome> = [exposure, canary].into_iter().flatten().collect();
        let facts = FactsToRecord {
            artifact_digest: plan.artifact.digest.clone(),
            environment: plan.environment.clone(),
            verifications: outcomes
                .iter()
                .filter_map(|o| o.verification.clone())
                .collect(),
            exposures: outcomes.iter().flat_map(|o| o.exposures.clone()).collect(),
        };
        let reports: Vec<CheckReport> = outcomes.iter().filter_map(|o| o.report.clone()).collect();
        let (window, baseline) = windows.spans();
        let record = CheckRecord {
            watch_id: plan.id.clone(),
            interval: k,
            at: portcullis_firewall::clock::now(),
            window,
            baseline: Some(baseline),
            results: outcomes.into_iter().map(|o| o.result).collect(),
            facts: Vec::new(),
            by: String::new(),
        };
        let book = self.service.watches();
        book.record_check(record.clone(), &reports, Some(&facts), &self.actor)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(watch = %plan.id, interval = k, failed = record.failed(), "watch checks recorded");
        if record.failed() || k == plan.intervals() {
            let mut now = state.clone();
            now.checks.push(record);
            self.conclude(w, &now).await;
        }
        Ok(())
    }

    /// End the watch as its checks say, and act on it when the end is recorded here.
    async fn conclude(&self, w: &Watch, state: &WatchState) {
        let failed: Vec<&CheckRecord> = state.checks.iter().filter(|c| c.failed()).collect();
        let (status, reason, failed_checks) = match failed.first() {
            Some(first) => {
                let lines = first.failures();
                (
                    Status::Failed,
                    format!("interval {}: {}", first.interval, lines.join("; ")),
                    lines,
                )
            }
            None if state.checks.iter().any(CheckRecord::complete) => (
                Status::Passed,
                format!(
                    "{} interval(s) checked over {} s without a failure",
                    state.checks.len(),
                    state.plan.duration_seconds
                ),
                Vec::new(),
            ),
            None => (
                Status::Inconclusive,
                "no interval's checks all ran".to_string(),
                Vec::new(),
            ),
        };
        let book = self.service.watches();
        let recorded = match book
            .finish(
                &state.plan.id,
                status,
                &reason,
                failed_checks.clone(),
                &self.actor,
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(watch = %state.plan.id, error = %e, "watch: its end could not be recorded");
                return;
            }
        };
        if recorded.is_none() {
            // Another replica ended it (and acts on it).
            return;
        }
        tracing::info!(watch = %state.plan.id, status = status.as_str(), %reason, "watch ended");
        let rollback = match (&w.rollback, status) {
            (Some(r), Status::Failed) => {
                let request = RollbackRequest::new(state, &reason, &failed_checks);
                let answer = rollback::call(r, &request).await;
                if let Err(e) = &answer {
                    tracing::error!(watch = %state.plan.id, error = %e, "rollback webhook failed");
                }
                Some(answer)
            }
            _ => None,
        };
        let mut ended_state = state.clone();
        ended_state.status = status;
        ended_state.reason = Some(reason.clone());
        (self.on_end)(&Ended {
            state: ended_state,
            status,
            reason,
            failed_checks,
            rollback,
        });
    }

    fn is_running(&self, id: &str) -> bool {
        match self.running.lock() {
            Ok(g) => g.contains(id),
            Err(p) => p.into_inner().contains(id),
        }
    }

    fn set_running(&self, id: &str, on: bool) {
        let mut g = match self.running.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if on {
            g.insert(id.to_string());
        } else {
            g.remove(id);
        }
    }
}
