//! One interval's checks: the probe's expectations against the running service (exposure),
//! and its metrics and logs since the deployment against the version before's over the same
//! length of time just before it (canary, with the verify crate's judge).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use portcullis_firewall::watch::{CheckReport, CheckResult, Span, Verdict, WatchPlan};
use portcullis_policy::input::{InputExposure, InputVerification};
use portcullis_verify::VerifyError;
use portcullis_verify::analysis::{self, Subject};
use portcullis_verify::config::{AnalysisConfig, Metric, Provider, Window};
use portcullis_verify::judge::Thresholds;
use portcullis_verify::logs::LogConfig;
use portcullis_verify::provider::{FileSource, MetricSource, PrometheusSource, Range, Side};
use portcullis_verify::report::ReportArtifact;

use crate::config::Watch;

/// The two windows of a check: the new version's since the deployment, and the version
/// before's of the same length ending at the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub deployed: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Windows {
    pub fn length(&self) -> TimeDelta {
        self.end - self.deployed
    }

    pub fn canary(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.deployed, self.end)
    }

    pub fn baseline(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.deployed - self.length(), self.deployed)
    }

    pub fn spans(&self) -> (Span, Span) {
        let s = |(a, b): (DateTime<Utc>, DateTime<Utc>)| Span {
            start: a.to_rfc3339_opts(SecondsFormat::Millis, true),
            end: b.to_rfc3339_opts(SecondsFormat::Millis, true),
        };
        (s(self.canary()), s(self.baseline()))
    }
}

/// What one check found, and the facts it gives the running digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub result: CheckResult,
    /// The report the check made (stored as evidence of the artifact).
    pub report: Option<CheckReport>,
    pub verification: Option<InputVerification>,
    pub exposures: Vec<InputExposure>,
}

impl Outcome {
    fn error(kind: &str, message: String) -> Self {
        Self {
            result: CheckResult {
                kind: kind.to_string(),
                verdict: Verdict::Error,
                score: None,
                failed: vec![message],
                metrics: Vec::new(),
                ports: Vec::new(),
                evidence: None,
            },
            report: None,
            verification: None,
            exposures: Vec::new(),
        }
    }
}

/// `name@digest` of the watched artifact.
fn artifact_ref(plan: &WatchPlan) -> String {
    format!("{}@{}", plan.artifact.name, plan.artifact.digest)
}

/// Probe the expectations (at the watch's target, when it names one).
pub async fn exposure(watch: &Watch, plan: &WatchPlan) -> Option<Outcome> {
    let mut expectations = watch.expectations.clone()?;
    if let Some(host) = &watch.target {
        for t in &mut expectations.targets {
            t.address = host.clone();
        }
    }
    let options = portcullis_probe::Options {
        scan: portcullis_probe::ScanConfig {
            concurrency: 256,
            timeout: Duration::from_millis(1000),
            rate: None,
            reprobes: 1,
        },
        artifact: Some(artifact_ref(plan)),
        environment: Some(plan.environment.clone()),
        ..portcullis_probe::Options::default()
    };
    let report = match portcullis_probe::run(&expectations, &options).await {
        Ok(r) => r,
        Err(e) => return Some(Outcome::error("exposure", e.to_string())),
    };
    let body = serde_json::to_vec(&report).unwrap_or_default();
    let digest = portcullis_store::digest(&body);
    let exposures =
        portcullis_probe::evidence::exposures_from_json(&body, &digest).unwrap_or_default();
    let mut ports = Vec::new();
    let mut failed = Vec::new();
    for c in report.deviating() {
        if c.check.starts_with("port")
            && let Some(p) = c
                .observed
                .as_deref()
                .or(c.expected.as_deref())
                .and_then(|s| s.split('/').next())
                .and_then(|s| s.parse::<u16>().ok())
        {
            ports.push(p);
        }
        failed.push(format!(
            "{} {}: {} (expected {}, observed {})",
            c.target,
            c.check,
            c.message,
            c.expected.as_deref().unwrap_or("nothing"),
            c.observed.as_deref().unwrap_or("nothing")
        ));
    }
    ports.sort_unstable();
    ports.dedup();
    Some(Outcome {
        result: CheckResult {
            kind: "exposure".into(),
            verdict: if report.deviations > 0 {
                Verdict::Fail
            } else {
                Verdict::Pass
            },
            score: None,
            failed,
            metrics: Vec::new(),
            ports,
            evidence: Some(digest),
        },
        report: Some(CheckReport {
            blob_kind: "evidence".into(),
            bytes: body,
        }),
        verification: None,
        exposures,
    })
}

