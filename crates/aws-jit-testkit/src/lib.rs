//! Test support: a moto server per test process (the real AWS SDK talks to it over HTTP),
//! helpers to seed and inspect it through the SDK, and a fixed clock.
//!
//! Nothing here fakes AWS: moto is the emulator, and the code under test uses the same SDK
//! clients it uses in production. `publish = false`; never a dependency of a shipped crate.

#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes,
    reason = "test support fails loudly; moto lives as long as the test process"
)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_jit_app::ports::Clock;
use aws_sdk_identitystore::types::{Email, Name};
use jiff::Timestamp;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A moto server of one test's own: tests never see each other's AWS state (moto's
/// listings are not safe against concurrent deletes, so sharing one server makes tests
/// flaky). Killed when dropped; a watchdog also kills it if the test process dies.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    child: Mutex<Child>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            // Closing the watchdog's stdin makes it kill moto; then reap the watchdog.
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

fn moto_binary() -> PathBuf {
    if let Ok(path) = std::env::var("AWS_JIT_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let local = workspace_root().join(".venv/bin/moto_server");
    assert!(
        local.exists(),
        "moto is not installed: run `scripts/test` (it installs the pinned moto into .venv), \
         or set AWS_JIT_MOTO_SERVER"
    );
    local
}

/// Starts a moto server on a free loopback port and waits until it answers.
pub fn start_moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let binary = moto_binary();
    let python = binary.with_file_name("python");
    let watchdog = "import subprocess, sys\n\
         p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n\
         print('started', flush=True)\n\
         sys.stdin.read()\n\
         p.kill()\n\
         p.wait()\n";
    let mut child = Command::new(python)
        .arg("-c")
        .arg(watchdog)
        .arg(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start moto");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("moto watchdog");
    let endpoint = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Moto {
                endpoint,
                child: Mutex::new(child),
            };
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("moto did not start on port {port}");
}

/// Environment variables that point the AWS SDK at a moto endpoint.
pub fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
        // moto answers 500 for what it lacks; SDK retries would only cost time.
        ("AWS_JIT_MAX_ATTEMPTS", "1".to_owned()),
    ]
}

/// A unique suffix per call, for names that must not collide between tests.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}{}{}",
        std::process::id() % 10_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A unique 12-digit account id per call.
