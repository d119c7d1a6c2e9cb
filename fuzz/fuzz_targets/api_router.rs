#![no_main]
//! See fuzz_checks::api for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::api::check(data));
