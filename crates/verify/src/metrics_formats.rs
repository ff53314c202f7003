//! Metric series files as exports come: wide CSV (a time column and one column per metric, as
//! Grafana's "series joined by time" export), long CSV (one row per sample), JSON (a map of
//! metric to points, or a Prometheus HTTP API `query_range`/`query` response) and the
//! Prometheus text format / OpenMetrics (samples with timestamps, `promtool tsdb dump` output
//! too). The format is detected from the content, or declared.
//!
//! Times: epoch seconds, milliseconds, microseconds or nanoseconds (told apart by magnitude),
//! RFC 3339, or `YYYY-MM-DD hh:mm[:ss[.fff]]` taken as UTC. An empty cell or a JSON `null` is a
//! missing sample (left out), never a zero. Series are keyed by name, with their labels in
//! Prometheus form when they have any: `http_requests{code="500",job="api"}`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::VerifyError;

/// One sample: time (seconds since the epoch), when known, and value.
pub type Sample = (Option<f64>, f64);

/// Samples by series key.
pub type Series = BTreeMap<String, Vec<Sample>>;

/// The format of a series file, as declared in `provider.files.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeriesFormat {
    /// Detected from the content.
    #[default]
    Auto,
    WideCsv,
    LongCsv,
    Json,
    /// The Prometheus text exposition format or OpenMetrics, every sample with a timestamp.
    Prometheus,
}

impl SeriesFormat {
    pub fn is_auto(&self) -> bool {
        *self == Self::Auto
    }

    /// What errors call the format.
    pub fn label(self) -> &'static str {
        match self {
            Self::Auto => "series",
            Self::WideCsv => "wide CSV series",
            Self::LongCsv => "long CSV series",
            Self::Json => "JSON series",
            Self::Prometheus => "Prometheus text series",
        }
    }
}

const KNOWN: &str = "wide CSV (a time column and one column per metric), long CSV (metric, timestamp, value), JSON ({\"metric\": [[time, value], ...]} or a Prometheus query_range response) or the Prometheus text format with timestamps";

/// Parse the bytes of the series file `path` in the `declared` format (detected when `Auto`).
pub fn parse(path: &Path, bytes: &[u8], declared: SeriesFormat) -> Result<Series, VerifyError> {
    let text = text_of(bytes).map_err(|m| VerifyError::input(path, declared.label(), m))?;
    let format = match declared {
        SeriesFormat::Auto => detect(text),
        f => f,
    };
    let at = |m: String| VerifyError::input(path, format.label(), m);
    let mut series = match format {
        SeriesFormat::WideCsv | SeriesFormat::LongCsv => csv_series(text, format).map_err(at),
        SeriesFormat::Json => json_series(text).map_err(at),
        SeriesFormat::Prometheus => prometheus_series(text).map_err(at),
        SeriesFormat::Auto => Err(VerifyError::input(
            path,
            "series",
            format!("the format is not one of {KNOWN}"),
        )),
    }?;
    // In time order (exports may run newest first), when every sample has a time.
    for samples in series.values_mut() {
        if samples.iter().all(|(t, _)| t.is_some()) {
            samples.sort_by(|a, b| a.0.unwrap_or(0.0).total_cmp(&b.0.unwrap_or(0.0)));
        }
    }
    Ok(series)
}

/// The text of a series file: UTF-8 without a byte-order mark. Compressed or binary content is
/// refused with what it looks like.
fn text_of(bytes: &[u8]) -> Result<&str, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let what = if bytes.starts_with(&[0x1f, 0x8b]) {
        Some("gzip-compressed")
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd-compressed")
    } else if bytes.starts_with(b"PK\x03\x04") {
        Some("a zip archive")
    } else {
        None
    };
    if let Some(what) = what {
        return Err(format!(
            "the file is {what}, not text: decompress it first (expected {KNOWN})"
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(bytes, e.valid_up_to());
        format!("at line {line}, column {column}: not UTF-8 text (a binary file?)")
    })?;
    if let Some(i) = text.find('\0') {
        let (line, column) = line_column(bytes, i);
        return Err(format!(
            "at line {line}, column {column}: a NUL byte: binary content, not text"
        ));
    }
    Ok(text)
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let tail = before.get(start..).unwrap_or_default();
    let column = String::from_utf8_lossy(tail).chars().count() + 1;
    (line, column)
}

/// The format the content looks like.
pub fn detect(text: &str) -> SeriesFormat {
    let trimmed = text.trim_start();
    if let Some(rest) = trimmed.strip_prefix('{') {
        // `{"metric": ...}` is JSON; `{__name__="x", ...} 1 1700000000000` is promtool's dump.
        return match rest.trim_start().chars().next() {
            Some(c) if c == '_' || c.is_ascii_alphabetic() => SeriesFormat::Prometheus,
            _ => SeriesFormat::Json,
        };
    }
    if trimmed.starts_with('[') {
        return SeriesFormat::Json;
    }
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            let word = comment.split_whitespace().next().unwrap_or_default();
            if matches!(word, "HELP" | "TYPE" | "UNIT" | "EOF") {
                return SeriesFormat::Prometheus;
            }
            continue;
        }
        if looks_like_sample(line) {
            return SeriesFormat::Prometheus;
        }
        return match csv_header_kind(line) {
            Some(kind) => kind,
            None => SeriesFormat::WideCsv,
        };
    }
    SeriesFormat::WideCsv
}

/// `name{...} value ...` or `name value ...` with no comma outside the braces.
fn looks_like_sample(line: &str) -> bool {
    let name_len = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    if name_len == 0 || line.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let rest = line.get(name_len..).unwrap_or_default();
    if rest.starts_with('{') {
        return true;
    }
    rest.starts_with(' ') && !rest.contains([',', '\t', ';'])
}

