//! Trivy, Grype and OSV-Scanner parsers against the real samples in the corpus. Every expected
//! number was counted independently of the parser, with the command in the comment above it
//! (run in `../shared/corpus/scanners`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use portcullis_evidence::{Evidence, FindingKind, Format, Limits, Severity, parse};

fn dir(corpus: &Path, tool: &str) -> PathBuf {
    corpus.join("scanners").join(tool)
}

fn load(corpus: &Path, rel: &str) -> Evidence {
    let path = corpus.join("scanners").join(rel);
    let bytes = std::fs::read(&path).unwrap();
    parse(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn by_kind(ev: &Evidence) -> BTreeMap<FindingKind, usize> {
    let mut m = BTreeMap::new();
    for f in &ev.findings {
        *m.entry(f.kind).or_default() += 1;
    }
    m
}

fn by_severity(ev: &Evidence) -> BTreeMap<Severity, usize> {
    let mut m = BTreeMap::new();
    for f in &ev.findings {
        *m.entry(f.severity).or_default() += 1;
    }
    m
}

#[test]
fn every_scanner_sample_parses_or_is_refused() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // An empty file and the JSON value `null`: nothing says what they are, so they must be
    // refused, never read as "no findings".
    let refused = ["osv_scanner/no_findings.json", "trivy/legacy_no_vuln.json"];
    let mut seen = 0;
    let mut failures = Vec::new();
    for (tool, format) in [
        ("trivy", Format::TrivyJson),
        ("anchore_grype", Format::GrypeJson),
        ("osv_scanner", Format::OsvScannerJson),
    ] {
        for path in common::files_under(&dir(&corpus, tool)) {
            let rel = format!("{tool}/{}", path.file_name().unwrap().to_string_lossy());
            let bytes = std::fs::read(&path).unwrap();
            let got = parse(&bytes, &Limits::default());
            seen += 1;
            match (refused.contains(&rel.as_str()), got) {
                (true, Err(e)) => assert!(!e.message.is_empty(), "{rel}: empty message"),
                (true, Ok(_)) => failures.push(format!("{rel}: accepted, should be refused")),
                (false, Ok(ev)) if ev.format == format => {}
                (false, Ok(ev)) => failures.push(format!("{rel}: parsed as {:?}", ev.format)),
                (false, Err(e)) => failures.push(format!("{rel}: {e}")),
            }
        }
    }
    // ls trivy anchore_grype osv_scanner | grep -c json -> 41; files_under skips names starting
    // with "license" (trivy/license_scheme.json, loaded by trivy_fields instead) -> 40
    assert_eq!(seen, 40);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn trivy_counts() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    use FindingKind::*;

    let ev = load(&corpus, "trivy/misconfigurations_and_secrets.json");
    // jq '[.Results[].Vulnerabilities[]?]|length'                                  -> 2
    // jq '[.Results[].Misconfigurations[]? | select(.Status=="FAIL")]|length'      -> 1
    // jq '[.Results[].Secrets[]?]|length'                                          -> 2
    assert_eq!(
        by_kind(&ev),
        BTreeMap::from([(Vulnerability, 2), (Misconfiguration, 1), (Secret, 2)])
    );

    let ev = load(&corpus, "trivy/kubernetes.json");
    // jq '[.Vulnerabilities[].Results[]?.Vulnerabilities[]?]|length'                        -> 10
    // jq '[.Misconfigurations[].Results[]?.Misconfigurations[]? | select(.Status=="FAIL")]|length' -> 10
    assert_eq!(
        by_kind(&ev),
        BTreeMap::from([(Vulnerability, 10), (Misconfiguration, 10)])
    );
    // jq -c '[.Vulnerabilities[].Results[]?.Vulnerabilities[]?, (.Misconfigurations[].Results[]?
    //   .Misconfigurations[]? | select(.Status=="FAIL")) | .Severity] | group_by(.)
    //   | map({(.[0]): length}) | add'                                -> {"LOW":14,"MEDIUM":6}
    assert_eq!(
        by_severity(&ev),
        BTreeMap::from([(Severity::Low, 14), (Severity::Medium, 6)])
    );
    assert_eq!(
        ev.artifact.as_ref().unwrap().name,
        "arn:aws:eks:us-east-1:576036489467:cluster/monitoring-test-cluster"
    );
    let m = ev
        .findings
        .iter()
        .find(|f| f.kind == Misconfiguration)
        .unwrap();
    assert_eq!(m.key, "code:KSV001|default/Deployment/redis-follower:132");
    assert_eq!(
        m.location.as_ref().unwrap().resource.as_deref(),
        Some("default/Deployment/redis-follower")
    );

    // The Resources[] flavour of the Kubernetes report.
    let ev = load(&corpus, "trivy/issue_10991.json");
    // jq '[.Resources[].Results[]?.Misconfigurations[]? | select(.Status=="FAIL")]|length' -> 37
    assert_eq!(by_kind(&ev), BTreeMap::from([(Misconfiguration, 37)]));

    let ev = load(&corpus, "trivy/legacy_many_vulns.json");
    // jq '[.[].Vulnerabilities[]?]|length'                                         -> 93
    assert_eq!(by_kind(&ev), BTreeMap::from([(Vulnerability, 93)]));
    let mut words = BTreeMap::new();
    for f in &ev.findings {
        *words
            .entry(f.original_severity.clone().unwrap_or_default())
            .or_insert(0) += 1;
    }
    // jq -c '[.[].Vulnerabilities[].Severity]|group_by(.)|map({(.[0]):length})|add'
    //   -> {"HIGH":18,"LOW":65,"MEDIUM":9,"UNKNOWN":1}
    assert_eq!(
        words,
        BTreeMap::from([
            ("HIGH".to_string(), 18),
            ("LOW".to_string(), 65),
            ("MEDIUM".to_string(), 9),
            ("UNKNOWN".to_string(), 1)
        ])
    );

    let ev = load(&corpus, "trivy/legacy_trivy_mix.json");
    // jq '[.[].Vulnerabilities[]?]|length'  -> 7 (one of them has only a PkgName: kept)
    assert_eq!(by_kind(&ev), BTreeMap::from([(Vulnerability, 7)]));
    assert_eq!(
        ev.findings
            .iter()
            .filter(|f| f.id.is_empty() && f.severity == Severity::Unknown)
            .count(),
        1
    );

    // No sample has PASS or EXCEPTION checks:
    // grep -l '"Status": *"\(PASS\|EXCEPTION\)"' trivy/*.json  -> (nothing); the unit tests
    // in formats::trivy cover them being dropped.
}

#[test]
fn trivy_fields() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let ev = load(&corpus, "trivy/cvssv4_severity_source.json");
    assert_eq!(ev.format_version.as_deref(), Some("2"));
    assert_eq!(ev.tool.as_ref().unwrap().version.as_deref(), Some("0.69.1"));
    // jq '.Results[0].Packages|length' -> 1
    assert_eq!(ev.components.len(), 1);
    let f = ev
        .findings
        .iter()
        .find(|f| f.id == "CVE-2025-66614")
        .unwrap();
    assert_eq!(f.aliases, vec!["GHSA-fpj8-gq4v-p354"]);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.fixed_versions, vec!["11.0.14", "10.1.49", "9.0.112"]);
    assert_eq!(f.cwes, vec![20]);
    let c = f.component.as_ref().unwrap();
    assert_eq!(
        c.purl.as_deref(),
        Some("pkg:maven/org.apache.tomcat/tomcat-catalina@9.0.109")
    );
    assert_eq!(c.path.as_deref(), Some("catalina.jar"));
    assert_eq!(
        f.key,
        "vuln:CVE-2025-66614|pkg:maven/org.apache.tomcat/tomcat-catalina@9.0.109"
    );
    let v4 = f.scores.iter().find(|s| s.method == "CVSSv4").unwrap();
    assert_eq!(v4.score, Some(6.3));
    assert_eq!(v4.source.as_deref(), Some("ghsa"));

    let ev = load(&corpus, "trivy/license_scheme.json");
    // jq -r '.Metadata.RepoDigests[0]' -> alpine@sha256:bcae378e...
    assert_eq!(
        ev.artifact.unwrap().digest.as_deref(),
        Some("sha256:bcae378eacedab83da66079d9366c8f5df542d7ed9ab23bf487e3e1a8481375d")
    );
}