pub fn unique_account() -> String {
    static N: AtomicU64 = AtomicU64::new(1);
    format!(
        "{:06}{:06}",
        std::process::id() % 1_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// SDK clients pointed at moto, for seeding and for checking what the tool did.
#[derive(Debug, Clone)]
pub struct MotoAws {
    /// sso-admin.
    pub sso: aws_sdk_ssoadmin::Client,
    /// identitystore.
    pub ids: aws_sdk_identitystore::Client,
    /// iam.
    pub iam: aws_sdk_iam::Client,
    /// The instance ARN.
    pub instance_arn: String,
    /// The identity store id.
    pub identity_store_id: String,
    /// This test's own moto server.
    pub moto: Arc<Moto>,
}

impl MotoAws {
    /// Starts a moto server for this test and connects to it.
    pub async fn connect() -> MotoAws {
        let moto = Arc::new(start_moto());
        let creds =
            aws_sdk_ssoadmin::config::Credentials::new("testing", "testing", None, None, "test");
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&moto.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await;
        let sso = aws_sdk_ssoadmin::Client::new(&sdk);
        let ids = aws_sdk_identitystore::Client::new(&sdk);
        let iam = aws_sdk_iam::Client::new(&sdk);
        let instances = sso.list_instances().send().await.expect("ListInstances");
        let first = instances.instances().first().expect("moto has an instance");
        MotoAws {
            instance_arn: first.instance_arn().expect("arn").to_owned(),
            identity_store_id: first.identity_store_id().expect("store id").to_owned(),
            sso,
            ids,
            iam,
            moto,
        }
    }

    /// The endpoint of this test's moto.
    pub fn endpoint(&self) -> String {
        self.moto.endpoint.clone()
    }

    /// Creates an IAM user, optionally with an `email` tag.
    pub async fn create_iam_user(&self, name: &str, email_tag: Option<&str>) {
        let mut request = self.iam.create_user().user_name(name);
        if let Some(email) = email_tag {
            request = request.tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("email")
                    .value(email)
                    .build()
                    .expect("tag"),
            );
        }
        request.send().await.expect("CreateUser");
    }

    /// Creates a customer-managed policy; returns its ARN.
    pub async fn create_policy(&self, name: &str, path: &str, tags: &[(&str, &str)]) -> String {
        let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;
        let mut request = self
            .iam
            .create_policy()
            .policy_name(name)
            .path(path)
            .policy_document(document);
        for (k, v) in tags {
            request = request.tags(
                aws_sdk_iam::types::Tag::builder()
                    .key(*k)
                    .value(*v)
                    .build()
                    .expect("tag"),
            );
        }
        request
            .send()
            .await
            .expect("CreatePolicy")
            .policy()
            .and_then(|p| p.arn())
            .expect("arn")
            .to_owned()
    }

    /// Attaches a policy directly (standing access).
    pub async fn attach(&self, user: &str, policy_arn: &str) {
        self.iam
            .attach_user_policy()
            .user_name(user)
            .policy_arn(policy_arn)
            .send()
            .await
            .expect("AttachUserPolicy");
    }

    /// The ARNs of the policies attached to a user.
    pub async fn attached(&self, user: &str) -> Vec<String> {
        self.iam
            .list_attached_user_policies()
            .user_name(user)
            .send()
            .await
            .expect("ListAttachedUserPolicies")
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect()
    }

    /// Whether a policy exists.
    pub async fn policy_exists(&self, arn: &str) -> bool {
        self.iam.get_policy().policy_arn(arn).send().await.is_ok()
    }

    /// A policy's default document, parsed.
    pub async fn policy_document(&self, arn: &str) -> String {
        let policy = self
            .iam
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .expect("GetPolicy");
        let version = policy
            .policy()
            .and_then(|p| p.default_version_id())
            .expect("default version")
            .to_owned();
        let document = self
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .expect("GetPolicyVersion")
            .policy_version()
            .and_then(|v| v.document())
            .expect("document")
            .to_owned();
        // IAM returns the document URL-encoded.
        percent_decode(&document)
    }

    /// Creates a user whose user name and primary email are `email`; returns its id.
    pub async fn create_user(&self, email: &str) -> String {
        self.ids
            .create_user()
            .identity_store_id(&self.identity_store_id)
            .user_name(email)
            .display_name(email)
            .name(
                Name::builder()
                    .given_name("Test")
                    .family_name("User")
                    .build(),
            )
            .emails(
                Email::builder()
                    .value(email)
                    .primary(true)
                    .r#type("work")
                    .build(),
            )
            .send()
            .await
            .expect("CreateUser")
            .user_id
    }

    /// Creates an Identity Store user whose user name differs from its emails (the first
    /// email is the primary one); returns its id.
    pub async fn create_person(&self, user_name: &str, emails: &[&str]) -> String {
        let emails = emails
            .iter()
            .enumerate()
            .map(|(i, email)| {
                Email::builder()
                    .value(*email)
                    .primary(i == 0)
                    .r#type(if i == 0 { "work" } else { "home" })
                    .build()
            })
            .collect();
        self.ids
            .create_user()
            .identity_store_id(&self.identity_store_id)
            .user_name(user_name)
            .display_name(user_name)
            .name(
                Name::builder()
                    .given_name("Test")
                    .family_name("Person")
                    .build(),
            )
            .set_emails(Some(emails))
            .send()
            .await
            .expect("CreateUser")
            .user_id
    }

    /// Creates an Identity Store group with these members; returns its id.
    pub async fn create_group(&self, name: &str, member_ids: &[String]) -> String {
        let group_id = self
            .ids
            .create_group()
            .identity_store_id(&self.identity_store_id)
            .display_name(name)
            .send()
            .await
            .expect("CreateGroup")
            .group_id;
        for member in member_ids {
            self.ids
                .create_group_membership()
                .identity_store_id(&self.identity_store_id)
                .group_id(&group_id)
                .member_id(aws_sdk_identitystore::types::MemberId::UserId(
                    member.clone(),
                ))
                .send()
                .await
                .expect("CreateGroupMembership");
        }
        group_id
    }

    /// Creates a permission set (with the explicit session duration moto needs).
    pub async fn create_permission_set(&self, name: &str) -> String {
        self.create_described_permission_set(name, "test").await
    }

    /// Creates a permission set with a description.
    pub async fn create_described_permission_set(&self, name: &str, description: &str) -> String {
        self.sso
            .create_permission_set()
            .instance_arn(&self.instance_arn)
            .name(name)
            .description(description)
            .session_duration("PT1H")
            .send()
            .await
            .expect("CreatePermissionSet")
            .permission_set()
            .and_then(|p| p.permission_set_arn())
            .expect("arn")
            .to_owned()
    }

    /// Assigns directly (standing access, not through the tool).
    pub async fn assign(&self, account: &str, permission_set_arn: &str, principal_id: &str) {
        self.sso
            .create_account_assignment()
            .instance_arn(&self.instance_arn)
            .target_id(account)
            .target_type(aws_sdk_ssoadmin::types::TargetType::AwsAccount)
            .permission_set_arn(permission_set_arn)
            .principal_type(aws_sdk_ssoadmin::types::PrincipalType::User)
            .principal_id(principal_id)
            .send()
            .await
            .expect("CreateAccountAssignment");
    }

    /// A permission set's name and inline policy, if it exists.
    pub async fn permission_set(&self, arn: &str) -> Option<(String, String)> {
        let described = self
            .sso
            .describe_permission_set()
            .instance_arn(&self.instance_arn)
            .permission_set_arn(arn)
            .send()
            .await
            .ok()?;
        let name = described.permission_set()?.name()?.to_owned();
        let inline = self
            .sso
            .get_inline_policy_for_permission_set()
            .instance_arn(&self.instance_arn)
            .permission_set_arn(arn)
            .send()
            .await
            .ok()
            .and_then(|o| o.inline_policy)
            .unwrap_or_default();
        Some((name, inline))
    }

    /// Removes an assignment directly (an administrator's change).
    pub async fn unassign(&self, account: &str, permission_set_arn: &str, principal_id: &str) {
        self.sso
            .delete_account_assignment()
            .instance_arn(&self.instance_arn)
            .target_id(account)
            .target_type(aws_sdk_ssoadmin::types::TargetType::AwsAccount)
            .permission_set_arn(permission_set_arn)
            .principal_type(aws_sdk_ssoadmin::types::PrincipalType::User)
            .principal_id(principal_id)
            .send()
            .await
            .expect("DeleteAccountAssignment");
    }

    /// How many assignments of this permission set the principal holds on the account.
    pub async fn assignments(
        &self,
        account: &str,
        permission_set_arn: &str,
        principal_id: &str,
    ) -> usize {
        self.sso
            .list_account_assignments()
            .instance_arn(&self.instance_arn)
            .account_id(account)
            .permission_set_arn(permission_set_arn)
            .send()
            .await
            .expect("ListAccountAssignments")
            .account_assignments()
            .iter()
            .filter(|a| a.principal_id() == Some(principal_id))
            .count()
    }
}

/// A clock the test moves by hand; `sleep` advances it instead of waiting.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<Timestamp>,
}

