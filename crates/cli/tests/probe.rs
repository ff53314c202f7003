//! `portcullis probe` end to end: real listeners on 127.0.0.1, exit codes, output formats, the
//! report recorded as evidence and fed to `gate --exposure` (a deny). Only 127.0.0.1 is probed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::*;

fn expectations(dir: &Path, allowed: u16, stray: u16) -> PathBuf {
    let path = dir.join("expect.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: portcullis.dev/probe/v1
targets:
  - name: checkout
    address: 127.0.0.1
    tcp:
      scan: [{allowed}, {stray}]
      allowed: [{allowed}]
"
        ),
    )
    .unwrap();
    path
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn probe_exit_codes_formats_record_and_gate() {
    let dir = fresh_home();
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let stray = TcpListener::bind("127.0.0.1:0").unwrap();
    let (a, s) = (
        allowed.local_addr().unwrap().port(),
        stray.local_addr().unwrap().port(),
    );
    let expect = expectations(&dir, a, s);
    let report = dir.join("report.json");

    // A deviation: exit 1, JSON exposure evidence, recorded for the artifact.
    let home = fresh_home();
    let o = portcullis_with_home(
        &root(),
        &home,
        &args(&[
            "probe",
            "--expect",
            expect.to_str().unwrap(),
            "--artifact",
            CLEAN_ARTIFACT,
            "--env",
            "production",
            "--record",
            "--format",
            "json",
            "--output",
            report.to_str().unwrap(),
        ]),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("DEVIATION checkout/127.0.0.1 [port]"), "{err}");
    assert!(err.contains("recorded: exposure evidence sha256:"), "{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(doc["kind"], "exposure");
    assert_eq!(doc["deviations"], 1);
    assert_eq!(doc["environment"], "production");

    // The report is exposure evidence for the README's allowed run: PCL-EXPO-001 now denies.
    let config = example_config();
    let mut gate = allowed_command(&config.path);
    gate.extend(args(&[
        "--exposure",
        report.to_str().unwrap(),
        "--format",
        "json",
    ]));
    let o = portcullis_with_home(&root(), &home, &gate);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let d: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(d["decision"], "deny");
    let rules: Vec<&str> = d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["rule"].as_str())
        .collect();
    assert_eq!(rules, vec!["PCL-EXPO-001"], "{d:#}");
    assert_eq!(
        d["violations"][0]["key"],
        format!("checkout/127.0.0.1|port|{s}/tcp")
    );

    // JUnit: one testcase per expectation, a failure for the deviation.
    let o = portcullis_in(
        &root(),
        &args(&[
            "probe",
            "--expect",
            expect.to_str().unwrap(),
            "--format",
            "junit",
        ]),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let xml = stdout(&o);
    assert!(
        xml.contains(r#"<testcase name="checkout tcp" classname="probe.port">"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<failure message="1 deviation(s)""#),
        "{xml}"
    );

    // As declared: exit 0.
    drop(stray);
    let o = portcullis_in(
        &root(),
        &args(&["probe", "--expect", expect.to_str().unwrap()]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    drop(allowed);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_bad_expectations_file_exits_2_naming_file_and_line() {
    let dir = fresh_home();
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        "apiVersion: portcullis.dev/probe/v1\ntargets:\n  - name: x\n    address: 127.0.0.1\n    tcp:\n      allowed: [\"99999\"]\n",
    )
    .unwrap();
    let o = portcullis_in(
        &root(),
        &args(&["probe", "--expect", path.to_str().unwrap()]),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("bad.yaml"), "{err}");
    assert!(err.contains("targets[0].tcp.allowed"), "{err}");

    let o = portcullis_in(
        &root(),
        &args(&[
            "probe",
            "--expect",
            dir.join("missing.yaml").to_str().unwrap(),
        ]),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // A target that cannot be resolved: nothing is judged, exit 2 (`.invalid` never resolves).
    let path = dir.join("unresolvable.yaml");
    std::fs::write(
        &path,
        "apiVersion: portcullis.dev/probe/v1\ntargets:\n  - name: gone\n    address: no-such-host.invalid\n    tcp:\n      scan: [80]\n",
    )
    .unwrap();
    let o = portcullis_in(
        &root(),
        &args(&["probe", "--expect", path.to_str().unwrap()]),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot resolve no-such-host.invalid"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A target where no port answers (here: 127.0.0.1 in a network namespace of the test's own,
/// loopback down) exits 2: nothing could be judged, never a clean 0.
#[test]
fn an_unreachable_target_exits_2() {
    let ok = std::process::Command::new("unshare")
        .args(["-n", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return portcullis_testkit::not_supported_here(
            "unreachable target",
            "unshare -n is not available (needs root)",
        );
    }
    let dir = fresh_home();
    let path = dir.join("down.yaml");
    std::fs::write(
        &path,
        "apiVersion: portcullis.dev/probe/v1\ntargets:\n  - name: down\n    address: 127.0.0.1\n    tcp:\n      scan: [\"1-50\"]\n      allowed: [22]\n",
    )
    .unwrap();
    let o = std::process::Command::new("unshare")
        .arg("-n")
        .arg(env!("CARGO_BIN_EXE_portcullis"))
        .args(["probe", "--home"])
        .arg(&dir)
        .arg("--expect")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is unreachable"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
