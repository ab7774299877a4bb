//! Renders a lint report for people and for programs.

pub mod catalog;
pub mod human;
pub mod json;
