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
            let mut message = match service.message() {
                Some(m) if !m.is_empty() => format!("{code}: {m}"),
                _ => code.to_owned(),
            };
            if kind == ProviderErrorKind::AccessDenied {
                message.push_str(
                    ": the tool's credentials lack this right; `aws-jit iam-policy` prints the policy its role needs",
                );
            }
            (kind, message)
        }
        None => (
            ProviderErrorKind::Other,
            transport_message(&DisplayErrorContext(&error).to_string(), &innermost(&error)),
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

/// The innermost cause of an error, in its own words (`Connection refused (os error 111)`).
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// One line for an error that never reached AWS's service, saying how to fix it: missing
/// credentials, a missing region, an endpoint that does not answer. The whole chain stays
/// attached as the source (`-v` prints it).
fn transport_message(chain: &str, cause: &str) -> String {
    let lower = chain.to_lowercase();
    if lower.contains("missing region") || lower.contains("signing region") {
        return "no AWS region is set: set AWS_REGION (or `region` in the AWS_PROFILE's profile)"
            .to_owned();
    }
    if lower.contains("loading credentials")
        || lower.contains("credentialsnotloaded")
        || lower.contains("no providers in chain")
        || lower.contains("credentials provider")
    {
        // The first line only: the SDK lists every provider it tried below it (-v).
        let cause = cause
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .trim_end_matches(". Attempted:");
        return format!(
            "no AWS credentials could be loaded ({cause}): run `aws sso login` with AWS_PROFILE set, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (-v shows every place looked at)"
        );
    }
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .map(|url| format!("AWS at {url}"))
        .unwrap_or_else(|_| "AWS's regional endpoint".to_owned());
    if lower.contains("timeout") || lower.contains("timed out") {
        return format!(
            "{endpoint} did not answer in time: check the network (and AWS_ENDPOINT_URL, if set)"
        );
    }
    if lower.contains("dispatch failure") || lower.contains("io error") || lower.contains("connect")
    {
        let cause = cause.trim();
        return format!(
            "cannot reach {endpoint} ({cause}): check the network (and AWS_ENDPOINT_URL, if set)"
        );
    }
    // Unknown: the chain's first clause, not the SDK's debug dump.
    chain.split(" (").next().unwrap_or(chain).to_owned()
}

#[cfg(test)]
mod tests {
    use super::transport_message;

    #[test]
    fn transport_failures_say_how_to_fix_them_in_one_line() {
        let region = transport_message(
            "dispatch failure: other: Invalid Configuration: Missing Region (DispatchFailure(…))",
            "Invalid Configuration: Missing Region",
        );
        assert!(
            region.starts_with("no AWS region is set: set AWS_REGION"),
            "{region}"
        );
        let creds = transport_message(
            "dispatch failure: other: an error occurred while loading credentials: failed to load IMDS session token (…)",
            "IMDS is disabled",
        );
        assert!(
            creds.contains("aws sso login") && creds.contains("AWS_PROFILE"),
            "{creds}"
        );
        let down = transport_message(
            "dispatch failure: io error: client error (Connect): tcp connect error: Connection refused (os error 111) (DispatchFailure(…))",
            "Connection refused (os error 111)",
        );
        assert!(down.starts_with("cannot reach AWS"), "{down}");
        assert!(down.contains("Connection refused (os error 111)"), "{down}");
        for line in [region, creds, down] {
            assert!(
                !line.contains('\n') && !line.contains("DispatchFailure"),
                "{line}"
            );
        }
    }
}
