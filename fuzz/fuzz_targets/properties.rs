#![no_main]
//! cargo +nightly fuzz run properties -- -dict=fuzz/json.dict   (see docs/fuzzing.md)

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::properties(data));
