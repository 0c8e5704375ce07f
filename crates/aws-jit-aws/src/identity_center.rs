//! IAM Identity Center through `aws-sdk-ssoadmin` and `aws-sdk-identitystore`.
//!
//! Account assignment creation and deletion are asynchronous in AWS: the first answer may
//! say `IN_PROGRESS`, and the tool polls the request's status with bounded backoff until it
//! says `SUCCEEDED` or `FAILED` (whose reason is reported). `ConflictException` and
//! throttling that outlast the SDK's own retries are retried here, also bounded. This
//! adapter keeps no state: caching of ids is the app layer's business.

use std::time::Duration;

use crate::limits::{Limiter, RateLimits};
use async_trait::async_trait;
use aws_jit_app::ports::{
    Assignment, DirectoryUser, IdentityCenter, Instance, PermissionSetSpec, ProviderError,
    ProviderErrorKind,
};
use aws_jit_core::UserEmail;
use aws_sdk_identitystore::types::{AlternateIdentifier, MemberId, UniqueAttribute};
use aws_sdk_ssoadmin::types::{
    AccountAssignmentOperationStatus, ListAccountAssignmentsFilter,
    PermissionSetProvisioningStatus, PrincipalType, ProvisionTargetType, StatusValues,
    Tag as SsoTag, TargetType,
};
use aws_smithy_types::Document;

use crate::errors::{classify, missing};

/// Bounds on retries and polling.
#[derive(Debug, Clone)]
pub struct Patience {
    /// Extra attempts after a conflict or throttling that the SDK gave up on.
    pub conflict_retries: u32,
    /// First delay between those attempts; doubles each time.
    pub retry_delay: Duration,
    /// First delay between status polls; doubles up to `poll_max_delay`.
    pub poll_delay: Duration,
    /// Longest delay between status polls.
    pub poll_max_delay: Duration,
    /// Total time to wait for an asynchronous operation.
    pub poll_budget: Duration,
}

impl Default for Patience {
    fn default() -> Self {
        Patience {
            conflict_retries: 5,
            retry_delay: Duration::from_millis(250),
            poll_delay: Duration::from_millis(250),
            poll_max_delay: Duration::from_secs(2),
            poll_budget: Duration::from_secs(120),
        }
    }
}

/// The state of an asynchronous Identity Center request, whatever its kind.
#[derive(Debug, Clone)]
struct AsyncStatus {
    status: Option<StatusValues>,
    failure_reason: Option<String>,
    request_id: Option<String>,
}

impl From<AccountAssignmentOperationStatus> for AsyncStatus {
    fn from(s: AccountAssignmentOperationStatus) -> Self {
        AsyncStatus {
            status: s.status,
            failure_reason: s.failure_reason,
            request_id: s.request_id,
        }
    }
}

impl From<PermissionSetProvisioningStatus> for AsyncStatus {
    fn from(s: PermissionSetProvisioningStatus) -> Self {
        AsyncStatus {
            status: s.status,
            failure_reason: s.failure_reason,
            request_id: s.request_id,
        }
    }
}

/// The Identity Center adapter.
#[derive(Debug, Clone)]
pub struct AwsIdentityCenter {
    sso: aws_sdk_ssoadmin::Client,
    store: aws_sdk_identitystore::Client,
    patience: Patience,
    limiter: Limiter,
}

/// An Identity Store lookup key: a unique attribute and its value.
fn unique_attribute(
    operation: &'static str,
    path: &str,
    value: &str,
) -> Result<AlternateIdentifier, ProviderError> {
    Ok(AlternateIdentifier::UniqueAttribute(
        UniqueAttribute::builder()
            .attribute_path(path)
            .attribute_value(Document::String(value.to_owned()))
            .build()
            .map_err(|e| ProviderError {
                kind: ProviderErrorKind::Other,
                operation,
                message: e.to_string(),
                source: None,
            })?,
    ))
}

