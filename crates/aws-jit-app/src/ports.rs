//! Ports: the traits the use cases need from the outside world (store, Identity Center,
//! clock). Adapters implement them; only the binary picks which. Nothing here names a
//! database, an SDK or an HTTP library.

use std::time::Duration;

use async_trait::async_trait;
use aws_jit_core::auth::ApiToken;
use aws_jit_core::web_session::{PendingSignIn, WebSession};
use aws_jit_core::{AuditEvent, Grant, GrantId, GrantStatus, UserEmail};
use jiff::Timestamp;

/// Time, injected so that tests can fix it.
#[async_trait]
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
    /// Waits (tests may advance a fixed clock instead).
    async fn sleep(&self, duration: Duration);
}

/// What to do with a target's lock in the same transaction as a grant change.
///
/// A target (see [`aws_jit_core::grant::target_key`]) is locked by the grant working on it
/// for as long as it talks to AWS, so two grants or revokes of one user's assignment never
/// interleave. The lock is a lease: a crashed holder's lock lapses at `lease_until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOp {
    /// Leave the lock as it is.
    Keep,
    /// Take (or renew) the lock for this grant until the instant given.
    Acquire(Timestamp),
    /// Give the lock up.
    Release,
    /// Neither hold nor take it: for changes that touch no AWS resource (an extension),
    /// serialized by the row version alone.
    Ignore,
}

/// A change to one grant, written atomically with its audit event and lock operation.
#[derive(Debug, Clone)]
pub struct GrantChange {
    /// The grant as it should be after the change (its `version` is the new version).
    pub grant: Grant,
    /// The version the stored row must still have (optimistic concurrency).
    pub expected_version: i64,
    /// The audit event recording the change, if any.
    pub event: Option<AuditEvent>,
    /// The lock operation.
    pub lock: LockOp,
    /// When a failed removal should next be tried.
    pub next_attempt_at: Option<Timestamp>,
    /// Notifications announcing the change, queued in the same transaction.
    pub outbox: Vec<OutboxMessage>,
    /// The lock holder making the change: one token per operation (not per grant), so a
    /// sweep that takes over a lapsed lock and the slow process it took over from are told
    /// apart. Every change requires the target's lock to be held by this token (lapsed or
    /// not, as long as nobody took it over).
    pub holder: String,
}

/// Who a notification goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A channel, and a thread in it.
    Channel {
        /// The channel id.
        channel: String,
        /// The thread's timestamp, to reply in it.
        thread_ts: Option<String>,
    },
    /// A person, by email (a direct message).
    Person {
        /// The email.
        email: String,
    },
}

/// A notification to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// The grant it is about.
    pub grant_id: String,
    /// Where it goes.
    pub recipient: Recipient,
    /// The message (JSON: `text` and `blocks`).
    pub body: String,
}

/// A queued notification, claimed for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingMessage {
    /// Its queue id.
    pub id: i64,
    /// The notification.
    pub message: OutboxMessage,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// Filters for listing grants.
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    /// Include ended grants (revoked, expired, failed).
    pub include_ended: bool,
    /// Only this user's (lowercase email).
    pub user: Option<String>,
    /// Only this access's (key).
    pub access: Option<String>,
    /// Only grants on this target.
    pub target_key: Option<String>,
    /// Only these statuses.
    pub statuses: Vec<GrantStatus>,
    /// At most this many (newest first); 0 means no limit.
    pub limit: usize,
    /// A page cursor: only grants listed after this one (its `requested_at` and id).
    pub after: Option<(Timestamp, String)>,
}

/// Filters for the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only events of this grant.
    pub grant_id: Option<String>,
    /// Only events about this user.
    pub user: Option<String>,
    /// Only events after this sequence number (a cursor).
    pub after_seq: Option<i64>,
    /// At most this many, oldest first; 0 means no limit.
    pub limit: usize,
}

