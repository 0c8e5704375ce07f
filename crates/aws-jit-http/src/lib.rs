//! A small JSON-over-HTTPS client (hyper with rustls on aws-lc-rs, the one crypto provider
//! in the build; the system's root certificates), shared by the Slack adapter and the API
//! backend of `aws-jit mcp`. Plain `http://` works too, for loopback test servers.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
pub use hyper::header::{self, HeaderMap};
pub use hyper::{Method, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// The largest JSON answer read (Slack's and the API's are far smaller).
const MAX_JSON_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// A reusable client.
#[derive(Clone)]
pub struct JsonClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for JsonClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An answer: status, headers and the body parsed as JSON (`Null` when it is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub json: Value,
}

impl JsonClient {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Result<JsonClient, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| format!("TLS set-up: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(JsonClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        })
    }

    /// Sends a request, with a bearer token if given, and an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let mut request = hyper::Request::builder().method(method).uri(url);
        if let Some(bearer) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {bearer}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json; charset=utf-8");
        }
        let request = request
            .body(body.map(Value::to_string).unwrap_or_default().into_bytes())
            .map_err(|e| e.to_string())?;
        let answer = self.exchange(request, MAX_JSON_ANSWER_BYTES).await?;
        let (parts, bytes) = answer.into_parts();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }
}

impl JsonClient {
    /// Sends a request as given and returns the answer as bytes, refusing a body over
    /// `max_bytes` (for protocols that bring their own types, such as OpenID Connect).
    /// Redirects are not followed.
    pub async fn exchange(
        &self,
        request: hyper::Request<Vec<u8>>,
        max_bytes: usize,
    ) -> Result<hyper::Response<Vec<u8>>, String> {
        let (parts, body) = request.into_parts();
        let request = hyper::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("cannot reach the server: {e}"))?;
            let (parts, body) = response.into_parts();
            let limited = http_body_util::Limited::new(body, max_bytes);
            let bytes = limited
                .collect()
                .await
                .map_err(|e| format!("the answer is unreadable or over {max_bytes} bytes: {e}"))?
                .to_bytes();
            Ok(hyper::Response::from_parts(parts, bytes.to_vec()))
        };
        self.within_timeout(exchange).await
    }
}

impl JsonClient {
    async fn within_timeout<T>(
        &self,
        exchange: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {}s", self.timeout.as_secs()))?
    }
}

/// A URL query value, percent-encoded.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(super::encode("a+b@x.com"), "a%2Bb%40x.com");
        assert_eq!(super::encode("DB Access"), "DB%20Access");
    }
}
