//! Scenario files: what to send, how fast, for how long, and the limits a
//! run must stay within. Validated up front; every error names the file,
//! the line and the field.
//!
//! ```yaml
//! name: deploy-burst
//! namespace: scar-loadgen-{{ run_id }}   # created, labelled scar.dev/run-id
//! vars: {scale: 15}                      # `--set scale=300` overrides
//! templates:
//!   deployment: deployment.yaml          # relative to this file
//! phases:
//! - {name: create, verb: create, template: deployment, count: "${scale}", rate: 20}
//! - {name: deploy-burst, verb: patch, template: deployment, burst: "${scale}",
//!    patch: {spec: {template: {metadata: {annotations: {scar.dev/restarted-at: "{{ now }}"}}}}}}
//! - {name: read, verb: get, template: deployment, concurrency: 4, duration: 10s}
//! slo:
//!   p99: {create: 1s, patch: 1s}
//!   max_429_ratio: 0.01
//!   max_error_ratio: 0.01
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scar_yaml::{parse_documents, Node, Span, Value};

use crate::manifest::Template;
use crate::probe_spec::{self as probe, ProbeSlo, ProbeSpec};

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// May hold `{{ run_id }}`.
    pub namespace: String,
    pub vars: BTreeMap<String, String>,
    pub templates: BTreeMap<String, Template>,
    pub phases: Vec<Phase>,
    pub slo: Slo,
    /// Service traffic sent while the phases run.
    pub probe: Option<ScenarioProbe>,
}

/// The `probe:` of a scenario: what to send, and how long to probe alone
/// before the first phase and after the last.
#[derive(Debug, Clone)]
pub struct ScenarioProbe {
    pub spec: ProbeSpec,
    pub before: Duration,
    pub after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Create,
    Patch,
    Get,
    List,
    Delete,
    /// Restart Deployments and wait for them, as `kubectl rollout restart`
    /// and `kubectl rollout status` do.
    Rollout,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Patch => "patch",
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Delete => "delete",
            Verb::Rollout => "rollout",
        }
    }

    /// A verb by the name scenarios give it.
    pub fn parse(name: &str) -> Option<Verb> {
        [
            Verb::Create,
            Verb::Patch,
            Verb::Get,
            Verb::List,
            Verb::Delete,
            Verb::Rollout,
        ]
        .into_iter()
        .find(|v| v.as_str() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Open model: requests are sent on schedule whether or not earlier
    /// ones returned, `burst` at the same instant; `rate` is requests per
    /// second on average (unlimited: every burst at once). At most
    /// `connections` are in flight, as with wrk2's or oha's connections: when
    /// all are busy the sender falls behind, and that lateness counts in the
    /// corrected latency.
    Open {
        rate: Option<f64>,
        burst: u32,
        connections: u32,
    },
    /// Closed model: this many requests in flight, each sent when one returns.
    Closed { concurrency: u32 },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    Count(u64),
    Duration(Duration),
    /// Once per object the run created from the phase's template.
    EachObject,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub verb: Verb,
    pub work: Work,
}

#[derive(Debug, Clone)]
pub enum Work {
    Requests(Requests),
    Rollout(Rollout),
}

/// Requests made from a template.
#[derive(Debug, Clone)]
pub struct Requests {
    pub template: String,
    pub load: Load,
    pub stop: Stop,
    /// A JSON merge patch, for `patch`; may hold `{{ now }}` and `{{ index }}`.
    pub patch: Option<serde_json::Value>,
    /// Per request.
    pub timeout: Duration,
}

/// Deployments to restart, and how long their rollouts may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub deployments: Vec<DeploymentRef>,
    pub timeout: Duration,
}

/// `namespace/name`, or `name` in the run's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRef {
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for DeploymentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// p99 latency limit per verb, measured from the scheduled send time.
    pub p99: BTreeMap<Verb, Duration>,
    pub max_429_ratio: f64,
    pub max_error_ratio: f64,
}

impl Default for Slo {
    /// The Kubernetes API call latency SLO (kubernetes/community,
    /// sig-scalability/slos/api_call_latency.md): p99 of mutating
    /// single-object calls within 1 s; reads of a single object also 1 s;
    /// namespaced LISTs within 5 s.
    fn default() -> Self {
        Slo {
            p99: BTreeMap::from([
                (Verb::Create, Duration::from_secs(1)),
                (Verb::Patch, Duration::from_secs(1)),
                (Verb::Delete, Duration::from_secs(1)),
                (Verb::Get, Duration::from_secs(1)),
                (Verb::List, Duration::from_secs(5)),
            ]),
            max_429_ratio: 0.0,
            max_error_ratio: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub path: PathBuf,
    pub span: Span,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.path.display(),
            self.span.line,
            self.span.column,
            self.field,
            self.message
        )
    }
}

