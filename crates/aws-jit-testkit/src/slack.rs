//! A local Slack-compatible Web API.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The workspace of the fake Slack's users (and of the clicks the tests send).
pub const FAKE_TEAM: &str = "T0AWSJIT";
/// Another organisation's workspace (external users).
pub const FAKE_OTHER_TEAM: &str = "T0OTHER";

/// A local Slack-compatible Web API for tests: it checks what Slack checks (the bot token,
/// required fields, block limits; for views, trigger ids that lapse after three seconds,
/// modal and Home limits and field lengths), answers errors in Slack's shape (`ok: false`,
/// `error: code`), and can be rate limited (429 `ratelimited` with `Retry-After`) or down
/// (503). It records every message posted.
#[derive(Debug)]
pub struct FakeSlack {
    /// The API base URL (`SLACK_API_URL`).
    pub url: String,
    state: Arc<Mutex<SlackState>>,
}

#[derive(Debug, Default)]
struct SlackState {
    token: String,
    users: std::collections::HashMap<String, String>,
    /// Users by id who are not plain members: `deleted`, `guest`, `external`.
    kinds: std::collections::HashMap<String, &'static str>,
    posts: Vec<serde_json::Value>,
    responses: Vec<serde_json::Value>,
    /// Trigger ids handed out, with when: Slack's are valid for three seconds.
    triggers: std::collections::HashMap<String, std::time::Instant>,
    /// Open modals by view id.
    modals: std::collections::BTreeMap<String, serde_json::Value>,
    /// Published Home tabs by user id.
    homes: std::collections::HashMap<String, serde_json::Value>,
    down: bool,
    hang: bool,
    rate_limited: u32,
}

impl FakeSlack {
    /// Starts one on a free loopback port, accepting `token`.
    pub fn start(token: &str) -> FakeSlack {
        let state = Arc::new(Mutex::new(SlackState {
            token: token.to_owned(),
            ..SlackState::default()
        }));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port for the fake Slack");
        let addr = listener.local_addr().expect("its address");
        listener.set_nonblocking(true).expect("non-blocking");
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the fake Slack");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let app = axum::Router::new()
                    .route("/api/{method}", axum::routing::any(slack_method))
                    .with_state(shared);
                let _ = axum::serve(listener, app).await;
            });
        });
        FakeSlack {
            url: format!("http://{addr}/api"),
            state,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut SlackState) -> T) -> T {
        f(&mut self.state.lock().expect("fake Slack state"))
    }

    /// Adds a Slack user who is not a plain member of the workspace (`deleted`, `guest`
    /// or `external`); returns their id.
    pub fn add_user_of_kind(&self, email: &str, kind: &'static str) -> String {
        let id = self.add_user(email);
        self.with(|s| s.kinds.insert(id.clone(), kind));
        id
    }

    /// Adds a Slack user with this email; returns their id.
    pub fn add_user(&self, email: &str) -> String {
        self.with(|s| {
            let id = format!("U{:04}", s.users.len() + 1);
            s.users.insert(email.to_lowercase(), id.clone());
            id
        })
    }

    /// Makes every call fail with 503 (`true`) or work again.
    pub fn set_down(&self, down: bool) {
        self.with(|s| s.down = down);
    }

    /// Makes every Web API call hang (accepted, never answered) while `true`; the
    /// `response_url` hooks (another host at Slack) still answer.
    pub fn set_hanging(&self, hang: bool) {
        self.with(|s| s.hang = hang);
    }

    /// Answers the next `n` calls with 429 `ratelimited`, `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        self.with(|s| s.rate_limited = n);
    }

    /// Every message posted so far (the `chat.postMessage` bodies).
    pub fn posts(&self) -> Vec<serde_json::Value> {
        self.with(|s| s.posts.clone())
    }

    /// A `response_url` for interactions; what is posted to it is in [`FakeSlack::responses`].
    pub fn response_url(&self) -> String {
        format!("{}/respond", self.url)
    }

    /// A trigger id, as Slack sends with a slash command or a click: `views.open` accepts
    /// it for three seconds.
    pub fn trigger(&self) -> String {
        self.with(|s| {
            let id = format!(
                "{}.{}.fake{:04}",
                1_700_000_000 + s.triggers.len(),
                42,
                s.triggers.len()
            );
            s.triggers.insert(id.clone(), std::time::Instant::now());
            id
        })
    }

    /// A trigger id handed out longer ago than Slack keeps one: `views.open` refuses it
    /// (`expired_trigger_id`).
    pub fn expired_trigger(&self) -> String {
        let id = self.trigger();
        self.with(|s| {
            let past = std::time::Instant::now()
                .checked_sub(Duration::from_secs(4))
                .unwrap_or_else(std::time::Instant::now);
            s.triggers.insert(id.clone(), past);
        });
        id
    }

    /// The form body Slack posts for a slash command typed by `user_id`, with `trigger`.
    pub fn slash_command(&self, user_id: &str, command: &str, text: &str, trigger: &str) -> String {
        [
            ("command", command),
            ("text", text),
            ("user_id", user_id),
            ("team_id", FAKE_TEAM),
            ("trigger_id", trigger),
            ("response_url", &self.response_url()),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }

    /// The open modals (the views opened or updated), oldest first, with their `id`.
    pub fn modals(&self) -> Vec<serde_json::Value> {
        self.with(|s| s.modals.values().cloned().collect())
    }

    /// The Home tab last published for `user_id`.
    pub fn home(&self, user_id: &str) -> Option<serde_json::Value> {
        self.with(|s| s.homes.get(user_id).cloned())
    }

    /// What was posted to the `response_url` so far.
    pub fn responses(&self) -> Vec<serde_json::Value> {
        self.with(|s| s.responses.clone())
    }
}

