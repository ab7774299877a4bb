//! The `scar` command line: parses arguments and wires them to the libraries.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use miette::{LabeledSpan, NamedSource};
use scar_lint::baseline::{self, Baseline};
use scar_lint::config::{self, Config, ConfigError};
use scar_lint::render::helm::{Dependencies, SetValue, ValueSet};
use scar_lint::report::location::RepoPaths;
use scar_lint::report::{catalog, github, human, json, sarif};
use scar_lint::user_policy::LoadError;
use scar_lint::{revision, Input, Options, Registry, Report, Severity};

#[derive(Parser)]
#[command(
    name = "scar",
    version,
    about = "Every rule is a scar from a real outage."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check Kubernetes YAML, compose files, systemd units and shell scripts.
    Lint(LintArgs),
    /// List every rule, teams' policies included, with its effective
    /// severity and parameters.
    Rules {
        #[command(flatten)]
        rules: RuleSource,
    },
    /// Print a rule's documentation: what it finds, its incident, the fix;
    /// for a team's policy, its description and expressions.
    Explain {
        /// The rule id, as `scar rules` lists it.
        rule: String,
        #[command(flatten)]
        rules: RuleSource,
    },
    /// Replay deploy bursts against a Kubernetes API server.
    Loadgen {
        #[command(subcommand)]
        command: LoadgenCommand,
    },
}

