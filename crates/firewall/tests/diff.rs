//! The smart diff (`portcullis_firewall::diff`): the fixture pair of SBOMs, scans and
//! provenance gives exactly the expected diff; the real DefectDojo 1.14.1 and 1.15.0 SBOMs of
//! the corpus give the version changes an independent reading of them gives; the baseline is
//! found through the inventory and the recorded decision (SQLite and PostgreSQL), is `none` or
//! `unknown` with a reason when it cannot be, and a replay reproduces the decision's diff.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_evidence::Limits;
use portcullis_firewall::diff::{self, Baseline, BaselineSide};
use portcullis_firewall::record::{Documents, blob_kinds, replay};
use portcullis_firewall::registry::record_deployment;
use portcullis_firewall::*;
use portcullis_policy::PolicyBundle;
use portcullis_policy::input::InputDiffBaseline;
use portcullis_store::testing::TestDb;
use portcullis_store::{Backend, Store};
use serde_json::{Value, json};

const BASE: &str = "defectdojo/defectdojo-django@sha256:53302007b6bca69dbb20922a2efcf873ff28947732a28bf6b4d33d17006463b5";
const CANDIDATE: &str = "defectdojo/defectdojo-django@sha256:b914ffbdf28309f2f5fc46caf1a78bbd90f1e2786dd0f01b69c8b00a07a9d078";

/// The demo key the provenance fixtures are signed with (only verified provenance gives facts).
fn trust() -> AttestationTrust {
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/keys");
    AttestationTrust::load_dir(&keys).unwrap().0
}

fn digest_of(artifact: &str) -> String {
    ArtifactId::parse(artifact).unwrap().digest
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diff")
}

