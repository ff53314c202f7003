//! `analysis.yaml`: what to compare, where the data comes from, and how to judge it.
//!
//! ```yaml
//! apiVersion: portcullis.dev/v1
//! kind: CanaryAnalysis
//! thresholds: {pass: 95, marginal: 75}
//! analysis:                      # cumulative windows, as Kayenta: [start, start + k·(end-start)/intervals]
//!   start: 2026-01-01T00:00:00Z
//!   end: 2026-01-01T01:00:00Z
//!   intervals: 2
//!   step: 30s
//! provider:
//!   prometheus:
//!     url: http://127.0.0.1:9090     # or https://
//!     baselineScope: 'track="baseline"'
//!     canaryScope: 'track="canary"'
//!   # or: files: {baseline: baseline.csv, canary: canary.json}
//! groups:
//!   - name: errors
//!     weight: 60
//!     metrics:
//!       - name: error_rate
//!         query: 'sum(rate(http_errors_total{${scope}}[1m]))'
//!         direction: increase
//!         critical: true
//! logs:
//!   baseline: [logs/baseline/*.log]
//!   canary: [logs/canary/*.log]
//! ```

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::VerifyError;
use crate::judge::{MetricRule, Thresholds};
use crate::logs::LogConfig;
use crate::metrics_formats::SeriesFormat;

pub const API_VERSION: &str = "portcullis.dev/v1";
pub const KIND: &str = "CanaryAnalysis";

/// The placeholder in PromQL templates replaced by the baseline's or the canary's scope.
pub const SCOPE_PLACEHOLDER: &str = "${scope}";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisConfig {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default)]
    pub analysis: Option<Window>,
    #[serde(default)]
    pub provider: Option<ProviderConfig>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub logs: Option<LogConfig>,
    /// How the metric score and the log score combine: the lower of the two by default.
    #[serde(default)]
    pub combine: Combine,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Combine {
    #[default]
    Min,
    Mean,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default = "one")]
    pub intervals: u32,
    /// Query resolution, e.g. `30s`, `1m`.
    #[serde(default = "default_step")]
    pub step: String,
}

fn one() -> u32 {
    1
}

fn default_step() -> String {
    "60s".into()
}

/// Exactly one of `prometheus` and `files`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderConfig {
    #[serde(default)]
    pub prometheus: Option<PrometheusConfig>,
    #[serde(default)]
    pub files: Option<FilesConfig>,
}

/// The provider a configuration names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Provider<'a> {
    Prometheus(&'a PrometheusConfig),
    Files(&'a FilesConfig),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Base URL, `http://host:port` or `https://…` (TLS, webpki roots).
    pub url: String,
    /// What `${scope}` becomes in the baseline's queries, e.g. `track="baseline"`.
    pub baseline_scope: String,
    pub canary_scope: String,
    /// Per request, e.g. `10s`.
    #[serde(default = "default_timeout")]
    pub timeout: String,
}

fn default_timeout() -> String {
    "10s".into()
}

/// Series from files: wide CSV (a time column and one column per metric), long CSV
/// (`metric,timestamp,value`), JSON (`{"metric": [[t, v], ...]}` or a Prometheus `query_range`
/// response) or the Prometheus text format with timestamps; see [`crate::metrics_formats`].
/// Relative paths are relative to the configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilesConfig {
    pub baseline: PathBuf,
    pub canary: PathBuf,
    /// `wide-csv`, `long-csv`, `json` or `prometheus`; detected from the content by default.
    #[serde(default, skip_serializing_if = "SeriesFormat::is_auto")]
    pub format: SeriesFormat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Group {
    pub name: String,
    #[serde(default = "one_f")]
    pub weight: f64,
    pub metrics: Vec<Metric>,
}

fn one_f() -> f64 {
    1.0
}

/// One metric: where its series comes from and how it is judged (see [`MetricRule`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metric {
    pub name: String,
    /// PromQL with `${scope}` (Prometheus provider); unused with files (the series is `name`).
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub direction: crate::judge::Direction,
    #[serde(default)]
    pub critical: bool,
    #[serde(default)]
    pub must_have_data: bool,
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub nan_strategy: crate::judge::NanStrategy,
    #[serde(default)]
    pub remove_outliers: bool,
    #[serde(default = "default_outlier_factor")]
    pub outlier_factor: f64,
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    #[serde(default)]
    pub effect_size: crate::judge::EffectSize,
    #[serde(default)]
    pub max_relative_change: Option<f64>,
}

fn default_outlier_factor() -> f64 {
    3.0
}

fn default_confidence() -> f64 {
    0.98
}

fn default_tolerance() -> f64 {
    0.25
}

impl Metric {
    pub fn rule(&self) -> MetricRule {
        MetricRule {
            direction: self.direction,
            critical: self.critical,
            must_have_data: self.must_have_data,
            muted: self.muted,
            nan_strategy: self.nan_strategy,
            remove_outliers: self.remove_outliers,
            outlier_factor: self.outlier_factor,
            confidence: self.confidence,
            tolerance: self.tolerance,
            effect_size: self.effect_size.clone(),
            max_relative_change: self.max_relative_change,
        }
    }
}

