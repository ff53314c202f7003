//! `portcullis report` on the real binary: the README's denied and allowed gate runs recorded in
//! a fresh store, then the report of their day as JSON, HTML and OSCAL files, and the errors for
//! bad arguments (the report's contents are checked in crates/report/tests/report.rs).

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

    // OSCAL into a directory: the assessment results; no POA&M, since the store holds no
    // exception (the gate's --exceptions file is not a grant).
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
    let o = portcullis_with_home(&root, &home, &["report", "--format", "docx"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("html, pdf, json or oscal"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&home);
}
