#![no_main]
//! See fuzz_checks::stream for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::stream::check(data));
