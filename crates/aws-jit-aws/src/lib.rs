//! The AWS adapter of aws-jit: IAM Identity Center (and, later, IAM) through the official
//! AWS SDK for Rust.
//!
//! [`connect`] builds the SDK clients once per process from the standard configuration
//! chain (environment, profiles, SSO, `AWS_ENDPOINT_URL`), with a call-counting
//! interceptor and bounded timeouts. It reads no credentials until the first call, so
//! commands that never reach AWS pay nothing for it.

mod calls;
mod errors;
mod iam;
mod identity_center;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

pub use calls::CallCounter;
pub use iam::AwsIam;
pub use identity_center::{AwsIdentityCenter, Patience};

/// How to reach AWS.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    /// SDK attempts per call (1 = no SDK retries), for throttling and transient errors.
    pub max_attempts: u32,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one attempt.
    pub attempt_timeout: Duration,
    /// Our own retry and polling bounds.
    pub patience: Patience,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            max_attempts: 4,
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(20),
            patience: Patience::default(),
        }
    }
}

/// The connected adapter and its call counter.
#[derive(Debug, Clone)]
pub struct Aws {
    /// Identity Center.
    pub identity_center: AwsIdentityCenter,
    /// IAM.
    pub iam: AwsIam,
    /// Calls made so far.
    pub calls: CallCounter,
}

/// Whether every configured AWS endpoint is plain HTTP (a local emulator or proxy).
///
/// Then the SDK gets an HTTP client without TLS: building the TLS one loads and parses the
/// system's root certificates, which costs more than the rest of a CLI run's start-up.
fn endpoints_are_plain_http() -> bool {
    let endpoints: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_ENDPOINT_URL"))
        .map(|(_, v)| v)
        .collect();
    !endpoints.is_empty() && endpoints.iter().all(|e| e.starts_with("http://"))
}

/// Loads the SDK configuration and builds the clients.
pub async fn connect(settings: &AwsSettings) -> Aws {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if endpoints_are_plain_http() {
        loader = loader.http_client(aws_smithy_http_client::Builder::new().build_http());
    }
    let sdk = loader
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.connect_timeout)
                .operation_attempt_timeout(settings.attempt_timeout)
                .build(),
        )
        .load()
        .await;
    let calls = CallCounter::default();
    let sso = aws_sdk_ssoadmin::Client::from_conf(
        aws_sdk_ssoadmin::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .build(),
    );
    let store = aws_sdk_identitystore::Client::from_conf(
        aws_sdk_identitystore::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .build(),
    );
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .build(),
    );
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .build(),
    );
    Aws {
        identity_center: AwsIdentityCenter::new(sso, store, settings.patience.clone()),
        iam: AwsIam::new(iam, sts),
        calls,
    }
}
