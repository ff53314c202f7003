//! See `portcullis_fuzzing::detect`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::detect(data);
});
