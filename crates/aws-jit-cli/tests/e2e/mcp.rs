//! A real MCP client (rmcp's client side) talking to `aws-jit mcp` over stdio.

use super::*;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};

fn args(value: Value) -> rmcp::model::JsonObject {
    match value {
        Value::Object(map) => map,
        other => panic!("tool arguments must be an object, not {other}"),
    }
}

fn structured(result: &CallToolResult) -> &Value {
    assert_ne!(result.is_error, Some(true), "{result:?}");
    result.structured_content.as_ref().unwrap()
}

fn error_text(result: &CallToolResult) -> String {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    format!("{:?}", result.content)
}

#[tokio::test]
async fn an_agent_requests_lists_and_revokes_its_users_access_and_cannot_act_for_others() {
    let f = Fixture::new().await;
    let bob = format!("{}@example.com", unique("bob"));
    let bob_id = f.aws.create_user(&bob).await;
    let tool = f.tool("1h");
    let client = agent_for(&tool, &f.email).await;
    let server = client.peer_info().unwrap();
    assert_eq!(server.server_info.as_ref().unwrap().name, "aws-jit");

    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "approve_request",
            "deny_request",
            "extend_my_access",
            "list_accesses",
            "list_my_grants",
            "list_pending_approvals",
            "request_access",
            "revoke_my_access"
        ]
    );
    let tools = client.list_all_tools().await.unwrap();
    let request_schema = &tools
        .iter()
        .find(|t| t.name == "request_access")
        .unwrap()
        .input_schema;
    assert_eq!(
        request_schema.get("additionalProperties"),
        Some(&Value::Bool(false))
    );
    assert!(
        !request_schema["properties"]
            .as_object()
            .unwrap()
            .contains_key("user")
    );

    let call = |name: &'static str, arguments: Value| {
        let client = &client;
        async move {
            client
                .call_tool(CallToolRequestParams::new(name).with_arguments(args(arguments)))
                .await
                .unwrap()
        }
    };
    let accesses = call("list_accesses", serde_json::json!({})).await;
    assert_eq!(structured(&accesses)["accesses"][0]["key"], "jit");

    let granted = call(
        "request_access",
        serde_json::json!({"access": "jit", "duration": "30m", "reason": "debugging"}),
    )
    .await;
    let grant = structured(&granted).clone();
    assert_eq!(grant["user"], f.email.as_str());
    assert_eq!(grant["requested_by"], format!("{} (mcp)", f.email));
    assert_eq!(f.assignments().await, 1);

    // The model cannot name another user...
    let for_bob = call(
        "request_access",
        serde_json::json!({"access": "jit", "user": bob}),
    )
    .await;
    assert!(
        error_text(&for_bob).contains("unknown field"),
        "{for_bob:?}"
    );
    assert_eq!(
        f.aws
            .assignments(&f.account, &f.permission_set_arn, &bob_id)
            .await,
        0
    );
    // ...nor touch another user's grant.
    let bobs = tool.json(&["grant", "jit", "--user", &bob]);
    let bobs_id = bobs["id"].as_str().unwrap();
    let revoke_bobs = call("revoke_my_access", serde_json::json!({"grant_id": bobs_id})).await;
    assert!(error_text(&revoke_bobs).contains("of yours"));
    let extend_bobs = call("extend_my_access", serde_json::json!({"grant_id": bobs_id})).await;
    assert!(error_text(&extend_bobs).contains("of yours"));
    assert_eq!(
        f.aws
            .assignments(&f.account, &f.permission_set_arn, &bob_id)
            .await,
        1
    );

    let mine = call("list_my_grants", serde_json::json!({})).await;
    let mine = structured(&mine)["grants"].as_array().unwrap().clone();
    assert_eq!(mine.len(), 1, "only the user's own grants");
    let my_id = grant["id"].as_str().unwrap();
    let extended = call(
        "extend_my_access",
        serde_json::json!({"grant_id": my_id, "duration": "10m"}),
    )
    .await;
    assert_ne!(structured(&extended)["expires_at"], grant["expires_at"]);
    let revoked = call("revoke_my_access", serde_json::json!({"access": "jit"})).await;
    assert_eq!(structured(&revoked)["status"], "revoked");
    assert_eq!(f.assignments().await, 0);
    client.cancel().await.unwrap();

    // The audit log says who acted, and records the two refusals.
    let refusals = tool.refusals();
    assert_eq!(refusals, 2);
    assert!(
        tool.audit_actions(my_id)
            .contains(&"grant.extended".to_owned())
    );
}

