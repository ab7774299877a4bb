//! The rule interface and the registry of built-in rules.
//!
//! A rule is one file here: a unit struct implementing [`Rule`], with its
//! id and its doc, exported as `pub(crate) static RULE`. Its severity,
//! summary and parameters live in `policies/<rule-id>.yaml`. `build.rs`
//! registers both, so nothing else needs touching. Teams' CEL policies
//! (`team_policy`) join the registry as rules of their own.

use std::path::PathBuf;
use std::sync::Arc;

use crate::check::finding::{Finding, Severity};

use crate::check::params::{Params, Policy};
use crate::model::compose::ComposeService;
use crate::model::container_cli::ContainerRun;
use crate::model::index::Cause;
use crate::model::index::{Lookup, Origin};
use crate::model::k8s::{Object, ResourceRef};
use crate::model::parse::systemd::Unit;
use crate::model::place::Place;
use crate::model::source::{Related, Span};

include!(concat!(env!("OUT_DIR"), "/registry.rs"));

/// A check. Each hook is called for one thing found in a file; a rule
/// implements the hooks for the file kinds it is about.
pub trait Rule: Sync {
    /// The public id, also the name of its policy file.
    fn id(&self) -> &str;

    /// What it finds, why it is bad (its incident), what to write instead.
    /// `scar explain` prints it.
    fn doc(&self) -> &str;

    fn check_object(&self, _object: &Object<'_>, _out: &mut Emitter<'_>) {}

    fn check_compose_service(&self, _service: &ComposeService<'_>, _out: &mut Emitter<'_>) {}

    /// A `docker|podman|nerdctl run|create` in a shell script or an `Exec*=` line.
    fn check_container_run(&self, _run: &ContainerRun, _out: &mut Emitter<'_>) {}

    fn check_unit(&self, _unit: &Unit<'_>, _out: &mut Emitter<'_>) {}
}

/// A built-in rule is a static; this lets the registry hold it beside
/// the rules it builds from teams' policy files.
impl Rule for &'static dyn Rule {
    fn id(&self) -> &str {
        (**self).id()
    }

    fn doc(&self) -> &str {
        (**self).doc()
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        (**self).check_object(object, out);
    }

    fn check_compose_service(&self, service: &ComposeService<'_>, out: &mut Emitter<'_>) {
        (**self).check_compose_service(service, out);
    }

    fn check_container_run(&self, run: &ContainerRun, out: &mut Emitter<'_>) {
        (**self).check_container_run(run, out);
    }

    fn check_unit(&self, unit: &Unit<'_>, out: &mut Emitter<'_>) {
        (**self).check_unit(unit, out);
    }
}

/// A rule with its policy: a built-in one, or a team's policy file.
pub struct RuleEntry {
    /// The rule's id, shared by its findings.
    rule_id: Arc<str>,
    pub rule: Box<dyn Rule>,
    pub policy: Policy,
    /// Turned off by the config file.
    pub enabled: bool,
}

impl RuleEntry {
    pub fn new(rule: Box<dyn Rule>, policy: Policy) -> RuleEntry {
        RuleEntry {
            rule_id: rule.id().into(),
            rule,
            policy,
            enabled: true,
        }
    }

    pub fn id(&self) -> &str {
        &self.rule_id
    }

    /// The id findings carry.
    pub fn rule_id(&self) -> Arc<str> {
        self.rule_id.clone()
    }
}

pub struct Registry {
    entries: Vec<RuleEntry>,
    /// The folders teams' policies were read from (canonical), each once.
    policy_folders: Vec<PathBuf>,
}

impl Registry {
    /// Every built-in rule with the defaults of its policy file. A rule
    /// without a valid policy is a bug in the build, caught by the tests.
    pub fn builtin() -> Registry {
        let mut entries: Vec<RuleEntry> = RULES
            .iter()
            .map(|rule| {
                let text = POLICIES
                    .iter()
                    .find(|(id, _)| *id == rule.id())
                    .map(|(_, text)| *text)
                    .unwrap_or_else(|| panic!("rule `{}` has no policies/{0}.yaml", rule.id()));
                let policy = Policy::parse(text)
                    .unwrap_or_else(|e| panic!("policies/{}.yaml: {e}", rule.id()));
                assert_eq!(policy.id, rule.id(), "policy id differs from its file name");
                RuleEntry::new(Box::new(*rule), policy)
            })
            .collect();
        entries.sort_by(|a, b| a.id().cmp(b.id()));
        Registry {
            entries,
            policy_folders: Vec::new(),
        }
    }

    /// Notes policy folders as read; returns those not read before, each
    /// checked to exist.
    pub(crate) fn unread_policy_folders(
        &mut self,
        folders: &[PathBuf],
    ) -> Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
        let mut new = Vec::new();
        for folder in folders {
            let canonical = folder.canonicalize().map_err(|e| (folder.clone(), e))?;
            if !self.policy_folders.contains(&canonical) {
                self.policy_folders.push(canonical);
                new.push(folder.clone());
            }
        }
        Ok(new)
    }

    /// Adds a rule read from a file, with its settings, in id order.
    pub(crate) fn add(&mut self, rule: Box<dyn Rule>, policy: Policy) {
        let at = self.entries.partition_point(|e| e.id() < rule.id());
        self.entries.insert(at, RuleEntry::new(rule, policy));
    }

    /// Every rule, enabled or not.
    pub fn iter(&self) -> impl Iterator<Item = &RuleEntry> {
        self.entries.iter()
    }

    /// The rules that run.
    pub fn enabled(&self) -> impl Iterator<Item = &RuleEntry> {
        self.entries.iter().filter(|e| e.enabled)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut RuleEntry> {
        self.entries.iter_mut().find(|e| e.id() == id)
    }

    pub fn get(&self, id: &str) -> Option<&RuleEntry> {
        self.entries.iter().find(|e| e.id() == id)
    }

    /// Every policy file, with its id, even one without a rule.
    pub fn policy_ids() -> impl Iterator<Item = &'static str> {
        POLICIES.iter().map(|(id, _)| *id)
    }
}

