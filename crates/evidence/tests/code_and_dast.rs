//! Code-analysis, IaC and DAST parsers against the real scanner outputs in the corpus: SARIF,
//! Semgrep, OWASP ZAP, Checkov and Bandit.
//!
//! Every count below was taken independently of the parser, with the python3 command written
//! in the comment above it (run from `corpus/scanners/<folder>`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;

use portcullis_evidence::{Evidence, FindingKind, Format, Limits, Severity, parse};

fn load(corpus: &Path, rel: &str) -> Evidence {
    let path = corpus.join("scanners").join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every sample of `dir` parses as `format`, and no finding has an empty key or id.
fn all_parse(corpus: &Path, dir: &str, formats: &[Format]) -> usize {
    let mut n = 0;
    for path in common::files_under(&corpus.join("scanners").join(dir)) {
        let bytes = std::fs::read(&path).unwrap();
        let e =
            parse(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            formats.contains(&e.format),
            "{}: {:?}",
            path.display(),
            e.format
        );
        for f in &e.findings {
            assert!(
                !f.key.is_empty() && !f.id.is_empty(),
                "{}: {f:?}",
                path.display()
            );
        }
        n += 1;
    }
    n
}

// ---------------------------------------------------------------------------------------------
// SARIF

#[test]
fn every_sarif_sample_parses() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // ls sarif | wc -l
    assert_eq!(all_parse(&corpus, "sarif", &[Format::Sarif]), 27);
}

/// Results that are findings: every result whose `kind` is not pass / notApplicable.
/// python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for r in d['runs']
///   for x in r.get('results') or [] if x.get('kind','fail') not in ('pass','notApplicable')))" F
#[test]
fn sarif_finding_counts() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for (file, want) in [
        ("sarif/codeQL-output.sarif", 72),
        ("sarif/gitleaks_7.5.0.sarif", 8),
        ("sarif/dockle_0_3_15.sarif", 4),
        // 54 results, one of them kind=pass.
        ("sarif/flawfinder.sarif", 53),
        ("sarif/appendix_k.sarif", 1),
        ("sarif/appendix_k1.sarif", 0),
        ("sarif/appendix_k1_double.sarif", 0),
        ("sarif/appendix_k2.sarif", 1),
        ("sarif/appendix_k3.sarif", 1),
        ("sarif/no_runs.sarif", 0),
        ("sarif/suppression_test.sarif", 5),
        (
            "sarif/DefectDojo_django-DefectDojo__2020-12-11_13 42 10__export.sarif",
            510,
        ),
        ("sarif/semgrepowasp-benchmark-sample.sarif", 1768),
        ("sarif/spotbugs.sarif", 56),
        ("sarif/cxf-3.4.6.sarif", 22),
        ("sarif/dependency_check.sarif", 13),
    ] {
        let e = load(&corpus, file);
        assert_eq!(e.findings.len(), want, "{file}");
    }
}

#[test]
fn sarif_flawfinder_pass_result_is_not_a_finding() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // python3 -c "import json; d=json.load(open('flawfinder.sarif'));
    //   print([x['ruleId'] for x in d['runs'][0]['results'] if x.get('kind')=='pass'])"  -> ['FF1013']
    // python3 -c "import json; d=json.load(open('flawfinder.sarif')); print([x.get('kind')
    //   for x in d['runs'][0]['results'] if x['ruleId']=='FF1013'])"  -> 11 x None, 1 x 'pass'
    let e = load(&corpus, "sarif/flawfinder.sarif");
    assert_eq!(e.findings.iter().filter(|f| f.id == "FF1013").count(), 11);
    let f = e.findings.iter().find(|f| f.id == "FF1048").unwrap();
    // rule FF1048 relates to CWE-327 through `relationships` (toolComponent CWE).
    assert_eq!(f.cwes, [327]);
}

