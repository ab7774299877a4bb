//! Talking to the API server through `kube` (kubeconfig, client
//! certificates, bearer tokens, exec plugins, TLS) with none of the client's
//! own retries: every response is recorded as the server sent it.

use std::path::Path;
use std::time::Duration;

use http::{Method, Request, StatusCode};
use kube::client::Body;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::Value as Json;

/// API Priority and Fairness names the flow schema and priority level that
/// handled a request in these response headers (their UIDs).
pub const FLOW_SCHEMA_HEADER: &str = "x-kubernetes-pf-flowschema-uid";
pub const PRIORITY_LEVEL_HEADER: &str = "x-kubernetes-pf-prioritylevel-uid";

#[derive(Clone)]
pub struct Api {
    client: Client,
    pub server: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    ConnectionError,
    Timeout,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub outcome: Outcome,
    /// `Retry-After` in seconds, on a 429 (or 503).
    pub retry_after: Option<u64>,
    pub flow_schema: Option<String>,
    pub priority_level: Option<String>,
    pub body: bytes::Bytes,
    /// Why no response came, for connection errors.
    pub error: Option<String>,
}

impl Reply {
    pub fn json(&self) -> Option<Json> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patch {
    Merge,
    /// RFC 6902, a list of operations (replayed from audit logs).
    Json,
}

impl Api {
    /// A client from a kubeconfig (`--kubeconfig`, else `KUBECONFIG`, else
    /// `~/.kube/config`, else the in-cluster service account), optionally
    /// for another context, with the client's retries turned off.
    pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Api, String> {
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..KubeConfigOptions::default()
        };
        let mut config = match (kubeconfig, context) {
            (Some(path), _) => {
                let file =
                    Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
                Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            (None, Some(_)) => Config::from_kubeconfig(&options)
                .await
                .map_err(|e| e.to_string())?,
            (None, None) => Config::infer().await.map_err(|e| e.to_string())?,
        };
        // kube retries 429, 503 and 504 by default: a load generator that
        // hides them cannot show the burst at which they start.
        config.default_retry = false;
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|e| format!("{server}: {e}"))?;
        Ok(Api { client, server })
    }

    /// One request, timed out after `timeout`, answered as the server answered.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
        patch: Option<Patch>,
        timeout: Duration,
    ) -> Reply {
        let content_type = match patch {
            Some(Patch::Merge) => "application/merge-patch+json",
            Some(Patch::Json) => "application/json-patch+json",
            None => "application/json",
        };
        let bytes = body
            .map(|b| serde_json::to_vec(b).expect("a JSON value serialises"))
            .unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Body::from(bytes))
            .expect("method, path and headers are valid");
        let response = match tokio::time::timeout(timeout, self.client.send(request)).await {
            Err(_) => return Reply::failed(Outcome::Timeout, None),
            Ok(Err(e)) => return Reply::failed(Outcome::ConnectionError, Some(cause(&e))),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let (retry_after, flow_schema, priority_level) = {
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            (
                header("retry-after").and_then(|v| v.trim().parse().ok()),
                header(FLOW_SCHEMA_HEADER),
                header(PRIORITY_LEVEL_HEADER),
            )
        };
        let body = match tokio::time::timeout(timeout, response.into_body().collect_bytes()).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => return Reply::failed(Outcome::ConnectionError, Some(cause(&e))),
            Err(_) => return Reply::failed(Outcome::Timeout, None),
        };
        Reply {
            outcome: Outcome::Status(status.as_u16()),
            retry_after,
            flow_schema,
            priority_level,
            body,
            error: None,
        }
    }

    /// Whether the server answers at all; the message names it and the cause.
    pub async fn check_reachable(&self) -> Result<(), String> {
        let reply = self
            .send(Method::GET, "/version", None, None, Duration::from_secs(10))
            .await;
        match reply.outcome {
            Outcome::Status(code) if StatusCode::from_u16(code).is_ok_and(|s| s.is_success()) => {
                Ok(())
            }
            Outcome::Status(401) | Outcome::Status(403) => Ok(()),
            Outcome::Status(code) => Err(format!(
                "the API server at {} answered /version with HTTP {code}",
                self.server
            )),
            Outcome::ConnectionError => Err(format!(
                "cannot connect to the API server at {}: {}",
                self.server,
                reply.error.as_deref().unwrap_or("connection failed")
            )),
            Outcome::Timeout => Err(format!(
                "the API server at {} did not answer within 10s",
                self.server
            )),
        }
    }
}

impl Reply {
    fn failed(outcome: Outcome, error: Option<String>) -> Reply {
        Reply {
            outcome,
            retry_after: None,
            flow_schema: None,
            priority_level: None,
            body: bytes::Bytes::new(),
            error,
        }
    }
}

/// An error and its sources on one line: `hyper error: … : Connection refused`.
pub(crate) fn cause(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// What a reply says went wrong: `HTTP 409: …`, `connection error: …`.
pub(crate) fn describe_reply(outcome: Outcome, reply: &Reply) -> String {
    match outcome {
        Outcome::Status(code) => {
            let message = reply
                .json()
                .and_then(|s| s["message"].as_str().map(str::to_string));
            match message {
                Some(message) => format!("HTTP {code}: {message}"),
                None => format!("HTTP {code}"),
            }
        }
        Outcome::ConnectionError => format!(
            "connection error: {}",
            reply.error.as_deref().unwrap_or("unknown")
        ),
        Outcome::Timeout => "timed out".to_string(),
    }
}
