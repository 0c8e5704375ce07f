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
mod limits;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

pub use calls::CallCounter;
pub use iam::AwsIam;
pub use identity_center::{AwsIdentityCenter, Patience};
pub use limits::{Limiter, RateLimits};

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
    /// Identity Center rate limits, shared by the whole process.
    pub limits: RateLimits,
    /// Whether every configured endpoint is plain HTTP (a local emulator or proxy): then
    /// the SDK gets an HTTP client without TLS, since building the TLS one loads and
    /// parses the system's root certificates, which costs more than the rest of a CLI
    /// run's start-up.
    pub plain_http: bool,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            max_attempts: 4,
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(20),
            patience: Patience::default(),
            limits: RateLimits::default(),
            plain_http: false,
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

impl Aws {
    /// The same clients for the front doors: their Identity Center calls leave the share of
    /// the rate the expiry worker keeps (see [`Limiter::front_doors`]).
    pub fn for_front_doors(&self) -> Aws {
        Aws {
            identity_center: self.identity_center.front_doors(),
            iam: self.iam.clone(),
            calls: self.calls.clone(),
        }
    }
}

/// Loads the SDK configuration and builds the clients.
pub async fn connect(settings: &AwsSettings) -> Aws {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if settings.plain_http {
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
    let retry_note = calls::RetryNote {
        max_attempts: settings.max_attempts.max(1),
    };
    let sso = aws_sdk_ssoadmin::Client::from_conf(
        aws_sdk_ssoadmin::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .interceptor(retry_note.clone())
            .build(),
    );
    let store = aws_sdk_identitystore::Client::from_conf(
        aws_sdk_identitystore::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .interceptor(retry_note.clone())
            .build(),
    );
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .interceptor(retry_note.clone())
            .build(),
    );
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .interceptor(retry_note)
            .build(),
    );
    Aws {
        identity_center: AwsIdentityCenter::limited(
            sso,
            store,
            settings.patience.clone(),
            Limiter::new(settings.limits),
        ),
        iam: AwsIam::new(iam, sts),
        calls,
    }
}

#[cfg(test)]
mod tests {
    //! Keeps `aws-jit iam-policy` honest: every SDK operation this adapter calls must be
    //! allowed by the policy the tool computes for a config with every kind of access.

    use aws_jit_core::tool_policy::tool_policy;
    use aws_jit_core::{Catalog, ConfigFile, ConfigSource};

    const SOURCES: &[&str] = &[include_str!("identity_center.rs"), include_str!("iam.rs")];

    /// `create_account_assignment` → `CreateAccountAssignment`.
    fn pascal(snake: &str) -> String {
        snake
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Every `self.<client>.<operation>(` in the adapter's non-test code, as IAM actions.
    fn operations_called() -> Vec<String> {
        let mut found = Vec::new();
        for source in SOURCES {
            // Without white space, `self\n    .iam\n    .get_user()` reads `self.iam.get_user()`.
            let code: String = source
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            for (client, prefix) in [
                ("self.sso", "sso"),
                ("self.store", "identitystore"),
                ("self.iam", "iam"),
                ("self.sts", "sts"),
            ] {
                for (at, _) in code.match_indices(client) {
                    let rest = &code[at + client.len()..];
                    let Some(rest) = rest.strip_prefix('.') else {
                        continue;
                    };
                    let op: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !op.is_empty() && rest[op.len()..].starts_with('(') {
                        found.push(format!("{prefix}:{}", pascal(&op)));
                    }
                }
            }
        }
        found.sort();
        found.dedup();
        found
    }

    #[test]
    fn the_computed_tool_policy_allows_every_operation_the_adapter_calls() {
        // Every feature that calls AWS: approver groups, per-grant permission sets, both
        // kinds of S3 policy.
        let sso = r#"{"A": {"name": "A", "account_id": "123456789012", "permission_set": "P", "session_duration": "PT1H", "approvers": ["group:Leads"]},
                      "B": {"name": "B", "account_id": "123456789012", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "session_duration": "PT1H"}}"#;
        let s3 = r#"{"G": {"name": "G", "buckets": ["b-one"], "policy_template": "S3ReadOnlyPolicy", "session_duration": "PT1H"},
                     "E": {"name": "E", "buckets": ["b-two"], "policy_template": "TeamRead", "session_duration": "PT1H"}}"#;
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
        let allowed: Vec<&str> = tool_policy(&catalog, None)
            .statement
            .iter()
            .flat_map(|s| s.action.iter().copied())
            .collect();
        let called = operations_called();
        assert!(called.len() >= 20, "the scan found too little: {called:?}");
        for op in called {
            // GetCallerIdentity needs no permission in IAM.
            if op == "sts:GetCallerIdentity" {
                continue;
            }
            assert!(
                allowed.contains(&op.as_str()),
                "`aws-jit iam-policy` does not allow {op}"
            );
        }
    }
}
