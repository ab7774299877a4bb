//! Hostile input: every case finishes within its time bound and a memory
//! bound, never panics, and says what it made of the file (a finding, or a
//! skipped entry with its reason).

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::{findings, repo, rules_paths_and_lines};

/// What a bounded run of scar left: its exit, its output and its peak RSS.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    peak_rss_mb: u64,
}

impl Run {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }

    /// `(rule, path, line)` of each finding.
    fn findings(&self) -> Vec<(String, String, u64)> {
        rules_paths_and_lines(&self.json())
    }

    fn skipped(&self) -> Vec<(String, String)> {
        self.json()["summary"]["skipped"]
            .as_array()
            .expect("skipped")
            .iter()
            .map(|s| {
                (
                    s["path"].as_str().unwrap().to_string(),
                    s["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// Runs `scar lint --format json ARGS` in `dir`, killing it and failing
/// the test when it runs longer than `seconds`, or when it panics or
/// peaks above `max_rss_mb`.
fn lint_bounded(dir: &Path, args: &[&str], stdin: Stdio, seconds: u64, max_rss_mb: u64) -> Run {
    lint_bounded_as(dir, args, stdin, seconds, max_rss_mb, None)
}

// wait4 reaps the child and reports its peak memory, which `Child::wait`
// cannot; the child is waited for, by pid, on the waiting thread.
#[allow(clippy::zombie_processes)]
fn lint_bounded_as(
    dir: &Path,
    args: &[&str],
    stdin: Stdio,
    seconds: u64,
    max_rss_mb: u64,
    user: Option<u32>,
) -> Run {
    // Another user may not reach the checkout (a clone in a 0700 folder, as
    // `mktemp -d` makes): that user runs a copy from a folder of its own.
    let copy_folder = user.map(|_| tempfile::tempdir().expect("a folder for scar's copy"));
    let program = match &copy_folder {
        Some(folder) => {
            let copy = folder.path().join("scar");
            std::fs::copy(env!("CARGO_BIN_EXE_scar"), &copy).expect("copy scar");
            std::fs::set_permissions(folder.path(), std::fs::Permissions::from_mode(0o755))
                .expect("open the copy's folder");
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))
                .expect("make the copy runnable");
            copy
        }
        None => env!("CARGO_BIN_EXE_scar").into(),
    };
    let mut command = Command::new(program);
    command
        .args(["lint", "--format", "json"])
        .args(args)
        .current_dir(dir)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(id) = user {
        command.uid(id).gid(id);
    }
    let mut child = spawn_fresh_copy(&mut command);
    let pid = child.id() as libc::pid_t;
    let collect = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = collect(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = collect(Box::new(child.stderr.take().expect("piped stderr")));
    let (sender, exited) = mpsc::channel();
    thread::spawn(move || {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is this test's own child, reaped here only.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(reaped, pid, "wait4 reaps scar");
        let _ = sender.send((status, usage.ru_maxrss as u64 / 1024));
    });
    let Ok((status, peak_rss_mb)) = exited.recv_timeout(Duration::from_secs(seconds)) else {
        // SAFETY: signalling our own child, which has not been reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("scar lint {args:?} ran longer than {seconds} s");
    };
    let run = Run {
        status: ExitStatus::from_raw(status),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        peak_rss_mb,
    };
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "scar lint {args:?} exited with {:?}: {}",
        run.status,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        run.peak_rss_mb <= max_rss_mb,
        "scar lint {args:?} peaked at {} MB (bound {max_rss_mb} MB)",
        run.peak_rss_mb
    );
    run
}

/// Spawns `command`, whose program may have just been written: a process
/// forked meanwhile by another test's thread can hold the copy open for
/// writing for a moment, which makes exec fail with "text file busy".
fn spawn_fresh_copy(command: &mut Command) -> std::process::Child {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                tries += 1;
                thread::sleep(Duration::from_millis(20));
            }
            started => return started.expect("scar starts"),
        }
    }
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) {
    std::fs::write(dir.join(name), text).expect("write a hostile file");
}

