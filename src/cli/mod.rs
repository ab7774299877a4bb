//! What the commands share: how a failure is told and which exit status
//! it gives, and writing to standard output.

pub(crate) mod lint;
pub(crate) mod loadgen;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use miette::{LabeledSpan, NamedSource};
use scar_lint::config::ConfigError;

pub(crate) const EXIT_USAGE: u8 = 2;

pub(crate) enum Failure {
    Usage(String),
    /// Every mistake in the config file.
    Config(Vec<ConfigError>),
}

/// A config error with the offending line shown, as miette renders it.
fn config_report(err: &ConfigError) -> miette::Report {
    let text = std::fs::read_to_string(&err.path).unwrap_or_default();
    miette::miette!(
        labels = vec![LabeledSpan::at(err.byte_range(&text), "here")],
        "{err}"
    )
    .with_source_code(NamedSource::new(err.path.display().to_string(), text))
}

pub(crate) fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

pub(crate) fn print(text: &str) -> Result<ExitCode, Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A closed pipe (`scar lint | head`) is not a failure of the lint.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(err) => Err(Failure::Usage(format!("cannot write output: {err}"))),
    }
}

/// The exit status of a command, its failure told on standard error.
pub(crate) fn exit_status(result: Result<ExitCode, Failure>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(Failure::Usage(message)) => {
            eprintln!("scar: {message}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Config(errors)) => {
            for err in &errors {
                eprintln!("{:?}", config_report(err));
            }
            if errors.len() > 1 {
                eprintln!(
                    "scar: {} mistakes in {}",
                    errors.len(),
                    errors[0].path.display()
                );
            }
            ExitCode::from(EXIT_USAGE)
        }
    }
}
