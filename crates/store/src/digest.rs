//! The content digest documents are stored and bundled under (`sha256:<hex>`): one definition,
//! in a leaf module, for the store's records and the proof bundles.

use sha2::{Digest, Sha256};

/// What every content digest starts with.
pub(crate) const PREFIX: &str = "sha256:";

/// `sha256:` + lowercase hex of sha256 over `raw`.
pub(crate) fn sha256(raw: &[u8]) -> String {
    format!("{PREFIX}{:x}", Sha256::digest(raw))
}

/// Lowercase hex of sha256 over `raw` (no prefix: audit entry body digests).
pub(crate) fn sha256_hex(raw: &[u8]) -> String {
    format!("{:x}", Sha256::digest(raw))
}
