//! Before the window starts, the sandbox holds what the window's writes
//! expect to find. A patch, update or delete of an object that existed
//! before the window would otherwise get a 404, and a 404 never reaches
//! etcd: the replay would measure nothing and call it capacity.
//!
//! Each such object is created first, from the latest state the log
//! recorded before its first write (a `responseObject`, or the body of a
//! create or update), else from the first write itself when that is a full
//! update, else as a minimal stand-in of its kind. Objects only ever
//! written without a body (policy level Metadata) are created as the
//! synthetic ConfigMaps their writes go to. An object production did not
//! have either (its first write got a 404 then) is left missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use http::Method;
use serde_json::{json, Value as Json};
use tokio::sync::watch;

use super::audit::{self, Filter, Recorded};
use super::request::{fit_to_send, synthetic_body};
use crate::api::{Api, Outcome};
use crate::runner::RequestLog;

/// An object as the window's writes name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub namespace: String,
    pub api_group: String,
    pub resource: String,
    pub name: String,
}

impl Target {
    pub fn of(recorded: &Recorded) -> Option<Target> {
        Some(Target {
            namespace: recorded.namespace.clone()?,
            api_group: recorded.api_group.clone(),
            resource: recorded.resource.clone(),
            name: recorded.name.clone()?,
        })
    }
}

/// What the first pass over the window found.
pub struct Plan {
    pub namespaces: BTreeSet<String>,
    /// When the first write of the window was received, µs since the epoch.
    pub first_us: i64,
    /// Objects only ever written without a body.
    pub synthetic_targets: BTreeSet<Target>,
    /// Each object's first write in the window, by arrival.
    first_writes: BTreeMap<Target, Recorded>,
}