/// Long when the header names a metric column and a value column.
fn csv_header_kind(line: &str) -> Option<SeriesFormat> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter(line))
        .trim(csv::Trim::All)
        .from_reader(line.as_bytes());
    let header = reader.records().next()?.ok()?;
    let names: Vec<&str> = header.iter().collect();
    Some(if long_columns(&names).is_some() {
        SeriesFormat::LongCsv
    } else {
        SeriesFormat::WideCsv
    })
}

const METRIC_HEADERS: [&str; 5] = ["metric", "name", "series", "metric_name", "__name__"];
const VALUE_HEADERS: [&str; 3] = ["value", "val", "v"];

/// The metric and value columns of a long CSV header.
fn long_columns(headers: &[&str]) -> Option<(usize, usize)> {
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    Some((find(&METRIC_HEADERS)?, find(&VALUE_HEADERS)?))
}

/// `time`, `Timestamp`, `ts`, `date`, `Time (UTC)`, `timestamp_ms`, `_time`, `@timestamp`...
fn is_time_header(h: &str) -> bool {
    let h = h.trim().to_ascii_lowercase();
    let head: String = h
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '@')
        .collect();
    let head = head.trim_start_matches(['@', '_']);
    matches!(
        head,
        "time" | "timestamp" | "ts" | "t" | "date" | "datetime" | "date_time" | "epoch"
    ) || ["time_", "timestamp_", "date_", "datetime_", "epoch_"]
        .iter()
        .any(|p| head.starts_with(p))
}

/// A time: epoch seconds (or ms, µs, ns by magnitude), RFC 3339, or a UTC date and time.
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return time_from_number(n);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros() as f64 / 1e6);
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_micros() as f64 / 1e6);
        }
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp() as f64)
}

/// Epoch seconds from a number: at or above 10^11 it is milliseconds (10^11 seconds is the
/// year 5138), at or above 10^14 microseconds, at or above 10^17 nanoseconds.
fn time_from_number(n: f64) -> Option<f64> {
    if !n.is_finite() {
        return None;
    }
    let a = n.abs();
    Some(if a >= 1e17 {
        n / 1e9
    } else if a >= 1e14 {
        n / 1e6
    } else if a >= 1e11 {
        n / 1e3
    } else {
        n
    })
}

/// A value: a number, `NaN`, `+Inf`, `-Inf`; `None` for a missing one (empty, `null`).
fn parse_value(s: &str) -> Result<Option<f64>, ()> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    s.parse::<f64>().map(Some).map_err(|_| ())
}

/// The separator of a CSV header line: a comma, else a tab (TSV), else a semicolon (a
/// spreadsheet in a locale with decimal commas).
fn delimiter(header: &str) -> u8 {
    if header.contains(',') {
        b','
    } else if header.contains('\t') {
        b'\t'
    } else if header.contains(';') {
        b';'
    } else {
        b','
    }
}

fn csv_series(text: &str, declared: SeriesFormat) -> Result<Series, String> {
    let header = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(header))
        .flexible(false)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("at line {}: {e}", csv_error_line(&e)))?
        .clone();
    let header_line = headers.position().map_or(1, csv::Position::line);
    let names: Vec<&str> = headers.iter().collect();
    let long = long_columns(&names);
    match (declared, long) {
        (SeriesFormat::LongCsv, None) => Err(format!(
            "at line {header_line}: the header must name a metric column (metric, name or series) and a value column (value); a time column (timestamp, time, ts) is optional"
        )),
        (SeriesFormat::LongCsv, Some(cols)) => long_csv(reader, &names, cols),
        (_, Some(cols)) if declared != SeriesFormat::WideCsv => long_csv(reader, &names, cols),
        _ => wide_csv(reader, &names, header_line),
    }
}

fn csv_error_line(e: &csv::Error) -> u64 {
    e.position().map_or(0, csv::Position::line)
}

fn long_csv(
    mut reader: csv::Reader<&[u8]>,
    names: &[&str],
    (mi, vi): (usize, usize),
) -> Result<Series, String> {
    let ti = names.iter().position(|h| is_time_header(h));
    // Any other named column is a label of the series.
    let labels: Vec<(usize, &str)> = names
        .iter()
        .enumerate()
        .filter(|&(i, h)| i != mi && i != vi && Some(i) != ti && !h.is_empty())
        .map(|(i, h)| (i, *h))
        .collect();
    let mut out = Series::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| format!("at line {}: {e}", csv_error_line(&e)))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let cell = |i: usize| rec.get(i).unwrap_or_default();
        let raw = cell(vi);
        let at = |i: usize| {
            format!(
                "at line {line}, column {} ({:?})",
                i + 1,
                names.get(i).unwrap_or(&"")
            )
        };
        let Some(value) =
            parse_value(raw).map_err(|()| format!("{}: {raw:?} is not a number", at(vi)))?
        else {
            continue;
        };
        let time = match ti.map(cell) {
            Some(s) if !s.is_empty() => Some(parse_time(s).ok_or_else(|| {
                format!(
                    "{}: {s:?} is not a time (epoch seconds or milliseconds, RFC 3339)",
                    at(ti.unwrap_or(0))
                )
            })?),
            _ => None,
        };
        let name = cell(mi);
        if name.is_empty() {
            return Err(format!("{}: no metric name", at(mi)));
        }
        let mut extra: Vec<(String, String)> = labels
            .iter()
            .filter(|(i, _)| !cell(*i).is_empty())
            .map(|&(i, h)| (h.to_string(), cell(i).to_string()))
            .collect();
        let key = match parse_selector(name) {
            Some((n, mut l)) if !extra.is_empty() => {
                l.append(&mut extra);
                series_key(&n, &l)
            }
            Some((n, l)) => series_key(&n, &l),
            None => series_key(name, &extra),
        };
        out.entry(key).or_default().push((time, value));
    }
    Ok(out)
}

