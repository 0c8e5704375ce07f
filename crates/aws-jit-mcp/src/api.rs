//! The API backend: a running `aws-jit serve`, called with the person's bearer token, so
//! that the server's rules, approvals and audit apply. The person is the token's user
//! (`GET /api/v1/me`), never a tool argument.

use std::time::Duration;

use async_trait::async_trait;
use aws_jit_http::{JsonClient, Method, encode};
use serde_json::{Value, json};

use crate::{Backend, Which};

/// A client of one server, with one token.
#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    person: String,
    client: JsonClient,
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

impl Api {
    /// Connects to `base` (e.g. `https://jit.internal`) and learns whose token it is.
    pub async fn connect(base: &str, token: &str) -> Result<Api, ApiError> {
        let mut api = Api {
            base: base.trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            person: String::new(),
            // Granting waits for AWS: allow for the status polling.
            client: JsonClient::new(Duration::from_secs(150)).map_err(ApiError)?,
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
        let url = format!("{}{path}", self.base);
        let answer = self
            .client
            .send(method, &url, Some(&self.token), body.as_ref())
            .await?;
        if answer.status.is_success() {
            return Ok(answer.json);
        }
        let message = answer
            .json
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        Err(format!("{message} ({})", answer.status.as_u16()))
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
        break_glass: bool,
    ) -> Result<Value, String> {
        // No `user`: the server takes the token's.
        let body = json!({
            "access": access, "duration": how_long, "reason": reason, "break_glass": break_glass,
        });
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

    async fn pending_approvals(&self) -> Result<Value, String> {
        let page = self.call(Method::GET, "/api/v1/approvals", None).await?;
        Ok(page.get("items").cloned().unwrap_or(Value::Null))
    }

    async fn decide(
        &self,
        grant_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<Value, String> {
        let verb = if approve { "approve" } else { "deny" };
        let path = format!("/api/v1/grants/{}/{verb}", encode(grant_id));
        self.call(Method::POST, &path, Some(json!({ "reason": reason })))
            .await
    }
}
