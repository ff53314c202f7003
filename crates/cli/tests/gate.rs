//! `portcullis gate`, run as a pipeline runs it: the README's denied and allowed examples, exit
//! codes, fail-closed handling of unreadable input, configuration errors, and every output
//! format.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn code(o: &std::process::Output) -> Option<i32> {
    o.status.code()
}

fn json_of(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(o)))
}

fn rules_of(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect()
}

#[test]
fn readme_denied_example_exits_1_naming_log4shell_and_the_fix() {
    let config = example_config();
    let o = portcullis(&denied_command(&config.path));
    let err = stderr(&o);
    assert_eq!(code(&o), Some(1), "{err}");
    assert!(stdout(&o).is_empty(), "human format writes only to stderr");
    assert!(
        err.contains("portcullis gate: DENY registry.example.com/shop/checkout-api@sha256:9f3c1d0a…b7c9f to staging"),
        "{err}"
    );
    for want in [
        "VIOLATION PCL-VULN-001 [critical] Component affected by a blocked advisory",
        "GHSA-jfh8-c2jp-5v3q",
        "CVE-2021-44228",
        "Upgrade log4j-core to 2.15.0 or later.",
        "examples/evidence/log4shell.osv.json (sha256:",
        "examples/evidence/checkout-api.cdx.json (sha256:",
        "(exit 1)",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }

    // The same run as JSON: the violation names the advisory, the component and the fix.
    let o = portcullis(&with(denied_command(&config.path), &["--format", "json"]));
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    let d = json_of(&o);
    assert_eq!(d["decision"], "deny");
    let v = d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "PCL-VULN-001")
        .expect("PCL-VULN-001 among the violations");
    assert_eq!(
        v["key"],
        "GHSA-jfh8-c2jp-5v3q|pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar"
    );
    assert!(v["message"].as_str().unwrap().contains("CVE-2021-44228"));
    assert_eq!(v["remediation"], "Upgrade log4j-core to 2.15.0 or later.");
    let kinds: Vec<&str> = v["evidence_refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["advisory", "component"]);
}

