//! One module per format family; each turns bytes into [`Evidence`].

use crate::detect::Format;
use crate::error::ParseError;
use crate::{Evidence, Limits};

pub mod bandit;
pub mod checkov;
pub mod cyclonedx;
pub mod grype;
pub mod intoto;
pub mod osv;
pub mod osv_scanner;
pub mod sarif;
mod scanner_common;
pub mod semgrep;
pub mod spdx;
pub mod trivy;
pub mod zap;

/// Dispatch to the parser of `format`.
pub fn parse(format: Format, bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    match format {
        Format::CyclonedxJson => cyclonedx::parse_json(bytes, limits),
        Format::CyclonedxXml => cyclonedx::parse_xml(bytes, limits),
        Format::SpdxJson => spdx::parse(bytes, limits),
        Format::TrivyJson => trivy::parse(bytes, limits),
        Format::GrypeJson => grype::parse(bytes, limits),
        Format::OsvScannerJson => osv_scanner::parse(bytes, limits),
        Format::Sarif => sarif::parse(bytes, limits),
        Format::SemgrepJson => semgrep::parse(bytes, limits),
        Format::CheckovJson => checkov::parse(bytes, limits),
        Format::BanditJson => bandit::parse(bytes, limits),
        Format::ZapXml => zap::parse_xml(bytes, limits),
        Format::ZapJson => zap::parse_json(bytes, limits),
        Format::OsvAdvisory => osv::parse(bytes, limits),
        Format::Dsse => intoto::parse_dsse(bytes, limits),
        Format::IntotoStatement => intoto::parse_statement(bytes, limits),
        Format::IntotoJsonl => intoto::parse_jsonl(bytes, limits),
    }
}

/// Placeholder used only while a format's parser is being written on a branch.
#[allow(dead_code)]
pub(crate) fn not_yet(format: Format) -> Result<Evidence, ParseError> {
    Err(ParseError::new(
        crate::ErrorKind::Unsupported,
        Some(format),
        "parser not yet available",
    ))
}
