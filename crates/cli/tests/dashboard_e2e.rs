//! The dashboard in a real browser: a real `portcullis serve` on a temporary store, seeded
//! through the CLI and the API with a Log4Shell denial (the corpus's advisory and a real Grype
//! CycloneDX SBOM of log4j-core 2.13.2), then `crates/server/tests/e2e/dashboard.mjs` drives
//! Debian's chromium with playwright-core through the acceptance scenario: log in, see the
//! denial on the overview, open it, grant exceptions as an approver, see the re-gated decision
//! allowed with the exceptions listed, and export the report as PDF. Then a second build of
//! another service, compared with the one that runs (the firewall's real diff fixtures) and
//! with a recorded canary analysis (`verify canary --record` of the regressed example): its
//! decision page shows the diff in words and the canary charts; and the analysis as the HTML
//! page `verify canary --format html` writes.
//! Screenshots are kept under `$PORTCULLIS_E2E_ARTIFACTS`, else
//! `$CARGO_TARGET_DIR/e2e-screenshots` (the path is printed).
//!
//! Needs node, `npm ci` in crates/server/tests/e2e and /usr/bin/chromium (`./scripts/test`
//! installs them under CI); without them it skips with a message, but under CI (CI=true) a
//! skip is a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Two builds of one service, the firewall's diff fixtures (the running one, the candidate).
const DIFF_BASE: &str = "defectdojo/defectdojo-django@sha256:53302007b6bca69dbb20922a2efcf873ff28947732a28bf6b4d33d17006463b5";
const DIFF_CANDIDATE: &str = "defectdojo/defectdojo-django@sha256:b914ffbdf28309f2f5fc46caf1a78bbd90f1e2786dd0f01b69c8b00a07a9d078";

/// Skip (outside CI) or fail (under CI) for want of `what`.
fn missing(what: &str) {
    portcullis_testkit::skip_or_fail(
        "dashboard browser test",
        format_args!("{what} (./scripts/test installs it under CI)"),
    );
}

fn e2e_dir() -> PathBuf {
    root().join("crates/server/tests/e2e")
}

fn screenshots() -> PathBuf {
    if let Some(dir) = std::env::var_os("PORTCULLIS_E2E_ARTIFACTS") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root().join(target)
    };
    target.join("e2e-screenshots")
}

