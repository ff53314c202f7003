//! Snapshots of every output of `portcullis gate` — the human summary (stderr, no colour), JSON,
//! SARIF, JUnit, GitHub annotations, markdown and GitLab Code Quality — on the README's examples, run on the real binary with a
//! store of its own, so that any change to what users read shows in review. Only what differs
//! from run to run (decision id, audit chain position and hash, the state directory) and what
//! names the build (crate version, policy bundle digest) is redacted, each after checking its
//! shape. Also the exit codes of each format, SARIF 2.1.0 validity (when ../shared/corpus holds
//! the schema), `decision replay` and `policy list`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Output;

use common::*;
use serde_json::Value;

const FORMATS: [&str; 6] = [
    "json",
    "sarif",
    "junit",
    "github",
    "markdown",
    "codequality",
];

/// A gate run of one scenario, in every format.
struct Scenario {
    name: &'static str,
    args: Vec<String>,
    exit: i32,
    // Keep the configuration files the arguments name.
    _config: ExampleConfig,
    _dir: Option<tempfile::TempDir>,
}

/// One run of the binary with a fresh store in `home`.
struct Run {
    out: Output,
    home: tempfile::TempDir,
}

fn run(args: &[String]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let out = portcullis_with_home(&root(), home.path(), args);
    Run { out, home }
}

fn replace_arg(mut args: Vec<String>, old: &str, new: &[&str]) -> Vec<String> {
    let at = args
        .iter()
        .position(|a| a == old)
        .unwrap_or_else(|| panic!("{old} in {args:?}"));
    args.splice(at..=at, new.iter().map(|s| s.to_string()));
    args
}

/// The README's denied run of 2.4.0 to staging, with the 2.4.1 provenance instead of its own (a
/// signed attestation about another digest) and a licence allow list: vulnerabilities, IaC,
/// canary, provenance and licence violations, an excepted one and an expired exception.
fn denied() -> Scenario {
    let config = example_config();
    let mut doc: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(root().join(&config.path)).unwrap()).unwrap();
    let rules = doc
        .get_mut("rules")
        .and_then(|r| r.as_mapping_mut())
        .unwrap();
    rules.insert(
        "PCL-LIC-002".into(),
        yaml_serde::from_str("params: { allow: [Apache-2.0, MIT] }").unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portcullis.yaml");
    std::fs::write(&path, yaml_serde::to_string(&doc).unwrap()).unwrap();
    let args = replace_arg(
        denied_command(path.to_str().unwrap()),
        "examples/evidence/checkout-api.intoto.jsonl",
        &["examples/evidence/clean/checkout-api-2.4.1.intoto.jsonl"],
    );
    Scenario {
        name: "denied",
        args,
        exit: 1,
        _config: config,
        _dir: Some(dir),
    }
}

/// 2.4.0 to dev, where the examples' scan findings only warn (no blocked advisory or KEV given):
/// allowed with warnings, one excepted violation and an expired exception.
fn allowed_with_warnings() -> Scenario {
    let config = example_config();
    let mut args = denied_command(&config.path);
    // Everything up to --advisories; a fixture's exceptions for dev.
    args.truncate(args.iter().position(|a| a == "--advisories").unwrap());
    let args = replace_arg(args, "staging", &["dev"]);
    let args = with(
        args,
        &[
            "--exceptions",
            "crates/cli/tests/fixtures/outputs/exceptions-dev.yaml",
        ],
    );
    Scenario {
        name: "allowed_with_warnings",
        args,
        exit: 0,
        _config: config,
        _dir: None,
    }
}

/// The README's denied run with a truncated SBOM besides the examples: fail-closed, exit 2.
fn unreadable() -> Scenario {
    let config = example_config();
    let args = replace_arg(
        denied_command(&config.path),
        "examples/evidence/checkout-api.cdx.json",
        &[
            "examples/evidence/checkout-api.cdx.json",
            "crates/cli/tests/fixtures/truncated.cdx.json",
        ],
    );
    Scenario {
        name: "unreadable",
        args,
        exit: 2,
        _config: config,
        _dir: None,
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A UUID v7 (decision ids): time-ordered, so different in every run.
fn is_uuid_v7(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| is_hex(p, p.len()))
        && parts[2].starts_with('7')
}

fn is_sha256(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| is_hex(h, 64))
}

/// `sha256:f95413b0…5269a`, as the human summary shortens digests.
fn short(digest: &str) -> String {
    let hex = &digest["sha256:".len()..];
    format!("sha256:{}…{}", &hex[..8], &hex[hex.len() - 5..])
}

