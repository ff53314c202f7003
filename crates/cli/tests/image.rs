//! The image Portcullis ships (`scripts/image`): assembled with umoci from the repository's
//! binary and Debian's packages, reproducible, its root filesystem run as the non-root user
//! under chroot (`--version`, `serve` answering /healthz, a gate), its SBOM valid CycloneDX
//! 1.6, its signed provenance accepted for the image's digest and refused for another one,
//! and the image gated by Portcullis itself from the loopback registry with its SBOM and
//! provenance attached.
//!
//! The binary in these images is the test build's (`CARGO_BIN_EXE_portcullis`); the release
//! image is the same script without `--binary` (its figures are in the README).
//!
//! Needs root (chroot, and the image's files owned by 65532), umoci, dpkg-deb, apt-get (the
//! packages are downloaded once into ~/.cache/portcullis/image-debs), and for the last test the
//! registry harness; `scripts/test` installs umoci under CI.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{root, stderr, stdout};
use portcullis_testkit::registry::{Layer, TestRegistry, media};
use serde_json::{Value, json};

const DIGEST_OF_SOMETHING_ELSE: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000001";

/// Whether this process may chroot and own files as another user, and the tools are here;
/// otherwise skip (a failure under CI).
fn can_build(test: &str) -> bool {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| stdout(&o).trim().to_owned())
        .unwrap_or_default();
    if uid != "0" {
        portcullis_testkit::skip_or_fail(test, "needs root (chroot, files owned by 65532)");
        return false;
    }
    for tool in ["umoci", "dpkg-deb", "apt-get", "strip", "readelf", "chroot"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            portcullis_testkit::skip_or_fail(test, format!("{tool} is not installed"));
            return false;
        }
    }
    true
}

struct Build {
    dir: tempfile::TempDir,
    summary: Value,
}

impl Build {
    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    fn digest(&self) -> &str {
        self.summary["digest"].as_str().unwrap()
    }
    fn tag(&self) -> &str {
        self.summary["image"]
            .as_str()
            .unwrap()
            .rsplit_once(':')
            .unwrap()
            .1
    }
}

/// `scripts/image --binary <the test build> --key <the examples' demo key>` into a fresh
/// directory, with the packages pinned in `lock` (`--update-lock` when it does not exist).
fn image(lock: &Path, extra: &[&str]) -> (Output, Option<Build>) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(root().join("scripts/image"));
    cmd.current_dir(root())
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_portcullis"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--key")
        .arg(root().join("examples/signing/demo-ci.key"))
        .args(["--key-id", "demo-ci"])
        .arg("--lock")
        .arg(lock)
        .args(extra)
        // Fixed: two builds of this test compare digests, whatever the checkout's commit time.
        .env("SOURCE_DATE_EPOCH", "1764547200");
    if !lock.exists() {
        cmd.arg("--update-lock");
    }
    let out = cmd.output().unwrap();
    let summary = out
        .status
        .success()
        .then(|| serde_json::from_str(&stdout(&out)).unwrap());
    (out, summary.map(|summary| Build { dir, summary }))
}

fn build_once(test: &str, lock: &Path) -> Build {
    let (out, build) = image(lock, &[]);
    build.unwrap_or_else(|| {
        panic!(
            "{test}: scripts/image failed ({}):\n{}",
            out.status,
            stderr(&out)
        )
    })
}

/// The image's root filesystem and runtime configuration, as `umoci unpack` makes them.
fn unpack(build: &Build) -> (PathBuf, Value) {
    let bundle = build.dir.path().join("bundle");
    let out = Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!(
            "{}:{}",
            build.out().join("oci").display(),
            build.tag()
        ))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "umoci unpack: {}", stderr(&out));
    let config: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    (bundle.join("rootfs"), config)
}

