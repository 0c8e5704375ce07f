//! Grants and revokes through the CLI: the seed's configs and variables, standing access, shared assignments, expiry, and the AWS calls a grant makes.

use super::*;

#[tokio::test]
async fn the_seed_configs_grant_list_and_revoke_a_real_assignment() {
    let aws = MotoAws::connect().await;
    let email = format!("{}@example.com", unique("seed"));
    let user_id = aws.create_user(&email).await;
    // The seed's permission set; only this test creates it.
    let ps_arn = aws.create_permission_set("ECRReadOnly").await;
    let tool = Tool::with_config_dir(&aws, Path::new(SEED_DIR));
    let account = "876809951775";

    tool.ok(&["validate"]);
    let grant = tool.json(&[
        "grant",
        "database_access_to_staging",
        "--user",
        &email.to_uppercase(),
        "--reason",
        "deploy",
    ]);
    assert_eq!(grant["status"], "active");
    assert_eq!(grant["user"], email.as_str());
    assert_eq!(aws.assignments(account, &ps_arn, &user_id).await, 1);

    let live = tool.json(&["grants"]);
    assert_eq!(live.as_array().unwrap().len(), 1);
    let listed = &live[0];
    for field in [
        "id",
        "access",
        "user",
        "status",
        "granted_at",
        "expires_at",
        "revoked_at",
    ] {
        assert!(listed.get(field).is_some(), "grants output lacks `{field}`");
    }
    assert!(listed["expires_at"].as_str().unwrap().ends_with('Z'));

    tool.ok(&["revoke", "DB Access to Staging", "--user", &email]);
    assert_eq!(aws.assignments(account, &ps_arn, &user_id).await, 0);
    assert!(tool.json(&["grants"]).as_array().unwrap().is_empty());
    let all = tool.json(&["grants", "--all"]);
    assert_eq!(all[0]["status"], "revoked");
    assert!(all[0]["revoked_at"].is_string());

    let id = grant["id"].as_str().unwrap();
    assert_eq!(
        tool.audit_actions(id),
        [
            "grant.requested",
            "grant.activated",
            "grant.revoke_started",
            "grant.revoked"
        ]
    );
}

