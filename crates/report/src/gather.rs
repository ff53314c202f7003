//! Building a [`Report`] from the store: the decisions of the range (each checked against its
//! audit entry), the stored requests and policy bundles they were made with (which rules ran),
//! exceptions, advisories and their impact, and the chain's verification.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use portcullis_firewall::record::{self, StoredBundle, StoredRequest};
use portcullis_firewall::{
    CompiledException, Config, Decision, Exception, Violation, engine_rules,
};
use portcullis_policy::{Action, PolicyBundle, PolicySource};
use portcullis_store::{Store, VerifyFailure};

use crate::ReportError;
use crate::controls::{self, FRAMEWORKS};
use crate::model::*;

/// The longest range a report covers (decisions are loaded one by one).
pub const MAX_RANGE_DAYS: i64 = 3660;

/// The rules of one policy bundle and the configuration that says where each runs.
struct BundleRules {
    rules: Vec<portcullis_policy::Rule>,
    config: Config,
}

/// `framework:id` → (framework, id), for the frameworks a report covers.
fn split_control(qualified: &str) -> Option<(&str, &str)> {
    let (f, id) = qualified.split_once(':')?;
    FRAMEWORKS.contains(&f).then_some((f, id))
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[derive(Default)]
struct ControlAcc {
    rules: BTreeSet<String>,
    evaluated_in: Vec<String>,
    violated_in: Vec<String>,
    excepted_in: Vec<String>,
}

/// Build the report of `query` from `store`.
pub async fn build(store: &Store, query: &ReportQuery) -> Result<Report, ReportError> {
    build_with_progress(store, query, &mut |_, _| {}).await
}

/// [`build`], calling `progress(done, total)` as each decision of the range is read (`total`
/// is the number of decisions in the range).
pub async fn build_with_progress(
    store: &Store,
    query: &ReportQuery,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Report, ReportError> {
    if query.from >= query.to {
        return Err(ReportError::Query(format!(
            "the range is empty: --from {} is not before --to {}",
            rfc3339(&query.from),
            rfc3339(&query.to)
        )));
    }
    if query.to - query.from > Duration::days(MAX_RANGE_DAYS) {
        return Err(ReportError::Query(format!(
            "the range {} .. {} is longer than {MAX_RANGE_DAYS} days",
            rfc3339(&query.from),
            rfc3339(&query.to)
        )));
    }
    let env = query.env.as_deref().filter(|e| !e.is_empty());

    // Decisions of the range, oldest first. The store filters by a string comparison of
    // `decided_at`; a day's margin, then the exact comparison here on parsed times.
    let since = rfc3339(&(query.from - Duration::days(1)));
    let mut rows = store.decisions(env, None, Some(&since), -1).await?;
    rows.reverse();
    let total = rows
        .iter()
        .filter(|r| parse_time(&r.decided_at).is_none_or(|at| at >= query.from && at < query.to))
        .count();
    let mut done = 0;

    let mut bundles: HashMap<String, Arc<BundleRules>> = HashMap::new();
    let mut by_control: BTreeMap<(String, String), ControlAcc> = BTreeMap::new();
    for (framework, id, rule) in library_controls()? {
        by_control
            .entry((framework, id))
            .or_default()
            .rules
            .insert(rule);
    }

    let mut decisions = Vec::new();
    let mut summary = Summary::default();
    let mut days: BTreeMap<String, DayCounts> = BTreeMap::new();
    let mut rule_counts: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut used: BTreeMap<String, (Exception, Vec<String>)> = BTreeMap::new();
    let mut cited: BTreeMap<String, Vec<(String, bool, String)>> = BTreeMap::new();

    for row in rows {
        let at = parse_time(&row.decided_at).ok_or_else(|| ReportError::Record {
            decision: row.id.clone(),
            message: format!("decided_at {:?} is not an RFC 3339 time", row.decided_at),
        })?;
        if at < query.from || at >= query.to {
            continue;
        }
        done += 1;
        progress(done, total);
        let (_, decision) =
            record::load_decision(store, &row.id)
                .await
                .map_err(|e| ReportError::Record {
                    decision: row.id.clone(),
                    message: e.to_string(),
                })?;
        let request: StoredRequest =
            load_json(store, &row.request_digest, &row.id, "request").await?;
        if !bundles.contains_key(&request.policy_bundle) {
            let rules = bundle_rules(store, &request.policy_bundle, &row.id).await?;
            bundles.insert(request.policy_bundle.clone(), rules);
        }
        let bundle = bundles.get(&request.policy_bundle);

        // Which controls this decision assessed, and which it found violated or excepted.
        let mut evaluated: BTreeSet<(String, String)> = BTreeSet::new();
        if let Some(b) = bundle {
            for rule in &b.rules {
                let qualified = rule.meta.controls.qualified();
                for c in &qualified {
                    if let Some((f, id)) = split_control(c) {
                        by_control
                            .entry((f.to_string(), id.to_string()))
                            .or_default()
                            .rules
                            .insert(rule.meta.id.clone());
                    }
                }
                if b.config.action(rule, &decision.environment) != Action::Off {
                    evaluated.extend(
                        qualified
                            .iter()
                            .filter_map(|c| split_control(c))
                            .map(|(f, id)| (f.to_string(), id.to_string())),
                    );
                }
            }
        }
        // The firewall's own checks (evidence readability) run in every decision.
        for e in engine_rules::FAIL_CLOSED {
            evaluated.extend(
                e.controls
                    .iter()
                    .filter_map(|c| split_control(c))
                    .map(|(f, id)| (f.to_string(), id.to_string())),
            );
        }
        let unexcepted = decision.violations.iter().chain(&decision.warnings);
        let violated: BTreeSet<(String, String)> = unexcepted
            .clone()
            .flat_map(|v| v.controls.iter())
            .filter_map(|c| split_control(c))
            .map(|(f, id)| (f.to_string(), id.to_string()))
            .collect();
        let excepted: BTreeSet<(String, String)> = decision
            .excepted
            .iter()
            .flat_map(|x| x.violation.controls.iter())
            .filter_map(|c| split_control(c))
            .map(|(f, id)| (f.to_string(), id.to_string()))
            .collect();
        for key in evaluated.iter().chain(&violated).chain(&excepted) {
            let acc = by_control.entry(key.clone()).or_default();
            if evaluated.contains(key) && acc.evaluated_in.last() != Some(&decision.id) {
                acc.evaluated_in.push(decision.id.clone());
            }
            if violated.contains(key) && acc.violated_in.last() != Some(&decision.id) {
                acc.violated_in.push(decision.id.clone());
            }
            if excepted.contains(key) && acc.excepted_in.last() != Some(&decision.id) {
                acc.excepted_in.push(decision.id.clone());
            }
        }
        for v in unexcepted.clone() {
            for (f, id) in v.controls.iter().filter_map(|c| split_control(c)) {
                by_control
                    .entry((f.to_string(), id.to_string()))
                    .or_default()
                    .rules
                    .insert(v.rule.clone());
            }
        }
        let mut violated_rules: BTreeMap<&str, &str> = BTreeMap::new();
        for v in unexcepted.clone() {
            violated_rules.insert(&v.rule, &v.title);
        }
        for (rule, title) in violated_rules {
            let e = rule_counts
                .entry(rule.to_string())
                .or_insert_with(|| (title.to_string(), 0));
            e.1 += 1;
        }

        // Exceptions used, advisories cited.
        for x in &decision.excepted {
            let id = exception_id(&x.exception);
            let (_, list) = used
                .entry(id)
                .or_insert_with(|| (x.exception.clone(), Vec::new()));
            if list.last() != Some(&decision.id) {
                list.push(decision.id.clone());
            }
        }
        let denied = !decision.allowed();
        let artifact = format!("{}@{}", decision.artifact.name, decision.artifact.digest);
        let mut advisories_here: BTreeSet<String> = BTreeSet::new();
        for v in unexcepted
            .clone()
            .chain(decision.excepted.iter().map(|x| &x.violation))
        {
            advisories_here.extend(cited_advisories(v));
        }
        for a in advisories_here {
            cited
                .entry(a)
                .or_default()
                .push((decision.id.clone(), denied, artifact.clone()));
        }

        let break_glass = store
            .override_of(&decision.id)
            .await?
            .map(|o| OverrideEntry {
                actor: o.actor,
                reason: o.reason,
                at: o.at,
            });
        let outcome = if denied {
            Outcome::Deny
        } else if !decision.warnings.is_empty() {
            Outcome::Warn
        } else {
            Outcome::Allow
        };
        let day = at.format("%Y-%m-%d").to_string();
        let d = days.entry(day.clone()).or_insert_with(|| DayCounts {
            day,
            ..DayCounts::default()
        });
        count(
            &mut summary.counts,
            outcome,
            &decision,
            break_glass.is_some(),
        );
        count(
            summary
                .per_environment
                .entry(decision.environment.clone())
                .or_default(),
            outcome,
            &decision,
            break_glass.is_some(),
        );
        match outcome {
            Outcome::Allow => d.allowed += 1,
            Outcome::Warn => d.warned += 1,
            Outcome::Deny => d.denied += 1,
        }
        summary.excepted_violations += decision.excepted.len() as u64;
        decisions.push(entry(decision, outcome, &request, break_glass));
    }

    let exceptions = exceptions(store, query, env, &used).await?;
    let advisories = advisories(store, query, &cited).await?;
    let chain = chain(store).await?;

    let coverage: Vec<ControlCoverage> = {
        let mut list: Vec<ControlCoverage> = by_control
            .into_iter()
            .map(|((framework, control), acc)| {
                let status = if !acc.violated_in.is_empty() {
                    Status::NotSatisfied
                } else if !acc.evaluated_in.is_empty() {
                    Status::Satisfied
                } else {
                    Status::NotAssessed
                };
                ControlCoverage {
                    title: controls::title(&framework, &control).to_string(),
                    framework,
                    control,
                    status,
                    rules: acc.rules.into_iter().collect(),
                    evaluated_in: acc.evaluated_in,
                    violated_in: acc.violated_in,
                    excepted_in: acc.excepted_in,
                }
            })
            .collect();
        list.sort_by(|a, b| {
            let fa = FRAMEWORKS.iter().position(|f| *f == a.framework);
            let fb = FRAMEWORKS.iter().position(|f| *f == b.framework);
            (fa, controls::sort_key(&a.control)).cmp(&(fb, controls::sort_key(&b.control)))
        });
        list
    };

    summary.exceptions_used = exceptions.iter().filter(|e| !e.used_by.is_empty()).count() as u64;
    summary.exceptions_active = exceptions.iter().filter(|e| e.active).count() as u64;
    summary.advisories = advisories.len() as u64;
    for c in &coverage {
        match c.status {
            Status::Satisfied => summary.controls_satisfied += 1,
            Status::NotSatisfied => summary.controls_not_satisfied += 1,
            Status::NotAssessed => summary.controls_not_assessed += 1,
        }
    }

    // Every day of the range, so charts show quiet days too.
    let mut all_days = Vec::new();
    let mut day = query.from.date_naive();
    let last = (query.to - Duration::nanoseconds(1)).date_naive();
    while day <= last {
        let key = day.format("%Y-%m-%d").to_string();
        all_days.push(days.remove(&key).unwrap_or(DayCounts {
            day: key,
            ..DayCounts::default()
        }));
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }

    let mut rules: Vec<RuleCount> = rule_counts
        .into_iter()
        .map(|(rule, (title, decisions))| RuleCount {
            rule,
            title,
            decisions,
        })
        .collect();
    rules.sort_by(|a, b| b.decisions.cmp(&a.decisions).then(a.rule.cmp(&b.rule)));

    Ok(Report {
        schema: SCHEMA.to_string(),
        generated_at: rfc3339(&Utc::now()),
        range: Range {
            environment: env.map(str::to_string),
            from: rfc3339(&query.from),
            to: rfc3339(&query.to),
        },
        summary,
        decisions,
        exceptions,
        advisories,
        coverage,
        chain,
        days: all_days,
        rules,
        running: running(store, env, query).await?,
    })
}

fn snapshot_entry(s: portcullis_store::SnapshotRow) -> SnapshotEntry {
    SnapshotEntry {
        chain_seq: s.seq,
        taken_at: s.taken_at,
        cause: s.cause,
        artifacts: s
            .artifacts
            .into_iter()
            .map(|a| RunningArtifact {
                name: a.name,
                digest: a.digest,
                deployed_at: a.deployed_at,
                decision_id: a.decision_id,
                verdict: a.verdict,
            })
            .collect(),
    }
}

/// Snapshots read at most, per environment and range.
const MAX_SNAPSHOTS: i64 = 100_000;

/// What ran in each environment (of `env`, or every one) during the range: the last snapshot
/// before it began and those taken in it (each checked against its audit entry by the store).
async fn running(
    store: &Store,
    env: Option<&str>,
    query: &ReportQuery,
) -> Result<Vec<EnvironmentSnapshots>, ReportError> {
    let environments = match env {
        Some(e) => vec![e.to_string()],
        None => store.snapshot_environments().await?,
    };
    let in_range =
        |taken_at: &str| parse_time(taken_at).is_some_and(|t| t >= query.from && t < query.to);
    // The store compares times as strings: a day's margin, then the exact test on parsed times.
    let from_margin = rfc3339(&(query.from - Duration::days(1)));
    let to_margin = rfc3339(&(query.to + Duration::days(1)));
    let mut out = Vec::new();
    for environment in environments {
        let mut snapshots: Vec<SnapshotEntry> = store
            .snapshots(
                Some(&environment),
                Some(&from_margin),
                Some(&to_margin),
                MAX_SNAPSHOTS,
            )
            .await?
            .into_iter()
            .filter(|s| in_range(&s.taken_at))
            .map(snapshot_entry)
            .collect();
        snapshots.reverse();
        let before = store
            .snapshots(
                Some(&environment),
                None,
                Some(&rfc3339(&(query.from + Duration::seconds(1)))),
                50,
            )
            .await?;
        let at_start = before
            .into_iter()
            .find(|s| parse_time(&s.taken_at).is_some_and(|t| t < query.from))
            .map(snapshot_entry);
        if at_start.is_none() && snapshots.is_empty() {
            continue;
        }
        out.push(EnvironmentSnapshots {
            environment,
            at_start,
            snapshots,
        });
    }
    Ok(out)
}

fn count(c: &mut Counts, outcome: Outcome, d: &Decision, overridden: bool) {
    c.decisions += 1;
    match outcome {
        Outcome::Allow => c.allowed += 1,
        Outcome::Warn => c.warned += 1,
        Outcome::Deny => c.denied += 1,
    }
    if !d.errors.is_empty() {
        c.with_errors += 1;
    }
    if overridden && outcome == Outcome::Deny {
        c.overridden += 1;
    }
}

/// Advisory ids a violation rests on.
fn cited_advisories(v: &Violation) -> Vec<String> {
    v.evidence_refs
        .iter()
        .filter(|r| r.kind == "advisory")
        .map(|r| r.id.clone())
        .collect()
}

fn entry(
    d: Decision,
    outcome: Outcome,
    request: &StoredRequest,
    break_glass: Option<OverrideEntry>,
) -> DecisionEntry {
    let (chain_seq, chain_hash) = d
        .chain
        .as_ref()
        .map(|c| (c.seq, c.hash.clone()))
        .unwrap_or_default();
    DecisionEntry {
        excepted: d
            .excepted
            .iter()
            .map(|x| ExceptedEntry {
                rule: x.violation.rule.clone(),
                key: x.violation.key.clone(),
                severity: x.violation.severity.clone(),
                controls: x.violation.controls.clone(),
                exception_id: x.exception.id.clone(),
                approver: x.exception.approver.clone(),
                reason: x.exception.reason.clone(),
                expires: x.exception.expires.clone(),
            })
            .collect(),
        id: d.id,
        decided_at: d.decided_at,
        environment: d.environment,
        artifact: d.artifact,
        verdict: d.decision.as_str().to_string(),
        outcome,
        chain_seq,
        chain_hash,
        policy_bundle_digest: d.policy_bundle_digest,
        engine_version: d.engine_version,
        evidence: d.evidence,
        violations: d.violations,
        warnings: d.warnings,
        errors: d.errors,
        requester: request.context.requester.clone(),
        pipeline: request.context.pipeline.clone(),
        break_glass,
    }
}

async fn load_json<T: serde::de::DeserializeOwned>(
    store: &Store,
    digest: &str,
    decision: &str,
    what: &str,
) -> Result<T, ReportError> {
    let (_, bytes) = store
        .blob(digest)
        .await?
        .ok_or_else(|| ReportError::Record {
            decision: decision.to_string(),
            message: format!("its stored {what} {digest} is missing from the store"),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| ReportError::Record {
        decision: decision.to_string(),
        message: format!("its stored {what} {digest} is not valid JSON of that kind: {e}"),
    })
}

/// Policy bundles compiled for earlier reports, by digest (a digest names one content, so a
/// cached entry never goes stale). Small: a store holds few bundles in a report's range.
static BUNDLES: std::sync::OnceLock<Mutex<HashMap<String, Arc<BundleRules>>>> =
    std::sync::OnceLock::new();
const BUNDLE_CACHE: usize = 16;

async fn bundle_rules(
    store: &Store,
    digest: &str,
    decision: &str,
) -> Result<Arc<BundleRules>, ReportError> {
    let cache = BUNDLES.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(digest).cloned()) {
        return Ok(hit);
    }
    let rules = Arc::new(load_bundle(store, digest, decision).await?);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= BUNDLE_CACHE {
            c.clear();
        }
        c.insert(digest.to_string(), Arc::clone(&rules));
    }
    Ok(rules)
}

async fn load_bundle(
    store: &Store,
    digest: &str,
    decision: &str,
) -> Result<BundleRules, ReportError> {
    let stored: StoredBundle = load_json(store, digest, decision, "policy bundle").await?;
    let sources: Vec<PolicySource> = stored
        .files
        .into_iter()
        .map(|f| PolicySource {
            path: f.path,
            text: f.text,
        })
        .collect();
    let bundle = PolicyBundle::from_sources(sources).map_err(|e| ReportError::Record {
        decision: decision.to_string(),
        message: format!("its policy bundle {digest} does not load: {e}"),
    })?;
    Ok(BundleRules {
        rules: bundle.rules().to_vec(),
        config: stored.settings,
    })
}

/// (framework, control id, rule id).
type Mapping = (String, String, String);

/// (framework, control, rule) for every mapping of the built-in library and the firewall's
/// own rules: the controls every report lists.
fn library_controls() -> Result<Vec<Mapping>, ReportError> {
    static LIBRARY: std::sync::OnceLock<Result<Vec<Mapping>, String>> = std::sync::OnceLock::new();
    LIBRARY
        .get_or_init(|| {
            let bundle = PolicyBundle::builtin().map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            for rule in bundle.rules() {
                for c in rule.meta.controls.qualified() {
                    if let Some((f, id)) = split_control(&c) {
                        out.push((f.to_string(), id.to_string(), rule.meta.id.clone()));
                    }
                }
            }
            for e in engine_rules::FAIL_CLOSED {
                for c in e.controls {
                    if let Some((f, id)) = split_control(c) {
                        out.push((f.to_string(), id.to_string(), e.id.to_string()));
                    }
                }
            }
            Ok(out)
        })
        .clone()
        .map_err(|e| ReportError::Query(format!("the built-in policy library does not load: {e}")))
}

/// An exception's id; one given to the gate in a file may have none.
fn exception_id(e: &Exception) -> String {
    e.id.clone()
        .unwrap_or_else(|| format!("unnamed:{}:{}:{}", e.rule, e.key, e.artifact))
}

async fn exceptions(
    store: &Store,
    query: &ReportQuery,
    env: Option<&str>,
    used: &BTreeMap<String, (Exception, Vec<String>)>,
) -> Result<Vec<ExceptionEntry>, ReportError> {
    let mut out = Vec::new();
    let rows = store.exceptions(true).await?;
    // Exceptions the decisions used that the store never granted: given to the gate in a
    // file (`gate --exceptions`). Who approved, why and until when come from the decision.
    for (id, (e, used_by)) in used {
        if rows.iter().any(|r| &r.id == id) {
            continue;
        }
        let expires = CompiledException::compile(e.clone())
            .map(|c| rfc3339(&c.expires_at))
            .unwrap_or_else(|_| e.expires.clone());
        let active = parse_time(&expires).is_some_and(|x| x >= query.to);
        out.push(ExceptionEntry {
            id: id.clone(),
            rule: e.rule.clone(),
            key: e.key.clone(),
            artifact: e.artifact.clone(),
            environments: e.environments.clone(),
            reason: e.reason.clone(),
            approver: e.approver.clone(),
            granted_by: String::new(),
            granted_at: String::new(),
            expires_at: expires,
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
            evidence: e.evidence.clone(),
            active,
            used_by: used_by.clone(),
            chain_seq: 0,
            granted_in_store: false,
        });
    }
    for row in rows {
        let e: Exception = serde_json::from_str(&row.body).map_err(|err| {
            ReportError::Store(portcullis_store::StoreError::Corrupt {
                what: format!("exception {}", row.id),
                message: err.to_string(),
            })
        })?;
        let granted = parse_time(&row.granted_at);
        let expires = parse_time(&row.expires_at);
        let revoked = row.revoked_at.as_deref().and_then(parse_time);
        // In force at some time in [from, to): granted before `to`, not ended before `from`.
        let ended = match (expires, revoked) {
            (Some(x), Some(r)) => Some(x.min(r)),
            (x, r) => x.or(r),
        };
        let overlaps = granted.is_none_or(|g| g < query.to) && ended.is_none_or(|t| t > query.from);
        let used_by = used
            .get(&row.id)
            .map(|(_, list)| list.clone())
            .unwrap_or_default();
        let in_env = env.is_none_or(|env| e.environments.iter().any(|x| x == "*" || x == env));
        if !(used_by.is_empty() && !(overlaps && in_env)) {
            let active = granted.is_some_and(|g| g < query.to)
                && revoked.is_none_or(|r| r >= query.to)
                && expires.is_some_and(|x| x >= query.to);
            out.push(ExceptionEntry {
                id: row.id,
                rule: e.rule,
                key: e.key,
                artifact: e.artifact,
                environments: e.environments,
                reason: e.reason,
                approver: e.approver,
                granted_by: row.granted_by,
                granted_at: row.granted_at,
                expires_at: row.expires_at,
                revoked_at: row.revoked_at,
                revoked_by: row.revoked_by,
                revoke_reason: row.revoke_reason,
                evidence: e.evidence,
                active: active && in_env,
                used_by,
                chain_seq: row.seq,
                granted_in_store: true,
            });
        }
    }
    Ok(out)
}

async fn advisories(
    store: &Store,
    query: &ReportQuery,
    cited: &BTreeMap<String, Vec<(String, bool, String)>>,
) -> Result<Vec<AdvisoryEntry>, ReportError> {
    let limits = portcullis_evidence::Limits::default();
    let mut out = Vec::new();
    let rows = store.advisories(true).await?;
    // Advisories the decisions cite that were never added to the store: given to the gate in
    // a file (`gate --advisories`), or matched from a scanner's own findings.
    for (id, by_decision) in cited {
        if rows.iter().any(|r| &r.id == id) {
            continue;
        }
        let mut artifacts: Vec<String> = by_decision.iter().map(|(_, _, a)| a.clone()).collect();
        artifacts.sort();
        artifacts.dedup();
        out.push(AdvisoryEntry {
            id: id.clone(),
            kind: "not-in-store".into(),
            summary: String::new(),
            digest: String::new(),
            added_at: String::new(),
            added_by: String::new(),
            withdrawn_at: None,
            withdraw_reason: None,
            denied: by_decision.iter().filter(|(_, d, _)| *d).count() as u64,
            decisions: by_decision.iter().map(|(id, _, _)| id.clone()).collect(),
            artifacts,
            deployed: Vec::new(),
        });
    }
    for row in rows {
        let added = parse_time(&row.added_at);
        let withdrawn = row.withdrawn_at.as_deref().and_then(parse_time);
        let in_force =
            added.is_none_or(|a| a < query.to) && withdrawn.is_none_or(|w| w > query.from);
        let by_decision = cited.get(&row.id).cloned().unwrap_or_default();
        if !in_force && by_decision.is_empty() {
            continue;
        }
        // What is deployed now that the advisory affects (none once it is withdrawn).
        let mut deployed = Vec::new();
        if row.withdrawn_at.is_none()
            && let Some((_, bytes)) = store.blob(&row.digest).await?
        {
            let parsed = record::advisories_in(&bytes, &limits).map_err(|e| {
                ReportError::Store(portcullis_store::StoreError::Corrupt {
                    what: format!("advisory {} (document {})", row.id, row.digest),
                    message: e.to_string(),
                })
            })?;
            for a in parsed
                .iter()
                .filter(|a| a.id == row.id || parsed.len() == 1)
            {
                for p in portcullis_firewall::impact::impact(store, a).await? {
                    let item = DeployedImpact {
                        environment: p.environment,
                        artifact_name: p.artifact_name,
                        artifact_digest: p.artifact_digest,
                        purl: p.purl,
                    };
                    if !deployed.contains(&item) {
                        deployed.push(item);
                    }
                }
            }
        }
        let mut artifacts: Vec<String> = by_decision.iter().map(|(_, _, a)| a.clone()).collect();
        artifacts.sort();
        artifacts.dedup();
        out.push(AdvisoryEntry {
            denied: by_decision.iter().filter(|(_, d, _)| *d).count() as u64,
            decisions: by_decision.into_iter().map(|(id, _, _)| id).collect(),
            artifacts,
            deployed,
            id: row.id,
            kind: row.kind,
            summary: row.summary,
            digest: row.digest,
            added_at: row.added_at,
            added_by: row.added_by,
            withdrawn_at: row.withdrawn_at,
            withdraw_reason: row.withdraw_reason,
        });
    }
    Ok(out)
}

async fn chain(store: &Store) -> Result<ChainResult, ReportError> {
    match store.verify(None).await {
        Ok(v) => Ok(ChainResult {
            verified: true,
            entries: v.entries,
            checkpoints: v.checkpoints as u64,
            last_hash: Some(v.last_hash),
            failure: None,
        }),
        Err(e @ (VerifyFailure::Tamper(_) | VerifyFailure::Tables(_))) => Ok(ChainResult {
            verified: false,
            entries: store
                .head()
                .await?
                .map(|(seq, _)| u64::try_from(seq).unwrap_or(0))
                .unwrap_or(0),
            checkpoints: store.checkpoints().await?.len() as u64,
            last_hash: None,
            failure: Some(e.to_string()),
        }),
        Err(VerifyFailure::Store(e)) => Err(ReportError::Store(e)),
    }
}
