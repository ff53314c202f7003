//! The store on both backends: every test here runs once on SQLite and once on PostgreSQL
//! (`<name>_sqlite`, `<name>_postgres`; see `support` for how PostgreSQL is found or skipped).
//! What is written reads back the same; the chain stays one contiguous chain under concurrent
//! writers; and each way an attacker with SQL access could doctor the chain is named by
//! `verify`, at the right entry.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use portcullis_store::chain::{GENESIS, entry_hash};
use portcullis_store::{
    AdvisoryRow, Chain, Change, CheckpointKey, ComponentRow, DecisionRow, DeploymentRow, Entry,
    ExceptionRow, NewBlob, PackageInUse, Store, StoreConfig, StoreError, StoreEvent, Tamper,
    TokenRow, VerifyFailure, Write, canonical, kinds,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{Ctx, sql_str};

const AT: &str = "2026-11-23T12:00:00.000Z";

on_both_backends! {
    appended_changes_read_back => appended_changes_read_back_sqlite, appended_changes_read_back_postgres;
    a_document_is_stored_once => a_document_is_stored_once_sqlite, a_document_is_stored_once_postgres;
    blobs_round_trip_and_corruption_is_refused => blobs_round_trip_and_corruption_is_refused_sqlite, blobs_round_trip_and_corruption_is_refused_postgres;
    tamper_modified_body => tamper_modified_body_sqlite, tamper_modified_body_postgres;
    tamper_deleted_entry => tamper_deleted_entry_sqlite, tamper_deleted_entry_postgres;
    tamper_deleted_first_entries => tamper_deleted_first_entries_sqlite, tamper_deleted_first_entries_postgres;
    tamper_inserted_entry => tamper_inserted_entry_sqlite, tamper_inserted_entry_postgres;
    tamper_reordered_entries => tamper_reordered_entries_sqlite, tamper_reordered_entries_postgres;
    tamper_truncated_after_checkpoint => tamper_truncated_after_checkpoint_sqlite, tamper_truncated_after_checkpoint_postgres;
    tamper_rewritten_and_rehashed => tamper_rewritten_and_rehashed_sqlite, tamper_rewritten_and_rehashed_postgres;
    tamper_checkpoint_hash_changed => tamper_checkpoint_hash_changed_sqlite, tamper_checkpoint_hash_changed_postgres;
    tamper_checkpoint_signature_changed => tamper_checkpoint_signature_changed_sqlite, tamper_checkpoint_signature_changed_postgres;
    tamper_checkpoint_signed_by_unregistered_key => tamper_checkpoint_signed_by_unregistered_key_sqlite, tamper_checkpoint_signed_by_unregistered_key_postgres;
    concurrent_writers_keep_one_chain => concurrent_writers_keep_one_chain_sqlite, concurrent_writers_keep_one_chain_postgres;
    a_failing_change_fails_alone => a_failing_change_fails_alone_sqlite, a_failing_change_fails_alone_postgres;
    exceptions_expire_once_and_are_revoked => exceptions_expire_once_and_are_revoked_sqlite, exceptions_expire_once_and_are_revoked_postgres;
    inventory_and_package_index => inventory_and_package_index_sqlite, inventory_and_package_index_postgres;
    a_second_key_is_registered => a_second_key_is_registered_sqlite, a_second_key_is_registered_postgres;
    tokens_and_overrides_read_back => tokens_and_overrides_read_back_sqlite, tokens_and_overrides_read_back_postgres;
    dashboard_summaries_read_back => dashboard_summaries_read_back_sqlite, dashboard_summaries_read_back_postgres;
    another_process_changes_reach_subscribers => another_process_changes_reach_subscribers_sqlite, another_process_changes_reach_subscribers_postgres;
    tamper_checkpoint_moved_to_a_negative_seq => tamper_checkpoint_moved_to_a_negative_seq_sqlite, tamper_checkpoint_moved_to_a_negative_seq_postgres;
    decision_history_keeps_the_landmarks => decision_history_keeps_the_landmarks_sqlite, decision_history_keeps_the_landmarks_postgres;
}

// ---------------------------------------------------------------------------------------------
// 1. What is appended reads back.

async fn appended_changes_read_back(store: Store, ctx: &Ctx) {
    assert_eq!(store.backend(), ctx.backend());
    // The store names where it is (without a password).
    assert_eq!(
        store.location().rsplit('@').next(),
        ctx.url().rsplit('@').next()
    );

    // A new store holds one entry: the registration of its checkpoint key.
    let first = all_entries(&store).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].seq, 1);
    assert_eq!(first[0].kind, kinds::CHECKPOINT_KEY);
    assert_eq!(first[0].prev_hash, GENESIS);
    let registered: Value = serde_json::from_str(&first[0].body).unwrap();
    assert_eq!(registered["public_key"], store.public_key());
    assert_eq!(registered["key_id"], store.key().key_id());
    assert_eq!(
        store.head().await.unwrap(),
        Some((1, first[0].hash.clone()))
    );

    let api_v1 = artifact_digest(1);
    let web_v1 = artifact_digest(2);
    let sbom = br#"{"bomFormat":"CycloneDX","components":[{"purl":"pkg:npm/lodash@4.17.21"}]}"#;
    let policy = b"package portcullis\n\ndeny[msg] { input.critical > 0; msg := \"critical\" }\n";
    let policy_blob = NewBlob::new("policy-bundle", policy).unwrap();
    let policy_digest = policy_blob.digest.clone();
    let d1 = decision_row(
        "d1",
        "prod",
        "shop/api",
        &api_v1,
        "allow",
        "2026-11-23T10:00:00Z",
    );
    let d2 = decision_row(
        "d2",
        "staging",
        "shop/api",
        &api_v1,
        "deny",
        "2026-11-23T11:00:00Z",
    );
    let d3 = decision_row(
        "d3",
        "prod",
        "shop/web",
        &web_v1,
        "deny",
        "2026-11-23T12:00:00Z",
    );
    let a1 = advisory_row("GHSA-aaaa", "osv", "prototype pollution in lodash");
    let a2 = advisory_row("block-left-pad", "block-rule", "no left-pad");
    let x1 = exception_row("x1", "2099-01-01T00:00:00Z");
    let x2 = exception_row("x2", "2099-01-01T00:00:00Z");
    // Keys out of order, nesting, escapes and numbers: stored in canonical form.
    let override_body =
        json!({"z": 1, "reason": "hotfix \"now\"", "a": {"y": [3, "x", 1.5], "b": null}});

    let changes = vec![
        evidence(
            &api_v1,
            sbom,
            vec![component("npm", "", "lodash", "4.17.21")],
        ),
        Change::if_new(
            kinds::POLICY_BUNDLE_STORED,
            json!({"digest": policy_digest}),
            vec![Write::Blob {
                blob: policy_blob,
                components: vec![],
            }],
        ),
        decision(&d1),
        decision(&d2),
        decision(&d3),
        advisory(&a1),
        advisory(&a2),
        Change::new(
            kinds::ADVISORY_WITHDRAWN,
            json!({"advisory_id": a2.id}),
            vec![Write::AdvisoryWithdrawn {
                id: a2.id.clone(),
                at: "2026-11-23T13:00:00Z".into(),
                by: "alice".into(),
                reason: "superseded".into(),
            }],
        ),
        exception(&x1),
        exception(&x2),
        Change::new(
            kinds::EXCEPTION_REVOKED,
            json!({"exception_id": "x2"}),
            vec![Write::ExceptionRevoked {
                id: "x2".into(),
                at: "2026-11-23T14:00:00Z".into(),
                by: "bob".into(),
                reason: "fixed".into(),
            }],
        ),
        deployment("prod", "shop/api", &api_v1, "2026-11-23T15:00:00Z"),
        Change::new(kinds::OVERRIDE, override_body.clone(), vec![]),
    ];
    let expected_kinds: Vec<String> = changes.iter().map(|c| c.kind.clone()).collect();
    let bodies: Vec<Value> = changes.iter().map(|c| c.body.clone()).collect();
    let changes_kept = changes.clone();
    let written: Vec<Entry> = store
        .append(changes)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.expect("every change here is new"))
        .collect();
    // A second call: a later deployment of another artifact.
    let later = store
        .append(vec![deployment(
            "staging",
            "shop/web",
            &web_v1,
            "2026-11-23T16:00:00Z",
        )])
        .await
        .unwrap();
    let later = later[0].clone().unwrap();

    // Entries are numbered on from the key registration, in the order given.
    let seqs: Vec<u64> = written.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (2..=14).collect::<Vec<u64>>());
    assert_eq!(later.seq, 15);
    let kinds_written: Vec<String> = written.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(kinds_written, expected_kinds);
    for ((e, body), change) in written.iter().zip(&bodies).zip(&changes_kept) {
        // The body as given, with the rows its change wrote pinned in `rows` (each row is
        // checked against it), in canonical form.
        let mut stored: Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(
            e.body.as_bytes(),
            canonical::to_vec(&stored).unwrap().as_slice()
        );
        let rows = stored.as_object_mut().unwrap().remove("rows");
        assert_eq!(&stored, body);
        let tables: Vec<&str> = rows
            .as_ref()
            .and_then(Value::as_array)
            .map(|r| r.iter().map(|r| r["table"].as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(tables, row_tables(change), "entry {}", e.seq);
    }
    assert_eq!(
        written[12].body,
        r#"{"a":{"b":null,"y":[3,"x",1.5]},"reason":"hotfix \"now\"","z":1}"#
    );

    // Read back: the head, ranges, single entries, all chained.
    assert_eq!(store.head().await.unwrap(), Some((15, later.hash.clone())));
    let stored = all_entries(&store).await;
    assert_eq!(stored.len(), 15);
    assert_chained(&stored);
    assert_eq!(stored[0], first[0]);
    assert_eq!(&stored[1..14], written.as_slice());
    assert_eq!(stored[14], later);
    let middle = store.entries(4, 6).await.unwrap();
    assert_eq!(middle.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5, 6]);
    assert_eq!(middle.as_slice(), &stored[3..6]);
    assert!(store.entries(16, 100).await.unwrap().is_empty());
    assert_eq!(store.entry(9).await.unwrap().as_ref(), Some(&stored[8]));
    assert_eq!(store.entry(99).await.unwrap(), None);

    // Documents.
    assert!(store.has_blob(&policy_digest).await.unwrap());
    assert_eq!(
        store.blob(&policy_digest).await.unwrap(),
        Some(("policy-bundle".to_string(), policy.to_vec()))
    );
    assert_eq!(
        store.blob(&blob_digest(sbom)).await.unwrap(),
        Some(("evidence".to_string(), sbom.to_vec()))
    );

    // Decisions: the store sets each row's entry; filters by environment, artifact (name or
    // digest) and time; newest first.
    let seq_of = |kind: &str, nth: usize| {
        written
            .iter()
            .filter(|e| e.kind == kind)
            .nth(nth)
            .unwrap()
            .seq as i64
    };
    let d1 = DecisionRow {
        seq: seq_of(kinds::DECISION, 0),
        ..d1
    };
    let d2 = DecisionRow {
        seq: seq_of(kinds::DECISION, 1),
        ..d2
    };
    let d3 = DecisionRow {
        seq: seq_of(kinds::DECISION, 2),
        ..d3
    };
    assert_eq!(store.decision("d1").await.unwrap(), Some(d1.clone()));
    assert_eq!(store.decision("d4").await.unwrap(), None);
    let ids = |rows: Vec<DecisionRow>| rows.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        store.decisions(None, None, None, 100).await.unwrap(),
        vec![d3.clone(), d2.clone(), d1.clone()]
    );
    assert_eq!(
        ids(store
            .decisions(Some("prod"), None, None, 100)
            .await
            .unwrap()),
        ["d3", "d1"]
    );
    assert_eq!(
        ids(store
            .decisions(None, Some("shop/api"), None, 100)
            .await
            .unwrap()),
        ["d2", "d1"]
    );
    assert_eq!(
        ids(store
            .decisions(None, Some(&web_v1), None, 100)
            .await
            .unwrap()),
        ["d3"]
    );
    assert_eq!(
        ids(store
            .decisions(None, None, Some("2026-11-23T11:00:00Z"), 100)
            .await
            .unwrap()),
        ["d3", "d2"]
    );
    assert_eq!(
        ids(store
            .decisions(
                Some("prod"),
                Some("shop/api"),
                Some("2026-11-23T09:00:00Z"),
                100
            )
            .await
            .unwrap()),
        ["d1"]
    );
    assert!(
        store
            .decisions(Some("dev"), None, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(store.decisions(None, None, None, 1).await.unwrap()),
        ["d3"]
    );
    assert_eq!(
        store.latest_decision(&api_v1, "staging").await.unwrap(),
        Some(d2.clone())
    );
    assert_eq!(store.decision_ids().await.unwrap(), ["d1", "d2", "d3"]);

    // Advisories: all, or only the active ones.
    let a1 = AdvisoryRow {
        seq: seq_of(kinds::ADVISORY_ADDED, 0),
        ..a1
    };
    let a2 = AdvisoryRow {
        seq: seq_of(kinds::ADVISORY_ADDED, 1),
        withdrawn_at: Some("2026-11-23T13:00:00Z".into()),
        withdrawn_by: Some("alice".into()),
        withdraw_reason: Some("superseded".into()),
        ..a2
    };
    assert_eq!(
        store.advisories(true).await.unwrap(),
        vec![a1.clone(), a2.clone()]
    );
    assert_eq!(store.advisories(false).await.unwrap(), vec![a1.clone()]);
    assert_eq!(store.advisory("block-left-pad").await.unwrap(), Some(a2));

    // Exceptions: all, or only the unrevoked ones.
    let x1 = ExceptionRow {
        seq: seq_of(kinds::EXCEPTION_GRANTED, 0),
        ..x1
    };
    let x2 = ExceptionRow {
        seq: seq_of(kinds::EXCEPTION_GRANTED, 1),
        revoked_at: Some("2026-11-23T14:00:00Z".into()),
        revoked_by: Some("bob".into()),
        revoke_reason: Some("fixed".into()),
        ..x2
    };
    assert_eq!(
        store.exceptions(true).await.unwrap(),
        vec![x1.clone(), x2.clone()]
    );
    assert_eq!(store.exceptions(false).await.unwrap(), vec![x1]);
    assert_eq!(store.exception("x2").await.unwrap(), Some(x2));

    // What runs where.
    let api = DeploymentRow {
        seq: seq_of(kinds::DEPLOYMENT, 0),
        environment: "prod".into(),
        artifact_name: "shop/api".into(),
        artifact_digest: api_v1.clone(),
        deployed_at: "2026-11-23T15:00:00Z".into(),
        deployed_by: String::new(),
    };
    let web = DeploymentRow {
        seq: 15,
        environment: "staging".into(),
        artifact_name: "shop/web".into(),
        artifact_digest: web_v1.clone(),
        deployed_at: "2026-11-23T16:00:00Z".into(),
        deployed_by: String::new(),
    };
    assert_eq!(
        store.inventory(None).await.unwrap(),
        vec![api.clone(), web.clone()]
    );
    assert_eq!(store.inventory(Some("staging")).await.unwrap(), vec![web]);
    assert_eq!(
        ctx.count("SELECT COUNT(*) FROM deployments WHERE deployed_by = 'ci'")
            .await,
        2
    );

    // Another handle on the database sees the same, and the chain verifies.
    let other = ctx.second_handle().await;
    assert_eq!(all_entries(&other).await, stored);
    assert_eq!(other.decision("d3").await.unwrap(), Some(d3));
    let verified = store.verify(None).await.unwrap();
    assert_eq!(verified.entries, 15);
    assert_eq!(verified.last_hash, later.hash);
    // Only the first commit signed a checkpoint (checkpoint_every and the interval are large).
    assert_eq!(checkpoint_seqs(&store).await, [1]);
    assert_eq!(verified.checkpoints, 1);
    let cp = store.checkpoint().await.unwrap().unwrap();
    assert_eq!((cp.seq, cp.hash.as_str()), (15, later.hash.as_str()));
    assert_eq!(cp.public_key, store.public_key());
    let verified = store.verify(Some(&store.public_key())).await.unwrap();
    assert_eq!((verified.entries, verified.checkpoints), (15, 2));
}

