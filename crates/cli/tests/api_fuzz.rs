//! The API under a schema-driven attack, in the normal test suite: `scripts/api-fuzz` (the
//! pinned schemathesis against the OpenAPI document `portcullis serve` serves, without a token
//! and with a token of each role) with a small example count, against this build's binary.
//! Needs the schemathesis venv (`scripts/api-fuzz --install`, which scripts/test runs): skipped
//! outside CI without it, a failure under CI. The docs' figures come from the full run
//! (docs/reliability.md), not from here.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_api_passes_schemathesis_for_every_role() {
    let test = "api_fuzz::the_api_passes_schemathesis_for_every_role";
    let script = repo().join("scripts/api-fuzz");
    // Whether the pinned schemathesis is installed, without installing it (no network here).
    let installed = Command::new(&script)
        .arg("--check")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        portcullis_testkit::skip_or_fail!(
            test,
            "the pinned schemathesis is not installed (run scripts/api-fuzz --install)"
        );
    }
    let report = tempfile::tempdir().unwrap();
    let out_path = report.path().join("out.txt");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(&script)
        .env("PORTCULLIS_API_FUZZ_BIN", env!("CARGO_BIN_EXE_portcullis"))
        .env("PORTCULLIS_API_FUZZ_EXAMPLES", "10")
        .env("PORTCULLIS_API_FUZZ_REPORT", report.path().join("report"))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    // Bounded: about a minute and a half on 2 cores; a run past 5 minutes is a failure.
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("scripts/api-fuzz ran past 5 minutes:\n{text}"));
    assert!(
        status.success(),
        "scripts/api-fuzz failed ({status}):\n{text}"
    );
    assert!(text.contains("api-fuzz: every check passed"), "{text}");
    // Every run happened and sent requests: the summary's rows.
    for run in [
        "anonymous",
        "viewer",
        "ci",
        "approver",
        "verifier",
        "admin",
        "admin-revoke-token",
    ] {
        let row = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(run))
            .unwrap_or_else(|| panic!("no summary row for {run}:\n{text}"));
        let requests: u64 = row.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert!(requests > 0, "{run} sent no requests:\n{text}");
    }
}
