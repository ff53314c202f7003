//! `portcullis verify canary` on the examples (files provider), and its report in
//! `portcullis gate --verification`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use serde_json::Value;

const HEALTHY: &str = "examples/verify/canary-healthy.yaml";
const REGRESSED: &str = "examples/verify/canary-regressed.yaml";

fn code(o: &std::process::Output) -> Option<i32> {
    o.status.code()
}

#[test]
fn a_healthy_canary_passes() {
    let o = portcullis(&[
        "verify",
        "canary",
        "--config",
        HEALTHY,
        "--artifact",
        CLEAN_ARTIFACT,
        "--env",
        "production",
    ]);
    assert_eq!(code(&o), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("score 100.0 → PASS"), "{out}");
    assert!(out.contains("errors/error_rate: Pass"), "{out}");
}

#[test]
fn a_regressed_canary_fails_naming_what_failed() {
    let o = portcullis(&[
        "verify", "canary", "--config", REGRESSED, "--format", "json",
    ]);
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["kind"], "canary");
    assert_eq!(r["version"], 1);
    assert_eq!(r["verdict"], "fail");
    assert_eq!(r["score"], 0.0);
    let failing = r["failing"].to_string();
    for want in ["error_rate", "latency_p99", "NullPointerException"] {
        assert!(failing.contains(want), "{want} in {failing}");
    }
    let metrics = &r["metrics"]["intervals"][0]["metrics"];
    let err = metrics
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "error_rate")
        .unwrap();
    assert_eq!(err["result"]["classification"], "High");
    assert!(err["result"]["test"]["p_value"].as_f64().unwrap() < 1e-6);
    let cluster = &r["logs"]["clusters"][0];
    assert_eq!(cluster["classification"], "unexpected");
    assert_eq!(cluster["level"], "error");
    assert!(
        cluster["canary_samples"][0]
            .as_str()
            .unwrap()
            .contains("CheckoutHandler.java:88")
    );
}

#[test]
fn bad_configuration_exits_2_naming_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("analysis.yaml");
    std::fs::write(
        &p,
        "apiVersion: portcullis.dev/v1\nkind: CanaryAnalysis\ngroups:\n  - name: g\n    metrics:\n      - name: m\n        direction: sideways\n",
    )
    .unwrap();
    let o = portcullis(&["verify", "canary", "--config", p.to_str().unwrap()]);
    assert_eq!(code(&o), Some(2));
    let err = stderr(&o);
    assert!(err.contains("analysis.yaml: YAML: at 7:"), "{err}");
    assert!(err.contains("sideways"), "{err}");
}

#[test]
fn the_gate_reads_the_report_and_denies_production_below_80() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_only(dir.path(), &["PCL-VERIFY-001"]);
    let gate = |home: &std::path::Path, report: Option<&std::path::Path>| {
        let mut args = vec![
            "gate",
            "--config",
            config.to_str().unwrap(),
            "--artifact",
            CLEAN_ARTIFACT,
            "--env",
            "production",
            "--evidence",
            "examples/evidence/clean/checkout-api-2.4.1.cdx.json",
            "--format",
            "json",
        ];
        if let Some(r) = report {
            args.extend(["--verification", r.to_str().unwrap()]);
        }
        portcullis_with_home(&root(), home, &args)
    };
    for (analysis, want_code, name) in [
        (HEALTHY, 0, "healthy.json"),
        (REGRESSED, 1, "regressed.json"),
    ] {
        let report = dir.path().join(name);
        let home = fresh_home();
        let o = portcullis_with_home(
            &root(),
            &home,
            &[
                "verify",
                "canary",
                "--config",
                analysis,
                "--artifact",
                CLEAN_ARTIFACT,
                "--env",
                "production",
                "--format",
                "json",
                "--output",
                report.to_str().unwrap(),
                "--record",
            ],
        );
        assert!(o.stdout.is_empty());
        assert!(
            stderr(&o).contains("recorded: verification fct_"),
            "{}",
            stderr(&o)
        );
        // The firewall's own run recorded the result: the gate counts it without being given it.
        let o = gate(&home, None);
        assert_eq!(code(&o), Some(want_code), "{name}: {}", stderr(&o));
        let d: Value = serde_json::from_slice(&o.stdout).unwrap();
        let fact = d["facts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["fact"] == "verification")
            .unwrap_or_else(|| panic!("{d}"));
        assert_eq!(fact["source"], "recorded", "{fact}");
        if want_code == 1 {
            let v = &d["violations"][0];
            assert_eq!(v["rule"], "PCL-VERIFY-001");
            let msg = v["message"].as_str().unwrap();
            assert!(msg.contains("scored 0 (verdict fail)"), "{msg}");
            assert!(
                msg.contains("error_rate (High)") && msg.contains("latency_p99 (High)"),
                "{msg}"
            );
            assert!(msg.contains("unexpected log template"), "{msg}");
        } else {
            // The same passing report handed to the gate inline, on a store that recorded
            // nothing: asserted, and production does not take it.
            let o = gate(&fresh_home(), Some(&report));
            assert_eq!(code(&o), Some(1), "{}", stderr(&o));
            let d: Value = serde_json::from_slice(&o.stdout).unwrap();
            let v = &d["violations"][0];
            assert_eq!(v["key"], "canary|missing", "{v}");
            assert!(
                v["message"]
                    .as_str()
                    .unwrap()
                    .contains("the request asserts 1, which do not count here"),
                "{v}"
            );
        }
    }
}

