//! Per-grant resources: generated policies and permission sets, created and removed with their grant, and cleaned up after a crash.

use super::*;

#[tokio::test]
async fn a_crash_between_creating_and_attaching_a_generated_policy_is_cleaned_up_by_sweep() {
    let aws = MotoAws::connect().await;
    let email = format!("{}@example.com", unique("s3crash"));
    aws.create_iam_user(&email, None).await;
    let config = serde_json::json!({"data": {"name": "Crash Data", "buckets": ["crash-bucket"],
        "policy_template": "S3ReadOnlyPolicy", "session_duration": "PT1H"}});
    let tool = Tool::with_config(&aws, "s3_configs.json", &config);
    let id = unique("crash");
    let name = format!("jit-crash_data-{email}-{id}");
    // The process created the policy, then died before attaching it.
    let arn = aws
        .create_policy(&name, "/aws-jit/", &[("aws-jit:grant-id", &id)])
        .await;
    let recorded = aws_jit_core::GrantTarget::GeneratedPolicy {
        iam_user: email.clone(),
        policy_arn: arn.clone(),
    };
    crash_recovery::leave_provisioning(
        &tool,
        &email,
        &id,
        recorded,
        aws_jit_core::AccessOrigin::CreatedByTool,
    )
    .await;
    let report = tool.json(&["sweep"]);
    assert_eq!(report["undone"][0], id.as_str(), "{report}");
    assert!(!aws.policy_exists(&arn).await);
    assert!(aws.attached(&email).await.is_empty());
    let actions = tool.audit_actions(&id);
    assert_eq!(actions.last().unwrap(), "grant.failed");
}

#[tokio::test]
async fn a_per_grant_permission_set_is_created_assigned_and_deleted() {
    let aws = MotoAws::connect().await;
    let email = format!("{}@example.com", unique("eph"));
    let user_id = aws.create_user(&email).await;
    let account = unique_account();
    let config = serde_json::json!({"eph": {
        "name": "Ephemeral Team Data", "account_id": account,
        "inline_policy": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]},
        "buckets": ["team-data"], "policy_template": "S3ReadOnlyPolicy",
        "session_duration": "PT2H"}});
    let tool = Tool::with_config(&aws, "access_configs.json", &config);
    tool.ok(&["validate"]);

    let grant = tool.json(&["grant", "eph", "--user", &email]);
    let name = grant["permission_set"].as_str().unwrap();
    let arn = grant["permission_set_arn"].as_str().unwrap().to_owned();
    assert!(name.starts_with("jit-") && name.len() <= 32, "{name}");
    let (found, inline) = aws.permission_set(&arn).await.expect("created");
    assert_eq!(found, name);
    assert!(inline.contains("ec2:DescribeInstances"), "{inline}");
    assert!(inline.contains("arn:aws:s3:::team-data/*"), "{inline}");
    assert!(inline.contains("aws:CurrentTime"), "{inline}");
    assert_eq!(aws.assignments(&account, &arn, &user_id).await, 1);

    tool.ok(&["revoke", "eph", "--user", &email]);
    assert_eq!(aws.assignments(&account, &arn, &user_id).await, 0);
    assert!(
        aws.permission_set(&arn).await.is_none(),
        "the per-grant permission set is deleted"
    );
    let actions = tool.audit_actions(grant["id"].as_str().unwrap());
    assert_eq!(actions.last().unwrap(), "grant.revoked");
}

#[tokio::test]
async fn a_per_grant_permission_set_created_before_a_crash_is_found_by_name_and_marker_and_deleted()
{
    let aws = MotoAws::connect().await;
    let email = format!("{}@example.com", unique("ephcrash"));
    let user_id = aws.create_user(&email).await;
    let config = serde_json::json!({"eph": {"name": "Eph Crash", "account_id": unique_account(),
        "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "session_duration": "PT1H"}});
    let tool = Tool::with_config(&aws, "access_configs.json", &config);
    let id = unique("crash");
    // The process created the permission set, then died before recording its ARN.
    let name = aws_jit_core::policy::ephemeral_permission_set_name(&id);
    let marker = aws_jit_core::policy::ownership_marker(&id);
    let arn = aws
        .create_described_permission_set(&name, &format!("{marker} of `eph`"))
        .await;
    // A permission set with the same marker prefix that this store knows nothing about.
    let stranger = aws
        .create_described_permission_set(&unique("jit-x"), "aws-jit grant not-ours of `x`")
        .await;
    let recorded = aws_jit_core::GrantTarget::EphemeralPermissionSet {
        instance_arn: aws.instance_arn.clone(),
        account_id: config["eph"]["account_id"].as_str().unwrap().to_owned(),
        permission_set: name.clone(),
        permission_set_arn: None,
        principal_id: user_id,
    };
    crash_recovery::leave_provisioning(
        &tool,
        &email,
        &id,
        recorded,
        aws_jit_core::AccessOrigin::CreatedByTool,
    )
    .await;
    let report = tool.json(&["sweep"]);
    assert_eq!(report["undone"][0], id.as_str(), "{report}");
    assert!(aws.permission_set(&arn).await.is_none(), "deleted");
    assert!(
        report["orphans_unknown"]
            .as_array()
            .unwrap()
            .contains(&Value::from(stranger.as_str())),
        "{report}"
    );
    assert!(
        aws.permission_set(&stranger).await.is_some(),
        "unknown sets are left alone"
    );
}