impl std::error::Error for ScenarioError {}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// A Deployment's default `progressDeadlineSeconds`.
const DEFAULT_ROLLOUT_TIMEOUT: Duration = Duration::from_secs(600);
/// Requests in flight at most in an open phase unless it says otherwise.
pub const DEFAULT_CONNECTIONS: u32 = 1000;
/// The highest `rate` a phase or the probe may ask for, in requests per
/// second: far above what one sender reaches (a typo such as `1e12` is a
/// mistake to name, not a schedule to attempt).
pub const MAX_RATE: f64 = 100_000.0;
/// Names every template has besides the scenario's vars.
const TEMPLATE_NAMES: &[&str] = &["index", "run_id", "namespace"];
/// Names a patch has besides the scenario's vars.
const PATCH_NAMES: &[&str] = &["index", "run_id", "now"];

/// Reads and validates a scenario; `overrides` replace its `vars`.
pub fn load(path: &Path, overrides: &BTreeMap<String, String>) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_path_buf(),
        span: Span::point(1, 1),
        field: "file".to_string(),
        message: format!("cannot read: {e}"),
    })?;
    Parser {
        path,
        vars: BTreeMap::new(),
    }
    .scenario(&text, overrides)
}

struct Parser<'a> {
    path: &'a Path,
    vars: BTreeMap<String, String>,
}

