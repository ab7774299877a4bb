//! scar-lint: a static linter for outage-prone configuration (Kubernetes
//! YAML, docker-compose files, systemd units, shell scripts that start
//! containers). A run goes through stages, each a folder: `input` finds the
//! files and renders the units, `model` reads them into objects with their
//! places, `check` runs the rules and policies on the model, `report`
//! writes what they found; `config` reads settings and `engine` runs the
//! stages. See `ARCHITECTURE.md`.

pub mod check;
pub mod config;
pub mod engine;
pub mod fuzz;
pub mod input;
pub(crate) mod model;
pub mod report;

pub use check::finding::{Finding, Severity};
pub use check::rules::{Registry, Rule, RuleEntry};
pub use engine::{lint, Options};
pub use input::discover::{Input, MissingPath, Skipped};
pub use input::folder_excludes::FolderExcludes;
pub use report::Report;
