//! Configuration checked against the policy bundle: errors name the file, line and column.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use portcullis_firewall::{Config, Firewall};
use portcullis_policy::PolicyBundle;

fn check(yaml: &str) -> Result<(), String> {
    let config = Config::from_yaml(yaml, "portcullis.yaml").map_err(|e| e.to_string())?;
    Firewall::new(PolicyBundle::builtin().unwrap(), config)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn an_unknown_rule_is_located() {
    let err = check("environments:\n  production: { protected: true }\nrules:\n  PCL-VULN-999:\n    actions: { production: warn }\n").unwrap_err();
    assert!(
        err.starts_with("portcullis.yaml:4:3: rules: no rule PCL-VULN-999"),
        "{err}"
    );
}

#[test]
fn an_unknown_parameter_is_located_and_lists_the_known_ones() {
    let err = check("rules:\n  PCL-VULN-002:\n    params: { severity: [critical] }\n").unwrap_err();
    assert!(
        err.starts_with(
            "portcullis.yaml:2:3: rules: PCL-VULN-002: params: unknown parameter \"severity\""
        ),
        "{err}"
    );
    assert!(err.contains("severities"), "{err}");
}

#[test]
fn a_mistyped_parameter_is_an_error() {
    let err = check("rules:\n  PCL-VULN-002:\n    params: { severities: critical }\n").unwrap_err();
    assert!(
        err.contains("parameter \"severities\" must be a list"),
        "{err}"
    );
    assert!(err.starts_with("portcullis.yaml:2:3:"), "{err}");
}

#[test]
fn a_well_typed_override_is_accepted() {
    check("rules:\n  PCL-VULN-002:\n    params: { severities: [critical] }\n    actions: { dev: off, protected: enforce }\n").unwrap();
}
