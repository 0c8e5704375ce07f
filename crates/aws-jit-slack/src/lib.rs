//! The Slack adapter: delivers queued notifications with `chat.postMessage`; a message to a
//! person finds them with `users.lookupByEmail` and opens a DM with `conversations.open`
//! (both remembered for the life of the process). Slack's errors are sorted into "retry
//! later" (rate limits with their `Retry-After`, outages, timeouts, token problems an
//! operator can fix) and "retrying cannot help" (no such user, no such channel, a message
//! Slack refuses). The token never appears in errors or logs.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_jit_app::ports::{ChatUser, DeliveryError, Messenger, Recipient, ViewPlace};
use aws_jit_http::{JsonClient, Method, StatusCode, encode, header};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Slack's Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Errors after which retrying cannot help.
const PERMANENT: [&str; 10] = [
    "users_not_found",
    "user_not_found",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "no_text",
    "account_inactive",
];

/// A Slack client with a bot token.
pub struct Slack {
    api_url: String,
    token: String,
    http: JsonClient,
    dm_channels: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slack")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

fn retry(message: String, retry_after: Option<Duration>) -> DeliveryError {
    DeliveryError {
        message,
        retry_after,
        permanent: false,
    }
}

impl Slack {
    /// A client of `api_url` (`SLACK_API_URL`, default Slack's) with `token`.
    pub fn new(api_url: Option<&str>, token: &str) -> Result<Slack, String> {
        Ok(Slack {
            api_url: api_url
                .unwrap_or(DEFAULT_API_URL)
                .trim_end_matches('/')
                .to_owned(),
            token: token.trim().to_owned(),
            http: JsonClient::new(Duration::from_secs(10))?,
            dm_channels: Mutex::new(HashMap::new()),
        })
    }

    /// Calls a method; returns its answer when `ok` is true.
    async fn call(
        &self,
        method: &str,
        query: &str,
        body: Option<&Value>,
    ) -> Result<Value, DeliveryError> {
        let verb = if body.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        let url = format!("{}/{method}{query}", self.api_url);
        let answer = self
            .http
            .send(verb, &url, Some(&self.token), body)
            .await
            .map_err(|e| retry(format!("Slack {method}: {e}"), None))?;
        let retry_after = answer
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            return Err(retry(format!("Slack {method}: ratelimited"), retry_after));
        }
        if answer.json.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(answer.json);
        }
        let code = answer
            .json
            .get("error")
            .and_then(Value::as_str)
            .map_or_else(|| format!("HTTP {}", answer.status.as_u16()), str::to_owned);
        Err(DeliveryError {
            permanent: PERMANENT.contains(&code.as_str()),
            message: format!("Slack {method}: {code}"),
            retry_after,
        })
    }

    /// The DM channel with the person who has this email.
    async fn dm_channel(&self, email: &str) -> Result<String, DeliveryError> {
        if let Some(channel) = self.dm_channels.lock().await.get(email) {
            return Ok(channel.clone());
        }
        let user = self
            .call(
                "users.lookupByEmail",
                &format!("?email={}", encode(email)),
                None,
            )
            .await?;
        let user_id = user
            .pointer("/user/id")
            .and_then(Value::as_str)
            .ok_or_else(|| retry("Slack users.lookupByEmail: no user id".to_owned(), None))?;
        let opened = self
            .call("conversations.open", "", Some(&json!({ "users": user_id })))
            .await?;
        let channel = opened
            .pointer("/channel/id")
            .and_then(Value::as_str)
            .ok_or_else(|| retry("Slack conversations.open: no channel id".to_owned(), None))?
            .to_owned();
        self.dm_channels
            .lock()
            .await
            .insert(email.to_owned(), channel.clone());
        Ok(channel)
    }
}

#[async_trait]
impl Messenger for Slack {
    async fn person(&self, user_id: &str) -> Result<ChatUser, DeliveryError> {
        let answer = self
            .call("users.info", &format!("?user={}", encode(user_id)), None)
            .await?;
        let user = answer.get("user").cloned().unwrap_or_default();
        let flag = |name: &str| user.get(name).and_then(Value::as_bool).unwrap_or(false);
        Ok(ChatUser {
            email: user
                .pointer("/profile/email")
                .and_then(Value::as_str)
                .map(str::to_owned),
            team_id: user
                .get("team_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            deleted: flag("deleted"),
            guest: flag("is_restricted") || flag("is_ultra_restricted") || flag("is_bot"),
            external: flag("is_stranger"),
        })
    }

    async fn respond(&self, response_url: &str, body: &str) -> Result<(), DeliveryError> {
        // Only Slack's own hooks (or the configured API's host, for tests) get an answer.
        let allowed = response_url.starts_with("https://hooks.slack.com/")
            || response_url.starts_with(&format!("{}/", self.api_url));
        if !allowed {
            return Err(DeliveryError {
                message: format!("refusing to answer to `{response_url}`: not a Slack hook"),
                retry_after: None,
                permanent: true,
            });
        }
        let json: Value = serde_json::from_str(body).map_err(|e| DeliveryError {
            message: e.to_string(),
            retry_after: None,
            permanent: true,
        })?;
        let answer = self
            .http
            .send(Method::POST, response_url, None, Some(&json))
            .await
            .map_err(|e| retry(format!("Slack response_url: {e}"), None))?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(retry(
                format!("Slack response_url: HTTP {}", answer.status.as_u16()),
                None,
            ))
        }
    }

    async fn show_view(&self, place: ViewPlace<'_>, view: &str) -> Result<(), DeliveryError> {
        let view: Value = serde_json::from_str(view).map_err(|e| DeliveryError {
            message: format!("unreadable view: {e}"),
            retry_after: None,
            permanent: true,
        })?;
        let (method, body) = match place {
            ViewPlace::Open { trigger_id } => (
                "views.open",
                json!({ "trigger_id": trigger_id, "view": view }),
            ),
            ViewPlace::Update { view_id } => {
                ("views.update", json!({ "view_id": view_id, "view": view }))
            }
            ViewPlace::Home { user_id } => {
                ("views.publish", json!({ "user_id": user_id, "view": view }))
            }
        };
        self.call(method, "", Some(&body)).await.map(|_| ())
    }

    async fn deliver(&self, recipient: &Recipient, body: &str) -> Result<(), DeliveryError> {
        let message: Value = serde_json::from_str(body).map_err(|e| DeliveryError {
            message: format!("unreadable queued message: {e}"),
            retry_after: None,
            permanent: true,
        })?;
        let (channel, thread_ts) = match recipient {
            Recipient::Channel { channel, thread_ts } => (channel.clone(), thread_ts.clone()),
            Recipient::Person { email } => (self.dm_channel(email).await?, None),
        };
        let mut post = json!({
            "channel": channel,
            "text": message.get("text").cloned().unwrap_or_default(),
            "blocks": message.get("blocks").cloned().unwrap_or_else(|| json!([])),
            "unfurl_links": false,
        });
        if let (Some(ts), Some(map)) = (thread_ts, post.as_object_mut()) {
            map.insert("thread_ts".to_owned(), json!(ts));
        }
        self.call("chat.postMessage", "", Some(&post))
            .await
            .map(|_| ())
    }
}
