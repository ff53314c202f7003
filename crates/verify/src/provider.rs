//! Where metric series come from: Prometheus (`query_range` over HTTP) or files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::VerifyError;
use crate::config::{FilesConfig, Metric, PrometheusConfig, SCOPE_PLACEHOLDER, parse_duration};

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
    fn fetch(
        &self,
        metric: &Metric,
        side: Side,
        range: Option<&Range>,
    ) -> Result<Vec<f64>, VerifyError>;
    /// What to call this source in messages.
    fn describe(&self) -> String;
}

/// Largest series file accepted.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// One sample: time (seconds since the epoch), when known, and value.
type Sample = (Option<f64>, f64);

/// Series read from a baseline file and a canary file.
#[derive(Debug)]
pub struct FileSource {
    baseline: BTreeMap<String, Vec<Sample>>,
    canary: BTreeMap<String, Vec<Sample>>,
    paths: (PathBuf, PathBuf),
}

impl FileSource {
    pub fn open(config: &FilesConfig) -> Result<Self, VerifyError> {
        Ok(Self {
            baseline: read_series_file(&config.baseline)?,
            canary: read_series_file(&config.canary)?,
            paths: (config.baseline.clone(), config.canary.clone()),
        })
    }
}

impl MetricSource for FileSource {
    fn fetch(
        &self,
        metric: &Metric,
        side: Side,
        range: Option<&Range>,
    ) -> Result<Vec<f64>, VerifyError> {
        let map = match side {
            Side::Baseline => &self.baseline,
            Side::Canary => &self.canary,
        };
        let Some(samples) = map.get(&metric.name) else {
            return Ok(Vec::new());
        };
        Ok(samples
            .iter()
            .filter(|(t, _)| match (t, range) {
                (Some(t), Some(r)) => {
                    *t >= r.start.timestamp() as f64 && *t <= r.end.timestamp() as f64
                }
                _ => true,
            })
            .map(|&(_, v)| v)
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

/// Read a series file: JSON when it starts with `{`, else CSV with a `metric,timestamp,value`
/// header (`timestamp` may be empty, a number of seconds, or RFC 3339).
pub fn read_series_file(path: &Path) -> Result<BTreeMap<String, Vec<Sample>>, VerifyError> {
    let len = std::fs::metadata(path)
        .map_err(|e| VerifyError::input(path, "series", format!("cannot read: {e}")))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(VerifyError::input(
            path,
            "series",
            format!("{len} bytes is over the limit of {MAX_FILE_BYTES} bytes"),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| VerifyError::input(path, "series", format!("cannot read: {e}")))?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        parse_series_json(path, &bytes)
    } else {
        parse_series_csv(path, &bytes)
    }
}

fn parse_series_json(
    path: &Path,
    bytes: &[u8],
) -> Result<BTreeMap<String, Vec<Sample>>, VerifyError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Point {
        Timed((f64, NumOrString)),
        Value(NumOrString),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrString {
        Num(Option<f64>),
        Str(String),
    }
    let raw: BTreeMap<String, Vec<Point>> = serde_json::from_slice(bytes).map_err(|e| {
        VerifyError::input(
            path,
            "series JSON",
            format!(
                "at {}:{}: {e} (expected {{\"metric\": [[time, value], ...]}} or {{\"metric\": [value, ...]}})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let mut out = BTreeMap::new();
    for (name, points) in raw {
        let mut samples = Vec::with_capacity(points.len());
        for (i, p) in points.into_iter().enumerate() {
            let (t, v) = match p {
                Point::Timed((t, v)) => (Some(t), v),
                Point::Value(v) => (None, v),
            };
            let v = match v {
                NumOrString::Num(n) => n.unwrap_or(f64::NAN),
                NumOrString::Str(s) => parse_value(&s).ok_or_else(|| {
                    VerifyError::input(
                        path,
                        "series JSON",
                        format!("at /{name}/{i}: {s:?} is not a number"),
                    )
                })?,
            };
            samples.push((t, v));
        }
        out.insert(name, samples);
    }
    Ok(out)
}

fn parse_value(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return Some(f64::NAN);
    }
    s.parse::<f64>().ok()
}

fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return n.is_finite().then_some(n);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp() as f64 + f64::from(t.timestamp_subsec_millis()) / 1000.0)
}

fn parse_series_csv(
    path: &Path,
    bytes: &[u8],
) -> Result<BTreeMap<String, Vec<Sample>>, VerifyError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| VerifyError::input(path, "series CSV", format!("at 1:1: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(mi), Some(vi)) = (col("metric"), col("value")) else {
        return Err(VerifyError::input(
            path,
            "series CSV",
            "at 1:1: the header must name the columns metric, value (and optionally timestamp); JSON files start with {",
        ));
    };
    let ti = col("timestamp");
    let mut out: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            VerifyError::input(path, "series CSV", format!("at {line}:1: {e}"))
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let name = rec.get(mi).unwrap_or_default().to_string();
        let value = rec.get(vi).unwrap_or_default();
        let v = parse_value(value).ok_or_else(|| {
            VerifyError::input(
                path,
                "series CSV",
                format!("at {line}:{}: {value:?} is not a number", vi + 1),
            )
        })?;
        let t = match ti.and_then(|i| rec.get(i)) {
            Some(s) if !s.is_empty() => Some(parse_time(s).ok_or_else(|| {
                VerifyError::input(
                    path,
                    "series CSV",
                    format!(
                        "at {line}:{}: {s:?} is neither seconds nor an RFC 3339 time",
                        ti.unwrap_or(0) + 1
                    ),
                )
            })?),
            _ => None,
        };
        out.entry(name).or_default().push((t, v));
    }
    Ok(out)
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
    fn fetch(
        &self,
        metric: &Metric,
        side: Side,
        range: Option<&Range>,
    ) -> Result<Vec<f64>, VerifyError> {
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
            .map(|(_, v)| parse_value(&v).unwrap_or(f64::NAN))
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
        let f = write("metric,timestamp,value\nerr,1,0.5\nerr,2,NaN\nlat,,3\n");
        let m = read_series_file(f.path()).unwrap();
        assert_eq!(m["err"].len(), 2);
        assert!(m["err"][1].1.is_nan());
        assert_eq!(m["lat"], vec![(None, 3.0)]);
        let f = write(r#"{"err": [[1, "0.5"], [2, 0.7]], "lat": [1, 2, null]}"#);
        let m = read_series_file(f.path()).unwrap();
        assert_eq!(m["err"], vec![(Some(1.0), 0.5), (Some(2.0), 0.7)]);
        assert!(m["lat"][2].1.is_nan());
    }

    #[test]
    fn file_series_are_cut_to_the_interval() {
        let b = write("metric,timestamp,value\nm,100,1\nm,160,2\nm,220,3\n");
        let c =
            write("metric,timestamp,value\nm,1970-01-01T00:01:40Z,4\nm,1970-01-01T00:03:40Z,5\n");
        let src = FileSource::open(&FilesConfig {
            baseline: b.path().to_path_buf(),
            canary: c.path().to_path_buf(),
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
    fn bad_files_name_the_place() {
        let f = write("metric,timestamp,value\nerr,1,0.5\nerr,2,lots\n");
        let e = read_series_file(f.path()).unwrap_err().to_string();
        assert!(e.contains("series CSV: at 3:3"), "{e}");
        let f = write("{\"err\": [1, 2,]}");
        let e = read_series_file(f.path()).unwrap_err().to_string();
        assert!(e.contains("series JSON: at 1:"), "{e}");
        let f = write("time,v\n1,2\n");
        let e = read_series_file(f.path()).unwrap_err().to_string();
        assert!(e.contains("header"), "{e}");
    }
}