impl AwsIdentityCenter {
    /// Wraps SDK clients.
    pub fn new(
        sso: aws_sdk_ssoadmin::Client,
        store: aws_sdk_identitystore::Client,
        patience: Patience,
    ) -> Self {
        Self::limited(sso, store, patience, Limiter::new(RateLimits::default()))
    }

    /// The same adapter on the front doors' handle of its limiter.
    pub fn front_doors(&self) -> Self {
        AwsIdentityCenter {
            limiter: self.limiter.front_doors(),
            ..self.clone()
        }
    }

    /// Wraps SDK clients, sharing `limiter` with every other user of it.
    pub fn limited(
        sso: aws_sdk_ssoadmin::Client,
        store: aws_sdk_identitystore::Client,
        patience: Patience,
        limiter: Limiter,
    ) -> Self {
        AwsIdentityCenter {
            sso,
            store,
            patience,
            limiter,
        }
    }

    /// Runs one paginator step within the rate limit.
    async fn paced<T>(&self, next: impl Future<Output = T>) -> T {
        self.limiter.call().await;
        next.await
    }

    /// Runs `op`, retrying conflicts and throttling with doubling delays.
    async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let mut delay = self.patience.retry_delay;
        let mut attempt = 0;
        loop {
            self.limiter.call().await;
            match op().await {
                Err(e)
                    if matches!(
                        e.kind,
                        ProviderErrorKind::Conflict | ProviderErrorKind::Throttled
                    ) && attempt < self.patience.conflict_retries =>
                {
                    attempt += 1;
                    tracing::warn!(operation = e.operation, attempt, error = %e, "retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2).min(Duration::from_secs(10));
                }
                other => return other,
            }
        }
    }

    /// Polls an asynchronous Identity Center operation until it leaves `IN_PROGRESS`:
    /// `SUCCEEDED` is done, `FAILED` reports AWS's reason, and the polling budget bounds the
    /// wait. `fetch` asks for the status of a request id.
    async fn poll<F, Fut>(
        &self,
        operation: &'static str,
        first: AsyncStatus,
        mut fetch: F,
    ) -> Result<(), ProviderError>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<AsyncStatus, ProviderError>>,
    {
        let mut status = first;
        let mut delay = self.patience.poll_delay;
        let mut waited = Duration::ZERO;
        loop {
            match status.status {
                Some(StatusValues::Succeeded) => return Ok(()),
                Some(StatusValues::Failed) => {
                    return Err(ProviderError {
                        kind: ProviderErrorKind::Failed,
                        operation,
                        message: status.failure_reason.unwrap_or_else(|| {
                            "AWS reported the request as failed without a reason".to_owned()
                        }),
                        source: None,
                    });
                }
                _ => {}
            }
            if waited >= self.patience.poll_budget {
                return Err(ProviderError {
                    kind: ProviderErrorKind::StillInProgress,
                    operation,
                    message: format!("still in progress after {}s", waited.as_secs()),
                    source: None,
                });
            }
            let request_id = status
                .request_id
                .ok_or_else(|| missing(operation, "RequestId"))?;
            tokio::time::sleep(delay).await;
            waited += delay;
            delay = delay.saturating_mul(2).min(self.patience.poll_max_delay);
            status = self.retrying(|| fetch(request_id.clone())).await?;
        }
    }

    /// Waits for an account assignment creation or deletion.
    async fn await_status(
        &self,
        instance_arn: &str,
        first: AccountAssignmentOperationStatus,
        deletion: bool,
    ) -> Result<(), ProviderError> {
        if deletion {
            const OPERATION: &str = "DescribeAccountAssignmentDeletionStatus";
            self.poll(OPERATION, first.into(), |id| async move {
                self.sso
                    .describe_account_assignment_deletion_status()
                    .instance_arn(instance_arn)
                    .account_assignment_deletion_request_id(id)
                    .send()
                    .await
                    .map_err(|e| classify(OPERATION, e))?
                    .account_assignment_deletion_status
                    .map(AsyncStatus::from)
                    .ok_or_else(|| missing(OPERATION, "AccountAssignmentDeletionStatus"))
            })
            .await
        } else {
            const OPERATION: &str = "DescribeAccountAssignmentCreationStatus";
            self.poll(OPERATION, first.into(), |id| async move {
                self.sso
                    .describe_account_assignment_creation_status()
                    .instance_arn(instance_arn)
                    .account_assignment_creation_request_id(id)
                    .send()
                    .await
                    .map_err(|e| classify(OPERATION, e))?
                    .account_assignment_creation_status
                    .map(AsyncStatus::from)
                    .ok_or_else(|| missing(OPERATION, "AccountAssignmentCreationStatus"))
            })
            .await
        }
    }

