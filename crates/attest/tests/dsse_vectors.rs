//! The DSSE protocol test vectors (secure-systems-lab/dsse testvectors/vectors.json, see
//! tests/fixtures/README.md) and the PAE example of the protocol text.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use portcullis_attest::{Envelope, TrustedKey, TrustedKeys, pae};
use serde_json::Value;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> [u8; 32] {
    let v: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

#[test]
fn pae_of_the_protocol_text_example() {
    // protocol.md: PAE("http://example.com/HelloWorld", "hello world")
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
}

#[test]
fn every_official_vector_gives_the_expected_pae_and_verdict() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dsse-vectors.json"),
    )
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 9);
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let envelope = Envelope::from_json(&v["envelope"]).unwrap();
        let want_pae = v["pae"].as_str().unwrap();
        if id == "payload-type-swapped" {
            // The signature covers the original type; the envelope's PAE differs from it.
            assert_ne!(hex(&envelope.pae()), want_pae, "{id}");
        } else {
            assert_eq!(hex(&envelope.pae()), want_pae, "{id}");
        }
        let trusted: Vec<TrustedKey> = v["trustedKeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| {
                let name = name.as_str().unwrap();
                let public = unhex(doc["keys"][name]["public"].as_str().unwrap());
                TrustedKey::from_pem(name, &support::ed25519_pem(&public)).unwrap()
            })
            .collect();
        let keys = TrustedKeys::from_keys(trusted);
        let supported: Vec<&str> = v["supportedPayloadTypes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let threshold = v["threshold"].as_u64().unwrap() as usize;
        let check = envelope.check_signatures(&keys);
        let accepted =
            supported.contains(&envelope.payload_type.as_str()) && check.signers.len() >= threshold;
        let expect = v["expect"].as_str().unwrap() == "accept";
        assert_eq!(accepted, expect, "{id}: signers {:?}", check.signers);
    }
}
