//! The purl-spec test suite (spec + per-type files) run against `purl::Purl`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;

use portcullis_evidence::purl::Purl;
use serde_json::Value;

fn opt(v: &Value) -> Option<&str> {
    v.as_str()
}

fn qualifiers(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs one case; `Err` says why it failed.
fn run(case: &Value) -> Result<(), String> {
    let ty = case["test_type"].as_str().unwrap_or_default();
    let fail = case["expected_failure"].as_bool().unwrap_or(false);
    let input = &case["input"];
    let expected = &case["expected_output"];
    let built = match ty {
        "parse" | "validate" => Purl::parse(input.as_str().unwrap_or_default()),
        "build" => match input["name"].as_str() {
            None => Err(portcullis_evidence::purl::PurlError("no name".into())),
            Some(name) => Purl::from_parts(
                input["type"].as_str().unwrap_or_default(),
                opt(&input["namespace"]),
                name,
                opt(&input["version"]),
                qualifiers(&input["qualifiers"]),
                opt(&input["subpath"]),
            ),
        },
        other => return Err(format!("unknown test type {other}")),
    };
    match (built, fail) {
        (Err(_), true) => Ok(()),
        (Ok(p), true) => Err(format!("expected failure, got {p}")),
        (Err(e), false) => Err(format!("unexpected error: {e}")),
        (Ok(p), false) => {
            if ty == "parse" {
                let got = serde_json::json!({
                    "type": p.ty(),
                    "namespace": p.namespace(),
                    "name": p.name(),
                    "version": p.version(),
                    "qualifiers": if p.qualifiers().is_empty() { Value::Null } else {
                        serde_json::to_value(p.qualifiers()).unwrap() },
                    "subpath": p.subpath(),
                });
                if &got == expected {
                    Ok(())
                } else {
                    Err(format!("got {got}"))
                }
            } else {
                let got = p.to_string();
                if Some(got.as_str()) == expected.as_str() {
                    Ok(())
                } else {
                    Err(format!("got {got}"))
                }
            }
        }
    }
}

#[test]
fn purl_spec_suite() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut total = 0;
    let mut failures = Vec::new();
    for path in common::files_under(&corpus.join("purl/tests")) {
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for case in doc["tests"].as_array().unwrap() {
            total += 1;
            if let Err(why) = run(case) {
                failures.push(format!(
                    "{}: {} [{}] {}: {why}",
                    path.file_name().unwrap().to_string_lossy(),
                    case["description"].as_str().unwrap_or_default(),
                    case["test_type"].as_str().unwrap_or_default(),
                    case["input"]
                ));
            }
        }
    }
    let passed = total - failures.len();
    for f in &failures {
        println!("FAIL {f}");
    }
    println!("purl-spec: {passed}/{total} passed");
    // Total independently: python3 -c "import json,glob; print(sum(len(json.load(open(f))['tests'])
    //   for f in glob.glob('/work/shared/corpus/purl/tests/**/*.json', recursive=True)))"  -> 586
    assert_eq!(total, 586);
    assert!(
        passed * 100 >= total * 98,
        "purl-spec pass rate {passed}/{total} below 98%"
    );
}
