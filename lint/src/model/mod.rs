//! Stage two: what the files say. Parsers (YAML with positions, systemd
//! units, shell) turn text into Kubernetes objects, compose services and
//! container command lines; `source` and `place` say where each value was
//! written (a template line, a values line); `index` relates the objects of
//! a unit (a webhook to its Service to its Deployment). It knows the input's
//! files and rendered units; it does not know rules or findings.

pub(crate) mod compose;
pub(crate) mod container_cli;
pub(crate) mod control_plane;
pub(crate) mod index;
pub(crate) mod k8s;
pub(crate) mod parse;
pub(crate) mod place;
pub(crate) mod quantity;
pub(crate) mod settings_file;
pub mod source;
pub(crate) mod template;
pub(crate) mod unit;
