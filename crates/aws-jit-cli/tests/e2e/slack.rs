//! Notifications through a local Slack-compatible server: they never hold up or undo
//! an access change, and they arrive once Slack is back.

use super::*;
use aws_jit_testkit::FakeSlack;
use std::time::{Duration, Instant};

const TOKEN: &str = "xoxb-test-token";
const CHANNEL: &str = "C0JITREQS";
const THREAD: &str = "1699999999.000100";

fn with_slack(mut tool: Tool, slack: &FakeSlack) -> Tool {
    for (k, v) in [
        ("SLACK_API_TOKEN", TOKEN),
        ("SLACK_API_URL", slack.url.as_str()),
        ("SLACK_CHANNEL_ID", CHANNEL),
        ("SLACK_THREAD_TS", THREAD),
        (
            "AWS_JIT_SSO_START_URL",
            "https://d-1234567890.awsapps.com/start",
        ),
    ] {
        tool.env.push((k.to_owned(), v.to_owned()));
    }
    tool
}

fn text(post: &Value) -> String {
    post["text"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_grant_posts_to_the_thread_and_the_channel_and_a_revoke_dms_the_user() {
    let f = Fixture::new().await;
    let slack = FakeSlack::start(TOKEN);
    let user_id = slack.add_user(&f.email);
    let tool = with_slack(f.tool("1h"), &slack);
    tool.json(&["grant", "jit", "--user", &f.email, "--duration", "30m"]);
    let posts = slack.posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[0]["channel"], CHANNEL);
    assert_eq!(posts[0]["thread_ts"], THREAD);
    assert_eq!(posts[1]["channel"], CHANNEL);
    assert!(posts[1].get("thread_ts").is_none());
    assert!(text(&posts[0]).starts_with("Access granted: JIT Test Access to "));
    let blocks = posts[0]["blocks"].to_string();
    assert!(blocks.contains(&format!(
        "https://d-1234567890.awsapps.com/start/#/console?account_id={}&role_name={}",
        f.account, f.permission_set
    )));

    tool.ok(&["revoke", "jit", "--user", &f.email]);
    let posts = slack.posts();
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[2]["channel"], format!("D{user_id}"));
    assert!(text(&posts[2]).contains("was revoked"), "{}", posts[2]);
}

#[tokio::test]
async fn the_granted_message_names_the_alias_of_the_tools_own_account() {
    let f = Fixture::new().await;
    let slack = FakeSlack::start(TOKEN);
    // moto's own account: the tool's credentials belong to it.
    let own = "123456789012";
    f.aws
        .iam
        .create_account_alias()
        .account_alias("acme-sandbox")
        .send()
        .await
        .unwrap();
    let tool = with_slack(
        Tool::with_access(&f.aws, own, &f.permission_set, "1h"),
        &slack,
    );
    tool.json(&["grant", "jit", "--user", &f.email]);
    let blocks = slack.posts()[0]["blocks"].to_string();
    assert!(blocks.contains("`123456789012` (acme-sandbox)"), "{blocks}");
}

#[tokio::test]
async fn a_user_unknown_to_slack_loses_the_dm_but_not_the_revoke() {
    let f = Fixture::new().await;
    let slack = FakeSlack::start(TOKEN);
    let tool = with_slack(f.tool("1h"), &slack);
    tool.json(&["grant", "jit", "--user", &f.email]);
    let out = tool.run(&["revoke", "jit", "--user", &f.email]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("users_not_found") && err.contains("dropped"),
        "{err}"
    );
    assert_eq!(f.assignments().await, 0);
    assert_eq!(slack.posts().len(), 2, "only the two granted messages");
}

#[tokio::test]
async fn messages_queued_during_an_outage_arrive_when_slack_is_back_and_expiry_dms_the_user() {
    let f = Fixture::new().await;
    let slack = FakeSlack::start(TOKEN);
    let user_id = slack.add_user(&f.email);
    let tool = with_slack(f.tool("3s"), &slack);
    slack.set_down(true);
    let started = Instant::now();
    let out = tool.run(&["grant", "jit", "--user", &f.email]);
    assert!(out.status.success(), "Slack down never fails a grant");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stays queued"));
    assert_eq!(f.assignments().await, 1);
    assert!(slack.posts().is_empty());

    // Back, but rate limiting at first: the server's outbox worker delivers anyway.
    slack.set_down(false);
    slack.rate_limit_next(1);
    let _server = super::serve::start(&tool);
    let deadline = Instant::now() + Duration::from_secs(15);
    while slack.posts().len() < 3 {
        assert!(Instant::now() < deadline, "delivered: {:?}", slack.posts());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The rate-limited message was retried after the others: order is not kept.
    let posts = slack.posts();
    assert!(posts.iter().any(|p| p["thread_ts"] == THREAD));
    assert!(
        posts
            .iter()
            .any(|p| p["channel"] == CHANNEL && p.get("thread_ts").is_none())
    );
    let dm = posts
        .iter()
        .find(|p| p["channel"] == format!("D{user_id}"))
        .unwrap();
    assert!(text(dm).contains("expired"), "{dm}");
    assert_eq!(f.assignments().await, 0);
}

#[tokio::test]
async fn the_access_exists_while_slack_has_not_answered() {
    let f = Fixture::new().await;
    let slack = FakeSlack::start(TOKEN);
    slack.add_user(&f.email);
    let tool = with_slack(f.tool("1h"), &slack);
    slack.set_hanging(true);
    let started = Instant::now();
    let mut child = tool
        .command(&["grant", "jit", "--user", &f.email])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while f.assignments().await == 0 {
        assert!(started.elapsed() < Duration::from_secs(8), "no access yet");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the CLI is still waiting on Slack"
    );
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "a hanging Slack never fails the grant"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));
    assert_eq!(f.assignments().await, 1);
}

#[tokio::test]
async fn a_failing_revocation_is_raised_in_the_admin_channel() {
    let f = Fixture::new().await;
    let slack = FakeSlack::start(TOKEN);
    let mut tool = with_slack(f.tool("1h"), &slack);
    tool.env.push((
        "AWS_JIT_SLACK_ADMIN_CHANNEL".to_owned(),
        "CADMIN".to_owned(),
    ));
    let grant = tool.json(&["grant", "jit", "--user", &f.email]);
    let out = tool
        .command(&["revoke", "--grant", grant["id"].as_str().unwrap()])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let alerts: Vec<Value> = slack
        .posts()
        .into_iter()
        .filter(|p| p["channel"] == "CADMIN")
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(text(&alerts[0]).starts_with(&format!("Revocation failing for {}", f.email)));
    assert_eq!(f.assignments().await, 1);
}
