//! One lint run: sort the files into units, render the charts and
//! kustomizations among them, read and check every plain file and rendered
//! object in parallel, build the resource index from their summaries, then
//! settle the findings that needed it. The engine runs the stages in
//! order; of its own it has only the run's `Options`.

use std::collections::{BTreeSet, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::check::finding::{Finding, Severity};
use crate::check::rules::{Emitter, Pending, Registry, RuleEntry};
use crate::check::suppress::{self, Suppression};
use crate::check::team_policy::ObjectScope;
use crate::config::Exclusions;
use crate::input::discover::Skipped;
use crate::input::discover::{self, Candidate, FileKind, Hint, Input, MissingPath};
use crate::input::folder_excludes::FolderExcludes;
use crate::input::units::render::ansible;
use crate::input::units::render::run::{self, RenderSettings};
use crate::input::units::role::{Role, Scope};
use crate::input::units::{Layout, Paths, RunFolders};
use crate::model::compose;
use crate::model::container_cli::ContainerRun;
use crate::model::index::{self as index_model, Index, Lookup};
use crate::model::k8s;
use crate::model::parse::shell::{self, Origin};
use crate::model::parse::systemd::{Unit, EXEC_KEYS};
use crate::model::parse::yaml::{self, Node};
use crate::model::place::{FilePlace, Place, RenderedPlace, RenderedUnit};
use crate::model::source::{Excerpt, Related, SourceFile, Span};
use crate::model::template::{RenderedTemplate, TemplatePlace};
use crate::model::unit::{UnitInfo, UnitKind};
use crate::report::Report;

pub(crate) const PARSE_ERROR: &str = "parse-error";
pub(crate) const RENDER_FAILED: &str = "render-failed";
pub(crate) const NOT_CHECKED: &str = "not-checked";

#[derive(Debug, Clone)]
pub struct Options {
    /// The namespace of namespaced objects that do not name one, and the
    /// one charts render into.
    pub namespace: String,
    /// Honour `scar:ignore` comments and `scar.dev/ignore` annotations.
    pub suppressions: bool,
    /// Paths read for what cross-file rules need to know; a finding is
    /// reported only when a file it depends on is among the others (the
    /// changed files a pre-commit hook passes).
    pub context: Vec<PathBuf>,
    pub exclusions: Option<Exclusions>,
    /// Folders walks do not enter (examples, fixtures, vendored code).
    pub folder_excludes: FolderExcludes,
    pub render: RenderSettings,
    /// Larger files are not read (listed as skipped, or `not-checked`
    /// when named).
    pub max_file_size: u64,
    /// Threads that walk folders (0: as many as suit the machine); checking
    /// runs on rayon's pool, which the caller sizes.
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespace: "default".to_string(),
            suppressions: true,
            context: Vec::new(),
            exclusions: None,
            folder_excludes: FolderExcludes::default(),
            render: RenderSettings::default(),
            max_file_size: 50 * MB,
            threads: 0,
        }
    }
}

/// A file to lint, its project, and the role it is a template of.
type PlainFile<'a> = (&'a Candidate, u32, Option<&'a RoleTemplates>);

/// What a role's templates render with.
struct RoleTemplates {
    unit: Arc<UnitInfo>,
    scopes: Vec<Scope>,
}

/// The paths of the candidates `keep` accepts.
fn paths_where<'a>(
    candidates: &[Candidate],
    absolute: &'a [Option<PathBuf>],
    keep: impl Fn(&Candidate) -> bool,
) -> HashSet<&'a Path> {
    candidates
        .iter()
        .zip(absolute)
        .filter(|(c, _)| keep(c))
        .filter_map(|(_, p)| p.as_deref())
        .collect()
}

