//! Resolving what a grant needs from AWS, read-only, before anything is recorded: the
//! Identity Center instance, permission sets, users, IAM users and policies.

use aws_jit_core::duration::{EffectiveDuration, effective_duration};
use aws_jit_core::tool_policy::KnownArns;
use aws_jit_core::{
    Access, AccessDuration, AccessTarget, Catalog, GrantId, GrantTarget, Person, UserEmail,
};
use jiff::Timestamp;

use aws_jit_core::config::{EphemeralPolicy, MAX_INLINE_POLICY_CHARS};
use aws_jit_core::policy::{
    BuiltinTemplate, GENERATED_POLICY_PATH, PolicyError, ephemeral_permission_set_name,
    generated_policy_name, ownership_marker, render_s3_policy,
};

use super::grant::Admitted;
use super::{AppError, Jit, TAG_GRANT, new_grant_id};
use crate::ports::{Assignment, IamUser, Instance, NewPolicy, PermissionSetSpec};

/// What creating a grant's per-grant resource needs beyond the identifiers its
/// [`GrantTarget`] records: the policy document, or the permission set's definition.
#[derive(Debug, Clone)]
pub(crate) enum Blueprint {
    /// Nothing to make: an existing permission set or policy.
    Existing,
    /// The policy to create for the grant.
    Policy(NewPolicy),
    /// The permission set to create for the grant.
    PermissionSet(PermissionSetSpec),
}

/// The Identity Center assignment a target makes, once its permission set is known (and
/// `None` for a record that lacks any part of it).
pub(crate) fn assignment_of(target: &GrantTarget) -> Option<Assignment> {
    let part = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(str::to_owned);
    Some(Assignment {
        instance_arn: part(target.instance_arn())?,
        account_id: part(target.account_id())?,
        permission_set_arn: part(target.permission_set_arn())?,
        principal_id: part(target.principal_id())?,
    })
}

/// A grant about to be recorded: its numbers and its AWS identifiers.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) duration: EffectiveDuration,
    pub(crate) id: GrantId,
    pub(crate) now: Timestamp,
    pub(crate) expires_at: Timestamp,
    pub(crate) resolved: Resolved,
}

/// What a grant will change in AWS, resolved before anything is recorded.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The target, as the grant records it.
    pub(crate) target: GrantTarget,
    /// How to make it, when it is made for the grant.
    pub(crate) blueprint: Blueprint,
}

pub(crate) const CACHE_INSTANCE: &str = "sso.instance";

/// How long a looked-up instance or permission-set ARN is reused before AWS is asked again.
pub(crate) const AWS_LOOKUP_TTL: std::time::Duration = std::time::Duration::from_secs(600);

pub(crate) fn permission_set_cache_key(instance: &Instance, name: &str) -> String {
    format!("sso.permission_set:{}:{}", instance.arn, name)
}

impl Jit {
    /// The Identity Center instance: configured, cached in the store, or discovered.
    pub async fn instance(&self) -> Result<Instance, AppError> {
        if let Some(instance) = &self.settings.instance {
            return Ok(instance.clone());
        }
        if let Some(cached) = self
            .store
            .cache_get_fresh(CACHE_INSTANCE, self.fresh_since())
            .await?
            && let Some((arn, id)) = cached.split_once('|')
        {
            return Ok(Instance {
                arn: arn.to_owned(),
                identity_store_id: id.to_owned(),
            });
        }
        let instance = self.sso.discover_instance().await?;
        let value = format!("{}|{}", instance.arn, instance.identity_store_id);
        self.store
            .cache_put(CACHE_INSTANCE, &value, self.clock.now())
            .await?;
        Ok(instance)
    }

    /// Forgets cached AWS lookups (after AWS said a cached id no longer exists).
    pub(crate) async fn forget_cached(&self, access: &Access) -> Result<(), AppError> {
        if let AccessTarget::IdentityCenter { permission_set, .. } = &access.target {
            let instance = self.instance().await?;
            self.store.cache_delete(CACHE_INSTANCE).await?;
            self.store
                .cache_delete(&permission_set_cache_key(
                    &instance,
                    permission_set.as_str(),
                ))
                .await?;
        }
        Ok(())
    }

