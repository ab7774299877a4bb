//! A Jinja template of an Ansible role rendered with the role's variables:
//! the text each host condition gives, and the way back from every rendered
//! line to the template line and to the variables that line reads.
//! `input::units::render::ansible` makes them; `TemplatePlace` places what
//! rules find in them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::index::Origin;
use crate::model::place::{Located, Place};
use crate::model::source::{Related, SourceFile, SourceRef, Span};
use crate::model::unit::{RenderedLine, UnitInfo};

/// A template rendered once per combination of the conditions on host
/// facts (and other values only a run knows) that changes its text.
pub struct RenderedTemplate {
    pub variants: Vec<Variant>,
    /// The role's files that set variables: a change to any may change the text.
    pub variable_files: Vec<Arc<str>>,
}

pub struct Variant {
    pub text: String,
    /// For each rendered line (0-based), the template line it came from.
    pub lines: Vec<u32>,
    /// What holds for this text; empty when every host gets it.
    pub conditions: Vec<Condition>,
    /// By template line: the variables its expressions read, where each is set.
    pub settings: HashMap<u32, Vec<Setting>>,
}

/// A condition a render assumed, as written, and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub text: String,
    pub holds: bool,
    pub at: SourceRef,
}

impl Condition {
    /// `on hosts where ansible_memtotal_mb < 4096` for what tells hosts
    /// apart (a fact, a group, a name), `when …` otherwise.
    pub fn describe(&self) -> String {
        let condition = if self.holds {
            self.text.clone()
        } else {
            format!("not ({})", self.text)
        };
        let of_hosts = ["ansible_", "group_names", "inventory_hostname"];
        if of_hosts.iter().any(|name| self.text.contains(name)) {
            format!("on hosts where {condition}")
        } else {
            format!("when {condition}")
        }
    }
}

/// A variable a template line reads, and the line that sets it.
#[derive(Debug, Clone)]
pub struct Setting {
    pub name: String,
    pub at: SourceRef,
}

/// One variant of a rendered template: spans in its text stand at the
/// template line that wrote them, with the variables that line reads.
pub struct TemplatePlace<'a> {
    pub template: &'a SourceFile,
    pub rendered: &'a SourceFile,
    pub variant: &'a Variant,
    pub render: &'a RenderedTemplate,
    pub unit: Arc<UnitInfo>,
    pub origin: Origin,
}

impl Place for TemplatePlace<'_> {
    fn locate(&self, span: Span) -> Located {
        let rendered_line = span.line;
        let template_line = self
            .variant
            .lines
            .get(span.line.saturating_sub(1) as usize)
            .copied()
            .unwrap_or(1);
        let rendered_text = self.rendered.line(span.line);
        let written = self.template.line(template_line);
        let (at, rendered) = if rendered_text == written {
            let lines = span.end_line.saturating_sub(span.line);
            let span = Span {
                line: template_line,
                end_line: template_line + lines,
                ..span
            };
            (SourceRef::in_file(self.template, span), None)
        } else {
            let indent = written.len() - written.trim_start().len();
            let span = Span::on_line(
                template_line,
                indent as u32 + 1,
                written.trim().chars().count() as u32,
            );
            let shown = RenderedLine {
                line: rendered_line,
                text: rendered_text.trim().to_string(),
            };
            (SourceRef::in_file(self.template, span), Some(shown))
        };
        let related: Vec<Related> = self
            .variant
            .settings
            .get(&template_line)
            .into_iter()
            .flatten()
            .map(|setting| Related {
                at: setting.at.clone(),
                message: format!("`{}` is set here", setting.name),
            })
            .collect();
        Located {
            at,
            related,
            rendered,
        }
    }

    fn origin(&self) -> &Origin {
        &self.origin
    }

    fn unit(&self) -> Option<&Arc<UnitInfo>> {
        Some(&self.unit)
    }

    fn depends_on(&self, path: &Arc<str>) -> Vec<Arc<str>> {
        let mut files = vec![path.clone()];
        files.extend(self.render.variable_files.iter().cloned());
        files
    }
}
