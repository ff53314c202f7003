//! `verify` reads the chain with a reader of its own (rusqlite on SQLite, binary COPY on
//! PostgreSQL) and checks it on another thread: on both backends it catches every tampering
//! exactly as the sqlx reader before it (`verify_with_baseline`, kept for the benchmark) —
//! the same verdict, the same entry named — on a chain long enough to span many of its
//! batches.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
#[allow(dead_code)]
mod support;

use portcullis_store::{
    Change, DecisionRow, Store, Tamper, VerifyFailure, VerifyOptions, VerifyProgress, Write, kinds,
};
use serde_json::json;
use support::Ctx;

on_both_backends! {
    an_intact_chain_verifies_alike => an_intact_chain_verifies_alike_sqlite, an_intact_chain_verifies_alike_postgres;
    an_entry_edited_mid_chain_is_named_alike => an_entry_edited_mid_chain_is_named_alike_sqlite, an_entry_edited_mid_chain_is_named_alike_postgres;
    a_deleted_entry_is_named_alike => a_deleted_entry_is_named_alike_sqlite, a_deleted_entry_is_named_alike_postgres;
    reordered_entries_are_named_alike => reordered_entries_are_named_alike_sqlite, reordered_entries_are_named_alike_postgres;
    a_broken_checkpoint_is_named_alike => a_broken_checkpoint_is_named_alike_sqlite, a_broken_checkpoint_is_named_alike_postgres;
    a_truncated_chain_and_a_changed_row_are_named_alike => a_truncated_chain_and_a_changed_row_are_named_alike_sqlite, a_truncated_chain_and_a_changed_row_are_named_alike_postgres;
}

const AT: &str = "2026-12-04T12:00:00.000Z";
/// Entries appended after the key registration: several of the reader's batches (4,096).
const ENTRIES: u64 = 6_000;

fn digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

/// A chain of [`ENTRIES`] decisions with their rows (a checkpoint per append of 2,000).
async fn filled(store: &Store) {
    for part in 0..3u64 {
        let changes: Vec<Change> = (0..ENTRIES / 3)
            .map(|k| {
                let n = part * (ENTRIES / 3) + k;
                let row = DecisionRow {
                    id: format!("d-{n}"),
                    seq: 0,
                    artifact_name: "shop/api".into(),
                    artifact_digest: digest(n),
                    environment: "production".into(),
                    verdict: if n.is_multiple_of(3) { "deny" } else { "allow" }.into(),
                    decided_at: AT.into(),
                    decision_digest: digest(1_000_000 + n),
                    request_digest: digest(2_000_000 + n),
                    policy_bundle: digest(3),
                };
                Change::new(
                    kinds::DECISION,
                    json!({"decision_id": row.id, "verdict": row.verdict, "n": n,
                        "artifact": {"name": row.artifact_name, "digest": row.artifact_digest},
                        "note": "a \"quoted\" \\ text, é"}),
                    vec![Write::Decision(row)],
                )
            })
            .collect();
        store.append(changes).await.unwrap();
        store.checkpoint().await.unwrap();
    }
}

/// Both readers' verdicts, which must be the same; the new one is returned.
async fn both(store: &Store, options: &VerifyOptions) -> String {
    let new = format!("{:?}", store.verify_with(options).await);
    let old = format!("{:?}", store.verify_with_baseline(options).await);
    assert_eq!(new, old, "the new reader and the old one disagree");
    new
}

fn trusted(store: &Store) -> VerifyOptions {
    VerifyOptions {
        trusted_key: Some(store.public_key()),
        ..VerifyOptions::default()
    }
}

async fn exec(store: &Store, sql: &str) -> u64 {
    store.execute_raw(sql).await.unwrap()
}

async fn an_intact_chain_verifies_alike(store: Store, _ctx: &Ctx) {
    filled(&store).await;
    let v = store.verify(None).await.unwrap();
    assert_eq!(v.entries, ENTRIES + 1);
    assert_eq!(v.last_hash, store.head().await.unwrap().unwrap().1);
    let got = both(&store, &VerifyOptions::default()).await;
    assert!(got.starts_with("Ok("), "{got}");
    both(&store, &trusted(&store)).await;
    // The progress callback hears every batch, rising, up to the whole chain.
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = heard.clone();
    let options = VerifyOptions {
        progress: VerifyProgress::new(move |n| sink.lock().unwrap().push(n)),
        ..VerifyOptions::default()
    };
    store.verify_with(&options).await.unwrap();
    let heard = heard.lock().unwrap().clone();
    assert!(heard.len() >= 2, "{heard:?}");
    assert!(heard.windows(2).all(|w| w[0] < w[1]), "{heard:?}");
    assert_eq!(heard.last(), Some(&(ENTRIES + 1)));
}