fn doc(path: &Path) -> (EvidenceDoc, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let doc = EvidenceDoc::parse(&name, &bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (doc, bytes)
}

fn side(which: &str) -> Vec<(EvidenceDoc, Vec<u8>)> {
    ["cdx.xml", "grype.json", "provenance.intoto.jsonl"]
        .iter()
        .map(|ext| doc(&fixtures().join(format!("{which}.{ext}"))))
        .collect()
}

fn docs(which: &str) -> Vec<EvidenceDoc> {
    side(which).into_iter().map(|(d, _)| d).collect()
}

fn known(docs: Vec<EvidenceDoc>) -> Baseline {
    let artifact = ArtifactId::parse(BASE).unwrap();
    Baseline::known(
        InputDiffBaseline {
            artifact: Some(portcullis_policy::input::InputArtifact {
                name: artifact.name,
                digest: artifact.digest,
            }),
            ..InputDiffBaseline::default()
        },
        Arc::new(BaselineSide::from_docs(
            docs,
            &digest_of(BASE),
            Some(&trust()),
        )),
    )
}

fn deb(name: &str, version: &str) -> String {
    format!("pkg:deb/debian/{name}@{version}?arch=amd64")
}

/// A version change of a component the SBOMs name without purl (Grype's CycloneDX).
fn change(name: &str, from: &str, to: &str) -> Value {
    json!({"package": name, "name": name, "ecosystem": null, "from": from, "to": to,
        "from_key": format!("{name}@{from}"), "to_key": format!("{name}@{to}")})
}

/// A finding of the Grype CycloneDX SBOMs (component without purl, no fix stated).
fn sbom_finding(id: &str, severity: &str, name: &str, version: &str) -> Value {
    json!({"match_key": format!("vuln:{}|{name}", id.to_uppercase()),
        "key": format!("vuln:{}|{name}@{version}", id.to_uppercase()), "kind": "vulnerability",
        "id": id, "aliases": [], "severity": severity,
        "component": {"purl": null, "name": name, "version": version},
        "fixed_versions": [], "vex_state": null, "suppressed": null})
}

/// A finding of the Grype JSON scans (Debian package with purl).
fn scan_finding(id: &str, severity: &str, name: &str, version: &str, fixed: &[&str]) -> Value {
    let encoded = version.replace('+', "%2B");
    json!({"match_key": format!("vuln:{id}|pkg:deb/debian/{name}"),
        "key": format!("vuln:{id}|pkg:deb/debian/{name}@{encoded}"), "kind": "vulnerability",
        "id": id, "aliases": [], "severity": severity,
        "component": {"purl": deb(name, &encoded), "name": name, "version": version},
        "fixed_versions": fixed, "vex_state": null, "suppressed": null})
}

#[test]
fn the_fixture_pair_gives_exactly_the_expected_diff() {
    let d = diff::compare(
        &known(docs("base")),
        &diff::candidate_input(docs("candidate"), &digest_of(CANDIDATE), Some(&trust())),
    );
    assert_eq!(d.baseline.state, "known");
    let got = serde_json::to_value(&d.changes).unwrap();
    let builder = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.10.0";
    let expected = json!({
        "components": {
            // Grype's JSON lists the vulnerable packages only, as findings: components come
            // from the SBOMs alone (a package without vulnerabilities is not "removed").
            "added": [{"package": "PyNaCl", "key": "PyNaCl@1.4.0", "name": "PyNaCl",
                "version": "1.4.0", "ecosystem": null, "purl": null,
                "licenses": ["Apache License 2.0"]}],
            "removed": [],
            "upgraded": [
                change("Django", "2.2.18", "2.2.20"),
                change("JSON-log-formatter", "0.3.0", "0.3.1"),
                change("Pillow", "8.1.2", "8.2.0"),
            ],
            "downgraded": [
                change("curl", "7.64.0-4+deb10u2", "7.64.0-4+deb10u1"),
                change("libpq5", "11.11-0+deb10u1", "11.10-0+deb10u1"),
            ],
            // Django 1.11.29, Jinja2 2.11.3, pip 20.2.3, rsa 4.7.2.
            "unchanged": 4,
        },
        "findings": {
            "new": [
                scan_finding("CVE-2020-12362", "medium", "linux-libc-dev", "4.19.171-2", &[]),
                sbom_finding("CVE-2020-25658", "medium", "rsa", "4.7.2"),
                sbom_finding("CVE-2021-22876", "medium", "curl", "7.64.0-4+deb10u1"),
                sbom_finding("CVE-2021-22890", "medium", "curl", "7.64.0-4+deb10u1"),
                scan_finding("CVE-2021-24031", "unknown", "libzstd1", "1.3.8+dfsg-3", &["1.3.8+dfsg-3+deb10u1"]),
                sbom_finding("CVE-2021-3393", "low", "libpq5", "11.10-0+deb10u1"),
                scan_finding("CVE-2021-3393", "unknown", "libpq-dev", "11.10-0+deb10u1", &[]),
            ],
            "fixed": [
                sbom_finding("CVE-2018-20225", "high", "pip", "20.2.3"),
                scan_finding("CVE-2020-25696", "high", "libpq-dev", "11.9-0+deb10u1", &[]),
                scan_finding("CVE-2020-28241", "medium", "libmaxminddb0", "1.3.2-1", &[]),
                scan_finding("CVE-2021-3347", "high", "linux-libc-dev", "4.19.160-2", &["4.19.171-2"]),
                sbom_finding("GHSA-xgxc-v2qg-chmh", "low", "Django", "2.2.18"),
            ],
            // CVE-2019-9193 on libpq5 (SBOM) and on libpq-dev (scan), across their version
            // changes; CVE-2019-3844 on libsystemd0 across 241-7~deb10u5 -> u6.
            "unchanged": 3,
        },
        "licenses": [{"package": "JSON-log-formatter", "name": "JSON-log-formatter",
            "from_version": "0.3.0", "to_version": "0.3.1", "from": ["UNKNOWN"], "to": ["MIT"]}],
        "provenance": {
            "baseline": {"verified": true, "attestations": 1, "builders": [builder],
                "source_repos": ["https://github.com/DefectDojo/django-DefectDojo"],
                "source_commits": ["4a0c2ae2e9b8d3d7d1c3a8e2f0b5f3a4c5d6e7f8"]},
            "candidate": {"verified": true, "attestations": 1, "builders": [builder],
                "source_repos": ["https://github.com/defectdojo-fork/django-DefectDojo"],
                "source_commits": ["9b1e7c3d5f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c"]},
            "changed": [
                {"field": "source_repo",
                    "from": ["https://github.com/DefectDojo/django-DefectDojo"],
                    "to": ["https://github.com/defectdojo-fork/django-DefectDojo"]},
                {"field": "source_commit",
                    "from": ["4a0c2ae2e9b8d3d7d1c3a8e2f0b5f3a4c5d6e7f8"],
                    "to": ["9b1e7c3d5f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c"]},
            ],
        },
    });
    assert_eq!(
        got,
        expected,
        "{}",
        serde_json::to_string_pretty(&got).unwrap()
    );

    // The same inputs in another order give the same document.
    let mut base = docs("base");
    base.reverse();
    let mut cand = docs("candidate");
    cand.reverse();
    let again = diff::compare(
        &known(base),
        &diff::candidate_input(cand, &digest_of(CANDIDATE), Some(&trust())),
    );
    assert_eq!(serde_json::to_value(&again.changes).unwrap(), expected);
}

#[test]
fn the_same_evidence_on_both_sides_changes_nothing() {
    let d = diff::compare(
        &known(docs("base")),
        &diff::candidate_input(docs("base"), &digest_of(BASE), Some(&trust())),
    );
    let c = d.changes.unwrap();
    assert!(c.components.added.is_empty() && c.components.removed.is_empty());
    assert!(c.components.upgraded.is_empty() && c.components.downgraded.is_empty());
    assert_eq!(c.components.unchanged, 9);
    assert!(c.findings.new.is_empty() && c.findings.fixed.is_empty());
    assert_eq!(c.findings.unchanged, 8);
    assert!(c.licenses.is_empty() && c.provenance.changed.is_empty());
}

#[test]
fn without_a_known_baseline_there_are_no_changes_only_the_reason() {
    let b = Baseline::none("nothing named x is recorded as running in production");
    let d = diff::compare(
        &b,
        &diff::candidate_input(docs("candidate"), &digest_of(CANDIDATE), Some(&trust())),
    );
    assert_eq!(d.baseline.state, "none");
    assert_eq!(
        d.baseline.reason.as_deref(),
        Some("nothing named x is recorded as running in production")
    );
    assert!(d.changes.is_none());
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["changes"], Value::Null, "null, never an empty diff");
}

