//! End to end: the `aws-jit` binary against a real moto server over HTTP, with a temporary
//! SQLite store. What the tool did in AWS is checked through the SDK, never the store.
//! One test binary on purpose: each one re-links the AWS SDK.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_jit_testkit::{MotoAws, aws_env, moto, unique, unique_account};
use serde_json::Value;

const SEED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed");

/// One isolated tool installation: its own config directory and database.
struct Tool {
    dir: tempfile::TempDir,
    config_dir: PathBuf,
}

impl Tool {
    fn with_config_dir(config_dir: &Path) -> Tool {
        let dir = tempfile::tempdir().unwrap();
        Tool {
            config_dir: config_dir.to_owned(),
            dir,
        }
    }

    /// A tool whose access_configs.json has one access `jit` for `account`/`permission_set`.
    fn with_access(account: &str, permission_set: &str, duration: &str) -> Tool {
        let dir = tempfile::tempdir().unwrap();
        let config_dir = dir.path().join("configs");
        std::fs::create_dir(&config_dir).unwrap();
        let config = serde_json::json!({
            "jit": {
                "name": "JIT Test Access",
                "description": "test",
                "account_id": account,
                "permission_set": permission_set,
                "session_duration": duration,
            }
        });
        std::fs::write(config_dir.join("access_configs.json"), config.to_string()).unwrap();
        Tool { dir, config_dir }
    }

