//! See `portcullis_fuzzing::exceptions`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::exceptions(data);
});
