//! Recognises `docker|podman|nerdctl run|create` in a command and reads its
//! options the way the engines' flag parsers do, so that rules see
//! `--memory` whether it was written `-m512m`, `-m 512m` or `--memory=512m`.

use crate::model::parse::shell::Word;
use crate::model::source::Span;

const ENGINES: &[&str] = &["docker", "podman", "nerdctl"];

/// Engine-wide flags that take a value (`docker --host x run`).
const GLOBAL_FLAGS_WITH_VALUE: &[&str] = &[
    "--config",
    "-c",
    "--context",
    "-H",
    "--host",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
    "--url",
    "--connection",
    "--root",
    "--runroot",
    "--storage-driver",
    "--storage-opt",
    "--cgroup-manager",
    "--events-backend",
    "--runtime",
    "--identity",
    "--conmon",
    "--tmpdir",
    "--module",
    "-a",
    "--address",
    "-n",
    "--namespace",
    "--snapshotter",
    "--cni-path",
    "--cni-netconfpath",
    "--data-root",
    "--hosts-dir",
    "--host-gateway-ip",
];

/// `run`/`create` flags that take no value; every other long flag does.
const BOOLEAN_FLAGS: &[&str] = &[
    "--detach",
    "--interactive",
    "--tty",
    "--rm",
    "--privileged",
    "--init",
    "--read-only",
    "--publish-all",
    "--oom-kill-disable",
    "--no-healthcheck",
    "--disable-content-trust",
    "--quiet",
    "--help",
    "--use-api-socket",
    "--replace",
    "--env-host",
    "--no-hosts",
    "--read-only-tmpfs",
    "--rootfs",
    "--http-proxy",
    "--tls-verify",
    "--sig-proxy",
    "--passwd",
];

/// Short `run` flags: the long name each stands for, and whether it takes a value.
const SHORT_FLAGS: &[(char, &str, bool)] = &[
    ('a', "--attach", true),
    ('c', "--cpu-shares", true),
    ('d', "--detach", false),
    ('e', "--env", true),
    ('h', "--hostname", true),
    ('i', "--interactive", false),
    ('l', "--label", true),
    ('m', "--memory", true),
    ('p', "--publish", true),
    ('P', "--publish-all", false),
    ('q', "--quiet", false),
    ('t', "--tty", false),
    ('u', "--user", true),
    ('v', "--volume", true),
    ('w', "--workdir", true),
];

/// Wrappers that run the command that follows them.
const PREFIX_COMMANDS: &[&str] = &[
    "exec", "sudo", "env", "nohup", "time", "command", "nice", "ionice",
];
/// Shell keywords that may stand before a command.
const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "do", "while", "until", "!", "{",
];

#[derive(Debug, Clone)]
pub struct ContainerRun {
    /// `docker`, `podman` or `nerdctl`.
    pub engine: String,
    /// `run` or `create`.
    pub subcommand: String,
    pub options: Vec<RunOption>,
    pub image: Option<Word>,
    /// The command and arguments after the image.
    pub command: Vec<Word>,
    /// The whole command, for messages that point at it.
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct RunOption {
    /// The long name, `--memory` for `-m`.
    pub name: String,
    pub value: Option<String>,
    /// The flag token itself (`--oom-kill-disable`, `-m512m`).
    pub span: Span,
}

impl ContainerRun {
    /// Reads a container run from one simple command, if it is one.
    pub fn from_command(words: &[Word]) -> Option<ContainerRun> {
        let rest = skip_prefixes(words);
        let (engine_word, rest) = rest.split_first()?;
        let engine = basename(&engine_word.text);
        if !ENGINES.contains(&engine) {
            return None;
        }
        let rest = skip_global_flags(rest);
        let rest = match rest.first().map(|w| w.text.as_str()) {
            Some("container") => &rest[1..],
            _ => rest,
        };
        let (subcommand, args) = rest.split_first()?;
        if !matches!(subcommand.text.as_str(), "run" | "create") {
            return None;
        }
        let (options, image_at) = read_options(args);
        let last = words.last().map_or(engine_word.span, |w| w.span);
        Some(ContainerRun {
            engine: engine.to_string(),
            subcommand: subcommand.text.clone(),
            options,
            image: image_at.and_then(|i| args.get(i)).cloned(),
            command: image_at.map_or(Vec::new(), |i| args[i + 1..].to_vec()),
            span: engine_word.span.to(last),
        })
    }

    /// Whether the container runs `program`: by its image, or by the
    /// command given after the image.
    pub fn runs(&self, program: &str) -> bool {
        let command: Vec<&str> = self.command.iter().map(|w| w.text.as_str()).collect();
        self.image
            .as_ref()
            .is_some_and(|i| crate::model::k8s::image_runs(&i.text, program))
            || crate::model::k8s::command_runs(&command, program)
    }

    /// The last occurrence wins, as in the engines' flag parsers.
    pub fn option(&self, name: &str) -> Option<&RunOption> {
        self.options.iter().rev().find(|o| o.name == name)
    }

