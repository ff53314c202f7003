//! Version ordering and vers ranges against the vers-spec test files, PEP 440's and Debian
//! Policy's own example orderings, and properties of every scheme.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::cmp::Ordering;

use portcullis_evidence::Ecosystem;
use portcullis_evidence::range::{Comparator, VersRange};
use portcullis_evidence::version::{Scheme, compare};
use proptest::prelude::*;
use serde_json::Value;

/// The scheme a vers-spec test file's `input_scheme` names. alpm (pacman's vercmp) is rpm's
/// algorithm; conan, openssl and datetime have no scheme of their own here and use generic.
fn scheme_of(name: &str) -> Scheme {
    match name {
        "alpm" => Scheme::Rpm,
        other => Scheme::from_vers(other).unwrap_or(Scheme::Generic),
    }
}

/// Runs one vers-spec case; `None` when it is of a kind we do not interpret (`from_native`).
fn run_vers_case(case: &Value) -> Option<Result<(), String>> {
    let input = &case["input"];
    let expected = &case["expected_output"];
    let outcome = match case["test_type"].as_str()? {
        "comparison" => {
            let s = scheme_of(input["input_scheme"].as_str()?);
            let (a, b) = (expected[0].as_str()?, expected[1].as_str()?);
            match s.compare(a, b) {
                Ordering::Less => Ok(()),
                o => Err(format!("{a} vs {b}: {o:?}, want Less")),
            }
        }
        "equality" => {
            let s = scheme_of(input["input_scheme"].as_str()?);
            let v = input["versions"].as_array()?;
            let (a, b) = (v[0].as_str()?, v[1].as_str()?);
            let eq = s.compare(a, b) == Ordering::Equal;
            if Some(eq) == expected.as_bool() {
                Ok(())
            } else {
                Err(format!("{a} == {b} is {eq}"))
            }
        }
        "containment" => {
            let vers = input["vers"].as_str()?;
            let v = input["version"].as_str()?;
            match VersRange::parse(vers) {
                Ok(r) if Some(r.contains(v)) == expected.as_bool() => Ok(()),
                Ok(r) => Err(format!("{vers} contains {v}: {}", r.contains(v))),
                Err(e) => Err(e.to_string()),
            }
        }
        "validate" => match VersRange::parse(input.as_str()?) {
            Ok(r) if Some(r.to_string().as_str()) == expected.as_str() => Ok(()),
            Ok(r) => Err(format!("got {r}")),
            Err(e) => Err(e.to_string()),
        },
        "parse" => {
            let got = VersRange::parse_canonical(input.as_str()?);
            let fail = case["expected_failure"].as_bool().unwrap_or(false);
            match (got, fail) {
                (Err(_), true) => Ok(()),
                (Ok(r), true) => Err(format!("expected failure, got {r}")),
                (Err(e), false) => Err(e.to_string()),
                (Ok(r), false) => {
                    let cs: Vec<Value> = r
                        .constraints()
                        .iter()
                        .map(|c| serde_json::json!([c.comparator.as_str(), c.version]))
                        .collect();
                    let got = serde_json::json!({"scheme": r.scheme(), "version_constraints": cs});
                    if &got == expected {
                        Ok(())
                    } else {
                        Err(format!("got {got}"))
                    }
                }
            }
        }
        _ => return None,
    };
    Some(outcome)
}

/// (passed, run, not interpreted, failures) for one vers-spec file.
fn run_vers_file(path: &std::path::Path) -> (usize, usize, usize, Vec<String>) {
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let (mut passed, mut run, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for case in doc["tests"].as_array().unwrap() {
        match run_vers_case(case) {
            None => skipped += 1,
            Some(Ok(())) => {
                run += 1;
                passed += 1;
            }
            Some(Err(e)) => {
                run += 1;
                failures.push(e);
            }
        }
    }
    (passed, run, skipped, failures)
}

#[test]
fn vers_maven_comparisons_all_pass() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (passed, run, _, failures) =
        run_vers_file(&corpus.join("vers/tests/maven_version_cmp_test.json"));
    for f in &failures {
        println!("FAIL maven: {f}");
    }
    println!("vers maven_version_cmp_test: {passed}/{run}");
    // jq '.tests | length' maven_version_cmp_test.json  -> 977
    assert_eq!(run, 977);
    assert_eq!(passed, run, "{failures:#?}");
}

