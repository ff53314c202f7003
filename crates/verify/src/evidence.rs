//! Verification evidence as the firewall reads it: a `portcullis verify canary --format json`
//! report, or PolicyInput `verifications` entries (one or an array), into the policy input's
//! verification entries.

use portcullis_policy::input::InputVerification;
use serde::de::DeserializeOwned;

use crate::judge::Classification;
use crate::logs::{ClusterClass, Level, LogCluster};
use crate::report::{REPORT_VERSION, Report};

/// What the format is called in messages: a canary report.
pub const CANARY_REPORT: &str = "canary report";
/// What the format is called in messages: plain PolicyInput `verifications` entries.
pub const VERIFICATION_ENTRIES: &str = "verification entries";

/// Longest excerpt of an unexpected log template in `details`, in characters.
const TEMPLATE_EXCERPT: usize = 80;

/// Why a verification document could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerificationReadError {
    /// Not JSON, or not the shape of the format (`format` is [`CANARY_REPORT`] or
    /// [`VERIFICATION_ENTRIES`]).
    #[error("JSON: {format} at {place}: {message}")]
    Json {
        format: &'static str,
        /// The JSON path (`metrics.intervals[0].score`, `.` for the document) and the line and
        /// column.
        place: String,
        message: String,
    },
    /// A canary report of a version this build does not know.
    #[error("canary report version {found} is newer than this build reads ({supported})")]
    NewerVersion { found: u64, supported: u32 },
    /// A canary report whose score is not a number from 0 to 100.
    #[error("canary report: score {score} is not in 0..100")]
    Score { score: f64 },
}

/// The verification entries `bytes` hold; `digest` is the document's digest, the `evidence` of
/// every entry that names none.
///
/// A canary report (`"kind": "canary"` with `apiVersion` and `version`) becomes one entry:
/// its score and verdict, with `details` naming what failed in the last metric interval and the
/// unexpected log templates. Anything else is read as PolicyInput `verifications` entries.
pub fn verifications_from_json(
    bytes: &[u8],
    digest: &str,
) -> Result<Vec<InputVerification>, VerificationReadError> {
    let value: serde_json::Value = parse(VERIFICATION_ENTRIES, bytes)?;
    let is_report = value.get("apiVersion").is_some()
        && value.get("version").is_some()
        && value.get("kind").and_then(|k| k.as_str()) == Some("canary");
    let mut entries = if is_report {
        // Before the shape: a newer report may have another shape, and this is what to say.
        if let Some(found) = value.get("version").and_then(|v| v.as_u64())
            && found > u64::from(REPORT_VERSION)
        {
            return Err(VerificationReadError::NewerVersion {
                found,
                supported: REPORT_VERSION,
            });
        }
        let report: Report = parse(CANARY_REPORT, bytes)?;
        vec![from_report(&report)?]
    } else if value.is_array() {
        parse::<Vec<InputVerification>>(VERIFICATION_ENTRIES, bytes)?
    } else {
        vec![parse::<InputVerification>(VERIFICATION_ENTRIES, bytes)?]
    };
    for entry in &mut entries {
        entry.evidence.get_or_insert_with(|| digest.to_string());
    }
    Ok(entries)
}

/// The one entry a canary report amounts to.
fn from_report(report: &Report) -> Result<InputVerification, VerificationReadError> {
    if !report.score.is_finite() || !(0.0..=100.0).contains(&report.score) {
        return Err(VerificationReadError::Score {
            score: report.score,
        });
    }
    let mut failing: Vec<String> = report
        .metrics
        .iter()
        .filter_map(|m| m.intervals.last())
        .flat_map(|i| &i.metrics)
        .filter(|m| {
            !m.muted
                && !matches!(
                    m.result.classification,
                    Classification::Pass | Classification::Nodata
                )
        })
        .map(|m| format!("{} ({:?})", m.name, m.result.classification))
        .collect();
    let unexpected: Vec<&LogCluster> = report
        .logs
        .iter()
        .flat_map(|l| &l.clusters)
        .filter(|c| c.classification == ClusterClass::Unexpected)
        .collect();
    if let Some(worst) = unexpected.first() {
        let mut excerpt: String = worst.template.chars().take(TEMPLATE_EXCERPT).collect();
        if excerpt.len() < worst.template.len() {
            excerpt.push('…');
        }
        failing.push(format!(
            "{} unexpected log template(s), e.g. [{}] {excerpt}",
            unexpected.len(),
            level_name(worst.level)
        ));
    }
    let details = if failing.is_empty() {
        "nothing failed".to_string()
    } else {
        format!("failing: {}", failing.join(", "))
    };
    Ok(InputVerification {
        kind: "canary".into(),
        score: report.score,
        verdict: report.verdict.as_str().to_string(),
        evidence: None,
        details: Some(details),
        ..InputVerification::default()
    })
}