    /// Waits for a permission set provisioning: a `SUCCEEDED` in the first answer is
    /// trusted; `IN_PROGRESS` is polled with `DescribePermissionSetProvisioningStatus`.
    async fn await_provisioning(
        &self,
        instance_arn: &str,
        first: PermissionSetProvisioningStatus,
    ) -> Result<(), ProviderError> {
        const OPERATION: &str = "DescribePermissionSetProvisioningStatus";
        self.poll(OPERATION, first.into(), |id| async move {
            self.sso
                .describe_permission_set_provisioning_status()
                .instance_arn(instance_arn)
                .provision_permission_set_request_id(id)
                .send()
                .await
                .map_err(|e| classify(OPERATION, e))?
                .permission_set_provisioning_status
                .map(AsyncStatus::from)
                .ok_or_else(|| missing(OPERATION, "PermissionSetProvisioningStatus"))
        })
        .await
    }

    async fn user_id_by(
        &self,
        identity_store_id: &str,
        path: &str,
        value: &str,
    ) -> Result<Option<String>, ProviderError> {
        let id = unique_attribute("GetUserId", path, value)?;
        let answer = self
            .retrying(|| async {
                self.store
                    .get_user_id()
                    .identity_store_id(identity_store_id)
                    .alternate_identifier(id.clone())
                    .send()
                    .await
                    .map_err(|e| classify("GetUserId", e))
            })
            .await;
        match answer {
            Ok(out) => Ok(Some(out.user_id)),
            Err(e) if e.kind == ProviderErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Case-insensitive search over every user: the last resort when the exact lookups miss.
    async fn scan_users(
        &self,
        identity_store_id: &str,
        wanted: &str,
    ) -> Result<Option<String>, ProviderError> {
        let mut pages = self
            .store
            .list_users()
            .identity_store_id(identity_store_id)
            .into_paginator()
            .send();
        while let Some(page) = self.paced(pages.next()).await {
            let page = page.map_err(|e| classify("ListUsers", e))?;
            for user in page.users() {
                let by_name = user.user_name().is_some_and(|n| n.to_lowercase() == wanted);
                let by_email = user
                    .emails()
                    .iter()
                    .any(|e| e.value().is_some_and(|v| v.to_lowercase() == wanted));
                if by_name || by_email {
                    return Ok(Some(user.user_id().to_owned()));
                }
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl IdentityCenter for AwsIdentityCenter {
    async fn discover_instance(&self) -> Result<Instance, ProviderError> {
        let out = self
            .retrying(|| async {
                self.sso
                    .list_instances()
                    .send()
                    .await
                    .map_err(|e| classify("ListInstances", e))
            })
            .await?;
        let first = out.instances().first().ok_or_else(|| ProviderError {
            kind: ProviderErrorKind::NotFound,
            operation: "ListInstances",
            message: "no IAM Identity Center instance is enabled in this account and region"
                .to_owned(),
            source: None,
        })?;
        Ok(Instance {
            arn: first
                .instance_arn()
                .ok_or_else(|| missing("ListInstances", "InstanceArn"))?
                .to_owned(),
            identity_store_id: first
                .identity_store_id()
                .ok_or_else(|| missing("ListInstances", "IdentityStoreId"))?
                .to_owned(),
        })
    }

    async fn find_user(
        &self,
        instance: &Instance,
        email: &UserEmail,
        thorough: bool,
    ) -> Result<Option<String>, ProviderError> {
        let given = email.as_str();
        let lower = email.normalized();
        let store_id = instance.identity_store_id.as_str();
        // Exact lookups first (one call in the common case), then a case-insensitive scan.
        if let Some(id) = self.user_id_by(store_id, "emails.value", given).await? {
            return Ok(Some(id));
        }
        if lower != given
            && let Some(id) = self.user_id_by(store_id, "emails.value", &lower).await?
        {
            return Ok(Some(id));
        }
        if let Some(id) = self.user_id_by(store_id, "userName", given).await? {
            return Ok(Some(id));
        }
        if !thorough {
            return Ok(None);
        }
        self.scan_users(store_id, &lower).await
    }

    async fn describe_user(
        &self,
        instance: &Instance,
        user_id: &str,
    ) -> Result<Option<DirectoryUser>, ProviderError> {
        let store_id = instance.identity_store_id.as_str();
        let answer = self
            .retrying(|| async {
                self.store
                    .describe_user()
                    .identity_store_id(store_id)
                    .user_id(user_id)
                    .send()
                    .await
                    .map_err(|e| classify("DescribeUser", e))
            })
            .await;
        let user = match answer {
            Ok(user) => user,
            Err(e) if e.kind == ProviderErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut emails: Vec<(bool, String)> = user
            .emails()
            .iter()
            .filter_map(|e| Some((e.primary(), e.value()?.to_owned())))
            .collect();
        // The primary email first, then the others in the directory's order.
        emails.sort_by_key(|(primary, _)| !primary);
        Ok(Some(DirectoryUser {
            id: user.user_id().to_owned(),
            user_name: user.user_name().map(str::to_owned),
            emails: emails.into_iter().map(|(_, e)| e).collect(),
        }))
    }

    async fn member_of(
        &self,
        instance: &Instance,
        principal_id: &str,
        group_names: &[String],
    ) -> Result<Vec<String>, ProviderError> {
        let store_id = instance.identity_store_id.as_str();
        let mut ids = Vec::new();
        for name in group_names {
            let id = unique_attribute("GetGroupId", "displayName", name)?;
            let found = self
                .retrying(|| async {
                    self.store
                        .get_group_id()
                        .identity_store_id(store_id)
                        .alternate_identifier(id.clone())
                        .send()
                        .await
                        .map_err(|e| classify("GetGroupId", e))
                })
                .await;
            match found {
                Ok(out) => ids.push((out.group_id, name.clone())),
                Err(e) if e.kind == ProviderErrorKind::NotFound => {
                    tracing::warn!(group = %name, "approver group not found in the identity store");
                }
                Err(e) => return Err(e),
            }
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let group_ids: Vec<String> = ids.iter().map(|(id, _)| id.clone()).collect();
        let answer = self
            .retrying(|| async {
                self.store
                    .is_member_in_groups()
                    .identity_store_id(store_id)
                    .member_id(MemberId::UserId(principal_id.to_owned()))
                    .set_group_ids(Some(group_ids.clone()))
                    .send()
                    .await
                    .map_err(|e| classify("IsMemberInGroups", e))
            })
            .await?;
        Ok(answer
            .results()
            .iter()
            .filter(|r| r.membership_exists())
            .filter_map(|r| r.group_id())
            .filter_map(|gid| {
                ids.iter()
                    .find(|(id, _)| id == gid)
                    .map(|(_, name)| name.clone())
            })
            .collect())
    }

    async fn find_permission_set(
        &self,
        instance_arn: &str,
        name: &str,
    ) -> Result<Option<String>, ProviderError> {
        let mut pages = self
            .sso
            .list_permission_sets()
            .instance_arn(instance_arn)
            .into_paginator()
            .send();
        while let Some(page) = self.paced(pages.next()).await {
            let page = page.map_err(|e| classify("ListPermissionSets", e))?;
            for arn in page.permission_sets() {
                let described = self
                    .retrying(|| async {
                        self.sso
                            .describe_permission_set()
                            .instance_arn(instance_arn)
                            .permission_set_arn(arn)
                            .send()
                            .await
                            .map_err(|e| classify("DescribePermissionSet", e))
                    })
                    .await?;
                if described.permission_set().and_then(|p| p.name()) == Some(name) {
                    return Ok(Some(arn.clone()));
                }
            }
        }
        Ok(None)
    }

    async fn assignment_exists(&self, a: &Assignment) -> Result<bool, ProviderError> {
        let filter = ListAccountAssignmentsFilter::builder()
            .account_id(&a.account_id)
            .build();
        let mut pages = self
            .sso
            .list_account_assignments_for_principal()
            .instance_arn(&a.instance_arn)
            .principal_id(&a.principal_id)
            .principal_type(PrincipalType::User)
            .filter(filter)
            .into_paginator()
            .send();
        while let Some(page) = self.paced(pages.next()).await {
            let page = page.map_err(|e| classify("ListAccountAssignmentsForPrincipal", e))?;
            let found = page.account_assignments().iter().any(|x| {
                x.account_id() == Some(a.account_id.as_str())
                    && x.permission_set_arn() == Some(a.permission_set_arn.as_str())
            });
            if found {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn create_assignment(&self, a: &Assignment) -> Result<(), ProviderError> {
        // One of the creation slots, held until the status poll ends.
        let _slot = self.limiter.creation().await;
        let status = self
            .retrying(|| async {
                self.sso
                    .create_account_assignment()
                    .instance_arn(&a.instance_arn)
                    .target_id(&a.account_id)
                    .target_type(TargetType::AwsAccount)
                    .permission_set_arn(&a.permission_set_arn)
                    .principal_type(PrincipalType::User)
                    .principal_id(&a.principal_id)
                    .send()
                    .await
                    .map_err(|e| classify("CreateAccountAssignment", e))?
                    .account_assignment_creation_status
                    .ok_or_else(|| {
                        missing("CreateAccountAssignment", "AccountAssignmentCreationStatus")
                    })
            })
            .await?;
        self.await_status(&a.instance_arn, status, false).await
    }

    async fn delete_assignment(&self, a: &Assignment) -> Result<(), ProviderError> {
        let answer = self
            .retrying(|| async {
                self.sso
                    .delete_account_assignment()
                    .instance_arn(&a.instance_arn)
                    .target_id(&a.account_id)
                    .target_type(TargetType::AwsAccount)
                    .permission_set_arn(&a.permission_set_arn)
                    .principal_type(PrincipalType::User)
                    .principal_id(&a.principal_id)
                    .send()
                    .await
                    .map_err(|e| classify("DeleteAccountAssignment", e))?
                    .account_assignment_deletion_status
                    .ok_or_else(|| {
                        missing("DeleteAccountAssignment", "AccountAssignmentDeletionStatus")
                    })
            })
            .await;
        match answer {
            Ok(status) => self.await_status(&a.instance_arn, status, true).await,
            // Already gone: removal is idempotent.
            Err(e) if e.kind == ProviderErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn create_permission_set(
        &self,
        instance_arn: &str,
        spec: &PermissionSetSpec,
    ) -> Result<String, ProviderError> {
        let mut request = self
            .sso
            .create_permission_set()
            .instance_arn(instance_arn)
            .name(&spec.name)
            .description(&spec.description)
            .session_duration(&spec.session_duration);
        for (key, value) in &spec.tags {
            let tag = SsoTag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| ProviderError {
                    kind: ProviderErrorKind::Other,
                    operation: "CreatePermissionSet",
                    message: e.to_string(),
                    source: None,
                })?;
            request = request.tags(tag);
        }
        let arn = self
            .retrying(|| async {
                request
                    .clone()
                    .send()
                    .await
                    .map_err(|e| classify("CreatePermissionSet", e))?
                    .permission_set
                    .and_then(|p| p.permission_set_arn)
                    .ok_or_else(|| missing("CreatePermissionSet", "PermissionSetArn"))
            })
            .await?;
        if let Some(policy) = &spec.inline_policy {
            self.retrying(|| async {
                self.sso
                    .put_inline_policy_to_permission_set()
                    .instance_arn(instance_arn)
                    .permission_set_arn(&arn)
                    .inline_policy(policy)
                    .send()
                    .await
                    .map_err(|e| classify("PutInlinePolicyToPermissionSet", e))
            })
            .await?;
        }
        for managed in &spec.managed_policies {
            self.retrying(|| async {
                self.sso
                    .attach_managed_policy_to_permission_set()
                    .instance_arn(instance_arn)
                    .permission_set_arn(&arn)
                    .managed_policy_arn(managed)
                    .send()
                    .await
                    .map_err(|e| classify("AttachManagedPolicyToPermissionSet", e))
            })
            .await?;
        }
        let status = self
            .retrying(|| async {
                self.sso
                    .provision_permission_set()
                    .instance_arn(instance_arn)
                    .permission_set_arn(&arn)
                    .target_type(ProvisionTargetType::AwsAccount)
                    .target_id(&spec.account_id)
                    .send()
                    .await
                    .map_err(|e| classify("ProvisionPermissionSet", e))?
                    .permission_set_provisioning_status
                    .ok_or_else(|| {
                        missing("ProvisionPermissionSet", "PermissionSetProvisioningStatus")
                    })
            })
            .await?;
        self.await_provisioning(instance_arn, status).await?;
        Ok(arn)
    }

    async fn describe_permission_set(
        &self,
        instance_arn: &str,
        arn: &str,
    ) -> Result<Option<(String, String)>, ProviderError> {
        let answer = self
            .retrying(|| async {
                self.sso
                    .describe_permission_set()
                    .instance_arn(instance_arn)
                    .permission_set_arn(arn)
                    .send()
                    .await
                    .map_err(|e| classify("DescribePermissionSet", e))
            })
            .await;
        match answer {
            Ok(out) => Ok(out.permission_set().map(|p| {
                (
                    p.name().unwrap_or_default().to_owned(),
                    p.description().unwrap_or_default().to_owned(),
                )
            })),
            Err(e) if e.kind == ProviderErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn assigned_users(
        &self,
        instance_arn: &str,
        account_id: &str,
        permission_set_arn: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let mut users = Vec::new();
        let mut pages = self
            .sso
            .list_account_assignments()
            .instance_arn(instance_arn)
            .account_id(account_id)
            .permission_set_arn(permission_set_arn)
            .into_paginator()
            .send();
        while let Some(page) = self.paced(pages.next()).await {
            let page = page.map_err(|e| classify("ListAccountAssignments", e))?;
            for a in page.account_assignments() {
                if a.principal_type() == Some(&PrincipalType::User)
                    && let Some(id) = a.principal_id()
                    && !users.iter().any(|u| u == id)
                {
                    users.push(id.to_owned());
                }
            }
        }
        Ok(users)
    }

    async fn marked_permission_sets(
        &self,
        instance_arn: &str,
        marker_prefix: &str,
    ) -> Result<Vec<(String, String, String)>, ProviderError> {
        let mut found = Vec::new();
        let mut pages = self
            .sso
            .list_permission_sets()
            .instance_arn(instance_arn)
            .into_paginator()
            .send();
        while let Some(page) = self.paced(pages.next()).await {
            let page = page.map_err(|e| classify("ListPermissionSets", e))?;
            for arn in page.permission_sets() {
                if let Some((name, description)) =
                    self.describe_permission_set(instance_arn, arn).await?
                    && description.starts_with(marker_prefix)
                {
                    found.push((arn.clone(), name, description));
                }
            }
        }
        Ok(found)
    }

    async fn delete_permission_set(
        &self,
        instance_arn: &str,
        arn: &str,
    ) -> Result<(), ProviderError> {
        let answer = self
            .retrying(|| async {
                self.sso
                    .delete_permission_set()
                    .instance_arn(instance_arn)
                    .permission_set_arn(arn)
                    .send()
                    .await
                    .map_err(|e| classify("DeletePermissionSet", e))
            })
            .await;
        match answer {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ProviderErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
