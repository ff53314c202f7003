//! deploy/deployment.yaml starts `portcullis serve` with flags this binary has: clap refuses
//! an unknown flag before it gets to `--help`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;

#[test]
fn the_deployment_passes_only_flags_serve_has() {
    let text = std::fs::read_to_string(root().join("deploy/deployment.yaml")).unwrap();
    let doc: serde_json::Value = yaml_serde::from_str(&text).unwrap();
    let args: Vec<String> = doc["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(args[0], "serve");
    let mut with_help = args.clone();
    with_help.push("--help".into());
    let out = portcullis(&with_help);
    assert!(
        out.status.success(),
        "portcullis {}: {}",
        args.join(" "),
        stderr(&out)
    );
    // And an unknown flag is refused the same way (the check can fail).
    let mut bad = args;
    bad.insert(1, "--no-such-flag".into());
    bad.push("--help".into());
    assert!(!portcullis(&bad).status.success());
}
