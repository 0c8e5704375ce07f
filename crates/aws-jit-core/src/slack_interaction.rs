//! What Slack sends aws-jit, read into plain values: interaction payloads
//! (`POST /slack/interactions`: button clicks, the request modal's access search and its
//! submission), slash commands (`POST /slack/commands`) and events (`POST /slack/events`:
//! the App Home being opened). Pure, so that it is fuzzed
//! (`fuzz/fuzz_targets/slack_interaction.rs`); the signature over the body is checked
//! first, by [`crate::slack_signature`]. Ids and URLs that are not plausibly Slack's make a
//! payload nothing; free text is bounded here and validated by the use cases.

use serde_json::Value;

use crate::slack::{APPROVE_ACTION, DENY_ACTION};
use crate::slack_views::{
    ACCESS_FIELD, BREAK_GLASS_FIELD, DURATION_FIELD, EXTEND_ACTION, OPEN_REQUEST_ACTION,
    REASON_FIELD, REQUEST_CALLBACK, REVOKE_ACTION,
};

/// The longest Slack id (user, team, view, trigger) or grant id taken from a payload.
pub const MAX_ID_CHARS: usize = 64;
/// The longest `response_url` taken from a payload.
pub const MAX_URL_CHARS: usize = 2_048;
/// The longest free text (a search, a reason, a command's text) taken from a payload:
/// Slack's own limit on a text input.
pub const MAX_TEXT_CHARS: usize = 3_000;

/// What a button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonAction {
    /// Approve a request.
    Approve,
    /// Deny a request.
    Deny,
    /// Extend an active grant.
    Extend,
    /// End an active grant.
    Revoke,
    /// Open the request modal (from the App Home).
    OpenRequest,
}

impl ButtonAction {
    /// The word for logs and audit details.
    pub fn verb(self) -> &'static str {
        match self {
            ButtonAction::Approve => "approve",
            ButtonAction::Deny => "deny",
            ButtonAction::Extend => "extend",
            ButtonAction::Revoke => "revoke",
            ButtonAction::OpenRequest => "open the request form",
        }
    }
}

/// Who sent something, as Slack says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUser {
    /// The Slack user id.
    pub user_id: String,
    /// Their workspace; empty when the payload does not say.
    pub team_id: String,
}

/// A click on one of aws-jit's buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    /// Which button.
    pub action: ButtonAction,
    /// The grant the button is on (empty for [`ButtonAction::OpenRequest`]).
    pub grant_id: String,
    /// Who clicked.
    pub user: SlackUser,
    /// Where the answer goes, for a button in a message; a button in the App Home has none
    /// (the Home is published again instead).
    pub response_url: Option<String>,
    /// The trigger for opening a modal (valid for three seconds).
    pub trigger_id: Option<String>,
}

/// The request modal's access search (an external select's options request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// Who is searching.
    pub user: SlackUser,
    /// What they typed (bounded).
    pub query: String,
}

/// The request modal, submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Who submitted it.
    pub user: SlackUser,
    /// The modal, for updating it later.
    pub view_id: String,
    /// The access chosen (its key), if any.
    pub access: Option<String>,
    /// The duration typed; empty for the access's longest.
    pub duration: String,
    /// The reason typed.
    pub reason: String,
    /// Whether break-glass was ticked.
    pub break_glass: bool,
}

/// An interaction payload aws-jit acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// A button.
    Click(Click),
    /// The access search.
    Suggestion(Suggestion),
    /// The request modal's submission.
    Submission(Submission),
}

/// A slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashCommand {
    /// The command (`/jit`).
    pub command: String,
    /// What follows it (bounded).
    pub text: String,
    /// Who typed it.
    pub user: SlackUser,
    /// The trigger for opening the modal (valid for three seconds).
    pub trigger_id: String,
    /// Where later answers go.
    pub response_url: String,
}