#[test]
fn dashboard_acceptance_in_chromium() {
    let corpus = root().join("../shared/corpus");
    let advisory = corpus.join("advisories/GHSA-jfh8-c2jp-5v3q.osv.json");
    let sbom = corpus.join("scanners/cyclonedx/log4j.json");
    if !advisory.is_file() || !sbom.is_file() {
        return missing(&format!("the corpus is absent ({})", corpus.display()));
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file() {
        return missing(&format!(
            "{chromium} is not installed (apt-get install chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return missing("node is not installed");
    }
    if !e2e_dir().join("node_modules/playwright-core").is_dir() {
        return missing(&format!(
            "playwright-core is not installed (npm ci in {})",
            e2e_dir().display()
        ));
    }

    // The server's state, through the CLI: the Log4Shell advisory and two tokens.
    let home = fresh_home();
    let o = portcullis_with_home(
        &root(),
        &home,
        &["advisory", "add", &advisory.display().to_string()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = |role: &str| {
        let o = portcullis_with_home(
            &root(),
            &home,
            &[
                "token",
                "create",
                "--role",
                role,
                "--name",
                &format!("e2e {role}"),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).trim().to_string()
    };
    let ci = token("ci");
    let approver = token("approver");

    // A canary analysis of the second build (the regressed example), recorded as evidence and
    // as a fact of its decisions in staging; the same analysis as a page of its own.
    let shots = screenshots();
    std::fs::create_dir_all(&shots).unwrap();
    let canary_page = shots.join("verify-canary.html");
    let o = portcullis_with_home(
        &root(),
        &home,
        &[
            "verify",
            "canary",
            "--config",
            "examples/verify/canary-regressed.yaml",
            "--artifact",
            DIFF_CANDIDATE,
            "--env",
            "staging",
            "--record",
            "--format",
            "html",
            "--output",
            &canary_page.display().to_string(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "the regressed canary fails: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("recorded: verification sha256:"),
        "{}",
        stderr(&o)
    );
    let server = Serve::start(&home, &["--config", "examples/portcullis.yaml"]);
    let url = server.url.clone();

    // A pipeline's gate against the server, recorded there: (exit code, decision).
    let local = fresh_home();
    let gate = |artifact: &str, evidence: &[PathBuf]| {
        let mut gate = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PORTCULLIS_") {
                gate.env_remove(k);
            }
        }
        let mut args: Vec<String> = ["gate", "--server", &url, "--artifact", artifact]
            .iter()
            .map(|a| a.to_string())
            .collect();
        args.extend(["--env".into(), "staging".into(), "--evidence".into()]);
        args.extend(evidence.iter().map(|e| e.display().to_string()));
        args.extend(["--format".into(), "json".into()]);
        let o = gate
            .env("PORTCULLIS_HOME", &local)
            .env("PORTCULLIS_TOKEN", &ci)
            .current_dir(root())
            .args(&args)
            .output()
            .expect("run portcullis gate");
        let decision: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("the decision as JSON ({e}): {}", stderr(&o)));
        (o.status.code(), decision)
    };
    let (code, decision) = gate(
        "registry.example.com/shop/checkout-api@sha256:9f3c1d0a8e5b7c2f4a6d8e0b1c3f5a7d9e1b3c5f7a9d1e3b5c7f9a1d3e5b7c9f",
        std::slice::from_ref(&sbom),
    );
    assert_eq!(code, Some(1), "denied: {decision}");
    let id = decision["id"].as_str().expect("a decision id").to_string();
    assert!(
        decision["violations"]
            .as_array()
            .expect("violations")
            .iter()
            .any(|v| v["rule"] == "PCL-VULN-001"),
        "denied for Log4Shell: {decision}"
    );

    // The second service: its running build, then a candidate compared with it.
    let fixtures = root().join("crates/firewall/tests/fixtures/diff");
    let files = |which: &str| -> Vec<PathBuf> {
        ["cdx.xml", "grype.json", "provenance.intoto.jsonl"]
            .iter()
            .map(|ext| fixtures.join(format!("{which}.{ext}")))
            .collect()
    };
    let (_, base) = gate(DIFF_BASE, &files("base"));
    assert_eq!(base["diff"]["baseline"]["state"], "none", "{base}");
    let answer = ureq::Agent::new_with_defaults()
        .post(&format!("{url}/v1/deployments"))
        .header("Authorization", &format!("Bearer {ci}"))
        .send_json(serde_json::json!({"artifact": DIFF_BASE, "environment": "staging"}))
        .expect("record the deployment");
    assert_eq!(answer.status().as_u16(), 201);
    let (_, candidate) = gate(DIFF_CANDIDATE, &files("candidate"));
    assert_eq!(
        candidate["diff"]["baseline"]["state"], "known",
        "{candidate}"
    );
    let candidate_id = candidate["id"].as_str().expect("a decision id").to_string();

    eprintln!("dashboard e2e: screenshots in {}", shots.display());
    let out = Command::new("node")
        .arg("dashboard.mjs")
        .current_dir(e2e_dir())
        .env("PORTCULLIS_URL", &url)
        .env("PORTCULLIS_TOKEN", &approver)
        .env("PORTCULLIS_DECISION", &id)
        .env("PORTCULLIS_DIFF_DECISION", &candidate_id)
        .env("E2E_CANARY_PAGE", &canary_page)
        .env("E2E_SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("run node");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{log}");
    assert!(out.status.success(), "the browser scenario failed:\n{log}");
    assert!(log.contains("e2e: PASSED"), "{log}");
    drop(server);
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&local);
}
