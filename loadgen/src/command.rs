//! `scar loadgen run` and `scar loadgen cleanup`, as the binary calls them:
//! everything but argument parsing and exit codes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::Api;
use crate::runner::{self, RunError, RunOptions};
use crate::{report, scenario, slo};

#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    pub scenario: PathBuf,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub out: Option<PathBuf>,
    pub hdr_out: Option<PathBuf>,
    pub client_go: bool,
    /// `--set name=value` overrides of the scenario's vars.
    pub vars: BTreeMap<String, String>,
    pub run_id: Option<String>,
    pub progress: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every SLO held.
    Passed,
    /// An SLO was breached; the summary says which.
    Breached,
    /// A usage or scenario error.
    Usage(String),
    /// The run could not start: the API server is unreachable, say.
    CannotStart(String),
    /// Stopped by Ctrl-C, after cleaning up.
    Interrupted,
}

/// A run id that is a valid label value and namespace suffix.
pub fn new_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 40);
    format!("{:010x}", mixed & 0xff_ffff_ffff)
}

pub async fn run(args: RunArgs, stop: Arc<AtomicBool>) -> Exit {
    let scenario = match scenario::load(&args.scenario, &args.vars) {
        Ok(scenario) => scenario,
        Err(e) => return Exit::Usage(e.to_string()),
    };
    let api = match Api::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await {
        Ok(api) => api,
        Err(e) => {
            return Exit::CannotStart(format!(
                "cannot load the Kubernetes client configuration: {e}"
            ))
        }
    };
    let options = RunOptions {
        run_id: args.run_id.clone().unwrap_or_else(new_run_id),
        client_go: args.client_go,
        progress: args.progress,
        stop,
    };
    let result = match runner::run(&api, &scenario, &options).await {
        Ok(result) => result,
        Err(RunError::Start(message)) => return Exit::CannotStart(message),
    };
    let breaches = slo::evaluate(&result.phases, &scenario.slo);
    print!("{}", report::summary(&result, &scenario, &breaches));
    if let Some(path) = &args.out {
        let json = report::json(&result, &scenario, &breaches);
        let text = serde_json::to_string_pretty(&json).expect("a JSON value serialises") + "\n";
        if let Err(e) = std::fs::write(path, text) {
            return Exit::Usage(format!("cannot write {}: {e}", path.display()));
        }
    }
    if let Some(dir) = &args.hdr_out {
        if let Err(e) = report::write_hdr_logs(dir, &result) {
            return Exit::Usage(format!("cannot write histograms to {}: {e}", dir.display()));
        }
    }
    if result.interrupted {
        Exit::Interrupted
    } else if breaches.is_empty() {
        Exit::Passed
    } else {
        Exit::Breached
    }
}

#[derive(Debug, Clone, Default)]
pub struct CleanupArgs {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub run_id: Option<String>,
}

pub async fn cleanup(args: CleanupArgs) -> Exit {
    let api = match Api::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await {
        Ok(api) => api,
        Err(e) => {
            return Exit::CannotStart(format!(
                "cannot load the Kubernetes client configuration: {e}"
            ))
        }
    };
    match runner::cleanup(&api, args.run_id.as_deref()).await {
        Ok(deleted) if deleted.is_empty() => {
            println!("nothing to clean up on {}", api.server);
            Exit::Passed
        }
        Ok(deleted) => {
            println!(
                "deleted {} namespace(s) on {}: {}",
                deleted.len(),
                api.server,
                deleted.join(", ")
            );
            Exit::Passed
        }
        Err(e) => Exit::CannotStart(e),
    }
}
