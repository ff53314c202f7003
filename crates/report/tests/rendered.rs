//! Snapshots (insta) of every rendered format on a fixed, hand-made report: the HTML, the JSON
//! report, and the OSCAL assessment results and POA&M. The report model is built here with fixed
//! times, ids and digests (no store, no clock), and OSCAL UUIDs are version 5 UUIDs derived from
//! what they name, so every output is the same on every run and any change to what users read
//! fails here until the snapshot in tests/snapshots/ is reviewed and accepted (`cargo insta review`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use portcullis_firewall::{ArtifactId, EvidenceRecord, EvidenceRef, Violation};
use portcullis_report::{
    AdvisoryEntry, ChainResult, ControlCoverage, Counts, DayCounts, DecisionEntry, DeployedImpact,
    EnvironmentSnapshots, ExceptedEntry, ExceptionEntry, Format, Outcome, OverrideEntry, Range,
    Report, RuleCount, RunningArtifact, SCHEMA, SnapshotEntry, Status, Summary, oscal, render,
};

const LEGACY: &str = "registry.example.com/shop/legacy-search";
const CHECKOUT: &str = "registry.example.com/shop/checkout-api";
const ADVISORY: &str = "GHSA-jfh8-c2jp-5v3q";
const LOG4J: &str = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1";

const D_ALLOW: &str = "0193a1c0-5a00-7000-8000-000000000001";
const D_WARN: &str = "0193a1c0-5a00-7000-8000-000000000002";
const D_DENY: &str = "0193a1c0-5a00-7000-8000-000000000003";

