//! `--new-from-rev REV`: only the findings a change introduced. REV's tree
//! is written from git into a temporary folder (a temporary index and
//! `git checkout-index`: the repository, its index and its working tree are
//! not touched), linted as the current tree is, and the current findings
//! whose fingerprint (the baseline's: rule, file, resource, offending text)
//! REV already had are left out (`Baseline::of` REV's findings). A finding whose cause lies in another file
//! (a webhook's backend lowered to one replica) did not exist at REV, so it
//! is new.

use std::path::{Path, PathBuf};
use std::process::Command;

/// REV's tree in a folder of its own, removed when this is dropped.
pub struct RevisionTree {
    _folder: tempfile::TempDir,
    /// The folder of REV's tree that stands where the current folder
    /// stands in the working tree.
    pub cwd: PathBuf,
}

/// Writes the tree of `rev`, of the git repository holding `cwd`, into a
/// temporary folder.
pub fn check_out(rev: &str, cwd: &Path) -> Result<RevisionTree, String> {
    let commit = git(
        cwd,
        &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
    )
    .map_err(|e| format!("--new-from-rev {rev}: not a commit of this repository ({e})"))?;
    let prefix = git(cwd, &["rev-parse", "--show-prefix"])?;
    let folder = tempfile::Builder::new()
        .prefix("scar-rev-")
        .tempdir()
        .map_err(|e| format!("cannot make a folder for {rev}'s tree: {e}"))?;
    let tree = folder.path().join("tree");
    let index = folder.path().join("index");
    let with_index = |args: &[&str]| -> Result<String, String> {
        run_git(
            Command::new("git")
                .args(args)
                .current_dir(cwd)
                .env("GIT_INDEX_FILE", &index),
        )
    };
    with_index(&["read-tree", &commit])?;
    let mut into = tree.as_os_str().to_owned();
    into.push("/");
    with_index(&[
        "checkout-index",
        "--all",
        "--prefix",
        into.to_str()
            .ok_or_else(|| format!("the temporary folder {} is not UTF-8", tree.display()))?,
    ])?;
    let cwd = tree.join(prefix);
    std::fs::create_dir_all(&cwd)
        .map_err(|e| format!("cannot make {} in {rev}'s tree: {e}", cwd.display()))?;
    Ok(RevisionTree {
        _folder: folder,
        cwd,
    })
}

fn git(cwd: &Path, args: &[&str]) -> Result<String, String> {
    run_git(Command::new("git").args(args).current_dir(cwd))
}

fn run_git(command: &mut Command) -> Result<String, String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run git (is it installed?): {e}"))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(if said.is_empty() {
            format!("git exited with {}", output.status)
        } else {
            said
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}