    /// `--oom-kill-disable` or `--oom-kill-disable=true`, not `=false`.
    pub fn flag_enabled(&self, name: &str) -> Option<&RunOption> {
        self.option(name).filter(|o| {
            o.value
                .as_deref()
                .is_none_or(|v| !matches!(v, "false" | "0" | "False" | "FALSE"))
        })
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with('-')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// Skips `VAR=x`, `exec`, `sudo -u root`, `env -i A=b` and shell keywords.
fn skip_prefixes(mut words: &[Word]) -> &[Word] {
    loop {
        let Some(first) = words.first() else {
            return words;
        };
        let text = first.text.as_str();
        if is_assignment(text) || KEYWORDS.contains(&text) {
            words = &words[1..];
        } else if PREFIX_COMMANDS.contains(&basename(text)) {
            words = &words[1..];
            while let Some(w) = words.first() {
                if w.text.starts_with('-') {
                    let takes_value = matches!(w.text.as_str(), "-u" | "-g" | "-n" | "-c" | "-C");
                    words = &words[if takes_value { 2 } else { 1 }.min(words.len())..];
                } else {
                    break;
                }
            }
        } else {
            return words;
        }
    }
}

fn skip_global_flags(mut words: &[Word]) -> &[Word] {
    while let Some(first) = words.first() {
        let text = first.text.as_str();
        if !text.starts_with('-') {
            break;
        }
        let takes_value = !text.contains('=') && GLOBAL_FLAGS_WITH_VALUE.contains(&text);
        words = &words[if takes_value { 2 } else { 1 }.min(words.len())..];
    }
    words
}

/// The options before the image, and where the image is in `args`.
fn read_options(args: &[Word]) -> (Vec<RunOption>, Option<usize>) {
    let mut options = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let word = &args[i];
        let text = word.text.as_str();
        if text == "--" {
            return (options, (i + 1 < args.len()).then_some(i + 1));
        }
        if let Some(long) = text.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (format!("--{name}"), Some(value.to_string())),
                None if BOOLEAN_FLAGS.contains(&text) => (text.to_string(), None),
                None => {
                    i += 1;
                    (text.to_string(), args.get(i).map(|w| w.text.clone()))
                }
            };
            options.push(RunOption {
                name,
                value,
                span: word.span,
            });
        } else if let Some(shorts) = text.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (offset, c) in shorts.char_indices() {
                let Some(&(_, name, takes_value)) = SHORT_FLAGS.iter().find(|(s, _, _)| *s == c)
                else {
                    continue;
                };
                if !takes_value {
                    options.push(RunOption {
                        name: name.to_string(),
                        value: None,
                        span: word.span,
                    });
                    continue;
                }
                let attached = &shorts[offset + c.len_utf8()..];
                let value = if attached.is_empty() {
                    i += 1;
                    args.get(i).map(|w| w.text.clone())
                } else {
                    Some(attached.trim_start_matches('=').to_string())
                };
                options.push(RunOption {
                    name: name.to_string(),
                    value,
                    span: word.span,
                });
                break;
            }
        } else {
            return (options, Some(i));
        }
        i += 1;
    }
    (options, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::shell::{commands, Origin};

    fn run(text: &str) -> Option<ContainerRun> {
        let cmds = commands(text, Origin::FILE_START, false);
        cmds.iter().find_map(|c| ContainerRun::from_command(c))
    }

    #[test]
    fn reads_memory_in_every_spelling() {
        for text in [
            "docker run --memory=512M img",
            "docker run --memory 512M img",
            "docker run -m 512M img",
            "docker run -m512M img",
            "docker run -dm512M img",
        ] {
            let run = run(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(
                run.option("--memory").and_then(|o| o.value.as_deref()),
                Some("512M"),
                "{text}"
            );
            assert_eq!(
                run.image.as_ref().map(|w| w.text.as_str()),
                Some("img"),
                "{text}"
            );
        }
    }

    #[test]
    fn finds_the_engine_behind_wrappers_and_global_flags() {
        for text in [
            "exec /usr/bin/docker run img",
            "sudo -u root docker run img",
            "env -i A=b docker run img",
            "A=b B=c podman run img",
            "docker --host unix:///x.sock run img",
            "nerdctl -n k8s.io container create img",
            "if docker run img; then :; fi",
        ] {
            assert!(run(text).is_some(), "{text}");
        }
    }

    #[test]
    fn ignores_other_subcommands_and_arguments_after_the_image() {
        assert!(run("docker ps --memory=1g").is_none());
        assert!(run("echo docker run img").is_none());
        let run = run("docker run img app --memory=1g --oom-kill-disable").unwrap();
        assert!(run.option("--memory").is_none());
        assert!(run.flag_enabled("--oom-kill-disable").is_none());
    }

    #[test]
    fn oom_kill_disable_false_is_not_enabled() {
        let run = run("docker run --oom-kill-disable=false img").unwrap();
        assert!(run.flag_enabled("--oom-kill-disable").is_none());
        assert!(run.option("--oom-kill-disable").is_some());
    }
}
