//! A fault-injecting proxy in front of moto: throttling, conflicts, 5xx, delays, dropped
//! connections and IN_PROGRESS/FAILED rewrites of asynchronous statuses.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fault that [`FaultProxy`] injects into calls of one AWS operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `ThrottlingException` (400) instead of forwarding.
    Throttle,
    /// Answer `ConflictException` (409) instead of forwarding.
    Conflict,
    /// Answer this 5xx status instead of forwarding.
    ServerError(u16),
    /// Forward, but report the asynchronous status as `IN_PROGRESS` (moto completes
    /// assignments at once; AWS does not).
    InProgress,
    /// Forward, but report the asynchronous status as `FAILED` with this reason.
    FailedWith(String),
    /// Wait this long, then forward.
    Delay(Duration),
    /// Drop the connection without answering.
    Drop,
}

/// A rule: the next `times` calls of `operation` (e.g. `CreateAccountAssignment`) get the
/// fault.
#[derive(Debug, Clone)]
struct FaultRule {
    operation: String,
    fault: Fault,
    times: u32,
}

#[derive(Debug, Default)]
struct ProxyState {
    rules: Vec<FaultRule>,
    seen: Vec<String>,
    /// Chaos: the share of calls (per mille) answered with a throttle or a 503.
    chaos_per_mille: u32,
    rng: u64,
    injected: u64,
    /// When each Identity Center call arrived, for the rate figure.
    identity_center_calls: Vec<std::time::Instant>,
    creations_in_flight: u32,
    max_creations_in_flight: u32,
}

/// What a chaos run saw at the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChaosFigures {
    /// Calls answered with an injected fault.
    pub injected: u64,
    /// The most Identity Center calls in any one-second window.
    pub max_identity_center_calls_per_second: usize,
    /// The most `CreateAccountAssignment` calls in flight at once (at the proxy).
    pub max_creations_in_flight: u32,
}

/// A fault-injecting HTTP proxy in front of moto, for tests: it forwards every request and
/// injects the faults its rules name (throttling, conflicts, 5xx, asynchronous operations
/// still in progress or failed), recording the operations it saw. Test-only: nothing of it
/// ships in the binary.
#[derive(Debug)]
pub struct FaultProxy {
    /// The endpoint to give the SDK (`AWS_ENDPOINT_URL`).
    pub url: String,
    state: Arc<Mutex<ProxyState>>,
}

/// The AWS operation of a request: the JSON protocols' `X-Amz-Target`, or the query
/// protocol's `Action=`.
fn operation_of(headers: &axum::http::HeaderMap, body: &[u8]) -> String {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    std::str::from_utf8(body)
        .ok()
        .and_then(|b| b.split('&').find_map(|p| p.strip_prefix("Action=")))
        .unwrap_or("unknown")
        .to_owned()
}

/// Rewrites the status of an asynchronous Identity Center operation in a response body.
fn rewrite_status(body: &[u8], fault: &Fault) -> Option<Vec<u8>> {
    let mut json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = json.as_object_mut()?;
    let status = object
        .values_mut()
        .find(|v| v.get("Status").is_some())?
        .as_object_mut()?;
    match fault {
        Fault::InProgress => {
            status.insert("Status".to_owned(), serde_json::json!("IN_PROGRESS"));
        }
        Fault::FailedWith(reason) => {
            status.insert("Status".to_owned(), serde_json::json!("FAILED"));
            status.insert("FailureReason".to_owned(), serde_json::json!(reason));
        }
        _ => return None,
    }
    serde_json::to_vec(&json).ok()
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (a moto endpoint) on a free loopback port.
    pub fn start(upstream: &str) -> FaultProxy {
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port for the proxy");
        let addr = listener.local_addr().expect("its address");
        listener.set_nonblocking(true).expect("non-blocking");
        let shared = state.clone();
        let upstream = upstream.trim_end_matches('/').to_owned();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the proxy");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let client: hyper_util::client::legacy::Client<
                    hyper_util::client::legacy::connect::HttpConnector,
                    http_body_util::Full<bytes::Bytes>,
                > = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build_http();
                let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
                    let (state, client, upstream) =
                        (shared.clone(), client.clone(), upstream.clone());
                    async move { forward(state, client, &upstream, request).await }
                });
                let _ = axum::serve(listener, app).await;
            });
        });
        FaultProxy {
            url: format!("http://{addr}"),
            state,
        }
    }

    /// Injects `fault` into the next `times` calls of `operation`.
    pub fn inject(&self, operation: &str, fault: Fault, times: u32) {
        self.state
            .lock()
            .expect("proxy state")
            .rules
            .push(FaultRule {
                operation: operation.to_owned(),
                fault,
                times,
            });
    }

    /// Answers `per_mille` of all calls (chosen by a seeded generator) with a throttle or a
    /// 503, half each.
    pub fn chaos(&self, per_mille: u32, seed: u64) {
        let mut s = self.state.lock().expect("proxy state");
        s.chaos_per_mille = per_mille;
        s.rng = seed.max(1);
    }

    /// The chaos run's figures so far.
    pub fn figures(&self) -> ChaosFigures {
        let s = self.state.lock().expect("proxy state");
        let calls = &s.identity_center_calls;
        let mut max = 0;
        let mut start = 0;
        for (end, at) in calls.iter().enumerate() {
            while calls
                .get(start)
                .is_some_and(|first| at.duration_since(*first) >= Duration::from_secs(1))
            {
                start += 1;
            }
            max = max.max(end + 1 - start);
        }
        ChaosFigures {
            injected: s.injected,
            max_identity_center_calls_per_second: max,
            max_creations_in_flight: s.max_creations_in_flight,
        }
    }

    /// How many calls of `operation` went through the proxy.
    pub fn calls(&self, operation: &str) -> usize {
        self.state
            .lock()
            .expect("proxy state")
            .seen
            .iter()
            .filter(|s| *s == operation)
            .count()
    }
}

