//! `Firewall::decide` end to end: Log4Shell, real scanner outputs from ../shared/corpus, the
//! evidence cache, and the PolicyInput against its JSON Schema.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use portcullis_evidence::Limits;
use portcullis_firewall::*;
use portcullis_policy::PolicyBundle;
use portcullis_policy::input::InputFinding;

fn corpus() -> Option<PathBuf> {
    portcullis_testkit::corpus("corpus evidence", "")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/evidence")
}

const CONFIG: &str = "environments:\n  production: { protected: true }\n  staging: { protected: true }\n  dev: { protected: false }\n";

fn firewall(config: &str) -> Firewall {
    let config = Config::from_yaml(config, "test config").unwrap();
    Firewall::new(PolicyBundle::builtin().unwrap(), config).unwrap()
}

fn doc(path: &Path) -> EvidenceDoc {
    let bytes = std::fs::read(path).unwrap();
    EvidenceDoc::parse(&path.display().to_string(), &bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every kind of example evidence: SBOM, image scan, SAST, DAST and provenance.
fn example_evidence() -> Vec<EvidenceDoc> {
    [
        "checkout-api.cdx.json",
        "trivy-image.json",
        "semgrep.json",
        "zap-baseline.xml",
        "checkout-api.intoto.jsonl",
    ]
    .iter()
    .map(|f| doc(&examples().join(f)))
    .collect()
}

fn blocked(path: &Path) -> Vec<BlockedAdvisory> {
    let d = doc(path);
    d.evidence
        .advisories
        .into_iter()
        .map(|a| BlockedAdvisory {
            advisory: a,
            source: d.digest.clone(),
        })
        .collect()
}

fn artifact() -> ArtifactId {
    ArtifactId::parse(&format!(
        "registry.example.com/shop/checkout-api@sha256:{}",
        "ab".repeat(32)
    ))
    .unwrap()
}

fn sbom_with(version: &str) -> EvidenceDoc {
    let json = format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"metadata":{{"timestamp":"2026-11-20T00:00:00Z"}},
        "components":[{{"type":"library","group":"org.apache.logging.log4j","name":"log4j-core","version":"{version}",
        "purl":"pkg:maven/org.apache.logging.log4j/log4j-core@{version}"}}]}}"#
    );
    EvidenceDoc::parse("sbom.cdx.json", json.as_bytes(), &Limits::default()).unwrap()
}

#[test]
fn log4shell_is_denied_in_every_environment_with_the_corpus_advisory() {
    let Some(corpus) = corpus() else { return };
    let fw = firewall(CONFIG).with_advisories(blocked(
        &corpus.join("advisories/GHSA-jfh8-c2jp-5v3q.osv.json"),
    ));
    for env in ["dev", "staging", "production", "undeclared-env"] {
        let mut req = DecisionRequest::new(artifact(), env);
        req.evidence.push(sbom_with("2.14.1"));
        let d = fw.decide(&req);
        assert!(!d.allowed(), "{env}: {d:#?}");
        let v = d
            .violations
            .iter()
            .find(|v| v.rule == "PCL-VULN-001")
            .unwrap_or_else(|| panic!("{env}: no PCL-VULN-001 in {:#?}", d.violations));
        assert!(v.message.contains("GHSA-jfh8-c2jp-5v3q"), "{}", v.message);
        assert!(v.message.contains("CVE-2021-44228"), "{}", v.message);
        assert_eq!(v.remediation, "Upgrade log4j-core to 2.15.0 or later.");
        assert_eq!(
            v.evidence_refs
                .iter()
                .filter(|r| r.kind == "advisory")
                .count(),
            1
        );
        let component = v
            .evidence_refs
            .iter()
            .find(|r| r.kind == "component")
            .unwrap();
        assert_eq!(component.evidence, vec![req.evidence[0].digest.clone()]);

        let mut fixed = DecisionRequest::new(artifact(), env);
        fixed.evidence.push(sbom_with("2.17.1"));
        let d = fw.decide(&fixed);
        assert!(
            d.violations
                .iter()
                .chain(&d.warnings)
                .all(|v| v.rule != "PCL-VULN-001"),
            "{env}: 2.17.1 must not match Log4Shell: {d:#?}"
        );
    }
}

#[test]
fn log4shell_in_a_real_cyclonedx_sbom_from_the_corpus() {
    let Some(corpus) = corpus() else { return };
    let fw = firewall(CONFIG).with_advisories(blocked(
        &corpus.join("advisories/GHSA-jfh8-c2jp-5v3q.osv.json"),
    ));
    let mut req = DecisionRequest::new(artifact(), "dev");
    req.evidence
        .push(doc(&corpus.join("scanners/cyclonedx/log4j.json")));
    let d = fw.decide(&req);
    let v = d
        .violations
        .iter()
        .find(|v| v.rule == "PCL-VULN-001")
        .expect("log4j-core 2.13.2 is affected");
    assert_eq!(v.remediation, "Upgrade log4j-core to 2.15.0 or later.");
}

