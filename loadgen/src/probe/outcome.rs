//! What one probe request came to, and counts of them, kept apart the way
//! a rollout's failures differ: a proxy with no live endpoint answers 502,
//! one with none at all 503, a proxy whose backend hung 504; a Pod that
//! exited refuses connections, one killed mid-request resets them.

use std::error::Error as _;
use std::io::ErrorKind;

use serde::Serialize;

use crate::bins::Merge;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Status(u16),
    Refused,
    Reset,
    Timeout,
    /// Any other failure to get a response (DNS, TLS, a malformed reply).
    Failed,
}

impl Outcome {
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Status(200..=299))
    }

    /// Reads a client error: refused and reset connections by the I/O error
    /// beneath, and a connection closed before its response as a reset.
    pub fn of_error(error: &hyper_util::client::legacy::Error) -> Outcome {
        let mut source = error.source();
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    ErrorKind::ConnectionRefused => return Outcome::Refused,
                    ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof => return Outcome::Reset,
                    _ => {}
                }
            }
            if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
                if hyper.is_incomplete_message() || hyper.is_canceled() {
                    return Outcome::Reset;
                }
            }
            source = cause.source();
        }
        Outcome::Failed
    }
}

/// Whether the server refused a request without processing it: HTTP/2's
/// graceful GOAWAY (the request's stream was above the last one the server
/// will process) or REFUSED_STREAM. Both promise a retry is safe.
pub fn refused_unprocessed(error: &hyper_util::client::legacy::Error) -> bool {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(h2) = cause.downcast_ref::<h2::Error>() {
            return h2.is_remote()
                && match h2.reason() {
                    Some(h2::Reason::NO_ERROR) => h2.is_go_away(),
                    Some(h2::Reason::REFUSED_STREAM) => true,
                    _ => false,
                };
        }
        source = cause.source();
    }
    false
}

/// Counts by outcome, named as the JSON report names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    #[serde(rename = "2xx")]
    pub success: u64,
    #[serde(rename = "502")]
    pub bad_gateway: u64,
    #[serde(rename = "503")]
    pub unavailable: u64,
    #[serde(rename = "504")]
    pub gateway_timeout: u64,
    /// Any other status: 3xx, 4xx, other 5xx.
    pub other_status: u64,
    pub connection_refused: u64,
    pub connection_reset: u64,
    pub timeout: u64,
    pub other_error: u64,
}

impl Merge for Counts {
    fn merge(&mut self, other: &Self) {
        self.success += other.success;
        self.bad_gateway += other.bad_gateway;
        self.unavailable += other.unavailable;
        self.gateway_timeout += other.gateway_timeout;
        self.other_status += other.other_status;
        self.connection_refused += other.connection_refused;
        self.connection_reset += other.connection_reset;
        self.timeout += other.timeout;
        self.other_error += other.other_error;
    }
}

impl Counts {
    pub fn count(&mut self, outcome: Outcome) {
        let slot = match outcome {
            Outcome::Status(200..=299) => &mut self.success,
            Outcome::Status(502) => &mut self.bad_gateway,
            Outcome::Status(503) => &mut self.unavailable,
            Outcome::Status(504) => &mut self.gateway_timeout,
            Outcome::Status(_) => &mut self.other_status,
            Outcome::Refused => &mut self.connection_refused,
            Outcome::Reset => &mut self.connection_reset,
            Outcome::Timeout => &mut self.timeout,
            Outcome::Failed => &mut self.other_error,
        };
        *slot += 1;
    }

    pub fn total(&self) -> u64 {
        self.success + self.errors()
    }

    /// Everything that is not 2xx.
    pub fn errors(&self) -> u64 {
        self.bad_gateway
            + self.unavailable
            + self.gateway_timeout
            + self.other_status
            + self.connection_refused
            + self.connection_reset
            + self.timeout
            + self.other_error
    }

    /// The failures as `41 × 502, 3 × connection refused`, largest first.
    pub fn describe_errors(&self) -> String {
        let mut parts = [
            (self.bad_gateway, "502"),
            (self.unavailable, "503"),
            (self.gateway_timeout, "504"),
            (self.other_status, "other status"),
            (self.connection_refused, "connection refused"),
            (self.connection_reset, "connection reset"),
            (self.timeout, "timeout"),
            (self.other_error, "other error"),
        ];
        parts.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        parts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} × {what}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keep_each_failure_apart_and_describe_the_largest_first() {
        let mut counts = Counts::default();
        for outcome in [
            Outcome::Status(200),
            Outcome::Status(204),
            Outcome::Status(502),
            Outcome::Status(502),
            Outcome::Status(404),
            Outcome::Refused,
            Outcome::Timeout,
        ] {
            counts.count(outcome);
        }
        assert_eq!((counts.success, counts.errors(), counts.total()), (2, 5, 7));
        assert_eq!(
            counts.describe_errors(),
            "2 × 502, 1 × other status, 1 × connection refused, 1 × timeout"
        );
    }
}
