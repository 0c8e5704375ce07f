//! Requests that wait for approval: distinct approvers, never oneself, deny, lapse,
//! and break-glass.

use super::*;
use aws_jit_testkit::FakeSlack;

fn guarded_tool(aws: &MotoAws, account: &str, permission_set: &str) -> Tool {
    let config = serde_json::json!({
        "prod": {
            "name": "Prod Admin",
            "description": "test",
            "account_id": account,
            "permission_set": permission_set,
            "session_duration": "PT1H",
            "approvers": ["lead@example.com", "sec@example.com"],
            "approvals_required": 2,
            "approval_timeout": "2s",
            "break_glass": true,
            "break_glass_duration": "15m",
        }
    });
    Tool::with_config(aws, "access_configs.json", &config)
}

fn as_person(tool: &Tool, person: &str, args: &[&str]) -> Output {
    tool.command(args)
        .env("KUBIYA_USER_EMAIL", person)
        .output()
        .unwrap()
}

fn status(tool: &Tool, id: &str) -> String {
    let grants = tool.json(&["grants", "--all"]);
    grants
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == id)
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn two_distinct_approvers_other_than_the_requester_grant_it_and_deny_and_lapse_end_it() {
    let f = Fixture::new().await;
    let slack = FakeSlack::start("xoxb-t");
    let mut tool = guarded_tool(&f.aws, &f.account, &f.permission_set);
    for (k, v) in [
        ("SLACK_API_TOKEN", "xoxb-t"),
        ("SLACK_API_URL", slack.url.as_str()),
        ("SLACK_CHANNEL_ID", "CREQ"),
        ("AWS_JIT_SLACK_ADMIN_CHANNEL", "CADMIN"),
    ] {
        tool.env.push((k.to_owned(), v.to_owned()));
    }
    slack.add_user(&f.email);

    let request = tool.json(&[
        "grant",
        "prod",
        "--user",
        &f.email,
        "--duration",
        "30m",
        "--reason",
        "migration",
    ]);
    let id = request["id"].as_str().unwrap().to_owned();
    assert_eq!(request["status"], "pending");
    assert_eq!(f.assignments().await, 0, "nothing in AWS before approval");
    assert!(slack.posts().iter().any(|p| {
        p["channel"] == "CREQ"
            && p["text"]
                .as_str()
                .unwrap()
                .starts_with("Approval requested")
    }));

    // The requester cannot approve; someone who is not an approver (and may not see the
    // request) is told it does not exist. Both are audited.
    for (person, code) in [(f.email.as_str(), 4), ("mallory@example.com", 3)] {
        let out = as_person(&tool, person, &["approve", &id]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // One approval is not enough, and the same approver twice counts once.
    let first = as_person(
        &tool,
        "lead@example.com",
        &["approve", &id, "--reason", "ok"],
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(status(&tool, &id), "pending");
    assert_eq!(
        as_person(&tool, "LEAD@example.com", &["approve", &id])
            .status
            .code(),
        Some(4)
    );
    assert_eq!(f.assignments().await, 0);
    let second = as_person(&tool, "sec@example.com", &["approve", &id]);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(status(&tool, &id), "active");
    assert_eq!(f.assignments().await, 1);
    let actions = tool.audit_actions(&id);
    // The CLI's refusals are audited too: the requester, mallory, and lead again.
    assert_eq!(
        actions,
        [
            "approval.requested",
            "access.refused",
            "access.refused",
            "approval.approved",
            "access.refused",
            "approval.approved",
            "grant.activated"
        ]
    );
    tool.ok(&["revoke", "--grant", &id]);
    assert_eq!(f.assignments().await, 0);

    // Denied: ends without access, and the requester is told.
    let denied = tool.json(&["grant", "prod", "--user", &f.email]);
    let denied_id = denied["id"].as_str().unwrap();
    let out = as_person(
        &tool,
        "sec@example.com",
        &["deny", denied_id, "--reason", "not during the freeze"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&tool, denied_id), "failed");
    assert_eq!(
        tool.audit_actions(denied_id).last().unwrap(),
        "approval.denied"
    );
    assert!(slack.posts().iter().any(|p| {
        p["text"]
            .as_str()
            .unwrap()
            .contains("not during the freeze")
    }));
    assert_eq!(
        as_person(&tool, "lead@example.com", &["approve", denied_id])
            .status
            .code(),
        Some(3)
    );

    // Unanswered: lapses at the deadline.
    let lapsing = tool.json(&["grant", "prod", "--user", &f.email]);
    let lapsing_id = lapsing["id"].as_str().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2_200));
    // Too late, even before any worker has closed it.
    let late = as_person(&tool, "lead@example.com", &["approve", lapsing_id]);
    assert_eq!(
        late.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&late.stderr)
    );
    tool.json(&["sweep"]);
    assert_eq!(status(&tool, lapsing_id), "failed");
    assert_eq!(
        tool.audit_actions(lapsing_id).last().unwrap(),
        "approval.lapsed"
    );
    assert_eq!(f.assignments().await, 0);

    // Break-glass: a reason is required; then access at once and an alert.
    let out = tool.run(&["grant", "prod", "--user", &f.email, "--break-glass"]);
    assert_eq!(out.status.code(), Some(4));
    let glass = tool.json(&[
        "grant",
        "prod",
        "--user",
        &f.email,
        "--break-glass",
        "--reason",
        "prod is down",
    ]);
    assert_eq!(glass["status"], "active");
    assert_eq!(f.assignments().await, 1);
    let glass_id = glass["id"].as_str().unwrap();
    assert_eq!(tool.audit_actions(glass_id)[0], "grant.break_glass");
    let alert = slack
        .posts()
        .into_iter()
        .find(|p| p["channel"] == "CADMIN")
        .unwrap();
    assert!(
        alert["text"].as_str().unwrap().contains("prod is down"),
        "{alert}"
    );
}