/// Percent-encodes a form value, as Slack does.
pub fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The form body Slack posts for an interaction payload.
pub fn interaction_body(payload: &serde_json::Value) -> String {
    format!("payload={}", form_encode(&payload.to_string()))
}

/// What Slack sends when `user_id` types `query` into an external select (`action_id`).
pub fn block_suggestion(user_id: &str, action_id: &str, query: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "block_suggestion", "team": {"id": FAKE_TEAM}, "user": {"id": user_id, "team_id": FAKE_TEAM},
        "action_id": action_id, "block_id": action_id, "value": query,
    })
}

/// What Slack sends when `user_id` submits the modal `view_id` (`callback_id`) whose
/// inputs hold `values` (`state.values`: block id → action id → value).
pub fn view_submission(
    user_id: &str,
    view_id: &str,
    callback_id: &str,
    values: &serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "type": "view_submission", "team": {"id": FAKE_TEAM}, "user": {"id": user_id, "team_id": FAKE_TEAM},
        "view": {"id": view_id, "type": "modal", "callback_id": callback_id, "state": {"values": values}},
    })
}

/// What Slack sends when `user_id` clicks a button (`action_id`, `value`) on their App
/// Home: no `response_url`, a fresh trigger.
pub fn home_click(user_id: &str, action_id: &str, value: &str, trigger: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "block_actions", "team": {"id": FAKE_TEAM}, "user": {"id": user_id, "team_id": FAKE_TEAM},
        "container": {"type": "view", "view_id": "VHOME"}, "trigger_id": trigger,
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
    })
}

/// The Events API delivery Slack sends when `user_id` opens the app's Home tab.
pub fn home_opened(user_id: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "event_callback", "team_id": FAKE_TEAM,
        "event": {"type": "app_home_opened", "user": user_id, "tab": "home"},
    })
}

fn slack_error(code: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    axum::Json(serde_json::json!({ "ok": false, "error": code })).into_response()
}

/// Slack's checks on a message: some text, at most 50 blocks, text limits per block.
fn check_message(body: &serde_json::Value) -> Result<(), &'static str> {
    let text = body.get("text").and_then(|t| t.as_str()).unwrap_or("");
    let blocks = body
        .get("blocks")
        .and_then(|b| b.as_array())
        .cloned()
        .unwrap_or_default();
    if text.is_empty() && blocks.is_empty() {
        return Err("no_text");
    }
    if text.chars().count() > 40_000 {
        return Err("msg_too_long");
    }
    if blocks.len() > 50 {
        return Err("invalid_blocks");
    }
    for block in &blocks {
        let kind = block.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let limit = if kind == "header" { 150 } else { 3_000 };
        let text = block
            .pointer("/text/text")
            .and_then(|t| t.as_str())
            .unwrap_or("");
        if text.chars().count() > limit || kind.is_empty() {
            return Err("invalid_blocks");
        }
    }
    Ok(())
}

