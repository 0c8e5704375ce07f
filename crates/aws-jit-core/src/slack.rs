//! Slack messages (Block Kit), rendered from grants: pure, so every message kind is
//! snapshot-tested. Each message has a plain-text fallback (`text`, which Slack shows in
//! notifications and where blocks cannot be shown) and stays within Slack's limits: at most
//! 50 blocks, 3,000 characters in a section's text, 150 in a header.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::config::{Access, AccessTarget};
use crate::grant::Grant;
use crate::views::rfc3339;

/// Slack's limit on blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Slack's limit on a section block's text.
pub const MAX_SECTION_CHARS: usize = 3_000;
/// Slack's limit on a header block's text.
pub const MAX_HEADER_CHARS: usize = 150;

/// A message body for `chat.postMessage` (without the channel).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The plain-text fallback.
    pub text: String,
    /// The Block Kit blocks.
    pub blocks: Vec<Value>,
}

impl Message {
    /// The JSON body, for a channel (and thread).
    pub fn body(&self, channel: &str, thread_ts: Option<&str>) -> Value {
        let mut body = json!({
            "channel": channel,
            "text": self.text,
            "blocks": self.blocks,
            "unfurl_links": false,
        });
        if let (Some(ts), Some(map)) = (thread_ts, body.as_object_mut()) {
            map.insert("thread_ts".to_owned(), json!(ts));
        }
        body
    }
}

/// Where the granted message's instructions point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instructions {
    /// The Identity Center access portal (`https://d-….awsapps.com/start`), if known.
    pub start_url: Option<String>,
    /// The region of Identity Center, for the profile snippet.
    pub sso_region: Option<String>,
    /// The account's alias, when known (the tool's own account).
    pub account_alias: Option<String>,
}

pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub(crate) fn header(text: &str) -> Value {
    json!({ "type": "header", "text": { "type": "plain_text", "text": cut(text, MAX_HEADER_CHARS), "emoji": true } })
}

pub(crate) fn section(markdown: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": cut(markdown, MAX_SECTION_CHARS) } })
}

pub(crate) fn fields(pairs: &[(&str, String)]) -> Value {
    // Slack allows 10 fields of 2,000 characters each.
    let fields: Vec<Value> = pairs
        .iter()
        .take(10)
        .map(|(k, v)| json!({ "type": "mrkdwn", "text": cut(&format!("*{k}*\n{v}"), 2_000) }))
        .collect();
    json!({ "type": "section", "fields": fields })
}

pub(crate) fn context(markdown: &str) -> Value {
    json!({ "type": "context", "elements": [ { "type": "mrkdwn", "text": cut(markdown, MAX_SECTION_CHARS) } ] })
}

/// Escapes the three characters Slack's mrkdwn treats as control characters. Every value
/// interpolated into a message goes through it: the blocks' and the fallback `text` (which
/// push notifications show), so `<!channel>` or a `<https://…|link>` in a reason stays text.
pub(crate) fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A text for a Slack message, with mrkdwn's control characters escaped.
pub fn escaped(text: &str) -> String {
    esc(text)
}

