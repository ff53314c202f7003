//! `portcullis init` as a newcomer runs it: the file it writes is the one `gate` picks up
//! (`./portcullis.yaml`), it makes the first environment usable while production stays strict,
//! it never overwrites a file silently, and its questions take piped answers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

const ARTIFACT: &str = "registry.example.com/shop/checkout-api@sha256:1b7e2c4d6f8a0b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c";

/// A gate in `dir` (so `./portcullis.yaml` is found there) on the clean example evidence.
fn gate_in(dir: &Path, env: &str) -> std::process::Output {
    let r = root();
    let evidence = r.join("examples/evidence/clean");
    portcullis_in(
        dir,
        &[
            "gate",
            "--artifact",
            ARTIFACT,
            "--env",
            env,
            "--time",
            "2026-11-23T12:00:00Z",
            "--evidence",
            evidence.to_str().unwrap(),
            "--format",
            "json",
        ],
    )
}

fn enforced_rules(o: &std::process::Output) -> Vec<String> {
    let d: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(o), stderr(o)));
    d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_written_file_lets_dev_through_and_keeps_production_strict() {
    let dir = fresh_home();
    // Without a configuration every environment is protected: the newcomer's first gate in
    // dev is denied (the story).
    let before = gate_in(&dir, "dev");
    assert_eq!(before.status.code(), Some(1), "{}", stderr(&before));
    assert!(
        stderr(&before).contains("`portcullis init` writes a portcullis.yaml"),
        "the gate must point a newcomer at init: {}",
        stderr(&before)
    );

    let o = portcullis_in(&dir, &["init", "--no-input"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Wrote portcullis.yaml"), "{out}");
    assert!(out.contains("portcullis gate --env dev"), "{out}");
    assert!(out.contains("portcullis policy list"), "{out}");
    for env in ["dev", "staging", "production"] {
        assert!(out.contains(&format!("  {env} ")), "{out}");
    }
    let text = std::fs::read_to_string(dir.join("portcullis.yaml")).unwrap();
    assert!(
        text.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
            > 20
    );

    let dev = gate_in(&dir, "dev");
    assert_eq!(
        dev.status.code(),
        Some(0),
        "dev must be allowed with the written file: {}\n{}",
        stderr(&dev),
        enforced_rules(&dev).join(", ")
    );
    let prod = gate_in(&dir, "production");
    assert_eq!(prod.status.code(), Some(1), "{}", stderr(&prod));
    let rules = enforced_rules(&prod);
    assert!(rules.iter().any(|r| r == "PCL-CHG-002"), "{rules:?}");
    assert!(rules.iter().any(|r| r == "PCL-CHG-004"), "{rules:?}");

    // `policy list` reads it as declared.
    let list = portcullis_in(&dir, &["policy", "list", "--format", "json"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let rules: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let chg2 = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "PCL-CHG-002")
        .unwrap();
    assert_eq!(
        chg2["params"]["environments"]["configured"],
        serde_json::json!(["production"])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_existing_file_is_never_overwritten_without_force() {
    let dir = fresh_home();
    let file = dir.join("portcullis.yaml");
    std::fs::write(&file, "# mine\n").unwrap();
    let o = portcullis_in(&dir, &["init", "--no-input"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("exists already"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# mine\n");

    let o = portcullis_in(&dir, &["init", "--no-input", "--force", "--env", "qa,live"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"live\":\n"), "{text}");

    // A bad flag is refused before anything is written.
    let other = dir.join("other.yaml");
    let o = portcullis_in(
        &dir,
        &[
            "init",
            "--no-input",
            "--env",
            "dev,prod",
            "--approval",
            "production",
            "--output",
            other.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("\"production\" is not one of the environments"),
        "{}",
        stderr(&o)
    );
    assert!(!other.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn questions_take_piped_answers() {
    let dir = fresh_home();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["init", "--interactive", "--output", "gate.yaml"])
        .current_dir(&dir)
        .env_remove("PORTCULLIS_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sandbox, prod\n\nnone\nn\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let prompts = stderr(&o);
    assert!(prompts.contains("Environments, in promotion order [dev, staging, production]"));
    assert!(
        prompts.contains("Protected environments (their rules enforce: violations deny) [prod]")
    );
    assert!(stdout(&o).contains("--config gate.yaml"), "{}", stdout(&o));
    let config = std::fs::read_to_string(dir.join("gate.yaml")).unwrap();
    let y: serde_json::Value = yaml_serde::from_str(&config).unwrap();
    assert_eq!(y["environments"]["sandbox"]["protected"], false);
    assert_eq!(y["environments"]["prod"]["protected"], true);
    assert_eq!(
        y["rules"]["PCL-CHG-002"]["params"]["environments"],
        serde_json::json!([])
    );
    assert_eq!(
        y["rules"]["PCL-CHG-004"]["params"]["order"],
        serde_json::json!({})
    );
    let _ = std::fs::remove_dir_all(&dir);
}