#[test]
fn sarif_codeql_first_result() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let e = load(&corpus, "sarif/codeQL-output.sarif");
    assert_eq!(e.format_version.as_deref(), Some("2.1.0"));
    let tool = e.tool.as_ref().unwrap();
    assert_eq!(
        (tool.name.as_str(), tool.version.as_deref()),
        ("CodeQL", Some("2.5.4"))
    );
    let f = &e.findings[0];
    assert_eq!(f.kind, FindingKind::Weakness);
    assert_eq!(f.id, "py/empty-except");
    assert_eq!(f.rule_id.as_deref(), Some("py/empty-except"));
    // ruleIndex 19 → defaultConfiguration.level "note" → low
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.original_severity.as_deref(), Some("note"));
    assert_eq!(f.title.as_deref(), Some("Empty except"));
    let l = f.location.as_ref().unwrap();
    assert_eq!(l.path, "good/db_init.py");
    assert_eq!((l.start_line, l.start_column), (Some(39), Some(5)));
    assert_eq!(f.cwes, [390]);
    assert_eq!(
        f.key,
        "code:py/empty-except|fp:primaryLocationLineHash=9cbc869fbfffeb60:1,\
         primaryLocationStartColumnFingerprint=0"
    );
}

#[test]
fn sarif_gitleaks_findings_are_secrets_without_the_secret() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let e = load(&corpus, "sarif/gitleaks_7.5.0.sarif");
    assert!(e.findings.iter().all(|f| f.kind == FindingKind::Secret));
    // gitleaks 7 writes no ruleId: the tool name stands in.
    assert_eq!(e.findings[0].id, "Gitleaks");
    assert_eq!(
        e.findings[0].location.as_ref().unwrap().path,
        "dojo/unittests/scans/gitlab_secret_detection_report/gitlab_secret_detection_report_1_vuln.json"
    );
    // The matched secrets, from the file's own `properties.offender` values:
    // python3 -c "import json; d=json.load(open('gitleaks_7.5.0.sarif'));
    //   print({x['properties']['offender'] for x in d['runs'][0]['results']})"
    let text = std::fs::read_to_string(corpus.join("scanners/sarif/gitleaks_7.5.0.sarif")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut secrets: Vec<String> = Vec::new();
    for r in doc["runs"][0]["results"].as_array().unwrap() {
        secrets.push(r["properties"]["offender"].as_str().unwrap().to_string());
        for l in r["locations"].as_array().unwrap() {
            let s = l["physicalLocation"]["region"]["snippet"]["text"]
                .as_str()
                .unwrap();
            secrets.push(s.trim().to_string());
        }
    }
    assert!(secrets.iter().any(|s| s == "AKIAIOSFODNN7EXAMPLE"));
    let out = serde_json::to_string(&e).unwrap();
    for s in &secrets {
        assert!(
            !out.contains(s.as_str()),
            "serialized evidence holds secret text {s:?}"
        );
    }
}

#[test]
fn sarif_dockle_is_misconfiguration() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let e = load(&corpus, "sarif/dockle_0_3_15.sarif");
    assert!(
        e.findings
            .iter()
            .all(|f| f.kind == FindingKind::Misconfiguration)
    );
    let f = &e.findings[0];
    assert_eq!(f.id, "CIS-DI-0010");
    assert_eq!(f.severity, Severity::High); // level error
    assert_eq!(
        f.title.as_deref(),
        Some("Do not store credential in ENVIRONMENT vars/files")
    );
    assert!(f.location.is_none());
    assert_eq!(f.key, "code:CIS-DI-0010|");
    let sev: Vec<Severity> = e.findings.iter().map(|f| f.severity).collect();
    assert_eq!(
        sev,
        [Severity::High, Severity::Low, Severity::Low, Severity::Low]
    );
}

