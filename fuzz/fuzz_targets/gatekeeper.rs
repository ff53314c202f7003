//! See `portcullis_fuzzing::gatekeeper`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::gatekeeper(data);
});
