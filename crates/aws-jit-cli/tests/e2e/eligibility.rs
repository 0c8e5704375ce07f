//! Who may request what (issue 15): `requesters` with Identity Center groups, the
//! organisation's `policies.cedar`, listings, and the same refusals on every front door.

use super::*;
use aws_jit_testkit::FakeSlack;

/// A tool whose one access `jit` lists `requesters`, with `policies` as policies.cedar.
fn eligible_tool(f: &Fixture, requesters: &[String], extra: Value, policies: Option<&str>) -> Tool {
    let mut entry = serde_json::json!({
        "name": "JIT Test Access",
        "account_id": f.account,
        "permission_set": f.permission_set,
        "session_duration": "PT1H",
        "requesters": requesters,
        "tags": {"env": "prod"},
    });
    if let (Some(entry), Value::Object(extra)) = (entry.as_object_mut(), extra) {
        entry.extend(extra);
    }
    let tool = Tool::with_config(
        &f.aws,
        "access_configs.json",
        &serde_json::json!({ "jit": entry }),
    );
    if let Some(text) = policies {
        std::fs::write(tool.config_dir.join("policies.cedar"), text).unwrap();
    }
    tool
}

fn listed(tool: &Tool, person: &str) -> Vec<String> {
    let out = tool
        .command(&["accesses", "--output", "json"])
        .env("KUBIYA_USER_EMAIL", person)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_group_member_is_granted_and_a_non_member_is_refused_with_nothing_in_aws() {
    let f = Fixture::new().await;
    let group = unique("Oncall");
    f.aws
        .create_group(&group, std::slice::from_ref(&f.user_id))
        .await;
    let eve = format!("{}@example.com", unique("eve"));
    let eve_id = f.aws.create_user(&eve).await;
    let tool = eligible_tool(&f, &[format!("group:{group}")], Value::Null, None);

    let granted = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(granted["status"], "active");
    assert_eq!(f.assignments().await, 1);

    let (code, err) = tool.fails(&["grant", "jit", "--user", &eve]);
    assert_eq!(code, 4, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no policy permits it"), "{err}");
    assert_eq!(
        f.aws
            .assignments(&f.account, &f.permission_set_arn, &eve_id)
            .await,
        0
    );
    let audit = tool.json(&["audit"]);
    let refusal = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| is_refusal(e) && e["user"] == eve.as_str())
        .unwrap_or_else(|| panic!("no refusal audited: {audit}"));
    assert!(
        refusal["detail"]
            .as_str()
            .unwrap()
            .contains("no policy permits it"),
        "{refusal}"
    );
    assert_eq!(
        tool.json(&["grants", "--all"]).as_array().unwrap().len(),
        1,
        "nothing recorded for the refused request"
    );
    // Listings show each person what they may request.
    assert_eq!(listed(&tool, &f.email), ["jit"]);
    assert!(listed(&tool, &eve).is_empty());
    // validate says nothing is open; an entry without requesters is, loudly.
    let out = tool.run(&["validate", "--offline"]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stderr).unwrap().is_empty());
    let open = Tool::with_access(&f.aws, &f.account, &f.permission_set, "1h");
    let out = open.run(&["validate", "--offline"]);
    let warning = String::from_utf8(out.stderr).unwrap();
    assert!(
        warning.contains("open to every directory user (`jit`)"),
        "{warning}"
    );
    let closed = open
        .command(&["validate", "--offline"])
        .env("AWS_JIT_DEFAULT_REQUESTERS", format!("group:{group}"))
        .output()
        .unwrap();
    assert!(
        closed.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );
    let refused = open
        .command(&["grant", "jit", "--user", &eve])
        .env("AWS_JIT_DEFAULT_REQUESTERS", format!("group:{group}"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(4));
}

const ORG_POLICIES: &str = r#"
@id("prod-needs-incident")
forbid(principal, action == AwsJit::Action::"request", resource)
when { resource.hasTag("env") && resource.getTag("env") == "prod" }
unless { context.reason like "INC-*" };

@id("office-hours")
forbid(principal, action == AwsJit::Action::"request", resource)
when { context.hour_utc < 7 || context.hour_utc >= 19 }
unless { context.break_glass };
"#;

#[tokio::test]
async fn a_cedar_forbid_wins_over_requesters_and_time_and_reason_rules_decide() {
    let f = Fixture::new().await;
    let tool = eligible_tool(
        &f,
        std::slice::from_ref(&f.email),
        Value::Null,
        Some(ORG_POLICIES),
    );
    let at = |hour: u32| format!("2026-12-01T{hour:02}:30:00Z");
    // What-if, at a fixed time: the reason rule and the hours rule.
    let check = |reason: &str, hour: u32| {
        tool.run(&[
            "policy",
            "check",
            "--as",
            &f.email,
            "request",
            "jit",
            "--reason",
            reason,
            "--at",
            &at(hour),
            "--output",
            "json",
        ])
    };
    let allowed = check("INC-12", 10);
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let answer: Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(answer["policies"], serde_json::json!(["requesters:jit"]));
    let late = check("INC-12", 22);
    assert_eq!(late.status.code(), Some(4));
    let answer: Value = serde_json::from_slice(&late.stdout).unwrap();
    assert_eq!(answer["policies"], serde_json::json!(["office-hours"]));
    let no_incident = check("fixing it", 10);
    let answer: Value = serde_json::from_slice(&no_incident.stdout).unwrap();
    assert_eq!(
        answer["policies"],
        serde_json::json!(["prod-needs-incident"])
    );
    assert_eq!(answer["allowed"], false);

    // A real request without an incident is refused by the forbid, though `requesters`
    // permits the person; nothing reaches AWS. It runs at the real time, so outside office
    // hours `office-hours` forbids it too and is named alongside.
    let (code, err) = tool.fails(&["grant", "jit", "--user", &f.email, "--reason", "fixing it"]);
    assert_eq!(code, 4);
    assert!(
        err.contains("forbidden by policy") && err.contains("`prod-needs-incident`"),
        "{err}"
    );
    assert_eq!(f.assignments().await, 0);

    // explain names who may request, and the organisation's rules.
    let explained = tool.json(&["policy", "explain", "jit"]);
    let ids: Vec<&str> = explained["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "requesters:jit",
            "session_duration:jit",
            "prod-needs-incident",
            "office-hours"
        ]
    );
    // The shipped schema is printed for editors and reviewers.
    assert!(tool.ok(&["schema", "policies"]).contains("entity Access"));
}

