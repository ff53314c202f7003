//! See `portcullis_fuzzing::probe_expect`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::probe_expect(data);
});
