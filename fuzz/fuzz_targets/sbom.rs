//! See `portcullis_fuzzing::sbom`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::sbom(data);
});