// ---------------------------------------------------------------------------------------------
// 2. `only_if_new`.

async fn a_document_is_stored_once(store: Store, ctx: &Ctx) {
    let sbom = br#"{"bomFormat":"CycloneDX","components":["a","b","c"]}"#;
    let digest = blob_digest(sbom);
    let comps = vec![
        component("npm", "", "a", "1.0.0"),
        component("npm", "@scope", "b", "2.0.0"),
        component("pypi", "", "c", "3.0.0"),
    ];
    let first = store
        .append(vec![evidence(&artifact_digest(1), sbom, comps.clone())])
        .await
        .unwrap();
    let first = first[0].clone().expect("a new document is recorded");
    assert_eq!(first.kind, kinds::EVIDENCE_STORED);
    assert_eq!(first.seq, 2);

    // The same document again: nothing is recorded, nothing is indexed twice.
    let again = store
        .append(vec![evidence(&artifact_digest(1), sbom, comps.clone())])
        .await
        .unwrap();
    assert_eq!(again, vec![None]);
    assert_eq!(store.head().await.unwrap(), Some((2, first.hash.clone())));

    // In one call: the second copy of a new document is dropped, the change after it is kept.
    let other = b"another document".as_slice();
    let batch = store
        .append(vec![
            evidence(
                &artifact_digest(2),
                other,
                vec![component("npm", "", "d", "1")],
            ),
            evidence(
                &artifact_digest(2),
                other,
                vec![component("npm", "", "d", "1")],
            ),
            Change::new(kinds::OVERRIDE, json!({"n": 1}), vec![]),
        ])
        .await
        .unwrap();
    assert_eq!(batch[0].as_ref().map(|e| e.seq), Some(3));
    assert_eq!(batch[1], None);
    assert_eq!(batch[2].as_ref().map(|e| e.seq), Some(4));

    // From many tasks and a second handle at once: still recorded once.
    let third = b"raced document".as_slice();
    let second = ctx.second_handle().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 {
            store.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            s.append(vec![evidence(
                &artifact_digest(3),
                third,
                vec![component("cargo", "", "serde", "1.0.0")],
            )])
            .await
            .unwrap()
        }));
    }
    let mut recorded = 0;
    for t in tasks {
        recorded += t.await.unwrap().into_iter().flatten().count();
    }
    assert_eq!(recorded, 1);

    // The package index is written after the chain commit, in the background: wait for it.
    store.index_pending().await.unwrap();
    let digest_where = |d: &str| format!("WHERE evidence_digest = {}", sql_str(d));
    assert_eq!(
        ctx.count(&format!(
            "SELECT COUNT(*) FROM components {}",
            digest_where(&digest)
        ))
        .await,
        3
    );
    assert_eq!(
        ctx.count(&format!(
            "SELECT COUNT(*) FROM components {}",
            digest_where(&blob_digest(third))
        ))
        .await,
        1
    );
    assert_eq!(ctx.count("SELECT COUNT(*) FROM blobs").await, 3);
    assert_eq!(
        ctx.count("SELECT COUNT(*) FROM audit_log WHERE kind = 'evidence.stored'")
            .await,
        3
    );
    let entries = all_entries(&store).await;
    assert_eq!(entries.len(), 5);
    assert_chained(&entries);
    assert_eq!(store.verify(None).await.unwrap().entries, 5);
}

// ---------------------------------------------------------------------------------------------
// 3. Documents come back byte for byte, or not at all.

