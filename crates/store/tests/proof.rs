//! Proof bundles: a sealed bundle verifies off-line and says what it covers; any changed byte,
//! and each kind of doctored content (even when re-signed with the genuine key), is refused with
//! an error naming what failed and where.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::OnceLock;

use portcullis_store::canonical;
use portcullis_store::chain::Tamper;
use portcullis_store::{
    BundleScope, Chain, Checkpoint, CheckpointKey, Entry, ProofBundle, ProofError, blob_digest,
    verify_bundle,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const AT: &str = "2026-11-23T12:00:00Z";
const EXPORTED: &str = "2026-11-24T08:30:00Z";

/// An audit chain of 12 entries with checkpoints at 5, 10 and 12; entry 8 is the decision
/// `dec-8` (deny), resting on its decision document, an evidence document and a policy bundle.
struct Fixture {
    key: CheckpointKey,
    entries: Vec<Entry>,
    checkpoints: Vec<Checkpoint>,
    decision_doc: Vec<u8>,
    evidence: Vec<u8>,
    policy: Vec<u8>,
}

fn fixture() -> Fixture {
    let key = CheckpointKey::generate().unwrap();
    let evidence =
        br#"{"sbom":"cyclonedx","components":[{"purl":"pkg:npm/left-pad@1.3.0"}]}"#.to_vec();
    let policy =
        b"package portcullis\n\ndeny[msg] { input.critical > 0; msg := \"critical\" }\n".to_vec();
    let decision_doc =
        serde_json::to_vec(&json!({"id": "dec-8", "decision": "deny", "reasons": ["critical"]}))
            .unwrap();
    let (e, p, d) = (
        blob_digest(&evidence),
        blob_digest(&policy),
        blob_digest(&decision_doc),
    );
    let mut chain = Chain::new();
    let mut entries = Vec::new();
    let mut checkpoints = Vec::new();
    for seq in 1..=12u64 {
        let (kind, body) = match seq {
            3 => ("policy.changed", json!({"refs": [p]})),
            6 => ("evidence", json!({"refs": [e], "artifact": "shop/api"})),
            8 => (
                "decision",
                json!({"decision_id": "dec-8", "verdict": "deny", "decision_digest": d, "refs": [d, e, p]}),
            ),
            _ => (
                "advisory.added",
                json!({"advisory": format!("GHSA-{seq:04}")}),
            ),
        };
        entries.push(chain.append(kind, &body, AT).unwrap());
        if matches!(seq, 5 | 10 | 12) {
            checkpoints.push(chain.checkpoint(&key, AT));
        }
    }
    Fixture {
        key,
        entries,
        checkpoints,
        decision_doc,
        evidence,
        policy,
    }
}

impl Fixture {
    fn blobs(&self) -> Vec<(String, Vec<u8>)> {
        vec![
            ("decision".into(), self.decision_doc.clone()),
            ("evidence".into(), self.evidence.clone()),
            ("policy-bundle".into(), self.policy.clone()),
        ]
    }

    /// Entries `from..=to` (1-based) and the checkpoints within them.
    fn segment(&self, from: u64, to: u64) -> (Vec<Entry>, Vec<Checkpoint>) {
        let entries = self.entries[(from - 1) as usize..to as usize].to_vec();
        let cps = self
            .checkpoints
            .iter()
            .filter(|c| (from..=to).contains(&c.seq))
            .cloned()
            .collect();
        (entries, cps)
    }

    /// The bundle for decision `dec-8`: entries 6..=10, anchored by the checkpoint at 10.
    fn decision_bundle(&self) -> ProofBundle {
        let (entries, cps) = self.segment(6, 10);
        ProofBundle::seal(
            BundleScope::Decision {
                decision: "dec-8".into(),
            },
            entries,
            cps,
            self.blobs(),
            &self.key,
            EXPORTED,
        )
        .unwrap()
    }

    fn range_bundle(&self, from: u64, to: u64) -> ProofBundle {
        let (entries, cps) = self.segment(from, to);
        ProofBundle::seal(
            BundleScope::Range { from, to },
            entries,
            cps,
            self.blobs(),
            &self.key,
            EXPORTED,
        )
        .unwrap()
    }

    fn trusted(&self) -> String {
        self.key.public_hex()
    }
}

/// Sign a doctored document as a forger holding `key` would: the canonical JSON without
/// `signature`, written back in canonical form. Independent of the library's sealing code.
fn resign(mut doc: Value, key: &CheckpointKey) -> Vec<u8> {
    let map = doc.as_object_mut().unwrap();
    map.remove("signature");
    map.insert("public_key".into(), json!(key.public_hex()));
    map.insert("key_id".into(), json!(key.key_id()));
    let signature = key.sign(&canonical::to_vec(&doc).unwrap());
    doc.as_object_mut()
        .unwrap()
        .insert("signature".into(), json!(signature));
    canonical::to_vec(&doc).unwrap()
}

fn doc_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The offset of the first occurrence of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not in the bundle", String::from_utf8_lossy(needle)))
}