fn chars(value: Option<&serde_json::Value>) -> usize {
    value
        .and_then(|v| v.as_str())
        .map_or(0, |t| t.chars().count())
}

/// Slack's checks on a view (a modal or a Home tab): its type, at most 100 blocks, a
/// modal's title and buttons of at most 24 characters, labels and hints of 2,000, text
/// inputs of at most 3,000, options of 75 (text) and 150 (value), block ids of 255.
fn check_view(view: &serde_json::Value, kind: &str) -> Result<(), &'static str> {
    if view.get("type").and_then(|t| t.as_str()) != Some(kind) {
        return Err("invalid_arguments");
    }
    if kind == "modal" {
        let title = view.pointer("/title/text");
        if chars(title) == 0 || chars(title) > 24 {
            return Err("invalid_arguments");
        }
        for button in ["submit", "close"] {
            if chars(view.pointer(&format!("/{button}/text"))) > 24 {
                return Err("invalid_arguments");
            }
        }
        if chars(view.get("private_metadata")) > 3_000 || chars(view.get("callback_id")) > 255 {
            return Err("invalid_arguments");
        }
    }
    let blocks = view
        .get("blocks")
        .and_then(|b| b.as_array())
        .ok_or("invalid_arguments")?;
    if blocks.len() > 100 {
        return Err("invalid_blocks");
    }
    for block in blocks {
        let kind = block.get("type").and_then(|t| t.as_str()).unwrap_or("");
        if kind.is_empty() || chars(block.get("block_id")) > 255 {
            return Err("invalid_blocks");
        }
        let limit = if kind == "header" { 150 } else { 3_000 };
        if chars(block.pointer("/text/text")) > limit {
            return Err("invalid_blocks");
        }
        if kind == "input" {
            if chars(block.pointer("/label/text")) == 0
                || chars(block.pointer("/label/text")) > 2_000
                || chars(block.pointer("/hint/text")) > 2_000
            {
                return Err("invalid_blocks");
            }
            let element = block.get("element").ok_or("invalid_blocks")?;
            let max = element.get("max_length").and_then(|m| m.as_u64());
            if max.is_some_and(|m| m == 0 || m > 3_000) {
                return Err("invalid_blocks");
            }
            check_options(element).map_err(|_| "invalid_blocks")?;
        }
        for element in block
            .get("elements")
            .and_then(|e| e.as_array())
            .into_iter()
            .flatten()
        {
            if element.get("type").and_then(|t| t.as_str()) == Some("button")
                && (chars(element.pointer("/text/text")) > 75
                    || chars(element.get("value")) > 2_000)
            {
                return Err("invalid_blocks");
            }
        }
    }
    Ok(())
}

/// Slack's checks on options (a static select's, or an external select's answer): at
/// most 100, each with a text of at most 75 characters and a value of at most 150.
pub fn check_options(holder: &serde_json::Value) -> Result<(), String> {
    let Some(options) = holder.get("options") else {
        return Ok(());
    };
    let options = options.as_array().ok_or("options is not a list")?;
    if options.len() > 100 {
        return Err(format!(
            "{} options, Slack shows at most 100",
            options.len()
        ));
    }
    for option in options {
        let text = chars(option.pointer("/text/text"));
        let value = chars(option.get("value"));
        if text == 0 || text > 75 || chars(option.pointer("/description/text")) > 75 {
            return Err(format!("option text out of bounds: {option}"));
        }
        if value == 0 || value > 150 {
            return Err(format!("option value out of bounds: {option}"));
        }
    }
    Ok(())
}

/// Keeps a modal (opened or updated) under its id; Slack's answer with the view.
fn keep_modal(
    s: &mut SlackState,
    id: String,
    mut view: serde_json::Value,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(map) = view.as_object_mut() {
        map.insert("id".to_owned(), serde_json::json!(id));
    }
    s.modals.insert(id, view.clone());
    axum::Json(serde_json::json!({ "ok": true, "view": view })).into_response()
}