async fn blobs_round_trip_and_corruption_is_refused(store: Store, ctx: &Ctx) {
    // Binary, not UTF-8, and large enough to compress.
    let mut raw: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    raw.extend_from_slice(&[0xff, 0xfe, 0x00, 0x80]);
    let blob = NewBlob::new("scan-report", &raw).unwrap();
    assert_eq!(blob.digest, format!("sha256:{}", sha256_hex(&raw)));
    assert_eq!(blob.size, raw.len() as i64);
    assert!(blob.compressed.len() < raw.len() / 10);
    let digest = blob.digest.clone();
    let keep = b"an untouched document".as_slice();
    store
        .append(vec![
            Change::if_new(
                kinds::EVIDENCE_STORED,
                json!({"digest": digest}),
                vec![Write::Blob {
                    blob,
                    components: vec![],
                }],
            ),
            evidence(&artifact_digest(1), keep, vec![]),
        ])
        .await
        .unwrap();

    assert_eq!(
        store.blob(&digest).await.unwrap(),
        Some(("scan-report".to_string(), raw.clone()))
    );
    let absent = format!("sha256:{}", "0".repeat(64));
    assert_eq!(store.blob(&absent).await.unwrap(), None);
    assert!(!store.has_blob(&absent).await.unwrap());
    // Which of several are stored, in one query per 500 (here over two such chunks).
    let mut asked: Vec<String> = (0..600).map(|i| format!("sha256:{i:064x}")).collect();
    asked.push(digest.clone());
    let asked_refs: Vec<&str> = asked.iter().map(String::as_str).collect();
    let present = store.blobs_present(&asked_refs).await.unwrap();
    assert_eq!(
        present,
        std::collections::HashSet::from([digest.clone()]),
        "only the stored document"
    );
    assert!(store.blobs_present(&[]).await.unwrap().is_empty());

    let corrupt = |what: &str| {
        let store = store.clone();
        let digest = digest.clone();
        let what = what.to_string();
        async move {
            match store.blob(&digest).await {
                Err(e @ StoreError::Corrupt { .. }) => {
                    let message = e.to_string();
                    assert!(message.contains(&digest), "{what}: {message}");
                    message
                }
                Ok(Some((_, bytes))) => panic!(
                    "{what}: returned {} bytes instead of refusing them",
                    bytes.len()
                ),
                other => panic!("{what}: expected Corrupt, got {other:?}"),
            }
        }
    };
    let set = |assignments: String| {
        let store = store.clone();
        let digest = digest.clone();
        async move {
            let n = store
                .execute_raw(&format!(
                    "UPDATE blobs SET {assignments} WHERE digest = {}",
                    sql_str(&digest)
                ))
                .await
                .unwrap();
            assert_eq!(n, 1);
        }
    };

    // Other bytes, validly compressed: they decompress but do not match the digest.
    let mut altered = raw.clone();
    altered[1000] ^= 1;
    let recompressed = NewBlob::new("scan-report", &altered).unwrap().compressed;
    set(format!("content = {}", ctx.bytes_literal(&recompressed))).await;
    let message = corrupt("one byte changed").await;
    assert!(message.contains("does not match its digest"), "{message}");
    // Bytes that are not zstd at all.
    set(format!(
        "content = {}",
        ctx.bytes_literal(b"\x00\x01garbage")
    ))
    .await;
    let message = corrupt("not zstd").await;
    assert!(message.contains("cannot decompress"), "{message}");
    // Stored uncompressed: the right bytes are accepted, other bytes are not.
    set(format!(
        "compression = 'none', content = {}",
        ctx.bytes_literal(&altered)
    ))
    .await;
    corrupt("uncompressed, changed").await;
    set(format!("content = {}", ctx.bytes_literal(&raw))).await;
    assert_eq!(
        store.blob(&digest).await.unwrap(),
        Some(("scan-report".to_string(), raw.clone()))
    );
    set("compression = 'lz4'".to_string()).await;
    let message = corrupt("unknown compression").await;
    assert!(message.contains("lz4"), "{message}");

    // The other document is untouched.
    assert_eq!(
        store.blob(&blob_digest(keep)).await.unwrap(),
        Some(("evidence".to_string(), keep.to_vec()))
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Tampering with the database directly.

/// 30 entries (1 the key registration, 2..=30 decisions, every third a deny) with checkpoints at
/// 1 (the first commit's), 10, 20 and 30; verified before it is doctored.
async fn thirty_entries(store: &Store) -> Vec<Entry> {
    for (from, to) in [(2u64, 10u64), (11, 20), (21, 30)] {
        let out = store
            .append((from..=to).map(numbered_decision).collect())
            .await
            .unwrap();
        let seqs: Vec<u64> = out.iter().map(|e| e.as_ref().unwrap().seq).collect();
        assert_eq!(seqs, (from..=to).collect::<Vec<_>>());
        let cp = store.checkpoint().await.unwrap().unwrap();
        assert_eq!(cp.seq, to);
    }
    assert_eq!(checkpoint_seqs(store).await, [1, 10, 20, 30]);
    let v = store.verify(None).await.unwrap();
    assert_eq!((v.entries, v.checkpoints), (30, 4));
    store.verify(Some(&store.public_key())).await.unwrap();
    let entries = all_entries(store).await;
    assert_chained(&entries);
    entries
}

fn numbered_decision(i: u64) -> Change {
    let verdict = if i.is_multiple_of(3) { "deny" } else { "allow" };
    decision(&decision_row(
        &format!("d-{i}"),
        "prod",
        "shop/api",
        &artifact_digest(i),
        verdict,
        AT,
    ))
}

async fn tamper_modified_body(store: Store, _ctx: &Ctx) {
    let entries = thirty_entries(&store).await;
    assert!(entries[11].body.contains(r#""verdict":"deny""#));
    let n = store
        .execute_raw(
            r#"UPDATE audit_log SET body = replace(body, '"deny"', '"allow"') WHERE seq = 12"#,
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_ne!(
        store.entry(12).await.unwrap().unwrap().body,
        entries[11].body
    );
    let t = tamper(&store).await;
    assert_eq!(t, Tamper::Modified { seq: 12 });
    assert_names(&t, &["entry 12"]);
}

async fn tamper_deleted_entry(store: Store, _ctx: &Ctx) {
    thirty_entries(&store).await;
    let n = store
        .execute_raw("DELETE FROM audit_log WHERE seq = 15")
        .await
        .unwrap();
    assert_eq!(n, 1);
    let t = tamper(&store).await;
    assert_eq!(
        t,
        Tamper::Deleted {
            expected: 15,
            found: 16
        }
    );
    assert_names(&t, &["entry 15", "16"]);
}

async fn tamper_deleted_first_entries(store: Store, _ctx: &Ctx) {
    thirty_entries(&store).await;
    // The oldest entries (the key registration among them) and the checkpoint that covered
    // them removed: what is left is a well-linked chain from entry 6 on, but the store's chain
    // starts at 1.
    let n = store
        .execute_raw("DELETE FROM audit_log WHERE seq <= 5")
        .await
        .unwrap();
    assert_eq!(n, 5);
    store
        .execute_raw("DELETE FROM checkpoints WHERE seq < 10")
        .await
        .unwrap();
    let expected = Tamper::Deleted {
        expected: 1,
        found: 6,
    };
    // Even when the checkpoints are checked against the genuine key (so that the missing key
    // registration does not give it away).
    match store.verify(Some(&store.public_key())).await {
        Err(VerifyFailure::Tamper(t)) => assert_eq!(t, expected),
        other => panic!("deleting entries 1 to 5 went unnoticed: {other:?}"),
    }
    let t = tamper(&store).await;
    assert_eq!(t, expected);
    assert_names(&t, &["entry 1", "6"]);
}

async fn tamper_inserted_entry(store: Store, _ctx: &Ctx) {
    let entries = thirty_entries(&store).await;
    // A forged decision, correctly chained to entry 14 and correctly hashed, put in at 15;
    // the entries from 15 on move up by one (through negative numbers: the primary key is
    // checked row by row).
    let body = r#"{"decision_id":"d-forged","verdict":"allow"}"#;
    assert_eq!(
        canonical::to_vec(&serde_json::from_str(body).unwrap()).unwrap(),
        body.as_bytes()
    );
    let prev_hash = &entries[13].hash;
    let body_digest = sha256_hex(body.as_bytes());
    let hash = entry_hash(15, AT, kinds::DECISION, &body_digest, prev_hash);
    assert_eq!(
        store
            .execute_raw("UPDATE audit_log SET seq = -seq WHERE seq >= 15")
            .await
            .unwrap(),
        16
    );
    assert_eq!(
        store
            .execute_raw("UPDATE audit_log SET seq = -seq + 1 WHERE seq < 0")
            .await
            .unwrap(),
        16
    );
    store
        .execute_raw(&format!(
            "INSERT INTO audit_log (seq, at, kind, body, body_digest, prev_hash, hash) VALUES (15, {}, 'decision', {}, {}, {}, {})",
            sql_str(AT),
            sql_str(body),
            sql_str(&body_digest),
            sql_str(prev_hash),
            sql_str(&hash)
        ))
        .await
        .unwrap();
    let stored = all_entries(&store).await;
    assert_eq!(stored.len(), 31);
    assert_eq!(stored[14].body, body);
    assert_eq!(stored[15].body, entries[14].body);
    // The forged entry itself holds; the entries moved up behind it do not: their sequence
    // number is covered by their hash.
    let t = tamper(&store).await;
    assert_eq!(t, Tamper::Modified { seq: 16 });
    assert_names(&t, &["entry 16"]);
}

async fn tamper_reordered_entries(store: Store, _ctx: &Ctx) {
    let entries = thirty_entries(&store).await;
    // Rows keep their sequence numbers; their contents trade places.
    for (seq, e) in [(21, &entries[21]), (22, &entries[20])] {
        let n = store
            .execute_raw(&format!(
                "UPDATE audit_log SET at = {}, kind = {}, body = {}, body_digest = {}, prev_hash = {}, hash = {} WHERE seq = {seq}",
                sql_str(&e.at),
                sql_str(&e.kind),
                sql_str(&e.body),
                sql_str(&e.body_digest),
                sql_str(&e.prev_hash),
                sql_str(&e.hash)
            ))
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    assert_eq!(
        store.entry(21).await.unwrap().unwrap().body,
        entries[21].body
    );
    // Each moved entry's hash covers its sequence number: the first moved one is named.
    let t = tamper(&store).await;
    assert_eq!(t, Tamper::Modified { seq: 21 });
    assert_names(&t, &["entry 21"]);
}

async fn tamper_truncated_after_checkpoint(store: Store, _ctx: &Ctx) {
    let entries = thirty_entries(&store).await;
    let n = store
        .execute_raw("DELETE FROM audit_log WHERE seq > 25")
        .await
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(
        store.head().await.unwrap(),
        Some((25, entries[24].hash.clone()))
    );
    let t = tamper(&store).await;
    assert_eq!(
        t,
        Tamper::Truncated {
            last_seq: 25,
            checkpoint_seq: 30
        }
    );
    assert_names(&t, &["entry 25", "entry 30"]);
    // Moving the checkpoint down to the new end does not hide it: the signature covers its
    // sequence number.
    store
        .execute_raw("UPDATE checkpoints SET seq = 25 WHERE seq = 30")
        .await
        .unwrap();
    let t = tamper(&store).await;
    assert!(matches!(&t, Tamper::BadCheckpoint { seq: 25, .. }), "{t:?}");
}

async fn tamper_rewritten_and_rehashed(store: Store, _ctx: &Ctx) {
    let entries = thirty_entries(&store).await;
    // Every decision from entry 5 on rewritten to "allow" and the chain rehashed consistently:
    // only the signed checkpoints can tell.
    let mut chain = Chain::resume(&entries[3]);
    for seq in 5..=30u64 {
        let e = chain
            .append(
                kinds::DECISION,
                &json!({"decision_id": format!("d-{seq}"), "verdict": "allow"}),
                AT,
            )
            .unwrap();
        let n = store
            .execute_raw(&format!(
                "UPDATE audit_log SET at = {}, body = {}, body_digest = {}, prev_hash = {}, hash = {} WHERE seq = {seq}",
                sql_str(&e.at),
                sql_str(&e.body),
                sql_str(&e.body_digest),
                sql_str(&e.prev_hash),
                sql_str(&e.hash)
            ))
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    assert_chained(&all_entries(&store).await);
    let t = tamper(&store).await;
    assert_eq!(t, Tamper::Rewritten { seq: 10 });
    assert_names(&t, &["entry 10"]);
}

async fn tamper_checkpoint_hash_changed(store: Store, _ctx: &Ctx) {
    let entries = thirty_entries(&store).await;
    // The checkpoint at 30 made to pin another hash.
    let n = store
        .execute_raw(&format!(
            "UPDATE checkpoints SET hash = {} WHERE seq = 30",
            sql_str(&entries[28].hash)
        ))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let t = tamper(&store).await;
    assert!(
        matches!(&t, Tamper::BadCheckpoint { seq: 30, reason } if reason.contains("signature")),
        "{t:?}"
    );
    assert_names(&t, &["checkpoint at entry 30"]);
}

async fn tamper_checkpoint_signature_changed(store: Store, _ctx: &Ctx) {
    thirty_entries(&store).await;
    let signature = store.checkpoints().await.unwrap()[2].signature.clone();
    let first = if signature.starts_with('0') { "1" } else { "0" };
    let forged = format!("{first}{}", &signature[1..]);
    let n = store
        .execute_raw(&format!(
            "UPDATE checkpoints SET signature = {} WHERE seq = 20",
            sql_str(&forged)
        ))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let t = tamper(&store).await;
    assert!(
        matches!(&t, Tamper::BadCheckpoint { seq: 20, reason } if reason.contains("signature")),
        "{t:?}"
    );
    assert_names(&t, &["checkpoint at entry 20"]);
}

async fn tamper_checkpoint_signed_by_unregistered_key(store: Store, _ctx: &Ctx) {
    let entries = thirty_entries(&store).await;
    // A well-formed checkpoint of the genuine chain, signed by a key the chain never registered.
    let intruder = CheckpointKey::generate().unwrap();
    let cp = Chain::resume(&entries[29]).checkpoint(&intruder, "2026-11-24T00:00:00.000Z");
    assert!(portcullis_store::verify(&entries, std::slice::from_ref(&cp), None).is_ok());
    let n = store
        .execute_raw(&format!(
            "UPDATE checkpoints SET at = {}, key_id = {}, public_key = {}, signature = {} WHERE seq = 30",
            sql_str(&cp.at),
            sql_str(&cp.key_id),
            sql_str(&cp.public_key),
            sql_str(&cp.signature)
        ))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let t = tamper(&store).await;
    assert!(
        matches!(&t, Tamper::BadCheckpoint { seq: 30, reason } if reason.contains("never registered") && reason.contains(&intruder.key_id())),
        "{t:?}"
    );
    assert_names(&t, &["checkpoint at entry 30"]);
    // Against the genuine key, it is not the trusted key.
    match store.verify(Some(&store.public_key())).await {
        Err(VerifyFailure::Tamper(Tamper::BadCheckpoint { seq: 30, reason })) => {
            assert!(reason.contains("not the trusted key"), "{reason}");
        }
        other => panic!("expected a bad checkpoint at 30, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Group commit and concurrent writers.

async fn concurrent_writers_keep_one_chain(store: Store, ctx: &Ctx) {
    // Checkpoints are signed along the way, by both writers.
    let config = StoreConfig {
        checkpoint_every: 16,
        checkpoint_interval: Duration::from_millis(50),
        ..ctx.config()
    };
    let a = ctx.open(&config).await;
    let b = ctx
        .open(&StoreConfig {
            key_path: ctx.dir().join("replica.key"),
            ..config
        })
        .await;
    assert_ne!(a.public_key(), b.public_key());
    assert_eq!(store.head().await.unwrap().unwrap().0, 2);

    // 200 single appends from 16 tasks on one store; 20 appends of 5 changes from 4 tasks on
    // the other; verification running meanwhile.
    let mut tasks = Vec::new();
    for t in 0..16u64 {
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (t..200).step_by(16) {
                let id = format!("a-{i}");
                let got = a.append(vec![writer_decision(&id)]).await.unwrap();
                assert_eq!(got.len(), 1);
                out.push((id, got[0].clone().unwrap()));
            }
            out
        }));
    }
    for t in 0..4u64 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for call in 0..5u64 {
                let ids: Vec<String> = (0..5).map(|j| format!("b-{t}-{call}-{j}")).collect();
                let got = b
                    .append(ids.iter().map(|id| writer_decision(id)).collect())
                    .await
                    .unwrap();
                let got: Vec<Entry> = got.into_iter().map(Option::unwrap).collect();
                // One call's changes are committed together, in order.
                for w in got.windows(2) {
                    assert_eq!(w[1].seq, w[0].seq + 1);
                }
                out.extend(ids.into_iter().zip(got));
            }
            out
        }));
    }
    let verifier = {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..5 {
                store.verify(None).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut returned: Vec<(String, Entry)> = Vec::new();
    for t in tasks {
        returned.extend(t.await.unwrap());
    }
    verifier.await.unwrap();

    assert_eq!(returned.len(), 300);
    let seqs: BTreeSet<u64> = returned.iter().map(|(_, e)| e.seq).collect();
    assert_eq!(seqs.len(), 300, "two appends were given the same entry");
    assert_eq!(seqs, (3..=302).collect::<BTreeSet<_>>());

    let stored = all_entries(&store).await;
    assert_eq!(stored.len(), 302);
    assert_chained(&stored);
    for (id, e) in &returned {
        assert_eq!(&stored[e.seq as usize - 1], e, "entry {} differs", e.seq);
        let body: Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(body["decision_id"], id.as_str());
        assert_eq!(
            store.decision(id).await.unwrap().unwrap().seq,
            e.seq as i64,
            "decision {id} points at the wrong entry"
        );
    }
    assert_eq!(store.decision_ids().await.unwrap().len(), 300);

    // Checkpoints by both keys, each pinning the hash of its entry.
    let checkpoints = store.checkpoints().await.unwrap();
    assert!(checkpoints.len() > 2, "{} checkpoints", checkpoints.len());
    for c in &checkpoints {
        assert_eq!(c.hash, stored[c.seq as usize - 1].hash);
        assert!(c.public_key == a.public_key() || c.public_key == b.public_key());
    }
    for s in [&store, &a, &b] {
        let v = s.verify(None).await.unwrap();
        assert_eq!(v.entries, 302);
        assert_eq!(v.checkpoints, checkpoints.len());
    }
}

async fn a_failing_change_fails_alone(store: Store, ctx: &Ctx) {
    store.append(vec![writer_decision("dup")]).await.unwrap();
    let (head, hash) = store.head().await.unwrap().unwrap();

    // A call with a good change and a bad one (a decision id already taken) records neither.
    let err = store
        .append(vec![writer_decision("fine"), writer_decision("dup")])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database { .. }), "{err:?}");
    assert!(err.to_string().contains(store.location()), "{err}");
    assert_eq!(store.head().await.unwrap(), Some((head, hash)));
    assert_eq!(store.decision("fine").await.unwrap(), None);

    // Committed in a group with others, a bad call fails alone: the others land, in one chain.
    let second = ctx.second_handle().await;
    let mut tasks = Vec::new();
    for t in 0..24u64 {
        let s = if t % 3 == 0 {
            second.clone()
        } else {
            store.clone()
        };
        tasks.push(tokio::spawn(async move {
            let id = if t % 4 == 0 {
                "dup".to_string()
            } else {
                format!("ok-{t}")
            };
            (id.clone(), s.append(vec![writer_decision(&id)]).await)
        }));
    }
    let mut landed = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (id, Ok(entries)) => {
                assert_ne!(id, "dup");
                landed.push((id, entries[0].clone().unwrap()));
            }
            (id, Err(e)) => assert_eq!(id, "dup", "{id} failed: {e}"),
        }
    }
    assert_eq!(landed.len(), 18);
    let stored = all_entries(&store).await;
    assert_eq!(stored.len(), head as usize + 18);
    assert_chained(&stored);
    for (id, e) in &landed {
        assert_eq!(&stored[e.seq as usize - 1], e);
        assert_eq!(store.decision(id).await.unwrap().unwrap().seq, e.seq as i64);
    }
    assert_eq!(
        ctx.count("SELECT COUNT(*) FROM decisions").await,
        19,
        "rows of a failed change were kept"
    );
    store.verify(None).await.unwrap();
}

fn writer_decision(id: &str) -> Change {
    decision(&decision_row(
        id,
        "prod",
        "shop/api",
        &artifact_digest(7),
        "allow",
        AT,
    ))
}

// ---------------------------------------------------------------------------------------------
// 6. Exceptions.

async fn exceptions_expire_once_and_are_revoked(store: Store, ctx: &Ctx) {
    let grants = [
        exception_row("x-expired", "2026-01-01T00:00:00Z"),
        exception_row("x-future", "2099-01-01T00:00:00Z"),
        exception_row("x-revoked", "2026-01-01T00:00:00Z"),
        exception_row("x-later", "2026-06-01T00:00:00+02:00"),
    ];
    store
        .append(grants.iter().map(exception).collect())
        .await
        .unwrap();

    // Revoked once; a second revocation, or one of an unknown exception, changes nothing.
    let revoke = |id: &str, by: &str| {
        Change::if_new(
            kinds::EXCEPTION_REVOKED,
            json!({"exception_id": id, "by": by}),
            vec![Write::ExceptionRevoked {
                id: id.into(),
                at: "2026-02-01T00:00:00Z".into(),
                by: by.into(),
                reason: "no longer needed".into(),
            }],
        )
    };
    let out = store
        .append(vec![
            revoke("x-revoked", "alice"),
            revoke("x-revoked", "mallory"),
            revoke("x-unknown", "alice"),
        ])
        .await
        .unwrap();
    assert_eq!(
        out[0].as_ref().map(|e| e.kind.as_str()),
        Some(kinds::EXCEPTION_REVOKED)
    );
    assert_eq!(out[1], None);
    assert_eq!(out[2], None);
    let revoked = store.exception("x-revoked").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at.as_deref(), Some("2026-02-01T00:00:00Z"));
    assert_eq!(revoked.revoked_by.as_deref(), Some("alice"));
    assert_eq!(revoked.revoke_reason.as_deref(), Some("no longer needed"));
    let active: Vec<String> = store
        .exceptions(false)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(active, ["x-expired", "x-future", "x-later"]);
    assert_eq!(store.exceptions(true).await.unwrap().len(), 4);

    // On 1 March only x-expired has expired (x-revoked too, but it was revoked).
    let march = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let (head, _) = store.head().await.unwrap().unwrap();
    assert_eq!(
        store.record_expired_exceptions(march).await.unwrap(),
        ["x-expired"]
    );
    let entry = store.entry(head as u64 + 1).await.unwrap().unwrap();
    assert_eq!(entry.kind, kinds::EXCEPTION_EXPIRED);
    let body: Value = serde_json::from_str(&entry.body).unwrap();
    assert_eq!(body["exception_id"], "x-expired");
    assert_eq!(
        store
            .exception("x-expired")
            .await
            .unwrap()
            .unwrap()
            .expiry_seq,
        Some(head + 1)
    );
    // Once only.
    assert!(
        store
            .record_expired_exceptions(march)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.head().await.unwrap().unwrap().0, head + 1);

    // Two processes noticing the same expiry at once record it once. (x-later expires on
    // 31 May at 22:00 UTC.)
    let june = Utc.with_ymd_and_hms(2026, 5, 31, 22, 0, 0).unwrap();
    let before_june = Utc.with_ymd_and_hms(2026, 5, 31, 21, 59, 59).unwrap();
    assert!(
        store
            .record_expired_exceptions(before_june)
            .await
            .unwrap()
            .is_empty()
    );
    let other = ctx.second_handle().await;
    let (mine, theirs) = tokio::join!(
        store.record_expired_exceptions(june),
        other.record_expired_exceptions(june)
    );
    let mut recorded = mine.unwrap();
    recorded.extend(theirs.unwrap());
    assert_eq!(recorded, ["x-later"]);
    assert_eq!(
        ctx.count("SELECT COUNT(*) FROM audit_log WHERE kind = 'exception.expired'")
            .await,
        2
    );
    assert_eq!(
        store
            .exception("x-later")
            .await
            .unwrap()
            .unwrap()
            .expiry_seq,
        Some(head + 2)
    );
    assert_eq!(
        store
            .exception("x-revoked")
            .await
            .unwrap()
            .unwrap()
            .expiry_seq,
        None
    );
    assert_eq!(
        store
            .exception("x-future")
            .await
            .unwrap()
            .unwrap()
            .expiry_seq,
        None
    );
    assert_chained(&all_entries(&store).await);
    store.verify(None).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 7. The inventory and the package index.

async fn inventory_and_package_index(store: Store, ctx: &Ctx) {
    let (api_v1, api_v2, web, worker) = (
        artifact_digest(0xa1),
        artifact_digest(0xa2),
        artifact_digest(0xb1),
        artifact_digest(0xc1),
    );
    let log4j = |ns: &str, v: &str| component("maven", ns, "log4j-core", v);
    let apache = "org.apache.logging.log4j";
    // As the firewall records them: each document stored once (and indexed then), and the
    // decision about an artifact linking the documents offered for it. The base image SBOM
    // (openssl) is offered for two artifacts; the web artifact has two documents naming
    // lodash 4.17.15, and a log4j-core of another namespace; the worker is never deployed.
    let docs = [
        (
            "sbom api v1",
            vec![
                component("npm", "", "lodash", "4.17.20"),
                log4j(apache, "2.14.1"),
            ],
        ),
        (
            "sbom api v2",
            vec![
                component("npm", "", "lodash", "4.17.21"),
                log4j(apache, "2.17.1"),
            ],
        ),
        (
            "sbom web",
            vec![
                component("npm", "", "lodash", "4.17.15"),
                log4j("com.example", "1.0.0"),
            ],
        ),
        ("scan web", vec![component("npm", "", "lodash", "4.17.15")]),
        ("sbom worker", vec![component("npm", "", "lodash", "3.0.0")]),
        (
            "sbom base image",
            vec![component("deb", "debian", "openssl", "3.0.15-1~deb12u1")],
        ),
    ];
    let d = |name: &str| blob_digest(name.as_bytes());
    let mut changes: Vec<Change> = docs
        .iter()
        .map(|(raw, comps)| document(raw.as_bytes(), comps.clone()))
        .collect();
    // The base image offered again: not stored again.
    changes.push(document(b"sbom base image", docs[5].1.clone()));
    for (i, (artifact, name, offered)) in [
        (&api_v1, "shop/api", vec![d("sbom api v1")]),
        (
            &api_v2,
            "shop/api",
            vec![d("sbom api v2"), d("sbom base image")],
        ),
        (
            &web,
            "shop/web",
            vec![d("sbom web"), d("scan web"), d("sbom base image")],
        ),
        (&worker, "shop/worker", vec![d("sbom worker")]),
    ]
    .into_iter()
    .enumerate()
    {
        let row = decision_row(&format!("d{i}"), "prod", name, artifact, "allow", AT);
        changes.push(decision_offering(&row, &offered));
    }
    changes.extend([
        deployment("prod", "shop/api", &api_v1, "2026-11-20T10:00:00Z"),
        deployment("staging", "shop/api", &api_v1, "2026-11-20T11:00:00Z"),
        deployment("prod", "shop/web", &web, "2026-11-20T12:00:00Z"),
    ]);
    let out = store.append(changes).await.unwrap();
    assert_eq!(out.iter().filter(|e| e.is_none()).count(), 1);
    // api v2 replaces v1 in prod (staging keeps v1).
    let redeploy = store
        .append(vec![deployment(
            "prod",
            "shop/api",
            &api_v2,
            "2026-11-21T09:00:00Z",
        )])
        .await
        .unwrap();
    let redeploy_seq = redeploy[0].as_ref().unwrap().seq as i64;

    let inventory = store.inventory(None).await.unwrap();
    let rows: Vec<(&str, &str, &str, &str)> = inventory
        .iter()
        .map(|d| {
            (
                d.environment.as_str(),
                d.artifact_name.as_str(),
                d.artifact_digest.as_str(),
                d.deployed_at.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("prod", "shop/api", api_v2.as_str(), "2026-11-21T09:00:00Z"),
            ("prod", "shop/web", web.as_str(), "2026-11-20T12:00:00Z"),
            (
                "staging",
                "shop/api",
                api_v1.as_str(),
                "2026-11-20T11:00:00Z"
            ),
        ]
    );
    assert_eq!(inventory[0].seq, redeploy_seq);
    assert_eq!(store.inventory(Some("prod")).await.unwrap(), inventory[..2]);
    assert!(store.inventory(Some("dev")).await.unwrap().is_empty());
    // Every deployment stays on record.
    assert_eq!(ctx.count("SELECT COUNT(*) FROM deployments").await, 4);

    let in_use =
        |env: &str, name: &str, digest: &str, at: &str, purl: &str, version: &str| PackageInUse {
            environment: env.into(),
            artifact_name: name.into(),
            artifact_digest: digest.into(),
            deployed_at: at.into(),
            purl: purl.into(),
            version: version.into(),
        };
    let lodash = vec![
        in_use(
            "prod",
            "shop/api",
            &api_v2,
            "2026-11-21T09:00:00Z",
            "pkg:npm/lodash@4.17.21",
            "4.17.21",
        ),
        in_use(
            "prod",
            "shop/web",
            &web,
            "2026-11-20T12:00:00Z",
            "pkg:npm/lodash@4.17.15",
            "4.17.15",
        ),
        in_use(
            "staging",
            "shop/api",
            &api_v1,
            "2026-11-20T11:00:00Z",
            "pkg:npm/lodash@4.17.20",
            "4.17.20",
        ),
    ];
    assert_eq!(
        store
            .deployed_with_package("npm", None, "lodash")
            .await
            .unwrap(),
        lodash
    );
    // No namespace is the empty namespace.
    assert_eq!(
        store
            .deployed_with_package("npm", Some(""), "lodash")
            .await
            .unwrap(),
        lodash
    );
    let apache_log4j = vec![
        in_use(
            "prod",
            "shop/api",
            &api_v2,
            "2026-11-21T09:00:00Z",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1",
            "2.17.1",
        ),
        in_use(
            "staging",
            "shop/api",
            &api_v1,
            "2026-11-20T11:00:00Z",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            "2.14.1",
        ),
    ];
    assert_eq!(
        store
            .deployed_with_package("maven", Some(apache), "log4j-core")
            .await
            .unwrap(),
        apache_log4j
    );
    let any_log4j = store
        .deployed_with_package("maven", None, "log4j-core")
        .await
        .unwrap();
    assert_eq!(
        any_log4j
            .iter()
            .map(|p| p.purl.as_str())
            .collect::<Vec<_>>(),
        [
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1",
            "pkg:maven/com.example/log4j-core@1.0.0",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        ]
    );
    // A document offered for two artifacts counts for both.
    let openssl: Vec<(String, String)> = store
        .deployed_with_package("deb", Some("debian"), "openssl")
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.environment, p.artifact_digest))
        .collect();
    assert_eq!(
        openssl,
        [
            ("prod".to_string(), api_v2.clone()),
            ("prod".to_string(), web.clone())
        ]
    );
    assert!(
        store
            .deployed_with_package("npm", None, "left-pad")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .deployed_with_package("pypi", None, "lodash")
            .await
            .unwrap()
            .is_empty()
    );

    // Deploying the worker brings its lodash in.
    store
        .append(vec![deployment(
            "prod",
            "shop/worker",
            &worker,
            "2026-11-22T09:00:00Z",
        )])
        .await
        .unwrap();
    let versions: Vec<String> = store
        .deployed_with_package("npm", None, "lodash")
        .await
        .unwrap()
        .into_iter()
        .map(|p| format!("{}:{}@{}", p.environment, p.artifact_name, p.version))
        .collect();
    assert_eq!(
        versions,
        [
            "prod:shop/api@4.17.21",
            "prod:shop/web@4.17.15",
            "prod:shop/worker@3.0.0",
            "staging:shop/api@4.17.20",
        ]
    );
    store.verify(None).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 8. A second key.

async fn a_second_key_is_registered(store: Store, ctx: &Ctx) {
    assert_eq!(
        CheckpointKey::load_or_create(&ctx.key_path())
            .unwrap()
            .public_hex(),
        store.public_key()
    );
    store
        .append((2..=3).map(numbered_decision).collect())
        .await
        .unwrap();
    let early = store.checkpoint().await.unwrap().unwrap();
    assert_eq!(early.seq, 3);

    // A replica with a key of its own registers it in the chain.
    let (replica, replica_key) = ctx.open_with_key("replica.key").await;
    assert!(replica_key.exists());
    assert_ne!(replica.public_key(), store.public_key());
    let entries = all_entries(&store).await;
    assert_eq!(entries.len(), 4);
    let registration = &entries[3];
    assert_eq!(registration.kind, kinds::CHECKPOINT_KEY);
    let body: Value = serde_json::from_str(&registration.body).unwrap();
    assert_eq!(body["public_key"], replica.public_key());
    assert_eq!(body["key_id"], replica.key().key_id());
    // Opening again with either key registers nothing more.
    let (again, _) = ctx.open_with_key("replica.key").await;
    assert_eq!(again.public_key(), replica.public_key());
    ctx.second_handle().await;
    assert_eq!(store.head().await.unwrap().unwrap().0, 4);
    assert_eq!(
        ctx.count("SELECT COUNT(*) FROM audit_log WHERE kind = 'checkpoint-key.registered'")
            .await,
        2
    );

    // The replica's checkpoints verify, from either side.
    replica
        .append((5..=8).map(numbered_decision).collect())
        .await
        .unwrap();
    let cp = replica.checkpoint().await.unwrap().unwrap();
    assert_eq!(
        (cp.seq, cp.public_key.as_str()),
        (8, replica.public_key().as_str())
    );
    for s in [&store, &replica] {
        let v = s.verify(None).await.unwrap();
        assert_eq!((v.entries, v.checkpoints), (8, 3));
    }
    // Trusting only the first key, the replica's checkpoint is refused.
    match store.verify(Some(&store.public_key())).await {
        Err(VerifyFailure::Tamper(Tamper::BadCheckpoint { seq: 8, reason })) => {
            assert!(reason.contains("not the trusted key"), "{reason}");
        }
        other => panic!("expected the checkpoint at 8 refused, got {other:?}"),
    }

    // Replicas starting together, three with one new key and two with another: each key is
    // registered once.
    let (o1, o2, o3, o4, o5) = tokio::join!(
        ctx.open_with_key("k2.key"),
        ctx.open_with_key("k2.key"),
        ctx.open_with_key("k3.key"),
        ctx.open_with_key("k2.key"),
        ctx.open_with_key("k3.key"),
    );
    assert_eq!(o1.0.public_key(), o2.0.public_key());
    assert_eq!(o1.0.public_key(), o4.0.public_key());
    assert_eq!(o3.0.public_key(), o5.0.public_key());
    let registered: Vec<String> = all_entries(&store)
        .await
        .into_iter()
        .filter(|e| e.kind == kinds::CHECKPOINT_KEY)
        .map(|e| serde_json::from_str::<Value>(&e.body).unwrap()["public_key"].to_string())
        .collect();
    assert_eq!(registered.len(), 4, "{registered:?}");
    assert_eq!(
        registered.iter().collect::<BTreeSet<_>>().len(),
        4,
        "{registered:?}"
    );
    assert_eq!(store.verify(None).await.unwrap().entries, 10);

    // A key counts only from its registration on: the checkpoint at 3 re-signed by the replica's
    // key (registered at 4) is refused.
    let resigned = Chain::at(early.seq, &early.hash).checkpoint(replica.key(), &early.at);
    store
        .execute_raw(&format!(
            "UPDATE checkpoints SET key_id = {}, public_key = {}, signature = {} WHERE seq = 3",
            sql_str(&resigned.key_id),
            sql_str(&resigned.public_key),
            sql_str(&resigned.signature)
        ))
        .await
        .unwrap();
    let t = tamper(&store).await;
    assert!(
        matches!(&t, Tamper::BadCheckpoint { seq: 3, reason } if reason.contains("never registered")),
        "{t:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Every other row type reads back whole, on both backends (tokens, overrides, the dashboard's
// summaries), and other processes' changes reach subscribers.

fn token_row(id: &str, name: &str, role: &str) -> TokenRow {
    TokenRow {
        id: id.into(),
        name: name.into(),
        role: role.into(),
        digest: blob_digest(format!("secret of {id}").as_bytes()),
        created_at: AT.into(),
        created_by: "admin".into(),
        // Set by the store.
        seq: 0,
        revoked_at: None,
        revoked_by: None,
    }
}

async fn tokens_and_overrides_read_back(store: Store, _ctx: &Ctx) {
    let mut ci = token_row("tok_ci", "pipeline", "ci");
    let mut viewer = token_row("tok_view", "dashboard", "viewer");
    let entries = store
        .append(vec![
            Change::new(
                kinds::TOKEN_CREATED,
                json!({"id": ci.id}),
                vec![Write::Token(ci.clone())],
            ),
            Change::new(
                kinds::TOKEN_CREATED,
                json!({"id": viewer.id}),
                vec![Write::Token(viewer.clone())],
            ),
        ])
        .await
        .unwrap();
    ci.seq = entries[0].as_ref().unwrap().seq as i64;
    viewer.seq = entries[1].as_ref().unwrap().seq as i64;
    assert_eq!(store.token("tok_ci").await.unwrap(), Some(ci.clone()));
    assert_eq!(
        store.token_by_digest(&viewer.digest).await.unwrap(),
        Some(viewer.clone())
    );
    assert_eq!(store.token("tok_nope").await.unwrap(), None);
    assert_eq!(
        store.tokens(false).await.unwrap(),
        vec![ci.clone(), viewer.clone()]
    );

    let revoked = store
        .append(vec![Change::new(
            kinds::TOKEN_REVOKED,
            json!({"id": ci.id}),
            vec![Write::TokenRevoked {
                id: ci.id.clone(),
                at: "2026-11-24T08:00:00.000Z".into(),
                by: "bob".into(),
            }],
        )])
        .await
        .unwrap();
    assert!(revoked[0].is_some());
    ci.revoked_at = Some("2026-11-24T08:00:00.000Z".into());
    ci.revoked_by = Some("bob".into());
    assert_eq!(store.tokens(false).await.unwrap(), vec![viewer.clone()]);
    assert_eq!(store.tokens(true).await.unwrap(), vec![ci.clone(), viewer]);
    assert_eq!(store.token_by_digest(&ci.digest).await.unwrap(), Some(ci));

    let d = decision_row(
        "d-denied",
        "prod",
        "shop/api",
        &artifact_digest(1),
        "deny",
        AT,
    );
    store.append(vec![decision(&d)]).await.unwrap();
    assert_eq!(store.override_of("d-denied").await.unwrap(), None);
    let mut o = portcullis_store::OverrideRow {
        decision_id: d.id.clone(),
        // Set by the store.
        seq: 0,
        actor: "carol".into(),
        reason: "incident 42: the fix must ship".into(),
        at: "2026-11-24T09:00:00.000Z".into(),
    };
    let e = store
        .append(vec![Change::new(
            kinds::OVERRIDE,
            json!({"decision_id": d.id}),
            vec![Write::Override(o.clone())],
        )])
        .await
        .unwrap();
    o.seq = e[0].as_ref().unwrap().seq as i64;
    assert_eq!(store.override_of("d-denied").await.unwrap(), Some(o));
}

/// A decision entry as `Firewall::record` writes it (what the summaries read).
fn summarized_decision(
    d: &DecisionRow,
    warnings: i64,
    rules: &[&str],
    pipeline: Option<&str>,
) -> Change {
    let mut body = json!({
        "decision_id": d.id,
        "verdict": d.verdict,
        "environment": d.environment,
        "artifact": {"name": d.artifact_name, "digest": d.artifact_digest},
        "decided_at": d.decided_at,
        "counts": {"violations": rules.len(), "warnings": warnings, "excepted": 0},
        "violated_rules": rules,
    });
    if let Some(p) = pipeline {
        body["pipeline"] = json!(p);
        body["stage"] = json!("deploy");
    }
    Change::new(kinds::DECISION, body, vec![Write::Decision(d.clone())])
}

async fn dashboard_summaries_read_back(store: Store, _ctx: &Ctx) {
    use portcullis_store::{DailyCount, DecisionSummary, RuleCount};

    let mut d1 = decision_row(
        "d1",
        "prod",
        "shop/api",
        &artifact_digest(1),
        "deny",
        "2026-11-20T10:00:00.000Z",
    );
    let mut d2 = decision_row(
        "d2",
        "prod",
        "shop/api",
        &artifact_digest(2),
        "allow",
        "2026-11-21T10:00:00.000Z",
    );
    let mut d3 = decision_row(
        "d3",
        "staging",
        "shop/web",
        &artifact_digest(3),
        "allow",
        "2026-11-21T11:00:00.000Z",
    );
    let entries = store
        .append(vec![
            summarized_decision(&d1, 0, &["rule.a", "rule.b"], Some("build")),
            summarized_decision(&d2, 1, &[], None),
            summarized_decision(&d3, 0, &["rule.a"], Some("build")),
        ])
        .await
        .unwrap();
    let seqs: Vec<i64> = entries
        .iter()
        .map(|e| e.as_ref().unwrap().seq as i64)
        .collect();
    (d1.seq, d2.seq, d3.seq) = (seqs[0], seqs[1], seqs[2]);

    let count = |day: &str, env: &str, outcome: &str, n: i64| DailyCount {
        day: day.into(),
        environment: env.into(),
        outcome: outcome.into(),
        n,
    };
    assert_eq!(
        store.daily_counts("2026-11-21").await.unwrap(),
        vec![
            count("2026-11-21", "prod", "warn", 1),
            count("2026-11-21", "staging", "allow", 1)
        ]
    );
    assert_eq!(store.daily_counts("2026-11-01").await.unwrap().len(), 3);
    assert_eq!(
        store.outcome_totals().await.unwrap(),
        vec![
            count("", "prod", "deny", 1),
            count("", "prod", "warn", 1),
            count("", "staging", "allow", 1)
        ]
    );
    let rule = |rule: &str, n: i64, environments: i64| RuleCount {
        rule: rule.into(),
        n,
        environments,
    };
    assert_eq!(
        store.top_rules("2026-11-01", 10).await.unwrap(),
        vec![rule("rule.a", 2, 2), rule("rule.b", 1, 1)]
    );
    assert_eq!(
        store.top_rules("2026-11-21", 1).await.unwrap(),
        vec![rule("rule.a", 1, 1)]
    );
    let summary = |d: &DecisionRow, outcome: &str| DecisionSummary {
        seq: d.seq,
        decision_id: d.id.clone(),
        environment: d.environment.clone(),
        artifact_name: d.artifact_name.clone(),
        outcome: outcome.into(),
        decided_at: d.decided_at.clone(),
        pipeline: Some("build".into()),
        stage: Some("deploy".into()),
    };
    assert_eq!(
        store
            .pipeline_decisions("2026-11-01T00:00:00.000Z", 10)
            .await
            .unwrap(),
        vec![summary(&d1, "deny"), summary(&d3, "allow")]
    );
    let ids: Vec<String> = ["d1", "d2", "d3", "d-nope"].map(String::from).into();
    let outcomes = store.outcomes(&ids).await.unwrap();
    assert_eq!(
        outcomes.into_iter().collect::<BTreeSet<_>>(),
        [("d1", "deny"), ("d2", "warn"), ("d3", "allow")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .into()
    );
    assert_eq!(store.latest_per_environment().await.unwrap(), vec![d2, d3]);
    let last = store.checkpoints().await.unwrap().pop().unwrap();
    assert_eq!(
        store.last_checkpoint().await.unwrap(),
        Some((last.seq as i64, last.at))
    );
}

async fn another_process_changes_reach_subscribers(store: Store, ctx: &Ctx) {
    let mut sub = store.subscribe().await.unwrap();
    let other = ctx.second_handle().await;
    let t = token_row("tok_other", "replica", "ci");
    let e = other
        .append(vec![Change::new(
            kinds::TOKEN_CREATED,
            json!({"id": t.id}),
            vec![Write::Token(t)],
        )])
        .await
        .unwrap();
    let seq = e[0].as_ref().unwrap().seq;
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let ev = sub.next().await;
            if ev.kind != StoreEvent::RELOAD {
                return ev;
            }
        }
    })
    .await
    .expect("the other handle's change within 20 s");
    assert_eq!(
        got,
        StoreEvent {
            kind: kinds::TOKEN_CREATED.into(),
            seq
        }
    );
}

async fn tamper_checkpoint_moved_to_a_negative_seq(store: Store, _ctx: &Ctx) {
    thirty_entries(&store).await;
    // A negative sequence number is read (as the huge unsigned one it reinterprets to) and named
    // as tampering, not refused as an unreadable row.
    let n = store
        .execute_raw("UPDATE checkpoints SET seq = -seq WHERE seq = 30")
        .await
        .unwrap();
    assert_eq!(n, 1);
    tamper(&store).await;
}

// ---------------------------------------------------------------------------------------------
// The URL helper of the support module.

#[test]
fn test_databases_keep_the_server_and_its_parameters() {
    assert_eq!(
        support::with_database(
            "postgres://postgres@127.0.0.1:5432/portcullis_ci",
            "pcl_t_1"
        ),
        "postgres://postgres@127.0.0.1:5432/pcl_t_1"
    );
    assert_eq!(
        support::with_database("postgresql://u:p%2Fw@db:5433?sslmode=disable", "x"),
        "postgresql://u:p%2Fw@db:5433/x?sslmode=disable"
    );
    assert_eq!(
        support::with_database("postgres://localhost/a?application_name=t", "b"),
        "postgres://localhost/b?application_name=t"
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The tables whose rows a change writes (and pins in its entry), in order.
fn row_tables(change: &Change) -> Vec<&'static str> {
    change
        .writes
        .iter()
        .flat_map(|w| match w {
            Write::Decision(_) => vec!["decisions"],
            Write::Advisory(_) | Write::AdvisoryWithdrawn { .. } => vec!["advisories"],
            Write::Exception(_)
            | Write::ExceptionRevoked { .. }
            | Write::ExceptionExpired { .. } => vec!["exceptions"],
            Write::Deployment(_) => vec!["deployments", "inventory"],
            Write::CheckpointKey { .. } => vec!["checkpoint_keys"],
            Write::Token(_) | Write::TokenRevoked { .. } => vec!["api_tokens"],
            Write::Override(_) => vec!["overrides"],
            Write::Approval(_) | Write::ApprovalRevoked { .. } => vec!["approvals"],
            Write::Fact(_) => vec!["recorded_facts"],
            Write::Removal { .. } => vec!["inventory", "posture"],
            Write::Posture(_) => vec!["posture"],
            Write::Snapshot { .. } => vec!["snapshots"],
            Write::Blob { .. } | Write::ArtifactEvidence { .. } => vec![],
        })
        .collect()
}

async fn all_entries(store: &Store) -> Vec<Entry> {
    match store.head().await.unwrap() {
        Some((last, _)) => store.entries(1, last as u64).await.unwrap(),
        None => Vec::new(),
    }
}

/// Numbered 1, 2, 3, … and each entry's digest, hash and link hold.
fn assert_chained(entries: &[Entry]) {
    let mut prev = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "entry numbers");
        assert_eq!(e.prev_hash, prev, "link of entry {}", e.seq);
        assert_eq!(
            e.body_digest,
            sha256_hex(e.body.as_bytes()),
            "entry {}",
            e.seq
        );
        assert_eq!(
            e.hash,
            entry_hash(e.seq, &e.at, &e.kind, &e.body_digest, &e.prev_hash),
            "entry {}",
            e.seq
        );
        prev = e.hash.clone();
    }
}

