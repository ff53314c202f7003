//! The verification evidence document (`"kind": "canary"`) and its human rendering.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::judge::{Classification, GroupScore, ScoredMetric, Thresholds, Verdict};
use crate::logs::{ClusterClass, LogResult};

/// Version of the report format.
pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportArtifact {
    pub name: String,
    pub digest: String,
}

/// What a canary analysis concluded, with everything it concluded it from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Always `canary`.
    pub kind: String,
    pub version: u32,
    pub artifact: Option<ReportArtifact>,
    pub environment: Option<String>,
    pub generated_at: String,
    /// 0–100.
    pub score: f64,
    /// `pass` | `marginal` | `fail`.
    pub verdict: Verdict,
    pub thresholds: Thresholds,
    pub metrics: Option<MetricsReport>,
    pub logs: Option<LogResult>,
    /// One line per failing metric or unexpected log template.
    pub failing: Vec<String>,
    /// Why the score is what it is, when a rule overrode it.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsReport {
    /// Score of the last interval analysed.
    pub score: f64,
    pub source: String,
    pub intervals: Vec<IntervalReport>,
    /// Each metric's baseline and canary samples over the whole analysis (the last interval's
    /// window), downsampled for charts. Absent from reports written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<MetricSeries>,
}

/// Most points kept per side of a [`MetricSeries`].
pub const MAX_SERIES_POINTS: usize = 240;

/// One metric's samples for a chart: points `[t, v]` where `t` is the sample's position in its
/// side's series, in time order, from 0 (a downsampled point: the mean position of the samples
/// it stands for, and `v` their mean). Samples that are not numbers are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSeries {
    pub group: String,
    pub name: String,
    pub baseline: Vec<[f64; 2]>,
    pub canary: Vec<[f64; 2]>,
    /// Samples each side had before downsampling.
    pub baseline_samples: usize,
    pub canary_samples: usize,
    /// When every sample of both sides had a time: the time of each side's first sample
    /// (RFC 3339), and each point's `t` is then in seconds since it (a baseline taken from
    /// another window, as a watch's is, still lines up with the canary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_start: Option<String>,
}

impl MetricSeries {
    /// Whether the points' `t` are seconds since each side's first sample.
    pub fn timed(&self) -> bool {
        self.baseline_start.is_some() && self.canary_start.is_some()
    }
}

/// One metric's samples of the last interval, with their times when the source has them.
#[derive(Debug, Clone, Default)]
pub struct TimedSamples {
    pub group: String,
    pub name: String,
    pub baseline: Vec<(Option<f64>, f64)>,
    pub canary: Vec<(Option<f64>, f64)>,
}

/// `samples` (times in seconds, in time order) as at most `max` points `[seconds since the
/// first sample, value]`, consecutive samples averaged in equal buckets; non-finite values left
/// out. `None` unless every sample has a time.
fn downsample_timed(samples: &[(Option<f64>, f64)], max: usize) -> Option<(f64, Vec<[f64; 2]>)> {
    let timed: Vec<(f64, f64)> = samples
        .iter()
        .map(|&(t, v)| t.filter(|t| t.is_finite()).map(|t| (t, v)))
        .collect::<Option<_>>()?;
    let first = timed.first().map(|&(t, _)| t)?;
    let max = max.max(1);
    let buckets = timed.len().min(max);
    let mut out = Vec::with_capacity(buckets);
    for b in 0..buckets {
        let from = b * timed.len() / buckets;
        let to = (b + 1) * timed.len() / buckets;
        let (mut n, mut sum_t, mut sum_v) = (0usize, 0.0, 0.0);
        for &(t, v) in timed.iter().take(to).skip(from) {
            if v.is_finite() {
                n += 1;
                sum_t += t - first;
                sum_v += v;
            }
        }
        if n > 0 {
            out.push([sum_t / n as f64, sum_v / n as f64]);
        }
    }
    Some((first, out))
}

