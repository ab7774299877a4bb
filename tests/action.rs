//! The scripts the GitHub Action runs: which release and archive a runner
//! gets, the download that refuses an archive whose checksum differs and
//! reports a missing release so the Action can build, and the lint step
//! that reports only what a pull request introduced.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::{git, repo, WORKERS};

fn script(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new("bash");
    command.arg(repo().join("action").join(name)).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("bash runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

#[test]
fn each_runner_gets_its_archive_and_others_a_reason() {
    let cases = [
        (
            "Linux",
            "X64",
            "scar-v0.1.0-x86_64-unknown-linux-musl.tar.gz",
        ),
        (
            "Linux",
            "ARM64",
            "scar-v0.1.0-aarch64-unknown-linux-musl.tar.gz",
        ),
        ("macOS", "X64", "scar-v0.1.0-x86_64-apple-darwin.tar.gz"),
        ("macOS", "ARM64", "scar-v0.1.0-aarch64-apple-darwin.tar.gz"),
        ("Windows", "X64", "scar-v0.1.0-x86_64-pc-windows-msvc.zip"),
    ];
    let release = fs::read_to_string(repo().join(".github/workflows/release.yml")).unwrap();
    for (os, arch, asset) in cases {
        let output = script("asset.sh", &[os, arch, "v0.1.0"], &[]);
        assert!(
            output.status.success(),
            "{os} {arch}: {}",
            text(&output.stderr)
        );
        assert_eq!(text(&output.stdout), asset, "{os} {arch}");
        let target = asset
            .trim_start_matches("scar-v0.1.0-")
            .trim_end_matches(".tar.gz")
            .trim_end_matches(".zip");
        assert!(
            release.contains(&format!("{{target: {target}, os:")),
            "the release workflow builds no {target} binary"
        );
    }
    assert!(release.contains("archive: scar-$tag-$target"));
    for (os, arch) in [("Windows", "ARM64"), ("Linux", "ARM"), ("FreeBSD", "X64")] {
        let output = script("asset.sh", &[os, arch, "v0.1.0"], &[]);
        assert_eq!(output.status.code(), Some(1), "{os} {arch}");
        assert!(
            text(&output.stderr).contains("no prebuilt scar"),
            "{os} {arch}"
        );
    }
}

#[test]
fn the_version_is_the_input_else_the_actions_release_tag_else_none() {
    let cases = [
        ("", "v0.2.0", "v0.2.0"),
        ("", "v1.0.0-rc.1", "v1.0.0-rc.1"),
        ("", "main", ""),
        ("", "8f3c2a1d9e0b4c5a6f7e8d9c0b1a2f3e4d5c6b7a", ""),
        ("", "", ""),
        ("0.3.1", "main", "v0.3.1"),
        ("v0.3.1", "v0.2.0", "v0.3.1"),
    ];
    for (input, action_ref, expected) in cases {
        let output = script("version.sh", &[input, action_ref], &[]);
        assert!(output.status.success(), "{input:?} {action_ref:?}");
        assert_eq!(text(&output.stdout), expected, "{input:?} {action_ref:?}");
    }
    let output = script("version.sh", &["latest", "main"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("not a release"));
}

/// A release folder as the workflow publishes it: the archive with the
/// binary at its root, and `<archive without extension>.sha256`.
/// With `tampered`, the published sum is not the archive's.
fn publish(releases: &Path, version: &str, asset: &str, tampered: bool) {
    let dir = releases.join(version);
    let staging = releases.join("staging");
    fs::create_dir_all(&dir).unwrap();
    fs::create_dir_all(&staging).unwrap();
    fs::write(staging.join("scar"), "#!/bin/sh\necho scar 0.1.0\n").unwrap();
    let status = Command::new("tar")
        .args(["-czf", dir.join(asset).to_str().unwrap(), "-C"])
        .arg(&staging)
        .arg("scar")
        .status()
        .unwrap();
    assert!(status.success());
    let digest = Command::new("sha256sum")
        .arg("-")
        .stdin(fs::File::open(dir.join(asset)).unwrap())
        .output()
        .unwrap();
    let digest = if tampered {
        "0".repeat(64)
    } else {
        text(&digest.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let base = asset.trim_end_matches(".tar.gz");
    fs::write(
        dir.join(format!("{base}.sha256")),
        format!("{digest}  {asset}\n"),
    )
    .unwrap();
}

#[test]
fn install_checks_the_sha256_and_tells_a_missing_release_apart() {
    let work = tempfile::tempdir().unwrap();
    let releases = work.path().join("releases");
    let asset = "scar-v0.1.0-x86_64-unknown-linux-musl.tar.gz";
    publish(&releases, "v0.1.0", asset, false);
    publish(
        &releases,
        "v0.0.9",
        asset.replace("0.1.0", "0.0.9").as_str(),
        true,
    );
    let base = format!("file://{}", releases.display());
    let env = [("SCAR_RELEASES", base.as_str())];

    let bin = work.path().join("bin");
    let output = script(
        "install.sh",
        &["v0.1.0", asset, bin.to_str().unwrap()],
        &env,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let installed = Command::new(bin.join("scar")).output().unwrap();
    assert_eq!(text(&installed.stdout), "scar 0.1.0");

    let refused = work.path().join("refused");
    let tampered = asset.replace("0.1.0", "0.0.9");
    let output = script(
        "install.sh",
        &["v0.0.9", &tampered, refused.to_str().unwrap()],
        &env,
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("does not match"),
        "{}",
        text(&output.stderr)
    );
    assert!(
        !refused.join("scar").exists(),
        "nothing installed from a tampered archive"
    );

    let output = script(
        "install.sh",
        &["v9.9.9", asset, refused.to_str().unwrap()],
        &env,
    );
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("no release asset"));
}

#[test]
fn cargo_binstall_fetches_the_archive_the_release_publishes() {
    let manifest = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let field = |key: &str| {
        manifest
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in [package.metadata.binstall]"))
            .trim_matches('"')
            .to_string()
    };
    let url = field("pkg-url")
        .replace("{ repo }", "https://github.com/scar-dev/scar")
        .replace("{ version }", "0.1.0")
        .replace("{ target }", "aarch64-apple-darwin")
        .replace("{ archive-suffix }", ".tar.gz");
    let asset = script("asset.sh", &["macOS", "ARM64", "v0.1.0"], &[]);
    assert_eq!(
        url,
        format!(
            "https://github.com/scar-dev/scar/releases/download/v0.1.0/{}",
            text(&asset.stdout)
        )
    );
    assert_eq!(
        field("bin-dir"),
        "{ bin }{ binary-ext }",
        "the binary sits at the archive's root"
    );
}

/// The Action's lint step on a pull request's shallow checkout: the base
/// commit is fetched, only the finding the pull request added fails the
/// step, and the job summary says how many older ones were left out.
#[test]
fn on_a_pull_request_the_action_reports_only_what_it_introduced() {
    let work = tempfile::tempdir().unwrap();
    let origin = work.path().join("origin");
    fs::create_dir(&origin).unwrap();
    git(&origin, &["init", "-q", "-b", "main"]);
    git(&origin, &["config", "user.email", "ci@example.com"]);
    git(&origin, &["config", "user.name", "ci"]);
    fs::write(origin.join("old.yaml"), WORKERS.replace("workers", "old")).unwrap();
    fs::create_dir(origin.join("examples")).unwrap();
    fs::write(
        origin.join("examples/demo.yaml"),
        WORKERS.replace("workers", "demo"),
    )
    .unwrap();
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "-q", "-m", "base"]);
    let base = git(&origin, &["rev-parse", "HEAD"]).trim().to_string();
    fs::write(origin.join("new.yaml"), WORKERS.replace("workers", "new")).unwrap();
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "-q", "-m", "the pull request"]);

    let checkout = work.path().join("checkout");
    let url = format!("file://{}", origin.display());
    git(
        work.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &url,
            checkout.to_str().unwrap(),
        ],
    );
    let summary = work.path().join("summary.md");
    let run = |only_new: &str| {
        Command::new("bash")
            .arg(repo().join("action/run.sh"))
            .current_dir(&checkout)
            .env("SCAR", env!("CARGO_BIN_EXE_scar"))
            .env("SCAR_FORMAT", "github")
            .env("SCAR_ONLY_NEW", only_new)
            .env("SCAR_FETCH_DEPENDENCIES", "false")
            .env("SCAR_BASE_SHA", &base)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .expect("bash runs")
    };
    let output = run("true");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let annotations = text(&output.stdout);
    assert!(
        annotations.contains("file=new.yaml,line=5"),
        "{annotations}"
    );
    assert!(!annotations.contains("old.yaml"), "{annotations}");
    assert!(!annotations.contains("examples/"), "{annotations}");
    let written = fs::read_to_string(&summary).unwrap();
    assert!(
        written.contains(&format!("new since {}", &base[..12])),
        "{written}"
    );
    assert!(
        written.contains("findings not shown: 1 older than this change"),
        "{written}"
    );
    assert!(
        written.contains("skipped 1 folder by default: examples/"),
        "{written}"
    );

    fs::remove_file(&summary).unwrap();
    let everything = run("false");
    assert_eq!(everything.status.code(), Some(1));
    let annotations = text(&everything.stdout);
    assert!(
        annotations.contains("file=old.yaml,line=5"),
        "{annotations}"
    );
    assert!(
        annotations.contains("file=new.yaml,line=5"),
        "{annotations}"
    );
}
