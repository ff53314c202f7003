//! Make the fixed trust of the `attest_verify` fuzz target and its seeds (see data/README.md).
//! Usage: make_attest_seeds DATA_DIR SEEDS_DIR
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../attest/tests/support/sigstore_fixture.rs"]
mod fixture;

use ed25519_dalek::Signer as _;
use fixture::{Ca, Entry, Leaf, Log, Signer};
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = PathBuf::from(&args[1]);
    let seeds = PathBuf::from(&args[2]);
    std::fs::create_dir_all(&seeds).unwrap();
    let artifact_bytes = b"portcullis fuzz artifact";
    let digest = fixture::sha256_hex(artifact_bytes);
    std::fs::write(data.join("artifact.txt"), format!("{digest}\n")).unwrap();

    let ca = Ca::new("fuzz-fulcio");
    let log = Log::new(7);
    let signer = Signer::new(&ca, &Leaf::default());
    let root = fixture::trusted_root(&[&ca], &[&log]);
    let mut text = serde_json::to_string_pretty(&root).unwrap();
    text.push('\n');
    std::fs::write(data.join("trusted_root.json"), text).unwrap();

    let statement = fixture::statement(&digest);
    for (name, media_type) in [("v01", fixture::V01), ("v03", fixture::V03)] {
        let bundle = fixture::dsse_bundle(media_type, &signer, &log, &statement, &Entry::default());
        std::fs::write(
            seeds.join(format!("bundle-dsse-{name}.sigstore.json")),
            serde_json::to_vec(&bundle).unwrap(),
        )
        .unwrap();
    }
    let message = fixture::message_bundle(&signer, &log, artifact_bytes, &Entry::default());
    std::fs::write(
        seeds.join("bundle-message-v03.sigstore.json"),
        serde_json::to_vec(&message).unwrap(),
    )
    .unwrap();

    // The DSSE envelope, signed by the Ed25519 key of seed [7; 32].
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(&key.verifying_key().to_bytes());
    std::fs::write(
        data.join("fuzz-key.pub"),
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            fixture::b64(&spki)
        ),
    )
    .unwrap();
    let pae = portcullis_attest::pae("application/vnd.in-toto+json", &statement);
    let envelope = serde_json::json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": fixture::b64(&statement),
        "signatures": [{"keyid": "fuzz-key", "sig": fixture::b64(&key.sign(&pae).to_bytes())}],
    });
    let line = serde_json::to_string(&envelope).unwrap();
    std::fs::write(seeds.join("envelope-ed25519.json"), &line).unwrap();
    std::fs::write(
        seeds.join("envelopes.intoto.jsonl"),
        format!("{line}\n{line}\n"),
    )
    .unwrap();
}
