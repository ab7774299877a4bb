//! `cargo bench -p scar-lint --bench lint_speed [-- FILES]`
//!
//! Generates a few thousand manifests (Deployments, Services, webhook
//! configurations, PDBs, HPAs) and times, side by side in one run:
//! reading and parsing them serially, reading and parsing them in parallel,
//! a full `scar lint`, and a full `scar lint` with ten simple teams' CEL
//! policies. Reports the ratio of the full run to the parallel parse, the
//! CPU time over wall time of the full run, which shows whether both cores
//! are busy, and what the policies add. Medians of several rounds,
//! interleaved, so machine noise hits every variant alike. Pass 10500 for
//! about 20,000 objects.

use std::fs;
use std::path::Path;
use std::time::Duration;

mod support;

use support::{median, ms, time};

use scar_lint::{lint, Input, Options, Registry};

fn main() {
    let files: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    generate(dir.path(), files);
    let inputs = [Input::Path(dir.path().to_path_buf())];
    let registry = Registry::builtin();
    let options = Options::default();
    let policies = tempfile::tempdir().expect("a temporary directory");
    write_policies(policies.path());
    let mut with_policies = Registry::builtin();
    with_policies
        .load_policies(&[policies.path().to_path_buf()])
        .expect("the bench's policies load");

    let rounds = 7;
    let mut serial = Vec::new();
    let mut parallel = Vec::new();
    let mut full = Vec::new();
    let mut policed = Vec::new();
    let mut utilisation = Vec::new();
    let mut findings = 0;
    let mut objects = 0;
    let mut policy_findings = 0;
    for _ in 0..rounds {
        serial.push(time(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .expect("a one-thread pool")
                .install(|| scar_lint::engine::parse_only(&inputs).expect("the directory exists"));
        }));
        parallel.push(time(|| {
            scar_lint::engine::parse_only(&inputs).expect("the directory exists");
        }));
        let cpu_before = cpu_time();
        let wall = time(|| {
            findings = lint(&inputs, &options, &registry)
                .expect("the directory exists")
                .findings
                .len();
        });
        utilisation.push((cpu_time() - cpu_before).as_secs_f64() / wall.as_secs_f64());
        full.push(wall);
        policed.push(time(|| {
            let report = lint(&inputs, &options, &with_policies).expect("the directory exists");
            objects = report.resources;
            policy_findings = report.findings.len() - findings;
        }));
    }
    let (serial, parallel, full) = (median(serial), median(parallel), median(full));
    let policed = median(policed);
    utilisation.sort_by(f64::total_cmp);
    let utilisation = utilisation[utilisation.len() / 2];
    println!(
        "{files} manifests, {objects} objects, {findings} findings, {} threads, median of {rounds} rounds",
        rayon::current_num_threads()
    );
    println!("read+parse, 1 thread : {:>8.1} ms", ms(serial));
    println!("read+parse, parallel : {:>8.1} ms", ms(parallel));
    println!("scar lint            : {:>8.1} ms", ms(full));
    println!(
        "lint / parallel parse: {:>8.2}x  (target: within 2x)",
        ms(full) / ms(parallel)
    );
    println!("lint / serial parse  : {:>8.2}x", ms(full) / ms(serial));
    println!(
        "lint CPU time / wall : {:>8.2}   (2 cores busy: close to 2)",
        utilisation
    );
    println!(
        "lint + 10 policies   : {:>8.1} ms  ({policy_findings} more findings)",
        ms(policed)
    );
    println!(
        "with / without       : {:>8.2}x  (target: under 1.20x)",
        ms(policed) / ms(full)
    );
}

