//! Where what a rule reads stands in the files people edit: the file
//! itself for plain files; for rendered units, the template line or
//! resource file the render came from, with the values or patches that set it.

use std::sync::Arc;

use crate::model::index::{has_probe, Location, Origin, Placed, WrittenAt};
use crate::model::k8s::{Object, Replicas};
use crate::model::parse::yaml::{Node, Value};
use crate::model::source::{Excerpt, Related, SourceFile, SourceRef, Span};
use crate::model::unit::Rendered;
use crate::model::unit::RenderedLine;
use crate::model::unit::UnitInfo;

/// A span's place, what set it, and the rendered line it was read on.
pub struct Located {
    pub at: SourceRef,
    pub related: Vec<Related>,
    pub rendered: Option<RenderedLine>,
}

pub trait Place {
    fn locate(&self, span: Span) -> Located;
    /// Where references from what is being checked resolve.
    fn origin(&self) -> &Origin;
    fn unit(&self) -> Option<&Arc<UnitInfo>>;
    /// The files a finding placed at `path` depends on, besides the ones
    /// its decision reads.
    fn depends_on(&self, path: &Arc<str>) -> Vec<Arc<str>>;
    /// The settings (a chart's values) that change what is written at
    /// `span` under keys `wanted` accepts; none for plain files.
    fn settings_for(&self, _span: Span, _wanted: fn(&str) -> bool) -> Vec<Related> {
        Vec::new()
    }

    /// What the index keeps of where an object stands.
    fn placed(&self, object: &Object<'_>) -> Placed {
        let anchor = self.locate(object.anchor().span);
        let described = format!("{} {}/{}", object.kind, object.namespace, object.name);
        // The line that sets how many replicas run: an autoscaler's
        // `minReplicas`, a workload's `replicas`, or for a workload that
        // sets none, the workload itself.
        let (count, message) = if object.kind == "HorizontalPodAutoscaler" {
            (
                object.node.at(&["spec", "minReplicas"]),
                "sets its minReplicas here",
            )
        } else if object.kind == "ScaledObject" {
            (
                object.node.at(&["spec", "minReplicaCount"]),
                "sets its minReplicaCount here",
            )
        } else {
            (
                object.node.at(&["spec", "replicas"]),
                "sets its replicas here",
            )
        };
        let replicas_set_at = match (count, object.replicas()) {
            (Some(node), _) => {
                let located = self.locate(node.span);
                let mut set_at = vec![Related {
                    at: located.at,
                    message: format!("{described} {message}"),
                }];
                set_at.extend(located.related);
                set_at
            }
            (None, Replicas::Count(_)) if object.kind != "Pod" => vec![Related {
                at: anchor.at.clone(),
                message: format!("{described} sets no replicas, so it runs 1"),
            }],
            (None, _) => Vec::new(),
        };
        let containers_at = if object.is_workload() {
            object
                .containers()
                .iter()
                .map(|container| self.container_written_at(container))
                .collect()
        } else {
            Vec::new()
        };
        Placed {
            origin: self.origin().clone(),
            at: Location {
                path: anchor.at.path,
                line: anchor.at.span.line,
            },
            replicas_set_at,
            containers_at,
        }
    }

    /// Where a container lacking a probe is written: its `name:` line,
    /// and what wrote it.
    fn container_written_at(&self, container: &Node) -> Option<WrittenAt> {
        if has_probe(container, "livenessProbe") && has_probe(container, "readinessProbe") {
            return None;
        }
        let span = container.get("name").map_or(
            Span::point(container.span.line, container.span.column),
            |n| n.span,
        );
        let located = self.locate(span);
        Some(WrittenAt {
            at: located.at,
            by: located.related,
        })
    }
}

/// A plain file: spans are where they are.
pub struct FilePlace<'a> {
    file: &'a SourceFile,
    origin: Origin,
}

impl<'a> FilePlace<'a> {
    /// `root`: the folder of the run the file was found under.
    pub fn new(file: &'a SourceFile, root: u32) -> FilePlace<'a> {
        FilePlace {
            file,
            origin: Origin {
                root,
                unit: None,
                path: file.path.clone(),
            },
        }
    }
}

impl Place for FilePlace<'_> {
    fn locate(&self, span: Span) -> Located {
        Located {
            at: SourceRef::in_file(self.file, span),
            related: Vec::new(),
            rendered: None,
        }
    }

    fn origin(&self) -> &Origin {
        &self.origin
    }

    fn unit(&self) -> Option<&Arc<UnitInfo>> {
        None
    }

    fn depends_on(&self, path: &Arc<str>) -> Vec<Arc<str>> {
        vec![path.clone()]
    }
}

/// A rendered unit: what each finding depends on beyond its own file.
pub struct RenderedUnit {
    pub id: u32,
    /// The folder of the run the unit lies in.
    pub root: u32,
    pub info: Arc<UnitInfo>,
    pub rendered: Rendered,
    /// The unit's files that shape every object: values, `Chart.yaml`,
    /// helpers, kustomizations and their patches.
    pub shared: Vec<Arc<str>>,
}

/// An object (or, for a document that does not parse, nothing) of a
/// rendered unit.
pub struct RenderedPlace<'a> {
    unit: &'a RenderedUnit,
    object: &'a Node,
    origin: Origin,
}

static NOTHING: Node = Node {
    span: Span {
        line: 0,
        column: 0,
        end_line: 0,
        end_column: 0,
    },
    value: Value::Seq(Vec::new()),
};

impl<'a> RenderedPlace<'a> {
    pub fn new(unit: &'a RenderedUnit, object: Option<&'a Object<'a>>) -> RenderedPlace<'a> {
        let node = object.map_or(&NOTHING, |o| o.node);
        let mut place = RenderedPlace {
            unit,
            object: node,
            origin: Origin {
                root: unit.root,
                unit: Some(unit.id),
                path: unit.info.path.clone(),
            },
        };
        if let Some(object) = object {
            place.origin.path = place.locate(object.anchor().span).at.path;
        }
        place
    }
}

impl Place for RenderedPlace<'_> {
    fn locate(&self, span: Span) -> Located {
        let text = self.unit.rendered.line(span.line);
        let traced = self.unit.rendered.map.locate(self.object, span, text);
        Located {
            at: traced.at,
            related: traced.related,
            rendered: Some(RenderedLine {
                line: span.line,
                text: Excerpt::around(text, span.column).text,
            }),
        }
    }

    fn origin(&self) -> &Origin {
        &self.origin
    }

    fn unit(&self) -> Option<&Arc<UnitInfo>> {
        Some(&self.unit.info)
    }

    fn settings_for(&self, span: Span, wanted: fn(&str) -> bool) -> Vec<Related> {
        self.unit.rendered.map.settings_for(span, wanted)
    }

    fn depends_on(&self, path: &Arc<str>) -> Vec<Arc<str>> {
        let mut files = vec![path.clone()];
        files.extend(self.unit.shared.iter().cloned());
        files
    }
}
