//! IAM through `aws-sdk-iam` (and STS for the caller's own account): users, customer-managed
//! policies and their attachments. Stateless; "absent" answers to detach and delete count as
//! done, so removal is idempotent.

use async_trait::async_trait;
use aws_jit_app::ports::{FoundPolicy, Iam, IamUser, NewPolicy, ProviderError, ProviderErrorKind};
use aws_jit_core::UserEmail;
use aws_sdk_iam::types::Tag;

use crate::errors::{classify, missing};

/// The IAM adapter.
#[derive(Debug, Clone)]
pub struct AwsIam {
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
}

impl AwsIam {
    /// Wraps SDK clients.
    pub fn new(iam: aws_sdk_iam::Client, sts: aws_sdk_sts::Client) -> Self {
        AwsIam { iam, sts }
    }

    async fn tags_of(&self, user: &str) -> Result<Vec<(String, String)>, ProviderError> {
        let out = self
            .iam
            .list_user_tags()
            .user_name(user)
            .send()
            .await
            .map_err(|e| classify("ListUserTags", e))?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect())
    }
}

fn absent_is_done(result: Result<(), ProviderError>) -> Result<(), ProviderError> {
    match result {
        Err(e) if e.kind == ProviderErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[async_trait]
impl Iam for AwsIam {
    async fn get_user(&self, name: &str) -> Result<Option<IamUser>, ProviderError> {
        match self.iam.get_user().user_name(name).send().await {
            Ok(out) => {
                let user = out.user().ok_or_else(|| missing("GetUser", "User"))?;
                Ok(Some(IamUser {
                    name: user.user_name().to_owned(),
                    arn: user.arn().to_owned(),
                    tags: user
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_owned(), t.value().to_owned()))
                        .collect(),
                }))
            }
            Err(e) => {
                let e = classify("GetUser", e);
                if e.kind == ProviderErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn scan_users_by_email(&self, email: &UserEmail) -> Result<Vec<IamUser>, ProviderError> {
        let mut found = Vec::new();
        let mut pages = self.iam.list_users().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListUsers", e))?;
            for user in page.users() {
                let candidate = IamUser {
                    name: user.user_name().to_owned(),
                    arn: user.arn().to_owned(),
                    tags: self.tags_of(user.user_name()).await?,
                };
                if candidate.has_email_tag(email) {
                    found.push(candidate);
                }
            }
        }
        Ok(found)
    }

    async fn policy_exists(&self, arn: &str) -> Result<bool, ProviderError> {
        match self.iam.get_policy().policy_arn(arn).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = classify("GetPolicy", e);
                if e.kind == ProviderErrorKind::NotFound {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn policy_attached(&self, user: &str, policy_arn: &str) -> Result<bool, ProviderError> {
        let mut pages = self
            .iam
            .list_attached_user_policies()
            .user_name(user)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListAttachedUserPolicies", e))?;
            if page
                .attached_policies()
                .iter()
                .any(|p| p.policy_arn() == Some(policy_arn))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn create_policy(&self, policy: &NewPolicy) -> Result<String, ProviderError> {
        let mut request = self
            .iam
            .create_policy()
            .policy_name(&policy.name)
            .path(&policy.path)
            .policy_document(&policy.document)
            .description(&policy.description);
        for (key, value) in &policy.tags {
            let tag = Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| ProviderError {
                    kind: ProviderErrorKind::Other,
                    operation: "CreatePolicy",
                    message: e.to_string(),
                    source: None,
                })?;
            request = request.tags(tag);
        }
        let out = request
            .send()
            .await
            .map_err(|e| classify("CreatePolicy", e))?;
        out.policy()
            .and_then(|p| p.arn())
            .map(str::to_owned)
            .ok_or_else(|| missing("CreatePolicy", "Policy.Arn"))
    }

    async fn attach_policy(&self, user: &str, policy_arn: &str) -> Result<(), ProviderError> {
        self.iam
            .attach_user_policy()
            .user_name(user)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|e| classify("AttachUserPolicy", e))?;
        Ok(())
    }

    async fn detach_policy(&self, user: &str, policy_arn: &str) -> Result<(), ProviderError> {
        absent_is_done(
            self.iam
                .detach_user_policy()
                .user_name(user)
                .policy_arn(policy_arn)
                .send()
                .await
                .map(drop)
                .map_err(|e| classify("DetachUserPolicy", e)),
        )
    }

    async fn delete_policy(&self, policy_arn: &str) -> Result<(), ProviderError> {
        let delete = || async {
            absent_is_done(
                self.iam
                    .delete_policy()
                    .policy_arn(policy_arn)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| classify("DeletePolicy", e)),
            )
        };
        match delete().await {
            // Still attached somewhere (someone attached it by hand): detach it from every
            // user, then delete. Only then, so that the common case is one call.
            Err(e) if e.kind == ProviderErrorKind::InUse => {
                let entities = self
                    .iam
                    .list_entities_for_policy()
                    .policy_arn(policy_arn)
                    .send()
                    .await
                    .map_err(|e| classify("ListEntitiesForPolicy", e))?;
                for user in entities.policy_users() {
                    if let Some(name) = user.user_name() {
                        self.detach_policy(name, policy_arn).await?;
                    }
                }
                for group in entities.policy_groups() {
                    if let Some(name) = group.group_name() {
                        absent_is_done(
                            self.iam
                                .detach_group_policy()
                                .group_name(name)
                                .policy_arn(policy_arn)
                                .send()
                                .await
                                .map(drop)
                                .map_err(|e| classify("DetachGroupPolicy", e)),
                        )?;
                    }
                }
                for role in entities.policy_roles() {
                    if let Some(name) = role.role_name() {
                        absent_is_done(
                            self.iam
                                .detach_role_policy()
                                .role_name(name)
                                .policy_arn(policy_arn)
                                .send()
                                .await
                                .map(drop)
                                .map_err(|e| classify("DetachRolePolicy", e)),
                        )?;
                    }
                }
                delete().await
            }
            other => other,
        }
    }

    async fn policies_under(&self, path: &str) -> Result<Vec<FoundPolicy>, ProviderError> {
        let mut found = Vec::new();
        let mut pages = self
            .iam
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .path_prefix(path)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListPolicies", e))?;
            for policy in page.policies() {
                let (Some(arn), Some(name)) = (policy.arn(), policy.policy_name()) else {
                    continue;
                };
                let tags = self
                    .iam
                    .list_policy_tags()
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| classify("ListPolicyTags", e))?
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect();
                found.push(FoundPolicy {
                    arn: arn.to_owned(),
                    name: name.to_owned(),
                    tags,
                });
            }
        }
        Ok(found)
    }

    async fn caller_account(&self) -> Result<(String, String), ProviderError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| classify("GetCallerIdentity", e))?;
        let account = out
            .account()
            .ok_or_else(|| missing("GetCallerIdentity", "Account"))?
            .to_owned();
        let partition = out
            .arn()
            .and_then(|a| a.split(':').nth(1))
            .unwrap_or("aws")
            .to_owned();
        Ok((account, partition))
    }

    async fn account_alias(&self) -> Result<Option<String>, ProviderError> {
        let out = self
            .iam
            .list_account_aliases()
            .send()
            .await
            .map_err(|e| classify("ListAccountAliases", e))?;
        Ok(out.account_aliases().first().cloned())
    }
}