/// The level as the report spells it.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Error => "error",
        Level::Critical => "critical",
    }
}

/// `bytes` as a `T`, an error naming `format`, the JSON path, line and column.
fn parse<T: DeserializeOwned>(
    format: &'static str,
    bytes: &[u8],
) -> Result<T, VerificationReadError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| json_error(format, &e.path().to_string(), e.inner()))?;
    de.end().map_err(|e| json_error(format, ".", &e))?;
    Ok(value)
}

fn json_error(format: &'static str, path: &str, e: &serde_json::Error) -> VerificationReadError {
    VerificationReadError::Json {
        format,
        place: format!("{path} (line {}, column {})", e.line(), e.column()),
        message: without_position(&e.to_string()),
    }
}

/// serde_json's message without its ` at line L column C` (the place says it).
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message.get(..i).unwrap_or(message).to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::VerifyError;
    use crate::analysis::{self, Subject};
    use crate::config::{AnalysisConfig, Metric};
    use crate::provider::{MetricSource, Range, Side};

    const CONFIG: &str = r#"
apiVersion: portcullis.dev/v1
kind: CanaryAnalysis
provider:
  files: {baseline: b.csv, canary: c.csv}
groups:
  - name: errors
    metrics:
      - name: error_rate
        direction: increase
      - name: latency
        direction: increase
        muted: true
      - name: throughput
logs:
  baseline: [b.log]
  canary: [c.log]
