//! OSV advisories.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_evidence::{Format, Limits, parse, parse_as};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    for format in [Format::OsvAdvisory] {
        let _ = parse_as(format, data, &limits);
    }
    let _ = parse(data, &limits);
});
