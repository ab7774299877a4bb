//! Precision on real configuration: scar's findings on `../shared/corpus`
//! (unmodified public configuration from unrelated projects, beside the
//! project for developers and CI) are exactly the reviewed list in
//! `testdata/corpus-expected.txt`. A new finding fails until someone judges
//! it true and lists it with the reason; a listed one that disappears fails
//! too, so the list stays the truth.

use std::collections::BTreeSet;
use std::path::Path;

use scar_lint::{lint, Input, Options, Registry};

#[test]
fn findings_on_the_corpus_are_the_reviewed_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = root.join("shared/corpus");
    assert!(
        corpus.is_dir(),
        "the corpus is expected at {} (beside the project, for developers and CI)",
        corpus.display()
    );
    let corpus = corpus.canonicalize().expect("the corpus folder resolves");
    let report = lint(
        &[Input::Path(corpus.clone())],
        &Options::default(),
        &Registry::builtin(),
    )
    .expect("the corpus exists");
    let prefix = format!("{}/", corpus.display());
    let found: BTreeSet<String> = report
        .findings
        .iter()
        .map(|f| {
            let path = f.path.strip_prefix(&prefix).unwrap_or(&f.path);
            format!("{} {path}:{}", f.rule, f.span.line)
        })
        .collect();
    let listed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/corpus-expected.txt"),
    )
    .expect("testdata/corpus-expected.txt");
    let mut expected = BTreeSet::new();
    for line in listed.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (finding, reason) = line
            .split_once(" -- ")
            .unwrap_or_else(|| panic!("`{line}` has no ` -- reason`"));
        assert!(!reason.trim().is_empty(), "`{line}`: give the reason");
        expected.insert(finding.trim().to_string());
    }
    let new: Vec<&String> = found.difference(&expected).collect();
    let gone: Vec<&String> = expected.difference(&found).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "review these against testdata/corpus-expected.txt\n  new findings: {new:#?}\n  listed but gone: {gone:#?}"
    );
}