/// The metric source of a watch: the configured provider, the baseline side moved back by
/// the window's length (so one query, or one scope, serves both: "the same service, earlier").
struct Earlier {
    inner: Box<dyn MetricSource>,
    shift: TimeDelta,
}

impl MetricSource for Earlier {
    fn fetch_timed(
        &self,
        metric: &Metric,
        side: Side,
        range: Option<&Range>,
    ) -> Result<Vec<(Option<f64>, f64)>, VerifyError> {
        match (side, range) {
            (Side::Baseline, Some(r)) => {
                let moved = Range {
                    start: r.start - self.shift,
                    end: r.end - self.shift,
                    step: r.step,
                };
                self.inner.fetch_timed(metric, side, Some(&moved))
            }
            _ => self.inner.fetch_timed(metric, side, range),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} (baseline: the {} s before the deployment)",
            self.inner.describe(),
            self.shift.num_seconds()
        )
    }
}

/// Compare metrics and logs since the deployment with the same length before it.
pub async fn canary(watch: &Watch, plan: &WatchPlan, windows: Windows) -> Option<Outcome> {
    if watch.analysis.is_none() && watch.logs.is_none() {
        return None;
    }
    let logs = match &watch.logs {
        Some(source) => match crate::window_logs::gather(
            source,
            &plan.log_offsets,
            windows.baseline(),
            windows.canary(),
        )
        .await
        {
            Ok(p) => Some(p),
            Err(e) => return Some(Outcome::error("canary", format!("logs: {e}"))),
        },
        None => None,
    };
    let config = watch.analysis.clone();
    let subject = Subject {
        artifact: Some(ReportArtifact {
            name: plan.artifact.name.clone(),
            digest: plan.artifact.digest.clone(),
        }),
        environment: Some(plan.environment.clone()),
    };
    let run = move || analyse(config, &subject, windows, logs);
    match tokio::task::spawn_blocking(run).await {
        Ok(Ok(o)) => Some(o),
        Ok(Err(e)) => Some(Outcome::error("canary", e)),
        Err(e) => Some(Outcome::error(
            "canary",
            format!("the analysis stopped: {e}"),
        )),
    }
}

