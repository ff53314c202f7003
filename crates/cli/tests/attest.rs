//! `portcullis attest verify`: exit 0 verified, 1 not verified (with the reason), 2 unreadable
//! input.

mod common;

use common::{fixtures, portcullis, stderr, stdout};

const ARTIFACT: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn attest(file: &str, artifact: &str, keys: &str, extra: &[&str]) -> std::process::Output {
    let dir = fixtures().join("attest");
    let file = dir.join(file);
    let keys = dir.join(keys);
    let mut args = vec![
        "attest".to_owned(),
        "verify".to_owned(),
        file.display().to_string(),
        "--artifact".to_owned(),
        artifact.to_owned(),
        "--trusted-keys".to_owned(),
        keys.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    portcullis(&args)
}

#[test]
fn a_verified_attestation_exits_0_with_its_facts() {
    let o = attest("provenance.dsse.json", ARTIFACT, "trusted", &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("verified for sha256:aaaa"), "{out}");
    assert!(out.contains("signed by release"), "{out}");
    assert!(
        out.contains("builder: https://ci.example/builder@v1"),
        "{out}"
    );

    let o = attest(
        "provenance.dsse.json",
        ARTIFACT,
        "trusted",
        &["--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["results"][0]["signer"], "release");
    assert_eq!(
        v["results"][0]["provenance"]["source_repository"],
        "https://git.example/acme/app"
    );
}

#[test]
fn a_failed_attestation_exits_1_with_the_reason() {
    let o = attest("tampered.dsse.json", ARTIFACT, "trusted", &[]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("NOT verified: bad signature"),
        "{}",
        stdout(&o)
    );

    let other = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let o = attest(
        "provenance.dsse.json",
        other,
        "trusted",
        &["--format", "json"],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["results"][0]["failure"], "digest_mismatch");
    assert_eq!(v["results"][0]["provenance"], serde_json::Value::Null);

    let o = attest(
        "provenance.dsse.json",
        ARTIFACT,
        "trusted",
        &["--threshold", "2"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("below threshold"), "{}", stdout(&o));
}

#[test]
fn unreadable_input_exits_2() {
    // A missing file.
    let o = attest("missing.json", ARTIFACT, "trusted", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Not JSON.
    let o = attest("README.md", ARTIFACT, "trusted", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not JSON"), "{}", stderr(&o));
    // No usable key in the directory.
    let empty = tempfile::tempdir().unwrap();
    let o = attest(
        "provenance.dsse.json",
        ARTIFACT,
        &empty.path().display().to_string(),
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no usable trusted key"),
        "{}",
        stderr(&o)
    );
    // A bad artifact digest.
    let o = attest("provenance.dsse.json", "sha256:abc", "trusted", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