#[derive(Subcommand)]
enum LoadgenCommand {
    /// Run a scenario: exit 0 when its SLOs hold, 3 when one is breached,
    /// 2 for scenario errors, 1 when the run cannot start.
    Run {
        scenario: PathBuf,
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Write the full report, per-second series included, as JSON.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the report as one self-contained HTML page with charts.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Write each phase's histograms as HdrHistogram interval logs here.
        #[arg(long)]
        hdr_out: Option<PathBuf>,
        /// Behave like a client-go controller: QPS 5, burst 10, retries
        /// that honour Retry-After.
        #[arg(long)]
        client_go: bool,
        /// Override a scenario var: --set scale=300.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// The run id to label objects with (default: a new one).
        #[arg(long)]
        run_id: Option<String>,
    },
    /// Send steady HTTP traffic to a service URL and report what failed,
    /// and when: run it across a rollout. Exit 0 when the failures stay
    /// within --max-errors (default 0), 3 when not, 2 for usage errors.
    Probe {
        /// The service: an ingress, a NodePort, a port-forward.
        url: String,
        /// Requests per second (open model: sent on schedule).
        #[arg(long)]
        rate: Option<f64>,
        /// How long to send (default: until Ctrl-C).
        #[arg(long)]
        duration: Option<String>,
        /// The HTTP method (default GET).
        #[arg(long, short = 'X')]
        method: Option<String>,
        /// A request header, `Name: value`; repeat for more.
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        /// The request body.
        #[arg(long, short = 'd')]
        data: Option<String>,
        /// A request not answered within this is a timeout (default 30s;
        /// set it above a proxy's timeout to see its 504s).
        #[arg(long)]
        timeout: Option<String>,
        /// Requests in flight at most (default 100).
        #[arg(long)]
        connections: Option<u32>,
        /// Speak HTTP/2 only (prior knowledge over http://).
        #[arg(long)]
        http2: bool,
        /// Failed requests allowed (default 0).
        #[arg(long)]
        max_errors: Option<u64>,
        /// Share of failed requests allowed, 0 to 1.
        #[arg(long)]
        max_error_ratio: Option<f64>,
        /// Write the report, per-second series and error windows, as JSON.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Send the writes of an API server audit log (audit.k8s.io/v1 JSON
    /// lines, plain or gzip) again, on their recorded schedule, into
    /// namespaces of the run's own, and compare the answers.
    Replay {
        /// The audit log.
        log: PathBuf,
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Only requests received at or after this RFC 3339 time.
        #[arg(long)]
        from: Option<String>,
        /// Only requests received before this RFC 3339 time.
        #[arg(long)]
        to: Option<String>,
        /// 2.0 sends twice as fast as recorded (default 1.0).
        #[arg(long)]
        speed: Option<f64>,
        #[command(flatten)]
        filters: ReplayFilters,
        /// Write namespace OLD's requests into NEW (default replay-RUN-OLD); repeatable.
        #[arg(long = "namespace-map", value_name = "OLD=NEW")]
        namespace_map: Vec<String>,
        /// Requests in flight at most (default 1000).
        #[arg(long)]
        connections: Option<usize>,
        /// The run id to label namespaces and objects with (default: a new one).
        #[arg(long)]
        run_id: Option<String>,
        /// Write the recorded-beside-replayed report as JSON.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Turn a run's --out JSON into one self-contained HTML page with
    /// charts; give two to compare a run before and after a change.
    Report {
        /// The report, or the one before and the one after.
        #[arg(required = true, num_args = 1..=2, value_name = "REPORT.json")]
        reports: Vec<PathBuf>,
        /// The page to write.
        #[arg(short, long, default_value = "report.html")]
        output: PathBuf,
    },
    /// A first run with no cluster: the shipped deploy-burst scenario
    /// against scar's API double (a stand-in that throttles like a small
    /// control plane), its summary and its HTML page.
    Demo {
        /// The HTML page to write.
        #[arg(long, default_value = "scar-loadgen-demo.html")]
        html: PathBuf,
        /// Write the run's JSON report.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Serve scar's API double on loopback for other tools and walkthroughs
    /// until Ctrl-C: a stand-in that answers 429 past a limit of mutating
    /// requests in flight, not a Kubernetes API server.
    ApiDouble {
        /// Where to listen: a loopback address (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// The kubeconfig to write, for --kubeconfig of other commands.
        #[arg(long, value_name = "FILE")]
        kubeconfig_out: PathBuf,
        /// Mutating requests in flight before it answers 429 (0: no limit).
        #[arg(long, default_value_t = 10)]
        max_mutating_inflight: usize,
        /// How long each request is held (`250ms`, `1s`).
        #[arg(long, default_value = "250ms")]
        latency: String,
    },
    /// Delete what runs left behind: namespaces labelled scar.dev/run-id
    /// whose names hold that run id, each read and checked before it is
    /// deleted.
    Cleanup {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Only this run's leftovers.
        #[arg(long)]
        run_id: Option<String>,
        /// Say what would be deleted, and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(clap::Args)]
struct ClusterArgs {
    /// Kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current context).
    #[arg(long)]
    context: Option<String>,
}

/// Which recorded writes a replay sends: globs (`*` matches any run of
/// characters), each flag repeatable or comma-separated; a write is sent
/// when it matches an include (or none is given) and no exclude.
#[derive(clap::Args)]
struct ReplayFilters {
    /// Verbs to replay (default: create, update, patch, delete, deletecollection).
    #[arg(long, value_name = "VERB")]
    verb: Vec<String>,
    #[arg(long, value_name = "VERB")]
    exclude_verb: Vec<String>,
    /// Users whose writes to replay (`system:serviceaccount:argocd:*`).
    #[arg(long, value_name = "USER")]
    user: Vec<String>,
    #[arg(long, value_name = "USER")]
    exclude_user: Vec<String>,
    /// Recorded namespaces whose writes to replay.
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Vec<String>,
    #[arg(long, value_name = "NAMESPACE")]
    exclude_namespace: Vec<String>,
    /// Resources to replay, as `deployments`, `deployments/scale` or `deployments.apps`.
    #[arg(long, value_name = "RESOURCE")]
    resource: Vec<String>,
    #[arg(long, value_name = "RESOURCE")]
    exclude_resource: Vec<String>,
    /// Replay lease writes too (node heartbeats, leader election), left out
    /// by default: the test cluster's own nodes and controllers make them.
    #[arg(long)]
    keep_leases: bool,
}

/// Where the rules come from besides the built-in ones.
#[derive(Clone, clap::Args)]
struct RuleSource {
    /// Read this config file instead of the nearest .scar.yaml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Also load the CEL policies in this folder (repeatable); the
    /// config's `policies:` (default .scar/policies) are loaded too.
    #[arg(long, value_name = "DIR")]
    policies: Vec<PathBuf>,
}

#[derive(Clone, clap::Args)]
struct LintArgs {
    /// Files and folders to check (`-` reads YAML from standard input).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format; repeat it, each followed by its own --output, to
    /// write several in one run.
    #[arg(long, value_enum, default_value = "human")]
    format: Vec<Format>,
    /// Where the --format before it goes (default: standard output).
    #[arg(long)]
    output: Vec<PathBuf>,
    /// Exit 1 when a finding at or above this severity is reported.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    fail_on: FailOn,
    /// Namespace of namespaced objects that do not set one (default: the
    /// config's `namespace`, else `default`).
    #[arg(long)]
    namespace: Option<String>,
    #[command(flatten)]
    rules: RuleSource,
    /// Ignore every suppression comment and annotation (for audits).
    #[arg(long)]
    no_suppressions: bool,
    /// Walk every folder: examples/, samples/, testdata/, test/fixtures/,
    /// vendor/ and the like (and the config's exclude_dirs) are skipped by
    /// default.
    #[arg(long)]
    no_default_excludes: bool,
    /// Skip paths named on the command line too when they lie in a folder
    /// the walk would skip (for hooks that name changed files).
    #[arg(long)]
    force_exclude: bool,
    /// List infos one by one in human output (default: a count per rule,
    /// unless --fail-on info).
    #[arg(long)]
    show_infos: bool,
    /// Report only findings not recorded in this baseline file.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Record the current findings in this file and exit 0.
    #[arg(long)]
    write_baseline: Option<PathBuf>,
    /// Report only findings this revision of the repository did not have
    /// (a branch, tag or commit: a pull request's base). Its tree is read
    /// from git into a temporary folder; the working tree is not touched.
    #[arg(long, value_name = "REV")]
    new_from_rev: Option<String>,
    /// Also read these paths for what cross-file rules need; a finding is
    /// reported only when a file it depends on is among PATHS (a
    /// pre-commit hook passes `.`, and the changed files as PATHS).
    #[arg(long)]
    context: Vec<PathBuf>,
    /// The helm binary that renders charts (default: `helm.path` in
    /// .scar.yaml, else helm on PATH).
    #[arg(long, value_name = "PATH")]
    helm: Option<PathBuf>,
    /// Render the charts of this run with this values file (repeat it),
    /// instead of the values sets of .scar.yaml: for a run on one chart.
    #[arg(long = "helm-values", value_name = "FILE")]
    helm_values: Vec<PathBuf>,
    /// Render the charts of this run with this value (repeat it), as
    /// `helm --set` does: --helm-set replicaCount=3.
    #[arg(long = "helm-set", value_name = "KEY=VALUE")]
    helm_set: Vec<String>,
    /// Chart dependencies not vendored in charts/: `fetch` runs `helm
    /// dependency build` in the render's temporary copy (the network);
    /// `offline` fails the render (default: `helm.dependencies` in
    /// .scar.yaml, else offline).
    #[arg(long, value_enum, value_name = "HOW")]
    helm_dependencies: Option<HelmDependencies>,
    /// The Kubernetes version charts render for (default: `helm.kube_version`
    /// in .scar.yaml, else a current release).
    #[arg(long, value_name = "VERSION")]
    kube_version: Option<String>,
    /// Files larger than this many megabytes are not read: listed as
    /// skipped, or a `not-checked` finding when named.
    #[arg(long, value_name = "MB", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_file_size: u64,
    /// Check files on this many threads (default: one per CPU). Output
    /// does not depend on it.
    #[arg(short = 'j', long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Check standard input (`-`) as the file of this name: classified by
    /// it (a unit, a script, a compose file) and named in findings.
    #[arg(long, value_name = "NAME")]
    stdin_filename: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
    Sarif,
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
enum HelmDependencies {
    Fetch,
    Offline,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Info,
}

impl From<FailOn> for Severity {
    fn from(value: FailOn) -> Self {
        match value {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Info => Severity::Info,
        }
    }
}

const EXIT_FINDINGS: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let result = match cli.command {
        Command::Lint(args) => {
            let lint_matches = matches
                .subcommand_matches("lint")
                .expect("clap parsed the lint subcommand");
            run_lint(args, lint_matches)
        }
        Command::Rules { rules } => {
            load_registry(&rules).and_then(|(registry, _)| print(&catalog::list(&registry)))
        }
        Command::Loadgen { command } => run_loadgen(command),
        Command::Explain { rule, rules } => {
            load_registry(&rules).and_then(|(registry, _)| match registry.get(&rule) {
                Some(entry) => print(&catalog::explain(entry)),
                None => Err(Failure::Usage(format!(
                    "unknown rule `{rule}`; `scar rules` lists them"
                ))),
            })
        }
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(message)) => {
            eprintln!("scar: {message}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Config(errors)) => {
            for err in &errors {
                eprintln!("{:?}", config_report(err));
            }
            if errors.len() > 1 {
                eprintln!(
                    "scar: {} mistakes in {}",
                    errors.len(),
                    errors[0].path.display()
                );
            }
            ExitCode::from(EXIT_USAGE)
        }
    }
}

enum Failure {
    Usage(String),
    /// Every mistake in the config file.
    Config(Vec<ConfigError>),
}

const EXIT_CANNOT_START: u8 = 1;
const EXIT_SLO_BREACHED: u8 = 3;
const EXIT_CLEANUP_FAILED: u8 = 4;
const EXIT_INTERRUPTED: u8 = 130;
/// 128 + SIGTERM, as a shell reports a process SIGTERM ended.
const EXIT_TERMINATED: u8 = 143;

/// The next SIGINT or SIGTERM, by name; `None` when signals cannot be
/// watched.
async fn next_signal() -> Option<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).ok()?;
        tokio::select! {
            interrupt = tokio::signal::ctrl_c() => interrupt.ok().map(|()| "SIGINT"),
            _ = terminate.recv() => Some("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C")
    }
}

fn run_loadgen(command: LoadgenCommand) -> Result<ExitCode, Failure> {
    use scar_loadgen::command::{self, CleanupArgs, Exit, ProbeArgs, ReplayArgs, RunArgs};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(format!("cannot start the async runtime: {e}")))?;
    let stop = Arc::new(AtomicBool::new(false));
    let terminated = Arc::new(AtomicBool::new(false));
    let exit = runtime.block_on(async {
        let (on_signal, on_term) = (stop.clone(), terminated.clone());
        tokio::spawn(async move {
            // Ctrl-C and SIGTERM (CI cancellation, `timeout`, Kubernetes)
            // stop the run, which cleans up and reports; a second signal
            // ends it at once.
            let Some(first) = next_signal().await else {
                return;
            };
            on_term.store(first == "SIGTERM", Ordering::Relaxed);
            eprintln!("\nscar loadgen: {first}: stopping and cleaning up (a second signal exits at once)");
            on_signal.store(true, Ordering::Relaxed);
            if let Some(second) = next_signal().await {
                eprintln!("scar loadgen: {second} again: exiting without cleaning up; `scar loadgen cleanup` deletes what the run left (its namespace is labelled scar.dev/run-id)");
                std::process::exit(if second == "SIGTERM" { 143 } else { 130 });
            }
        });
        match command {
            LoadgenCommand::Run {
                scenario,
                cluster,
                out,
                html,
                hdr_out,
                client_go,
                vars,
                run_id,
            } => {
                let mut overrides = std::collections::BTreeMap::new();
                for pair in vars {
                    let Some((name, value)) = pair.split_once('=') else {
                        return Exit::Usage(format!("--set {pair}: expected NAME=VALUE"));
                    };
                    overrides.insert(name.trim().to_string(), value.trim().to_string());
                }
                let args = RunArgs {
                    scenario,
                    kubeconfig: cluster.kubeconfig,
                    context: cluster.context,
                    out,
                    html,
                    hdr_out,
                    client_go,
                    vars: overrides,
                    run_id,
                    progress: true,
                };
                command::run(args, stop.clone()).await
            }
            LoadgenCommand::Probe {
                url,
                rate,
                duration,
                method,
                headers,
                data,
                timeout,
                connections,
                http2,
                max_errors,
                max_error_ratio,
                out,
            } => {
                let args = ProbeArgs {
                    url,
                    rate,
                    duration,
                    method,
                    headers,
                    body: data,
                    timeout,
                    connections,
                    http2,
                    max_errors,
                    max_error_ratio,
                    out,
                };
                command::probe(args, stop.clone()).await
            }
            LoadgenCommand::Replay {
                log,
                cluster,
                from,
                to,
                speed,
                filters,
                namespace_map,
                connections,
                run_id,
                out,
            } => {
                let args = ReplayArgs {
                    log,
                    kubeconfig: cluster.kubeconfig,
                    context: cluster.context,
                    from,
                    to,
                    speed,
                    verbs: filters.verb,
                    exclude_verbs: filters.exclude_verb,
                    users: filters.user,
                    exclude_users: filters.exclude_user,
                    namespaces: filters.namespace,
                    exclude_namespaces: filters.exclude_namespace,
                    resources: filters.resource,
                    exclude_resources: filters.exclude_resource,
                    keep_leases: filters.keep_leases,
                    namespace_map,
                    connections,
                    run_id,
                    out,
                };
                command::replay(args, stop.clone()).await
            }
            LoadgenCommand::Report { reports, output } => command::report(&reports, &output),
            LoadgenCommand::Demo { html, out } => {
                scar_loadgen::demo::demo(scar_loadgen::demo::DemoArgs { html, out }, stop.clone())
                    .await
            }
            LoadgenCommand::ApiDouble {
                listen,
                kubeconfig_out,
                max_mutating_inflight,
                latency,
            } => {
                let Some(latency) = scar_loadgen::scenario::parse_duration(&latency) else {
                    return Exit::Usage(format!(
                        "--latency {latency}: expected a duration such as 250ms or 1s"
                    ));
                };
                scar_loadgen::demo::api_double(
                    scar_loadgen::demo::ApiDoubleArgs {
                        listen,
                        kubeconfig_out,
                        max_mutating_inflight,
                        latency,
                    },
                    stop.clone(),
                )
                .await
            }
            LoadgenCommand::Cleanup {
                cluster,
                run_id,
                dry_run,
            } => {
                command::cleanup(CleanupArgs {
                    kubeconfig: cluster.kubeconfig,
                    context: cluster.context,
                    run_id,
                    dry_run,
                })
                .await
            }
        }
    });
    Ok(match exit {
        Exit::Passed => ExitCode::SUCCESS,
        Exit::Breached => ExitCode::from(EXIT_SLO_BREACHED),
        Exit::Interrupted => ExitCode::from(if terminated.load(Ordering::Relaxed) {
            EXIT_TERMINATED
        } else {
            EXIT_INTERRUPTED
        }),
        Exit::CleanupFailed(message) => {
            eprintln!("scar loadgen: cleanup failed: {message}");
            ExitCode::from(EXIT_CLEANUP_FAILED)
        }
        Exit::Usage(message) => return Err(Failure::Usage(message)),
        Exit::CannotStart(message) => {
            eprintln!("scar loadgen: {message}");
            ExitCode::from(EXIT_CANNOT_START)
        }
    })
}

fn run_lint(args: LintArgs, matches: &ArgMatches) -> Result<ExitCode, Failure> {
    let outputs = pair_outputs(&args, matches)?;
    if let Some(threads) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads.into())
            .build_global()
            .map_err(|e| Failure::Usage(format!("cannot start {threads} threads: {e}")))?;
    }
    let (registry, config) = load_registry(&args.rules)?;
    let options = lint_options(&args, &config)?;
    let mut report = scar_lint::lint(&lint_inputs(&args), &options, &registry)
        .map_err(|e| Failure::Usage(e.to_string()))?;

