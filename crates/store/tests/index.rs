//! The package index of a new SBOM is written after the chain commit, in transactions of its
//! own, on both backends: the commit stores only the pending rows; the indexer moves them into
//! `components`; what a stopped process left pending is indexed when a store opens; and
//! `deployed_with_package` (what `advisory impact` asks) never answers without an SBOM whose
//! index is pending — nor silently when it cannot index it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use portcullis_store::{Change, ComponentRow, DeploymentRow, NewBlob, Store, Write, kinds};
use serde_json::json;
use support::{Ctx, sql_str};

on_both_backends! {
    a_new_sbom_is_indexed_after_its_commit => a_new_sbom_is_indexed_after_its_commit_sqlite, a_new_sbom_is_indexed_after_its_commit_postgres;
    what_a_stopped_process_left_is_indexed_when_a_store_opens => what_a_stopped_process_left_is_indexed_when_a_store_opens_sqlite, what_a_stopped_process_left_is_indexed_when_a_store_opens_postgres;
    an_sbom_is_indexed_once_by_racing_indexers => an_sbom_is_indexed_once_by_racing_indexers_sqlite, an_sbom_is_indexed_once_by_racing_indexers_postgres;
    impact_fails_loudly_on_an_unreadable_pending_index => impact_fails_loudly_on_an_unreadable_pending_index_sqlite, impact_fails_loudly_on_an_unreadable_pending_index_postgres;
}

const ARTIFACT: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000a1";

/// `n` npm components, log4j-core (maven) among them.
fn components(n: usize) -> Vec<ComponentRow> {
    let mut rows: Vec<ComponentRow> = (0..n - 1)
        .map(|i| ComponentRow {
            purl_type: "npm".into(),
            namespace: String::new(),
            name: format!("pkg-{i}"),
            version: "1.0.0".into(),
            purl: format!("pkg:npm/pkg-{i}@1.0.0"),
        })
        .collect();
    rows.push(ComponentRow {
        purl_type: "maven".into(),
        namespace: "org.apache.logging.log4j".into(),
        name: "log4j-core".into(),
        version: "2.14.1".into(),
        purl: "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1".into(),
    });
    rows
}

/// A new SBOM offered for [`ARTIFACT`], which is deployed. Returns its digest.
async fn record_sbom(store: &Store, n: usize) -> String {
    let raw = format!("an SBOM of {n} components");
    let blob = NewBlob::new("evidence", raw.as_bytes()).unwrap();
    let digest = blob.digest.clone();
    store
        .append(vec![
            Change::if_new(
                kinds::EVIDENCE_STORED,
                json!({"digest": digest, "artifact_digest": ARTIFACT, "components": n}),
                vec![
                    Write::Blob {
                        blob,
                        components: components(n),
                    },
                    Write::ArtifactEvidence {
                        artifact_digest: ARTIFACT.into(),
                        evidence_digest: digest.clone(),
                    },
                ],
            ),
            Change::new(
                kinds::DEPLOYMENT,
                json!({"environment": "prod", "artifact": {"name": "shop/api", "digest": ARTIFACT}}),
                vec![Write::Deployment(DeploymentRow {
                    seq: 0,
                    environment: "prod".into(),
                    artifact_name: "shop/api".into(),
                    artifact_digest: ARTIFACT.into(),
                    deployed_at: "2026-12-04T12:00:00Z".into(),
                    deployed_by: "ci".into(),
                })],
            ),
        ])
        .await
        .unwrap();
    digest
}

async fn indexed(ctx: &Ctx, digest: &str) -> (i64, i64) {
    let components = ctx
        .count(&format!(
            "SELECT COUNT(*) FROM components WHERE evidence_digest = {}",
            sql_str(digest)
        ))
        .await;
    let pending = ctx.count("SELECT COUNT(*) FROM pending_components").await;
    (components, pending)
}

async fn log4j_in_use(store: &Store) -> usize {
    store
        .deployed_with_package("maven", Some("org.apache.logging.log4j"), "log4j-core")
        .await
        .unwrap()
        .len()
}

async fn a_new_sbom_is_indexed_after_its_commit(store: Store, ctx: &Ctx) {
    // Paused: the commit alone wrote the pending rows and no component.
    store.pause_indexing(true);
    let digest = record_sbom(&store, 300).await;
    assert_eq!(indexed(ctx, &digest).await, (0, 1));
    // The impact question indexes what is pending before it answers.
    assert_eq!(log4j_in_use(&store).await, 1);
    assert_eq!(indexed(ctx, &digest).await, (300, 0));
    // Unpaused, the indexer does it in the background after the commit.
    store.pause_indexing(false);
    let second = {
        let raw = b"another SBOM";
        let blob = NewBlob::new("evidence", raw).unwrap();
        let d = blob.digest.clone();
        store
            .append(vec![Change::if_new(
                kinds::EVIDENCE_STORED,
                json!({"digest": d}),
                vec![Write::Blob {
                    blob,
                    components: components(100),
                }],
            )])
            .await
            .unwrap();
        d
    };
    wait_until_indexed(ctx, &second, 100).await;
    store.verify(None).await.unwrap();
}

async fn wait_until_indexed(ctx: &Ctx, digest: &str, n: i64) {
    let started = Instant::now();
    loop {
        let got = indexed(ctx, digest).await;
        if got == (n, 0) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not indexed in the background: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn what_a_stopped_process_left_is_indexed_when_a_store_opens(store: Store, ctx: &Ctx) {
    store.pause_indexing(true);
    // More components than one index transaction takes.
    let digest = record_sbom(&store, 5_000).await;
    assert_eq!(indexed(ctx, &digest).await, (0, 1));
    drop(store);
    // Another process opens the store: it indexes what was left, without being asked.
    let _reopened = ctx.second_handle().await;
    wait_until_indexed(ctx, &digest, 5_000).await;
}

async fn an_sbom_is_indexed_once_by_racing_indexers(store: Store, ctx: &Ctx) {
    store.pause_indexing(true);
    let digest = record_sbom(&store, 3_000).await;
    let other = ctx.second_handle().await;
    other.pause_indexing(true);
    // Two processes index at once (and a third opening catches up too).
    let (a, b, _third) = tokio::join!(
        log4j_in_use(&store),
        log4j_in_use(&other),
        ctx.second_handle()
    );
    assert_eq!((a, b), (1, 1));
    wait_until_indexed(ctx, &digest, 3_000).await;
    assert_eq!(
        ctx.count("SELECT COUNT(*) FROM components WHERE purl_type = 'maven'")
            .await,
        1
    );
}

async fn impact_fails_loudly_on_an_unreadable_pending_index(store: Store, ctx: &Ctx) {
    store.pause_indexing(true);
    record_sbom(&store, 10).await;
    store.index_pending().await.unwrap();
    assert_eq!(log4j_in_use(&store).await, 1);
    // A pending row that cannot be read: the question is not answered without it.
    store
        .execute_raw(&format!(
            "INSERT INTO pending_components (evidence_digest, rows, done) VALUES ('sha256:bad', {}, 0)",
            ctx.bytes_literal(b"not zstd")
        ))
        .await
        .unwrap();
    let e = store
        .deployed_with_package("maven", None, "log4j-core")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("pending component rows of sha256:bad"), "{e}");
}