#[test]
fn sarif_dependency_scanners_are_vulnerabilities() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let e = load(&corpus, "sarif/cxf-3.4.6.sarif");
    assert!(
        e.findings
            .iter()
            .all(|f| f.kind == FindingKind::Vulnerability)
    );
    let f = &e.findings[0];
    assert_eq!(f.id, "CVE-2008-0732");
    assert_eq!(
        f.rule_id.as_deref(),
        Some("CVE-2008-0732-geronimo-j2ee-management_1.1_spec")
    );
    // rule security-severity "2.1" → low
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.original_severity.as_deref(), Some("2.1"));

    let e = load(&corpus, "sarif/blackduck_nested_fingerprints.sarif");
    let f = &e.findings[0];
    assert_eq!(f.kind, FindingKind::Vulnerability);
    assert_eq!(f.id, "BDSA-2020-1001");
    assert_eq!(f.aliases, ["CVE-2020-11022"]);
    assert_eq!(f.cwes, [79]);
    // Black Duck nests fingerprint values in objects: {"csvRowSha256": {"value": "aaa..."}}
    assert_eq!(f.fingerprint.as_deref(), Some(&*"a".repeat(64)));

    let e = load(&corpus, "sarif/dependency_check.sarif");
    assert!(
        e.findings
            .iter()
            .all(|f| f.kind == FindingKind::Vulnerability)
    );
}

#[test]
fn sarif_appendix_k_message_strings_base_ids_and_suppression() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for file in ["sarif/appendix_k.sarif", "sarif/appendix_k4.sarif"] {
        let e = load(&corpus, file);
        assert_eq!(e.findings.len(), 1, "{file}");
        let f = &e.findings[0];
        assert_eq!(f.id, "C2001");
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.suppression.as_deref(), Some("suppressed"), "{file}");
        let l = f.location.as_ref().unwrap();
        // SRCROOT = " src/" under PROJECTROOT = file://build.example.com/work/
        assert_eq!(l.path, "build.example.com/work/src/collections/list.h");
        assert_eq!(l.start_line, Some(15));
    }
    let e = load(&corpus, "sarif/appendix_k.sarif");
    assert_eq!(
        e.findings[0].description.as_deref(),
        Some("Variable \"ptr\" was used without being initialized. It was declared [here](0).")
    );
    let tool = e.tool.unwrap();
    assert_eq!(
        (tool.name.as_str(), tool.version.as_deref()),
        ("CodeScanner", Some("2.1.0"))
    );

    let e = load(&corpus, "sarif/appendix_k2.sarif");
    assert_eq!(
        e.findings[0].description.as_deref(),
        Some("Variable \"count\" was used without being initialized.")
    );
    // No originalUriBaseIds: the relative uri is kept.
    assert_eq!(
        e.findings[0].location.as_ref().unwrap().path,
        "src/collections/list.cpp"
    );

    // Only a logical location.
    let e = load(&corpus, "sarif/appendix_k3.sarif");
    let l = e.findings[0].location.as_ref().unwrap();
    assert_eq!(l.resource.as_deref(), Some("Example.Worker.DoWork"));
    assert_eq!(e.findings[0].severity, Severity::Medium);
}

#[test]
fn sarif_suppressions() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // python3 -c "import json; d=json.load(open(F)); print([(x['ruleId'], x.get('suppressions'))
    //   for x in d['runs'][0]['results']])"
    let e = load(&corpus, "sarif/suppression_test.sarif");
    let got: Vec<(&str, bool)> = e
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.suppression.is_some()))
        .collect();
    assert_eq!(
        got,
        [
            ("TST0001", true),
            ("TST0002", true),
            ("TST0003", true),
            ("TST0004", false),
            ("TST0005", false), // "suppressions": []
        ]
    );
    assert_eq!(
        e.findings[3].location.as_ref().unwrap().path,
        "C:/code/file4.c"
    );
    let e = load(&corpus, "sarif/SuppressionTestCurrent.sarif");
    assert_eq!(
        e.findings
            .iter()
            .filter(|f| f.suppression.is_some())
            .count(),
        3
    );
}

#[test]
fn sarif_semgrep_word_security_severity_and_spotbugs_message_ids() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // Semgrep (GitLab rules) writes "security-severity": "MEDIUM".
    let e = load(&corpus, "sarif/issue_10191.json");
    assert_eq!(e.findings.len(), 77);
    assert!(e.findings.iter().all(|f| f.severity != Severity::Unknown));
    let e = load(&corpus, "sarif/spotbugs.sarif");
    let f = &e.findings[0];
    assert_eq!(
        f.description.as_deref(),
        Some("Hard coded reference to an absolute pathname in Boot.main(String[]).")
    );
    assert_eq!(f.location.as_ref().unwrap().path, "Boot.java");
    assert_eq!(f.key, "code:DMI_HARDCODED_ABSOLUTE_FILENAME|Boot.java:23");
}