/// "in 1h 30m" / "2m ago", for a person reading the message now.
pub(crate) fn relative(at: Timestamp, now: Timestamp) -> String {
    let seconds = at.as_second() - now.as_second();
    let span = seconds.unsigned_abs();
    let text = match span {
        0..60 => format!("{span}s"),
        60..3_600 => format!("{}m", span / 60),
        _ if span % 3_600 / 60 == 0 => format!("{}h", span / 3_600),
        _ => format!("{}h {}m", span / 3_600, span % 3_600 / 60),
    };
    if seconds >= 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

pub(crate) fn what(grant: &Grant) -> String {
    let target = &grant.target;
    match (
        target.account_id(),
        target.permission_set(),
        target.policy_arn(),
    ) {
        (Some(account), Some(set), _) => format!("`{}` on account `{account}`", esc(set)),
        (Some(account), None, _) => {
            format!("a permission set made for this grant on account `{account}`")
        }
        (None, _, Some(policy)) if !policy.is_empty() => format!("policy `{}`", esc(policy)),
        _ => "the access".to_owned(),
    }
}

fn clamp(mut blocks: Vec<Value>) -> Vec<Value> {
    blocks.truncate(MAX_BLOCKS);
    blocks
}

/// How to use Identity Center access: the portal shortcut, a CLI profile, the warning.
fn sso_steps(grant: &Grant, role: &str, account: &str, how: &Instructions) -> Vec<Value> {
    let mut steps = Vec::new();
    let usage = crate::usage::sso_usage(account, role, how);
    if let Some(url) = &usage.console_url {
        steps.push(section(&format!(
            "*1. Console:* <{url}|open the AWS console as {role}>"
        )));
    } else {
        steps.push(section(&format!(
            "*1. Console:* open your AWS access portal and choose account `{account}`, role `{role}`."
        )));
    }
    steps.push(section(&format!(
        "*2. CLI:* add to `~/.aws/config`, then `aws sso login --sso-session aws-jit`:\n```{}```\nthen `{}`.",
        usage.config, usage.check
    )));
    steps.push(context(&format!(
        "⚠️ Revoking ends new sign-ins. A session already started keeps working until its own session duration runs out. Grant `{}`.",
        grant.id
    )));
    steps
}

fn s3_steps(grant: &Grant, buckets: &[String]) -> Vec<Value> {
    let first = buckets.first().map_or("BUCKET", String::as_str);
    let list = buckets
        .iter()
        .map(|b| format!("`{b}`"))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        section(&format!(
            "*Buckets:* {list}\n*1.* Use your IAM user `{}`'s credentials.\n*2.* `aws s3 ls s3://{first}/`\n*3.* `aws s3 cp s3://{first}/KEY .`",
            esc(grant.target.iam_user().unwrap_or("?"))
        )),
        context(&format!(
            "The policy stops working at the expiry by itself and is removed then. Grant `{}`.",
            grant.id
        )),
    ]
}

/// Access granted: to the request thread and the channel.
pub fn granted(grant: &Grant, access: &Access, how: &Instructions, now: Timestamp) -> Message {
    let expires = rfc3339(grant.expires_at);
    let when = relative(grant.expires_at, now);
    let mut blocks = vec![
        header(&format!("🔓 Access granted: {}", access.name)),
        section(&format!(
            "<mailto:{user}|{user}> now has {} until *{expires}* ({when}).",
            what(grant),
            user = esc(&grant.user)
        )),
    ];
    let mut facts = vec![
        ("Access", esc(&access.name)),
        ("Expires (UTC)", format!("{expires} ({when})")),
        ("Requested by", esc(&grant.requested_by.to_string())),
    ];
    if let Some(account) = grant.target.account_id() {
        let alias = how
            .account_alias
            .as_deref()
            .map_or_else(String::new, |a| format!(" ({})", esc(a)));
        facts.insert(1, ("Account", format!("`{account}`{alias}")));
    }
    if let Some(reason) = &grant.reason {
        facts.push(("Reason", esc(reason)));
    }
    blocks.push(fields(&facts));
    blocks.push(json!({ "type": "divider" }));
    match &access.target {
        AccessTarget::S3 { buckets, .. } => {
            let names: Vec<String> = buckets.iter().map(ToString::to_string).collect();
            blocks.extend(s3_steps(grant, &names));
        }
        AccessTarget::IdentityCenter { account_id, .. }
        | AccessTarget::EphemeralPermissionSet { account_id, .. } => {
            let role = grant.target.permission_set().unwrap_or_default();
            blocks.extend(sso_steps(grant, role, account_id.as_str(), how));
        }
    }
    Message {
        text: esc(&format!(
            "Access granted: {} to {} until {expires} ({when})",
            access.name, grant.user
        )),
        blocks: clamp(blocks),
    }
}

/// Access ended: a DM to the user, for a revocation or an expiry.
pub fn ended(grant: &Grant, now: Timestamp) -> Message {
    let expired = grant.status == crate::grant::GrantStatus::Expired;
    let (title, verb) = if expired {
        ("⌛ Access expired", "expired")
    } else {
        ("🔒 Access revoked", "was revoked")
    };
    let at = grant.ended_at.unwrap_or(now);
    let blocks = vec![
        header(&format!("{title}: {}", grant.access)),
        section(&format!(
            "Your access to {} {verb} at *{}*.",
            what(grant),
            rfc3339(at)
        )),
        context(&format!(
            "Need it again? Request it the way you did before. Sessions already started last until their own session duration ends. Grant `{}`.",
            grant.id
        )),
    ];
    Message {
        text: esc(&format!(
            "Your access {} {verb} at {}",
            grant.access,
            rfc3339(at)
        )),
        blocks,
    }
}

