//! Cross-implementation: envelopes signed by securesystemslib (the Python reference
//! implementation of DSSE) with Ed25519, ECDSA P-256 / P-384 and RSA keys it generated (its
//! default schemes: ed25519, ecdsa-sha2-nistp256/384 DER, rsassa-pss-sha256) must verify here,
//! and its tampered / untrusted / other-digest / wrong-type envelopes must fail with the right
//! reason. The test manages its own virtualenv:
//! `${PORTCULLIS_VENV_ATTEST:-$HOME/.cache/portcullis/venv-attest}`. Without python3 or pip it
//! skips outside CI and fails under `CI=true` (a skipped dependency is a failure there).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_attest::{ArtifactDigest, Failure, Thresholds, TrustedKeys, read_documents, verify};

const SUBJECT: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
const PIP_TIMEOUT: Duration = Duration::from_secs(300);

fn venv_dir() -> PathBuf {
    if let Some(v) = std::env::var_os("PORTCULLIS_VENV_ATTEST") {
        return PathBuf::from(v);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/portcullis/venv-attest")
}

/// Run a command to completion within `limit`, killing it after.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<(), String> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut s, &mut err);
                }
                return Err(format!("{cmd:?} exited with {status}: {err}"));
            }
            None if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?} did not finish in {limit:?}"));
            }
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn has_securesystemslib(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import securesystemslib.dsse, cryptography"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The venv's python with securesystemslib[crypto], created when missing.
fn python_with_securesystemslib() -> Result<PathBuf, String> {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    if python.exists() && has_securesystemslib(&python) {
        return Ok(python);
    }
    run_bounded(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        Duration::from_secs(120),
    )
    .map_err(|e| format!("cannot create a virtualenv (python3 -m venv): {e}"))?;
    run_bounded(
        Command::new(venv.join("bin/pip")).args([
            "install",
            "--disable-pip-version-check",
            "--quiet",
            "securesystemslib[crypto]",
        ]),
        PIP_TIMEOUT,
    )
    .map_err(|e| format!("cannot install securesystemslib[crypto]: {e}"))?;
    if has_securesystemslib(&python) {
        Ok(python)
    } else {
        Err("securesystemslib does not import after installing it".into())
    }
}

#[test]
fn securesystemslib_envelopes_verify_and_its_bad_ones_fail_for_the_right_reason() {
    let python = match python_with_securesystemslib() {
        Ok(p) => p,
        Err(reason) => portcullis_testkit::skip_or_fail!("cross_impl", "{reason}"),
    };
    let out = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/securesystemslib.py");
    run_bounded(
        Command::new(&python)
            .arg(&script)
            .arg(out.path())
            .arg(SUBJECT),
        Duration::from_secs(120),
    )
    .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    eprintln!(
        "securesystemslib {} (cryptography {}), schemes {}",
        manifest["securesystemslib"], manifest["cryptography"], manifest["schemes"]
    );

    let keys = TrustedKeys::load_dir(&out.path().join("trusted")).unwrap();
    assert_eq!(keys.len(), 4);
    // Our computation of securesystemslib's keyid agrees with securesystemslib's.
    for key in keys.iter() {
        let theirs = manifest["keyids"][&key.name].as_str().unwrap();
        assert!(
            key.is_named_by(theirs),
            "{}: {theirs} vs {:?}",
            key.name,
            key.sslib_keyids
        );
    }

    let artifact: ArtifactDigest = format!("sha256:{SUBJECT}").parse().unwrap();
    let expect = manifest["expect"].as_object().unwrap();
    assert_eq!(expect.len(), 8);
    for (name, want) in expect {
        let bytes =
            std::fs::read(out.path().join("envelopes").join(format!("{name}.json"))).unwrap();
        let doc = read_documents(&bytes).unwrap().remove(0);
        let v = verify(&doc, &artifact, &keys, &Thresholds::default());
        match want.as_str().unwrap() {
            "accept" => {
                assert!(v.verified, "{name}: {v:?}");
                let signer = name.trim_start_matches("valid-");
                assert_eq!(v.signer.as_deref(), Some(signer), "{name}");
                let p = v.provenance.unwrap();
                assert_eq!(
                    p.builder_id.as_deref(),
                    Some("https://example.com/builder@v1")
                );
                assert_eq!(
                    p.source_repository.as_deref(),
                    Some("https://example.com/acme/app")
                );
            }
            code => {
                let failure = match code {
                    "bad_signature" => Failure::BadSignature,
                    "untrusted_key" => Failure::UntrustedKey,
                    "digest_mismatch" => Failure::DigestMismatch,
                    "wrong_payload_type" => Failure::WrongPayloadType,
                    other => panic!("unknown expectation {other}"),
                };
                assert!(!v.verified, "{name}: {v:?}");
                assert_eq!(v.failure, Some(failure), "{name}: {v:?}");
                assert_eq!(v.provenance, None, "{name}");
            }
        }
    }
}
