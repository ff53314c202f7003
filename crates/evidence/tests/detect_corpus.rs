//! Every DefectDojo scanner sample is detected as its tool's format, from content alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use portcullis_evidence::{ErrorKind, Format, detect};

#[test]
fn scanner_samples_are_detected_by_content() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let expect: &[(&str, &[Format])] = &[
        ("anchore_grype", &[Format::GrypeJson]),
        ("bandit", &[Format::BanditJson]),
        ("checkov", &[Format::CheckovJson]),
        ("cyclonedx", &[Format::CyclonedxJson, Format::CyclonedxXml]),
        ("osv_scanner", &[Format::OsvScannerJson]),
        ("sarif", &[Format::Sarif]),
        ("semgrep", &[Format::SemgrepJson]),
        ("spdx", &[Format::SpdxJson]),
        ("trivy", &[Format::TrivyJson]),
        ("zap", &[Format::ZapXml]),
    ];
    // Samples with no content that identifies a format: they must be refused with a clear
    // error, not guessed (an empty file; the JSON value `null`; SPDX tag-value, which we do
    // not read).
    let undetectable = [
        "osv_scanner/no_findings.json",
        "trivy/legacy_no_vuln.json",
        "spdx/spdx_one_vuln.spdx",
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for (dir, formats) in expect {
        for path in common::files_under(&corpus.join("scanners").join(dir)) {
            let rel = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            let bytes = std::fs::read(&path).unwrap();
            let got = detect(&bytes);
            checked += 1;
            if undetectable.contains(&rel.as_str()) {
                match &got {
                    Err(e) if matches!(e.kind, ErrorKind::UnknownFormat | ErrorKind::Empty) => {}
                    other => {
                        failures.push(format!("{rel}: expected a detection error, got {other:?}"))
                    }
                }
                continue;
            }
            match got {
                Ok(f) if formats.contains(&f) => {}
                other => failures.push(format!("{rel}: expected {formats:?}, got {other:?}")),
            }
        }
    }
    assert!(checked > 100, "only {checked} samples found");
    assert!(
        failures.is_empty(),
        "{} of {checked} misdetected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
