//! scar-loadgen: replays deploy bursts against a Kubernetes API server and
//! measures what users feel: 429s, errors, and latency as HDR histograms.

pub mod api;
pub mod bins;
pub mod command;
#[cfg(feature = "fake-apiserver")]
pub mod demo;
#[cfg(feature = "fake-apiserver")]
pub mod fake_apiserver;
pub mod html;
pub mod intervals;
pub mod latency;
pub mod manifest;
pub mod measure;
pub mod pacer;
pub mod probe;
pub mod probe_spec;
pub mod replay;
pub mod report;
pub mod rollout;
pub mod runner;
pub mod scenario;
mod shared;
pub mod slo;
