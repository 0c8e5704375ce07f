//! The lifecycle engine: creating or joining a recorded grant's access in AWS under its
//! target lock, and undoing it when the create fails or the lock is lost.

use aws_jit_core::{
    Access, AccessOrigin, AuditAction, EndCause, Grant, GrantEvent, GrantStatus, GrantTarget,
};

use super::{AppError, Blueprint, Jit, Op, assignment_of, failpoint, system_actor, whole_seconds};
use crate::ports::{Assignment, GrantFilter, LockOp, ProviderError, ProviderErrorKind, StoreError};

impl Jit {
    /// Creates (or joins) the AWS access for a recorded grant that holds its target lock.
    pub(crate) async fn provision(
        &self,
        grant: &Grant,
        access: &Access,
        blueprint: &Blueprint,
        op: &Op,
    ) -> Result<(Grant, AccessOrigin), AppError> {
        let actor = &op.actor;
        let target = &grant.target;
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
            match self.create(target, blueprint).await {
                Ok(created_arn) => {
                    failpoint("grant.created");
                    if let (
                        Some(arn),
                        GrantTarget::EphemeralPermissionSet {
                            permission_set_arn, ..
                        },
                    ) = (created_arn, &mut intent.target)
                    {
                        *permission_set_arn = Some(arn);
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
        let mut outbox = self.granted_messages(&active, access, alias);
        if op.approved {
            outbox.extend(self.approved_messages(&active));
        }
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

    pub(crate) async fn exists(&self, target: &GrantTarget) -> Result<bool, ProviderError> {
        match target {
            GrantTarget::PolicyAttachment {
                iam_user,
                policy_arn,
            } => self.iam.policy_attached(iam_user, policy_arn).await,
            // Made for this grant alone: they cannot exist before the grant.
            GrantTarget::GeneratedPolicy { .. } | GrantTarget::EphemeralPermissionSet { .. } => {
                Ok(false)
            }
            other => match assignment_of(other) {
                Some(assignment) => self.sso.assignment_exists(&assignment).await,
                None => Err(incomplete(other)),
            },
        }
    }

    /// Creates the access; returns the ARN of a permission set it created, if any.
    pub(crate) async fn create(
        &self,
        target: &GrantTarget,
        blueprint: &Blueprint,
    ) -> Result<Option<String>, ProviderError> {
        match (target, blueprint) {
            (
                GrantTarget::PolicyAttachment {
                    iam_user,
                    policy_arn,
                },
                _,
            ) => self
                .iam
                .attach_policy(iam_user, policy_arn)
                .await
                .map(|()| None),
            (GrantTarget::GeneratedPolicy { iam_user, .. }, Blueprint::Policy(policy)) => {
                let arn = self.iam.create_policy(policy).await?;
                failpoint("grant.policy_created");
                self.iam.attach_policy(iam_user, &arn).await.map(|()| None)
            }
            (
                GrantTarget::EphemeralPermissionSet {
                    instance_arn,
                    account_id,
                    principal_id,
                    ..
                },
                Blueprint::PermissionSet(spec),
            ) => {
                let arn = self.sso.create_permission_set(instance_arn, spec).await?;
                let assignment = Assignment {
                    instance_arn: instance_arn.clone(),
                    account_id: account_id.clone(),
                    permission_set_arn: arn.clone(),
                    principal_id: principal_id.clone(),
                };
                self.sso.create_assignment(&assignment).await?;
                Ok(Some(arn))
            }
            (other @ GrantTarget::Assignment { .. }, _) => match assignment_of(other) {
                Some(assignment) => self.sso.create_assignment(&assignment).await.map(|()| None),
                None => Err(incomplete(other)),
            },
            (other, _) => Err(incomplete(other)),
        }
    }

    pub(crate) async fn clean_up_after_takeover(&self, grant: &Grant) {
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
                tracing::error!(grant_id = %grant.id, error = %e, "access created after a takeover could not be removed: `aws-jit reconcile --fix` removes it");
                // The one record of access the tool created and never saw removed: what
                // `reconcile --fix` may remove (and nothing else of the tool's past).
                let key = lingering_key(&grant.target_key);
                if let Err(e) = self
                    .store
                    .cache_put(&key, grant.id.as_str(), self.clock.now())
                    .await
                {
                    tracing::error!(grant_id = %grant.id, error = %e, "cannot record the lingering access");
                }
            } else {
                tracing::warn!(grant_id = %grant.id, "removed access created after the grant was taken over");
            }
        }
    }

    /// Finishes grants on `target_key` left interrupted by a crashed process, so that a new
    /// grant never mistakes their half-done work for standing access. Busy targets are left
    /// to the lock wait that follows.
    pub(crate) async fn finish_interrupted(&self, target_key: &str) -> Result<(), AppError> {
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

    pub(crate) async fn fail_provisioning<T>(
        &self,
        grant: &Grant,
        op: &Op,
        error: ProviderError,
    ) -> Result<T, AppError> {
        let actor = &op.actor;
        let mut failed = grant.clone();
        failed.status = grant.status.apply(GrantEvent::ProvisioningFailed, None)?;
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
    pub(crate) async fn undo_failed_create<T>(
        &self,
        grant: &Grant,
        op: &Op,
        error: ProviderError,
    ) -> Result<T, AppError> {
        let actor = &op.actor;
        let generated = grant.target.is_per_grant();
        let cleanup = if error.kind == ProviderErrorKind::Failed && !generated {
            // AWS reported the creation as failed: nothing was created.
            Ok(())
        } else if error.kind != ProviderErrorKind::Failed && grant.target.account_id().is_some() {
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

    pub(crate) async fn others_on_target(
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
}

/// The store's record of access on `target_key` that the tool created and never saw
/// removed.
pub(crate) fn lingering_key(target_key: &str) -> String {
    format!("lingering:{target_key}")
}

/// A target that lacks what its AWS call needs (a record the tool did not write).
pub(crate) fn incomplete(target: &GrantTarget) -> ProviderError {
    ProviderError {
        kind: ProviderErrorKind::Other,
        operation: "grant target",
        message: format!("the grant's target is incomplete: {}", target.to_stored()),
        source: None,
    }
}
