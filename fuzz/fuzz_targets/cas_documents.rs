#![no_main]
//! See fuzz_checks::cas for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::cas::check(data));