#[test]
fn vers_other_test_files() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut total_passed = 0;
    let mut total_run = 0;
    for path in common::files_under(&corpus.join("vers/tests")) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "maven_version_cmp_test.json" || !name.ends_with(".json") {
            continue;
        }
        let (passed, run, skipped, failures) = run_vers_file(&path);
        for f in failures.iter().take(5) {
            println!("FAIL {name}: {f}");
        }
        println!("vers {name}: {passed}/{run} passed, {skipped} not interpreted");
        total_passed += passed;
        total_run += run;
    }
    println!("vers (other files): {total_passed}/{total_run} passed");
    assert!(total_run > 0);
    assert!(
        total_passed >= MIN_OTHER_VERS_PASSES,
        "{total_passed}/{total_run}"
    );
}

/// Measured with this suite at the time of writing (951 of 987 interpretable cases: alpm,
/// conan, datetime, gentoo and openssl have no faithful scheme here); a drop is a regression.
const MIN_OTHER_VERS_PASSES: usize = 951;

fn assert_ascending(eco: &Ecosystem, order: &[&str]) {
    for (i, a) in order.iter().enumerate() {
        for b in order.iter().skip(i + 1) {
            assert_eq!(compare(eco, a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(compare(eco, b, a), Ordering::Greater, "{b} > {a}");
        }
    }
}

#[test]
fn pep440_example_ordering() {
    // PEP 440, "Summary of permitted suffixes and relative ordering".
    assert_ascending(
        &Ecosystem::Pypi,
        &[
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ],
    );
    // PEP 440 normalization examples.
    for (a, b) in [
        ("1.0a1", "1.0.0a1"),
        ("1.1RC1", "1.1rc1"),
        ("1.0-1", "1.0.post1"),
        ("1.0.a.1", "1.0a1"),
        ("1.0-alpha1", "1.0a1"),
        ("1.0preview2", "1.0rc2"),
        ("1.0.post.1", "1.0.post1"),
        ("1.0-dev-1", "1.0.dev1"),
        ("v1.0", "1.0"),
        ("1.0+ubuntu-1", "1.0+ubuntu.1"),
        ("01.02", "1.2"),
    ] {
        assert_eq!(
            compare(&Ecosystem::Pypi, a, b),
            Ordering::Equal,
            "{a} == {b}"
        );
    }
}

#[test]
fn debian_ordering() {
    // Debian Policy 5.6.12: `~~ < ~~a < ~ < (empty) < a`.
    assert_ascending(&Ecosystem::Deb, &["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"]);
    // dpkg-style cases.
    use Ordering::*;
    for (a, b, want) in [
        ("0:1.0", "1.0", Equal),
        ("1:1.0", "2:0.1", Less),
        ("1:0.1", "9.9", Greater),
        ("1.0", "1.0-0", Equal),
        ("1.0~rc1", "1.0~rc2", Less),
        ("1.0.1", "1.0a", Greater),
        ("1.0+dfsg", "1.0", Greater),
        ("2.30-1", "2.3-1", Greater),
        ("1.0-1ubuntu1", "1.0-1", Greater),
        ("1.0-1~bpo1", "1.0-1", Less),
        ("7.6p2-4", "7.6-0", Greater),
        ("1.0.3-3", "1.0-1", Greater),
        ("1.3", "1.2.2-2", Greater),
        ("0-pre", "0-pree", Less),
        ("1.1.6r2-2", "1.1.6r-1", Greater),
        ("2.6b2-1", "2.6b-2", Greater),
        ("98.1p5-1", "98.1-pre2-b6-2", Less),
        ("0.4a6-2", "0.4-1", Greater),
        ("1:3.0.5+dfsg-1", "1:3.0.5-2", Greater),
        ("2.2~rc-4", "2.2-1", Less),
        ("1.001", "1.1", Equal),
    ] {
        assert_eq!(compare(&Ecosystem::Deb, a, b), want, "{a} vs {b}");
    }
}

#[test]
fn vers_constraints_round_trip() {
    let r = VersRange::parse("vers:maven/>=2.13.0|<2.15.0|>=2.4|<2.12.2|<2.3.1").unwrap();
    assert_eq!(
        r.constraints().first().map(|c| c.comparator),
        Some(Comparator::Lt)
    );
    assert!(r.contains("2.14.1"));
    assert!(!r.contains("2.12.2"));
}

/// Maven is left out: its own algorithm has cycles (see `version::maven`); it is checked on
/// ordinary Maven versions in `maven_is_transitive_on_ordinary_versions`.
const SCHEMES: [Scheme; 10] = [
    Scheme::Semver,
    Scheme::Golang,
    Scheme::Pypi,
    Scheme::Debian,
    Scheme::Rpm,
    Scheme::Alpine,
    Scheme::Gem,
    Scheme::Nuget,
    Scheme::Generic,
    Scheme::Lexicographic,
];

/// Version-like strings: digits, separators and the letters and marks schemes care about.
fn version_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}",
        "v?[0-9]{1,2}(\\.[0-9]{1,2}){0,3}(-|_|\\.|~|\\^|\\+)?(a|b|rc|alpha|beta|pre|post|dev|p|r|sp|ga|final|snapshot|m|cr)?[0-9]{0,2}",
        "[0-9a-z.~^+_:!-]{0,10}",
        "\\PC{0,8}",
    ]
}