async fn slack_method(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<SlackState>>>,
    axum::extract::Path(method): axum::extract::Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let hang = state.lock().expect("fake Slack state").hang;
    if hang && method != "respond" {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    let mut s = state.lock().expect("fake Slack state");
    if s.down {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "<html>down</html>",
        )
            .into_response();
    }
    if s.rate_limited > 0 {
        s.rate_limited -= 1;
        return (
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            axum::Json(serde_json::json!({ "ok": false, "error": "ratelimited" })),
        )
            .into_response();
    }
    if method == "respond" {
        // A response_url needs no token: its URL is the secret.
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        s.responses.push(json);
        return axum::Json(serde_json::json!({ "ok": true })).into_response();
    }
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        None => return slack_error("not_authed"),
        Some(token) if token != s.token => return slack_error("invalid_auth"),
        Some(_) => {}
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    match method.as_str() {
        "users.lookupByEmail" => {
            let email = query
                .get("email")
                .map(|e| e.to_lowercase())
                .unwrap_or_default();
            match s.users.get(&email) {
                Some(id) => axum::Json(serde_json::json!({ "ok": true, "user": { "id": id } }))
                    .into_response(),
                None => slack_error("users_not_found"),
            }
        }
        "users.info" => {
            let id = query.get("user").cloned().unwrap_or_default();
            match s.users.iter().find(|(_, v)| **v == id) {
                Some((email, _)) => {
                    let kind = s.kinds.get(&id).copied().unwrap_or("member");
                    axum::Json(serde_json::json!({
                        "ok": true,
                        "user": {
                            "id": id,
                            "team_id": if kind == "external" { FAKE_OTHER_TEAM } else { FAKE_TEAM },
                            "deleted": kind == "deleted",
                            "is_restricted": kind == "guest",
                            "is_stranger": kind == "external",
                            "profile": { "email": email }
                        }
                    }))
                    .into_response()
                }
                None => slack_error("user_not_found"),
            }
        }
        "conversations.open" => match json.get("users").and_then(|u| u.as_str()) {
            Some(user) if s.users.values().any(|id| id == user) => axum::Json(
                serde_json::json!({ "ok": true, "channel": { "id": format!("D{user}") } }),
            )
            .into_response(),
            Some(_) => slack_error("user_not_found"),
            None => slack_error("invalid_arguments"),
        },
        "chat.postMessage" => {
            let channel = json.get("channel").and_then(|c| c.as_str()).unwrap_or("");
            if !(channel.starts_with('C') || channel.starts_with('D')) {
                return slack_error("channel_not_found");
            }
            if let Err(code) = check_message(&json) {
                return slack_error(code);
            }
            s.posts.push(json.clone());
            let ts = format!("1700000000.{:06}", s.posts.len());
            axum::Json(serde_json::json!({ "ok": true, "channel": channel, "ts": ts }))
                .into_response()
        }
        "views.open" => {
            let trigger = json
                .get("trigger_id")
                .and_then(|t| t.as_str())
                .unwrap_or("");
            match s.triggers.get(trigger) {
                None => return slack_error("invalid_trigger_id"),
                Some(at) if at.elapsed() > Duration::from_secs(3) => {
                    return slack_error("expired_trigger_id");
                }
                Some(_) => {}
            }
            let view = json.get("view").cloned().unwrap_or_default();
            if let Err(code) = check_view(&view, "modal") {
                return slack_error(code);
            }
            // A trigger opens one modal.
            s.triggers.remove(trigger);
            let id = format!("V{:04}", s.modals.len() + 1);
            keep_modal(&mut s, id, view)
        }
        "views.update" => {
            let id = json
                .get("view_id")
                .and_then(|t| t.as_str())
                .unwrap_or("")
                .to_owned();
            if !s.modals.contains_key(&id) {
                return slack_error("not_found");
            }
            let view = json.get("view").cloned().unwrap_or_default();
            if let Err(code) = check_view(&view, "modal") {
                return slack_error(code);
            }
            keep_modal(&mut s, id, view)
        }
        "views.publish" => {
            let user = json
                .get("user_id")
                .and_then(|t| t.as_str())
                .unwrap_or("")
                .to_owned();
            if !s.users.values().any(|id| *id == user) {
                return slack_error("user_not_found");
            }
            let view = json.get("view").cloned().unwrap_or_default();
            if let Err(code) = check_view(&view, "home") {
                return slack_error(code);
            }
            s.homes.insert(user, view.clone());
            axum::Json(serde_json::json!({ "ok": true, "view": view })).into_response()
        }
        _ => slack_error("unknown_method"),
    }
}
