//! moto in server mode, one per test process (started on a free loopback port), and
//! helpers that seed and inspect it through the real SDK.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_identitystore::types::{Email, Name};

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
    /// The SDK configuration pointed at it (for more clients).
    pub sdk: aws_config::SdkConfig,
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
            sdk,
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