impl FixedClock {
    /// A clock at `now`.
    pub fn at(now: Timestamp) -> FixedClock {
        FixedClock {
            now: Mutex::new(now),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().expect("clock");
        *now = now.checked_add(by).expect("in range");
    }
}

#[async_trait]
impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().expect("clock")
    }

    async fn sleep(&self, duration: Duration) {
        self.advance(duration);
    }
}

/// Decodes `%XX` escapes (IAM returns policy documents URL-encoded).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes.get(i), bytes.get(i + 1..i + 3)) {
            (Some(b'%'), Some(hex)) => {
                let decoded = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = decoded {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            (Some(b), _) => out.push(*b),
            (None, _) => {}
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The environment variable naming the PostgreSQL server the tests may use
/// (`postgres://postgres@127.0.0.1:5432/test` on these machines; `scripts/test` sets it).
pub const TEST_PG_VAR: &str = "AWS_JIT_TEST_PG";

/// A fresh schema in the test PostgreSQL, dropped (with everything in it) when this is.
#[derive(Debug)]
pub struct PgSchema {
    /// A store URL whose connections use only this schema.
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgSchema {
    /// Creates a schema, or `None` when `AWS_JIT_TEST_PG` is not set (the caller skips, and
    /// says so: `scripts/test` always sets it).
    pub async fn create() -> Option<PgSchema> {
        let admin_url = std::env::var(TEST_PG_VAR).ok().filter(|v| !v.is_empty())?;
        let name = unique("aws_jit_test_").replace('-', "_");
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .expect("AWS_JIT_TEST_PG names a reachable PostgreSQL");
        // Unique across concurrently running test binaries too.
        let name = format!("{name}_{}", std::process::id());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test schema");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        Some(PgSchema {
            url: format!("{admin_url}{separator}options=-csearch_path%3D{name}"),
            admin_url,
            name,
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop runs inside a test's runtime: use a runtime of its own on another thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .ok()?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop test schema {}", self.name);
        }
    }
}

/// A local Slack-compatible Web API for tests: it checks what Slack checks (the bot token,
/// required fields, block limits), answers errors in Slack's shape (`ok: false`,
/// `error: code`), and can be rate limited (429 `ratelimited` with `Retry-After`) or down
/// (503). It records every message posted.
#[derive(Debug)]
pub struct FakeSlack {
    /// The API base URL (`SLACK_API_URL`).
    pub url: String,
    state: Arc<Mutex<SlackState>>,
}

#[derive(Debug, Default)]
struct SlackState {
    token: String,
    users: std::collections::HashMap<String, String>,
    posts: Vec<serde_json::Value>,
    responses: Vec<serde_json::Value>,
    down: bool,
    hang: bool,
    rate_limited: u32,
}

impl FakeSlack {
    /// Starts one on a free loopback port, accepting `token`.
    pub fn start(token: &str) -> FakeSlack {
        let state = Arc::new(Mutex::new(SlackState {
            token: token.to_owned(),
            ..SlackState::default()
        }));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port for the fake Slack");
        let addr = listener.local_addr().expect("its address");
        listener.set_nonblocking(true).expect("non-blocking");
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the fake Slack");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let app = axum::Router::new()
                    .route("/api/{method}", axum::routing::any(slack_method))
                    .with_state(shared);
                let _ = axum::serve(listener, app).await;
            });
        });
        FakeSlack {
            url: format!("http://{addr}/api"),
            state,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut SlackState) -> T) -> T {
        f(&mut self.state.lock().expect("fake Slack state"))
    }

    /// Adds a Slack user with this email; returns their id.
    pub fn add_user(&self, email: &str) -> String {
        self.with(|s| {
            let id = format!("U{:04}", s.users.len() + 1);
            s.users.insert(email.to_lowercase(), id.clone());
            id
        })
    }

    /// Makes every call fail with 503 (`true`) or work again.
    pub fn set_down(&self, down: bool) {
        self.with(|s| s.down = down);
    }

    /// Makes every call hang (accepted, never answered) while `true`.
    pub fn set_hanging(&self, hang: bool) {
        self.with(|s| s.hang = hang);
    }

    /// Answers the next `n` calls with 429 `ratelimited`, `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        self.with(|s| s.rate_limited = n);
    }

    /// Every message posted so far (the `chat.postMessage` bodies).
    pub fn posts(&self) -> Vec<serde_json::Value> {
        self.with(|s| s.posts.clone())
    }

    /// A `response_url` for interactions; what is posted to it is in [`FakeSlack::responses`].
    pub fn response_url(&self) -> String {
        format!("{}/respond", self.url)
    }

    /// What was posted to the `response_url` so far.
    pub fn responses(&self) -> Vec<serde_json::Value> {
        self.with(|s| s.responses.clone())
    }
}

