//! A worker's own connection to the API server: the sender's hot path.
//!
//! `kube::Client` shares a pool of connections behind a buffer task and a
//! tower stack (tracing, buffering, pooling); at tens of thousands of
//! requests a second that stack costs the client more CPU than the server
//! spends answering, and on a laptop beside kind it takes the cores the API
//! server needs. A lane is one HTTP/1.1 connection that one worker owns, as
//! oha's workers do, made with kube's own TLS settings, credentials
//! (refreshed tokens and exec plugins included) and extra headers
//! (impersonation), so a request is the same bytes kube would send.
//! The connection is driven in the worker's own task, while it waits on
//! that connection, rather than by a task of its own: a request then costs
//! one task wake-up instead of two hand-overs between tasks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use serde_json::Value as Json;
use tokio::time::Sleep;
use tower::util::BoxService;
use tower::{BoxError, Layer, Service, ServiceExt};

use crate::api::{body_bytes, cause, content_type, Api, Direct, Outcome, Patch, Reply};

type Body = Full<Bytes>;
/// Adds the credentials and extra headers to a request, and hands it back.
type Stamp = BoxService<Request<Body>, Response<Request<Body>>, BoxError>;
type Stream = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;

/// An open connection: what requests go in by, and what moves them.
struct Open {
    sender: SendRequest<Body>,
    /// Reads and writes the socket when polled; `None` once the connection
    /// ended, which fails whatever still waited on it.
    driver: Option<Connection<Stream, Body>>,
}

pub struct Lane {
    direct: Arc<Direct>,
    /// Credentials in headers (a token, which an exec plugin may refresh)
    /// go through kube's layers on every request; `None` when the fixed
    /// headers learned once (`Direct::fixed_headers`) are all there is.
    stamp: Option<Stamp>,
    connection: Option<Open>,
    /// The last request's path and URI: a worker sends to one path again
    /// and again (a list), which is then parsed once.
    last_uri: Option<(String, Uri)>,
    /// One timer for the lane's requests, set again for each: cheaper than
    /// a timer made and dropped per request.
    timer: Pin<Box<Sleep>>,
}

