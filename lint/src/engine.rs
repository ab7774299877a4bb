//! One lint run: read and check every file in parallel, build the resource
//! index from their summaries, then settle the findings that needed it.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;

use crate::compose;
use crate::config::Exclusions;
use crate::container_cli::ContainerRun;
use crate::discover::{self, Candidate, FileKind, Hint, Input, MissingPath};
use crate::finding::Finding;
use crate::index::Index;
use crate::k8s;
use crate::parse::shell::{self, Origin};
use crate::parse::systemd::{Unit, EXEC_KEYS};
use crate::parse::yaml::{self, Node};
use crate::rules::{Emitter, Pending, Registry, RuleEntry};
use crate::source::{SourceFile, Span};
use crate::suppress::{self, Suppression};

pub const PARSE_ERROR: &str = "parse-error";

#[derive(Debug, Clone)]
pub struct Options {
    /// The namespace of namespaced objects that do not name one.
    pub namespace: String,
    /// Honour `scar:ignore` comments and `scar.dev/ignore` annotations.
    pub suppressions: bool,
    /// Paths read for what cross-file rules need to know, whose own
    /// findings are not reported (the rest of a repository when a
    /// pre-commit hook passes only the changed files).
    pub context: Vec<PathBuf>,
    pub exclusions: Option<Exclusions>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespace: "default".to_string(),
            suppressions: true,
            context: Vec::new(),
            exclusions: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: Arc<str>,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Report {
    /// Sorted by path, line, column and rule.
    pub findings: Vec<Finding>,
    /// Files that were read and checked.
    pub files: usize,
    /// Kubernetes objects and compose services checked.
    pub resources: usize,
    pub skipped: Vec<Skipped>,
}

impl Report {
    /// How many findings have this severity.
    pub fn count(&self, severity: crate::finding::Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Lints `inputs` with the rules of `registry`.
pub fn lint(
    inputs: &[Input],
    options: &Options,
    registry: &Registry,
) -> Result<Report, MissingPath> {
    let mut discovery = discover::discover(inputs, &options.context)?;
    if let Some(exclusions) = &options.exclusions {
        discovery
            .candidates
            .retain(|c| c.path.as_deref().is_none_or(|p| !exclusions.excludes(p)));
    }
    let outcomes: Vec<Outcome> = discovery
        .candidates
        .par_iter()
        .map(|candidate| lint_file(candidate, options, registry))
        .collect();

    let mut report = Report::default();
    let mut index = Index::default();
    let mut pending = Vec::new();
    let mut suppressions = Vec::new();
    report.skipped.extend(
        discovery
            .unreadable
            .into_iter()
            .map(|(path, reason)| Skipped { path, reason }),
    );
    for outcome in outcomes {
        match outcome {
            Outcome::Checked(checked) => {
                let checked = *checked;
                index.extend(checked.index);
                if checked.reported {
                    report.files += 1;
                    report.resources += checked.resources;
                    report.findings.extend(checked.findings);
                    pending.extend(checked.pending);
                    suppressions.extend(checked.suppressions);
                }
            }
            Outcome::Skipped { skipped, reported } => {
                if reported {
                    report.skipped.push(skipped);
                }
            }
            Outcome::NotOurs => {}
        }
    }
    let index = index.finish();
    report
        .findings
        .par_extend(pending.into_par_iter().filter_map(|p| {
            let diagnosis = (p.decide)(&index)?;
            Some(Finding {
                message: diagnosis.message,
                help: diagnosis.help,
                severity: diagnosis.severity.unwrap_or(p.finding.severity),
                ..p.finding
            })
        }));
    if options.suppressions {
        report.findings = suppress::apply(
            std::mem::take(&mut report.findings),
            &suppressions,
            registry,
        );
    }
    report
        .findings
        .par_sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    report.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

enum Outcome {
    Checked(Box<Checked>),
    Skipped {
        skipped: Skipped,
        reported: bool,
    },
    /// Found by a walk but not a kind scar lints (a file without a shebang).
    NotOurs,
}

#[derive(Default)]
struct Checked {
    /// False for context files: only their index part is kept.
    reported: bool,
    findings: Vec<Finding>,
    pending: Vec<Pending>,
    suppressions: Vec<Suppression>,
    index: Index,
    resources: usize,
}

fn lint_file(candidate: &Candidate, options: &Options, registry: &Registry) -> Outcome {
    let skip = |reason: String| Outcome::Skipped {
        skipped: Skipped {
            path: candidate.display.clone(),
            reason,
        },
        reported: candidate.report,
    };
    let bytes = match read(candidate) {
        Ok(bytes) => bytes,
        Err(err) => return skip(format!("unreadable: {err}")),
    };
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return skip("binary".to_string());
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return skip("not UTF-8".to_string());
    };
    let kind = match candidate.hint {
        Hint::Known(kind) => kind,
        Hint::Sniff => discover::kind_from_content(&text),
        Hint::ShebangOnly if discover::has_shell_shebang(&text) => FileKind::Script,
        Hint::ShebangOnly => return Outcome::NotOurs,
    };
    let file = SourceFile {
        path: candidate.display.clone(),
        text,
    };
    let mut checked = Box::new(Checked {
        reported: candidate.report,
        ..Checked::default()
    });
    if candidate.report && options.suppressions {
        let comment_starts: &[char] = if kind == FileKind::Unit {
            &['#', ';']
        } else {
            &['#']
        };
        checked.suppressions = suppress::from_comments(&file.path, &file.text, comment_starts);
    }
    match kind {
        FileKind::Yaml => match lint_yaml(
            &file,
            candidate.hint == Hint::Sniff,
            options,
            registry,
            &mut checked,
        ) {
            YamlOutcome::Checked => {}
            YamlOutcome::Template => return skip("template".to_string()),
            YamlOutcome::NotConfiguration if candidate.hint == Hint::Sniff => {
                return skip("not Kubernetes, compose, systemd or shell".to_string())
            }
            YamlOutcome::NotConfiguration => {}
        },
        // Units and scripts add nothing to the index: a context file of
        // those kinds has nothing more to give.
        FileKind::Unit | FileKind::Script if !candidate.report => {}
        FileKind::Unit => lint_unit(&file, registry, &mut checked),
        FileKind::Script => {
            let commands = shell::commands(&file.text, Origin::FILE_START, false);
            check_container_runs(&file, &commands, registry, &mut checked);
        }
    }
    Outcome::Checked(checked)
}

fn read(candidate: &Candidate) -> std::io::Result<Vec<u8>> {
    match &candidate.path {
        Some(path) => std::fs::read(path),
        None => {
            let mut bytes = Vec::new();
            std::io::stdin().lock().read_to_end(&mut bytes)?;
            Ok(bytes)
        }
    }
}

enum YamlOutcome {
    Checked,
    /// An unrendered Helm or Jinja template: its values are not the real ones.
    Template,
    /// Valid YAML holding neither Kubernetes objects nor a compose file.
    NotConfiguration,
}

fn lint_yaml(
    file: &SourceFile,
    sniffed: bool,
    options: &Options,
    registry: &Registry,
    checked: &mut Checked,
) -> YamlOutcome {
    let templated = file.text.contains("{{") || file.text.contains("{%");
    let docs = match yaml::parse_documents(&file.text) {
        Ok(docs) => docs,
        Err(_) if templated => return YamlOutcome::Template,
        // A file of unknown name that is not YAML either (a Makefile
        // passed by a hook) is not ours, not broken.
        Err(_) if sniffed => return YamlOutcome::NotConfiguration,
        Err(err) => {
            report_parse_error(file, registry, err.span, &err.message, checked);
            return YamlOutcome::Checked;
        }
    };
    if templated
        && docs
            .iter()
            .any(|d| d.has_complex_key() || d.has_plain_template())
    {
        return YamlOutcome::Template;
    }
    let mut recognised = false;
    for doc in &docs {
        let objects = k8s::objects(doc, &options.namespace);
        if !objects.is_empty() {
            recognised = true;
            for object in &objects {
                checked.resources += 1;
                checked.index.add(object, &file.path);
                if !checked.reported {
                    continue;
                }
                if options.suppressions {
                    let found = suppress::from_annotations(&file.path, &file.text, object);
                    checked.suppressions.extend(found);
                }
                let resource = object.resource();
                for entry in registry.enabled() {
                    let mut out = emitter(file, entry, Some(&resource), checked);
                    entry.rule.check_object(object, &mut out);
                }
            }
        } else if let Some(services) = compose::services(doc) {
            recognised = true;
            if !checked.reported {
                continue;
            }
            for service in &services {
                checked.resources += 1;
                for entry in registry.enabled() {
                    let mut out = emitter(file, entry, None, checked);
                    entry.rule.check_compose_service(service, &mut out);
                }
            }
        }
    }
    if recognised || docs.is_empty() {
        YamlOutcome::Checked
    } else {
        YamlOutcome::NotConfiguration
    }
}

fn lint_unit(file: &SourceFile, registry: &Registry, checked: &mut Checked) {
    let unit = match Unit::parse(&file.text) {
        Ok(unit) => unit,
        Err(err) => {
            report_parse_error(file, registry, err.span, &err.message, checked);
            return;
        }
    };
    for entry in registry.enabled() {
        let mut out = emitter(file, entry, None, checked);
        entry.rule.check_unit(&unit, &mut out);
    }
    let commands: Vec<_> = unit
        .entries
        .iter()
        .filter(|e| EXEC_KEYS.contains(&e.key.as_str()))
        .flat_map(|e| unit.exec_commands(e))
        .collect();
    check_container_runs(file, &commands, registry, checked);
}

fn check_container_runs(
    file: &SourceFile,
    commands: &[Vec<shell::Word>],
    registry: &Registry,
    checked: &mut Checked,
) {
    for run in commands
        .iter()
        .filter_map(|c| ContainerRun::from_command(c))
    {
        for entry in registry.enabled() {
            let mut out = emitter(file, entry, None, checked);
            entry.rule.check_container_run(&run, &mut out);
        }
    }
}

fn report_parse_error(
    file: &SourceFile,
    registry: &Registry,
    at: Span,
    message: &str,
    checked: &mut Checked,
) {
    if let Some(entry) = registry.get(PARSE_ERROR).filter(|e| e.enabled) {
        let mut out = emitter(file, entry, None, checked);
        out.report(
            at,
            message.to_string(),
            "fix the syntax; scar checks nothing else in this file until it parses",
        );
    }
}

fn emitter<'a>(
    file: &'a SourceFile,
    entry: &'a RuleEntry,
    resource: Option<&'a k8s::ResourceRef>,
    checked: &'a mut Checked,
) -> Emitter<'a> {
    Emitter::new(
        file,
        entry,
        resource,
        &mut checked.findings,
        &mut checked.pending,
    )
}

/// Reads and parses the files of `inputs` without checking them: the
/// baseline the speed benchmark compares a full run against.
pub fn parse_only(inputs: &[Input]) -> Result<usize, MissingPath> {
    let discovery = discover::discover(inputs, &[])?;
    Ok(discovery
        .candidates
        .par_iter()
        .filter_map(|c| {
            let text = String::from_utf8(read(c).ok()?).ok()?;
            let docs = yaml::parse_documents(&text).ok()?;
            Some(
                docs.iter()
                    .map(Node::entries)
                    .map(<[_]>::len)
                    .sum::<usize>(),
            )
        })
        .sum())
}
