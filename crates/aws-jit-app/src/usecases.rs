//! The grant, revoke and sweep use cases.
//!
//! Each is a sequence of store transactions around AWS calls, written so that a crash
//! between any two steps leaves a record from which [`Jit::sweep`] finishes or undoes the
//! work. The sweep never sleeps on its own: the caller (cron, or the server's runner)
//! decides when to call it.

use std::sync::Arc;
use std::time::Duration;

use aws_jit_core::approval::{self, Route};
use aws_jit_core::config::ApprovalPolicy;
use aws_jit_core::duration::{EffectiveDuration, effective_duration};
use aws_jit_core::grant::NewGrant;
use aws_jit_core::{
    Access, AccessDuration, AccessOrigin, AccessTarget, AuditAction, AuditEvent, EndCause, Grant,
    GrantEvent, GrantId, GrantStatus, UserEmail,
};
use jiff::Timestamp;

use aws_jit_core::config::{EphemeralPolicy, MAX_INLINE_POLICY_CHARS};
use aws_jit_core::policy::{
    BuiltinTemplate, GENERATED_POLICY_PATH, PolicyError, ephemeral_permission_set_name,
    generated_policy_name, ownership_marker, render_s3_policy,
};

use crate::ports::{
    Assignment, AuditQuery, Clock, GrantChange, GrantFilter, GrantStore, Iam, IamUser,
    IdentityCenter, Instance, LockOp, Messenger, NewPolicy, OutboxMessage, PermissionSetSpec,
    ProviderError, ProviderErrorKind, Recipient, StoreError,
};

/// The tag naming the grant on everything the tool creates in AWS.
pub const TAG_GRANT: &str = "aws-jit:grant-id";

/// What a grant changes in AWS.
#[derive(Debug, Clone)]
enum AwsTarget {
    /// An Identity Center account assignment.
    Assignment(Assignment),
    /// An existing policy attached to an IAM user (never deleted).
    Attachment { user: String, policy_arn: String },
    /// A policy generated for this grant alone, created, attached, and deleted at the end.
    GeneratedPolicy { user: String, policy: NewPolicy },
    /// A permission set created for this grant alone, assigned, and deleted at the end.
    /// `assignment.permission_set_arn` is empty until the set exists.
    EphemeralPermissionSet {
        assignment: Assignment,
        spec: PermissionSetSpec,
    },
}

impl AwsTarget {
    fn created(&self) -> &'static str {
        match self {
            AwsTarget::Assignment(_) => "assignment created",
            AwsTarget::Attachment { .. } => "policy attached",
            AwsTarget::GeneratedPolicy { .. } => "policy generated and attached",
            AwsTarget::EphemeralPermissionSet { .. } => {
                "permission set created, provisioned and assigned"
            }
        }
    }
}

/// One operation (a grant, or the ending of one): who acts, and the token it holds the
/// target's lock with.
#[derive(Debug, Clone)]
struct Op {
    actor: String,
    holder: String,
}

/// A grant about to be recorded: its numbers and its AWS identifiers.
#[derive(Debug)]
struct Prepared {
    duration: EffectiveDuration,
    id: GrantId,
    now: Timestamp,
    expires_at: Timestamp,
    resolved: Resolved,
}

/// The AWS identifiers a grant needs, resolved before anything is recorded.
#[derive(Debug)]
struct Resolved {
    principal_id: Option<String>,
    instance_arn: Option<String>,
    permission_set_arn: Option<String>,
    iam_user: Option<String>,
    policy_arn: Option<String>,
    target: AwsTarget,
}

/// Tunables of the use cases.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `MAX_DURATION`: a cap on every grant, below each access's own maximum.
    pub global_max: Option<AccessDuration>,
    /// How long a target lock is held before it lapses (crash safety).
    pub lock_lease: Duration,
    /// How long to wait for a busy target before giving up.
    pub lock_wait: Duration,
    /// First retry delay after a failed revocation; doubles up to `retry_max`.
    pub retry_base: Duration,
    /// Longest retry delay after failed revocations.
    pub retry_max: Duration,
    /// A configured instance, skipping discovery.
    pub instance: Option<Instance>,
    /// Whether `sweep` also looks for generated policies left behind (S3 accesses exist).
    pub scan_generated_policies: bool,
    /// Whether `sweep` also looks for per-grant permission sets left behind.
    pub scan_ephemeral_permission_sets: bool,
    /// Where notifications go; `None` queues none.
    pub notify: Option<NotifySettings>,
}

/// Where notifications go (Slack): grants to the request thread and the channel, ends to
/// the user's direct messages.
#[derive(Debug, Clone, Default)]
pub struct NotifySettings {
    /// `SLACK_CHANNEL_ID`.
    pub channel: Option<String>,
    /// `SLACK_THREAD_TS`: the request's thread.
    pub thread_ts: Option<String>,
    /// What the granted message points at.
    pub instructions: aws_jit_core::slack::Instructions,
    /// `AWS_JIT_SLACK_ADMIN_CHANNEL`: where failed revocations are raised.
    pub admin_channel: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            global_max: None,
            // Longer than the worst single AWS operation (status polling is bounded at
            // two minutes); renewed before each change in AWS.
            lock_lease: Duration::from_secs(300),
            lock_wait: Duration::from_secs(30),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
            instance: None,
            scan_generated_policies: false,
            scan_ephemeral_permission_sets: false,
            notify: None,
        }
    }
}

/// What went wrong, as the CLI and HTTP layers need to tell it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// No Identity Center user has this email (or user name).
    #[error("no IAM Identity Center user has the email or user name `{0}`")]
    UnknownUser(String),
    /// No IAM user has this name or `email` tag.
    #[error("no IAM user is named `{0}` or has it as its `email` tag")]
    UnknownIamUser(String),
    /// The policy named by an S3 access's template does not exist.
    #[error(
        "policy `{0}` does not exist (neither customer-managed in the account nor AWS-managed)"
    )]
    UnknownPolicy(String),
    /// The policy cannot be generated.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The permission set named by the access does not exist.
    #[error("permission set `{0}` does not exist in the IAM Identity Center instance")]
    UnknownPermissionSet(String),
    /// The grant does not exist.
    #[error("no grant has id `{0}`")]
    GrantNotFound(String),
    /// The user has no live grant of the access.
    #[error("`{user}` has no active grant of `{access}`")]
    NoActiveGrant {
        /// The user.
        user: String,
        /// The access key.
        access: String,
    },
    /// The grant has already ended.
    #[error("grant `{id}` has already ended ({status})")]
    AlreadyEnded {
        /// The grant.
        id: String,
        /// Its terminal status.
        status: GrantStatus,
    },
    /// A status change the lifecycle does not allow (a bug or a concurrent change).
    #[error(transparent)]
    InvalidTransition(#[from] aws_jit_core::grant::TransitionError),
    /// AWS failed.
    #[error("AWS: {0}")]
    Provider(#[from] ProviderError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The grant was recorded, but AWS refused to provision it; nothing is left in AWS.
    #[error("grant `{id}` failed: {source}")]
    ProvisioningFailed {
        /// The grant.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// The caller may not do this (approval rules, break-glass, a required reason).
    #[error("{0}")]
    NotAllowed(String),
    /// The request is not waiting for approval.
    #[error("request `{id}` is {status}, not waiting for approval")]
    NotPending {
        /// The grant.
        id: String,
        /// Its status.
        status: GrantStatus,
    },
    /// The grant is not active (extensions need an active grant).
    #[error("grant `{id}` is {status}, not active")]
    NotActive {
        /// The grant.
        id: String,
        /// Its status.
        status: GrantStatus,
    },
    /// The grant cannot be extended.
    #[error("grant `{id}` cannot be extended: {why}")]
    CannotExtend {
        /// The grant.
        id: String,
        /// Why.
        why: String,
    },
    /// Removal failed; the grant stays due and a sweep retries it.
    #[error("revoking grant `{id}` failed, it stays due and `aws-jit sweep` will retry: {source}")]
    RevokeFailed {
        /// The grant.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
}

/// A grant request, validated by the caller.
#[derive(Debug, Clone)]
pub struct GrantRequest<'a> {
    /// What to grant.
    pub access: &'a Access,
    /// To whom.
    pub user: UserEmail,
    /// Who asks (the user, or an operator).
    pub requested_by: String,
    /// How long; `None` means the access's maximum.
    pub duration: Option<AccessDuration>,
    /// Why.
    pub reason: Option<String>,
    /// Skip approval in an emergency (the access must allow it; a reason is required).
    pub break_glass: bool,
}

/// What a grant did.
#[derive(Debug, Clone)]
pub struct GrantOutcome {
    /// The active grant.
    pub grant: Grant,
    /// The duration granted, and what was asked if it was capped.
    pub duration: EffectiveDuration,
    /// Whether the assignment was created now, or already there.
    pub origin: AccessOrigin,
}

/// One assignment that differs from what the store says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The access's key.
    pub access: String,
    /// The account.
    pub account_id: String,
    /// The permission set's name.
    pub permission_set: String,
    /// The Identity Store user id.
    pub principal_id: String,
    /// The user's email, when a grant names it.
    pub user: Option<String>,
    /// The grant concerned, if any.
    pub grant_id: Option<String>,
}

/// What `reconcile` found (and, with `fix`, removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Assignments the tool created whose grants have all ended: they should be gone.
    pub lingering: Vec<Drift>,
    /// Assignments no grant accounts for (standing access).
    pub unmanaged: Vec<Drift>,
    /// Active grants whose assignment is missing in AWS.
    pub missing: Vec<Drift>,
    /// Assignments removed by this run.
    pub removed: Vec<Drift>,
}

/// What a grant would do (`aws-jit plan`).
#[derive(Debug, Clone)]
pub struct Plan {
    /// The access's key.
    pub access: String,
    /// The user.
    pub user: String,
    /// The duration it would get.
    pub duration: EffectiveDuration,
    /// When it would end (if granted now).
    pub expires_at: Timestamp,
    /// The AWS changes, in order, in words.
    pub changes: Vec<String>,
    /// The generated policy document, when there is one.
    pub policy_document: Option<String>,
}