// ---------------------------------------------------------------------------------------------
// Semgrep

#[test]
fn every_semgrep_sample_parses() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // ls semgrep | wc -l
    assert_eq!(all_parse(&corpus, "semgrep", &[Format::SemgrepJson]), 16);
}

#[test]
fn semgrep_counts_and_fields() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // python3 -c "import json,sys; d=json.load(open(sys.argv[1]));
    //   print(len(d.get('results', d.get('vulns', []))))" F
    for (file, want) in [
        ("semgrep/many_findings.json", 3),
        ("semgrep/many_vulns.json", 48),
        ("semgrep/empty.json", 0),
        ("semgrep/fingerprint_test.json", 2),
        ("semgrep/semgrep_version_1_30_0_line_26.json", 5),
        ("semgrep/sca-deployments-vulns.json", 22),
    ] {
        assert_eq!(load(&corpus, file).findings.len(), want, "{file}");
    }

    let e = load(&corpus, "semgrep/many_findings.json");
    let f = &e.findings[0];
    let rule = "java.lang.security.audit.cbc-padding-oracle.cbc-padding-oracle";
    let path = "src/main/java/org/owasp/benchmark/testcode/BenchmarkTest02194.java";
    assert_eq!(f.kind, FindingKind::Weakness);
    assert_eq!(f.id, rule);
    assert_eq!(f.rule_id.as_deref(), Some(rule));
    assert_eq!(f.severity, Severity::Medium); // WARNING
    assert_eq!(f.original_severity.as_deref(), Some("WARNING"));
    let l = f.location.as_ref().unwrap();
    assert_eq!(
        (l.path.as_str(), l.start_line, l.start_column),
        (path, Some(64), Some(4))
    );
    assert_eq!(f.cwes, [696]); // "CWE-696: Incorrect Behavior Order"
    assert_eq!(f.key, format!("code:{rule}|{path}:64")); // no fingerprint in this file
    assert_eq!(
        f.references,
        ["https://capec.mitre.org/data/definitions/463.html"]
    );

    // "requires login" is a placeholder, not a fingerprint.
    let e = load(&corpus, "semgrep/fingerprint_test.json");
    assert!(e.findings.iter().all(|f| f.fingerprint.is_none()));
    assert_eq!(
        e.findings[0].key,
        "code:python.lang.security.audit.dangerous-subprocess-use-tainted-env-args.\
         dangerous-subprocess-use-tainted-env-args|sample/brute.py:31"
    );
    // A real fingerprint is the key.
    let e = load(&corpus, "semgrep/semgrep_version_1_30_0_line_26.json");
    let fp = "f900d4624c2a2c2cae7cb9c94c4fb9df53a242700f19122be398d33598deb554a3fa3af3ba3864af\
              95c90694505624e04e9e1c86fb96338f1feb40bd8b07ef2e_0";
    assert_eq!(e.findings[0].fingerprint.as_deref(), Some(fp));
    assert_eq!(
        e.findings[0].key,
        format!(
            "code:go.lang.security.audit.net.formatted-template-string.formatted-template-string\
             |fp:fingerprint={fp}"
        )
    );
    assert_eq!(e.findings[0].cwes, [79]);
    assert_eq!(e.tool.as_ref().unwrap().version.as_deref(), Some("1.30.0"));
}

