#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oculus_store::fuzzing::segment_tail(data));