async fn checkpoint_seqs(store: &Store) -> Vec<u64> {
    store
        .checkpoints()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.seq)
        .collect()
}

/// What `verify` found, which must be tampering.
async fn tamper(store: &Store) -> Tamper {
    match store.verify(None).await {
        Err(VerifyFailure::Tamper(t)) => t,
        other => panic!("expected tampering to be found, got {other:?}"),
    }
}

/// The message names these entries.
fn assert_names(t: &Tamper, parts: &[&str]) {
    let message = t.to_string();
    let failure = VerifyFailure::Tamper(t.clone()).to_string();
    for p in parts {
        assert!(message.contains(p), "{message:?} does not name {p:?}");
        assert!(failure.contains(p), "{failure:?} does not name {p:?}");
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn blob_digest(raw: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(raw))
}

fn artifact_digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

fn component(purl_type: &str, namespace: &str, name: &str, version: &str) -> ComponentRow {
    let purl = if namespace.is_empty() {
        format!("pkg:{purl_type}/{name}@{version}")
    } else {
        format!("pkg:{purl_type}/{namespace}/{name}@{version}")
    };
    ComponentRow {
        purl_type: purl_type.into(),
        namespace: namespace.into(),
        name: name.into(),
        version: version.into(),
        purl,
    }
}

/// An evidence document offered for an artifact: recorded (and indexed) only when new.
fn evidence(artifact: &str, raw: &[u8], components: Vec<ComponentRow>) -> Change {
    let blob = NewBlob::new("evidence", raw).unwrap();
    let digest = blob.digest.clone();
    Change::if_new(
        kinds::EVIDENCE_STORED,
        json!({"digest": digest, "artifact_digest": artifact, "components": components.len()}),
        vec![
            Write::Blob { blob, components },
            Write::ArtifactEvidence {
                artifact_digest: artifact.into(),
                evidence_digest: digest,
            },
        ],
    )
}

/// A document stored (and its components indexed) only when new.
fn document(raw: &[u8], components: Vec<ComponentRow>) -> Change {
    let blob = NewBlob::new("evidence", raw).unwrap();
    Change::if_new(
        kinds::EVIDENCE_STORED,
        json!({"digest": blob.digest, "components": components.len()}),
        vec![Write::Blob { blob, components }],
    )
}

/// A decision linking the documents offered for its artifact.
fn decision_offering(d: &DecisionRow, evidence: &[String]) -> Change {
    let mut change = decision(d);
    change
        .writes
        .extend(evidence.iter().map(|e| Write::ArtifactEvidence {
            artifact_digest: d.artifact_digest.clone(),
            evidence_digest: e.clone(),
        }));
    change
}

fn decision_row(
    id: &str,
    environment: &str,
    name: &str,
    digest: &str,
    verdict: &str,
    decided_at: &str,
) -> DecisionRow {
    DecisionRow {
        id: id.into(),
        // Set by the store.
        seq: 0,
        artifact_name: name.into(),
        artifact_digest: digest.into(),
        environment: environment.into(),
        verdict: verdict.into(),
        decided_at: decided_at.into(),
        decision_digest: blob_digest(format!("decision {id}").as_bytes()),
        request_digest: blob_digest(format!("request {id}").as_bytes()),
        policy_bundle: blob_digest(b"policy"),
    }
}

// ---------------------------------------------------------------------------------------------
// The history of a digest: per environment the newest few decisions, the newest allow and the
// newest deployed allow, however many decisions follow them.

async fn decision_history_keeps_the_landmarks(store: Store, _ctx: &Ctx) {
    let digest = artifact_digest(7);
    let other = artifact_digest(8);
    let mut n = 0;
    let mut next = |env: &str, d: &str, verdict: &str| {
        n += 1;
        decision(&decision_row(
            &format!("h{n}"),
            env,
            "shop/api",
            d,
            verdict,
            &format!("2026-11-23T12:{:02}:{:02}.000Z", n / 60 % 60, n % 60),
        ))
    };
    // Staging: an allow that was deployed there, then a deny.
    let mut first = vec![
        next("staging", &digest, "allow"),
        deployment("staging", "shop/api", &digest, AT),
        next("staging", &digest, "deny"),
        // Production: an allow deployed there, then an allow never deployed.
        next("production", &digest, "allow"),
        deployment("production", "shop/api", &digest, AT),
        next("production", &digest, "allow"),
        // A deployment of another digest to production does not count.
        deployment("production", "shop/api", &other, AT),
    ];
    // Then 600 denials in production, interleaved with decisions about another digest.
    for i in 0..600 {
        first.push(next("production", &digest, "deny"));
        if i % 100 == 0 {
            first.push(next("production", &other, "allow"));
        }
    }
    for chunk in first.chunks(200) {
        store.append(chunk.to_vec()).await.unwrap();
    }
    let ids = |h: &[portcullis_store::HistoryDecision]| -> Vec<(String, String, bool)> {
        h.iter()
            .map(|x| {
                (
                    x.decision.id.clone(),
                    x.decision.environment.clone(),
                    x.deployed,
                )
            })
            .collect()
    };
    let row = |id: &str, env: &str, deployed: bool| (id.to_string(), env.to_string(), deployed);

    let history = store.decision_history_of_digest(&digest, 3).await.unwrap();
    // Oldest first.
    assert!(
        history
            .windows(2)
            .all(|w| w[0].decision.seq < w[1].decision.seq)
    );
    assert!(history.iter().all(|h| h.decision.artifact_digest == digest));
    let prod: Vec<String> = (0..3)
        .map(|i| {
            let last = 2 + 2 + 600 + 6;
            format!("h{}", last - 2 + i)
        })
        .collect();
    assert_eq!(
        ids(&history),
        vec![
            row("h1", "staging", true),
            row("h2", "staging", false),
            // The newest deployed allow and the newest allow, 600 decisions back.
            row("h3", "production", true),
            row("h4", "production", false),
            row(&prod[0], "production", false),
            row(&prod[1], "production", false),
            row(&prod[2], "production", false),
        ],
        "{history:#?}"
    );

    // Without recent decisions: the landmarks alone.
    let landmarks = store.decision_history_of_digest(&digest, 0).await.unwrap();
    assert_eq!(
        ids(&landmarks),
        vec![
            row("h1", "staging", true),
            row("h3", "production", true),
            row("h4", "production", false),
        ]
    );
    // The per-environment limit holds: staging has 2, production 20 and its 2 landmarks.
    let wide = store.decision_history_of_digest(&digest, 20).await.unwrap();
    assert_eq!(
        wide.iter()
            .filter(|h| h.decision.environment == "staging")
            .count(),
        2
    );
    assert_eq!(
        wide.iter()
            .filter(|h| h.decision.environment == "production")
            .count(),
        22
    );
    // A newest allow that is also among the recent ones comes once; a later deployment marks it.
    store
        .append(vec![
            next("production", &digest, "allow"),
            deployment("production", "shop/api", &digest, AT),
        ])
        .await
        .unwrap();
    let after = store.decision_history_of_digest(&digest, 2).await.unwrap();
    let last = ids(&after).pop().unwrap();
    assert!(last.2, "{after:#?}");
    assert_eq!(
        ids(&after).iter().filter(|r| r.1 == "production").count(),
        2,
        "the newest allow is the newest deployed allow and one of the two recent: {after:#?}"
    );
    // A digest without decisions has no history.
    assert!(
        store
            .decision_history_of_digest(&artifact_digest(9), 20)
            .await
            .unwrap()
            .is_empty()
    );
    // A digest allowed in 33,000 environments picks 33,000 rows: more than one statement may
    // bind on SQLite (32,766 parameters), so they are read in batches, every row once, in order.
    let spread = artifact_digest(10);
    let many: Vec<Change> = (0..33_000)
        .map(|e| next(&format!("env-{e:05}"), &spread, "allow"))
        .collect();
    for chunk in many.chunks(2_000) {
        store.append(chunk.to_vec()).await.unwrap();
    }
    let wide = store.decision_history_of_digest(&spread, 0).await.unwrap();
    assert_eq!(wide.len(), 33_000);
    assert!(
        wide.windows(2)
            .all(|w| w[0].decision.seq < w[1].decision.seq)
    );
}

fn decision(d: &DecisionRow) -> Change {
    Change::new(
        kinds::DECISION,
        json!({
            "decision_id": d.id,
            "verdict": d.verdict,
            "environment": d.environment,
            "artifact": {"name": d.artifact_name, "digest": d.artifact_digest},
            "decision_digest": d.decision_digest,
        }),
        vec![Write::Decision(d.clone())],
    )
}

fn advisory_row(id: &str, kind: &str, summary: &str) -> AdvisoryRow {
    AdvisoryRow {
        id: id.into(),
        kind: kind.into(),
        digest: blob_digest(id.as_bytes()),
        summary: summary.into(),
        added_at: "2026-11-22T00:00:00Z".into(),
        added_by: "security".into(),
        seq: 0,
        withdrawn_at: None,
        withdrawn_by: None,
        withdraw_reason: None,
    }
}

fn advisory(a: &AdvisoryRow) -> Change {
    Change::new(
        kinds::ADVISORY_ADDED,
        json!({"advisory_id": a.id, "kind": a.kind, "digest": a.digest}),
        vec![Write::Advisory(a.clone())],
    )
}

fn exception_row(id: &str, expires_at: &str) -> ExceptionRow {
    ExceptionRow {
        id: id.into(),
        body: json!({"id": id, "rule": "critical-vulnerability", "artifact": "shop/api"})
            .to_string(),
        granted_by: "carol".into(),
        granted_at: "2025-12-01T00:00:00Z".into(),
        expires_at: expires_at.into(),
        seq: 0,
        revoked_at: None,
        revoked_by: None,
        revoke_reason: None,
        expiry_seq: None,
    }
}

fn exception(x: &ExceptionRow) -> Change {
    Change::new(
        kinds::EXCEPTION_GRANTED,
        json!({"exception_id": x.id, "expires_at": x.expires_at}),
        vec![Write::Exception(x.clone())],
    )
}

fn deployment(environment: &str, name: &str, digest: &str, at: &str) -> Change {
    Change::new(
        kinds::DEPLOYMENT,
        json!({"environment": environment, "artifact": {"name": name, "digest": digest}}),
        vec![Write::Deployment(DeploymentRow {
            seq: 0,
            environment: environment.into(),
            artifact_name: name.into(),
            artifact_digest: digest.into(),
            deployed_at: at.into(),
            deployed_by: "ci".into(),
        })],
    )
}

// 6. PostgreSQL's planner statistics.

/// The tables a store writes are analyzed by the store as they grow, so that statements
/// prepared on its first, empty tables are planned again (the soak's finding: with autovacuum
/// off, those plans stayed sequential scans). SQLite needs no statistics; nothing to test there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_that_grew_are_analyzed_postgres() {
    support::run(
        portcullis_store::Backend::Postgres,
        |_store, ctx| async move {
            let analyzed = |table: &str| {
                format!(
                    "SELECT COUNT(*) FROM pg_stat_user_tables WHERE relname = '{table}' \
                 AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)"
                )
            };
            let store = ctx
                .open(&StoreConfig {
                    statistics_interval: Duration::from_millis(1500),
                    ..ctx.config()
                })
                .await;
            // Whatever a first check found (the key's registration touched a few tables), the
            // decisions table has not grown past the threshold yet.
            assert_eq!(ctx.count(&analyzed("decisions")).await, 0);
            // 400 decisions: past the 50-row threshold of an empty table.
            for start in (0u64..400).step_by(100) {
                store
                    .append(
                        (start..start + 100)
                            .map(|i| numbered_decision(i + 2))
                            .collect(),
                    )
                    .await
                    .unwrap();
            }
            // The background task, woken by these commits, analyzes within its interval and the
            // second it takes PostgreSQL to count the rows (bounded wait).
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while ctx.count(&analyzed("decisions")).await == 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "decisions not analyzed 30 s after 400 rows were written"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            // What is left stale is analyzed on demand; after that, nothing is.
            store.refresh_statistics().await.unwrap();
            assert_eq!(
                store.refresh_statistics().await.unwrap(),
                Vec::<String>::new()
            );
            // The statistics now count the table's rows: plans made from them no longer take it
            // for the empty table it was when the statements were first prepared.
            assert!(
                ctx.count("SELECT reltuples::bigint FROM pg_class WHERE relname = 'decisions'")
                    .await
                    >= 400
            );
        },
    )
    .await;
}

