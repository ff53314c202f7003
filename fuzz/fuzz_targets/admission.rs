//! See `portcullis_fuzzing::admission`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::admission(data);
});
