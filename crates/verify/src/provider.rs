//! Where metric series come from: Prometheus (`query_range` over HTTP) or files.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::VerifyError;
use crate::config::{FilesConfig, Metric, PrometheusConfig, SCOPE_PLACEHOLDER, parse_duration};
use crate::metrics_formats::{self, Series, SeriesFormat};

/// Baseline or canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Baseline,
    Canary,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Canary => "canary",
        }
    }
}

/// A time range to fetch, with its resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub step: Duration,
}

/// A source of metric values for one side and one range.
pub trait MetricSource {
    /// The values with each one's time (Unix seconds) where the source has it (the charts
    /// place the samples by it), in time order.
    fn fetch_timed(
        &self,
        metric: &Metric,
        side: Side,
        range: Option<&Range>,
    ) -> Result<Vec<(Option<f64>, f64)>, VerifyError>;
    /// The values alone.
    fn fetch(
        &self,
        metric: &Metric,
        side: Side,
        range: Option<&Range>,
    ) -> Result<Vec<f64>, VerifyError> {
        Ok(self
            .fetch_timed(metric, side, range)?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }
    /// What to call this source in messages.
    fn describe(&self) -> String;
}

/// Largest series file accepted.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Series read from a baseline file and a canary file.
#[derive(Debug)]
pub struct FileSource {
    baseline: Series,
    canary: Series,
    paths: (PathBuf, PathBuf),
}

impl FileSource {
    pub fn open(config: &FilesConfig) -> Result<Self, VerifyError> {
        Ok(Self {
            baseline: read_series_file_as(&config.baseline, config.format)?,
            canary: read_series_file_as(&config.canary, config.format)?,
            paths: (config.baseline.clone(), config.canary.clone()),
        })
    }
}

impl MetricSource for FileSource {
    fn fetch_timed(
        &self,
        metric: &Metric,
        side: Side,
        range: Option<&Range>,
    ) -> Result<Vec<(Option<f64>, f64)>, VerifyError> {
        let (map, path) = match side {
            Side::Baseline => (&self.baseline, &self.paths.0),
            Side::Canary => (&self.canary, &self.paths.1),
        };
        let samples = metrics_formats::lookup(map, &metric.name)
            .map_err(|m| VerifyError::input(path, "series", m))?
            .unwrap_or_default();
        Ok(samples
            .iter()
            .filter(|(t, _)| match (t, range) {
                (Some(t), Some(r)) => {
                    *t >= r.start.timestamp() as f64 && *t <= r.end.timestamp() as f64
                }
                _ => true,
            })
            .copied()
            .collect())
    }

    fn describe(&self) -> String {
        format!(
            "files {} and {}",
            self.paths.0.display(),
            self.paths.1.display()
        )
    }
}

/// Read a series file, its format detected from the content (see [`metrics_formats`]).
pub fn read_series_file(path: &Path) -> Result<Series, VerifyError> {
    read_series_file_as(path, SeriesFormat::Auto)
}

/// Read a series file in the declared format (`Auto`: detected from the content).
pub fn read_series_file_as(path: &Path, format: SeriesFormat) -> Result<Series, VerifyError> {
    let len = std::fs::metadata(path)
        .map_err(|e| VerifyError::input(path, format.label(), format!("cannot read: {e}")))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(VerifyError::input(
            path,
            format.label(),
            format!("{len} bytes is over the limit of {MAX_FILE_BYTES} bytes"),
        ));
    }
    // Read at most one byte over the limit: a file that grew since is still refused.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| VerifyError::input(path, format.label(), format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(VerifyError::input(
            path,
            format.label(),
            format!("over the limit of {MAX_FILE_BYTES} bytes"),
        ));
    }
    metrics_formats::parse(path, &bytes, format)
}

fn parse_value(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return Some(f64::NAN);
    }
    s.parse::<f64>().ok()
}

/// Prometheus over HTTP: one `query_range` per metric, side and interval.
pub struct PrometheusSource {
    config: PrometheusConfig,
    agent: ureq::Agent,
}

/// Largest Prometheus response read.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

