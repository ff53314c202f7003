//! See `portcullis_fuzzing::metrics`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::metrics(data);
});