    if let Some(path) = &args.write_baseline {
        baseline::write(path, &report.findings)
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
        eprintln!(
            "scar: recorded {} finding(s) in {}",
            report.findings.len(),
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(rev) = &args.new_from_rev {
        let before = Baseline::of(&lint_revision(rev, &args)?);
        let found = report.findings.len();
        report.findings = before.new_findings(std::mem::take(&mut report.findings));
        report.preexisting = found - report.findings.len();
    }
    if let Some(path) = &args.baseline {
        let known = Baseline::read(path).map_err(Failure::Usage)?;
        let found = report.findings.len();
        report.findings = known.new_findings(std::mem::take(&mut report.findings));
        report.baselined = found - report.findings.len();
    }

    let repo_paths = RepoPaths::from_cwd();
    for (format, output) in outputs {
        let write = |out: &mut dyn Write| match format {
            Format::Human => human::write(
                &report,
                human::Style {
                    color: output.is_none() && use_color(),
                    list_infos: args.show_infos || matches!(args.fail_on, FailOn::Info),
                },
                out,
            ),
            Format::Json => json::write(&report, out),
            Format::Sarif => sarif::write(&report, &registry, &repo_paths, out),
            Format::Github => github::write(&report, &repo_paths, out),
        };
        match &output {
            None => {
                let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
                match write(&mut stdout).and_then(|()| stdout.flush()) {
                    // A closed pipe (`scar lint | head`) is not a failure of the lint.
                    Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                        return Err(Failure::Usage(format!("cannot write output: {err}")))
                    }
                    _ => {}
                }
            }
            Some(path) => {
                let cannot = |e: std::io::Error| {
                    Failure::Usage(format!("cannot write {}: {e}", path.display()))
                };
                let mut file =
                    std::io::BufWriter::new(std::fs::File::create(path).map_err(cannot)?);
                write(&mut file)
                    .and_then(|()| file.flush())
                    .map_err(cannot)?;
            }
        }
    }
    Ok(exit_code(&report, args.fail_on.into()))
}

fn lint_inputs(args: &LintArgs) -> Vec<Input> {
    args.paths
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                Input::Stdin {
                    name: args.stdin_filename.clone(),
                }
            } else {
                Input::Path(p.clone())
            }
        })
        .collect()
}

