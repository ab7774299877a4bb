//! A first run with no cluster: `scar loadgen demo` runs the shipped
//! deploy-burst scenario against the API double started in-process on
//! loopback, and `scar loadgen api-double` serves the same double for other
//! tools. The double imitates what a small control plane does under a
//! burst (a limit of mutating requests in flight answered with 429 and
//! `Retry-After`, as `--max-mutating-requests-inflight` and API Priority
//! and Fairness do; latency that grows with writes in flight; Deployments
//! that roll out); it keeps objects in memory and runs no controllers,
//! admission, watch or etcd. Its figures show how scar reads a burst, never
//! what a real server would do.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::command::{self, Exit, RunArgs};
use crate::fake_apiserver::{Behaviour, FakeApiServer};

const DEPLOY_BURST: &str = include_str!("../scenarios/deploy-burst.yaml");
const DEPLOYMENT: &str = include_str!("../scenarios/deployment.yaml");

/// The double's limits in the demo: a small control plane that throttles
/// the burst of 15 rollouts (10 mutating requests in flight), each request
/// held long enough that the burst's requests overlap on a busy machine.
pub fn small_control_plane() -> Behaviour {
    Behaviour {
        max_mutating_inflight: 10,
        base_latency: Duration::from_millis(250),
        ..Behaviour::default()
    }
}

#[derive(Debug, Clone)]
pub struct DemoArgs {
    /// The HTML page to write.
    pub html: PathBuf,
    pub out: Option<PathBuf>,
}

pub async fn demo(args: DemoArgs, stop: Arc<AtomicBool>) -> Exit {
    let folder = match tempfile::Builder::new().prefix("scar-demo-").tempdir() {
        Ok(folder) => folder,
        Err(e) => return Exit::CannotStart(format!("cannot make a temporary folder: {e}")),
    };
    let scenario = folder.path().join("deploy-burst.yaml");
    let written = std::fs::write(&scenario, DEPLOY_BURST)
        .and_then(|()| std::fs::write(folder.path().join("deployment.yaml"), DEPLOYMENT));
    if let Err(e) = written {
        return Exit::CannotStart(format!("cannot write the demo's scenario: {e}"));
    }
    let double = match FakeApiServer::start(small_control_plane(), folder.path()).await {
        Ok(double) => double,
        Err(e) => return Exit::CannotStart(format!("cannot start the API double: {e}")),
    };
    println!(
        "scar loadgen demo: the shipped deploy-burst scenario (15 Deployments, then all 15 rolled out at once) against scar's API double on {}: a stand-in that allows 10 mutating requests in flight and answers 429 with Retry-After past that, as a small control plane does. Not a measurement of a real server: run the scenario against a kind cluster for that.\n",
        double.url
    );
    let exit = command::run(
        RunArgs {
            scenario,
            kubeconfig: Some(double.kubeconfig.clone()),
            context: None,
            out: args.out,
            html: Some(args.html.clone()),
            hdr_out: None,
            client_go: false,
            vars: Default::default(),
            run_id: None,
            progress: false,
        },
        stop,
    )
    .await;
    if matches!(exit, Exit::Passed | Exit::Breached) {
        println!(
            "\nwrote {}: open it in a browser. Next: scar loadgen run loadgen/scenarios/deploy-burst.yaml --kubeconfig KUBECONFIG (a kind cluster, or `scar loadgen api-double`).",
            args.html.display()
        );
    }
    exit
}

#[derive(Debug, Clone)]
pub struct ApiDoubleArgs {
    pub listen: SocketAddr,
    pub kubeconfig_out: PathBuf,
    pub max_mutating_inflight: usize,
    pub latency: Duration,
}

/// Serves the double until Ctrl-C or SIGTERM.
pub async fn api_double(args: ApiDoubleArgs, stop: Arc<AtomicBool>) -> Exit {
    let behaviour = Behaviour {
        max_mutating_inflight: args.max_mutating_inflight,
        base_latency: args.latency,
        ..Behaviour::default()
    };
    let double = match FakeApiServer::start_on(behaviour, args.listen, &args.kubeconfig_out).await {
        Ok(double) => double,
        Err(e) => return Exit::CannotStart(format!("cannot start the API double: {e}")),
    };
    println!(
        "serving scar's API double on {} (a stand-in, not a Kubernetes API server; {} mutating requests in flight, {} ms per request); kubeconfig: {}; Ctrl-C to stop",
        double.url,
        args.max_mutating_inflight,
        args.latency.as_millis(),
        args.kubeconfig_out.display()
    );
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Exit::Passed
}