/// Lints `files` (each with its project) in parallel. Each file's results
/// join its thread's accumulator as soon as the file is done, so that no
/// file's allocations outlive it.
fn lint_files(files: &[PlainFile<'_>], options: &Options, registry: &Registry) -> Gathered {
    files
        .par_iter()
        .map(|(candidate, root, role)| lint_file(candidate, *root, *role, options, registry))
        .fold(Gathered::default, Gathered::add)
        .reduce(Gathered::default, Gathered::merge)
}

/// Lints `inputs` with the rules of `registry`.
pub fn lint(
    inputs: &[Input],
    options: &Options,
    registry: &Registry,
) -> Result<Report, MissingPath> {
    let mut discovery = discover::discover(
        inputs,
        &options.context,
        options.threads,
        &options.folder_excludes,
    )?;
    if let Some(exclusions) = &options.exclusions {
        discovery
            .candidates
            .retain(|c| c.path.as_deref().is_none_or(|p| !exclusions.excludes(p)));
    }
    let candidates = discovery.candidates;
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut paths = Paths::new(&cwd);
    let absolute: Vec<Option<PathBuf>> = candidates
        .iter()
        .map(|c| c.path.as_deref().map(|p| paths.absolute(p)))
        .collect();
    for (candidate, path) in candidates.iter().zip(&absolute) {
        if let Some(path) = path {
            paths.know(path.clone(), candidate.display.clone());
        }
    }
    // The folders the run was given: how files below them are shown, and
    // the projects references stay inside.
    let folders_given: Vec<&PathBuf> = inputs
        .iter()
        .filter_map(|input| match input {
            Input::Path(path) => Some(path),
            Input::Stdin { .. } => None,
        })
        .chain(&options.context)
        .filter(|path| path.is_dir())
        .collect();
    for folder in &folders_given {
        paths.know_folder(
            paths.absolute(folder),
            &discover::display_path(folder, &cwd),
        );
    }
    let mut folders = RunFolders::new(folders_given.iter().map(|f| paths.absolute(f)).collect());
    let files: Vec<PathBuf> = absolute.iter().flatten().cloned().collect();
    let layout = Layout::of(&files, &paths);
    let reported_files = paths_where(&candidates, &absolute, |c| c.report);
    let mut settings = options.render.clone();
    settings.helm.namespace = options.namespace.clone();
    // A unit's files wait for its render; the other files are linted while
    // the renders run, on the cores that helm and kustomize, processes the
    // render threads wait on, leave idle.
    let of_units: HashSet<&Path> = layout
        .charts
        .iter()
        .flat_map(|chart| &chart.files)
        .chain(layout.kustomizations.iter().flat_map(|root| &root.files))
        .map(PathBuf::as_path)
        .collect();
    // A role whose variables a named file sets (a hook passing the changed
    // defaults) has its templates linted, as a chart renders whole.
    let named = paths_where(&candidates, &absolute, |c| c.named);
    let variables_named = |role: &Role| {
        role.variable_files
            .iter()
            .any(|f| named.contains(f.as_path()))
    };
    // Variables are gathered for the roles with templates to render.
    let roles: Vec<RoleTemplates> = layout
        .roles
        .par_iter()
        .map(|role| RoleTemplates {
            unit: Arc::new(UnitInfo {
                kind: UnitKind::Ansible,
                path: role.display.clone(),
                values: None,
            }),
            scopes: if role.templates.is_empty() && !variables_named(role) {
                Vec::new()
            } else {
                Scope::all_of_role(&role.dir, &options.render.ansible_inventories, &paths)
            },
        })
        .collect();
    let found: HashSet<&Path> = files.iter().map(PathBuf::as_path).collect();
    let unnamed_templates: Vec<(Candidate, PathBuf, usize)> = layout
        .roles
        .iter()
        .enumerate()
        .filter(|(_, role)| variables_named(role))
        .flat_map(|(index, role)| role.all_templates().into_iter().map(move |t| (index, t)))
        .filter(|(_, template)| !found.contains(template.as_path()))
        .map(|(index, template)| {
            let candidate = Candidate {
                path: Some(template.clone()),
                display: paths.display(&template),
                hint: discover::hint_from_name(&template),
                report: true,
                named: false,
            };
            (candidate, template, index)
        })
        .collect();
    let role_of: std::collections::HashMap<&Path, &RoleTemplates> = layout
        .roles
        .iter()
        .zip(&roles)
        .flat_map(|(role, templates)| role.templates.iter().map(move |t| (t.as_path(), templates)))
        .collect();
    let mut plain: Vec<PlainFile<'_>> = candidates
        .iter()
        .zip(&absolute)
        .filter(|(_, p)| p.as_deref().is_none_or(|p| !of_units.contains(p)))
        .map(|(c, p)| {
            let role = p.as_deref().and_then(|p| role_of.get(p).copied());
            (c, folders.of(p.as_deref()), role)
        })
        .collect();
    for (candidate, path, index) in &unnamed_templates {
        plain.push((candidate, folders.of(Some(path)), Some(&roles[*index])));
    }
    let (units, from_plain) = rayon::join(
        || run::render(&layout, &reported_files, &settings, &paths, &mut folders),
        || lint_files(&plain, options, registry),
    );
    // The files of a kustomization that did not render are linted as they are.
    let unrendered: Vec<PlainFile<'_>> = candidates
        .iter()
        .zip(&absolute)
        .filter_map(|(c, p)| Some((c, p.as_deref()?)))
        .filter(|(_, p)| of_units.contains(p) && !units.claimed.contains(*p))
        .map(|(c, p)| (c, folders.of(Some(p)), None))
        .collect();
    let from_files = from_plain.merge(lint_files(&unrendered, options, registry));
    // A rendered unit's files are counted by the files named, below.
    let from_units = units
        .rendered
        .par_iter()
        .map(|unit| lint_rendered(unit, options, registry))
        .fold(Gathered::default, |mut gathered, checked| {
            gathered.resources += checked.resources;
            gathered.checked.absorb(checked);
            gathered
        })
        .reduce(Gathered::default, Gathered::merge);
    let Gathered {
        files,
        resources,
        skipped,
        checked:
            Checked {
                mut findings,
                pending,
                mut suppressions,
                index,
                ..
            },
    } = from_files.merge(from_units);
    let mut report = Report {
        units: units.reports,
        files,
        resources,
        excluded: discovery.excluded,
        ..Report::default()
    };
    report.skipped.extend(
        discovery
            .unreadable
            .into_iter()
            .map(|(path, reason)| Skipped { path, reason }),
    );
    report.skipped.extend(units.skipped);
    report.skipped.extend(skipped);
    report.files += reported_files
        .iter()
        .filter(|f| units.rendered_files.contains(**f))
        .count();
    if options.suppressions {
        suppressions.extend(unit_comment_suppressions(&units.rendered, &paths));
    }
    findings.extend(render_failed(registry, units.failed));

    let index = index.finish();
    findings.par_extend(pending.into_par_iter().filter_map(|p| {
        let lookup = Lookup::new(&index, &p.asker);
        let diagnosis = (p.decide)(&lookup)?;
        let mut finding = p.finding;
        finding.message = diagnosis.message;
        finding.help = diagnosis.help;
        finding.severity = diagnosis.severity.unwrap_or(finding.severity);
        finding.related.extend(diagnosis.related);
        finding.cause = diagnosis.cause;
        finding.depends_on.extend(lookup.files_read());
        Some(finding)
    }));
    let reported: HashSet<&str> = candidates
        .iter()
        .filter(|c| c.report)
        .map(|c| &*c.display)
        .collect();
    let is_reported = |f: &Finding| f.depends_on.iter().any(|d| reported.contains(&**d));
    findings.retain(is_reported);
    if options.suppressions {
        let suppressed;
        (findings, suppressed) = suppress::apply(findings, &suppressions, registry);
        report.suppressed = suppressed;
        findings.retain(is_reported);
    }
    findings.par_sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    // One finding per cause: a base two overlays render, or a template two
    // values sets render the same way, is reported once; so is a backend
    // that many webhooks call.
    findings.dedup_by(|a, b| {
        a.rule == b.rule && a.path == b.path && a.span == b.span && a.message == b.message
    });
    let findings = crate::check::finding::one_per_cause(findings);
    let findings = crate::check::finding::one_per_template_line(findings);
    report.findings = findings;
    report.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

enum Outcome {
    Checked(Box<Checked>),
    Skipped {
        skipped: Skipped,
        reported: bool,
        /// For a file named on the command line: `not-checked`.
        finding: Option<Box<Finding>>,
    },
    /// Found by a walk but not a kind scar lints (a file without a shebang).
    NotOurs,
}

/// The results of many files, merged as they come.
#[derive(Default)]
struct Gathered {
    /// Reported files checked, and their resources.
    files: usize,
    resources: usize,
    skipped: Vec<Skipped>,
    checked: Checked,
}

impl Gathered {
    fn add(mut self, outcome: Outcome) -> Gathered {
        match outcome {
            Outcome::Checked(checked) => {
                if checked.reported {
                    self.files += 1;
                    self.resources += checked.resources;
                }
                self.checked.absorb(*checked);
            }
            Outcome::Skipped {
                skipped,
                reported,
                finding,
            } => {
                if reported {
                    self.skipped.push(skipped);
                    self.checked.findings.extend(finding.map(|f| *f));
                }
            }
            Outcome::NotOurs => {}
        }
        self
    }

    fn merge(mut self, other: Gathered) -> Gathered {
        self.files += other.files;
        self.resources += other.resources;
        self.skipped.extend(other.skipped);
        self.checked.absorb(other.checked);
        self
    }
}

#[derive(Default)]
struct Checked {
    /// False for context files: their findings count only through a
    /// reported file they depend on.
    reported: bool,
    findings: Vec<Finding>,
    pending: Vec<Pending>,
    suppressions: Vec<Suppression>,
    index: Index,
    resources: usize,
}

impl Checked {
    fn absorb(&mut self, other: Checked) {
        self.findings.extend(other.findings);
        self.pending.extend(other.pending);
        self.suppressions.extend(other.suppressions);
        self.index.extend(other.index);
    }
}

fn lint_file(
    candidate: &Candidate,
    root: u32,
    role: Option<&RoleTemplates>,
    options: &Options,
    registry: &Registry,
) -> Outcome {
    let skip = |reason: String| Outcome::Skipped {
        skipped: Skipped {
            path: candidate.display.clone(),
            reason,
        },
        reported: candidate.report,
        finding: None,
    };
    // A file named on the command line that cannot be checked is a finding:
    // a hook must not pass a file it never read.
    let unchecked_at = |reason: String, line: u32| {
        let finding = candidate
            .named
            .then(|| not_checked(registry, &candidate.display, line, &reason))
            .flatten()
            .map(Box::new);
        Outcome::Skipped {
            skipped: Skipped {
                path: candidate.display.clone(),
                reason,
            },
            reported: candidate.report,
            finding,
        }
    };
    let unchecked = |reason: String| unchecked_at(reason, 1);
    let bytes = match read(candidate, options.max_file_size) {
        Ok(bytes) => bytes,
        Err(Unread::TooLarge) => {
            return unchecked(format!(
                "larger than {} MB (--max-file-size)",
                options.max_file_size / MB
            ))
        }
        Err(Unread::NotAFile) => {
            return unchecked("not a regular file (a FIFO, socket or device)".to_string())
        }
        Err(Unread::Io(err)) => return unchecked(format!("unreadable: {err}")),
    };
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return unchecked("binary".to_string());
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
            return unchecked_at(format!("not UTF-8 (line {line})"), line);
        }
    };
    let kind = match candidate.hint {
        Hint::Known(kind) => kind,
        Hint::Sniff => discover::kind_from_content(&text),
        Hint::ShebangOnly if discover::has_shell_shebang(&text) => FileKind::Script,
        Hint::ShebangOnly => return Outcome::NotOurs,
        Hint::DropIn if discover::has_unit_section(&text) => FileKind::Unit,
        Hint::DropIn => return Outcome::NotOurs,
    };
    let file = SourceFile::new(candidate.display.clone(), text);
    let place = FilePlace::new(&file, root);
    let mut checked = Box::new(Checked {
        reported: candidate.report,
        ..Checked::default()
    });
    if options.suppressions {
        let comment_starts: &[char] = if kind == FileKind::Unit {
            &['#', ';']
        } else {
            &['#']
        };
        checked.suppressions = suppress::from_comments(&file.path, &file.text, comment_starts);
    }
    // A role's template renders with the role's values; one that cannot be
    // rendered is linted as written.
    if let Some(rendered) =
        role.and_then(|role| Some((role, ansible::render(&file, &role.scopes)?)))
    {
        let (role, rendered) = rendered;
        if !lint_template(
            &file,
            kind,
            &rendered,
            role,
            root,
            options,
            registry,
            &mut checked,
        ) {
            return skip("template".to_string());
        }
        return Outcome::Checked(checked);
    }
    match kind {
        FileKind::Yaml => match lint_yaml(
            &file,
            &place,
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
        // Units and scripts add nothing to the index and depend on no
        // other file: a context file of those kinds has nothing to give.
        FileKind::Unit | FileKind::Script if !candidate.report => {}
        FileKind::Unit => lint_unit(&file, &place, registry, &mut checked),
        FileKind::Script => {
            let commands = shell::commands(&file.text, Origin::FILE_START, false);
            check_container_runs(&place, &commands, registry, &mut checked);
        }
    }
    Outcome::Checked(checked)
}

const MB: u64 = 1_000_000;

/// Why a file's bytes were not read.
enum Unread {
    TooLarge,
    NotAFile,
    Io(std::io::Error),
}

/// A file's bytes, at most `limit` of them: reading stops there, so a file
/// that grows while it is read (or standard input without end) is bounded.
fn read(candidate: &Candidate, limit: u64) -> Result<Vec<u8>, Unread> {
    let (source, size): (Box<dyn Read>, u64) = match &candidate.path {
        Some(path) => {
            // Opening a FIFO blocks until it has a writer: ask the path
            // what it is before opening it.
            let meta = std::fs::metadata(path).map_err(Unread::Io)?;
            if !meta.is_file() {
                return Err(Unread::NotAFile);
            }
            if meta.len() > limit {
                return Err(Unread::TooLarge);
            }
            let file = std::fs::File::open(path).map_err(Unread::Io)?;
            (Box::new(file), meta.len())
        }
        None => (Box::new(std::io::stdin().lock()), 0),
    };
    // Sized from the start: no probing reads, no growing copies.
    let mut bytes = Vec::with_capacity(size as usize + 1);
    source
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Unread::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Unread::TooLarge);
    }
    Ok(bytes)
}

