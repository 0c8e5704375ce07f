//! A grant as a `grants` row: its [`GrantTarget`] stored as JSON in `target`, and the flat
//! columns of earlier schema versions still written from it (so the two always agree and
//! a row written before the `target` column existed reads the same).

use aws_jit_app::ports::StoreError;
use aws_jit_core::{
    AccessDuration, AccessOrigin, Actor, EndCause, Grant, GrantId, GrantStatus, GrantTarget,
};

use crate::common::{corrupt, from_millis, opt_from_millis};

/// A `grants` row as both backends return it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct GrantRow {
    id: String,
    access: String,
    user_email: String,
    requested_by: String,
    target_key: String,
    account_id: Option<String>,
    permission_set: Option<String>,
    principal_id: Option<String>,
    instance_arn: Option<String>,
    permission_set_arn: Option<String>,
    status: String,
    end_cause: Option<String>,
    origin: String,
    reason: Option<String>,
    requested_at: i64,
    granted_at: Option<i64>,
    expires_at: i64,
    ended_at: Option<i64>,
    last_error: Option<String>,
    attempts: i64,
    version: i64,
    iam_user: Option<String>,
    policy_arn: Option<String>,
    policy_generated: bool,
    permission_set_generated: bool,
    requested_seconds: Option<i64>,
    target: Option<String>,
}

impl GrantRow {
    /// The target of a row written before the `target` column, from its flat columns.
    fn legacy_target(&self) -> GrantTarget {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        if self.permission_set_generated {
            return GrantTarget::EphemeralPermissionSet {
                instance_arn: text(&self.instance_arn),
                account_id: text(&self.account_id),
                permission_set: text(&self.permission_set),
                permission_set_arn: self.permission_set_arn.clone(),
                principal_id: text(&self.principal_id),
            };
        }
        match (&self.policy_arn, self.policy_generated) {
            (Some(policy_arn), true) => GrantTarget::GeneratedPolicy {
                iam_user: text(&self.iam_user),
                policy_arn: policy_arn.clone(),
            },
            (Some(policy_arn), false) => GrantTarget::PolicyAttachment {
                iam_user: text(&self.iam_user),
                policy_arn: policy_arn.clone(),
            },
            (None, _) => GrantTarget::Assignment {
                instance_arn: text(&self.instance_arn),
                account_id: text(&self.account_id),
                permission_set: text(&self.permission_set),
                permission_set_arn: text(&self.permission_set_arn),
                principal_id: text(&self.principal_id),
            },
        }
    }

    pub(crate) fn into_grant(self) -> Result<Grant, StoreError> {
        let target = match &self.target {
            Some(json) => serde_json::from_str(json).map_err(|_| corrupt("grant target", json))?,
            None => self.legacy_target(),
        };
        Ok(Grant {
            id: GrantId::new(self.id),
            access: self.access,
            user: self.user_email,
            requested_by: Actor::from_stored(&self.requested_by),
            target_key: self.target_key,
            user_id: self.principal_id,
            target,
            status: GrantStatus::parse(&self.status)
                .ok_or_else(|| corrupt("status", &self.status))?,
            end_cause: match self.end_cause {
                Some(c) => Some(EndCause::parse(&c).ok_or_else(|| corrupt("end cause", &c))?),
                None => None,
            },
            origin: AccessOrigin::parse(&self.origin)
                .ok_or_else(|| corrupt("origin", &self.origin))?,
            reason: self.reason,
            requested_at: from_millis(self.requested_at)?,
            granted_at: opt_from_millis(self.granted_at)?,
            expires_at: from_millis(self.expires_at)?,
            ended_at: opt_from_millis(self.ended_at)?,
            last_error: self.last_error,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            version: self.version,
            requested_duration: self
                .requested_seconds
                .and_then(|s| u64::try_from(s).ok())
                .and_then(AccessDuration::from_seconds),
        })
    }
}

/// The columns a grant's target is written to: the JSON, and the flat columns of earlier
/// schema versions. `principal_id` holds the person's directory id.
#[derive(Debug)]
pub(crate) struct TargetColumns {
    pub(crate) account_id: Option<String>,
    pub(crate) permission_set: Option<String>,
    pub(crate) principal_id: Option<String>,
    pub(crate) instance_arn: Option<String>,
    pub(crate) permission_set_arn: Option<String>,
    pub(crate) iam_user: Option<String>,
    pub(crate) policy_arn: Option<String>,
    pub(crate) policy_generated: bool,
    pub(crate) permission_set_generated: bool,
    pub(crate) target: String,
}

impl TargetColumns {
    pub(crate) fn of(grant: &Grant) -> TargetColumns {
        let target = &grant.target;
        let owned = |v: Option<&str>| v.map(str::to_owned);
        TargetColumns {
            account_id: owned(target.account_id()),
            permission_set: owned(target.permission_set()),
            principal_id: grant
                .user_id
                .clone()
                .or_else(|| owned(target.principal_id())),
            instance_arn: owned(target.instance_arn()),
            permission_set_arn: owned(target.permission_set_arn()),
            iam_user: owned(target.iam_user()),
            policy_arn: owned(target.policy_arn()),
            policy_generated: matches!(target, GrantTarget::GeneratedPolicy { .. }),
            permission_set_generated: matches!(target, GrantTarget::EphemeralPermissionSet { .. }),
            target: target.to_stored(),
        }
    }
}
