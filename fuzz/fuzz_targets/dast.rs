//! See `portcullis_fuzzing::dast`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::dast(data);
});
