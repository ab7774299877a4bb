//! The `scar` command line: parses arguments and wires them to the libraries.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use scar_lint::report::{catalog, human, json};
use scar_lint::{Input, Options, Registry, Severity};

#[derive(Parser)]
#[command(
    name = "scar",
    version,
    about = "Every rule is a scar from a real outage."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check Kubernetes YAML, compose files, systemd units and shell scripts.
    Lint(LintArgs),
    /// List every rule with its default severity.
    Rules,
    /// Print a rule's documentation: what it finds, its incident, the fix.
    Explain {
        /// The rule id, as `scar rules` lists it.
        rule: String,
    },
}

#[derive(clap::Args)]
struct LintArgs {
    /// Files and folders to check (`-` reads YAML from standard input).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 1 when a finding at or above this severity is reported.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    fail_on: FailOn,
    /// Namespace of namespaced objects that do not set one.
    #[arg(long, default_value = "default")]
    namespace: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Info,
}

impl From<FailOn> for Severity {
    fn from(value: FailOn) -> Self {
        match value {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Info => Severity::Info,
        }
    }
}

const EXIT_FINDINGS: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let registry = Registry::builtin();
    match cli.command {
        Command::Lint(args) => run_lint(args, &registry),
        Command::Rules => print(&catalog::list(&registry)),
        Command::Explain { rule } => match registry.get(&rule) {
            Some(entry) => print(&catalog::explain(entry)),
            None => {
                eprintln!("scar: unknown rule `{rule}`; `scar rules` lists them");
                ExitCode::from(EXIT_USAGE)
            }
        },
    }
}

fn run_lint(args: LintArgs, registry: &Registry) -> ExitCode {
    let inputs: Vec<Input> = args
        .paths
        .into_iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                Input::Stdin
            } else {
                Input::Path(p)
            }
        })
        .collect();
    let options = Options {
        namespace: args.namespace,
    };
    let report = match scar_lint::lint(&inputs, &options, registry) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("{:?}", miette::miette!("{err}"));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let text = match args.format {
        Format::Human => human::render(&report, human::Style { color: use_color() }),
        Format::Json => json::render(&report),
    };
    let printed = print(&text);
    let threshold = Severity::from(args.fail_on);
    if report.findings.iter().any(|f| f.severity >= threshold) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        printed
    }
}

fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn print(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`scar lint | head`) is not a failure of the lint.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("scar: cannot write output: {err}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
