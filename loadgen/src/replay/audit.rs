//! Reading a kube-apiserver audit log (`audit.k8s.io/v1` Events, one JSON
//! object per line; plain or gzip) as a stream: the write requests of a
//! window, each once, with its recorded outcome and latency. A line that is
//! not such an event is counted with its number, never fatal.
//!
//! Lease writes (node heartbeats, leader election) are left out unless asked
//! for: a cluster sends them whatever is deployed, so the test cluster's own
//! nodes and controllers already make them, and replaying production's as
//! well would count that load twice.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value as Json;

/// A write request as the audit log recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The line of its ResponseComplete event.
    pub line: u64,
    pub verb: String,
    pub resource: String,
    pub api_group: String,
    pub api_version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub user: String,
    /// The body sent, when the policy level recorded it (Request or higher).
    pub body: Option<Json>,
    /// The object answered, when the policy level recorded it
    /// (RequestResponse): the object's state once the request was done.
    pub response: Option<Json>,
    /// Microseconds since the Unix epoch.
    pub received_us: i64,
    /// From request received to response complete.
    pub latency_us: i64,
    /// The status answered; `None` when the event has no responseStatus.
    pub code: Option<u16>,
}

#[cfg(test)]
impl Recorded {
    /// A write of Deployment shop/web by `deployer` that got a 200.
    pub fn example(verb: &str, body: Option<Json>) -> Recorded {
        Recorded {
            line: 7,
            verb: verb.to_string(),
            resource: "deployments".to_string(),
            api_group: "apps".to_string(),
            api_version: "v1".to_string(),
            namespace: Some("shop".to_string()),
            name: Some("web".to_string()),
            subresource: None,
            user: "deployer".to_string(),
            body,
            response: None,
            received_us: 0,
            latency_us: 0,
            code: Some(200),
        }
    }
}

/// The writes a replay sends by default.
pub const WRITE_VERBS: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Microseconds since the Unix epoch, inclusive.
    pub from_us: Option<i64>,
    /// Microseconds since the Unix epoch, exclusive.
    pub to_us: Option<i64>,
    pub verbs: Patterns,
    pub users: Patterns,
    pub namespaces: Patterns,
    /// Matched against `resource`, `resource/subresource` and
    /// `resource.group`.
    pub resources: Patterns,
    /// Replay lease writes too: node heartbeats and leader election.
    pub keep_leases: bool,
}

/// Include and exclude globs (`*` matches any run of characters): a value
/// is selected when it matches an include (or none is given) and no exclude.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Patterns {
    /// Whether any of the names a value goes by is selected.
    fn selects<'a>(&self, names: impl Iterator<Item = &'a str> + Clone) -> bool {
        let any = |patterns: &[String]| {
            patterns
                .iter()
                .any(|p| names.clone().any(|name| glob(p, name)))
        };
        (self.include.is_empty() || any(&self.include)) && !any(&self.exclude)
    }
}

pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// The annotation of leader election on a ConfigMap or Endpoints, before
/// Leases took over.
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

impl Filter {
    fn verdict(&self, recorded: &Recorded) -> Verdict {
        let in_window = !(self.from_us.is_some_and(|from| recorded.received_us < from)
            || self.to_us.is_some_and(|to| recorded.received_us >= to));
        if !in_window || !WRITE_VERBS.contains(&recorded.verb.as_str()) {
            return Verdict::NotSelected;
        }
        if !self.keep_leases && recorded.is_lease() {
            return Verdict::Lease;
        }
        let with_group = format!("{}.{}", recorded.resource, recorded.api_group);
        let with_subresource = recorded
            .subresource
            .as_ref()
            .map(|sub| format!("{}/{sub}", recorded.resource));
        let resources = [
            Some(recorded.resource.as_str()),
            with_subresource.as_deref(),
            (!recorded.api_group.is_empty()).then_some(with_group.as_str()),
        ];
        let selected = self.verbs.selects(std::iter::once(recorded.verb.as_str()))
            && self.users.selects(std::iter::once(recorded.user.as_str()))
            && self
                .namespaces
                .selects(recorded.namespace.iter().map(String::as_str))
            && self.resources.selects(resources.iter().flatten().copied());
        if selected {
            Verdict::Selected
        } else {
            Verdict::FilteredOut
        }
    }
}