#[cfg(test)]
mod tests {
    //! moto deletes attached policies without complaint; AWS refuses with `DeleteConflict`.

    use super::*;
    use aws_sdk_iam::Client;
    use aws_sdk_iam::operation::delete_policy::{DeletePolicyError, DeletePolicyOutput};
    use aws_sdk_iam::operation::detach_role_policy::DetachRolePolicyOutput;
    use aws_sdk_iam::operation::list_entities_for_policy::ListEntitiesForPolicyOutput;
    use aws_sdk_iam::types::PolicyRole;
    use aws_sdk_iam::types::error::DeleteConflictException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    #[tokio::test]
    async fn a_generated_policy_attached_elsewhere_is_detached_then_deleted() {
        let delete = mock!(Client::delete_policy)
            .sequence()
            .error(|| {
                DeletePolicyError::DeleteConflictException(
                    DeleteConflictException::builder()
                        .message("Cannot delete a policy attached to entities.")
                        .meta(
                            aws_smithy_types::error::ErrorMetadata::builder()
                                .code("DeleteConflict")
                                .message("Cannot delete a policy attached to entities.")
                                .build(),
                        )
                        .build(),
                )
            })
            .output(|| DeletePolicyOutput::builder().build())
            .build();
        let entities = mock!(Client::list_entities_for_policy).then_output(|| {
            ListEntitiesForPolicyOutput::builder()
                .policy_roles(
                    PolicyRole::builder()
                        .role_name("someone-elses-role")
                        .build(),
                )
                .build()
        });
        let detach = mock!(Client::detach_role_policy)
            .match_requests(|r| r.role_name() == Some("someone-elses-role"))
            .then_output(|| DetachRolePolicyOutput::builder().build());
        let iam = mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            &[&delete, &entities, &detach]
        );
        let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[]);
        AwsIam::new(iam, sts)
            .delete_policy("arn:aws:iam::123456789012:policy/aws-jit/jit-x")
            .await
            .unwrap();
        assert_eq!(delete.num_calls(), 2);
        assert_eq!(detach.num_calls(), 1);
    }
}