impl Lane {
    pub fn new(api: &Api) -> Lane {
        let direct = api.direct.clone();
        let hand_back = tower::service_fn(|request| {
            std::future::ready(Ok::<_, BoxError>(Response::new(request)))
        });
        let stamp = direct
            .auth
            .as_ref()
            .map(|auth| BoxService::new(direct.extra_headers.layer(auth.layer(hand_back))));
        Lane {
            direct,
            stamp,
            connection: None,
            last_uri: None,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    /// One request, timed out after `timeout`, answered as the server
    /// answered; the connection is made on first use and again after a
    /// failure or a timeout (which may leave a response half read).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Json>,
        patch: Option<Patch>,
        timeout: Duration,
    ) -> Reply {
        let bytes = body_bytes(body);
        let uri = match &self.last_uri {
            Some((last, uri)) if last == path => uri.clone(),
            _ => {
                let uri = if self.direct.base_path.is_empty() {
                    Uri::try_from(path)
                } else {
                    Uri::try_from(format!("{}{path}", self.direct.base_path))
                };
                let Ok(uri) = uri else {
                    let error = format!("`{path}` is not a valid request path");
                    return Reply::failed(Outcome::ConnectionError, Some(error));
                };
                self.last_uri = Some((path.to_string(), uri.clone()));
                uri
            }
        };
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(HOST, self.direct.host.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(CONTENT_TYPE, HeaderValue::from_static(content_type(patch)))
            .body(Full::new(Bytes::from(bytes)))
            .expect("a valid URI and static headers make a valid request");
        if let Some(fixed) = &self.direct.fixed_headers {
            for (name, value) in fixed {
                request.headers_mut().append(name.clone(), value.clone());
            }
        }
        self.timer
            .as_mut()
            .reset(tokio::time::Instant::now() + timeout);
        let outcome = tokio::select! {
            biased;
            result = exchange(&mut self.stamp, &mut self.connection, &self.direct, request) => result,
            () = self.timer.as_mut() => Err(None),
        };
        outcome.unwrap_or_else(|error| {
            self.connection = None;
            match error {
                Some(error) => Reply::failed(Outcome::ConnectionError, Some(error)),
                None => Reply::failed(Outcome::Timeout, None),
            }
        })
    }
}

/// Sends `request` on the lane's connection; an error is the cause of a
/// connection failure (`None` stands for the timeout, in `Lane::send`).
async fn exchange(
    stamp: &mut Option<Stamp>,
    connection: &mut Option<Open>,
    direct: &Direct,
    request: Request<Body>,
) -> Result<Reply, Option<String>> {
    let request = match stamp {
        Some(stamp) => stamp
            .ready()
            .await
            .map_err(|e| cause(&*e))?
            .call(request)
            .await
            .map_err(|e| cause(&*e))?
            .into_body(),
        None => request,
    };
    let Open { sender, driver } = connected(connection, direct).await?;
    driven(driver, async {
        let response = sender.send_request(request).await.map_err(|e| cause(&e))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| cause(&e))?.to_bytes();
        Ok(Reply::of(parts.status, &parts.headers, body))
    })
    .await
}

/// Waits for `work` while moving the connection it waits on. The driver
/// goes first, so that a response it reads is there when `work` looks.
async fn driven<T>(
    driver: &mut Option<Connection<Stream, Body>>,
    work: impl Future<Output = T>,
) -> T {
    let mut work = std::pin::pin!(work);
    if let Some(moving) = driver {
        tokio::select! {
            biased;
            _ = moving => *driver = None,
            out = &mut work => return out,
        }
    }
    work.await
}

/// The lane's connection, ready for a request: a kept-alive one the server
/// closed is replaced before anything is sent on it.
async fn connected<'a>(
    connection: &'a mut Option<Open>,
    direct: &Direct,
) -> Result<&'a mut Open, String> {
    if let Some(Open { sender, driver }) = connection {
        if driven(driver, sender.ready()).await.is_err() {
            *connection = None;
        }
    }
    if connection.is_none() {
        let stream = direct
            .connector
            .clone()
            .call(direct.server.clone())
            .await
            .map_err(|e| cause(&*e))?;
        let (sender, driver) = hyper::client::conn::http1::handshake(stream)
            .await
            .map_err(|e| cause(&e))?;
        *connection = Some(Open {
            sender,
            driver: Some(driver),
        });
    }
    Ok(connection.as_mut().expect("connected just above"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::Config;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server on loopback that answers each connection's first request
    /// and closes it, keeping what each request's head said.
    async fn closing_server() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap_or(0) == 1
                {
                    head.push(byte[0]);
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).to_ascii_lowercase());
                let _ = stream
                    .write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                    .await;
            }
        });
        (address, heads)
    }

    /// A server on loopback that keeps connections open and answers every
    /// request 200; counts the connections it accepted.
    async fn keep_alive_server() -> (std::net::SocketAddr, Arc<Mutex<u32>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(Mutex::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                *count.lock().unwrap() += 1;
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while stream.read(&mut byte).await.unwrap_or(0) == 1 {
                        head.push(byte[0]);
                        if head.ends_with(b"\r\n\r\n") {
                            head.clear();
                            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
                            if stream.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (address, accepted)
    }

    async fn lane_for(config: Config) -> Lane {
        Lane::new(&Api::from_config(config).await.unwrap())
    }

    #[tokio::test]
    async fn a_lane_signs_like_kube_goes_under_the_servers_path_and_reconnects() {
        let (address, heads) = closing_server().await;
        let mut config = Config::new(format!("http://{address}/proxy/c-1/").parse().unwrap());
        config.auth_info.token = Some("s3cret".to_string().into());
        let mut lane = lane_for(config).await;
        for _ in 0..3 {
            let reply = lane
                .send(
                    Method::GET,
                    "/api/v1/namespaces",
                    None,
                    None,
                    Duration::from_secs(5),
                )
                .await;
            assert_eq!(reply.outcome, Outcome::Status(429), "{:?}", reply.error);
            assert_eq!(reply.retry_after, Some(3));
        }
        let heads = heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 3, "one connection a request: {heads:?}");
        for head in heads {
            assert!(
                head.starts_with("get /proxy/c-1/api/v1/namespaces http/1.1\r\n"),
                "{head}"
            );
            assert!(head.contains("authorization: bearer s3cret\r\n"), "{head}");
            assert!(head.contains(&format!("host: {address}\r\n")), "{head}");
        }
    }

    #[tokio::test]
    async fn a_kept_alive_connection_carries_every_request() {
        let (address, accepted) = keep_alive_server().await;
        let mut lane = lane_for(Config::new(format!("http://{address}").parse().unwrap())).await;
        for _ in 0..5 {
            let reply = lane
                .send(Method::GET, "/version", None, None, Duration::from_secs(5))
                .await;
            assert_eq!(reply.outcome, Outcome::Status(200), "{:?}", reply.error);
            assert_eq!(&reply.body[..], b"{}");
        }
        assert_eq!(*accepted.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn without_a_token_the_fixed_headers_go_on_every_request_and_timeouts_are_timeouts() {
        let (address, heads) = closing_server().await;
        let mut config = Config::new(format!("http://{address}").parse().unwrap());
        config.auth_info.impersonate = Some("ops".to_string());
        let mut lane = lane_for(config).await;
        let reply = lane
            .send(Method::GET, "/version", None, None, Duration::from_secs(5))
            .await;
        assert_eq!(reply.outcome, Outcome::Status(429));
        let head = heads.lock().unwrap()[0].clone();
        assert!(head.contains("impersonate-user: ops\r\n"), "{head}");
        assert!(!head.contains("authorization"), "{head}");

        // A server that accepts and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = Config::new(
            format!("http://{}", silent.local_addr().unwrap())
                .parse()
                .unwrap(),
        );
        let mut lane = lane_for(config).await;
        let reply = lane
            .send(
                Method::GET,
                "/version",
                None,
                None,
                Duration::from_millis(200),
            )
            .await;
        assert_eq!(reply.outcome, Outcome::Timeout);
        drop(silent);
    }
}
