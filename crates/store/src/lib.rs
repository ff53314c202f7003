//! Portcullis store: what the firewall keeps and how it proves it was not changed — the audit
//! chain (canonical JSON bodies, a hash over every column of an entry and the one before, ed25519-signed
//! checkpoints, a verifier that names the first bad entry), content-addressed documents,
//! decisions, advisories, exceptions, the inventory of what runs where and its component
//! index, on SQLite (the embedded default) or PostgreSQL behind one API (DESIGN.md "Storage and
//! the audit chain"), and self-contained proof bundles that verify without a database.
//!
//! It must not contain policy logic.

pub mod canonical;
pub mod chain;
pub mod db;
mod digest;
pub mod error;
pub mod keys;
pub mod proof;
pub mod records;
#[cfg(feature = "testing")]
pub mod testing;
pub mod witness;

pub use chain::{Chain, Checkpoint, Entry, Tamper, verify};
pub use db::{
    Backend, CHANGES_CHANNEL, DailyCount, DecisionSummary, Finding, Lease, POSTURE_LEASE,
    RuleCount, Store, StoreConfig, Subscription, VerifyFailure, VerifyOptions, VerifyProgress,
    outcome,
};
pub use error::{StoreError, Unavailable};
pub use keys::CheckpointKey;
pub use proof::{
    BundleBlob, BundleReport, BundleScope, ProofBundle, ProofError, ProvenDecision, blob_digest,
    verify_bundle,
};
pub use records::*;
