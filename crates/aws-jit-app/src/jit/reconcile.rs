//! Reconciliation: live Identity Center assignments compared with the store.

use aws_jit_core::{
    Access, AccessOrigin, AccessTarget, Actor, AuditAction, AuditEvent, Grant, GrantStatus,
};

use super::{AppError, Jit};
use crate::ports::{Assignment, GrantFilter};

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

impl Jit {
    /// Compares live Identity Center assignments of the configured permission sets with the
    /// store. With `fix`, removes the lingering ones, and the unmanaged ones of accesses
    /// marked `managed_exclusively`; each removal is audited.
    pub async fn reconcile(
        &self,
        accesses: &[Access],
        fix: bool,
        actor: &Actor,
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
                    g.target.account_id() == Some(account_id.as_str())
                        && g.target.permission_set_arn() == Some(ps_arn.as_str())
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
                    .filter(|g| g.target.principal_id() == Some(principal.as_str()))
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
                        actor: actor.to_stored(),
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
                if let Some(principal) = g.target.principal_id()
                    && !assigned.iter().any(|a| a == principal)
                {
                    report.missing.push(drift(principal, Some(g)));
                }
            }
        }
        Ok(report)
    }
}