#[test]
fn trivy_secrets_never_leak() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let path = dir(&corpus, "trivy").join("misconfigurations_and_secrets.json");
    let bytes = std::fs::read(&path).unwrap();
    let ev = parse(&bytes, &Limits::default()).unwrap();
    let out = serde_json::to_string(&ev).unwrap();

    // Every `Match` and every quoted code line of the document, read independently.
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut secret_texts = Vec::new();
    for r in doc["Results"].as_array().unwrap() {
        for s in r["Secrets"].as_array().into_iter().flatten() {
            secret_texts.push(s["Match"].as_str().unwrap().to_string());
            for l in s["Code"]["Lines"].as_array().into_iter().flatten() {
                secret_texts.push(l["Content"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    // jq '[.Results[].Secrets[]?.Match]|length' -> 2
    assert_eq!(secret_texts.len(), 2);
    for t in secret_texts.iter().filter(|t| !t.trim().is_empty()) {
        assert!(!out.contains(t.as_str()), "secret text {t:?} leaked");
    }
    assert!(!out.contains("GITHUB_PAT"), "secret variable leaked");
    let s = ev
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Secret)
        .unwrap();
    assert_eq!(s.key, "code:github-pat|Dockerfile:24");
    assert_eq!(s.severity, Severity::Critical);
}

#[test]
fn grype_counts() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let ev = load(&corpus, "anchore_grype/many_vulns.json");
    // jq '.matches|length' many_vulns.json -> 1509
    assert_eq!(ev.findings.len(), 1509);
    // python3: severity word (Negligible -> info), else for "Unknown" the highest of
    // cvssV2/cvssV3 baseScore rated by CVSS, else unknown:
    //   {'medium': 613, 'info': 681, 'high': 32, 'low': 107, 'unknown': 76}
    assert_eq!(
        by_severity(&ev),
        BTreeMap::from([
            (Severity::Medium, 613),
            (Severity::Info, 681),
            (Severity::High, 32),
            (Severity::Low, 107),
            (Severity::Unknown, 76),
        ])
    );
    assert!(
        ev.findings
            .iter()
            .all(|f| f.kind == FindingKind::Vulnerability)
    );
    let f = &ev.findings[0];
    assert_eq!(f.id, "CVE-2011-3389");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(
        f.key,
        // Canonical purl: `+` percent-encoded, as the purl spec's test suite requires.
        "vuln:CVE-2011-3389|pkg:deb/debian/libgnutls-openssl27@3.6.7-4%2Bdeb10u5"
    );
    assert_eq!(
        f.component.as_ref().unwrap().path.as_deref(),
        Some("/var/lib/dpkg/status")
    );
    let a = ev.artifact.as_ref().unwrap();
    assert_eq!(a.name, "python:3.6");
    // no repoDigests: jq -r .source.target.manifestDigest
    assert_eq!(
        a.digest.as_deref(),
        Some("sha256:56e428bb95594df86c86d62aa7b6ca5827ecf23a2a1e933288cba950d394fdbf")
    );
    assert_eq!(ev.tool.as_ref().unwrap().version.as_deref(), Some("0.7.0"));

    // jq '.matches|length' -> 1567, 327, 35
    assert_eq!(
        load(&corpus, "anchore_grype/many_vulns2.json")
            .findings
            .len(),
        1567
    );
    assert_eq!(
        load(&corpus, "anchore_grype/many_vulns3.json")
            .findings
            .len(),
        327
    );
    let ev = load(&corpus, "anchore_grype/issue_9618.json");
    assert_eq!(ev.findings.len(), 35);
    // jq '.matches[] | select(.vulnerability.severity==null) | .relatedVulnerabilities[].severity'
    //   -> "High" (CVE-2024-26308, related GHSA-4265-ccf5-phj5)
    let f = ev
        .findings
        .iter()
        .find(|f| f.id == "CVE-2024-26308")
        .unwrap();
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.aliases, vec!["GHSA-4265-ccf5-phj5"]);
    // jq -r '.source.target.repoDigests[0]'
    assert_eq!(
        ev.artifact.unwrap().digest.as_deref(),
        Some("sha256:97e6d5aeed19f627205b218f45b284cd01ff658dd181416ab1d3e21aeb28d68e")
    );

    // Same CVE, same package, two paths: two findings, one key.
    let ev = load(&corpus, "anchore_grype/same_cve_different_paths.json");
    // jq '.matches|length' -> 2 ; jq '[.matches[].artifact.locations[0].path]|unique|length' -> 2
    assert_eq!(ev.findings.len(), 2);
    assert_eq!(ev.findings[0].key, ev.findings[1].key);
    assert_ne!(
        ev.findings[0].component.as_ref().unwrap().path,
        ev.findings[1].component.as_ref().unwrap().path
    );
    // image id `sha256:test` is no digest
    assert_eq!(ev.artifact.unwrap().digest, None);
}

#[test]
fn grype_fields() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let ev = load(
        &corpus,
        "anchore_grype/check_all_fields_with_ids_fabricated.json",
    );
    let f = &ev.findings[0];
    assert_eq!(f.id, "GHSA-v6rh-hp5x-86rv");
    assert_eq!(f.aliases, vec!["CVE-2021-44420"]);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.original_severity.as_deref(), Some("High"));
    assert_eq!(f.fixed_versions, vec!["3.2.10"]);
    let c = f.component.as_ref().unwrap();
    // Grype writes `pkg:pypi/Django@3.2.9`; PyPI purl names are canonically lower-case.
    assert_eq!(c.purl.as_deref(), Some("pkg:pypi/django@3.2.9"));
    assert_eq!(f.key, "vuln:CVE-2021-44420|pkg:pypi/django@3.2.9");

    let ev = load(&corpus, "anchore_grype/many_vulns_with_epss_values.json");
    // jq '[.matches[].vulnerability.epss[]?]|length' -> 15
    let epss = ev
        .findings
        .iter()
        .flat_map(|f| &f.scores)
        .filter(|s| s.method == "EPSS")
        .count();
    assert_eq!(epss, 15);
}

