//! Pages checked in a real browser: headless Chromium opens a page, its
//! own script reports whether every chart drew, and a screenshot is kept.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// Headless Chromium (Debian's package, which `.ci/run` installs, or Chrome)
/// with a fresh profile and no background connections, which this network
/// refuses.
pub fn chromium(page: &Path, profile: &Path, extra: &[&str]) -> Output {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let program = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .expect("Chromium is installed (.ci/run installs Debian's chromium)");
    let mut child = std::process::Command::new(program)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().expect("chromium runs").is_some() {
            return child.wait_with_output().expect("chromium finishes");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens a report page in a real browser: every chart drew a non-empty
/// path, nothing was logged to the console, and a screenshot is kept in
/// `target/tmp/loadgen-report/` as the test's artifact.
pub fn check_in_browser(page: &Path, name: &str, min_charts: usize) -> String {
    let html = std::fs::read_to_string(page).unwrap();
    let charts = html.matches("<svg class=\"chart\"").count();
    assert!(charts >= min_charts, "{name}: {charts} charts");
    let profile = tempfile::tempdir().unwrap();
    let dom = chromium(page, profile.path(), &["--dump-dom"]);
    let dom_text = String::from_utf8_lossy(&dom.stdout).into_owned();
    let log = String::from_utf8_lossy(&dom.stderr).into_owned();
    assert!(
        dom_text.contains(&format!("data-charts=\"{charts}\"")),
        "{name}: the page's check ran over every chart:\n{log}"
    );
    assert!(
        dom_text.contains("data-empty-charts=\"0\""),
        "{name}: a chart drew nothing:\n{log}"
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "{name}: console messages: {console:?}");
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("loadgen-report");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&screenshot);
    let shot = chromium(
        page,
        profile.path(),
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1000,2800",
            "--hide-scrollbars",
        ],
    );
    let png = std::fs::read(&screenshot).unwrap_or_else(|e| {
        panic!(
            "{name}: no screenshot ({e}): {}",
            String::from_utf8_lossy(&shot.stderr)
        )
    });
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{name}: {} bytes",
        png.len()
    );
    dom_text
}
