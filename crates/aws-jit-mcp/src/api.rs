//! The API backend: a running `aws-jit serve`, called with the person's bearer token, so
//! that the server's rules, approvals and audit apply. The person is the token's user
//! (`GET /api/v1/me`), never a tool argument.

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, header};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::{Backend, Which};

/// A client of one server, with one token.
#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    person: String,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("person", &self.person)
            .finish_non_exhaustive()
    }
}

/// A token or address that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApiError(pub String);

/// A URL query value, percent-encoded.
fn encode(value: &str) -> String {
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

impl Api {
    /// Connects to `base` (e.g. `https://jit.internal`) and learns whose token it is.
    pub async fn connect(base: &str, token: &str) -> Result<Api, ApiError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| ApiError(format!("TLS set-up: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let mut api = Api {
            base: base.trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            person: String::new(),
            client: Client::builder(TokioExecutor::new()).build(connector),
        };
        let me = api
            .call(Method::GET, "/api/v1/me", None)
            .await
            .map_err(|e| ApiError(format!("{}: {e}", api.base)))?;
        api.person = me
            .get("user")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError(
                    "the token acts for no user: the MCP tools need a person's token".to_owned(),
                )
            })?
            .to_owned();
        Ok(api)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("the server cannot be reached: {e}"))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|_| format!("the server answered {status} without JSON"))?;
        if status.is_success() {
            Ok(json)
        } else {
            let message = json
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            Err(format!("{} ({})", message, status.as_u16()))
        }
    }

    /// The grant, if it is the person's.
    async fn own_grant(&self, id: &str) -> Result<Value, String> {
        let grant = self
            .call(Method::GET, &format!("/api/v1/grants/{}", encode(id)), None)
            .await?;
        if grant.get("user").and_then(Value::as_str) != Some(self.person.as_str()) {
            return Err(crate::not_yours(id, &self.person));
        }
        Ok(grant)
    }
}

#[async_trait]
impl Backend for Api {
    fn person(&self) -> String {
        self.person.clone()
    }

    async fn accesses(&self) -> Result<Value, String> {
        let page = self.call(Method::GET, "/api/v1/accesses", None).await?;
        Ok(page.get("items").cloned().unwrap_or(Value::Null))
    }

    async fn request(
        &self,
        access: &str,
        how_long: Option<&str>,
        reason: Option<String>,
    ) -> Result<Value, String> {
        // No `user`: the server takes the token's.
        let body = json!({ "access": access, "duration": how_long, "reason": reason });
        self.call(Method::POST, "/api/v1/grants", Some(body)).await
    }

    async fn my_grants(&self, include_ended: bool) -> Result<Value, String> {
        let path = format!(
            "/api/v1/grants?user={}&all={include_ended}&limit=200",
            encode(&self.person)
        );
        let page = self.call(Method::GET, &path, None).await?;
        Ok(page.get("items").cloned().unwrap_or(Value::Null))
    }

    async fn revoke(&self, which: Which<'_>) -> Result<Value, String> {
        let id = match which {
            Which::Grant(id) => {
                self.own_grant(id).await?;
                id.to_owned()
            }
            Which::Access(query) => {
                let accesses = self.accesses().await?;
                let key = accesses
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| {
                        ["key", "name", "slug"]
                            .iter()
                            .any(|f| a.get(*f).and_then(Value::as_str) == Some(query))
                    })
                    .and_then(|a| a.get("key").and_then(Value::as_str))
                    .ok_or_else(|| format!("no access is called `{query}`"))?
                    .to_owned();
                let path = format!(
                    "/api/v1/grants?user={}&access={}&status=active&limit=1",
                    encode(&self.person),
                    encode(&key)
                );
                let page = self.call(Method::GET, &path, None).await?;
                page.pointer("/items/0/id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("you have no active grant of `{key}`"))?
                    .to_owned()
            }
        };
        let path = format!("/api/v1/grants/{}/revoke", encode(&id));
        self.call(Method::POST, &path, None).await
    }

    async fn extend(&self, grant_id: &str, how_long: Option<&str>) -> Result<Value, String> {
        self.own_grant(grant_id).await?;
        let path = format!("/api/v1/grants/{}/extend", encode(grant_id));
        self.call(Method::POST, &path, Some(json!({ "duration": how_long })))
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(super::encode("a+b@x.com"), "a%2Bb%40x.com");
        assert_eq!(super::encode("DB Access"), "DB%20Access");
    }
}
