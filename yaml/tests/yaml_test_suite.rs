//! The parser against the official YAML test suite (the data release of
//! yaml/yaml-test-suite, kept beside the project in `../shared`): every
//! case the suite says parses must parse, every case it marks as an error
//! must be an error, except the few listed in `KUBERNETES_READS`.

use std::path::{Path, PathBuf};

use scar_yaml::parse_documents;

/// Error cases of the suite that scar parses, because the tools that read
/// Kubernetes manifests (Go's yaml under kubectl and helm, and PyYAML)
/// parse them, and real manifests rely on it. A case listed here that
/// scar starts to reject fails the test, so the list stays true.
const KUBERNETES_READS: &[(&str, &str)] = &[
    (
        "9C9N",
        "a flow sequence whose lines sit at its key's indentation: istio's spire quickstart closes `args: [` that way",
    ),
    (
        "DK95/01",
        "a tab before a plain scalar's continuation line: Go's yaml and PyYAML read it as separation",
    ),
    (
        "QB6E",
        "a multi-line quoted scalar continued below its key's indentation: Go's yaml and PyYAML read it",
    ),
];

fn suite() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/yaml-test-suite");
    assert!(
        path.is_dir(),
        "the YAML test suite's data is expected at {} (beside the project, for developers and CI)",
        path.display()
    );
    path
}

/// Every case folder (`229Q`, and variants such as `DK95/01`) with an
/// `in.yaml`, each once, by its ID. The suite's data also holds `name/` and
/// `tags/`, whose entries are links back to the case folders (or, in a copy
/// that drops links, small files): neither is a case.
fn cases(root: &Path) -> Vec<PathBuf> {
    let real_folders = |folder: &Path| -> Vec<PathBuf> {
        let mut folders: Vec<PathBuf> = std::fs::read_dir(folder)
            .expect("a readable suite folder")
            .map(|entry| entry.expect("a readable entry"))
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
            .map(|entry| entry.path())
            .collect();
        folders.sort();
        folders
    };
    let mut found = Vec::new();
    for case in real_folders(root) {
        if !is_case_id(&case) {
            continue;
        }
        if case.join("in.yaml").is_file() {
            found.push(case.clone());
        }
        found.extend(
            real_folders(&case)
                .into_iter()
                .filter(|variant| variant.join("in.yaml").is_file()),
        );
    }
    found
}

/// The suite names each case with four letters and digits (`229Q`, `DK95`).
fn is_case_id(folder: &Path) -> bool {
    folder
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| {
            name.len() == 4
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

#[test]
fn cases_are_read_once_by_id_whatever_the_alias_folders_hold() {
    let suite = tempfile::tempdir().unwrap();
    let root = suite.path();
    for case in ["229Q", "DK95/01", "DK95/02"] {
        std::fs::create_dir_all(root.join(case)).unwrap();
        std::fs::write(root.join(case).join("in.yaml"), "a: 1\n").unwrap();
    }
    // As in the suite's data branch: alias folders of links to the cases.
    for alias in ["name", "tags/1.3-err"] {
        std::fs::create_dir_all(root.join(alias)).unwrap();
    }
    std::os::unix::fs::symlink("../229Q", root.join("name/spec-example")).unwrap();
    std::os::unix::fs::symlink("../../DK95", root.join("tags/1.3-err/DK95")).unwrap();
    let listed: Vec<String> = cases(root)
        .iter()
        .map(|case| case.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert_eq!(listed, ["229Q", "DK95/01", "DK95/02"]);
}

#[test]
fn every_case_parses_or_fails_as_the_suite_says() {
    let root = suite();
    let cases = cases(&root);
    assert!(cases.len() > 350, "only {} cases found", cases.len());
    let mut wrong = Vec::new();
    let mut read_as_kubernetes_does = Vec::new();
    for case in &cases {
        let id = case
            .strip_prefix(&root)
            .expect("below the suite")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(case.join("in.yaml")).expect("UTF-8 input");
        let must_fail = case.join("error").exists();
        let result = parse_documents(&text);
        let listed = KUBERNETES_READS.iter().any(|(listed, _)| *listed == id);
        match (must_fail, result.is_err(), listed) {
            (true, false, true) => read_as_kubernetes_does.push(id),
            (true, true, true) => {
                wrong.push(format!("{id}: listed as parsed, but is an error now"))
            }
            (true, false, false) => {
                wrong.push(format!("{id}: the suite says error, scar parses it"))
            }
            (false, true, _) => wrong.push(format!(
                "{id}: the suite says it parses, scar says {}",
                result.err().map(|e| e.message).unwrap_or_default()
            )),
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        read_as_kubernetes_does.len(),
        KUBERNETES_READS.len(),
        "every listed case is in the suite"
    );
}

#[test]
fn a_flow_sequence_closed_at_its_keys_indentation_parses_as_kubectl_reads_it() {
    let text = "spec:\n  containers:\n    - name: spiffe-csi-driver\n      args: [\n          \"-node-id\", \"CSI_NODE\",\n      ]\n      image: ghcr.io/spiffe/spiffe-csi-driver:0.1.0\n";
    let docs = parse_documents(text).expect("kubectl applies this");
    let container = &docs[0].at(&["spec", "containers"]).unwrap().items()[0];
    let args: Vec<&str> = container
        .get("args")
        .unwrap()
        .items()
        .iter()
        .filter_map(|a| a.str())
        .collect();
    assert_eq!(args, ["-node-id", "CSI_NODE"]);
    assert_eq!(container.get("image").unwrap().span.line, 7);
}

#[test]
fn deep_documents_parse_and_hostile_nesting_is_refused() {
    let mut deep = String::from("a:");
    for level in 0..5_000 {
        deep.push('\n');
        deep.push_str(&"  ".repeat(level + 1));
        deep.push_str(&format!("k{level}:"));
    }
    deep.push_str(" x\n");
    assert_eq!(parse_documents(&deep).expect("5,000 levels parse").len(), 1);
    let brackets = "[".repeat(100_000);
    let err = parse_documents(&brackets).expect_err("100,000 open brackets are refused");
    assert!(err.message.contains("limit"), "{err:?}");
}