fn rfc3339(seconds: f64) -> Option<String> {
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
    chrono::DateTime::from_timestamp(whole as i64, nanos)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// `values` as at most `max` points `[position, value]`: consecutive samples averaged in
/// equal buckets; non-finite samples left out.
pub fn downsample(values: &[f64], max: usize) -> Vec<[f64; 2]> {
    let max = max.max(1);
    let buckets = values.len().min(max);
    let mut out = Vec::with_capacity(buckets);
    for b in 0..buckets {
        let from = b * values.len() / buckets;
        let to = (b + 1) * values.len() / buckets;
        let (mut n, mut sum_t, mut sum_v) = (0usize, 0.0, 0.0);
        for (i, v) in values.iter().enumerate().take(to).skip(from) {
            if v.is_finite() {
                n += 1;
                sum_t += i as f64;
                sum_v += v;
            }
        }
        if n > 0 {
            out.push([sum_t / n as f64, sum_v / n as f64]);
        }
    }
    out
}

/// The chart series of every metric of the last interval (whose window holds the others').
/// Where the sources gave every sample a time (`timed`: the last interval's samples), the
/// points are placed by time; otherwise by position.
pub fn series_of(intervals: &[IntervalReport], timed: &[TimedSamples]) -> Vec<MetricSeries> {
    let Some(last) = intervals.last() else {
        return Vec::new();
    };
    last.metrics
        .iter()
        .map(|m| {
            let mut series = MetricSeries {
                group: m.group.clone(),
                name: m.name.clone(),
                baseline: downsample(&m.result.baseline.values, MAX_SERIES_POINTS),
                canary: downsample(&m.result.canary.values, MAX_SERIES_POINTS),
                baseline_samples: m.result.baseline.values.len(),
                canary_samples: m.result.canary.values.len(),
                baseline_start: None,
                canary_start: None,
            };
            let found = timed
                .iter()
                .find(|t| t.group == m.group && t.name == m.name);
            if let Some(t) = found
                && let Some((b0, b)) = downsample_timed(&t.baseline, MAX_SERIES_POINTS)
                && let Some((c0, c)) = downsample_timed(&t.canary, MAX_SERIES_POINTS)
                && let (Some(bs), Some(cs)) = (rfc3339(b0), rfc3339(c0))
            {
                series.baseline = b;
                series.canary = c;
                series.baseline_start = Some(bs);
                series.canary_start = Some(cs);
            }
            series
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalReport {
    pub index: u32,
    pub start: Option<String>,
    pub end: Option<String>,
    pub score: f64,
    pub verdict: Verdict,
    pub groups: Vec<GroupScore>,
    pub notes: Vec<String>,
    pub metrics: Vec<ScoredMetric>,
}

impl Report {
    /// The metrics that failed in the last interval analysed (muted ones never fail).
    pub fn failing_metrics(&self) -> Vec<&str> {
        self.metrics
            .as_ref()
            .and_then(|m| m.intervals.last())
            .map(|i| {
                i.metrics
                    .iter()
                    .filter(|m| m.result.classification.is_failure() && !m.muted)
                    .map(|m| m.name.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Short text naming what failed (for the gate's `details`).
    pub fn details(&self) -> String {
        if self.failing.is_empty() {
            return format!("score {:.1}, nothing failed", self.score);
        }
        let mut s = self
            .failing
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if self.failing.len() > 5 {
            let _ = write!(s, "; and {} more", self.failing.len() - 5);
        }
        s
    }

    /// The readable report.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let target = match (&self.artifact, &self.environment) {
            (Some(a), Some(e)) => format!(" of {}@{} in {e}", a.name, a.digest),
            (Some(a), None) => format!(" of {}@{}", a.name, a.digest),
            (None, Some(e)) => format!(" in {e}"),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "canary analysis{target}: score {:.1} → {} (pass ≥ {}, fail ≤ {})",
            self.score,
            self.verdict.as_str().to_uppercase(),
            self.thresholds.pass,
            self.thresholds.marginal
        );
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        if let Some(m) = &self.metrics {
            let _ = writeln!(out, "\nmetrics ({}): score {:.1}", m.source, m.score);
            for iv in &m.intervals {
                let span = match (&iv.start, &iv.end) {
                    (Some(s), Some(e)) => format!(" {s} .. {e}"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "  interval {}{span}: score {:.1} ({})",
                    iv.index,
                    iv.score,
                    iv.verdict.as_str()
                );
                for n in &iv.notes {
                    let _ = writeln!(out, "    note: {n}");
                }
            }
            if let Some(last) = m.intervals.last() {
                for g in &last.groups {
                    let score = g.score.map_or("-".to_string(), |s| format!("{s:.1}"));
                    let _ = writeln!(
                        out,
                        "  group {} (weight {}): {score}  [pass {}, high {}, low {}, nodata {}, nodata-fail {}, error {}]",
                        g.name, g.weight, g.pass, g.high, g.low, g.nodata, g.nodata_fail, g.error
                    );
                }
                for sm in &last.metrics {
                    let r = &sm.result;
                    let mark = match r.classification {
                        Classification::Pass => "ok  ",
                        Classification::Nodata => "--  ",
                        _ => "FAIL",
                    };
                    let muted = if sm.muted { " (muted)" } else { "" };
                    let _ = writeln!(
                        out,
                        "  {mark} {}/{}{muted}: {:?} — {}",
                        sm.group, sm.name, r.classification, r.reason
                    );
                    let _ = writeln!(
                        out,
                        "       baseline n={} mean={}  canary n={} mean={}",
                        r.baseline.used,
                        r.baseline.mean.map_or("-".into(), |v| format!("{v:.6}")),
                        r.canary.used,
                        r.canary.mean.map_or("-".into(), |v| format!("{v:.6}")),
                    );
                }
            }
        }
        if let Some(l) = &self.logs {
            let _ = writeln!(
                out,
                "\nlogs: score {:.1} ({} baseline events, {} canary events, {} templates, {} unexpected)",
                l.score,
                l.baseline_events,
                l.canary_events,
                l.clusters.len(),
                l.unexpected
            );
            for n in &l.notes {
                let _ = writeln!(out, "  note: {n}");
            }
            for c in l
                .clusters
                .iter()
                .filter(|c| c.classification == ClusterClass::Unexpected)
                .take(20)
            {
                let _ = writeln!(
                    out,
                    "  UNEXPECTED [{:?}] {} (baseline {}, canary {}): {}",
                    c.level, c.template, c.baseline_count, c.canary_count, c.reason
                );
                if let Some(s) = c.canary_samples.first() {
                    let first = s.lines().next().unwrap_or("");
                    let _ = writeln!(out, "       e.g. {first}");
                }
            }
        }
        out
    }
}