#[test]
fn osv_scanner_counts_and_fields() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let ev = load(&corpus, "osv_scanner/many_findings.json");
    // jq '[.results[].packages[] | (.groups|length)] | add' -> 37 (every record is in a group)
    assert_eq!(ev.findings.len(), 37);
    // python3: per group the highest database_specific.severity of its records -> high 16,
    // medium 14, critical 5; the two groups without one (CVE-2023-50094
    // AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H = 8.8, PYSEC-2023-206 .../C:N/I:N/A:H = 7.5, per
    // the NVD calculator) are high.
    assert_eq!(
        by_severity(&ev),
        BTreeMap::from([
            (Severity::High, 18),
            (Severity::Medium, 14),
            (Severity::Critical, 5)
        ])
    );
    let f = ev
        .findings
        .iter()
        .find(|f| f.id == "GHSA-g4mx-q9vg-27p4")
        .unwrap();
    assert_eq!(f.aliases, vec!["CVE-2023-45803", "PYSEC-2023-212"]);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.original_severity.as_deref(), Some("MODERATE"));
    // jq '... .affected[] | select(.package.name=="urllib3") | .ranges[] | select(.type!="GIT")
    //   | .events[].fixed // empty' -> "2.0.7", "1.26.18"
    assert_eq!(f.fixed_versions, vec!["2.0.7", "1.26.18"]);
    assert_eq!(f.cwes, vec![200]);
    let c = f.component.as_ref().unwrap();
    assert_eq!(c.purl.as_deref(), Some("pkg:pypi/urllib3@1.26.17"));
    assert_eq!(c.path.as_deref(), Some("/tmpgapps/requirements.txt"));
    assert_eq!(f.key, "vuln:CVE-2023-45803|pkg:pypi/urllib3@1.26.17");

    let ev = load(&corpus, "osv_scanner/some_findings.json");
    // jq '[.results[].packages[].groups[]]|length' -> 1
    assert_eq!(ev.findings.len(), 1);
    assert_eq!(ev.findings[0].id, "MAL-2023-1035");
    assert_eq!(ev.findings[0].cwes, vec![506]);

    let ev = load(&corpus, "osv_scanner/multi_cwe_fabricated.json");
    // no groups: jq '[.results[].packages[].vulnerabilities[]]|length' -> 1
    assert_eq!(ev.findings.len(), 1);
    // jq '[.. | .cweId? // empty]' -> ["CWE-79","CWE-89"]
    assert_eq!(ev.findings[0].cwes, vec![79, 89]);
}
