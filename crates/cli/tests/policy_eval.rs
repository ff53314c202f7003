//! `portcullis policy eval` and `portcullis gate --emit-input`, run as a user runs them: the
//! input a gate writes, evaluated rule by rule, gives exactly the violations the gate reported.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;

/// The rule packages of the built-in library (`portcullis.rules.…`), from its files.
fn library_packages() -> Vec<String> {
    let mut out = BTreeSet::new();
    for entry in walkdir(&root().join("crates/policy/library")) {
        let name = entry.to_string_lossy().to_string();
        if !name.ends_with(".rego") || name.ends_with("_test.rego") {
            continue;
        }
        let text = std::fs::read_to_string(&entry).unwrap();
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("package ")
                && p.starts_with("portcullis.rules.")
            {
                out.insert(p.trim().to_string());
            }
        }
    }
    out.into_iter().collect()
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `policy eval ARGS` in the repository root: exit code, the JSON on stdout (when it is
/// JSON) and stderr.
fn eval(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let mut all = vec!["policy", "eval"];
    all.extend(args);
    let o = portcullis(&all);
    let json = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code(), json, stderr(&o))
}

/// The value of the only expression of the only result.
fn value(json: &serde_json::Value) -> &serde_json::Value {
    let result = json["result"].as_array().expect("a result");
    assert_eq!(result.len(), 1, "{json}");
    &result[0]["expressions"][0]["value"]
}

/// What a violation is, for comparing the engine's and the decision's: key, message and
/// (when the rule states one) severity.
fn identity(v: &serde_json::Value) -> (String, String) {
    (
        v["key"].as_str().unwrap().to_string(),
        v["message"].as_str().unwrap().to_string(),
    )
}

/// Gate with `cmd` (plus `--emit-input`), then evaluate every rule of the library on the
/// emitted input: each rule the environment evaluates gives exactly the violations the
/// decision reports for it (violations, warnings and excepted alike). Returns how many
/// violations were compared.
fn gate_and_reproduce(cmd: Vec<String>, config: &str, environment: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    let decision_file = dir.path().join("decision.json");
    let cmd = with(
        cmd,
        &[
            "--format",
            "json",
            "--output",
            decision_file.to_str().unwrap(),
            "--emit-input",
            input.to_str().unwrap(),
        ],
    );
    let o = portcullis(&cmd);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let decision: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&decision_file).unwrap()).unwrap();
    assert_eq!(decision["errors"], serde_json::json!([]), "{decision}");
    // The input is a PolicyInput for this decision.
    let emitted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
    assert_eq!(emitted["environment"]["name"], environment);
    assert_eq!(
        emitted["artifact"]["digest"],
        decision["artifact"]["digest"]
    );
    // At the decision's time (the input has it to the second), on the firewall's clock
    // unless the request asserted one.
    let decided_at = decision["decided_at"].as_str().unwrap();
    assert_eq!(
        emitted["context"]["time"].as_str().unwrap(),
        format!("{}Z", &decided_at[..19])
    );
    let asserted = cmd.iter().any(|a| a == "--time");
    assert_eq!(
        emitted["context"]["time_source"],
        if asserted { "asserted" } else { "firewall" }
    );

    let mut reported: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let excepted = decision["excepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["violation"]);
    for v in decision["violations"]
        .as_array()
        .unwrap()
        .iter()
        .chain(decision["warnings"].as_array().unwrap())
        .chain(excepted)
    {
        reported
            .entry(v["rule"].as_str().unwrap().to_string())
            .or_default()
            .insert(identity(v));
    }

    // Each rule's action in this environment (an `off` rule is not evaluated by the gate).
    let o = portcullis(&["policy", "list", "--config", config, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let actions: BTreeMap<String, String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let a = r["actions"]
                .get(environment)
                .unwrap_or(&r["actions"]["protected"]);
            (
                r["id"].as_str().unwrap().to_string(),
                a.as_str().unwrap().to_string(),
            )
        })
        .collect();

    // Each rule package of the library with its rule id, from the engine itself.
    let (code, json, err) = eval(&[
        "--config",
        config,
        r#"{concat(".", ["portcullis.rules", a, b]): m.id | m := data.portcullis.rules[a][b].metadata}"#,
    ]);
    assert_eq!(code, Some(0), "{err}");
    let ids: BTreeMap<String, String> = value(&json)
        .as_object()
        .unwrap()
        .iter()
        .map(|(p, id)| (p.clone(), id.as_str().unwrap().to_string()))
        .collect();
    let packages = library_packages();
    assert_eq!(
        ids.keys().cloned().collect::<Vec<_>>(),
        packages,
        "every package of the library"
    );

    let mut compared = 0;
    let mut evaluated = BTreeSet::new();
    for (package, id) in &ids {
        let query = format!("data.{package}.violation");
        let (code, json, err) = eval(&[
            "--config",
            config,
            "--input",
            input.to_str().unwrap(),
            &query,
        ]);
        assert_eq!(code, Some(0), "{query}: {err}");
        let got: BTreeSet<(String, String)> = value(&json)
            .as_array()
            .unwrap_or_else(|| panic!("{query}: a set: {json}"))
            .iter()
            .map(identity)
            .collect();
        if actions.get(id).map(String::as_str) == Some("off") {
            assert!(!reported.contains_key(id), "{id} is off but reported");
            continue;
        }
        evaluated.insert(id.clone());
        let want = reported.get(id).cloned().unwrap_or_default();
        assert_eq!(got, want, "{id} ({query}) in {environment}");
        compared += got.len();
    }
    // Every violation of a library rule in the decision was compared.
    for id in reported.keys().filter(|id| actions.contains_key(*id)) {
        assert!(evaluated.contains(id), "{id} reported but not evaluated");
    }
    compared
}

