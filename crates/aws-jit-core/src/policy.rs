//! Least-privilege IAM policies for S3 accesses, and the names they get.
//!
//! A pure function renders a built-in template over exactly the listed buckets: bucket-level
//! actions on the bucket ARNs, object actions on `bucket/*`, in a fixed order so the same
//! input always gives the same bytes. Every statement carries an `aws:CurrentTime`
//! `DateLessThan` condition at the grant's expiry, so access ends even if revocation never
//! runs. No template allows bucket policy, ACL or ownership changes: those would let the
//! holder widen their own access beyond the grant.

use jiff::Timestamp;
use serde::Serialize;

use crate::ids::BucketName;

/// IAM's limit for a managed policy document, in characters excluding white space.
pub const MAX_POLICY_CHARS: usize = 6_144;

/// The IAM path of every policy the tool generates; cleanup looks only here.
pub const GENERATED_POLICY_PATH: &str = "/aws-jit/";

/// IAM's limit for a policy name.
pub const MAX_POLICY_NAME: usize = 128;

/// The built-in S3 templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinTemplate {
    /// List the buckets and read objects.
    S3ReadOnly,
    /// Read, write and delete objects.
    S3ReadWrite,
    /// Everything on the objects and read-only bucket settings; never policy or ACL changes.
    S3FullAccess,
}

impl BuiltinTemplate {
    /// All built-ins.
    pub const ALL: [BuiltinTemplate; 3] = [
        BuiltinTemplate::S3ReadOnly,
        BuiltinTemplate::S3ReadWrite,
        BuiltinTemplate::S3FullAccess,
    ];

    /// The name used in `policy_template`.
    pub fn name(self) -> &'static str {
        match self {
            BuiltinTemplate::S3ReadOnly => "S3ReadOnlyPolicy",
            BuiltinTemplate::S3ReadWrite => "S3ReadWritePolicy",
            BuiltinTemplate::S3FullAccess => "S3FullAccessPolicy",
        }
    }

    /// The built-in with this name, if any (anything else names an existing IAM policy).
    pub fn parse(name: &str) -> Option<BuiltinTemplate> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    fn bucket_actions(self) -> &'static [&'static str] {
        match self {
            BuiltinTemplate::S3ReadOnly => &["s3:GetBucketLocation", "s3:ListBucket"],
            BuiltinTemplate::S3ReadWrite => &[
                "s3:GetBucketLocation",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
            ],
            BuiltinTemplate::S3FullAccess => &[
                "s3:GetBucketLocation",
                "s3:GetBucketVersioning",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
                "s3:ListBucketVersions",
            ],
        }
    }

    fn object_actions(self) -> &'static [&'static str] {
        match self {
            BuiltinTemplate::S3ReadOnly => &["s3:GetObject", "s3:GetObjectVersion"],
            BuiltinTemplate::S3ReadWrite => &[
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
            ],
            BuiltinTemplate::S3FullAccess => &[
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
                "s3:DeleteObjectTagging",
                "s3:DeleteObjectVersion",
                "s3:GetObject",
                "s3:GetObjectAttributes",
                "s3:GetObjectTagging",
                "s3:GetObjectVersion",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
                "s3:PutObjectTagging",
                "s3:RestoreObject",
            ],
        }
    }
}

/// An IAM policy document with a deterministic field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    /// Always `2012-10-17`.
    pub version: &'static str,
    /// The statements.
    pub statement: Vec<Statement>,
}

/// One `Allow` statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    /// A readable id.
    pub sid: &'static str,
    /// Always `Allow`.
    pub effect: &'static str,
    /// The actions, sorted.
    pub action: Vec<&'static str>,
    /// The resources, in bucket order.
    pub resource: Vec<String>,
    /// Conditions, e.g. the expiry fail-safe `{"DateLessThan": {"aws:CurrentTime": …}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
}

/// Why a policy cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The rendered document exceeds IAM's limit.
    #[error(
        "the generated policy has {chars} characters, over IAM's limit of {MAX_POLICY_CHARS}: split the buckets across several accesses"
    )]
    TooLarge {
        /// Its size, white space excluded.
        chars: usize,
    },
    /// No buckets.
    #[error("an S3 policy needs at least one bucket")]
    NoBuckets,
    /// A permission set's inline policy exceeds Identity Center's limit.
    #[error(
        "the permission set's inline policy has {chars} characters, over Identity Center's limit of {}: use fewer buckets or statements",
        crate::config::MAX_INLINE_POLICY_CHARS
    )]
    InlineTooLarge {
        /// Its size.
        chars: usize,
    },
}