/// The `not-checked` finding of a named file scar could not read.
fn not_checked(registry: &Registry, path: &Arc<str>, line: u32, reason: &str) -> Option<Finding> {
    let entry = registry.get(NOT_CHECKED).filter(|e| e.enabled)?;
    Some(Finding {
        rule: entry.rule_id(),
        severity: entry.policy.severity,
        path: path.clone(),
        span: Span::point(line, 1),
        message: format!("{path} was not checked: {reason}"),
        help: "check the file, or leave it out of the files named (or raise --max-file-size)"
            .to_string(),
        resource: None,
        excerpt: Excerpt::none(),
        related: Vec::new(),
        rendered: None,
        unit: None,
        depends_on: vec![path.clone()],
        cause: None,
    })
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
    place: &dyn Place,
    sniffed: bool,
    options: &Options,
    registry: &Registry,
    checked: &mut Checked,
) -> YamlOutcome {
    // A template is a file its template markers break: one that does not
    // parse, or whose `{{ … }}` values read as YAML flow mappings. Markers
    // inside strings (an alert's `{{ $labels.instance }}`) break nothing.
    let templated = memchr::memchr_iter(b'{', file.text.as_bytes())
        .any(|at| matches!(file.text.as_bytes().get(at + 1), Some(b'{' | b'%')));
    let comment_suppressions = checked.suppressions.len();
    let mut template = false;
    let mut documents = 0;
    let mut recognised = false;
    // One document at a time: a bundle of thousands of objects is never
    // held as one tree.
    let parsed = yaml::for_each_document(&file.text, |doc| {
        if template || (templated && doc.has_complex_key()) {
            template = true;
            return;
        }
        documents += 1;
        let objects = k8s::objects(&doc, &options.namespace);
        if !objects.is_empty() {
            recognised = true;
            for object in &objects {
                check_object(object, place, options, registry, checked);
            }
        } else if let Some(services) = compose::services(&doc) {
            recognised = true;
            if !checked.reported {
                return;
            }
            for service in &services {
                checked.resources += 1;
                for entry in registry.enabled() {
                    let mut out = emitter(place, entry, None, checked);
                    entry.rule.check_compose_service(service, &mut out);
                }
            }
        }
    });
    match parsed {
        _ if template => YamlOutcome::Template,
        Err(_) if templated => YamlOutcome::Template,
        // A file of unknown name that is not YAML either (a Makefile
        // passed by a hook) is not ours, not broken.
        Err(_) if sniffed => YamlOutcome::NotConfiguration,
        Err(err) => {
            // Nothing else in a file that does not parse counts, not even
            // the documents before the error.
            checked.findings.clear();
            checked.pending.clear();
            checked.suppressions.truncate(comment_suppressions);
            checked.index = Index::default();
            checked.resources = 0;
            report_parse_error(place, registry, err.span, &err.message, checked);
            YamlOutcome::Checked
        }
        Ok(()) if recognised || documents == 0 => YamlOutcome::Checked,
        Ok(()) => YamlOutcome::NotConfiguration,
    }
}