/// The firewall's own reading of a threshold rule, in Rust, to check the Rego against.
fn settled(f: &InputFinding) -> bool {
    f.suppressed.is_some()
        || f.vex_state.as_deref().is_some_and(|s| {
            [
                "not_affected",
                "false_positive",
                "resolved",
                "resolved_with_pedigree",
            ]
            .contains(&s)
        })
}

fn at_least_high(f: &InputFinding) -> bool {
    f.severity == "critical" || f.severity == "high"
}

#[test]
fn real_scanner_outputs_give_one_violation_per_finding_above_the_thresholds() {
    let Some(corpus) = corpus() else { return };
    // Only the threshold rules under test; everything else off.
    let bundle = PolicyBundle::builtin().unwrap();
    let mut config = String::from(CONFIG);
    config.push_str("rules:\n");
    let tested = ["PCL-VULN-002", "PCL-CODE-001", "PCL-CODE-002"];
    for r in bundle.rules() {
        if !tested.contains(&r.meta.id.as_str()) {
            config.push_str(&format!("  {}: {{ actions: {{ '*': off }} }}\n", r.meta.id));
        }
    }
    let fw = firewall(&config);
    let mut files = Vec::new();
    for dir in ["trivy", "anchore_grype", "semgrep", "sarif"] {
        let mut listed: Vec<PathBuf> = std::fs::read_dir(corpus.join("scanners").join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && !p.to_string_lossy().ends_with(".md"))
            .collect();
        listed.sort();
        files.extend(listed);
    }
    let mut checked = 0;
    let mut nonzero = [0usize; 3];
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let Ok(d) = EvidenceDoc::parse(&path.display().to_string(), &bytes, &Limits::default())
        else {
            continue; // unreadable corpus files are the parsers' tests' business
        };
        let mut req = DecisionRequest::new(artifact(), "production");
        req.evidence.push(d);
        let input = fw.policy_input(&req);
        let decision = fw.decide(&req);
        assert!(
            decision.errors.is_empty(),
            "{}: {:?}",
            path.display(),
            decision.errors
        );
        let expected = [
            input
                .findings
                .iter()
                .filter(|f| {
                    f.kind == "vulnerability" && at_least_high(f) && f.fix_available && !settled(f)
                })
                .count(),
            input
                .findings
                .iter()
                .filter(|f| f.kind == "weakness" && at_least_high(f) && !settled(f))
                .count(),
            input
                .findings
                .iter()
                .filter(|f| f.kind == "secret" && !settled(f))
                .count(),
        ];
        for (i, rule) in tested.iter().enumerate() {
            let got = decision
                .violations
                .iter()
                .filter(|v| v.rule == *rule)
                .count();
            assert_eq!(
                got,
                expected[i],
                "{}: {rule}: {got} violations for {} findings above the threshold",
                path.display(),
                expected[i]
            );
            if got > 0 {
                nonzero[i] += 1;
            }
        }
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} corpus files checked");
    assert!(
        nonzero.iter().all(|&n| n > 0),
        "each rule fired on some real file: {nonzero:?}"
    );
}

#[test]
fn the_evidence_cache_does_not_change_decisions() {
    let advisories = blocked(&examples().join("log4shell.osv.json"));
    let cached = firewall(CONFIG).with_advisories(advisories.clone());
    let uncached = firewall(CONFIG)
        .with_advisories(advisories)
        .with_evidence_cache(0);
    let mut req = DecisionRequest::new(artifact(), "production");
    req.context.time = Some(
        chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .into(),
    );
    req.evidence = example_evidence();
    let strip = |mut d: Decision| {
        d.id.clear();
        d
    };
    let a = strip(uncached.decide(&req));
    for env in ["production", "dev", "production"] {
        req.environment = env.into();
        let b = strip(cached.decide(&req));
        let c = strip(uncached.decide(&req));
        assert_eq!(b, c, "{env}");
    }
    req.environment = "production".into();
    assert_eq!(strip(cached.decide(&req)), a);
    assert!(!a.violations.is_empty());
}

#[test]
fn the_policy_input_validates_against_its_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../policy/schema/policy-input.v1.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let fw = firewall(CONFIG).with_advisories(blocked(&examples().join("log4shell.osv.json")));
    let mut req = DecisionRequest::new(artifact(), "staging");
    req.evidence = example_evidence();
    let input = serde_json::to_value(fw.policy_input(&req)).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&input)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(input["version"], "1");
    assert!(!input["advisories"].as_array().unwrap().is_empty());
    assert_eq!(input["attestations"][0]["verified"], false);
}