fn lint_options(args: &LintArgs, config: &Config) -> Result<Options, Failure> {
    let mut render = config.render_settings();
    if let Some(helm) = &args.helm {
        render.kustomize.helm = Some(helm.clone());
        render.helm.program = Some(helm.clone());
    }
    if let Some(version) = &args.kube_version {
        render.helm.kube_version = version.clone();
    }
    if let Some(how) = args.helm_dependencies {
        render.helm.dependencies = match how {
            HelmDependencies::Fetch => Dependencies::Fetch,
            HelmDependencies::Offline => Dependencies::Offline,
        };
    }
    render.command_line = command_line_values(&args.helm_values, &args.helm_set)?;
    Ok(Options {
        namespace: args
            .namespace
            .clone()
            .or(config.namespace.clone())
            .unwrap_or_else(|| "default".to_string()),
        suppressions: !args.no_suppressions,
        context: args.context.clone(),
        exclusions: config.exclusions(),
        folder_excludes: config
            .folder_excludes(args.no_default_excludes)
            .for_named_paths_too(args.force_exclude),
        render,
        max_file_size: args.max_file_size.saturating_mul(1_000_000),
        threads: args.threads.map_or(0, usize::from),
    })
}

/// The findings of the same run on `rev`'s tree: the paths that exist
/// there, linted from the folder that stands where the current one does,
/// so that findings are shown (and fingerprinted) with the same paths. REV's
/// own `.scar.yaml` applies to it, as it did then.
fn lint_revision(rev: &str, args: &LintArgs) -> Result<Vec<scar_lint::Finding>, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::Usage(format!("cannot read the current folder: {e}")))?;
    let tree = revision::check_out(rev, &cwd).map_err(Failure::Usage)?;
    let at_rev = |paths: &[PathBuf]| -> Vec<PathBuf> {
        paths
            .iter()
            .filter_map(|path| match path.strip_prefix(&cwd) {
                Ok(inside) => Some(inside.to_path_buf()),
                Err(_) if path.is_relative() => Some(path.clone()),
                Err(_) => None,
            })
            .filter(|path| path.as_os_str() != "-")
            .filter(|path| tree.cwd.join(path).symlink_metadata().is_ok())
            .collect()
    };
    let mut then = args.clone();
    then.paths = at_rev(&args.paths);
    then.context = at_rev(&args.context);
    then.rules.config = args.rules.config.as_ref().map(|c| cwd.join(c));
    then.rules.policies = args.rules.policies.iter().map(|p| cwd.join(p)).collect();
    if then.paths.is_empty() {
        return Ok(Vec::new());
    }
    std::env::set_current_dir(&tree.cwd)
        .map_err(|e| Failure::Usage(format!("cannot enter {rev}'s tree: {e}")))?;
    let findings = load_registry(&then.rules).and_then(|(registry, config)| {
        let options = lint_options(&then, &config)?;
        scar_lint::lint(&lint_inputs(&then), &options, &registry)
            .map(|report| report.findings)
            .map_err(|e| Failure::Usage(format!("{rev}: {e}")))
    });
    std::env::set_current_dir(&cwd)
        .map_err(|e| Failure::Usage(format!("cannot return to {}: {e}", cwd.display())))?;
    findings
}

