//! One canary analysis asked for by a progressive-delivery controller (Argo Rollouts' web
//! metric, Flagger's `rollout` webhook): the profile's analysis of the canary's pods against the
//! stable (or primary) pods over the profile's window ending now, run by the verify crate as the
//! watch runs it, read into a verification fact by `verify::evidence`, and recorded for the
//! canary's digest through the firewall (`DecisionService::record_facts`, role verifier or
//! admin), so a later gate to production counts it as a `recorded` fact.

use chrono::{SecondsFormat, TimeDelta, Utc};
use portcullis_firewall::ArtifactId;
use portcullis_firewall::sources::FactsToRecord;
use portcullis_verify::analysis::{self, Subject};
use portcullis_verify::config::Window;
use portcullis_verify::judge::Verdict;
use portcullis_verify::provider::PrometheusSource;
use portcullis_verify::report::{Report, ReportArtifact};
use serde_json::{Value, json};

use crate::auth::{Caller, Permission};
use crate::integrations::profiles::{ScopeValues, substitute};
use crate::problem::{Problem, codes};
use crate::state::AppState;

/// What to analyse and for whom.
#[derive(Debug, Clone)]
pub struct CanaryAsk {
    /// The server-side profile's name.
    pub profile: String,
    pub values: ScopeValues,
    /// The canary's artifact (its digest is what the result is recorded for).
    pub artifact: ArtifactId,
    pub environment: String,
    /// Who asked, for the recorded details: `argo-rollouts`, `flagger`.
    pub via: &'static str,
}

/// The analysis and what was recorded.
#[derive(Debug, Clone)]
pub struct CanaryResult {
    pub verdict: Verdict,
    /// The answer: `{verdict, passed, score, failing, reasons, metrics, window, scopes,
    /// artifact, environment, profile, recorded}`.
    pub body: Value,
}

/// An `artifact` (`NAME@sha256:HEX`) or an image reference pinned by digest
/// (`registry/repo[:tag]@sha256:HEX`: the artifact is the repository at that digest).
pub fn artifact_of(field: &str, text: &str) -> Result<ArtifactId, Problem> {
    let text = text.trim();
    let (name, digest) = text.rsplit_once('@').ok_or_else(|| {
        Problem::new(
            codes::INVALID_REQUEST,
            format!(
                "{field} {text:?}: give the canary's image pinned by digest (NAME@sha256:HEX): the result is recorded for one exact digest"
            ),
        )
    })?;
    // A tag in the last path segment is not part of the repository's name.
    let name = match name.rsplit_once('/') {
        Some((dir, last)) => match last.split_once(':') {
            Some((repo, _tag)) => format!("{dir}/{repo}"),
            None => name.to_string(),
        },
        None => name.split(':').next().unwrap_or(name).to_string(),
    };
    ArtifactId::parse(&format!("{name}@{digest}"))
        .map_err(|e| Problem::new(codes::INVALID_REQUEST, format!("{field} {e}")))
}

