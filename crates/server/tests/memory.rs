//! Memory is bounded by the body, not by what it says: a 16 MiB decision request whose inline
//! evidence is one JSON array of millions of tiny numbers (each of which would cost a 32-byte
//! serde_json::Value node, and more in the vectors holding them) is measured with a counting
//! global allocator. Its peak, over what the running server held before, must stay a small
//! multiple of the body. (Its own test binary: the allocator counts everything in-process.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use peak_alloc::PeakAlloc;
use portcullis_server::auth::Role;
use portcullis_store::Backend;

/// Counts what is allocated (peak_alloc: the `unsafe` of a global allocator stays in that
/// crate; the workspace forbids it).
#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

const MIB: usize = 1024 * 1024;

/// `{"artifact", "environment", "evidence": [{"name", "content": [0,0,0,…]}]}` of just under
/// `size` bytes.
fn body(size: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"artifact":"{LOG4J_ARTIFACT}","environment":"staging","evidence":[{{"name":"big.json","content":[0"#
    );
    let tail = "]}]}";
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(head.as_bytes());
    while out.len() + 2 + tail.len() <= size {
        out.extend_from_slice(b",0");
    }
    out.extend_from_slice(tail.as_bytes());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_16_mib_body_costs_a_small_multiple_of_itself() {
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(db.config(), Options::default()).await;
    // Warm: the first decision compiles and caches what every later one reuses.
    let (status, warm) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &serde_json::json!({"artifact": LOG4J_ARTIFACT, "environment": "staging"}),
        )
        .await;
    assert_eq!(status, 200, "{warm}");

    let size = 16 * MIB - 4096;
    let payload = body(size);
    let client = s.client.clone();
    let url = format!("{}/v1/decisions", s.base);
    let token = s.token(Role::Ci).to_string();
    let before = ALLOCATOR.current_usage();
    ALLOCATOR.reset_peak_usage();
    let r = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let peak = ALLOCATOR.peak_usage().saturating_sub(before);
    eprintln!(
        "16 MiB body: peak {} MiB over the {} MiB held before (body {} MiB)",
        peak / MIB,
        before / MIB,
        size / MIB
    );
    assert_eq!(status, 200, "{text}");
    // The body (sent by the client: counted too), the server's copy of it and the bytes of
    // the evidence document kept for the record: a few times the body, never a tree of it.
    assert!(
        peak < 4 * size,
        "a 16 MiB body cost {} MiB at its peak",
        peak / MIB
    );
    s.stop().await;
}