#[test]
fn a_settings_file_fills_what_flags_and_variables_leave_unset() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("aws-jit.toml");
    let from_file = dir.path().join("from-file.db");
    let from_env = dir.path().join("from-env.db");
    std::fs::write(
        &settings,
        format!(
            "db = \"sqlite://{}\"\nlog_format = \"json\"\n",
            from_file.display()
        ),
    )
    .unwrap();
    let run = |env: &[(&str, String)], args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aws-jit"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_JIT_SETTINGS", &settings)
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    assert!(run(&[], &["grants"]).status.success());
    assert!(from_file.exists(), "the file's db was used");
    let env_db = [("AWS_JIT_DB", format!("sqlite://{}", from_env.display()))];
    assert!(run(&env_db, &["grants"]).status.success());
    assert!(from_env.exists(), "the variable beats the file");
    let flag_db = dir.path().join("from-flag.db");
    let flag = format!("sqlite://{}", flag_db.display());
    assert!(run(&env_db, &["--db", &flag, "grants"]).status.success());
    assert!(flag_db.exists(), "the flag beats both");
    // A typo is an error naming the file, the line and the key.
    std::fs::write(&settings, "db = \"sqlite::memory:\"\nlisten_on = \"x\"\n").unwrap();
    let out = run(&[], &["grants"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("aws-jit.toml (line 2): unknown field `listen_on`"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test]
async fn the_seeds_environment_alone_grants_and_revokes_and_only_approvers_revoke_for_others() {
    let f = Fixture::new().await;
    let tool = Tool::with_config(&f.aws, "README", &serde_json::json!({}));
    let run = |person: &str, extra: &[(&str, &str)], args: &[&str]| {
        let mut cmd = tool.command(args);
        cmd.env("AWS_ACCOUNT_ID", &f.account)
            .env("PERMISSION_SET_NAME", &f.permission_set)
            .env("MAX_DURATION", "PT2H")
            .env("KUBIYA_USER_EMAIL", person);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // The seed's grant: no access argument, no config file, the user from the environment.
    let out = run(
        &f.email,
        &[],
        &["grant", "--duration", "PT3H", "--output", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grant: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(grant["user"], f.email.as_str());
    assert!(String::from_utf8_lossy(&out.stderr).contains("above the maximum of 2h"));
    assert_eq!(f.assignments().await, 1);

    // Someone else acting through the tools may not revoke it (nor learn it exists)...
    let mallory = "mallory@example.com";
    let out = run(mallory, &[], &["revoke", "--user-email", &f.email]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f.assignments().await, 1);
    // ...the user may, with no arguments at all...
    let out = run(&f.email, &[], &["revoke"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f.assignments().await, 0);
    // ...and so may an approver.
    assert!(run(&f.email, &[], &["grant"]).status.success());
    let lead = "lead@example.com";
    let approvers = [("AWS_JIT_APPROVERS", "x@example.com, LEAD@example.com")];
    let out = run(lead, &approvers, &["revoke", "--user", &f.email]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f.assignments().await, 0);

    // Half a pair is a one-line error naming the variable, and changes nothing.
    let mut cmd = tool.command(&["grant"]);
    cmd.env("AWS_ACCOUNT_ID", &f.account)
        .env("KUBIYA_USER_EMAIL", &f.email);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim(),
        "error: AWS_ACCOUNT_ID is set but PERMISSION_SET_NAME is not"
    );
}

#[tokio::test]
async fn a_standing_assignment_survives_a_jit_revoke() {
    let f = Fixture::new().await;
    f.aws
        .assign(&f.account, &f.permission_set_arn, &f.user_id)
        .await;
    let tool = f.tool("1h");
    let out = tool.ok(&["grant", "jit", "--user", &f.email]);
    assert!(out.contains("already held this assignment"), "{out}");
    tool.ok(&["revoke", "jit", "--user", &f.email]);
    assert_eq!(f.assignments().await, 1, "standing access must stay");
}

#[tokio::test]
async fn an_assignment_recreated_after_standing_access_was_removed_goes_with_the_last_grant() {
    let f = Fixture::new().await;
    f.aws
        .assign(&f.account, &f.permission_set_arn, &f.user_id)
        .await;
    let tool = f.tool("1h");
    let standing = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(standing["origin"], "preexisting");
    // An administrator removes the standing access; a second grant re-creates it.
    f.aws
        .unassign(&f.account, &f.permission_set_arn, &f.user_id)
        .await;
    let second = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(second["origin"], "created");
    assert_eq!(f.assignments().await, 1);
    let id = standing["id"].as_str().unwrap();
    assert!(
        tool.audit_actions(id)
            .contains(&"grant.origin_changed".to_owned())
    );

    tool.ok(&["revoke", "--grant", second["id"].as_str().unwrap()]);
    assert_eq!(f.assignments().await, 1, "the first grant still uses it");
    tool.ok(&["revoke", "--grant", id]);
    assert_eq!(
        f.assignments().await,
        0,
        "the tool's assignment goes with the last grant"
    );
}

#[tokio::test]
async fn overlapping_grants_share_the_assignment_until_the_last_ends() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let first = tool.json(&["grant", "jit", "--user", &f.email, "--duration", "30m"]);
    let second = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(
        f.assignments().await,
        1,
        "the second grant joins, not duplicates"
    );

    tool.ok(&["revoke", "--grant", first["id"].as_str().unwrap()]);
    assert_eq!(
        f.assignments().await,
        1,
        "ending one grant must not cut the other"
    );
    let id = second["id"].as_str().unwrap();
    tool.ok(&["revoke", "--grant", id]);
    assert_eq!(f.assignments().await, 0);
    let (code, err) = tool.fails(&["revoke", "--grant", id]);
    assert_eq!(code, 3, "{err}");
}

#[tokio::test]
async fn sweep_ends_grants_past_their_expiry() {
    let f = Fixture::new().await;
    let tool = f.tool("1s");
    let grant = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(f.assignments().await, 1);
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let report = tool.json(&["sweep"]);
    assert_eq!(report["expired"][0], grant["id"]);
    assert_eq!(f.assignments().await, 0);
    let actions = tool.audit_actions(grant["id"].as_str().unwrap());
    assert_eq!(actions.last().unwrap(), "grant.expired");
    assert_eq!(terminal_count(&actions), 1);
    // A second sweep has nothing to do.
    let again = tool.json(&["sweep"]);
    assert!(again["expired"].as_array().unwrap().is_empty());
}

/// Counts the AWS calls one CLI run made, from its debug log (one line per call).
fn aws_calls(out: &Output) -> usize {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("aws call "))
        .count()
}

#[tokio::test]
async fn a_warm_grant_makes_at_most_three_aws_calls() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let other = format!("{}@example.com", unique("warm"));
    f.aws.create_user(&other).await;
    let cold = tool
        .command(&["grant", "jit", "--user", &f.email])
        .env("RUST_LOG", "aws_jit=debug,warn")
        .output()
        .unwrap();
    assert!(cold.status.success());
    let grant_other = || {
        tool.command(&["grant", "jit", "--user", &other])
            .env("RUST_LOG", "aws_jit=debug,warn")
            .output()
            .unwrap()
    };
    let revoke_other = || {
        let revoke = tool
            .command(&["revoke", "jit", "--user", &other])
            .env("RUST_LOG", "aws_jit=debug,warn")
            .output()
            .unwrap();
        assert!(revoke.status.success());
        aws_calls(&revoke)
    };
    // A person seen for the first time costs one directory read (DescribeUser) more.
    let first = grant_other();
    assert!(first.status.success());
    assert_eq!(revoke_other(), 1);
    let warm = grant_other();
    assert!(warm.status.success());
    let (cold, first, warm) = (aws_calls(&cold), aws_calls(&first), aws_calls(&warm));
    assert!(cold > warm, "cold {cold} should include discovery");
    assert_eq!(first, warm + 1, "first seen {first}, warm {warm}");
    assert!(warm <= 3, "warm grant made {warm} calls");
    assert_eq!(revoke_other(), 1);
}
