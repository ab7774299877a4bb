//! Parsers that keep the line and column of what they read.

pub mod shell;
pub mod systemd;
pub use scar_yaml as yaml;