fn slack_error(code: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    axum::Json(serde_json::json!({ "ok": false, "error": code })).into_response()
}

/// Slack's checks on a message: some text, at most 50 blocks, text limits per block.
fn check_message(body: &serde_json::Value) -> Result<(), &'static str> {
    let text = body.get("text").and_then(|t| t.as_str()).unwrap_or("");
    let blocks = body
        .get("blocks")
        .and_then(|b| b.as_array())
        .cloned()
        .unwrap_or_default();
    if text.is_empty() && blocks.is_empty() {
        return Err("no_text");
    }
    if text.chars().count() > 40_000 {
        return Err("msg_too_long");
    }
    if blocks.len() > 50 {
        return Err("invalid_blocks");
    }
    for block in &blocks {
        let kind = block.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let limit = if kind == "header" { 150 } else { 3_000 };
        let text = block
            .pointer("/text/text")
            .and_then(|t| t.as_str())
            .unwrap_or("");
        if text.chars().count() > limit || kind.is_empty() {
            return Err("invalid_blocks");
        }
    }
    Ok(())
}

async fn slack_method(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<SlackState>>>,
    axum::extract::Path(method): axum::extract::Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let hang = state.lock().expect("fake Slack state").hang;
    if hang {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    let mut s = state.lock().expect("fake Slack state");
    if s.down {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "<html>down</html>",
        )
            .into_response();
    }
    if s.rate_limited > 0 {
        s.rate_limited -= 1;
        return (
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            axum::Json(serde_json::json!({ "ok": false, "error": "ratelimited" })),
        )
            .into_response();
    }
    if method == "respond" {
        // A response_url needs no token: its URL is the secret.
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        s.responses.push(json);
        return axum::Json(serde_json::json!({ "ok": true })).into_response();
    }
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        None => return slack_error("not_authed"),
        Some(token) if token != s.token => return slack_error("invalid_auth"),
        Some(_) => {}
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    match method.as_str() {
        "users.lookupByEmail" => {
            let email = query
                .get("email")
                .map(|e| e.to_lowercase())
                .unwrap_or_default();
            match s.users.get(&email) {
                Some(id) => axum::Json(serde_json::json!({ "ok": true, "user": { "id": id } }))
                    .into_response(),
                None => slack_error("users_not_found"),
            }
        }
        "users.info" => {
            let id = query.get("user").cloned().unwrap_or_default();
            match s.users.iter().find(|(_, v)| **v == id) {
                Some((email, _)) => axum::Json(serde_json::json!({
                    "ok": true, "user": { "id": id, "profile": { "email": email } }
                }))
                .into_response(),
                None => slack_error("user_not_found"),
            }
        }
        "conversations.open" => match json.get("users").and_then(|u| u.as_str()) {
            Some(user) if s.users.values().any(|id| id == user) => axum::Json(
                serde_json::json!({ "ok": true, "channel": { "id": format!("D{user}") } }),
            )
            .into_response(),
            Some(_) => slack_error("user_not_found"),
            None => slack_error("invalid_arguments"),
        },
        "chat.postMessage" => {
            let channel = json.get("channel").and_then(|c| c.as_str()).unwrap_or("");
            if !(channel.starts_with('C') || channel.starts_with('D')) {
                return slack_error("channel_not_found");
            }
            if let Err(code) = check_message(&json) {
                return slack_error(code);
            }
            s.posts.push(json.clone());
            let ts = format!("1700000000.{:06}", s.posts.len());
            axum::Json(serde_json::json!({ "ok": true, "channel": channel, "ts": ts }))
                .into_response()
        }
        _ => slack_error("unknown_method"),
    }
}

