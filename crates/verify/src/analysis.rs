//! One canary analysis from its configuration: metric intervals, logs, the combined score.

use chrono::Utc;

use crate::VerifyError;
use crate::config::{AnalysisConfig, Combine, Provider, parse_duration};
use crate::judge::{self, ScoredMetric, Verdict};
use crate::logs;
use crate::provider::{FileSource, MetricSource, PrometheusSource, Range, Side};
use crate::report::{IntervalReport, MetricsReport, Report, ReportArtifact, TimedSamples};

/// Who the analysis is about (recorded in the report).
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub artifact: Option<ReportArtifact>,
    pub environment: Option<String>,
}

/// Run the analysis the configuration describes.
pub fn run(config: &AnalysisConfig, subject: &Subject) -> Result<Report, VerifyError> {
    run_with_progress(config, subject, None)
}

/// [`run`], telling `logs_progress` the log bytes read so far and in all
/// ([`logs::analyse_with_progress`]).
pub fn run_with_progress(
    config: &AnalysisConfig,
    subject: &Subject,
    logs_progress: Option<&dyn Fn(u64, u64)>,
) -> Result<Report, VerifyError> {
    let metric_count: usize = config.groups.iter().map(|g| g.metrics.len()).sum();
    let metrics = if metric_count > 0 {
        let source: Box<dyn MetricSource> = match config.provider() {
            Some(Provider::Prometheus(p)) => Box::new(PrometheusSource::new(p)),
            Some(Provider::Files(f)) => Box::new(FileSource::open(f)?),
            None => {
                return Err(VerifyError::config(
                    "analysis",
                    "CanaryAnalysis",
                    "metrics need a provider",
                ));
            }
        };
        Some(run_metrics(config, source.as_ref())?)
    } else {
        None
    };
    let logs = match &config.logs {
        Some(l) => Some(logs::analyse_with_progress(l, logs_progress)?),
        None => None,
    };
    Ok(assemble(config, subject, metrics, logs))
}

/// The metric intervals: cumulative windows; an interval scoring at or below the marginal
/// threshold ends the analysis (failed).
pub fn run_metrics(
    config: &AnalysisConfig,
    source: &dyn MetricSource,
) -> Result<MetricsReport, VerifyError> {
    let weights: Vec<(String, f64)> = config
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.weight))
        .collect();
    let ranges: Vec<Option<Range>> = match &config.analysis {
        Some(w) => {
            let step = parse_duration(&w.step).unwrap_or(std::time::Duration::from_secs(60));
            let total = (w.end - w.start).num_seconds();
            let n = i64::from(w.intervals.max(1));
            (1..=n)
                .map(|k| {
                    // Whole seconds; the last interval ends at `end` exactly.
                    let secs = i128::from(total) * i128::from(k) / i128::from(n);
                    let end = if k == n {
                        w.end
                    } else {
                        w.start + chrono::TimeDelta::seconds(i64::try_from(secs).unwrap_or(total))
                    };
                    Some(Range {
                        start: w.start,
                        end,
                        step,
                    })
                })
                .collect()
        }
        None => vec![None],
    };
    let mut intervals = Vec::new();
    // The last interval's samples with their times, for the charts.
    let mut timed: Vec<TimedSamples> = Vec::new();
    for (i, range) in ranges.iter().enumerate() {
        let mut scored = Vec::new();
        timed.clear();
        for g in &config.groups {
            for m in &g.metrics {
                let base_timed = source.fetch_timed(m, Side::Baseline, range.as_ref())?;
                let canary_timed = source.fetch_timed(m, Side::Canary, range.as_ref())?;
                let base: Vec<f64> = base_timed.iter().map(|&(_, v)| v).collect();
                let canary: Vec<f64> = canary_timed.iter().map(|&(_, v)| v).collect();
                timed.push(TimedSamples {
                    group: g.name.clone(),
                    name: m.name.clone(),
                    baseline: base_timed,
                    canary: canary_timed,
                });
                let rule = m.rule();
                scored.push(ScoredMetric {
                    name: m.name.clone(),
                    group: g.name.clone(),
                    muted: rule.muted,
                    result: judge::classify(&base, &canary, &rule),
                });
            }
        }
        let summary = judge::score(&scored, &weights);
        let verdict = config.thresholds.verdict(summary.score);
        intervals.push(IntervalReport {
            index: u32::try_from(i + 1).unwrap_or(u32::MAX),
            start: range.as_ref().map(|r| r.start.to_rfc3339()),
            end: range.as_ref().map(|r| r.end.to_rfc3339()),
            score: summary.score,
            verdict,
            groups: summary.groups,
            notes: summary.notes,
            metrics: scored,
        });
        if verdict == Verdict::Fail {
            break;
        }
    }
    let score = intervals.last().map_or(0.0, |i| i.score);
    Ok(MetricsReport {
        score,
        source: source.describe(),
        series: crate::report::series_of(&intervals, &timed),
        intervals,
    })
}

/// Combine metric and log results into the report.
pub fn assemble(
    config: &AnalysisConfig,
    subject: &Subject,
    metrics: Option<MetricsReport>,
    logs: Option<logs::LogResult>,
) -> Report {
    let mut failing = Vec::new();
    let mut notes = Vec::new();
    if let Some((m, last)) = metrics
        .as_ref()
        .and_then(|m| m.intervals.last().map(|l| (m, l)))
    {
        for sm in &last.metrics {
            if sm.result.classification.is_failure() && !sm.muted {
                failing.push(format!(
                    "metric {} {:?}: {}",
                    sm.name, sm.result.classification, sm.result.reason
                ));
            }
        }
        notes.extend(last.notes.iter().map(|n| format!("metrics: {n}")));
        if m.intervals.len() < config.analysis.as_ref().map_or(1, |w| w.intervals as usize) {
            notes.push(format!(
                "metrics: interval {} scored at or below the marginal threshold; the analysis stopped there",
                last.index
            ));
        }
    }
    if let Some(l) = &logs {
        for c in l
            .clusters
            .iter()
            .filter(|c| c.classification == logs::ClusterClass::Unexpected)
        {
            failing.push(format!(
                "log template [{:?}] {:?}: {}",
                c.level, c.template, c.reason
            ));
        }
        notes.extend(l.notes.iter().map(|n| format!("logs: {n}")));
    }
    let score = match (&metrics, &logs) {
        (Some(m), Some(l)) => match config.combine {
            Combine::Min => m.score.min(l.score),
            Combine::Mean => (m.score + l.score) / 2.0,
        },
        (Some(m), None) => m.score,
        (None, Some(l)) => l.score,
        (None, None) => 0.0,
    };
    // A metric interval that failed fails the analysis, whatever the logs say.
    let metrics_failed = metrics
        .as_ref()
        .and_then(|m| m.intervals.last())
        .is_some_and(|i| i.verdict == Verdict::Fail);
    let verdict = if metrics_failed {
        Verdict::Fail
    } else {
        config.thresholds.verdict(score)
    };
    Report {
        api_version: crate::config::API_VERSION.to_string(),
        kind: "canary".to_string(),
        version: crate::report::REPORT_VERSION,
        artifact: subject.artifact.clone(),
        environment: subject.environment.clone(),
        generated_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        score,
        verdict,
        thresholds: config.thresholds,
        metrics,
        logs,
        failing,
        notes,
    }
}
