//! A rollout phase: restarts Deployments as `kubectl rollout restart` does
//! (a new pod-template annotation, hence a new ReplicaSet) and waits for
//! each as `kubectl rollout status` does, recording how long it took. Its
//! PATCH and status GETs count in the phase's latency and outcomes like any
//! other request.

use std::time::{Duration, Instant};

use http::Method;
use serde_json::{json, Value as Json};

use crate::api::describe_reply;
use crate::api::{Outcome, Patch, Reply};
use crate::measure::{RolloutRecord, Sample};
use crate::scenario::{DeploymentRef, Rollout};
use crate::shared::{lock, RunContext};

/// How often a Deployment's status is read while waiting.
const POLL_EVERY: Duration = Duration::from_millis(500);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

pub(crate) async fn run(shared: &RunContext, index: usize, rollout: &Rollout) {
    lock(&shared.stats)[index].started = Some(Instant::now());
    let waits = rollout
        .deployments
        .iter()
        .map(|deployment| restart_and_wait(shared, index, deployment, rollout.timeout));
    let records = futures::future::join_all(waits).await;
    let mut stats = lock(&shared.stats);
    stats[index].rollouts = records;
    stats[index].finished = Some(Instant::now());
}

async fn restart_and_wait(
    shared: &RunContext,
    index: usize,
    deployment: &DeploymentRef,
    timeout: Duration,
) -> RolloutRecord {
    let namespace = deployment.namespace.as_deref().unwrap_or(&shared.namespace);
    let path = format!(
        "/apis/apps/v1/namespaces/{namespace}/deployments/{}",
        deployment.name
    );
    let shown = format!("{namespace}/{}", deployment.name);
    let record = |took, failure| RolloutRecord {
        deployment: shown.clone(),
        took,
        failure,
    };
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}});
    let started = Instant::now();
    let reply = send(shared, index, Method::PATCH, &path, Some(&patch)).await;
    if reply.outcome != Outcome::Status(200) {
        return record(
            None,
            Some(format!("restarting {shown}: {}", refusal(&reply))),
        );
    }
    let deadline = started + timeout;
    let mut stopped = shared.stopped.clone();
    loop {
        let reply = send(shared, index, Method::GET, &path, None).await;
        let state = match (reply.outcome, reply.json()) {
            (Outcome::Status(200), Some(object)) => progress(&object),
            _ => Progress::Waiting(format!("reading its status: {}", refusal(&reply))),
        };
        match state {
            Progress::Complete => return record(Some(started.elapsed()), None),
            Progress::Failed(why) => {
                return record(None, Some(format!("rollout of {shown} failed: {why}")))
            }
            Progress::Waiting(why) if Instant::now() >= deadline => {
                return record(
                    None,
                    Some(format!(
                        "rollout of {shown} did not complete within {}s: {why}",
                        timeout.as_secs_f64()
                    )),
                )
            }
            Progress::Waiting(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(POLL_EVERY) => {}
            _ = stopped.wait_for(|stopped| *stopped) => {
                return record(None, Some(format!("rollout of {shown}: the run was interrupted")))
            }
        }
    }
}

/// Sends one request of the phase and counts it.
async fn send(
    shared: &RunContext,
    index: usize,
    method: Method,
    path: &str,
    body: Option<&Json>,
) -> Reply {
    let patch = body.map(|_| Patch::Merge);
    let sent = Instant::now();
    let reply = shared
        .api
        .send(method, path, body, patch, REQUEST_TIMEOUT)
        .await;
    let sample = Sample {
        scheduled: sent,
        sent,
        done: Instant::now(),
        outcome: reply.outcome,
        retry_after: reply.retry_after,
        flow_schema: reply.flow_schema.clone(),
        priority_level: reply.priority_level.clone(),
        retries: 0,
        retried: Vec::new(),
        throttled_for: Duration::ZERO,
    };
    lock(&shared.stats)[index].record(shared.run_start, &sample);
    reply
}

fn refusal(reply: &Reply) -> String {
    describe_reply(reply.outcome, reply)
}

#[derive(Debug, PartialEq)]
enum Progress {
    Complete,
    /// Why it is not complete yet, in `kubectl rollout status`'s terms.
    Waiting(String),
    Failed(String),
}

/// Whether a Deployment has rolled out, by the conditions `kubectl rollout
/// status` checks: the controller saw the new generation, every replica is
/// updated, no old one remains, and all updated ones are ready and available.
fn progress(deployment: &Json) -> Progress {
    let number = |pointer: &str| deployment.pointer(pointer).and_then(Json::as_i64);
    let conditions = deployment
        .pointer("/status/conditions")
        .and_then(Json::as_array)
        .map_or(&[][..], Vec::as_slice);
    let deadline_exceeded = conditions
        .iter()
        .any(|c| c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded");
    if deadline_exceeded {
        return Progress::Failed("its progress deadline was exceeded".to_string());
    }
    let generation = number("/metadata/generation").unwrap_or(0);
    let observed = number("/status/observedGeneration").unwrap_or(0);
    if observed < generation {
        return Progress::Waiting("the controller has not seen the new template yet".to_string());
    }
    let wanted = number("/spec/replicas").unwrap_or(1);
    let updated = number("/status/updatedReplicas").unwrap_or(0);
    let replicas = number("/status/replicas").unwrap_or(0);
    let ready = number("/status/readyReplicas").unwrap_or(0);
    let available = number("/status/availableReplicas").unwrap_or(0);
    if updated < wanted {
        return Progress::Waiting(format!("{updated} of {wanted} replicas updated"));
    }
    if replicas > updated {
        return Progress::Waiting(format!(
            "{} old replicas are pending termination",
            replicas - updated
        ));
    }
    if ready < updated || available < updated {
        return Progress::Waiting(format!(
            "{available} of {updated} updated replicas available, {ready} ready"
        ));
    }
    Progress::Complete
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(generation: i64, status: Json) -> Json {
        json!({"metadata": {"generation": generation}, "spec": {"replicas": 3}, "status": status})
    }

    #[test]
    fn complete_only_when_every_replica_is_new_ready_and_available() {
        let done = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3});
        assert_eq!(progress(&deployment(2, done.clone())), Progress::Complete);
        assert!(
            matches!(progress(&deployment(3, done)), Progress::Waiting(w) if w.contains("not seen"))
        );
        let surging = json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3});
        assert_eq!(
            progress(&deployment(2, surging)),
            Progress::Waiting("1 old replicas are pending termination".to_string())
        );
        let halfway = json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3});
        assert_eq!(
            progress(&deployment(2, halfway)),
            Progress::Waiting("2 of 3 replicas updated".to_string())
        );
        let unready = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2});
        assert!(
            matches!(progress(&deployment(2, unready)), Progress::Waiting(w) if w.contains("2 of 3 updated replicas available"))
        );
        let stuck = json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]});
        assert!(matches!(
            progress(&deployment(2, stuck)),
            Progress::Failed(_)
        ));
    }
}
