//! See `portcullis_fuzzing::api_bodies`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::api_bodies(data);
});
