//! Slack as a front door: the slash command opens the request modal, its access search
//! lists what the person may request, its submission grants (or shows the refusal in the
//! modal), the App Home lists grants and requests with working buttons, and a grant's
//! user is warned once before it expires. Every request is signed, as Slack's are.

use super::*;
use aws_jit_testkit::slack_payloads::{
    block_suggestion, home_click, home_opened, interaction_body, view_submission,
};
use aws_jit_testkit::{FakeSlack, check_options};
use std::time::{Duration, Instant};

/// Posts a form body to `path`, signed as Slack signs; the status and body.
pub(super) fn signed_post(
    addr: &str,
    secret: &str,
    at: i64,
    path: &str,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let timestamp = at.to_string();
    let signature = aws_jit_core::slack_signature::sign(secret, &timestamp, body.as_bytes());
    let kind = if body.starts_with('{') {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {kind}\r\nX-Slack-Request-Timestamp: {timestamp}\r\nX-Slack-Signature: {signature}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map_or_else(String::new, |(_, b)| b.to_owned());
    (status, body)
}

/// A Slack user of the test's workspace, talking to the server.
struct SlackPerson<'a> {
    addr: &'a str,
    slack: &'a FakeSlack,
    id: String,
}

impl SlackPerson<'_> {
    fn post(&self, path: &str, body: &str) -> (u16, String) {
        signed_post(self.addr, SLACK_SECRET, unix_now(), path, body)
    }

    fn interact(&self, payload: &Value) -> Value {
        let (status, answer) = self.post("/slack/interactions", &interaction_body(payload));
        assert_eq!(status, 200, "{answer}");
        if answer.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&answer).unwrap()
        }
    }

    fn command_with(&self, text: &str, trigger: &str) -> (u16, String) {
        let body = self.slack.slash_command(&self.id, "/jit", text, trigger);
        self.post("/slack/commands", &body)
    }

    fn command(&self, text: &str) -> (u16, String) {
        self.command_with(text, &self.slack.trigger())
    }

    fn search(&self, query: &str) -> Value {
        self.interact(&block_suggestion(&self.id, "access", query))
    }

    fn submit(&self, view_id: &str, access: &str, duration: &str, reason: &str) -> Value {
        self.interact(&view_submission(
            &self.id,
            view_id,
            "aws_jit_request",
            &serde_json::json!({
                "access": {"access": {"type": "external_select", "selected_option": {"value": access}}},
                "duration": {"duration": {"type": "plain_text_input", "value": duration}},
                "reason": {"reason": {"type": "plain_text_input", "value": reason}},
                "break_glass": {"break_glass": {"type": "checkboxes", "selected_options": []}},
            }),
        ))
    }

    fn open_home(&self) -> Value {
        let before = self.slack.home(&self.id);
        let (status, _) = self.post("/slack/events", &home_opened(&self.id).to_string());
        assert_eq!(status, 200);
        self.wait_for_home(before.as_ref())
    }

    /// Clicks a button on the Home tab; the Home published after it.
    fn click_home(&self, action: &str, grant_id: &str) -> Value {
        let before = self.slack.home(&self.id);
        self.interact(&home_click(
            &self.id,
            action,
            grant_id,
            &self.slack.trigger(),
        ));
        self.wait_for_home(before.as_ref())
    }

    fn wait_for_home(&self, before: Option<&Value>) -> Value {
        wait_until(|| self.slack.home(&self.id).filter(|h| Some(h) != before))
    }
}