impl PrometheusSource {
    pub fn new(config: &PrometheusConfig) -> Self {
        let timeout = parse_duration(&config.timeout).unwrap_or(Duration::from_secs(10));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            config: config.clone(),
            agent,
        }
    }

    /// The query for one side: the template with its scope.
    pub fn query_for(&self, metric: &Metric, side: Side) -> Option<String> {
        let scope = match side {
            Side::Baseline => &self.config.baseline_scope,
            Side::Canary => &self.config.canary_scope,
        };
        metric
            .query
            .as_ref()
            .map(|q| q.replace(SCOPE_PLACEHOLDER, scope))
    }
}

#[derive(Deserialize)]
struct PromResponse {
    status: String,
    #[serde(default)]
    data: Option<PromData>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
}

#[derive(Deserialize)]
struct PromData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<PromSeries>,
}

#[derive(Deserialize)]
struct PromSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

impl MetricSource for PrometheusSource {
    fn fetch_timed(
        &self,
        metric: &Metric,
        side: Side,
        range: Option<&Range>,
    ) -> Result<Vec<(Option<f64>, f64)>, VerifyError> {
        let provider = || format!("prometheus {}", self.config.url);
        let query = self.query_for(metric, side).ok_or_else(|| {
            VerifyError::provider(provider(), format!("metric {} has no query", metric.name))
        })?;
        let range = range.ok_or_else(|| VerifyError::provider(provider(), "no analysis window"))?;
        let url = format!(
            "{}/api/v1/query_range",
            self.config.url.trim_end_matches('/')
        );
        let mut response = self
            .agent
            .get(&url)
            .query("query", &query)
            .query("start", range.start.timestamp().to_string())
            .query("end", range.end.timestamp().to_string())
            .query("step", format!("{}", range.step.as_secs_f64()))
            .call()
            .map_err(|e| VerifyError::provider(provider(), format!("{url}: {e}")))?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_string()
            .map_err(|e| {
                VerifyError::provider(provider(), format!("{url}: reading the response: {e}"))
            })?;
        let parsed: PromResponse = serde_json::from_str(&body).map_err(|e| {
            VerifyError::provider(
                provider(),
                format!(
                    "{url}: HTTP {status}: the response is not Prometheus JSON (at {}:{}: {e})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if parsed.status != "success" {
            return Err(VerifyError::provider(
                provider(),
                format!(
                    "query {query:?} for the {}: {} ({})",
                    side.as_str(),
                    parsed.error.unwrap_or_default(),
                    parsed.error_type.unwrap_or_default()
                ),
            ));
        }
        let data = parsed.data.ok_or_else(|| {
            VerifyError::provider(provider(), format!("{url}: a success without data"))
        })?;
        if data.result_type != "matrix" {
            return Err(VerifyError::provider(
                provider(),
                format!(
                    "query {query:?}: expected a range vector (matrix), got {}",
                    data.result_type
                ),
            ));
        }
        if data.result.len() > 1 {
            let labels: Vec<String> = data
                .result
                .iter()
                .take(3)
                .map(|s| format!("{:?}", s.metric))
                .collect();
            return Err(VerifyError::provider(
                provider(),
                format!(
                    "query {query:?} for the {} returned {} series ({}...): aggregate it to one (e.g. sum(...))",
                    side.as_str(),
                    data.result.len(),
                    labels.join(", ")
                ),
            ));
        }
        Ok(data
            .result
            .into_iter()
            .flat_map(|s| s.values)
            .map(|(t, v)| (Some(t), parse_value(&v).unwrap_or(f64::NAN)))
            .collect())
    }

    fn describe(&self) -> String {
        format!("prometheus {}", self.config.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(content: &str) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_csv_and_json() {
        let f = write("metric,timestamp,value\nerr,1,0.5\nerr,2,NaN\nerr,3,\nlat,,3\n");
        let m = read_series_file(f.path()).unwrap();
        assert_eq!(m["err"].len(), 2, "an empty value is missing");
        assert!(m["err"][1].1.is_nan());
        assert_eq!(m["lat"], vec![(None, 3.0)]);
        let f = write(r#"{"err": [[1, "0.5"], [2, 0.7]], "lat": [1, 2, null]}"#);
        let m = read_series_file(f.path()).unwrap();
        assert_eq!(m["err"], vec![(Some(1.0), 0.5), (Some(2.0), 0.7)]);
        assert_eq!(m["lat"], vec![(None, 1.0), (None, 2.0)]);
    }

    #[test]
    fn a_declared_format_is_used() {
        // `metric,value` is a long CSV header; declared wide, the file holds two metrics.
        let f = write("metric,value,time\n7,2,1970-01-01T00:00:03Z\n");
        let long = read_series_file(f.path()).unwrap();
        assert_eq!(long["7"], vec![(Some(3.0), 2.0)]);
        let wide = read_series_file_as(f.path(), SeriesFormat::WideCsv).unwrap();
        assert_eq!(wide["metric"], vec![(Some(3.0), 7.0)]);
        assert_eq!(wide["value"], vec![(Some(3.0), 2.0)]);
        let e = read_series_file_as(f.path(), SeriesFormat::Json)
            .unwrap_err()
            .to_string();
        assert!(e.contains("JSON series: at line 1, column 1"), "{e}");
    }

    #[test]
    fn file_series_are_cut_to_the_interval() {
        let b = write("metric,timestamp,value\nm,100,1\nm,160,2\nm,220,3\n");
        let c =
            write("metric,timestamp,value\nm,1970-01-01T00:01:40Z,4\nm,1970-01-01T00:03:40Z,5\n");
        let src = FileSource::open(&FilesConfig {
            baseline: b.path().to_path_buf(),
            canary: c.path().to_path_buf(),
            format: SeriesFormat::Auto,
        })
        .unwrap();
        let metric: Metric = yaml_serde::from_str("name: m").unwrap();
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        let range = Range {
            start: at(100),
            end: at(160),
            step: Duration::from_secs(60),
        };
        assert_eq!(
            src.fetch(&metric, Side::Baseline, Some(&range)).unwrap(),
            vec![1.0, 2.0]
        );
        assert_eq!(
            src.fetch(&metric, Side::Canary, Some(&range)).unwrap(),
            vec![4.0]
        );
        assert_eq!(
            src.fetch(&metric, Side::Canary, None).unwrap(),
            vec![4.0, 5.0]
        );
        let other: Metric = yaml_serde::from_str("name: absent").unwrap();
        assert!(src.fetch(&other, Side::Canary, None).unwrap().is_empty());
    }

    #[test]
    fn bad_files_name_the_file_the_format_and_the_place() {
        let f = write("metric,timestamp,value\nerr,1,0.5\nerr,2,lots\n");
        let e = read_series_file(f.path()).unwrap_err().to_string();
        let want = format!(
            "{}: long CSV series: at line 3, column 3 (\"value\")",
            f.path().display()
        );
        assert!(e.starts_with(&want), "{e}");
        let f = write("{\"err\": [1, 2,]}");
        let e = read_series_file(f.path()).unwrap_err().to_string();
        assert!(e.contains("JSON series: at line 1, column"), "{e}");
        let f = write("v,w\n1,2\n");
        let e = read_series_file(f.path()).unwrap_err().to_string();
        assert!(e.contains("no time column"), "{e}");
    }

    #[test]
    fn an_ambiguous_metric_name_is_an_error() {
        let f = write("time,lat{track=\"a\"},lat{track=\"b\"}\n1,1,2\n");
        let src = FileSource::open(&FilesConfig {
            baseline: f.path().to_path_buf(),
            canary: f.path().to_path_buf(),
            format: SeriesFormat::Auto,
        })
        .unwrap();
        let lat: Metric = yaml_serde::from_str("name: lat").unwrap();
        let e = src.fetch(&lat, Side::Canary, None).unwrap_err().to_string();
        assert!(e.contains("matches 2 series"), "{e}");
        let b: Metric = yaml_serde::from_str("name: 'lat{track=\"b\"}'").unwrap();
        assert_eq!(src.fetch(&b, Side::Canary, None).unwrap(), vec![2.0]);
    }
}
