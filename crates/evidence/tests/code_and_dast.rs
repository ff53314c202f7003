//! Code-analysis, IaC and DAST parsers against the real scanner outputs in the corpus: SARIF,
//! Semgrep, OWASP ZAP, Checkov and Bandit.
//!
//! Every count below was taken independently of the parser, with the python3 command written
//! in the comment above it (run from `corpus/scanners/<folder>`).

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