/// Store failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another grant holds the target's lock.
    #[error("another change to the same assignment is in progress (grant `{holder}`)")]
    TargetBusy {
        /// The grant holding the lock.
        holder: String,
    },
    /// The operation's lock was taken over (its lease lapsed and another process took it).
    #[error("the lock on grant `{0}`'s assignment was taken over by another process")]
    LockLost(String),
    /// The row changed since it was read.
    #[error("grant `{0}` was changed by another process: try again")]
    Stale(String),
    /// The grant does not exist.
    #[error("no grant has id `{0}`")]
    NotFound(String),
    /// A unique name is taken.
    #[error("`{0}` already exists")]
    Duplicate(String),
    /// The backend failed.
    #[error("store: {message}")]
    Backend {
        /// What the backend said.
        message: String,
        /// The backend's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

/// The web UI's sessions and sign-ins in progress, kept in the same store as grants (so
/// that every replica sees them).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records a new session with its audit event (`web.signed_in`), first deleting
    /// sessions that have ended.
    async fn insert_session(
        &self,
        session: &WebSession,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// The live session whose secret hashes to `id_hash`.
    async fn session(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> Result<Option<WebSession>, StoreError>;

    /// Ends a session with its audit event (`web.signed_out`); `false` if there was none.
    async fn delete_session(&self, id_hash: &str, event: &AuditEvent) -> Result<bool, StoreError>;

    /// Records a sign-in in progress, first deleting those older than `lapsed_before`, and
    /// the oldest when [`MAX_PENDING_SIGN_INS`](aws_jit_core::web_session::MAX_PENDING_SIGN_INS)
    /// are in progress already; `true` when it was written.
    async fn insert_sign_in(
        &self,
        sign_in: &PendingSignIn,
        lapsed_before: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Takes (reads and deletes, at once) the sign-in with this `state`: a second take of
    /// the same state finds nothing.
    async fn take_sign_in(&self, state: &str) -> Result<Option<PendingSignIn>, StoreError>;
}

/// The pre-expiry warnings: each grant's users are warned once per expiry (an extended
/// grant is warned again before its new expiry), however many servers look.
#[async_trait]
pub trait WarningStore: Send + Sync {
    /// Active grants expiring after `now` and by `before` that have not been warned of
    /// that expiry, soonest first, at most `limit`.
    async fn expiring_unwarned(
        &self,
        now: Timestamp,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<Grant>, StoreError>;

    /// Records that `grant` was warned of its current expiry and queues `message` in the
    /// same transaction (none: recorded as warned, nothing sent); `false` when it already
    /// was (another server got there first) or the grant no longer is active with that
    /// expiry.
    async fn record_warning(
        &self,
        grant: &Grant,
        message: Option<&OutboxMessage>,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// Durable storage for grants, the audit log and small caches.
#[async_trait]
pub trait GrantStore: SessionStore + WarningStore + Send + Sync + std::fmt::Debug {
    /// Records a new grant, its first audit event and its notifications, taking the
    /// target's lock for `holder`.
    async fn insert_grant(
        &self,
        grant: &Grant,
        event: &AuditEvent,
        outbox: &[OutboxMessage],
        holder: &str,
        lease_until: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Applies a change atomically (row, audit event, lock).
    async fn apply(&self, change: &GrantChange, now: Timestamp) -> Result<(), StoreError>;

    /// One grant by id.
    async fn grant(&self, id: &GrantId) -> Result<Option<Grant>, StoreError>;

    /// Grants matching the filter, newest first.
    async fn grants(&self, filter: &GrantFilter) -> Result<Vec<Grant>, StoreError>;

    /// Work for a sweep at `now`: active grants past expiry, revocations due for a retry,
    /// and provisioning grants whose lock has lapsed (their process died). Oldest first.
    async fn due(&self, now: Timestamp, limit: usize) -> Result<Vec<Grant>, StoreError>;

    /// The earliest instant at which [`GrantStore::due`] will return something, if any.
    async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Waits until another process may have changed the grants (PostgreSQL: a `NOTIFY`
    /// sent in the same transaction as every change), or until `timeout`; returns whether
    /// a change was signalled. A backend that cannot tell (SQLite) just waits, and the
    /// caller's poll finds the change.
    async fn wait_for_change(&self, timeout: Duration) -> bool;

    /// How many grants are in each status.
    async fn count_by_status(&self) -> Result<Vec<(GrantStatus, i64)>, StoreError>;

    /// Appends an audit event that goes with no grant change (e.g. reconciliation).
    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// Audit events matching the query, oldest first.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;

    /// A cached value (markers, names), however old.
    async fn cache_get(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// A cached value stored at `since` or later (AWS lookups that may go stale: the
    /// instance, permission set ARNs).
    async fn cache_get_fresh(
        &self,
        key: &str,
        since: Timestamp,
    ) -> Result<Option<String>, StoreError>;

    /// Stores a cached value.
    async fn cache_put(&self, key: &str, value: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Forgets a cached value.
    async fn cache_delete(&self, key: &str) -> Result<(), StoreError>;

    /// Takes a target's lock for `holder` with no grant change (reconciliation's removals),
    /// or [`StoreError::TargetBusy`].
    async fn lock_target(
        &self,
        target_key: &str,
        holder: &str,
        lease_until: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Gives a target's lock up (if `holder` still has it).
    async fn unlock_target(&self, target_key: &str, holder: &str) -> Result<(), StoreError>;

    /// Claims up to `limit` notifications due at `now` for delivery until `lease_until`
    /// (another worker skips them meanwhile), oldest first.
    async fn claim_messages(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<PendingMessage>, StoreError>;

    /// Marks a notification delivered.
    async fn message_sent(&self, id: i64, now: Timestamp) -> Result<(), StoreError>;

    /// Records a failed delivery: retried at `retry_at`, or given up when `None`.
    async fn message_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// How many notifications are queued, and how many were given up.
    async fn outbox_counts(&self) -> Result<(i64, i64), StoreError>;

    /// Records a new API token with its audit event; a taken name is
    /// [`StoreError::Duplicate`].
    async fn insert_token(&self, token: &ApiToken, event: &AuditEvent) -> Result<(), StoreError>;

    /// A token by its public id (revoked ones included).
    async fn token(&self, id: &str) -> Result<Option<ApiToken>, StoreError>;

    /// Every token, oldest first.
    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// Revokes a live token by name with its audit event; `false` if there is none.
    async fn revoke_token(
        &self,
        name: &str,
        at: Timestamp,
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;
}

/// The Identity Center instance the tool works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `arn:aws:sso:::instance/ssoins-…`.
    pub arn: String,
    /// `d-…`.
    pub identity_store_id: String,
}

/// A user of the Identity Store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// The Identity Store user id.
    pub id: String,
    /// The user name (often an email).
    pub user_name: Option<String>,
    /// The emails, the primary one first.
    pub emails: Vec<String>,
}

/// One account assignment: a user holding a permission set on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The instance.
    pub instance_arn: String,
    /// The account.
    pub account_id: String,
    /// The permission set.
    pub permission_set_arn: String,
    /// The user's Identity Store id.
    pub principal_id: String,
}

/// How an AWS call failed, classified for retry and reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderErrorKind {
    /// The thing does not exist.
    NotFound,
    /// The thing exists already (e.g. a policy name is taken).
    AlreadyExists,
    /// The thing is still in use and cannot be deleted (e.g. a policy still attached).
    InUse,
    /// The tool's credentials may not do this.
    AccessDenied,
    /// AWS asked us to slow down (retryable).
    Throttled,
    /// A concurrent change is in progress (retryable).
    Conflict,
    /// AWS reported the asynchronous operation as failed.
    Failed,
    /// The operation did not finish within the polling budget.
    StillInProgress,
    /// Anything else (network, 5xx, unexpected answers).
    Other,
}

/// An AWS failure with its classification and the service's message.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct ProviderError {
    /// What kind of failure.
    pub kind: ProviderErrorKind,
    /// The AWS operation, e.g. `CreateAccountAssignment`.
    pub operation: &'static str,
    /// AWS's message (or the failure reason of an asynchronous operation).
    pub message: String,
    /// The SDK error.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// IAM Identity Center, as the use cases need it.
#[async_trait]
pub trait IdentityCenter: Send + Sync + std::fmt::Debug {
    /// Finds the instance (the first one; an organisation has one).
    async fn discover_instance(&self) -> Result<Instance, ProviderError>;

    /// Finds a user by email, case-insensitively, falling back to the user name.
    /// With `thorough`, a case-insensitive scan of every user follows the exact lookups;
    /// without it (for anonymous-ish callers such as Slack clickers), only exact lookups.
    async fn find_user(
        &self,
        instance: &Instance,
        email: &UserEmail,
        thorough: bool,
    ) -> Result<Option<String>, ProviderError>;

    /// What the directory knows of a user (by Identity Store id): every name they go by.
    async fn describe_user(
        &self,
        instance: &Instance,
        user_id: &str,
    ) -> Result<Option<DirectoryUser>, ProviderError>;

    /// Which of the named groups the user (by Identity Store id) belongs to.
    async fn member_of(
        &self,
        instance: &Instance,
        principal_id: &str,
        group_names: &[String],
    ) -> Result<Vec<String>, ProviderError>;

    /// Finds a permission set's ARN by name.
    async fn find_permission_set(
        &self,
        instance_arn: &str,
        name: &str,
    ) -> Result<Option<String>, ProviderError>;

    /// Whether the assignment exists now.
    async fn assignment_exists(&self, assignment: &Assignment) -> Result<bool, ProviderError>;

    /// Creates the assignment and waits (bounded) for AWS to report success or failure.
    async fn create_assignment(&self, assignment: &Assignment) -> Result<(), ProviderError>;

    /// Deletes the assignment and waits (bounded) for the outcome; absent counts as done.
    async fn delete_assignment(&self, assignment: &Assignment) -> Result<(), ProviderError>;

    /// Creates a permission set with its policies and provisions it to an account (waiting,
    /// bounded, for the provisioning); returns its ARN.
    async fn create_permission_set(
        &self,
        instance_arn: &str,
        spec: &PermissionSetSpec,
    ) -> Result<String, ProviderError>;

    /// A permission set's name and description, if it exists.
    async fn describe_permission_set(
        &self,
        instance_arn: &str,
        arn: &str,
    ) -> Result<Option<(String, String)>, ProviderError>;

    /// The users (principal ids) assigned a permission set on an account, now.
    async fn assigned_users(
        &self,
        instance_arn: &str,
        account_id: &str,
        permission_set_arn: &str,
    ) -> Result<Vec<String>, ProviderError>;

    /// Every permission set whose description starts with `marker_prefix`, as
    /// (ARN, name, description).
    async fn marked_permission_sets(
        &self,
        instance_arn: &str,
        marker_prefix: &str,
    ) -> Result<Vec<(String, String, String)>, ProviderError>;

    /// Deletes a permission set; absent counts as done.
    async fn delete_permission_set(
        &self,
        instance_arn: &str,
        arn: &str,
    ) -> Result<(), ProviderError>;
}

/// A permission set to create for one grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionSetSpec {
    /// Its deterministic name.
    pub name: String,
    /// Its description, carrying the ownership marker.
    pub description: String,
    /// Its session duration (ISO 8601, at most `PT12H`).
    pub session_duration: String,
    /// The inline policy (JSON), if any.
    pub inline_policy: Option<String>,
    /// AWS-managed policies to attach.
    pub managed_policies: Vec<String>,
    /// Tags identifying the grant.
    pub tags: Vec<(String, String)>,
    /// The account to provision it to.
    pub account_id: String,
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamUser {
    /// The user name.
    pub name: String,
    /// `arn:PARTITION:iam::ACCOUNT:user/PATH/NAME`.
    pub arn: String,
    /// The user's tags (key, value).
    pub tags: Vec<(String, String)>,
}

impl IamUser {
    /// The account id from the ARN.
    pub fn account_id(&self) -> Option<&str> {
        self.arn.split(':').nth(4)
    }

    /// The partition from the ARN (`aws`, `aws-us-gov`, `aws-cn`).
    pub fn partition(&self) -> Option<&str> {
        self.arn.split(':').nth(1)
    }

    /// Whether the user's `email` tag matches, case-insensitively.
    pub fn has_email_tag(&self, email: &UserEmail) -> bool {
        let wanted = email.normalized();
        self.tags
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("email") && v.trim().to_lowercase() == wanted)
    }
}

/// A customer-managed policy to create for one grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicy {
    /// Its deterministic name.
    pub name: String,
    /// Its path (`/aws-jit/`).
    pub path: String,
    /// The document (JSON).
    pub document: String,
    /// A description, also a marker of the tool's ownership.
    pub description: String,
    /// Tags identifying the grant.
    pub tags: Vec<(String, String)>,
}

/// A policy found under the tool's path, with its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPolicy {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// IAM, as the S3 use cases need it.
#[async_trait]
pub trait Iam: Send + Sync + std::fmt::Debug {
    /// The user with this name, with its tags.
    async fn get_user(&self, name: &str) -> Result<Option<IamUser>, ProviderError>;

    /// Every user whose `email` tag matches (lists every user: the slow path).
    async fn scan_users_by_email(&self, email: &UserEmail) -> Result<Vec<IamUser>, ProviderError>;

    /// Whether a policy with this ARN exists.
    async fn policy_exists(&self, arn: &str) -> Result<bool, ProviderError>;

    /// Whether the policy is attached to the user.
    async fn policy_attached(&self, user: &str, policy_arn: &str) -> Result<bool, ProviderError>;

    /// Creates a policy; returns its ARN.
    async fn create_policy(&self, policy: &NewPolicy) -> Result<String, ProviderError>;

    /// Attaches a policy to a user.
    async fn attach_policy(&self, user: &str, policy_arn: &str) -> Result<(), ProviderError>;

    /// Detaches a policy from a user; not attached counts as done.
    async fn detach_policy(&self, user: &str, policy_arn: &str) -> Result<(), ProviderError>;

    /// Deletes a generated policy (detaching it from any other entity first); absent
    /// counts as done.
    async fn delete_policy(&self, policy_arn: &str) -> Result<(), ProviderError>;

    /// Every policy under `path`, with its tags.
    async fn policies_under(&self, path: &str) -> Result<Vec<FoundPolicy>, ProviderError>;

    /// The account and partition of the tool's own credentials.
    async fn caller_account(&self) -> Result<(String, String), ProviderError>;

    /// The alias of the tool's own account, if it has one.
    async fn account_alias(&self) -> Result<Option<String>, ProviderError>;
}

/// A failed delivery.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    /// What went wrong.
    pub message: String,
    /// How long the service asked us to wait (rate limiting).
    pub retry_after: Option<Duration>,
    /// Whether retrying cannot help (e.g. no such user).
    pub permanent: bool,
}

/// A chat platform's user, as a click's decision needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatUser {
    /// Their email (the profile's).
    pub email: Option<String>,
    /// Their workspace.
    pub team_id: Option<String>,
    /// Deactivated.
    pub deleted: bool,
    /// A guest (single- or multi-channel), or a bot: not a member who may decide.
    pub guest: bool,
    /// From another organisation (a shared channel).
    pub external: bool,
}

/// The chat platform (Slack): delivers notifications and answers interactions.
#[async_trait]
pub trait Messenger: Send + Sync + std::fmt::Debug {
    /// Sends one message (`body`: JSON with `text` and `blocks`).
    async fn deliver(&self, recipient: &Recipient, body: &str) -> Result<(), DeliveryError>;

    /// Who a platform user is (who clicked a button): their email and standing.
    async fn person(&self, user_id: &str) -> Result<ChatUser, DeliveryError>;

    /// Answers an interaction through the URL the platform gave with it (`body`: JSON).
    async fn respond(&self, response_url: &str, body: &str) -> Result<(), DeliveryError>;

    /// Shows a view (`view`: JSON): a modal opened or updated, or a person's Home tab.
    async fn show_view(&self, place: ViewPlace<'_>, view: &str) -> Result<(), DeliveryError>;
}

/// Where a view goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewPlace<'a> {
    /// A new modal, for the trigger of a command or click (valid for three seconds).
    Open {
        /// The trigger id.
        trigger_id: &'a str,
    },
    /// An open modal, replaced.
    Update {
        /// The modal's id.
        view_id: &'a str,
    },
    /// A person's Home tab.
    Home {
        /// Their platform user id.
        user_id: &'a str,
    },
}
