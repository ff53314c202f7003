//! Keys and envelopes made with the RustCrypto crates, for the attest tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use portcullis_attest::{TrustedKey, TrustedKeys};

pub const SHA_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const SHA_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An SPKI PEM of a raw Ed25519 public key.
pub fn ed25519_pem(public: &[u8; 32]) -> String {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(public);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64(&der)
    )
}

pub fn ed25519_signing(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

pub fn ed25519_trusted(name: &str, key: &ed25519_dalek::SigningKey) -> TrustedKey {
    TrustedKey::from_pem(name, &ed25519_pem(&key.verifying_key().to_bytes())).unwrap()
}

pub fn keys(list: Vec<TrustedKey>) -> TrustedKeys {
    TrustedKeys::from_keys(list)
}

/// An in-toto Statement v1 (or v0.1) with one subject.
pub fn statement(statement_type: &str, predicate_type: &str, sha256_hex: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "_type": statement_type,
        "subject": [{"name": "app", "digest": {"sha256": sha256_hex}}],
        "predicateType": predicate_type,
        "predicate": {
            "builder": {"id": "https://ci.example/builder@v1"},
            "buildType": "https://ci.example/build@v1",
            "invocation": {
                "configSource": {
                    "uri": "git+https://git.example/acme/app@refs/heads/main",
                    "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"},
                    "entryPoint": ".ci/build.yml"
                },
                "parameters": {"target": "release"}
            },
            "materials": [{"uri": "git+https://git.example/acme/app@refs/heads/main",
                           "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}}]
        }
    }))
    .unwrap()
}

pub fn slsa_v02(sha256_hex: &str) -> Vec<u8> {
    statement(
        "https://in-toto.io/Statement/v0.1",
        "https://slsa.dev/provenance/v0.2",
        sha256_hex,
    )
}

/// A DSSE envelope of `payload` with signatures `(keyid, sig)`.
pub fn envelope(
    payload_type: &str,
    payload: &[u8],
    sigs: &[(Option<&str>, Vec<u8>)],
) -> serde_json::Value {
    serde_json::json!({
        "payloadType": payload_type,
        "payload": b64(payload),
        "signatures": sigs.iter().map(|(k, s)| match k {
            Some(k) => serde_json::json!({"keyid": k, "sig": b64(s)}),
            None => serde_json::json!({"sig": b64(s)}),
        }).collect::<Vec<_>>(),
    })
}

pub fn sign_ed25519(
    key: &ed25519_dalek::SigningKey,
    payload_type: &str,
    payload: &[u8],
) -> Vec<u8> {
    use ed25519_dalek::Signer as _;
    key.sign(&portcullis_attest::pae(payload_type, payload))
        .to_bytes()
        .to_vec()
}