fn rule_lines(run: &Run, rule: &str) -> Vec<(String, u64)> {
    run.findings()
        .into_iter()
        .filter(|(r, _, _)| r == rule)
        .map(|(_, path, line)| (path, line))
        .collect()
}

#[test]
fn alias_bombs_are_refused_quickly_at_the_alias_that_explodes() {
    let dir = tempfile::tempdir().unwrap();
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..30 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    write(dir.path(), "bomb.yaml", &bomb);
    let run = lint_bounded(dir.path(), &["bomb.yaml"], Stdio::null(), 30, 400);
    let parse_errors = rule_lines(&run, "parse-error");
    assert_eq!(parse_errors.len(), 1, "{:?}", run.findings());
    assert_eq!(parse_errors[0].0, "bomb.yaml");
    assert!(parse_errors[0].1 < 10, "{parse_errors:?}");
    let message = run.json()["findings"][0]["message"].clone();
    assert!(message.as_str().unwrap().contains("aliases"), "{message}");
}

#[test]
fn ten_thousand_levels_of_nesting_are_refused_or_parsed_without_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let depth = 10_000;
    write(
        dir.path(),
        "flow-sequences.yaml",
        format!("a: {}{}\n", "[".repeat(depth), "]".repeat(depth)),
    );
    write(
        dir.path(),
        "flow-maps.yaml",
        format!("a: {}1{}\n", "{b: ".repeat(depth), "}".repeat(depth)),
    );
    write(
        dir.path(),
        "block-sequences.yaml",
        format!("{}x\n", "- ".repeat(depth)),
    );
    // Each level indents one more space: 5,000 levels is 12.5 MB.
    let block_maps: String = (0..5_000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    write(dir.path(), "block-maps.yaml", block_maps);
    let run = lint_bounded(dir.path(), &["."], Stdio::null(), 60, 400);
    let mut refused: Vec<String> = rule_lines(&run, "parse-error")
        .into_iter()
        .map(|(path, line)| {
            assert_eq!(line, 1);
            path
        })
        .collect();
    refused.sort();
    assert_eq!(refused, ["flow-maps.yaml", "flow-sequences.yaml"]);
    assert_eq!(run.json()["summary"]["files"], 4);
    let parse_error = &run.json()["findings"][0];
    assert!(
        parse_error["message"]
            .as_str()
            .unwrap()
            .contains("recursion limit"),
        "{parse_error}"
    );
}

#[test]
fn a_one_line_file_is_quoted_in_at_most_two_hundred_characters() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "one-line.yaml",
        format!("a: [{}\n", "x, ".repeat(70_000)),
    );
    let run = lint_bounded(dir.path(), &["one-line.yaml"], Stdio::null(), 30, 400);
    assert_eq!(
        rule_lines(&run, "parse-error"),
        [("one-line.yaml".into(), 1)]
    );

    let human = Command::new(env!("CARGO_BIN_EXE_scar"))
        .args(["lint", "one-line.yaml"])
        .current_dir(dir.path())
        .output()
        .expect("scar runs");
    let text = String::from_utf8(human.stdout).expect("UTF-8 output");
    let quoted = text
        .lines()
        .find(|l| l.starts_with("1 | "))
        .unwrap_or_else(|| panic!("a quoted line: {text}"));
    assert!(quoted.chars().count() <= 204, "{} characters", quoted.len());
    let carets = text.lines().find(|l| l.contains('^')).expect("carets");
    assert!(carets.chars().count() <= 204, "{carets}");

    let sarif = Command::new(env!("CARGO_BIN_EXE_scar"))
        .args(["lint", "--format", "sarif", "one-line.yaml"])
        .current_dir(dir.path())
        .output()
        .expect("scar runs");
    let doc: serde_json::Value = serde_json::from_slice(&sarif.stdout).expect("SARIF is JSON");
    let snippet = &doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
        ["snippet"]["text"];
    assert!(
        snippet.as_str().unwrap().chars().count() <= 200,
        "{snippet}"
    );
}