/// `portcullis 0.1.0`: the engine names the crate version, which changes with every release.
fn engine() -> String {
    format!("portcullis {}", env!("CARGO_PKG_VERSION"))
}

/// What varies between runs of one scenario, learnt from its JSON run.
struct Varying {
    bundle: String,
}

/// Replace `pointer` in `doc` with `placeholder`, after checking the value's shape.
fn redact(doc: &mut Value, pointer: &str, placeholder: &str, shape: impl Fn(&Value) -> bool) {
    let v = doc
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} missing"));
    assert!(shape(v), "{pointer}: unexpected {v}");
    *v = placeholder.into();
}

fn str_is(f: impl Fn(&str) -> bool) -> impl Fn(&Value) -> bool {
    move |v| v.as_str().is_some_and(&f)
}

fn engine_version(v: &str) -> bool {
    v.starts_with(&format!("{} (", engine()))
}

/// The engine version with the crate version redacted (the Rego engine's stays).
fn redact_engine(v: &str) -> String {
    assert!(engine_version(v), "{v}");
    v.replacen(&engine(), "portcullis [version]", 1)
}

/// The decision JSON, redacted.
fn decision_json(text: &str) -> (Value, Varying) {
    let mut d: Value = serde_json::from_str(text).unwrap();
    let bundle = d["policy_bundle_digest"].as_str().unwrap().to_string();
    assert!(is_sha256(&bundle), "{bundle}");
    redact(&mut d, "/id", "[decision id]", str_is(is_uuid_v7));
    redact(&mut d, "/chain/seq", "[seq]", |v| {
        v.as_u64().is_some_and(|n| n > 0)
    });
    redact(&mut d, "/chain/hash", "[hash]", str_is(|h| is_hex(h, 64)));
    redact(
        &mut d,
        "/policy_bundle_digest",
        "[policy bundle digest]",
        str_is(is_sha256),
    );
    d["engine_version"] = redact_engine(d["engine_version"].as_str().unwrap()).into();
    (d, Varying { bundle })
}

/// The SARIF log, redacted.
fn sarif_json(text: &str) -> Value {
    let mut s: Value = serde_json::from_str(text).unwrap();
    let version = |v: &Value| v == env!("CARGO_PKG_VERSION");
    redact(&mut s, "/runs/0/tool/driver/version", "[version]", version);
    redact(
        &mut s,
        "/runs/0/tool/driver/semanticVersion",
        "[version]",
        version,
    );
    redact(
        &mut s,
        "/runs/0/properties/decisionId",
        "[decision id]",
        str_is(is_uuid_v7),
    );
    redact(
        &mut s,
        "/runs/0/properties/policyBundleDigest",
        "[policy bundle digest]",
        str_is(is_sha256),
    );
    let engine_v = redact_engine(
        s["runs"][0]["properties"]["engineVersion"]
            .as_str()
            .unwrap(),
    );
    s["runs"][0]["properties"]["engineVersion"] = engine_v.into();
    s
}

/// Text output with what varies replaced: the decision id (from the run's `recorded:` line), the
/// state directory, the audit entry, the crate version and the policy bundle digest.
fn redact_text(text: &str, r: &Run, v: &Varying) -> String {
    let err = stderr(&r.out);
    let recorded = err
        .lines()
        .find_map(|l| l.strip_prefix("recorded: decision "))
        .unwrap_or_else(|| panic!("no recorded line in:\n{err}"));
    let (id, rest) = recorded.split_once(" (audit entry ").unwrap();
    assert!(is_uuid_v7(id), "{recorded}");
    let (seq, _) = rest.split_once(')').unwrap();
    assert!(seq.parse::<u64>().is_ok_and(|n| n > 0), "{recorded}");
    let home = r.home.path().display().to_string();
    text.replace(id, "[decision id]")
        .replace(&format!("(audit entry {seq})"), "(audit entry [seq])")
        .replace(&home, "[home]")
        .replace(&engine(), "portcullis [version]")
        .replace(&v.bundle, "[policy bundle digest]")
        .replace(&short(&v.bundle), "[policy bundle digest]")
}

/// Nothing that varies between runs is left in a snapshot.
fn assert_no_run_data(name: &str, text: &str, r: &Run) {
    let home = r.home.path().display().to_string();
    assert!(!text.contains(&home), "{name}: state directory in\n{text}");
    assert!(
        !text.contains(&std::env::temp_dir().display().to_string()),
        "{name}: a temporary path in\n{text}"
    );
    assert!(
        !text
            .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
            .any(is_uuid_v7),
        "{name}: a decision id in\n{text}"
    );
}