/// The canary analysis itself (blocking: Prometheus is asked over blocking HTTP).
fn analyse(
    config: Option<AnalysisConfig>,
    subject: &Subject,
    windows: Windows,
    logs: Option<Vec<crate::window_logs::Piece>>,
) -> Result<Outcome, String> {
    let mut config = config.unwrap_or_else(|| AnalysisConfig {
        api_version: portcullis_verify::config::API_VERSION.into(),
        kind: portcullis_verify::config::KIND.into(),
        thresholds: Thresholds::default(),
        analysis: None,
        provider: None,
        groups: Vec::new(),
        logs: None,
        combine: Default::default(),
    });
    let step = config
        .analysis
        .as_ref()
        .map_or_else(|| "1s".to_string(), |w| w.step.clone());
    let (start, end) = windows.canary();
    config.analysis = Some(Window {
        start,
        end,
        intervals: 1,
        step,
    });
    let has_metrics = config.groups.iter().any(|g| !g.metrics.is_empty());
    let metrics = if has_metrics && windows.length() > TimeDelta::zero() {
        let inner: Box<dyn MetricSource> = match config.provider() {
            Some(Provider::Prometheus(p)) => Box::new(PrometheusSource::new(p)),
            Some(Provider::Files(f)) => Box::new(FileSource::open(f).map_err(|e| e.to_string())?),
            None => return Err("metrics need a provider".into()),
        };
        let source = Earlier {
            inner,
            shift: windows.length(),
        };
        Some(analysis::run_metrics(&config, &source).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let logs = match logs {
        Some(pieces) => {
            let mut log_config = config.logs.clone().unwrap_or_else(default_log_config);
            // The lines come from the watch's source; the analysis file gives the settings.
            log_config.baseline = vec!["(before the deployment)".into()];
            log_config.canary = vec!["(since the deployment)".into()];
            let readers = pieces
                .into_iter()
                .map(|(name, canary, bytes)| (name, canary, std::io::Cursor::new(bytes)))
                .collect();
            Some(
                portcullis_verify::logs::analyse_readers(&log_config, readers)
                    .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    let report = analysis::assemble(&config, subject, metrics, logs);
    let failing_metrics: Vec<String> = report
        .failing_metrics()
        .into_iter()
        .map(String::from)
        .collect();
    let verdict = match report.verdict {
        portcullis_verify::judge::Verdict::Pass => Verdict::Pass,
        portcullis_verify::judge::Verdict::Marginal => Verdict::Marginal,
        portcullis_verify::judge::Verdict::Fail => Verdict::Fail,
    };
    let body = serde_json::to_vec(&report).unwrap_or_default();
    let details = if report.failing.is_empty() {
        None
    } else {
        Some(report.failing.join("; "))
    };
    Ok(Outcome {
        result: CheckResult {
            kind: "canary".into(),
            verdict,
            score: Some(report.score),
            failed: if verdict == Verdict::Fail && report.failing.is_empty() {
                vec![format!("score {:.1}", report.score)]
            } else {
                report.failing.clone()
            },
            metrics: failing_metrics,
            ports: Vec::new(),
            evidence: Some(portcullis_store::digest(&body)),
        },
        verification: Some(InputVerification {
            kind: "canary".into(),
            score: report.score.clamp(0.0, 100.0),
            verdict: report.verdict.as_str().into(),
            evidence: Some(portcullis_store::digest(&body)),
            details,
            ..InputVerification::default()
        }),
        exposures: Vec::new(),
        report: Some(CheckReport {
            blob_kind: "verification".into(),
            bytes: body,
        }),
    })
}

fn default_log_config() -> LogConfig {
    // Every setting at its default; the file lists are replaced by the caller.
    yaml_serde::from_str("{baseline: [b], canary: [c]}").unwrap_or_else(|_| LogConfig {
        baseline: Vec::new(),
        canary: Vec::new(),
        miner: Default::default(),
        continuation: r"^(\s|Caused by:|\.\.\. \d+ more)".into(),
        ignore: Vec::new(),
        levels: Default::default(),
        deductions: Default::default(),
        critical_fails: true,
        frequency_ratio: 2.0,
        min_z: 3.0,
        samples: 3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_is_the_same_length_just_before() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let w = Windows {
            deployed: t("2026-01-01T10:00:00Z"),
            end: t("2026-01-01T10:15:00Z"),
        };
        assert_eq!(
            w.baseline(),
            (t("2026-01-01T09:45:00Z"), t("2026-01-01T10:00:00Z"))
        );
        let (c, b) = w.spans();
        assert_eq!(c.end, "2026-01-01T10:15:00.000Z");
        assert_eq!(b.start, "2026-01-01T09:45:00.000Z");
    }

    #[test]
    fn logs_alone_judge_new_errors() {
        let now = Utc::now();
        let w = Windows {
            deployed: now - TimeDelta::seconds(10),
            end: now,
        };
        let before: Vec<u8> = (0..50)
            .map(|i| format!("INFO request {i} served in 3 ms\n"))
            .collect::<String>()
            .into_bytes();
        let with = |line: &str| {
            let mut after = before.clone();
            for i in 0..20 {
                after.extend(format!("{line} {i} refused\n").bytes());
            }
            vec![
                ("app.log".into(), false, before.clone()),
                ("app.log".into(), true, after),
            ]
        };
        // A new error template costs points; a new critical one fails.
        let o = analyse(
            None,
            &Subject::default(),
            w,
            Some(with("ERROR database connection")),
        )
        .unwrap();
        assert_eq!(o.result.verdict, Verdict::Marginal, "{o:?}");
        let o = analyse(
            None,
            &Subject::default(),
            w,
            Some(with("FATAL database connection")),
        )
        .unwrap();
        assert_eq!(o.result.verdict, Verdict::Fail, "{o:?}");
        assert!(
            o.result.failed.iter().any(|f| f.contains("database")),
            "{o:?}"
        );
        let same = vec![
            ("app.log".into(), false, before.clone()),
            ("app.log".into(), true, before),
        ];
        let o = analyse(None, &Subject::default(), w, Some(same)).unwrap();
        assert_eq!(o.result.verdict, Verdict::Pass, "{o:?}");
        assert_eq!(o.verification.unwrap().kind, "canary");
    }
}
