//! scar-loadgen: replays deploy bursts against a Kubernetes API server and
//! measures what users feel: 429s, errors, and latency as HDR histograms.

pub mod api;
pub(crate) mod bins;
pub mod command;
#[cfg(feature = "fake-apiserver")]
pub mod demo;
#[cfg(feature = "fake-apiserver")]
pub mod fake_apiserver;
pub mod html;
pub(crate) mod intervals;
pub(crate) mod lane;
pub(crate) mod latency;
pub(crate) mod manifest;
pub(crate) mod measure;
pub(crate) mod pacer;
pub mod probe;
pub(crate) mod probe_spec;
pub(crate) mod replay;
pub(crate) mod report;
pub(crate) mod rollout;
pub mod runner;
pub mod scenario;
mod shared;
pub(crate) mod slo;
