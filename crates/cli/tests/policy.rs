//! `portcullis policy list` and `portcullis policy test`, run as a user runs them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;

#[test]
fn list_names_every_rule_with_controls_and_actions() {
    let o = portcullis(&["policy", "list", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let vuln = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "PCL-VULN-001")
        .expect("PCL-VULN-001 listed");
    assert_eq!(vuln["title"], "Component affected by a blocked advisory");
    assert_eq!(vuln["category"], "security");
    assert_eq!(vuln["severity"], "critical");
    let controls: Vec<&str> = vuln["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(controls.contains(&"nist-800-53:RA-5"), "{controls:?}");
    assert!(controls.contains(&"nist-800-53:SI-2"), "{controls:?}");
    // No environments declared: the action per class.
    assert_eq!(
        vuln["actions"],
        serde_json::json!({"protected": "enforce", "unprotected": "enforce"})
    );

    // Human form, with the environments of a configuration and a user rule's parameters.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        "environments:\n  dev: { protected: false }\n  production: { protected: true }\nrules:\n  ACME-001:\n    params: { group: \"pkg:npm/\" }\n    actions: { dev: off }\n",
    )
    .unwrap();
    let policies = fixtures().join("policies");
    let o = portcullis(&[
        "policy",
        "list",
        "--config",
        config.to_str().unwrap(),
        "--policy",
        policies.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let block = |id: &str| -> String {
        let start = out
            .find(&format!("{id}  "))
            .unwrap_or_else(|| panic!("{id}: {out}"));
        out[start..]
            .lines()
            .take_while(|l| l.starts_with(id) || l.starts_with("  "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let vuln = block("PCL-VULN-001");
    assert!(vuln.contains("controls  nist-800-53:RA-5"), "{vuln}");
    assert!(
        vuln.contains("actions   dev=enforce production=enforce"),
        "{vuln}"
    );
    let acme = block("ACME-001");
    assert!(acme.contains("actions   dev=off production=warn"), "{acme}");
    assert!(
        acme.contains(
            "params    group = \"pkg:npm/\" (default \"pkg:maven/org.apache.logging.log4j/\")"
        ),
        "{acme}"
    );
}

#[test]
fn list_rejects_a_configuration_naming_an_unknown_rule() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(&config, "rules:\n  PCL-NOPE-1: {}\n").unwrap();
    let o = portcullis(&["policy", "list", "--config", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!(
            "{}:2:3: rules: no rule PCL-NOPE-1",
            config.display()
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn test_passes_on_the_builtin_library() {
    let o = portcullis(&["policy", "test"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains("builtin/vuln/blocked_advisory_test.rego:"),
        "{out}"
    );
    assert!(
        out.lines().any(
            |l| l.starts_with("data.portcullis.rules.vuln.blocked_advisory.test_")
                && l.contains(": PASS (")
        ),
        "{out}"
    );
    let summary = out.lines().find(|l| l.starts_with("PASS: ")).unwrap();
    let (pass, total) = summary["PASS: ".len()..].split_once('/').unwrap();
    assert_eq!(pass, total, "{out}");
    assert!(!out.contains("FAIL"), "{out}");

    // The library as it is on disk replaces the embedded copy (no duplicate packages).
    let o = portcullis(&["policy", "test", "crates/policy/library"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains("crates/policy/library/vuln/blocked_advisory_test.rego:"),
        "{out}"
    );
    assert!(
        !out.contains("builtin/vuln/blocked_advisory_test.rego"),
        "{out}"
    );
}

#[test]
fn test_runs_users_tests_with_the_library() {
    let dir = fixtures().join("policies");
    let o = portcullis(&["policy", "test", "-q", dir.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        !out.contains(": PASS ("),
        "quiet hides passing tests: {out}"
    );
    assert!(out.lines().any(|l| l.starts_with("PASS: ")), "{out}");

    // Without the built-in rules: only the user's tests run, with the library's helpers
    // (data.portcullis.lib) still there for the policies that import them.
    let o = portcullis(&["policy", "test", "--no-builtin", dir.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("PASS: 2/2"), "{out}");
    assert!(!out.contains("builtin/"), "{out}");
}

#[test]
fn a_failing_test_exits_1_and_a_broken_policy_exits_2() {
    let failing = fixtures().join("failing-test");
    let o = portcullis(&["policy", "test", failing.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(
        out.contains("data.acme.math.test_wrong_on_purpose: FAIL ("),
        "{out}"
    );
    assert!(
        out.contains("data.acme.math.test_addition: PASS ("),
        "{out}"
    );
    assert!(out.contains("FAIL: 1/"), "{out}");

    let broken = fixtures().join("broken-rego");
    let o = portcullis(&["policy", "test", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("broken.rego"), "{}", stderr(&o));

    let o = portcullis(&["policy", "test", "/nonexistent/policies"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/policies"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_example_team_policy_passes_its_tests_alone_and_gates() {
    let dir = root().join("examples/policies");
    // Alone (the built-in rules left out, their helpers kept): 4 tests, all passing.
    let o = portcullis(&["policy", "test", "--no-builtin", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("PASS: 4/4"), "{}", stdout(&o));

    // In a gate: production without --change-ref is denied by ACME-001 alone.
    let evidence = root().join("examples/evidence/clean");
    let cfg = tempfile::tempdir().unwrap();
    let mut config = String::from("environments:\n  production: { protected: true }\nrules:\n");
    for id in rule_ids() {
        config.push_str(&format!("  {id}: {{ actions: {{ '*': off }} }}\n"));
    }
    let config_path = cfg.path().join("portcullis.yaml");
    std::fs::write(&config_path, config).unwrap();
    let artifact = format!("shop/api@sha256:{}", "ab".repeat(32));
    let base = [
        "gate",
        "--config",
        config_path.to_str().unwrap(),
        "--policy",
        dir.to_str().unwrap(),
        "--artifact",
        &artifact,
        "--env",
        "production",
        "--evidence",
        evidence.to_str().unwrap(),
        "--format",
        "json",
    ];
    let o = portcullis(&base);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rules: Vec<&str> = d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, vec!["ACME-001"]);
    let mut with_ref = base.to_vec();
    with_ref.extend(["--change-ref", "CHG-2026-1142"]);
    let o = portcullis(&with_ref);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
