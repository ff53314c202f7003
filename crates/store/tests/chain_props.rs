//! Any change to any stored byte of a chain or of its checkpoints is caught.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use portcullis_store::{Chain, CheckpointKey, Entry, verify};
use proptest::prelude::*;
use serde_json::json;

fn build(n: u64, key: &CheckpointKey) -> (Vec<Entry>, Vec<portcullis_store::Checkpoint>) {
    let mut c = Chain::new();
    let entries: Vec<Entry> = (1..=n)
        .map(|i| {
            c.append(
                "decision",
                &json!({"n": i, "verdict": "allow", "score": 0.5 + i as f64}),
                "2026-11-23T12:00:00Z",
            )
            .unwrap()
        })
        .collect();
    (entries, vec![c.checkpoint(key, "2026-11-23T12:00:01Z")])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn flipping_any_byte_of_any_field_fails_verification(
        entry in 0usize..12,
        field in 0usize..4,
        pos in any::<prop::sample::Index>(),
        bit in 0u8..7,
    ) {
        let key = CheckpointKey::generate().unwrap();
        let (mut entries, cps) = build(12, &key);
        prop_assert!(verify(&entries, &cps, Some(&key.public_hex())).is_ok());
        let e = &mut entries[entry];
        let target = match field {
            0 => &mut e.body,
            1 => &mut e.body_digest,
            2 => &mut e.prev_hash,
            _ => &mut e.hash,
        };
        let mut bytes = target.clone().into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        // Keep it text: a flip that breaks UTF-8 is a different test (the store's).
        prop_assume!(String::from_utf8(bytes.clone()).is_ok());
        *target = String::from_utf8(bytes).unwrap();
        prop_assert!(verify(&entries, &cps, Some(&key.public_hex())).is_err());
    }
}