enum Verdict {
    Selected,
    NotSelected,
    FilteredOut,
    Lease,
}

impl Recorded {
    fn is_lease(&self) -> bool {
        if self.resource == "leases" && self.api_group == "coordination.k8s.io" {
            return true;
        }
        let annotated = |object: &Option<Json>| {
            object
                .as_ref()
                .and_then(|o| o.pointer("/metadata/annotations"))
                .and_then(|a| a.get(LEADER_ANNOTATION))
                .is_some()
        };
        matches!(self.resource.as_str(), "configmaps" | "endpoints")
            && self.api_group.is_empty()
            && (annotated(&self.body) || annotated(&self.response))
    }
}

/// Why lines were not used, with the first line numbers of each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Skipped {
    /// Not JSON, or JSON that is not an Event (truncated lines among them).
    pub malformed: Vec<u64>,
    /// Events of another audit API version.
    pub other_versions: Vec<u64>,
    pub malformed_count: u64,
    pub other_versions_count: u64,
    /// Events of other stages, reads, or outside the window.
    pub not_selected: u64,
    /// Writes left out by --verb, --user, --namespace or --resource.
    pub filtered_out: u64,
    /// Lease writes: node heartbeats and leader election.
    pub leases: u64,
}

/// How many line numbers of each kind the report keeps.
const LINES_KEPT: usize = 20;

impl Skipped {
    fn note(lines: &mut Vec<u64>, count: &mut u64, line: u64) {
        *count += 1;
        if lines.len() < LINES_KEPT {
            lines.push(line);
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    api_version: Option<String>,
    kind: Option<String>,
    stage: String,
    verb: String,
    object_ref: Option<ObjectRef>,
    user: Option<User>,
    response_status: Option<Status>,
    request_object: Option<Json>,
    response_object: Option<Json>,
    request_received_timestamp: Option<String>,
    stage_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectRef {
    resource: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    api_group: Option<String>,
    api_version: Option<String>,
    subresource: Option<String>,
}

#[derive(Deserialize)]
struct User {
    username: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    code: Option<u16>,
}

/// Opens a log, gunzipping it when it starts with gzip's magic bytes.
pub fn open(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let mut file = BufReader::new(std::fs::File::open(path)?);
    let gzip = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(file)))
    } else {
        Box::new(file)
    })
}

/// Calls `on_request` for each selected write, in the order of the log,
/// holding one line at a time.
pub fn read(
    input: impl Read,
    filter: &Filter,
    mut on_request: impl FnMut(Recorded),
) -> std::io::Result<Skipped> {
    let (mut not_selected, mut filtered_out, mut leases) = (0, 0, 0);
    let mut skipped = read_events(input, |recorded| match filter.verdict(&recorded) {
        Verdict::Selected => on_request(recorded),
        Verdict::NotSelected => not_selected += 1,
        Verdict::FilteredOut => filtered_out += 1,
        Verdict::Lease => leases += 1,
    })?;
    skipped.not_selected += not_selected;
    skipped.filtered_out = filtered_out;
    skipped.leases = leases;
    Ok(skipped)
}

/// Calls `on_event` for every completed request on a resource, reads
/// included, whatever its time, in the order of the log.
pub fn read_events(
    input: impl Read,
    mut on_event: impl FnMut(Recorded),
) -> std::io::Result<Skipped> {
    let mut skipped = Skipped::default();
    let mut reader = BufReader::new(input);
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let Ok(event) = serde_json::from_str::<Event>(text) else {
            Skipped::note(&mut skipped.malformed, &mut skipped.malformed_count, number);
            continue;
        };
        if event.kind.as_deref().is_some_and(|k| k != "Event") {
            Skipped::note(&mut skipped.malformed, &mut skipped.malformed_count, number);
            continue;
        }
        if event.api_version.as_deref() != Some("audit.k8s.io/v1") {
            Skipped::note(
                &mut skipped.other_versions,
                &mut skipped.other_versions_count,
                number,
            );
            continue;
        }
        match completed(event, number) {
            Selection::Request(recorded) => on_event(*recorded),
            Selection::NotSelected => skipped.not_selected += 1,
            Selection::Malformed => {
                Skipped::note(&mut skipped.malformed, &mut skipped.malformed_count, number)
            }
        }
    }
    Ok(skipped)
}

