//! Attestations: DSSE envelopes, Sigstore bundles, in-toto Statements, in-toto JSON lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_evidence::{Format, Limits, parse, parse_as};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    for format in [
        Format::Dsse,
        Format::SigstoreBundle,
        Format::IntotoStatement,
        Format::IntotoJsonl,
    ] {
        let _ = parse_as(format, data, &limits);
    }
    let _ = parse(data, &limits);
});
