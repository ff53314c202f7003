//! Portcullis evidence: the normalized model of what DevOps tools say about an artifact, and the
//! parsers that read their real output into it — SBOMs (CycloneDX, SPDX), vulnerability scans
//! (Trivy, Grype, OSV-Scanner), SAST (SARIF, Semgrep, Bandit), IaC checks (Checkov), DAST (ZAP),
//! OSV advisories and in-toto attestations — plus purls, per-ecosystem version ordering and
//! version ranges (OSV, `vers:`).
//!
//! It is a format library anyone can use without the firewall: it reads only the bytes it is
//! given, knows nothing of policy or storage, and never panics on any input.

pub mod block_rule;
pub mod detect;
pub mod error;
pub mod format;
pub mod formats;
pub mod json;
pub mod model;
pub mod purl;
pub mod range;
pub mod version;

pub use block_rule::BlockRule;
pub use detect::detect;
pub use error::{ErrorKind, ParseError, Place};
pub use format::Format;
pub use model::*;

/// Limits on untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest document accepted, in bytes (default 512 MiB).
    pub max_bytes: u64,
    /// Deepest nesting of JSON arrays/objects or XML elements accepted (default 128).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 512 * 1024 * 1024,
            max_depth: 128,
        }
    }
}

/// Detect the format of `bytes` and parse them into the normalized model.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    json::check_size(bytes, None, limits)?;
    let format = detect(bytes)?;
    parse_as(format, bytes, limits)
}

/// Read a document from `reader` and parse it, detecting its format unless `as_format` says.
///
/// CycloneDX JSON — the format that grows to hundreds of megabytes — is parsed as the bytes
/// arrive, so memory stays well below twice the document's size (docs/benchmarks.md); other
/// formats are read into memory first, never more than `limits.max_bytes`.
pub fn parse_reader<R: std::io::Read>(
    mut reader: R,
    as_format: Option<Format>,
    limits: &Limits,
) -> Result<Evidence, ParseError> {
    use std::io::Read;
    // Enough for detection to see `bomFormat`, which CycloneDX writers put first.
    const HEAD: u64 = 64 * 1024;
    let io_error =
        |e: std::io::Error| ParseError::new(ErrorKind::Io, as_format, format!("cannot read: {e}"));
    let mut head = Vec::new();
    (&mut reader)
        .take(HEAD)
        .read_to_end(&mut head)
        .map_err(io_error)?;
    if head.len() as u64 == HEAD {
        let format = match as_format {
            Some(f) => Some(f),
            None => detect(&head).ok(),
        };
        if format == Some(Format::CyclonedxJson) {
            let bom = head.len() - detect::strip_bom(&head).len();
            let mut start = std::io::Cursor::new(head);
            start.set_position(bom as u64);
            let mut evidence = formats::cyclonedx::parse_json_reader(start.chain(reader), limits)?;
            formats::normalize(&mut evidence);
            return Ok(evidence);
        }
    }
    let room = (limits.max_bytes + 1).saturating_sub(head.len() as u64);
    reader.take(room).read_to_end(&mut head).map_err(io_error)?;
    match as_format {
        Some(f) => parse_as(f, &head, limits),
        None => parse(&head, limits),
    }
}

/// Parse `bytes` as `format`, skipping detection (for `--as`, when the caller knows better).
pub fn parse_as(format: Format, bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    json::check_size(bytes, Some(format), limits)?;
    let bytes = detect::strip_bom(bytes);
    formats::parse(format, bytes, limits)
}
