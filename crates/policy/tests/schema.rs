//! `schema/policy-input.v1.schema.json` is the JSON Schema of `PolicyInput` as the code defines
//! it. Regenerate after a change with `UPDATE_SCHEMA=1 cargo test -p portcullis-policy --test schema`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

#[test]
fn committed_schema_matches_the_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/policy-input.v1.schema.json");
    let generated =
        serde_json::to_string_pretty(&portcullis_policy::input::schema()).unwrap() + "\n";
    // Under CI the committed file is checked, never rewritten (else this could not fail).
    if std::env::var_os("UPDATE_SCHEMA").is_some() && !portcullis_testkit::under_ci() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date: run UPDATE_SCHEMA=1 cargo test -p portcullis-policy --test schema",
        path.display()
    );
}

#[test]
fn schema_rejects_an_input_without_version() {
    let schema = portcullis_policy::input::schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut input = serde_json::to_value(portcullis_policy::PolicyInput {
        version: "1".into(),
        ..Default::default()
    })
    .unwrap();
    assert!(
        validator.is_valid(&input),
        "{:?}",
        validator
            .iter_errors(&input)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    input.as_object_mut().unwrap().remove("version");
    assert!(!validator.is_valid(&input));
}