fn wide_csv(
    mut reader: csv::Reader<&[u8]>,
    names: &[&str],
    header_line: u64,
) -> Result<Series, String> {
    let mut records = reader.records().peekable();
    let first_cell = match records.peek() {
        Some(Ok(r)) => r.get(0).map(str::to_string),
        _ => None,
    };
    let ti = match names.iter().position(|h| is_time_header(h)) {
        Some(i) => i,
        // An unnamed first column, or one holding dates: the time column.
        None if names.first().is_some_and(|h| h.is_empty()) => 0,
        None if first_cell
            .as_deref()
            .is_some_and(|c| c.parse::<f64>().is_err() && parse_time(c).is_some()) =>
        {
            0
        }
        None => {
            return Err(format!(
                "at line {header_line}: no time column: name it time, timestamp, ts or date, or put RFC 3339 times in the first column (a long CSV names the columns metric and value)"
            ));
        }
    };
    let mut keys: Vec<(usize, String)> = Vec::new();
    for (i, h) in names.iter().enumerate() {
        if i == ti {
            continue;
        }
        if h.is_empty() {
            return Err(format!(
                "at line {header_line}, column {}: the column has no metric name",
                i + 1
            ));
        }
        let key = canonical_key(h);
        if let Some((j, _)) = keys.iter().find(|(_, k)| *k == key) {
            return Err(format!(
                "at line {header_line}, column {}: {key:?} is also the name of column {}",
                i + 1,
                j + 1
            ));
        }
        keys.push((i, key));
    }
    let mut out = Series::new();
    for rec in records {
        let rec = rec.map_err(|e| format!("at line {}: {e}", csv_error_line(&e)))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let at = |i: usize| {
            format!(
                "at line {line}, column {} ({:?})",
                i + 1,
                names.get(i).unwrap_or(&"")
            )
        };
        let t = rec.get(ti).unwrap_or_default();
        let time = parse_time(t).ok_or_else(|| {
            format!(
                "{}: {t:?} is not a time (epoch seconds or milliseconds, RFC 3339)",
                at(ti)
            )
        })?;
        for (i, key) in &keys {
            let raw = rec.get(*i).unwrap_or_default();
            match parse_value(raw) {
                Ok(Some(v)) => out.entry(key.clone()).or_default().push((Some(time), v)),
                Ok(None) => {}
                Err(()) => return Err(format!("{}: {raw:?} is not a number", at(*i))),
            }
        }
    }
    // A metric with no value at all is still in the file.
    for (_, key) in keys {
        out.entry(key).or_default();
    }
    Ok(out)
}

fn json_series(text: &str) -> Result<Series, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "at line {}, column {}: {e} (expected {{\"metric\": [[time, value], ...]}} or a Prometheus query_range response)",
            e.line(),
            e.column()
        )
    })?;
    let mut out = Series::new();
    match &doc {
        Value::Object(o) if is_prom_response(o) => prom_response(o, "", None, &mut out)?,
        Value::Array(a) if a.first().is_some_and(is_prom_result) => {
            prom_results(a, "", None, &mut out)?;
        }
        Value::Array(rows) => json_rows(rows, &mut out)?,
        Value::Object(o) => {
            for (name, v) in o {
                let at = format!("/{}", pointer_escape(name));
                match v {
                    Value::Object(inner) if is_prom_response(inner) => {
                        prom_response(inner, &at, Some(name), &mut out)?;
                    }
                    Value::Array(a) if a.first().is_some_and(is_prom_result) => {
                        prom_results(a, &at, Some(name), &mut out)?;
                    }
                    Value::Array(points) => {
                        let samples = json_points(points, &at)?;
                        out.entry(canonical_key(name)).or_default().extend(samples);
                    }
                    Value::Object(by_time) => {
                        let samples = json_time_map(by_time, &at)?;
                        out.entry(canonical_key(name)).or_default().extend(samples);
                    }
                    _ => {
                        return Err(format!(
                            "at {at}: expected an array of points ([[time, value], ...] or [value, ...]), an object of time to value, or a Prometheus query_range response"
                        ));
                    }
                }
            }
        }
        _ => {
            return Err(format!(
                "at /: expected an object ({{\"metric\": [[time, value], ...]}} or a Prometheus response), found {}",
                kind(&doc)
            ));
        }
    }
    Ok(out)
}

/// `{"1764000000000": 0.01, ...}`: time to value (pandas' `to_json()`, orient `columns`).
fn json_time_map(by_time: &Map<String, Value>, at: &str) -> Result<Vec<Sample>, String> {
    let mut out = Vec::with_capacity(by_time.len());
    for (k, v) in by_time {
        let at = format!("{at}/{}", pointer_escape(k));
        let t = parse_time(k).ok_or_else(|| {
            format!(
                "at {at}: the key {k:?} is not a time (epoch seconds or milliseconds, RFC 3339)"
            )
        })?;
        if let Some(v) = json_value(v, &at)? {
            out.push((Some(t), v));
        }
    }
    Ok(out)
}