/// Indexes one Kubernetes object and runs every rule on it.
fn check_object(
    object: &k8s::Object<'_>,
    place: &dyn Place,
    options: &Options,
    registry: &Registry,
    checked: &mut Checked,
) {
    checked.resources += 1;
    checked.index.add(object, place.placed(object));
    if options.suppressions {
        checked
            .suppressions
            .extend(suppress::from_annotations(place, object));
    }
    let resource = object.resource();
    let object_scope = ObjectScope::new(object.node);
    for entry in registry.enabled() {
        let mut out =
            emitter(place, entry, Some(&resource), checked).with_object_scope(&object_scope);
        entry.rule.check_object(object, &mut out);
    }
}

/// Lints each render of a role's template. A finding every render gives at
/// the same line is reported once (as the first render words it); one
/// that only some renders give says under which conditions it holds, and
/// where each is written. False when a render is
/// still a template (YAML with unknowns in it): it is then not checked.
#[allow(clippy::too_many_arguments)]
fn lint_template(
    template: &SourceFile,
    kind: FileKind,
    rendered: &RenderedTemplate,
    role: &RoleTemplates,
    root: u32,
    options: &Options,
    registry: &Registry,
    checked: &mut Checked,
) -> bool {
    let mut renders: Vec<Vec<Finding>> = Vec::new();
    for (i, variant) in rendered.variants.iter().enumerate() {
        let file = SourceFile::new(template.path.clone(), variant.text.clone());
        let place = TemplatePlace {
            template,
            rendered: &file,
            variant,
            render: rendered,
            unit: role.unit.clone(),
            origin: index_model::Origin {
                root,
                unit: None,
                path: template.path.clone(),
            },
        };
        let mut part = Checked {
            reported: checked.reported,
            ..Checked::default()
        };
        match kind {
            FileKind::Yaml => {
                if let YamlOutcome::Template =
                    lint_yaml(&file, &place, false, options, registry, &mut part)
                {
                    return false;
                }
            }
            FileKind::Unit | FileKind::Script if !checked.reported => {}
            FileKind::Unit => lint_unit(&file, &place, registry, &mut part),
            FileKind::Script => {
                let commands = shell::commands(&file.text, Origin::FILE_START, false);
                check_container_runs(&place, &commands, registry, &mut part);
            }
        }
        renders.push(std::mem::take(&mut part.findings));
        // The objects of one render stand for the template's in the index.
        if i == 0 {
            checked.resources += part.resources;
            checked.index.extend(part.index);
        }
        checked.pending.extend(part.pending);
        checked.suppressions.extend(part.suppressions);
    }
    // The same rule at the same line: one thing to fix, whatever values
    // each render's message names.
    let same = |a: &Finding, b: &Finding| a.rule == b.rule && a.span == b.span;
    for (i, findings) in renders.iter().enumerate() {
        let conditions = &rendered.variants[i].conditions;
        for finding in findings {
            let everywhere = renders
                .iter()
                .all(|other| other.iter().any(|f| same(f, finding)));
            if everywhere {
                if i == 0 {
                    checked.findings.push(finding.clone());
                }
                continue;
            }
            let mut finding = finding.clone();
            let described: Vec<String> = conditions
                .iter()
                .map(|c| format!("{} ({}:{})", c.describe(), c.at.path, c.at.span.line))
                .collect();
            finding
                .message
                .push_str(&format!("; {}", described.join(", ")));
            for condition in conditions {
                // A condition in a variable's value is at the line the
                // finding already relates.
                let related = finding.related.iter().any(|r| {
                    r.at.path == condition.at.path && r.at.span.line == condition.at.span.line
                });
                if !related {
                    finding.related.push(Related {
                        at: condition.at.clone(),
                        message: format!("rendered {}", condition.describe()),
                    });
                }
            }
            finding.unit = Some(Arc::new(UnitInfo {
                values: Some(
                    conditions
                        .iter()
                        .map(|c| c.describe())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                ..(*role.unit).clone()
            }));
            checked.findings.push(finding);
        }
    }
    true
}

/// Checks the objects of a rendered unit, each placed where it was written.
fn lint_rendered(unit: &RenderedUnit, options: &Options, registry: &Registry) -> Checked {
    let mut checked = Checked::default();
    for doc in &unit.rendered.documents {
        for object in &k8s::objects(doc, &options.namespace) {
            let place = RenderedPlace::new(unit, Some(object));
            check_object(object, &place, options, registry, &mut checked);
        }
    }
    for error in &unit.rendered.errors {
        let place = RenderedPlace::new(unit, None);
        report_parse_error(&place, registry, error.span, &error.message, &mut checked);
    }
    checked
}

/// Suppression comments in the files of rendered units (templates, bases,
/// patches), each file read once however many units render it.
fn unit_comment_suppressions(units: &[RenderedUnit], paths: &Paths) -> Vec<Suppression> {
    let files: BTreeSet<&Arc<str>> = units
        .iter()
        .flat_map(|u| u.rendered.sources.iter().chain(&u.shared))
        .collect();
    files
        .into_par_iter()
        .flat_map_iter(|display| {
            let path = paths.absolute(Path::new(&**display));
            std::fs::read_to_string(path)
                .map(|text| suppress::from_comments(display, &text, &['#']))
                .unwrap_or_default()
        })
        .collect()
}

/// Units as a failure names them: a chart stopped with several values
/// sets is named once, with how many (`Helm chart x (values: default and
/// 19 more values sets)`).
fn name_units(units: &[Arc<UnitInfo>]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut seen: HashSet<(UnitKind, &str)> = HashSet::new();
    for unit in units {
        if !seen.insert((unit.kind, &unit.path)) {
            continue;
        }
        let sets: Vec<&str> = units
            .iter()
            .filter(|other| other.kind == unit.kind && other.path == unit.path)
            .filter_map(|other| other.values.as_deref())
            .collect();
        names.push(match sets.as_slice() {
            [_, _, rest @ ..] if !rest.is_empty() => format!(
                "{} {} (values: {} and {} more values sets)",
                unit.kind.describe(),
                unit.path,
                sets[0],
                sets.len() - 1
            ),
            _ => unit.to_string(),
        });
    }
    names
}

/// The `render-failed` findings of the units that could not be rendered:
/// one per cause, naming every unit it stopped.
fn render_failed(registry: &Registry, failed: Vec<run::FailedUnit>) -> Vec<Finding> {
    let Some(entry) = registry.get(RENDER_FAILED).filter(|e| e.enabled) else {
        return Vec::new();
    };
    let mut causes: Vec<(run::FailedUnit, Vec<Arc<UnitInfo>>)> = Vec::new();
    for unit in failed {
        let same_cause = causes.iter_mut().find(|(first, _)| {
            let (a, b) = (&first.failure, &unit.failure);
            a.at.path == b.at.path && a.at.span == b.at.span && a.message == b.message
        });
        match same_cause {
            Some((first, stopped)) => {
                stopped.push(unit.info.clone());
                first.files.extend(unit.files);
            }
            None => {
                let info = unit.info.clone();
                causes.push((unit, vec![info]));
            }
        }
    }
    causes
        .into_iter()
        .map(|(unit, stopped)| {
            let at = unit.failure.at;
            let stopped = name_units(&stopped);
            let mut message = match stopped.as_slice() {
                [one] => format!("{one} was not rendered: {}", unit.failure.message),
                [rest @ .., last] => format!(
                    "{} and {last} were not rendered: {}",
                    rest.join(", "),
                    unit.failure.message
                ),
                [] => unit.failure.message,
            };
            // Its own values were refused, but CI's values sets render it.
            let mut help = unit.failure.help;
            let severity = if unit.covered_by.is_empty() {
                entry.policy.severity
            } else {
                let sets = match unit.covered_by.as_slice() {
                    [first, second, third, rest @ ..] if !rest.is_empty() => {
                        format!("{first}, {second}, {third} and {} more", rest.len())
                    }
                    all => all.join(", "),
                };
                message.push_str(&format!(
                    "; it renders with {sets}, as chart-testing renders it"
                ));
                help = format!(
                    "its own values need a value only an install can give; to stop rendering them alone, set `default: false` for {} under helm.charts in .scar.yaml",
                    unit.info.path
                );
                Severity::Info
            };
            Finding {
                rule: entry.rule_id(),
                severity,
                path: at.path,
                span: at.span,
                message,
                help,
                resource: None,
                excerpt: at.excerpt,
                related: Vec::new(),
                rendered: None,
                unit: Some(unit.info),
                depends_on: unit.files,
                cause: None,
            }
        })
        .collect()
}

fn lint_unit(file: &SourceFile, place: &dyn Place, registry: &Registry, checked: &mut Checked) {
    let unit = match Unit::parse(&file.text) {
        Ok(unit) => unit,
        Err(err) => {
            report_parse_error(place, registry, err.span, &err.message, checked);
            return;
        }
    };
    for entry in registry.enabled() {
        let mut out = emitter(place, entry, None, checked);
        entry.rule.check_unit(&unit, &mut out);
    }
    let commands: Vec<_> = unit
        .entries
        .iter()
        .filter(|e| EXEC_KEYS.contains(&e.key.as_str()))
        .flat_map(|e| unit.exec_commands(e))
        .collect();
    check_container_runs(place, &commands, registry, checked);
}

fn check_container_runs(
    place: &dyn Place,
    commands: &[Vec<shell::Word>],
    registry: &Registry,
    checked: &mut Checked,
) {
    for run in commands
        .iter()
        .filter_map(|c| ContainerRun::from_command(c))
    {
        for entry in registry.enabled() {
            let mut out = emitter(place, entry, None, checked);
            entry.rule.check_container_run(&run, &mut out);
        }
    }
}

fn report_parse_error(
    place: &dyn Place,
    registry: &Registry,
    at: Span,
    message: &str,
    checked: &mut Checked,
) {
    if let Some(entry) = registry.get(PARSE_ERROR).filter(|e| e.enabled) {
        let mut out = emitter(place, entry, None, checked);
        out.report(
            at,
            message.to_string(),
            "fix the syntax; scar checks nothing else in this file until it parses",
        );
    }
}

fn emitter<'a>(
    place: &'a dyn Place,
    entry: &'a RuleEntry,
    resource: Option<&'a k8s::ResourceRef>,
    checked: &'a mut Checked,
) -> Emitter<'a> {
    Emitter::new(
        place,
        entry,
        resource,
        &mut checked.findings,
        &mut checked.pending,
    )
}

/// Reads and parses the files of `inputs` without checking them: the
/// baseline the speed benchmark compares a full run against.
pub fn parse_only(inputs: &[Input]) -> Result<usize, MissingPath> {
    let discovery = discover::discover(inputs, &[], 0, &FolderExcludes::default())?;
    Ok(discovery
        .candidates
        .par_iter()
        .filter_map(|c| {
            let text = String::from_utf8(read(c, u64::MAX).ok()?).ok()?;
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
