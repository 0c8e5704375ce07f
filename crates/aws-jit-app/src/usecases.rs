//! The grant, revoke and sweep use cases.
//!
//! Each is a sequence of store transactions around AWS calls, written so that a crash
//! between any two steps leaves a record from which [`Jit::sweep`] finishes or undoes the
//! work. The sweep never sleeps on its own: the caller (cron, or the server's runner)
//! decides when to call it.

use std::sync::Arc;
use std::time::Duration;

use aws_jit_core::duration::{EffectiveDuration, effective_duration};
use aws_jit_core::grant::NewGrant;
use aws_jit_core::{
    Access, AccessDuration, AccessOrigin, AccessTarget, AuditAction, AuditEvent, EndCause, Grant,
    GrantEvent, GrantId, GrantStatus, UserEmail,
};
use jiff::Timestamp;

use crate::ports::{
    Assignment, Clock, GrantChange, GrantFilter, GrantStore, IdentityCenter, Instance, LockOp,
    ProviderError, StoreError,
};

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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            global_max: None,
            lock_lease: Duration::from_secs(120),
            lock_wait: Duration::from_secs(30),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
            instance: None,
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
    /// The access kind is not handled by this build.
    #[error("access `{0}` is an S3 access: S3 grants are not available yet")]
    Unsupported(String),
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
    clock: Arc<dyn Clock>,
    settings: Settings,
}

