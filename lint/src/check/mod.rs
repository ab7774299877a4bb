//! Stage three: what is wrong. The rule trait and its registry, the
//! built-in rules (one file each) with their parameters from `policies/`
//! (`params`), teams' CEL policies (`team_policy`), suppression comments and
//! baselines, and the findings they make. It reads the model; it does not
//! know how files were found or how findings are written.

pub mod baseline;
pub(crate) mod finding;
pub(crate) mod params;
pub(crate) mod rules;
pub(crate) mod suppress;
pub mod team_policy;
