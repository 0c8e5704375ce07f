//! People are directory principals: a request made for any name an approver goes by (the
//! user name, a secondary email, another case) is that approver's own request, on every
//! path (the CLI, the API, Slack buttons, MCP). Found as a real hole: a request made through
//! an on-behalf token for an approver's user name was approved by that approver's token.

use super::*;
use aws_jit_testkit::FakeSlack;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};

/// Carol: an approver whose user name is not her email, with a second email.
struct Carol {
    id: String,
    email: String,
    user_name: String,
    secondary: String,
}

impl Carol {
    async fn create(aws: &MotoAws) -> Carol {
        let name = unique("carol");
        let carol = Carol {
            id: String::new(),
            email: format!("{name}@example.com"),
            user_name: format!("{name}.admin@example.com"),
            secondary: format!("{name}.k@example.com"),
        };
        let id = aws
            .create_person(&carol.user_name, &[&carol.email, &carol.secondary])
            .await;
        Carol { id, ..carol }
    }

    /// Every name she goes by, other than her primary email.
    fn aliases(&self) -> [String; 3] {
        [
            self.user_name.clone(),
            self.secondary.clone(),
            self.email.to_uppercase(),
        ]
    }
}

/// An access that needs one approval, from carol or the lead.
fn guarded(f: &Fixture, carol: &Carol) -> Tool {
    let config = serde_json::json!({
        "prod": {
            "name": "Prod Admin",
            "description": "test",
            "account_id": f.account,
            "permission_set": f.permission_set,
            "session_duration": "PT1H",
            "approvers": [carol.email, "lead@example.com"],
            "approvals_required": 1,
        }
    });
    Tool::with_config(&f.aws, "access_configs.json", &config)
}

fn as_person(tool: &Tool, person: &str, args: &[&str]) -> Output {
    tool.command(args)
        .env("KUBIYA_USER_EMAIL", person)
        .output()
        .unwrap()
}

fn refusals(tool: &Tool, id: &str) -> usize {
    tool.json(&["audit", "--grant", id])
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "access.refused")
        .count()
}

async fn carols_assignments(f: &Fixture, carol: &Carol) -> usize {
    f.aws
        .assignments(&f.account, &f.permission_set_arn, &carol.id)
        .await
}

