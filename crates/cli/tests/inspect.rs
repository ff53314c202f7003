//! `portcullis evidence inspect`, run as a user runs it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/evidence")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run portcullis")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn readme_main_command_reads_every_example() {
    let dir = examples();
    let o = run(&["evidence", "inspect", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    for (file, format) in [
        ("checkout-api.cdx.json", "CycloneDX JSON 1.6"),
        ("trivy-image.json", "Trivy JSON"),
        ("semgrep.json", "Semgrep JSON"),
        ("zap-baseline.xml", "OWASP ZAP XML"),
        ("log4shell.osv.json", "OSV advisory"),
        ("checkout-api.intoto.jsonl", "DSSE envelope"),
        ("clean/checkout-api-2.4.1.cdx.json", "CycloneDX JSON 1.6"),
        ("clean/trivy-image.json", "Trivy JSON"),
        ("clean/checkout-api-2.4.1.intoto.jsonl", "DSSE envelope"),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("evidence/{file}:")))
            .unwrap_or_else(|| panic!("{file} missing from:\n{out}"));
        assert!(line.contains(format), "{line}");
    }
    assert!(
        stderr(&o).contains("9 file(s) read, 0 unreadable"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn json_output_is_the_normalized_model() {
    let dir = examples();
    let o = run(&[
        "evidence",
        "inspect",
        "--format",
        "json",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 9);
    let by_name = |n: &str| {
        files
            .iter()
            .find(|f| {
                f["file"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("evidence/{n}"))
            })
            .unwrap()
            .clone()
    };

    // The SBOM: 6 components, the dependency edges and the VEX state come through.
    let sbom = by_name("checkout-api.cdx.json");
    assert_eq!(sbom["format"], "cyclonedx-json");
    assert_eq!(sbom["counts"]["components"], 6);
    let comps = sbom["evidence"]["components"].as_array().unwrap();
    let log4j = comps.iter().find(|c| c["name"] == "log4j-core").unwrap();
    assert_eq!(log4j["version"], "2.14.1");
    assert_eq!(log4j["ecosystem"], "maven");
    assert_eq!(log4j["licenses"][0], "Apache-2.0");
    assert_eq!(
        log4j["depends_on"][0],
        "pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1?type=jar"
    );
    let vuln = &sbom["evidence"]["findings"][0];
    assert_eq!(vuln["id"], "CVE-2016-1000027");
    assert_eq!(vuln["vex"]["state"], "not_affected");

    // The Trivy scan: three vulnerabilities and one misconfiguration; log4shell keyed by CVE+purl.
    let trivy = by_name("trivy-image.json");
    assert_eq!(trivy["counts"]["findings"], 4);
    assert_eq!(
        trivy["counts"]["findings_by_kind"]["vulnerability"]["critical"],
        2
    );
    assert_eq!(
        trivy["counts"]["findings_by_kind"]["misconfiguration"]["high"],
        1
    );
    let keys: Vec<&str> = trivy["evidence"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"vuln:CVE-2021-44228|pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
        "{keys:?}"
    );

    // ZAP: one finding per alert instance.
    let zap = by_name("zap-baseline.xml");
    assert_eq!(zap["counts"]["findings"], 3);
    assert_eq!(zap["counts"]["findings_by_kind"]["dast"]["medium"], 2);

    // The advisory and the provenance.
    assert_eq!(by_name("log4shell.osv.json")["counts"]["advisories"], 1);
    let prov = by_name("checkout-api.intoto.jsonl");
    assert_eq!(prov["counts"]["statements"], 1);
    assert_eq!(
        prov["evidence"]["attestations"][0]["statement"]["provenance"]["builder_id"],
        "https://github.com/actions/runner/github-hosted"
    );
}

#[test]
fn unknown_format_exits_2_and_lists_known_formats() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.json");
    std::fs::write(&f, r#"{"hello": "world"}"#).unwrap();
    let o = run(&["evidence", "inspect", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("notes.json"), "{err}");
    assert!(
        err.contains("cyclonedx-json") && err.contains("zap-xml"),
        "{err}"
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn bad_input_gets_one_line_naming_file_format_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.json");
    std::fs::write(
        &truncated,
        br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"name":"#,
    )
    .unwrap();
    let o = run(&["evidence", "inspect", truncated.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let first = err.lines().next().unwrap();
    assert!(
        first.contains("truncated.json: CycloneDX JSON: at 1:"),
        "{first}"
    );
    assert!(first.contains("[truncated]"), "{first}");

    let deep = dir.path().join("deep.json");
    let body = format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    std::fs::write(&deep, body).unwrap();
    let o = run(&["evidence", "inspect", deep.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[too-deep]"), "{}", stderr(&o));
    // The limit is configurable.
    let o = run(&[
        "evidence",
        "inspect",
        "--max-depth",
        "300",
        deep.to_str().unwrap(),
    ]);
    assert!(!stderr(&o).contains("[too-deep]"), "{}", stderr(&o));

    let o = run(&[
        "evidence",
        "inspect",
        "--max-bytes",
        "10",
        truncated.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[too-large]"), "{}", stderr(&o));

    let not_utf8 = dir.path().join("latin1.json");
    std::fs::write(
        &not_utf8,
        b"{\"matches\":[],\"source\":{\"target\":\"caf\xe9\"}}",
    )
    .unwrap();
    let o = run(&["evidence", "inspect", not_utf8.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[not-utf8]"), "{}", stderr(&o));
}

#[test]
fn one_bad_file_in_a_directory_fails_the_run_but_the_others_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(examples().join("semgrep.json"), dir.path().join("a.json")).unwrap();
    std::fs::write(dir.path().join("b.json"), "{").unwrap();
    let o = run(&["evidence", "inspect", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("a.json: Semgrep JSON"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("b.json"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 file(s) read, 1 unreadable"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn missing_path_and_bad_flag_exit_2() {
    let o = run(&["evidence", "inspect", "/nonexistent/evidence.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/evidence.json"));
    let o = run(&["evidence", "inspect", "--as", "nope", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown format `nope`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn as_overrides_detection() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("osv.json");
    std::fs::write(&f, "{\"results\":[]}").unwrap();
    let o = run(&[
        "evidence",
        "inspect",
        "--as",
        "osv-scanner-json",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("OSV-Scanner JSON"));
}

#[test]
fn incomplete_scans_and_vex_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("semgrep.json");
    std::fs::write(
        &f,
        r#"{"version":"1.97.0","results":[],"errors":[{"level":"error","type":"Timeout",
        "path":"src/big.js","message":"Timeout when running rules on src/big.js"}]}"#,
    )
    .unwrap();
    let o = run(&["evidence", "inspect", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("INCOMPLETE: the tool reported 1 error(s) about its own run, first: semgrep error (Timeout) src/big.js"),
        "{out}"
    );
    let o = run(&[
        "evidence",
        "inspect",
        "--format",
        "json",
        f.to_str().unwrap(),
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["files"][0]["scan_errors"].as_array().unwrap().len(), 1);

    let sbom = examples().join("checkout-api.cdx.json");
    let o = run(&["evidence", "inspect", sbom.to_str().unwrap()]);
    let out = stdout(&o);
    assert!(out.contains("with VEX analysis: not_affected 1"), "{out}");
    assert!(out.contains("by syft 1.18.1"), "{out}");
}
