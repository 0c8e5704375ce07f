//! A real crash (abort) at every step of grant and revoke, then a sweep: the end state
//! is always the grant fully active and recorded, or nothing left in AWS, and the audit
//! log says which (exactly one terminal event, or none while active).

use super::*;

/// Runs a command that the failpoint aborts; the lock lease is one second so the sweep
/// that follows can take over.
fn crash(tool: &Tool, failpoint: &str, args: &[&str]) {
    let out = tool
        .command(args)
        .env("AWS_JIT_FAILPOINT", failpoint)
        .env("AWS_JIT_LOCK_LEASE", "1s")
        .output()
        .unwrap();
    assert!(
        out.status.code().is_none() || out.status.code() == Some(134),
        "{failpoint}: the process should have been aborted, got {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(std::time::Duration::from_millis(1_100));
}

fn only_grant(tool: &Tool) -> Value {
    let grants = tool.json(&["grants", "--all"]);
    assert_eq!(grants.as_array().unwrap().len(), 1, "{grants}");
    grants[0].clone()
}

#[tokio::test]
async fn a_crash_at_any_step_of_a_grant_converges_to_nothing_left() {
    for point in ["grant.recorded", "grant.intent_recorded", "grant.created"] {
        let f = Fixture::new().await;
        let tool = f.tool("1h");
        crash(&tool, point, &["grant", "jit", "--user", &f.email]);
        tool.json(&["sweep"]);
        let grant = only_grant(&tool);
        assert_eq!(grant["status"], "failed", "{point}: {grant}");
        assert_eq!(f.assignments().await, 0, "{point}: access left in AWS");
        let actions = tool.audit_actions(grant["id"].as_str().unwrap());
        assert_eq!(terminal_count(&actions), 1, "{point}: {actions:?}");
        // And the user can be granted again cleanly.
        tool.json(&["grant", "jit", "--user", &f.email]);
        assert_eq!(f.assignments().await, 1, "{point}");
    }
}

#[tokio::test]
async fn a_crash_at_any_step_of_a_revoke_converges_to_revoked() {
    for point in ["revoke.started", "revoke.removed"] {
        let f = Fixture::new().await;
        let tool = f.tool("1h");
        let grant = tool.json(&["grant", "jit", "--user", &f.email]);
        crash(&tool, point, &["revoke", "jit", "--user", &f.email]);
        tool.json(&["sweep"]);
        let grant = tool
            .json(&["grants", "--all"])
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == grant["id"])
            .unwrap()
            .clone();
        assert_eq!(grant["status"], "revoked", "{point}: {grant}");
        assert_eq!(f.assignments().await, 0, "{point}: access left in AWS");
        let actions = tool.audit_actions(grant["id"].as_str().unwrap());
        assert_eq!(terminal_count(&actions), 1, "{point}: {actions:?}");
    }
}

#[tokio::test]
async fn a_crash_between_creating_and_attaching_a_generated_policy_leaves_no_policy() {
    let aws = MotoAws::connect().await;
    let email = format!("{}@example.com", unique("s3crash"));
    aws.create_iam_user(&email, None).await;
    let config = serde_json::json!({
        "data": {"name": "Data", "buckets": ["crash-bucket"], "policy_template": "S3ReadOnlyPolicy", "session_duration": "PT1H"}
    });
    let tool = Tool::with_config(&aws, "s3_configs.json", &config);
    crash(
        &tool,
        "grant.policy_created",
        &["grant", "data", "--user", &email],
    );
    let grant = only_grant(&tool);
    let arn = grant["policy_arn"].as_str().unwrap().to_owned();
    assert!(
        aws.policy_exists(&arn).await,
        "the crash left the policy behind"
    );
    tool.json(&["sweep"]);
    assert_eq!(only_grant(&tool)["status"], "failed");
    assert!(!aws.policy_exists(&arn).await, "the sweep removed it");
    assert!(aws.attached(&email).await.is_empty());
}
