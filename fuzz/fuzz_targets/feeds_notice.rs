#![no_main]
//! See fuzz_checks::feeds_notice for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::feeds_notice::check(data));
