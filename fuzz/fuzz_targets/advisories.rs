//! See `portcullis_fuzzing::advisories`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::advisories(data);
});