async fn an_entry_edited_mid_chain_is_named_alike(store: Store, _ctx: &Ctx) {
    filled(&store).await;
    // The body changed (not rehashed), then another entry's body changed and rehashed with
    // its digest: both are a modification of the first such entry.
    assert_eq!(
        exec(
            &store,
            "UPDATE audit_log SET body = replace(body, '\"verdict\":\"allow\"', '\"verdict\":\"deny\"') WHERE seq = 5001"
        )
        .await,
        1
    );
    let got = both(&store, &VerifyOptions::default()).await;
    assert_eq!(
        got,
        format!(
            "{:?}",
            Err::<(), _>(VerifyFailure::Tamper(Tamper::Modified { seq: 5001 }))
        )
    );
    // An entry at a batch boundary (4,096) with its kind changed.
    exec(
        &store,
        "UPDATE audit_log SET kind = 'override' WHERE seq = 4096",
    )
    .await;
    let got = both(&store, &VerifyOptions::default()).await;
    assert!(got.contains("Modified { seq: 4096 }"), "{got}");
}

async fn a_deleted_entry_is_named_alike(store: Store, _ctx: &Ctx) {
    filled(&store).await;
    exec(&store, "DELETE FROM audit_log WHERE seq = 5500").await;
    let got = both(&store, &VerifyOptions::default()).await;
    assert!(
        got.contains("Deleted { expected: 5500, found: 5501 }"),
        "{got}"
    );
    // The first entry gone.
    exec(&store, "DELETE FROM audit_log WHERE seq = 1").await;
    let got = both(&store, &VerifyOptions::default()).await;
    assert!(got.contains("Deleted { expected: 1, found: 2 }"), "{got}");
}

async fn reordered_entries_are_named_alike(store: Store, _ctx: &Ctx) {
    filled(&store).await;
    // Two entries' contents swapped, sequence numbers kept in place (at a batch boundary).
    for sql in [
        "UPDATE audit_log SET seq = -4097 WHERE seq = 4097",
        "UPDATE audit_log SET seq = 4097 WHERE seq = 4096",
        "UPDATE audit_log SET seq = 4096 WHERE seq = -4097",
    ] {
        exec(&store, sql).await;
    }
    let got = both(&store, &VerifyOptions::default()).await;
    assert!(
        got.starts_with("Err(Tamper(") && got.contains("seq: 4096"),
        "{got}"
    );
}

async fn a_broken_checkpoint_is_named_alike(store: Store, _ctx: &Ctx) {
    filled(&store).await;
    let cps = store.checkpoints().await.unwrap();
    let mid = &cps[cps.len() / 2];
    // Its hash changed: the signature no longer verifies.
    exec(
        &store,
        &format!(
            "UPDATE checkpoints SET hash = '{}' WHERE seq = {}",
            "0".repeat(64),
            mid.seq
        ),
    )
    .await;
    let got = both(&store, &VerifyOptions::default()).await;
    assert!(
        got.contains(&format!("BadCheckpoint {{ seq: {}", mid.seq))
            && got.contains("the signature does not verify"),
        "{got}"
    );
    // Every checkpoint deleted.
    exec(&store, "DELETE FROM checkpoints").await;
    let got = both(&store, &VerifyOptions::default()).await;
    assert!(got.contains("no signed checkpoint"), "{got}");
}

async fn a_truncated_chain_and_a_changed_row_are_named_alike(store: Store, _ctx: &Ctx) {
    filled(&store).await;
    // A decision row changed: the table check (fed by the new reader's picked bodies) names it.
    exec(
        &store,
        "UPDATE decisions SET verdict = 'allow' WHERE id = 'd-4200'",
    )
    .await;
    let got = both(&store, &VerifyOptions::default()).await;
    assert!(
        got.contains("Tables(") && got.contains("id=d-4200") && got.contains("verdict"),
        "{got}"
    );
    exec(
        &store,
        "UPDATE decisions SET verdict = 'deny' WHERE id = 'd-4200'",
    )
    .await;
    both(&store, &VerifyOptions::default()).await;
    // The chain cut before its last checkpoint.
    let last = store.latest_checkpoint().await.unwrap().unwrap();
    exec(
        &store,
        &format!("DELETE FROM audit_log WHERE seq > {}", last.seq - 10),
    )
    .await;
    let got = both(&store, &VerifyOptions::default()).await;
    assert!(
        got.contains(&format!(
            "Truncated {{ last_seq: {}, checkpoint_seq: {} }}",
            last.seq - 10,
            last.seq
        )),
        "{got}"
    );
}