#[test]
fn the_recorded_report_has_the_digest_the_gate_cites() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_only(dir.path(), &["PCL-VERIFY-001"]);
    let report = dir.path().join("regressed.json");
    let home = fresh_home();
    let o = portcullis_with_home(
        &root(),
        &home,
        &[
            "verify",
            "canary",
            "--config",
            REGRESSED,
            "--artifact",
            CLEAN_ARTIFACT,
            "--env",
            "production",
            "--format",
            "json",
            "--output",
            report.to_str().unwrap(),
            "--record",
        ],
    );
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let recorded = err
        .split("recorded: verification ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("{err}"));
    let o = portcullis_with_home(
        &root(),
        &home,
        &[
            "gate",
            "--config",
            config.to_str().unwrap(),
            "--artifact",
            CLEAN_ARTIFACT,
            "--env",
            "production",
            "--evidence",
            "examples/evidence/clean/checkout-api-2.4.1.cdx.json",
            "--verification",
            report.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        d["violations"][0]["evidence_refs"][0]["id"], recorded,
        "{d}"
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn record_stores_the_report_as_evidence() {
    let home = fresh_home();
    let o = portcullis_with_home(
        &root(),
        &home,
        &[
            "verify",
            "canary",
            "--config",
            HEALTHY,
            "--artifact",
            CLEAN_ARTIFACT,
            "--env",
            "production",
            "--record",
        ],
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("recorded: verification sha256:"),
        "{}",
        stderr(&o)
    );
    let v = portcullis_with_home(&root(), &home, &["audit", "verify"]);
    assert_eq!(code(&v), Some(0), "{}{}", stdout(&v), stderr(&v));
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn logs_alone_from_the_command_line() {
    let o = portcullis(&[
        "verify",
        "logs",
        "--baseline",
        "examples/verify/baseline.log",
        "--canary",
        "examples/verify/canary-*.log",
        "--ignore",
        "cache refreshed",
        "--format",
        "json",
    ]);
    // Both canaries' logs together hold the new NullPointerException template.
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["score"], 80.0);
    assert_eq!(r["verdict"], "marginal");
    assert!(r["metrics"].is_null());
    assert_eq!(r["logs"]["canary_files"].as_array().unwrap().len(), 2);
    let o = portcullis(&[
        "verify",
        "logs",
        "--baseline",
        "examples/verify/baseline.log",
        "--canary",
        "examples/verify/canary-healthy.log",
    ]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("score 100.0 → PASS"), "{}", stdout(&o));
    let o = portcullis(&[
        "verify",
        "logs",
        "--baseline",
        "nope/*.log",
        "--canary",
        "x.log",
    ]);
    assert_eq!(code(&o), Some(2));
    assert!(
        stderr(&o).contains("nope/*.log: log glob:"),
        "{}",
        stderr(&o)
    );
}

/// `--format html`: a self-contained page, a chart per metric with both series, the log
/// templates with samples; the JSON report's series are what the charts draw.
#[test]
fn the_report_as_an_html_page() {
    let o = portcullis(&[
        "verify", "canary", "--config", REGRESSED, "--format", "html",
    ]);
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    let html = stdout(&o);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    // No script, nothing fetched, no raw JSON nulls.
    for bad in ["<script", "src=", "<link", ": null", ">null<"] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
    assert!(html.contains("data-verdict=\"fail\""), "{html}");
    let json = portcullis(&[
        "verify", "canary", "--config", REGRESSED, "--format", "json",
    ]);
    let r: Value = serde_json::from_slice(&json.stdout).unwrap();
    let series = r["metrics"]["series"].as_array().unwrap();
    assert_eq!(series.len(), 3, "a series per metric");
    for s in series {
        let name = s["name"].as_str().unwrap();
        let fig = html
            .split(&format!("data-metric=\"{name}\""))
            .nth(1)
            .and_then(|f| f.split("</figure>").next())
            .unwrap_or_else(|| panic!("no chart of {name}"));
        for side in ["baseline", "canary"] {
            let n = s[side].as_array().unwrap().len();
            assert!(n > 0, "{name} {side}");
            assert!(
                fig.contains(&format!(
                    "class=\"pcv-series pcv-{side}\" data-points=\"{n}\""
                )),
                "{name} {side}: {n} points in {fig}"
            );
        }
    }
    assert!(html.contains("NullPointerException"), "{html}");

    let o = portcullis(&[
        "verify",
        "logs",
        "--baseline",
        "examples/verify/baseline.log",
        "--canary",
        "examples/verify/canary-regressed.log",
        "--format",
        "html",
    ]);
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    let html = stdout(&o);
    assert!(
        html.contains("This analysis compared no metrics."),
        "{html}"
    );
    let rows = html.matches("<tr class=\"pcv-cluster ").count();
    assert!(rows >= 3, "{html}");
    assert_eq!(
        html.matches("<tr class=\"pcv-cluster pcv-row-unexpected\"")
            .count(),
        1,
        "{html}"
    );
    assert!(
        html.matches("class=\"pcv-sample\"").count() >= rows,
        "a sample per template: {html}"
    );
}
