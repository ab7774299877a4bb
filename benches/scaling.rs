//! `cargo bench -p scar --bench scaling [-- SIZES]`
//!
//! How `scar lint` scales with its input: N objects (Deployments and the
//! Services in front of them, over ten namespaces) in one file, and the
//! same N objects in N files of one each, for N = 1,000, 10,000 and 100,000
//! (or the sizes given). Runs the release binary on each, side by side, and
//! prints wall time per object and peak resident memory per object: both
//! should stay flat as N grows. Then the layouts of repositories that keep
//! many copies of one install (a fail-closed webhook configuration, its
//! Service and a one-replica Deployment): K copies in sibling folders, and
//! K folders of 15 identical files each (release manifests per version),
//! for K = 5, 20 and 100; every copy resolves its references among equally
//! near twins, and time per object should stay flat there too. A
//! bounded-memory case follows: 20,000 files of about 27 KB each (549 MB),
//! whose peak RSS should stay under 200 MB.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        sizes
    };
    println!("objects  layout        wall       per object   peak RSS   per object");
    for layout in [
        Layout::OneFile,
        Layout::FilePerObject,
        Layout::CopiesOfInstall,
        Layout::EqualFilesPerFolder,
    ] {
        let mut per_object = Vec::new();
        let copies = [5, 20, 100];
        let counts: &[usize] = if layout.is_copies() { &copies } else { &sizes };
        for &count in counts {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let n = layout.write(dir.path(), count);
            let (wall, rss) = run(dir.path());
            let micros = wall.as_secs_f64() * 1e6 / n as f64;
            per_object.push(micros);
            println!(
                "{n:>7}  {:<12} {:>8.0} ms  {:>8.1} µs  {:>6.0} MB  {:>6.2} KB",
                layout.name(),
                wall.as_secs_f64() * 1e3,
                micros,
                rss as f64 / 1024.0,
                rss as f64 / n as f64
            );
        }
        let (min, max) = per_object
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        println!(
            "         {:<12} time per object, largest / smallest N: {:.2}x (flat: within 1.5x)",
            layout.name(),
            max / min
        );
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let bytes = write_large_files(dir.path(), 20_000);
    let (wall, rss) = run(dir.path());
    println!(
        "20,000 files, {} MB, 60,000 resources: {:.1} s, peak RSS {:.0} MB (target: under 200 MB), {:.2} KB per resource",
        bytes / 1_000_000,
        wall.as_secs_f64(),
        rss as f64 / 1024.0,
        rss as f64 / 60_000.0
    );
}

#[derive(Clone, Copy)]
enum Layout {
    OneFile,
    FilePerObject,
    /// K copies of one install, one per sibling folder.
    CopiesOfInstall,
    /// K folders of 15 identical copies of one install.
    EqualFilesPerFolder,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::OneFile => "one file",
            Layout::FilePerObject => "one per file",
            Layout::CopiesOfInstall => "K installs",
            Layout::EqualFilesPerFolder => "K x 15 equal",
        }
    }

    fn is_copies(self) -> bool {
        matches!(self, Layout::CopiesOfInstall | Layout::EqualFilesPerFolder)
    }

    /// Writes the layout with `count` objects, or `count` copies; returns
    /// how many objects it wrote.
    fn write(self, dir: &Path, count: usize) -> usize {
        let files_per_copy = match self {
            Layout::CopiesOfInstall => 1,
            Layout::EqualFilesPerFolder => 15,
            Layout::OneFile | Layout::FilePerObject => {
                write_objects(dir, count, matches!(self, Layout::OneFile));
                return count;
            }
        };
        for copy in 0..count {
            let folder = dir.join(format!("copy{copy:03}/install"));
            fs::create_dir_all(&folder).expect("a folder");
            for version in 0..files_per_copy {
                fs::write(folder.join(format!("v{version}.yaml")), INSTALL)
                    .expect("the file is written");
            }
        }
        count * files_per_copy * 3
    }
}

fn write_objects(dir: &Path, objects: usize, in_one_file: bool) {
    let docs = (0..objects).map(object);
    if in_one_file {
        let mut text = String::new();
        for doc in docs {
            let _ = writeln!(text, "---\n{doc}");
        }
        fs::write(dir.join("all.yaml"), text).expect("the file is written");
    } else {
        for (i, doc) in docs.enumerate() {
            let folder = dir.join(format!("{:03}", i / 1000));
            fs::create_dir_all(&folder).expect("a folder");
            fs::write(folder.join(format!("{i}.yaml")), doc).expect("the file is written");
        }
    }
}

