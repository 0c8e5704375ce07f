//! Reconciliation: live Identity Center assignments compared with the store.

use aws_jit_core::{Access, AccessTarget, Actor, AuditAction, AuditEvent, Grant, GrantStatus};

use super::lifecycle::lingering_key;
use super::{AppError, Jit};
use crate::ports::{Assignment, GrantFilter, StoreError};

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
    /// Assignments the tool created and never saw removed, with no live grant: they should
    /// be gone.
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
    /// store. An assignment no live grant accounts for is *lingering* only when the store
    /// records that the tool created it and never saw it removed; anything else is
    /// *unmanaged* (standing access, even where the tool's grant once was: an administrator
    /// may have assigned it since). With `fix`, removes the lingering ones, and the unmanaged
    /// ones of accesses marked `managed_exclusively`, each re-checked under the target's
    /// lock just before its removal and audited.
    pub async fn reconcile(
        &self,
        accesses: &[Access],
        fix: bool,
        actor: &Actor,
    ) -> Result<ReconcileReport, AppError> {
        let instance = self.instance().await?;
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
            // AWS first, then the store: a grant activated in between is seen as live.
            let assigned = self
                .sso
                .assigned_users(&instance.arn, account_id.as_str(), &ps_arn)
                .await?;
            let grants = self.grants_on(account_id.as_str(), &ps_arn).await?;
            let drift = |principal: &str, grant: Option<&Grant>| Drift {
                access: access.key.clone(),
                account_id: account_id.to_string(),
                permission_set: permission_set.to_string(),
                principal_id: principal.to_owned(),
                user: grant.map(|g| g.user.clone()),
                grant_id: grant.map(|g| g.id.to_string()),
            };
            for principal in &assigned {
                let of_user: Vec<&Grant> = grants
                    .iter()
                    .filter(|g| g.target.principal_id() == Some(principal.as_str()))
                    .collect();
                if of_user.iter().any(|g| g.status.may_hold_access()) {
                    continue;
                }
                let latest = of_user.first().copied();
                let lingering = match latest {
                    Some(g) => self
                        .store
                        .cache_get(&lingering_key(&g.target_key))
                        .await?
                        .is_some(),
                    None => false,
                };
                let found = drift(principal, latest);
                if lingering {
                    report.lingering.push(found.clone());
                } else {
                    report.unmanaged.push(found.clone());
                }
                if !(fix && (lingering || access.managed_exclusively)) {
                    continue;
                }
                let assignment = Assignment {
                    instance_arn: instance.arn.clone(),
                    account_id: account_id.to_string(),
                    permission_set_arn: ps_arn.clone(),
                    principal_id: principal.clone(),
                };
                let target_key = latest.map_or_else(
                    || format!("sso-principal:{account_id}:{ps_arn}:{principal}"),
                    |g| g.target_key.clone(),
                );
                if self
                    .remove_drift(&assignment, &target_key, account_id.as_str(), &ps_arn)
                    .await?
                {
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
                            if lingering {
                                "a lingering"
                            } else {
                                "an unmanaged"
                            }
                        ),
                        prev_hash: String::new(),
                        hash: String::new(),
                    };
                    self.store.append_audit(&event).await?;
                    if lingering {
                        self.store.cache_delete(&lingering_key(&target_key)).await?;
                    }
                    report.removed.push(found);
                }
            }
            for g in grants.iter().filter(|g| g.status == GrantStatus::Active) {
                if let Some(principal) = g.target.principal_id()
                    && !assigned.iter().any(|a| a == principal)
                {
                    report.missing.push(drift(principal, Some(g)));
                }
            }
        }
        Ok(report)
    }

    /// The grants (ended ones included, newest first) of a permission set on an account.
    async fn grants_on(&self, account_id: &str, ps_arn: &str) -> Result<Vec<Grant>, AppError> {
        let grants = self
            .store
            .grants(&GrantFilter {
                include_ended: true,
                ..GrantFilter::default()
            })
            .await?;
        Ok(grants
            .into_iter()
            .filter(|g| {
                g.target.account_id() == Some(account_id)
                    && g.target.permission_set_arn() == Some(ps_arn)
            })
            .collect())
    }

    /// Removes one drifted assignment under its target's lock, after checking again that no
    /// live grant accounts for it and that it is still there; whether it was removed.
    async fn remove_drift(
        &self,
        assignment: &Assignment,
        target_key: &str,
        account_id: &str,
        ps_arn: &str,
    ) -> Result<bool, AppError> {
        let op = self.op(&Actor::system("reconcile"));
        let now = self.clock.now();
        match self
            .store
            .lock_target(target_key, &op.holder, self.lease_until(now), now)
            .await
        {
            Ok(()) => {}
            // A grant or revoke of it is in flight: leave it to the next run.
            Err(StoreError::TargetBusy { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let checked = async {
            let live = self.grants_on(account_id, ps_arn).await?.iter().any(|g| {
                g.status.may_hold_access()
                    && g.target.principal_id() == Some(assignment.principal_id.as_str())
            });
            if live || !self.sso.assignment_exists(assignment).await? {
                return Ok(false);
            }
            self.sso.delete_assignment(assignment).await?;
            Ok::<bool, AppError>(true)
        }
        .await;
        self.store.unlock_target(target_key, &op.holder).await?;
        checked
    }
}