    /// A permission set's ARN by name, cached in the store.
    pub async fn permission_set_arn(
        &self,
        instance: &Instance,
        name: &str,
    ) -> Result<String, AppError> {
        let key = permission_set_cache_key(instance, name);
        if let Some(arn) = self.store.cache_get_fresh(&key, self.fresh_since()).await? {
            return Ok(arn);
        }
        let arn = self
            .sso
            .find_permission_set(&instance.arn, name)
            .await?
            .ok_or_else(|| AppError::UnknownPermissionSet(name.to_owned()))?;
        self.store.cache_put(&key, &arn, self.clock.now()).await?;
        Ok(arn)
    }

    /// The ARNs `aws-jit iam-policy --resolve` names: the instance and every configured
    /// permission set, asked of AWS now rather than read from the cache.
    pub async fn tool_policy_arns(&self, catalog: &Catalog) -> Result<KnownArns, AppError> {
        let instance = match &self.settings.instance {
            Some(instance) => instance.clone(),
            None => self.sso.discover_instance().await?,
        };
        let mut permission_sets = Vec::new();
        for access in catalog.accesses() {
            if let AccessTarget::IdentityCenter { permission_set, .. } = &access.target {
                let arn = self
                    .sso
                    .find_permission_set(&instance.arn, permission_set.as_str())
                    .await?
                    .ok_or_else(|| AppError::UnknownPermissionSet(permission_set.to_string()))?;
                permission_sets.push(arn);
            }
        }
        permission_sets.sort();
        permission_sets.dedup();
        Ok(KnownArns {
            instance: instance.arn,
            permission_sets,
        })
    }

    /// The oldest a cached AWS lookup may be to be reused now.
    fn fresh_since(&self) -> Timestamp {
        let now = self.clock.now();
        now.checked_sub(jiff::SignedDuration::try_from(AWS_LOOKUP_TTL).unwrap_or_default())
            .unwrap_or(now)
    }

    /// Forgets the cached instance, so that the next lookup asks AWS (`validate`, once
    /// before its checks).
    pub async fn forget_instance(&self) -> Result<(), AppError> {
        Ok(self.store.cache_delete(CACHE_INSTANCE).await?)
    }

    /// Checks in AWS, now, that the access's resources exist (for `validate` without
    /// `--offline`): the access's cached lookups are dropped first and refreshed by the
    /// check (the instance's by [`Jit::forget_instance`]).
    /// Returns what was checked, for people.
    pub async fn check_access(&self, access: &Access) -> Result<String, AppError> {
        match &access.target {
            AccessTarget::IdentityCenter { permission_set, .. } => {
                let instance = self.instance().await?;
                self.store
                    .cache_delete(&permission_set_cache_key(
                        &instance,
                        permission_set.as_str(),
                    ))
                    .await?;
                let arn = self
                    .permission_set_arn(&instance, permission_set.as_str())
                    .await?;
                Ok(format!("permission set `{permission_set}` exists ({arn})"))
            }
            AccessTarget::EphemeralPermissionSet { .. } => {
                let instance = self.instance().await?;
                Ok(format!(
                    "the Identity Center instance exists ({})",
                    instance.arn
                ))
            }
            AccessTarget::S3 {
                policy_template, ..
            } => {
                if BuiltinTemplate::parse(policy_template).is_some() {
                    return Ok(format!(
                        "`{policy_template}` is a built-in template (nothing to look up)"
                    ));
                }
                let (account, partition) = self.iam.caller_account().await?;
                let arn = self
                    .existing_policy_arn(policy_template, &account, &partition)
                    .await?;
                Ok(format!("policy `{policy_template}` exists ({arn})"))
            }
        }
    }

    /// The duration, id and expiry of a new grant, and its AWS identifiers (read-only).
    pub(crate) async fn prepare(&self, request: &Admitted<'_>) -> Result<Prepared, AppError> {
        let duration = effective_duration(
            request.duration,
            request.access.session_duration,
            self.settings.global_max,
        );
        let now = self.clock.now();
        let id = GrantId::new(new_grant_id(now));
        let expires_at = now
            .saturating_add(duration.duration.to_signed())
            .unwrap_or(now);
        let resolved = self
            .resolve(
                request.access,
                &request.person,
                &request.asked,
                &id,
                expires_at,
            )
            .await?;
        Ok(Prepared {
            duration,
            id,
            now,
            expires_at,
            resolved,
        })
    }