"#;

    /// Series of the metrics: the error rate and the latency rise in the canary.
    struct Series;

    impl MetricSource for Series {
        fn fetch_timed(
            &self,
            metric: &Metric,
            side: Side,
            _range: Option<&Range>,
        ) -> Result<Vec<(Option<f64>, f64)>, VerifyError> {
            let base: Vec<f64> = (0..30).map(|i| 1.0 + f64::from(i % 5) * 0.01).collect();
            let values: Vec<f64> = match (metric.name.as_str(), side) {
                ("throughput", _) | (_, Side::Baseline) => base,
                (_, Side::Canary) => base.iter().map(|v| v * 10.0).collect(),
            };
            Ok(values.into_iter().map(|v| (None, v)).collect())
        }

        fn describe(&self) -> String {
            "test series".into()
        }
    }

    /// A canary report made by this crate's own analysis, as JSON.
    fn canary_report(template_word: &str) -> (Report, Vec<u8>) {
        let config = AnalysisConfig::parse(Path::new("analysis.yaml"), CONFIG).unwrap();
        let metrics = analysis::run_metrics(&config, &Series).unwrap();
        let baseline = "INFO request served in 10 ms\n".repeat(50);
        let canary = format!(
            "{}ERROR database connection lost {template_word}\n",
            "INFO request served in 10 ms\n".repeat(50)
        );
        let logs = crate::logs::analyse_readers(
            config.logs.as_ref().unwrap(),
            vec![
                (PathBuf::from("b.log"), false, Cursor::new(baseline)),
                (PathBuf::from("c.log"), true, Cursor::new(canary)),
            ],
        )
        .unwrap();
        let report = analysis::assemble(&config, &Subject::default(), Some(metrics), Some(logs));
        let json = serde_json::to_vec_pretty(&report).unwrap();
        (report, json)
    }

    #[test]
    fn a_canary_report_is_one_entry_naming_what_failed() {
        let (report, json) = canary_report("now");
        let entries = verifications_from_json(&json, "sha256:abc").unwrap();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.kind, "canary");
        assert_eq!(e.score, report.score);
        assert_eq!(e.verdict, report.verdict.as_str());
        assert_eq!(e.evidence.as_deref(), Some("sha256:abc"));
        let details = e.details.as_deref().unwrap();
        assert!(
            details.starts_with("failing: error_rate (High)"),
            "{details}"
        );
        assert!(
            !details.contains("latency"),
            "muted metric named: {details}"
        );
        assert!(
            !details.contains("throughput"),
            "passing metric named: {details}"
        );
        assert!(
            details.contains(", 1 unexpected log template(s), e.g. [error] "),
            "{details}"
        );
    }

    #[test]
    fn a_long_log_template_is_cut_at_80_characters() {
        let long = "x".repeat(120);
        let (_, json) = canary_report(&long);
        let entries = verifications_from_json(&json, "sha256:abc").unwrap();
        let details = entries[0].details.as_deref().unwrap();
        let excerpt = details.split("[error] ").nth(1).unwrap();
        assert!(excerpt.ends_with('…'), "{details}");
        assert_eq!(excerpt.chars().count(), 81, "{details}");
    }

    #[test]
    fn a_report_where_nothing_failed_says_so() {
        let (mut report, _) = canary_report("now");
        report.metrics = None;
        report.logs = None;
        let json = serde_json::to_vec(&report).unwrap();
        let entries = verifications_from_json(&json, "sha256:abc").unwrap();
        assert_eq!(entries[0].details.as_deref(), Some("nothing failed"));
    }

    #[test]
    fn plain_entries_one_or_an_array() {
        let one =
            br#"{"kind":"canary","score":91,"verdict":"pass","evidence":null,"details":null}"#;
        let entries = verifications_from_json(one, "sha256:doc").unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].score, 91.0);
        assert_eq!(entries[0].evidence.as_deref(), Some("sha256:doc"));

        let many = br#"[{"kind":"canary","score":91,"verdict":"pass","evidence":"sha256:own","details":null},
                        {"kind":"canary","score":40,"verdict":"fail","evidence":null,"details":"slow"}]"#;
        let entries = verifications_from_json(many, "sha256:doc").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].evidence.as_deref(), Some("sha256:own"));
        assert_eq!(entries[1].evidence.as_deref(), Some("sha256:doc"));
        assert_eq!(entries[1].details.as_deref(), Some("slow"));
    }

    #[test]
    fn a_newer_report_is_refused_by_its_version() {
        let (report, _) = canary_report("now");
        let mut value = serde_json::to_value(&report).unwrap();
        value["version"] = 2.into();
        value["score"] = "a shape of version 2".into();
        let e = verifications_from_json(&serde_json::to_vec(&value).unwrap(), "d").unwrap_err();
        assert_eq!(
            e,
            VerificationReadError::NewerVersion {
                found: 2,
                supported: 1
            }
        );
        assert_eq!(
            e.to_string(),
            "canary report version 2 is newer than this build reads (1)"
        );
    }

    #[test]
    fn a_score_beyond_100_is_refused() {
        let (mut report, _) = canary_report("now");
        report.score = 120.0;
        let e = verifications_from_json(&serde_json::to_vec(&report).unwrap(), "d").unwrap_err();
        assert_eq!(e, VerificationReadError::Score { score: 120.0 });
        assert_eq!(e.to_string(), "canary report: score 120 is not in 0..100");
    }

    #[test]
    fn malformed_json_names_the_format_and_the_place() {
        let e = verifications_from_json(b"{\"kind\": \"canary\",\n \"score\": }", "d").unwrap_err();
        assert!(
            matches!(&e, VerificationReadError::Json { format, .. } if *format == VERIFICATION_ENTRIES),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with("JSON: verification entries at "),
            "{e}"
        );
        assert!(e.to_string().contains("line 2, column 11"), "{e}");

        let e =
            verifications_from_json(br#"{"kind": "canary", "score": "high"}"#, "d").unwrap_err();
        assert!(e.to_string().contains("at score (line 1"), "{e}");

        let (report, _) = canary_report("now");
        let mut value = serde_json::to_value(&report).unwrap();
        value["metrics"]["intervals"][0]["metrics"][0]["result"]["classification"] = "Bad".into();
        let e = verifications_from_json(&serde_json::to_vec(&value).unwrap(), "d").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(
                "JSON: canary report at metrics.intervals[0].metrics[0].result.classification"
            ),
            "{text}"
        );
        assert!(text.contains("unknown variant `Bad`"), "{text}");
    }
}
