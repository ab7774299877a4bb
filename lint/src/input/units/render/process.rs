//! Running a renderer: found on PATH, bounded in time, its output kept.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

pub struct Finished {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub enum RunError {
    TimedOut(Duration),
    CannotStart(std::io::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::TimedOut(limit) => {
                write!(
                    f,
                    "did not finish within {}s and was stopped",
                    limit.as_secs()
                )
            }
            RunError::CannotStart(err) => write!(f, "could not be started: {err}"),
        }
    }
}

/// Go's garbage collector target for the renderers (helm, kustomize):
/// they run for a fraction of a second on a small live heap, and at Go's
/// default of 100 a good part of their time goes to collecting. At 400 a
/// render takes 15 to 33 % less time for a few megabytes more memory
/// (README, "Speed"). A GOGC the user set is kept.
const GO_COLLECTOR_TARGET: &str = "400";

/// Runs `command` to the end, or kills it once `timeout` has passed.
pub fn run(command: &mut Command, timeout: Duration) -> Result<Finished, RunError> {
    let started = Instant::now();
    let chosen = command.get_envs().any(|(name, _)| name == "GOGC");
    if !chosen && std::env::var_os("GOGC").is_none() {
        command.env("GOGC", GO_COLLECTOR_TARGET);
    }
    // Its own process group, so that a timeout stops the tools it starts
    // too (kustomize runs helm for `helmCharts:`).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(RunError::CannotStart)?;
    // Both pipes drain on their own threads so that a chatty tool never
    // blocks on a full pipe while we wait for it. The end of stdout is the
    // sign that the tool is exiting: until then we wait on that, not by
    // polling, so that a render's end is seen at once.
    let (output_ended, ended) = std::sync::mpsc::channel::<()>();
    let drain = |pipe: Option<Box<dyn Read + Send>>, ended: Option<Sender<()>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            drop(ended);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        Some(output_ended),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        None,
    );
    let _ = ended.recv_timeout(timeout.saturating_sub(started.elapsed()));
    // Then the exit itself, a moment later: polled, from a tenth of a
    // millisecond up to 2 ms for a tool that closed its output and runs on.
    let mut pause = Duration::from_micros(100);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => {
                kill_group(&mut child);
                let _ = child.wait();
                break None;
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(2));
            }
            Err(_) => break None,
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Finished {
            success: status.success(),
            stdout,
            stderr,
            elapsed: started.elapsed(),
        }),
        None => Err(RunError::TimedOut(timeout)),
    }
}

fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on a process group we created; no memory is shared.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        return;
    }
    let _ = child.kill();
}

/// The first executable file called `program` in the folders of PATH.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// A tool's error output folded to one readable paragraph, without the
/// log prefixes kubectl adds.
pub fn tool_message(stderr: &str) -> String {
    let text: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.strip_prefix("Error:").map_or(l, str::trim))
        .collect();
    let joined = text.join(" ");
    // kubectl: E1126 21:09:54.9 6141 run.go:72] "command failed" err="…"
    let inner = joined
        .split_once(" err=\"")
        .map_or(joined.as_str(), |(_, rest)| rest.trim_end_matches('"'));
    let mut message = inner.replace("\\\"", "\"").replace("\\'", "'");
    const LIMIT: usize = 600;
    if message.chars().count() > LIMIT {
        message = message.chars().take(LIMIT).collect::<String>() + "…";
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_a_command_that_runs_too_long_and_keeps_output_of_one_that_ends() {
        let done = run(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(!done.success);
        assert_eq!((done.stdout.trim(), done.stderr.trim()), ("out", "err"));
        let started = Instant::now();
        let slow = run(
            Command::new("sh").args(["-c", "sleep 30"]),
            Duration::from_millis(200),
        );
        assert!(matches!(slow, Err(RunError::TimedOut(_))));
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("no-such-program-scar").is_none());
    }

    #[test]
    fn renderers_collect_garbage_less_often_unless_told_otherwise() {
        let gogc = |command: &mut Command| run(command, Duration::from_secs(10)).unwrap().stdout;
        let print = || {
            let mut command = Command::new("sh");
            command.args(["-c", "printf %s \"$GOGC\""]);
            command
        };
        let from_user = std::env::var("GOGC").unwrap_or_else(|_| GO_COLLECTOR_TARGET.to_string());
        assert_eq!(gogc(&mut print()), from_user);
        assert_eq!(gogc(print().env("GOGC", "50")), "50");
    }

    #[test]
    fn folds_kubectl_log_lines_into_their_message() {
        let stderr = "E1126 21:09:54.947304    6141 run.go:72] \"command failed\" err=\"accumulating resources: 'x': not found\"\n";
        assert_eq!(
            tool_message(stderr),
            "accumulating resources: 'x': not found"
        );
        assert_eq!(tool_message("Error: boom\n"), "boom");
    }
}
