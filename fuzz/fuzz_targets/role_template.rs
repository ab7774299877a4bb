#![no_main]

use std::sync::LazyLock;

// One scratch folder per fuzzing process, removed when it exits cleanly.
static SCRATCH: LazyLock<tempfile::TempDir> =
    LazyLock::new(|| tempfile::tempdir().expect("a temporary folder"));

libfuzzer_sys::fuzz_target!(|data: &[u8]| scar_lint::fuzz::role_template(data, SCRATCH.path()));