/// The approve button's `action_id`.
pub const APPROVE_ACTION: &str = "aws_jit_approve";
/// The deny button's `action_id`.
pub const DENY_ACTION: &str = "aws_jit_deny";

/// The answer to a button click: replaces the request message with the decision.
pub fn decision_update(grant: &Grant, person: &str, approved: bool) -> Value {
    let outcome = match grant.status {
        crate::grant::GrantStatus::Pending => {
            format!("✅ Approved by {} — more approvals needed", esc(person))
        }
        crate::grant::GrantStatus::Active => format!(
            "✅ Approved by {}: {} has access until {}",
            esc(person),
            esc(&grant.user),
            rfc3339(grant.expires_at)
        ),
        _ if !approved => format!("🚫 Denied by {}", esc(person)),
        status => format!("Request is {status}"),
    };
    json!({
        "replace_original": true,
        "text": format!("{}: {}", esc(&grant.access), outcome.replace('*', "")),
        "blocks": [
            header(&format!("Request for {}", grant.access)),
            section(&format!("{} asked for {}.\n{outcome}", esc(&grant.requested_by.to_string()), what(grant))),
            context(&format!("Request `{}`.", grant.id)),
        ],
    })
}

/// The answer to a refused click, shown only to the person who clicked.
pub fn decision_refused(why: &str) -> Value {
    json!({
        "response_type": "ephemeral",
        "replace_original": false,
        "text": format!("Not done: {}", esc(why)),
    })
}

/// A request waits for approval: for the channel, with how to decide.
pub fn approval_requested(grant: &Grant, policy: &crate::config::ApprovalPolicy) -> Message {
    let approvers = policy
        .approvers
        .iter()
        .map(|a| esc(a))
        .collect::<Vec<_>>()
        .join(", ");
    let mut facts = vec![
        ("Access", esc(&grant.access)),
        ("For", esc(&grant.user)),
        (
            "Duration asked",
            grant
                .requested_duration
                .map_or_else(|| "the maximum".to_owned(), |d| d.human()),
        ),
        ("Needs", format!("{} of: {approvers}", policy.required)),
        ("Lapses (UTC)", rfc3339(grant.expires_at)),
    ];
    if let Some(reason) = &grant.reason {
        facts.push(("Reason", esc(reason)));
    }
    let blocks = vec![
        header(&format!("🙋 Approval requested: {}", grant.access)),
        section(&format!(
            "{} asks for {}.",
            esc(&grant.requested_by.to_string()),
            what(grant)
        )),
        fields(&facts),
        json!({
            "type": "actions",
            "block_id": "aws_jit_decision",
            "elements": [
                { "type": "button", "action_id": APPROVE_ACTION, "style": "primary",
                  "text": { "type": "plain_text", "text": "Approve" }, "value": grant.id.to_string() },
                { "type": "button", "action_id": DENY_ACTION, "style": "danger",
                  "text": { "type": "plain_text", "text": "Deny" }, "value": grant.id.to_string() },
            ],
        }),
        context(&format!(
            "Or `aws-jit approve {id}` / `aws-jit deny {id} --reason …`. Nobody may approve their own request.",
            id = grant.id
        )),
    ];
    Message {
        text: esc(&format!(
            "Approval requested: {} for {} (needs {} of: {})",
            grant.access,
            grant.user,
            policy.required,
            policy.approvers.join(", ")
        )),
        blocks,
    }
}

/// A request ended without access: denied or lapsed; a DM to the requester.
pub fn request_closed(grant: &Grant, detail: &str) -> Message {
    let blocks = vec![
        header(&format!("🚫 Request not granted: {}", grant.access)),
        section(&format!(
            "Your request for {} was not granted: {}.",
            what(grant),
            esc(detail)
        )),
        context(&format!("Request `{}`.", grant.id)),
    ];
    Message {
        text: esc(&format!(
            "Your request for {} was not granted: {detail}",
            grant.access
        )),
        blocks,
    }
}

