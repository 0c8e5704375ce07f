//! Slack views (Block Kit surfaces, not messages): the request modal and its access
//! search, the modal's outcomes, and the App Home tab. Pure, so each is snapshot-tested;
//! every value goes through the same mrkdwn escaping as the messages, and every view stays
//! within Slack's limits (100 blocks; a title of 24 characters; options of 75).

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::config::Access;
use crate::grant::{Grant, GrantStatus};
use crate::request_form::{matches, target_summary};
use crate::slack::{
    APPROVE_ACTION, DENY_ACTION, context, cut, esc, header, relative, section, what,
};
use crate::text::MAX_REASON_CHARS;
use crate::views::rfc3339;

/// Slack's limit on blocks in a modal or the App Home.
pub const MAX_VIEW_BLOCKS: usize = 100;
/// Slack's limit on a modal's title (and its buttons' labels).
pub const MAX_TITLE_CHARS: usize = 24;
/// Slack's limit on an option's text (and description).
pub const MAX_OPTION_TEXT_CHARS: usize = 75;
/// Slack's limit on an option's value: accesses whose key is longer are not offered.
pub const MAX_OPTION_VALUE_CHARS: usize = 150;
/// Slack's limit on the options of one select.
pub const MAX_OPTIONS: usize = 100;

/// The request modal's `callback_id`.
pub const REQUEST_CALLBACK: &str = "aws_jit_request";
/// The access select's block and action id.
pub const ACCESS_FIELD: &str = "access";
/// The duration input's block and action id.
pub const DURATION_FIELD: &str = "duration";
/// The reason input's block and action id.
pub const REASON_FIELD: &str = "reason";
/// The break-glass checkbox's block and action id.
pub const BREAK_GLASS_FIELD: &str = "break_glass";
/// The Extend button's `action_id`.
pub const EXTEND_ACTION: &str = "aws_jit_extend";
/// The Revoke button's `action_id`.
pub const REVOKE_ACTION: &str = "aws_jit_revoke";
/// The App Home's "Request access" button's `action_id`.
pub const OPEN_REQUEST_ACTION: &str = "aws_jit_open_request";

fn plain(text: &str, max: usize) -> Value {
    json!({ "type": "plain_text", "text": cut(text, max), "emoji": true })
}

fn button(label: &str, action: &str, value: &str, style: Option<&str>) -> Value {
    let mut b = json!({
        "type": "button",
        "action_id": action,
        "text": plain(label, MAX_TITLE_CHARS),
        "value": value,
    });
    if let (Some(style), Some(map)) = (style, b.as_object_mut()) {
        map.insert("style".to_owned(), json!(style));
    }
    b
}

fn modal(title: &str, submit: Option<&str>, blocks: Vec<Value>) -> Value {
    let mut view = json!({
        "type": "modal",
        "callback_id": REQUEST_CALLBACK,
        "title": plain(title, MAX_TITLE_CHARS),
        "close": plain(if submit.is_some() { "Cancel" } else { "Close" }, MAX_TITLE_CHARS),
        "blocks": clamp(blocks),
    });
    if let (Some(submit), Some(map)) = (submit, view.as_object_mut()) {
        map.insert("submit".to_owned(), plain(submit, MAX_TITLE_CHARS));
    }
    view
}

fn clamp(mut blocks: Vec<Value>) -> Vec<Value> {
    blocks.truncate(MAX_VIEW_BLOCKS);
    blocks
}

/// The request modal: an access (searched as the person types: only what they may
/// request is offered), a duration, a reason and break-glass.
pub fn request_modal() -> Value {
    let input = |block: &str, label: &str, optional: bool, element: Value, hint: &str| {
        json!({
            "type": "input",
            "block_id": block,
            "optional": optional,
            "label": plain(label, 2_000),
            "element": element,
            "hint": plain(hint, 2_000),
        })
    };
    modal(
        "Request AWS access",
        Some("Request"),
        vec![
            input(
                ACCESS_FIELD,
                "Access",
                false,
                json!({
                    "type": "external_select",
                    "action_id": ACCESS_FIELD,
                    "min_query_length": 0,
                    "placeholder": plain("Search the accesses you may request", 150),
                }),
                "Only the accesses you may request are listed.",
            ),
            input(
                DURATION_FIELD,
                "Duration",
                true,
                json!({
                    "type": "plain_text_input",
                    "action_id": DURATION_FIELD,
                    "max_length": 32,
                    "placeholder": plain("e.g. 30m, 1h or PT2H", 150),
                }),
                "Empty means the access's longest. Longer asks are capped.",
            ),
            input(
                REASON_FIELD,
                "Reason",
                true,
                json!({
                    "type": "plain_text_input",
                    "action_id": REASON_FIELD,
                    "multiline": true,
                    "max_length": MAX_REASON_CHARS,
                    "placeholder": plain("What you need it for (a ticket helps approvers)", 150),
                }),
                "Required by some accesses, and always for break-glass.",
            ),
            input(
                BREAK_GLASS_FIELD,
                "Emergency",
                true,
                json!({
                    "type": "checkboxes",
                    "action_id": BREAK_GLASS_FIELD,
                    "options": [{
                        "text": plain("Break glass: skip approval", MAX_OPTION_TEXT_CHARS),
                        "description": plain("Only where the access allows it; alerts the admins", MAX_OPTION_TEXT_CHARS),
                        "value": "yes",
                    }],
                }),
                "Every break-glass grant is announced and audited.",
            ),
        ],
    )
}

