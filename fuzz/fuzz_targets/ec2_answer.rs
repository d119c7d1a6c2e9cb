#![no_main]
//! See fuzz_checks::ec2 for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::ec2::check(data));