/// What a revoke did.
#[derive(Debug, Clone)]
pub struct RevokeOutcome {
    /// The ended grant.
    pub grant: Grant,
    /// Set when the AWS access was left in place, with the reason.
    pub kept: Option<String>,
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Grants ended at expiry.
    pub expired: Vec<String>,
    /// Revocations finished (requested earlier, interrupted or failed).
    pub revoked: Vec<String>,
    /// Interrupted grants undone.
    pub undone: Vec<String>,
    /// Grants whose removal failed again (with the error), still due.
    pub failed: Vec<(String, String)>,
    /// Grants skipped because another process is working on them.
    pub busy: Vec<String>,
    /// Generated policies and per-grant permission sets of ended grants that were still in
    /// AWS, now deleted.
    pub orphans_removed: Vec<String>,
    /// Policies under the tool's path, or permission sets with the tool's marker, that no
    /// grant in this store accounts for: reported, never touched (another installation may
    /// own them).
    pub orphans_unknown: Vec<String>,
}

/// How finishing one due grant went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueOutcome {
    /// Ended at expiry.
    Expired,
    /// A revocation finished.
    Revoked,
    /// An interrupted grant was undone.
    Undone,
    /// Removal failed again; still due.
    Failed(String),
    /// Another process holds it.
    Busy,
    /// Already ended meanwhile.
    Nothing,
}

impl SweepReport {
    /// Adds one grant's outcome.
    pub fn record(&mut self, id: String, outcome: DueOutcome) {
        match outcome {
            DueOutcome::Expired => self.expired.push(id),
            DueOutcome::Revoked => self.revoked.push(id),
            DueOutcome::Undone => self.undone.push(id),
            DueOutcome::Failed(error) => self.failed.push((id, error)),
            DueOutcome::Busy => self.busy.push(id),
            DueOutcome::Nothing => {}
        }
    }
}

/// The actor name for work the tool does by itself.
pub fn system_actor(task: &str) -> String {
    format!("system:{task}")
}

const CACHE_INSTANCE: &str = "sso.instance";

fn permission_set_cache_key(instance: &Instance, name: &str) -> String {
    format!("sso.permission_set:{}:{}", instance.arn, name)
}

/// The use cases, over their ports.
#[derive(Debug, Clone)]
pub struct Jit {
    store: Arc<dyn GrantStore>,
    sso: Arc<dyn IdentityCenter>,
    iam: Arc<dyn Iam>,
    clock: Arc<dyn Clock>,
    settings: Settings,
}

impl Jit {
    /// Wires the use cases.
    pub fn new(
        store: Arc<dyn GrantStore>,
        sso: Arc<dyn IdentityCenter>,
        iam: Arc<dyn Iam>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        Jit {
            store,
            sso,
            iam,
            clock,
            settings,
        }
    }

    /// The settings, to adjust after wiring.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// The current time, from the injected clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The store, for queries.
    pub fn store(&self) -> &Arc<dyn GrantStore> {
        &self.store
    }

    fn lease_until(&self, now: Timestamp) -> Timestamp {
        now.checked_add(self.settings.lock_lease).unwrap_or(now)
    }

    /// The Identity Center instance: configured, cached in the store, or discovered.
    pub async fn instance(&self) -> Result<Instance, AppError> {
        if let Some(instance) = &self.settings.instance {
            return Ok(instance.clone());
        }
        if let Some(cached) = self.store.cache_get(CACHE_INSTANCE).await?
            && let Some((arn, id)) = cached.split_once('|')
        {
            return Ok(Instance {
                arn: arn.to_owned(),
                identity_store_id: id.to_owned(),
            });
        }
        let instance = self.sso.discover_instance().await?;
        let value = format!("{}|{}", instance.arn, instance.identity_store_id);
        self.store
            .cache_put(CACHE_INSTANCE, &value, self.clock.now())
            .await?;
        Ok(instance)
    }

    /// Forgets cached AWS lookups (after AWS said a cached id no longer exists).
    async fn forget_cached(&self, access: &Access) -> Result<(), AppError> {
        if let AccessTarget::IdentityCenter { permission_set, .. } = &access.target {
            let instance = self.instance().await?;
            self.store.cache_delete(CACHE_INSTANCE).await?;
            self.store
                .cache_delete(&permission_set_cache_key(
                    &instance,
                    permission_set.as_str(),
                ))
                .await?;
        }
        Ok(())
    }

    /// A permission set's ARN by name, cached in the store.
    pub async fn permission_set_arn(
        &self,
        instance: &Instance,
        name: &str,
    ) -> Result<String, AppError> {
        let key = permission_set_cache_key(instance, name);
        if let Some(arn) = self.store.cache_get(&key).await? {
            return Ok(arn);
        }
        let arn = self
            .sso
            .find_permission_set(&instance.arn, name)
            .await?
            .ok_or_else(|| AppError::UnknownPermissionSet(name.to_owned()))?;
        self.store.cache_put(&key, &arn, self.clock.now()).await?;
        Ok(arn)
    }

    /// Checks that the access's AWS resources exist (for `validate` without `--offline`).
    pub async fn check_access(&self, access: &Access) -> Result<(), AppError> {
        match &access.target {
            AccessTarget::IdentityCenter { permission_set, .. } => {
                let instance = self.instance().await?;
                self.permission_set_arn(&instance, permission_set.as_str())
                    .await
                    .map(drop)
            }
            AccessTarget::EphemeralPermissionSet { .. } => self.instance().await.map(drop),
            AccessTarget::S3 {
                policy_template, ..
            } => {
                if BuiltinTemplate::parse(policy_template).is_some() {
                    return Ok(());
                }
                let (account, partition) = self.iam.caller_account().await?;
                self.existing_policy_arn(policy_template, &account, &partition)
                    .await
                    .map(drop)
            }
        }
    }

    /// Runs a store write that takes a target lock, retrying while another process holds
    /// it, for at most `lock_wait`. `write` gets the current time.
    async fn wait_for_target<T, F, Fut>(&self, mut write: F) -> Result<T, AppError>
    where
        F: FnMut(Timestamp) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let started = self.clock.now();
        let mut delay = Duration::from_millis(50);
        loop {
            let now = self.clock.now();
            match write(now).await {
                Err(StoreError::TargetBusy { .. })
                    if now.duration_since(started).unsigned_abs() < self.settings.lock_wait =>
                {
                    self.clock.sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                other => return other.map_err(AppError::from),
            }
        }
    }

    /// Inserts the grant, taking its target's lock for the operation `op`.
    async fn insert_locked(
        &self,
        grant: &Grant,
        event: &AuditEvent,
        outbox: &[OutboxMessage],
        op: &Op,
    ) -> Result<(), AppError> {
        // A request waiting for approval touches no AWS resource: it takes the lock only
        // to check that nobody is mid-change on the target, and lets it lapse at once.
        let hold = grant.status != GrantStatus::Pending;
        self.wait_for_target(|now| {
            let lease = if hold { self.lease_until(now) } else { now };
            self.store
                .insert_grant(grant, event, outbox, &op.holder, lease, now)
        })
        .await
    }

    /// Applies a change that takes the target's lock.
    async fn apply_locked(&self, change: GrantChange) -> Result<Grant, AppError> {
        self.wait_for_target(|now| {
            let change = GrantChange {
                lock: LockOp::Acquire(self.lease_until(now)),
                ..change.clone()
            };
            async move {
                self.store.apply(&change, now).await?;
                Ok(change.grant)
            }
        })
        .await
    }

    /// A new operation by `actor`, with its own lock-holder token.
    fn op(&self, actor: &str) -> Op {
        Op {
            actor: actor.to_owned(),
            holder: new_grant_id(self.clock.now()),
        }
    }