/// The first pass: namespaces, the window's start, and each object's first
/// write.
pub fn plan(log: &Path, filter: &Filter) -> Result<Plan, String> {
    let input = audit::open(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut plan = Plan {
        namespaces: BTreeSet::new(),
        first_us: i64::MAX,
        synthetic_targets: BTreeSet::new(),
        first_writes: BTreeMap::new(),
    };
    let mut with_body = BTreeSet::new();
    let mut without_body = BTreeSet::new();
    audit::read(input, filter, |mut recorded| {
        plan.first_us = plan.first_us.min(recorded.received_us);
        let Some(namespace) = &recorded.namespace else {
            return;
        };
        plan.namespaces.insert(namespace.clone());
        let Some(target) = Target::of(&recorded) else {
            return;
        };
        if recorded.verb != "delete" {
            match recorded.body {
                Some(_) => with_body.insert(target.clone()),
                None => without_body.insert(target.clone()),
            };
        }
        let earlier = plan
            .first_writes
            .get(&target)
            .is_some_and(|first| first.received_us <= recorded.received_us);
        if !earlier {
            // Only a full update's body can stand for the object; what the
            // server answered is read again, for the objects needed only.
            if recorded.verb != "update" || recorded.subresource.is_some() {
                recorded.body = None;
            }
            recorded.response = None;
            plan.first_writes.insert(target, recorded);
        }
    })
    .map_err(|e| format!("{}: {e}", log.display()))?;
    if plan.first_us == i64::MAX {
        return Err(format!(
            "{}: no write request to replay in the window (see --from, --to, --verb, --user, --namespace, --resource)",
            log.display()
        ));
    }
    plan.synthetic_targets = without_body.difference(&with_body).cloned().collect();
    Ok(plan)
}

impl Plan {
    /// Objects whose first write in the window needs them to exist, and
    /// production had them (the write did not get a 404 there).
    fn needed(&self) -> impl Iterator<Item = (&Target, &Recorded)> {
        self.first_writes.iter().filter(|(_, first)| {
            !(first.verb == "create" && first.subresource.is_none()) && first.code != Some(404)
        })
    }
}

/// An object to create before the window, in its sandbox namespace.
pub struct Seed {
    pub target: Target,
    pub path: String,
    pub body: Json,
}

/// What setup did besides creating namespaces.
#[derive(Debug, Default)]
pub struct Seeded {
    pub created: u64,
    /// Objects the window writes that could not be made: no recorded state
    /// and no stand-in of their kind, or the server refused them.
    pub missing: Vec<(Target, String)>,
}

/// The second pass, when objects are needed: their latest recorded state
/// before their first write; then the seeds, in the sandbox namespaces.
pub fn seeds(
    log: &Path,
    plan: &Plan,
    sandboxes: &BTreeMap<String, String>,
    run_id: &str,
) -> Result<(Vec<Seed>, Seeded), String> {
    let real: BTreeMap<&Target, i64> = plan
        .needed()
        .filter(|(target, _)| !plan.synthetic_targets.contains(target))
        .map(|(target, first)| (target, first.received_us))
        .collect();
    let mut states: BTreeMap<Target, (i64, Json)> = BTreeMap::new();
    if !real.is_empty() {
        let input = audit::open(log).map_err(|e| format!("{}: {e}", log.display()))?;
        audit::read_events(input, |recorded| {
            let Some(target) = Target::of(&recorded) else {
                return;
            };
            let Some(first_us) = real.get(&target) else {
                return;
            };
            let whole_object = matches!(recorded.subresource.as_deref(), None | Some("status"));
            if recorded.received_us >= *first_us || !whole_object {
                return;
            }
            let later = states
                .get(&target)
                .is_none_or(|(at, _)| *at <= recorded.received_us);
            if let (true, Some(state)) = (later, recorded_state(&recorded)) {
                states.insert(target, (recorded.received_us, state));
            }
        })
        .map_err(|e| format!("{}: {e}", log.display()))?;
    }
    let mut seeds = Vec::new();
    let mut seeded = Seeded::default();
    for (target, first) in plan.needed() {
        let namespace = &sandboxes[&target.namespace];
        let (path, body) = if plan.synthetic_targets.contains(target) {
            (
                format!("/api/v1/namespaces/{namespace}/configmaps"),
                synthetic_body(first, namespace, run_id),
            )
        } else {
            let state = states
                .remove(target)
                .map(|(_, state)| state)
                .or_else(|| recorded_state(first))
                .or_else(|| stand_in(target));
            let Some(state) = state else {
                seeded.missing.push((
                    target.clone(),
                    "no recorded state, and no stand-in for its kind".to_string(),
                ));
                continue;
            };
            let mut body = fit_to_send(&state, namespace, run_id);
            body["metadata"]["name"] = json!(target.name);
            (collection(&body, namespace, &target.resource), body)
        };
        seeds.push(Seed {
            target: target.clone(),
            path,
            body,
        });
    }
    Ok((seeds, seeded))
}

/// The object a recorded request shows: what the server answered, else
/// the full body of a create or update.
fn recorded_state(recorded: &Recorded) -> Option<Json> {
    let is_object = |o: &Json| o.get("kind").is_some() && o.get("metadata").is_some();
    match (&recorded.response, &recorded.body) {
        (Some(response), _) if is_object(response) && recorded.verb != "delete" => {
            Some(response.clone())
        }
        (_, Some(body))
            if is_object(body)
                && matches!(recorded.verb.as_str(), "create" | "update")
                && recorded.subresource.is_none() =>
        {
            Some(body.clone())
        }
        _ => None,
    }
}

fn collection(object: &Json, namespace: &str, resource: &str) -> String {
    match object.get("apiVersion").and_then(Json::as_str) {
        Some(version) if version.contains('/') => {
            format!("/apis/{version}/namespaces/{namespace}/{resource}")
        }
        version => format!(
            "/api/{}/namespaces/{namespace}/{resource}",
            version.unwrap_or("v1")
        ),
    }
}

/// A container that starts anywhere and does nothing.
const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";

/// The least object of a common kind an API server accepts. Workloads get
/// no Pods (zero replicas, suspended, or a node selector nothing matches):
/// the replay loads the API server, not the nodes.
fn stand_in(target: &Target) -> Option<Json> {
    let name = &target.name;
    let labels = json!({"scar.dev/stand-in": name});
    let pod_spec = json!({"containers": [{"name": "stand-in", "image": PAUSE_IMAGE}]});
    let template = json!({"metadata": {"labels": labels}, "spec": pod_spec});
    let selector = json!({"matchLabels": labels});
    let (api_version, kind, rest) = match (target.api_group.as_str(), target.resource.as_str()) {
        ("", "configmaps") => ("v1", "ConfigMap", json!({})),
        ("", "secrets") => ("v1", "Secret", json!({})),
        ("", "serviceaccounts") => ("v1", "ServiceAccount", json!({})),
        ("", "endpoints") => ("v1", "Endpoints", json!({})),
        ("", "services") => (
            "v1",
            "Service",
            json!({"spec": {"ports": [{"port": 80}], "selector": labels}}),
        ),
        ("", "pods") => (
            "v1",
            "Pod",
            json!({"spec": {"containers": pod_spec["containers"], "nodeSelector": {"scar.dev/stand-in": "no-node"}}}),
        ),
        ("apps", "deployments") => (
            "apps/v1",
            "Deployment",
            json!({"spec": {"replicas": 0, "selector": selector, "template": template}}),
        ),
        ("apps", "replicasets") => (
            "apps/v1",
            "ReplicaSet",
            json!({"spec": {"replicas": 0, "selector": selector, "template": template}}),
        ),
        ("apps", "statefulsets") => (
            "apps/v1",
            "StatefulSet",
            json!({"spec": {"replicas": 0, "serviceName": name, "selector": selector, "template": template}}),
        ),
        ("apps", "daemonsets") => {
            let mut template = template.clone();
            template["spec"]["nodeSelector"] = json!({"scar.dev/stand-in": "no-node"});
            (
                "apps/v1",
                "DaemonSet",
                json!({"spec": {"selector": selector, "template": template}}),
            )
        }
        ("batch", "jobs") => {
            let mut template = template.clone();
            template["spec"]["restartPolicy"] = json!("Never");
            (
                "batch/v1",
                "Job",
                json!({"spec": {"suspend": true, "template": template}}),
            )
        }
        ("coordination.k8s.io", "leases") => ("coordination.k8s.io/v1", "Lease", json!({})),
        ("policy", "poddisruptionbudgets") => (
            "policy/v1",
            "PodDisruptionBudget",
            json!({"spec": {"maxUnavailable": 1, "selector": selector}}),
        ),
        ("rbac.authorization.k8s.io", "roles") => {
            ("rbac.authorization.k8s.io/v1", "Role", json!({"rules": []}))
        }
        _ => return None,
    };
    let mut object = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "labels": {"scar.dev/stand-in": name}},
    });
    if let (Some(object), Some(rest)) = (object.as_object_mut(), rest.as_object()) {
        object.extend(rest.clone());
    }
    Some(object)
}

