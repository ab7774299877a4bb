//! Registers every rule in `src/check/rules/` and embeds every policy in
//! `../policies/`, so adding a rule touches its rule file, its policy file
//! and its fixtures, and no list.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let rules_dir = manifest.join("src/check/rules");
    let policies_dir = manifest.join("../policies");
    println!("cargo:rerun-if-changed={}", rules_dir.display());
    println!("cargo:rerun-if-changed={}", policies_dir.display());

    let rules = files_with_extension(&rules_dir, "rs")
        .into_iter()
        .filter(|p| p.file_stem().is_some_and(|s| s != "mod"))
        .collect::<Vec<_>>();
    let policies = files_with_extension(&policies_dir, "yaml");

    let mut out = String::new();
    for rule in &rules {
        let module = stem(rule);
        writeln!(
            out,
            "#[path = {:?}]\nmod {module};",
            rule.display().to_string()
        )
        .unwrap();
    }
    out.push_str("pub(crate) static RULES: &[&dyn Rule] = &[\n");
    for rule in &rules {
        writeln!(out, "    {}::RULE,", stem(rule)).unwrap();
    }
    out.push_str("];\n\npub(crate) static POLICIES: &[(&str, &str)] = &[\n");
    for policy in &policies {
        writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            stem(policy),
            policy.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");

    let target =
        PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("registry.rs");
    fs::write(target, out).expect("OUT_DIR is writable");
}

fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .map(|p| p.canonicalize().unwrap_or(p))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .expect("rule and policy file names are UTF-8")
        .to_string()
}
