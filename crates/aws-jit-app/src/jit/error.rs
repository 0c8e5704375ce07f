//! What can go wrong in a use case, as the CLI and HTTP layers need to tell it.

use aws_jit_core::GrantStatus;

use aws_jit_core::policy::PolicyError;

use crate::ports::{ProviderError, StoreError};

/// What went wrong, as the CLI and HTTP layers need to tell it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// No Identity Center user has this email (or user name).
    #[error("no IAM Identity Center user has the email or user name `{0}`")]
    UnknownUser(String),
    /// No IAM user has this name or `email` tag.
    #[error("no IAM user is named `{0}` or has it as its `email` tag")]
    UnknownIamUser(String),
    /// Several IAM users carry the email as their `email` tag.
    #[error(
        "IAM users {} all carry `{email}` as their `email` tag: name the IAM user after the person, or remove the tag from all but one",
        users.join(", ")
    )]
    AmbiguousIamUser {
        /// The email.
        email: String,
        /// The users.
        users: Vec<String>,
    },
    /// The policy named by an S3 access's template does not exist.
    #[error(
        "policy `{0}` does not exist (neither customer-managed in the account nor AWS-managed)"
    )]
    UnknownPolicy(String),
    /// The policy cannot be generated.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The permission set named by the access does not exist.
    #[error("permission set `{0}` does not exist in the IAM Identity Center instance")]
    UnknownPermissionSet(String),
    /// No access in the catalog matches (the message lists close matches).
    #[error("{0}")]
    UnknownAccess(String),
    /// The access configs are not loaded (they failed to load at start).
    #[error(
        "the access configs did not load: fix them (`aws-jit validate`) and restart the server"
    )]
    NoCatalog,
    /// No access policies are loaded: nothing may be requested or approved.
    #[error(
        "the access policies did not load: fix them (`aws-jit validate`) and restart the server"
    )]
    NoPolicies,
    /// The request itself is malformed (a bad user, duration or field).
    #[error("{0}")]
    Invalid(String),
    /// The grant does not exist.
    #[error("no grant has id `{0}`")]
    GrantNotFound(String),
    /// The user has no live grant of the access.
    #[error("`{user}` has no active grant of `{access}`")]
    NoActiveGrant {
        /// The user.
        user: String,
        /// The access key.
        access: String,
    },
    /// The grant has already ended.
    #[error("grant `{id}` has already ended ({status})")]
    AlreadyEnded {
        /// The grant.
        id: String,
        /// Its terminal status.
        status: GrantStatus,
    },
    /// A status change the lifecycle does not allow (a bug or a concurrent change).
    #[error(transparent)]
    InvalidTransition(#[from] aws_jit_core::grant::TransitionError),
    /// AWS failed.
    #[error("AWS: {0}")]
    Provider(#[from] ProviderError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The grant was recorded, but AWS refused to provision it; nothing is left in AWS.
    #[error("grant `{id}` failed: {source}")]
    ProvisioningFailed {
        /// The grant.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// The caller may not do this (approval rules, break-glass, a required reason).
    #[error("{0}")]
    NotAllowed(String),
    /// The request is not waiting for approval.
    #[error("request `{id}` is {status}, not waiting for approval")]
    NotPending {
        /// The grant.
        id: String,
        /// Its status.
        status: GrantStatus,
    },
    /// The grant is not active (extensions need an active grant).
    #[error("grant `{id}` is {status}, not active")]
    NotActive {
        /// The grant.
        id: String,
        /// Its status.
        status: GrantStatus,
    },
    /// The grant cannot be extended.
    #[error("grant `{id}` cannot be extended: {why}")]
    CannotExtend {
        /// The grant.
        id: String,
        /// Why.
        why: String,
    },
    /// Removal failed; the grant stays due and a sweep retries it.
    #[error("revoking grant `{id}` failed, it stays due and `aws-jit sweep` will retry: {source}")]
    RevokeFailed {
        /// The grant.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
}

/// The kinds of failure the CLI's exit codes and the API's statuses are mapped from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request names something that does not exist, or is malformed (exit 3; 400/404/422).
    Invalid,
    /// No such grant (exit 3; 404).
    NotFound,
    /// The decision point refused (exit 4; 403).
    Forbidden,
    /// The grant is in the wrong state for the request (exit 3; 409).
    Conflict,
    /// Another process is changing the grant or its target right now (exit 1; 409).
    Busy,
    /// AWS failed (exit 1; 502).
    Upstream,
    /// The tool cannot work right now (store, configs) (exit 1; 503).
    Unavailable,
}

impl AppError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::UnknownUser(_)
            | AppError::UnknownIamUser(_)
            | AppError::AmbiguousIamUser { .. }
            | AppError::UnknownPolicy(_)
            | AppError::UnknownPermissionSet(_)
            | AppError::UnknownAccess(_)
            | AppError::Invalid(_)
            | AppError::Policy(_) => ErrorKind::Invalid,
            AppError::GrantNotFound(_) | AppError::NoActiveGrant { .. } => ErrorKind::NotFound,
            AppError::NotAllowed(_) => ErrorKind::Forbidden,
            AppError::AlreadyEnded { .. }
            | AppError::NotPending { .. }
            | AppError::NotActive { .. }
            | AppError::CannotExtend { .. }
            | AppError::InvalidTransition(_) => ErrorKind::Conflict,
            AppError::Store(
                StoreError::TargetBusy { .. } | StoreError::Stale(_) | StoreError::LockLost(_),
            ) => ErrorKind::Busy,
            AppError::Provider(_)
            | AppError::ProvisioningFailed { .. }
            | AppError::RevokeFailed { .. } => ErrorKind::Upstream,
            AppError::NoCatalog | AppError::NoPolicies | AppError::Store(_) => {
                ErrorKind::Unavailable
            }
        }
    }
}
