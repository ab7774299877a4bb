//! Talking to the API server through `kube` (kubeconfig, client
//! certificates, bearer tokens, exec plugins, TLS) with none of the client's
//! own retries: every response is recorded as the server sent it.

use std::path::Path;
use std::time::Duration;

use std::sync::Arc;

use http::{HeaderMap, HeaderName, Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use kube::client::middleware::{AuthLayer, ExtraHeadersLayer};
use kube::client::Body;
use kube::client::ConfigExt;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::Value as Json;
use tower::{Layer, ServiceExt};

/// API Priority and Fairness names the flow schema and priority level that
/// handled a request in these response headers (their UIDs).
pub const FLOW_SCHEMA_HEADER: HeaderName =
    HeaderName::from_static("x-kubernetes-pf-flowschema-uid");
pub const PRIORITY_LEVEL_HEADER: HeaderName =
    HeaderName::from_static("x-kubernetes-pf-prioritylevel-uid");

#[derive(Clone)]
pub struct Api {
    client: Client,
    pub server: String,
    /// What the sender's lanes (`lane.rs`) connect and sign with.
    pub(crate) direct: Arc<Direct>,
}

/// What every lane of a run shares: how to connect and what to add to a
/// request.
pub(crate) struct Direct {
    pub(crate) connector: hyper_rustls::HttpsConnector<HttpConnector>,
    pub(crate) server: Uri,
    pub(crate) host: http::HeaderValue,
    /// The path a server URL may carry (a proxy's `/k8s/clusters/c-1`),
    /// which every request path goes under, as kube joins them.
    pub(crate) base_path: String,
    pub(crate) auth: Option<AuthLayer>,
    pub(crate) extra_headers: ExtraHeadersLayer,
    /// With no credentials in headers (client certificates, or none), the
    /// headers every request gets (impersonation), learned once.
    pub(crate) fixed_headers: Option<HeaderMap>,
}

impl Direct {
    pub(crate) async fn new(config: &Config) -> Result<Direct, String> {
        let server = config.cluster_url.clone();
        let authority = server
            .authority()
            .ok_or_else(|| format!("{server}: the server URL names no host"))?;
        // As kube's connector, but with Nagle's algorithm off, as load
        // generators (oha, wrk) run: a request is one write, sent at once.
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let auth = config.auth_layer().map_err(|e| e.to_string())?;
        let extra_headers = config.extra_headers_layer().map_err(|e| e.to_string())?;
        let fixed_headers = match auth {
            Some(_) => None,
            None => {
                let hand_back = tower::service_fn(|request: Request<()>| {
                    std::future::ready(Ok::<_, tower::BoxError>(request))
                });
                let stamped = extra_headers
                    .layer(hand_back)
                    .oneshot(Request::new(()))
                    .await
                    .map_err(|e| e.to_string())?;
                Some(stamped.headers().clone())
            }
        };
        Ok(Direct {
            connector: config
                .rustls_https_connector_with_connector(tcp)
                .map_err(|e| e.to_string())?,
            host: http::HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?,
            auth,
            extra_headers,
            fixed_headers,
            base_path: server.path().trim_end_matches('/').to_string(),
            server,
        })
    }
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
        Api::from_config(config).await
    }

    /// A client for a configuration already read.
    pub(crate) async fn from_config(config: Config) -> Result<Api, String> {
        let server = config.cluster_url.to_string();
        let direct = Arc::new(
            Direct::new(&config)
                .await
                .map_err(|e| format!("{server}: {e}"))?,
        );
        let client = Client::try_from(config).map_err(|e| format!("{server}: {e}"))?;
        Ok(Api {
            client,
            server,
            direct,
        })
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
        let bytes = body_bytes(body);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, content_type(patch))
            .body(Body::from(bytes))
            .expect("method, path and headers are valid");
        let response = match tokio::time::timeout(timeout, self.client.send(request)).await {
            Err(_) => return Reply::failed(Outcome::Timeout, None),
            Ok(Err(e)) => return Reply::failed(Outcome::ConnectionError, Some(cause(&e))),
            Ok(Ok(response)) => response,
        };
        let (parts, body) = response.into_parts();
        let body = match tokio::time::timeout(timeout, body.collect_bytes()).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => return Reply::failed(Outcome::ConnectionError, Some(cause(&e))),
            Err(_) => return Reply::failed(Outcome::Timeout, None),
        };
        Reply::of(parts.status, &parts.headers, body)
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

/// A request's JSON body as sent (none: empty).
pub(crate) fn body_bytes(body: Option<&Json>) -> Vec<u8> {
    body.map(|b| serde_json::to_vec(b).expect("a JSON value serialises"))
        .unwrap_or_default()
}

/// The `Content-Type` of a request body: JSON, or the patch's kind.
pub(crate) fn content_type(patch: Option<Patch>) -> &'static str {
    match patch {
        Some(Patch::Merge) => "application/merge-patch+json",
        Some(Patch::Json) => "application/json-patch+json",
        None => "application/json",
    }
}

impl Reply {
    /// A response as the server sent it.
    pub(crate) fn of(status: StatusCode, headers: &HeaderMap, body: bytes::Bytes) -> Reply {
        // Names known in advance: a name given as text is parsed on each lookup.
        let header = |name: HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Reply {
            outcome: Outcome::Status(status.as_u16()),
            retry_after: header(http::header::RETRY_AFTER).and_then(|v| v.trim().parse().ok()),
            flow_schema: header(FLOW_SCHEMA_HEADER),
            priority_level: header(PRIORITY_LEVEL_HEADER),
            body,
            error: None,
        }
    }

    pub(crate) fn failed(outcome: Outcome, error: Option<String>) -> Reply {
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