impl Parser<'_> {
    fn error(&self, node: &Node, field: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            path: self.path.to_path_buf(),
            span: node.span,
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn scenario(
        mut self,
        text: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Scenario, ScenarioError> {
        let docs = parse_documents(text).map_err(|e| ScenarioError {
            path: self.path.to_path_buf(),
            span: e.span,
            field: "yaml".to_string(),
            message: e.message,
        })?;
        let root = docs.first().ok_or_else(|| ScenarioError {
            path: self.path.to_path_buf(),
            span: Span::point(1, 1),
            field: "file".to_string(),
            message: "the scenario is empty".to_string(),
        })?;
        self.check_keys(
            root,
            "",
            &[
                "name",
                "namespace",
                "vars",
                "templates",
                "phases",
                "slo",
                "probe",
            ],
        )?;

        if let Some(vars) = root.get("vars") {
            for (key, value) in self.map(vars, "vars")? {
                let name = self.text(key, "vars")?;
                let value = self.text(value, &format!("vars.{name}"))?;
                self.vars.insert(name.to_string(), value.to_string());
            }
        }
        for (name, value) in overrides {
            if !self.vars.contains_key(name) {
                let known: Vec<&str> = self.vars.keys().map(String::as_str).collect();
                return Err(ScenarioError {
                    path: self.path.to_path_buf(),
                    span: root.get("vars").map_or(root.span, |v| v.span),
                    field: format!("vars.{name}"),
                    message: format!(
                        "--set {name}: the scenario has no such var (it has: {})",
                        known.join(", ")
                    ),
                });
            }
            self.vars.insert(name.clone(), value.clone());
        }

        let name = match root.get("name") {
            Some(n) => self.text(n, "name")?.to_string(),
            None => self
                .path
                .file_stem()
                .map_or("scenario".to_string(), |s| s.to_string_lossy().into_owned()),
        };
        let namespace = match root.get("namespace") {
            Some(n) => self.text(n, "namespace")?.to_string(),
            None => "scar-loadgen-{{ run_id }}".to_string(),
        };

        let mut templates = BTreeMap::new();
        let template_entries = match root.get("templates") {
            Some(node) => self.map(node, "templates")?,
            None => &[],
        };
        for (key, value) in template_entries {
            let template_name = self.text(key, "templates")?.to_string();
            let field = format!("templates.{template_name}");
            let file = self.text(value, &field)?;
            let manifest = self.path.parent().unwrap_or(Path::new(".")).join(file);
            let template = Template::load(&manifest).map_err(|e| self.error(value, &field, e))?;
            self.known_placeholders(&template.text, TEMPLATE_NAMES)
                .map_err(|(name, line, column, message)| ScenarioError {
                    path: manifest.clone(),
                    span: Span::point(line, column),
                    field: format!("{field}: {{{{ {name} }}}}"),
                    message,
                })?;
            templates.insert(template_name, template);
        }

        let phases_node = root.get("phases").ok_or_else(|| {
            self.error(
                root,
                "phases",
                "missing: a scenario runs one or more phases",
            )
        })?;
        let Value::Seq(items) = &phases_node.value else {
            return Err(self.error(phases_node, "phases", "must be a list"));
        };
        if items.is_empty() {
            return Err(self.error(phases_node, "phases", "must not be empty"));
        }
        let mut phases: Vec<Phase> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let phase = self.phase(item, i, &templates)?;
            // Logs, the report and the pages know a phase by its name.
            if let Some(first) = phases.iter().position(|p| p.name == phase.name) {
                return Err(self.error(
                    item.get("name").unwrap_or(item),
                    &format!("phases[{i}].name"),
                    format!(
                        "`{}` is already the name of phases[{first}]; give each phase its own (the report and --hdr-out files are by name)",
                        phase.name
                    ),
                ));
            }
            phases.push(phase);
        }

        let slo = match root.get("slo") {
            Some(node) => self.slo(node)?,
            None => Slo::default(),
        };
        let probe = root.get("probe").map(|node| self.probe(node)).transpose()?;
        Ok(Scenario {
            name,
            namespace,
            vars: self.vars,
            templates,
            phases,
            slo,
            probe,
        })
    }

    fn phase(
        &self,
        node: &Node,
        index: usize,
        templates: &BTreeMap<String, Template>,
    ) -> Result<Phase, ScenarioError> {
        let at = |field: &str| format!("phases[{index}].{field}");
        let name = match node.get("name") {
            Some(n) => self.text(n, &at("name"))?.to_string(),
            None => format!("phase-{}", index + 1),
        };
        let verb_node = node
            .get("verb")
            .ok_or_else(|| self.error(node, &at("verb"), "missing"))?;
        let verb_name = self.text(verb_node, &at("verb"))?;
        let verb = Verb::parse(verb_name).ok_or_else(|| {
            self.error(
                verb_node,
                &at("verb"),
                format!("`{verb_name}` is not one of create, patch, get, list, delete, rollout"),
            )
        })?;
        if verb == Verb::Rollout {
            return Ok(Phase {
                name,
                verb,
                work: Work::Rollout(self.rollout(node, index)?),
            });
        }
        self.check_keys(
            node,
            &format!("phases[{index}]."),
            &[
                "name",
                "verb",
                "template",
                "rate",
                "burst",
                "connections",
                "concurrency",
                "count",
                "duration",
                "patch",
                "timeout",
            ],
        )?;
        let template_node = node
            .get("template")
            .ok_or_else(|| self.error(node, &at("template"), "missing"))?;
        let template = self.text(template_node, &at("template"))?.to_string();
        if !templates.contains_key(&template) {
            let known: Vec<&str> = templates.keys().map(String::as_str).collect();
            return Err(self.error(
                template_node,
                &at("template"),
                format!("no template `{template}` (templates: {})", known.join(", ")),
            ));
        }

        let rate = self.optional(node, "rate", &at("rate"), Self::rate)?;
        let burst = self.optional(node, "burst", &at("burst"), Self::positive_integer)?;
        let concurrency = self.optional(
            node,
            "concurrency",
            &at("concurrency"),
            Self::positive_integer,
        )?;
        let connections = self.optional(
            node,
            "connections",
            &at("connections"),
            Self::positive_integer,
        )?;
        let load = match (rate, burst, concurrency) {
            (_, _, Some(_)) if rate.is_some() || burst.is_some() => {
                return Err(self.error(node.get("concurrency").unwrap_or(node), &at("concurrency"), "a phase is either open (rate, burst) or closed (concurrency), not both"))
            }
            (None, None, None) => {
                return Err(self.error(node, &at("rate"), "set rate (requests/s), burst (requests at once) or concurrency (requests in flight)"))
            }
            (_, _, Some(concurrency)) => Load::Closed { concurrency: concurrency as u32 },
            (rate, burst, None) => Load::Open {
                rate,
                burst: burst.map_or(1, |b| b as u32),
                connections: connections.map_or(DEFAULT_CONNECTIONS, |c| c as u32),
            },
        };
        if let (Load::Closed { .. }, Some(_)) = (&load, connections) {
            return Err(self.error(
                node.get("connections").unwrap_or(node),
                &at("connections"),
                "connections bounds an open phase; a closed phase has concurrency",
            ));
        }

        let count = self.optional(node, "count", &at("count"), Self::positive_integer)?;
        let duration = self.optional(node, "duration", &at("duration"), Self::duration)?;
        let stop = match (count, duration) {
            (Some(_), Some(_)) => {
                return Err(self.error(
                    node.get("duration").unwrap_or(node),
                    &at("duration"),
                    "give count or duration, not both",
                ))
            }
            (Some(count), None) => Stop::Count(count),
            (None, Some(duration)) => Stop::Duration(duration),
            (None, None) if verb == Verb::Create => {
                return Err(self.error(
                    node,
                    &at("count"),
                    "a create phase needs count: how many objects to create",
                ))
            }
            (None, None) if verb == Verb::List => {
                return Err(self.error(node, &at("count"), "a list phase needs count or duration"))
            }
            (None, None) => Stop::EachObject,
        };
        if let (Load::Open { rate: None, .. }, Stop::Duration(_)) = (&load, &stop) {
            return Err(self.error(
                node,
                &at("rate"),
                "a phase that runs for a duration needs a rate or a concurrency",
            ));
        }

        let patch = match (verb, node.get("patch")) {
            (Verb::Patch, Some(p)) => {
                self.patch_placeholders(p, &at("patch"))?;
                Some(crate::manifest::to_json(p))
            }
            (Verb::Patch, None) => {
                return Err(self.error(
                    node,
                    &at("patch"),
                    "a patch phase needs patch: the merge patch to send",
                ))
            }
            (_, Some(p)) => {
                return Err(self.error(p, &at("patch"), "only a patch phase takes a patch"))
            }
            (_, None) => None,
        };
        let timeout = match node.get("timeout") {
            Some(n) => self.duration(n, &at("timeout"))?,
            None => DEFAULT_TIMEOUT,
        };
        Ok(Phase {
            name,
            verb,
            work: Work::Requests(Requests {
                template,
                load,
                stop,
                patch,
                timeout,
            }),
        })
    }

    /// `deployments: [shop/checkout, web]` and the `timeout` of the wait.
    fn rollout(&self, node: &Node, index: usize) -> Result<Rollout, ScenarioError> {
        let at = |field: &str| format!("phases[{index}].{field}");
        self.check_keys(
            node,
            &format!("phases[{index}]."),
            &["name", "verb", "deployments", "timeout"],
        )?;
        let list = node.get("deployments").ok_or_else(|| {
            self.error(
                node,
                &at("deployments"),
                "a rollout phase needs deployments: the Deployments to restart (namespace/name)",
            )
        })?;
        let Value::Seq(items) = &list.value else {
            return Err(self.error(list, &at("deployments"), "must be a list"));
        };
        if items.is_empty() {
            return Err(self.error(list, &at("deployments"), "must not be empty"));
        }
        let mut deployments = Vec::new();
        for item in items {
            let text = self.resolved(item, &at("deployments"))?;
            let (namespace, name) = match text.split_once('/') {
                Some((namespace, name)) => (Some(namespace.to_string()), name),
                None => (None, text.as_str()),
            };
            let valid = |s: &str| {
                !s.is_empty()
                    && s.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
                    })
            };
            if !valid(name) || !namespace.as_deref().is_none_or(valid) {
                return Err(self.error(
                    item,
                    &at("deployments"),
                    format!("`{text}` is not namespace/name or name"),
                ));
            }
            deployments.push(DeploymentRef {
                namespace,
                name: name.to_string(),
            });
        }
        let timeout = match node.get("timeout") {
            Some(n) => self.duration(n, &at("timeout"))?,
            None => DEFAULT_ROLLOUT_TIMEOUT,
        };
        Ok(Rollout {
            deployments,
            timeout,
        })
    }

    fn slo(&self, node: &Node) -> Result<Slo, ScenarioError> {
        self.check_keys(node, "slo.", &["p99", "max_429_ratio", "max_error_ratio"])?;
        let mut slo = Slo::default();
        if let Some(p99) = node.get("p99") {
            for (key, value) in self.map(p99, "slo.p99")? {
                let verb_name = self.text(key, "slo.p99")?;
                let verb = Verb::parse(verb_name).ok_or_else(|| {
                    self.error(key, "slo.p99", format!("`{verb_name}` is not a verb"))
                })?;
                slo.p99
                    .insert(verb, self.duration(value, &format!("slo.p99.{verb_name}"))?);
            }
        }
        if let Some(n) = node.get("max_429_ratio") {
            slo.max_429_ratio = self.ratio(n, "slo.max_429_ratio")?;
        }
        if let Some(n) = node.get("max_error_ratio") {
            slo.max_error_ratio = self.ratio(n, "slo.max_error_ratio")?;
        }
        Ok(slo)
    }

    fn probe(&self, node: &Node) -> Result<ScenarioProbe, ScenarioError> {
        self.check_keys(
            node,
            "probe.",
            &[
                "url",
                "rate",
                "method",
                "headers",
                "body",
                "timeout",
                "connections",
                "http2",
                "before",
                "after",
                "slo",
            ],
        )?;
        let url_node = node
            .get("url")
            .ok_or_else(|| self.error(node, "probe.url", "missing: the service URL to probe"))?;
        let url_text = self.resolved(url_node, "probe.url")?;
        let url = url_text
            .parse::<http::Uri>()
            .ok()
            .filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
            .ok_or_else(|| {
                self.error(
                    url_node,
                    "probe.url",
                    format!("`{url_text}` is not an http:// or https:// URL"),
                )
            })?;
        let method = match node.get("method") {
            Some(n) => {
                let text = self.resolved(n, "probe.method")?;
                http::Method::from_bytes(text.to_ascii_uppercase().as_bytes()).map_err(|_| {
                    self.error(n, "probe.method", format!("`{text}` is not an HTTP method"))
                })?
            }
            None => http::Method::GET,
        };
        let mut headers = Vec::new();
        if let Some(map) = node.get("headers") {
            for (key, value) in self.map(map, "probe.headers")? {
                let name = self.text(key, "probe.headers")?;
                let field = format!("probe.headers.{name}");
                let value_text = self.resolved(value, &field)?;
                let parsed = (
                    http::header::HeaderName::from_bytes(name.as_bytes()),
                    http::header::HeaderValue::from_str(&value_text),
                );
                let (Ok(name), Ok(value)) = parsed else {
                    return Err(self.error(key, &field, "not a valid HTTP header"));
                };
                headers.push((name, value));
            }
        }
        let body = match node.get("body") {
            Some(n) => self.resolved(n, "probe.body")?.into_bytes().into(),
            None => Default::default(),
        };
        let http2 = match node.get("http2") {
            Some(n) => n
                .bool()
                .ok_or_else(|| self.error(n, "probe.http2", "must be true or false"))?,
            None => false,
        };
        let duration_or = |key: &str, default: Duration| -> Result<Duration, ScenarioError> {
            self.optional(node, key, &format!("probe.{key}"), Self::duration)
                .map(|d| d.unwrap_or(default))
        };
        let mut slo = ProbeSlo::default();
        if let Some(slo_node) = node.get("slo") {
            self.check_keys(slo_node, "probe.slo.", &["max_errors", "max_error_ratio"])?;
            if let Some(n) = slo_node.get("max_errors") {
                slo.max_errors =
                    self.parsed(n, "probe.slo.max_errors", |_: &u64| true, "a count")?;
            }
            if let Some(n) = slo_node.get("max_error_ratio") {
                slo.max_error_ratio = Some(self.ratio(n, "probe.slo.max_error_ratio")?);
            }
        }
        let spec = ProbeSpec {
            url,
            method,
            headers,
            body,
            rate: self
                .optional(node, "rate", "probe.rate", Self::rate)?
                .unwrap_or(probe::DEFAULT_RATE),
            connections: self
                .optional(
                    node,
                    "connections",
                    "probe.connections",
                    Self::positive_integer,
                )?
                .map_or(probe::DEFAULT_CONNECTIONS, |c| c as u32),
            timeout: duration_or("timeout", probe::DEFAULT_TIMEOUT)?,
            http2,
            duration: None,
            slo,
        };
        Ok(ScenarioProbe {
            spec,
            before: duration_or("before", Duration::ZERO)?,
            after: duration_or("after", Duration::ZERO)?,
        })
    }

    fn check_keys(&self, node: &Node, prefix: &str, allowed: &[&str]) -> Result<(), ScenarioError> {
        for (key, _) in self.map(node, prefix.trim_end_matches('.'))? {
            let name = key.str().unwrap_or("");
            if !allowed.contains(&name) {
                return Err(self.error(
                    key,
                    &format!("{prefix}{name}"),
                    format!("unknown field (expected one of: {})", allowed.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn map<'n>(&self, node: &'n Node, field: &str) -> Result<&'n [(Node, Node)], ScenarioError> {
        match &node.value {
            Value::Map(entries) => Ok(entries),
            _ => Err(self.error(
                node,
                if field.is_empty() { "scenario" } else { field },
                "must be a mapping",
            )),
        }
    }

    fn text<'n>(&self, node: &'n Node, field: &str) -> Result<&'n str, ScenarioError> {
        node.str()
            .ok_or_else(|| self.error(node, field, "must be a string"))
    }

    /// A scalar with `${var}` replaced by the scenario's vars.
    fn resolved(&self, node: &Node, field: &str) -> Result<String, ScenarioError> {
        let raw = self.text(node, field)?;
        let mut out = String::new();
        let mut rest = raw;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| self.error(node, field, "unclosed `${`"))?
                + start;
            let name = rest[start + 2..end].trim();
            let value = self.vars.get(name).ok_or_else(|| {
                self.error(
                    node,
                    field,
                    format!("no var `{name}` (define it under vars)"),
                )
            })?;
            out.push_str(value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The field `key` of `node` read by `read`, if it is there.
    fn optional<T>(
        &self,
        node: &Node,
        key: &str,
        field: &str,
        read: impl Fn(&Self, &Node, &str) -> Result<T, ScenarioError>,
    ) -> Result<Option<T>, ScenarioError> {
        node.get(key).map(|n| read(self, n, field)).transpose()
    }

    /// A value of type `T` that `accept` allows, `${var}`s resolved.
    fn parsed<T: std::str::FromStr>(
        &self,
        node: &Node,
        field: &str,
        accept: impl Fn(&T) -> bool,
        what: &str,
    ) -> Result<T, ScenarioError> {
        let text = self.resolved(node, field)?;
        text.trim()
            .parse::<T>()
            .ok()
            .filter(accept)
            .ok_or_else(|| self.error(node, field, format!("must be {what}, not `{text}`")))
    }

    /// Every `{{ name }}` of `text` is a var of the scenario or one of
    /// `builtin`; else the first unknown one, with its line, column and why.
    fn known_placeholders(
        &self,
        text: &str,
        builtin: &[&str],
    ) -> Result<(), (String, u32, u32, String)> {
        for (name, line, column) in crate::manifest::placeholders(text) {
            if !builtin.contains(&name.as_str()) && !self.vars.contains_key(&name) {
                let vars: Vec<&str> = self.vars.keys().map(String::as_str).collect();
                let message = format!(
                    "`{{{{ {name} }}}}` is not a var of the scenario (vars: {}; built in: {}); it would be sent as written",
                    if vars.is_empty() { "none".to_string() } else { vars.join(", ") },
                    builtin.join(", ")
                );
                return Err((name, line, column, message));
            }
        }
        Ok(())
    }

    /// The placeholders in the strings of a patch are known names.
    fn patch_placeholders(&self, node: &Node, field: &str) -> Result<(), ScenarioError> {
        match &node.value {
            Value::Scalar(scalar) => self
                .known_placeholders(&scalar.text, PATCH_NAMES)
                .map_err(|(_, _, _, message)| self.error(node, field, message)),
            Value::Seq(items) => items
                .iter()
                .try_for_each(|item| self.patch_placeholders(item, field)),
            Value::Map(entries) => entries
                .iter()
                .try_for_each(|(_, value)| self.patch_placeholders(value, field)),
        }
    }

    /// A rate: a positive number of requests per second up to `MAX_RATE`.
    fn rate(&self, node: &Node, field: &str) -> Result<f64, ScenarioError> {
        let rate = self.positive_number(node, field)?;
        if rate > MAX_RATE {
            return Err(self.error(
                node,
                field,
                format!("{rate} requests/s is above the most a phase may ask for ({MAX_RATE}/s)"),
            ));
        }
        Ok(rate)
    }

    fn positive_number(&self, node: &Node, field: &str) -> Result<f64, ScenarioError> {
        self.parsed(
            node,
            field,
            |n: &f64| n.is_finite() && *n > 0.0,
            "a positive number",
        )
    }

    fn positive_integer(&self, node: &Node, field: &str) -> Result<u64, ScenarioError> {
        self.parsed(node, field, |n: &u64| *n > 0, "a positive integer")
    }

    fn ratio(&self, node: &Node, field: &str) -> Result<f64, ScenarioError> {
        self.parsed(
            node,
            field,
            |n: &f64| (0.0..=1.0).contains(n),
            "a ratio between 0 and 1",
        )
    }

    fn duration(&self, node: &Node, field: &str) -> Result<Duration, ScenarioError> {
        let text = self.resolved(node, field)?;
        parse_duration(&text).ok_or_else(|| {
            self.error(
                node,
                field,
                format!("must be a duration such as 500ms, 10s or 2m, not `{text}`"),
            )
        })
    }
}

/// `250ms`, `10s`, `1.5s`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number: f64 = text[..split].parse().ok()?;
    let seconds = match &text[split..] {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "us" | "µs" => number / 1e6,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: burst-{{ index }}\nspec:\n  replicas: 1\n";

    fn requests(phase: &Phase) -> &Requests {
        match &phase.work {
            Work::Requests(requests) => requests,
            Work::Rollout(_) => panic!("{} is a rollout phase", phase.name),
        }
    }

    fn write(dir: &Path, scenario: &str) -> PathBuf {
        std::fs::write(dir.join("deployment.yaml"), DEPLOYMENT).unwrap();
        let path = dir.join("scenario.yaml");
        std::fs::write(&path, scenario).unwrap();
        path
    }

    #[test]
    fn a_template_placeholder_no_var_defines_is_named_in_the_template_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{{ index }}\ndata:\n  size: \"{{ scale }}\"\n  owner: \"{{ ownr }}\"\n",
        )
        .unwrap();
        let path = dir.path().join("scenario.yaml");
        std::fs::write(
            &path,
            "vars: {scale: 3, owner: me}\ntemplates: {cm: cm.yaml}\nphases:\n- {verb: create, template: cm, count: 1, rate: 1}\n",
        )
        .unwrap();
        let err = load(&path, &BTreeMap::new()).unwrap_err();
        assert_eq!(err.path, dir.path().join("cm.yaml"));
        assert_eq!((err.span.line, err.span.column), (7, 11), "{err}");
        assert!(
            err.message
                .contains("`{{ ownr }}` is not a var of the scenario (vars: owner, scale;"),
            "{err}"
        );
    }

    #[test]
    fn reads_phases_vars_and_slo() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "name: burst\nvars: {scale: 15}\ntemplates: {deployment: deployment.yaml}\nphases:\n- {verb: create, template: deployment, count: \"${scale}\", rate: 20}\n- {verb: patch, template: deployment, burst: \"${scale}\", patch: {metadata: {labels: {a: b}}}}\n- {verb: get, template: deployment, concurrency: 4, duration: 2s}\nslo:\n  p99: {patch: 2s}\n  max_429_ratio: 0.05\n",
        );
        let scenario = load(
            &path,
            &BTreeMap::from([("scale".to_string(), "300".to_string())]),
        )
        .unwrap();
        assert_eq!(requests(&scenario.phases[0]).stop, Stop::Count(300));
        assert_eq!(
            requests(&scenario.phases[1]).load,
            Load::Open {
                rate: None,
                burst: 300,
                connections: DEFAULT_CONNECTIONS
            }
        );
        assert_eq!(requests(&scenario.phases[1]).stop, Stop::EachObject);
        assert_eq!(
            requests(&scenario.phases[2]).load,
            Load::Closed { concurrency: 4 }
        );
        assert_eq!(scenario.slo.p99[&Verb::Patch], Duration::from_secs(2));
        assert_eq!(scenario.slo.p99[&Verb::Create], Duration::from_secs(1));
        assert_eq!(scenario.slo.max_429_ratio, 0.05);
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("templates: {deployment: deployment.yaml}\nphases:\n- {verb: create, template: deployment, count: 5, rate: fast}\n", 3, "phases[0].rate"),
            ("templates: {deployment: deployment.yaml}\nphases:\n- verb: create\n  template: deployments\n  count: 5\n  rate: 1\n", 4, "phases[0].template"),
            ("templates: {deployment: deployment.yaml}\nphases:\n- verb: scale\n  template: deployment\n", 3, "phases[0].verb"),
            ("templates: {deployment: missing.yaml}\nphases: []\n", 1, "templates.deployment"),
            ("templates: {deployment: deployment.yaml}\nphases:\n- {verb: get, template: deployment, rate: 1}\nslo: {p99: {get: soon}}\n", 4, "slo.p99.get"),
            ("templates: {deployment: deployment.yaml}\nphase: []\n", 2, "phase"),
            ("phases:\n- {verb: rollout}\n", 2, "phases[0].deployments"),
            ("phases:\n- verb: rollout\n  deployments: [Shop/x]\n", 3, "phases[0].deployments"),
            ("phases:\n- {verb: rollout, deployments: [web], rate: 5}\n", 2, "phases[0].rate"),
            ("phases:\n- {verb: rollout, deployments: [web]}\nprobe:\n  url: localhost:80\n", 4, "probe.url"),
            ("phases:\n- {verb: rollout, deployments: [web]}\nprobe: {url: http://a/, slo: {max_error_ratio: 2}}\n", 3, "probe.slo.max_error_ratio"),
            ("templates: {deployment: deployment.yaml}\nphases:\n- {name: load, verb: get, template: deployment, rate: 1, duration: 1s}\n- {name: load, verb: list, template: deployment, rate: 1, duration: 1s}\n", 4, "phases[1].name"),
            ("templates: {deployment: deployment.yaml}\nphases:\n- {verb: create, template: deployment, count: 5, rate: 1e12}\n", 3, "phases[0].rate"),
            ("phases:\n- {verb: rollout, deployments: [web]}\nprobe: {url: http://a/, rate: 200000}\n", 3, "probe.rate"),
            ("vars: {scale: 2}\ntemplates: {deployment: deployment.yaml}\nphases:\n- verb: patch\n  template: deployment\n  burst: 1\n  patch: {metadata: {labels: {at: \"{{ now }}\", by: \"{{ owner }}\"}}}\n", 7, "phases[0].patch"),
        ];
        for (text, line, field) in cases {
            let err = load(&write(dir.path(), text), &BTreeMap::new()).unwrap_err();
            assert_eq!(
                (err.span.line, err.field.as_str()),
                (line, field),
                "{text}\n{err}"
            );
            assert!(err.to_string().contains("scenario.yaml:"), "{err}");
        }
    }

    #[test]
    fn the_shipped_scenarios_validate_and_scale() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let burst = load(&dir.join("deploy-burst.yaml"), &BTreeMap::new()).unwrap();
        let patch = burst.phases.iter().find(|p| p.verb == Verb::Patch).unwrap();
        assert!(
            matches!(
                requests(patch).load,
                Load::Open {
                    rate: None,
                    burst: 15,
                    ..
                }
            ),
            "15 Deployments updated at once"
        );
        let scaled = load(
            &dir.join("deploy-burst.yaml"),
            &BTreeMap::from([("scale".to_string(), "300".to_string())]),
        )
        .unwrap();
        assert_eq!(requests(&scaled.phases[0]).stop, Stop::Count(300));
        let rollout = load(&dir.join("rollout-502.yaml"), &BTreeMap::new()).unwrap();
        let Work::Rollout(restart) = &rollout.phases[0].work else {
            panic!("rollout-502 restarts a Deployment");
        };
        assert_eq!(restart.deployments[0].to_string(), "demo/web");
        let probe = rollout.probe.expect("rollout-502 probes the service");
        assert_eq!(probe.spec.method, http::Method::POST);
        assert_eq!(probe.spec.rate, 50.0);
        assert_eq!(probe.spec.slo.max_errors, 0);
        let storm = load(&dir.join("configmap-storm.yaml"), &BTreeMap::new()).unwrap();
        assert_eq!(storm.phases.len(), 4);
        assert_eq!(storm.templates["configmap"].resource, "configmaps");
    }

    #[test]
    fn rollout_phases_and_the_probe_are_read_with_their_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "phases:\n- {name: restart, verb: rollout, deployments: [shop/checkout, web]}\nprobe:\n  url: http://localhost:8080/health\n  headers: {Host: demo.local}\n  before: 2s\n  slo: {max_errors: 3}\n",
        );
        let scenario = load(&path, &BTreeMap::new()).unwrap();
        let Work::Rollout(rollout) = &scenario.phases[0].work else {
            panic!("a rollout phase");
        };
        assert_eq!(scenario.phases[0].verb, Verb::Rollout);
        assert_eq!(rollout.deployments[0].to_string(), "shop/checkout");
        assert_eq!(rollout.deployments[1].namespace, None);
        assert_eq!(rollout.timeout, DEFAULT_ROLLOUT_TIMEOUT);
        let probe = scenario.probe.expect("a probe");
        assert_eq!(probe.spec.url.to_string(), "http://localhost:8080/health");
        assert_eq!(probe.spec.headers[0].1, "demo.local");
        assert_eq!(
            (probe.before, probe.after),
            (Duration::from_secs(2), Duration::ZERO)
        );
        assert_eq!(probe.spec.slo.max_errors, 3);
        assert_eq!(probe.spec.rate, probe::DEFAULT_RATE);
    }

    #[test]
    fn unknown_set_overrides_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "vars: {scale: 1}\ntemplates: {deployment: deployment.yaml}\nphases:\n- {verb: create, template: deployment, count: 1, rate: 1}\n");
        let err = load(
            &path,
            &BTreeMap::from([("scael".to_string(), "3".to_string())]),
        )
        .unwrap_err();
        assert!(err.message.contains("no such var"), "{err}");
    }
}