/// A plain notice (one section, escaped): what happened to something the person did.
pub fn notice(text: &str) -> Message {
    Message {
        text: esc(text),
        blocks: vec![section(&esc(text))],
    }
}

/// A request was approved and the access is in place: a DM to the requester.
pub fn request_approved(grant: &Grant, now: Timestamp) -> Message {
    let expires = rfc3339(grant.expires_at);
    let blocks = vec![
        header(&format!("✅ Request approved: {}", grant.access)),
        section(&format!(
            "You have {} until *{expires}* ({}).",
            what(grant),
            relative(grant.expires_at, now)
        )),
        context(&format!(
            "The request channel shows how to use it; the app's Home tab lists your grants. Grant `{}`.",
            grant.id
        )),
    ];
    Message {
        text: esc(&format!(
            "Your request for {} was approved: access until {expires}",
            grant.access
        )),
        blocks,
    }
}

/// A grant ends soon: a DM to its user, with an Extend button when it can be extended.
pub fn expiry_warning(grant: &Grant, extendable: bool, now: Timestamp) -> Message {
    let expires = rfc3339(grant.expires_at);
    let when = relative(grant.expires_at, now);
    let mut blocks = vec![
        header(&format!("⏰ Access ending {when}: {}", grant.access)),
        section(&format!(
            "Your access to {} ends at *{expires}* ({when}).",
            what(grant)
        )),
    ];
    if extendable {
        blocks.push(json!({
            "type": "actions",
            "block_id": "aws_jit_expiry",
            "elements": [{
                "type": "button", "action_id": crate::slack_views::EXTEND_ACTION, "style": "primary",
                "text": { "type": "plain_text", "text": "Extend" }, "value": grant.id.to_string(),
            }],
        }));
        blocks.push(context(&format!(
            "Extend keeps it up to the access's longest from when it was granted. Grant `{}`.",
            grant.id
        )));
    } else {
        blocks.push(context(&format!(
            "It cannot be extended: request it again if you still need it. Grant `{}`.",
            grant.id
        )));
    }
    Message {
        text: esc(&format!(
            "Your access {} ends at {expires} ({when})",
            grant.access
        )),
        blocks,
    }
}

/// Someone skipped approval in an emergency: an alert.
pub fn break_glass(grant: &Grant) -> Message {
    let reason = grant.reason.as_deref().unwrap_or("no reason given");
    let blocks = vec![
        header(&format!("🚨 Break-glass access: {}", grant.access)),
        section(&format!(
            "{} skipped approval for {} until *{}*.\n*Reason:* {}",
            esc(&grant.user),
            what(grant),
            rfc3339(grant.expires_at),
            esc(reason)
        )),
        context(&format!(
            "Grant `{}`. Review it: `aws-jit audit --grant {}`; revoke it: `aws-jit revoke --grant {}`.",
            grant.id, grant.id, grant.id
        )),
    ];
    Message {
        text: esc(&format!(
            "Break-glass access: {} took {} until {} ({reason})",
            grant.user,
            grant.access,
            rfc3339(grant.expires_at)
        )),
        blocks,
    }
}