/// Numbers, dot-separated, with `-qualifier[N]` or `-N` parts.
const MAVEN_ORDINARY: &str = "[0-9]{1,2}(\\.[0-9]{1,2}){0,3}(-(alpha|beta|milestone|rc|cr|snapshot|ga|final|sp|foo|[0-9]{1,2})[0-9]{0,2}){0,2}";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn compare_is_antisymmetric(a in version_like(), b in version_like()) {
        for s in SCHEMES {
            prop_assert_eq!(s.compare(&a, &b), s.compare(&b, &a).reverse(), "{:?}: {} vs {}", s, a, b);
        }
    }

    #[test]
    fn compare_is_transitive(a in version_like(), b in version_like(), c in version_like()) {
        for s in SCHEMES {
            let mut v = [a.as_str(), b.as_str(), c.as_str()];
            v.sort_by(|x, y| s.compare(x, y));
            let [x, y, z] = v;
            prop_assert!(s.compare(x, y) != Ordering::Greater, "{:?}: {} {}", s, x, y);
            prop_assert!(s.compare(y, z) != Ordering::Greater, "{:?}: {} {}", s, y, z);
            prop_assert!(s.compare(x, z) != Ordering::Greater, "{:?}: {} > {} after sort", s, x, z);
            if s.compare(x, y) == Ordering::Equal && s.compare(y, z) == Ordering::Equal {
                prop_assert_eq!(s.compare(x, z), Ordering::Equal, "{:?}: {} {} {}", s, x, y, z);
            }
            if s.compare(x, y) == Ordering::Less || s.compare(y, z) == Ordering::Less {
                prop_assert_eq!(s.compare(x, z), Ordering::Less, "{:?}: {} {} {}", s, x, y, z);
            }
        }
    }

    #[test]
    fn maven_is_antisymmetric_and_never_panics(a in version_like(), b in version_like()) {
        prop_assert_eq!(Scheme::Maven.compare(&a, &b), Scheme::Maven.compare(&b, &a).reverse());
    }

    #[test]
    fn maven_is_transitive_on_ordinary_versions(
        a in MAVEN_ORDINARY, b in MAVEN_ORDINARY, c in MAVEN_ORDINARY
    ) {
        let s = Scheme::Maven;
        let mut v = [a.as_str(), b.as_str(), c.as_str()];
        v.sort_by(|x, y| s.compare(x, y));
        let [x, y, z] = v;
        prop_assert!(s.compare(x, z) != Ordering::Greater, "{} {} {}", x, y, z);
        if s.compare(x, y) == Ordering::Less || s.compare(y, z) == Ordering::Less {
            prop_assert_eq!(s.compare(x, z), Ordering::Less, "{} {} {}", x, y, z);
        }
    }

    #[test]
    fn vers_parsing_never_panics(s in "vers:[a-z]{1,6}/[0-9a-z.<>=!|*%-]{0,16}", v in version_like()) {
        if let Ok(r) = VersRange::parse(&s) {
            let _ = r.contains(&v);
            let _ = r.to_string();
        }
    }
}
