//! See `portcullis_fuzzing::firewall_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis_fuzzing::firewall_config(data);
});
