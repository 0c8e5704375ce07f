//! S3 accesses: generated least-privilege policies and pre-existing ones, checked in
//! IAM through the SDK.

use super::*;

fn tool(aws: &MotoAws, template: &str, buckets: &[&str]) -> Tool {
    let config = serde_json::json!({
        "data": {
            "name": "Data Lake Read",
            "description": "test",
            "buckets": buckets,
            "policy_template": template,
            "session_duration": "PT1H",
        }
    });
    Tool::with_config(aws, "s3_configs.json", &config)
}

async fn user(aws: &MotoAws) -> String {
    let email = format!("{}@example.com", unique("s3user"));
    aws.create_iam_user(&email, None).await;
    email
}

#[tokio::test]
async fn a_generated_policy_is_scoped_to_exactly_the_buckets_and_deleted_on_revoke() {
    let aws = MotoAws::connect().await;
    let email = user(&aws).await;
    let tool = tool(&aws, "S3ReadOnlyPolicy", &["lake-raw", "lake-curated"]);
    let grant = tool.json(&["grant", "data_lake_read", "--user", &email]);
    let arn = grant["policy_arn"].as_str().unwrap().to_owned();
    assert!(arn.contains(":policy/aws-jit/jit-data_lake_read-"), "{arn}");
    assert!(arn.ends_with(grant["id"].as_str().unwrap()));
    assert_eq!(aws.attached(&email).await, vec![arn.clone()]);

    let doc: Value = serde_json::from_str(&aws.policy_document(&arn).await).unwrap();
    let resources: Vec<&str> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Resource"].as_array().unwrap())
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(
        resources,
        [
            "arn:aws:s3:::lake-raw",
            "arn:aws:s3:::lake-curated",
            "arn:aws:s3:::lake-raw/*",
            "arn:aws:s3:::lake-curated/*"
        ]
    );
    let expiry = &doc["Statement"][0]["Condition"]["DateLessThan"]["aws:CurrentTime"];
    assert_eq!(
        expiry.as_str().unwrap(),
        grant["expires_at"].as_str().unwrap()
    );

    tool.ok(&["revoke", "data_lake_read", "--user", &email]);
    assert!(aws.attached(&email).await.is_empty());
    assert!(
        !aws.policy_exists(&arn).await,
        "the generated policy must be deleted"
    );
}

