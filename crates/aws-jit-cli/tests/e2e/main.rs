//! End to end: the `aws-jit` binary against a real moto server over HTTP, with a temporary
//! SQLite store. What the tool did in AWS is checked through the SDK, never the store.
//! One test binary on purpose: each one re-links the AWS SDK.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly"
)]

use std::path::{Path, PathBuf};

use std::process::{Command, Output};

use aws_jit_testkit::{MotoAws, aws_env, unique, unique_account};

use serde_json::Value;

const SEED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed");

/// The signing secret of the Slack app the tests sign clicks with.
const SLACK_SECRET: &str = "signing-secret-for-tests";

/// One isolated tool installation: its own config directory and database.
struct Tool {
    dir: tempfile::TempDir,
    config_dir: PathBuf,
    /// The test's own moto.
    endpoint: String,
    /// The store, when not the SQLite file in `dir`.
    db_url: Option<String>,
    /// More environment for every command (e.g. Slack's).
    env: Vec<(String, String)>,
}

impl Tool {
    fn with_config_dir(aws: &MotoAws, config_dir: &Path) -> Tool {
        let dir = tempfile::tempdir().unwrap();
        Tool {
            config_dir: config_dir.to_owned(),
            dir,
            endpoint: aws.endpoint(),
            db_url: None,
            env: Vec::new(),
        }
    }

    /// A tool whose config directory holds `file` with `config`.
    fn with_config(aws: &MotoAws, file: &str, config: &Value) -> Tool {
        let dir = tempfile::tempdir().unwrap();
        let config_dir = dir.path().join("configs");
        std::fs::create_dir(&config_dir).unwrap();
        std::fs::write(config_dir.join(file), config.to_string()).unwrap();
        Tool {
            dir,
            config_dir,
            endpoint: aws.endpoint(),
            db_url: None,
            env: Vec::new(),
        }
    }

    /// A tool whose access_configs.json has one access `jit` for `account`/`permission_set`.
    fn with_access(aws: &MotoAws, account: &str, permission_set: &str, duration: &str) -> Tool {
        let config = serde_json::json!({
            "jit": {
                "name": "JIT Test Access",
                "description": "test",
                "account_id": account,
                "permission_set": permission_set,
                "session_duration": duration,
            }
        });
        Tool::with_config(aws, "access_configs.json", &config)
    }

    /// Wires the tool to `slack` as a Slack app: its bot token, API URL, the request channel
    /// and the signing secret clicks are signed with ([`SLACK_SECRET`]).
    fn as_slack_app(&mut self, slack: &aws_jit_testkit::FakeSlack) {
        for (k, v) in [
            ("SLACK_API_TOKEN", "xoxb-t"),
            ("SLACK_API_URL", slack.url.as_str()),
            ("SLACK_CHANNEL_ID", "CREQ"),
            ("SLACK_SIGNING_SECRET", SLACK_SECRET),
        ] {
            self.env.push((k.to_owned(), v.to_owned()));
        }
    }

    fn db(&self) -> String {
        if let Some(url) = &self.db_url {
            return url.clone();
        }
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
        for (k, v) in aws_env(&self.endpoint) {
            cmd.env(k, v);
        }
        for (k, v) in &self.env {
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

    /// How many refusals (`api.refused`, `access.refused`) the audit log holds.
    fn refusals(&self) -> usize {
        self.json(&["audit"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| is_refusal(e))
            .count()
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
        Tool::with_access(&self.aws, &self.account, &self.permission_set, duration)
    }

    async fn assignments(&self) -> usize {
        self.aws
            .assignments(&self.account, &self.permission_set_arn, &self.user_id)
            .await
    }
}

/// The real clock's Unix seconds: the server under test checks Slack's request timestamps
/// against it, as Slack's do.
fn unix_now() -> i64 {
    #[expect(
        clippy::disallowed_methods,
        reason = "the server under test reads the real clock"
    )]
    let now = std::time::SystemTime::now();
    i64::try_from(now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// Waits (at most 10 s) until the Slack-compatible server has received `n` answers to
/// clicks (`response_url` posts); returns them.
async fn slack_answers(slack: &aws_jit_testkit::FakeSlack, n: usize) -> Vec<Value> {
    let started = std::time::Instant::now();
    while slack.responses().len() < n {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "Slack got {} of {n} answers",
            slack.responses().len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    slack.responses()
}

/// An audit event recording a refusal: unauthenticated (`api.refused`) or refused by the
/// decision point (`access.refused`).
fn is_refusal(e: &Value) -> bool {
    e["action"] == "api.refused" || e["action"] == "access.refused"
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

mod aliases;
mod approvals;
mod audit;
mod bad_input;
mod chaos;
mod crash_points;
mod crash_recovery;
mod eligibility;
mod ephemeral;
mod faults;
mod first_hour;
mod grants;
mod hardening;
mod kubiya;
mod mcp;
mod s3;
mod serve;
mod slack;
mod slack_requests;
mod web;
