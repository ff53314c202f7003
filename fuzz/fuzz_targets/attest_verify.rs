//! See `portcullis_fuzzing::attest_verify`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = portcullis_fuzzing::attest_verify(data);
});