impl Jit {
    /// Wires the use cases.
    pub fn new(
        store: Arc<dyn GrantStore>,
        sso: Arc<dyn IdentityCenter>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        Jit {
            store,
            sso,
            clock,
            settings,
        }
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
    async fn forget_cached(
        &self,
        instance: &Instance,
        permission_set: &str,
    ) -> Result<(), AppError> {
        self.store.cache_delete(CACHE_INSTANCE).await?;
        self.store
            .cache_delete(&permission_set_cache_key(instance, permission_set))
            .await?;
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
            .find_permission_set(instance, name)
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
            AccessTarget::S3 { .. } => Ok(()),
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

    /// Inserts the grant, taking its target's lock.
    async fn insert_locked(&self, grant: &Grant, event: &AuditEvent) -> Result<(), AppError> {
        self.wait_for_target(|now| {
            self.store
                .insert_grant(grant, event, self.lease_until(now), now)
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
        }
    }

    /// Writes `next` (a modified copy of `current`) with an audit event.
    async fn write(
        &self,
        current: &Grant,
        mut next: Grant,
        event: Option<AuditEvent>,
        lock: LockOp,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<Grant, AppError> {
        next.version = current.version + 1;
        let change = GrantChange {
            grant: next,
            expected_version: current.version,
            event,
            lock,
            next_attempt_at,
        };
        self.store.apply(&change, self.clock.now()).await?;
        Ok(change.grant)
    }

    /// Grants an access: resolve, record, create the assignment, activate.
    #[tracing::instrument(skip_all, fields(access = %request.access.key, user = %request.user))]
    pub async fn grant(&self, request: GrantRequest<'_>) -> Result<GrantOutcome, AppError> {
        let access = request.access;
        let AccessTarget::IdentityCenter {
            account_id,
            permission_set,
        } = &access.target
        else {
            return Err(AppError::Unsupported(access.key.clone()));
        };
        let duration = effective_duration(
            request.duration,
            access.session_duration,
            self.settings.global_max,
        );
        let instance = self.instance().await?;
        let principal_id = self
            .sso
            .find_user(&instance, &request.user)
            .await?
            .ok_or_else(|| AppError::UnknownUser(request.user.to_string()))?;
        let permission_set_arn = self
            .permission_set_arn(&instance, permission_set.as_str())
            .await?;

        let now = self.clock.now();
        let expires_at = now
            .saturating_add(duration.duration.to_signed())
            .unwrap_or(now);
        let grant = NewGrant {
            id: GrantId::new(new_grant_id(now)),
            access,
            user: &request.user,
            requested_by: &request.requested_by,
            principal_id: Some(principal_id.clone()),
            instance_arn: Some(instance.arn.clone()),
            permission_set_arn: Some(permission_set_arn.clone()),
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
        let requested = self.event(
            &grant,
            &request.requested_by,
            AuditAction::GrantRequested,
            detail,
        );
        self.insert_locked(&grant, &requested).await?;

        let assignment = Assignment {
            instance_arn: instance.arn.clone(),
            account_id: account_id.to_string(),
            permission_set_arn,
            principal_id,
        };
        match self
            .provision(&grant, &assignment, &request.requested_by)
            .await
        {
            Ok((grant, origin)) => Ok(GrantOutcome {
                grant,
                duration,
                origin,
            }),
            Err(e) => {
                if matches!(&e, AppError::ProvisioningFailed { source, .. } if source.kind == crate::ports::ProviderErrorKind::NotFound)
                {
                    // A cached id may be stale (e.g. the permission set was recreated).
                    self.forget_cached(&instance, permission_set.as_str())
                        .await?;
                }
                Err(e)
            }
        }
    }

    /// Creates (or joins) the assignment for a recorded grant that holds its target lock.
    async fn provision(
        &self,
        grant: &Grant,
        assignment: &Assignment,
        actor: &str,
    ) -> Result<(Grant, AccessOrigin), AppError> {
        let others = self.others_on_target(grant, &GrantStatus::ALL).await?;
        let tool_owned = others
            .iter()
            .any(|g| g.status.may_hold_access() && g.origin == AccessOrigin::CreatedByTool);
        let exists = match self.sso.assignment_exists(assignment).await {
            Ok(exists) => exists,
            Err(e) => return self.fail_provisioning(grant, actor, e).await,
        };
        let (grant, origin, how) = if exists {
            let origin = if tool_owned {
                AccessOrigin::CreatedByTool
            } else {
                AccessOrigin::Preexisting
            };
            let how = if tool_owned {
                "joined the assignment of another live grant"
            } else {
                "the user already held this assignment (standing access): it will be left in place"
            };
            (grant.clone(), origin, how)
        } else {
            // Record the intent before creating, so that a crash after the create is undone.
            let mut intent = grant.clone();
            intent.origin = AccessOrigin::CreatedByTool;
            let intent = self.write(grant, intent, None, LockOp::Keep, None).await?;
            if let Err(e) = self.sso.create_assignment(assignment).await {
                return self.undo_failed_create(&intent, assignment, actor, e).await;
            }
            (intent, AccessOrigin::CreatedByTool, "assignment created")
        };
        let now = self.clock.now();
        let mut active = grant.clone();
        let length = grant.expires_at.duration_since(grant.requested_at);
        active.status = grant.status.apply(GrantEvent::Activated, None)?;
        active.origin = origin;
        active.granted_at = Some(now);
        active.expires_at = now.saturating_add(length).unwrap_or(grant.expires_at);
        let event = self.event(
            &grant,
            actor,
            AuditAction::GrantActivated,
            format!("{how}; expires {}", whole_seconds(active.expires_at)),
        );
        let active = self
            .write(&grant, active, Some(event), LockOp::Release, None)
            .await?;
        Ok((active, origin))
    }

    async fn fail_provisioning<T>(
        &self,
        grant: &Grant,
        actor: &str,
        error: ProviderError,
    ) -> Result<T, AppError> {
        let mut failed = grant.clone();
        failed.status = GrantStatus::Failed;
        failed.ended_at = Some(self.clock.now());
        failed.last_error = Some(error.to_string());
        let event = self.event(grant, actor, AuditAction::GrantFailed, error.to_string());
        self.write(grant, failed, Some(event), LockOp::Release, None)
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
        assignment: &Assignment,
        actor: &str,
        error: ProviderError,
    ) -> Result<T, AppError> {
        let cleanup = if error.kind == crate::ports::ProviderErrorKind::Failed {
            Ok(()) // AWS reported the creation as failed: nothing was created.
        } else {
            self.sso.delete_assignment(assignment).await
        };
        match cleanup {
            Ok(()) => self.fail_provisioning(grant, actor, error).await,
            Err(cleanup_error) => {
                // Leave it for the sweep: undo in progress, lock released so it can proceed.
                let mut undoing = grant.clone();
                undoing.status = GrantStatus::Revoking;
                undoing.end_cause = Some(EndCause::Undo);
                undoing.last_error = Some(cleanup_error.to_string());
                let event = self.event(
                    grant,
                    actor,
                    AuditAction::GrantRevokeStarted,
                    format!("undo after failed create ({error}); cleanup failed: {cleanup_error}"),
                );
                self.write(grant, undoing, Some(event), LockOp::Release, None)
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

    /// Ends a grant on request.
    #[tracing::instrument(skip_all, fields(grant_id = %id))]
    pub async fn revoke(&self, id: &GrantId, actor: &str) -> Result<RevokeOutcome, AppError> {
        let grant = self
            .store
            .grant(id)
            .await?
            .ok_or_else(|| AppError::GrantNotFound(id.to_string()))?;
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
        let revoking = self
            .apply_locked(GrantChange {
                grant: revoking,
                expected_version: grant.version,
                event,
                lock: LockOp::Keep,
                next_attempt_at: None,
            })
            .await?;
        self.remove_access(revoking, actor).await
    }

    /// Removes the AWS access of a `revoking` grant that holds its target lock.
    async fn remove_access(&self, grant: Grant, actor: &str) -> Result<RevokeOutcome, AppError> {
        let active_others = self
            .others_on_target(&grant, &[GrantStatus::Active])
            .await?;
        let kept = if let Some(other) = active_others.first() {
            Some(format!(
                "assignment kept: grant `{}` on the same assignment is still active",
                other.id
            ))
        } else {
            match grant.origin {
                AccessOrigin::Preexisting => Some(
                    "assignment kept: the user held it before this grant (standing access)"
                        .to_owned(),
                ),
                AccessOrigin::Unknown => {
                    Some("nothing to remove: the grant never reached AWS".to_owned())
                }
                AccessOrigin::CreatedByTool => None,
            }
        };
        if kept.is_none()
            && let Err(error) = self.delete_for(&grant).await
        {
            return self.record_removal_failure(grant, actor, error).await;
        }
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
            .unwrap_or_else(|| "assignment deleted".to_owned());
        let event = self.event(&grant, actor, action, detail);
        let ended = self
            .write(&grant, ended, Some(event), LockOp::Release, None)
            .await?;
        Ok(RevokeOutcome { grant: ended, kept })
    }

    async fn delete_for(&self, grant: &Grant) -> Result<(), ProviderError> {
        let missing = |what: &str| ProviderError {
            kind: crate::ports::ProviderErrorKind::Other,
            operation: "DeleteAccountAssignment",
            message: format!("the grant record has no {what}"),
            source: None,
        };
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
        actor: &str,
        error: ProviderError,
    ) -> Result<RevokeOutcome, AppError> {
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
        self.write(
            &grant,
            failed,
            Some(event),
            LockOp::Release,
            Some(next_attempt),
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
        let actor = system_actor("sweep");
        let mut report = SweepReport::default();
        let now = self.clock.now();
        for grant in self.store.due(now, 1_000).await? {
            let id = grant.id.to_string();
            let status = grant.status;
            let cause = match status {
                GrantStatus::Active => EndCause::Expired,
                GrantStatus::Provisioning => EndCause::Undo,
                _ => grant.end_cause.unwrap_or(EndCause::Requested),
            };
            match self.end(grant, cause, &actor).await {
                Ok(outcome) => match (status, outcome.grant.status) {
                    (GrantStatus::Active, _) | (_, GrantStatus::Expired) => {
                        report.expired.push(id);
                    }
                    (_, GrantStatus::Failed) => report.undone.push(id),
                    _ => report.revoked.push(id),
                },
                Err(AppError::RevokeFailed { source, .. }) => {
                    report.failed.push((id, source.to_string()));
                }
                Err(AppError::Store(StoreError::TargetBusy { .. } | StoreError::Stale(_))) => {
                    report.busy.push(id);
                }
                Err(AppError::AlreadyEnded { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(report)
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

/// A timestamp truncated to whole seconds, for messages.
fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}
