//! Ending a grant: on request, at expiry, or to undo an interrupted one; removing exactly
//! what the tool created, and retrying a failed removal with backoff.

use aws_jit_core::authorize::{self, Action, Refusal};
use aws_jit_core::{
    AccessOrigin, Actor, AuditAction, EndCause, Grant, GrantEvent, GrantId, GrantStatus,
    GrantTarget, UserEmail,
};

use aws_jit_core::policy::ownership_marker;

use super::lifecycle::incomplete;
use super::{AppError, Jit, Op, assignment_of, failpoint, whole_seconds};
use crate::ports::{Assignment, GrantFilter, LockOp, ProviderError, ProviderErrorKind};

/// What a revoke did.
#[derive(Debug, Clone)]
pub struct RevokeOutcome {
    /// The ended grant.
    pub grant: Grant,
    /// Set when the AWS access was left in place, with the reason.
    pub kept: Option<String>,
}

impl Jit {
    /// A grant by id, or [`AppError::GrantNotFound`].
    pub(crate) async fn load(&self, id: &GrantId) -> Result<Grant, AppError> {
        self.store
            .grant(id)
            .await?
            .ok_or_else(|| AppError::GrantNotFound(id.to_string()))
    }

    /// A grant `actor` may see.
    pub async fn view(&self, id: &GrantId, actor: &Actor) -> Result<Grant, AppError> {
        let grant = self.load(id).await?;
        self.authorize_for(actor, Action::View, &grant.person(), Some(&grant))
            .await?;
        Ok(grant)
    }

    /// The person's live grant of an access (the newest, if several). The person is named
    /// by any address the directory knows them by.
    pub async fn find_live_grant(&self, access: &str, user: &UserEmail) -> Result<Grant, AppError> {
        let access = self.access(access)?;
        let live = |email: String| GrantFilter {
            user: Some(email),
            access: Some(access.key.clone()),
            statuses: vec![GrantStatus::Active, GrantStatus::Revoking],
            ..GrantFilter::default()
        };
        // Grants record the directory's canonical address: the one given, usually; else
        // the directory says which it is.
        let mut found = self.store.grants(&live(user.normalized())).await?;
        if found.is_empty() {
            let person = self.resolve_person(user, false).await?;
            if person.email != user.normalized() {
                found = self.store.grants(&live(person.email)).await?;
            }
        }
        found
            .into_iter()
            .next()
            .ok_or_else(|| AppError::NoActiveGrant {
                user: user.to_string(),
                access: access.key.clone(),
            })
    }

    /// Ends a grant on request (or withdraws a request still waiting for approval), if
    /// `actor` may.
    #[tracing::instrument(skip_all, fields(grant_id = %id))]
    pub async fn revoke(&self, id: &GrantId, actor: &Actor) -> Result<RevokeOutcome, AppError> {
        let grant = self.load(id).await?;
        let actor = self
            .authorize_for(actor, Action::Revoke, &grant.person(), Some(&grant))
            .await?;
        if grant.status == GrantStatus::Pending {
            // Nothing exists in AWS yet: withdrawing the request ends it. Only the person it
            // is for, whoever made it, or an admin withdraws; approvers deny instead.
            let actor = self.identify(&actor).await?;
            if !authorize::may_withdraw(&actor, &grant.person(), &grant.requested_by) {
                let refusal = Refusal(
                    "a request waiting for approval is withdrawn by the person it is for or who made it: approvers deny it".to_owned(),
                );
                let user = grant.user.clone();
                return Err(self
                    .refuse(&actor, Action::Revoke, &user, Some(&grant), refusal)
                    .await);
            }
            let detail = format!("withdrawn by {actor}");
            let closed = self
                .close(grant, &actor, AuditAction::Denied, detail)
                .await?;
            return Ok(RevokeOutcome {
                grant: closed,
                kept: None,
            });
        }
        self.end(grant, EndCause::Requested, &actor).await
    }

    /// Moves a grant to `revoking` (taking the lock) and removes its access.
    pub(crate) async fn end(
        &self,
        grant: Grant,
        cause: EndCause,
        actor: &Actor,
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
        let op = self.op(actor);
        let revoking = self.write_locked(&op, &grant, revoking, event).await?;
        failpoint("revoke.started");
        self.remove_access(revoking, &op).await
    }

    /// Removes the AWS access of a `revoking` grant that holds its target lock.
    pub(crate) async fn remove_access(
        &self,
        grant: Grant,
        op: &Op,
    ) -> Result<RevokeOutcome, AppError> {
        let actor = &op.actor;
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
            .unwrap_or_else(|| grant.target.removed().to_owned());
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
    pub(crate) async fn remove_ephemeral_permission_set(
        &self,
        grant_id: &GrantId,
        target: &GrantTarget,
    ) -> Result<(), ProviderError> {
        let refuse = |message: String| ProviderError {
            kind: ProviderErrorKind::Other,
            operation: "DeletePermissionSet",
            message,
            source: None,
        };
        let GrantTarget::EphemeralPermissionSet {
            instance_arn,
            account_id,
            permission_set: name,
            permission_set_arn,
            principal_id,
        } = target
        else {
            return Err(incomplete(target));
        };
        let arn = match permission_set_arn {
            Some(arn) => Some(arn.clone()),
            // Created but not yet recorded (a crash): find it by name, marker checked below.
            None => self.sso.find_permission_set(instance_arn, name).await?,
        };
        let Some(arn) = arn else {
            return Ok(()); // never created
        };
        let Some((found_name, description)) =
            self.sso.describe_permission_set(instance_arn, &arn).await?
        else {
            return Ok(()); // already gone
        };
        let marker = ownership_marker(grant_id.as_str());
        if found_name != *name || !description.starts_with(&marker) {
            return Err(refuse(format!(
                "permission set `{arn}` does not carry this grant's marker (`{marker}`): left in place"
            )));
        }
        self.sso
            .delete_assignment(&Assignment {
                instance_arn: instance_arn.clone(),
                account_id: account_id.clone(),
                permission_set_arn: arn.clone(),
                principal_id: principal_id.clone(),
            })
            .await?;
        self.sso.delete_permission_set(instance_arn, &arn).await
    }

    /// Removes what the grant's target says the tool created or attached.
    pub(crate) async fn remove_from_aws(&self, grant: &Grant) -> Result<(), ProviderError> {
        match &grant.target {
            GrantTarget::EphemeralPermissionSet { .. } => {
                self.remove_ephemeral_permission_set(&grant.id, &grant.target)
                    .await
            }
            GrantTarget::PolicyAttachment {
                iam_user,
                policy_arn,
            } => self.iam.detach_policy(iam_user, policy_arn).await,
            GrantTarget::GeneratedPolicy {
                iam_user,
                policy_arn,
            } => {
                self.iam.detach_policy(iam_user, policy_arn).await?;
                self.iam.delete_policy(policy_arn).await
            }
            other => match assignment_of(other) {
                Some(assignment) => self.sso.delete_assignment(&assignment).await,
                None => Err(incomplete(other)),
            },
        }
    }

    pub(crate) async fn record_removal_failure(
        &self,
        grant: Grant,
        op: &Op,
        error: ProviderError,
    ) -> Result<RevokeOutcome, AppError> {
        let actor = &op.actor;
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
}