#[test]
fn emitted_input_gives_the_gates_violations_for_every_rule() {
    let config = example_config();
    // The README's denied run: violations, one excepted.
    let denied = gate_and_reproduce(denied_command(&config.path), &config.path, "staging");
    assert!(denied >= 6, "{denied} violations compared");
    // The README's allowed run: no violation, every rule evaluated on the same input.
    let allowed = gate_and_reproduce(allowed_command(&config.path), &config.path, "production");
    assert_eq!(allowed, 0);
    // On the firewall's clock (no --time) and recorded: the input carries the decision's time.
    let mut clock = denied_command(&config.path);
    let at = clock.iter().position(|a| a == "--time").unwrap();
    clock.drain(at..at + 2);
    let recorded = gate_and_reproduce(clock, &config.path, "staging");
    assert!(recorded >= 6, "{recorded} violations compared");
}

#[test]
fn emit_input_writes_the_decisions_time_and_environment() {
    let config = example_config();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    let o = portcullis(&with(
        denied_command(&config.path),
        &["--what-if", "--emit-input", input.to_str().unwrap()],
    ));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let emitted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
    assert_eq!(emitted["context"]["time"], TIME);
    assert_eq!(emitted["context"]["time_source"], "asserted");
    assert_eq!(emitted["environment"]["protected"], true);
    assert!(emitted["components"].as_array().unwrap().len() >= 5);
    // The advisory is matched in Rust and given to the rules in the input.
    assert!(
        emitted["advisories"]
            .to_string()
            .contains("GHSA-jfh8-c2jp-5v3q"),
        "{}",
        emitted["advisories"]
    );

    // Not with --server: the server builds the input.
    let o = portcullis(&with(
        vec![
            "gate".into(),
            "--artifact".into(),
            DENIED_ARTIFACT.into(),
            "--env".into(),
            "staging".into(),
            "--evidence".into(),
            "examples/evidence/trivy-image.json".into(),
        ],
        &[
            "--server",
            "http://127.0.0.1:9",
            "--emit-input",
            input.to_str().unwrap(),
        ],
    ));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--emit-input cannot be used with --server"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn eval_prints_like_opa_eval() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    std::fs::write(
        &input,
        r#"{"artifact": {"name": "shop/api"}, "n": [1, 2, 3]}"#,
    )
    .unwrap();
    let input = input.to_str().unwrap();

    let (code, json, err) = eval(&["--input", input, "count(input.n)"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        json,
        serde_json::json!({"result": [{"expressions": [
            {"value": 3, "text": "count(input.n)", "location": {"row": 1, "col": 1}}
        ]}]})
    );
    // Bindings, as opa gives them.
    let (code, json, _) = eval(&["--input", input, "x := input.n[_]; x > 2"]);
    assert_eq!(code, Some(0));
    assert_eq!(json["result"][0]["bindings"], serde_json::json!({"x": 3}));

    let o = portcullis(&[
        "policy",
        "eval",
        "--input",
        input,
        "--format",
        "raw",
        "input.artifact.name",
    ]);
    assert_eq!(stdout(&o), "shop/api\n");
    let o = portcullis(&[
        "policy", "eval", "--input", input, "--format", "pretty", "input.n",
    ]);
    assert_eq!(stdout(&o), "[\n  1,\n  2,\n  3\n]\n");
    let o = portcullis(&[
        "policy",
        "eval",
        "--input",
        input,
        "--format",
        "pretty",
        "input.missing",
    ]);
    assert_eq!(stdout(&o), "undefined\n");
}