#[test]
fn semgrep_supply_chain_vulns() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let e = load(&corpus, "semgrep/sca-deployments-vulns.json");
    assert!(
        e.findings
            .iter()
            .all(|f| f.kind == FindingKind::Vulnerability)
    );
    // python3 -c "import json; v=json.load(open('sca-deployments-vulns.json'))['vulns'][0];
    //   print(v['advisory']['references']['cveIds'], v['matchedDependency'],
    //   v['dependencyFileLocation']['startLine'], v['advisory']['severity'])"
    let f = &e.findings[0];
    assert_eq!(f.id, "CVE-2023-1428");
    assert_eq!(f.aliases, ["ssc-82207871-bbda-49be-b1af-49fd927a2f93"]);
    assert_eq!(f.severity, Severity::High);
    let c = f.component.as_ref().unwrap();
    assert_eq!(
        (c.name.as_str(), c.version.as_deref()),
        ("grpcio", Some("1.47.0"))
    );
    assert_eq!(f.location.as_ref().unwrap().start_line, Some(222));
    assert_eq!(f.key, "vuln:CVE-2023-1428|grpcio@1.47.0");
    assert_eq!(f.fixed_versions, ["1.53.0"]);
    assert_eq!(f.cwes, [617]);
    // The last one is url-parse, CRITICAL, triage status CLOSED.
    let last = e.findings.last().unwrap();
    assert_eq!(last.id, "CVE-2022-0686");
    assert_eq!(last.severity, Severity::Critical);
    assert!(last.suppression.is_some());
}

// ---------------------------------------------------------------------------------------------
// ZAP

/// Findings of a ZAP XML report: alertitems × instances (1 for an alertitem without instances).
/// python3 -c "import xml.etree.ElementTree as ET,sys; t=ET.parse(sys.argv[1]).getroot();
///   print(sum(len(a.findall('instances/instance')) or 1 for a in t.iter('alertitem')))" F
#[test]
fn zap_counts() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for (file, want) in [
        ("zap/some_2.9.0.xml", 17),
        ("zap/zap_2.16.1_with_req_resp.xml", 13),
        ("zap/empty_2.9.0.xml", 0),
        ("zap/dvwa_baseline_dojo.xml", 124),
        ("zap/juicy2.xml", 86),
        ("zap/zap-results-first-scan.xml", 130),
        ("zap/zap-xml-plus-format.xml", 1),
    ] {
        assert_eq!(load(&corpus, file).findings.len(), want, "{file}");
    }
    // ls zap | wc -l
    assert_eq!(all_parse(&corpus, "zap", &[Format::ZapXml]), 17);
}

#[test]
fn zap_fields() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let e = load(&corpus, "zap/some_2.9.0.xml");
    let tool = e.tool.as_ref().unwrap();
    assert_eq!(
        (tool.name.as_str(), tool.version.as_deref()),
        ("ZAP", Some("2.9.0"))
    );
    let f = &e.findings[0];
    assert_eq!(f.kind, FindingKind::Dast);
    assert_eq!(f.id, "10011");
    assert_eq!(f.title.as_deref(), Some("Cookie Without Secure Flag"));
    assert_eq!(f.severity, Severity::Low); // riskcode 1
    assert_eq!(f.original_severity.as_deref(), Some("Low (Medium)"));
    assert_eq!(f.cwes, [614]);
    let ep = f.endpoint.as_ref().unwrap();
    assert_eq!(
        (ep.url.as_str(), ep.method.as_deref(), ep.param.as_deref()),
        ("https://mainsite.com", Some("GET"), Some("opvc"))
    );
    assert_eq!(f.key, "dast:10011|GET https://mainsite.com|opvc");
    // `&lt;p&gt;` in the XML is `<p>` in the description.
    assert!(
        f.description
            .as_deref()
            .unwrap()
            .starts_with("<p>A cookie has been set without the secure flag")
    );

    let e = load(&corpus, "zap/zap_2.16.1_with_req_resp.xml");
    let f = &e.findings[0];
    assert_eq!(f.id, "10111");
    assert_eq!(f.severity, Severity::Info); // riskcode 0
    let ep = f.endpoint.as_ref().unwrap();
    assert_eq!(ep.method.as_deref(), Some("POST"));
    assert_eq!(ep.param.as_deref(), Some("user_identifier"));
    // Request/response dumps are not kept.
    let out = serde_json::to_string(&e).unwrap();
    assert!(!out.contains("user-agent"), "request headers leaked");
}

// ---------------------------------------------------------------------------------------------
// Checkov