/// `[{"time": t, "error_rate": v, ...}, ...]`: one object per time, one key per metric (wide
/// rows: pandas' `to_json(orient="records")`).
fn json_rows(rows: &[Value], out: &mut Series) -> Result<(), String> {
    for (i, row) in rows.iter().enumerate() {
        let Value::Object(row) = row else {
            return Err(format!(
                "at /{i}: expected a row {{\"time\": t, \"metric\": value, ...}} or a Prometheus series, found {}",
                kind(row)
            ));
        };
        let Some((tk, t)) = row.iter().find(|(k, _)| is_time_header(k)) else {
            return Err(format!(
                "at /{i}: the row has no time (a key time, timestamp, ts or date)"
            ));
        };
        let time = json_time(t, &format!("/{i}/{}", pointer_escape(tk)))?;
        for (k, v) in row.iter().filter(|(k, _)| *k != tk) {
            let at = format!("/{i}/{}", pointer_escape(k));
            let entry = out.entry(canonical_key(k)).or_default();
            if let Some(v) = json_value(v, &at)? {
                entry.push((Some(time), v));
            }
        }
    }
    Ok(())
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn is_prom_response(o: &Map<String, Value>) -> bool {
    o.contains_key("status") || o.get("data").is_some_and(|d| d.get("result").is_some())
}

fn is_prom_result(v: &Value) -> bool {
    v.get("metric").is_some() && (v.get("values").is_some() || v.get("value").is_some())
}

/// A Prometheus HTTP API response: `{"status": "success", "data": {"resultType": "matrix",
/// "result": [...]}}`.
fn prom_response(
    o: &Map<String, Value>,
    at: &str,
    name: Option<&str>,
    out: &mut Series,
) -> Result<(), String> {
    if let Some(status) = o.get("status")
        && status.as_str() != Some("success")
    {
        let text = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or_default();
        return Err(format!(
            "at {at}/status: the response is not a success: {status} {} {}",
            text("errorType"),
            text("error")
        ));
    }
    let data = o
        .get("data")
        .ok_or_else(|| format!("at {at}/data: a Prometheus response without data"))?;
    let kind = data.get("resultType").and_then(Value::as_str).unwrap_or("");
    if !matches!(kind, "matrix" | "vector" | "") {
        return Err(format!(
            "at {at}/data/resultType: {kind:?}: a series file needs a range vector (matrix) or an instant vector"
        ));
    }
    match data.get("result") {
        Some(Value::Array(a)) => prom_results(a, &format!("{at}/data/result"), name, out),
        _ => Err(format!("at {at}/data/result: expected an array of series")),
    }
}

/// The `result` array of a Prometheus response. With `name` (the key of a wrapping object), a
/// lone series takes that name; otherwise each series is named by its `__name__` and labels.
fn prom_results(
    series: &[Value],
    at: &str,
    name: Option<&str>,
    out: &mut Series,
) -> Result<(), String> {
    for (i, s) in series.iter().enumerate() {
        let at = format!("{at}/{i}");
        let Value::Object(s) = s else {
            return Err(format!(
                "at {at}: expected a series {{\"metric\": {{...}}, \"values\": [...]}}, found {}",
                kind(s)
            ));
        };
        let mut labels = Vec::new();
        if let Some(m) = s.get("metric") {
            let Value::Object(m) = m else {
                return Err(format!("at {at}/metric: expected an object of labels"));
            };
            for (k, v) in m {
                let v = v.as_str().ok_or_else(|| {
                    format!(
                        "at {at}/metric/{}: a label value must be a string",
                        pointer_escape(k)
                    )
                })?;
                labels.push((k.clone(), v.to_string()));
            }
        }
        let own = labels
            .iter()
            .find(|(k, _)| k == "__name__")
            .map(|(_, v)| v.clone());
        let key = match (name, own) {
            (Some(n), _) if series.len() == 1 => canonical_key(n),
            (Some(n), _) => series_key(n, &labels),
            (None, Some(n)) => series_key(&n, &labels),
            (None, None) => {
                return Err(format!(
                    "at {at}/metric: the series has no __name__: name it, e.g. wrap the response as {{\"error_rate\": <response>}} or use label_replace(<query>, \"__name__\", \"error_rate\", \"\", \"\")"
                ));
            }
        };
        if s.contains_key("histograms") || s.contains_key("histogram") {
            return Err(format!(
                "at {at}: native histograms are not read: query a quantile or a rate instead"
            ));
        }
        let mut samples = Vec::new();
        match (s.get("values"), s.get("value")) {
            (Some(Value::Array(points)), _) => {
                for (j, p) in points.iter().enumerate() {
                    let at = format!("{at}/values/{j}");
                    samples.extend(prom_point(p, &at)?);
                }
            }
            (None, Some(p)) => samples.extend(prom_point(p, &format!("{at}/value"))?),
            _ => {
                return Err(format!(
                    "at {at}: expected \"values\": [[time, \"value\"], ...]"
                ));
            }
        }
        out.entry(key).or_default().extend(samples);
    }
    Ok(())
}

/// `[time, "value"]`; `None` for a missing value.
fn prom_point(p: &Value, at: &str) -> Result<Option<Sample>, String> {
    match p {
        Value::Array(pair) if pair.len() == 2 => {
            let (t, v) = (pair.first(), pair.get(1));
            let time = t.map(|t| json_time(t, &format!("{at}/0"))).transpose()?;
            let value = v.map(|v| json_value(v, &format!("{at}/1"))).transpose()?;
            Ok(value.flatten().map(|v| (time, v)))
        }
        _ => Err(format!("at {at}: expected [time, \"value\"]")),
    }
}

/// Points of a plain JSON series: `[t, v]`, `{"time": t, "value": v}` or a bare `v`.
fn json_points(points: &[Value], at: &str) -> Result<Vec<Sample>, String> {
    let mut out = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let at = format!("{at}/{i}");
        let (time, value) = match p {
            Value::Array(pair) if pair.len() == 2 => match (pair.first(), pair.get(1)) {
                (Some(t), Some(v)) => (
                    Some(json_time(t, &format!("{at}/0"))?),
                    json_value(v, &format!("{at}/1"))?,
                ),
                _ => (None, None),
            },
            Value::Object(o) => {
                let get =
                    |names: &[&'static str]| names.iter().find_map(|&n| o.get(n).map(|v| (n, v)));
                let time = match get(&["time", "timestamp", "t", "ts"]) {
                    Some((k, t)) => Some(json_time(t, &format!("{at}/{k}"))?),
                    None => None,
                };
                let Some((k, v)) = get(&["value", "v"]) else {
                    return Err(format!("at {at}: a point object needs a \"value\""));
                };
                (time, json_value(v, &format!("{at}/{k}"))?)
            }
            Value::Array(_) => {
                return Err(format!("at {at}: a point is [time, value] (two elements)"));
            }
            v => (None, json_value(v, &at)?),
        };
        if let Some(v) = value {
            out.push((time, v));
        }
    }
    Ok(out)
}

fn json_time(t: &Value, at: &str) -> Result<f64, String> {
    let parsed = match t {
        Value::Number(n) => n.as_f64().and_then(time_from_number),
        Value::String(s) => parse_time(s),
        _ => None,
    };
    parsed.ok_or_else(|| {
        format!("at {at}: {t} is not a time (epoch seconds or milliseconds, RFC 3339)")
    })
}

fn json_value(v: &Value, at: &str) -> Result<Option<f64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        Value::String(s) => parse_value(s).map_err(|()| format!("at {at}: {s:?} is not a number")),
        _ => Err(format!("at {at}: expected a number, found {}", kind(v))),
    }
}