#[test]
fn undefined_is_exit_0_unless_asked_to_fail() {
    let (code, json, err) = eval(&["data.portcullis.rules.no_such.violation"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(json, serde_json::json!({}));
    let (code, _, _) = eval(&["--fail", "data.portcullis.rules.no_such.violation"]);
    assert_eq!(code, Some(1));
    let (code, _, _) = eval(&["--fail", "1 + 1"]);
    assert_eq!(code, Some(0));
    let (code, _, _) = eval(&["--fail-defined", "1 + 1"]);
    assert_eq!(code, Some(1));
    let (code, _, _) = eval(&["--fail-defined", "input.nothing"]);
    assert_eq!(code, Some(0));
}

#[test]
fn parameters_and_data_are_in_data() {
    let config = example_config();
    // The configuration's overrides, as decisions see them; the defaults are the rules'.
    let (code, json, err) = eval(&[
        "--config",
        &config.path,
        "data.portcullis.params[\"PCL-EVID-001\"].max_age_days",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(value(&json), &serde_json::json!(14));
    let (code, json, _) = eval(&["data.portcullis.params"]);
    assert_eq!(code, Some(0));
    assert_eq!(value(&json), &serde_json::json!({}));

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.json");
    std::fs::write(&data, r#"{"acme": {"owners": ["team-a"]}}"#).unwrap();
    let (code, json, err) = eval(&["--data", data.to_str().unwrap(), "data.acme.owners[0]"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(value(&json), &serde_json::json!("team-a"));

    std::fs::write(&data, "[1, 2]").unwrap();
    let (code, _, err) = eval(&["--data", data.to_str().unwrap(), "data"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("must be a JSON object"), "{err}");
}

#[test]
fn invalid_json_input_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    std::fs::write(&input, "{\n  \"a\": 1,\n  \"b\": [1, 2,,]\n}\n").unwrap();
    let (code, _, err) = eval(&["--input", input.to_str().unwrap(), "input.a"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!("--input {}:3:14: not valid JSON", input.display())),
        "{err}"
    );

    let (code, _, err) = eval(&["--input", "no/such/input.json", "input.a"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--input no/such/input.json: cannot read"),
        "{err}"
    );
}

#[test]
fn rego_errors_name_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let file = policies.join("broken.rego");
    std::fs::write(
        &file,
        "package acme.broken\n\nimport rego.v1\n\nallow if {\n  input.a ==\n}\n",
    )
    .unwrap();
    let (code, _, err) = eval(&[
        "--policy",
        policies.to_str().unwrap(),
        "data.acme.broken.allow",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains(&format!("{}:7:1", file.display())), "{err}");
    assert!(err.contains("expecting expression"), "{err}");

    // A query that does not parse: the column in the query.
    let (code, _, err) = eval(&["input.a ==="]);
    assert_eq!(code, Some(2));
    assert!(err.contains("query:"), "{err}");
    assert!(err.contains(":1:11"), "{err}");
}

#[test]
fn users_policies_are_evaluated_beside_the_library() {
    let policies = fixtures().join("policies");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    std::fs::write(&input, "{}").unwrap();
    let (code, json, err) = eval(&[
        "--policy",
        policies.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "[data.portcullis.rules.acme.logging.metadata.id, data.portcullis.lib.severity_rank.high]",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(value(&json), &serde_json::json!(["ACME-001", 4]));
}
