//! Classifies SDK errors into [`ProviderError`]s: not found, access denied, throttled,
//! conflict, other. The SDK's own error stays attached as the source.

use aws_jit_app::ports::{ProviderError, ProviderErrorKind};
use aws_sdk_ssoadmin::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Maps an SDK error of any operation.
pub(crate) fn classify<E, R>(operation: &'static str, error: SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let (kind, message) = match error.as_service_error() {
        Some(service) => {
            let code = service.code().unwrap_or("Unknown");
            let kind = match code {
                "ResourceNotFoundException" | "NoSuchEntity" | "NoSuchEntityException" => {
                    ProviderErrorKind::NotFound
                }
                "AccessDeniedException" | "AccessDenied" | "UnauthorizedException" => {
                    ProviderErrorKind::AccessDenied
                }
                "ThrottlingException" | "TooManyRequestsException" | "Throttling" => {
                    ProviderErrorKind::Throttled
                }
                "ConflictException" => ProviderErrorKind::Conflict,
                "EntityAlreadyExists" | "EntityAlreadyExistsException" => {
                    ProviderErrorKind::AlreadyExists
                }
                "DeleteConflict" | "DeleteConflictException" => ProviderErrorKind::InUse,
                _ => ProviderErrorKind::Other,
            };
            let message = match service.message() {
                Some(m) if !m.is_empty() => format!("{code}: {m}"),
                _ => code.to_owned(),
            };
            (kind, message)
        }
        None => (
            ProviderErrorKind::Other,
            DisplayErrorContext(&error).to_string(),
        ),
    };
    ProviderError {
        kind,
        operation,
        message,
        source: Some(Box::new(error)),
    }
}

/// An answer that lacks a field the tool needs.
pub(crate) fn missing(operation: &'static str, field: &str) -> ProviderError {
    ProviderError {
        kind: ProviderErrorKind::Other,
        operation,
        message: format!("the answer has no `{field}`"),
        source: None,
    }
}
