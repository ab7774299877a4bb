//! Replays the fuzz targets' committed seeds (`fuzz/corpus/*/seed-*`) and
//! every input a fuzz run found to crash (`fuzz/regressions/*/*`) through
//! the entry points the targets call, so that a fixed crash stays fixed on
//! stable `cargo test`, without libFuzzer.

use std::fs;
use std::path::{Path, PathBuf};

use scar_lint::fuzz;

const TARGETS: &[&str] = &[
    "yaml_resources",
    "compose_services",
    "systemd_unit",
    "shell_commands",
    "suppressions",
    "config_file",
    "lint_one_file",
    "policy_file",
    "role_template",
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn run(target: &str, data: &[u8], scratch: &Path) {
    match target {
        "yaml_resources" => fuzz::yaml_resources(data),
        "compose_services" => fuzz::compose_services(data),
        "systemd_unit" => fuzz::systemd_unit(data),
        "shell_commands" => fuzz::shell_commands(data),
        "suppressions" => fuzz::suppressions(data),
        "config_file" => fuzz::config_file(data, scratch),
        "lint_one_file" => fuzz::lint_one_file(data, scratch),
        "policy_file" => fuzz::policy_file(data, scratch),
        "role_template" => fuzz::role_template(data, scratch),
        other => panic!("no fuzz target named {other}"),
    }
}

/// The inputs of `folder`, sorted; none when it does not exist.
fn inputs(folder: &Path, only_seeds: bool) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable fuzz folder").path())
        .filter(|path| {
            !only_seeds
                || path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("seed-"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_has_a_cargo_fuzz_binary_and_seeds() {
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for target in TARGETS {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{target}.rs\"")),
            "{target} is not a [[bin]] of fuzz/Cargo.toml"
        );
        let seeds = inputs(&fuzz_dir().join("corpus").join(target), true);
        assert!(!seeds.is_empty(), "{target} has no committed seeds");
    }
    let folders = fs::read_dir(fuzz_dir().join("fuzz_targets")).unwrap();
    for entry in folders {
        let name = entry.unwrap().file_name();
        let name = name.to_string_lossy();
        let target = name.trim_end_matches(".rs");
        assert!(TARGETS.contains(&target), "{target} is not replayed here");
    }
}

#[test]
fn seeds_and_regressions_replay_without_a_crash() {
    let scratch = tempfile::tempdir().unwrap();
    let mut replayed = 0;
    for target in TARGETS {
        let seeds = inputs(&fuzz_dir().join("corpus").join(target), true);
        let regressions = inputs(&fuzz_dir().join("regressions").join(target), false);
        for input in seeds.iter().chain(&regressions) {
            let data = fs::read(input).unwrap();
            let outcome = std::panic::catch_unwind(|| run(target, &data, scratch.path()));
            assert!(outcome.is_ok(), "{target} crashed on {}", input.display());
            replayed += 1;
        }
    }
    assert!(replayed > 200, "only {replayed} inputs replayed");
}