enum Selection {
    Request(Box<Recorded>),
    NotSelected,
    Malformed,
}

fn completed(event: Event, line: u64) -> Selection {
    // One request appears once per stage; ResponseComplete carries the
    // outcome and both timestamps.
    if event.stage != "ResponseComplete" {
        return Selection::NotSelected;
    }
    let (Some(received), Some(completed)) = (
        event.request_received_timestamp.as_deref().and_then(micros),
        event.stage_timestamp.as_deref().and_then(micros),
    ) else {
        return Selection::Malformed;
    };
    let Some(object) = event.object_ref else {
        return Selection::NotSelected;
    };
    let Some(resource) = object.resource else {
        return Selection::NotSelected;
    };
    Selection::Request(Box::new(Recorded {
        line,
        verb: event.verb,
        resource,
        api_group: object.api_group.unwrap_or_default(),
        api_version: object.api_version.unwrap_or_else(|| "v1".to_string()),
        namespace: object.namespace,
        name: object.name,
        subresource: object.subresource,
        user: event.user.and_then(|u| u.username).unwrap_or_default(),
        body: event.request_object,
        response: event.response_object,
        received_us: received,
        latency_us: (completed - received).max(0),
        code: event.response_status.and_then(|s| s.code),
    }))
}

/// An RFC 3339 time as microseconds since the Unix epoch.
pub fn micros(text: &str) -> Option<i64> {
    let timestamp: jiff::Timestamp = text.parse().ok()?;
    Some(timestamp.as_microsecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(stage: &str, verb: &str, received: &str, done: &str, extra: &str) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"{stage}","requestURI":"/api/v1/namespaces/shop/configmaps","verb":"{verb}","user":{{"username":"ci"}},"objectRef":{{"resource":"configmaps","namespace":"shop","name":"cm","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":201}},"requestReceivedTimestamp":"{received}","stageTimestamp":"{done}"{extra}}}"#
        )
    }

    #[test]
    fn keeps_each_write_once_and_counts_what_it_cannot_read_with_its_line() {
        let log = [
            event(
                "RequestReceived",
                "create",
                "2026-11-27T10:00:00.000000Z",
                "2026-11-27T10:00:00.000000Z",
                "",
            ),
            event(
                "ResponseComplete",
                "create",
                "2026-11-27T10:00:00.000000Z",
                "2026-11-27T10:00:00.012500Z",
                r#","requestObject":{"kind":"ConfigMap"}"#,
            ),
            event(
                "ResponseComplete",
                "get",
                "2026-11-27T10:00:01Z",
                "2026-11-27T10:00:01.001Z",
                "",
            ),
            r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseCo"#.to_string(),
            event(
                "ResponseComplete",
                "patch",
                "2026-11-27T10:00:02Z",
                "2026-11-27T10:00:02.003Z",
                "",
            )
            .replace("audit.k8s.io/v1", "audit.k8s.io/v1beta1"),
            "not json".to_string(),
            event(
                "ResponseComplete",
                "delete",
                "2026-11-27T10:00:05Z",
                "2026-11-27T10:00:05.002Z",
                "",
            ),
        ]
        .join("\n");
        let mut seen = Vec::new();
        let skipped = read(log.as_bytes(), &Filter::default(), |r| seen.push(r)).unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[0].line, seen[0].verb.as_str()), (2, "create"));
        assert_eq!(seen[0].latency_us, 12_500);
        assert_eq!(seen[0].code, Some(201));
        assert_eq!(seen[0].user, "ci");
        assert_eq!(seen[0].body, Some(serde_json::json!({"kind": "ConfigMap"})));
        assert_eq!((seen[1].line, seen[1].body.clone()), (7, None));
        assert_eq!(skipped.malformed, vec![4, 6]);
        assert_eq!(skipped.other_versions, vec![5]);
        assert_eq!(skipped.not_selected, 2);

        let window = Filter {
            from_us: micros("2026-11-27T10:00:01Z"),
            to_us: micros("2026-11-27T10:00:05Z"),
            ..Filter::default()
        };
        let mut none = Vec::new();
        read(log.as_bytes(), &window, |r| none.push(r)).unwrap();
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn globs_match_whole_names_with_stars_anywhere() {
        assert!(glob("system:node:*", "system:node:n1"));
        assert!(glob("*controller*", "system:kube-controller-manager"));
        assert!(glob("deployments", "deployments"));
        assert!(!glob("deploy", "deployments"));
        assert!(!glob("*-b", "a-b-c"));
        assert!(glob("a*c*e", "abcde"));
    }

    fn write(
        user: &str,
        resource: &str,
        group: &str,
        namespace: &str,
        body: Option<Json>,
    ) -> Recorded {
        Recorded {
            user: user.to_string(),
            resource: resource.to_string(),
            api_group: group.to_string(),
            namespace: Some(namespace.to_string()),
            ..Recorded::example("update", body)
        }
    }

    #[test]
    fn leases_are_left_out_unless_kept_and_patterns_include_then_exclude() {
        let filter = Filter::default();
        let lease = write(
            "system:node:n1",
            "leases",
            "coordination.k8s.io",
            "kube-node-lease",
            None,
        );
        assert!(matches!(filter.verdict(&lease), Verdict::Lease));
        let leader = json!({"metadata": {"annotations": {LEADER_ANNOTATION: "{}"}}});
        let legacy = write("kcm", "endpoints", "", "kube-system", Some(leader));
        assert!(matches!(filter.verdict(&legacy), Verdict::Lease));
        let keep = Filter {
            keep_leases: true,
            ..Filter::default()
        };
        assert!(matches!(keep.verdict(&lease), Verdict::Selected));

        let argo = write(
            "system:serviceaccount:argocd:app",
            "deployments",
            "apps",
            "shop",
            None,
        );
        let by = |patterns: Patterns| Filter {
            users: patterns,
            ..Filter::default()
        };
        let include = |p: &[&str]| Patterns {
            include: p.iter().map(|s| s.to_string()).collect(),
            exclude: Vec::new(),
        };
        let exclude = |p: &[&str]| Patterns {
            include: Vec::new(),
            exclude: p.iter().map(|s| s.to_string()).collect(),
        };
        assert!(matches!(
            by(include(&["system:serviceaccount:argocd:*"])).verdict(&argo),
            Verdict::Selected
        ));
        assert!(matches!(
            by(exclude(&["system:serviceaccount:*"])).verdict(&argo),
            Verdict::FilteredOut
        ));
        assert!(matches!(
            by(include(&["ci"])).verdict(&argo),
            Verdict::FilteredOut
        ));
        let resources = |patterns: Patterns| Filter {
            resources: patterns,
            ..Filter::default()
        };
        for name in ["deployments", "deployments.apps", "deploy*"] {
            assert!(
                matches!(
                    resources(include(&[name])).verdict(&argo),
                    Verdict::Selected
                ),
                "{name}"
            );
        }
        assert!(matches!(
            resources(include(&["deployments.extensions"])).verdict(&argo),
            Verdict::FilteredOut
        ));
        let namespaces = Filter {
            namespaces: exclude(&["kube-*"]),
            ..Filter::default()
        };
        assert!(matches!(namespaces.verdict(&argo), Verdict::Selected));
    }

    #[test]
    fn reads_gzip_the_same_as_plain_text() {
        use std::io::Write;
        let line = event(
            "ResponseComplete",
            "update",
            "2026-11-27T10:00:00Z",
            "2026-11-27T10:00:00.004Z",
            "",
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(line.as_bytes()).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let mut seen = Vec::new();
        read(open(&path).unwrap(), &Filter::default(), |r| seen.push(r)).unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].verb, "update");
    }
}
