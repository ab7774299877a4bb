//! The `scar` command line: parses arguments and hands each command to
//! `cli/`, which wires it to the libraries.

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use cli::lint::{load_registry, run_lint, LintArgs, RuleSource};
use cli::loadgen::{run_loadgen, LoadgenCommand};
use cli::{print, Failure};
use scar_lint::report::catalog;

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
    /// List every rule, teams' policies included, with its effective
    /// severity and parameters.
    Rules {
        #[command(flatten)]
        rules: RuleSource,
    },
    /// Print a rule's documentation: what it finds, its incident, the fix;
    /// for a team's policy, its description and expressions.
    Explain {
        /// The rule id, as `scar rules` lists it.
        rule: String,
        #[command(flatten)]
        rules: RuleSource,
    },
    /// Replay deploy bursts against a Kubernetes API server.
    Loadgen {
        #[command(subcommand)]
        command: LoadgenCommand,
    },
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let result = match cli.command {
        Command::Lint(args) => {
            let lint_matches = matches
                .subcommand_matches("lint")
                .expect("clap parsed the lint subcommand");
            run_lint(args, lint_matches)
        }
        Command::Rules { rules } => {
            load_registry(&rules).and_then(|(registry, _)| print(&catalog::list(&registry)))
        }
        Command::Loadgen { command } => run_loadgen(command),
        Command::Explain { rule, rules } => {
            load_registry(&rules).and_then(|(registry, _)| match registry.get(&rule) {
                Some(entry) => print(&catalog::explain(entry)),
                None => Err(Failure::Usage(format!(
                    "unknown rule `{rule}`; `scar rules` lists them"
                ))),
            })
        }
    };
    cli::exit_status(result)
}
