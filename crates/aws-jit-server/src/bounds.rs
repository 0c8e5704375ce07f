//! Every resource the HTTP side can take is bounded, so that no traffic can starve the
//! expiry worker: a cap on open connections (below the process's file-descriptor limit,
//! with a reserve the worker's store and AWS connections keep), a time limit on reading a
//! request's headers and on reading its body, and a cap on requests in flight (excess
//! requests wait briefly, then get 503 with `Retry-After`). A request that got as far as a
//! use case runs to its end even if the client goes away: a grant is never cut in half.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::{Semaphore, watch};

/// The HTTP side's limits.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Open connections at most (lowered to fit the file-descriptor limit).
    pub max_connections: usize,
    /// File descriptors kept for everything but HTTP connections: the worker's store and
    /// AWS connections, the outbox's Slack connections, logs.
    pub reserved_descriptors: usize,
    /// How long a client may take to send a request's headers (keep-alive waits included).
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub body_read_timeout: Duration,
    /// Requests handled at once.
    pub max_in_flight: usize,
    /// Request bodies read at once (at most this many bodies are buffered).
    pub max_body_reads: usize,
    /// How long a request waits for a free slot before it is turned away.
    pub queue_wait: Duration,
    /// The largest body accepted (bytes).
    pub max_body: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 512,
            reserved_descriptors: 128,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_in_flight: 64,
            max_body_reads: 32,
            queue_wait: Duration::from_secs(5),
            max_body: 2 * 1024 * 1024,
        }
    }
}

impl HttpLimits {
    /// The connection cap: the configured one, lowered so that connections and the reserve
    /// fit within the process's soft limit on open files.
    pub fn connection_cap(&self) -> usize {
        let cap = match open_files_limit() {
            Some(limit) => self
                .max_connections
                .min(limit.saturating_sub(self.reserved_descriptors)),
            None => self.max_connections,
        };
        cap.max(8)
    }
}

/// The soft limit on open files (`/proc/self/limits`), where the platform says.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// What the request gate shares.
#[derive(Debug)]
pub(crate) struct Gate {
    slots: Arc<Semaphore>,
    body_reads: Arc<Semaphore>,
    limits: HttpLimits,
}

impl Gate {
    pub(crate) fn new(limits: HttpLimits) -> Arc<Gate> {
        Arc::new(Gate {
            slots: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            body_reads: Arc::new(Semaphore::new(limits.max_body_reads.max(1))),
            limits,
        })
    }
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = (
        status,
        axum::Json(serde_json::json!({ "error": { "code": code, "message": message } })),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// Whether the request says it carries a body.
fn has_body(parts: &axum::http::request::Parts) -> bool {
    let length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    length.is_some_and(|n| n > 0) || parts.headers.contains_key(header::TRANSFER_ENCODING)
}

/// The per-request bounds: the body read first, within its time and among at most
/// `max_body_reads` uploads at once (so slow uploads never hold a handling slot), then a
/// slot among the requests in flight, and the handler run to completion in its own task.
pub(crate) async fn gate(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    let limits = &gate.limits;
    let busy = || {
        refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the server is at its limit of requests in flight: retry in a moment",
        )
    };
    let (parts, body) = request.into_parts();
    let bytes = if has_body(&parts) {
        let waited =
            tokio::time::timeout(limits.queue_wait, gate.body_reads.clone().acquire_owned()).await;
        let Ok(Ok(_reading)) = waited else {
            return busy();
        };
        let read = axum::body::to_bytes(body, limits.max_body);
        match tokio::time::timeout(limits.body_read_timeout, read).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) if is_over_limit(&e) => {
                return refusal(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    &format!("the body is over {} bytes", limits.max_body),
                );
            }
            Ok(Err(_)) => {
                return refusal(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the request body could not be read",
                );
            }
            Err(_) => {
                return refusal(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "the request body did not arrive in time",
                );
            }
        }
    } else {
        axum::body::Bytes::new()
    };
    let waited = tokio::time::timeout(limits.queue_wait, gate.slots.clone().acquire_owned()).await;
    let Ok(Ok(slot)) = waited else {
        return busy();
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    let handled = tokio::spawn(async move {
        let response = next.run(request).await;
        drop(slot);
        response
    });
    handled.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a request handler failed");
        refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request failed: see the server's log",
        )
    })
}

/// Whether reading a body failed because it was over the limit.
fn is_over_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Serves `app` on `listener` within `limits` until `stop` says so, then lets the
/// connections in flight finish (for at most `drain`).
pub(crate) async fn serve_http(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: &HttpLimits,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.connection_cap()));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors (or a reset before accept): back off, keep serving.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain time: closing them");
    }
    Ok(())
}
