//! See `portcullis_fuzzing::probe_wire`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::probe_wire(data);
});