/// The access search's answer: the requestable accesses matching `query`, at most
/// [`MAX_OPTIONS`], each with what it gives.
pub fn access_options(accesses: &[&Access], query: &str) -> Value {
    let options: Vec<Value> = accesses
        .iter()
        .filter(|a| a.key.chars().count() <= MAX_OPTION_VALUE_CHARS && matches(a, query))
        .take(MAX_OPTIONS)
        .map(|a| {
            json!({
                "text": plain(&a.name, MAX_OPTION_TEXT_CHARS),
                "description": plain(&target_summary(a), MAX_OPTION_TEXT_CHARS),
                "value": a.key,
            })
        })
        .collect();
    json!({ "options": options })
}

/// The answer to a submission that cannot be carried out: the reason under `field`.
pub fn modal_error(field: &str, why: &str) -> Value {
    json!({
        "response_action": "errors",
        "errors": { field: cut(why, 2_000) },
    })
}

/// The modal once the request is in: granted (with how to use it), waiting for
/// approval, or still being worked on.
pub fn request_outcome(grant: Option<&Grant>, now: Timestamp) -> Value {
    let (title, text) = match grant {
        None => (
            "Working on it",
            "⏳ Your request is being carried out: this window shows the outcome when it is done (or, if you close it, a direct message does). Your grants are on the app's Home tab.".to_owned(),
        ),
        Some(g) if g.status == GrantStatus::Pending => (
            "Request sent",
            format!(
                "🙋 Your request for {} is waiting for approval. You will get a direct message when it is decided (it lapses {}).",
                what(g),
                relative(g.expires_at, now)
            ),
        ),
        Some(g) => (
            "Access granted",
            format!(
                "🔓 You have {} until *{}* ({}). The channel message and the app's Home tab show how to use it.",
                what(g),
                rfc3339(g.expires_at),
                relative(g.expires_at, now)
            ),
        ),
    };
    let mut blocks = vec![section(&text)];
    if let Some(g) = grant {
        blocks.push(context(&format!("Grant `{}`.", g.id)));
    }
    modal(title, None, blocks)
}

/// A modal that could not be carried out after it closed (the work outlived Slack's
/// three seconds): why, in the same place.
pub fn request_failed(why: &str) -> Value {
    modal(
        "Not granted",
        None,
        vec![section(&format!(
            "🚫 Your request was not carried out: {}",
            esc(why)
        ))],
    )
}

/// Whether a grant can be extended, for offering the button: active, and what the extend
/// use case would allow ([`crate::extension::cannot_extend`]).
pub fn extendable(
    grant: &Grant,
    access: Option<&Access>,
    global_max: Option<crate::AccessDuration>,
    break_glass: bool,
) -> bool {
    grant.status == GrantStatus::Active
        && access.is_some_and(|a| {
            crate::extension::cannot_extend(grant, a, global_max, break_glass).is_none()
        })
}

/// One of my grants on the App Home.
#[derive(Debug, Clone, Copy)]
pub struct HomeGrant<'a> {
    /// The grant (active or pending).
    pub grant: &'a Grant,
    /// Whether to offer Extend.
    pub extendable: bool,
}

/// A request the person may decide, on the App Home.
#[derive(Debug, Clone, Copy)]
pub struct HomeRequest<'a> {
    /// The pending request.
    pub grant: &'a Grant,
    /// Approvals so far.
    pub approvals: usize,
    /// Approvals needed in all.
    pub required: usize,
}

/// How many grants and requests the Home lists, each; the rest are counted.
pub const HOME_ITEMS: usize = 20;

