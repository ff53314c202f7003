//! See `portcullis_fuzzing::code`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::code(data);
});
