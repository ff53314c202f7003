//! Exposure evidence as the firewall reads it: a `portcullis probe` report (`"kind":
//! "exposure"`), or PolicyInput `exposures` entries (one or an array), into the policy input's
//! exposure entries.

use portcullis_policy::input::InputExposure;
use serde::de::DeserializeOwned;

use crate::report::{KIND, Report, VERSION};

/// What the format is called in messages: a probe report.
pub const PROBE_REPORT: &str = "probe report";
/// What the format is called in messages: plain PolicyInput `exposures` entries.
pub const EXPOSURE_ENTRIES: &str = "exposure entries";

/// Why an exposure document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExposureReadError {
    /// Not JSON, or not the shape of the format (`format` is [`PROBE_REPORT`] or
    /// [`EXPOSURE_ENTRIES`]).
    #[error("JSON: {format} at {place}: {message}")]
    Json {
        format: &'static str,
        /// The JSON path (`checks[3].deviation`, `.` for the document) and the line and column.
        place: String,
        message: String,
    },
    /// A probe report of another version than this build reads.
    #[error("probe report version {found:?}; this build reads {supported:?}")]
    Version {
        found: String,
        supported: &'static str,
    },
}

/// The exposure entries `bytes` hold; `digest` is the document's digest, the `evidence` of
/// every entry that names none.
///
/// A probe report's checks become one entry each; anything else is read as PolicyInput
/// `exposures` entries.
pub fn exposures_from_json(
    bytes: &[u8],
    digest: &str,
) -> Result<Vec<InputExposure>, ExposureReadError> {
    let value: serde_json::Value = parse(EXPOSURE_ENTRIES, bytes)?;
    let mut entries = if value.get("kind").and_then(|k| k.as_str()) == Some(KIND) {
        // Before the shape: another version may have another shape, and this is what to say.
        if let Some(found) = value.get("version").and_then(|v| v.as_str())
            && found != VERSION
        {
            return Err(ExposureReadError::Version {
                found: found.to_string(),
                supported: VERSION,
            });
        }
        let report: Report = parse(PROBE_REPORT, bytes)?;
        report
            .checks
            .into_iter()
            .map(|c| InputExposure {
                target: c.target,
                check: c.check,
                expected: c.expected,
                observed: c.observed,
                deviation: c.deviation,
                message: c.message,
                evidence: None,
                ..InputExposure::default()
            })
            .collect()
    } else if value.is_array() {
        parse::<Vec<InputExposure>>(EXPOSURE_ENTRIES, bytes)?
    } else {
        vec![parse::<InputExposure>(EXPOSURE_ENTRIES, bytes)?]
    };
    for entry in &mut entries {
        entry.evidence.get_or_insert_with(|| digest.to_string());
    }
    Ok(entries)
}

/// `bytes` as a `T`, an error naming `format`, the JSON path, line and column.
fn parse<T: DeserializeOwned>(format: &'static str, bytes: &[u8]) -> Result<T, ExposureReadError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| json_error(format, &e.path().to_string(), e.inner()))?;
    de.end().map_err(|e| json_error(format, ".", &e))?;
    Ok(value)
}

