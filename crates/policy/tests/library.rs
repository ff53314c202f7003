//! The built-in library: it loads, every rule follows the contract, and every `test_` rule passes.

use portcullis_policy::PolicyBundle;
use portcullis_policy::testing::{TestOutcome, run_tests};

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

#[test]
fn rule_ids_are_unique_and_well_formed() {
    let bundle = PolicyBundle::builtin().unwrap();
    let mut ids: Vec<&str> = bundle.rules().iter().map(|r| r.meta.id.as_str()).collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n);
    assert!(ids.iter().all(|id| id.starts_with("PCL-")), "{ids:?}");
}