#[test]
fn files_over_the_size_limit_are_skipped_when_walked_and_findings_when_named() {
    let dir = tempfile::tempdir().unwrap();
    let size = 100_000_000;
    let mut file = std::fs::File::create(dir.path().join("bundle.yaml")).unwrap();
    file.write_all(b"a: ").unwrap();
    let chunk = vec![b'x'; 1_000_000];
    for _ in 0..size / chunk.len() {
        file.write_all(&chunk).unwrap();
    }
    file.write_all(b"\n").unwrap();
    drop(file);

    let named = lint_bounded(dir.path(), &["bundle.yaml"], Stdio::null(), 30, 100);
    assert_eq!(named.status.code(), Some(1), "a warning fails the run");
    assert_eq!(
        rule_lines(&named, "not-checked"),
        [("bundle.yaml".into(), 1)]
    );
    let walked = lint_bounded(dir.path(), &["."], Stdio::null(), 30, 100);
    assert_eq!(walked.status.code(), Some(0));
    assert!(walked.findings().is_empty(), "{:?}", walked.findings());
    assert_eq!(
        walked.skipped(),
        [(
            "bundle.yaml".into(),
            "larger than 50 MB (--max-file-size)".into()
        )]
    );

    // Raised, the limit lets the file be read: one copy of it, and what
    // parsing needs besides.
    let raised = lint_bounded(
        dir.path(),
        &["--max-file-size", "200", "bundle.yaml"],
        Stdio::null(),
        120,
        400,
    );
    assert_eq!(raised.status.code(), Some(0), "{:?}", raised.findings());
    assert_eq!(raised.json()["summary"]["files"], 1);
}

#[test]
fn a_million_documents_in_one_file_are_checked_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = "---\n{}\n".repeat(1_000_000);
    text.push_str("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: last}\n");
    write(dir.path(), "documents.yaml", text);
    let run = lint_bounded(dir.path(), &["documents.yaml"], Stdio::null(), 120, 300);
    assert_eq!(run.status.code(), Some(0), "{:?}", run.findings());
    assert_eq!(run.json()["summary"]["resources"], 1);
}

#[test]
fn invalid_utf8_in_the_middle_of_a_named_file_is_a_finding_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cities\ndata:\n".to_vec();
    bytes.extend_from_slice(b"  city: M\xfcnchen\n  other: ok\n");
    write(dir.path(), "cities.yaml", &bytes);
    let named = lint_bounded(dir.path(), &["cities.yaml"], Stdio::null(), 30, 100);
    assert_eq!(
        rule_lines(&named, "not-checked"),
        [("cities.yaml".into(), 6)]
    );
    let message = named.json()["findings"][0]["message"].clone();
    assert!(message.as_str().unwrap().contains("not UTF-8"), "{message}");

    let walked = lint_bounded(dir.path(), &["."], Stdio::null(), 30, 100);
    assert_eq!(
        walked.skipped(),
        [("cities.yaml".into(), "not UTF-8 (line 6)".into())]
    );
    assert_eq!(walked.status.code(), Some(0));
}

