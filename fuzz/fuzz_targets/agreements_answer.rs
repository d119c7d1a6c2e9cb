#![no_main]
//! See fuzz_checks::agreements for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::agreements::check(data));
