//! The built-in library: it loads, every rule follows the contract, and every `test_` rule passes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
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
