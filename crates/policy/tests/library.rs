//! The built-in library: it loads, every rule follows the contract, and every `test_` rule passes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use portcullis_policy::testing::{TestOutcome, run_tests};
use portcullis_policy::{PolicyBundle, PolicyError, PolicySource};

#[test]
fn every_library_test_passes_and_every_rule_has_tests() {
    let bundle = PolicyBundle::builtin().unwrap();
    let results = run_tests(bundle.sources()).unwrap();
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.outcome != TestOutcome::Pass)
        .map(|r| format!("{} ({}): {:?}", r.name, r.file, r.outcome))
        .collect();
    assert!(
        failed.is_empty(),
        "failing Rego tests:\n{}",
        failed.join("\n")
    );
    for rule in bundle.rules() {
        let prefix = format!("data.{}.test_", rule.package);
        let n = results
            .iter()
            .filter(|r| r.name.starts_with(&prefix))
            .count();
        assert!(
            n >= 2,
            "{} ({}) has {n} test_ rules; each rule needs at least one that fires and one that does not",
            rule.meta.id,
            rule.package
        );
    }
}

/// The `"id"` of the `metadata := {...}` block of each rule file under `library/`, read from
/// the files themselves (not through the loader, which refuses a duplicate before a test could
/// see one): (id, file).
fn library_ids_on_disk() -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rego")
                && !p.to_string_lossy().ends_with("_test.rego")
            {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("library"),
        &mut files,
    );
    let mut ids = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        if !text.contains("\npackage portcullis.rules.")
            && !text.starts_with("package portcullis.rules.")
        {
            continue;
        }
        let metadata = text
            .split_once("\nmetadata := {")
            .and_then(|(_, rest)| rest.split_once("\n}"))
            .map(|(block, _)| block)
            .unwrap_or_else(|| panic!("{}: no `metadata := {{ ... }}` block", file.display()));
        let id = metadata
            .lines()
            .find_map(|l| l.trim().strip_prefix("\"id\": \""))
            .and_then(|rest| rest.split_once('"'))
            .map(|(id, _)| id.to_string())
            .unwrap_or_else(|| panic!("{}: metadata has no \"id\"", file.display()));
        ids.push((id, file));
    }
    ids
}

#[test]
fn rule_ids_are_unique_and_well_formed() {
    let on_disk = library_ids_on_disk();
    let mut files_by_id: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (id, file) in &on_disk {
        files_by_id
            .entry(id)
            .or_default()
            .push(file.display().to_string());
    }
    let twice: Vec<_> = files_by_id.iter().filter(|(_, f)| f.len() > 1).collect();
    assert!(twice.is_empty(), "rule ids used more than once: {twice:?}");
    assert!(
        files_by_id.keys().all(|id| id.starts_with("PCL-")),
        "{:?}",
        files_by_id.keys()
    );
    // The files read here are the rules the loader finds: the check above covers them all.
    let bundle = PolicyBundle::builtin().unwrap();
    let loaded: Vec<&str> = bundle.rules().iter().map(|r| r.meta.id.as_str()).collect();
    assert_eq!(loaded, files_by_id.keys().copied().collect::<Vec<_>>());
}

#[test]
fn a_bundle_with_a_rule_id_used_twice_is_refused_with_a_clear_error() {
    let mut sources = PolicyBundle::builtin_sources();
    let secret = sources
        .iter()
        .find(|s| s.path == "builtin/code/secret.rego")
        .unwrap()
        .text
        .replace(
            "package portcullis.rules.code.secret",
            "package portcullis.rules.team.secret_copy",
        );
    assert!(secret.contains("\"id\": \"PCL-CODE-002\""));
    sources.push(PolicySource {
        path: "team/secret_copy.rego".into(),
        text: secret,
    });
    match PolicyBundle::from_sources(sources) {
        Err(PolicyError::Rule { rule, message, .. }) => {
            assert!(
                rule == "portcullis.rules.team.secret_copy"
                    || rule == "portcullis.rules.code.secret",
                "{rule}"
            );
            assert_eq!(message, "rule id PCL-CODE-002 is used twice");
        }
        other => panic!("expected a duplicate-id error, got {other:?}"),
    }
}

/// The dependency analysis (`portcullis_policy::deps`) follows every rule of the library (none
/// is "reads anything", which would make it never reused), and finds what the rule files read
/// — with what regorus evaluates along: every rule of `portcullis.lib` and the packages under
/// it (`portcullis.lib.slsa` reads the artifact and the attestations) for a rule that uses lib.
#[test]
fn every_library_rule_has_known_input_reads() {
    let bundle = PolicyBundle::builtin().unwrap();
    let mut reading_context = BTreeSet::new();
    for rule in bundle.rules() {
        let reads = rule
            .reads
            .as_ref()
            .unwrap_or_else(|| panic!("{}: reads not followed", rule.meta.id));
        eprintln!("{}: {reads:?}", rule.meta.id);
        if reads.contains("context") {
            reading_context.insert(rule.meta.id.as_str());
        }
    }
    let read = |id: &str| bundle.rule(id).unwrap().reads.clone().unwrap();
    let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        read("PCL-VULN-001"),
        set(&["advisories", "artifact", "attestations"])
    );
    assert_eq!(
        read("PCL-VULN-002"),
        set(&["artifact", "attestations", "findings"])
    );
    assert_eq!(
        read("PCL-LIC-001"),
        set(&["artifact", "attestations", "components"])
    );
    assert_eq!(read("PCL-EXPO-001"), set(&["exposures"]));
    // Only these read the time or the approvals: every other rule's result is reused by the
    // next decision on the same evidence and artifact in the same environment.
    assert_eq!(
        reading_context,
        [
            "PCL-CHG-001",
            "PCL-CHG-002",
            "PCL-CHG-003",
            "PCL-EVID-001",
            "PCL-VULN-003"
        ]
        .into_iter()
        .collect::<BTreeSet<_>>()
    );
}

/// The built-in library alone is not checked against an empty input at every load (its rules
/// are checked here instead): no rule of it fails there.
#[test]
fn every_library_rule_evaluates_on_an_empty_input() {
    let bundle = PolicyBundle::builtin().unwrap();
    bundle.check_on_empty_input().unwrap();
    // And a broken rule among users' files is still refused at load.
    let mut sources = PolicyBundle::builtin_sources();
    sources.push(PolicySource {
        path: "team/broken.rego".into(),
        text: "package portcullis.rules.team.broken\nmetadata := {\"id\": \"TEAM-001\", \"title\": \"t\", \
               \"category\": \"quality\", \"severity\": \"low\", \"actions\": {}, \"controls\": {}, \
               \"remediation\": \"r\"}\nviolation contains v if { v := no_such_function(1) }\n"
            .into(),
    });
    let err = PolicyBundle::from_sources(sources).unwrap_err().to_string();
    assert!(err.contains("team/broken.rego"), "{err}");
}
