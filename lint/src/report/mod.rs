//! Renders a lint report for people and for programs.

pub mod catalog;
pub mod github;
pub mod human;
pub mod json;
pub mod location;
pub mod sarif;