/// A revocation failed and is being retried: for the admin channel.
pub fn revoke_failed(grant: &Grant, next_attempt: Timestamp) -> Message {
    let error = grant.last_error.as_deref().unwrap_or("unknown error");
    let blocks = vec![
        header(&format!("🚨 Revocation failing: {}", grant.access)),
        section(&format!(
            "Removing {}'s access to {} failed {} time{}. The access is still in place; aws-jit retries at *{}*.",
            esc(&grant.user),
            what(grant),
            grant.attempts,
            if grant.attempts == 1 { "" } else { "s" },
            rfc3339(next_attempt)
        )),
        section(&format!("*Last error*\n```{}```", esc(error))),
        context(&format!(
            "Grant `{}`. Check the tool's AWS permissions; `aws-jit grants --all` and `aws-jit audit --grant {}` show its history.",
            grant.id, grant.id
        )),
    ];
    Message {
        text: esc(&format!(
            "Revocation failing for {} ({}), attempt {}: {error}",
            grant.user, grant.access, grant.attempts
        )),
        blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Catalog, ConfigFile, ConfigSource};
    use crate::grant::{GrantStatus, NewGrant};
    use crate::ids::{GrantId, UserEmail};
    use crate::target::GrantTarget;

    const SSO: &str = r#"{"DB Access to Staging": {"name": "Database Access to Staging", "description": "d", "account_id": "876809951775", "permission_set": "ECRReadOnly", "session_duration": "PT1H"}}"#;
    const S3: &str = r#"{"Logs": {"name": "Read Logs", "description": "d", "buckets": ["logs-a", "logs-b"], "policy_template": "S3ReadOnlyPolicy", "session_duration": "PT2H"}}"#;

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn fixture(file: ConfigFile, text: &str) -> (Catalog, Grant) {
        let catalog = Catalog::parse(&[ConfigSource { file, text }]).unwrap();
        let user = UserEmail::parse("alice@example.com").unwrap();
        let mut grant = NewGrant {
            id: GrantId::new("01a2-grant"),
            access: &catalog.accesses()[0],
            user: &user,
            requested_by: &crate::Actor::person(
                crate::Person::unresolved("alice@example.com"),
                crate::Channel::Api {
                    token: "alice".to_owned(),
                },
            ),
            user_id: None,
            target: match &catalog.accesses()[0].target {
                AccessTarget::IdentityCenter {
                    account_id,
                    permission_set,
                } => GrantTarget::Assignment {
                    instance_arn: String::new(),
                    account_id: account_id.to_string(),
                    permission_set: permission_set.to_string(),
                    permission_set_arn: String::new(),
                    principal_id: String::new(),
                },
                _ => GrantTarget::GeneratedPolicy {
                    iam_user: "alice".to_owned(),
                    policy_arn: String::new(),
                },
            },
            reason: Some("incident <42> & rollback".to_owned()),
            now: now(),
            expires_at: now() + jiff::SignedDuration::from_secs(5_400),
        }
        .into_grant();
        grant.status = GrantStatus::Active;
        (catalog, grant)
    }

    #[test]
    fn an_identity_center_grant_with_a_portal() {
        let (catalog, grant) = fixture(ConfigFile::AccessConfigs, SSO);
        let how = Instructions {
            start_url: Some("https://d-123.awsapps.com/start/".to_owned()),
            sso_region: Some("eu-west-1".to_owned()),
            account_alias: Some("acme-staging".to_owned()),
        };
        let message = granted(&grant, &catalog.accesses()[0], &how, now());
        insta::assert_json_snapshot!(message.body("C123", Some("1700000000.000100")));
    }

    #[test]
    fn an_identity_center_grant_without_a_portal() {
        let (catalog, grant) = fixture(ConfigFile::AccessConfigs, SSO);
        let message = granted(
            &grant,
            &catalog.accesses()[0],
            &Instructions::default(),
            now(),
        );
        insta::assert_json_snapshot!(message.body("C123", None));
    }

    #[test]
    fn an_s3_grant() {
        let (catalog, mut grant) = fixture(ConfigFile::S3Configs, S3);
        grant.target = GrantTarget::GeneratedPolicy {
            iam_user: "alice".to_owned(),
            policy_arn: "arn:aws:iam::123456789012:policy/aws-jit/x".to_owned(),
        };
        let message = granted(
            &grant,
            &catalog.accesses()[0],
            &Instructions::default(),
            now(),
        );
        insta::assert_json_snapshot!(message.body("C123", None));
    }

    #[test]
    fn revoked_and_expired_dms() {
        let (_, mut grant) = fixture(ConfigFile::AccessConfigs, SSO);
        grant.status = GrantStatus::Revoked;
        grant.ended_at = Some(now() + jiff::SignedDuration::from_secs(600));
        insta::assert_json_snapshot!("revoked", ended(&grant, now()).body("D1", None));
        grant.status = GrantStatus::Expired;
        grant.ended_at = Some(grant.expires_at);
        insta::assert_json_snapshot!("expired", ended(&grant, now()).body("D1", None));
    }

    #[test]
    fn approved_and_expiring_dms_and_the_home_tab() {
        let (catalog, mut grant) = fixture(ConfigFile::AccessConfigs, SSO);
        // Half of the access's hour: it can be extended.
        grant.granted_at = Some(now());
        grant.expires_at = now() + jiff::SignedDuration::from_secs(1_800);
        insta::assert_json_snapshot!(
            "request_approved",
            request_approved(&grant, now()).body("D1", None)
        );
        let soon = now() + jiff::SignedDuration::from_secs(1_800 - 600);
        let extendable =
            crate::slack_views::extendable(&grant, catalog.accesses().first(), None, false);
        assert!(extendable);
        insta::assert_json_snapshot!(
            "expiry_warning",
            expiry_warning(&grant, extendable, soon).body("D1", None)
        );
        let mut pending = grant.clone();
        pending.id = GrantId::new("01a3-pending");
        pending.status = GrantStatus::Pending;
        let home = crate::slack_views::home(
            "/jit",
            &[crate::slack_views::HomeGrant {
                grant: &grant,
                extendable,
            }],
            &[crate::slack_views::HomeRequest {
                grant: &pending,
                approvals: 1,
                required: 2,
            }],
            Some("Extended <grant> until later"),
            now(),
        );
        insta::assert_json_snapshot!("home", home);
    }

    #[test]
    fn approval_messages() {
        let (catalog, mut grant) = fixture(ConfigFile::AccessConfigs, SSO);
        let text = r#"{"A": {"name": "A", "account_id": "123456789012", "permission_set": "P", "session_duration": "PT1H", "approvers": ["lead@example.com", "sec@example.com"], "approvals_required": 2}}"#;
        let guarded = Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text,
        }])
        .unwrap();
        let policy = guarded.accesses()[0].approval.clone().unwrap();
        grant.status = GrantStatus::Pending;
        grant.requested_duration = Some(catalog.accesses()[0].session_duration);
        insta::assert_json_snapshot!(
            "approval_requested",
            approval_requested(&grant, &policy).body("C1", None)
        );
        insta::assert_json_snapshot!(
            "request_denied",
            request_closed(&grant, "denied by lead@example.com: not during the freeze")
                .body("D1", None)
        );
        grant.status = GrantStatus::Active;
        insta::assert_json_snapshot!("break_glass", break_glass(&grant).body("CADMIN", None));
        insta::assert_json_snapshot!(
            "decision_approved",
            decision_update(&grant, "sec@example.com", true)
        );
        grant.status = GrantStatus::Failed;
        insta::assert_json_snapshot!(
            "decision_denied",
            decision_update(&grant, "sec@example.com", false)
        );
        insta::assert_json_snapshot!(
            "decision_refused",
            decision_refused("you may not approve or deny your own request")
        );
    }

    #[test]
    fn a_failing_revocation_alert() {
        let (_, mut grant) = fixture(ConfigFile::AccessConfigs, SSO);
        grant.status = GrantStatus::Revoking;
        grant.attempts = 5;
        grant.last_error = Some("DeleteAccountAssignment: AccessDeniedException".to_owned());
        let at = now() + jiff::SignedDuration::from_secs(80);
        insta::assert_json_snapshot!(revoke_failed(&grant, at).body("CADMIN", None));
    }

    #[test]
    fn messages_stay_within_slacks_limits() {
        let (catalog, mut grant) = fixture(ConfigFile::AccessConfigs, SSO);
        grant.reason = Some("r".repeat(10_000));
        grant.requested_by = crate::Actor::from_stored(&"q".repeat(10_000));
        let message = granted(
            &grant,
            &catalog.accesses()[0],
            &Instructions::default(),
            now(),
        );
        assert!(message.blocks.len() <= MAX_BLOCKS);
        for block in &message.blocks {
            if let Some(text) = block.pointer("/text/text").and_then(Value::as_str) {
                let max = if block["type"] == "header" {
                    MAX_HEADER_CHARS
                } else {
                    MAX_SECTION_CHARS
                };
                assert!(text.chars().count() <= max, "{block}");
            }
            for field in block["fields"].as_array().into_iter().flatten() {
                assert!(field["text"].as_str().unwrap().chars().count() <= 2_000);
            }
        }
        assert!(!message.text.is_empty());
    }

    #[test]
    fn relative_times_read_naturally() {
        let at = |s: i64| now() + jiff::SignedDuration::from_secs(s);
        assert_eq!(relative(at(5_400), now()), "in 1h 30m");
        assert_eq!(relative(at(7_200), now()), "in 2h");
        assert_eq!(relative(at(-120), now()), "2m ago");
        assert_eq!(relative(at(30), now()), "in 30s");
    }
}
