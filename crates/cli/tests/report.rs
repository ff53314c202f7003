//! `portcullis report` on the real binary: the README's denied and allowed gate runs recorded in
//! a fresh store (the denied one using an exception from the gate's exceptions file), then the
//! report of their day as JSON, HTML and OSCAL files, and the errors for bad arguments (the
//! report's contents are checked in depth in crates/report/tests/report.rs).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use serde_json::Value;

#[test]
fn report_of_the_recorded_gate_runs() {
    let config = example_config();
    let home = fresh_home();
    let root = root();
    let denied = portcullis_with_home(&root, &home, &denied_command(&config.path));
    assert_eq!(denied.status.code(), Some(1), "{}", stderr(&denied));
    let allowed = portcullis_with_home(&root, &home, &allowed_command(&config.path));
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));

    // JSON on stdout, the summary on stderr.
    let o = portcullis_with_home(
        &root,
        &home,
        &[
            "report",
            "--from",
            "2026-11-23",
            "--to",
            "2026-11-23",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "portcullis.report/v1");
    assert_eq!(v["range"]["from"], "2026-11-23T00:00:00Z");
    assert_eq!(v["range"]["to"], "2026-11-24T00:00:00Z");
    assert_eq!(v["summary"]["decisions"], 2);
    assert_eq!(v["summary"]["denied"], 1);
    assert_eq!(v["summary"]["per_environment"]["staging"]["denied"], 1);
    assert_eq!(v["summary"]["per_environment"]["production"]["denied"], 0);
    assert_eq!(v["chain"]["verified"], true);
    let err = stderr(&o);
    assert!(
        err.contains("2 decisions") && err.contains("audit chain verified"),
        "{err}"
    );
    // The exception the denied run used came from the gate's --exceptions file: listed with
    // who approved it, why and until when, used by that decision, active at the end of the day.
    let denied_id = v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["environment"] == "staging")
        .unwrap()["id"]
        .clone();
    let exc = v["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "EXC-2026-017")
        .unwrap_or_else(|| panic!("EXC-2026-017 is not listed: {}", v["exceptions"]));
    assert_eq!(exc["granted_in_store"], false);
    assert_eq!(exc["approver"], "dana@example.com");
    assert_eq!(exc["expires_at"], "2027-01-01T00:00:00Z");
    assert_eq!(exc["active"], true);
    assert_eq!(exc["used_by"], serde_json::json!([denied_id]));
    assert_eq!(v["summary"]["exceptions_used"], 1);
    // The Log4Shell advisory was given to the gate in a file, not added to the store: listed from
    // the denied decision that cites it.
    let log4shell = v["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "GHSA-jfh8-c2jp-5v3q")
        .unwrap_or_else(|| panic!("Log4Shell is not listed: {}", v["advisories"]));
    assert_eq!(log4shell["kind"], "not-in-store");
    assert_eq!(log4shell["decisions"], serde_json::json!([denied_id]));
    assert_eq!(log4shell["denied"], 1);

    // The day before has nothing.
    let o = portcullis_with_home(
        &root,
        &home,
        &[
            "report",
            "--from",
            "2026-11-22",
            "--to",
            "2026-11-22",
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["decisions"], 0);

    // HTML to a file.
    let out = tempfile::tempdir().unwrap();
    let html = out.path().join("report.html");
    let o = portcullis_with_home(
        &root,
        &home,
        &[
            "report",
            "--env",
            "staging",
            "--from",
            "2026-11-23T00:00:00Z",
            "--to",
            "2026-11-24T00:00:00Z",
            "-o",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.starts_with("<!DOCTYPE html>"));
    assert!(text.contains("environment staging"));
    assert!(text.contains("PCL-VULN-001"));

    // OSCAL into a directory: the assessment results and the POA&M (one item: the exception).
    let o = portcullis_with_home(
        &root,
        &home,
        &[
            "report",
            "--from",
            "2026-11-23",
            "--to",
            "2026-11-23",
            "--format",
            "oscal",
            "-o",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ar: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("assessment-results.json")).unwrap())
            .unwrap();
    assert_eq!(
        ar["assessment-results"]["metadata"]["oscal-version"],
        "1.1.2"
    );
    assert_eq!(
        ar["assessment-results"]["results"][0]["observations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let poam: Value = serde_json::from_slice(
        &std::fs::read(out.path().join("plan-of-action-and-milestones.json")).unwrap(),
    )
    .unwrap();
    let poam = &poam["plan-of-action-and-milestones"];
    assert_eq!(poam["poam-items"].as_array().unwrap().len(), 1);
    assert_eq!(poam["risks"][0]["deadline"], "2027-01-01T00:00:00Z");

    // A day without active exceptions: no POA&M, and the earlier file is removed.
    let o = portcullis_with_home(
        &root,
        &home,
        &[
            "report",
            "--from",
            "2026-11-22",
            "--to",
            "2026-11-22",
            "--format",
            "oscal",
            "-o",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        !out.path()
            .join("plan-of-action-and-milestones.json")
            .exists()
    );
    assert!(stderr(&o).contains("no POA&M"), "{}", stderr(&o));

    // Bad arguments: exit 2, naming the argument.
    let o = portcullis_with_home(&root, &home, &["report", "--from", "last week"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--from") && stderr(&o).contains("RFC 3339"),
        "{}",
        stderr(&o)
    );
    let o = portcullis_with_home(
        &root,
        &home,
        &["report", "--from", "2026-11-24", "--to", "2026-11-01"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not before"), "{}", stderr(&o));
    // A summary on Letter: no decision rows; --summary-only is refused for JSON and OSCAL,
    // which always carry every decision; an unknown paper is named.
    let o = portcullis_with_home(
        &root,
        &home,
        &[
            "report",
            "--from",
            "2026-11-23",
            "--to",
            "2026-11-23",
            "--summary-only",
            "--paper",
            "letter",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let html = String::from_utf8(o.stdout).unwrap();
    assert!(html.contains("size: letter;") && html.contains("summary-only report"));
    assert!(!html.contains("<table class=\"decisions\">"));
    assert!(html.contains("Scope and verdicts") && html.contains("Control coverage"));
    let o = portcullis_with_home(
        &root,
        &home,
        &["report", "--summary-only", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--summary-only applies to --format html and pdf"),
        "{}",
        stderr(&o)
    );
    let o = portcullis_with_home(&root, &home, &["report", "--paper", "a3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("a4 or letter"), "{}", stderr(&o));
    let o = portcullis_with_home(&root, &home, &["report", "--format", "docx"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("html, pdf, json or oscal"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&home);
}
