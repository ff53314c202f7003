//! See `portcullis_fuzzing::scanners`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::scanners(data);
});
