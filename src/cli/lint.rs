//! `scar lint`, `scar rules` and `scar explain`: their arguments, and how
//! a run's report is written to each output asked for.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, ValueEnum};
use scar_lint::check::baseline::{self, Baseline};
use scar_lint::check::team_policy::LoadError;
use scar_lint::config::{self, Config};
use scar_lint::input::revision;
use scar_lint::input::units::render::helm::{Dependencies, SetValue, ValueSet};
use scar_lint::report::location::RepoPaths;
use scar_lint::report::{github, human, json, sarif};
use scar_lint::{Input, Options, Registry, Report, Severity};

use super::{use_color, Failure};

/// Where the rules come from besides the built-in ones.
#[derive(Clone, clap::Args)]
pub(crate) struct RuleSource {
    /// Read this config file instead of the nearest .scar.yaml.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Also load the CEL policies in this folder (repeatable); the
    /// config's `policies:` (default .scar/policies) are loaded too.
    #[arg(long, value_name = "DIR")]
    pub(crate) policies: Vec<PathBuf>,
}

#[derive(Clone, clap::Args)]
pub(crate) struct LintArgs {
    /// Files and folders to check (`-` reads YAML from standard input).
    #[arg(default_value = ".")]
    pub(crate) paths: Vec<PathBuf>,
    /// Output format; repeat it, each followed by its own --output, to
    /// write several in one run.
    #[arg(long, value_enum, default_value = "human")]
    pub(crate) format: Vec<Format>,
    /// Where the --format before it goes (default: standard output).
    #[arg(long)]
    pub(crate) output: Vec<PathBuf>,
    /// Exit 1 when a finding at or above this severity is reported.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    pub(crate) fail_on: FailOn,
    /// Namespace of namespaced objects that do not set one (default: the
    /// config's `namespace`, else `default`).
    #[arg(long)]
    pub(crate) namespace: Option<String>,
    #[command(flatten)]
    pub(crate) rules: RuleSource,
    /// Ignore every suppression comment and annotation (for audits).
    #[arg(long)]
    pub(crate) no_suppressions: bool,
    /// Walk every folder: examples/, samples/, testdata/, test/fixtures/,
    /// vendor/ and the like (and the config's exclude_dirs) are skipped by
    /// default.
    #[arg(long)]
    pub(crate) no_default_excludes: bool,
    /// Skip paths named on the command line too when they lie in a folder
    /// the walk would skip (for hooks that name changed files).
    #[arg(long)]
    pub(crate) force_exclude: bool,
    /// List infos one by one in human output (default: a count per rule,
    /// unless --fail-on info).
    #[arg(long)]
    pub(crate) show_infos: bool,
    /// Report only findings not recorded in this baseline file.
    #[arg(long)]
    pub(crate) baseline: Option<PathBuf>,
    /// Record the current findings in this file and exit 0.
    #[arg(long)]
    pub(crate) write_baseline: Option<PathBuf>,
    /// Report only findings this revision of the repository did not have
    /// (a branch, tag or commit: a pull request's base). Its tree is read
    /// from git into a temporary folder; the working tree is not touched.
    #[arg(long, value_name = "REV")]
    pub(crate) new_from_rev: Option<String>,
    /// Also read these paths for what cross-file rules need; a finding is
    /// reported only when a file it depends on is among PATHS (a
    /// pre-commit hook passes `.`, and the changed files as PATHS).
    #[arg(long)]
    pub(crate) context: Vec<PathBuf>,
    /// The helm binary that renders charts (default: `helm.path` in
    /// .scar.yaml, else helm on PATH).
    #[arg(long, value_name = "PATH")]
    pub(crate) helm: Option<PathBuf>,
    /// Render the charts of this run with this values file (repeat it),
    /// instead of the values sets of .scar.yaml: for a run on one chart.
    #[arg(long = "helm-values", value_name = "FILE")]
    pub(crate) helm_values: Vec<PathBuf>,
    /// Render the charts of this run with this value (repeat it), as
    /// `helm --set` does: --helm-set replicaCount=3.
    #[arg(long = "helm-set", value_name = "KEY=VALUE")]
    pub(crate) helm_set: Vec<String>,
    /// Chart dependencies not vendored in charts/: `fetch` runs `helm
    /// dependency build` in the render's temporary copy (the network);
    /// `offline` fails the render (default: `helm.dependencies` in
    /// .scar.yaml, else offline).
    #[arg(long, value_enum, value_name = "HOW")]
    pub(crate) helm_dependencies: Option<HelmDependencies>,
    /// The Kubernetes version charts render for (default: `helm.kube_version`
    /// in .scar.yaml, else a current release).
    #[arg(long, value_name = "VERSION")]
    pub(crate) kube_version: Option<String>,
    /// Files larger than this many megabytes are not read: listed as
    /// skipped, or a `not-checked` finding when named.
    #[arg(long, value_name = "MB", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_file_size: u64,
    /// Check files on this many threads (default: one per CPU). Output
    /// does not depend on it.
    #[arg(short = 'j', long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) threads: Option<u16>,
    /// Check standard input (`-`) as the file of this name: classified by
    /// it (a unit, a script, a compose file) and named in findings.
    #[arg(long, value_name = "NAME")]
    pub(crate) stdin_filename: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Human,
    Json,
    Sarif,
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum HelmDependencies {
    Fetch,
    Offline,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FailOn {
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

pub(crate) fn run_lint(args: LintArgs, matches: &ArgMatches) -> Result<ExitCode, Failure> {
    let outputs = pair_outputs(&args, matches)?;
    if let Some(threads) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads.into())
            .build_global()
            .map_err(|e| Failure::Usage(format!("cannot start {threads} threads: {e}")))?;
    }
    let (registry, config) = load_registry(&args.rules)?;
    let options = lint_options(&args, &config)?;
    let mut report = scar_lint::lint(&lint_inputs(&args), &options, &registry)
        .map_err(|e| Failure::Usage(e.to_string()))?;

    if let Some(path) = &args.write_baseline {
        baseline::write(path, &report.findings)
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
        eprintln!(
            "scar: recorded {} finding(s) in {}",
            report.findings.len(),
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(rev) = &args.new_from_rev {
        let before = Baseline::of(&lint_revision(rev, &args)?);
        let found = report.findings.len();
        report.findings = before.new_findings(std::mem::take(&mut report.findings));
        report.preexisting = found - report.findings.len();
    }
    if let Some(path) = &args.baseline {
        let known = Baseline::read(path).map_err(Failure::Usage)?;
        let found = report.findings.len();
        report.findings = known.new_findings(std::mem::take(&mut report.findings));
        report.baselined = found - report.findings.len();
    }

    let repo_paths = RepoPaths::from_cwd();
    for (format, output) in outputs {
        let write = |out: &mut dyn Write| match format {
            Format::Human => human::write(
                &report,
                human::Style {
                    color: output.is_none() && use_color(),
                    list_infos: args.show_infos || matches!(args.fail_on, FailOn::Info),
                },
                out,
            ),
            Format::Json => json::write(&report, out),
            Format::Sarif => sarif::write(&report, &registry, &repo_paths, out),
            Format::Github => github::write(&report, &repo_paths, out),
        };
        match &output {
            None => {
                let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
                match write(&mut stdout).and_then(|()| stdout.flush()) {
                    // A closed pipe (`scar lint | head`) is not a failure of the lint.
                    Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                        return Err(Failure::Usage(format!("cannot write output: {err}")))
                    }
                    _ => {}
                }
            }
            Some(path) => {
                let cannot = |e: std::io::Error| {
                    Failure::Usage(format!("cannot write {}: {e}", path.display()))
                };
                let mut file =
                    std::io::BufWriter::new(std::fs::File::create(path).map_err(cannot)?);
                write(&mut file)
                    .and_then(|()| file.flush())
                    .map_err(cannot)?;
            }
        }
    }
    Ok(exit_code(&report, args.fail_on.into()))
}

fn lint_inputs(args: &LintArgs) -> Vec<Input> {
    args.paths
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                Input::Stdin {
                    name: args.stdin_filename.clone(),
                }
            } else {
                Input::Path(p.clone())
            }
        })
        .collect()
}

