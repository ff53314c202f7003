//! See `portcullis_fuzzing::attestations`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::attestations(data);
});
