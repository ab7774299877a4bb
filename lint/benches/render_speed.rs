//! `cargo bench -p scar-lint --bench render_speed [-- CHARTS | FOLDER]`
//!
//! Renders and lints 25 Helm charts (copies of `testdata/render/guard-chart`
//! under distinct names, or every chart of FOLDER), and times, side by
//! side in one run: `helm template` on each chart with the same parallelism
//! scar uses (the floor: what helm alone costs), once with Go's default
//! garbage collector and once with the GOGC scar gives helm, and a full
//! `scar lint` of the folder. Reports the wall time of each, scar's ratio
//! to both, and the time scar's renders spent in helm summed over threads.
//! Medians of interleaved rounds. helm must be on PATH.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod support;

use support::{median, ms, time};

use rayon::prelude::*;
use scar_lint::{lint, Input, Options, Registry};

fn main() {
    let argument = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let folder = match argument.as_deref().map(|a| (a, a.parse::<usize>())) {
        Some((path, Err(_))) => PathBuf::from(path),
        Some((_, Ok(count))) => generate(scratch.path(), count),
        None => generate(scratch.path(), 25),
    };
    let charts = charts_in(&folder);
    assert!(
        !charts.is_empty(),
        "no Helm chart under {}",
        folder.display()
    );
    let inputs = [Input::Path(folder.clone())];
    let registry = Registry::builtin();
    let options = Options::default();

    let rounds = 5;
    let mut helm_default = Vec::new();
    let mut helm_tuned = Vec::new();
    let mut full = Vec::new();
    let mut in_helm = Vec::new();
    let mut rendered = 0;
    let mut findings = 0;
    let helm_alone = |gogc: Option<&str>| {
        time(|| {
            charts.par_iter().for_each(|chart| {
                let mut command = Command::new("helm");
                command
                    .arg("template")
                    .arg("bench")
                    .arg(chart)
                    .args(["--include-crds", "--skip-tests"])
                    .env_remove("GOGC");
                if let Some(gogc) = gogc {
                    command.env("GOGC", gogc);
                }
                let status = command.output().expect("helm is on PATH");
                assert!(status.status.success() || !status.stderr.is_empty());
            });
        })
    };
    for _ in 0..rounds {
        helm_default.push(helm_alone(None));
        helm_tuned.push(helm_alone(Some("400")));
        let mut report = None;
        full.push(time(|| {
            report = Some(lint(&inputs, &options, &registry).expect("the folder exists"));
        }));
        let report = report.expect("the lint ran");
        rendered = report.units.iter().filter(|u| u.rendered).count();
        findings = report.findings.len();
        in_helm.push(report.units.iter().map(|u| u.render_time).sum::<Duration>());
    }
    let (helm_default, helm_tuned) = (median(helm_default), median(helm_tuned));
    let (full, in_helm) = (median(full), median(in_helm));
    let threads = rayon::current_num_threads();
    println!(
        "{} charts ({rendered} rendered), {findings} findings, {threads} threads, median of {rounds} rounds",
        charts.len()
    );
    println!(
        "helm template, all charts          : {:>8.1} ms",
        ms(helm_default)
    );
    println!(
        "helm template, GOGC=400 as scar has: {:>8.1} ms",
        ms(helm_tuned)
    );
    println!("scar lint, all charts              : {:>8.1} ms", ms(full));
    println!(
        "scar lint / helm alone             : {:>8.2}x  (target: at most 1.1x)",
        ms(full) / ms(helm_default)
    );
    println!(
        "scar lint / helm alone at GOGC=400 : {:>8.2}x  (scar's own work around the same renders)",
        ms(full) / ms(helm_tuned)
    );
    println!(
        "scar's time in helm                : {:>8.1} ms over {threads} threads: {:.0} % of the wall time the threads had",
        ms(in_helm),
        100.0 * ms(in_helm) / (ms(full) * threads as f64)
    );
}

/// `count` copies of the fixture chart, each under its own name.
fn generate(dir: &Path, count: usize) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/render/guard-chart");
    for i in 0..count {
        let chart = dir.join(format!("chart-{i:02}"));
        copy_dir(&fixture, &chart);
        let meta = chart.join("Chart.yaml");
        let text = fs::read_to_string(&meta).expect("the fixture has a Chart.yaml");
        fs::write(
            &meta,
            text.replace("name: guard", &format!("name: guard-{i:02}")),
        )
        .expect("the copy is writable");
    }
    dir.to_path_buf()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("the copy's folder");
    for entry in fs::read_dir(from).expect("the fixture folder") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("a copied file");
        }
    }
}

/// Top charts under `folder`: folders with a Chart.yaml not inside another
/// chart's `charts/`.
fn charts_in(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("Chart.yaml").is_file() {
            found.push(dir);
            continue;
        }
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    found.sort();
    found
}
