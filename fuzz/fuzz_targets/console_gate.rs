#![no_main]
//! See fuzz_checks::gate for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::gate::check(data));