#[test]
fn checkov_samples() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // ls checkov | wc -l
    assert_eq!(all_parse(&corpus, "checkov", &[Format::CheckovJson]), 6);
    // python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d=d if isinstance(d,list)
    //   else [d]; print(sum(len((r.get('results') or {}).get('failed_checks') or []) for r in d))" F
    for (file, want) in [
        ("checkov/checkov-report-0-vuln.json", 0),
        ("checkov/checkov-report-1-vuln.json", 1),
        ("checkov/checkov-report-many-vuln.json", 3),
        ("checkov/checkov-report-multiple-check_type.json", 13),
        ("checkov/checkov-report-severity.json", 4),
        ("checkov/checkov2-report-0-vuln.json", 0),
    ] {
        let e = load(&corpus, file);
        assert_eq!(e.findings.len(), want, "{file}");
        assert!(
            e.findings
                .iter()
                .all(|f| f.kind == FindingKind::Misconfiguration)
        );
    }
    let e = load(&corpus, "checkov/checkov-report-many-vuln.json");
    let f = &e.findings[0];
    assert_eq!(f.id, "CKV_AZURE_41");
    assert_eq!(f.severity, Severity::Unknown); // no severity field
    assert_eq!(
        f.title.as_deref(),
        Some("Ensure the key vault is recoverable")
    );
    let l = f.location.as_ref().unwrap();
    assert_eq!(
        (
            l.path.as_str(),
            l.start_line,
            l.end_line,
            l.resource.as_deref()
        ),
        (
            "file_path",
            Some(1),
            Some(16),
            Some("azurerm_key_vault.main")
        )
    );
    assert_eq!(f.key, "code:CKV_AZURE_41|file_path:1");

    let e = load(&corpus, "checkov/checkov-report-severity.json");
    let f = &e.findings[0];
    assert_eq!(
        (f.id.as_str(), f.severity),
        ("CKV_GCP_29", Severity::Medium)
    );
    assert_eq!(f.aliases, ["BC_GCP_GCS_2"]);
    assert_eq!(f.key, "code:CKV_GCP_29|/gcs.tf:1");
    assert_eq!(e.tool.as_ref().unwrap().version.as_deref(), Some("2.2.34"));
}

// ---------------------------------------------------------------------------------------------
// Bandit

#[test]
fn bandit_samples() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // ls bandit | wc -l
    assert_eq!(all_parse(&corpus, "bandit", &[Format::BanditJson]), 5);
    // python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['results']))" F
    // Secrets: hard-coded password checks B105-B107, counted with
    // python3 -c "import json,sys; print(sum(r['test_id'] in ('B105','B106','B107') for r in json.load(open(sys.argv[1]))['results']))" F
    for (file, want, secrets) in [
        ("bandit/many_vulns.json", 214, 4),
        ("bandit/dd.json", 47, 0),
        ("bandit/dd2.json", 165, 4),
        ("bandit/one_vuln.json", 1, 0),
        ("bandit/no_vuln.json", 0, 0),
    ] {
        let e = load(&corpus, file);
        assert_eq!(e.findings.len(), want, "{file}");
        let kind_count = |k| e.findings.iter().filter(|f| f.kind == k).count();
        assert_eq!(kind_count(FindingKind::Secret), secrets, "{file}");
        assert_eq!(kind_count(FindingKind::Weakness), want - secrets, "{file}");
    }
    let e = load(&corpus, "bandit/many_vulns.json");
    let f = &e.findings[0];
    assert_eq!(f.id, "B110");
    assert_eq!(f.title.as_deref(), Some("try_except_pass"));
    assert_eq!(f.severity, Severity::Low);
    let l = f.location.as_ref().unwrap();
    // "dojo/benchmark\\views.py": back-slashes normalized.
    assert_eq!(
        (l.path.as_str(), l.start_line, l.end_line),
        ("dojo/benchmark/views.py", Some(26), Some(27))
    );
    assert_eq!(f.key, "code:B110|dojo/benchmark/views.py:26");
    assert!(f.cwes.is_empty()); // this Bandit version writes no issue_cwe
}
