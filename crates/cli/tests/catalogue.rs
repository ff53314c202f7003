//! The catalogue of rule ids and codes: none is used twice, each says what it means, and
//! docs/catalogue.md is exactly what `portcullis catalogue` prints (so each is documented).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;

use common::*;

#[test]
fn every_id_and_code_is_unique_described_and_documented() {
    let o = portcullis(&["catalogue", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let entries: Vec<serde_json::Value> = serde_json::from_str(&stdout(&o)).unwrap();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut kinds = BTreeMap::<String, usize>::new();
    for e in &entries {
        let (kind, id) = (e["kind"].as_str().unwrap(), e["id"].as_str().unwrap());
        *kinds.entry(kind.to_string()).or_default() += 1;
        assert!(!id.trim().is_empty(), "{e}");
        assert!(
            !e["description"].as_str().unwrap().trim().is_empty(),
            "{kind} {id} says nothing of what it means"
        );
        // Exit codes are numbers, a namespace of their own.
        let key = if kind == "exit-code" {
            format!("exit {id}")
        } else {
            id.to_string()
        };
        if let Some(other) = seen.insert(key, kind.to_string()) {
            panic!("{id} is both a {other} and a {kind}");
        }
    }
    // Every family is there: the library's rules, the engine's (admission included), the
    // server's problem codes, evidence errors, attestation failures, exit codes.
    for (kind, at_least) in [
        ("library-rule", 30),
        ("engine-rule", 6),
        ("problem", 13),
        ("evidence-error", 10),
        ("attestation-failure", 16),
        ("exit-code", 3),
    ] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) >= at_least,
            "{kind}: {kinds:?}"
        );
    }
    for id in [
        "PCL-ADM-001",
        "PCL-ADM-002",
        "PCL-ADM-003",
        "PCL-ADM-004",
        "PCL-ENGINE-001",
        "forbidden",
        "no_trust_configured",
        "too-large",
    ] {
        assert!(seen.contains_key(id), "{id} is not in the catalogue");
    }

    let o = portcullis(&["catalogue"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = root().join("docs/catalogue.md");
    let written = std::fs::read_to_string(&doc).unwrap_or_default();
    if std::env::var_os("PORTCULLIS_UPDATE_CATALOGUE").is_some() {
        std::fs::write(&doc, stdout(&o)).unwrap();
        return;
    }
    assert!(
        written == stdout(&o),
        "docs/catalogue.md is not what `portcullis catalogue` prints: regenerate it with \
         PORTCULLIS_UPDATE_CATALOGUE=1 cargo test -p portcullis-cli --test catalogue"
    );
}
