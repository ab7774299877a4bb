//! Precision on real configuration: scar's findings on `../shared/corpus`
//! (unmodified public configuration from unrelated projects, beside the
//! project for developers and CI) are exactly the reviewed list in
//! `testdata/corpus-expected.txt`. A new finding fails until someone judges
//! it true and lists it with the reason; a listed one that disappears fails
//! too, so the list stays the truth. Findings under folders a walk skips by
//! default are listed apart and checked both ways: absent from a plain run,
//! found when the defaults are off.

use std::collections::BTreeSet;
use std::path::Path;

use scar_lint::{lint, FolderExcludes, Input, Options, Registry};

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
    let listed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/corpus-expected.txt"),
    )
    .expect("testdata/corpus-expected.txt");
    let (mut by_default, mut skipped_by_default) = (BTreeSet::new(), BTreeSet::new());
    for line in listed.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (finding, reason) = line
            .split_once(" -- ")
            .unwrap_or_else(|| panic!("`{line}` has no ` -- reason`"));
        assert!(!reason.trim().is_empty(), "`{line}`: give the reason");
        match finding.strip_prefix("skipped-by-default: ") {
            Some(finding) => skipped_by_default.insert(finding.trim().to_string()),
            None => by_default.insert(finding.trim().to_string()),
        };
    }
    let every_folder = Options {
        folder_excludes: FolderExcludes::new(false, &[]),
        ..Options::default()
    };
    let all: BTreeSet<String> = by_default.union(&skipped_by_default).cloned().collect();
    for (options, expected, run) in [
        (Options::default(), by_default, "a plain run"),
        (every_folder, all, "a run with --no-default-excludes"),
    ] {
        let found = findings(&corpus, &options);
        let new: Vec<&String> = found.difference(&expected).collect();
        let gone: Vec<&String> = expected.difference(&found).collect();
        assert!(
            new.is_empty() && gone.is_empty(),
            "{run}: review these against testdata/corpus-expected.txt\n  new findings: {new:#?}\n  listed but gone: {gone:#?}"
        );
    }
}

/// `rule path:line` of each finding on the corpus, paths relative to it.
fn findings(corpus: &Path, options: &Options) -> BTreeSet<String> {
    let report = lint(
        &[Input::Path(corpus.to_path_buf())],
        options,
        &Registry::builtin(),
    )
    .expect("the corpus exists");
    let prefix = format!("{}/", corpus.display());
    report
        .findings
        .iter()
        .map(|f| {
            let path = f.path.strip_prefix(&prefix).unwrap_or(&f.path);
            format!("{} {path}:{}", f.rule, f.span.line)
        })
        .collect()
}