/// A fault that [`FaultProxy`] injects into calls of one AWS operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `ThrottlingException` (400) instead of forwarding.
    Throttle,
    /// Answer `ConflictException` (409) instead of forwarding.
    Conflict,
    /// Answer this 5xx status instead of forwarding.
    ServerError(u16),
    /// Forward, but report the asynchronous status as `IN_PROGRESS` (moto completes
    /// assignments at once; AWS does not).
    InProgress,
    /// Forward, but report the asynchronous status as `FAILED` with this reason.
    FailedWith(String),
    /// Wait this long, then forward.
    Delay(Duration),
    /// Drop the connection without answering.
    Drop,
}

/// A rule: the next `times` calls of `operation` (e.g. `CreateAccountAssignment`) get the
/// fault.
#[derive(Debug, Clone)]
struct FaultRule {
    operation: String,
    fault: Fault,
    times: u32,
}

#[derive(Debug, Default)]
struct ProxyState {
    rules: Vec<FaultRule>,
    seen: Vec<String>,
    /// Chaos: the share of calls (per mille) answered with a throttle or a 503.
    chaos_per_mille: u32,
    rng: u64,
    injected: u64,
    /// When each Identity Center call arrived, for the rate figure.
    identity_center_calls: Vec<std::time::Instant>,
    creations_in_flight: u32,
    max_creations_in_flight: u32,
}