impl AnalysisConfig {
    /// The metrics provider, when exactly one is configured.
    pub fn provider(&self) -> Option<Provider<'_>> {
        match self.provider.as_ref().map(|p| (&p.prometheus, &p.files)) {
            Some((Some(p), None)) => Some(Provider::Prometheus(p)),
            Some((None, Some(f))) => Some(Provider::Files(f)),
            _ => None,
        }
    }

    /// Read and check the configuration at `path`.
    pub fn load(path: &Path) -> Result<Self, VerifyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| VerifyError::config(path, "YAML", format!("cannot read: {e}")))?;
        let mut config = Self::parse(path, &text)?;
        if let Some(f) = config.provider.as_mut().and_then(|p| p.files.as_mut()) {
            let dir = path.parent().unwrap_or(Path::new("."));
            f.baseline = dir.join(&f.baseline);
            f.canary = dir.join(&f.canary);
        }
        if let Some(logs) = &mut config.logs {
            let dir = path.parent().unwrap_or(Path::new("."));
            logs.resolve_relative_to(dir);
        }
        Ok(config)
    }

    /// Parse `text` (the content of `path`) and check it.
    pub fn parse(path: &Path, text: &str) -> Result<Self, VerifyError> {
        let de = yaml_serde::Deserializer::from_str(text);
        let config: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let place = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
            // yaml_serde may already prefix the message with the path.
            let message = message
                .strip_prefix(&format!("{place}: "))
                .unwrap_or(message)
                .to_string();
            let at = inner
                .location()
                .map(|l| format!("at {}:{}", l.line(), l.column()))
                .unwrap_or_default();
            VerifyError::config(path, "YAML", format!("{at} ({place}): {message}"))
        })?;
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<(), VerifyError> {
        let bad = |m: String| Err(VerifyError::config(path, "CanaryAnalysis", m));
        if self.api_version != API_VERSION {
            return bad(format!(
                "apiVersion is {:?}, expected {API_VERSION:?}",
                self.api_version
            ));
        }
        if self.kind != KIND {
            return bad(format!("kind is {:?}, expected {KIND:?}", self.kind));
        }
        let t = &self.thresholds;
        if !(0.0..=100.0).contains(&t.pass)
            || !(0.0..=100.0).contains(&t.marginal)
            || t.marginal > t.pass
        {
            return bad(format!(
                "thresholds: need 0 <= marginal ({}) <= pass ({}) <= 100",
                t.marginal, t.pass
            ));
        }
        if self.groups.is_empty() && self.logs.is_none() {
            return bad("nothing to analyse: no metric groups and no logs".into());
        }
        let metric_count: usize = self.groups.iter().map(|g| g.metrics.len()).sum();
        if self.provider.is_some() && self.provider().is_none() {
            return bad("provider: name exactly one of prometheus and files".into());
        }
        if metric_count > 0 && self.provider().is_none() {
            return bad("metrics need a provider (prometheus or files)".into());
        }
        if let Some(w) = &self.analysis {
            if w.end <= w.start {
                return bad("analysis: end must be after start".into());
            }
            if w.intervals == 0 || w.intervals > 1000 {
                return bad(format!(
                    "analysis.intervals must be 1..=1000, not {}",
                    w.intervals
                ));
            }
            if parse_duration(&w.step).is_none() {
                return bad(format!(
                    "analysis.step {:?} is not a duration like 30s, 1m",
                    w.step
                ));
            }
        }
        if let Some(Provider::Prometheus(p)) = self.provider() {
            if self.analysis.is_none() {
                return bad("the prometheus provider needs an analysis window (analysis.start, analysis.end)".into());
            }
            if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
                return bad(format!(
                    "provider.prometheus.url {:?} must start with http:// or https://",
                    p.url
                ));
            }
            if parse_duration(&p.timeout).is_none() {
                return bad(format!(
                    "provider.prometheus.timeout {:?} is not a duration",
                    p.timeout
                ));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (gi, g) in self.groups.iter().enumerate() {
            if !(g.weight.is_finite() && g.weight >= 0.0) {
                return bad(format!("/groups/{gi}/weight must be a number >= 0"));
            }
            for (mi, m) in g.metrics.iter().enumerate() {
                let at = format!("/groups/{gi}/metrics/{mi}");
                if !names.insert(m.name.clone()) {
                    return bad(format!("{at}: metric name {:?} used twice", m.name));
                }
                if !(m.confidence > 0.0 && m.confidence < 1.0) {
                    return bad(format!("{at}/confidence must be in (0, 1)"));
                }
                if !(m.tolerance.is_finite() && m.tolerance >= 0.0) {
                    return bad(format!("{at}/tolerance must be >= 0"));
                }
                if !(m.outlier_factor.is_finite() && m.outlier_factor > 0.0) {
                    return bad(format!("{at}/outlierFactor must be > 0"));
                }
                if let Some(b) = m.max_relative_change
                    && !(b.is_finite() && b >= 0.0)
                {
                    return bad(format!("{at}/maxRelativeChange must be >= 0"));
                }
                if matches!(self.provider(), Some(Provider::Prometheus(_))) {
                    match &m.query {
                        None => {
                            return bad(format!(
                                "{at}/query is required with the prometheus provider"
                            ));
                        }
                        Some(q) if !q.contains(SCOPE_PLACEHOLDER) => {
                            return bad(format!(
                                "{at}/query has no {SCOPE_PLACEHOLDER} placeholder: baseline and canary would get the same series"
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
        if let Some(l) = &self.logs {
            l.check()
                .map_err(|m| VerifyError::config(path, "CanaryAnalysis", format!("logs: {m}")))?;
        }
        Ok(())
    }
}

/// `30s`, `5m`, `1h`, `250ms`, or plain seconds.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0).then(|| std::time::Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
apiVersion: portcullis.dev/v1
kind: CanaryAnalysis
thresholds: {pass: 90, marginal: 70}
provider:
  files: {baseline: b.csv, canary: c.csv}
groups:
  - name: errors
    weight: 2
    metrics:
      - name: error_rate
        direction: increase
        critical: true
        maxRelativeChange: 0.5
        effectSize: {measure: cles, allowedIncrease: 0.6}
"#;

    #[test]
    fn parses_a_good_config() {
        let c = AnalysisConfig::parse(Path::new("a.yaml"), GOOD).unwrap();
        assert_eq!(c.groups[0].metrics[0].max_relative_change, Some(0.5));
        assert!(c.groups[0].metrics[0].critical);
        assert_eq!(c.groups[0].metrics[0].confidence, 0.98);
    }

    #[test]
    fn errors_name_the_file_and_the_place() {
        let bad = GOOD.replace("direction: increase", "direction: upwards");
        let e = AnalysisConfig::parse(Path::new("a.yaml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("a.yaml: YAML: at 12:"), "{e}");
        assert!(e.contains("groups[0].metrics[0]"), "{e}");
        let unknown = GOOD.replace("critical: true", "critcal: true");
        let e = AnalysisConfig::parse(Path::new("a.yaml"), &unknown)
            .unwrap_err()
            .to_string();
        assert!(e.contains("critcal"), "{e}");
        let version = GOOD.replace("portcullis.dev/v1", "v2");
        let e = AnalysisConfig::parse(Path::new("a.yaml"), &version)
            .unwrap_err()
            .to_string();
        assert!(e.contains("apiVersion"), "{e}");
    }

    #[test]
    fn a_files_format_is_declared_or_detected() {
        let c = AnalysisConfig::parse(Path::new("a.yaml"), GOOD).unwrap();
        let files = |c: &AnalysisConfig| match c.provider() {
            Some(Provider::Files(f)) => f.format,
            other => panic!("{other:?}"),
        };
        assert_eq!(files(&c), SeriesFormat::Auto);
        for (name, format) in [
            ("wide-csv", SeriesFormat::WideCsv),
            ("long-csv", SeriesFormat::LongCsv),
            ("json", SeriesFormat::Json),
            ("prometheus", SeriesFormat::Prometheus),
        ] {
            let yaml = GOOD.replace(
                "canary: c.csv}",
                &format!("canary: c.csv, format: {name}}}"),
            );
            let c = AnalysisConfig::parse(Path::new("a.yaml"), &yaml).unwrap();
            assert_eq!(files(&c), format);
        }
        let yaml = GOOD.replace("canary: c.csv}", "canary: c.csv, format: xlsx}");
        let e = AnalysisConfig::parse(Path::new("a.yaml"), &yaml)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("provider.files.format") && e.contains("wide-csv"),
            "{e}"
        );
    }

    #[test]
    fn prometheus_urls() {
        let prom = |url: &str| {
            format!(
                "apiVersion: portcullis.dev/v1\nkind: CanaryAnalysis\nanalysis: {{start: 2026-01-01T00:00:00Z, end: 2026-01-01T01:00:00Z}}\nprovider:\n  prometheus: {{url: '{url}', baselineScope: 'a=\"b\"', canaryScope: 'a=\"c\"'}}\ngroups: [{{name: g, metrics: [{{name: m, query: 'x{{${{scope}}}}'}}]}}]\n"
            )
        };
        for ok in ["http://127.0.0.1:9090", "https://prometheus.example.com"] {
            AnalysisConfig::parse(Path::new("a.yaml"), &prom(ok)).unwrap();
        }
        let e = AnalysisConfig::parse(Path::new("a.yaml"), &prom("ftp://x")).unwrap_err();
        assert!(e.to_string().contains("http:// or https://"), "{e}");
        let no_scope = prom("http://x").replace("x{${scope}}", "x");
        let e = AnalysisConfig::parse(Path::new("a.yaml"), &no_scope).unwrap_err();
        assert!(e.to_string().contains("placeholder"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("30s"),
            Some(std::time::Duration::from_secs(30))
        );
        assert_eq!(
            parse_duration("2m"),
            Some(std::time::Duration::from_secs(120))
        );
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("0s"), None);
    }
}
