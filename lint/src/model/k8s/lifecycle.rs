//! What a container's `preStop` hook does, read from the pod spec.

use crate::model::parse::shell::{self, Origin};
use crate::model::parse::yaml::Node;

#[derive(Debug, Clone, PartialEq)]
pub enum PreStop<'a> {
    /// No preStop hook at all.
    Missing,
    /// A sleep: the native `sleep` action, or an exec hook that sleeps.
    /// `seconds` is `None` when the length is not a literal (`sleep $DELAY`).
    Sleep {
        seconds: Option<f64>,
        node: &'a Node,
    },
    /// A hook that runs something else, such as a drain endpoint.
    Other,
}

const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "busybox"];

/// Reads `lifecycle.preStop` of a container.
pub fn pre_stop(container: &Node) -> PreStop<'_> {
    let Some(hook) = container
        .at(&["lifecycle", "preStop"])
        .filter(|h| !h.is_null())
    else {
        return PreStop::Missing;
    };
    if let Some(seconds) = hook.at(&["sleep", "seconds"]) {
        return PreStop::Sleep {
            seconds: seconds.int().map(|s| s as f64),
            node: seconds,
        };
    }
    let Some(command) = hook.at(&["exec", "command"]) else {
        return PreStop::Other;
    };
    let argv: Vec<&str> = command.items().iter().filter_map(Node::str).collect();
    match exec_sleep_seconds(&argv) {
        Some(seconds) => PreStop::Sleep {
            seconds,
            node: command,
        },
        None => PreStop::Other,
    }
}

/// `Some(length)` when the command sleeps: `["sleep", "15"]`,
/// `["/bin/sh", "-c", "sleep 15 && nginx -s quit"]`.
fn exec_sleep_seconds(argv: &[&str]) -> Option<Option<f64>> {
    let program = basename(argv.first()?);
    if program == "sleep" {
        return Some(argv.get(1).and_then(|a| parse_duration(a)));
    }
    if SHELLS.contains(&program) {
        let script_at = argv
            .iter()
            .position(|a| a.starts_with('-') && a.contains('c'))?
            + 1;
        let script = argv.get(script_at)?;
        return shell::commands(script, Origin::FILE_START, false)
            .iter()
            .find(|words| words.first().is_some_and(|w| basename(&w.text) == "sleep"))
            .map(|words| words.get(1).and_then(|w| parse_duration(&w.text)));
    }
    None
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `sleep`'s argument: seconds with an optional `s`, `m`, `h` or `d` suffix.
pub fn parse_duration(text: &str) -> Option<f64> {
    let (number, unit) = match text.char_indices().last()? {
        (i, 's') => (&text[..i], 1.0),
        (i, 'm') => (&text[..i], 60.0),
        (i, 'h') => (&text[..i], 3600.0),
        (i, 'd') => (&text[..i], 86400.0),
        _ => (text, 1.0),
    };
    number
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n * unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::yaml::parse_documents;

    fn hook(text: &str) -> PreStop<'static> {
        let doc = Box::leak(Box::new(parse_documents(text).unwrap().remove(0)));
        pre_stop(doc)
    }

    fn seconds(text: &str) -> Option<Option<f64>> {
        match hook(text) {
            PreStop::Sleep { seconds, .. } => Some(seconds),
            _ => None,
        }
    }

    #[test]
    fn recognises_every_way_of_sleeping() {
        assert_eq!(
            seconds("lifecycle: {preStop: {sleep: {seconds: 15}}}"),
            Some(Some(15.0))
        );
        assert_eq!(
            seconds("lifecycle: {preStop: {exec: {command: [sleep, '15']}}}"),
            Some(Some(15.0))
        );
        assert_eq!(
            seconds("lifecycle: {preStop: {exec: {command: [/bin/sh, -c, 'sleep 15']}}}"),
            Some(Some(15.0))
        );
        assert_eq!(
            seconds(
                "lifecycle: {preStop: {exec: {command: [sh, -c, 'sleep 1m && nginx -s quit']}}}"
            ),
            Some(Some(60.0))
        );
        assert_eq!(
            seconds("lifecycle: {preStop: {exec: {command: [sh, -c, 'sleep $DELAY']}}}"),
            Some(None)
        );
    }

    #[test]
    fn tells_missing_from_other_hooks() {
        assert_eq!(hook("name: x"), PreStop::Missing);
        assert_eq!(
            hook("lifecycle: {postStart: {exec: {command: [x]}}}"),
            PreStop::Missing
        );
        assert_eq!(
            hook("lifecycle: {preStop: {exec: {command: [/wait-shutdown]}}}"),
            PreStop::Other
        );
        assert_eq!(
            hook("lifecycle: {preStop: {httpGet: {path: /drain, port: 8080}}}"),
            PreStop::Other
        );
        assert_eq!(
            hook("lifecycle: {preStop: {exec: {command: [sh, -c, 'nginx -s quit']}}}"),
            PreStop::Other
        );
    }
}
