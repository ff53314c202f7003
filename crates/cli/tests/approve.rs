//! `portcullis approve` on a local store: the approval PCL-CHG-002 counts, bound to the digest
//! and environment, revocable; an approver the gate is only told about does not count where
//! protected.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use serde_json::Value;

fn code(o: &std::process::Output) -> Option<i32> {
    o.status.code()
}

fn chg002(o: &std::process::Output) -> bool {
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["rule"] == "PCL-CHG-002")
}

#[test]
fn an_approval_on_the_store_counts_and_a_named_approver_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_only(dir.path(), &["PCL-CHG-002", "PCL-CHG-003"]);
    let home = fresh_home();
    let gate = |extra: &[&str]| {
        let mut args = vec![
            "gate",
            "--config",
            config.to_str().unwrap(),
            "--artifact",
            CLEAN_ARTIFACT,
            "--env",
            "production",
            "--evidence",
            "examples/evidence/clean/checkout-api-2.4.1.cdx.json",
            "--requester",
            "alice",
            "--format",
            "json",
        ];
        args.extend(extra);
        portcullis_with_home(&root(), &home, &args)
    };
    // Named on the command line only: asserted, and production does not accept it.
    let o = gate(&["--approver", "bob"]);
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    assert!(chg002(&o));
    // Approved for another environment: still not.
    let approve = |extra: &[&str]| {
        let mut args = vec!["approve", "--reason", "reviewed", "--by", "dana"];
        args.extend(extra);
        portcullis_with_home(&root(), &home, &args)
    };
    let o = approve(&["--artifact", CLEAN_ARTIFACT, "--env", "staging"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(chg002(&gate(&[])));
    // Approved for this digest and environment: counted.
    let o = approve(&["--artifact", CLEAN_ARTIFACT, "--env", "production"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let id = out
        .split_whitespace()
        .find(|w| w.starts_with("apr_"))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let o = gate(&[]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    // The requester approving their own request does not count.
    let o = portcullis_with_home(
        &root(),
        &home,
        &[
            "gate",
            "--config",
            config.to_str().unwrap(),
            "--artifact",
            CLEAN_ARTIFACT,
            "--env",
            "production",
            "--evidence",
            "examples/evidence/clean/checkout-api-2.4.1.cdx.json",
            "--requester",
            "dana",
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    assert!(chg002(&o));
    // Revoked: no longer.
    let o = approve(&["--revoke", &id]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(chg002(&gate(&[])));
    // Bad input: a clear error, exit 2.
    let o = approve(&["--artifact", "shop/api:latest", "--env", "production"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("sha256:"), "{}", stderr(&o));
}