fn with_byte(bytes: &[u8], at: usize, value: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    assert_ne!(out[at], value);
    out[at] = value;
    out
}

#[test]
fn a_sealed_decision_bundle_verifies_and_says_what_it_proves() {
    let fx = fixture();
    let bundle = fx.decision_bundle();
    let bytes = bundle.to_bytes().unwrap();
    assert_ne!(bytes.last(), Some(&b'\n'));
    assert_eq!(bytes, canonical::to_vec(&doc_of(&bytes)).unwrap());
    assert_eq!(
        serde_json::from_slice::<ProofBundle>(&bytes).unwrap(),
        bundle
    );

    let report = verify_bundle(&bytes, Some(&fx.trusted())).unwrap();
    assert_eq!(
        report.scope,
        BundleScope::Decision {
            decision: "dec-8".into()
        }
    );
    assert_eq!(report.exported_at, EXPORTED);
    assert_eq!(report.entries, 5);
    assert_eq!((report.first_seq, report.last_seq), (6, 10));
    assert_eq!(report.last_hash, fx.entries[9].hash);
    assert_eq!(report.checkpoint_seq, 10);
    assert_eq!(report.blobs, 3);
    assert_eq!(report.key_id, fx.key.key_id());
    assert_eq!(report.public_key, fx.key.public_hex());
    let decision = report.decision.unwrap();
    assert_eq!(decision.decision_id, "dec-8");
    assert_eq!(decision.verdict, "deny");
    assert_eq!(decision.seq, 8);
    assert_eq!(decision.decision_digest, blob_digest(&fx.decision_doc));

    // The trusted key may be given in any letter case, as a person might paste it.
    verify_bundle(&bytes, Some(&fx.trusted().to_uppercase())).unwrap();
    verify_bundle(&bytes, None).unwrap();
}

#[test]
fn a_sealed_range_bundle_verifies_from_genesis_or_mid_chain() {
    let fx = fixture();
    for (from, to) in [(1, 12), (1, 5), (3, 10), (11, 12)] {
        let bytes = fx.range_bundle(from, to).to_bytes().unwrap();
        let report = verify_bundle(&bytes, Some(&fx.trusted()))
            .unwrap_or_else(|e| panic!("{from}..={to}: {e}"));
        assert_eq!(report.scope, BundleScope::Range { from, to });
        assert_eq!(report.entries as u64, to - from + 1);
        assert_eq!((report.first_seq, report.last_seq), (from, to));
        assert_eq!(report.last_hash, fx.entries[to as usize - 1].hash);
        assert_eq!(report.checkpoint_seq, to);
        assert_eq!(report.decision, None);
    }
}

#[test]
fn scopes_serialize_exactly_as_specified() {
    let d = BundleScope::Decision {
        decision: "dec-8".into(),
    };
    let r = BundleScope::Range { from: 3, to: 10 };
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"decision":"dec-8"}"#
    );
    assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"from":3,"to":10}"#);
    assert_eq!(
        serde_json::from_str::<BundleScope>(r#"{"to":10,"from":3}"#).unwrap(),
        r
    );
    for bad in [
        r#"{"decision":"dec-8","from":3}"#,
        r#"{"from":3}"#,
        r#"{}"#,
        r#"{"decision":"dec-8","extra":1}"#,
    ] {
        let err = serde_json::from_str::<BundleScope>(bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scope") || err.contains("unknown field"),
            "{bad}: {err}"
        );
    }
}

