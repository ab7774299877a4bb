//! scar-lint: a static linter for outage-prone configuration (Kubernetes
//! YAML, docker-compose files, systemd units, shell scripts that start
//! containers). See `ARCHITECTURE.md` for how the modules fit together.

pub mod baseline;
pub mod compose;
pub mod config;
pub mod container_cli;
pub mod control_plane;
pub mod discover;
pub mod engine;
pub mod finding;
pub mod folder_excludes;
pub mod fuzz;
pub mod index;
pub mod k8s;
pub mod parse;
pub mod place;
pub mod policy;
pub mod quantity;
pub mod render;
pub mod rendered;
pub mod report;
pub mod revision;
pub mod rules;
mod settings_file;
pub mod source;
pub mod suppress;
pub mod units;
pub mod user_policy;

pub use discover::Skipped;
pub use discover::{Input, MissingPath};
pub use engine::{lint, Options, Report};
pub use finding::{Finding, Severity};
pub use folder_excludes::FolderExcludes;
pub use rules::{Registry, Rule, RuleEntry};
