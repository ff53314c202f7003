//! `portcullis gate --image` and `evidence inspect --image` against a real registry on
//! loopback (Distribution with TLS from a self-made CA and htpasswd authentication; images
//! copied in by skopeo, attachments pushed with the ORAS Python SDK; attestations signed by
//! securesystemslib): the harness is `portcullis_testkit::registry`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{portcullis_with_home, root, stderr, stdout};
use portcullis_testkit::registry::{Layer, TestRegistry, media};
use serde_json::{Value, json};

/// The example SLSA provenance of checkout-api 2.4.1, with `digest` as its subject.
fn provenance(digest: &str) -> Vec<u8> {
    let line = std::fs::read_to_string(
        root().join("examples/evidence/clean/checkout-api-2.4.1.intoto.jsonl"),
    )
    .unwrap();
    let env: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    let mut statement: Value = serde_json::from_slice(&payload).unwrap();
    statement["subject"] = json!([{
        "name": "checkout-api",
        "digest": {"sha256": digest.trim_start_matches("sha256:")}
    }]);
    serde_json::to_vec(&statement).unwrap()
}

/// A DSSE envelope of `statement` signed by securesystemslib with the examples' demo key
/// (trusted by `--trusted-keys examples/keys`).
fn sign(statement: &[u8]) -> Vec<u8> {
    let python = portcullis_testkit::registry::venv_dir().join("bin/python");
    let mut child = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry/sign_dsse.py"))
        .arg(root().join("examples/signing/demo-ci.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(statement).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn example(path: &str) -> Vec<u8> {
    std::fs::read(root().join(path)).unwrap()
}

struct Env {
    reg: TestRegistry,
    home: PathBuf,
}

impl Env {
    fn start(test: &str) -> Option<Env> {
        let reg = TestRegistry::start(test)?;
        Some(Env {
            reg,
            home: common::fresh_home(),
        })
    }

    fn config(&self) -> String {
        self.reg
            .docker_config_dir()
            .join("config.json")
            .display()
            .to_string()
    }

    /// `portcullis ARGS --registry-config … --registry-ca …` with this test's store.
    fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend([
            "--registry-config".into(),
            self.config(),
            "--registry-ca".into(),
            self.reg.ca_file().display().to_string(),
        ]);
        portcullis_with_home(&root(), &self.home, &all)
    }

    /// `gate --image REF --env ENV` with the examples' configuration, keys and advisory.
    fn gate(&self, image: &str, env: &str, extra: &[&str]) -> (Output, Option<Value>) {
        let mut args = vec![
            "gate",
            "--config",
            "examples/portcullis.yaml",
            "--image",
            image,
            "--env",
            env,
            "--trusted-keys",
            "examples/keys",
            "--advisories",
            "examples/evidence/log4shell.osv.json",
            "--format",
            "json",
        ];
        args.extend(extra);
        let out = self.run(&args);
        let decision = serde_json::from_slice(&out.stdout).ok();
        (out, decision)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn rules(d: &Value, list: &str) -> Vec<String> {
    d[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn fetched<'a>(d: &'a Value, scheme: &str) -> Vec<&'a Value> {
    d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["origin"]["scheme"] == scheme)
        .collect()
}

#[test]
fn vulnerable_sbom_attached_denies_naming_it_and_the_fixed_image_is_allowed() {
    let Some(env) =
        Env::start("vulnerable_sbom_attached_denies_naming_it_and_the_fixed_image_is_allowed")
    else {
        return;
    };
    let r = &env.reg;
    // 2.4.0: a vulnerable SBOM attached with cosign's `.sbom` tag.
    let old = r.push_image("shop/checkout", "2.4.0", "checkout 2.4.0");
    let sbom = example("examples/evidence/checkout-api.cdx.json");
    r.attach_cosign(
        "shop/checkout",
        &old,
        "sbom",
        &[Layer::new(media::CYCLONEDX_JSON, sbom.clone())],
    );
    let tag = r.reference("shop/checkout", "2.4.0");
    let (out, d) = env.gate(&tag, "dev", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let d = d.unwrap();
    // The tag was resolved once and the decision names the digest.
    assert_eq!(d["artifact"]["digest"], old.as_str());
    assert_eq!(d["artifact"]["name"], format!("{}/shop/checkout", r.host()));
    assert_eq!(d["image"]["image"]["digest"], old.as_str());
    assert_eq!(d["image"]["image"]["tag"], "2.4.0");
    let sbom_digest = portcullis_testkit::registry::sha256_digest(&sbom);
    let docs = fetched(&d, "cosign-tag");
    assert_eq!(docs.len(), 1, "{d:#}");
    assert_eq!(docs[0]["digest"], sbom_digest.as_str());
    assert_eq!(
        docs[0]["origin"]["tag"],
        format!("sha256-{}.sbom", old.trim_start_matches("sha256:"))
    );
    assert_eq!(docs[0]["origin"]["media_type"], media::CYCLONEDX_JSON);
    // The blocked advisory denies, naming the attached document.
    let blocked = d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "PCL-VULN-001")
        .unwrap_or_else(|| panic!("PCL-VULN-001 in {d:#}"));
    assert!(blocked.to_string().contains(&sbom_digest), "{blocked:#}");
    assert!(stderr(&out).contains("fetched sbom"), "{}", stderr(&out));

    // Replay reproduces it off-line, from the store alone.
    let id = d["id"].as_str().unwrap().to_string();
    let mut env = env;
    env.reg.stop();
    let replay = portcullis_with_home(&root(), &env.home, &["decision", "replay", &id]);
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}{}",
        stdout(&replay),
        stderr(&replay)
    );

    // 2.4.1: the fixed SBOM as an OCI referrer and signed provenance under `.att`.
    let Some(env) =
        Env::start("vulnerable_sbom_attached_denies_naming_it_and_the_fixed_image_is_allowed")
    else {
        return;
    };
    let r = &env.reg;
    let new = r.push_image("shop/checkout", "2.4.1", "checkout 2.4.1");
    r.attach_referrer(
        "shop/checkout",
        &new,
        media::CYCLONEDX_JSON,
        &[Layer::new(
            media::CYCLONEDX_JSON,
            example("examples/evidence/clean/checkout-api-2.4.1.cdx.json"),
        )],
    );
    r.attach_cosign(
        "shop/checkout",
        &new,
        "att",
        &[Layer::new(media::DSSE, sign(&provenance(&new)))
            .annotation("predicateType", "https://slsa.dev/provenance/v1")],
    );
    let (out, d) = env.gate(&r.reference("shop/checkout", "2.4.1"), "dev", &[]);
    let d = d.unwrap_or_else(|| panic!("{}", stderr(&out)));
    assert_eq!(out.status.code(), Some(0), "{}\n{d:#}", stderr(&out));
    assert_eq!(fetched(&d, "referrer").len(), 1, "{d:#}");
    assert_eq!(fetched(&d, "cosign-tag").len(), 1, "{d:#}");
    // The signed provenance attached is verified and its facts used.
    let att = &d["attestations"][0];
    assert_eq!(att["verified"], true, "{att:#}");
    assert_eq!(
        att["builder_id"],
        "https://github.com/actions/runner/github-hosted"
    );
    assert_eq!(att["signer"], "demo-ci");
}

