//! Renderers: Helm charts through `helm template`, kustomizations through
//! `kustomize build` (or `kubectl kustomize`). Each takes a unit, runs the
//! real tool with a time limit and returns the rendered objects with a map
//! back to the lines people edit, or why it could not render. The engine
//! does not know which tool made an object. The templates of Ansible roles
//! render in-process (`ansible`), one file at a time.

pub(crate) mod ansible;
mod ansible_filters;
pub(crate) mod dependencies;
pub mod helm;
pub(crate) mod kustomize;
pub(crate) mod process;
pub(crate) mod run;
pub(crate) mod stamp;
mod tree_path;
mod unknown;

use crate::model::source::SourceRef;

/// Why a unit was not rendered: a finding of `render-failed` at `at`.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub at: SourceRef,
    /// The cause, without naming the unit: units that fail for one cause
    /// (a remote resource in a base two overlays share) make one finding.
    pub message: String,
    pub help: String,
}