fn wait_until<T>(mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(it) = found() {
            return it;
        }
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The modal's outcome: the submission's answer, or (when the work outlived Slack's three
/// seconds) the modal as it was updated after.
fn outcome_text(slack: &FakeSlack, answer: &Value, view_id: &str) -> String {
    if answer["response_action"] == "update"
        && !answer["view"]["title"]["text"]
            .as_str()
            .unwrap()
            .contains("Working")
    {
        return answer["view"].to_string();
    }
    wait_until(|| {
        slack
            .modals()
            .into_iter()
            .find(|m| m["id"] == view_id && !m.to_string().contains("Working on it"))
            .map(|m| m.to_string())
    })
}

#[tokio::test]
async fn from_slack_a_person_requests_in_a_modal_and_manages_grants_on_the_home_tab() {
    let f = Fixture::new().await;
    let lead = format!("{}@example.com", unique("lead"));
    f.aws.create_user(&lead).await;
    let prod_set = unique("PS");
    let prod_arn = f.aws.create_permission_set(&prod_set).await;
    let config = serde_json::json!({
        "jit": {
            "name": "JIT Test Access", "description": "test", "account_id": f.account,
            "permission_set": f.permission_set, "session_duration": "PT1H",
            "require_reason": true,
        },
        "prod": {
            "name": "Prod Admin", "description": "test", "account_id": f.account,
            "permission_set": prod_set, "session_duration": "PT1H", "approvers": [lead],
        },
        "restricted": {
            "name": "Restricted", "description": "test", "account_id": f.account,
            "permission_set": prod_set, "session_duration": "PT1H",
            "requesters": ["someone-else@example.com"],
        },
    });
    let mut tool = Tool::with_config(&f.aws, "access_configs.json", &config);
    let slack = FakeSlack::start("xoxb-t");
    tool.as_slack_app(&slack);
    let server = super::serve::start(&tool);
    let me = SlackPerson {
        addr: &server.addr,
        slack: &slack,
        id: slack.add_user(&f.email),
    };
    let approver = SlackPerson {
        addr: &server.addr,
        slack: &slack,
        id: slack.add_user(&lead),
    };

    // The command is acknowledged at once; the modal opens within the trigger's 3 seconds
    // (the fake Slack refuses a later `views.open`, as Slack does).
    let (status, body) = me.command("");
    assert_eq!((status, body.as_str()), (200, ""));
    let modal = wait_until(|| slack.modals().pop());
    let view_id = modal["id"].as_str().unwrap().to_owned();
    assert_eq!(modal["callback_id"], "aws_jit_request");
    // A trigger Slack no longer honours: the person is told, and no modal opens.
    let (status, _) = me.command_with("", &slack.expired_trigger());
    assert_eq!(status, 200);
    let told = wait_until(|| slack.responses().pop());
    assert!(
        told["text"]
            .as_str()
            .unwrap()
            .contains("expired_trigger_id"),
        "{told}"
    );
    assert_eq!(slack.modals().len(), 1);

    // The search lists what I may request, within Slack's limits; not `restricted`.
    let options = me.search("");
    check_options(&options).unwrap();
    let keys: Vec<&str> = options["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["jit", "prod"], "{options}");
    assert_eq!(
        me.search("prod admin")["options"].as_array().unwrap().len(),
        1
    );

    // Refusals show in the modal, under their field, and are audited.
    let refused = me.submit(&view_id, "restricted", "", "need it");
    assert_eq!(refused["response_action"], "errors", "{refused}");
    assert!(
        refused["errors"]["access"]
            .as_str()
            .unwrap()
            .contains("may not"),
        "{refused}"
    );
    let no_reason = me.submit(&view_id, "jit", "30m", "  ");
    assert!(
        no_reason["errors"]["reason"]
            .as_str()
            .unwrap()
            .contains("needs a reason")
    );
    let bad = me.submit(&view_id, "jit", "forever", "x");
    assert!(bad["errors"]["duration"].is_string(), "{bad}");
    let refusals = tool.refusals();
    assert_eq!(refusals, 3, "every refusal is audited");

    // Submitted: granted, in AWS.
    let answer = me.submit(&view_id, "jit", "30m", "INC-42 rollback");
    let text = outcome_text(&slack, &answer, &view_id);
    assert!(text.contains("Access granted"), "{text}");
    assert_eq!(f.assignments().await, 1);
    let grants = tool.json(&["grants"]);
    let grant_id = grants[0]["id"].as_str().unwrap().to_owned();
    assert!(
        grants[0]["requested_by"]
            .as_str()
            .unwrap()
            .ends_with(&format!("(slack {})", me.id)),
        "{grants}"
    );

    // A request that needs approval waits, and its approver's Home offers the decision.
    let (status, _) = me.command("");
    assert_eq!(status, 200);
    let second = wait_until(|| {
        slack
            .modals()
            .into_iter()
            .find(|m| m["id"] != view_id.as_str())
    });
    let second_id = second["id"].as_str().unwrap().to_owned();
    let answer = me.submit(&second_id, "prod", "", "deploy");
    let text = outcome_text(&slack, &answer, &second_id);
    assert!(text.contains("waiting for approval"), "{text}");

    let home = me.open_home().to_string();
    assert!(
        home.contains("aws_jit_extend") && home.contains("aws_jit_revoke"),
        "{home}"
    );
    assert!(
        home.contains(&grant_id) && home.contains("waiting for approval"),
        "{home}"
    );
    assert!(
        !home.contains("aws_jit_approve"),
        "nobody decides their own request"
    );

    let theirs = approver.open_home().to_string();
    assert!(theirs.contains("Waiting for your approval"), "{theirs}");
    let pending = tool.json(&["grants", "--all"]);
    let request_id = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["access"] == "prod")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(theirs.contains(&request_id));
    let decided = approver
        .click_home("aws_jit_approve", &request_id)
        .to_string();
    assert!(decided.contains("Approved"), "{decided}");
    assert_eq!(
        f.aws.assignments(&f.account, &prod_arn, &f.user_id).await,
        1
    );
    // The requester is told in a DM.
    let dm = wait_until(|| {
        slack
            .posts()
            .into_iter()
            .find(|p| p["text"].as_str().unwrap().contains("was approved"))
    });
    assert_eq!(dm["channel"], format!("D{}", me.id));

    // Extend, then Revoke, from the Home.
    let extended = me.click_home("aws_jit_extend", &grant_id).to_string();
    assert!(extended.contains("Extended"), "{extended}");
    let revoked = me.click_home("aws_jit_revoke", &grant_id).to_string();
    assert!(revoked.contains("Revoked"), "{revoked}");
    assert_eq!(f.assignments().await, 0);
    let actions = tool.audit_actions(&grant_id);
    assert!(actions.iter().any(|a| a == "grant.extended"), "{actions:?}");

    // A forged request is refused.
    let (status, _) = signed_post(&server.addr, "wrong", unix_now(), "/slack/commands", "x=1");
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_grant_about_to_expire_is_warned_once_with_an_extend_button() {
    let f = Fixture::new().await;
    let mut tool = f.tool("PT6S");
    let slack = FakeSlack::start("xoxb-t");
    tool.as_slack_app(&slack);
    tool.env
        .push(("AWS_JIT_EXPIRY_WARNING".to_owned(), "4s".to_owned()));
    let user_id = slack.add_user(&f.email);
    let _server = super::serve::start(&tool);
    // Shorter than the access's longest: it can be extended.
    tool.json(&["grant", "jit", "--user", &f.email, "--duration", "5s"]);
    let warnings = |posts: &[Value]| {
        posts
            .iter()
            .filter(|p| p["text"].as_str().unwrap().contains(" ends at "))
            .cloned()
            .collect::<Vec<_>>()
    };
    let warning = wait_until(|| warnings(&slack.posts()).pop());
    assert_eq!(warning["channel"], format!("D{user_id}"));
    assert!(
        warning["blocks"].to_string().contains("aws_jit_extend"),
        "{warning}"
    );
    // It expires; the warning was sent once.
    wait_until(|| {
        slack
            .posts()
            .into_iter()
            .find(|p| p["text"].as_str().unwrap().contains("expired"))
    });
    assert_eq!(warnings(&slack.posts()).len(), 1, "{:?}", slack.posts());
}
