//! Outputs of current Bandit and Semgrep versions (tests/support/real-tools): the JSON and SARIF
//! forms of one scan say the same thing, keys stay distinct, and no credential leaks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use portcullis_evidence::{Evidence, FindingKind, Format, Limits, parse};

fn read(name: &str) -> Evidence {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/real-tools")
        .join(name);
    parse(&std::fs::read(&path).unwrap(), &Limits::default()).unwrap()
}

/// (rule, path, line, severity, kind) of every finding.
fn facts(e: &Evidence) -> BTreeSet<(String, String, u32, String, FindingKind)> {
    e.findings
        .iter()
        .map(|f| {
            let l = f.location.as_ref().unwrap();
            (
                f.rule_id.clone().unwrap(),
                l.path.clone(),
                l.start_line.unwrap(),
                f.severity.to_string(),
                f.kind,
            )
        })
        .collect()
}

fn distinct_keys(e: &Evidence) -> usize {
    e.findings
        .iter()
        .map(|f| &f.key)
        .collect::<BTreeSet<_>>()
        .len()
}

#[test]
fn bandit_json_and_sarif_agree_and_keep_no_password() {
    let json = read("bandit-1.9.4.json");
    let sarif = read("bandit-1.9.4.sarif");
    assert_eq!(json.format, Format::BanditJson);
    assert_eq!(sarif.format, Format::Sarif);
    // python3 -c "import json; print(len(json.load(open('bandit-1.9.4.json'))['results']))" -> 9
    assert_eq!(json.findings.len(), 9);
    assert_eq!(facts(&json), facts(&sarif));
    assert_eq!(distinct_keys(&json), 9);
    assert_eq!(distinct_keys(&sarif), 9);
    // B105 (hard-coded password string) is a secret, and its message, which quotes the
    // password, is not kept.
    for e in [&json, &sarif] {
        let b105 = e
            .findings
            .iter()
            .find(|f| f.rule_id.as_deref() == Some("B105"))
            .unwrap();
        assert_eq!(b105.kind, FindingKind::Secret);
        let text = serde_json::to_string(e).unwrap();
        assert!(
            !text.contains("hunter2"),
            "the password leaked into the model"
        );
    }
}

#[test]
fn semgrep_json_and_sarif_agree_and_placeholder_fingerprints_are_not_keys() {
    let json = read("semgrep-1.182.0.json");
    let sarif = read("semgrep-1.182.0.sarif");
    assert_eq!(
        json.tool.as_ref().unwrap().version.as_deref(),
        Some("1.182.0")
    );
    // jq '.results | length' semgrep-1.182.0.json -> 2
    assert_eq!(json.findings.len(), 2);
    assert_eq!(facts(&json), facts(&sarif));
    // Semgrep's SARIF writes "requires login" as the matchBasedId fingerprint when logged out:
    // keyed on, every finding of a rule would collapse into one.
    for f in &sarif.findings {
        assert!(!f.key.contains("requires login"), "{}", f.key);
        assert_eq!(f.fingerprint, None);
    }
    let keys = |e: &Evidence| {
        e.findings
            .iter()
            .map(|f| f.key.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(keys(&json), keys(&sarif));
    assert_eq!(
        keys(&json).into_iter().next().unwrap(),
        "code:tmp.python-pickle-loads|app.py:10"
    );
}

#[test]
fn checkov_json_and_sarif_name_the_same_checks() {
    let json = read("checkov-3.3.30.json");
    let sarif = read("checkov-3.3.30.sarif");
    assert_eq!(json.format, Format::CheckovJson);
    // python3 -c "import json; d=json.load(open('checkov-3.3.30.json'));
    //   print(sum(len(r['results']['failed_checks']) for r in d))" -> 36 (kubernetes, dockerfile, terraform)
    assert_eq!(json.findings.len(), 36);
    assert_eq!(sarif.findings.len(), 36);
    let places = |e: &Evidence| {
        e.findings
            .iter()
            .map(|f| {
                let l = f.location.as_ref().unwrap();
                (
                    f.rule_id.clone().unwrap(),
                    l.path.trim_start_matches('/').to_string(),
                    l.start_line,
                )
            })
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(places(&json), places(&sarif));
    assert_eq!(distinct_keys(&json), 36);
    assert!(
        json.findings
            .iter()
            .chain(&sarif.findings)
            .all(|f| f.kind == FindingKind::Misconfiguration)
    );
    // Without a platform key Checkov writes `severity: null` in JSON (unknown, not info) but
    // `level: error` in SARIF: each form is read as the tool wrote it.
    assert!(
        json.findings
            .iter()
            .all(|f| f.severity.to_string() == "unknown")
    );
    assert!(
        sarif
            .findings
            .iter()
            .all(|f| f.severity.to_string() == "high")
    );
    // The privileged pod and the open SSH port are among them.
    let ids: BTreeSet<&str> = json.findings.iter().map(|f| f.id.as_str()).collect();
    assert!(ids.contains("CKV_K8S_16"), "{ids:?}"); // privileged container
    assert!(ids.contains("CKV_AWS_24"), "{ids:?}"); // SSH open to 0.0.0.0/0
}