/// What a chaos run saw at the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChaosFigures {
    /// Calls answered with an injected fault.
    pub injected: u64,
    /// The most Identity Center calls in any one-second window.
    pub max_identity_center_calls_per_second: usize,
    /// The most `CreateAccountAssignment` calls in flight at once (at the proxy).
    pub max_creations_in_flight: u32,
}

/// A fault-injecting HTTP proxy in front of moto, for tests: it forwards every request and
/// injects the faults its rules name (throttling, conflicts, 5xx, asynchronous operations
/// still in progress or failed), recording the operations it saw. Test-only: nothing of it
/// ships in the binary.
#[derive(Debug)]
pub struct FaultProxy {
    /// The endpoint to give the SDK (`AWS_ENDPOINT_URL`).
    pub url: String,
    state: Arc<Mutex<ProxyState>>,
}

/// The AWS operation of a request: the JSON protocols' `X-Amz-Target`, or the query
/// protocol's `Action=`.
fn operation_of(headers: &axum::http::HeaderMap, body: &[u8]) -> String {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    std::str::from_utf8(body)
        .ok()
        .and_then(|b| b.split('&').find_map(|p| p.strip_prefix("Action=")))
        .unwrap_or("unknown")
        .to_owned()
}

/// Rewrites the status of an asynchronous Identity Center operation in a response body.
fn rewrite_status(body: &[u8], fault: &Fault) -> Option<Vec<u8>> {
    let mut json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = json.as_object_mut()?;
    let status = object
        .values_mut()
        .find(|v| v.get("Status").is_some())?
        .as_object_mut()?;
    match fault {
        Fault::InProgress => {
            status.insert("Status".to_owned(), serde_json::json!("IN_PROGRESS"));
        }
        Fault::FailedWith(reason) => {
            status.insert("Status".to_owned(), serde_json::json!("FAILED"));
            status.insert("FailureReason".to_owned(), serde_json::json!(reason));
        }
        _ => return None,
    }
    serde_json::to_vec(&json).ok()
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (a moto endpoint) on a free loopback port.
    pub fn start(upstream: &str) -> FaultProxy {
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port for the proxy");
        let addr = listener.local_addr().expect("its address");
        listener.set_nonblocking(true).expect("non-blocking");
        let shared = state.clone();
        let upstream = upstream.trim_end_matches('/').to_owned();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the proxy");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let client: hyper_util::client::legacy::Client<
                    hyper_util::client::legacy::connect::HttpConnector,
                    http_body_util::Full<bytes::Bytes>,
                > = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build_http();
                let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
                    let (state, client, upstream) =
                        (shared.clone(), client.clone(), upstream.clone());
                    async move { forward(state, client, &upstream, request).await }
                });
                let _ = axum::serve(listener, app).await;
            });
        });
        FaultProxy {
            url: format!("http://{addr}"),
            state,
        }
    }

    /// Injects `fault` into the next `times` calls of `operation`.
    pub fn inject(&self, operation: &str, fault: Fault, times: u32) {
        self.state
            .lock()
            .expect("proxy state")
            .rules
            .push(FaultRule {
                operation: operation.to_owned(),
                fault,
                times,
            });
    }

    /// Answers `per_mille` of all calls (chosen by a seeded generator) with a throttle or a
    /// 503, half each.
    pub fn chaos(&self, per_mille: u32, seed: u64) {
        let mut s = self.state.lock().expect("proxy state");
        s.chaos_per_mille = per_mille;
        s.rng = seed.max(1);
    }

    /// The chaos run's figures so far.
    pub fn figures(&self) -> ChaosFigures {
        let s = self.state.lock().expect("proxy state");
        let calls = &s.identity_center_calls;
        let mut max = 0;
        let mut start = 0;
        for (end, at) in calls.iter().enumerate() {
            while calls
                .get(start)
                .is_some_and(|first| at.duration_since(*first) >= Duration::from_secs(1))
            {
                start += 1;
            }
            max = max.max(end + 1 - start);
        }
        ChaosFigures {
            injected: s.injected,
            max_identity_center_calls_per_second: max,
            max_creations_in_flight: s.max_creations_in_flight,
        }
    }

    /// How many calls of `operation` went through the proxy.
    pub fn calls(&self, operation: &str) -> usize {
        self.state
            .lock()
            .expect("proxy state")
            .seen
            .iter()
            .filter(|s| *s == operation)
            .count()
    }
}

