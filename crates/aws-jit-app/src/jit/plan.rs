//! `plan`: what a grant would change in AWS, found with read-only calls; changes nothing.

use aws_jit_core::GrantTarget;
use aws_jit_core::duration::EffectiveDuration;
use jiff::Timestamp;

use super::resolve::Blueprint;
use super::{AppError, GrantRequest, Jit, Prepared, whole_seconds};

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

impl Jit {
    /// What a grant would change in AWS, found with read-only calls; changes nothing.
    pub async fn plan(&self, request: GrantRequest) -> Result<Plan, AppError> {
        let request = self.admit(request).await?;
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
        match (&resolved.target, &resolved.blueprint) {
            (
                GrantTarget::Assignment {
                    account_id,
                    permission_set_arn,
                    principal_id,
                    ..
                },
                _,
            ) => {
                if exists {
                    changes.push(format!(
                        "none: the user already holds permission set `{permission_set_arn}` on account {account_id}; it is kept when the grant ends unless another grant of the tool created it"
                    ));
                } else {
                    changes.push(format!(
                        "create account assignment: permission set `{permission_set_arn}` on account {account_id} for principal `{principal_id}` ({})",
                        request.person.email
                    ));
                    changes.push(format!("delete that assignment at {until}, or on revoke"));
                }
            }
            (
                GrantTarget::PolicyAttachment {
                    iam_user: user,
                    policy_arn,
                },
                _,
            ) => {
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
            (
                GrantTarget::EphemeralPermissionSet {
                    account_id,
                    principal_id,
                    ..
                },
                Blueprint::PermissionSet(spec),
            ) => {
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
                changes.push(format!("provision it to account {account_id}"));
                changes.push(format!(
                    "assign it on account {account_id} to principal `{principal_id}` ({})",
                    request.person.email
                ));
                changes.push(format!(
                    "delete the assignment and the permission set at {until}, or on revoke"
                ));
                policy_document = spec.inline_policy.clone();
            }
            (GrantTarget::GeneratedPolicy { iam_user: user, .. }, Blueprint::Policy(policy)) => {
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
            (target, _) => {
                changes.push(format!("{} (no plan for this kind yet)", target.created()))
            }
        }
        Ok(Plan {
            access: access.key.clone(),
            user: request.person.email.clone(),
            duration,
            expires_at: until,
            changes,
            policy_document,
        })
    }
}
