//! Portcullis store: what the firewall keeps and how it proves it was not changed. This first
//! part is the audit chain itself — canonical JSON bodies, the hash chain
//! (`hash = sha256(prev_hash ‖ body_digest)`), ed25519-signed checkpoints and a verifier that
//! names the first bad entry — independent of the database that will hold it (SQLite or
//! PostgreSQL, DESIGN.md "Storage and the audit chain").
//!
//! It must not contain policy logic.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod canonical;
pub mod chain;
pub mod keys;

pub use chain::{Chain, Checkpoint, Entry, Tamper, verify};
pub use keys::CheckpointKey;
