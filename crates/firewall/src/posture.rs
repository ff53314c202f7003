//! The posture of what runs: per (environment, artifact) in the inventory, the state its
//! latest decision there gives it — compliant, in violation (and of which rules), or undecided
//! (no decision about that digest in that environment) — and since when. A change of state,
//! of the rules violated or of the digest is a transition: a `posture.changed` audit entry
//! with the posture row it writes. Re-judging (`rejudge`) decides what runs again and settles
//! its posture here.

use chrono::{DateTime, Utc};
use portcullis_store::{Change, PostureRow, Store, Write, kinds};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::decision::{ArtifactId, Decision};
use crate::registry::{RegistryError, now};

/// The state of a running artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Compliant,
    Violation,
    /// Nothing on record decides it: it runs without a decision about its digest there, or
    /// deciding it again failed. Not compliant: `posture` exits 1.
    Undecided,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Compliant => "compliant",
            State::Violation => "violation",
            State::Undecided => "undecided",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "compliant" => Some(State::Compliant),
            "violation" => Some(State::Violation),
            "undecided" => Some(State::Undecided),
            _ => None,
        }
    }
}

/// What a decision says of a running artifact: its state and the rules that deny it.
pub fn judged(decision: &Decision) -> (State, Vec<String>) {
    if decision.allowed() {
        return (State::Compliant, Vec::new());
    }
    let mut rules: Vec<String> = decision.violations.iter().map(|v| v.rule.clone()).collect();
    rules.sort();
    rules.dedup();
    (State::Violation, rules)
}

/// A change of a running artifact's posture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub environment: String,
    pub artifact: ArtifactId,
    /// The state before (None: it had no posture yet).
    pub from: Option<State>,
    pub to: State,
    /// The rules violated before and now.
    pub rules_before: Vec<String>,
    pub rules: Vec<String>,
    /// The digest before, when it changed.
    pub digest_before: Option<String>,
    pub decision_id: Option<String>,
    pub since: String,
    /// What led to it (`advisory.added`, `exception.expired`, `deployment.recorded`, …).
    pub cause: String,
    /// Its audit entry.
    pub seq: u64,
}

impl Transition {
    /// Compliant → violation or undecided (or first seen not compliant).
    pub fn entered_violation(&self) -> bool {
        self.to != State::Compliant && self.from.is_none_or(|f| f == State::Compliant)
    }

    /// Back to compliant from violation or undecided.
    pub fn left_violation(&self) -> bool {
        self.to == State::Compliant && self.from.is_some_and(|f| f != State::Compliant)
    }
}

/// One running artifact's posture as read (`GET /v1/environments/{env}/posture`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    pub artifact: ArtifactId,
    pub state: State,
    pub rules: Vec<String>,
    /// When it entered this state (RFC 3339 UTC).
    pub since: String,
    /// Seconds in this state until `at` (the time of the reading).
    pub seconds: i64,
    /// The decision that put it in this state.
    pub decision_id: Option<String>,
    /// The posture entry in the audit chain.
    pub seq: i64,
}

/// An environment's posture: every running artifact the posture knows, and what runs without
/// one yet (being judged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentPosture {
    pub environment: String,
    /// When it was read.
    pub at: String,
    pub artifacts: Vec<Standing>,
    /// Running, not judged yet (just deployed; re-judging queued).
    pub pending: Vec<ArtifactId>,
    pub compliant: usize,
    pub violation: usize,
    pub undecided: usize,
}

impl EnvironmentPosture {
    /// Whether anything running is not compliant (what `posture --env` exits 1 on): in
    /// violation, undecided, or not judged yet (fails closed).
    pub fn failing(&self) -> bool {
        self.violation > 0 || self.undecided > 0 || !self.pending.is_empty()
    }
}

/// A time in a state, as people read it: `3d 4h`, `4h 12m`, `12m 3s`, `45s`.
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

fn rules_of(row: &PostureRow) -> Vec<String> {
    serde_json::from_str(&row.rules).unwrap_or_default()
}

fn seconds_since(since: &str, at: DateTime<Utc>) -> i64 {
    DateTime::parse_from_rfc3339(since)
        .map(|t| (at - t.with_timezone(&Utc)).num_seconds().max(0))
        .unwrap_or(0)
}

/// The posture of `environment` as the store holds it (every row checked against its entry).
pub async fn read(store: &Store, environment: &str) -> Result<EnvironmentPosture, RegistryError> {
    let at = Utc::now();
    let rows = store.posture(Some(environment)).await?;
    let running = store.inventory(Some(environment)).await?;
    let mut out = EnvironmentPosture {
        environment: environment.to_string(),
        at: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        artifacts: Vec::new(),
        pending: Vec::new(),
        compliant: 0,
        violation: 0,
        undecided: 0,
    };
    for r in running {
        let row = rows
            .iter()
            .find(|p| p.artifact_name == r.artifact_name && p.artifact_digest == r.artifact_digest);
        let Some(p) = row else {
            out.pending.push(ArtifactId {
                name: r.artifact_name,
                digest: r.artifact_digest,
            });
            continue;
        };
        let state = State::parse(&p.state).unwrap_or(State::Undecided);
        match state {
            State::Compliant => out.compliant += 1,
            State::Violation => out.violation += 1,
            State::Undecided => out.undecided += 1,
        }
        out.artifacts.push(Standing {
            artifact: ArtifactId {
                name: p.artifact_name.clone(),
                digest: p.artifact_digest.clone(),
            },
            state,
            rules: rules_of(p),
            seconds: seconds_since(&p.since, at),
            since: p.since.clone(),
            decision_id: p.decision_id.clone(),
            seq: p.seq,
        });
    }
    // In violation first, longest first; then undecided; then compliant.
    out.artifacts.sort_by(|a, b| {
        let rank = |s: State| match s {
            State::Violation => 0,
            State::Undecided => 1,
            State::Compliant => 2,
        };
        (rank(a.state), -a.seconds, &a.artifact.name).cmp(&(
            rank(b.state),
            -b.seconds,
            &b.artifact.name,
        ))
    });
    Ok(out)
}