/// The Prometheus text exposition format (timestamps in milliseconds) and OpenMetrics
/// (seconds): `name{label="value",...} value timestamp [# exemplar]`. A sample without a
/// timestamp is an error: it is a scrape, not a series.
fn prometheus_series(text: &str) -> Result<Series, String> {
    let mut out = Series::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end();
        let indent = line.len() - line.trim_start().len();
        let line = line.trim_start();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if comment.trim() == "EOF" {
                break;
            }
            continue;
        }
        let at = |offset: usize| {
            let column = raw
                .get(..indent + offset)
                .map_or(1, |s| s.chars().count() + 1);
            format!("at line {line_no}, column {column}")
        };
        let sample = parse_sample(line).map_err(|(offset, m)| format!("{}: {m}", at(offset)))?;
        let Some(time) = sample.time else {
            return Err(format!(
                "{}: the sample has no timestamp: a series file needs a time on every sample (a scrape of /metrics has none; export with promtool tsdb dump or the query_range API)",
                at(line.len())
            ));
        };
        out.entry(sample.key)
            .or_default()
            .push((Some(time), sample.value));
    }
    Ok(out)
}

struct TextSample {
    key: String,
    value: f64,
    time: Option<f64>,
}

/// A parse error: the byte offset in the line and the message.
type LineError = (usize, String);

/// A cursor over one line.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_space(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.bump();
        }
        self.pos - start
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        self.s.get(start..self.pos).unwrap_or_default()
    }

    fn fail<T>(&self, m: impl Into<String>) -> Result<T, LineError> {
        Err((self.pos, m.into()))
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// `name`, `name{labels}` or `{__name__="name", labels}`: the name and the labels.
fn parse_name_and_labels(
    cur: &mut Cursor<'_>,
) -> Result<(String, Vec<(String, String)>), LineError> {
    let mut name = String::new();
    if cur
        .peek()
        .is_some_and(|c| is_name_char(c) && !c.is_ascii_digit())
    {
        name = cur.take_while(is_name_char).to_string();
    }
    let mut labels = Vec::new();
    if cur.peek() == Some('{') {
        cur.bump();
        loop {
            cur.skip_space();
            match cur.peek() {
                Some('}') => {
                    cur.bump();
                    break;
                }
                None => return cur.fail("unterminated labels: no closing }"),
                _ => {}
            }
            let label = if cur.peek() == Some('"') {
                quoted(cur)?
            } else {
                let l = cur.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
                if l.is_empty() {
                    return cur.fail(format!(
                        "expected a label name, found {:?}",
                        cur.peek().unwrap_or(' ')
                    ));
                }
                l.to_string()
            };
            cur.skip_space();
            match cur.peek() {
                Some('=') => {
                    cur.bump();
                    cur.skip_space();
                    if cur.peek() != Some('"') {
                        return cur.fail("expected a quoted label value");
                    }
                    let value = quoted(cur)?;
                    labels.push((label, value));
                }
                // A quoted name on its own is the metric name (Prometheus 3's UTF-8 names).
                Some(',' | '}') if name.is_empty() => name = label,
                _ => return cur.fail(format!("expected = after the label name {label:?}")),
            }
            cur.skip_space();
            match cur.peek() {
                Some(',') => {
                    cur.bump();
                }
                Some('}') => {}
                _ => return cur.fail("expected , or } after a label"),
            }
        }
    }
    if name.is_empty() {
        match labels.iter().find(|(k, _)| k == "__name__") {
            Some((_, n)) => name = n.clone(),
            None => return Err((0, "the sample has no metric name".into())),
        }
    }
    Ok((name, labels))
}

/// A double-quoted string with the escapes `\\`, `\"` and `\n`.
fn quoted(cur: &mut Cursor<'_>) -> Result<String, LineError> {
    cur.bump();
    let mut out = String::new();
    loop {
        match cur.bump() {
            None => return cur.fail("unterminated quoted string"),
            Some('"') => return Ok(out),
            Some('\\') => match cur.bump() {
                Some('n') => out.push('\n'),
                Some(c) => out.push(c),
                None => return cur.fail("unterminated quoted string"),
            },
            Some(c) => out.push(c),
        }
    }
}

fn parse_sample(line: &str) -> Result<TextSample, LineError> {
    let mut cur = Cursor { s: line, pos: 0 };
    let (name, labels) = parse_name_and_labels(&mut cur)?;
    if cur.skip_space() == 0 {
        return cur.fail("expected a space and the value after the series name");
    }
    let value_at = cur.pos;
    let raw = cur.take_while(|c| !c.is_whitespace());
    let value = raw
        .parse::<f64>()
        .map_err(|_| (value_at, format!("{raw:?} is not a number")))?;
    cur.skip_space();
    let mut time = None;
    if cur.peek().is_some_and(|c| c != '#') {
        let time_at = cur.pos;
        let raw = cur.take_while(|c| !c.is_whitespace());
        time = Some(
            raw.parse::<f64>()
                .ok()
                .and_then(time_from_number)
                .ok_or_else(|| (time_at, format!("{raw:?} is not a timestamp")))?,
        );
        cur.skip_space();
    }
    // An OpenMetrics exemplar (`# {trace_id="..."} 1`) follows; anything else is an error.
    if cur.peek().is_some_and(|c| c != '#') {
        return cur.fail(format!("unexpected {:?} after the sample", cur.rest()));
    }
    Ok(TextSample {
        key: series_key(&name, &labels),
        value,
        time,
    })
}

/// `name` or `name{a="x",b="y"}`: labels sorted, `__name__` left out, values escaped.
pub fn series_key(name: &str, labels: &[(String, String)]) -> String {
    let mut labels: Vec<&(String, String)> =
        labels.iter().filter(|(k, _)| k != "__name__").collect();
    if labels.is_empty() {
        return name.to_string();
    }
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);
    let body: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{name}{{{}}}", body.join(","))
}

