#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oculus_collector::fuzzing::transcode_logs(data));