    /// Resolves everything a grant needs from AWS, read-only: nothing is recorded yet.
    pub(crate) async fn resolve(
        &self,
        access: &Access,
        person: &Person,
        asked: &UserEmail,
        id: &GrantId,
        expires_at: Timestamp,
    ) -> Result<Resolved, AppError> {
        match &access.target {
            AccessTarget::IdentityCenter {
                account_id,
                permission_set,
            } => {
                let instance = self.instance().await?;
                let principal_id = person
                    .id
                    .clone()
                    .ok_or_else(|| AppError::UnknownUser(person.email.clone()))?;
                let permission_set_arn = self
                    .permission_set_arn(&instance, permission_set.as_str())
                    .await?;
                Ok(Resolved {
                    target: GrantTarget::Assignment {
                        instance_arn: instance.arn,
                        account_id: account_id.to_string(),
                        permission_set: permission_set.to_string(),
                        permission_set_arn,
                        principal_id,
                    },
                    blueprint: Blueprint::Existing,
                })
            }
            AccessTarget::EphemeralPermissionSet { account_id, policy } => {
                let instance = self.instance().await?;
                let principal_id = person
                    .id
                    .clone()
                    .ok_or_else(|| AppError::UnknownUser(person.email.clone()))?;
                let spec = PermissionSetSpec {
                    name: ephemeral_permission_set_name(id.as_str()),
                    description: format!(
                        "{} of `{}` for {}; deleted when the grant ends",
                        ownership_marker(id.as_str()),
                        access.key,
                        person.email.clone()
                    ),
                    session_duration: session_duration_for(expires_at, self.clock.now()),
                    inline_policy: ephemeral_inline_policy(policy, Some(expires_at))?,
                    managed_policies: policy.managed_policies.clone(),
                    tags: vec![
                        (TAG_GRANT.to_owned(), id.to_string()),
                        ("aws-jit:access".to_owned(), access.slug.clone()),
                        ("aws-jit:user".to_owned(), person.email.clone()),
                    ],
                    account_id: account_id.to_string(),
                };
                Ok(Resolved {
                    target: GrantTarget::EphemeralPermissionSet {
                        instance_arn: instance.arn,
                        account_id: account_id.to_string(),
                        permission_set: spec.name.clone(),
                        permission_set_arn: None,
                        principal_id,
                    },
                    blueprint: Blueprint::PermissionSet(spec),
                })
            }
            AccessTarget::S3 {
                buckets,
                policy_template,
            } => {
                let iam_user = self.iam_user_of(asked, person).await?;
                let account = iam_user.account_id().unwrap_or_default().to_owned();
                let partition = iam_user.partition().unwrap_or("aws").to_owned();
                let resolved = match BuiltinTemplate::parse(policy_template) {
                    Some(template) => {
                        let document =
                            render_s3_policy(template, buckets, &partition, Some(expires_at))?;
                        let name = generated_policy_name(&access.slug, &person.email, id.as_str());
                        let arn = format!(
                            "arn:{partition}:iam::{account}:policy{GENERATED_POLICY_PATH}{name}"
                        );
                        let policy = NewPolicy {
                            name,
                            path: GENERATED_POLICY_PATH.to_owned(),
                            document: document.to_json(),
                            description: format!(
                                "aws-jit grant {id} of `{}` for {}; deleted when the grant ends",
                                access.key,
                                person.email.clone()
                            ),
                            tags: vec![
                                (TAG_GRANT.to_owned(), id.to_string()),
                                ("aws-jit:access".to_owned(), access.slug.clone()),
                                ("aws-jit:user".to_owned(), person.email.clone()),
                            ],
                        };
                        Resolved {
                            target: GrantTarget::GeneratedPolicy {
                                iam_user: iam_user.name.clone(),
                                policy_arn: arn,
                            },
                            blueprint: Blueprint::Policy(policy),
                        }
                    }
                    None => {
                        let arn = self
                            .existing_policy_arn(policy_template, &account, &partition)
                            .await?;
                        Resolved {
                            target: GrantTarget::PolicyAttachment {
                                iam_user: iam_user.name.clone(),
                                policy_arn: arn,
                            },
                            blueprint: Blueprint::Existing,
                        }
                    }
                };
                Ok(resolved)
            }
        }
    }

    /// The IAM user of a person: by the address asked for, else by any other name the
    /// directory knows them by.
    async fn iam_user_of(&self, asked: &UserEmail, person: &Person) -> Result<IamUser, AppError> {
        let first = match self.iam_user(asked).await {
            Err(AppError::UnknownIamUser(_)) => None,
            other => Some(other),
        };
        if let Some(found) = first {
            return found;
        }
        for name in person.names().filter(|n| *n != asked.normalized()) {
            if let Ok(email) = UserEmail::parse(name) {
                match self.iam_user(&email).await {
                    Err(AppError::UnknownIamUser(_)) => {}
                    other => return other,
                }
            }
        }
        Err(AppError::UnknownIamUser(asked.to_string()))
    }