#[tokio::test]
async fn through_the_cli_an_approver_cannot_approve_a_request_for_any_alias_of_themselves() {
    let f = Fixture::new().await;
    let carol = Carol::create(&f.aws).await;
    let tool = guarded(&f, &carol);
    for alias in carol.aliases() {
        let request = tool.json(&["grant", "prod", "--user", &alias]);
        let id = request["id"].as_str().unwrap();
        assert_eq!(request["status"], "pending");
        // The grant records the directory's canonical user, whatever name was given.
        assert_eq!(request["user"], carol.email.as_str(), "for {alias}");
        for approver in [carol.email.clone(), alias.clone()] {
            let out = as_person(&tool, &approver, &["approve", id]);
            assert_eq!(out.status.code(), Some(4), "{alias} approved by {approver}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("your own request"), "{err}");
        }
        assert_eq!(refusals(&tool, id), 2, "every refusal is audited");
        assert_eq!(carols_assignments(&f, &carol).await, 0);
        tool.ok(&["revoke", "--grant", id]);
    }
    // Someone else may approve, and the assignment lands on carol's own principal.
    let request = tool.json(&["grant", "prod", "--user", &carol.user_name]);
    let id = request["id"].as_str().unwrap();
    let out = as_person(&tool, "lead@example.com", &["approve", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(carols_assignments(&f, &carol).await, 1);
}

#[tokio::test]
async fn through_the_api_an_on_behalf_request_for_an_approvers_user_name_is_their_own() {
    let f = Fixture::new().await;
    let carol = Carol::create(&f.aws).await;
    let tool = guarded(&f, &carol);
    let token = super::serve::token;
    let agent = token(
        &tool,
        &["--name", "agent", "--role", "requester", "--on-behalf"],
    );
    let carols = token(
        &tool,
        &[
            "--name",
            "carol",
            "--role",
            "approver",
            "--user",
            &carol.email,
        ],
    );
    let carols_other = token(
        &tool,
        &[
            "--name",
            "carol-home",
            "--role",
            "approver",
            "--user",
            &carol.secondary,
        ],
    );
    let server = super::serve::start(&tool);
    let call = |method: &str, path: &str, token: &str, body: Option<&str>| {
        super::serve::call(&server.addr, method, path, Some(token), body)
    };
    for alias in carol.aliases() {
        let body = serde_json::json!({"access": "prod", "user": alias}).to_string();
        let (status, request) = call("POST", "/api/v1/grants", &agent, Some(&body));
        assert_eq!(status, 202, "{request}");
        assert_eq!(request["user"], carol.email.as_str());
        let path = format!("/api/v1/grants/{}/approve", request["id"].as_str().unwrap());
        for approver in [&carols, &carols_other] {
            let (status, refused) = call("POST", &path, approver, Some("{}"));
            assert_eq!(status, 403, "{alias}: {refused}");
            assert!(
                refused["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("your own request"),
                "{refused}"
            );
        }
        assert_eq!(refusals(&tool, request["id"].as_str().unwrap()), 2);
    }
    assert_eq!(carols_assignments(&f, &carol).await, 0);
}

#[tokio::test]
async fn through_slack_buttons_an_approver_cannot_approve_a_request_for_an_alias() {
    let f = Fixture::new().await;
    let carol = Carol::create(&f.aws).await;
    let slack = FakeSlack::start("xoxb-t");
    let mut tool = guarded(&f, &carol);
    let secret = SLACK_SECRET;
    tool.as_slack_app(&slack);
    // Carol's Slack profile carries her secondary email.
    let carol_in_slack = slack.add_user(&carol.secondary);
    let server = super::serve::start(&tool);
    let request = tool.json(&["grant", "prod", "--user", &carol.user_name]);
    let id = request["id"].as_str().unwrap();
    let now = unix_now();
    let status = super::approvals::click(
        &server.addr,
        secret,
        now,
        aws_jit_core::slack::APPROVE_ACTION,
        id,
        &carol_in_slack,
        &slack.response_url(),
    );
    assert_eq!(status, 200);
    let answer = slack_answers(&slack, 1).await[0].to_string();
    assert!(answer.contains("your own request"), "{answer}");
    assert_eq!(refusals(&tool, id), 1);
    assert_eq!(carols_assignments(&f, &carol).await, 0);
    let grants = tool.json(&["grants", "--all"]);
    assert_eq!(grants[0]["status"], "pending");
}

#[tokio::test]
async fn through_mcp_a_request_made_under_an_alias_is_still_the_approvers_own() {
    let f = Fixture::new().await;
    let carol = Carol::create(&f.aws).await;
    let tool = guarded(&f, &carol);
    // Carol's agent, started for her secondary email.
    let command = tokio::process::Command::from(tool.command(&["mcp"])).configure(|c| {
        c.env("KUBIYA_USER_EMAIL", &carol.secondary);
    });
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let arguments = serde_json::json!({"access": "prod", "reason": "deploy"});
    let Value::Object(arguments) = arguments else {
        unreachable!("an object")
    };
    let result = client
        .call_tool(CallToolRequestParams::new("request_access").with_arguments(arguments))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let request = result.structured_content.unwrap();
    assert_eq!(request["status"], "pending");
    assert_eq!(request["user"], carol.email.as_str());
    client.cancel().await.unwrap();
    let id = request["id"].as_str().unwrap();
    for approver in [carol.email.clone(), carol.user_name.clone()] {
        let out = as_person(&tool, &approver, &["approve", id]);
        assert_eq!(out.status.code(), Some(4), "approved by {approver}");
    }
    assert_eq!(refusals(&tool, id), 2);
    assert_eq!(carols_assignments(&f, &carol).await, 0);
}
