//! `portcullis attest verify`: exit 0 verified, 1 not verified (with the reason), 2 unreadable
//! input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{fixtures, fresh_home, portcullis, portcullis_with_home, root, stderr, stdout};

const ARTIFACT: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn attest(file: &str, artifact: &str, keys: &str, extra: &[&str]) -> std::process::Output {
    let dir = fixtures().join("attest");
    let file = dir.join(file);
    let keys = dir.join(keys);
    let mut args = vec![
        "attest".to_owned(),
        "verify".to_owned(),
        file.display().to_string(),
        "--artifact".to_owned(),
        artifact.to_owned(),
        "--trusted-keys".to_owned(),
        keys.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    portcullis(&args)
}

#[test]
fn a_verified_attestation_exits_0_with_its_facts() {
    let o = attest("provenance.dsse.json", ARTIFACT, "trusted", &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("verified for sha256:aaaa"), "{out}");
    assert!(out.contains("signed by release"), "{out}");
    assert!(
        out.contains("builder: https://ci.example/builder@v1"),
        "{out}"
    );

    let o = attest(
        "provenance.dsse.json",
        ARTIFACT,
        "trusted",
        &["--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["results"][0]["signer"], "release");
    assert_eq!(
        v["results"][0]["provenance"]["source_repository"],
        "https://git.example/acme/app"
    );
}

#[test]
fn a_failed_attestation_exits_1_with_the_reason() {
    let o = attest("tampered.dsse.json", ARTIFACT, "trusted", &[]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("NOT verified: bad signature"),
        "{}",
        stdout(&o)
    );

    let other = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let o = attest(
        "provenance.dsse.json",
        other,
        "trusted",
        &["--format", "json"],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["results"][0]["failure"], "digest_mismatch");
    assert_eq!(v["results"][0]["provenance"], serde_json::Value::Null);

    let o = attest(
        "provenance.dsse.json",
        ARTIFACT,
        "trusted",
        &["--threshold", "2"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("below threshold"), "{}", stdout(&o));
}

#[test]
fn unreadable_input_exits_2() {
    // A missing file.
    let o = attest("missing.json", ARTIFACT, "trusted", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Not JSON.
    let o = attest("README.md", ARTIFACT, "trusted", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not JSON"), "{}", stderr(&o));
    // No usable key in the directory.
    let empty = tempfile::tempdir().unwrap();
    let o = attest(
        "provenance.dsse.json",
        ARTIFACT,
        &empty.path().display().to_string(),
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no usable trusted key"),
        "{}",
        stderr(&o)
    );
    // A bad artifact digest.
    let o = attest("provenance.dsse.json", "sha256:abc", "trusted", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[path = "../../attest/tests/support/sigstore_fixture.rs"]
mod sigstore_fixture;

/// A Sigstore trust root and bundles made in the test (our own CA and log key).
struct SigstoreCase {
    dir: tempfile::TempDir,
}

impl SigstoreCase {
    fn new() -> Self {
        use sigstore_fixture::{Ca, Entry, Leaf, Log, Signer};
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("test-fulcio");
        let log = Log::new(3);
        let signer = Signer::new(&ca, &Leaf::default());
        let subject = ARTIFACT.trim_start_matches("sha256:");
        let write = |name: &str, v: &serde_json::Value| {
            std::fs::write(dir.path().join(name), v.to_string()).unwrap();
        };
        write(
            "trusted_root.json",
            &sigstore_fixture::trusted_root(&[&ca], &[&log]),
        );
        write(
            "good.sigstore.json",
            &sigstore_fixture::dsse_bundle(
                sigstore_fixture::V03,
                &signer,
                &log,
                &sigstore_fixture::statement(subject),
                &Entry::default(),
            ),
        );
        let expired = Entry {
            integrated_time: sigstore_fixture::AFTER_EXPIRY,
            ..Entry::default()
        };
        write(
            "expired.sigstore.json",
            &sigstore_fixture::dsse_bundle(
                sigstore_fixture::V02,
                &signer,
                &log,
                &sigstore_fixture::statement(subject),
                &expired,
            ),
        );
        SigstoreCase { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn verify(&self, file: &str, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "attest".to_owned(),
            "verify".to_owned(),
            self.path(file),
            "--artifact".to_owned(),
            ARTIFACT.to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        portcullis(&args)
    }
}

#[test]
fn a_sigstore_bundle_verifies_against_a_trusted_root_and_identity() {
    let case = SigstoreCase::new();
    let root = case.path("trusted_root.json");
    let o = case.verify(
        "good.sigstore.json",
        &[
            "--trusted-root",
            &root,
            "--certificate-identity",
            sigstore_fixture::SAN,
            "--certificate-oidc-issuer",
            sigstore_fixture::OIDC_ISSUER,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("signed by {}", sigstore_fixture::SAN)),
        "{out}"
    );
    assert!(
        out.contains("builder: https://ci.example/builder@v1"),
        "{out}"
    );

    // Regex flags, JSON output.
    let o = case.verify(
        "good.sigstore.json",
        &[
            "--trusted-root",
            &root,
            "--certificate-identity-regexp",
            r"https://git\.example/acme/.*",
            "--certificate-oidc-issuer-regexp",
            r"https://token\.actions\.(example|test)",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["results"][0]["signer"], sigstore_fixture::SAN);
}

#[test]
fn a_sigstore_bundle_of_another_identity_issuer_or_time_exits_1() {
    let case = SigstoreCase::new();
    let root = case.path("trusted_root.json");
    let run = |file: &str, identity: &str, issuer: &str| {
        let o = case.verify(
            file,
            &[
                "--trusted-root",
                &root,
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
                issuer,
                "--format",
                "json",
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["results"][0]["provenance"], serde_json::Value::Null);
        v["results"][0]["failure"].as_str().unwrap().to_owned()
    };
    let san = sigstore_fixture::SAN;
    let iss = sigstore_fixture::OIDC_ISSUER;
    assert_eq!(
        run("good.sigstore.json", "someone@example.com", iss),
        "identity_mismatch"
    );
    assert_eq!(
        run("good.sigstore.json", san, "https://accounts.example"),
        "issuer_mismatch"
    );
    assert_eq!(
        run("expired.sigstore.json", san, iss),
        "expired_certificate"
    );
    // A bundle with only trusted keys given: no trust root to verify it with.
    let o = case.verify(
        "good.sigstore.json",
        &[
            "--trusted-keys",
            &fixtures().join("attest/trusted").display().to_string(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("no trust root"), "{}", stdout(&o));
}

#[test]
fn an_unusable_trust_root_or_identity_flag_exits_2() {
    let case = SigstoreCase::new();
    let root = case.path("trusted_root.json");
    let san = sigstore_fixture::SAN;
    let iss = sigstore_fixture::OIDC_ISSUER;
    // No identity.
    let o = case.verify(
        "good.sigstore.json",
        &["--trusted-root", &root, "--certificate-oidc-issuer", iss],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--certificate-identity"),
        "{}",
        stderr(&o)
    );
    // No issuer.
    let o = case.verify(
        "good.sigstore.json",
        &["--trusted-root", &root, "--certificate-identity", san],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--certificate-oidc-issuer"),
        "{}",
        stderr(&o)
    );
    // A bad regex.
    let o = case.verify(
        "good.sigstore.json",
        &[
            "--trusted-root",
            &root,
            "--certificate-identity-regexp",
            "(",
            "--certificate-oidc-issuer",
            iss,
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("regular expression"), "{}", stderr(&o));
    // A trust root that is not one: the error names the file.
    let o = case.verify(
        "good.sigstore.json",
        &[
            "--trusted-root",
            &case.path("good.sigstore.json"),
            "--certificate-identity",
            san,
            "--certificate-oidc-issuer",
            iss,
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("good.sigstore.json") && stderr(&o).contains("not a TrustedRoot"),
        "{}",
        stderr(&o)
    );
    // Neither keys nor a trust root.
    let o = case.verify("good.sigstore.json", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// A gate run with `--trusted-root` and `attestations.identities` in the configuration.
fn gate_with_bundle(
    case: &SigstoreCase,
    home: &std::path::Path,
    bundle: &str,
) -> serde_json::Value {
    let config = case.dir.path().join("portcullis.yaml");
    std::fs::write(
        &config,
        format!(
            "environments:\n  production: {{ protected: true }}\nattestations:\n  identities:\n    - certificate_identity: {}\n      certificate_oidc_issuer: {}\nrules:\n  PCL-PROV-002:\n    params: {{ trusted_builders: [\"**\"] }}\n  PCL-PROV-003:\n    params: {{ trusted_repos: [\"**\"] }}\n",
            sigstore_fixture::SAN,
            sigstore_fixture::OIDC_ISSUER
        ),
    )
    .unwrap();
    let root_file = case.path("trusted_root.json");
    let o = portcullis_with_home(
        &root(),
        home,
        &[
            "gate",
            "--config",
            config.to_str().unwrap(),
            "--artifact",
            &format!("app.tar.gz@{ARTIFACT}"),
            "--env",
            "production",
            "--evidence",
            &case.path(bundle),
            "--trusted-root",
            &root_file,
            "--format",
            "json",
        ],
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)))
}

fn rule_fired(d: &serde_json::Value, rule: &str) -> bool {
    d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["rule"] == rule)
}

#[test]
fn a_gate_verifies_sigstore_bundles_with_the_trusted_root_and_replays_the_same() {
    let case = SigstoreCase::new();
    let home = fresh_home();

    let d = gate_with_bundle(&case, &home, "good.sigstore.json");
    let a = &d["attestations"][0];
    assert_eq!(a["verified"], true, "{d:#}");
    assert_eq!(a["signer"], sigstore_fixture::SAN);
    assert_eq!(a["source_repo"], "https://git.example/acme/app");
    assert!(!rule_fired(&d, "PCL-PROV-001"), "{d:#}");

    // Recorded with the trusted root: the replay verifies with it and agrees.
    let id = d["id"].as_str().unwrap();
    let o = portcullis_with_home(&root(), &home, &["decision", "replay", id]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    // A certificate that had expired when the log entry was made: no facts, the reason given.
    let d = gate_with_bundle(&case, &home, "expired.sigstore.json");
    let a = &d["attestations"][0];
    assert_eq!(a["verified"], false);
    assert_eq!(a["failure"], "expired_certificate", "{a:#}");
    assert_eq!(a["source_repo"], serde_json::Value::Null);
    assert!(rule_fired(&d, "PCL-PROV-001"));
    assert!(rule_fired(&d, "PCL-PROV-007"));
    let _ = std::fs::remove_dir_all(&home);

    // A trusted root without identities in the configuration is refused (exit 2).
    let o = portcullis(&[
        "gate",
        "--artifact",
        &format!("app.tar.gz@{ARTIFACT}"),
        "--env",
        "production",
        "--evidence",
        &case.path("good.sigstore.json"),
        "--trusted-root",
        &case.path("trusted_root.json"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("attestations.identities"),
        "{}",
        stderr(&o)
    );
}

/// `attest sign STATEMENT --key KEY [ARGS]` in a fresh directory; (output, envelope file).
fn sign(
    statement: &[u8],
    key: &std::path::Path,
    extra: &[&str],
) -> (std::process::Output, std::path::PathBuf) {
    let dir = fresh_home();
    let file = dir.join("statement.json");
    std::fs::write(&file, statement).unwrap();
    let envelope = dir.join("statement.intoto.jsonl");
    let mut args = vec![
        "attest".to_owned(),
        "sign".to_owned(),
        file.display().to_string(),
        "--key".to_owned(),
        key.display().to_string(),
        "-o".to_owned(),
        envelope.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    (portcullis(&args), envelope)
}

fn statement_for(digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {"buildType": "https://example/build@v1", "externalParameters": {}},
            "runDetails": {"builder": {"id": "https://example/builder"}}
        }
    }))
    .unwrap()
}

#[test]
fn a_signed_statement_verifies_for_its_subject_only_and_the_same_input_signs_the_same() {
    let key = root().join("examples/signing/demo-ci.key");
    let (o, envelope) = sign(&statement_for(ARTIFACT), &key, &["--key-id", "demo-ci"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("Ed25519"), "{}", stderr(&o));
    let verify = |artifact: &str| {
        portcullis(&[
            "attest",
            "verify",
            envelope.to_str().unwrap(),
            "--artifact",
            artifact,
            "--trusted-keys",
            root().join("examples/keys").to_str().unwrap(),
            "--format",
            "json",
        ])
    };
    let ok = verify(ARTIFACT);
    assert_eq!(ok.status.code(), Some(0), "{}{}", stdout(&ok), stderr(&ok));
    let v: serde_json::Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(v["results"][0]["signer"], "demo-ci");
    let other = verify("sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_eq!(other.status.code(), Some(1), "{}", stdout(&other));
    // Deterministic: the same statement and key, the same envelope (and so a reproducible
    // build can sign its provenance).
    let (_, again) = sign(&statement_for(ARTIFACT), &key, &["--key-id", "demo-ci"]);
    assert_eq!(
        std::fs::read(&envelope).unwrap(),
        std::fs::read(&again).unwrap()
    );
    // Without --key-id the keyid is the key's SPKI digest, which verifiers match too.
    let (o, unnamed) = sign(&statement_for(ARTIFACT), &key, &[]);
    assert_eq!(o.status.code(), Some(0));
    let line: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&unnamed).unwrap()).unwrap();
    assert!(
        line["signatures"][0]["keyid"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}

#[test]
fn signing_refuses_what_no_gate_would_accept_naming_the_file() {
    let key = root().join("examples/signing/demo-ci.key");
    // Not JSON; JSON that is not a Statement; a Statement without subjects.
    for (bytes, says) in [
        (b"not json".to_vec(), "not an in-toto Statement"),
        (br#"{"hello": 1}"#.to_vec(), "not an in-toto Statement"),
        (
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}"#
                .to_vec(),
            "subject",
        ),
    ] {
        let (o, envelope) = sign(&bytes, &key, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("statement.json"), "{}", stderr(&o));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
        assert!(!envelope.exists(), "an envelope was written for refused input");
    }
    // A public key, a missing file: exit 2 naming the key file.
    for bad in [
        root().join("examples/keys/demo-ci.pub"),
        root().join("examples/keys/no-such.key"),
    ] {
        let (o, _) = sign(&statement_for(ARTIFACT), &bad, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(bad.file_name().unwrap().to_str().unwrap()),
            "{}",
            stderr(&o)
        );
    }
}