/// The soak's finding on PostgreSQL: with one digest decided thousands of times in staging and
/// once in production, the history's lookup of production's newest decision walked
/// `decisions_by_seq` back through every staging decision after it, on each decision, so that
/// the server slowed as the store grew. Counted by PostgreSQL's own tally of the index entries
/// read (`pg_stat_user_indexes`), the history must read a bounded number per call, whatever the
/// number of staging decisions: the fix names its index in row comparisons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newest_decision_lookups_read_a_bounded_number_of_index_entries_postgres() {
    support::run(
        portcullis_store::Backend::Postgres,
        |store, ctx| async move {
            let digest = artifact_digest(11);
            let row = |i: u64, env: &str| {
                decision(&decision_row(
                    &format!("s{i}"),
                    env,
                    "shop/api",
                    &digest,
                    "allow",
                    AT,
                ))
            };
            let mut changes = vec![row(0, "production")];
            changes.extend((1..=4_000).map(|i| row(i, "staging")));
            for chunk in changes.chunks(1_000) {
                store.append(chunk.to_vec()).await.unwrap();
            }
            // The statistics a long-running server has (the store refreshes them as it grows).
            store.refresh_statistics().await.unwrap();
            let read = "SELECT COALESCE(SUM(idx_tup_read), 0)::bigint FROM pg_stat_user_indexes \
                        WHERE relname = 'decisions'";
            // PostgreSQL publishes a backend's counts within a second or so of its going idle
            // (at most 10 s): wait until the tally stands still.
            async fn settled(ctx: &Ctx, sql: &str) -> i64 {
                let mut last = ctx.count(sql).await;
                for _ in 0..30 {
                    tokio::time::sleep(Duration::from_millis(700)).await;
                    let now = ctx.count(sql).await;
                    if now == last {
                        return now;
                    }
                    last = now;
                }
                last
            }
            let before = settled(&ctx, read).await;
            // Enough calls that every pooled connection's prepared statement goes past its
            // first five custom plans to the generic plan a long-running server keeps.
            const CALLS: i64 = 60;
            for _ in 0..CALLS {
                let h = store.decision_history_of_digest(&digest, 20).await.unwrap();
                assert_eq!(h.len(), 21, "20 recent in staging and production's one");
            }
            // Each history reads ~22 index entries for the rows it picks and a few per lookup;
            // with the walk back through staging, over 4,000.
            let mut per_call = 0;
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while std::time::Instant::now() < deadline {
                per_call = (settled(&ctx, read).await - before) / CALLS;
                if per_call >= 22 {
                    break;
                }
            }
            assert!(
                (22..400).contains(&per_call),
                "index entries read per history: {per_call} (bounded: under 400)"
            );
            // The same for production's newest decision (admission asks it on every review)
            // and each environment's newest (the dashboard): a few entries each, not the
            // 4,000 staging decisions after production's.
            for (what, wanted) in [("latest", 1i64), ("per environment", 2)] {
                let before = settled(&ctx, read).await;
                for _ in 0..CALLS {
                    let got = if what == "latest" {
                        let d = store.latest_decision(&digest, "production").await.unwrap();
                        i64::from(d.is_some_and(|d| d.id == "s0"))
                    } else {
                        store.latest_per_environment().await.unwrap().len() as i64
                    };
                    assert_eq!(got, wanted, "{what}");
                }
                let mut per_call = 0;
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                while std::time::Instant::now() < deadline {
                    per_call = (settled(&ctx, read).await - before) / CALLS;
                    if per_call >= wanted {
                        break;
                    }
                }
                assert!(
                    (wanted..40).contains(&per_call),
                    "index entries read per call of {what}: {per_call} (bounded: under 40)"
                );
            }
        },
    )
    .await;
}