/// The DefectDojo 1.14.1 and 1.15.0 SBOMs of the corpus, whole: the version changes are the
/// ones a plain reading of the two XML files finds (component by component, by name), each
/// classified by the version ordering.
#[test]
fn real_defectdojo_sboms_give_the_version_changes_of_the_release() {
    let Some(corpus) = portcullis_testkit::corpus("DefectDojo SBOMs", "scanners/cyclonedx") else {
        return;
    };
    let (base, _) = doc(&corpus.join("grype_dd_1_14_1.xml"));
    let (cand, _) = doc(&corpus.join("dd_1_15_0.xml"));
    let d = diff::compare(
        &known(vec![base]),
        &diff::candidate_input(vec![cand], &digest_of(CANDIDATE), Some(&trust())),
    );
    let c = d.changes.unwrap();
    let names = |v: &[portcullis_policy::input::InputVersionChange]| -> Vec<String> {
        v.iter()
            .map(|c| format!("{} {} -> {}", c.name, c.from, c.to))
            .collect()
    };
    assert_eq!(
        names(&c.components.upgraded),
        [
            "Django 2.2.18 -> 2.2.20",
            "JSON-log-formatter 0.3.0 -> 0.3.1",
            "Pillow 8.1.2 -> 8.2.0",
            "PyGithub 1.54.1 -> 1.55",
            "SQLAlchemy 1.4.3 -> 1.4.11",
            "django-debug-toolbar 3.2 -> 3.2.1",
            "django-extensions 3.1.1 -> 3.1.3",
            "djangorestframework 3.12.3 -> 3.12.4",
            "et-xmlfile 1.0.1 -> 1.1.0",
            "google-auth 1.28.0 -> 1.30.0",
            "gunicorn 20.0.4 -> 20.1.0",
            "humanize 3.3.0 -> 3.4.1",
            "importlib-metadata 3.10.0 -> 4.0.1",
            "pbr 5.5.1 -> 5.6.0",
            "xmlschema 1.6.0 -> 1.6.1",
        ]
    );
    assert_eq!(
        names(&c.components.downgraded),
        [
            "curl 7.64.0-4+deb10u2 -> 7.64.0-4+deb10u1",
            "libbsd0 0.9.1-2+deb10u1 -> 0.9.1-2",
            "libcurl3-gnutls 7.64.0-4+deb10u2 -> 7.64.0-4+deb10u1",
            "libcurl4 7.64.0-4+deb10u2 -> 7.64.0-4+deb10u1",
            "libopenjp2-7 2.3.0-2+deb10u2 -> 2.3.0-2+deb10u1",
            "libpq5 11.11-0+deb10u1 -> 11.10-0+deb10u1",
            "postgresql-client-11 11.11-0+deb10u1 -> 11.10-0+deb10u1",
        ]
    );
    let added: Vec<&str> = c.components.added.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(added, ["PyNaCl"]);
    assert!(c.components.removed.is_empty());
    let licenses: Vec<&str> = c.licenses.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(licenses, ["JSON-log-formatter"]);
    // 308 components (name, version) in 1.15.0: one added, 22 at another version.
    assert_eq!(c.components.unchanged, 308 - 1 - 22);
}