/// Settle the posture of `artifact` running in `environment` at `state` (with `rules`, from
/// `decision_id`): a transition is recorded when the state, the rules or the digest differ
/// from the posture on record; otherwise nothing is written.
pub async fn settle(
    store: &Store,
    environment: &str,
    artifact: &ArtifactId,
    (state, rules): (State, Vec<String>),
    decision_id: Option<&str>,
    cause: &str,
) -> Result<Option<Transition>, RegistryError> {
    let before = store.posture_of(environment, &artifact.name).await?;
    let prev_state = before.as_ref().and_then(|b| State::parse(&b.state));
    let prev_rules = before.as_ref().map(rules_of).unwrap_or_default();
    let same_digest = before
        .as_ref()
        .is_some_and(|b| b.artifact_digest == artifact.digest);
    if same_digest && prev_state == Some(state) && prev_rules == rules {
        return Ok(None);
    }
    let at = now();
    // The time in a state runs on while only its rules change; a new digest is a new start.
    let since = match &before {
        Some(b) if same_digest && prev_state == Some(state) => b.since.clone(),
        _ => at.clone(),
    };
    let rules_text = serde_json::to_string(&rules)
        .map_err(|e| RegistryError::Internal(format!("posture rules: {e}")))?;
    let row = PostureRow {
        environment: environment.to_string(),
        artifact_name: artifact.name.clone(),
        artifact_digest: artifact.digest.clone(),
        state: state.as_str().to_string(),
        rules: rules_text,
        since: since.clone(),
        decision_id: decision_id.map(str::to_string),
        changed_at: at,
        seq: 0,
    };
    let digest_before = before
        .as_ref()
        .filter(|_| !same_digest)
        .map(|b| b.artifact_digest.clone());
    let entries = store
        .append(vec![Change::new(
            kinds::POSTURE_CHANGED,
            json!({
                "environment": environment, "artifact": artifact,
                "from": prev_state.map(State::as_str), "to": state.as_str(),
                "rules_before": prev_rules, "rules": rules,
                "digest_before": digest_before,
                "decision_id": decision_id, "cause": cause,
            }),
            vec![Write::Posture(row)],
        )])
        .await?;
    let seq = entries
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.seq)
        .ok_or_else(|| RegistryError::Internal("the posture change was not recorded".into()))?;
    Ok(Some(Transition {
        environment: environment.to_string(),
        artifact: artifact.clone(),
        from: prev_state,
        to: state,
        rules_before: prev_rules,
        rules,
        digest_before,
        decision_id: decision_id.map(str::to_string),
        since,
        cause: cause.to_string(),
        seq,
    }))
}

/// How many running artifacts of an environment are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub compliant: i64,
    pub violation: i64,
    pub undecided: i64,
}

/// Running artifacts in each state, per environment (for the overview and metrics).
pub async fn counts(
    store: &Store,
) -> Result<std::collections::BTreeMap<String, Counts>, RegistryError> {
    let mut out: std::collections::BTreeMap<String, Counts> = Default::default();
    for (env, state, n) in store.posture_counts().await? {
        let slot = out.entry(env).or_default();
        match State::parse(&state) {
            Some(State::Compliant) => slot.compliant += n,
            Some(State::Violation) => slot.violation += n,
            _ => slot.undecided += n,
        }
    }
    Ok(out)
}

/// One environment with what runs there, by state (`GET /v1/environments`, the overview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSummary {
    pub environment: String,
    /// Running artifacts (the inventory).
    pub running: usize,
    pub compliant: usize,
    pub violation: usize,
    pub undecided: usize,
    /// Running, not judged yet.
    pub pending: usize,
    /// The longest time in violation of any running artifact (seconds; 0 when none).
    pub longest_violation_seconds: i64,
}

/// Every environment something runs in (or has a posture in), each with its counts.
pub async fn environments(store: &Store) -> Result<Vec<EnvironmentSummary>, RegistryError> {
    let mut names: std::collections::BTreeSet<String> = counts(store).await?.into_keys().collect();
    names.extend(
        store
            .inventory(None)
            .await?
            .into_iter()
            .map(|r| r.environment),
    );
    let mut out = Vec::new();
    for environment in names {
        let p = read(store, &environment).await?;
        out.push(EnvironmentSummary {
            running: p.artifacts.len() + p.pending.len(),
            compliant: p.compliant,
            violation: p.violation,
            undecided: p.undecided,
            pending: p.pending.len(),
            longest_violation_seconds: p
                .artifacts
                .iter()
                .filter(|s| s.state == State::Violation)
                .map(|s| s.seconds)
                .max()
                .unwrap_or(0),
            environment,
        });
    }
    Ok(out)
}