/// A fail-closed webhook configuration of five webhooks, the Service they
/// call and the one-replica Deployment behind it: three findings a copy.
const INSTALL: &str = "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: policy}
webhooks:
- {name: a.policy.example.com, failurePolicy: Fail, sideEffects: None, admissionReviewVersions: [v1], clientConfig: {service: {name: policy-webhook, namespace: policy-system, path: /a}}, rules: [{operations: [CREATE], apiGroups: ['*'], apiVersions: ['*'], resources: ['*']}]}
- {name: b.policy.example.com, failurePolicy: Fail, sideEffects: None, admissionReviewVersions: [v1], clientConfig: {service: {name: policy-webhook, namespace: policy-system, path: /b}}, rules: [{operations: [CREATE], apiGroups: ['*'], apiVersions: ['*'], resources: ['*']}]}
- {name: c.policy.example.com, failurePolicy: Fail, sideEffects: None, admissionReviewVersions: [v1], clientConfig: {service: {name: policy-webhook, namespace: policy-system, path: /c}}, rules: [{operations: [CREATE], apiGroups: ['*'], apiVersions: ['*'], resources: ['*']}]}
- {name: d.policy.example.com, failurePolicy: Fail, sideEffects: None, admissionReviewVersions: [v1], clientConfig: {service: {name: policy-webhook, namespace: policy-system, path: /d}}, rules: [{operations: [CREATE], apiGroups: ['*'], apiVersions: ['*'], resources: ['*']}]}
- {name: e.policy.example.com, failurePolicy: Fail, sideEffects: None, admissionReviewVersions: [v1], clientConfig: {service: {name: policy-webhook, namespace: policy-system, path: /e}}, rules: [{operations: [CREATE], apiGroups: ['*'], apiVersions: ['*'], resources: ['*']}]}
---
apiVersion: v1
kind: Service
metadata: {name: policy-webhook, namespace: policy-system}
spec:
  selector: {app: policy}
  ports: [{port: 443, targetPort: 9443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: policy, namespace: policy-system}
spec:
  replicas: 1
  selector: {matchLabels: {app: policy}}
  template:
    metadata: {labels: {app: policy}}
    spec:
      containers:
      - name: webhook
        image: example.com/policy:1.0
        ports: [{containerPort: 9443}]
";

/// The i-th object: a Deployment for even i, the Service in front of it for odd i.
fn object(i: usize) -> String {
    let app = i / 2;
    let namespace = app % 10;
    if i % 2 == 0 {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{app}, namespace: team-{namespace}}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: app-{app}}}}}\n  template:\n    metadata: {{labels: {{app: app-{app}, tier: web}}}}\n    spec:\n      containers:\n      - name: app\n        image: example.com/app:{app}\n        ports: [{{containerPort: 8080}}]\n"
        )
    } else {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: app-{app}, namespace: team-{namespace}}}\nspec:\n  type: LoadBalancer\n  selector: {{app: app-{app}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n"
        )
    }
}

/// `files` files of a Deployment, its Service and a 25 KB ConfigMap each.
fn write_large_files(dir: &Path, files: usize) -> usize {
    let blob: String = (0..330)
        .map(|i| {
            format!("    line {i} of some embedded configuration text that makes the file large\n")
        })
        .collect();
    let mut total = 0;
    for i in 0..files {
        let folder = dir.join(format!("{:03}", i / 200));
        fs::create_dir_all(&folder).expect("a folder");
        let text = format!(
            "{}---\n{}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-{i}, namespace: team-{}}}\ndata:\n  config.txt: |\n{blob}",
            object(2 * i),
            object(2 * i + 1),
            i % 10
        );
        total += text.len();
        fs::write(folder.join(format!("app-{i}.yaml")), text).expect("the file is written");
    }
    total
}

/// Wall time and peak resident memory (KiB) of `scar lint` on `dir`.
fn run(dir: &Path) -> (Duration, u64) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scar"));
    command.args(["lint", "--format", "json"]).arg(dir);
    let (wall, peak, _) = common::run_measured(&mut command);
    (wall, peak)
}
