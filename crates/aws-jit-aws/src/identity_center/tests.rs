//! Retry and polling sequences that moto cannot produce (it completes assignments at
//! once and never throttles), played by `aws-smithy-mocks` through the real SDK client.

use super::*;
use aws_sdk_ssoadmin::Client;
use aws_sdk_ssoadmin::operation::create_account_assignment::{
    CreateAccountAssignmentError, CreateAccountAssignmentOutput,
};
use aws_sdk_ssoadmin::operation::delete_account_assignment::DeleteAccountAssignmentError;
use aws_sdk_ssoadmin::operation::describe_account_assignment_creation_status::DescribeAccountAssignmentCreationStatusOutput;
use aws_sdk_ssoadmin::types::error::{
    ConflictException, ResourceNotFoundException, ThrottlingException,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

/// Error metadata as the SDK's deserializer sets it from the wire.
fn wire_meta(code: &str, message: &str) -> aws_smithy_types::error::ErrorMetadata {
    aws_smithy_types::error::ErrorMetadata::builder()
        .code(code)
        .message(message)
        .build()
}

fn status(value: StatusValues, reason: Option<&str>) -> AccountAssignmentOperationStatus {
    AccountAssignmentOperationStatus::builder()
        .status(value)
        .request_id("req-1")
        .set_failure_reason(reason.map(str::to_owned))
        .build()
}

fn created(value: StatusValues) -> CreateAccountAssignmentOutput {
    CreateAccountAssignmentOutput::builder()
        .account_assignment_creation_status(status(value, None))
        .build()
}

fn polled(
    value: StatusValues,
    reason: Option<&str>,
) -> DescribeAccountAssignmentCreationStatusOutput {
    DescribeAccountAssignmentCreationStatusOutput::builder()
        .account_assignment_creation_status(status(value, reason))
        .build()
}

fn adapter(rules: &[&Rule]) -> AwsIdentityCenter {
    let sso = mock_client!(aws_sdk_ssoadmin, RuleMode::MatchAny, rules, |c| c
        .retry_config(aws_sdk_ssoadmin::config::retry::RetryConfig::disabled()));
    let store = mock_client!(aws_sdk_identitystore, RuleMode::MatchAny, &[]);
    let patience = Patience {
        conflict_retries: 3,
        retry_delay: Duration::from_millis(1),
        poll_delay: Duration::from_millis(1),
        poll_max_delay: Duration::from_millis(2),
        poll_budget: Duration::from_millis(50),
    };
    AwsIdentityCenter::new(sso, store, patience)
}

fn assignment() -> Assignment {
    Assignment {
        instance_arn: "arn:aws:sso:::instance/ssoins-1".to_owned(),
        account_id: "123456789012".to_owned(),
        permission_set_arn: "arn:aws:sso:::permissionSet/ssoins-1/ps-1".to_owned(),
        principal_id: "user-1".to_owned(),
    }
}

#[tokio::test]
async fn an_in_progress_creation_is_polled_until_it_succeeds() {
    let create =
        mock!(Client::create_account_assignment).then_output(|| created(StatusValues::InProgress));
    let poll = mock!(Client::describe_account_assignment_creation_status)
        .sequence()
        .output(|| polled(StatusValues::InProgress, None))
        .times(2)
        .output(|| polled(StatusValues::Succeeded, None))
        .build();
    let sso = adapter(&[&create, &poll]);
    sso.create_assignment(&assignment()).await.unwrap();
    assert_eq!(create.num_calls(), 1);
    assert_eq!(poll.num_calls(), 3);
}

#[tokio::test]
async fn a_failed_creation_reports_the_aws_reason() {
    let create =
        mock!(Client::create_account_assignment).then_output(|| created(StatusValues::InProgress));
    let poll = mock!(Client::describe_account_assignment_creation_status).then_output(|| {
        polled(
            StatusValues::Failed,
            Some("Received a 404 status error: Not supported account"),
        )
    });
    let sso = adapter(&[&create, &poll]);
    let err = sso.create_assignment(&assignment()).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Failed);
    assert!(err.message.contains("Not supported account"), "{err}");
}

#[tokio::test]
async fn a_creation_that_never_finishes_is_reported_still_in_progress() {
    let create =
        mock!(Client::create_account_assignment).then_output(|| created(StatusValues::InProgress));
    let poll = mock!(Client::describe_account_assignment_creation_status)
        .sequence()
        .output(|| polled(StatusValues::InProgress, None))
        .repeatedly()
        .build();
    let sso = adapter(&[&create, &poll]);
    let err = sso.create_assignment(&assignment()).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::StillInProgress);
}

#[tokio::test]
async fn conflicts_and_throttling_are_retried_then_succeed() {
    let create = mock!(Client::create_account_assignment)
        .sequence()
        .error(|| {
            CreateAccountAssignmentError::ConflictException(
                ConflictException::builder()
                    .message("busy")
                    .meta(wire_meta("ConflictException", "busy"))
                    .build(),
            )
        })
        .error(|| {
            CreateAccountAssignmentError::ThrottlingException(
                ThrottlingException::builder()
                    .message("slow down")
                    .meta(wire_meta("ThrottlingException", "slow down"))
                    .build(),
            )
        })
        .output(|| created(StatusValues::Succeeded))
        .build();
    let sso = adapter(&[&create]);
    sso.create_assignment(&assignment()).await.unwrap();
    assert_eq!(create.num_calls(), 3);
}