#[test]
fn links_that_lead_nowhere_fifos_and_unreadable_files_are_named_as_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::os::unix::fs::symlink("loop-b.yaml", root.join("loop-a.yaml")).unwrap();
    std::os::unix::fs::symlink("loop-a.yaml", root.join("loop-b.yaml")).unwrap();
    std::os::unix::fs::symlink("gone.yaml", root.join("dangling.yaml")).unwrap();
    let fifo = std::ffi::CString::new(root.join("fifo.yaml").into_os_string().into_encoded_bytes())
        .unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    write(root, "secret.yaml", "kind: ConfigMap\n");
    std::fs::set_permissions(
        root.join("secret.yaml"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    write(
        root,
        "good.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    );
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Root reads any file: run scar as nobody, as a developer would be.
    // SAFETY: geteuid has no preconditions.
    let user = (unsafe { libc::geteuid() } == 0).then_some(65534);
    let named = [
        "loop-a.yaml",
        "dangling.yaml",
        "fifo.yaml",
        "secret.yaml",
        "good.yaml",
    ];
    let run = lint_bounded_as(root, &named, Stdio::null(), 30, 100, user);
    assert_eq!(run.status.code(), Some(1));
    let mut reasons: Vec<(String, String)> = findings(&run.json())
        .iter()
        .map(|f| {
            assert_eq!(f["rule"], "not-checked");
            (
                f["path"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    reasons.sort();
    let expect = [
        ("dangling.yaml", "No such file or directory"),
        ("fifo.yaml", "not a regular file"),
        ("loop-a.yaml", "Too many levels of symbolic links"),
        ("secret.yaml", "Permission denied"),
    ];
    assert_eq!(reasons.len(), expect.len(), "{reasons:?}");
    for ((path, message), (want_path, want)) in reasons.iter().zip(expect) {
        assert_eq!(path, want_path);
        assert!(message.contains(want), "{path}: {message}");
    }
    assert_eq!(run.json()["summary"]["files"], 1, "good.yaml is checked");
}

#[test]
fn a_file_growing_while_it_is_read_ends_checked_or_named_as_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growing.yaml");
    let document = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n".repeat(1_000);
    write(dir.path(), "growing.yaml", &document);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            // At most 64 MB in all, about 50 MB a second.
            for _ in 0..1_000 {
                if stop.load(Ordering::Relaxed) || file.write_all(document.as_bytes()).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let run = lint_bounded(
        dir.path(),
        &["--max-file-size", "2", "growing.yaml"],
        Stdio::null(),
        60,
        200,
    );
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    // Read whole (every document a ConfigMap), cut mid-document (a parse
    // error), or past the limit: never silence and never a hang.
    for (rule, path, _) in run.findings() {
        assert_eq!(path, "growing.yaml");
        assert!(
            matches!(rule.as_str(), "not-checked" | "parse-error"),
            "{rule}"
        );
    }
    let summary = &run.json()["summary"];
    let checked = summary["files"] == 1;
    let not_checked = !rule_lines(&run, "not-checked").is_empty();
    assert!(checked != not_checked, "{summary}");
}

#[test]
fn endless_standard_input_is_read_up_to_the_limit() {
    let zero = std::fs::File::open("/dev/zero").expect("/dev/zero");
    let run = lint_bounded(
        repo(),
        &["--max-file-size", "1", "-"],
        Stdio::from(zero),
        30,
        100,
    );
    assert_eq!(rule_lines(&run, "not-checked"), [("<stdin>".into(), 1)]);
}

#[test]
fn standard_input_is_classified_and_named_by_stdin_filename() {
    let folder = "testdata/rules/oom-kill-disabled";
    let cases: [(&str, &str, &[u64]); 3] = [
        ("etcd-docker.service", "deploy/etcd.service", &[10]),
        ("docker-compose.yml", "compose.yaml", &[5, 8]),
        ("spellings.sh", "bin/start-etcd.sh", &[3, 4, 5, 6, 7, 10]),
    ];
    for (fixture, name, lines) in cases {
        let input = || std::fs::File::open(repo().join(folder).join(fixture)).expect(fixture);
        let run = lint_bounded(
            repo(),
            &["--stdin-filename", name, "-"],
            Stdio::from(input()),
            30,
            100,
        );
        let fired = rule_lines(&run, "oom-kill-disabled");
        let want: Vec<(String, u64)> = lines.iter().map(|&l| (name.to_string(), l)).collect();
        assert_eq!(fired, want, "{fixture} as {name}");

        // Compose files are YAML, known by their content; units and
        // scripts are known only by their name.
        if !name.ends_with(".yaml") {
            let unnamed = lint_bounded(repo(), &["-"], Stdio::from(input()), 30, 100);
            assert!(
                rule_lines(&unnamed, "oom-kill-disabled").is_empty(),
                "without a name, standard input is YAML"
            );
        }
    }
}
