//! What a probe is asked to do, as a scenario's `probe:` or the `probe`
//! command's flags give it; nothing of how it runs.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Uri};

#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub url: Uri,
    pub method: Method,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// Requests per second.
    pub rate: f64,
    /// Requests in flight at most.
    pub connections: u32,
    /// A request not answered within this is a timeout.
    pub timeout: Duration,
    /// Speak HTTP/2 only (with prior knowledge over plain HTTP, by ALPN
    /// over TLS); otherwise HTTP/1.1, or HTTP/2 where TLS negotiates it.
    pub http2: bool,
    /// How long to send; `None`: until stopped.
    pub duration: Option<Duration>,
    pub slo: ProbeSlo,
}

/// The probe's gate: how many failed requests a run may have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeSlo {
    pub max_errors: u64,
    pub max_error_ratio: Option<f64>,
}

impl Default for ProbeSlo {
    /// A rollout done right fails no request.
    fn default() -> Self {
        ProbeSlo {
            max_errors: 0,
            max_error_ratio: None,
        }
    }
}

pub const DEFAULT_RATE: f64 = 50.0;
pub const DEFAULT_CONNECTIONS: u32 = 100;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