/// A teams' policy's view of the object being checked, built once and
/// shared by every policy checking it; the emitter of each rule carries it.
pub trait ObjectVariables {
    fn scope(&self) -> &cel::Context<'_, '_>;

    /// The object's tree, copied once however many policies keep it.
    fn owned(&self) -> std::sync::Arc<crate::model::parse::yaml::Node>;
}

/// What a rule hands back when a cross-file question is answered.
#[derive(Default)]
pub struct Diagnosis {
    pub message: String,
    pub help: String,
    /// Replaces the rule's severity when what other files hold makes the
    /// finding graver (or milder) than its default.
    pub severity: Option<Severity>,
    /// Places in other files that explain the finding (where a backend's
    /// replica count is set).
    pub related: Vec<Related>,
    /// What many findings share (a backend many webhooks call), so that
    /// they are reported once.
    pub cause: Option<Cause>,
}

/// Decides a pending finding once the whole run's index is built.
type Decide = Box<dyn FnOnce(&Lookup) -> Option<Diagnosis> + Send>;

/// A finding that waits for the whole run's index to decide.
pub(crate) struct Pending {
    pub(crate) finding: Finding,
    /// Where the object it is about was written: references resolve from there.
    pub(crate) asker: Origin,
    pub(crate) decide: Decide,
}

/// Collects the findings of one file or rendered object for the rule that
/// is running.
pub struct Emitter<'a> {
    place: &'a dyn Place,
    entry: &'a RuleEntry,
    resource: Option<&'a ResourceRef>,
    findings: &'a mut Vec<Finding>,
    pending: &'a mut Vec<Pending>,
    /// The object's CEL variables, shared by the teams' policies checking it.
    object_scope: Option<&'a (dyn ObjectVariables + 'a)>,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(
        place: &'a dyn Place,
        entry: &'a RuleEntry,
        resource: Option<&'a ResourceRef>,
        findings: &'a mut Vec<Finding>,
        pending: &'a mut Vec<Pending>,
    ) -> Emitter<'a> {
        Emitter {
            place,
            entry,
            resource,
            findings,
            pending,
            object_scope: None,
        }
    }

    /// Lets every policy checking one object share its CEL variables.
    pub(crate) fn with_object_scope(
        mut self,
        scope: &'a (dyn ObjectVariables + 'a),
    ) -> Emitter<'a> {
        self.object_scope = Some(scope);
        self
    }

    pub(crate) fn object_scope(&self) -> Option<&'a (dyn ObjectVariables + 'a)> {
        self.object_scope
    }

    pub fn params(&self) -> &Params {
        &self.entry.policy.params
    }

    pub fn report(&mut self, at: Span, message: impl Into<String>, help: impl Into<String>) {
        let mut finding = self.finding(at);
        finding.message = message.into();
        finding.help = help.into();
        self.findings.push(finding);
    }

    /// Reports at `at`, relating other places of the same file that explain
    /// the finding, each with what it says.
    pub fn report_related(
        &mut self,
        at: Span,
        message: impl Into<String>,
        help: impl Into<String>,
        related: Vec<(Span, String)>,
    ) {
        let mut finding = self.finding(at);
        finding.message = message.into();
        finding.help = help.into();
        finding
            .related
            .extend(related.into_iter().map(|(span, message)| Related {
                at: self.place.locate(span).at,
                message,
            }));
        self.findings.push(finding);
    }

    /// Where a user changes what is written at `at` under keys `wanted`
    /// accepts, when a renderer's settings decide it (a chart's values).
    pub fn settings_for(&self, at: Span, wanted: fn(&str) -> bool) -> Vec<Related> {
        self.place.settings_for(at, wanted)
    }

    /// Reports at `at` if `decide` says so once every file has been read:
    /// for rules whose answer depends on objects in other files.
    pub fn report_if(
        &mut self,
        at: Span,
        decide: impl FnOnce(&Lookup) -> Option<Diagnosis> + Send + 'static,
    ) {
        let finding = self.finding(at);
        self.pending.push(Pending {
            finding,
            asker: self.place.origin().clone(),
            decide: Box::new(decide),
        });
    }

    fn finding(&self, at: Span) -> Finding {
        let located = self.place.locate(at);
        Finding {
            rule: self.entry.rule_id(),
            severity: self.entry.policy.severity,
            depends_on: self.place.depends_on(&located.at.path),
            path: located.at.path,
            span: located.at.span,
            message: String::new(),
            help: String::new(),
            resource: self.resource.cloned(),
            excerpt: located.at.excerpt,
            related: located.related,
            rendered: located.rendered,
            unit: self.place.unit().cloned(),
            cause: None,
        }
    }
}
