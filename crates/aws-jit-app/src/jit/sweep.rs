//! The sweep: due grants ended, interrupted work finished or undone, and leftovers of
//! ended grants (generated policies, per-grant permission sets) removed.

use aws_jit_core::{AuditAction, EndCause, Grant, GrantId, GrantStatus, GrantTarget};

use aws_jit_core::policy::{GENERATED_POLICY_PATH, ownership_marker};

use super::{AppError, Jit, TAG_GRANT, system_actor};
use crate::ports::StoreError;

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

impl Jit {
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
    pub(crate) async fn remove_orphan_permission_sets(
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
                    if matches!(&g.target, GrantTarget::EphemeralPermissionSet { permission_set, permission_set_arn, .. }
                        if *permission_set == name && permission_set_arn.as_deref().is_none_or(|a| a == arn)) =>
                {
                    if g.status.is_terminal() {
                        let mut target = g.target.clone();
                        if let GrantTarget::EphemeralPermissionSet {
                            permission_set_arn, ..
                        } = &mut target
                        {
                            *permission_set_arn = Some(arn.clone());
                        }
                        match self.remove_ephemeral_permission_set(&g.id, &target).await {
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

    /// Deletes generated policies still present although their grant has ended. A policy
    /// is removed only when the store knows its grant, the grant recorded exactly this
    /// policy as generated, and the policy carries the grant's tag: never by name alone.
    pub(crate) async fn remove_orphan_policies(
        &self,
        report: &mut SweepReport,
    ) -> Result<(), AppError> {
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
                Some(g)
                    if matches!(&g.target, GrantTarget::GeneratedPolicy { policy_arn, .. }
                        if *policy_arn == policy.arn) =>
                {
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
