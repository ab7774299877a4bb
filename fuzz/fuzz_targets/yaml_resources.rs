#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| scar_lint::fuzz::yaml_resources(data));
