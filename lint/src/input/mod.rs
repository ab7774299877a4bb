//! Stage one: what a run reads. Discovery walks the paths given (honouring
//! `.gitignore` and the default folder excludes), `units` sorts the files
//! into Helm charts, kustomizations and plain files and renders the units
//! with the real tools, `revision` checks out the files of an older commit.
//! It knows files, folders and renderers; it does not know objects, rules
//! or findings.

pub(crate) mod discover;
pub(crate) mod folder_excludes;
pub mod revision;
pub mod units;
