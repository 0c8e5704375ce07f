//! The IAM policy aws-jit's own role needs for the configured accesses.
//!
//! Pure: it reads the catalog and, when `aws-jit iam-policy --resolve` looked them up, the
//! ARNs of the Identity Center instance and the configured permission sets.

use serde::Serialize;

use crate::config::{AccessTarget, Catalog};
use crate::policy::{BuiltinTemplate, GENERATED_POLICY_PATH, PolicyDocument, Statement};

/// The ARNs only AWS knows, looked up so that assignments can name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownArns {
    /// The Identity Center instance (`arn:aws:sso:::instance/ssoins-…`).
    pub instance: String,
    /// The configured permission sets, sorted and without repeats.
    pub permission_sets: Vec<String>,
}

/// The request-tag condition key naming the grant on what the tool creates.
const GRANT_TAG_REQUEST: &str = "aws:RequestTag/aws-jit:grant-id";
/// The resource-tag condition key naming the grant on what the tool created.
const GRANT_TAG_RESOURCE: &str = "aws:ResourceTag/aws-jit:grant-id";

/// The permissions aws-jit's own role needs for the configured accesses, least privilege:
/// Identity Center calls only when SSO accesses exist, assignment changes only on the
/// configured accounts, policy creation and deletion only under the tool's path, and
/// attachment only of the generated policies and the configured existing ones.
///
/// Assignments are limited to the configured accounts and, when `known` names them, to the
/// instance and the configured permission sets (plus the tool's own tagged ones). Without
/// `known` (offline: ARNs hold ids only AWS knows) any permission set on the configured
/// accounts may be assigned; `aws-jit iam-policy --resolve` looks the ARNs up.
pub fn tool_policy(catalog: &Catalog, known: Option<&KnownArns>) -> PolicyDocument {
    let mut statement = Vec::new();
    let mut accounts: Vec<String> = Vec::new();
    let mut existing: Vec<String> = Vec::new();
    let mut generated = false;
    let mut ephemeral = false;
    for access in catalog.accesses() {
        match &access.target {
            AccessTarget::EphemeralPermissionSet { account_id, .. } => {
                ephemeral = true;
                let arn = format!("arn:aws:sso:::account/{account_id}");
                if !accounts.contains(&arn) {
                    accounts.push(arn);
                }
            }
            AccessTarget::IdentityCenter { account_id, .. } => {
                let arn = format!("arn:aws:sso:::account/{account_id}");
                if !accounts.contains(&arn) {
                    accounts.push(arn);
                }
            }
            AccessTarget::S3 {
                policy_template, ..
            } => match BuiltinTemplate::parse(policy_template) {
                Some(_) => generated = true,
                None => {
                    let arn = if policy_template.starts_with("arn:") {
                        policy_template.clone()
                    } else {
                        format!("arn:aws:iam::*:policy/{policy_template}")
                    };
                    if !existing.contains(&arn) {
                        existing.push(arn);
                    }
                }
            },
        }
    }
    let allow = |sid, action: &[&'static str], resource: Vec<String>, condition| Statement {
        sid,
        effect: "Allow",
        action: action.to_vec(),
        resource,
        condition,
    };
    let approver_groups = catalog
        .accesses()
        .iter()
        .any(|a| a.approval.as_ref().is_some_and(|p| !p.groups.is_empty()));
    if approver_groups {
        statement.push(allow(
            "ApproverGroupMembership",
            &["identitystore:GetGroupId", "identitystore:IsMemberInGroups"],
            vec!["*".to_owned()],
            None,
        ));
    }
    // Every person (requester, approver) is resolved in the directory, whatever the access.
    statement.push(allow(
        "DirectoryLookups",
        &[
            "identitystore:DescribeUser",
            "identitystore:GetUserId",
            "identitystore:ListUsers",
            "sso:ListInstances",
        ],
        vec!["*".to_owned()],
        None,
    ));
    if !accounts.is_empty() {
        statement.push(allow(
            "IdentityCenterLookups",
            &[
                // The account alias shown in Slack messages (the tool's own account).
                "iam:ListAccountAliases",
                "sso:DescribeAccountAssignmentCreationStatus",
                "sso:DescribeAccountAssignmentDeletionStatus",
                "sso:DescribePermissionSet",
                "sso:ListAccountAssignments",
                "sso:ListAccountAssignmentsForPrincipal",
                "sso:ListPermissionSets",
            ],
            vec!["*".to_owned()],
            None,
        ));
        let instance = known.map_or_else(
            || "arn:aws:sso:::instance/*".to_owned(),
            |k| k.instance.clone(),
        );
        let mut resource = vec![instance.clone()];
        match known {
            Some(k) => resource.extend(k.permission_sets.iter().cloned()),
            None => resource.push("arn:aws:sso:::permissionSet/*/*".to_owned()),
        }
        resource.extend(accounts.iter().cloned());
        if ephemeral {
            // Only permission sets that carry the tool's tag, set when it creates them: it
            // can neither edit nor delete anyone else's.
            let mut on_instance_and_accounts = vec![instance.clone()];
            on_instance_and_accounts.extend(accounts.iter().cloned());
            let manage = [
                "sso:AttachManagedPolicyToPermissionSet",
                "sso:DeletePermissionSet",
                "sso:ProvisionPermissionSet",
                "sso:PutInlinePolicyToPermissionSet",
            ];
            statement.push(allow(
                "CreateTaggedPermissionSets",
                &["sso:CreatePermissionSet", "sso:TagResource"],
                vec![instance, "arn:aws:sso:::permissionSet/*/*".to_owned()],
                Some(serde_json::json!({ "Null": { GRANT_TAG_REQUEST: "false" } })),
            ));
            statement.push(allow(
                "ManageTaggedPermissionSets",
                &manage,
                vec!["arn:aws:sso:::permissionSet/*/*".to_owned()],
                Some(serde_json::json!({ "Null": { GRANT_TAG_RESOURCE: "false" } })),
            ));
            let mut with_status = manage.to_vec();
            with_status.push("sso:DescribePermissionSetProvisioningStatus");
            with_status.sort_unstable();
            statement.push(allow(
                "ManagePermissionSetsOnInstanceAndAccounts",
                &with_status,
                on_instance_and_accounts,
                None,
            ));
            if known.is_some() {
                // Its own per-grant permission sets, which no list of names can hold.
                statement.push(allow(
                    "AssignTaggedPermissionSets",
                    &["sso:CreateAccountAssignment", "sso:DeleteAccountAssignment"],
                    vec!["arn:aws:sso:::permissionSet/*/*".to_owned()],
                    Some(serde_json::json!({ "Null": { GRANT_TAG_RESOURCE: "false" } })),
                ));
            }
        }
        statement.push(allow(
            "AssignmentsOnConfiguredAccounts",
            &["sso:CreateAccountAssignment", "sso:DeleteAccountAssignment"],
            resource,
            None,
        ));
    }
    if generated || !existing.is_empty() {
        statement.push(allow(
            "IamUserLookups",
            &[
                "iam:GetUser",
                "iam:ListAttachedUserPolicies",
                "iam:ListUserTags",
                "iam:ListUsers",
            ],
            vec!["*".to_owned()],
            None,
        ));
        let mut attachable = existing.clone();
        if generated {
            attachable.insert(0, format!("arn:aws:iam::*:policy{GENERATED_POLICY_PATH}*"));
        }
        statement.push(allow(
            "AttachOnlyJitPolicies",
            &["iam:AttachUserPolicy", "iam:DetachUserPolicy"],
            vec!["arn:aws:iam::*:user/*".to_owned()],
            Some(serde_json::json!({ "ArnLike": { "iam:PolicyARN": attachable } })),
        ));
    }
    if !existing.is_empty() {
        statement.push(allow(
            "ReadConfiguredPolicies",
            &["iam:GetPolicy"],
            existing,
            None,
        ));
    }
    if generated {
        statement.push(allow(
            "ManageGeneratedPolicies",
            &[
                "iam:CreatePolicy",
                "iam:DeletePolicy",
                "iam:GetPolicy",
                "iam:ListEntitiesForPolicy",
                "iam:ListPolicyTags",
                "iam:TagPolicy",
            ],
            vec![format!("arn:aws:iam::*:policy{GENERATED_POLICY_PATH}*")],
            None,
        ));
        // A generated policy attached by hand elsewhere must still be removable.
        statement.push(allow(
            "DetachGeneratedPoliciesEverywhere",
            &["iam:DetachGroupPolicy", "iam:DetachRolePolicy"],
            vec!["*".to_owned()],
            Some(serde_json::json!({ "ArnLike": {
                "iam:PolicyARN": [format!("arn:aws:iam::*:policy{GENERATED_POLICY_PATH}*")]
            } })),
        ));
        statement.push(allow(
            "FindGeneratedPolicies",
            &["iam:ListPolicies"],
            vec!["*".to_owned()],
            None,
        ));
    }
    PolicyDocument {
        version: "2012-10-17",
        statement,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tool_policy_for_the_seed_configs_is_least_privilege() {
        use crate::config::{ConfigFile, ConfigSource};
        let sso = r#"{"DB Access to Staging": {"name": "Database Access to Staging", "account_id": "876809951775", "permission_set": "ECRReadOnly", "session_duration": "PT1H"}}"#;
        let s3 = r#"{"Read": {"name": "Read", "buckets": ["bucket1"], "policy_template": "S3ReadOnlyPolicy", "session_duration": "PT1H"},
                     "Team": {"name": "Team", "buckets": ["bucket2"], "policy_template": "TeamRead", "session_duration": "PT1H"}}"#;
        let catalog = Catalog::parse(&[
            ConfigSource {
                file: ConfigFile::AccessConfigs,
                text: sso,
            },
            ConfigSource {
                file: ConfigFile::S3Configs,
                text: s3,
            },
        ])
        .unwrap();
        insta::assert_json_snapshot!("tool_policy_seed", tool_policy(&catalog, None));
        let sso_only = Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: sso,
        }])
        .unwrap();
        let doc = tool_policy(&sso_only, None).to_json();
        assert!(
            !doc.replace("iam:ListAccountAliases", "").contains("iam:"),
            "no IAM rights without S3 accesses but reading the account alias: {doc}"
        );
    }

    /// Issue 14, finding 5: the tool could edit and delete every permission set
    /// (`permissionSet/*/*`); it may now touch only those carrying its own tag.
    #[test]
    fn the_tool_edits_and_deletes_only_permission_sets_carrying_its_tag() {
        use crate::config::{ConfigFile, ConfigSource};
        let eph = r#"{"Eph": {"name": "Eph", "account_id": "876809951775", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "session_duration": "PT1H"}}"#;
        let catalog = Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: eph,
        }])
        .unwrap();
        let policy = tool_policy(&catalog, None);
        insta::assert_json_snapshot!("tool_policy_ephemeral", policy);
        for action in [
            "sso:DeletePermissionSet",
            "sso:PutInlinePolicyToPermissionSet",
            "sso:AttachManagedPolicyToPermissionSet",
            "sso:ProvisionPermissionSet",
            "sso:CreatePermissionSet",
        ] {
            for s in policy
                .statement
                .iter()
                .filter(|s| s.action.contains(&action))
            {
                if s.resource.iter().any(|r| r.contains(":permissionSet/")) {
                    let condition = s.condition.as_ref().map(ToString::to_string);
                    assert!(
                        condition.is_some_and(|c| c.contains("aws-jit:grant-id")),
                        "{action} on permission sets without the tag condition: {}",
                        s.sid
                    );
                }
            }
        }
    }

    /// Issue 14, finding 5 (assignments): with the ARNs known, the tool may assign only the
    /// configured permission sets, on the configured instance and accounts, and its own
    /// tagged ones; no statement allows assignments of `permissionSet/*/*` unconditioned.
    #[test]
    fn with_known_arns_assignments_are_limited_to_the_configured_permission_sets() {
        use crate::config::{ConfigFile, ConfigSource};
        let sso = r#"{"A": {"name": "A", "account_id": "876809951775", "permission_set": "ECRReadOnly", "session_duration": "PT1H"},
                      "Eph": {"name": "Eph", "account_id": "876809951775", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "session_duration": "PT1H"}}"#;
        let catalog = Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: sso,
        }])
        .unwrap();
        let known = KnownArns {
            instance: "arn:aws:sso:::instance/ssoins-1111111111111111".to_owned(),
            permission_sets: vec![
                "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-2222222222222222"
                    .to_owned(),
            ],
        };
        let policy = tool_policy(&catalog, Some(&known));
        insta::assert_json_snapshot!("tool_policy_resolved", policy);
        let mut assigning = 0;
        for s in policy
            .statement
            .iter()
            .filter(|s| s.action.contains(&"sso:CreateAccountAssignment"))
        {
            assigning += 1;
            for r in &s.resource {
                assert!(
                    !r.contains("/*") || s.condition.is_some(),
                    "{} assigns {r} unconditioned",
                    s.sid
                );
                assert!(
                    !r.starts_with("arn:aws:sso:::instance/") || r == &known.instance,
                    "{} names another instance: {r}",
                    s.sid
                );
            }
        }
        assert_eq!(
            assigning, 2,
            "configured sets, and the tool's own tagged ones"
        );
    }
}