fn lint_options(args: &LintArgs, config: &Config) -> Result<Options, Failure> {
    let mut render = config.render_settings();
    if let Some(helm) = &args.helm {
        render.kustomize.helm = Some(helm.clone());
        render.helm.program = Some(helm.clone());
    }
    if let Some(version) = &args.kube_version {
        render.helm.kube_version = version.clone();
    }
    if let Some(how) = args.helm_dependencies {
        render.helm.dependencies = match how {
            HelmDependencies::Fetch => Dependencies::Fetch,
            HelmDependencies::Offline => Dependencies::Offline,
        };
    }
    render.command_line = command_line_values(&args.helm_values, &args.helm_set)?;
    Ok(Options {
        namespace: args
            .namespace
            .clone()
            .or(config.namespace.clone())
            .unwrap_or_else(|| "default".to_string()),
        suppressions: !args.no_suppressions,
        context: args.context.clone(),
        exclusions: config.exclusions(),
        folder_excludes: config
            .folder_excludes(args.no_default_excludes)
            .for_named_paths_too(args.force_exclude),
        render,
        max_file_size: args.max_file_size.saturating_mul(1_000_000),
        threads: args.threads.map_or(0, usize::from),
    })
}

/// The findings of the same run on `rev`'s tree: the paths that exist
/// there, linted from the folder that stands where the current one does,
/// so that findings are shown (and fingerprinted) with the same paths. REV's
/// own `.scar.yaml` applies to it, as it did then.
fn lint_revision(rev: &str, args: &LintArgs) -> Result<Vec<scar_lint::Finding>, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::Usage(format!("cannot read the current folder: {e}")))?;
    let tree = revision::check_out(rev, &cwd).map_err(Failure::Usage)?;
    let at_rev = |paths: &[PathBuf]| -> Vec<PathBuf> {
        paths
            .iter()
            .filter_map(|path| match path.strip_prefix(&cwd) {
                Ok(inside) => Some(inside.to_path_buf()),
                Err(_) if path.is_relative() => Some(path.clone()),
                Err(_) => None,
            })
            .filter(|path| path.as_os_str() != "-")
            .filter(|path| tree.cwd.join(path).symlink_metadata().is_ok())
            .collect()
    };
    let mut then = args.clone();
    then.paths = at_rev(&args.paths);
    then.context = at_rev(&args.context);
    then.rules.config = args.rules.config.as_ref().map(|c| cwd.join(c));
    then.rules.policies = args.rules.policies.iter().map(|p| cwd.join(p)).collect();
    if then.paths.is_empty() {
        return Ok(Vec::new());
    }
    std::env::set_current_dir(&tree.cwd)
        .map_err(|e| Failure::Usage(format!("cannot enter {rev}'s tree: {e}")))?;
    let findings = load_registry(&then.rules).and_then(|(registry, config)| {
        let options = lint_options(&then, &config)?;
        scar_lint::lint(&lint_inputs(&then), &options, &registry)
            .map(|report| report.findings)
            .map_err(|e| Failure::Usage(format!("{rev}: {e}")))
    });
    std::env::set_current_dir(&cwd)
        .map_err(|e| Failure::Usage(format!("cannot return to {}: {e}", cwd.display())))?;
    findings
}

