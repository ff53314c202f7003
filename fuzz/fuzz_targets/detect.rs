//! Format detection, the whole `parse` path, and the JSON reader under tight limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_evidence::{Format, Limits, detect, json, parse};

fuzz_target!(|data: &[u8]| {
    let _ = detect(data);
    let _ = parse(data, &Limits::default());
    // json.rs: depth and size limits small enough for the fuzzer to cross them.
    let tight = Limits {
        max_bytes: 4096,
        max_depth: 8,
    };
    let _ = json::from_slice_located::<serde_json::Value>(data, Format::Dsse, &tight);
    let _ = json::check_depth(data, Format::Dsse, 8);
});