fn json_error(format: &'static str, path: &str, e: &serde_json::Error) -> ExposureReadError {
    let message = e.to_string();
    // serde_json ends its message with ` at line L column C`; the place says it.
    let message = match message.rfind(" at line ") {
        Some(i) => message.get(..i).unwrap_or(&message).to_string(),
        None => message,
    };
    ExposureReadError::Json {
        format,
        place: format!("{path} (line {}, column {})", e.line(), e.column()),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, ExpectationsRef, ProbeMeta, ProbedTarget};

    /// A probe report as this crate writes it: one deviation, one check that held.
    fn probe_report() -> Report {
        let controls = vec!["SC-8".to_string()];
        Report {
            kind: KIND.to_string(),
            version: VERSION.to_string(),
            expectations: ExpectationsRef {
                file: "expectations.yaml".into(),
                api_version: "portcullis.dev/v1".into(),
                digest: "sha256:e".into(),
            },
            artifact: Some("shop/api@sha256:00".into()),
            environment: Some("production".into()),
            probe: ProbeMeta {
                tool: "portcullis probe".into(),
                started_at: "2026-01-01T00:00:00Z".into(),
                finished_at: "2026-01-01T00:00:01Z".into(),
                concurrency: 64,
                timeout_ms: 1000,
                rate: None,
                reprobes: 1,
                connects: 2,
                self_connects: 0,
                resource_retries: 0,
            },
            targets: vec![ProbedTarget {
                name: "api".into(),
                address: "127.0.0.1".into(),
                addresses: vec!["127.0.0.1".into()],
                ports_scanned: 2,
                open: Vec::new(),
            }],
            deviations: 1,
            checks: vec![
                Check::new(
                    "api:443",
                    "tls",
                    Some("TLSv1.2".into()),
                    Some("TLSv1.0".into()),
                    true,
                    "TLSv1.0 accepted".into(),
                    &controls,
                ),
                Check::new(
                    "api:443",
                    "header",
                    Some("strict-transport-security".into()),
                    Some("max-age=63072000".into()),
                    false,
                    "present".into(),
                    &controls,
                ),
            ],
        }
    }

    #[test]
    fn a_probe_report_is_one_entry_per_check() {
        let json = serde_json::to_vec_pretty(&probe_report()).unwrap();
        let entries = exposures_from_json(&json, "sha256:abc").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0],
            InputExposure {
                target: "api:443".into(),
                check: "tls".into(),
                expected: Some("TLSv1.2".into()),
                observed: Some("TLSv1.0".into()),
                deviation: true,
                message: "TLSv1.0 accepted".into(),
                evidence: Some("sha256:abc".into()),
                ..InputExposure::default()
            }
        );
        assert!(!entries[1].deviation);
        assert_eq!(entries[1].evidence.as_deref(), Some("sha256:abc"));
    }

    #[test]
    fn plain_entries_one_or_an_array() {
        let one = br#"{"target":"api:443","check":"tls","expected":"TLSv1.2","observed":"TLSv1.3","deviation":false,"message":"ok","evidence":null}"#;
        let entries = exposures_from_json(one, "sha256:doc").unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].evidence.as_deref(), Some("sha256:doc"));

        let many = br#"[{"target":"a","check":"port","expected":null,"observed":"22/tcp","deviation":true,"message":"open","evidence":"sha256:own"},
                        {"target":"b","check":"tls","expected":"TLSv1.2","observed":"TLSv1.3","deviation":false,"message":"ok","evidence":null}]"#;
        let entries = exposures_from_json(many, "sha256:doc").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].evidence.as_deref(), Some("sha256:own"));
        assert_eq!(entries[1].evidence.as_deref(), Some("sha256:doc"));
    }

    #[test]
    fn another_report_version_is_refused_by_its_version() {
        let mut value = serde_json::to_value(probe_report()).unwrap();
        value["version"] = "2".into();
        value["checks"] = "a shape of version 2".into();
        let e = exposures_from_json(&serde_json::to_vec(&value).unwrap(), "d").unwrap_err();
        assert_eq!(
            e,
            ExposureReadError::Version {
                found: "2".into(),
                supported: "1"
            }
        );
        assert_eq!(
            e.to_string(),
            r#"probe report version "2"; this build reads "1""#
        );
    }

    #[test]
    fn malformed_json_names_the_format_and_the_place() {
        let e = exposures_from_json(b"[{\"target\": \"a\",\n \"check\": ]", "d").unwrap_err();
        assert!(
            e.to_string().starts_with("JSON: exposure entries at "),
            "{e}"
        );
        assert!(e.to_string().contains("line 2, column 11"), "{e}");

        let e = exposures_from_json(br#"{"target": "a", "deviation": "yes"}"#, "d").unwrap_err();
        assert!(e.to_string().contains("at deviation (line 1"), "{e}");

        let mut value = serde_json::to_value(probe_report()).unwrap();
        value["checks"][1]["deviation"] = "yes".into();
        let e = exposures_from_json(&serde_json::to_vec(&value).unwrap(), "d").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("JSON: probe report at checks[1].deviation (line 1"),
            "{text}"
        );
        assert!(text.contains("invalid type"), "{text}");
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let e = exposures_from_json(b"[] []", "d").unwrap_err();
        assert!(e.to_string().contains("trailing characters"), "{e}");
    }
}
