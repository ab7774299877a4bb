//! What the tasks of one run share, whichever module runs them (the
//! runner's request tasks, rollouts, the probe): the API, the run's
//! namespace and clock, the stop signal, the phases' statistics, and the
//! lock they are read through. It knows nothing of how phases are run.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::watch;

use crate::api::Api;
use crate::measure::PhaseStats;

pub(crate) struct RunContext {
    pub(crate) api: Api,
    pub(crate) namespace: String,
    /// Offset zero of the run's timeline.
    pub(crate) run_start: Instant,
    /// Turns true when the run is stopped, to wake tasks waiting for their slot.
    pub(crate) stopped: watch::Receiver<bool>,
    pub(crate) stats: Mutex<Vec<PhaseStats>>,
}

/// A lock that a task which panicked while holding it does not poison:
/// the statistics it guards stay readable for the report.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
