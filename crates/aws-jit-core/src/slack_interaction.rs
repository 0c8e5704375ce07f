//! Slack interaction payloads (`POST /slack/interactions`): which button, on which grant, by
//! whom. Pure, so that it is fuzzed (`fuzz/fuzz_targets/slack_interaction.rs`); the
//! signature over the body is checked first, by [`crate::slack_signature`].

use serde_json::Value;

use crate::slack::{APPROVE_ACTION, DENY_ACTION};

/// The longest Slack id (user, team) or grant id taken from a payload.
pub const MAX_ID_CHARS: usize = 64;
/// The longest `response_url` taken from a payload.
pub const MAX_URL_CHARS: usize = 2_048;

/// What a click on an Approve or Deny button asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    /// Approve, or deny.
    pub approve: bool,
    /// The grant the button is on.
    pub grant_id: String,
    /// The clicker's Slack user id.
    pub user_id: String,
    /// The clicker's workspace; empty when the payload does not say.
    pub team_id: String,
    /// Where the answer goes.
    pub response_url: String,
}

/// A value of an `application/x-www-form-urlencoded` body, decoded.
pub fn form_value(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let raw = text
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))?;
    crate::ids::percent_decode(raw)
}

/// The click in an interaction body, or `None` for anything else: other interactions,
/// other apps' buttons, malformed payloads, and ids or URLs that are not plausibly Slack's.
pub fn parse_interaction(body: &[u8]) -> Option<Click> {
    let payload: Value = serde_json::from_str(&form_value(body, "payload")?).ok()?;
    click(&payload)
}

fn click(payload: &Value) -> Option<Click> {
    let action = payload.pointer("/actions/0")?;
    let approve = match action.get("action_id")?.as_str()? {
        APPROVE_ACTION => true,
        DENY_ACTION => false,
        _ => return None,
    };
    let team_id = payload
        .pointer("/team/id")
        .or_else(|| payload.pointer("/user/team_id"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let click = Click {
        approve,
        grant_id: action.get("value")?.as_str()?.to_owned(),
        user_id: payload.pointer("/user/id")?.as_str()?.to_owned(),
        team_id: team_id.to_owned(),
        response_url: payload.get("response_url")?.as_str()?.to_owned(),
    };
    let plain_id = |id: &str| {
        id.len() <= MAX_ID_CHARS
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let url_ok = click.response_url.len() <= MAX_URL_CHARS
        && (click.response_url.starts_with("https://")
            || click.response_url.starts_with("http://"))
        && !click.response_url.chars().any(crate::text::is_hostile);
    (plain_id(&click.grant_id)
        && !click.grant_id.is_empty()
        && plain_id(&click.user_id)
        && !click.user_id.is_empty()
        && plain_id(&click.team_id)
        && url_ok)
        .then_some(click)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(payload: &Value) -> Vec<u8> {
        let encoded: String = payload
            .to_string()
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect();
        format!("payload={encoded}").into_bytes()
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
        let click = parse_interaction(&body(&payload(
            "0190-ab",
            "U0001",
            "https://hooks.slack.com/actions/T/1/x",
        )))
        .unwrap();
        assert!(click.approve);
        assert_eq!(click.grant_id, "0190-ab");
        assert_eq!(click.team_id, "T0AWSJIT");
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
}