/// `--helm-values` and `--helm-set` as one values set; `None` when neither is given.
fn command_line_values(files: &[PathBuf], sets: &[String]) -> Result<Option<ValueSet>, Failure> {
    if files.is_empty() && sets.is_empty() {
        return Ok(None);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut values = ValueSet {
        name: "command line".to_string(),
        files: Vec::new(),
        set: Vec::new(),
    };
    for file in files {
        if !file.is_file() {
            return Err(Failure::Usage(format!(
                "--helm-values {}: no such file",
                file.display()
            )));
        }
        values.files.push(cwd.join(file));
    }
    for pair in sets {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Failure::Usage(format!(
                "--helm-set {pair}: expected KEY=VALUE"
            )));
        };
        values.set.push(SetValue {
            key: key.trim().to_string(),
            value: value.to_string(),
            written_at: None,
        });
    }
    Ok(Some(values))
}

fn exit_code(report: &Report, threshold: Severity) -> ExitCode {
    if report.findings.iter().any(|f| f.severity >= threshold) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Each `--output` belongs to the `--format` written before it; a format
/// without one goes to standard output, which only one format may use.
fn pair_outputs(
    args: &LintArgs,
    matches: &ArgMatches,
) -> Result<Vec<(Format, Option<PathBuf>)>, Failure> {
    let format_positions: Vec<usize> = matches
        .indices_of("format")
        .map(Iterator::collect)
        .unwrap_or_default();
    let output_positions: Vec<usize> = matches
        .indices_of("output")
        .map(Iterator::collect)
        .unwrap_or_default();
    let explicit_formats =
        matches.value_source("format") == Some(clap::parser::ValueSource::CommandLine);
    let mut paired: Vec<(Format, Option<PathBuf>)> =
        args.format.iter().map(|f| (*f, None)).collect();
    for (output, position) in args.output.iter().zip(output_positions) {
        let owner = if explicit_formats {
            format_positions.iter().rposition(|&p| p < position)
        } else {
            Some(0)
        };
        let Some(owner) = owner else {
            return Err(Failure::Usage(format!(
                "--output {} comes before any --format; write --format FORMAT --output FILE",
                output.display()
            )));
        };
        if paired[owner].1.is_some() {
            return Err(Failure::Usage(format!(
                "--output {} has no --format of its own; give each --output its --format",
                output.display()
            )));
        }
        paired[owner].1 = (output.as_os_str() != "-").then(|| output.clone());
    }
    if paired.iter().filter(|(_, output)| output.is_none()).count() > 1 {
        return Err(Failure::Usage(
            "only one --format can go to standard output; give the others an --output FILE"
                .to_string(),
        ));
    }
    Ok(paired)
}

/// The built-in rules and the teams' policies, with the config file's
/// settings, and the config.
pub(crate) fn load_registry(source: &RuleSource) -> Result<(Registry, Config), Failure> {
    let mut registry = Registry::builtin();
    if let Some(folder) = source.policies.iter().find(|f| !f.is_dir()) {
        return Err(Failure::Usage(format!(
            "--policies {}: not a folder",
            folder.display()
        )));
    }
    registry
        .load_policies(&source.policies)
        .map_err(policy_failure)?;
    let cwd = std::env::current_dir().ok();
    let path = match &source.config {
        Some(path) => Some(path.clone()),
        None => cwd.as_deref().and_then(config::find),
    };
    let Some(path) = path else {
        // Without a config file, the nearest .scar/policies is the default.
        let folder = cwd.as_deref().and_then(|cwd| {
            cwd.ancestors()
                .map(|dir| dir.join(config::POLICIES_FOLDER))
                .find(|folder| folder.is_dir())
        });
        if let Some(folder) = folder {
            registry.load_policies(&[folder]).map_err(policy_failure)?;
        }
        return Ok((registry, Config::default()));
    };
    let config = Config::load(&path, &mut registry).map_err(Failure::Config)?;
    Ok((config.apply(registry), config))
}

fn policy_failure(err: LoadError) -> Failure {
    match err {
        LoadError::Folder(folder, err) => Failure::Usage(format!(
            "cannot read the policies folder {}: {err}",
            folder.display()
        )),
        LoadError::Invalid(errors) => Failure::Config(errors),
    }
}