async fn forward(
    state: Arc<Mutex<ProxyState>>,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
    upstream: &str,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let operation = operation_of(&parts.headers, &body);
    let identity_center = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.starts_with("SWBExternalService.") || t.starts_with("AWSIdentityStore.")
        });
    let creation = operation == "CreateAccountAssignment";
    let fault = {
        let mut s = state.lock().expect("proxy state");
        s.seen.push(operation.clone());
        if identity_center {
            s.identity_center_calls.push(std::time::Instant::now());
        }
        let rule = s
            .rules
            .iter_mut()
            .find(|r| r.operation == operation && r.times > 0);
        let mut fault = rule.map(|r| {
            r.times -= 1;
            r.fault.clone()
        });
        if fault.is_none() && s.chaos_per_mille > 0 {
            // xorshift: reproducible from the seed.
            s.rng ^= s.rng << 13;
            s.rng ^= s.rng >> 7;
            s.rng ^= s.rng << 17;
            if s.rng % 1000 < u64::from(s.chaos_per_mille) {
                fault = Some(if s.rng.is_multiple_of(2) {
                    Fault::Throttle
                } else {
                    Fault::ServerError(503)
                });
            }
        }
        if fault.is_some() {
            s.injected += 1;
        } else if creation {
            s.creations_in_flight += 1;
            s.max_creations_in_flight = s.max_creations_in_flight.max(s.creations_in_flight);
        }
        fault
    };
    let error = |status: u16, kind: &str| {
        (
            axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_REQUEST),
            [
                ("x-amzn-errortype", kind.to_owned()),
                ("content-type", "application/x-amz-json-1.1".to_owned()),
            ],
            serde_json::json!({ "__type": kind, "message": format!("injected {kind}") })
                .to_string(),
        )
            .into_response()
    };
    match &fault {
        Some(Fault::Delay(wait)) => tokio::time::sleep(*wait).await,
        // A panic in a connection's task makes hyper close it without a response.
        Some(Fault::Drop) => panic!("fault proxy: dropping the connection (injected)"),
        Some(Fault::Throttle) => return error(400, "ThrottlingException"),
        Some(Fault::Conflict) => return error(409, "ConflictException"),
        Some(Fault::ServerError(status)) => return error(*status, "InternalServerException"),
        _ => {}
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", axum::http::uri::PathAndQuery::as_str);
    let mut forwarded = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if name != "host" {
            forwarded = forwarded.header(name, value);
        }
    }
    let Ok(forwarded) = forwarded.body(http_body_util::Full::new(body)) else {
        return error(500, "ProxyError");
    };
    let answered = client.request(forwarded).await;
    if creation {
        let mut s = state.lock().expect("proxy state");
        s.creations_in_flight = s.creations_in_flight.saturating_sub(1);
    }
    let Ok(response) = answered else {
        return error(502, "ProxyError");
    };
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let body = match &fault {
        Some(f @ (Fault::InProgress | Fault::FailedWith(_))) => {
            rewrite_status(&body, f).map_or(body, bytes::Bytes::from)
        }
        _ => body,
    };
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    *response.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if name != "content-length" && name != "transfer-encoding" {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}
