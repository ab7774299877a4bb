//! Running the release binary from benchmarks with its peak memory.

use std::process::Command;
use std::time::{Duration, Instant};

/// Wall time and peak resident memory (KiB) of `command`, its output
/// discarded. wait4 reaps the child and reports its own peak memory, which
/// `Child::wait` cannot; the child is waited for, by pid.
#[allow(clippy::zombie_processes)]
pub fn run_measured(command: &mut Command) -> (Duration, u64, i32) {
    let started = Instant::now();
    let child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("scar starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid, and wait4 fills it for our child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, once; `child` is not waited for again.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "scar ran");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (started.elapsed(), usage.ru_maxrss as u64, code)
}