/// An Events API delivery aws-jit acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackEvent {
    /// Slack checking the Request URL: answer with the challenge.
    UrlVerification(String),
    /// Someone opened the App Home tab.
    HomeOpened(SlackUser),
}

/// A value of an `application/x-www-form-urlencoded` body, decoded.
pub fn form_value(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let raw = text
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))?;
    crate::ids::percent_decode(raw)
}

fn plain_id(id: &str) -> bool {
    id.len() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

fn id_at(payload: &Value, pointer: &str) -> Option<String> {
    let id = payload.pointer(pointer)?.as_str()?;
    (!id.is_empty() && plain_id(id)).then(|| id.to_owned())
}

fn url_ok(url: &str) -> bool {
    url.len() <= MAX_URL_CHARS
        && (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(crate::text::is_hostile)
}

/// Free text, cut to [`MAX_TEXT_CHARS`].
fn bounded(text: &str) -> String {
    text.chars().take(MAX_TEXT_CHARS).collect()
}

fn user_of(payload: &Value) -> Option<SlackUser> {
    let team_id = payload
        .pointer("/team/id")
        .or_else(|| payload.pointer("/user/team_id"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    plain_id(team_id).then_some(())?;
    Some(SlackUser {
        user_id: id_at(payload, "/user/id")?,
        team_id: team_id.to_owned(),
    })
}

/// The interaction in a body, or `None` for anything else: other kinds, other apps'
/// buttons and views, malformed payloads, implausible ids or URLs.
pub fn parse_interaction(body: &[u8]) -> Option<Interaction> {
    let payload: Value = serde_json::from_str(&form_value(body, "payload")?).ok()?;
    match payload.get("type")?.as_str()? {
        "block_actions" => click(&payload).map(Interaction::Click),
        "block_suggestion" => suggestion(&payload).map(Interaction::Suggestion),
        "view_submission" => submission(&payload).map(Interaction::Submission),
        _ => None,
    }
}

fn click(payload: &Value) -> Option<Click> {
    let button = payload.pointer("/actions/0")?;
    let action = match button.get("action_id")?.as_str()? {
        APPROVE_ACTION => ButtonAction::Approve,
        DENY_ACTION => ButtonAction::Deny,
        EXTEND_ACTION => ButtonAction::Extend,
        REVOKE_ACTION => ButtonAction::Revoke,
        OPEN_REQUEST_ACTION => ButtonAction::OpenRequest,
        _ => return None,
    };
    let grant_id = if action == ButtonAction::OpenRequest {
        String::new()
    } else {
        id_at(button, "/value")?
    };
    let response_url = match payload.get("response_url").and_then(Value::as_str) {
        Some(url) if url_ok(url) => Some(url.to_owned()),
        Some(_) => return None,
        None => None,
    };
    let trigger_id = match payload.get("trigger_id") {
        Some(_) => Some(id_at(payload, "/trigger_id")?),
        None => None,
    };
    Some(Click {
        action,
        grant_id,
        user: user_of(payload)?,
        response_url,
        trigger_id,
    })
}

fn suggestion(payload: &Value) -> Option<Suggestion> {
    (payload.get("action_id")?.as_str()? == ACCESS_FIELD).then_some(())?;
    Some(Suggestion {
        user: user_of(payload)?,
        query: bounded(payload.get("value").and_then(Value::as_str).unwrap_or("")),
    })
}

fn submission(payload: &Value) -> Option<Submission> {
    let view = payload.get("view")?;
    (view.get("callback_id")?.as_str()? == REQUEST_CALLBACK).then_some(())?;
    let values = view.pointer("/state/values")?;
    let field = |block: &str| values.get(block).and_then(|b| b.get(block));
    let text = |block: &str| {
        bounded(
            field(block)
                .and_then(|f| f.get("value"))
                .and_then(Value::as_str)
                .unwrap_or(""),
        )
    };
    let access = field(ACCESS_FIELD)
        .and_then(|f| f.pointer("/selected_option/value"))
        .and_then(Value::as_str)
        .filter(|key| key.chars().count() <= crate::slack_views::MAX_OPTION_VALUE_CHARS)
        .map(str::to_owned);
    let break_glass = field(BREAK_GLASS_FIELD)
        .and_then(|f| f.get("selected_options"))
        .and_then(Value::as_array)
        .is_some_and(|ticked| !ticked.is_empty());
    Some(Submission {
        user: user_of(payload)?,
        view_id: id_at(view, "/id")?,
        access,
        duration: text(DURATION_FIELD),
        reason: text(REASON_FIELD),
        break_glass,
    })
}

/// The slash command in a body, or `None` when it is malformed.
pub fn parse_command(body: &[u8]) -> Option<SlashCommand> {
    let value = |key: &str| form_value(body, key);
    let user_id = value("user_id")?;
    let team_id = value("team_id").unwrap_or_default();
    let trigger_id = value("trigger_id")?;
    let response_url = value("response_url")?;
    let command = value("command")?;
    let ok = !user_id.is_empty()
        && plain_id(&user_id)
        && plain_id(&team_id)
        && !trigger_id.is_empty()
        && plain_id(&trigger_id)
        && url_ok(&response_url)
        && command.starts_with('/')
        && command.len() <= MAX_ID_CHARS
        && !command.chars().any(crate::text::is_hostile);
    ok.then(|| SlashCommand {
        command,
        text: bounded(value("text").as_deref().unwrap_or("")),
        user: SlackUser { user_id, team_id },
        trigger_id,
        response_url,
    })
}

/// The event in an Events API body (JSON), or `None` for the ones aws-jit ignores.
pub fn parse_event(body: &[u8]) -> Option<SlackEvent> {
    let payload: Value = serde_json::from_slice(body).ok()?;
    match payload.get("type")?.as_str()? {
        "url_verification" => {
            let challenge = payload.get("challenge")?.as_str()?;
            (challenge.len() <= 256 && plain_id(&challenge.replace(['+', '/', '='], "")))
                .then(|| SlackEvent::UrlVerification(challenge.to_owned()))
        }
        "event_callback" => {
            let event = payload.get("event")?;
            let home = event.get("type")?.as_str()? == "app_home_opened"
                && event.get("tab").and_then(Value::as_str) == Some("home");
            home.then_some(())?;
            let team_id = payload
                .get("team_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            plain_id(team_id).then_some(())?;
            Some(SlackEvent::HomeOpened(SlackUser {
                user_id: id_at(event, "/user")?,
                team_id: team_id.to_owned(),
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(text: &str) -> String {
        text.bytes().map(|b| format!("%{b:02X}")).collect()
    }

    fn body(payload: &Value) -> Vec<u8> {
        format!("payload={}", encode(&payload.to_string())).into_bytes()
    }

    fn payload(grant: &str, user: &str, url: &str) -> Value {
        serde_json::json!({
            "type": "block_actions",
            "user": {"id": user, "team_id": "T0AWSJIT"},
            "actions": [{"action_id": APPROVE_ACTION, "value": grant}],
            "response_url": url,
        })
    }

    #[test]
    fn form_values_are_decoded() {
        let body = b"x=1&payload=%7B%22a%22%3A+%22b%20c%22%7D";
        assert_eq!(
            form_value(body, "payload").as_deref(),
            Some(r#"{"a": "b c"}"#)
        );
        assert_eq!(form_value(body, "missing"), None);
        assert_eq!(form_value(b"payload=%zz", "payload"), None);
    }

    #[test]
    fn a_click_is_read_with_its_workspace() {
        let Some(Interaction::Click(click)) = parse_interaction(&body(&payload(
            "0190-ab",
            "U0001",
            "https://hooks.slack.com/actions/T/1/x",
        ))) else {
            panic!("a click");
        };
        assert_eq!(click.action, ButtonAction::Approve);
        assert_eq!(click.grant_id, "0190-ab");
        assert_eq!(click.user.team_id, "T0AWSJIT");
    }

    #[test]
    fn implausible_ids_and_urls_are_not_clicks() {
        let long = "U".repeat(MAX_ID_CHARS + 1);
        for (grant, user, url) in [
            ("", "U0001", "https://x"),
            ("g\u{1b}[2K", "U0001", "https://x"),
            ("g", long.as_str(), "https://x"),
            ("g", "U 1", "https://x"),
            ("g", "U0001", "file:///etc/passwd"),
            ("g", "U0001", "https://x/\n"),
        ] {
            assert_eq!(
                parse_interaction(&body(&payload(grant, user, url))),
                None,
                "{grant:?} {user:?} {url:?}"
            );
        }
    }

    #[test]
    fn a_home_button_has_no_response_url() {
        let p = serde_json::json!({
            "type": "block_actions",
            "user": {"id": "U0001", "team_id": "T0AWSJIT"},
            "trigger_id": "1234.5678.abcd",
            "container": {"type": "view", "view_id": "V1"},
            "actions": [{"action_id": EXTEND_ACTION, "value": "g-1"}],
        });
        let Some(Interaction::Click(click)) = parse_interaction(&body(&p)) else {
            panic!("a click");
        };
        assert_eq!(click.action, ButtonAction::Extend);
        assert_eq!(click.response_url, None);
        assert_eq!(click.trigger_id.as_deref(), Some("1234.5678.abcd"));
    }

    #[test]
    fn a_submission_is_read_field_by_field_and_bounded() {
        let long = "r".repeat(MAX_TEXT_CHARS + 10);
        let p = serde_json::json!({
            "type": "view_submission",
            "team": {"id": "T0AWSJIT"},
            "user": {"id": "U0001"},
            "view": {
                "id": "V0001", "callback_id": REQUEST_CALLBACK,
                "state": {"values": {
                    "access": {"access": {"type": "external_select", "selected_option": {"value": "DB Access"}}},
                    "duration": {"duration": {"type": "plain_text_input", "value": "30m"}},
                    "reason": {"reason": {"type": "plain_text_input", "value": long}},
                    "break_glass": {"break_glass": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}},
                }},
            },
        });
        let Some(Interaction::Submission(s)) = parse_interaction(&body(&p)) else {
            panic!("a submission");
        };
        assert_eq!(s.access.as_deref(), Some("DB Access"));
        assert_eq!(s.duration, "30m");
        assert_eq!(s.reason.chars().count(), MAX_TEXT_CHARS);
        assert!(s.break_glass);
        // Another app's modal is nothing.
        let mut other = p;
        other["view"]["callback_id"] = "someone_else".into();
        assert_eq!(parse_interaction(&body(&other)), None);
    }

    #[test]
    fn commands_and_events_are_read() {
        let form = format!(
            "command=%2Fjit&text=prod+db&user_id=U0001&team_id=T0AWSJIT&trigger_id=13345224609.738474920.8088930838d88f008e0&response_url={}",
            encode("https://hooks.slack.com/commands/T/1/x")
        );
        let command = parse_command(form.as_bytes()).unwrap();
        assert_eq!(command.command, "/jit");
        assert_eq!(command.text, "prod db");
        assert_eq!(parse_command(b"command=%2Fjit&user_id=U1"), None);
        assert_eq!(
            parse_event(br#"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#),
            Some(SlackEvent::UrlVerification(
                "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".to_owned()
            ))
        );
        assert_eq!(
            parse_event(
                br#"{"type":"event_callback","team_id":"T0AWSJIT","event":{"type":"app_home_opened","user":"U0001","tab":"home"}}"#
            ),
            Some(SlackEvent::HomeOpened(SlackUser {
                user_id: "U0001".to_owned(),
                team_id: "T0AWSJIT".to_owned()
            }))
        );
        assert_eq!(
            parse_event(
                br#"{"type":"event_callback","team_id":"T0AWSJIT","event":{"type":"app_home_opened","user":"U0001","tab":"messages"}}"#
            ),
            None
        );
    }
}