/// Ten simple policies of the kind teams write, each matching the
/// Deployments (most of the objects generated).
fn write_policies(dir: &Path) {
    let expressions = [
        "has(object.spec.replicas) && object.spec.replicas >= 1",
        "object.spec.template.spec.containers.all(c, c.image.contains(':'))",
        "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))",
        "has(object.metadata.labels) && 'app' in object.metadata.labels",
        "has(object.metadata.labels) && 'team' in object.metadata.labels",
        "object.spec.template.spec.containers.size() > 0",
        "object.metadata.name.startsWith('app-')",
        "!has(object.spec.template.spec.hostNetwork) || !object.spec.template.spec.hostNetwork",
        "object.spec.template.spec.terminationGracePeriodSeconds <= 60",
        "object.spec.template.spec.containers.exists(c, has(c.readinessProbe))",
    ];
    for (i, expression) in expressions.iter().enumerate() {
        fs::write(
            dir.join(format!("policy-{i}.yaml")),
            format!(
                "id: bench/policy-{i}\ndescription: A simple policy.\nmatch:\n  kinds: [\"apps/v1/Deployment\"]\nvalidations:\n  - expression: {expression:?}\n"
            ),
        )
        .expect("can write a policy");
    }
}

/// User plus system CPU time of this process, from /proc (Linux only).
fn cpu_time() -> Duration {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // Linux reports in USER_HZ, 100 on every architecture it runs on.
    Duration::from_millis(ticks * 10)
}

fn generate(dir: &Path, files: usize) {
    for i in 0..files {
        let namespace = format!("team-{}", i % 50);
        let text = match i % 10 {
            0 => webhook(i, &namespace),
            1 => budget_and_autoscaler(i, &namespace),
            _ => deployment_and_service(i, &namespace),
        };
        let sub = dir.join(format!("ns{}", i % 50));
        fs::create_dir_all(&sub).expect("can create a folder in the temporary directory");
        fs::write(sub.join(format!("app-{i}.yaml")), text).expect("can write a manifest");
    }
}

fn deployment_and_service(i: usize, namespace: &str) -> String {
    let prestop = if i % 3 == 0 {
        ""
    } else {
        "        lifecycle:\n          preStop:\n            sleep:\n              seconds: 15\n"
    };
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: {namespace}
  labels: {{app: app-{i}, team: {namespace}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}, team: {namespace}}}
      annotations:
        prometheus.io/scrape: "true"
    spec:
      terminationGracePeriodSeconds: 45
      containers:
      - name: app
        image: registry.example.com/app-{i}:1.{i}.0
        args: ["--port=8080", "--log-level=info"]
        ports:
        - {{name: http, containerPort: 8080}}
        env:
        - {{name: APP_ID, value: "{i}"}}
        - {{name: NAMESPACE, valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}}}
        resources:
          requests: {{cpu: 100m, memory: 128Mi}}
          limits: {{memory: 256Mi}}
        readinessProbe:
          httpGet: {{path: /ready, port: http}}
        livenessProbe:
          httpGet: {{path: /healthz, port: http}}
{prestop}      - name: log-shipper
        image: registry.example.com/shipper:2.0
---
apiVersion: v1
kind: Service
metadata:
  name: app-{i}
  namespace: {namespace}
spec:
  selector: {{app: app-{i}}}
  ports:
  - {{name: http, port: 80, targetPort: http}}
"#,
        replicas = 1 + i % 3
    )
}

fn webhook(i: usize, namespace: &str) -> String {
    format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: policy-{i}
webhooks:
- name: validate.policy-{i}.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig:
    service: {{namespace: {namespace}, name: app-{j}, path: /validate}}
  rules:
  - apiGroups: [""]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [configmaps]
"#,
        j = i + 2
    )
}

fn budget_and_autoscaler(i: usize, namespace: &str) -> String {
    format!(
        r#"apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: app-{j}
  namespace: {namespace}
spec:
  minAvailable: 1
  selector:
    matchLabels: {{app: app-{j}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: app-{j}
  namespace: {namespace}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: app-{j}}}
  minReplicas: 2
  maxReplicas: 10
"#,
        j = i + 1
    )
}
