#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| keyorch_fuzz::frame(data));
