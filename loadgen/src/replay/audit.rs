//! Reading a kube-apiserver audit log (`audit.k8s.io/v1` Events, one JSON
//! object per line; plain or gzip) as a stream: the write requests of a
//! window, each once, with its recorded outcome and latency. A line that is
//! not such an event is counted with its number, never fatal.

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
    /// The body sent, when the policy level recorded it (Request or higher).
    pub body: Option<Json>,
    /// Microseconds since the Unix epoch.
    pub received_us: i64,
    /// From request received to response complete.
    pub latency_us: i64,
    /// The status answered; `None` when the event has no responseStatus.
    pub code: Option<u16>,
}

/// The writes a replay sends by default.
pub const WRITE_VERBS: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

#[derive(Debug, Clone)]
pub struct Filter {
    /// Microseconds since the Unix epoch, inclusive.
    pub from_us: Option<i64>,
    /// Microseconds since the Unix epoch, exclusive.
    pub to_us: Option<i64>,
    pub verbs: Vec<String>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            from_us: None,
            to_us: None,
            verbs: WRITE_VERBS.iter().map(|v| v.to_string()).collect(),
        }
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
    /// Events of other stages, reads, other verbs, or outside the window.
    pub not_selected: u64,
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
    response_status: Option<Status>,
    request_object: Option<Json>,
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
        match select(event, number, filter) {
            Selection::Request(recorded) => on_request(*recorded),
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

fn select(event: Event, line: u64, filter: &Filter) -> Selection {
    // One request appears once per stage; ResponseComplete carries the
    // outcome and both timestamps.
    if event.stage != "ResponseComplete" || !filter.verbs.contains(&event.verb) {
        return Selection::NotSelected;
    }
    let (Some(received), Some(completed)) = (
        event.request_received_timestamp.as_deref().and_then(micros),
        event.stage_timestamp.as_deref().and_then(micros),
    ) else {
        return Selection::Malformed;
    };
    if filter.from_us.is_some_and(|from| received < from)
        || filter.to_us.is_some_and(|to| received >= to)
    {
        return Selection::NotSelected;
    }
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
        body: event.request_object,
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
