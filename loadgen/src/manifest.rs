//! Object templates: manifest files with a small substitution syntax, and
//! the API paths their objects live at.
//!
//! In a template, `{{ index }}` is the object's number (0, 1, …),
//! `{{ run_id }}` the run's id, `{{ namespace }}` the run's namespace, and
//! `{{ name }}` any var of the scenario (`{{ scale }}`). In a patch,
//! `{{ now }}` is the time the request is built, which makes every patch of
//! a pod template a new rollout.

use std::collections::BTreeMap;
use std::path::Path;

use scar_yaml::{parse_documents, Node, Value};
use serde_json::{json, Map, Value as Json};

pub const RUN_ID_LABEL: &str = "scar.dev/run-id";

#[derive(Debug, Clone)]
pub struct Template {
    /// The file as written, placeholders and all.
    pub(crate) text: String,
    pub api_version: String,
    /// The plural resource name in API paths (`deployments`).
    pub resource: String,
}

/// Plural resource names of the kinds scenarios send; others are refused
/// up front rather than guessed.
const RESOURCES: &[(&str, &str)] = &[
    ("ConfigMap", "configmaps"),
    ("Secret", "secrets"),
    ("Service", "services"),
    ("ServiceAccount", "serviceaccounts"),
    ("Pod", "pods"),
    ("Deployment", "deployments"),
    ("StatefulSet", "statefulsets"),
    ("DaemonSet", "daemonsets"),
    ("ReplicaSet", "replicasets"),
    ("Job", "jobs"),
    ("CronJob", "cronjobs"),
    ("Lease", "leases"),
    ("Event", "events"),
    ("Endpoints", "endpoints"),
    ("PersistentVolumeClaim", "persistentvolumeclaims"),
];

impl Template {
    pub fn load(path: &Path) -> Result<Template, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // Substitute placeholders with a plain value to read the kind.
        let probe = substitute(&text, &|_| Some("0".to_string()));
        let docs = parse_documents(&probe)
            .map_err(|e| format!("{}:{}: {}", path.display(), e.span.line, e.message))?;
        let doc = match docs.as_slice() {
            [doc] => doc,
            _ => {
                return Err(format!(
                    "{}: a template holds exactly one object",
                    path.display()
                ))
            }
        };
        let field = |key| doc.get(key).and_then(Node::str).map(str::to_string);
        let (Some(api_version), Some(kind)) = (field("apiVersion"), field("kind")) else {
            return Err(format!(
                "{}: the object needs apiVersion and kind",
                path.display()
            ));
        };
        let resource = RESOURCES
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, r)| r.to_string())
            .ok_or_else(|| {
                let known: Vec<&str> = RESOURCES.iter().map(|(k, _)| *k).collect();
                format!(
                    "{}: kind {kind} is not one loadgen sends (it sends: {})",
                    path.display(),
                    known.join(", ")
                )
            })?;
        Ok(Template {
            text,
            api_version,
            resource,
        })
    }

    /// `/apis/apps/v1/namespaces/ns/deployments` (or `/api/v1/…` for the core group).
    pub fn collection_path(&self, namespace: &str) -> String {
        let group = if self.api_version.contains('/') {
            "apis"
        } else {
            "api"
        };
        format!(
            "/{group}/{}/namespaces/{namespace}/{}",
            self.api_version, self.resource
        )
    }

    pub fn object_path(&self, namespace: &str, name: &str) -> String {
        format!("{}/{name}", self.collection_path(namespace))
    }

    /// The object number `index`, labelled with the run id, in `namespace`.
    pub fn render(
        &self,
        index: u64,
        run_id: &str,
        namespace: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<Json, String> {
        let text = substitute(&self.text, &|name| match name {
            "index" => Some(index.to_string()),
            "run_id" => Some(run_id.to_string()),
            "namespace" => Some(namespace.to_string()),
            other => vars.get(other).cloned(),
        });
        let docs =
            parse_documents(&text).map_err(|e| format!("line {}: {}", e.span.line, e.message))?;
        let mut object = docs.first().map(to_json).ok_or("empty template")?;
        let metadata = object
            .as_object_mut()
            .ok_or("the template is not a mapping")?
            .entry("metadata")
            .or_insert_with(|| json!({}));
        let metadata = metadata
            .as_object_mut()
            .ok_or("metadata is not a mapping")?;
        metadata.insert("namespace".to_string(), json!(namespace));
        let labels = metadata.entry("labels").or_insert_with(|| json!({}));
        labels
            .as_object_mut()
            .ok_or("metadata.labels is not a mapping")?
            .insert(RUN_ID_LABEL.to_string(), json!(run_id));
        Ok(object)
    }
}

