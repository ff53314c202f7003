//! The same series written in every metric file format the files provider reads — wide CSV
//! (RFC 3339 times; Grafana's "series joined by time" shape with quoted headers and local
//! date-times), long CSV, JSON (a map of points; pandas' `to_json` columns and records;
//! Prometheus `query_range` responses, wrapped per metric and named by `__name__`) and the Prometheus text format (milliseconds) and
//! OpenMetrics (seconds, `# EOF`) — reads back to the same samples, gaps left out, and gives
//! the same analysis: a healthy canary passes and a regressed one fails in every format, with
//! identical scores.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::path::Path;

use portcullis_verify::analysis::{self, Subject};
use portcullis_verify::config::AnalysisConfig;
use portcullis_verify::judge::Verdict;
use portcullis_verify::metrics_formats::{Series, SeriesFormat};
use portcullis_verify::provider::{read_series_file, read_series_file_as};
use portcullis_verify::report::Report;

/// A deterministic pseudo-random source (xorshift) with normal deviates (Box–Muller).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

const START: i64 = 1_764_000_000; // 2025-11-24T16:00:00Z
const STEP: i64 = 15;
const POINTS: i64 = 240;
const METRICS: [&str; 3] = ["error_rate", "latency_p99", "throughput"];

/// One side's data: per metric, `(time, value)` with `None` for a gap (every 17th latency
/// point and every 23rd throughput point).
type Data = Vec<(&'static str, Vec<(i64, Option<f64>)>)>;

fn generate(error: f64, latency: f64, seed: u64) -> Data {
    let mut noise = Noise(seed);
    let mut out: Data = METRICS.iter().map(|m| (*m, Vec::new())).collect();
    for i in 0..POINTS {
        let t = START + i * STEP;
        // Rounded as an exporter prints them.
        let e = (noise.normal(error, error * 0.15).max(0.0) * 1e6).round() / 1e6;
        let l = (noise.normal(latency, latency * 0.08).max(0.001) * 1e5).round() / 1e5;
        let r = noise.normal(1500.0, 40.0).round();
        out[0].1.push((t, Some(e)));
        out[1].1.push((t, (i % 17 != 5).then_some(l)));
        out[2].1.push((t, (i % 23 != 7).then_some(r)));
    }
    out
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn wide_csv(d: &Data) -> String {
    let mut s = format!("time,{}\n", METRICS.join(","));
    for i in 0..POINTS as usize {
        s.push_str(&rfc3339(d[0].1[i].0));
        for (_, points) in d {
            s.push(',');
            if let Some(v) = points[i].1 {
                write!(s, "{v}").unwrap();
            }
        }
        s.push('\n');
    }
    s
}

/// Grafana's CSV download: quoted headers, `YYYY-MM-DD hh:mm:ss` times, the series named by
/// their legend.
fn grafana_csv(d: &Data) -> String {
    let mut s = String::from("\"Time\"");
    for m in METRICS {
        write!(s, ",\"{m}\"").unwrap();
    }
    s.push_str("\r\n");
    for i in 0..POINTS as usize {
        let t = chrono::DateTime::from_timestamp(d[0].1[i].0, 0).unwrap();
        s.push_str(&t.format("%Y-%m-%d %H:%M:%S").to_string());
        for (_, points) in d {
            s.push(',');
            if let Some(v) = points[i].1 {
                write!(s, "{v}").unwrap();
            }
        }
        s.push_str("\r\n");
    }
    s
}

fn long_csv(d: &Data) -> String {
    let mut s = String::from("Metric, Timestamp, Value\n");
    for (m, points) in d {
        for (t, v) in points {
            // A gap is an empty value here (or no row at all).
            match v {
                Some(v) => writeln!(s, "{m}, {t}, {v}").unwrap(),
                None if t % 2 == 0 => writeln!(s, "{m}, {t}, ").unwrap(),
                None => {}
            }
        }
    }
    s
}

fn json_map(d: &Data) -> String {
    let mut o = serde_json::Map::new();
    for (m, points) in d {
        let pts: Vec<serde_json::Value> = points
            .iter()
            .map(|(t, v)| serde_json::json!([t * 1000, v]))
            .collect();
        o.insert((*m).to_string(), pts.into());
    }
    serde_json::Value::Object(o).to_string()
}

/// pandas' `DataFrame.to_json()` (orient `columns`): metric to `{epoch ms: value}`.
fn pandas_columns(d: &Data) -> String {
    let mut o = serde_json::Map::new();
    for (m, points) in d {
        let by_time: serde_json::Map<String, serde_json::Value> = points
            .iter()
            .map(|(t, v)| ((t * 1000).to_string(), serde_json::json!(v)))
            .collect();
        o.insert((*m).to_string(), by_time.into());
    }
    serde_json::Value::Object(o).to_string()
}

/// pandas' `to_json(orient="records", date_format="iso")`: one object per time.
fn pandas_records(d: &Data) -> String {
    let rows: Vec<serde_json::Value> = (0..POINTS as usize)
        .map(|i| {
            let mut row = serde_json::Map::new();
            row.insert("timestamp".into(), rfc3339(d[0].1[i].0).into());
            for (m, points) in d {
                row.insert((*m).to_string(), serde_json::json!(points[i].1));
            }
            row.into()
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

fn query_range_series(
    points: &[(i64, Option<f64>)],
    labels: serde_json::Value,
) -> serde_json::Value {
    // Prometheus leaves a step without a value out of the series.
    let values: Vec<serde_json::Value> = points
        .iter()
        .filter_map(|(t, v)| v.map(|v| serde_json::json!([t, v.to_string()])))
        .collect();
    serde_json::json!({"metric": labels, "values": values})
}

/// `{"error_rate": <query_range response>, ...}`: one response per metric's query, unnamed
/// series (`sum(...)` has no `__name__`).
fn json_query_range_wrapped(d: &Data) -> String {
    let mut o = serde_json::Map::new();
    for (m, points) in d {
        let response = serde_json::json!({
            "status": "success",
            "data": {"resultType": "matrix", "result": [query_range_series(points, serde_json::json!({}))]},
        });
        o.insert((*m).to_string(), response);
    }
    serde_json::Value::Object(o).to_string()
}

/// One response to `{__name__=~"error_rate|latency_p99|throughput", track="..."}`.
fn json_query_range_named(d: &Data, track: &str) -> String {
    let result: Vec<serde_json::Value> = d
        .iter()
        .map(|(m, points)| {
            query_range_series(
                points,
                serde_json::json!({"__name__": m, "track": track, "job": "shop"}),
            )
        })
        .collect();
    serde_json::json!({
        "status": "success",
        "data": {"resultType": "matrix", "result": result},
        "warnings": [],
    })
    .to_string()
}

fn prometheus_text(d: &Data, track: &str) -> String {
    let mut s = String::new();
    for (m, points) in d {
        writeln!(s, "# HELP {m} The {m} of the shop.\n# TYPE {m} gauge").unwrap();
        for (t, v) in points {
            if let Some(v) = v {
                writeln!(s, "{m}{{job=\"shop\",track=\"{track}\"}} {v} {}", t * 1000).unwrap();
            }
        }
    }
    s
}

fn openmetrics(d: &Data, track: &str) -> String {
    let mut s = String::new();
    for (m, points) in d {
        writeln!(s, "# TYPE {m} gauge").unwrap();
        for (t, v) in points {
            if let Some(v) = v {
                writeln!(s, "{m}{{track=\"{track}\"}} {v} {t}.000").unwrap();
            }
        }
    }
    s.push_str("# EOF\n");
    s
}

struct Variant {
    name: &'static str,
    format: SeriesFormat,
    write: fn(&Data, &str) -> String,
}

const VARIANTS: [Variant; 10] = [
    Variant {
        name: "wide.csv",
        format: SeriesFormat::WideCsv,
        write: |d, _| wide_csv(d),
    },
    Variant {
        name: "grafana.csv",
        format: SeriesFormat::WideCsv,
        write: |d, _| grafana_csv(d),
    },
    Variant {
        name: "long.csv",
        format: SeriesFormat::LongCsv,
        write: |d, _| long_csv(d),
    },
    Variant {
        name: "map.json",
        format: SeriesFormat::Json,
        write: |d, _| json_map(d),
    },
    Variant {
        name: "pandas-columns.json",
        format: SeriesFormat::Json,
        write: |d, _| pandas_columns(d),
    },
    Variant {
        name: "pandas-records.json",
        format: SeriesFormat::Json,
        write: |d, _| pandas_records(d),
    },
    Variant {
        name: "query_range-wrapped.json",
        format: SeriesFormat::Json,
        write: |d, _| json_query_range_wrapped(d),
    },
    Variant {
        name: "query_range-named.json",
        format: SeriesFormat::Json,
        write: json_query_range_named,
    },
    Variant {
        name: "metrics.prom",
        format: SeriesFormat::Prometheus,
        write: prometheus_text,
    },
    Variant {
        name: "metrics.om",
        format: SeriesFormat::Prometheus,
        write: openmetrics,
    },
];

/// The samples of `metric` in a file's series, by its bare name.
fn samples(series: &Series, metric: &str) -> Vec<(i64, f64)> {
    let (_, s) = series
        .iter()
        .find(|(k, _)| k.split('{').next() == Some(metric))
        .unwrap_or_else(|| panic!("{metric} not in {:?}", series.keys().collect::<Vec<_>>()));
    s.iter()
        .map(|(t, v)| (t.expect("every sample has a time") as i64, *v))
        .collect()
}

#[test]
fn every_format_reads_back_the_same_samples() {
    let dir = tempfile::tempdir().unwrap();
    let data = generate(0.01, 0.25, 11);
    for v in &VARIANTS {
        let path = dir.path().join(v.name);
        std::fs::write(&path, (v.write)(&data, "baseline")).unwrap();
        let detected = read_series_file(&path).unwrap();
        let declared = read_series_file_as(&path, v.format).unwrap();
        assert_eq!(detected, declared, "{}", v.name);
        assert_eq!(
            detected.len(),
            METRICS.len(),
            "{}: {:?}",
            v.name,
            detected.keys()
        );
        for (m, points) in &data {
            let want: Vec<(i64, f64)> = points
                .iter()
                .filter_map(|(t, v)| v.map(|v| (*t, v)))
                .collect();
            let got = samples(&detected, m);
            assert_eq!(
                got.len(),
                want.len(),
                "{}: {m}: gaps are missing values",
                v.name
            );
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.0, w.0, "{}: {m}", v.name);
                assert!(
                    (g.1 - w.1).abs() <= 1e-12 * w.1.abs(),
                    "{}: {m}: {} != {}",
                    v.name,
                    g.1,
                    w.1
                );
            }
        }
    }
}

fn analyse(dir: &Path, v: &Variant, canary: &str, declare: bool) -> Report {
    let format = if declare {
        let name = match v.format {
            SeriesFormat::WideCsv => "wide-csv",
            SeriesFormat::LongCsv => "long-csv",
            SeriesFormat::Json => "json",
            _ => "prometheus",
        };
        format!(", format: {name}")
    } else {
        String::new()
    };
    let yaml = format!(
        r#"
apiVersion: portcullis.dev/v1
kind: CanaryAnalysis
thresholds: {{pass: 95, marginal: 75}}
analysis:
  start: {start}
  end: {end}
  intervals: 2
  step: 15s
provider:
  files: {{baseline: 'baseline-{name}', canary: '{canary}-{name}'{format}}}
groups:
  - name: errors
    weight: 50
    metrics:
      - name: error_rate
        direction: increase
        mustHaveData: true
  - name: performance
    weight: 50
    metrics:
      - name: latency_p99
        direction: increase
      - name: throughput
        direction: decrease
        effectSize: {{allowedDecrease: 0.9}}
"#,
        start = rfc3339(START + 120),
        end = rfc3339(START + POINTS * STEP),
        name = v.name,
    );
    let path = dir.join(format!("{canary}-{}.yaml", v.name));
    std::fs::write(&path, yaml).unwrap();
    let config = AnalysisConfig::load(&path).unwrap();
    analysis::run(&config, &Subject::default()).unwrap()
}

/// What must not depend on the format: verdicts, scores, and each metric's classification
/// and values used, per interval.
fn metric_outcome(r: &Report) -> String {
    let m = r.metrics.as_ref().unwrap();
    let mut s = format!("{:?} {:.9}\n", r.verdict, r.score);
    for i in &m.intervals {
        writeln!(s, "interval {} {:.9} {:?}", i.index, i.score, i.verdict).unwrap();
        for sm in &i.metrics {
            writeln!(
                s,
                "  {} {:?} baseline {} canary {}",
                sm.name, sm.result.classification, sm.result.baseline.used, sm.result.canary.used
            )
            .unwrap();
        }
    }
    s
}

#[test]
fn the_same_data_in_each_format_gets_the_same_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let sides = [
        ("baseline", generate(0.01, 0.25, 11)),
        ("healthy", generate(0.01, 0.25, 23)),
        ("regressed", generate(0.03, 0.35, 37)),
    ];
    for v in &VARIANTS {
        for (track, data) in &sides {
            std::fs::write(
                dir.path().join(format!("{track}-{}", v.name)),
                (v.write)(data, track),
            )
            .unwrap();
        }
    }
    let mut first: Option<(String, String)> = None;
    for (i, v) in VARIANTS.iter().enumerate() {
        let healthy = analyse(dir.path(), v, "healthy", i % 2 == 0);
        let regressed = analyse(dir.path(), v, "regressed", i % 2 == 1);
        assert_eq!(
            healthy.verdict,
            Verdict::Pass,
            "{}: {}",
            v.name,
            healthy.human()
        );
        assert_eq!(
            regressed.verdict,
            Verdict::Fail,
            "{}: {}",
            v.name,
            regressed.human()
        );
        let failing = regressed.failing.join("\n");
        assert!(
            failing.contains("metric error_rate High"),
            "{}: {failing}",
            v.name
        );
        assert!(
            failing.contains("metric latency_p99 High"),
            "{}: {failing}",
            v.name
        );
        let outcome = (metric_outcome(&healthy), metric_outcome(&regressed));
        // The first interval's latency values: the points in its window, the gaps left out.
        let first_end = START + 120 + (POINTS * STEP - 120) / 2;
        let n = (0..POINTS)
            .filter(|i| (START + 120..=first_end).contains(&(START + i * STEP)) && i % 17 != 5)
            .count();
        let want = format!("latency_p99 Pass baseline {n} canary {n}");
        assert!(
            outcome.0.contains(&want),
            "{}: {want}\n{}",
            v.name,
            outcome.0
        );
        match &first {
            None => {
                println!("{}:\n{}{}", v.name, outcome.0, outcome.1);
                first = Some(outcome);
            }
            Some(f) => assert_eq!(&outcome, f, "{} differs from {}", v.name, VARIANTS[0].name),
        }
    }
}
