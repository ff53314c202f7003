//! Verification with keys made by the RustCrypto crates: every key type, the refusal of small
//! RSA keys, thresholds, keyid hints, each failure reason, and garbage that never panics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::Path;

use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use portcullis_attest::{
    ArtifactDigest, Failure, KeyAlgorithm, Thresholds, TrustedKey, TrustedKeys, pae, verify,
};
use rsa::pkcs8::DecodePrivateKey as _;
use sha2::{Digest as _, Sha256};
use support::*;

const INTOTO: &str = "application/vnd.in-toto+json";

fn artifact(s: &str) -> ArtifactDigest {
    s.parse().unwrap()
}

fn hex_a() -> String {
    SHA_A.trim_start_matches("sha256:").to_owned()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn one(keys: &TrustedKeys, doc: &serde_json::Value) -> portcullis_attest::Verification {
    verify(doc, &artifact(SHA_A), keys, &Thresholds::default())
}

#[test]
fn ed25519_signed_slsa_v02_verifies_with_its_facts() {
    let k = ed25519_signing(1);
    let payload = slsa_v02(&hex_a());
    let doc = envelope(
        INTOTO,
        &payload,
        &[(Some("ci"), sign_ed25519(&k, INTOTO, &payload))],
    );
    let v = one(&keys(vec![ed25519_trusted("ci", &k)]), &doc);
    assert!(v.verified, "{v:?}");
    assert_eq!(v.signer.as_deref(), Some("ci"));
    assert!(v.subject_matches_artifact);
    assert_eq!(v.reason, None);
    let p = v.provenance.unwrap();
    assert_eq!(p.slsa_version, "v0.2");
    assert_eq!(
        p.builder_id.as_deref(),
        Some("https://ci.example/builder@v1")
    );
    assert_eq!(
        p.source_repository.as_deref(),
        Some("https://git.example/acme/app")
    );
    assert_eq!(p.source_ref.as_deref(), Some("refs/heads/main"));
    assert_eq!(
        p.source_commit.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(p.entry_point.as_deref(), Some(".ci/build.yml"));
    assert_eq!(p.parameters, vec!["target".to_owned()]);
    assert_eq!(p.materials.len(), 1);
}

#[test]
fn ecdsa_p256_der_and_raw_signatures_verify() {
    use p256::ecdsa::signature::Signer as _;
    let sk = p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap();
    let pem = sk
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let key = TrustedKey::from_pem("p256", &pem).unwrap();
    assert_eq!(key.algorithm, KeyAlgorithm::EcdsaP256);
    let payload = slsa_v02(&hex_a());
    let sig: p256::ecdsa::Signature = sk.sign(&pae(INTOTO, &payload));
    let keys = keys(vec![key]);
    for bytes in [sig.to_der().as_bytes().to_vec(), sig.to_bytes().to_vec()] {
        let v = one(&keys, &envelope(INTOTO, &payload, &[(None, bytes)]));
        assert!(v.verified, "{v:?}");
        assert_eq!(v.signer.as_deref(), Some("p256"));
    }
}

#[test]
fn ecdsa_p384_signatures_verify() {
    use p384::ecdsa::signature::Signer as _;
    let sk = p384::ecdsa::SigningKey::from_slice(&[5u8; 48]).unwrap();
    let pem = sk
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let key = TrustedKey::from_pem("p384", &pem).unwrap();
    assert_eq!(key.algorithm, KeyAlgorithm::EcdsaP384);
    let payload = slsa_v02(&hex_a());
    let sig: p384::ecdsa::Signature = sk.sign(&pae(INTOTO, &payload));
    let keys = keys(vec![key]);
    for bytes in [sig.to_der().as_bytes().to_vec(), sig.to_bytes().to_vec()] {
        let v = one(&keys, &envelope(INTOTO, &payload, &[(None, bytes)]));
        assert!(v.verified, "{v:?}");
    }
}

#[test]
fn rsa_pss_and_pkcs1v15_with_sha256_verify() {
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(&fixture("rsa-2048.pem")).unwrap();
    let pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let key = TrustedKey::from_pem("rsa", &pem).unwrap();
    assert_eq!(key.algorithm, KeyAlgorithm::RsaSha256);
    let keys = keys(vec![key]);
    let payload = slsa_v02(&hex_a());
    let hashed = Sha256::digest(pae(INTOTO, &payload));
    let mut rng = rsa::rand_core::OsRng;
    let pkcs1 = private
        .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &hashed)
        .unwrap();
    let pss = private
        .sign_with_rng(&mut rng, rsa::Pss::new::<Sha256>(), &hashed)
        .unwrap();
    for sig in [pkcs1, pss.clone()] {
        let v = one(&keys, &envelope(INTOTO, &payload, &[(None, sig)]));
        assert!(v.verified, "{v:?}");
    }
    // The same signature over other bytes does not verify.
    let other = slsa_v02(&"c".repeat(64));
    let v = one(&keys, &envelope(INTOTO, &other, &[(Some("rsa"), pss)]));
    assert_eq!(v.failure, Some(Failure::BadSignature), "{v:?}");
}

#[test]
fn rsa_keys_under_2048_bits_are_refused_with_a_reason() {
    let err = TrustedKey::from_pem("small", &fixture("rsa-1024.pub.pem")).unwrap_err();
    assert_eq!(err, portcullis_attest::KeyError::RsaTooSmall { bits: 1024 });
    assert!(err.to_string().contains("1024 bits refused"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("small.pem"), fixture("rsa-1024.pub.pem")).unwrap();
    let e = TrustedKeys::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("no usable trusted key") && e.contains("1024 bits refused"),
        "{e}"
    );
    // Next to a good key, the small one is listed as refused, not trusted.
    let k = ed25519_signing(1);
    std::fs::write(
        dir.path().join("good.pem"),
        ed25519_pem(&k.verifying_key().to_bytes()),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a key").unwrap();
    let keys = TrustedKeys::load_dir(dir.path()).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys.refused.len(), 2);
}

#[test]
fn keyid_hints_match_by_stem_spki_digest_or_securesystemslib_id() {
    let k = ed25519_signing(1);
    let key = ed25519_trusted("release", &k);
    assert!(key.is_named_by("release"));
    assert!(key.is_named_by(&key.spki_sha256.clone()));
    assert!(key.is_named_by(&format!("sha256:{}", key.spki_sha256)));
    assert!(key.is_named_by(&key.sslib_keyids[0].clone()));
    assert!(!key.is_named_by("other"));
}

#[test]
fn a_keyid_naming_another_key_still_verifies_with_the_right_key() {
    let a = ed25519_signing(1);
    let b = ed25519_signing(2);
    let payload = slsa_v02(&hex_a());
    let doc = envelope(
        INTOTO,
        &payload,
        &[(Some("b"), sign_ed25519(&a, INTOTO, &payload))],
    );
    let v = one(
        &keys(vec![ed25519_trusted("b", &b), ed25519_trusted("a", &a)]),
        &doc,
    );
    assert!(v.verified, "{v:?}");
    assert_eq!(v.signer.as_deref(), Some("a"));
}

#[test]
fn thresholds_count_distinct_trusted_keys() {
    let a = ed25519_signing(1);
    let b = ed25519_signing(2);
    let payload = slsa_v02(&hex_a());
    let sa = sign_ed25519(&a, INTOTO, &payload);
    let sb = sign_ed25519(&b, INTOTO, &payload);
    // The same key under two file names counts once.
    let keys = keys(vec![
        ed25519_trusted("a", &a),
        ed25519_trusted("a-copy", &a),
        ed25519_trusted("b", &b),
    ]);
    let two = Thresholds::uniform(2);
    let both = envelope(INTOTO, &payload, &[(None, sa.clone()), (None, sb)]);
    let v = verify(&both, &artifact(SHA_A), &keys, &two);
    assert!(v.verified, "{v:?}");
    assert_eq!(v.signers, vec!["a".to_owned(), "b".to_owned()]);
    let twice = envelope(
        INTOTO,
        &payload,
        &[(Some("a"), sa.clone()), (Some("a-copy"), sa.clone())],
    );
    let v = verify(&twice, &artifact(SHA_A), &keys, &two);
    assert!(!v.verified);
    assert_eq!(v.failure, Some(Failure::BelowThreshold));
    assert!(v.reason.unwrap().starts_with("below threshold"));
    assert_eq!(v.provenance, None);
    // Per predicate type: 2 for SLSA provenance v0.2 only.
    let mut per = Thresholds::default();
    per.per_predicate_type
        .insert("https://slsa.dev/provenance/v0.2".into(), 2);
    let single = envelope(INTOTO, &payload, &[(None, sa.clone())]);
    assert_eq!(
        verify(&single, &artifact(SHA_A), &keys, &per).failure,
        Some(Failure::BelowThreshold)
    );
    let other_type = statement(
        "https://in-toto.io/Statement/v1",
        "https://example.com/test-result/v1",
        &hex_a(),
    );
    let doc = envelope(
        INTOTO,
        &other_type,
        &[(None, sign_ed25519(&a, INTOTO, &other_type))],
    );
    let v = verify(&doc, &artifact(SHA_A), &keys, &per);
    assert!(v.verified, "{v:?}");
    assert_eq!(v.provenance, None, "not a provenance predicate");
}

#[test]
fn each_failure_has_its_reason_and_no_facts() {
    let a = ed25519_signing(1);
    let stranger = ed25519_signing(9);
    let keys = keys(vec![ed25519_trusted("a", &a)]);
    let payload = slsa_v02(&hex_a());
    let good = sign_ed25519(&a, INTOTO, &payload);
    let cases: Vec<(serde_json::Value, Failure, &str)> = vec![
        (
            envelope(
                INTOTO,
                &slsa_v02(&"d".repeat(64)),
                &[(Some("a"), good.clone())],
            ),
            Failure::BadSignature,
            "bad signature",
        ),
        (
            envelope(
                INTOTO,
                &payload,
                &[(Some("x"), sign_ed25519(&stranger, INTOTO, &payload))],
            ),
            Failure::UntrustedKey,
            "untrusted key",
        ),
        (
            envelope(
                "application/json",
                &payload,
                &[(Some("a"), sign_ed25519(&a, "application/json", &payload))],
            ),
            Failure::WrongPayloadType,
            "wrong payload type",
        ),
        (
            serde_json::json!({"payloadType": INTOTO, "payload": "%%%", "signatures": []}),
            Failure::MalformedEnvelope,
            "malformed envelope: /payload",
        ),
        (
            serde_json::json!({"payloadType": INTOTO, "payload": "", "signatures": [{"sig": 5}]}),
            Failure::MalformedEnvelope,
            "malformed envelope: /signatures/0/sig",
        ),
        (
            serde_json::json!({"payloadType": INTOTO, "payload": "",
                               "signatures": vec![serde_json::json!({"sig": ""}); 65]}),
            Failure::MalformedEnvelope,
            "malformed envelope: /signatures: has 65 signatures",
        ),
    ];
    for (doc, failure, prefix) in cases {
        let v = one(&keys, &doc);
        assert!(!v.verified);
        assert_eq!(v.failure, Some(failure), "{v:?}");
        assert!(v.reason.as_deref().unwrap().starts_with(prefix), "{v:?}");
        assert_eq!(v.provenance, None);
    }
    // Signed fine, but for another artifact: the signer is named, the facts are not given.
    let doc = envelope(INTOTO, &payload, &[(Some("a"), good)]);
    let v = verify(&doc, &artifact(SHA_B), &keys, &Thresholds::default());
    assert!(!v.verified);
    assert!(!v.subject_matches_artifact);
    assert_eq!(v.failure, Some(Failure::DigestMismatch));
    assert_eq!(v.signer.as_deref(), Some("a"));
    assert_eq!(v.provenance, None);
    // A signed payload that is not a Statement names the place.
    let junk = br#"{"_type": "https://example.com/other"}"#;
    let doc = envelope(INTOTO, junk, &[(None, sign_ed25519(&a, INTOTO, junk))]);
    let v = one(&keys, &doc);
    assert_eq!(v.failure, Some(Failure::MalformedEnvelope));
    assert!(v.reason.unwrap().contains("/payload/_type"));
}

#[test]
fn artifact_digests_are_sha256_hex() {
    assert!("sha256:ABC".parse::<ArtifactDigest>().is_err());
    assert!("sha1:aaaa".parse::<ArtifactDigest>().is_err());
    let d: ArtifactDigest = SHA_A
        .to_uppercase()
        .replace("SHA256", "sha256")
        .parse()
        .unwrap();
    assert_eq!(d.to_string(), SHA_A);
}

mod garbage {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let keys = keys(vec![ed25519_trusted("a", &ed25519_signing(1))]);
            if let Ok(docs) = portcullis_attest::read_documents(&bytes) {
                for d in docs {
                    let v = one(&keys, &d);
                    prop_assert!(!v.verified);
                    let _ = portcullis_attest::inspect_unverified(&d);
                }
            }
            let _ = TrustedKey::from_pem("x", &String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn arbitrary_envelope_fields_never_panic(
            payload_type in ".{0,40}",
            payload in ".{0,80}",
            sig in ".{0,100}",
            keyid in proptest::option::of(".{0,20}"),
        ) {
            let keys = keys(vec![ed25519_trusted("a", &ed25519_signing(1))]);
            let doc = serde_json::json!({
                "payloadType": payload_type,
                "payload": payload,
                "signatures": [{"keyid": keyid, "sig": sig}],
            });
            prop_assert!(!one(&keys, &doc).verified);
            let inner = serde_json::json!({
                "payloadType": INTOTO,
                "payload": b64(payload.as_bytes()),
                "signatures": [{"sig": b64(sig.as_bytes())}],
            });
            prop_assert!(!one(&keys, &inner).verified);
            let _ = portcullis_attest::inspect_unverified(&inner);
        }

        #[test]
        fn garbage_pem_never_panics(body in "[A-Za-z0-9+/=\n]{0,300}") {
            let pem = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n");
            let _ = TrustedKey::from_pem("x", &pem);
        }
    }
}