/// The name of the object number `index` of a rendered template.
pub fn object_name(object: &Json) -> Option<&str> {
    object.pointer("/metadata/name").and_then(Json::as_str)
}

/// Replaces `{{ name }}` by what `lookup` gives; unknown names stay.
pub fn substitute(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}").map(|e| e + start) else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = rest[start + 2..end].trim();
        match lookup(name) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[start..end + 2]),
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The `{{ name }}` placeholders of `text`: each name with its line and
/// column (1-based), in order.
pub fn placeholders(text: &str) -> Vec<(String, u32, u32)> {
    let mut found = Vec::new();
    for (line_index, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(start) = line[from..].find("{{").map(|s| s + from) {
            let Some(end) = line[start..].find("}}").map(|e| e + start) else {
                break;
            };
            let column = line[..start].chars().count() as u32 + 1;
            found.push((
                line[start + 2..end].trim().to_string(),
                line_index as u32 + 1,
                column,
            ));
            from = end + 2;
        }
    }
    found
}

/// Substitutes placeholders in every string of a JSON value (a patch).
pub fn substitute_json(value: &Json, lookup: &dyn Fn(&str) -> Option<String>) -> Json {
    match value {
        Json::String(s) => Json::String(substitute(s, lookup)),
        Json::Array(items) => {
            Json::Array(items.iter().map(|i| substitute_json(i, lookup)).collect())
        }
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_json(v, lookup)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A YAML tree as JSON, typing plain scalars the way Kubernetes reads them.
pub fn to_json(node: &Node) -> Json {
    match &node.value {
        Value::Scalar(s) if s.plain => {
            if node.is_null() {
                Json::Null
            } else if let Some(b) = node.bool() {
                Json::Bool(b)
            } else if let Ok(n) = s.text.parse::<i64>() {
                json!(n)
            } else if let Some(f) = s.text.parse::<f64>().ok().filter(|f| f.is_finite()) {
                json!(f)
            } else {
                Json::String(s.text.clone())
            }
        }
        Value::Scalar(s) => Json::String(s.text.clone()),
        Value::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .filter_map(|(k, v)| Some((k.str()?.to_string(), to_json(v))))
                .collect::<Map<_, _>>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_placeholders_labels_and_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cm.yaml");
        std::fs::write(&path, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{{ index }}\ndata:\n  size: \"{{ scale }}\"\n  replicas: 3\n").unwrap();
        let template = Template::load(&path).unwrap();
        let vars = BTreeMap::from([("scale".to_string(), "15".to_string())]);
        let object = template.render(7, "r1", "ns1", &vars).unwrap();
        assert_eq!(object_name(&object), Some("cm-7"));
        assert_eq!(object["metadata"]["labels"][RUN_ID_LABEL], "r1");
        assert_eq!(object["metadata"]["namespace"], "ns1");
        assert_eq!(object["data"]["size"], "15");
        assert_eq!(object["data"]["replicas"], 3);
        assert_eq!(
            template.object_path("ns1", "cm-7"),
            "/api/v1/namespaces/ns1/configmaps/cm-7"
        );
    }

    #[test]
    fn refuses_kinds_it_cannot_address() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.yaml");
        std::fs::write(
            &path,
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
        )
        .unwrap();
        assert!(Template::load(&path)
            .unwrap_err()
            .contains("not one loadgen sends"));
    }
}