/// The App Home: a Request button, my live grants (Extend, Revoke), and the requests I
/// may decide (Approve, Deny). `notice` is the outcome of the last click, if any.
pub fn home(
    command: &str,
    mine: &[HomeGrant<'_>],
    decidable: &[HomeRequest<'_>],
    notice: Option<&str>,
    now: Timestamp,
) -> Value {
    let mut blocks = vec![header("AWS access")];
    if let Some(notice) = notice {
        blocks.push(section(&esc(notice)));
    }
    blocks.push(json!({
        "type": "actions",
        "block_id": "aws_jit_home",
        "elements": [button("Request access", OPEN_REQUEST_ACTION, "open", Some("primary"))],
    }));
    blocks.push(header("Your grants"));
    if mine.is_empty() {
        blocks.push(context(&format!(
            "No live grants. Use *Request access*, or `{}`.",
            esc(command)
        )));
    }
    for item in mine.iter().take(HOME_ITEMS) {
        let g = item.grant;
        let state = if g.status == GrantStatus::Pending {
            format!(
                "waiting for approval (lapses {})",
                relative(g.expires_at, now)
            )
        } else {
            format!(
                "until *{}* ({})",
                rfc3339(g.expires_at),
                relative(g.expires_at, now)
            )
        };
        blocks.push(section(&format!(
            "*{}*: {}, {state}.",
            esc(&g.access),
            what(g)
        )));
        let mut buttons = Vec::new();
        if item.extendable {
            buttons.push(button(
                "Extend",
                EXTEND_ACTION,
                g.id.as_str(),
                Some("primary"),
            ));
        }
        if g.status == GrantStatus::Active {
            buttons.push(button(
                "Revoke",
                REVOKE_ACTION,
                g.id.as_str(),
                Some("danger"),
            ));
        }
        if !buttons.is_empty() {
            blocks.push(json!({ "type": "actions", "elements": buttons }));
        }
    }
    more(&mut blocks, mine.len(), "`aws-jit grants`");
    if !decidable.is_empty() {
        blocks.push(json!({ "type": "divider" }));
        blocks.push(header("Waiting for your approval"));
    }
    for item in decidable.iter().take(HOME_ITEMS) {
        let g = item.grant;
        let reason = g
            .reason
            .as_deref()
            .map_or_else(String::new, |r| format!("\n*Reason:* {}", esc(r)));
        let asked = g
            .requested_duration
            .map_or_else(|| "its longest".to_owned(), |d| d.human());
        blocks.push(section(&format!(
            "*{}* for *{}*: {}, for {asked}.\nAsked by {} ({} of {} approvals; lapses {}).{reason}",
            esc(&g.access),
            esc(&g.user),
            what(g),
            esc(&g.requested_by.to_string()),
            item.approvals,
            item.required,
            relative(g.expires_at, now)
        )));
        blocks.push(json!({
            "type": "actions",
            "elements": [
                button("Approve", APPROVE_ACTION, g.id.as_str(), Some("primary")),
                button("Deny", DENY_ACTION, g.id.as_str(), Some("danger")),
            ],
        }));
    }
    more(&mut blocks, decidable.len(), "`aws-jit approvals`");
    json!({ "type": "home", "blocks": clamp(blocks) })
}

fn more(blocks: &mut Vec<Value>, total: usize, command: &str) {
    if total > HOME_ITEMS {
        blocks.push(context(&format!(
            "There are more: see the web UI or {command}."
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Catalog, ConfigFile, ConfigSource};

    const SSO: &str = r#"{
        "DB Access to Staging": {"name": "Database Access to Staging", "description": "d", "account_id": "876809951775", "permission_set": "ECRReadOnly", "session_duration": "PT1H"},
        "Prod <!channel>": {"name": "Prod <!channel> *bold*", "description": "d", "account_id": "111122223333", "permission_set": "Admin", "session_duration": "PT1H"}
    }"#;

    fn catalog() -> Catalog {
        Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: SSO,
        }])
        .unwrap()
    }

    #[test]
    fn the_request_modal_snapshot() {
        insta::assert_json_snapshot!(request_modal());
    }

    #[test]
    fn options_match_the_search_and_keep_to_slacks_limits() {
        let catalog = catalog();
        let all: Vec<&Access> = catalog.accesses().iter().collect();
        let found = access_options(&all, "staging");
        assert_eq!(found["options"].as_array().unwrap().len(), 1);
        assert_eq!(found["options"][0]["value"], "DB Access to Staging");
        let every = access_options(&all, "");
        assert_eq!(every["options"].as_array().unwrap().len(), 2);
        insta::assert_json_snapshot!(every);
    }

    #[test]
    fn an_empty_home_offers_the_request_button() {
        let home = home(
            "/access",
            &[],
            &[],
            None,
            Timestamp::from_second(1_800_000_000).unwrap(),
        );
        assert!(home["blocks"].to_string().contains(OPEN_REQUEST_ACTION));
        assert!(home["blocks"].to_string().contains("`/access`"));
        assert!(home["blocks"].as_array().unwrap().len() <= MAX_VIEW_BLOCKS);
    }
}