/// Run the profile's analysis and record its result (see the module's documentation).
pub async fn analyse_and_record(
    state: &AppState,
    caller: &Caller,
    ask: CanaryAsk,
) -> Result<CanaryResult, Problem> {
    caller.require(Permission::Record)?;
    let invalid = |m: String| Problem::new(codes::INVALID_REQUEST, m);
    let profile = state.settings.profiles.get(&ask.profile).ok_or_else(|| {
        let known: Vec<&str> = state.settings.profiles.names().collect();
        invalid(format!(
            "profile {:?}: no such analysis profile in the server settings (integrations.profiles: {})",
            ask.profile,
            if known.is_empty() {
                "none configured".to_string()
            } else {
                known.join(", ")
            }
        ))
    })?;
    portcullis_firewall::names::check(
        portcullis_firewall::names::NameKind::Environment,
        &ask.environment,
    )
    .map_err(|e| invalid(format!("environment: {e}")))?;
    if let Some(envs) = &profile.environments
        && !envs.contains(&ask.environment)
    {
        return Err(invalid(format!(
            "profile {:?} is not for environment {:?} (its environments: {})",
            profile.name,
            ask.environment,
            envs.join(", ")
        )));
    }
    ask.values.check().map_err(|e| invalid(e.to_string()))?;
    let baseline_scope =
        substitute(&profile.baseline_scope, &ask.values).map_err(|e| invalid(e.to_string()))?;
    let canary_scope =
        substitute(&profile.canary_scope, &ask.values).map_err(|e| invalid(e.to_string()))?;
    // The same pods on both sides always compare equal: a caller naming the stable pods as the
    // canary (canary_hash = stable_hash) would record a pass for any digest.
    if baseline_scope == canary_scope {
        return Err(invalid(format!(
            "the canary and the baseline are the same pods ({canary_scope}): nothing would be compared (are canary_hash and stable_hash the same?)"
        )));
    }

    let mut config = profile.analysis.clone();
    let end = Utc::now();
    let start =
        end - TimeDelta::from_std(profile.window).unwrap_or_else(|_| TimeDelta::minutes(10));
    config.analysis = Some(Window {
        start,
        end,
        intervals: 1,
        step: profile.step.clone(),
    });
    let prometheus = config
        .provider
        .as_mut()
        .and_then(|p| p.prometheus.as_mut())
        .ok_or_else(|| Problem::internal("an analysis profile without provider.prometheus"))?;
    prometheus.baseline_scope = baseline_scope.clone();
    prometheus.canary_scope = canary_scope.clone();
    let subject = Subject {
        artifact: Some(ReportArtifact {
            name: ask.artifact.name.clone(),
            digest: ask.artifact.digest.clone(),
        }),
        environment: Some(ask.environment.clone()),
    };
    let report: Report = tokio::task::spawn_blocking(move || {
        let source = config
            .provider()
            .and_then(|p| match p {
                portcullis_verify::config::Provider::Prometheus(p) => {
                    Some(PrometheusSource::new(p))
                }
                portcullis_verify::config::Provider::Files(_) => None,
            })
            .ok_or_else(|| "the profile's provider is not Prometheus".to_string())?;
        let metrics = analysis::run_metrics(&config, &source).map_err(|e| e.to_string())?;
        Ok::<_, String>(analysis::assemble(&config, &subject, Some(metrics), None))
    })
    .await
    .map_err(Problem::internal)?
    .map_err(|e| {
        Problem::new(
            codes::ANALYSIS_UNAVAILABLE,
            format!("profile {:?}: {e}", profile.name),
        )
    })?;

    // The report as the firewall reads verification evidence: one `canary` entry.
    let bytes = serde_json::to_vec(&report).map_err(Problem::internal)?;
    let digest = portcullis_store::digest(&bytes);
    let mut verifications = portcullis_verify::evidence::verifications_from_json(&bytes, &digest)
        .map_err(Problem::internal)?;
    let identity = match (&ask.values.namespace, &ask.values.name) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n.clone(),
        _ => String::new(),
    };
    for v in &mut verifications {
        v.details = Some(format!(
            "{} {identity} (profile {}, {} to {}): {}",
            ask.via,
            profile.name,
            start.to_rfc3339_opts(SecondsFormat::Secs, true),
            end.to_rfc3339_opts(SecondsFormat::Secs, true),
            v.details.as_deref().unwrap_or("")
        ));
    }
    let facts = FactsToRecord {
        artifact_digest: ask.artifact.digest.clone(),
        environment: ask.environment.clone(),
        verifications: verifications.clone(),
        exposures: Vec::new(),
    };
    let rows = state
        .service
        .record_facts(&facts, &caller.as_actor())
        .await?;

    let last = report.metrics.as_ref().and_then(|m| m.intervals.last());
    let metrics: Vec<Value> = last
        .map(|i| {
            i.metrics
                .iter()
                .map(|m| {
                    json!({
                        "name": m.name,
                        "group": m.group,
                        "classification": m.result.classification,
                        "failed": m.result.classification.is_failure() && !m.muted,
                        "reason": m.result.reason,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let failing = report.failing_metrics();
    let body = json!({
        "verdict": report.verdict.as_str(),
        "passed": report.verdict == Verdict::Pass,
        "score": (report.score * 10.0).round() / 10.0,
        "failing": failing,
        "reasons": report.failing,
        "metrics": metrics,
        "profile": profile.name,
        "window": {
            "start": start.to_rfc3339_opts(SecondsFormat::Secs, true),
            "end": end.to_rfc3339_opts(SecondsFormat::Secs, true),
        },
        "scopes": {"baseline": baseline_scope, "canary": canary_scope},
        "artifact": {"name": ask.artifact.name, "digest": ask.artifact.digest},
        "environment": ask.environment,
        "recorded": {
            "artifact_digest": ask.artifact.digest,
            "environment": ask.environment,
            "by": caller.actor(),
            "report_digest": digest,
            "verifications": verifications,
            "facts": rows.iter().map(|r| json!({"id": r.id, "kind": r.kind, "audit_entry": r.seq})).collect::<Vec<_>>(),
        },
    });
    Ok(CanaryResult {
        verdict: report.verdict,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_come_from_references_pinned_by_digest() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let a = artifact_of(
            "image",
            &format!("registry.example.com:5000/shop/cart:1.2@{d}"),
        )
        .unwrap();
        assert_eq!(a.name, "registry.example.com:5000/shop/cart");
        assert_eq!(a.digest, d);
        let a = artifact_of("image", &format!("cart@{d}")).unwrap();
        assert_eq!(a.name, "cart");
        assert!(artifact_of("image", "registry.example.com/shop/cart:1.2").is_err());
        assert!(artifact_of("image", "cart@sha256:12").is_err());
    }
}