/// SARIF 2.1.0 schema validation, when ../shared/corpus holds the schema (never downloaded).
fn sarif_validator() -> Option<jsonschema::Validator> {
    let corpus = corpus("SARIF schema validation")?;
    let schema: Value = serde_json::from_slice(
        &std::fs::read(corpus.join("schemas/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    Some(
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap(),
    )
}

/// Every format of one scenario: the exit code is the scenario's whatever the format, the
/// human summary on stderr is the same whatever the format, and each output matches its
/// snapshot.
fn snapshot_every_format(s: Scenario) {
    let name = s.name;
    // The JSON run first: it tells the policy bundle digest the text formats are redacted of.
    let json = run(&with(
        s.args.clone(),
        &["--format", "json", "--color", "never"],
    ));
    assert_eq!(
        json.out.status.code(),
        Some(s.exit),
        "{}",
        stderr(&json.out)
    );
    let (decision, varying) = decision_json(&stdout(&json.out));
    let want = match s.exit {
        0 => "allow",
        _ => "deny",
    };
    assert_eq!(decision["decision"], want);
    if s.exit == 2 {
        assert!(
            !decision["errors"].as_array().unwrap().is_empty(),
            "{decision:#}"
        );
    }

    let human = run(&with(
        s.args.clone(),
        &["--format", "human", "--color", "never"],
    ));
    assert_eq!(
        human.out.status.code(),
        Some(s.exit),
        "{}",
        stderr(&human.out)
    );
    assert!(stdout(&human.out).is_empty(), "human writes only to stderr");
    let summary = redact_text(&stderr(&human.out), &human, &varying);
    assert_no_run_data(name, &summary, &human);
    insta::assert_snapshot!(format!("{name}__human"), summary);

    let rendered = serde_json::to_string(&decision).unwrap();
    assert_no_run_data(name, &rendered, &json);
    insta::assert_json_snapshot!(format!("{name}__json"), decision);

    let validator = sarif_validator();
    for format in FORMATS.iter().filter(|f| **f != "json") {
        let r = run(&with(
            s.args.clone(),
            &["--format", format, "--color", "never"],
        ));
        let code = r.out.status.code();
        assert_eq!(code, Some(s.exit), "{format}: {}", stderr(&r.out));
        // The same human summary goes to stderr whatever the format.
        assert_eq!(
            redact_text(&stderr(&r.out), &r, &varying),
            summary,
            "{format}"
        );
        let out = stdout(&r.out);
        let snapshot = format!("{name}__{format}");
        if *format == "sarif" {
            let doc: Value = serde_json::from_str(&out).unwrap();
            if let Some(v) = &validator {
                let errors: Vec<String> = v
                    .iter_errors(&doc)
                    .map(|e| format!("{e} at {}", e.instance_path()))
                    .collect();
                assert!(errors.is_empty(), "SARIF invalid:\n{}", errors.join("\n"));
            }
            let sarif = sarif_json(&out);
            assert_no_run_data(name, &serde_json::to_string(&sarif).unwrap(), &r);
            insta::assert_json_snapshot!(snapshot, sarif);
        } else {
            if *format == "codequality" {
                check_codequality(&out, &decision);
            }
            let text = redact_text(&out, &r, &varying);
            assert_no_run_data(name, &text, &r);
            insta::assert_snapshot!(snapshot, text);
        }
    }
}

/// GitLab's Code Quality subset: an array of issues with a description, a check name, a
/// fingerprint, a severity GitLab knows and a location; one per enforced violation, warning and
/// error of the decision (excepted violations are not issues).
fn check_codequality(text: &str, decision: &Value) {
    let issues: Vec<Value> = serde_json::from_str(text).unwrap();
    let count = |k: &str| decision[k].as_array().unwrap().len();
    assert_eq!(
        issues.len(),
        count("violations") + count("warnings") + count("errors"),
        "{text}"
    );
    let mut fingerprints = std::collections::BTreeSet::new();
    for i in &issues {
        assert!(!i["description"].as_str().unwrap().is_empty(), "{i}");
        assert!(!i["check_name"].as_str().unwrap().is_empty(), "{i}");
        let fp = i["fingerprint"].as_str().unwrap();
        assert!(is_hex(fp, 64), "{i}");
        assert!(
            fingerprints.insert(fp.to_string()),
            "fingerprint twice: {i}"
        );
        assert!(
            ["info", "minor", "major", "critical", "blocker"]
                .contains(&i["severity"].as_str().unwrap()),
            "{i}"
        );
        assert!(!i["location"]["path"].as_str().unwrap().is_empty(), "{i}");
        assert!(
            i["location"]["lines"]["begin"].as_u64().unwrap() >= 1,
            "{i}"
        );
    }
}

#[test]
fn denied_with_several_violations() {
    snapshot_every_format(denied());
}

#[test]
fn allowed_with_warnings_and_excepted_violations() {
    snapshot_every_format(allowed_with_warnings());
}

#[test]
fn unreadable_evidence_fails_closed() {
    snapshot_every_format(unreadable());
}

/// `decision replay` of a recorded decision reproduces it (exit 0) and says so.
#[test]
fn decision_replay() {
    let s = denied();
    let home = tempfile::tempdir().unwrap();
    let gate = portcullis_with_home(
        &root(),
        home.path(),
        &with(s.args.clone(), &["--format", "json"]),
    );
    assert_eq!(gate.status.code(), Some(1), "{}", stderr(&gate));
    let d: Value = serde_json::from_slice(&gate.stdout).unwrap();
    let id = d["id"].as_str().unwrap();
    assert!(is_uuid_v7(id));
    let o = portcullis_with_home(&root(), home.path(), &["decision", "replay", id]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = format!("--- stdout\n{}--- stderr\n{}", stdout(&o), stderr(&o))
        .replace(id, "[decision id]");
    let r = Run { out: o, home };
    assert_no_run_data("replay", &text, &r);
    insta::assert_snapshot!("decision_replay", text);
}

/// `policy list` with the README's configuration: every rule, its parameters and actions.
#[test]
fn policy_list() {
    let config = example_config();
    let r = run(&["policy", "list", "--config", &config.path].map(String::from));
    assert_eq!(r.out.status.code(), Some(0), "{}", stderr(&r.out));
    let text = stdout(&r.out);
    assert_no_run_data("policy list", &text, &r);
    insta::assert_snapshot!("policy_list", text);
}

/// One gate, several outputs: `--write FORMAT=FILE` writes each format of the one recorded
/// decision, byte for byte what `--format FORMAT` prints (the same snapshots), besides the
/// `--format` output on stdout.
#[test]
fn several_outputs_of_one_decision() {
    let s = denied();
    let dir = tempfile::tempdir().unwrap();
    let file = |f: &str| dir.path().join(format!("out.{f}"));
    let mut args = with(s.args.clone(), &["--format", "json", "--color", "never"]);
    for f in [
        "sarif",
        "junit",
        "github",
        "markdown",
        "codequality",
        "human",
    ] {
        args.push("--write".into());
        args.push(format!("{f}={}", file(f).display()));
    }
    let r = run(&args);
    assert_eq!(r.out.status.code(), Some(1), "{}", stderr(&r.out));
    let (decision, varying) = decision_json(&stdout(&r.out));
    let id = serde_json::from_str::<Value>(&stdout(&r.out)).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    insta::assert_json_snapshot!("denied__json", decision);
    let read = |f: &str| std::fs::read_to_string(file(f)).unwrap();
    // Every file names the one decision.
    let sarif: Value = serde_json::from_str(&read("sarif")).unwrap();
    assert_eq!(sarif["runs"][0]["properties"]["decisionId"], id.as_str());
    assert!(read("markdown").contains(&id), "{}", read("markdown"));
    insta::assert_json_snapshot!("denied__sarif", sarif_json(&read("sarif")));
    for f in ["junit", "github", "markdown", "codequality"] {
        insta::assert_snapshot!(format!("denied__{f}"), redact_text(&read(f), &r, &varying));
    }
    // The human summary, without colour, as on stderr.
    assert_eq!(
        redact_text(&read("human"), &r, &varying),
        redact_text(&stderr(&r.out), &r, &varying)
            .lines()
            .filter(|l| !l.starts_with("recorded: "))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    // One decision was recorded.
    let list = portcullis_with_home(
        &root(),
        r.home.path(),
        &["decision", "list", "--format", "json"],
    );
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id.as_str());
}

/// A `--write` value that is not FORMAT=FILE with a known format is a usage error (exit 2)
/// naming the flag, before anything is decided; a file that cannot be written is an error
/// (exit 2) naming it.
#[test]
fn bad_write_values() {
    let s = allowed_with_warnings();
    for (value, says) in [
        ("markdown", "expected FORMAT=FILE"),
        ("pdf=out.pdf", "unknown format \"pdf\""),
        ("sarif=", "no file after"),
    ] {
        let r = run(&with(s.args.clone(), &["--write", value]));
        assert_eq!(r.out.status.code(), Some(2), "{value}: {}", stderr(&r.out));
        let err = stderr(&r.out);
        assert!(
            err.contains("--write") && err.contains(says),
            "{value}: {err}"
        );
        assert!(
            !err.contains("recorded: decision"),
            "{value}: decided anyway: {err}"
        );
    }
    let r = run(&with(
        s.args.clone(),
        &["--write", "markdown=/nonexistent-dir/summary.md"],
    ));
    assert_eq!(r.out.status.code(), Some(2), "{}", stderr(&r.out));
    assert!(
        stderr(&r.out).contains("cannot write /nonexistent-dir/summary.md"),
        "{}",
        stderr(&r.out)
    );
}

/// Hostile evidence cannot add markup to the markdown: a scan whose package name, vulnerability
/// id and title carry HTML, links, images, autolinks, table pipes, code spans, emphasis, math
/// and new lines (a heading, a table row) is rendered as GitHub and GitLab render markdown
/// (GFM: tables, autolinks, raw HTML kept), and every value comes out as plain text in its cell.
#[test]
fn markdown_escapes_hostile_evidence() {
    const PKG: &str = "evil|pkg`<img src=x onerror=alert(1)>[click](https://evil.example/phish)";
    const ID: &str = "CVE-2024-5535|<b>x</b>";
    const TITLE: &str = "pwn\n## injected heading\n| a | b |\n<script>alert(1)</script> \
        https://evil.example/auto www.evil.example ![i](https://evil.example/i.png) \
        $x^2$ **bold** ~~gone~~ \\| `code` &amp; <!-- c -->";
    let mut trivy: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/evidence/trivy-image.json")).unwrap(),
    )
    .unwrap();
    let v = &mut trivy["Results"][0]["Vulnerabilities"][0];
    v["PkgName"] = PKG.into();
    v["VulnerabilityID"] = ID.into();
    v["Title"] = TITLE.into();
    v["Description"] = TITLE.into();
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("trivy-hostile.json");
    std::fs::write(&scan, serde_json::to_vec(&trivy).unwrap()).unwrap();
    let config = example_config();
    let args = replace_arg(
        denied_command(&config.path),
        "examples/evidence/trivy-image.json",
        &[scan.to_str().unwrap()],
    );
    let r = run(&with(args, &["--format", "markdown"]));
    assert_eq!(r.out.status.code(), Some(1), "{}", stderr(&r.out));
    let md = stdout(&r.out);
    assert!(
        md.contains("evil"),
        "the hostile finding is not in the output:\n{md}"
    );

    let mut options = comrak::Options::default();
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.strikethrough = true;
    options.extension.math_dollars = true;
    options.render.r#unsafe = true;
    let html = comrak::markdown_to_html(&md, &options);

    for bad in [
        "<img",
        "<script",
        "<b>",
        "<h2>injected",
        "evil.example/phish\"",
        "href=\"https://evil",
        "href=\"http://www.evil",
        "<strong>bold",
        "<del>",
        "<!-- c",
        "data-math",
    ] {
        assert!(
            !html.contains(bad),
            "{bad:?} in the rendered markdown:\n{html}\n\n{md}"
        );
    }
    // Only links the renderer wrote itself (none without a server).
    assert!(!html.contains("<a "), "{html}");
    // The hostile values are there, whole, as text (HTML-escaped by the renderer).
    let escaped = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    assert!(html.contains(&escaped(PKG)), "{html}");
    assert!(html.contains(&escaped(ID)), "{html}");
    // Every table row of the source has as many cells as its header (GFM reads a `|` after a
    // backslash as text, and drops the cells a row has beyond its header's, so that a split
    // cell would not show in the HTML).
    let mut header_cells: Option<usize> = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            header_cells = None;
            continue;
        }
        let bytes = line.as_bytes();
        let pipes = (0..bytes.len())
            .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
            .count();
        match header_cells {
            None => header_cells = Some(pipes),
            Some(n) => assert_eq!(pipes, n, "a row with other cells than its header: {line}"),
        }
    }
    // Every table row has as many cells as its header.
    for table in html.split("<table>").skip(1) {
        let table = table.split("</table>").next().unwrap();
        let cells = |s: &str, tag: &str| {
            s.matches(&format!("<{tag}>")).count() + s.matches(&format!("<{tag} ")).count()
        };
        let header = cells(table.split("</tr>").next().unwrap(), "th");
        assert!(header >= 2, "{table}");
        for row in table.split("<tr>").skip(2) {
            assert_eq!(cells(row, "td"), header, "{row}");
        }
    }
}