/// The bundle every byte-change case starts from (sealing once keeps 512 cases fast).
fn genuine() -> &'static (Vec<u8>, String) {
    static GENUINE: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    GENUINE.get_or_init(|| {
        let fx = fixture();
        (fx.decision_bundle().to_bytes().unwrap(), fx.trusted())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn changing_any_single_byte_fails(pos in any::<prop::sample::Index>(), value in any::<u8>()) {
        let (bytes, trusted) = genuine();
        let at = pos.index(bytes.len());
        prop_assume!(bytes[at] != value);
        let mut changed = bytes.clone();
        changed[at] = value;
        prop_assert!(verify_bundle(&changed, None).is_err(), "byte {at} -> {value:#04x} passed");
        prop_assert!(verify_bundle(&changed, Some(trusted)).is_err());
    }

    #[test]
    fn random_bytes_are_refused_without_panic(junk in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(verify_bundle(&junk, None).is_err());
    }
}

#[test]
fn a_flipped_byte_in_a_blob_fails_and_re_signing_does_not_help() {
    let fx = fixture();
    let bytes = fx.decision_bundle().to_bytes().unwrap();
    let digest = blob_digest(&fx.evidence);
    let content = base64_of(&fx.evidence);
    let at = find(&bytes, content.as_bytes()) + 10;
    let new = if bytes[at] == b'A' { b'B' } else { b'A' };
    let changed = with_byte(&bytes, at, new);
    assert!(matches!(
        verify_bundle(&changed, None),
        Err(ProofError::BadSignature)
    ));

    let forged = resign(doc_of(&changed), &fx.key);
    let err = verify_bundle(&forged, Some(&fx.trusted())).unwrap_err();
    assert!(
        matches!(&err, ProofError::BlobDigest { digest: d } if *d == digest),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("proof bundle: blob {digest}: content does not match its digest")
    );

    // Content that is not base64 at all is named as such.
    let mut doc = doc_of(&bytes);
    doc["blobs"][&digest]["content"] = json!("not base64!");
    let err = verify_bundle(&resign(doc, &fx.key), None).unwrap_err();
    assert!(
        matches!(&err, ProofError::BlobBase64 { digest: d, .. } if *d == digest),
        "{err}"
    );
}

fn base64_of(raw: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[test]
fn a_flipped_byte_in_an_entry_body_fails_and_re_signing_does_not_help() {
    let fx = fixture();
    let bytes = fx.decision_bundle().to_bytes().unwrap();
    // Inside entry 8's body, as escaped in the bundle: deny -> dent.
    let at = find(&bytes, br#"\"verdict\":\"deny\""#) + r#"\"verdict\":\"den"#.len();
    let changed = with_byte(&bytes, at, b't');
    assert!(matches!(
        verify_bundle(&changed, None),
        Err(ProofError::BadSignature)
    ));

    let forged = resign(doc_of(&changed), &fx.key);
    let err = verify_bundle(&forged, Some(&fx.trusted())).unwrap_err();
    assert!(
        matches!(err, ProofError::Chain(Tamper::Modified { seq: 8 })),
        "{err}"
    );
    assert!(err.to_string().contains("entry 8 was modified"), "{err}");
}

#[test]
fn a_flipped_byte_in_a_checkpoint_signature_fails_and_re_signing_does_not_help() {
    let fx = fixture();
    let bundle = fx.decision_bundle();
    let bytes = bundle.to_bytes().unwrap();
    let sig = &bundle.checkpoints[0].signature;
    let at = find(&bytes, sig.as_bytes()) + 20;
    let new = if bytes[at] == b'0' { b'1' } else { b'0' };
    let changed = with_byte(&bytes, at, new);
    assert!(matches!(
        verify_bundle(&changed, None),
        Err(ProofError::BadSignature)
    ));

    let forged = resign(doc_of(&changed), &fx.key);
    let err = verify_bundle(&forged, Some(&fx.trusted())).unwrap_err();
    assert!(
        matches!(
            err,
            ProofError::Chain(Tamper::BadCheckpoint { seq: 10, .. })
        ),
        "{err}"
    );
}

#[test]
fn a_changed_export_time_or_bundle_signature_fails() {
    let fx = fixture();
    let bytes = fx.decision_bundle().to_bytes().unwrap();
    // 2026-11-24 -> 2026-11-25
    let at = find(&bytes, EXPORTED.as_bytes()) + 9;
    let changed = with_byte(&bytes, at, b'5');
    assert!(matches!(
        verify_bundle(&changed, None),
        Err(ProofError::BadSignature)
    ));

    // The same signature spelt in upper case is still canonical JSON but not the one spelling
    // we accept: otherwise a changed byte could leave the bundle valid.
    let mut doc = doc_of(&bytes);
    let upper = doc["signature"].as_str().unwrap().to_uppercase();
    doc["signature"] = json!(upper);
    let err = verify_bundle(&canonical::to_vec(&doc).unwrap(), None).unwrap_err();
    assert!(matches!(err, ProofError::BadSignature), "{err}");
    assert_eq!(
        err.to_string(),
        "proof bundle: signature does not verify (the bundle was changed after it was signed)"
    );
}

#[test]
fn whitespace_or_a_trailing_newline_is_not_canonical() {
    let fx = fixture();
    let bytes = fx.decision_bundle().to_bytes().unwrap();
    verify_bundle(&bytes, None).unwrap();

    let mut newline = bytes.clone();
    newline.push(b'\n');
    let err = verify_bundle(&newline, None).unwrap_err();
    assert!(
        matches!(err, ProofError::NotCanonical { offset } if offset == bytes.len()),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("not in canonical form at byte {}", bytes.len())),
        "{err}"
    );

    let mut spaced = bytes.clone();
    spaced.insert(1, b' ');
    assert!(matches!(
        verify_bundle(&spaced, None),
        Err(ProofError::NotCanonical { offset: 1 })
    ));

    // Pretty-printed: the same value, other bytes.
    let pretty = serde_json::to_vec_pretty(&doc_of(&bytes)).unwrap();
    assert!(matches!(
        verify_bundle(&pretty, None),
        Err(ProofError::NotCanonical { offset: 1 })
    ));

    // An escape where canonical JSON writes the character itself.
    let at = find(&bytes, b"\"dec-8\"") + 1;
    let mut escaped = bytes[..at].to_vec();
    escaped.extend_from_slice(b"\\u0064");
    escaped.extend_from_slice(&bytes[at + 1..]);
    assert!(matches!(
        verify_bundle(&escaped, None),
        Err(ProofError::NotCanonical { offset }) if offset == at
    ));
}

#[test]
fn a_bundle_re_signed_by_another_key_is_refused_when_a_key_is_trusted() {
    let fx = fixture();
    let other = CheckpointKey::generate().unwrap();
    // A forger rebuilds the whole proof under their own key, checkpoints included.
    let (entries, _) = fx.segment(6, 10);
    let cp = Chain::resume(&entries[4]).checkpoint(&other, AT);
    let forged = ProofBundle::seal(
        BundleScope::Decision {
            decision: "dec-8".into(),
        },
        entries,
        vec![cp],
        fx.blobs(),
        &other,
        EXPORTED,
    )
    .unwrap()
    .to_bytes()
    .unwrap();
    let report = verify_bundle(&forged, None).unwrap();
    assert_eq!(report.key_id, other.key_id());

    let err = verify_bundle(&forged, Some(&fx.trusted())).unwrap_err();
    assert!(
        matches!(&err, ProofError::Untrusted { key_id } if *key_id == other.key_id()),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "proof bundle: signed by key {}, not the trusted key",
            other.key_id()
        )
    );

    // Re-signing only the bundle, not its checkpoints: they must be signed by the bundle's key.
    let resigned = resign(doc_of(&fx.decision_bundle().to_bytes().unwrap()), &other);
    let err = verify_bundle(&resigned, None).unwrap_err();
    assert!(
        matches!(
            err,
            ProofError::Chain(Tamper::BadCheckpoint { seq: 10, .. })
        ),
        "{err}"
    );

    // A key id that is not the public key's.
    let mut doc = doc_of(&fx.decision_bundle().to_bytes().unwrap());
    doc["key_id"] = json!(other.key_id());
    let err = verify_bundle(&canonical::to_vec(&doc).unwrap(), None).unwrap_err();
    assert!(matches!(err, ProofError::KeyId { .. }), "{err}");
}

#[test]
fn a_missing_blob_fails_naming_the_digest() {
    let fx = fixture();
    let (entries, cps) = fx.segment(6, 10);
    let without_evidence: Vec<_> = fx
        .blobs()
        .into_iter()
        .filter(|(kind, _)| kind != "evidence")
        .collect();
    let bytes = ProofBundle::seal(
        BundleScope::Range { from: 6, to: 10 },
        entries,
        cps,
        without_evidence,
        &fx.key,
        EXPORTED,
    )
    .unwrap()
    .to_bytes()
    .unwrap();
    let digest = blob_digest(&fx.evidence);
    let err = verify_bundle(&bytes, Some(&fx.trusted())).unwrap_err();
    // Entry 6 (the evidence entry) is the first to refer to it.
    assert!(
        matches!(&err, ProofError::MissingBlob { seq: 6, digest: d } if *d == digest),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("proof bundle: entry 6 refers to {digest} which the bundle does not hold")
    );
}

#[test]
fn a_removed_checkpoint_leaves_the_segment_unanchored() {
    let fx = fixture();
    let (entries, _) = fx.segment(3, 10);
    // Only the checkpoint at 5 remains; nothing pins entries 6..=10.
    let early: Vec<_> = fx
        .checkpoints
        .iter()
        .filter(|c| c.seq == 5)
        .cloned()
        .collect();
    let bytes = ProofBundle::seal(
        BundleScope::Range { from: 3, to: 10 },
        entries,
        early,
        fx.blobs(),
        &fx.key,
        EXPORTED,
    )
    .unwrap()
    .to_bytes()
    .unwrap();
    let err = verify_bundle(&bytes, Some(&fx.trusted())).unwrap_err();
    assert!(
        matches!(err, ProofError::NotAnchored { last_seq: 10 }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "proof bundle: no checkpoint at the last entry (seq 10): the segment is not anchored"
    );
}

#[test]
fn an_entry_removed_from_the_middle_fails_chain_verification() {
    let fx = fixture();
    let (mut entries, cps) = fx.segment(3, 10);
    entries.remove(3); // entry 6
    let bytes = ProofBundle::seal(
        BundleScope::Range { from: 3, to: 10 },
        entries,
        cps,
        fx.blobs(),
        &fx.key,
        EXPORTED,
    )
    .unwrap()
    .to_bytes()
    .unwrap();
    let err = verify_bundle(&bytes, Some(&fx.trusted())).unwrap_err();
    assert!(
        matches!(
            err,
            ProofError::Chain(Tamper::Deleted {
                expected: 6,
                found: 7
            })
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("entries deleted: expected entry 6, found 7"),
        "{err}"
    );
}

#[test]
fn the_scope_must_be_what_the_entries_prove() {
    let fx = fixture();
    let seal = |scope: BundleScope, from: u64, to: u64, blobs: Vec<(String, Vec<u8>)>| {
        let (entries, cps) = fx.segment(from, to);
        ProofBundle::seal(scope, entries, cps, blobs, &fx.key, EXPORTED)
            .unwrap()
            .to_bytes()
            .unwrap()
    };

    // A range that claims more than the entries hold.
    let bytes = seal(BundleScope::Range { from: 1, to: 10 }, 6, 10, fx.blobs());
    let err = verify_bundle(&bytes, None).unwrap_err();
    assert!(matches!(err, ProofError::Scope { .. }), "{err}");
    assert!(err.to_string().contains("the entries run 6..=10"), "{err}");

    // A decision the entries do not record.
    let other = BundleScope::Decision {
        decision: "dec-9".into(),
    };
    let err = verify_bundle(&seal(other, 6, 10, fx.blobs()), None).unwrap_err();
    assert!(
        err.to_string()
            .contains("decision dec-9: no decision entry records it"),
        "{err}"
    );

    // The decision document under the entry's digest, but stored as another kind.
    let dec = BundleScope::Decision {
        decision: "dec-8".into(),
    };
    let mut relabelled = fx.blobs();
    relabelled[0].0 = "evidence".into();
    let err = verify_bundle(&seal(dec.clone(), 6, 10, relabelled), None).unwrap_err();
    assert!(matches!(err, ProofError::Entry { seq: 8, .. }), "{err}");
}

#[test]
fn the_decision_document_must_agree_with_the_entry() {
    // A chain whose decision entry says deny while the stored decision document says allow.
    let key = CheckpointKey::generate().unwrap();
    let doc = serde_json::to_vec(&json!({"id": "dec-1", "decision": "allow"})).unwrap();
    let d = blob_digest(&doc);
    let mut chain = Chain::new();
    let entry = chain
        .append(
            "decision",
            &json!({"decision_id": "dec-1", "verdict": "deny", "decision_digest": d, "refs": [d]}),
            AT,
        )
        .unwrap();
    let cp = chain.checkpoint(&key, AT);
    let bytes = ProofBundle::seal(
        BundleScope::Decision {
            decision: "dec-1".into(),
        },
        vec![entry],
        vec![cp],
        [("decision".to_string(), doc)],
        &key,
        EXPORTED,
    )
    .unwrap()
    .to_bytes()
    .unwrap();
    let err = verify_bundle(&bytes, Some(&key.public_hex())).unwrap_err();
    assert!(matches!(err, ProofError::Entry { seq: 1, .. }), "{err}");
    assert!(
        err.to_string()
            .contains("its decision is Some(\"allow\"), but the entry says \"deny\""),
        "{err}"
    );
}

#[test]
fn the_same_content_under_two_kinds_is_refused_when_sealing() {
    let fx = fixture();
    let (entries, cps) = fx.segment(6, 10);
    let err = ProofBundle::seal(
        BundleScope::Range { from: 6, to: 10 },
        entries,
        cps,
        [
            ("evidence".to_string(), fx.evidence.clone()),
            ("advisory".to_string(), fx.evidence.clone()),
        ],
        &fx.key,
        EXPORTED,
    )
    .unwrap_err();
    assert!(matches!(err, ProofError::BlobKindConflict { .. }), "{err}");
}

#[test]
fn another_format_is_refused_naming_it() {
    let fx = fixture();
    let mut doc = doc_of(&fx.decision_bundle().to_bytes().unwrap());
    doc["format"] = json!("portcullis-proof-bundle/v2");
    let err = verify_bundle(&resign(doc, &fx.key), None).unwrap_err();
    assert!(
        err.to_string()
            .contains("format \"portcullis-proof-bundle/v2\""),
        "{err}"
    );
}

#[test]
fn garbage_is_an_error_never_a_panic() {
    let fx = fixture();
    let bytes = fx.decision_bundle().to_bytes().unwrap();
    // Every truncation of a genuine bundle.
    for len in 0..bytes.len() {
        assert!(verify_bundle(&bytes[..len], None).is_err(), "prefix {len}");
    }
    let err = verify_bundle(b"", None).unwrap_err();
    assert!(matches!(err, ProofError::Json(_)), "{err}");
    assert!(err.to_string().contains("line 1 column 0"), "{err}");
    let err = verify_bundle(b"portcullis", None).unwrap_err();
    assert!(matches!(err, ProofError::Json(_)), "{err}");
    let err = verify_bundle(b"{\"a\":1,\n\"b\":}", None).unwrap_err();
    assert!(err.to_string().contains("line 2 column"), "{err}");
    // Canonical JSON, but not a bundle: the error names the member and the column.
    for text in ["{}", "[]", "null", "1", "\"x\"", r#"{"format":1}"#] {
        let err = verify_bundle(text.as_bytes(), None).unwrap_err();
        assert!(matches!(err, ProofError::Structure(_)), "{text}: {err}");
    }
    let err = verify_bundle(b"{}", None).unwrap_err();
    assert!(
        err.to_string().contains("missing field") && err.to_string().contains("column"),
        "{err}"
    );
    // Deep nesting hits the parser's depth limit rather than the stack.
    let deep = "[".repeat(100_000);
    assert!(matches!(
        verify_bundle(deep.as_bytes(), None),
        Err(ProofError::Json(_))
    ));
    // Not UTF-8.
    assert!(verify_bundle(&[0xff, 0xfe, b'{', b'}'], None).is_err());
}