#[tokio::test]
async fn retries_are_bounded() {
    let create = mock!(Client::create_account_assignment)
        .sequence()
        .error(|| {
            CreateAccountAssignmentError::ConflictException(
                ConflictException::builder()
                    .message("busy")
                    .meta(wire_meta("ConflictException", "busy"))
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let sso = adapter(&[&create]);
    let err = sso.create_assignment(&assignment()).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Conflict);
    assert_eq!(create.num_calls(), 4, "one try and three retries");
}

#[tokio::test]
async fn a_permission_set_is_created_tagged_and_provisioning_is_polled_to_success() {
    use aws_sdk_ssoadmin::operation::create_permission_set::CreatePermissionSetOutput;
    use aws_sdk_ssoadmin::operation::describe_permission_set_provisioning_status::DescribePermissionSetProvisioningStatusOutput;
    use aws_sdk_ssoadmin::operation::provision_permission_set::ProvisionPermissionSetOutput;
    use aws_sdk_ssoadmin::operation::put_inline_policy_to_permission_set::PutInlinePolicyToPermissionSetOutput;
    use aws_sdk_ssoadmin::types::PermissionSet;

    let provisioning = |value| {
        PermissionSetProvisioningStatus::builder()
            .status(value)
            .request_id("prov-1")
            .build()
    };
    let create = mock!(Client::create_permission_set)
        .match_requests(|r| {
            r.tags()
                .iter()
                .any(|t| t.key() == "aws-jit:grant-id" && t.value() == "g-1")
                && r.description()
                    .is_some_and(|d| d.starts_with("aws-jit grant g-1"))
        })
        .then_output(|| {
            CreatePermissionSetOutput::builder()
                .permission_set(
                    PermissionSet::builder()
                        .permission_set_arn("arn:aws:sso:::permissionSet/ssoins-1/ps-9")
                        .build(),
                )
                .build()
        });
    let inline = mock!(Client::put_inline_policy_to_permission_set)
        .then_output(|| PutInlinePolicyToPermissionSetOutput::builder().build());
    let provision = mock!(Client::provision_permission_set).then_output(move || {
        ProvisionPermissionSetOutput::builder()
            .permission_set_provisioning_status(provisioning(StatusValues::InProgress))
            .build()
    });
    let poll = mock!(Client::describe_permission_set_provisioning_status)
        .sequence()
        .output(move || {
            DescribePermissionSetProvisioningStatusOutput::builder()
                .permission_set_provisioning_status(provisioning(StatusValues::InProgress))
                .build()
        })
        .output(move || {
            DescribePermissionSetProvisioningStatusOutput::builder()
                .permission_set_provisioning_status(provisioning(StatusValues::Succeeded))
                .build()
        })
        .build();
    let sso = adapter(&[&create, &inline, &provision, &poll]);
    let spec = PermissionSetSpec {
        name: "jit-abc".to_owned(),
        description: "aws-jit grant g-1 of `x` for a@b.co".to_owned(),
        session_duration: "PT1H".to_owned(),
        inline_policy: Some(r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned()),
        managed_policies: vec![],
        tags: vec![("aws-jit:grant-id".to_owned(), "g-1".to_owned())],
        account_id: "123456789012".to_owned(),
    };
    let arn = sso
        .create_permission_set("arn:aws:sso:::instance/ssoins-1", &spec)
        .await
        .unwrap();
    assert_eq!(arn, "arn:aws:sso:::permissionSet/ssoins-1/ps-9");
    assert_eq!(
        create.num_calls(),
        1,
        "the request carried the grant's tag and marker"
    );
    assert_eq!(poll.num_calls(), 2);
}

#[tokio::test]
async fn deleting_an_assignment_that_is_already_gone_succeeds() {
    let delete = mock!(Client::delete_account_assignment).then_error(|| {
        DeleteAccountAssignmentError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("no such assignment")
                .meta(wire_meta("ResourceNotFoundException", "no such assignment"))
                .build(),
        )
    });
    let sso = adapter(&[&delete]);
    sso.delete_assignment(&assignment()).await.unwrap();
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn access_denied_names_the_fix() {
    use aws_sdk_ssoadmin::types::error::AccessDeniedException;
    let message = "User: arn:aws:sts::123456789012:assumed-role/jit is not authorized to perform: sso:CreateAccountAssignment";
    let create = mock!(Client::create_account_assignment).then_error(move || {
        CreateAccountAssignmentError::AccessDeniedException(
            AccessDeniedException::builder()
                .message(message)
                .meta(wire_meta("AccessDeniedException", message))
                .build(),
        )
    });
    let sso = adapter(&[&create]);
    let err = sso.create_assignment(&assignment()).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::AccessDenied);
    let line = err.to_string();
    assert!(line.contains("sso:CreateAccountAssignment"), "{line}");
    assert!(line.contains("`aws-jit iam-policy`"), "{line}");
    assert!(!line.contains('\n'), "{line}");
}
