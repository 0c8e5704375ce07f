//! What a grant changes in AWS, as one typed value: resolved from the access before the
//! grant is recorded, stored with the grant, and the only thing creation and removal read.

use serde::{Deserialize, Serialize};

/// The AWS resource a grant gives (or gave) its person.
///
/// Group membership (adding the person to an Identity Center group for the grant) is the
/// next kind planned; it fits as one more variant with its own create and remove steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum GrantTarget {
    /// An Identity Center account assignment of an existing permission set.
    Assignment {
        /// The Identity Center instance.
        instance_arn: String,
        /// The account.
        account_id: String,
        /// The permission set's name.
        permission_set: String,
        /// The permission set's ARN.
        permission_set_arn: String,
        /// The person's Identity Store user id.
        principal_id: String,
    },
    /// A permission set created for this grant alone, provisioned, assigned, and deleted
    /// when the grant ends.
    EphemeralPermissionSet {
        /// The Identity Center instance.
        instance_arn: String,
        /// The account it is provisioned to and assigned on.
        account_id: String,
        /// Its deterministic name.
        permission_set: String,
        /// Its ARN, once created (a crash just after creating it leaves this unset: the
        /// set is then found by name and the grant's ownership marker).
        permission_set_arn: Option<String>,
        /// The person's Identity Store user id.
        principal_id: String,
    },
    /// An existing IAM policy attached to an IAM user (detached at the end, never deleted).
    PolicyAttachment {
        /// The IAM user.
        iam_user: String,
        /// The policy's ARN.
        policy_arn: String,
    },
    /// An IAM policy generated for this grant alone, attached, and detached and deleted
    /// when the grant ends.
    GeneratedPolicy {
        /// The IAM user.
        iam_user: String,
        /// The policy's ARN.
        policy_arn: String,
    },
}

impl GrantTarget {
    /// The account, for Identity Center targets.
    pub fn account_id(&self) -> Option<&str> {
        match self {
            GrantTarget::Assignment { account_id, .. }
            | GrantTarget::EphemeralPermissionSet { account_id, .. } => Some(account_id),
            _ => None,
        }
    }

    /// The permission set's name, for Identity Center targets.
    pub fn permission_set(&self) -> Option<&str> {
        match self {
            GrantTarget::Assignment { permission_set, .. }
            | GrantTarget::EphemeralPermissionSet { permission_set, .. } => Some(permission_set),
            _ => None,
        }
    }

    /// The permission set's ARN, when known.
    pub fn permission_set_arn(&self) -> Option<&str> {
        match self {
            GrantTarget::Assignment {
                permission_set_arn, ..
            } => Some(permission_set_arn),
            GrantTarget::EphemeralPermissionSet {
                permission_set_arn, ..
            } => permission_set_arn.as_deref(),
            _ => None,
        }
    }

    /// The Identity Store user id of the assignment, for Identity Center targets.
    pub fn principal_id(&self) -> Option<&str> {
        match self {
            GrantTarget::Assignment { principal_id, .. }
            | GrantTarget::EphemeralPermissionSet { principal_id, .. } => Some(principal_id),
            _ => None,
        }
    }

    /// The Identity Center instance, for Identity Center targets.
    pub fn instance_arn(&self) -> Option<&str> {
        match self {
            GrantTarget::Assignment { instance_arn, .. }
            | GrantTarget::EphemeralPermissionSet { instance_arn, .. } => Some(instance_arn),
            _ => None,
        }
    }

    /// The IAM user, for IAM targets.
    pub fn iam_user(&self) -> Option<&str> {
        match self {
            GrantTarget::PolicyAttachment { iam_user, .. }
            | GrantTarget::GeneratedPolicy { iam_user, .. } => Some(iam_user),
            _ => None,
        }
    }

    /// The attached policy's ARN, for IAM targets.
    pub fn policy_arn(&self) -> Option<&str> {
        match self {
            GrantTarget::PolicyAttachment { policy_arn, .. }
            | GrantTarget::GeneratedPolicy { policy_arn, .. } => Some(policy_arn),
            _ => None,
        }
    }

    /// Whether the resource was made for this grant alone (and is deleted with it).
    pub fn is_per_grant(&self) -> bool {
        matches!(
            self,
            GrantTarget::EphemeralPermissionSet { .. } | GrantTarget::GeneratedPolicy { .. }
        )
    }

    /// Whether the grant's expiry is written into the resource itself (a generated policy's
    /// condition), so that it cannot be moved without replacing the resource.
    pub fn carries_expiry(&self) -> bool {
        matches!(self, GrantTarget::GeneratedPolicy { .. })
    }

    /// What creating it does, in words (for the audit log).
    pub fn created(&self) -> &'static str {
        match self {
            GrantTarget::Assignment { .. } => "assignment created",
            GrantTarget::PolicyAttachment { .. } => "policy attached",
            GrantTarget::GeneratedPolicy { .. } => "policy generated and attached",
            GrantTarget::EphemeralPermissionSet { .. } => {
                "permission set created, provisioned and assigned"
            }
        }
    }

    /// What removing it does, in words (for the audit log).
    pub fn removed(&self) -> &'static str {
        match self {
            GrantTarget::Assignment { .. } => "assignment deleted",
            GrantTarget::PolicyAttachment { .. } => "policy detached",
            GrantTarget::GeneratedPolicy { .. } => "policy detached and deleted",
            GrantTarget::EphemeralPermissionSet { .. } => "assignment and permission set deleted",
        }
    }

    /// The stored form (JSON).
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_round_trip_through_their_stored_form() {
        let targets = [
            GrantTarget::Assignment {
                instance_arn: "arn:aws:sso:::instance/ssoins-1".to_owned(),
                account_id: "123456789012".to_owned(),
                permission_set: "Admin".to_owned(),
                permission_set_arn: "arn:aws:sso:::permissionSet/ssoins-1/ps-1".to_owned(),
                principal_id: "u-1".to_owned(),
            },
            GrantTarget::EphemeralPermissionSet {
                instance_arn: "i".to_owned(),
                account_id: "123456789012".to_owned(),
                permission_set: "jit-g".to_owned(),
                permission_set_arn: None,
                principal_id: "u-1".to_owned(),
            },
            GrantTarget::GeneratedPolicy {
                iam_user: "alice".to_owned(),
                policy_arn: "arn:aws:iam::123456789012:policy/aws-jit/p".to_owned(),
            },
        ];
        for target in targets {
            let back: GrantTarget = serde_json::from_str(&target.to_stored()).unwrap();
            assert_eq!(back, target);
        }
        insta::assert_snapshot!(
            GrantTarget::PolicyAttachment {
                iam_user: "alice".to_owned(),
                policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned(),
            }
            .to_stored(),
            @r#"{"kind":"policy_attachment","iam_user":"alice","policy_arn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}"#
        );
    }
}