async fn forward(
    state: Arc<Mutex<ProxyState>>,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
    upstream: &str,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let operation = operation_of(&parts.headers, &body);
    let identity_center = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.starts_with("SWBExternalService.") || t.starts_with("AWSIdentityStore.")
        });
    let creation = operation == "CreateAccountAssignment";
    let fault = {
        let mut s = state.lock().expect("proxy state");
        s.seen.push(operation.clone());
        if identity_center {
            s.identity_center_calls.push(std::time::Instant::now());
        }
        let rule = s
            .rules
            .iter_mut()
            .find(|r| r.operation == operation && r.times > 0);
        let mut fault = rule.map(|r| {
            r.times -= 1;
            r.fault.clone()
        });
        if fault.is_none() && s.chaos_per_mille > 0 {
            // xorshift: reproducible from the seed.
            s.rng ^= s.rng << 13;
            s.rng ^= s.rng >> 7;
            s.rng ^= s.rng << 17;
            if s.rng % 1000 < u64::from(s.chaos_per_mille) {
                fault = Some(if s.rng.is_multiple_of(2) {
                    Fault::Throttle
                } else {
                    Fault::ServerError(503)
                });
            }
        }
        if fault.is_some() {
            s.injected += 1;
        } else if creation {
            s.creations_in_flight += 1;
            s.max_creations_in_flight = s.max_creations_in_flight.max(s.creations_in_flight);
        }
        fault
    };
    let error = |status: u16, kind: &str| {
        (
            axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_REQUEST),
            [
                ("x-amzn-errortype", kind.to_owned()),
                ("content-type", "application/x-amz-json-1.1".to_owned()),
            ],
            serde_json::json!({ "__type": kind, "message": format!("injected {kind}") })
                .to_string(),
        )
            .into_response()
    };
    match &fault {
        Some(Fault::Delay(wait)) => tokio::time::sleep(*wait).await,
        // A panic in a connection's task makes hyper close it without a response.
        Some(Fault::Drop) => panic!("fault proxy: dropping the connection (injected)"),
        Some(Fault::Throttle) => return error(400, "ThrottlingException"),
        Some(Fault::Conflict) => return error(409, "ConflictException"),
        Some(Fault::ServerError(status)) => return error(*status, "InternalServerException"),
        _ => {}
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", axum::http::uri::PathAndQuery::as_str);
    let mut forwarded = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if name != "host" {
            forwarded = forwarded.header(name, value);
        }
    }
    let Ok(forwarded) = forwarded.body(http_body_util::Full::new(body)) else {
        return error(500, "ProxyError");
    };
    let answered = client.request(forwarded).await;
    if creation {
        let mut s = state.lock().expect("proxy state");
        s.creations_in_flight = s.creations_in_flight.saturating_sub(1);
    }
    let Ok(response) = answered else {
        return error(502, "ProxyError");
    };
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let body = match &fault {
        Some(f @ (Fault::InProgress | Fault::FailedWith(_))) => {
            rewrite_status(&body, f).map_or(body, bytes::Bytes::from)
        }
        _ => body,
    };
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    *response.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if name != "content-length" && name != "transfer-encoding" {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}
