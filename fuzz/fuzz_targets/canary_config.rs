//! See `portcullis_fuzzing::canary_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::canary_config(data);
});