    fn event(&self, grant: &Grant, actor: &str, action: AuditAction, detail: String) -> AuditEvent {
        AuditEvent {
            seq: 0,
            time: self.clock.now(),
            actor: actor.to_owned(),
            action,
            grant_id: grant.id.to_string(),
            access: grant.access.clone(),
            user: grant.user.clone(),
            detail,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    /// Writes `next` (a modified copy of `current`) with an audit event, as operation `op`
    /// (which must still hold the target's lock).
    async fn write(
        &self,
        op: &Op,
        current: &Grant,
        next: Grant,
        event: Option<AuditEvent>,
        lock: LockOp,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<Grant, AppError> {
        self.write_with(
            op,
            current,
            next,
            event,
            (lock, next_attempt_at),
            Vec::new(),
        )
        .await
    }

    /// [`Jit::write`], queueing notifications in the same transaction.
    async fn write_with(
        &self,
        op: &Op,
        current: &Grant,
        mut next: Grant,
        event: Option<AuditEvent>,
        (lock, next_attempt_at): (LockOp, Option<Timestamp>),
        outbox: Vec<OutboxMessage>,
    ) -> Result<Grant, AppError> {
        next.version = current.version + 1;
        let change = GrantChange {
            grant: next,
            expected_version: current.version,
            event,
            lock,
            next_attempt_at,
            outbox,
            holder: op.holder.clone(),
        };
        self.store.apply(&change, self.clock.now()).await?;
        Ok(change.grant)
    }

    /// Grants an access: resolve, record, create the access in AWS, activate.
    #[tracing::instrument(skip_all, fields(access = %request.access.key, user = %request.user))]
    pub async fn grant(&self, request: GrantRequest<'_>) -> Result<GrantOutcome, AppError> {
        let access = request.access;
        let route = approval::route(
            access,
            &request.user.normalized(),
            request.break_glass,
            request.reason.as_deref(),
        )
        .map_err(|r| AppError::NotAllowed(r.0))?;
        if let Route::NeedsApproval(policy) = route {
            return self.request_approval(request, policy).await;
        }
        let request = if route == Route::BreakGlass {
            // Short by design: the access's break-glass maximum.
            let cap = access.break_glass_duration.min(access.session_duration);
            GrantRequest {
                duration: Some(request.duration.map_or(cap, |d| d.min(cap))),
                ..request
            }
        } else {
            request
        };
        let Prepared {
            duration,
            id,
            now,
            expires_at,
            resolved,
        } = self.prepare(&request).await?;
        let grant = NewGrant {
            id,
            access,
            user: &request.user,
            requested_by: &request.requested_by,
            principal_id: resolved.principal_id.clone(),
            instance_arn: resolved.instance_arn.clone(),
            permission_set_arn: resolved.permission_set_arn.clone(),
            iam_user: resolved.iam_user.clone(),
            policy_arn: resolved.policy_arn.clone(),
            reason: request.reason.clone(),
            now,
            expires_at,
        }
        .into_grant();
        let mut detail = format!("duration {}", duration.duration);
        if let Some(asked) = duration.capped_from {
            detail.push_str(&format!(" (capped from {asked})"));
        }
        if let Some(reason) = &request.reason {
            detail.push_str(&format!("; reason: {reason}"));
        }
        let (action, outbox) = match route {
            Route::BreakGlass => (AuditAction::BreakGlass, self.break_glass_alert(&grant)),
            Route::AutoApproved => {
                detail.push_str("; auto-approved");
                (AuditAction::GrantRequested, Vec::new())
            }
            _ => (AuditAction::GrantRequested, Vec::new()),
        };
        let requested = self.event(&grant, &request.requested_by, action, detail);
        self.finish_interrupted(&grant.target_key).await?;
        let op = self.op(&request.requested_by);
        self.insert_locked(&grant, &requested, &outbox, &op).await?;
        failpoint("grant.recorded");

        match self.provision(&grant, access, &resolved.target, &op).await {
            Ok((grant, origin)) => Ok(GrantOutcome {
                grant,
                duration,
                origin,
            }),
            Err(e) => {
                if matches!(&e, AppError::ProvisioningFailed { source, .. } if source.kind == ProviderErrorKind::NotFound)
                {
                    // A cached id may be stale (e.g. the permission set was recreated).
                    self.forget_cached(access).await?;
                }
                Err(e)
            }
        }
    }

    /// Records a request that waits for approval: resolved now (so an unknown user or
    /// permission set is refused at once), nothing changed in AWS, lapsing at the access's
    /// `approval_timeout`.
    async fn request_approval(
        &self,
        request: GrantRequest<'_>,
        policy: &ApprovalPolicy,
    ) -> Result<GrantOutcome, AppError> {
        let access = request.access;
        let Prepared {
            duration,
            id,
            now,
            resolved,
            ..
        } = self.prepare(&request).await?;
        let deadline = now
            .saturating_add(policy.timeout.to_signed())
            .unwrap_or(now);
        let mut grant = NewGrant {
            id,
            access,
            user: &request.user,
            requested_by: &request.requested_by,
            principal_id: resolved.principal_id.clone(),
            instance_arn: resolved.instance_arn.clone(),
            permission_set_arn: resolved.permission_set_arn.clone(),
            iam_user: resolved.iam_user.clone(),
            policy_arn: resolved.policy_arn.clone(),
            reason: request.reason.clone(),
            now,
            expires_at: deadline,
        }
        .into_grant();
        grant.status = GrantStatus::Pending;
        grant.requested_duration = Some(duration.duration);
        let mut detail = format!(
            "waiting for {} approval{} from {}; duration {}; lapses at {}",
            policy.required,
            if policy.required == 1 { "" } else { "s" },
            policy.approvers.join(", "),
            duration.duration,
            whole_seconds(deadline)
        );
        if let Some(reason) = &request.reason {
            detail.push_str(&format!("; reason: {reason}"));
        }
        let event = self.event(
            &grant,
            &request.requested_by,
            AuditAction::ApprovalRequested,
            detail,
        );
        let outbox = self.approval_requested_messages(&grant, policy);
        let op = self.op(&request.requested_by);
        self.insert_locked(&grant, &event, &outbox, &op).await?;
        Ok(GrantOutcome {
            grant,
            duration,
            origin: AccessOrigin::Unknown,
        })
    }

    /// Who approved a pending request so far (distinct people, from the audit log).
    async fn approvals_so_far(&self, grant: &Grant) -> Result<Vec<String>, AppError> {
        let events = self
            .store
            .audit(&AuditQuery {
                grant_id: Some(grant.id.to_string()),
                ..AuditQuery::default()
            })
            .await?;
        let mut people: Vec<String> = events
            .into_iter()
            .filter(|e| e.action == AuditAction::Approved)
            .map(|e| e.actor)
            .collect();
        people.dedup();
        Ok(people)
    }

    /// Whether `approver` may decide on the request: never the person it is for nor the
    /// person who asked, a listed approver or a member of an approver group, and not twice.
    async fn check_approver(
        &self,
        access: &Access,
        grant: &Grant,
        approver: &str,
        approved_by: &[String],
    ) -> Result<(), AppError> {
        if approval::requesting_person(&grant.requested_by).as_deref() == Some(approver) {
            return Err(AppError::NotAllowed(
                "you may not approve or deny a request you made".to_owned(),
            ));
        }
        let listed = access
            .approval
            .as_ref()
            .is_some_and(|p| p.approvers.iter().any(|a| a == approver));
        // Identity Center is asked only when the list does not already say yes.
        let in_group = !listed && self.in_approver_group(access, approver).await?;
        approval::check_approver(access, &grant.user, approver, in_group, approved_by)
            .map_err(|r| AppError::NotAllowed(r.0))
    }

    /// Whether the person belongs to one of the access's approver groups (Identity Center).
    async fn in_approver_group(&self, access: &Access, person: &str) -> Result<bool, AppError> {
        let Some(policy) = access.approval.as_ref().filter(|p| !p.groups.is_empty()) else {
            return Ok(false);
        };
        let Ok(email) = UserEmail::parse(person) else {
            return Ok(false);
        };
        let instance = self.instance().await?;
        let Some(principal_id) = self.sso.find_user(&instance, &email).await? else {
            return Ok(false); // not in the directory: not in any of its groups
        };
        let groups = self
            .sso
            .member_of(&instance, &principal_id, &policy.groups)
            .await?;
        Ok(!groups.is_empty())
    }

    /// A pending request, or why it cannot be decided on.
    async fn pending(&self, id: &GrantId) -> Result<Grant, AppError> {
        let grant = self
            .store
            .grant(id)
            .await?
            .ok_or_else(|| AppError::GrantNotFound(id.to_string()))?;
        if grant.status != GrantStatus::Pending {
            return Err(AppError::NotPending {
                id: id.to_string(),
                status: grant.status,
            });
        }
        if grant.expires_at <= self.clock.now() {
            // Past its deadline: lapsed, even if no worker has closed it yet.
            let detail = "nobody decided before the approval deadline".to_owned();
            let closed = self
                .close(
                    grant,
                    &system_actor("approval"),
                    AuditAction::Lapsed,
                    detail,
                )
                .await?;
            return Err(AppError::NotPending {
                id: id.to_string(),
                status: closed.status,
            });
        }
        Ok(grant)
    }

    /// Approves a pending request as `approver`; once enough distinct approvers have, the
    /// access is granted (for the duration asked, from now). Returns the grant: still
    /// pending, or active.
    #[tracing::instrument(skip_all, fields(grant_id = %id))]
    pub async fn approve(
        &self,
        id: &GrantId,
        access: &Access,
        approver: &UserEmail,
        reason: Option<String>,
    ) -> Result<Grant, AppError> {
        let grant = self.pending(id).await?;
        let approver = approver.normalized();
        let approved_by = self.approvals_so_far(&grant).await?;
        self.check_approver(access, &grant, &approver, &approved_by)
            .await?;
        let Some(policy) = &access.approval else {
            return Err(AppError::NotAllowed(format!(
                "`{}` needs no approval",
                access.key
            )));
        };
        let count = approved_by.len() + 1;
        let mut detail = format!("approval {count} of {}", policy.required);
        if let Some(reason) = &reason {
            detail.push_str(&format!("; reason: {reason}"));
        }
        let event = self.event(&grant, &approver, AuditAction::Approved, detail);
        if !approval::quorum(policy, count) {
            let mut next = grant.clone();
            next.version = grant.version + 1;
            self.store
                .apply(
                    &GrantChange {
                        grant: next.clone(),
                        expected_version: grant.version,
                        event: Some(event),
                        lock: LockOp::Ignore,
                        next_attempt_at: None,
                        outbox: Vec::new(),
                        holder: String::new(),
                    },
                    self.clock.now(),
                )
                .await?;
            return Ok(next);
        }
        // Enough: grant it for the duration asked, counted from now.
        let duration = effective_duration(
            grant.requested_duration,
            access.session_duration,
            self.settings.global_max,
        );
        let now = self.clock.now();
        let expires_at = now
            .saturating_add(duration.duration.to_signed())
            .unwrap_or(now);
        let user =
            UserEmail::parse(&grant.user).map_err(|_| AppError::UnknownUser(grant.user.clone()))?;
        let resolved = self.resolve(access, &user, &grant.id, expires_at).await?;
        let mut next = grant.clone();
        next.status = grant.status.apply(GrantEvent::Approved, None)?;
        next.expires_at = expires_at;
        next.principal_id.clone_from(&resolved.principal_id);
        next.instance_arn.clone_from(&resolved.instance_arn);
        next.permission_set_arn
            .clone_from(&resolved.permission_set_arn);
        next.iam_user.clone_from(&resolved.iam_user);
        next.policy_arn.clone_from(&resolved.policy_arn);
        next.version = grant.version + 1;
        self.finish_interrupted(&grant.target_key).await?;
        let op = self.op(&approver);
        let provisioning = self
            .apply_locked(GrantChange {
                grant: next,
                expected_version: grant.version,
                event: Some(event),
                lock: LockOp::Keep,
                next_attempt_at: None,
                outbox: Vec::new(),
                holder: op.holder.clone(),
            })
            .await?;
        let (active, _) = self
            .provision(&provisioning, access, &resolved.target, &op)
            .await?;
        Ok(active)
    }

    /// Denies a pending request as `approver`; it ends (`approval.denied`) and the
    /// requester is told.
    #[tracing::instrument(skip_all, fields(grant_id = %id))]
    pub async fn deny(
        &self,
        id: &GrantId,
        access: &Access,
        approver: &UserEmail,
        reason: Option<String>,
    ) -> Result<Grant, AppError> {
        let grant = self.pending(id).await?;
        let approver = approver.normalized();
        self.check_approver(access, &grant, &approver, &[]).await?;
        let why = reason.map_or_else(String::new, |r| format!(": {r}"));
        self.close(
            grant,
            &approver,
            AuditAction::Denied,
            format!("denied by {approver}{why}"),
        )
        .await
    }

    /// Ends a pending request unanswered, denied or lapsed.
    async fn close(
        &self,
        grant: Grant,
        actor: &str,
        action: AuditAction,
        detail: String,
    ) -> Result<Grant, AppError> {
        let now = self.clock.now();
        let mut closed = grant.clone();
        closed.status = grant.status.apply(GrantEvent::Closed, None)?;
        closed.ended_at = Some(now);
        closed.last_error = Some(detail.clone());
        closed.version = grant.version + 1;
        let event = self.event(&grant, actor, action, detail.clone());
        let outbox = self.closed_messages(&closed, &detail);
        self.store
            .apply(
                &GrantChange {
                    grant: closed.clone(),
                    expected_version: grant.version,
                    event: Some(event),
                    lock: LockOp::Ignore,
                    next_attempt_at: None,
                    outbox,
                    holder: String::new(),
                },
                now,
            )
            .await?;
        Ok(closed)
    }

    /// The approval request, to the channel (and thread): who asked, what, who may decide.
    fn approval_requested_messages(
        &self,
        grant: &Grant,
        policy: &ApprovalPolicy,
    ) -> Vec<OutboxMessage> {
        let Some(notify) = &self.settings.notify else {
            return Vec::new();
        };
        let Some(channel) = &notify.channel else {
            return Vec::new();
        };
        let message = aws_jit_core::slack::approval_requested(grant, policy);
        vec![OutboxMessage {
            grant_id: grant.id.to_string(),
            recipient: Recipient::Channel {
                channel: channel.clone(),
                thread_ts: notify.thread_ts.clone(),
            },
            body: message_body(&message),
        }]
    }

    /// The requester learns that their request was denied or lapsed.
    fn closed_messages(&self, grant: &Grant, detail: &str) -> Vec<OutboxMessage> {
        if self.settings.notify.is_none() {
            return Vec::new();
        }
        let message = aws_jit_core::slack::request_closed(grant, detail);
        vec![OutboxMessage {
            grant_id: grant.id.to_string(),
            recipient: Recipient::Person {
                email: grant.user.clone(),
            },
            body: message_body(&message),
        }]
    }

    /// A break-glass grant is announced in the admin channel, or else the channel.
    fn break_glass_alert(&self, grant: &Grant) -> Vec<OutboxMessage> {
        let Some(notify) = &self.settings.notify else {
            return Vec::new();
        };
        let Some(channel) = notify
            .admin_channel
            .clone()
            .or_else(|| notify.channel.clone())
        else {
            return Vec::new();
        };
        let message = aws_jit_core::slack::break_glass(grant);
        vec![OutboxMessage {
            grant_id: grant.id.to_string(),
            recipient: Recipient::Channel {
                channel,
                thread_ts: None,
            },
            body: message_body(&message),
        }]
    }

    /// What a grant would change in AWS, found with read-only calls; changes nothing.
    pub async fn plan(&self, request: GrantRequest<'_>) -> Result<Plan, AppError> {
        let access = request.access;
        let Prepared {
            duration,
            expires_at,
            resolved,
            ..
        } = self.prepare(&request).await?;
        let exists = self.exists(&resolved.target).await?;
        let until = whole_seconds(expires_at);
        let mut changes = Vec::new();
        let mut policy_document = None;
        match &resolved.target {
            AwsTarget::Assignment(a) => {
                if exists {
                    changes.push(format!(
                        "none: the user already holds permission set `{}` on account {}; it is kept when the grant ends unless another grant of the tool created it",
                        a.permission_set_arn, a.account_id
                    ));
                } else {
                    changes.push(format!(
                        "create account assignment: permission set `{}` on account {} for principal `{}` ({})",
                        a.permission_set_arn, a.account_id, a.principal_id, request.user
                    ));
                    changes.push(format!("delete that assignment at {until}, or on revoke"));
                }
            }
            AwsTarget::Attachment { user, policy_arn } => {
                if exists {
                    changes.push(format!(
                        "none: `{policy_arn}` is already attached to IAM user `{user}` and stays attached when the grant ends"
                    ));
                } else {
                    changes.push(format!(
                        "attach existing policy `{policy_arn}` to IAM user `{user}`"
                    ));
                    changes.push(format!(
                        "detach it (never delete it) at {until}, or on revoke"
                    ));
                }
            }
            AwsTarget::EphemeralPermissionSet { assignment, spec } => {
                changes.push(format!(
                    "create permission set `{}` (session {}) with {}{}",
                    spec.name,
                    spec.session_duration,
                    if spec.inline_policy.is_some() {
                        "an inline policy"
                    } else {
                        "no inline policy"
                    },
                    if spec.managed_policies.is_empty() {
                        String::new()
                    } else {
                        format!(" and managed policies {}", spec.managed_policies.join(", "))
                    }
                ));
                changes.push(format!("provision it to account {}", assignment.account_id));
                changes.push(format!(
                    "assign it on account {} to principal `{}` ({})",
                    assignment.account_id, assignment.principal_id, request.user
                ));
                changes.push(format!(
                    "delete the assignment and the permission set at {until}, or on revoke"
                ));
                policy_document = spec.inline_policy.clone();
            }
            AwsTarget::GeneratedPolicy { user, policy } => {
                changes.push(format!(
                    "create policy `{}` at path `{}`, tagged {}",
                    policy.name,
                    policy.path,
                    policy
                        .tags
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                changes.push(format!("attach it to IAM user `{user}`"));
                changes.push(format!("detach and delete it at {until}, or on revoke"));
                policy_document = Some(policy.document.clone());
            }
        }
        Ok(Plan {
            access: access.key.clone(),
            user: request.user.normalized(),
            duration,
            expires_at: until,
            changes,
            policy_document,
        })
    }

    /// The duration, id and expiry of a new grant, and its AWS identifiers (read-only).
    async fn prepare(&self, request: &GrantRequest<'_>) -> Result<Prepared, AppError> {
        let duration = effective_duration(
            request.duration,
            request.access.session_duration,
            self.settings.global_max,
        );
        let now = self.clock.now();
        let id = GrantId::new(new_grant_id(now));
        let expires_at = now
            .saturating_add(duration.duration.to_signed())
            .unwrap_or(now);
        let resolved = self
            .resolve(request.access, &request.user, &id, expires_at)
            .await?;
        Ok(Prepared {
            duration,
            id,
            now,
            expires_at,
            resolved,
        })
    }

    /// Resolves everything a grant needs from AWS, read-only: nothing is recorded yet.
    async fn resolve(
        &self,
        access: &Access,
        user: &UserEmail,
        id: &GrantId,
        expires_at: Timestamp,
    ) -> Result<Resolved, AppError> {
        match &access.target {
            AccessTarget::IdentityCenter {
                account_id,
                permission_set,
            } => {
                let instance = self.instance().await?;
                let principal_id = self
                    .sso
                    .find_user(&instance, user)
                    .await?
                    .ok_or_else(|| AppError::UnknownUser(user.to_string()))?;
                let permission_set_arn = self
                    .permission_set_arn(&instance, permission_set.as_str())
                    .await?;
                Ok(Resolved {
                    principal_id: Some(principal_id.clone()),
                    instance_arn: Some(instance.arn.clone()),
                    permission_set_arn: Some(permission_set_arn.clone()),
                    iam_user: None,
                    policy_arn: None,
                    target: AwsTarget::Assignment(Assignment {
                        instance_arn: instance.arn,
                        account_id: account_id.to_string(),
                        permission_set_arn,
                        principal_id,
                    }),
                })
            }
            AccessTarget::EphemeralPermissionSet { account_id, policy } => {
                let instance = self.instance().await?;
                let principal_id = self
                    .sso
                    .find_user(&instance, user)
                    .await?
                    .ok_or_else(|| AppError::UnknownUser(user.to_string()))?;
                let spec = PermissionSetSpec {
                    name: ephemeral_permission_set_name(id.as_str()),
                    description: format!(
                        "{} of `{}` for {}; deleted when the grant ends",
                        ownership_marker(id.as_str()),
                        access.key,
                        user.normalized()
                    ),
                    session_duration: session_duration_for(expires_at, self.clock.now()),
                    inline_policy: ephemeral_inline_policy(policy, Some(expires_at))?,
                    managed_policies: policy.managed_policies.clone(),
                    tags: vec![
                        (TAG_GRANT.to_owned(), id.to_string()),
                        ("aws-jit:access".to_owned(), access.slug.clone()),
                        ("aws-jit:user".to_owned(), user.normalized()),
                    ],
                    account_id: account_id.to_string(),
                };
                Ok(Resolved {
                    principal_id: Some(principal_id.clone()),
                    instance_arn: Some(instance.arn.clone()),
                    permission_set_arn: None,
                    iam_user: None,
                    policy_arn: None,
                    target: AwsTarget::EphemeralPermissionSet {
                        assignment: Assignment {
                            instance_arn: instance.arn,
                            account_id: account_id.to_string(),
                            permission_set_arn: String::new(),
                            principal_id,
                        },
                        spec,
                    },
                })
            }
            AccessTarget::S3 {
                buckets,
                policy_template,
            } => {
                let iam_user = self.iam_user(user).await?;
                let account = iam_user.account_id().unwrap_or_default().to_owned();
                let partition = iam_user.partition().unwrap_or("aws").to_owned();
                let (policy_arn, target) = match BuiltinTemplate::parse(policy_template) {
                    Some(template) => {
                        let document =
                            render_s3_policy(template, buckets, &partition, Some(expires_at))?;
                        let name = generated_policy_name(&access.slug, user.as_str(), id.as_str());
                        let arn = format!(
                            "arn:{partition}:iam::{account}:policy{GENERATED_POLICY_PATH}{name}"
                        );
                        let policy = NewPolicy {
                            name,
                            path: GENERATED_POLICY_PATH.to_owned(),
                            document: document.to_json(),
                            description: format!(
                                "aws-jit grant {id} of `{}` for {}; deleted when the grant ends",
                                access.key,
                                user.normalized()
                            ),
                            tags: vec![
                                (TAG_GRANT.to_owned(), id.to_string()),
                                ("aws-jit:access".to_owned(), access.slug.clone()),
                                ("aws-jit:user".to_owned(), user.normalized()),
                            ],
                        };
                        let target = AwsTarget::GeneratedPolicy {
                            user: iam_user.name.clone(),
                            policy,
                        };
                        (arn, target)
                    }
                    None => {
                        let arn = self
                            .existing_policy_arn(policy_template, &account, &partition)
                            .await?;
                        let target = AwsTarget::Attachment {
                            user: iam_user.name.clone(),
                            policy_arn: arn.clone(),
                        };
                        (arn, target)
                    }
                };
                Ok(Resolved {
                    principal_id: None,
                    instance_arn: None,
                    permission_set_arn: None,
                    iam_user: Some(iam_user.name),
                    policy_arn: Some(policy_arn),
                    target,
                })
            }
        }
    }

    /// The IAM user for an email: the user named by it (one call in the common case), else
    /// the user whose `email` tag matches, remembered in the store so that only the first
    /// lookup lists the account's users.
    pub async fn iam_user(&self, email: &UserEmail) -> Result<IamUser, AppError> {
        let lower = email.normalized();
        if let Some(user) = self.iam.get_user(email.as_str()).await? {
            return Ok(user);
        }
        if lower != email.as_str()
            && let Some(user) = self.iam.get_user(&lower).await?
        {
            return Ok(user);
        }
        let key = format!("iam.user-by-email:{lower}");
        if let Some(name) = self.store.cache_get(&key).await?
            && let Some(user) = self.iam.get_user(&name).await?
            && user.has_email_tag(email)
        {
            return Ok(user);
        }
        let user = self
            .iam
            .scan_users_by_email(email)
            .await?
            .ok_or_else(|| AppError::UnknownIamUser(email.to_string()))?;
        self.store
            .cache_put(&key, &user.name, self.clock.now())
            .await?;
        Ok(user)
    }

    /// The ARN of an existing policy named by a template: an ARN as given, else a
    /// customer-managed policy of the account, else an AWS-managed one.
    async fn existing_policy_arn(
        &self,
        template: &str,
        account: &str,
        partition: &str,
    ) -> Result<String, AppError> {
        let candidates = if template.starts_with("arn:") {
            vec![template.to_owned()]
        } else {
            vec![
                format!("arn:{partition}:iam::{account}:policy/{template}"),
                format!("arn:{partition}:iam::aws:policy/{template}"),
            ]
        };
        for arn in candidates {
            if self.iam.policy_exists(&arn).await? {
                return Ok(arn);
            }
        }
        Err(AppError::UnknownPolicy(template.to_owned()))
    }

    /// Creates (or joins) the AWS access for a recorded grant that holds its target lock.
    async fn provision(
        &self,
        grant: &Grant,
        access: &Access,
        target: &AwsTarget,
        op: &Op,
    ) -> Result<(Grant, AccessOrigin), AppError> {
        let actor = op.actor.as_str();
        // Only confirmed creations count as the tool's: an active grant's, or one still being
        // removed (whose removal will now keep the access for this grant). An interrupted
        // grant was finished before this one was recorded (see `finish_interrupted`).
        let others = self
            .others_on_target(grant, &[GrantStatus::Active, GrantStatus::Revoking])
            .await?;
        let tool_owned = others
            .iter()
            .any(|g| g.origin == AccessOrigin::CreatedByTool);
        let exists = match self.exists(target).await {
            Ok(exists) => exists,
            Err(e) => return self.fail_provisioning(grant, op, e).await,
        };
        let (grant, origin, how) = if exists {
            let origin = if tool_owned {
                AccessOrigin::CreatedByTool
            } else {
                AccessOrigin::Preexisting
            };
            let how = if tool_owned {
                "joined the access of another live grant"
            } else {
                "the user already held this access (standing access): it will be left in place"
            };
            (grant.clone(), origin, how)
        } else {
            // Record the intent before creating, so that a crash after the create is undone.
            let mut intent = grant.clone();
            intent.origin = AccessOrigin::CreatedByTool;
            // The write renews the lease, so the whole AWS operation that follows has it.
            let lease = self.lease_until(self.clock.now());
            let mut intent = self
                .write(op, grant, intent, None, LockOp::Acquire(lease), None)
                .await?;
            failpoint("grant.intent_recorded");
            match self.create(target).await {
                Ok(created_arn) => {
                    failpoint("grant.created");
                    if created_arn.is_some() {
                        intent.permission_set_arn = created_arn;
                    }
                }
                Err(e) => return self.undo_failed_create(&intent, op, e).await,
            }
            // Active grants that counted on standing access (since removed by someone) now
            // share what the tool created: it must go when the last of them ends.
            for other in others.iter().filter(|g| {
                g.status == GrantStatus::Active && g.origin == AccessOrigin::Preexisting
            }) {
                let mut owned = other.clone();
                owned.origin = AccessOrigin::CreatedByTool;
                let event = self.event(
                    other,
                    actor,
                    AuditAction::GrantOriginChanged,
                    format!("the standing access was gone; grant `{}` re-created it, so it is now removed when the last grant ends", grant.id),
                );
                self.write(op, other, owned, Some(event), LockOp::Keep, None)
                    .await?;
            }
            (intent, AccessOrigin::CreatedByTool, target.created())
        };
        let now = self.clock.now();
        let mut active = grant.clone();
        active.status = grant.status.apply(GrantEvent::Activated, None)?;
        active.origin = origin;
        active.granted_at = Some(now);
        let event = self.event(
            &grant,
            actor,
            AuditAction::GrantActivated,
            format!("{how}; expires {}", whole_seconds(active.expires_at)),
        );
        let created_now = origin == AccessOrigin::CreatedByTool && !exists;
        let alias = self.account_alias(&active).await;
        let outbox = self.granted_messages(&active, access, alias);
        match self
            .write_with(
                op,
                &grant,
                active,
                Some(event),
                (LockOp::Release, None),
                outbox,
            )
            .await
        {
            Ok(active) => Ok((active, origin)),
            Err(AppError::Store(StoreError::LockLost(_) | StoreError::Stale(_))) if created_now => {
                // Our lease lapsed during the AWS calls and a sweep undid the grant before
                // our create landed: remove what we just created, unless it is shared now.
                self.clean_up_after_takeover(&grant).await;
                Err(AppError::Store(StoreError::LockLost(grant.id.to_string())))
            }
            Err(e) => Err(e),
        }
    }

    async fn exists(&self, target: &AwsTarget) -> Result<bool, ProviderError> {
        match target {
            AwsTarget::Assignment(a) => self.sso.assignment_exists(a).await,
            AwsTarget::Attachment { user, policy_arn } => {
                self.iam.policy_attached(user, policy_arn).await
            }
            // Named after this grant alone: they cannot exist before the grant.
            AwsTarget::GeneratedPolicy { .. } | AwsTarget::EphemeralPermissionSet { .. } => {
                Ok(false)
            }
        }
    }

    /// Creates the access; returns the ARN of a permission set it created, if any.
    async fn create(&self, target: &AwsTarget) -> Result<Option<String>, ProviderError> {
        match target {
            AwsTarget::Assignment(a) => self.sso.create_assignment(a).await.map(|()| None),
            AwsTarget::Attachment { user, policy_arn } => self
                .iam
                .attach_policy(user, policy_arn)
                .await
                .map(|()| None),
            AwsTarget::GeneratedPolicy { user, policy } => {
                let arn = self.iam.create_policy(policy).await?;
                failpoint("grant.policy_created");
                self.iam.attach_policy(user, &arn).await.map(|()| None)
            }
            AwsTarget::EphemeralPermissionSet { assignment, spec } => {
                let arn = self
                    .sso
                    .create_permission_set(&assignment.instance_arn, spec)
                    .await?;
                let assignment = Assignment {
                    permission_set_arn: arn.clone(),
                    ..assignment.clone()
                };
                self.sso.create_assignment(&assignment).await?;
                Ok(Some(arn))
            }
        }
    }

    async fn clean_up_after_takeover(&self, grant: &Grant) {
        let current = match self.store.grant(&grant.id).await {
            Ok(Some(current)) => current,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(grant_id = %grant.id, error = %e, "cannot re-read a grant after losing its lock");
                return;
            }
        };
        let shared = match self.others_on_target(grant, &[GrantStatus::Active]).await {
            Ok(others) => !others.is_empty(),
            Err(_) => true, // unsure: never remove what another grant may use
        };
        if current.status.is_terminal() && !shared {
            if let Err(e) = self.remove_from_aws(grant).await {
                tracing::error!(grant_id = %grant.id, error = %e, "access created after a takeover could not be removed: run `aws-jit reconcile` or remove it by hand");
            } else {
                tracing::warn!(grant_id = %grant.id, "removed access created after the grant was taken over");
            }
        }
    }

    /// Finishes grants on `target_key` left interrupted by a crashed process, so that a new
    /// grant never mistakes their half-done work for standing access. Busy targets are left
    /// to the lock wait that follows.
    async fn finish_interrupted(&self, target_key: &str) -> Result<(), AppError> {
        let filter = GrantFilter {
            target_key: Some(target_key.to_owned()),
            statuses: vec![GrantStatus::Provisioning],
            ..GrantFilter::default()
        };
        for stale in self.store.grants(&filter).await? {
            match self
                .end(stale, EndCause::Undo, &system_actor("grant"))
                .await
            {
                Ok(_) | Err(AppError::Store(_)) | Err(AppError::AlreadyEnded { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn fail_provisioning<T>(
        &self,
        grant: &Grant,
        op: &Op,
        error: ProviderError,
    ) -> Result<T, AppError> {
        let actor = op.actor.as_str();
        let mut failed = grant.clone();
        failed.status = GrantStatus::Failed;
        failed.ended_at = Some(self.clock.now());
        failed.last_error = Some(error.to_string());
        let event = self.event(grant, actor, AuditAction::GrantFailed, error.to_string());
        self.write(op, grant, failed, Some(event), LockOp::Release, None)
            .await?;
        Err(AppError::ProvisioningFailed {
            id: grant.id.to_string(),
            source: error,
        })
    }

    /// The create failed: make sure nothing is left (the failure may have been a timeout
    /// after AWS acted), then record the grant as failed.
    async fn undo_failed_create<T>(
        &self,
        grant: &Grant,
        op: &Op,
        error: ProviderError,
    ) -> Result<T, AppError> {
        let actor = op.actor.as_str();
        let generated = grant.policy_generated || grant.permission_set_generated;
        let cleanup = if error.kind == ProviderErrorKind::Failed && !generated {
            // AWS reported the creation as failed: nothing was created.
            Ok(())
        } else if error.kind != ProviderErrorKind::Failed && grant.account_id.is_some() {
            // The outcome is unknown (a timeout, or still in progress): an assignment may
            // still be on its way, and deleting now could race it. Leave the undo to a
            // sweep, after a pause.
            Err(ProviderError {
                kind: error.kind,
                operation: error.operation,
                message: "outcome unknown: the undo waits for AWS to settle".to_owned(),
                source: None,
            })
        } else {
            self.remove_from_aws(grant).await
        };
        match cleanup {
            Ok(()) => self.fail_provisioning(grant, op, error).await,
            Err(cleanup_error) => {
                // Leave it for the sweep: undo in progress, lock released so it can proceed.
                let mut undoing = grant.clone();
                undoing.status = grant
                    .status
                    .apply(GrantEvent::EndStarted(EndCause::Undo), None)?;
                undoing.end_cause = Some(EndCause::Undo);
                undoing.last_error = Some(cleanup_error.to_string());
                let event = self.event(
                    grant,
                    actor,
                    AuditAction::GrantRevokeStarted,
                    format!("undo after failed create ({error}); cleanup pending: {cleanup_error}"),
                );
                let now = self.clock.now();
                let retry_at = now.checked_add(self.settings.retry_base).unwrap_or(now);
                self.write(
                    op,
                    grant,
                    undoing,
                    Some(event),
                    LockOp::Release,
                    Some(retry_at),
                )
                .await?;
                Err(AppError::ProvisioningFailed {
                    id: grant.id.to_string(),
                    source: error,
                })
            }
        }
    }

    async fn others_on_target(
        &self,
        grant: &Grant,
        statuses: &[GrantStatus],
    ) -> Result<Vec<Grant>, AppError> {
        let filter = GrantFilter {
            target_key: Some(grant.target_key.clone()),
            statuses: statuses.to_vec(),
            include_ended: true,
            ..GrantFilter::default()
        };
        Ok(self
            .store
            .grants(&filter)
            .await?
            .into_iter()
            .filter(|g| g.id != grant.id)
            .collect())
    }

    /// The user's live grant of an access (the newest, if several).
    pub async fn find_live_grant(
        &self,
        access: &Access,
        user: &UserEmail,
    ) -> Result<Grant, AppError> {
        let filter = GrantFilter {
            user: Some(user.normalized()),
            access: Some(access.key.clone()),
            statuses: vec![GrantStatus::Active, GrantStatus::Revoking],
            ..GrantFilter::default()
        };
        self.store
            .grants(&filter)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| AppError::NoActiveGrant {
                user: user.to_string(),
                access: access.key.clone(),
            })
    }

    /// Moves an active grant's expiry later by `by` (default: the access's maximum), never
    /// beyond its start plus the access's maximum. Touches nothing in AWS: the expiry is
    /// the tool's to enforce. Refused for grants whose generated policy carries the expiry
    /// in its condition (request a new grant instead).
    #[tracing::instrument(skip_all, fields(grant_id = %id))]
    pub async fn extend(
        &self,
        id: &GrantId,
        access: &Access,
        by: Option<AccessDuration>,
        actor: &str,
    ) -> Result<Grant, AppError> {
        let grant = self
            .store
            .grant(id)
            .await?
            .ok_or_else(|| AppError::GrantNotFound(id.to_string()))?;
        if grant.status != GrantStatus::Active {
            return Err(AppError::NotActive {
                id: id.to_string(),
                status: grant.status,
            });
        }
        let refuse = |why: String| AppError::CannotExtend {
            id: id.to_string(),
            why,
        };
        if grant.policy_generated {
            return Err(refuse(
                "its generated policy carries the expiry in its condition; request a new grant"
                    .to_owned(),
            ));
        }
        if access.approval.is_some() {
            return Err(refuse(
                "its access needs approval: request it again, and approvers decide".to_owned(),
            ));
        }
        let first = self
            .store
            .audit(&AuditQuery {
                grant_id: Some(grant.id.to_string()),
                limit: 1,
                ..AuditQuery::default()
            })
            .await?;
        if first
            .first()
            .is_some_and(|e| e.action == AuditAction::BreakGlass)
        {
            return Err(refuse(
                "break-glass grants are short by design: request it again".to_owned(),
            ));
        }
        // The same cap as a new grant: the access's maximum and MAX_DURATION.
        let max = effective_duration(None, access.session_duration, self.settings.global_max)
            .duration
            .to_signed();
        let started = grant.granted_at.unwrap_or(grant.requested_at);
        let limit = started.checked_add(max).unwrap_or(grant.expires_at);
        let wanted = grant
            .expires_at
            .checked_add(by.map_or(max, AccessDuration::to_signed))
            .unwrap_or(limit);
        let until = wanted.min(limit);
        if until <= grant.expires_at {
            return Err(refuse(format!(
                "it already ends at the access's maximum of {} after it started",
                access.session_duration.human()
            )));
        }
        let mut extended = grant.clone();
        extended.expires_at = until;
        extended.version = grant.version + 1;
        let capped = if until < wanted {
            " (capped to the access's maximum)"
        } else {
            ""
        };
        let event = self.event(
            &grant,
            actor,
            AuditAction::GrantExtended,
            format!(
                "expiry {} -> {}{capped}",
                whole_seconds(grant.expires_at),
                whole_seconds(until)
            ),
        );
        self.store
            .apply(
                &GrantChange {
                    grant: extended.clone(),
                    expected_version: grant.version,
                    event: Some(event),
                    lock: LockOp::Ignore,
                    next_attempt_at: None,
                    outbox: Vec::new(),
                    holder: String::new(),
                },
                self.clock.now(),
            )
            .await?;
        Ok(extended)
    }

    /// The granted message, for the request thread and the channel.
    fn granted_messages(
        &self,
        grant: &Grant,
        access: &Access,
        account_alias: Option<String>,
    ) -> Vec<OutboxMessage> {
        let Some(notify) = &self.settings.notify else {
            return Vec::new();
        };
        let Some(channel) = &notify.channel else {
            return Vec::new();
        };
        let how = aws_jit_core::slack::Instructions {
            account_alias,
            ..notify.instructions.clone()
        };
        let message = aws_jit_core::slack::granted(grant, access, &how, self.clock.now());
        let body = message_body(&message);
        let mut threads = vec![None];
        if notify.thread_ts.is_some() {
            threads.insert(0, notify.thread_ts.clone());
        }
        threads
            .into_iter()
            .map(|thread_ts| OutboxMessage {
                grant_id: grant.id.to_string(),
                recipient: Recipient::Channel {
                    channel: channel.clone(),
                    thread_ts,
                },
                body: body.clone(),
            })
            .collect()
    }

    /// The alias of the grant's account, for messages: known only for the tool's own
    /// account (an alias is read with that account's credentials), cached, best effort.
    async fn account_alias(&self, grant: &Grant) -> Option<String> {
        self.settings.notify.as_ref()?;
        let account = grant.account_id.as_deref()?;
        let key = format!("account-alias:{account}");
        if let Ok(Some(cached)) = self.store.cache_get(&key).await {
            return (!cached.is_empty()).then_some(cached);
        }
        let own = match self.iam.caller_account().await {
            Ok((own, _)) => own,
            Err(e) => {
                tracing::debug!(error = %e, "no account alias: caller unknown");
                return None;
            }
        };
        let alias = if own == account {
            match self.iam.account_alias().await {
                Ok(alias) => alias,
                Err(e) => {
                    tracing::debug!(error = %e, "no account alias");
                    return None;
                }
            }
        } else {
            None
        };
        let _ = self
            .store
            .cache_put(&key, alias.as_deref().unwrap_or(""), self.clock.now())
            .await;
        alias
    }

    /// The revoked or expired message, to the user directly (none for undone grants: the
    /// user never had the access).
    fn ended_messages(&self, grant: &Grant) -> Vec<OutboxMessage> {
        if self.settings.notify.is_none()
            || !matches!(grant.status, GrantStatus::Revoked | GrantStatus::Expired)
        {
            return Vec::new();
        }
        let message = aws_jit_core::slack::ended(grant, self.clock.now());
        vec![OutboxMessage {
            grant_id: grant.id.to_string(),
            recipient: Recipient::Person {
                email: grant.user.clone(),
            },
            body: message_body(&message),
        }]
    }

    /// The alert for a failed revocation, to the admin channel: on the first failure and
    /// then every fifth, so a stuck revocation is raised without flooding the channel.
    fn revoke_failed_messages(&self, grant: &Grant, next_attempt: Timestamp) -> Vec<OutboxMessage> {
        let Some(channel) = self
            .settings
            .notify
            .as_ref()
            .and_then(|n| n.admin_channel.clone())
        else {
            return Vec::new();
        };
        if grant.attempts != 1 && !grant.attempts.is_multiple_of(5) {
            return Vec::new();
        }
        let message = aws_jit_core::slack::revoke_failed(grant, next_attempt);
        vec![OutboxMessage {
            grant_id: grant.id.to_string(),
            recipient: Recipient::Channel {
                channel,
                thread_ts: None,
            },
            body: message_body(&message),
        }]
    }

    /// Delivers queued notifications (at most `limit`), retrying failures with backoff and
    /// giving up after [`MAX_DELIVERY_ATTEMPTS`] or a permanent error. Never fails an access
    /// change: it runs after them, from the worker or the CLI.
    pub async fn deliver_outbox(
        &self,
        messenger: &dyn Messenger,
        limit: usize,
    ) -> Result<DeliveryReport, AppError> {
        let now = self.clock.now();
        let lease = now.checked_add(Duration::from_secs(60)).unwrap_or(now);
        let mut report = DeliveryReport::default();
        for pending in self.store.claim_messages(now, lease, limit).await? {
            let outcome = messenger
                .deliver(&pending.message.recipient, &pending.message.body)
                .await;
            let now = self.clock.now();
            match outcome {
                Ok(()) => {
                    self.store.message_sent(pending.id, now).await?;
                    report.sent += 1;
                }
                Err(e) if e.permanent || pending.attempts + 1 >= MAX_DELIVERY_ATTEMPTS => {
                    tracing::error!(grant_id = %pending.message.grant_id, error = %e.message, "notification given up");
                    self.store
                        .message_failed(pending.id, &e.message, None, now)
                        .await?;
                    report.given_up.push(e.message);
                }
                Err(e) => {
                    let backoff = Duration::from_secs(2)
                        .saturating_mul(2u32.saturating_pow(pending.attempts.min(10)))
                        .min(Duration::from_secs(600));
                    let wait = e
                        .retry_after
                        .map_or(backoff, |after| after.max(Duration::from_secs(1)));
                    let retry_at = now.checked_add(wait).unwrap_or(now);
                    tracing::warn!(grant_id = %pending.message.grant_id, error = %e.message, retry_in = ?wait, "notification not delivered yet");
                    self.store
                        .message_failed(pending.id, &e.message, Some(retry_at), now)
                        .await?;
                    report.retried.push(e.message);
                }
            }
        }
        Ok(report)
    }

    /// Ends a grant on request.
    #[tracing::instrument(skip_all, fields(grant_id = %id))]
    pub async fn revoke(&self, id: &GrantId, actor: &str) -> Result<RevokeOutcome, AppError> {
        let grant = self
            .store
            .grant(id)
            .await?
            .ok_or_else(|| AppError::GrantNotFound(id.to_string()))?;
        if grant.status == GrantStatus::Pending {
            // Nothing exists in AWS yet: withdrawing the request ends it.
            let detail = format!("withdrawn by {actor}");
            let closed = self
                .close(grant, actor, AuditAction::Denied, detail)
                .await?;
            return Ok(RevokeOutcome {
                grant: closed,
                kept: None,
            });
        }
        self.end(grant, EndCause::Requested, actor).await
    }

    /// Moves a grant to `revoking` (taking the lock) and removes its access.
    async fn end(
        &self,
        grant: Grant,
        cause: EndCause,
        actor: &str,
    ) -> Result<RevokeOutcome, AppError> {
        if grant.status.is_terminal() {
            return Err(AppError::AlreadyEnded {
                id: grant.id.to_string(),
                status: grant.status,
            });
        }
        let mut revoking = grant.clone();
        let event = if grant.status == GrantStatus::Revoking {
            None // resuming: the start was audited already
        } else {
            revoking.status = grant.status.apply(GrantEvent::EndStarted(cause), None)?;
            revoking.end_cause = Some(cause);
            Some(self.event(
                &grant,
                actor,
                AuditAction::GrantRevokeStarted,
                format!("cause: {}", cause.as_str()),
            ))
        };
        revoking.version = grant.version + 1;
        let op = self.op(actor);
        let revoking = self
            .apply_locked(GrantChange {
                grant: revoking,
                expected_version: grant.version,
                event,
                lock: LockOp::Keep,
                next_attempt_at: None,
                outbox: Vec::new(),
                holder: op.holder.clone(),
            })
            .await?;
        failpoint("revoke.started");
        self.remove_access(revoking, &op).await
    }

    /// Removes the AWS access of a `revoking` grant that holds its target lock.
    async fn remove_access(&self, grant: Grant, op: &Op) -> Result<RevokeOutcome, AppError> {
        let actor = op.actor.as_str();
        let active_others = self
            .others_on_target(&grant, &[GrantStatus::Active])
            .await?;
        let kept = if let Some(other) = active_others.first() {
            Some(format!(
                "access kept: grant `{}` on the same access is still active",
                other.id
            ))
        } else {
            match grant.origin {
                AccessOrigin::Preexisting => Some(
                    "access kept: the user held it before this grant (standing access)".to_owned(),
                ),
                AccessOrigin::Unknown => {
                    Some("nothing to remove: the grant never reached AWS".to_owned())
                }
                AccessOrigin::CreatedByTool => None,
            }
        };
        if kept.is_none()
            && let Err(error) = self.remove_from_aws(&grant).await
        {
            return self.record_removal_failure(grant, op, error).await;
        }
        failpoint("revoke.removed");
        let cause = grant.end_cause.unwrap_or(EndCause::Requested);
        let mut ended = grant.clone();
        ended.status = grant.status.apply(GrantEvent::Ended, Some(cause))?;
        ended.ended_at = Some(self.clock.now());
        let action = match ended.status {
            GrantStatus::Expired => AuditAction::GrantExpired,
            GrantStatus::Failed => AuditAction::GrantFailed,
            _ => AuditAction::GrantRevoked,
        };
        let detail = kept
            .clone()
            .unwrap_or_else(|| removed_detail(&grant).to_owned());
        let event = self.event(&grant, actor, action, detail);
        let outbox = self.ended_messages(&ended);
        let ended = self
            .write_with(
                op,
                &grant,
                ended,
                Some(event),
                (LockOp::Release, None),
                outbox,
            )
            .await?;
        Ok(RevokeOutcome { grant: ended, kept })
    }

    /// Removes a grant's own permission set: its assignment, then the set itself, after
    /// checking that the set carries this grant's ownership marker.
    async fn remove_ephemeral_permission_set(&self, grant: &Grant) -> Result<(), ProviderError> {
        let refuse = |message: String| ProviderError {
            kind: ProviderErrorKind::Other,
            operation: "DeletePermissionSet",
            message,
            source: None,
        };
        let instance_arn = grant
            .instance_arn
            .clone()
            .ok_or_else(|| refuse("the grant record has no instance".to_owned()))?;
        let name = grant.permission_set.clone().unwrap_or_default();
        let arn = match &grant.permission_set_arn {
            Some(arn) => Some(arn.clone()),
            // Created but not yet recorded (a crash): find it by name, marker checked below.
            None => self.sso.find_permission_set(&instance_arn, &name).await?,
        };
        let Some(arn) = arn else {
            return Ok(()); // never created
        };
        let Some((found_name, description)) = self
            .sso
            .describe_permission_set(&instance_arn, &arn)
            .await?
        else {
            return Ok(()); // already gone
        };
        let marker = ownership_marker(grant.id.as_str());
        if found_name != name || !description.starts_with(&marker) {
            return Err(refuse(format!(
                "permission set `{arn}` does not carry this grant's marker (`{marker}`): left in place"
            )));
        }
        if let (Some(account_id), Some(principal_id)) = (&grant.account_id, &grant.principal_id) {
            self.sso
                .delete_assignment(&Assignment {
                    instance_arn: instance_arn.clone(),
                    account_id: account_id.clone(),
                    permission_set_arn: arn.clone(),
                    principal_id: principal_id.clone(),
                })
                .await?;
        }
        self.sso.delete_permission_set(&instance_arn, &arn).await
    }

    /// Removes what the grant's record says the tool created or attached.
    async fn remove_from_aws(&self, grant: &Grant) -> Result<(), ProviderError> {
        let missing = |what: &str| ProviderError {
            kind: ProviderErrorKind::Other,
            operation: "remove",
            message: format!("the grant record has no {what}"),
            source: None,
        };
        if grant.permission_set_generated {
            return self.remove_ephemeral_permission_set(grant).await;
        }
        if let Some(policy_arn) = &grant.policy_arn {
            let user = grant
                .iam_user
                .as_deref()
                .ok_or_else(|| missing("IAM user"))?;
            self.iam.detach_policy(user, policy_arn).await?;
            if grant.policy_generated {
                self.iam.delete_policy(policy_arn).await?;
            }
            return Ok(());
        }
        let assignment = Assignment {
            instance_arn: grant
                .instance_arn
                .clone()
                .ok_or_else(|| missing("instance"))?,
            account_id: grant.account_id.clone().ok_or_else(|| missing("account"))?,
            permission_set_arn: grant
                .permission_set_arn
                .clone()
                .ok_or_else(|| missing("permission set"))?,
            principal_id: grant
                .principal_id
                .clone()
                .ok_or_else(|| missing("principal"))?,
        };
        self.sso.delete_assignment(&assignment).await
    }

    async fn record_removal_failure(
        &self,
        grant: Grant,
        op: &Op,
        error: ProviderError,
    ) -> Result<RevokeOutcome, AppError> {
        let actor = op.actor.as_str();
        let attempts = grant.attempts.saturating_add(1);
        let backoff = self
            .settings
            .retry_base
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(16)))
            .min(self.settings.retry_max);
        let now = self.clock.now();
        let next_attempt = now.checked_add(backoff).unwrap_or(now);
        let mut failed = grant.clone();
        failed.attempts = attempts;
        failed.last_error = Some(error.to_string());
        let event = self.event(
            &grant,
            actor,
            AuditAction::GrantRevokeFailed,
            format!(
                "attempt {attempts}: {error}; next attempt at {}",
                whole_seconds(next_attempt)
            ),
        );
        tracing::error!(grant_id = %grant.id, attempts, %error, "revocation failed, will retry");
        let alert = self.revoke_failed_messages(&failed, next_attempt);
        self.write_with(
            op,
            &grant,
            failed,
            Some(event),
            (LockOp::Release, Some(next_attempt)),
            alert,
        )
        .await?;
        Err(AppError::RevokeFailed {
            id: grant.id.to_string(),
            source: error,
        })
    }

    /// Ends every grant past its expiry and finishes or undoes interrupted work.
    #[tracing::instrument(skip_all)]
    pub async fn sweep(&self) -> Result<SweepReport, AppError> {
        let mut report = SweepReport::default();
        for grant in self.due_grants().await? {
            let id = grant.id.to_string();
            let outcome = self.finish_due(grant).await?;
            report.record(id, outcome);
        }
        self.remove_orphans(&mut report).await?;
        Ok(report)
    }

    /// The grants a sweep should finish now (oldest first, at most 1,000).
    pub async fn due_grants(&self) -> Result<Vec<Grant>, AppError> {
        Ok(self.store.due(self.clock.now(), 1_000).await?)
    }

    /// Ends one due grant: expires an active one, finishes a revocation, or undoes an
    /// interrupted grant. Safe to run for several grants at once.
    pub async fn finish_due(&self, grant: Grant) -> Result<DueOutcome, AppError> {
        if grant.status == GrantStatus::Pending {
            let detail = "nobody decided before the approval deadline".to_owned();
            return match self
                .close(grant, &system_actor("sweep"), AuditAction::Lapsed, detail)
                .await
            {
                Ok(_) => Ok(DueOutcome::Undone),
                Err(AppError::Store(StoreError::Stale(_))) => Ok(DueOutcome::Busy),
                Err(e) => Err(e),
            };
        }
        let status = grant.status;
        let cause = match status {
            GrantStatus::Active => EndCause::Expired,
            GrantStatus::Provisioning => EndCause::Undo,
            _ => grant.end_cause.unwrap_or(EndCause::Requested),
        };
        match self.end(grant, cause, &system_actor("sweep")).await {
            Ok(outcome) => Ok(match (status, outcome.grant.status) {
                (GrantStatus::Active, _) | (_, GrantStatus::Expired) => DueOutcome::Expired,
                (_, GrantStatus::Failed) => DueOutcome::Undone,
                _ => DueOutcome::Revoked,
            }),
            Err(AppError::RevokeFailed { source, .. }) => {
                Ok(DueOutcome::Failed(source.to_string()))
            }
            Err(AppError::Store(
                StoreError::TargetBusy { .. } | StoreError::Stale(_) | StoreError::LockLost(_),
            )) => Ok(DueOutcome::Busy),
            Err(AppError::AlreadyEnded { .. }) => Ok(DueOutcome::Nothing),
            Err(e) => Err(e),
        }
    }

    /// Looks for generated policies and per-grant permission sets left behind, when the
    /// settings say such accesses exist.
    pub async fn remove_orphans(&self, report: &mut SweepReport) -> Result<(), AppError> {
        if self.settings.scan_generated_policies {
            self.remove_orphan_policies(report).await?;
        }
        if self.settings.scan_ephemeral_permission_sets {
            self.remove_orphan_permission_sets(report).await?;
        }
        Ok(())
    }

    /// Deletes per-grant permission sets still present although their grant has ended:
    /// only when the description carries the grant's marker and the store's record of that
    /// grant names exactly this permission set.
    async fn remove_orphan_permission_sets(
        &self,
        report: &mut SweepReport,
    ) -> Result<(), AppError> {
        let instance = self.instance().await?;
        let marker_prefix = ownership_marker("");
        for (arn, name, description) in self
            .sso
            .marked_permission_sets(&instance.arn, &marker_prefix)
            .await?
        {
            let grant_id = description
                .strip_prefix(&marker_prefix)
                .and_then(|rest| rest.split_whitespace().next())
                .map(GrantId::new);
            let grant = match &grant_id {
                Some(id) => self.store.grant(id).await?,
                None => None,
            };
            match grant {
                Some(g)
                    if g.permission_set_generated
                        && g.permission_set.as_deref() == Some(name.as_str())
                        && g.permission_set_arn.as_deref().is_none_or(|a| a == arn) =>
                {
                    if g.status.is_terminal() {
                        let mut g = g;
                        g.permission_set_arn = Some(arn.clone());
                        match self.remove_ephemeral_permission_set(&g).await {
                            Ok(()) => {
                                tracing::warn!(grant_id = %g.id, permission_set = %arn, "removed an orphaned per-grant permission set");
                                report.orphans_removed.push(arn);
                            }
                            Err(e) => report.failed.push((arn, e.to_string())),
                        }
                    }
                }
                _ => report.orphans_unknown.push(arn),
            }
        }
        Ok(())
    }

    /// Compares live Identity Center assignments of the configured permission sets with the
    /// store. With `fix`, removes the lingering ones, and the unmanaged ones of accesses
    /// marked `managed_exclusively`; each removal is audited.
    pub async fn reconcile(
        &self,
        accesses: &[Access],
        fix: bool,
        actor: &str,
    ) -> Result<ReconcileReport, AppError> {
        let instance = self.instance().await?;
        let grants = self
            .store
            .grants(&GrantFilter {
                include_ended: true,
                ..GrantFilter::default()
            })
            .await?;
        let mut report = ReconcileReport::default();
        let mut seen: Vec<(String, String)> = Vec::new();
        for access in accesses {
            let AccessTarget::IdentityCenter {
                account_id,
                permission_set,
            } = &access.target
            else {
                continue;
            };
            let key = (account_id.to_string(), permission_set.to_string());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let ps_arn = self
                .permission_set_arn(&instance, permission_set.as_str())
                .await?;
            let assigned = self
                .sso
                .assigned_users(&instance.arn, account_id.as_str(), &ps_arn)
                .await?;
            // Newest first, as the store lists them.
            let relevant: Vec<&Grant> = grants
                .iter()
                .filter(|g| {
                    g.account_id.as_deref() == Some(account_id.as_str())
                        && g.permission_set_arn.as_deref() == Some(ps_arn.as_str())
                })
                .collect();
            let drift = |principal: &str, grant: Option<&Grant>| Drift {
                access: access.key.clone(),
                account_id: account_id.to_string(),
                permission_set: permission_set.to_string(),
                principal_id: principal.to_owned(),
                user: grant.map(|g| g.user.clone()),
                grant_id: grant.map(|g| g.id.to_string()),
            };
            for principal in &assigned {
                let of_user: Vec<&&Grant> = relevant
                    .iter()
                    .filter(|g| g.principal_id.as_deref() == Some(principal.as_str()))
                    .collect();
                if of_user.iter().any(|g| g.status.may_hold_access()) {
                    continue;
                }
                let latest = of_user.first().map(|g| **g);
                let tool_made = latest.is_some_and(|g| g.origin == AccessOrigin::CreatedByTool);
                let found = drift(principal, latest);
                let remove = fix && (tool_made || access.managed_exclusively);
                if tool_made {
                    report.lingering.push(found.clone());
                } else {
                    report.unmanaged.push(found.clone());
                }
                if remove {
                    let assignment = Assignment {
                        instance_arn: instance.arn.clone(),
                        account_id: account_id.to_string(),
                        permission_set_arn: ps_arn.clone(),
                        principal_id: principal.clone(),
                    };
                    self.sso.delete_assignment(&assignment).await?;
                    let event = AuditEvent {
                        seq: 0,
                        time: self.clock.now(),
                        actor: actor.to_owned(),
                        action: AuditAction::DriftRemoved,
                        grant_id: found.grant_id.clone().unwrap_or_default(),
                        access: access.key.clone(),
                        user: found.user.clone().unwrap_or_else(|| principal.clone()),
                        detail: format!(
                            "removed {} assignment of `{permission_set}` on {account_id} for principal `{principal}`",
                            if tool_made {
                                "a lingering"
                            } else {
                                "an unmanaged"
                            }
                        ),
                        prev_hash: String::new(),
                        hash: String::new(),
                    };
                    self.store.append_audit(&event).await?;
                    report.removed.push(found);
                }
            }
            for g in relevant.iter().filter(|g| g.status == GrantStatus::Active) {
                if let Some(principal) = &g.principal_id
                    && !assigned.contains(principal)
                {
                    report.missing.push(drift(principal, Some(g)));
                }
            }
        }
        Ok(report)
    }

    /// Deletes generated policies still present although their grant has ended. A policy
    /// is removed only when the store knows its grant, the grant recorded exactly this
    /// policy as generated, and the policy carries the grant's tag: never by name alone.
    async fn remove_orphan_policies(&self, report: &mut SweepReport) -> Result<(), AppError> {
        for policy in self.iam.policies_under(GENERATED_POLICY_PATH).await? {
            let grant_id = policy
                .tags
                .iter()
                .find(|(k, _)| k == TAG_GRANT)
                .map(|(_, v)| GrantId::new(v.clone()));
            let grant = match &grant_id {
                Some(id) => self.store.grant(id).await?,
                None => None,
            };
            match grant {
                Some(g) if g.policy_generated && g.policy_arn.as_deref() == Some(&policy.arn) => {
                    if g.status.is_terminal() {
                        match self.iam.delete_policy(&policy.arn).await {
                            Ok(()) => {
                                tracing::warn!(grant_id = %g.id, policy = %policy.arn, "removed an orphaned generated policy");
                                report.orphans_removed.push(policy.arn);
                            }
                            Err(e) => report.failed.push((policy.arn, e.to_string())),
                        }
                    }
                }
                _ => report.orphans_unknown.push(policy.arn),
            }
        }
        Ok(())
    }
}

/// A new grant id: a UUIDv7 (time-ordered) for the given instant.
///
/// The core takes ids as input; this is the one place they are made.
fn new_grant_id(now: Timestamp) -> String {
    let seconds = u64::try_from(now.as_second()).unwrap_or(0);
    let nanos = u32::try_from(now.subsec_nanosecond()).unwrap_or(0);
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, seconds, nanos);
    uuid::Uuid::new_v7(ts).to_string()
}

/// A crash point for tests: with the `failpoints` feature, `AWS_JIT_FAILPOINT=<name>`
/// aborts the process here, as a kill -9 would. Without the feature it is nothing.
#[cfg(feature = "failpoints")]
fn failpoint(name: &str) {
    if std::env::var("AWS_JIT_FAILPOINT").as_deref() == Ok(name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
fn failpoint(_name: &str) {}

/// How many times a notification is tried before it is given up (about an hour).
pub const MAX_DELIVERY_ATTEMPTS: u32 = 12;

/// What a delivery run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Delivered.
    pub sent: usize,
    /// Failed for now (the errors); retried later.
    pub retried: Vec<String>,
    /// Failed for good (the errors).
    pub given_up: Vec<String>,
}

/// The stored form of a message: its `text` and `blocks`.
fn message_body(message: &aws_jit_core::slack::Message) -> String {
    serde_json::json!({ "text": message.text, "blocks": message.blocks }).to_string()
}

/// A timestamp truncated to whole seconds, for messages.
fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// What removing a grant's access did, for the audit log.
fn removed_detail(grant: &Grant) -> &'static str {
    if grant.permission_set_generated {
        return "assignment and permission set deleted";
    }
    match (&grant.policy_arn, grant.policy_generated) {
        (Some(_), true) => "policy detached and deleted",
        (Some(_), false) => "policy detached",
        (None, _) => "assignment deleted",
    }
}

/// A permission set's session length for a grant: the grant's length, within Identity
/// Center's bounds of one to twelve hours.
fn session_duration_for(expires_at: Timestamp, now: Timestamp) -> String {
    let seconds = expires_at
        .duration_since(now)
        .as_secs()
        .clamp(3_600, 43_200);
    AccessDuration::from_seconds(u64::try_from(seconds).unwrap_or(3_600))
        .map_or_else(|| "PT1H".to_owned(), |d| d.to_string())
}

/// The inline policy of an ephemeral permission set: the configured document, plus the S3
/// template's statements (with their expiry condition) when buckets are given.
fn ephemeral_inline_policy(
    policy: &EphemeralPolicy,
    expires_at: Option<Timestamp>,
) -> Result<Option<String>, PolicyError> {
    let mut document: Option<serde_json::Value> = policy
        .inline_policy
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok());
    if let Some((buckets, template)) = &policy.s3 {
        let rendered = render_s3_policy(*template, buckets, "aws", expires_at)?;
        let extra = serde_json::to_value(&rendered.statement).unwrap_or_default();
        let doc = document
            .get_or_insert_with(|| serde_json::json!({ "Version": "2012-10-17", "Statement": [] }));
        let statements = match doc.get_mut("Statement") {
            Some(serde_json::Value::Array(list)) => list,
            Some(other) => {
                *other = serde_json::Value::Array(vec![other.clone()]);
                match other {
                    serde_json::Value::Array(list) => list,
                    _ => return Ok(None),
                }
            }
            None => return Ok(None),
        };
        if let serde_json::Value::Array(more) = extra {
            statements.extend(more);
        }
    }
    let Some(doc) = document else {
        return Ok(None);
    };
    let text = doc.to_string();
    if text.len() > MAX_INLINE_POLICY_CHARS {
        return Err(PolicyError::InlineTooLarge { chars: text.len() });
    }
    Ok(Some(text))
}