/// Seeds created at once at most.
const SEEDS_IN_FLIGHT: usize = 16;
/// Tries per seed when the server answers 429, a 5xx or not at all.
const SEED_TRIES: u32 = 4;

/// Creates the seeds; every request is counted in `log`. A seed the server
/// refuses is reported, not fatal: its writes will show what they get.
pub async fn create(
    api: &Api,
    seeds: Vec<Seed>,
    stop: &watch::Receiver<bool>,
    log: &mut RequestLog,
    seeded: &mut Seeded,
) {
    let mut created = futures::stream::iter(seeds)
        .map(|seed| async move {
            let mut outcomes = Vec::new();
            for _ in 0..SEED_TRIES {
                if *stop.borrow() {
                    break;
                }
                let reply = api
                    .send(
                        Method::POST,
                        &seed.path,
                        Some(&seed.body),
                        None,
                        Duration::from_secs(30),
                    )
                    .await;
                outcomes.push(reply.outcome);
                let retry = matches!(
                    reply.outcome,
                    Outcome::Status(429 | 500 | 503 | 504)
                        | Outcome::ConnectionError
                        | Outcome::Timeout
                );
                if !retry {
                    break;
                }
                let wait = reply.retry_after.unwrap_or(1).min(5);
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
            (seed.target, outcomes)
        })
        .buffer_unordered(SEEDS_IN_FLIGHT);
    while let Some((target, outcomes)) = created.next().await {
        for outcome in &outcomes {
            log.record(*outcome);
        }
        match outcomes.last() {
            Some(Outcome::Status(200..=299)) => seeded.created += 1,
            Some(Outcome::Status(code)) => seeded.missing.push((target, format!("got {code}"))),
            Some(Outcome::ConnectionError) => {
                seeded.missing.push((target, "no connection".to_string()))
            }
            Some(Outcome::Timeout) => seeded.missing.push((target, "timed out".to_string())),
            None => seeded.missing.push((target, "interrupted".to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        at_s: i64,
        verb: &str,
        resource: &str,
        name: &str,
        body: Json,
        response: Json,
    ) -> String {
        let group = if resource == "deployments" {
            "apps"
        } else {
            ""
        };
        let time = |s: i64| {
            jiff::Timestamp::from_second(1_795_000_000 + s)
                .unwrap()
                .to_string()
        };
        json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
            "verb": verb, "user": {"username": "argocd"},
            "objectRef": {"resource": resource, "apiGroup": group, "namespace": "shop", "name": name},
            "responseStatus": {"code": 200},
            "requestObject": body, "responseObject": response,
            "requestReceivedTimestamp": time(at_s), "stageTimestamp": time(at_s)})
        .to_string()
    }

    fn deployment(replicas: u64) -> Json {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "5"},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas}})
    }

    #[test]
    fn an_object_is_seeded_from_its_latest_state_before_its_first_write() {
        let null = Json::Null;
        let log = [
            event(0, "get", "deployments", "web", null.clone(), deployment(2)),
            // Written in completion order: a later line can be an earlier request.
            event(20, "get", "deployments", "web", null.clone(), deployment(3)),
            event(10, "get", "deployments", "web", null.clone(), deployment(9)),
            event(
                60,
                "patch",
                "deployments",
                "web",
                json!({"spec": {"replicas": 4}}),
                null.clone(),
            ),
            event(70, "get", "deployments", "web", null.clone(), deployment(4)),
            event(
                61,
                "create",
                "configmaps",
                "new",
                json!({"kind": "ConfigMap", "metadata": {"name": "new"}}),
                null.clone(),
            ),
            event(
                62,
                "patch",
                "configmaps",
                "new",
                json!({"data": {}}),
                null.clone(),
            ),
            event(
                63,
                "patch",
                "configmaps",
                "meta",
                null.clone(),
                null.clone(),
            ),
        ]
        .join("\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, log).unwrap();
        let filter = Filter {
            from_us: Some(1_795_000_050_000_000),
            ..Filter::default()
        };
        let plan = plan(&path, &filter).unwrap();
        let sandboxes = BTreeMap::from([("shop".to_string(), "replay-r-shop".to_string())]);
        let (seeds, seeded) = seeds(&path, &plan, &sandboxes, "r").unwrap();
        assert!(seeded.missing.is_empty());
        let names: Vec<(&str, &str)> = seeds
            .iter()
            .map(|s| (s.target.name.as_str(), s.path.as_str()))
            .collect();
        // `new` is created by the window itself; `meta` was only written
        // without a body, so it is its synthetic ConfigMap.
        assert_eq!(
            names,
            [
                ("meta", "/api/v1/namespaces/replay-r-shop/configmaps"),
                ("web", "/apis/apps/v1/namespaces/replay-r-shop/deployments"),
            ]
        );
        assert_eq!(seeds[0].body["metadata"]["name"], "meta.configmaps");
        let web = &seeds[1].body;
        assert_eq!(
            web["spec"]["replicas"], 3,
            "the state at 20 s is the latest before 60 s"
        );
        assert_eq!(web["metadata"]["namespace"], "replay-r-shop");
        assert_eq!(web["metadata"]["labels"]["scar.dev/run-id"], "r");
        assert!(web["metadata"].get("resourceVersion").is_none() && web.get("status").is_none());
    }

    #[test]
    fn stand_ins_run_nothing_and_unknown_kinds_have_none() {
        let target = |group: &str, resource: &str| Target {
            namespace: "shop".to_string(),
            api_group: group.to_string(),
            resource: resource.to_string(),
            name: "web".to_string(),
        };
        let deployment = stand_in(&target("apps", "deployments")).unwrap();
        assert_eq!(deployment["kind"], "Deployment");
        assert_eq!(deployment["spec"]["replicas"], 0);
        assert_eq!(deployment["metadata"]["name"], "web");
        assert_eq!(
            deployment["spec"]["selector"]["matchLabels"],
            deployment["spec"]["template"]["metadata"]["labels"]
        );
        assert_eq!(
            stand_in(&target("batch", "jobs")).unwrap()["spec"]["suspend"],
            true
        );
        assert!(stand_in(&target("example.com", "widgets")).is_none());
        assert_eq!(
            collection(&deployment, "replay-x-shop", "deployments"),
            "/apis/apps/v1/namespaces/replay-x-shop/deployments"
        );
        let configmap = stand_in(&target("", "configmaps")).unwrap();
        assert_eq!(
            collection(&configmap, "s", "configmaps"),
            "/api/v1/namespaces/s/configmaps"
        );
    }
}