    fn db(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("jit.db").display())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aws-jit"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_JIT_CONFIG_DIR", &self.config_dir)
            .env("AWS_JIT_DB", self.db())
            .env("USER", "tester");
        for (k, v) in aws_env(moto()) {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "aws-jit {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Runs a command expected to fail; returns (exit code, stderr).
    #[track_caller]
    fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "aws-jit {args:?} unexpectedly succeeded"
        );
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn audit_actions(&self, grant_id: &str) -> Vec<String> {
        self.json(&["audit", "--grant", grant_id])
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// A user and a permission set in moto for one test.
struct Fixture {
    aws: MotoAws,
    email: String,
    user_id: String,
    account: String,
    permission_set: String,
    permission_set_arn: String,
}

impl Fixture {
    async fn new() -> Fixture {
        let aws = MotoAws::connect().await;
        let email = format!("{}@example.com", unique("user"));
        let user_id = aws.create_user(&email).await;
        let permission_set = unique("PS");
        let permission_set_arn = aws.create_permission_set(&permission_set).await;
        Fixture {
            aws,
            email,
            user_id,
            account: unique_account(),
            permission_set,
            permission_set_arn,
        }
    }

    fn tool(&self, duration: &str) -> Tool {
        Tool::with_access(&self.account, &self.permission_set, duration)
    }

    async fn assignments(&self) -> usize {
        self.aws
            .assignments(&self.account, &self.permission_set_arn, &self.user_id)
            .await
    }
}

fn terminal_count(actions: &[String]) -> usize {
    actions
        .iter()
        .filter(|a| {
            matches!(
                a.as_str(),
                "grant.revoked" | "grant.expired" | "grant.failed"
            )
        })
        .count()
}

#[tokio::test]
async fn the_seed_configs_grant_list_and_revoke_a_real_assignment() {
    let aws = MotoAws::connect().await;
    let email = format!("{}@example.com", unique("seed"));
    let user_id = aws.create_user(&email).await;
    // The seed's permission set; only this test creates it.
    let ps_arn = aws.create_permission_set("ECRReadOnly").await;
    let tool = Tool::with_config_dir(Path::new(SEED_DIR));
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

#[tokio::test]
async fn bad_input_is_refused_before_aws_and_changes_nothing() {
    let f = Fixture::new().await;
    let tool = f.tool("PT1H");
    for duration in ["0s", "PT", "1y", "-5m", "soon"] {
        let (code, err) = tool.fails(&["grant", "jit", "--user", &f.email, "--duration", duration]);
        assert_eq!(code, 3, "{duration}: {err}");
        assert!(err.starts_with("error: --duration: "), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let (code, err) = tool.fails(&["grant", "nope", "--user", &f.email]);
    assert_eq!(code, 3);
    assert!(err.contains("no access is called `nope`"), "{err}");
    let (code, err) = tool.fails(&["grant", "jit", "--user", "ghost@example.com"]);
    assert_eq!(code, 3);
    assert!(err.contains("`ghost@example.com`"), "{err}");
    let (code, err) = tool.fails(&["grant", "jit", "--user", "not-an-email"]);
    assert_eq!(code, 3, "{err}");
    let (code, err) = tool.fails(&["grant", "jit"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("KUBIYA_USER_EMAIL"), "{err}");

    // Nothing was recorded and nothing exists in AWS.
    assert!(
        tool.json(&["grants", "--all"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(tool.json(&["audit"]).as_array().unwrap().is_empty());
    assert_eq!(f.assignments().await, 0);

    // Broken configs: every problem named with file, entry and field (and line:column).
    std::fs::write(
        tool.config_dir.join("access_configs.json"),
        "{\n  \"a\": {,\n}",
    )
    .unwrap();
    let (code, err) = tool.fails(&["validate", "--offline"]);
    assert_eq!(code, 3);
    assert!(err.contains("access_configs.json:2:"), "{err}");
    let masked = serde_json::json!({"DB Access to Staging": {
        "name": "Database Access to Staging", "account_id": "***1775",
        "permission_set": "ECRReadOnly", "session_duration": "PT1H"}});
    std::fs::write(
        tool.config_dir.join("access_configs.json"),
        masked.to_string(),
    )
    .unwrap();
    let (code, err) = tool.fails(&["grant", "DB Access to Staging", "--user", &f.email]);
    assert_eq!(code, 3);
    assert!(
        err.contains("entry `DB Access to Staging`: field `account_id`: `***1775` looks masked"),
        "{err}"
    );
}

#[tokio::test]
async fn validate_checks_that_permission_sets_exist_unless_offline() {
    let f = Fixture::new().await;
    let tool = Tool::with_access(&f.account, "NoSuchSet", "1h");
    tool.ok(&["validate", "--offline"]);
    let (code, err) = tool.fails(&["validate"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("entry `jit`: field `permission_set`: `NoSuchSet` does not exist"),
        "{err}"
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
    let warm = tool
        .command(&["grant", "jit", "--user", &other])
        .env("RUST_LOG", "aws_jit=debug,warn")
        .output()
        .unwrap();
    assert!(warm.status.success());
    let (cold, warm) = (aws_calls(&cold), aws_calls(&warm));
    assert!(cold > warm, "cold {cold} should include discovery");
    assert!(warm <= 3, "warm grant made {warm} calls");
    let revoke = tool
        .command(&["revoke", "jit", "--user", &other])
        .env("RUST_LOG", "aws_jit=debug,warn")
        .output()
        .unwrap();
    assert!(revoke.status.success());
    assert_eq!(aws_calls(&revoke), 1);
}

mod crash_recovery {
    //! A crash is simulated by writing the records a killed process leaves behind (through
    //! the real store, with the lapsed lock a dead holder leaves), plus the AWS state it
    //! may have left; then `aws-jit sweep` must converge.

    use super::*;
    use aws_jit_app::ports::{GrantChange, GrantStore, LockOp};
    use aws_jit_core::grant::NewGrant;
    use aws_jit_core::{
        AccessOrigin, AuditAction, AuditEvent, Catalog, ConfigFile, ConfigSource, GrantId,
        GrantStatus, UserEmail,
    };
    use jiff::{SignedDuration, Timestamp};

    #[expect(
        clippy::disallowed_methods,
        reason = "tests build records for the real clock"
    )]
    fn now() -> Timestamp {
        Timestamp::now()
    }

    async fn store(tool: &Tool) -> std::sync::Arc<dyn GrantStore> {
        aws_jit_store::open(&tool.db()).await.unwrap()
    }

    /// Writes a grant as a process that died while provisioning it would have left it.
    async fn leave_provisioning(f: &Fixture, tool: &Tool, origin: AccessOrigin) -> String {
        let text = std::fs::read_to_string(tool.config_dir.join("access_configs.json")).unwrap();
        let catalog = Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: &text,
        }])
        .unwrap();
        let user = UserEmail::parse(&f.email).unwrap();
        let id = unique("crash");
        let at = now() - SignedDuration::from_secs(5);
        let grant = NewGrant {
            id: GrantId::new(id.clone()),
            access: &catalog.accesses()[0],
            user: &user,
            requested_by: "tester",
            principal_id: Some(f.user_id.clone()),
            instance_arn: Some(f.aws.instance_arn.clone()),
            permission_set_arn: Some(f.permission_set_arn.clone()),
            reason: None,
            now: at,
            expires_at: at + SignedDuration::from_secs(3_600),
        }
        .into_grant();
        let event = AuditEvent {
            seq: 0,
            time: at,
            actor: "tester".to_owned(),
            action: AuditAction::GrantRequested,
            grant_id: id.clone(),
            access: grant.access.clone(),
            user: grant.user.clone(),
            detail: String::new(),
        };
        let store = store(tool).await;
        // The lease lapsed a second ago: its holder is dead.
        let lapsed = now() - SignedDuration::from_secs(1);
        store
            .insert_grant(&grant, &event, lapsed, at)
            .await
            .unwrap();
        if origin != AccessOrigin::Unknown {
            let mut intent = grant.clone();
            intent.origin = origin;
            intent.version = 1;
            let change = GrantChange {
                grant: intent,
                expected_version: 0,
                event: None,
                lock: LockOp::Keep,
                next_attempt_at: None,
            };
            store.apply(&change, at).await.unwrap();
        }
        id
    }

    #[tokio::test]
    async fn a_grant_interrupted_after_creating_the_assignment_is_undone() {
        let f = Fixture::new().await;
        let tool = f.tool("1h");
        let id = leave_provisioning(&f, &tool, AccessOrigin::CreatedByTool).await;
        f.aws
            .assign(&f.account, &f.permission_set_arn, &f.user_id)
            .await;
        let report = tool.json(&["sweep"]);
        assert_eq!(report["undone"][0], id.as_str(), "{report}");
        assert_eq!(f.assignments().await, 0);
        let actions = tool.audit_actions(&id);
        assert_eq!(actions.last().unwrap(), "grant.failed");
        assert_eq!(terminal_count(&actions), 1);
    }

    #[tokio::test]
    async fn a_grant_interrupted_before_reaching_aws_is_closed_without_touching_aws() {
        let f = Fixture::new().await;
        // Standing access the interrupted grant never touched must survive the undo.
        f.aws
            .assign(&f.account, &f.permission_set_arn, &f.user_id)
            .await;
        let tool = f.tool("1h");
        let id = leave_provisioning(&f, &tool, AccessOrigin::Unknown).await;
        let report = tool.json(&["sweep"]);
        assert_eq!(report["undone"][0], id.as_str(), "{report}");
        assert_eq!(f.assignments().await, 1);
        let g = store(&tool)
            .await
            .grant(&GrantId::new(id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(g.status, GrantStatus::Failed);
    }

    #[tokio::test]
    async fn a_revoke_that_fails_in_aws_stays_due_and_a_later_sweep_finishes_it() {
        let f = Fixture::new().await;
        let tool = f.tool("1h");
        let grant = tool.json(&["grant", "jit", "--user", &f.email]);
        let id = grant["id"].as_str().unwrap();
        // AWS unreachable: a closed port.
        let out = tool
            .command(&["revoke", "--grant", id])
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_JIT_RETRY_BASE", "1s")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("will retry"), "{err}");
        assert_eq!(f.assignments().await, 1, "still there: the revoke failed");
        let g = store(&tool)
            .await
            .grant(&GrantId::new(id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(g.status, GrantStatus::Revoking);
        assert_eq!(g.attempts, 1);

        std::thread::sleep(std::time::Duration::from_millis(1_100));
        let report = tool.json(&["sweep"]);
        assert_eq!(report["revoked"][0], id, "{report}");
        assert_eq!(f.assignments().await, 0);
        let actions = tool.audit_actions(id);
        assert!(actions.contains(&"grant.revoke_failed".to_owned()));
        assert_eq!(actions.last().unwrap(), "grant.revoked");
        assert_eq!(terminal_count(&actions), 1);
    }
}