#[tokio::test]
async fn through_a_server_the_person_is_the_tokens_user_and_the_servers_rules_apply() {
    let f = Fixture::new().await;
    let bob = format!("{}@example.com", unique("bob"));
    f.aws.create_user(&bob).await;
    let tool = f.tool("1h");
    let alice = super::serve::token(
        &tool,
        &["--name", "alice", "--role", "requester", "--user", &f.email],
    );
    let agent = super::serve::token(
        &tool,
        &["--name", "agent", "--role", "requester", "--on-behalf"],
    );
    let server = super::serve::start(&tool);
    let url = format!("http://{}", server.addr);

    // A token that acts for nobody cannot drive the person-bound tools.
    let out = tool.run(&["mcp", "--server", &url, "--token", &agent]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("acts for no user"), "{err}");
    assert!(!err.contains(&agent), "the token is never printed");

    let command = tokio::process::Command::from(tool.command(&["mcp", "--server", &url]))
        .configure(|c| {
            c.env("AWS_JIT_TOKEN", &alice);
        });
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let call = |name: &'static str, arguments: Value| {
        let client = &client;
        async move {
            client
                .call_tool(CallToolRequestParams::new(name).with_arguments(args(arguments)))
                .await
                .unwrap()
        }
    };
    let granted = call(
        "request_access",
        serde_json::json!({"access": "jit", "duration": "20m"}),
    )
    .await;
    let grant = structured(&granted).clone();
    assert_eq!(grant["user"], f.email.as_str());
    assert_eq!(grant["requested_by"], format!("{} (token alice)", f.email));
    assert_eq!(f.assignments().await, 1);

    let bobs = tool.json(&["grant", "jit", "--user", &bob]);
    let revoke_bobs = call(
        "revoke_my_access",
        serde_json::json!({"grant_id": bobs["id"]}),
    )
    .await;
    // The server refuses, and does not even say that bob's grant exists.
    assert!(
        error_text(&revoke_bobs).contains("404"),
        "the server refused: {revoke_bobs:?}"
    );
    let mine = call("list_my_grants", serde_json::json!({})).await;
    assert_eq!(structured(&mine)["grants"].as_array().unwrap().len(), 1);
    let revoked = call(
        "revoke_my_access",
        serde_json::json!({"access": "JIT Test Access"}),
    )
    .await;
    assert_eq!(structured(&revoked)["status"], "revoked");
    assert_eq!(f.assignments().await, 0);
    client.cancel().await.unwrap();
    assert!(
        tool.json(&["audit"])
            .as_array()
            .unwrap()
            .iter()
            .any(is_refusal)
    );
}

/// An MCP client over `aws-jit mcp` acting for `person`.
async fn agent_for(
    tool: &Tool,
    person: &str,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let command = tokio::process::Command::from(tool.command(&["mcp"])).configure(|c| {
        c.env("KUBIYA_USER_EMAIL", person);
    });
    ().serve(TokioChildProcess::new(command).unwrap())
        .await
        .unwrap()
}

async fn call_tool(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    name: &'static str,
    arguments: Value,
) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(name).with_arguments(args(arguments)))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_approvers_agent_decides_requests_and_the_requesters_agent_cannot() {
    let f = Fixture::new().await;
    let approver = format!("{}@example.com", unique("lead"));
    f.aws.create_user(&approver).await;
    let config = serde_json::json!({
        "jit": {
            "name": "JIT Test Access",
            "description": "test",
            "account_id": f.account,
            "permission_set": f.permission_set,
            "session_duration": "PT1H",
            "approvers": [approver],
            "break_glass": true,
            "break_glass_duration": "15m",
        }
    });
    let tool = Tool::with_config(&f.aws, "access_configs.json", &config);
    let requester = agent_for(&tool, &f.email).await;
    let lead = agent_for(&tool, &approver).await;

    let asked = call_tool(
        &requester,
        "request_access",
        serde_json::json!({"access": "jit", "duration": "30m", "reason": "deploy"}),
    )
    .await;
    let request = structured(&asked).clone();
    assert_eq!(request["status"], "pending");
    let id = request["id"].as_str().unwrap().to_owned();
    assert_eq!(f.assignments().await, 0);

    // The requester's agent sees nothing to decide and may not approve its own request.
    let own_queue = call_tool(&requester, "list_pending_approvals", serde_json::json!({})).await;
    assert_eq!(structured(&own_queue)["requests"], serde_json::json!([]));
    let self_approval = call_tool(
        &requester,
        "approve_request",
        serde_json::json!({"grant_id": id}),
    )
    .await;
    assert!(
        error_text(&self_approval).contains("own request"),
        "{self_approval:?}"
    );
    assert_eq!(f.assignments().await, 0);

    // The approver's agent sees it, with who approved so far, and approves it.
    let queue = call_tool(&lead, "list_pending_approvals", serde_json::json!({})).await;
    let pending = structured(&queue)["requests"].as_array().unwrap().clone();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["id"], id.as_str());
    assert_eq!(pending[0]["approvals_required"], 1);
    assert_eq!(pending[0]["approved_by"], serde_json::json!([]));
    let approved = call_tool(
        &lead,
        "approve_request",
        serde_json::json!({"grant_id": id, "reason": "ok"}),
    )
    .await;
    assert_eq!(structured(&approved)["status"], "active");
    assert_eq!(f.assignments().await, 1);
    let revoked = call_tool(
        &requester,
        "revoke_my_access",
        serde_json::json!({"grant_id": id}),
    )
    .await;
    assert_eq!(structured(&revoked)["status"], "revoked");

    // Break-glass, with a reason, is granted at once; without one it is refused.
    let bare = call_tool(
        &requester,
        "request_access",
        serde_json::json!({"access": "jit", "break_glass": true}),
    )
    .await;
    assert!(error_text(&bare).contains("reason"), "{bare:?}");
    let urgent = call_tool(
        &requester,
        "request_access",
        serde_json::json!({"access": "jit", "break_glass": true, "reason": "prod is down"}),
    )
    .await;
    assert_eq!(structured(&urgent)["status"], "active");
    assert_eq!(f.assignments().await, 1);
    requester.cancel().await.unwrap();
    lead.cancel().await.unwrap();

    let events = tool.json(&["audit", "--all"]);
    let events = events.as_array().unwrap();
    assert!(
        events.iter().any(|e| e["action"] == "access.refused"
            && e["detail"].as_str().unwrap().contains("own request")),
        "the refused self-approval is audited"
    );
    assert!(events.iter().any(|e| e["action"] == "approval.approved"));
    assert!(events.iter().any(|e| e["action"] == "grant.break_glass"));
}