/// `--helm-values` and `--helm-set` as one values set; `None` when neither is given.
fn command_line_values(files: &[PathBuf], sets: &[String]) -> Result<Option<ValueSet>, Failure> {
    if files.is_empty() && sets.is_empty() {
        return Ok(None);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut values = ValueSet {
        name: "command line".to_string(),
        files: Vec::new(),
        set: Vec::new(),
    };
    for file in files {
        if !file.is_file() {
            return Err(Failure::Usage(format!(
                "--helm-values {}: no such file",
                file.display()
            )));
        }
        values.files.push(cwd.join(file));
    }
    for pair in sets {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Failure::Usage(format!(
                "--helm-set {pair}: expected KEY=VALUE"
            )));
        };
        values.set.push(SetValue {
            key: key.trim().to_string(),
            value: value.to_string(),
            written_at: None,
        });
    }
    Ok(Some(values))
}

fn exit_code(report: &Report, threshold: Severity) -> ExitCode {
    if report.findings.iter().any(|f| f.severity >= threshold) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Each `--output` belongs to the `--format` written before it; a format
/// without one goes to standard output, which only one format may use.
fn pair_outputs(
    args: &LintArgs,
    matches: &ArgMatches,
) -> Result<Vec<(Format, Option<PathBuf>)>, Failure> {
    let format_positions: Vec<usize> = matches
        .indices_of("format")
        .map(Iterator::collect)
        .unwrap_or_default();
    let output_positions: Vec<usize> = matches
        .indices_of("output")
        .map(Iterator::collect)
        .unwrap_or_default();
    let explicit_formats =
        matches.value_source("format") == Some(clap::parser::ValueSource::CommandLine);
    let mut paired: Vec<(Format, Option<PathBuf>)> =
        args.format.iter().map(|f| (*f, None)).collect();
    for (output, position) in args.output.iter().zip(output_positions) {
        let owner = if explicit_formats {
            format_positions.iter().rposition(|&p| p < position)
        } else {
            Some(0)
        };
        let Some(owner) = owner else {
            return Err(Failure::Usage(format!(
                "--output {} comes before any --format; write --format FORMAT --output FILE",
                output.display()
            )));
        };
        if paired[owner].1.is_some() {
            return Err(Failure::Usage(format!(
                "--output {} has no --format of its own; give each --output its --format",
                output.display()
            )));
        }
        paired[owner].1 = (output.as_os_str() != "-").then(|| output.clone());
    }
    if paired.iter().filter(|(_, output)| output.is_none()).count() > 1 {
        return Err(Failure::Usage(
            "only one --format can go to standard output; give the others an --output FILE"
                .to_string(),
        ));
    }
    Ok(paired)
}

/// The built-in rules and the teams' policies, with the config file's
/// settings, and the config.
fn load_registry(source: &RuleSource) -> Result<(Registry, Config), Failure> {
    let mut registry = Registry::builtin();
    if let Some(folder) = source.policies.iter().find(|f| !f.is_dir()) {
        return Err(Failure::Usage(format!(
            "--policies {}: not a folder",
            folder.display()
        )));
    }
    registry
        .load_policies(&source.policies)
        .map_err(policy_failure)?;
    let cwd = std::env::current_dir().ok();
    let path = match &source.config {
        Some(path) => Some(path.clone()),
        None => cwd.as_deref().and_then(config::find),
    };
    let Some(path) = path else {
        // Without a config file, the nearest .scar/policies is the default.
        let folder = cwd.as_deref().and_then(|cwd| {
            cwd.ancestors()
                .map(|dir| dir.join(config::POLICIES_FOLDER))
                .find(|folder| folder.is_dir())
        });
        if let Some(folder) = folder {
            registry.load_policies(&[folder]).map_err(policy_failure)?;
        }
        return Ok((registry, Config::default()));
    };
    let config = Config::load(&path, &mut registry).map_err(Failure::Config)?;
    Ok((config.apply(registry), config))
}

fn policy_failure(err: LoadError) -> Failure {
    match err {
        LoadError::Folder(folder, err) => Failure::Usage(format!(
            "cannot read the policies folder {}: {err}",
            folder.display()
        )),
        LoadError::Invalid(errors) => Failure::Config(errors),
    }
}

/// A config error with the offending line shown, as miette renders it.
fn config_report(err: &ConfigError) -> miette::Report {
    let text = std::fs::read_to_string(&err.path).unwrap_or_default();
    let offset = byte_offset(&text, err.span.line, err.span.column);
    let length = if err.span.end_line == err.span.line {
        err.span.end_column.saturating_sub(err.span.column).max(1) as usize
    } else {
        1
    };
    let length = length.min(text.len().saturating_sub(offset));
    miette::miette!(
        labels = vec![LabeledSpan::at(offset..offset + length, "here")],
        "{err}"
    )
    .with_source_code(NamedSource::new(err.path.display().to_string(), text))
}

/// The byte offset of a 1-based line and character column.
fn byte_offset(text: &str, line: u32, column: u32) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map_or(rest.len(), |(i, _)| i)
}

fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn print(text: &str) -> Result<ExitCode, Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A closed pipe (`scar lint | head`) is not a failure of the lint.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(err) => Err(Failure::Usage(format!("cannot write output: {err}"))),
    }
}
