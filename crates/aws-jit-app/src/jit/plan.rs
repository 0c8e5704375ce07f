//! `plan`: what a grant would change in AWS, found with read-only calls; changes nothing.

use std::collections::BTreeMap;

use aws_jit_core::duration::EffectiveDuration;
use aws_jit_core::{AccessTarget, GrantTarget};
use jiff::Timestamp;
use serde::Serialize;

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
    /// The AWS changes, in order.
    pub changes: Vec<PlannedChange>,
    /// The generated policy document, when there is one.
    pub policy_document: Option<String>,
}

/// One change a grant would make in AWS (`aws-jit plan -o json`).
#[derive(Debug, Clone, Serialize)]
pub struct PlannedChange {
    /// What: `none`, `create_account_assignment`, `delete_account_assignment`,
    /// `create_permission_set`, `provision_permission_set`, `delete_permission_set`,
    /// `create_policy`, `attach_policy`, `detach_policy`, `delete_policy`.
    pub kind: &'static str,
    /// When: `now`, or the grant's end (RFC 3339; or earlier, on revoke).
    pub when: String,
    /// What it acts on, by name and by ARN or id (`account_id`, `permission_set`,
    /// `permission_set_arn`, `principal_id`, `user`, `iam_user`, `policy`, `policy_arn`).
    pub resources: BTreeMap<&'static str, String>,
    /// The same, in words.
    pub description: String,
}

fn change(
    kind: &'static str,
    when: &str,
    resources: &[(&'static str, &str)],
    description: String,
) -> PlannedChange {
    PlannedChange {
        kind,
        when: when.to_owned(),
        resources: resources
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect(),
        description,
    }
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
        let end = until.to_string();
        let email = request.person.email.as_str();
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
                let name = match &access.target {
                    AccessTarget::IdentityCenter { permission_set, .. } => {
                        permission_set.to_string()
                    }
                    _ => String::new(),
                };
                let on = [
                    ("account_id", account_id.as_str()),
                    ("permission_set", name.as_str()),
                    ("permission_set_arn", permission_set_arn.as_str()),
                    ("principal_id", principal_id.as_str()),
                    ("user", email),
                ];
                if exists {
                    changes.push(change("none", "now", &on, format!(
                        "none: the user already holds permission set `{name}` on account {account_id}; it is kept when the grant ends unless another grant of the tool created it"
                    )));
                } else {
                    changes.push(change("create_account_assignment", "now", &on, format!(
                        "create account assignment: permission set `{name}` ({permission_set_arn}) on account {account_id} for principal `{principal_id}` ({email})"
                    )));
                    changes.push(change(
                        "delete_account_assignment",
                        &end,
                        &on,
                        format!("delete that assignment at {until}, or on revoke"),
                    ));
                }
            }
            (
                GrantTarget::PolicyAttachment {
                    iam_user: user,
                    policy_arn,
                },
                _,
            ) => {
                let on = [
                    ("iam_user", user.as_str()),
                    ("policy_arn", policy_arn.as_str()),
                    ("user", email),
                ];
                if exists {
                    changes.push(change("none", "now", &on, format!(
                        "none: `{policy_arn}` is already attached to IAM user `{user}` and stays attached when the grant ends"
                    )));
                } else {
                    changes.push(change(
                        "attach_policy",
                        "now",
                        &on,
                        format!("attach existing policy `{policy_arn}` to IAM user `{user}`"),
                    ));
                    changes.push(change(
                        "detach_policy",
                        &end,
                        &on,
                        format!("detach it (never delete it) at {until}, or on revoke"),
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
                let on = [
                    ("account_id", account_id.as_str()),
                    ("permission_set", spec.name.as_str()),
                    ("principal_id", principal_id.as_str()),
                    ("user", email),
                ];
                changes.push(change(
                    "create_permission_set",
                    "now",
                    &on,
                    format!(
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
                    ),
                ));
                changes.push(change(
                    "provision_permission_set",
                    "now",
                    &on,
                    format!("provision it to account {account_id}"),
                ));
                changes.push(change(
                    "create_account_assignment",
                    "now",
                    &on,
                    format!(
                        "assign it on account {account_id} to principal `{principal_id}` ({email})"
                    ),
                ));
                changes.push(change(
                    "delete_permission_set",
                    &end,
                    &on,
                    format!(
                        "delete the assignment and the permission set at {until}, or on revoke"
                    ),
                ));
                policy_document = spec.inline_policy.clone();
            }
            (GrantTarget::GeneratedPolicy { iam_user: user, .. }, Blueprint::Policy(policy)) => {
                let on = [
                    ("iam_user", user.as_str()),
                    ("policy", policy.name.as_str()),
                    ("user", email),
                ];
                changes.push(change(
                    "create_policy",
                    "now",
                    &on,
                    format!(
                        "create policy `{}` at path `{}`, tagged {}",
                        policy.name,
                        policy.path,
                        policy
                            .tags
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                changes.push(change(
                    "attach_policy",
                    "now",
                    &on,
                    format!("attach it to IAM user `{user}`"),
                ));
                changes.push(change(
                    "delete_policy",
                    &end,
                    &on,
                    format!("detach and delete it at {until}, or on revoke"),
                ));
                policy_document = Some(policy.document.clone());
            }
            (target, _) => changes.push(change(
                "unknown",
                "now",
                &[],
                format!("{} (no plan for this kind yet)", target.created()),
            )),
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