#[test]
fn readme_allowed_example_exits_0() {
    let config = example_config();
    let o = portcullis(&allowed_command(&config.path));
    let err = stderr(&o);
    assert_eq!(code(&o), Some(0), "{err}");
    assert!(
        err.contains("portcullis gate: ALLOW registry.example.com/shop/checkout-api@sha256:fefd31d2…4363c to production"),
        "{err}"
    );
    assert!(err.contains("allowed: 0 violations"), "{err}");
    assert!(!err.contains("PCL-VULN-001"), "{err}");

    let o = portcullis(&with(allowed_command(&config.path), &["--format", "json"]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let d = json_of(&o);
    assert_eq!(d["decision"], "allow");
    assert_eq!(d["violations"], serde_json::json!([]));
    assert_eq!(d["errors"], serde_json::json!([]));
    // The provenance verified with the demo key (--trusted-keys examples/keys), so no
    // provenance rule even warns.
    assert_eq!(d["warnings"], serde_json::json!([]), "{d:#}");
    // The SBOM, the scan and the provenance, plus the blocked advisory, were read.
    let kinds: Vec<&str> = d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["sbom", "vulnerability-scan", "attestation", "advisory"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
}

#[test]
fn log4shell_is_denied_in_every_environment_even_undeclared_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_only(dir.path(), &["PCL-VULN-001"]);
    let config = config.to_str().unwrap();
    for env in ["dev", "staging", "production", "prod-typo"] {
        let o = portcullis(&[
            "gate",
            "--config",
            config,
            "--artifact",
            DENIED_ARTIFACT,
            "--env",
            env,
            "--evidence",
            "examples/evidence/checkout-api.cdx.json",
            "--advisories",
            "examples/evidence/log4shell.osv.json",
            "--format",
            "json",
        ]);
        assert_eq!(code(&o), Some(1), "{env}: {}", stderr(&o));
        assert_eq!(
            rules_of(&json_of(&o)["violations"]),
            ["PCL-VULN-001"],
            "{env}"
        );
        if env == "prod-typo" {
            assert!(
                stderr(&o).contains("environment \"prod-typo\" is not declared"),
                "{}",
                stderr(&o)
            );
        }
    }
}

#[test]
fn without_a_config_every_environment_is_protected_and_a_note_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ex = root().join("examples/evidence");
    let o = portcullis_in(
        dir.path(),
        &[
            "gate",
            "--artifact",
            DENIED_ARTIFACT,
            "--env",
            "dev",
            "--evidence",
            ex.join("checkout-api.cdx.json").to_str().unwrap(),
            "--advisories",
            ex.join("log4shell.osv.json").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("note: no --config and no ./portcullis.yaml"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("every environment is treated as protected"));
    assert!(rules_of(&json_of(&o)["violations"]).contains(&"PCL-VULN-001"));

    // ./portcullis.yaml is picked up when present.
    config_only(dir.path(), &[]);
    let o = portcullis_in(
        dir.path(),
        &[
            "gate",
            "--artifact",
            DENIED_ARTIFACT,
            "--env",
            "dev",
            "--evidence",
            ex.join("checkout-api.cdx.json").to_str().unwrap(),
            "--advisories",
            ex.join("log4shell.osv.json").to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), Some(0), "every rule is off: {}", stderr(&o));
    assert!(stderr(&o).contains("note: using ./portcullis.yaml"));
}

#[test]
fn unreadable_evidence_fails_closed_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_only(dir.path(), &["PCL-VULN-001"]);
    let truncated = fixtures().join("truncated.cdx.json");
    let missing = dir.path().join("missing.json");
    let o = portcullis(&[
        "gate",
        "--config",
        config.to_str().unwrap(),
        "--artifact",
        DENIED_ARTIFACT,
        "--env",
        "staging",
        "--evidence",
        truncated.to_str().unwrap(),
        missing.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("truncated.cdx.json: CycloneDX JSON: at 1:"),
        "{err}"
    );
    assert!(err.contains("missing.json: cannot read"), "{err}");
    let d = json_of(&o);
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["errors"].as_array().unwrap().len(), 2);
    assert_eq!(
        rules_of(&d["violations"]),
        ["PCL-ENGINE-001", "PCL-ENGINE-001"]
    );

    // Never 0, even where no rule enforces (so the firewall only warns about it).
    let all_off = config_only(dir.path(), &[]);
    let o = portcullis(&[
        "gate",
        "--config",
        all_off.to_str().unwrap(),
        "--artifact",
        DENIED_ARTIFACT,
        "--env",
        "dev",
        "--evidence",
        truncated.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    let d = json_of(&o);
    assert_eq!(d["decision"], "allow");
    assert_eq!(rules_of(&d["warnings"]), ["PCL-ENGINE-001"]);
    assert!(
        stderr(&o).contains("allowed by the rules, but not everything could be read"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unreadable_request_context_files_fail_closed_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_only(dir.path(), &["PCL-VULN-001"]);
    let bad = dir.path().join("canary.json");
    std::fs::write(&bad, r#"{"kind": "canary", "score": "high"}"#).unwrap();
    let o = portcullis(&[
        "gate",
        "--config",
        config.to_str().unwrap(),
        "--artifact",
        DENIED_ARTIFACT,
        "--env",
        "staging",
        "--evidence",
        "examples/evidence/checkout-api.cdx.json",
        "--verification",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("canary.json: JSON:"), "{}", stderr(&o));
}

fn expect_exit_2(args: &[&str], want: &str) {
    let o = portcullis(args);
    assert_eq!(code(&o), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(want), "want {want:?} in:\n{err}");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

#[test]
fn configuration_errors_exit_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let gate = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "gate",
            "--artifact",
            DENIED_ARTIFACT,
            "--env",
            "staging",
            "--evidence",
            "examples/evidence/checkout-api.cdx.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |extra: &[&str], want: &str| {
        let args = gate(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect_exit_2(&args, want);
    };

    let bad_type = file(
        "types.yaml",
        "environments:\n  prod:\n    protected: maybe\n",
    );
    run(
        &["--config", bad_type.to_str().unwrap()],
        &format!("{}:3:16:", bad_type.display()),
    );
    let unknown_rule = file(
        "rules.yaml",
        "environments: {}\nrules:\n  PCL-NOPE-999:\n    actions: { '*': off }\n",
    );
    run(
        &["--config", unknown_rule.to_str().unwrap()],
        &format!(
            "{}:3:3: rules: no rule PCL-NOPE-999",
            unknown_rule.display()
        ),
    );
    let missing = dir.path().join("nope.yaml");
    run(
        &["--config", missing.to_str().unwrap()],
        &format!("{}: cannot read", missing.display()),
    );

    let exceptions = file(
        "exceptions.yaml",
        "exceptions:\n  - rule: PCL-VULN-001\n    key: x\n    artifact: shop/*\n    environments: [staging]\n    reason: r\n    approver: a\n",
    );
    run(
        &["--exceptions", exceptions.to_str().unwrap()],
        &format!("{}:2:", exceptions.display()),
    );
    let kev = file("kev.json", "{\"vulnerabilities\": [{\"cveID\": 5}]}");
    run(
        &["--kev", kev.to_str().unwrap()],
        &format!("{}: CISA KEV catalogue: line 1 column", kev.display()),
    );
    run(
        &["--advisories", "examples/evidence/trivy-image.json"],
        "--advisories examples/evidence/trivy-image.json: Trivy JSON holds no advisories",
    );
    run(
        &["--policy", dir.path().join("no-such-dir").to_str().unwrap()],
        "no-such-dir: cannot read policies",
    );
    let broken = fixtures().join("broken-rego");
    run(&["--policy", broken.to_str().unwrap()], "broken.rego");
    run(
        &["--time", "yesterday"],
        "--time \"yesterday\": not an RFC 3339 time",
    );

    expect_exit_2(
        &[
            "gate",
            "--artifact",
            "shop/api:latest",
            "--env",
            "dev",
            "--evidence",
            "x",
        ],
        "expected NAME@sha256:HEX",
    );
    expect_exit_2(&["gate", "--env", "dev", "--evidence", "x"], "--artifact");
}

#[test]
fn context_flags_reach_the_policy_input_also_from_the_environment() {
    // A user rule that reports the request context it sees.
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("context.rego"),
        r#"package portcullis.rules.test.context

metadata := {
	"id": "TEST-CTX-001", "title": "Context", "description": "", "category": "business",
	"severity": "info", "actions": {"protected": "warn", "unprotected": "warn"},
	"controls": {}, "remediation": "none", "params": {},
}

violation contains v if {
	c := input.context
	v := {
		"key": "ctx",
		"message": sprintf("%v|%v|%v|%v|%v|%v|%d|%d|%d|%v", [c.requester, c.approver, c.pipeline, c.stage, c.change_ref, c.time, count(input.verifications), count(input.exposures), count(input.history), input.previous.artifact.name]),
		"evidence_refs": [{"verification": input.verifications[0].evidence}],
	}
}
"#,
    )
    .unwrap();
    let config = config_only(dir.path(), &[]);
    let json = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let canary = json(
        "canary.json",
        r#"[{"kind":"canary","score":91,"verdict":"pass","evidence":null,"details":null}]"#,
    );
    let exposure = json(
        "exposure.json",
        r#"{"target":"api:443","check":"tls","expected":"TLSv1.2","observed":"TLSv1.3","deviation":false,"message":"ok","evidence":null}"#,
    );
    let previous = json(
        "previous.json",
        r#"{"artifact":{"name":"shop/api","digest":"sha256:00"},"deployed_at":null,"findings":[]}"#,
    );
    let home = fresh_home();
    let history = json(
        "history.json",
        r#"[{"environment":"staging","decision":"allow","decided_at":"2026-11-22T00:00:00Z","deployed":true}]"#,
    );
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PORTCULLIS_") {
            cmd.env_remove(k);
        }
    }
    let o = cmd
        .current_dir(root())
        .env("PORTCULLIS_REQUESTER", "alice")
        .env("PORTCULLIS_PIPELINE", "ci/release")
        .env("PORTCULLIS_HOME", &home)
        .args([
            "gate",
            "--config",
            config.to_str().unwrap(),
            "--policy",
            policies.to_str().unwrap(),
            "--artifact",
            CLEAN_ARTIFACT,
            "--env",
            "dev",
            "--evidence",
            "examples/evidence/clean/checkout-api-2.4.1.cdx.json",
            "--approver",
            "bob",
            "--stage",
            "deploy",
            "--change-ref",
            "CHG-1",
            "--time",
            "2026-11-23T13:00:00+01:00",
            "--verification",
            &canary,
            "--exposure",
            &exposure,
            "--previous",
            &previous,
            "--history",
            &history,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let d = json_of(&o);
    let w = &d["warnings"][0];
    assert_eq!(
        w["message"],
        "alice|bob|ci/release|deploy|CHG-1|2026-11-23T12:00:00Z|1|1|1|shop/api"
    );
    assert_eq!(d["decided_at"], "2026-11-23T12:00:00.000Z");
    // A verification handed in without a document digest gets the digest of its file.
    let digest = w["evidence_refs"][0]["id"].as_str().unwrap();
    assert!(digest.starts_with("sha256:"), "{w}");
    assert!(
        stderr(&o).contains(&format!("verification {canary} (")),
        "{}",
        stderr(&o)
    );
}

/// The output scenario: one enforced violation (Log4Shell), a user rule that warns twice (one
/// warning excepted, one covered only by an expired exception) with a message full of
/// characters to escape, and one unreadable file. Every library rule but PCL-VULN-001 is off.
struct Scenario {
    _dir: tempfile::TempDir,
    args: Vec<String>,
}

fn scenario() -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let config = config_only(dir.path(), &["PCL-VULN-001"]);
    let f = fixtures();
    let rel = |p: PathBuf| {
        p.strip_prefix(root())
            .map(Path::to_path_buf)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let args = [
        "gate",
        "--config",
        config.to_str().unwrap(),
        "--policy",
        &rel(f.join("policies")),
        "--exceptions",
        &rel(f.join("exceptions.yaml")),
        "--artifact",
        DENIED_ARTIFACT,
        "--env",
        "staging",
        "--time",
        TIME,
        "--evidence",
        "examples/evidence/checkout-api.cdx.json",
        &rel(f.join("truncated.cdx.json")),
        "--advisories",
        "examples/evidence/log4shell.osv.json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Scenario { _dir: dir, args }
}

fn run_format(s: &Scenario, format: &str) -> std::process::Output {
    let o = portcullis(&with(s.args.clone(), &["--format", format]));
    assert_eq!(code(&o), Some(2), "unreadable evidence: {}", stderr(&o));
    o
}

#[test]
fn human_summary_snapshot() {
    let s = scenario();
    let o = run_format(&s, "human");
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    // The record line names a fresh decision id and state directory.
    let recorded = err.lines().last().unwrap_or_default();
    assert!(
        recorded.starts_with("recorded: decision ") && recorded.contains("(audit entry "),
        "{recorded}"
    );
    // The bundle digest changes with every library edit.
    let redacted: String = err
        .lines()
        .filter(|l| !l.starts_with("recorded: decision "))
        .map(|l| match l.find("policy bundle sha256:") {
            Some(i) => {
                let rest = &l[i + "policy bundle ".len()..];
                let end = rest.find(',').unwrap_or(rest.len());
                format!("{}policy bundle [digest]{}", &l[..i], &rest[end..])
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("human_summary", redacted);
}

#[test]
fn json_output_is_the_decision_of_the_design() {
    let s = scenario();
    let o = run_format(&s, "json");
    let d = json_of(&o);
    for field in [
        "id",
        "decision",
        "artifact",
        "environment",
        "violations",
        "warnings",
        "excepted",
        "policy_bundle_digest",
        "evidence",
        "engine_version",
        "decided_at",
        "chain",
    ] {
        assert!(d.get(field).is_some(), "{field} missing: {d}");
    }
    assert_eq!(
        d["artifact"]["name"],
        "registry.example.com/shop/checkout-api"
    );
    assert_eq!(
        d["artifact"]["digest"],
        "sha256:9f3c1d0a8e5b7c2f4a6d8e0b1c3f5a7d9e1b3c5f7a9d1e3b5c7f9a1d3e5b7c9f"
    );
    assert_eq!(d["environment"], "staging");
    assert_eq!(d["decided_at"], "2026-11-23T12:00:00.000Z");
    assert!(
        d["policy_bundle_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    for e in d["evidence"].as_array().unwrap() {
        for f in ["kind", "format", "digest"] {
            assert!(e[f].is_string(), "{e}");
        }
    }
    for v in d["violations"].as_array().unwrap() {
        for f in ["rule", "key", "severity", "message", "remediation"] {
            assert!(v[f].is_string(), "{f}: {v}");
        }
        assert!(
            v["controls"].is_array() && v["evidence_refs"].is_array(),
            "{v}"
        );
    }
    assert_eq!(
        rules_of(&d["violations"]),
        ["PCL-ENGINE-001", "PCL-VULN-001"]
    );
    assert_eq!(rules_of(&d["warnings"]), ["ACME-001"]);
    assert_eq!(d["excepted"][0]["violation"]["rule"], "ACME-001");
    assert_eq!(d["excepted"][0]["exception"]["id"], "EXC-1");
    assert_eq!(d["expired_exceptions"][0]["exception"]["id"], "EXC-0");

    // --output writes the same document to a file, and nothing to stdout.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("decision.json");
    let o = portcullis(&with(
        s.args.clone(),
        &["--format", "json", "--output", out.to_str().unwrap()],
    ));
    assert_eq!(code(&o), Some(2));
    assert!(stdout(&o).is_empty());
    let from_file: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(from_file["violations"], d["violations"]);
}

#[test]
fn sarif_output_validates_against_sarif_2_1_0() {
    let s = scenario();
    let o = run_format(&s, "sarif");
    let doc = json_of(&o);

    let run = &doc["runs"][0];
    assert_eq!(doc["runs"].as_array().unwrap().len(), 1);
    assert_eq!(run["tool"]["driver"]["name"], "portcullis");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let vuln = rules.iter().find(|r| r["id"] == "PCL-VULN-001").unwrap();
    assert_eq!(
        vuln["shortDescription"]["text"],
        "Component affected by a blocked advisory"
    );
    assert_eq!(vuln["properties"]["category"], "security");
    assert!(
        vuln["properties"]["controls"]
            .as_array()
            .unwrap()
            .contains(&"nist-800-53:RA-5".into())
    );
    assert!(
        vuln["help"]["text"]
            .as_str()
            .unwrap()
            .contains("How to fix")
    );

    let results = run["results"].as_array().unwrap();
    let by_rule =
        |id: &str| -> Vec<&Value> { results.iter().filter(|r| r["ruleId"] == id).collect() };
    let log4shell = by_rule("PCL-VULN-001");
    assert_eq!(log4shell.len(), 1);
    let r = log4shell[0];
    assert_eq!(r["level"], "error");
    assert_eq!(
        rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "PCL-VULN-001"
    );
    assert_eq!(
        r["partialFingerprints"]["violationKey/v1"],
        "PCL-VULN-001|GHSA-jfh8-c2jp-5v3q|pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar"
    );
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "examples/evidence/log4shell.osv.json"
    );
    let acme = by_rule("ACME-001");
    let levels: Vec<&str> = acme.iter().map(|r| r["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["warning", "note"]);
    assert_eq!(acme[1]["suppressions"][0]["status"], "accepted");
    assert!(
        acme[1]["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("approved by dana@example.com")
    );
    assert_eq!(by_rule("PCL-ENGINE-001")[0]["level"], "error");
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);

    let Some(corpus) = portcullis_testkit::corpus("SARIF schema validation", "") else {
        return;
    };
    let schema: Value = serde_json::from_slice(
        &std::fs::read(corpus.join("schemas/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF is not valid:\n{}",
        errors.join("\n")
    );

    // The README examples too (their results depend on the library; their shape must not).
    let config = example_config();
    for cmd in [denied_command(&config.path), allowed_command(&config.path)] {
        let o = portcullis(&with(cmd, &["--format", "sarif"]));
        let doc = json_of(&o);
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}", errors.join("\n"));
    }
}

#[derive(Debug, Default)]
struct Junit {
    suites: usize,
    suite_attrs: Vec<(String, String)>,
    cases: Vec<Case>,
}

#[derive(Debug, Default, Clone)]
struct Case {
    name: String,
    failures: Vec<(String, String)>,
    errors: usize,
    skipped: bool,
    out: String,
}

fn parse_junit(xml: &str) -> Junit {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut j = Junit::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let attrs = |e: &quick_xml::events::BytesStart<'_>| -> Vec<(String, String)> {
        e.attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    a.key.as_ref().to_string(),
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned(),
                )
            })
            .collect()
    };
    let attr = |list: &[(String, String)], k: &str| {
        list.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let open = |j: &mut Junit, name: &str, a: Vec<(String, String)>| match name {
        "testsuite" => {
            j.suites += 1;
            j.suite_attrs = a;
        }
        "testcase" => j.cases.push(Case {
            name: attr(&a, "name"),
            ..Case::default()
        }),
        "failure" => {
            let c = j.cases.last_mut().unwrap();
            c.failures.push((attr(&a, "message"), String::new()));
        }
        "error" => j.cases.last_mut().unwrap().errors += 1,
        "skipped" => j.cases.last_mut().unwrap().skipped = true,
        _ => {}
    };
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = e.name().as_ref().to_string();
                open(&mut j, &name, attrs(&e));
                path.push(name);
                text.clear();
            }
            Event::Empty(e) => {
                let name = e.name().as_ref().to_string();
                open(&mut j, &name, attrs(&e));
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref().unwrap() {
                Some(c) => text.push(c),
                None => text.push_str(match &*r {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    n => panic!("unknown entity {n}"),
                }),
            },
            Event::End(e) => {
                let name = e.name().as_ref().to_string();
                assert_eq!(path.pop().as_deref(), Some(name.as_str()), "well-formed");
                match name.as_str() {
                    "failure" => {
                        j.cases.last_mut().unwrap().failures.last_mut().unwrap().1 = text.clone()
                    }
                    "system-out" => j.cases.last_mut().unwrap().out = text.clone(),
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "unclosed elements: {path:?}");
    j
}

#[test]
fn junit_output_is_well_formed_with_the_right_counts() {
    let s = scenario();
    let o = run_format(&s, "junit");
    let xml = stdout(&o);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let j = parse_junit(&xml);
    assert_eq!(j.suites, 1);
    let attr = |k: &str| -> usize {
        j.suite_attrs
            .iter()
            .find(|(n, _)| n == k)
            .unwrap()
            .1
            .parse()
            .unwrap()
    };
    // One testcase per library rule (the off ones skipped), the user rule, and the unreadable
    // evidence.
    let library = rule_ids().len();
    assert_eq!(j.cases.len(), library + 2, "{:#?}", j.cases);
    assert_eq!(attr("tests"), j.cases.len());
    assert_eq!(attr("failures"), 1);
    assert_eq!(attr("errors"), 1);
    assert_eq!(attr("skipped"), library - 1);
    assert_eq!(
        j.cases.iter().filter(|c| c.skipped).count(),
        attr("skipped")
    );

    let case = |prefix: &str| j.cases.iter().find(|c| c.name.starts_with(prefix)).unwrap();
    let vuln = case("PCL-VULN-001: ");
    assert_eq!(vuln.failures.len(), 1);
    assert!(vuln.failures[0].0.contains("GHSA-jfh8-c2jp-5v3q"));
    assert!(
        vuln.failures[0]
            .1
            .contains("Upgrade log4j-core to 2.15.0 or later.")
    );
    assert_eq!(case("PCL-ENGINE-001: ").errors, 1);

    // The user rule passes (it only warns); its text survives escaping unchanged.
    let acme = case("ACME-001: ");
    assert!(acme.failures.is_empty() && !acme.skipped);
    assert!(
        acme.out.contains(
            "log4j-core 2.14.1 is used directly: \"use the platform logger\" <policy> & 100% of services comply, say a, b\nsecond line: done"
        ),
        "{}",
        acme.out
    );
    assert!(
        acme.out
            .contains("excepted: Migration to the platform logger is planned for Q1.")
    );
    assert!(acme.out.contains("expired exception EXC-0"));
}

#[test]
fn github_annotations_escape_data_and_properties() {
    let s = scenario();
    let o = run_format(&s, "github");
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.iter().all(|l| l.starts_with("::")), "{out}");
    let find = |prefix: &str| {
        lines
            .iter()
            .copied()
            .filter(|l| l.starts_with(prefix))
            .collect::<Vec<_>>()
    };
    let vuln =
        find("::error title=PCL-VULN-001 [critical] Component affected by a blocked advisory::");
    assert_eq!(vuln.len(), 1, "{out}");
    assert!(vuln[0].contains("%0AFix: Upgrade log4j-core to 2.15.0 or later."));

    let warnings = find("::warning title=ACME-001 [low] Direct Log4j dependency::");
    assert_eq!(warnings.len(), 1, "{out}");
    assert!(
        warnings[0].contains(
            "log4j-core 2.14.1 is used directly: \"use the platform logger\" <policy> & 100%25 of services comply, say a, b%0Asecond line: done"
        ),
        "{}",
        warnings[0]
    );
    assert_eq!(
        find("::notice title=ACME-001 [low] Direct Log4j dependency (excepted)::").len(),
        1,
        "{out}"
    );
    // `:` and `,` are escaped in properties, not in the message.
    assert_eq!(
        find("::warning title=Expired exception EXC-0 for ACME-001::").len(),
        1,
        "{out}"
    );
    assert!(out.contains("::error title=portcullis%3A error::"), "{out}");
    assert!(
        out.contains("::notice title=portcullis gate%3A DENY registry.example.com/shop/checkout-api to staging::"),
        "{out}"
    );
    // No raw line break or carriage return survives inside a command.
    assert!(!out.contains('\r'));
}

#[test]
fn a_finding_with_a_code_location_is_annotated_on_the_code() {
    // A user rule over SAST findings, so that the test does not depend on the library's rules.
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("p");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("sast.rego"),
        r#"package portcullis.rules.test.sast

metadata := {
	"id": "TEST-SAST-001", "title": "Any SAST finding", "description": "", "category": "security",
	"severity": "medium", "actions": {"protected": "enforce", "unprotected": "enforce"},
	"controls": {}, "remediation": "Fix it.", "params": {},
}

violation contains v if {
	some f in input.findings
	f.location != null
	v := {"key": f.key, "message": f.id, "evidence_refs": [{"finding": f.key}]}
}
"#,
    )
    .unwrap();
    let config = config_only(dir.path(), &[]);
    let o = portcullis(&[
        "gate",
        "--config",
        config.to_str().unwrap(),
        "--policy",
        policies.to_str().unwrap(),
        "--artifact",
        DENIED_ARTIFACT,
        "--env",
        "dev",
        "--evidence",
        "examples/evidence/semgrep.json",
        "--format",
        "github",
    ]);
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("::error title=TEST-SAST-001 [medium] Any SAST finding,file="),
        "{out}"
    );
    assert!(first.contains(",line="), "{first}");
    assert!(stderr(&o).contains(" at "), "{}", stderr(&o));
}

/// The allowed command with the provenance swapped for `file` (and the keys kept).
fn allowed_with_provenance(config: &str, file: &Path) -> Vec<String> {
    let mut cmd = allowed_command(config);
    let at = cmd
        .iter()
        .position(|a| a == "examples/evidence/clean")
        .unwrap();
    cmd.splice(
        at..=at,
        [
            "examples/evidence/clean/checkout-api-2.4.1.cdx.json".to_string(),
            "examples/evidence/clean/trivy-image.json".to_string(),
            file.display().to_string(),
        ],
    );
    cmd
}

#[test]
fn a_tampered_attestation_denies_with_the_reason_and_gives_no_facts() {
    let config = example_config();
    let dir = tempfile::tempdir().unwrap();
    // The example provenance with its builder changed after signing.
    let line = std::fs::read_to_string(
        root().join("examples/evidence/clean/checkout-api-2.4.1.intoto.jsonl"),
    )
    .unwrap();
    let mut env: Value = serde_json::from_str(line.trim()).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut statement: Value =
        serde_json::from_slice(&b64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
    statement["predicate"]["runDetails"]["builder"]["id"] = "https://evil.example/builder".into();
    env["payload"] = b64.encode(serde_json::to_vec(&statement).unwrap()).into();
    let tampered = dir.path().join("tampered.intoto.jsonl");
    std::fs::write(&tampered, serde_json::to_string(&env).unwrap()).unwrap();

    let o = portcullis(&with(
        allowed_with_provenance(&config.path, &tampered),
        &["--format", "json"],
    ));
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    let d = json_of(&o);
    let rules = rules_of(&d["violations"]);
    assert!(rules.contains(&"PCL-PROV-001"), "{rules:?}");
    assert!(rules.contains(&"PCL-PROV-007"), "{rules:?}");
    let a = &d["attestations"][0];
    assert_eq!(a["verified"], false);
    assert_eq!(a["failure"], "bad_signature");
    assert_eq!(
        a["builder_id"],
        Value::Null,
        "a failed attestation gives no facts"
    );
    assert!(!serde_json::to_string(&d).unwrap().contains("evil.example"));

    // The untouched file verifies with the same keys: the run is allowed.
    let o = portcullis(&allowed_with_provenance(
        &config.path,
        &root().join("examples/evidence/clean/checkout-api-2.4.1.intoto.jsonl"),
    ));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
}

#[test]
fn trusted_keys_that_cannot_be_read_are_a_usage_error_not_an_unverified_run() {
    let config = example_config();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = allowed_command(&config.path);
    let at = cmd.iter().position(|a| a == "examples/keys").unwrap();
    cmd[at] = dir.path().join("missing").display().to_string();
    let o = portcullis(&cmd);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--trusted-keys"), "{}", stderr(&o));

    // A directory with no usable key names the files it refused.
    std::fs::write(dir.path().join("notes.txt"), "not a key").unwrap();
    cmd[at] = dir.path().display().to_string();
    let o = portcullis(&cmd);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));
}
