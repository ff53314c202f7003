//! See `portcullis_fuzzing::trusted_keys`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::trusted_keys(data);
});