// ------------------------------------------------------------------------------------------
// Through the store: the inventory, recorded decisions, replay.

async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let config = db.config();
    let outcome = tokio::spawn(async move {
        let store = Store::open(&config)
            .await
            .unwrap_or_else(|e| panic!("cannot open the store: {e}"));
        body(store).await;
    })
    .await;
    db.cleanup().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(p) => std::panic::resume_unwind(p),
            Err(e) => panic!("the test task did not finish: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_carry_the_diff_against_the_inventory_sqlite() {
    run(
        Backend::Sqlite,
        decisions_carry_the_diff_against_the_inventory,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_carry_the_diff_against_the_inventory_postgres() {
    run(
        Backend::Postgres,
        decisions_carry_the_diff_against_the_inventory,
    )
    .await;
}

fn request(artifact: &str, which: &str) -> (DecisionRequest, Documents) {
    let mut req = DecisionRequest::new(ArtifactId::parse(artifact).unwrap(), "production");
    req.context.time = Some("2026-11-28T12:00:00Z".parse().unwrap());
    let mut documents = Documents::default();
    for (d, bytes) in side(which) {
        documents.add(blob_kinds::EVIDENCE, bytes);
        req.evidence.push(d);
    }
    (req, documents)
}

fn rule_keys(d: &Decision, rule: &str) -> Vec<String> {
    let mut keys: Vec<String> = d
        .violations
        .iter()
        .filter(|v| v.rule == rule)
        .map(|v| v.key.clone())
        .collect();
    keys.sort();
    keys
}

async fn decisions_carry_the_diff_against_the_inventory(store: Store) {
    let fw = Firewall::new(PolicyBundle::load(&[]).unwrap(), Config::default())
        .unwrap()
        .with_trust(trust());
    let name = "defectdojo/defectdojo-django";

    // Nothing runs in production yet: the diff says so, and no diff rule fires.
    let (mut base, base_docs) = request(BASE, "base");
    base.baseline = Some(fw.baseline(&store, "production", name).await.unwrap());
    let mut first = fw.decide(&base);
    let d = first.diff.clone().expect("a diff");
    assert_eq!(d.baseline.state, "none");
    assert_eq!(
        d.baseline.reason.as_deref(),
        Some("nothing named defectdojo/defectdojo-django is recorded as running in production")
    );
    assert!(d.changes.is_none());
    assert!(
        !first
            .violations
            .iter()
            .any(|v| v.rule.starts_with("PCL-DIFF-")),
        "{:?}",
        first.violations
    );
    fw.record(&store, &base, &mut first, &base_docs)
        .await
        .unwrap();
    record_deployment(
        &store,
        &ArtifactId::parse(BASE).unwrap(),
        "production",
        "test",
    )
    .await
    .unwrap();

    // The candidate is compared with the recorded evidence of what now runs.
    let (mut cand, cand_docs) = request(CANDIDATE, "candidate");
    let baseline = fw.baseline(&store, "production", name).await.unwrap();
    assert!(baseline.is_known(), "{:?}", baseline.info);
    assert_eq!(baseline.info.decision.as_deref(), Some(first.id.as_str()));
    let mut evidence: Vec<String> = base.evidence.iter().map(|d| d.digest.clone()).collect();
    evidence.sort();
    assert_eq!(baseline.info.evidence, evidence);
    assert_eq!(
        baseline.info.artifact.as_ref().map(|a| a.digest.as_str()),
        Some(ArtifactId::parse(BASE).unwrap().digest.as_str())
    );
    // Asked again (the decision's request and evidence now come from the cache): the same.
    let again = fw.baseline(&store, "production", name).await.unwrap();
    assert!(again.is_known());
    assert_eq!(again.info, baseline.info);
    cand.baseline = Some(baseline);
    let mut second = fw.decide(&cand);
    let d = second.diff.clone().expect("a diff");
    let expected = diff::compare(
        &known(docs("base")),
        &diff::candidate_input(docs("candidate"), &digest_of(CANDIDATE), Some(&trust())),
    );
    assert_eq!(d.changes, expected.changes);
    assert_eq!(
        rule_keys(&second, "PCL-DIFF-002"),
        ["curl@7.64.0-4+deb10u1", "libpq5@11.10-0+deb10u1"]
    );
    assert_eq!(rule_keys(&second, "PCL-DIFF-003"), ["source_repo"]);
    // No new critical vulnerability: PCL-DIFF-001 is silent at its default severities.
    assert!(rule_keys(&second, "PCL-DIFF-001").is_empty());
    // The policy input is the one the rules saw.
    assert_eq!(fw.policy_input(&cand).diff, second.diff);

    // On the record, and reproduced by a replay (the baseline is rebuilt from the store).
    fw.record(&store, &cand, &mut second, &cand_docs)
        .await
        .unwrap();
    let r = replay(&store, &second.id).await.unwrap();
    assert!(r.differences.is_empty(), "{:?}", r.differences);
    assert_eq!(r.replayed.diff, second.diff);

    // Deployed without any recorded decision: the baseline is unknown, with the reason.
    let other = ArtifactId::parse(
        "other/app@sha256:0000000000000000000000000000000000000000000000000000000000000001",
    )
    .unwrap();
    record_deployment(&store, &other, "staging", "test")
        .await
        .unwrap();
    let b = fw.baseline(&store, "staging", "other/app").await.unwrap();
    assert_eq!(b.info.state, "unknown");
    assert!(
        b.info
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("no decision about it is recorded")),
        "{:?}",
        b.info
    );
    let mut req = DecisionRequest::new(other.clone(), "staging");
    req.baseline = Some(b);
    let d = fw.decide(&req).diff.unwrap();
    assert!(d.changes.is_none());

    // The report of `portcullis diff` / GET /v1/diff, on the candidate's recorded evidence.
    let report = fw
        .diff_report(
            &store,
            "production",
            &ArtifactId::parse(CANDIDATE).unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        report.candidate.decision.as_deref(),
        Some(second.id.as_str())
    );
    assert_eq!(report.diff.changes, expected.changes);
    // Nothing recorded about an artifact and no evidence given: an error, not an empty diff.
    let e = fw
        .diff_report(&store, "production", &other, None)
        .await
        .unwrap_err();
    assert!(matches!(e, diff::DiffError::NoCandidate(_)), "{e}");
}
