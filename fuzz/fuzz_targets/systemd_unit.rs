#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| scar_lint::fuzz::systemd_unit(data));