#[tokio::test]
async fn a_broken_policy_file_refuses_to_load_and_nothing_is_granted() {
    let f = Fixture::new().await;
    let broken = "@id(\"typo\")\nforbid(principal, action == AwsJit::Action::\"reqest\", resource);\n\npermit(principal, action, resource) when { principal.nickname == \"x\" };\n";
    let tool = eligible_tool(
        &f,
        std::slice::from_ref(&f.email),
        Value::Null,
        Some(broken),
    );
    let (code, err) = tool.fails(&["validate", "--offline"]);
    assert_eq!(code, 3);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].contains("2 problems in the access policies"),
        "{err}"
    );
    assert!(lines[1].trim().starts_with("policies.cedar:2:"), "{err}");
    assert!(lines[1].contains("policy `typo`"), "{err}");
    assert!(lines[2].trim().starts_with("policies.cedar:4:"), "{err}");
    assert!(lines[2].contains("policy `policies.cedar:4`"), "{err}");
    let (code, _) = tool.fails(&["grant", "jit", "--user", &f.email]);
    assert_eq!(code, 3);
    assert_eq!(f.assignments().await, 0);
    assert!(
        tool.json(&["grants", "--all"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_same_refusals_happen_through_the_api_mcp_and_slack() {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};

    let f = Fixture::new().await;
    let eve = format!("{}@example.com", unique("eve"));
    f.aws.create_user(&eve).await;
    let lead = format!("{}@example.com", unique("lead"));
    f.aws.create_user(&lead).await;
    let slack = FakeSlack::start("xoxb-t");
    let secret = SLACK_SECRET;
    let no_slack_approvals = "@id(\"no-approvals-from-slack\")\nforbid(principal, action == AwsJit::Action::\"approve\", resource) when { context.channel == \"slack\" };\n";
    let mut tool = eligible_tool(
        &f,
        std::slice::from_ref(&f.email),
        serde_json::json!({"approvers": [lead]}),
        Some(no_slack_approvals),
    );
    tool.as_slack_app(&slack);
    let lead_slack = slack.add_user(&lead);
    let server = super::serve::start(&tool);

    // The API: eve's token sees nothing to request, and her request is refused.
    let eves = super::serve::token(
        &tool,
        &["--name", "eve", "--role", "requester", "--user", &eve],
    );
    let (status, body) =
        super::serve::call(&server.addr, "GET", "/api/v1/accesses", Some(&eves), None);
    assert_eq!(status, 200);
    assert_eq!(body["items"], serde_json::json!([]), "{body}");
    let request = serde_json::json!({"access": "jit"}).to_string();
    let (status, body) = super::serve::call(
        &server.addr,
        "POST",
        "/api/v1/grants",
        Some(&eves),
        Some(&request),
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no policy permits it"),
        "{body}"
    );
    let amys = super::serve::token(
        &tool,
        &["--name", "amy", "--role", "requester", "--user", &f.email],
    );
    let (_, body) = super::serve::call(&server.addr, "GET", "/api/v1/accesses", Some(&amys), None);
    assert_eq!(body["items"][0]["key"], "jit", "{body}");

    // MCP: the same for an agent acting for eve.
    let command = tokio::process::Command::from(tool.command(&["mcp"])).configure(|c| {
        c.env("KUBIYA_USER_EMAIL", &eve);
    });
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let call = |name: &'static str, arguments: Value| {
        let client = &client;
        async move {
            let Value::Object(arguments) = arguments else {
                unreachable!()
            };
            client
                .call_tool(CallToolRequestParams::new(name).with_arguments(arguments))
                .await
                .unwrap()
        }
    };
    let accesses = call("list_accesses", serde_json::json!({})).await;
    assert_eq!(
        accesses.structured_content.as_ref().unwrap()["accesses"],
        serde_json::json!([])
    );
    let refused = call("request_access", serde_json::json!({"access": "jit"})).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(
        format!("{:?}", refused.content).contains("no policy permits it"),
        "{refused:?}"
    );
    client.cancel().await.unwrap();

    // Slack: an approver's click is refused by the policy that forbids approvals there.
    let pending = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(pending["status"], "pending");
    let id = pending["id"].as_str().unwrap();
    let url = slack.response_url();
    let status = super::approvals::click(
        &server.addr,
        secret,
        unix_now(),
        "aws_jit_approve",
        id,
        &lead_slack,
        &url,
    );
    assert_eq!(status, 200);
    let answers = slack_answers(&slack, 1).await;
    let text = answers[0]["text"].as_str().unwrap_or_default().to_owned();
    assert!(text.contains("no-approvals-from-slack"), "{answers:?}");
    assert_eq!(f.assignments().await, 0);
    let refusals = tool.refusals();
    assert_eq!(
        refusals, 3,
        "the API's, MCP's and Slack's refusals are audited"
    );
}

/// Kubiya: the bundle carries policies.cedar to its tools, and a tool run for a person the
/// policies refuse is refused like any other front door.
#[tokio::test]
async fn a_kubiya_tool_decides_with_the_bundled_policies() {
    let f = Fixture::new().await;
    let eve = format!("{}@example.com", unique("eve"));
    let eve_id = f.aws.create_user(&eve).await;
    let tool = eligible_tool(
        &f,
        &[f.email.clone(), eve.clone()],
        Value::Null,
        Some(ORG_POLICIES),
    );
    let out = tempfile::tempdir().unwrap();
    tool.ok(&["kubiya", "bundle", "--out", out.path().to_str().unwrap()]);
    let bundle: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("kubiya_bundle.json")).unwrap(),
    )
    .unwrap();
    let grant_tool = bundle["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["content"].as_str().unwrap().contains("aws-jit grant"))
        .unwrap();
    // The tool's container, here: its files under a directory of ours.
    let mounted = out.path().join("configs");
    std::fs::create_dir(&mounted).unwrap();
    let mut names = Vec::new();
    for file in grant_tool["with_files"].as_array().unwrap() {
        if let Some(content) = file["content"].as_str() {
            let name = file["source"].as_str().unwrap();
            std::fs::write(mounted.join(name), content).unwrap();
            names.push(name.to_owned());
        }
    }
    assert!(names.contains(&"policies.cedar".to_owned()), "{names:?}");
    let bin_dir = out.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_aws-jit"), bin_dir.join("aws-jit")).unwrap();
    let script = grant_tool["content"]
        .as_str()
        .unwrap()
        .replace(aws_jit_core::kubiya::CONFIG_DIR, mounted.to_str().unwrap())
        .replace("{{ .duration | urlquery }}", "PT30M");
    let run = |person: &str| {
        let mut cmd = tool.command(&[]);
        cmd.env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .env("KUBIYA_USER_EMAIL", person);
        Command::new("sh")
            .arg("-c")
            .arg(&script)
            .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .output()
            .unwrap()
    };
    // The default requesters the bundle was checked with are baked into its scripts.
    let with_default = tempfile::tempdir().unwrap();
    let out_default = tool
        .command(&[
            "kubiya",
            "bundle",
            "--out",
            with_default.path().to_str().unwrap(),
        ])
        .env("AWS_JIT_DEFAULT_REQUESTERS", "group:Oncall")
        .output()
        .unwrap();
    assert!(out_default.status.success());
    let baked = std::fs::read_to_string(with_default.path().join("kubiya_bundle.json")).unwrap();
    assert!(
        baked.contains("export AWS_JIT_DEFAULT_REQUESTERS='group:Oncall'"),
        "{baked}"
    );
    // Eve is a requester, but the organisation's rule wants an incident as the reason,
    // and a Kubiya tool gives none.
    let refused = run(&eve);
    assert_eq!(
        refused.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("prod-needs-incident"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(
        f.aws
            .assignments(&f.account, &f.permission_set_arn, &eve_id)
            .await,
        0
    );
}

/// A request waiting for approval is checked again when the last approval would start it:
/// a person taken out of `requesters` meanwhile is not granted.
#[tokio::test]
async fn a_person_no_longer_eligible_is_not_granted_by_a_late_approval() {
    let f = Fixture::new().await;
    let lead = format!("{}@example.com", unique("lead"));
    f.aws.create_user(&lead).await;
    let tool = eligible_tool(
        &f,
        std::slice::from_ref(&f.email),
        serde_json::json!({"approvers": [lead]}),
        None,
    );
    let pending = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(pending["status"], "pending");
    let id = pending["id"].as_str().unwrap();
    // The operator removes the person from the requesters.
    let path = tool.config_dir.join("access_configs.json");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        config.replace(&format!("\"{}\"", f.email), "\"someone@example.com\""),
    )
    .unwrap();
    let out = tool
        .command(&["approve", id, "--as", &lead])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no policy permits it"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f.assignments().await, 0);
}