/// `chroot --userspec=UID:GID ROOTFS ARGS` with exactly the image's environment.
fn in_image(rootfs: &Path, config: &Value, args: &[&str]) -> Command {
    let process = &config["process"];
    let user = format!(
        "{}:{}",
        process["user"]["uid"].as_u64().unwrap(),
        process["user"]["gid"].as_u64().unwrap()
    );
    // The host's chroot, found with the host's PATH (the command's own is the image's).
    let chroot = Command::new("sh")
        .args(["-c", "command -v chroot"])
        .output()
        .map(|o| stdout(&o).trim().to_owned())
        .unwrap();
    let mut cmd = Command::new(chroot);
    cmd.env_clear()
        .arg(format!("--userspec={user}"))
        .arg(rootfs)
        .args(args);
    for kv in process["env"].as_array().unwrap() {
        let (k, v) = kv.as_str().unwrap().split_once('=').unwrap();
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn the_image_is_reproducible_minimal_and_runs_as_nonroot_with_valid_sbom_and_provenance() {
    let test = "the_image_is_reproducible";
    if !can_build(test) {
        return;
    }
    let locks = tempfile::tempdir().unwrap();
    let lock = locks.path().join("packages.lock");
    let first = build_once(test, &lock);
    assert!(lock.exists(), "--update-lock wrote no lock");
    // Built twice by the script itself, and once more here from the same inputs (the lock the
    // first build wrote): one digest.
    assert_eq!(first.summary["reproducible"], true);
    let second = build_once(test, &lock);
    assert_eq!(first.digest(), second.digest(), "two builds, two digests");
    assert!(first.digest().starts_with("sha256:"));

    // A package whose bytes differ from the lock is refused, naming it.
    let tampered = locks.path().join("tampered.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    let line = text.lines().find(|l| l.starts_with("libc6 ")).unwrap();
    let bad = format!("{} {}", line.rsplit_once(' ').unwrap().0, "0".repeat(64));
    std::fs::write(&tampered, text.replace(line, &bad)).unwrap();
    let (out, refused) = image(&tampered, &[]);
    assert!(refused.is_none());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("libc6"), "{}", stderr(&out));

    // What is in it: the binary, its libraries, the CA bundle, os-release, the package
    // records, the users; no shell, nothing else.
    let (rootfs, config) = unpack(&first);
    let process = &config["process"];
    assert_eq!(process["user"]["uid"], 65532);
    assert_eq!(process["user"]["gid"], 65532);
    assert_eq!(
        process["args"],
        json!(["/usr/local/bin/portcullis", "serve"])
    );
    for path in [
        "usr/local/bin/portcullis",
        "etc/ssl/certs/ca-certificates.crt",
        "etc/passwd",
        "usr/lib/os-release",
        "var/lib/dpkg/status.d/libc6",
        "lib/x86_64-linux-gnu/libc.so.6",
    ] {
        assert!(
            rootfs.join(path).exists(),
            "{path} is missing from the image"
        );
    }
    for absent in [
        "bin/sh",
        "usr/bin/apt-get",
        "usr/bin/dpkg",
        "usr/bin/chromium",
    ] {
        assert!(
            !rootfs.join(absent).exists(),
            "{absent} is in the image: it holds only what the server needs"
        );
    }
    let bundle = std::fs::read_to_string(rootfs.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert!(bundle.matches("BEGIN CERTIFICATE").count() > 100);
    assert_eq!(
        first.summary["files"].as_u64().unwrap(),
        walk_files(&rootfs),
        "image.json's file count is not the unpacked image's"
    );
    {
        use std::os::unix::fs::MetadataExt as _;
        let store = std::fs::metadata(rootfs.join("var/lib/portcullis")).unwrap();
        assert_eq!((store.uid(), store.mode() & 0o777), (65532, 0o700));
        let binary = std::fs::metadata(rootfs.join("usr/local/bin/portcullis")).unwrap();
        assert_eq!(binary.uid(), 0, "the non-root user must not own the binary");
    }

    // --version, as the image's user.
    let out = in_image(
        &rootfs,
        &config,
        &["/usr/local/bin/portcullis", "--version"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "--version: {}", stderr(&out));
    assert!(stdout(&out).starts_with("portcullis "), "{}", stdout(&out));

    // A gate (the README's allowed run, with the examples copied into the image's /tmp).
    copy_dir(&root().join("examples"), &rootfs.join("tmp/examples"));
    let args: Vec<String> = common::allowed_command("examples/portcullis.yaml")
        .into_iter()
        .map(|a| match a.strip_prefix("examples/") {
            Some(rest) => format!("/tmp/examples/{rest}"),
            None => a,
        })
        .collect();
    let mut gate_args = vec!["/usr/local/bin/portcullis"];
    gate_args.extend(args.iter().map(String::as_str));
    gate_args.extend(["--format", "json"]);
    let out = in_image(&rootfs, &config, &gate_args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "gate: {}", stderr(&out));
    let decision: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(decision["decision"], "allow", "{decision}");
    // Recorded in the store the image's user owns.
    let list = in_image(
        &rootfs,
        &config,
        &["/usr/local/bin/portcullis", "audit", "verify"],
    )
    .output()
    .unwrap();
    assert!(list.status.success(), "audit verify: {}", stderr(&list));

    // serve, answering /healthz on loopback.
    let mut serve = in_image(&rootfs, &config, &["/usr/local/bin/portcullis"]);
    serve.env("PORTCULLIS_HOME", "/home/nonroot/serve");
    let server = common::Serve::spawn(serve, &[]);
    let health = Command::new("curl")
        .args([
            "-sf",
            "--max-time",
            "10",
            &format!("{}/healthz", server.url),
        ])
        .output()
        .unwrap();
    assert!(health.status.success(), "/healthz: {}", stderr(&health));
    drop(server);

    // The SBOM: valid CycloneDX 1.6, naming the image, the binary, its crates and the
    // packages, every component with a version.
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(first.out().join("portcullis.cdx.json")).unwrap())
            .unwrap();
    if let Some(errors) = cyclonedx_16_errors(&sbom) {
        assert!(
            errors.is_empty(),
            "SBOM not valid CycloneDX 1.6:\n{}",
            errors.join("\n")
        );
    }
    assert_eq!(
        sbom["metadata"]["component"]["hashes"][0]["content"].as_str(),
        first.digest().strip_prefix("sha256:")
    );
    let names: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in [
        "portcullis",
        "libc6",
        "ca-certificates",
        "regorus",
        "sqlx-sqlite",
        "tokio",
    ] {
        assert!(names.contains(&name), "the SBOM does not name {name}");
    }
    // Build-only and test-only crates are not in the binary.
    for name in ["insta", "proptest", "cc"] {
        assert!(
            !names.contains(&name),
            "the SBOM names {name}, which the binary does not link"
        );
    }
    // The project's own reader takes it.
    let inspect = common::portcullis(&[
        "evidence",
        "inspect",
        first.out().join("portcullis.cdx.json").to_str().unwrap(),
    ]);
    assert!(
        inspect.status.success(),
        "evidence inspect: {}",
        stderr(&inspect)
    );

    // The provenance: verified for the image's digest with the operator's key, refused for
    // another digest; its facts name the commit and the build's inputs.
    let provenance = first.out().join("provenance.intoto.jsonl");
    let verify = |digest: &str| {
        common::portcullis(&[
            "attest",
            "verify",
            provenance.to_str().unwrap(),
            "--artifact",
            digest,
            "--trusted-keys",
            "examples/keys",
            "--format",
            "json",
        ])
    };
    let ok = verify(first.digest());
    assert_eq!(ok.status.code(), Some(0), "{}{}", stdout(&ok), stderr(&ok));
    let v: Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(v["results"][0]["signer"], "demo-ci");
    let binary_digest = format!(
        "sha256:{}",
        first.summary["binary_sha256"].as_str().unwrap()
    );
    assert_eq!(verify(&binary_digest).status.code(), Some(0));
    let other = verify(DIGEST_OF_SOMETHING_ELSE);
    assert_eq!(other.status.code(), Some(1), "{}", stdout(&other));
    let statement: Value =
        serde_json::from_slice(&std::fs::read(first.out().join("provenance.json")).unwrap())
            .unwrap();
    let deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        deps.iter()
            .any(|d| d["digest"]["gitCommit"] == stdout(&head).trim()),
        "the provenance does not name the commit"
    );
    assert!(deps.iter().any(|d| d["name"] == "Cargo.lock"));
    assert!(deps.iter().any(|d| d["name"] == "libc6"));
}

#[test]
fn the_image_is_gated_by_portcullis_from_the_registry_with_its_sbom_and_provenance() {
    let test = "the_image_is_gated_by_portcullis";
    if !can_build(test) {
        return;
    }
    let Some(reg) = TestRegistry::start(test) else {
        return;
    };
    let locks = tempfile::tempdir().unwrap();
    let build = build_once(test, &locks.path().join("packages.lock"));
    let repo = "portcullis/portcullis";
    let pushed = reg.push_layout(&build.out().join("oci"), repo, build.tag());
    assert_eq!(pushed, build.digest(), "the registry stores another digest");
    // The SBOM as an OCI 1.1 referrer, the signed provenance as cosign attaches it.
    let sbom = std::fs::read(build.out().join("portcullis.cdx.json")).unwrap();
    reg.attach_referrer(
        repo,
        &pushed,
        media::CYCLONEDX_JSON,
        &[Layer::new(media::CYCLONEDX_JSON, sbom)],
    );
    let envelope = std::fs::read(build.out().join("provenance.intoto.jsonl")).unwrap();
    reg.attach_cosign(
        repo,
        &pushed,
        "att",
        &[Layer::new(media::DSSE, envelope.trim_ascii_end().to_vec())
            .annotation("predicateType", "https://slsa.dev/provenance/v1")],
    );

    let home = common::fresh_home();
    let image = reg.reference(repo, build.tag());
    let gate = |config: &str| {
        let out = common::portcullis_with_home(
            &root(),
            &home,
            &[
                "gate",
                "--config",
                config,
                "--image",
                &image,
                "--env",
                "staging",
                "--trusted-keys",
                "examples/keys",
                "--kev",
                "examples/kev.json",
                "--registry-config",
                reg.docker_config_dir()
                    .join("config.json")
                    .to_str()
                    .unwrap(),
                "--registry-ca",
                reg.ca_file().to_str().unwrap(),
                "--format",
                "json",
            ],
        );
        let decision: Value = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("{test}: no decision ({e}): {}", stderr(&out)));
        (out, decision)
    };
    let (out, decision) = gate("examples/portcullis.yaml");
    // The decision is about the image's digest, from what the registry holds: the SBOM (an
    // OCI referrer) and the provenance (cosign's tag), verified with the operator's key.
    assert_eq!(decision["artifact"]["digest"], build.digest(), "{decision}");
    let mut schemes: Vec<&str> = decision["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["origin"]["scheme"].as_str().unwrap_or("given"))
        .collect();
    schemes.sort_unstable();
    assert_eq!(schemes, ["cosign-tag", "referrer"], "{decision}");
    let attestation = &decision["attestations"][0];
    assert_eq!(attestation["verified"], true, "{decision}");
    assert_eq!(attestation["signer"], "demo-ci");
    assert_eq!(
        attestation["source_repo"],
        "https://github.com/portcullis/portcullis"
    );
    // What the example configuration finds, each explained in deploy/README.md ("Gating the
    // image itself"): it trusts the example shop's builder and repositories, not this
    // repository's, and staging asks for a canary analysis, which a build cannot give.
    let violations: Vec<&str> = decision["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        violations,
        ["PCL-PROV-002", "PCL-PROV-003", "PCL-VERIFY-001"],
        "{decision}"
    );
    assert_eq!(out.status.code(), Some(1), "denied: exit 1");
    let readme = std::fs::read_to_string(root().join("deploy/README.md")).unwrap();
    for rule in &violations {
        assert!(
            readme.contains(rule),
            "deploy/README.md does not explain {rule}"
        );
    }
    // The operator's side of the explanation: trusting this repository and its builder, and
    // no canary before staging, the same image from the same registry is allowed.
    let example = std::fs::read_to_string(root().join("examples/portcullis.yaml")).unwrap();
    let trusting = example
        .replace(
            r#"trusted_builders: ["https://github.com/actions/runner/github-hosted"]"#,
            r#"trusted_builders: ["https://github.com/portcullis/portcullis/scripts/image@*"]"#,
        )
        .replace(
            r#"trusted_repos: ["https://github.com/example-shop/*"]"#,
            r#"trusted_repos: ["https://github.com/portcullis/portcullis"]"#,
        )
        .replace(
            "params: { min_score: 85 }",
            "params: { min_score: 85, require_in_protected: false }",
        );
    assert_ne!(trusting, example);
    let config = home.join("portcullis-self.yaml");
    std::fs::write(&config, trusting).unwrap();
    let (out, decision) = gate(config.to_str().unwrap());
    assert_eq!(decision["decision"], "allow", "{decision}");
    assert_eq!(out.status.code(), Some(0));
    // Both recorded: the chain holds them and verifies.
    let verified = common::portcullis_with_home(&root(), &home, &["audit", "verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    let _ = std::fs::remove_dir_all(&home);
}

fn walk_files(dir: &Path) -> u64 {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            n += walk_files(&entry.path());
        } else {
            n += 1;
        }
    }
    n
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The SBOM's errors against the CycloneDX 1.6 schema of ../shared/corpus (with the SPDX
/// licence and JSF schemas it refers to); `None` when the corpus is missing (a failure under
/// CI).
fn cyclonedx_16_errors(doc: &Value) -> Option<Vec<String>> {
    let corpus = portcullis_testkit::corpus("CycloneDX 1.6 schema validation", "")?;
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(corpus.join("schemas").join(name)).unwrap()).unwrap()
    };
    let schema = read("cyclonedx-bom-1.6.schema.json");
    /// The schemas bom-1.6 refers to, from the corpus (never downloaded).
    struct Corpus(std::collections::BTreeMap<String, Value>);
    impl jsonschema::Retrieve for Corpus {
        fn retrieve(
            &self,
            uri: &jsonschema::Uri<String>,
        ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            self.0
                .get(uri.as_str())
                .cloned()
                .ok_or_else(|| format!("{uri}: not in the corpus").into())
        }
    }
    let known = Corpus(
        [
            (
                "http://cyclonedx.org/schema/spdx.schema.json",
                "cyclonedx-spdx.schema.json",
            ),
            (
                "http://cyclonedx.org/schema/jsf-0.82.schema.json",
                "cyclonedx-jsf-0.82.schema.json",
            ),
        ]
        .into_iter()
        .map(|(uri, file)| (uri.to_owned(), read(file)))
        .collect(),
    );
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(known)
        .build(&schema)
        .unwrap();
    Some(
        validator
            .iter_errors(doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect(),
    )
}
