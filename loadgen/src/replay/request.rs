//! What to send for a recorded write: the same verb on the same resource in
//! the sandbox namespace, with the recorded body made fit to send again
//! (server-set fields dropped, the run's label added). A write recorded
//! without its body (policy level Metadata) is sent as the same verb on a
//! synthetic ConfigMap named after the object and its resource, and counted
//! apart; so is the delete of an object only ever written that way.

use http::Method;
use serde_json::{json, Map, Value as Json};

use super::audit::Recorded;
use super::report::Key;
use crate::api::Patch;
use crate::manifest::RUN_ID_LABEL;

pub struct Call {
    pub key: Key,
    pub method: Method,
    pub path: String,
    pub body: Option<Json>,
    pub patch: Option<Patch>,
}

/// Metadata the server sets, which a replayed body must not carry.
const SERVER_SET: &[&str] = &[
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "generation",
    "deletionTimestamp",
    "ownerReferences",
];

/// `synthetic_target`: every write of the object with a body was recorded
/// without it, so it lives in the sandbox as a synthetic ConfigMap.
pub fn build(recorded: &Recorded, namespace: &str, run_id: &str, synthetic_target: bool) -> Call {
    let synthetic = recorded.body.is_none() && (recorded.verb != "delete" || synthetic_target);
    let key = Key {
        verb: recorded.verb.clone(),
        resource: match &recorded.subresource {
            Some(sub) => format!("{}/{sub}", recorded.resource),
            None => recorded.resource.clone(),
        },
        synthetic,
    };
    let (group_version, resource, subresource) = if synthetic {
        ("api/v1".to_string(), "configmaps", None)
    } else {
        let group_version = if recorded.api_group.is_empty() {
            format!("api/{}", recorded.api_version)
        } else {
            format!("apis/{}/{}", recorded.api_group, recorded.api_version)
        };
        (
            group_version,
            recorded.resource.as_str(),
            recorded.subresource.as_deref(),
        )
    };
    let collection = format!("/{group_version}/namespaces/{namespace}/{resource}");
    let name = match (synthetic, &recorded.name) {
        (true, _) => synthetic_name(recorded),
        (false, name) => name.clone().unwrap_or_default(),
    };
    let object = match subresource {
        Some(sub) => format!("{collection}/{name}/{sub}"),
        None => format!("{collection}/{name}"),
    };
    let body = match (&recorded.body, synthetic) {
        (_, true) if recorded.verb == "delete" => None,
        (_, true) => Some(synthetic_body(recorded, namespace, run_id)),
        (Some(body), false) if recorded.verb == "patch" => Some(body.clone()),
        (Some(body), false) => Some(fit_to_send(body, namespace, run_id)),
        (None, false) => None,
    };
    let (method, path, patch) = match recorded.verb.as_str() {
        "create" if subresource.is_none() => (Method::POST, collection, None),
        "create" => (Method::POST, object, None),
        "update" => (Method::PUT, object, None),
        "patch" if body.as_ref().is_some_and(Json::is_array) => {
            (Method::PATCH, object, Some(Patch::Json))
        }
        "patch" => (Method::PATCH, object, Some(Patch::Merge)),
        "deletecollection" => (Method::DELETE, collection, None),
        _ => (Method::DELETE, object, None),
    };
    let body = match (recorded.verb.as_str(), synthetic) {
        ("patch", true) => Some(json!({"metadata": {"labels": {RUN_ID_LABEL: run_id}}})),
        _ => body,
    };
    Call {
        key,
        method,
        path,
        body,
        patch,
    }
}

/// A recorded object made fit to create or write again in the sandbox.
pub fn fit_to_send(body: &Json, namespace: &str, run_id: &str) -> Json {
    let mut body = body.clone();
    if let Some(metadata) = body.get_mut("metadata").and_then(Json::as_object_mut) {
        for field in SERVER_SET {
            metadata.remove(*field);
        }
        metadata.insert("namespace".to_string(), json!(namespace));
        let labels = metadata
            .entry("labels")
            .or_insert_with(|| Json::Object(Map::new()));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(RUN_ID_LABEL.to_string(), json!(run_id));
        }
    }
    if let Some(object) = body.as_object_mut() {
        object.remove("status");
    }
    body
}

/// `web.deployments`: objects of different resources that share a name
/// stay apart as ConfigMaps.
fn synthetic_name(recorded: &Recorded) -> String {
    let mut name = match &recorded.name {
        Some(name) => format!("{name}.{}", recorded.resource),
        None => format!("replayed-{}", recorded.line),
    };
    name.truncate(253);
    name.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

pub fn synthetic_body(recorded: &Recorded, namespace: &str, run_id: &str) -> Json {
    let name = synthetic_name(recorded);
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {RUN_ID_LABEL: run_id}},
        "data": {"replays": format!("{} {}", recorded.verb, recorded.resource)},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_writes_go_to_the_sandbox_with_server_fields_dropped() {
        let body = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "42", "uid": "u"},
            "spec": {"replicas": 3}, "status": {"replicas": 3}});
        let update = build(
            &Recorded::example("update", Some(body)),
            "replay-x-shop",
            "x",
            false,
        );
        assert_eq!(update.method, Method::PUT);
        assert_eq!(
            update.path,
            "/apis/apps/v1/namespaces/replay-x-shop/deployments/web"
        );
        let sent = update.body.unwrap();
        assert_eq!(sent["metadata"]["namespace"], "replay-x-shop");
        assert_eq!(sent["metadata"]["labels"][RUN_ID_LABEL], "x");
        assert!(sent["metadata"].get("resourceVersion").is_none() && sent.get("status").is_none());
        assert!(!update.key.synthetic);

        let create = build(
            &Recorded::example("create", Some(json!({"metadata": {}}))),
            "s",
            "x",
            false,
        );
        assert_eq!(
            (create.method, create.path.as_str()),
            (Method::POST, "/apis/apps/v1/namespaces/s/deployments")
        );

        let json_patch = build(
            &Recorded::example("patch", Some(json!([{"op": "add"}]))),
            "s",
            "x",
            false,
        );
        assert_eq!(json_patch.patch, Some(Patch::Json));
        let delete = build(&Recorded::example("delete", None), "s", "x", false);
        assert_eq!(
            (delete.method, delete.body, delete.key.synthetic),
            (Method::DELETE, None, false)
        );
    }

    #[test]
    fn a_write_recorded_without_its_body_is_sent_on_a_synthetic_configmap() {
        let call = build(&Recorded::example("create", None), "s", "x", true);
        assert!(call.key.synthetic);
        assert_eq!(call.key.resource, "deployments");
        assert_eq!(call.path, "/api/v1/namespaces/s/configmaps");
        assert_eq!(call.body.unwrap()["metadata"]["name"], "web.deployments");
        let patch = build(&Recorded::example("patch", None), "s", "x", true);
        assert_eq!(
            patch.path,
            "/api/v1/namespaces/s/configmaps/web.deployments"
        );
        assert_eq!(patch.patch, Some(Patch::Merge));
        let delete = build(&Recorded::example("delete", None), "s", "x", true);
        assert_eq!(
            (delete.path.as_str(), delete.key.synthetic),
            ("/api/v1/namespaces/s/configmaps/web.deployments", true)
        );
    }
}