/// `name{labels}` parsed, when `s` is one.
fn parse_selector(s: &str) -> Option<(String, Vec<(String, String)>)> {
    let s = s.trim();
    if !s.contains('{') {
        return None;
    }
    let mut cur = Cursor { s, pos: 0 };
    let parsed = parse_name_and_labels(&mut cur).ok()?;
    cur.skip_space();
    cur.rest().is_empty().then_some(parsed)
}

/// A metric name as a series key: `a{y="2", x="1"}` becomes `a{x="1",y="2"}`; other names
/// stay as they are (trimmed).
pub fn canonical_key(s: &str) -> String {
    match parse_selector(s) {
        Some((name, labels)) => series_key(&name, &labels),
        None => s.trim().to_string(),
    }
}

/// The series a metric name picks: the one with exactly that key; else, the one series with
/// that name whose labels include the name's labels (`latency` picks `latency{track="canary"}`
/// when it is the only `latency`). More than one is an error naming them.
pub fn lookup<'a>(series: &'a Series, metric: &str) -> Result<Option<&'a [Sample]>, String> {
    let key = canonical_key(metric);
    if let Some(s) = series.get(&key) {
        return Ok(Some(s));
    }
    let (name, wanted) = parse_selector(&key).unwrap_or((key.clone(), Vec::new()));
    let matches: Vec<(&String, &Vec<Sample>)> = series
        .iter()
        // The name before the labels first: parsing the labels of every key would be slow on
        // a dump of many series.
        .filter(|(k, _)| k.split('{').next() == Some(name.as_str()))
        .filter(|(k, _)| {
            let (n, labels) = parse_selector(k).unwrap_or(((*k).clone(), Vec::new()));
            n == name && wanted.iter().all(|w| labels.contains(w))
        })
        .collect();
    match matches.as_slice() {
        [] => Ok(None),
        [(_, s)] => Ok(Some(s)),
        many => {
            let names: Vec<&str> = many.iter().take(4).map(|(k, _)| k.as_str()).collect();
            Err(format!(
                "metric {metric:?} matches {} series ({}{}): name one with its labels, e.g. {:?}",
                many.len(),
                names.join(", "),
                if many.len() > 4 { ", ..." } else { "" },
                names.first().unwrap_or(&"")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str, format: SeriesFormat) -> Result<Series, String> {
        parse(Path::new("s"), text.as_bytes(), format).map_err(|e| e.to_string())
    }

    fn auto(text: &str) -> Series {
        p(text, SeriesFormat::Auto).unwrap()
    }

    #[test]
    fn detects_each_format() {
        let d = |t: &str| detect(t);
        assert_eq!(d("time,a,b\n1,2,3\n"), SeriesFormat::WideCsv);
        assert_eq!(d("\"Time\",\"A-series\"\n"), SeriesFormat::WideCsv);
        assert_eq!(d("metric,timestamp,value\n"), SeriesFormat::LongCsv);
        assert_eq!(d("Name, Time, Value\n"), SeriesFormat::LongCsv);
        assert_eq!(d(" {\"a\": [1]}"), SeriesFormat::Json);
        assert_eq!(d("[{\"metric\":{}}]"), SeriesFormat::Json);
        assert_eq!(d("# HELP x y\n"), SeriesFormat::Prometheus);
        assert_eq!(d("x_total{a=\"b\"} 1 2\n"), SeriesFormat::Prometheus);
        assert_eq!(d("up 1 1700000000000\n"), SeriesFormat::Prometheus);
        assert_eq!(
            d("{__name__=\"up\", job=\"x\"} 1 1700000000000\n"),
            SeriesFormat::Prometheus
        );
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000.0));
        assert_eq!(parse_time("1700000000500"), Some(1_700_000_000.5));
        assert_eq!(parse_time("1700000000000000000"), Some(1_700_000_000.0));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(1_700_000_000.0));
        assert_eq!(
            parse_time("2023-11-14T23:13:20.25+01:00"),
            Some(1_700_000_000.25)
        );
        assert_eq!(parse_time("2023-11-14 22:13:20"), Some(1_700_000_000.0));
        assert_eq!(parse_time("2023-11-14 22:13"), Some(1_699_999_980.0));
        assert_eq!(parse_time("2023-11-14"), Some(1_699_920_000.0));
        assert_eq!(parse_time("soon"), None);
        assert_eq!(parse_time("NaN"), None);
    }

    #[test]
    fn wide_csv_with_gaps() {
        let s = auto(
            "Time,error_rate,\"latency{track=\"\"canary\"\", job=\"\"api\"\"}\"\n2023-11-14 22:13:20,0.5,\n2023-11-14 22:13:35,,7\n2023-11-14 22:13:50,NaN,8\n",
        );
        assert_eq!(
            s["error_rate"].len(),
            2,
            "the empty cell is missing, not zero"
        );
        assert_eq!(s["error_rate"][0], (Some(1_700_000_000.0), 0.5));
        assert!(s["error_rate"][1].1.is_nan());
        assert_eq!(
            s["latency{job=\"api\",track=\"canary\"}"],
            vec![(Some(1_700_000_015.0), 7.0), (Some(1_700_000_030.0), 8.0)]
        );
        // An unnamed first column, and one of dates, are the time column.
        let s = auto(",m\n1700000000000,1\n");
        assert_eq!(s["m"], vec![(Some(1_700_000_000.0), 1.0)]);
        let s = auto("when,m\n2023-11-14T22:13:20Z,1\n");
        assert_eq!(s["m"], vec![(Some(1_700_000_000.0), 1.0)]);
    }

    #[test]
    fn tab_and_semicolon_separated() {
        assert_eq!(detect("time\terror_rate\n1\t2\n"), SeriesFormat::WideCsv);
        let s = auto("time\terror_rate\tlatency\n1\t2\t\n");
        assert_eq!(s["error_rate"], vec![(Some(1.0), 2.0)]);
        assert!(s["latency"].is_empty());
        let s = auto("metric;timestamp;value\nm;1;2\n");
        assert_eq!(s["m"], vec![(Some(1.0), 2.0)]);
    }

    #[test]
    fn long_csv_with_label_columns() {
        let s = auto("Name,Timestamp,Value,job\nreq,1,2,api\nreq,2,,api\nreq,3,4,\n");
        assert_eq!(s["req{job=\"api\"}"], vec![(Some(1.0), 2.0)]);
        assert_eq!(s["req"], vec![(Some(3.0), 4.0)]);
        let s = auto("metric,value\nx,1\n");
        assert_eq!(s["x"], vec![(None, 1.0)]);
    }

    #[test]
    fn json_shapes() {
        let s = auto(
            r#"{"a": [[1, "0.5"], [2, 0.7], [3, null]], "b": [1, null, "2"], "c": [{"time": "1970-01-01T00:00:05Z", "value": 3}]}"#,
        );
        assert_eq!(s["a"], vec![(Some(1.0), 0.5), (Some(2.0), 0.7)]);
        assert_eq!(s["b"], vec![(None, 1.0), (None, 2.0)]);
        assert_eq!(s["c"], vec![(Some(5.0), 3.0)]);
        let range = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a"},"values":[[1700000000,"1"],[1700000015.5,"NaN"]]},{"metric":{"__name__":"up","job":"b"},"values":[[1700000000,"0"]]}]}}"#;
        let s = auto(range);
        assert_eq!(s["up{job=\"a\"}"].len(), 2);
        assert_eq!(s["up{job=\"b\"}"], vec![(Some(1_700_000_000.0), 0.0)]);
        let wrapped = r#"{"err": {"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2"]]}]}}}"#;
        assert_eq!(auto(wrapped)["err"], vec![(Some(1.0), 2.0)]);
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"x"},"value":[5,"3"]}]}}"#;
        assert_eq!(auto(vector)["x"], vec![(Some(5.0), 3.0)]);
        // pandas: to_json() (orient columns, epoch ms keys) and orient records.
        let columns =
            r#"{"a": {"1700000000000": 1.5, "1700000015000": null}, "b": {"1700000000000": 2}}"#;
        assert_eq!(auto(columns)["a"], vec![(Some(1_700_000_000.0), 1.5)]);
        assert_eq!(auto(columns)["b"], vec![(Some(1_700_000_000.0), 2.0)]);
        let records = r#"[{"timestamp": "2023-11-14T22:13:20Z", "a": 1, "b": null}, {"timestamp": 1700000015, "a": "2", "b": 3}]"#;
        let s = auto(records);
        assert_eq!(
            s["a"],
            vec![(Some(1_700_000_000.0), 1.0), (Some(1_700_000_015.0), 2.0)]
        );
        assert_eq!(s["b"], vec![(Some(1_700_000_015.0), 3.0)]);
    }

    #[test]
    fn prometheus_text_and_openmetrics() {
        let text = "# HELP req Requests.\n# TYPE req counter\nreq_total{code=\"200\",path=\"/a b,\\\"c\\\"\"} 10 1700000000000\nreq_total{code=\"500\"} +Inf 1700000015000\n";
        let s = auto(text);
        assert_eq!(
            s["req_total{code=\"200\",path=\"/a b,\\\"c\\\"\"}"],
            vec![(Some(1_700_000_000.0), 10.0)]
        );
        assert_eq!(
            s["req_total{code=\"500\"}"],
            vec![(Some(1_700_000_015.0), f64::INFINITY)]
        );
        let om = "# TYPE lat gauge\nlat{t=\"x\"} 0.25 1700000000.5 # {trace_id=\"abc\"} 0.3 1700000000.4\n# EOF\nignored\n";
        assert_eq!(
            auto(om)["lat{t=\"x\"}"],
            vec![(Some(1_700_000_000.5), 0.25)]
        );
        let dump = "{__name__=\"up\", job=\"x\"} 1 1700000000000\n{__name__=\"up\", job=\"x\"} 0 1700000015000\n";
        assert_eq!(auto(dump)["up{job=\"x\"}"].len(), 2);
    }

    #[test]
    fn lookup_by_name_and_labels() {
        let s = auto("t,lat{track=\"a\"},lat{track=\"b\"},err{track=\"a\"}\n1,1,2,3\n");
        assert_eq!(lookup(&s, "err").unwrap().unwrap(), &[(Some(1.0), 3.0)]);
        assert_eq!(
            lookup(&s, "lat{ track = \"b\" }").unwrap().unwrap(),
            &[(Some(1.0), 2.0)]
        );
        let e = lookup(&s, "lat").unwrap_err();
        assert!(e.contains("matches 2 series"), "{e}");
        assert!(lookup(&s, "absent").unwrap().is_none());
    }

    #[test]
    fn errors_name_the_format_and_the_place() {
        let cases: [(&str, SeriesFormat, &str); 16] = [
            (
                "{\"a\": {\"later\": 1}}",
                SeriesFormat::Auto,
                "JSON series: at /a/later: the key \"later\" is not a time",
            ),
            (
                "[{\"a\": 1}]",
                SeriesFormat::Auto,
                "JSON series: at /0: the row has no time",
            ),
            (
                "t,a\n1,2\n3,x\n",
                SeriesFormat::Auto,
                "s: wide CSV series: at line 3, column 2 (\"a\"): \"x\" is not a number",
            ),
            (
                "t,a\nlater,2\n",
                SeriesFormat::Auto,
                "at line 2, column 1 (\"t\"): \"later\" is not a time",
            ),
            (
                "a,b\n1,2\n",
                SeriesFormat::Auto,
                "wide CSV series: at line 1: no time column",
            ),
            (
                "t,a,a\n1,2,3\n",
                SeriesFormat::Auto,
                "at line 1, column 3: \"a\" is also the name of column 2",
            ),
            (
                "t,a\n1,2,3\n",
                SeriesFormat::Auto,
                "wide CSV series: at line 2:",
            ),
            (
                "metric,value\nm,lots\n",
                SeriesFormat::Auto,
                "long CSV series: at line 2, column 2 (\"value\"): \"lots\" is not a number",
            ),
            (
                "time,a\n1,2\n",
                SeriesFormat::LongCsv,
                "long CSV series: at line 1: the header must name a metric column",
            ),
            (
                "{\"a\": [1, 2,]}",
                SeriesFormat::Auto,
                "JSON series: at line 1, column 13:",
            ),
            (
                "{\"a\": [[1, \"x\"]]}",
                SeriesFormat::Auto,
                "JSON series: at /a/0/1: \"x\" is not a number",
            ),
            (
                "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error\"}",
                SeriesFormat::Auto,
                "at /status: the response is not a success: \"error\" bad_data parse error",
            ),
            (
                "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":[]}]}}",
                SeriesFormat::Auto,
                "at /data/result/0/metric: the series has no __name__",
            ),
            (
                "# TYPE up gauge\nup{job=\"a\"} 1\n",
                SeriesFormat::Auto,
                "Prometheus text series: at line 2, column 14: the sample has no timestamp",
            ),
            (
                "up{job=\"a} 1 2\n",
                SeriesFormat::Prometheus,
                "Prometheus text series: at line 1, column 15: unterminated quoted string",
            ),
            (
                "  up{job=\"a\"} one 2\n",
                SeriesFormat::Prometheus,
                "at line 1, column 15: \"one\" is not a number",
            ),
        ];
        for (text, format, want) in cases {
            let e = p(text, format).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}\nwanted: {want}");
        }
        let e = parse(Path::new("s"), b"\x1f\x8b\x08\x00", SeriesFormat::Auto)
            .unwrap_err()
            .to_string();
        assert!(e.contains("s: series: the file is gzip-compressed"), "{e}");
        let e = parse(Path::new("s"), b"t,a\n1,\xff\n", SeriesFormat::Auto)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at line 2, column 3: not UTF-8"), "{e}");
    }

    #[test]
    fn samples_come_in_time_order() {
        let s = auto("time,a\n3,30\n1,10\n2,20\n");
        assert_eq!(
            s["a"],
            vec![(Some(1.0), 10.0), (Some(2.0), 20.0), (Some(3.0), 30.0)]
        );
        // Without times, the file's order is the series' order.
        let s = auto("metric,value\na,3\na,1\n");
        assert_eq!(s["a"], vec![(None, 3.0), (None, 1.0)]);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let s = auto("\u{feff}time,a\n1,2\n");
        assert_eq!(s["a"], vec![(Some(1.0), 2.0)]);
    }
}