#[tokio::test]
async fn plan_shows_the_changes_and_makes_none() {
    let aws = MotoAws::connect().await;
    let email = user(&aws).await;
    let tool = tool(&aws, "S3ReadOnlyPolicy", &["plan-bucket"]);
    let plan = tool.json(&["plan", "data", "--user", &email, "--duration", "30m"]);
    assert_eq!(plan["duration"], "PT30M");
    // Structured: kinds, when, and the resources by name.
    let changes = plan["changes"].as_array().unwrap();
    let kinds: Vec<&str> = changes
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["create_policy", "attach_policy", "delete_policy"],
        "{plan}"
    );
    assert_eq!(changes[0]["when"], "now");
    assert!(
        changes[0]["resources"]["policy"]
            .as_str()
            .unwrap()
            .starts_with("jit-data_lake_read-"),
        "{plan}"
    );
    assert_eq!(changes[0]["resources"]["user"], email.as_str());
    assert!(
        changes[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("create policy `jit-data_lake_read-"),
        "{plan}"
    );
    assert_eq!(
        plan["policy_document"]["Statement"][0]["Resource"][0],
        "arn:aws:s3:::plan-bucket"
    );
    assert!(aws.attached(&email).await.is_empty());
    assert!(
        tool.json(&["grants", "--all"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(tool.json(&["audit"]).as_array().unwrap().is_empty());

    let policy = tool.json(&["iam-policy"]);
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert!(sids.contains(&"ManageGeneratedPolicies"), "{sids:?}");
    assert!(
        !sids.contains(&"IdentityCenterLookups"),
        "no SSO rights without SSO accesses"
    );
}

#[tokio::test]
async fn an_iam_user_is_found_by_its_email_tag() {
    let aws = MotoAws::connect().await;
    let name = unique("svc-");
    let email = format!("{}@Example.com", unique("Tagged"));
    aws.create_iam_user(&name, Some(&email)).await;
    let tool = tool(&aws, "S3ReadOnlyPolicy", &["tagged-bucket"]);
    let grant = tool.json(&["grant", "data", "--user", &email.to_lowercase()]);
    assert_eq!(grant["iam_user"], name.as_str());
    assert_eq!(aws.attached(&name).await.len(), 1);
    tool.ok(&["revoke", "data", "--user", &email]);
    assert!(aws.attached(&name).await.is_empty());
}

#[tokio::test]
async fn two_grants_for_the_same_user_are_cleaned_up_independently() {
    let aws = MotoAws::connect().await;
    let email = user(&aws).await;
    let tool = tool(&aws, "S3ReadWritePolicy", &["shared-bucket"]);
    let first = tool.json(&["grant", "data", "--user", &email]);
    let second = tool.json(&["grant", "data", "--user", &email]);
    let (a, b) = (
        first["policy_arn"].as_str().unwrap(),
        second["policy_arn"].as_str().unwrap(),
    );
    assert_ne!(a, b);
    assert_eq!(aws.attached(&email).await.len(), 2);
    tool.ok(&["revoke", "--grant", first["id"].as_str().unwrap()]);
    assert_eq!(aws.attached(&email).await, vec![b.to_owned()]);
    assert!(!aws.policy_exists(a).await);
    assert!(aws.policy_exists(b).await);
    tool.ok(&["revoke", "--grant", second["id"].as_str().unwrap()]);
    assert!(!aws.policy_exists(b).await);
}

#[tokio::test]
async fn a_pre_existing_policy_is_attached_then_detached_and_never_deleted() {
    let aws = MotoAws::connect().await;
    let email = user(&aws).await;
    let name = unique("TeamRead");
    let arn = aws.create_policy(&name, "/", &[]).await;
    let tool = tool(&aws, &name, &["team-bucket"]);
    tool.ok(&["validate"]);
    let grant = tool.json(&["grant", "data", "--user", &email]);
    assert_eq!(grant["policy_arn"], arn.as_str());
    assert_eq!(aws.attached(&email).await, vec![arn.clone()]);
    tool.ok(&["revoke", "data", "--user", &email]);
    assert!(aws.attached(&email).await.is_empty());
    assert!(
        aws.policy_exists(&arn).await,
        "pre-existing policies are never deleted"
    );

    // Attached before the grant: the revoke leaves it attached.
    aws.attach(&email, &arn).await;
    tool.ok(&["grant", "data", "--user", &email]);
    tool.ok(&["revoke", "data", "--user", &email]);
    assert_eq!(aws.attached(&email).await, vec![arn.clone()]);
}

#[tokio::test]
async fn a_template_naming_a_missing_policy_is_refused_and_changes_nothing() {
    let aws = MotoAws::connect().await;
    let email = user(&aws).await;
    let tool = tool(&aws, "NoSuchPolicy", &["some-bucket"]);
    tool.ok(&["validate", "--offline"]);
    let (code, err) = tool.fails(&["validate"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("field `policy_template`: `NoSuchPolicy`"),
        "{err}"
    );
    let (code, err) = tool.fails(&["grant", "data", "--user", &email]);
    assert_eq!(code, 3);
    assert!(
        err.contains("policy `NoSuchPolicy` does not exist"),
        "{err}"
    );
    assert!(
        tool.json(&["grants", "--all"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(aws.attached(&email).await.is_empty());
    let (code, err) = tool.fails(&["grant", "data", "--user", "nobody@example.com"]);
    assert_eq!(code, 3, "{err}");
}

#[tokio::test]
async fn sweep_deletes_a_generated_policy_left_behind_by_an_ended_grant() {
    let aws = MotoAws::connect().await;
    let email = user(&aws).await;
    let tool = tool(&aws, "S3ReadOnlyPolicy", &["orphan-bucket"]);
    let grant = tool.json(&["grant", "data", "--user", &email]);
    let id = grant["id"].as_str().unwrap();
    let arn = grant["policy_arn"].as_str().unwrap();
    tool.ok(&["revoke", "--grant", id]);
    // The same policy reappears (e.g. restored by hand, or a lost delete).
    let name = arn.rsplit('/').next().unwrap();
    let again = aws
        .create_policy(name, "/aws-jit/", &[("aws-jit:grant-id", id)])
        .await;
    assert_eq!(again, arn);
    // A policy under the path that this store knows nothing about.
    let stranger = aws
        .create_policy(
            &unique("jit-stranger-"),
            "/aws-jit/",
            &[("aws-jit:grant-id", "not-ours")],
        )
        .await;
    let report = tool.json(&["sweep"]);
    assert!(
        report["orphans_removed"]
            .as_array()
            .unwrap()
            .contains(&Value::from(arn)),
        "{report}"
    );
    assert!(
        report["orphans_unknown"]
            .as_array()
            .unwrap()
            .contains(&Value::from(stranger.as_str()))
    );
    assert!(!aws.policy_exists(arn).await);
    assert!(
        aws.policy_exists(&stranger).await,
        "unknown policies are left alone"
    );
}
