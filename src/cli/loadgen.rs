//! `scar loadgen`: its commands' arguments, the signals that stop a run,
//! and the exit status each outcome gives.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::Failure;

#[derive(Subcommand)]
pub(crate) enum LoadgenCommand {
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
        /// Write the report as one self-contained HTML page.
        #[arg(long)]
        html: Option<PathBuf>,
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
        /// Write the report as one self-contained HTML page.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Turn a run's, probe's or replay's --out JSON into one self-contained
    /// HTML page with charts; give two runs to compare before and after a
    /// change.
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
pub(crate) struct ClusterArgs {
    /// Kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long)]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current context).
    #[arg(long)]
    pub(crate) context: Option<String>,
}

/// Which recorded writes a replay sends: globs (`*` matches any run of
/// characters), each flag repeatable or comma-separated; a write is sent
/// when it matches an include (or none is given) and no exclude.
#[derive(clap::Args)]
pub(crate) struct ReplayFilters {
    /// Verbs to replay (default: create, update, patch, delete, deletecollection).
    #[arg(long, value_name = "VERB")]
    pub(crate) verb: Vec<String>,
    #[arg(long, value_name = "VERB")]
    pub(crate) exclude_verb: Vec<String>,
    /// Users whose writes to replay (`system:serviceaccount:argocd:*`).
    #[arg(long, value_name = "USER")]
    pub(crate) user: Vec<String>,
    #[arg(long, value_name = "USER")]
    pub(crate) exclude_user: Vec<String>,
    /// Recorded namespaces whose writes to replay.
    #[arg(long, value_name = "NAMESPACE")]
    pub(crate) namespace: Vec<String>,
    #[arg(long, value_name = "NAMESPACE")]
    pub(crate) exclude_namespace: Vec<String>,
    /// Resources to replay, as `deployments`, `deployments/scale` or `deployments.apps`.
    #[arg(long, value_name = "RESOURCE")]
    pub(crate) resource: Vec<String>,
    #[arg(long, value_name = "RESOURCE")]
    pub(crate) exclude_resource: Vec<String>,
    /// Replay lease writes too (node heartbeats, leader election), left out
    /// by default: the test cluster's own nodes and controllers make them.
    #[arg(long)]
    pub(crate) keep_leases: bool,
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

pub(crate) fn run_loadgen(command: LoadgenCommand) -> Result<ExitCode, Failure> {
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
                html,
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
                    html,
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
                html,
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
                    html,
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