impl PolicyDocument {
    /// The compact JSON text sent to IAM.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Renders a built-in template over the buckets, expiring at `expires_at`.
/// `partition` is the ARN partition (`aws`, `aws-us-gov`, `aws-cn`).
pub fn render_s3_policy(
    template: BuiltinTemplate,
    buckets: &[BucketName],
    partition: &str,
    expires_at: Option<Timestamp>,
) -> Result<PolicyDocument, PolicyError> {
    if buckets.is_empty() {
        return Err(PolicyError::NoBuckets);
    }
    let condition = expires_at.map(|t| {
        let at = Timestamp::from_second(t.as_second())
            .unwrap_or(t)
            .to_string();
        serde_json::json!({ "DateLessThan": { "aws:CurrentTime": at } })
    });
    let arn = |suffix: &str| -> Vec<String> {
        buckets
            .iter()
            .map(|b| format!("arn:{partition}:s3:::{b}{suffix}"))
            .collect()
    };
    let document = PolicyDocument {
        version: "2012-10-17",
        statement: vec![
            Statement {
                sid: "Buckets",
                effect: "Allow",
                action: template.bucket_actions().to_vec(),
                resource: arn(""),
                condition: condition.clone(),
            },
            Statement {
                sid: "Objects",
                effect: "Allow",
                action: template.object_actions().to_vec(),
                resource: arn("/*"),
                condition,
            },
        ],
    };
    let chars = document
        .to_json()
        .chars()
        .filter(|c| !c.is_whitespace())
        .count();
    if chars > MAX_POLICY_CHARS {
        return Err(PolicyError::TooLarge { chars });
    }
    Ok(document)
}

/// Identity Center's limit for a permission set name.
pub const MAX_PERMISSION_SET_NAME: usize = 32;

/// The deterministic name of a grant's ephemeral permission set: `jit-` and the last 28 hex
/// digits of the grant id (a UUIDv7, whose tail is random), within Identity Center's 32.
pub fn ephemeral_permission_set_name(grant_id: &str) -> String {
    let hex: String = grant_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let tail = hex
        .get(hex.len().saturating_sub(MAX_PERMISSION_SET_NAME - 4)..)
        .unwrap_or(&hex);
    format!("jit-{tail}")
}

/// The marker in the description of everything the tool creates in Identity Center: with
/// the store's record it is what cleanup checks before deleting (moto has no sso tagging).
pub fn ownership_marker(grant_id: &str) -> String {
    format!("aws-jit grant {grant_id}")
}

/// Keeps the characters IAM allows in names (`[\w+=,.@-]`), replacing others with `-`.
fn iam_safe(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if crate::ids::is_iam_name_char(c) {
                c
            } else {
                '-'
            }
        })
        .take(max)
        .collect()
}

/// The deterministic name of the policy generated for one grant:
/// `jit-<access slug>-<user>-<grant id>`, within IAM's 128 characters. The grant id makes
/// it unique, so two grants never share (or clean up) each other's policy.
pub fn generated_policy_name(access_slug: &str, user: &str, grant_id: &str) -> String {
    let id = iam_safe(grant_id, 36);
    let room = MAX_POLICY_NAME - "jit---".len() - id.len();
    let slug = iam_safe(access_slug, room / 2);
    let user = iam_safe(&user.to_lowercase(), room - slug.len());
    format!("jit-{slug}-{user}-{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(names: &[&str]) -> Vec<BucketName> {
        names
            .iter()
            .map(|n| BucketName::parse(n).unwrap())
            .collect()
    }

    #[test]
    fn every_builtin_template_renders_scoped_to_exactly_its_buckets() {
        let expires = "2026-11-25T18:00:00Z".parse::<Timestamp>().unwrap();
        for template in BuiltinTemplate::ALL {
            let doc = render_s3_policy(
                template,
                &buckets(&["bucket1", "bucket2"]),
                "aws",
                Some(expires),
            )
            .unwrap();
            insta::assert_json_snapshot!(template.name(), doc);
        }
    }

    #[test]
    fn no_template_can_change_bucket_policies_or_acls() {
        for template in BuiltinTemplate::ALL {
            for action in template
                .bucket_actions()
                .iter()
                .chain(template.object_actions())
            {
                assert!(
                    !action.contains("Policy") && !action.contains("Acl") && !action.contains('*'),
                    "{} allows {action}",
                    template.name()
                );
            }
        }
    }

    #[test]
    fn a_policy_over_the_iam_size_limit_is_refused() {
        let many: Vec<String> = (0..60)
            .map(|i| format!("{}-{i:02}", "b".repeat(58)))
            .collect();
        let names: Vec<&str> = many.iter().map(String::as_str).collect();
        let err = render_s3_policy(BuiltinTemplate::S3FullAccess, &buckets(&names), "aws", None)
            .unwrap_err();
        assert!(matches!(err, PolicyError::TooLarge { chars } if chars > MAX_POLICY_CHARS));
    }

    #[test]
    fn ephemeral_permission_set_names_fit_identity_center_limits() {
        let name = ephemeral_permission_set_name("01a2139c-b00f-70e1-bda5-43579050f9c7");
        assert_eq!(name, "jit-139cb00f70e1bda543579050f9c7");
        assert!(name.len() <= MAX_PERMISSION_SET_NAME);
        assert!(crate::ids::PermissionSetName::parse(&name).is_ok());
    }

    #[test]
    fn generated_names_are_deterministic_unique_per_grant_and_within_limits() {
        let id = "01a2139c-b00f-70e1-bda5-43579050f9c7";
        let name = generated_policy_name("read_access_to_buckets", "Alice@Example.com", id);
        assert_eq!(
            name,
            "jit-read_access_to_buckets-alice@example.com-01a2139c-b00f-70e1-bda5-43579050f9c7"
        );
        assert_eq!(
            name,
            generated_policy_name("read_access_to_buckets", "alice@example.com", id)
        );
        let long = generated_policy_name(&"s".repeat(200), &"u".repeat(200), id);
        assert!(long.len() <= MAX_POLICY_NAME);
        assert!(long.ends_with(id));
        let odd = generated_policy_name("väst/ost", "a b@c.d", id);
        assert_eq!(odd, format!("jit-v-st-ost-a-b@c.d-{id}"));
    }
}