#[test]
fn attestations_attached_are_verified_tampered_ones_are_refused_and_nothing_attached_fires_the_evidence_rules()
 {
    let Some(env) = Env::start("attestations_attached") else {
        return;
    };
    let r = &env.reg;
    // Signed provenance: verified; staging still wants more (approval, canary), but never
    // PCL-PROV-001/007.
    let good = r.push_image("shop/signed", "1", "signed");
    r.attach_cosign(
        "shop/signed",
        &good,
        "att",
        &[Layer::new(media::DSSE, sign(&provenance(&good)))],
    );
    let (_, d) = env.gate(&r.reference("shop/signed", "1"), "staging", &[]);
    let d = d.unwrap();
    let fired = rules(&d, "violations");
    assert!(
        !fired
            .iter()
            .any(|r| r == "PCL-PROV-001" || r == "PCL-PROV-007"),
        "{fired:?}"
    );
    assert_eq!(d["attestations"][0]["verified"], true);

    // Tampered after signing: the payload says another builder.
    let bad = r.push_image("shop/tampered", "1", "tampered");
    let mut envelope: Value = serde_json::from_slice(&sign(&provenance(&bad))).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut payload: Value =
        serde_json::from_slice(&b64.decode(envelope["payload"].as_str().unwrap()).unwrap())
            .unwrap();
    payload["predicate"]["runDetails"]["builder"]["id"] = json!("https://evil.example/builder");
    envelope["payload"] = json!(b64.encode(serde_json::to_vec(&payload).unwrap()));
    r.attach_referrer(
        "shop/tampered",
        &bad,
        "application/vnd.in-toto+json",
        &[Layer::new(
            media::DSSE,
            serde_json::to_vec(&envelope).unwrap(),
        )],
    );
    let (out, d) = env.gate(&r.reference("shop/tampered", "1"), "staging", &[]);
    assert_eq!(out.status.code(), Some(1));
    let d = d.unwrap();
    assert!(
        rules(&d, "violations").contains(&"PCL-PROV-007".to_string()),
        "{d:#}"
    );
    assert_eq!(d["attestations"][0]["verified"], false);

    // Nothing attached: the rules that need evidence fire.
    let bare = r.push_image("shop/bare", "1", "bare");
    let (out, d) = env.gate(&r.reference("shop/bare", &bare), "staging", &[]);
    assert_eq!(out.status.code(), Some(1));
    let d = d.unwrap();
    assert!(
        d["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["origin"].is_null())
    );
    assert!(
        rules(&d, "violations").contains(&"PCL-PROV-001".to_string()),
        "{d:#}"
    );
    assert!(
        stderr(&out).contains(&format!("-> {}/shop/bare@{bare}", r.host())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn buildx_attestation_manifests_in_an_index_are_read() {
    let Some(env) = Env::start("buildx_attestation_manifests_in_an_index_are_read") else {
        return;
    };
    let Some(corpus) = common::corpus("buildx_attestation_manifests_in_an_index_are_read") else {
        return;
    };
    let r = &env.reg;
    let spdx: Value = serde_json::from_slice(
        &std::fs::read(corpus.join("spdx-examples/software_example11_spdx2.3_sbom.spdx.json"))
            .unwrap(),
    )
    .unwrap();
    let sbom_statement = |digest: &str| {
        serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://spdx.dev/Document",
            "subject": [{"name": "pkg:docker/shop/app@1?platform=linux%2Famd64",
                         "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
            "predicate": spdx,
        }))
        .unwrap()
    };
    // Buildx writes its statements about the platform manifest; the digest is only known
    // once the image is built, as with Buildx (which names it in the statement too).
    let placeholder = format!("sha256:{}", "0".repeat(64));
    let (index, _manifest) = r.push_buildx_index(
        "shop/buildx",
        "1",
        "buildx",
        &[sbom_statement(&placeholder), provenance(&placeholder)],
    );
    // evidence inspect lists and reads both.
    let out = env.run(&[
        "evidence",
        "inspect",
        "--image",
        &r.reference("shop/buildx", "1"),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["image"]["digest"], index.as_str());
    let atts = listed["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 2, "{listed:#}");
    assert!(
        atts.iter()
            .all(|a| a["origin"]["scheme"] == "buildx-attestation")
    );
    let sbom = atts
        .iter()
        .find(|a| {
            a["origin"]["annotations"]["in-toto.io/predicate-type"] == "https://spdx.dev/Document"
        })
        .unwrap();
    assert!(
        sbom["read"]["counts"]["components"].as_u64().unwrap() > 0,
        "{sbom:#}"
    );

    // The gate reads them: the SBOM's components, the provenance (unsigned, as Buildx
    // writes it: not verified).
    let (_, d) = env.gate(&r.reference("shop/buildx", "1"), "dev", &[]);
    let d = d.unwrap();
    assert_eq!(fetched(&d, "buildx-attestation").len(), 2, "{d:#}");
    let prov = d["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["predicate_type"] == "https://slsa.dev/provenance/v1")
        .unwrap();
    assert_eq!(prov["verified"], false);
}

#[test]
fn registry_failures_exit_2_with_the_reason() {
    let Some(env) = Env::start("registry_failures_exit_2_with_the_reason") else {
        return;
    };
    let r = &env.reg;
    let digest = r.push_image("shop/app", "1", "app");
    let image = r.reference("shop/app", "1");

    // Wrong credentials.
    let wrong = r
        .wrong_docker_config_dir()
        .join("config.json")
        .display()
        .to_string();
    let out = portcullis_with_home(
        &root(),
        &env.home,
        &[
            "gate",
            "--image",
            &image,
            "--env",
            "dev",
            "--registry-config",
            &wrong,
            "--registry-ca",
            &r.ca_file().display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("registry-unauthorized") && e.contains(&r.host()) && e.contains("shop/app"),
        "{e}"
    );

    // Without the operator's CA the registry's certificate is not trusted.
    let out = portcullis_with_home(
        &root(),
        &env.home,
        &[
            "gate",
            "--image",
            &image,
            "--env",
            "dev",
            "--registry-config",
            &env.config(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("registry-unreachable"),
        "{}",
        stderr(&out)
    );

    // A tag that does not exist.
    let out = env.run(&[
        "gate",
        "--image",
        &r.reference("shop/app", "nope"),
        "--env",
        "dev",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("registry-not-found") && stderr(&out).contains(":nope"),
        "{}",
        stderr(&out)
    );

    // A manifest over the configured limit.
    let big = json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": [],
        "annotations": {"padding": "x".repeat(64 << 10)},
    });
    r.push_raw_manifest(
        "shop/app",
        "big",
        media::OCI_INDEX,
        &serde_json::to_vec(&big).unwrap(),
    )
    .unwrap();
    let config = env.home.join("limits.yaml");
    std::fs::write(&config, "registry:\n  max_manifest_bytes: 32768\n").unwrap();
    let out = env.run(&[
        "gate",
        "--config",
        &config.display().to_string(),
        "--image",
        &r.reference("shop/app", "big"),
        "--env",
        "dev",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("registry-too-large"),
        "{}",
        stderr(&out)
    );

    // More attachments than allowed: not all could be read, so no decision.
    let many = r.push_image("shop/many", "1", "many");
    for i in 0..3 {
        r.attach_referrer(
            "shop/many",
            &many,
            media::CYCLONEDX_JSON,
            &[Layer::new(
                media::CYCLONEDX_JSON,
                format!(
                    "{{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.5\",\"version\":{}}}",
                    i + 1
                ),
            )],
        );
    }
    let config = env.home.join("few.yaml");
    std::fs::write(&config, "registry:\n  max_referrers: 2\n").unwrap();
    let out = env.run(&[
        "gate",
        "--config",
        &config.display().to_string(),
        "--image",
        &r.reference("shop/many", "1"),
        "--env",
        "dev",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("registry-too-large")
            && stderr(&out).contains("more than 2 attachments"),
        "{}",
        stderr(&out)
    );

    // A document over the size limit: unreadable evidence, the decision fails closed.
    let config = env.home.join("small.yaml");
    std::fs::write(&config, "registry:\n  max_blob_bytes: 1024\n").unwrap();
    let fat = r.push_image("shop/fat", "1", "fat");
    r.attach_cosign(
        "shop/fat",
        &fat,
        "sbom",
        &[Layer::new(
            media::CYCLONEDX_JSON,
            example("examples/evidence/checkout-api.cdx.json"),
        )],
    );
    let out = env.run(&[
        "gate",
        "--config",
        &config.display().to_string(),
        "--image",
        &r.reference("shop/fat", "1"),
        "--env",
        "dev",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["decision"], "deny", "{d:#}");
    assert!(
        d.to_string().contains("more than the 1024 allowed"),
        "{d:#}"
    );

    // An artifact that contradicts the image.
    let other = format!("shop/app@sha256:{}", "1".repeat(64));
    let out = env.run(&[
        "gate",
        "--image",
        &image,
        "--artifact",
        &other,
        "--env",
        "dev",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&digest), "{}", stderr(&out));

    // The registry down: nothing answers.
    let mut env = env;
    env.reg.stop();
    let reg = &env.reg;
    let out = portcullis_with_home(
        &root(),
        &env.home,
        &[
            "gate",
            "--image",
            &image,
            "--env",
            "production",
            "--registry-config",
            &env_config(reg),
            "--registry-ca",
            &reg.ca_file().display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("registry-unreachable") && e.contains(&reg.host()),
        "{e}"
    );
    // Nothing was recorded for any of these but the decision that failed closed on the
    // document it could not read.
    let list = portcullis_with_home(
        &root(),
        &env.home,
        &["decision", "list", "--format", "json"],
    );
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["artifact_digest"], fat.as_str());
    assert_eq!(listed[0]["verdict"], "deny");
}

fn env_config(reg: &TestRegistry) -> String {
    reg.docker_config_dir()
        .join("config.json")
        .display()
        .to_string()
}

#[test]
fn the_server_decides_on_an_image_reference() {
    let Some(env) = Env::start("the_server_decides_on_an_image_reference") else {
        return;
    };
    let r = &env.reg;
    let digest = r.push_image("shop/served", "1", "served");
    r.attach_cosign(
        "shop/served",
        &digest,
        "sbom",
        &[Layer::new(
            media::CYCLONEDX_JSON,
            example("examples/evidence/checkout-api.cdx.json"),
        )],
    );
    let o = portcullis_with_home(
        &root(),
        &env.home,
        &["token", "create", "--role", "ci", "--name", "pipeline"],
    );
    let token = stdout(&o).trim().to_string();
    assert!(token.starts_with("pcl_"), "{token}{}", stderr(&o));
    let token = token.as_str();
    let serve = common::Serve::start(
        &env.home,
        &[
            "--config",
            "examples/portcullis.yaml",
            "--registry-config",
            &env.config(),
            "--registry-ca",
            &r.ca_file().display().to_string(),
        ],
    );
    let agent = ureq::Agent::new_with_defaults();
    let answer = agent
        .post(&format!("{}/v1/decisions", serve.url))
        .header("Authorization", &format!("Bearer {token}"))
        .config()
        .http_status_as_error(false)
        .build()
        .send_json(json!({"image": r.reference("shop/served", "1"), "environment": "dev"}))
        .unwrap();
    let status = answer.status().as_u16();
    let body: Value = answer.into_body().read_json().unwrap();
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["decision"]["artifact"]["digest"], digest.as_str());
    assert_eq!(
        fetched(&body["decision"], "cosign-tag").len(),
        1,
        "{body:#}"
    );

    // A tag that does not exist: a 502 problem naming the registry and the reference.
    let answer = agent
        .post(&format!("{}/v1/decisions", serve.url))
        .header("Authorization", &format!("Bearer {token}"))
        .config()
        .http_status_as_error(false)
        .build()
        .send_json(json!({"image": r.reference("shop/served", "nope"), "environment": "dev"}))
        .unwrap();
    assert_eq!(answer.status().as_u16(), 502);
    let problem: Value = answer.into_body().read_json().unwrap();
    assert_eq!(problem["code"], "registry-not-found", "{problem:#}");
    assert!(problem["detail"].as_str().unwrap().contains(":nope"));

    // `gate --server --image`: the server fetches; the same decision as the API's.
    let remote = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .current_dir(root())
        .env("PORTCULLIS_HOME", env.home.join("client"))
        .env("PORTCULLIS_TOKEN", token)
        .args([
            "gate",
            "--server",
            &serve.url,
            "--image",
            &r.reference("shop/served", "1"),
            "--env",
            "dev",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let d: Value = serde_json::from_slice(&remote.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&remote.stderr)));
    assert_eq!(
        remote.status.code(),
        Some(body["exit_code"].as_i64().unwrap() as i32)
    );
    assert_eq!(d["artifact"], body["decision"]["artifact"]);
    assert_eq!(d["violations"], body["decision"]["violations"]);
    assert_eq!(d["evidence"], body["decision"]["evidence"]);
    assert_ne!(d["id"], body["decision"]["id"]);
    // Registry flags are the server's business.
    let refused = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .current_dir(root())
        .env("PORTCULLIS_HOME", env.home.join("client"))
        .env("PORTCULLIS_TOKEN", token)
        .args([
            "gate",
            "--server",
            &serve.url,
            "--image",
            "x/y:1",
            "--env",
            "dev",
            "--insecure-registry",
            "x:1",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot be used with --server"));
}

#[path = "../../attest/tests/support/sigstore_fixture.rs"]
mod sigstore_fixture;

/// A keyless Sigstore bundle stored as an OCI referrer (cosign's new bundle format, GitHub
/// artifact attestations): verified against the trusted root and the configured identity; a
/// bundle of another identity is read and not verified.
#[test]
fn a_sigstore_bundle_referrer_is_verified_with_the_trusted_root() {
    use sigstore_fixture::{Ca, Entry, Leaf, Log, Signer};
    let Some(env) = Env::start("a_sigstore_bundle_referrer_is_verified_with_the_trusted_root")
    else {
        return;
    };
    let r = &env.reg;
    let digest = r.push_image("shop/keyless", "1", "keyless");
    let ca = Ca::new("test-fulcio");
    let log = Log::new(3);
    let signer = Signer::new(&ca, &Leaf::default());
    let bundle = sigstore_fixture::dsse_bundle(
        sigstore_fixture::V03,
        &signer,
        &log,
        &sigstore_fixture::statement(digest.trim_start_matches("sha256:")),
        &Entry::default(),
    );
    let bundle_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
    r.attach_referrer(
        "shop/keyless",
        &digest,
        bundle_type,
        &[Layer::new(bundle_type, bundle.to_string().into_bytes())],
    );
    let root_file = env.home.join("trusted_root.json");
    std::fs::write(
        &root_file,
        sigstore_fixture::trusted_root(&[&ca], &[&log]).to_string(),
    )
    .unwrap();
    let config = |identity: &str| {
        let path = env.home.join("sigstore.yaml");
        std::fs::write(
            &path,
            format!(
                "environments:\n  dev: {{protected: false}}\nattestations:\n  identities:\n    - certificate_identity: \"{identity}\"\n      certificate_oidc_issuer: \"{}\"\n",
                sigstore_fixture::OIDC_ISSUER
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let gate = |config: &str| {
        let out = env.run(&[
            "gate",
            "--config",
            config,
            "--image",
            &r.reference("shop/keyless", "1"),
            "--env",
            "dev",
            "--trusted-root",
            &root_file.display().to_string(),
            "--format",
            "json",
        ]);
        let d: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", stderr(&out)));
        d
    };
    let d = gate(&config(sigstore_fixture::SAN));
    let docs = fetched(&d, "referrer");
    assert_eq!(docs.len(), 1, "{d:#}");
    assert_eq!(docs[0]["origin"]["artifact_type"], bundle_type);
    assert_eq!(d["attestations"][0]["verified"], true, "{d:#}");
    assert_eq!(d["attestations"][0]["signer"], sigstore_fixture::SAN);

    let d = gate(&config("https://git.example/someone/else"));
    assert_eq!(d["attestations"][0]["verified"], false, "{d:#}");
}
