//! See `portcullis_fuzzing::logs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::logs(data);
});
