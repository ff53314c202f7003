//! `portcullis diff` and the diff inside decisions, on the real binary: a gate, `deployed`,
//! a gate of the next version (the diff rules fire), the human and JSON reports (snapshots),
//! `--evidence` read as the gate reads it, and what is said when nothing runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const BASE: &str = "defectdojo/defectdojo-django@sha256:53302007b6bca69dbb20922a2efcf873ff28947732a28bf6b4d33d17006463b5";
const CANDIDATE: &str = "defectdojo/defectdojo-django@sha256:b914ffbdf28309f2f5fc46caf1a78bbd90f1e2786dd0f01b69c8b00a07a9d078";

fn fixture(name: &str) -> String {
    format!("crates/firewall/tests/fixtures/diff/{name}")
}

fn evidence(which: &str) -> Vec<String> {
    ["cdx.xml", "grype.json", "provenance.intoto.jsonl"]
        .iter()
        .map(|ext| fixture(&format!("{which}.{ext}")))
        .collect()
}

/// `portcullis ARGS`; gates and diffs trust the demo key the provenance fixtures are signed
/// with (only verified provenance gives the facts the diff compares).
fn run(home: &Path, args: &[String]) -> std::process::Output {
    let mut args = args.to_vec();
    if matches!(args.first().map(String::as_str), Some("gate" | "diff")) {
        args.extend(["--trusted-keys".to_string(), "examples/keys".to_string()]);
    }
    portcullis_with_home(&root(), home, &args)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn gate(config: &Path, artifact: &str, env: &str, which: &str) -> Vec<String> {
    let mut a = args(&[
        "gate",
        "--config",
        &config.display().to_string(),
        "--artifact",
        artifact,
        "--env",
        env,
        "--time",
        TIME,
        "--format",
        "json",
        "--evidence",
    ]);
    a.extend(evidence(which));
    a
}

fn json_of(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\n{}", stdout(o), stderr(o)))
}

/// The state after a gate of 1.14.1, its deployment to production and a gate of 1.15.0.
struct Deployed {
    home: PathBuf,
    _dir: tempfile::TempDir,
    base: Value,
    candidate: Value,
    candidate_stderr: String,
    deployed_at: String,
}

fn deployed() -> Deployed {
    let dir = tempfile::tempdir().unwrap();
    let config = config_only(
        dir.path(),
        &["PCL-DIFF-001", "PCL-DIFF-002", "PCL-DIFF-003"],
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("  PCL-DIFF-001: { params: { severities: [critical, high, medium] } }\n");
    std::fs::write(&config, text).unwrap();
    let home = fresh_home();

    let o = run(&home, &gate(&config, BASE, "production", "base"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let base = json_of(&o);

    let o = run(
        &home,
        &args(&["deployed", "--artifact", BASE, "--env", "production"]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = run(&home, &gate(&config, CANDIDATE, "production", "candidate"));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let candidate = json_of(&o);
    let candidate_stderr = stderr(&o);

    let o = run(
        &home,
        &args(&["inventory", "--env", "production", "--format", "json"]),
    );
    let inv = json_of(&o);
    let deployed_at = inv[0]["deployed_at"].as_str().unwrap().to_string();
    Deployed {
        home,
        _dir: dir,
        base,
        candidate,
        candidate_stderr,
        deployed_at,
    }
}

impl Deployed {
    /// Decision ids and the deployment time change with every run.
    fn redact(&self, s: &str) -> String {
        s.replace(self.base["id"].as_str().unwrap(), "[base decision]")
            .replace(
                self.candidate["id"].as_str().unwrap(),
                "[candidate decision]",
            )
            .replace(&self.deployed_at, "[deployed at]")
    }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

#[test]
fn the_diff_rules_fire_through_gate_after_deployed_and_diff_reports_it() {
    let s = deployed();

    // The first decision: nothing ran in production, and the decision says so.
    assert_eq!(s.base["decision"], "allow");
    assert_eq!(s.base["diff"]["baseline"]["state"], "none");
    assert_eq!(
        s.base["diff"]["baseline"]["reason"],
        "nothing named defectdojo/defectdojo-django is recorded as running in production"
    );
    assert_eq!(s.base["diff"]["changes"], Value::Null);

    // The second: compared with 1.14.1 as recorded, denied by the three diff rules.
    let d = &s.candidate;
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["diff"]["baseline"]["state"], "known");
    assert_eq!(d["diff"]["baseline"]["decision"], s.base["id"]);
    let mut got: Vec<(String, String)> = d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["rule"].as_str().unwrap().to_string(),
                v["key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, String)> = [
        (
            "PCL-DIFF-001",
            "vuln:CVE-2020-12362|pkg:deb/debian/linux-libc-dev@4.19.171-2",
        ),
        ("PCL-DIFF-001", "vuln:CVE-2020-25658|rsa@4.7.2"),
        ("PCL-DIFF-001", "vuln:CVE-2021-22876|curl@7.64.0-4+deb10u1"),
        ("PCL-DIFF-001", "vuln:CVE-2021-22890|curl@7.64.0-4+deb10u1"),
        ("PCL-DIFF-002", "curl@7.64.0-4+deb10u1"),
        ("PCL-DIFF-002", "libpq5@11.10-0+deb10u1"),
        ("PCL-DIFF-003", "source_repo"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
    // The human summary carries the diff in two lines.
    let err = s.redact(&s.candidate_stderr);
    assert!(
        err.contains(
            "  diff against defectdojo/defectdojo-django@sha256:53302007…463b5 (deployed [deployed at]), evidence of decision [base decision]\n  components 1 added, 0 removed, 3 upgraded, 2 downgraded; findings 7 new, 5 fixed; 1 license change; provenance changed (source_repo, source_commit)\n"
        ),
        "{err}"
    );

    // `portcullis diff` on the candidate's recorded evidence: the report and its JSON.
    let o = run(
        &s.home,
        &args(&["diff", "--env", "production", "--artifact", CANDIDATE]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!("diff_human", s.redact(&stdout(&o)));

    let o = run(
        &s.home,
        &args(&[
            "diff",
            "--env",
            "production",
            "--artifact",
            CANDIDATE,
            "--format",
            "json",
        ]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = json_of(&o);
    // Exactly the diff the decision carried.
    assert_eq!(report["diff"], d["diff"]);
    assert_eq!(report["candidate"]["decision"], d["id"]);
    insta::assert_snapshot!("diff_json", s.redact(&stdout(&o)));

    // The same files given with --evidence: the same changes.
    let mut a = args(&[
        "diff",
        "--env",
        "production",
        "--artifact",
        CANDIDATE,
        "--format",
        "json",
        "--evidence",
    ]);
    a.extend(evidence("candidate"));
    let o = run(&s.home, &a);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let given = json_of(&o);
    assert_eq!(given["diff"], d["diff"]);
    assert_eq!(given["candidate"]["decision"], Value::Null);

    // A replay of the recorded decision reproduces it, diff included.
    let id = d["id"].as_str().unwrap();
    let o = run(&s.home, &args(&["decision", "replay", id]));
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn nothing_running_is_said_and_unreadable_evidence_is_an_error() {
    let home = fresh_home();
    let mut a = args(&[
        "diff",
        "--env",
        "staging",
        "--artifact",
        CANDIDATE,
        "--evidence",
    ]);
    a.extend(evidence("candidate"));
    let o = run(&home, &a);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("  baseline   none: nothing named defectdojo/defectdojo-django is recorded as running in staging\n"),
        "{out}"
    );
    assert!(
        out.contains("no comparison: the baseline is none (the diff rules do not run without one)"),
        "{out}"
    );

    // The gate's reading code: the file, the format and the place are named; exit 2.
    let o = run(
        &home,
        &args(&[
            "diff",
            "--env",
            "staging",
            "--artifact",
            CANDIDATE,
            "--evidence",
            "crates/cli/tests/fixtures/truncated.cdx.json",
        ]),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(
            "--evidence crates/cli/tests/fixtures/truncated.cdx.json: CycloneDX JSON: at 1:67:"
        ),
        "{err}"
    );

    // Without --evidence, an artifact with no recorded decision is an error, not an empty diff.
    let o = run(
        &home,
        &args(&["diff", "--env", "staging", "--artifact", CANDIDATE]),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no decision about defectdojo/defectdojo-django@sha256:b914"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
    let _ = std::fs::remove_dir_all(&home);
}
