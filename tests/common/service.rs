//! A service on 127.0.0.1 for the probe to call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTP/1.1 service with keep-alive that answers 503 while `failing()`
/// says so, 200 otherwise, and counts the connections it accepted.
pub struct Service {
    pub port: u16,
    pub connections: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl Service {
    pub fn start(failing: impl Fn() -> bool + Send + Sync + 'static) -> Service {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicU64::new(0));
        let counted = connections.clone();
        let failing = Arc::new(failing);
        runtime.spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                let failing = failing.clone();
                tokio::spawn(async move {
                    let mut pending = Vec::new();
                    let mut buffer = [0; 4096];
                    loop {
                        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                            pending.drain(..end + 4);
                            let reply: &[u8] = if failing() {
                                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
                            } else {
                                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                            };
                            if socket.write_all(reply).await.is_err() {
                                return;
                            }
                        }
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&buffer[..n]),
                        }
                    }
                });
            }
        });
        Service {
            port,
            connections,
            _runtime: runtime,
        }
    }
}