    /// The IAM user for an email: the user named by it (one call in the common case), else
    /// the one user whose `email` tag matches, remembered in the store so that only the
    /// first lookup lists the account's users (a remembered user is used only while AWS
    /// says it still carries the tag).
    pub async fn iam_user(&self, email: &UserEmail) -> Result<IamUser, AppError> {
        let lower = email.normalized();
        if let Some(user) = self.iam.get_user(email.as_str()).await? {
            return Ok(user);
        }
        if lower != email.as_str()
            && let Some(user) = self.iam.get_user(&lower).await?
        {
            return Ok(user);
        }
        let key = format!("iam.user-by-email:{lower}");
        if let Some(name) = self.store.cache_get(&key).await?
            && let Some(user) = self.iam.get_user(&name).await?
            && user.has_email_tag(email)
        {
            return Ok(user);
        }
        // A tag anyone allowed to tag users can set: two users carrying one email is a
        // claim nobody can settle here, so it is refused rather than resolved by order.
        let mut found = self.iam.scan_users_by_email(email).await?;
        if found.len() > 1 {
            return Err(AppError::AmbiguousIamUser {
                email: email.to_string(),
                users: found.iter().map(|u| format!("`{}`", u.name)).collect(),
            });
        }
        let user = found
            .pop()
            .ok_or_else(|| AppError::UnknownIamUser(email.to_string()))?;
        self.store
            .cache_put(&key, &user.name, self.clock.now())
            .await?;
        Ok(user)
    }

    /// The ARN of an existing policy named by a template: an ARN as given, else a
    /// customer-managed policy of the account, else an AWS-managed one.
    pub(crate) async fn existing_policy_arn(
        &self,
        template: &str,
        account: &str,
        partition: &str,
    ) -> Result<String, AppError> {
        let candidates = if template.starts_with("arn:") {
            vec![template.to_owned()]
        } else {
            vec![
                format!("arn:{partition}:iam::{account}:policy/{template}"),
                format!("arn:{partition}:iam::aws:policy/{template}"),
            ]
        };
        for arn in candidates {
            if self.iam.policy_exists(&arn).await? {
                return Ok(arn);
            }
        }
        Err(AppError::UnknownPolicy(template.to_owned()))
    }
}

/// A permission set's session length for a grant: the grant's length, within Identity
/// Center's bounds of one to twelve hours.
pub(crate) fn session_duration_for(expires_at: Timestamp, now: Timestamp) -> String {
    let seconds = expires_at
        .duration_since(now)
        .as_secs()
        .clamp(3_600, 43_200);
    AccessDuration::from_seconds(u64::try_from(seconds).unwrap_or(3_600))
        .map_or_else(|| "PT1H".to_owned(), |d| d.to_string())
}

/// The inline policy of an ephemeral permission set: the configured document, plus the S3
/// template's statements (with their expiry condition) when buckets are given.
pub(crate) fn ephemeral_inline_policy(
    policy: &EphemeralPolicy,
    expires_at: Option<Timestamp>,
) -> Result<Option<String>, PolicyError> {
    let mut document: Option<serde_json::Value> = policy
        .inline_policy
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok());
    if let Some((buckets, template)) = &policy.s3 {
        let rendered = render_s3_policy(*template, buckets, "aws", expires_at)?;
        let extra = serde_json::to_value(&rendered.statement).unwrap_or_default();
        let doc = document
            .get_or_insert_with(|| serde_json::json!({ "Version": "2012-10-17", "Statement": [] }));
        let statements = match doc.get_mut("Statement") {
            Some(serde_json::Value::Array(list)) => list,
            Some(other) => {
                *other = serde_json::Value::Array(vec![other.clone()]);
                match other {
                    serde_json::Value::Array(list) => list,
                    _ => return Ok(None),
                }
            }
            None => return Ok(None),
        };
        if let serde_json::Value::Array(more) = extra {
            statements.extend(more);
        }
    }
    let Some(doc) = document else {
        return Ok(None);
    };
    let text = doc.to_string();
    if text.len() > MAX_INLINE_POLICY_CHARS {
        return Err(PolicyError::InlineTooLarge { chars: text.len() });
    }
    Ok(Some(text))
}
