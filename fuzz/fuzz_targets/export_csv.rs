#![no_main]
//! See fuzz_checks::export_csv for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::export_csv::check(data));