#[tokio::test]
async fn through_the_api_a_request_waits_and_approvers_decide() {
    let f = Fixture::new().await;
    let tool = guarded_tool(&f.aws, &f.account, &f.permission_set);
    let token = super::serve::token;
    let alice = token(
        &tool,
        &["--name", "alice", "--role", "requester", "--user", &f.email],
    );
    let lead = token(
        &tool,
        &[
            "--name",
            "lead",
            "--role",
            "approver",
            "--user",
            "lead@example.com",
        ],
    );
    let sec = token(
        &tool,
        &[
            "--name",
            "sec",
            "--role",
            "approver",
            "--user",
            "sec@example.com",
        ],
    );
    let server = super::serve::start(&tool);
    let call = |method: &str, path: &str, token: &str, body: Option<&str>| {
        super::serve::call(&server.addr, method, path, Some(token), body)
    };
    let (status, pending) = call(
        "POST",
        "/api/v1/grants",
        &alice,
        Some(r#"{"access": "prod", "duration": "20m"}"#),
    );
    assert_eq!((status, pending["status"].as_str()), (202, Some("pending")));
    let path = format!("/api/v1/grants/{}", pending["id"].as_str().unwrap());
    let (status, body) = call("POST", &format!("{path}/approve"), &alice, Some("{}"));
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        call(
            "POST",
            &format!("{path}/approve"),
            &lead,
            Some(r#"{"reason": "ok"}"#)
        )
        .0,
        200
    );
    assert_eq!(f.assignments().await, 0);
    let (status, active) = call("POST", &format!("{path}/approve"), &sec, Some("{}"));
    assert_eq!((status, active["status"].as_str()), (200, Some("active")));
    assert_eq!(f.assignments().await, 1);
    assert_eq!(
        call("POST", &format!("{path}/deny"), &lead, Some("{}")).0,
        409
    );
    // Extensions of an approval-gated access need a new approval.
    let (status, body) = call("POST", &format!("{path}/extend"), &alice, Some("{}"));
    assert_eq!(status, 409, "{body}");

    // An admin who is also an approver cannot approve a request they made for someone.
    let admin = token(
        &tool,
        &[
            "--name",
            "lead-admin",
            "--role",
            "admin",
            "--user",
            "lead@example.com",
        ],
    );
    let body = format!(r#"{{"access": "prod", "user": "{}"}}"#, f.email);
    let (status, theirs) = call("POST", "/api/v1/grants", &admin, Some(&body));
    assert_eq!(status, 202, "{theirs}");
    let theirs_path = format!("/api/v1/grants/{}", theirs["id"].as_str().unwrap());
    let (status, body) = call("POST", &format!("{theirs_path}/approve"), &lead, Some("{}"));
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a request you made")
    );

    let refusals = tool.refusals();
    assert_eq!(refusals, 2, "both self-approvals were audited");
}

/// Posts a signed Slack interaction (a button click) to the server; its status and body.
pub(super) fn click_answer(
    addr: &str,
    secret: &str,
    at: i64,
    action: &str,
    grant_id: &str,
    user_id: &str,
    response_url: &str,
) -> (u16, String) {
    let payload = serde_json::json!({
        "type": "block_actions",
        "team": { "id": aws_jit_testkit::FAKE_TEAM },
        "user": { "id": user_id },
        "response_url": response_url,
        "actions": [ { "action_id": action, "value": grant_id } ],
    });
    let body = aws_jit_testkit::slack_payloads::interaction_body(&payload);
    super::slack_requests::signed_post(addr, secret, at, "/slack/interactions", &body)
}

/// Posts a signed Slack interaction (a button click) to the server; its status.
pub(super) fn click(
    addr: &str,
    secret: &str,
    at: i64,
    action: &str,
    grant_id: &str,
    user_id: &str,
    response_url: &str,
) -> u16 {
    click_answer(addr, secret, at, action, grant_id, user_id, response_url).0
}

#[tokio::test]
async fn slack_buttons_approve_for_the_person_who_clicked_after_checking_the_signature() {
    let f = Fixture::new().await;
    let slack = FakeSlack::start("xoxb-t");
    let mut tool = guarded_tool(&f.aws, &f.account, &f.permission_set);
    let secret = SLACK_SECRET;
    tool.as_slack_app(&slack);
    let requester = slack.add_user(&f.email);
    let lead = slack.add_user("lead@example.com");
    let sec = slack.add_user("sec@example.com");
    let server = super::serve::start(&tool);
    let request = tool.json(&["grant", "prod", "--user", &f.email]);
    let id = request["id"].as_str().unwrap();
    let posted = slack.posts();
    let buttons = posted[0]["blocks"].to_string();
    assert!(
        buttons.contains("aws_jit_approve") && buttons.contains(id),
        "{buttons}"
    );

    // The server checks the timestamp against the real clock, as Slack's do.
    let now = unix_now();
    let url = slack.response_url();
    // Forged, altered or replayed requests are refused.
    assert_eq!(
        click(
            &server.addr,
            "wrong-secret",
            now,
            "aws_jit_approve",
            id,
            &lead,
            &url
        ),
        401
    );
    assert_eq!(
        click(
            &server.addr,
            secret,
            now - 600,
            "aws_jit_approve",
            id,
            &lead,
            &url
        ),
        401
    );
    // The requester's own click is refused, and only they see why.
    assert_eq!(
        click(
            &server.addr,
            secret,
            now,
            "aws_jit_approve",
            id,
            &requester,
            &url
        ),
        200
    );
    let wait_for = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while slack.responses().len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "no answer: {:?}",
                slack.responses()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        slack.responses()[n - 1].clone()
    };
    let refused = wait_for(1);
    assert_eq!(refused["response_type"], "ephemeral", "{refused}");
    assert!(
        refused["text"]
            .as_str()
            .unwrap()
            .contains("your own request")
    );
    // Two approvers click: the access is granted, and the message says so.
    assert_eq!(
        click(
            &server.addr,
            secret,
            now,
            "aws_jit_approve",
            id,
            &lead,
            &url
        ),
        200
    );
    let first = wait_for(2);
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("more approvals needed"),
        "{first}"
    );
    assert_eq!(
        click(&server.addr, secret, now, "aws_jit_approve", id, &sec, &url),
        200
    );
    let second = wait_for(3);
    assert_eq!(second["replace_original"], true);
    assert!(
        second["text"]
            .as_str()
            .unwrap()
            .contains("has access until"),
        "{second}"
    );
    assert_eq!(f.assignments().await, 1);
    let actions = tool.audit_actions(id);
    assert_eq!(
        actions.iter().filter(|a| *a == "approval.approved").count(),
        2
    );
    let refusals = tool.refusals();
    assert_eq!(refusals, 3, "two bad signatures and one self-approval");
}

#[tokio::test]
async fn members_of_an_approver_group_approve() {
    let f = Fixture::new().await;
    let lead = format!("{}@example.com", unique("lead"));
    let outsider = format!("{}@example.com", unique("out"));
    let lead_id = f.aws.create_user(&lead).await;
    f.aws.create_user(&outsider).await;
    let group = unique("Leads");
    f.aws.create_group(&group, &[lead_id]).await;
    let config = serde_json::json!({
        "prod": {
            "name": "Prod Admin", "description": "test", "account_id": f.account,
            "permission_set": f.permission_set, "session_duration": "PT1H",
            "approvers": [format!("group:{group}")],
        }
    });
    let tool = Tool::with_config(&f.aws, "access_configs.json", &config);
    let request = tool.json(&["grant", "prod", "--user", &f.email]);
    let id = request["id"].as_str().unwrap();
    // Not in the group, and not someone who may see the request: not found.
    assert_eq!(
        as_person(&tool, &outsider, &["approve", id]).status.code(),
        Some(3)
    );
    let out = as_person(&tool, &lead, &["approve", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&tool, id), "active");
    assert_eq!(f.assignments().await, 1);
}