/// A fixed `sha256:` digest made of one repeated hex digit.
fn sha(digit: char) -> String {
    format!("sha256:{}", digit.to_string().repeat(64))
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn sbom(digit: char, source: &str) -> EvidenceRecord {
    EvidenceRecord {
        kind: "sbom".into(),
        format: "cyclonedx-json".into(),
        digest: sha(digit),
        source: source.into(),
        origin: None,
    }
}

fn log4shell() -> Violation {
    Violation {
        rule: "PCL-VULN-001".into(),
        title: "No critical vulnerability with a fix".into(),
        category: "vulnerability".into(),
        key: format!("{ADVISORY}|{LOG4J}"),
        severity: "critical".into(),
        action: "enforce".into(),
        // `<` and `&` as real advisories write them: escaped in HTML, verbatim in JSON.
        message: "log4j-core 2.14.1 < 2.15.0 is affected by GHSA-jfh8-c2jp-5v3q (CVE-2021-44228) & a fix exists".into(),
        controls: ids(&["nist-800-53:RA-5", "nist-800-53:SI-2", "hipaa:164.308(a)(1)(ii)(B)"]),
        evidence_refs: vec![
            EvidenceRef {
                kind: "advisory".into(),
                id: ADVISORY.into(),
                purl: Some(LOG4J.into()),
                evidence: vec![],
            },
            EvidenceRef {
                kind: "finding".into(),
                id: format!("{ADVISORY}|{LOG4J}"),
                purl: Some(LOG4J.into()),
                evidence: vec![sha('c')],
            },
        ],
        remediation: "Upgrade log4j-core to 2.15.0 or later.".into(),
        subjects: ids(&[ADVISORY, "CVE-2021-44228", LOG4J]),
    }
}

fn no_provenance() -> Violation {
    Violation {
        rule: "PCL-PROV-001".into(),
        title: "Artifact with verified provenance".into(),
        category: "supply-chain".into(),
        key: sha('b'),
        severity: "high".into(),
        action: "warn".into(),
        message: "no verified SLSA provenance for the artifact".into(),
        controls: ids(&["nist-800-53:SR-4"]),
        evidence_refs: vec![],
        remediation: "Attach a signed SLSA provenance attestation.".into(),
        subjects: vec![],
    }
}

fn decision(id: &str, at: &str, name: &str, digest: char, outcome: Outcome) -> DecisionEntry {
    DecisionEntry {
        id: id.into(),
        decided_at: at.into(),
        environment: "production".into(),
        artifact: ArtifactId {
            name: name.into(),
            digest: sha(digest),
        },
        verdict: if outcome == Outcome::Deny {
            "deny"
        } else {
            "allow"
        }
        .into(),
        outcome,
        chain_seq: 0,
        chain_hash: String::new(),
        policy_bundle_digest: sha('e'),
        engine_version: "portcullis 0.1.0".into(),
        evidence: vec![],
        violations: vec![],
        warnings: vec![],
        excepted: vec![],
        errors: vec![],
        requester: None,
        pipeline: None,
        break_glass: None,
    }
}

fn decisions() -> Vec<DecisionEntry> {
    let mut allow = decision(
        D_ALLOW,
        "2026-11-01T09:15:00.000Z",
        CHECKOUT,
        'a',
        Outcome::Allow,
    );
    allow.chain_seq = 4;
    allow.chain_hash = "4a".repeat(32);
    allow.evidence = vec![sbom(
        '1',
        "examples/evidence/clean/checkout-api-2.4.1.cdx.json",
    )];
    allow.excepted = vec![ExceptedEntry {
        rule: "PCL-CHG-002".into(),
        key: "change-ticket".into(),
        severity: "medium".into(),
        controls: ids(&["nist-800-53:CM-3"]),
        exception_id: None,
        approver: "release-board".into(),
        reason: "Emergency fix; the ticket follows".into(),
        expires: "2026-11-15T00:00:00Z".into(),
    }];
    allow.requester = Some("ci@example.com".into());
    allow.pipeline = Some("github:shop/checkout-api#812".into());

    let mut warn = decision(
        D_WARN,
        "2026-11-02T10:00:00.000Z",
        LEGACY,
        'b',
        Outcome::Warn,
    );
    warn.chain_seq = 7;
    warn.chain_hash = "7b".repeat(32);
    warn.evidence = vec![sbom('c', "legacy-search.cdx.json")];
    warn.warnings = vec![no_provenance()];
    warn.excepted = vec![ExceptedEntry {
        rule: "PCL-VULN-001".into(),
        key: format!("{ADVISORY}|{LOG4J}"),
        severity: "critical".into(),
        controls: ids(&["nist-800-53:RA-5"]),
        exception_id: Some("EXC-2026-0007".into()),
        approver: "ciso@example.com".into(),
        reason: "JNDI lookups disabled (log4j2.formatMsgNoLookups=true) until the upgrade".into(),
        expires: "2026-12-01T00:00:00Z".into(),
    }];
    warn.pipeline = Some("gitlab:shop/legacy-search!77".into());

    let mut deny = decision(
        D_DENY,
        "2026-11-02T16:30:00.000Z",
        LEGACY,
        'd',
        Outcome::Deny,
    );
    deny.chain_seq = 10;
    deny.chain_hash = "10".repeat(32);
    deny.evidence = vec![
        sbom('c', "legacy-search.cdx.json"),
        EvidenceRecord {
            kind: "vulnerability-scan".into(),
            format: "trivy-json".into(),
            digest: sha('f'),
            source: "trivy-image.json".into(),
            origin: None,
        },
    ];
    deny.violations = vec![log4shell()];
    deny.warnings = vec![no_provenance()];
    deny.errors = vec!["evidence \"scan.sarif\": unknown format (known: cyclonedx-json, spdx-json, trivy-json, grype-json, sarif, osv)".into()];
    deny.requester = Some("deploy-bot".into());
    deny.break_glass = Some(OverrideEntry {
        actor: "oncall@example.com".into(),
        reason: "Incident INC-4411: roll forward the search index fix".into(),
        at: "2026-11-02T16:42:00Z".into(),
    });
    vec![allow, warn, deny]
}

fn coverage(
    framework: &str,
    control: &str,
    title: &str,
    status: Status,
    rules: &[&str],
) -> ControlCoverage {
    let (evaluated, violated) = match status {
        Status::Satisfied => (ids(&[D_ALLOW, D_WARN, D_DENY]), vec![]),
        Status::NotSatisfied => (ids(&[D_ALLOW, D_WARN, D_DENY]), ids(&[D_DENY])),
        Status::NotAssessed => (vec![], vec![]),
    };
    ControlCoverage {
        framework: framework.into(),
        control: control.into(),
        title: title.into(),
        status,
        rules: ids(rules),
        evaluated_in: evaluated,
        violated_in: violated,
        excepted_in: vec![],
    }
}

/// Three production decisions over two days (allowed, allowed with warnings, denied and then
/// overridden), a store exception that was used and one revoked, an exception from a file, an
/// advisory with deployed impact and a withdrawn block rule, five controls in each status.
fn report() -> Report {
    let counts = Counts {
        decisions: 3,
        allowed: 1,
        warned: 1,
        denied: 1,
        with_errors: 1,
        overridden: 1,
    };
    let mut ra5 = coverage(
        "nist-800-53",
        "RA-5",
        "Vulnerability Monitoring and Scanning",
        Status::NotSatisfied,
        &["PCL-VULN-001", "PCL-VULN-002"],
    );
    ra5.excepted_in = ids(&[D_WARN]);
    Report {
        schema: SCHEMA.into(),
        generated_at: "2026-11-03T08:00:00Z".into(),
        range: Range {
            environment: Some("production".into()),
            from: "2026-11-01T00:00:00Z".into(),
            to: "2026-11-03T00:00:00Z".into(),
        },
        summary: Summary {
            counts: counts.clone(),
            per_environment: BTreeMap::from([("production".to_string(), counts)]),
            excepted_violations: 2,
            exceptions_used: 2,
            exceptions_active: 2,
            advisories: 2,
            controls_satisfied: 2,
            controls_not_satisfied: 1,
            controls_not_assessed: 2,
        },
        decisions: decisions(),
        exceptions: vec![
            ExceptionEntry {
                id: "EXC-2026-0007".into(),
                rule: "PCL-VULN-001".into(),
                key: format!("{ADVISORY}|{LOG4J}"),
                artifact: LEGACY.into(),
                environments: ids(&["production", "staging"]),
                reason: "JNDI lookups disabled (log4j2.formatMsgNoLookups=true) until the upgrade"
                    .into(),
                approver: "ciso@example.com".into(),
                granted_by: "alice".into(),
                granted_at: "2026-10-30T12:00:00Z".into(),
                expires_at: "2026-12-01T00:00:00Z".into(),
                revoked_at: None,
                revoked_by: None,
                revoke_reason: None,
                evidence: Some(sha('c')),
                active: true,
                used_by: ids(&[D_WARN]),
                chain_seq: 2,
                granted_in_store: true,
            },
            ExceptionEntry {
                id: "EXC-2026-0003".into(),
                rule: "PCL-IAC-001".into(),
                key: "aws_s3_bucket.logs".into(),
                artifact: "*".into(),
                environments: ids(&["*"]),
                reason: "Public bucket for the status page".into(),
                approver: "ciso@example.com".into(),
                granted_by: "alice".into(),
                granted_at: "2026-10-01T00:00:00Z".into(),
                expires_at: "2027-01-01T00:00:00Z".into(),
                revoked_at: Some("2026-11-01T12:00:00Z".into()),
                revoked_by: Some("bob".into()),
                revoke_reason: Some("The status page moved".into()),
                evidence: None,
                active: false,
                used_by: vec![],
                chain_seq: 1,
                granted_in_store: true,
            },
            ExceptionEntry {
                id: format!("unnamed:PCL-CHG-002:change-ticket:{CHECKOUT}"),
                rule: "PCL-CHG-002".into(),
                key: "change-ticket".into(),
                artifact: CHECKOUT.into(),
                environments: ids(&["production"]),
                reason: "Emergency fix; the ticket follows".into(),
                approver: "release-board".into(),
                granted_by: String::new(),
                granted_at: String::new(),
                expires_at: "2026-11-15T00:00:00Z".into(),
                revoked_at: None,
                revoked_by: None,
                revoke_reason: None,
                evidence: None,
                active: true,
                used_by: ids(&[D_ALLOW]),
                chain_seq: 0,
                granted_in_store: false,
            },
        ],
        advisories: vec![
            AdvisoryEntry {
                id: ADVISORY.into(),
                kind: "osv".into(),
                summary: "Remote code injection in Log4j".into(),
                digest: sha('9'),
                added_at: "2026-10-29T08:00:00Z".into(),
                added_by: "advisory-feed".into(),
                withdrawn_at: None,
                withdraw_reason: None,
                decisions: ids(&[D_WARN, D_DENY]),
                denied: 1,
                artifacts: vec![
                    format!("{LEGACY}@{}", sha('b')),
                    format!("{LEGACY}@{}", sha('d')),
                ],
                deployed: vec![DeployedImpact {
                    environment: "production".into(),
                    artifact_name: LEGACY.into(),
                    artifact_digest: sha('b'),
                    purl: LOG4J.into(),
                }],
            },
            AdvisoryEntry {
                id: "BLOCK-2026-01".into(),
                kind: "block-rule".into(),
                summary: "Block xz-utils 5.6.0 and 5.6.1".into(),
                digest: sha('8'),
                added_at: "2026-10-15T00:00:00Z".into(),
                added_by: "alice".into(),
                withdrawn_at: Some("2026-11-02T00:00:00Z".into()),
                withdraw_reason: Some("Superseded by the OSV advisory".into()),
                decisions: vec![],
                denied: 0,
                artifacts: vec![],
                deployed: vec![],
            },
        ],
        coverage: vec![
            coverage(
                "nist-800-53",
                "AU-10",
                "Non-repudiation",
                Status::Satisfied,
                &["PCL-PROV-007"],
            ),
            coverage(
                "nist-800-53",
                "CM-3",
                "Configuration Change Control",
                Status::NotAssessed,
                &["PCL-CHG-001"],
            ),
            ra5,
            coverage(
                "hipaa",
                "164.308(a)(1)(ii)(A)",
                "Risk analysis",
                Status::NotAssessed,
                &[],
            ),
            coverage(
                "hipaa",
                "164.312(b)",
                "Audit controls",
                Status::Satisfied,
                &["PCL-PROV-007"],
            ),
        ],
        chain: ChainResult {
            verified: true,
            entries: 12,
            checkpoints: 1,
            last_hash: Some("c0".repeat(32)),
            failure: None,
        },
        days: vec![
            DayCounts {
                day: "2026-11-01".into(),
                allowed: 1,
                warned: 0,
                denied: 0,
            },
            DayCounts {
                day: "2026-11-02".into(),
                allowed: 0,
                warned: 1,
                denied: 1,
            },
        ],
        rules: vec![
            RuleCount {
                rule: "PCL-PROV-001".into(),
                title: "Artifact with verified provenance".into(),
                decisions: 2,
            },
            RuleCount {
                rule: "PCL-VULN-001".into(),
                title: "No critical vulnerability with a fix".into(),
                decisions: 1,
            },
        ],
        running: vec![EnvironmentSnapshots {
            environment: "production".into(),
            at_start: Some(SnapshotEntry {
                chain_seq: 1,
                taken_at: "2026-10-31T09:00:00.000Z".into(),
                cause: "deployment.recorded".into(),
                artifacts: vec![running(
                    LEGACY,
                    'b',
                    "2026-10-31T09:00:00.000Z",
                    Some(D_ALLOW),
                    "allow",
                )],
            }),
            snapshots: vec![
                SnapshotEntry {
                    chain_seq: 7,
                    taken_at: "2026-11-01T10:00:00.000Z".into(),
                    cause: "deployment.recorded".into(),
                    artifacts: vec![
                        running(
                            CHECKOUT,
                            'a',
                            "2026-11-01T10:00:00.000Z",
                            Some(D_ALLOW),
                            "allow",
                        ),
                        running(
                            LEGACY,
                            'b',
                            "2026-10-31T09:00:00.000Z",
                            Some(D_ALLOW),
                            "allow",
                        ),
                    ],
                },
                SnapshotEntry {
                    chain_seq: 11,
                    taken_at: "2026-11-02T11:00:00.000Z".into(),
                    cause: "inventory.sync".into(),
                    artifacts: vec![
                        running(
                            CHECKOUT,
                            'a',
                            "2026-11-01T10:00:00.000Z",
                            Some(D_ALLOW),
                            "allow",
                        ),
                        running(
                            LEGACY,
                            'd',
                            "2026-11-02T11:00:00.000Z",
                            Some(D_DENY),
                            "deny",
                        ),
                        running(
                            "registry.example.com/shop/cron",
                            'e',
                            "2026-11-02T11:00:00.000Z",
                            None,
                            "",
                        ),
                    ],
                },
            ],
        }],
    }
}

/// An artifact running at a snapshot (`verdict` empty: no decision).
fn running(
    name: &str,
    digit: char,
    at: &str,
    decision: Option<&str>,
    verdict: &str,
) -> RunningArtifact {
    RunningArtifact {
        name: name.into(),
        digest: sha(digit),
        deployed_at: at.into(),
        decision_id: decision.map(str::to_string),
        verdict: (!verdict.is_empty()).then(|| verdict.to_string()),
    }
}

/// The same range with nothing in it and a chain that failed verification.
fn empty_broken_report() -> Report {
    let mut r = report();
    r.summary = Summary::default();
    r.decisions.clear();
    r.exceptions.clear();
    r.advisories.clear();
    for c in &mut r.coverage {
        c.status = Status::NotAssessed;
        c.evaluated_in.clear();
        c.violated_in.clear();
        c.excepted_in.clear();
    }
    r.summary.controls_not_assessed = r.coverage.len() as u64;
    r.days = vec![DayCounts {
        day: "2026-11-01".into(),
        ..DayCounts::default()
    }];
    r.rules.clear();
    r.running.clear();
    r.chain = ChainResult {
        verified: false,
        entries: 12,
        checkpoints: 1,
        last_hash: None,
        failure: Some("entry 9: body digest does not match its body".into()),
    };
    r
}

fn rendered(report: &Report, format: Format) -> String {
    String::from_utf8(render(report, format).expect("renders")).expect("UTF-8")
}

#[test]
fn html_report() {
    insta::assert_snapshot!("html", rendered(&report(), Format::Html));
}

#[test]
fn html_report_without_decisions_and_with_a_broken_chain() {
    insta::assert_snapshot!(
        "html_empty_broken_chain",
        rendered(&empty_broken_report(), Format::Html)
    );
}

#[test]
fn json_report() {
    let json = rendered(&report(), Format::Json);
    insta::assert_snapshot!("json", json);
    // What the JSON says is the report it was made from.
    let back: Report = serde_json::from_str(&json).expect("the JSON report reads back");
    assert_eq!(back, report());
}

#[test]
fn oscal_assessment_results_and_poam() {
    let docs = oscal::documents(&report());
    insta::assert_json_snapshot!("oscal_assessment_results", docs.assessment_results);
    let poam = docs.poam.clone().expect("active exceptions make a POA&M");
    insta::assert_json_snapshot!("oscal_poam", poam);
    // The `oscal` format is the two documents' root objects in one object.
    let combined: serde_json::Value =
        serde_json::from_str(&rendered(&report(), Format::Oscal)).expect("OSCAL is JSON");
    assert_eq!(combined, docs.combined());
    assert_eq!(
        oscal::documents(&report()),
        docs,
        "UUIDs are derived, not random"
    );
}
