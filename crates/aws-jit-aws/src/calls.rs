//! Counts AWS API calls with an SDK interceptor, and logs one debug line per call.
//!
//! Every HTTP attempt the SDK makes (retries included) passes through
//! [`CallCounter::read_after_attempt`], which records the service, the operation and the
//! HTTP status. The benchmark and `--verbose` read the counts; nothing else depends on them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// A shared tally of AWS calls by `Service.Operation`.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    /// A snapshot of the counts, keyed `Service.Operation outcome`.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// All calls so far.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "aws-jit-call-counter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("?", "?"), |m| (m.service(), m.name()));
        let status = context.response().map_or_else(
            || "no response".to_owned(),
            |r| r.status().as_u16().to_string(),
        );
        tracing::debug!(target: "aws_jit::aws_call", service, operation, %status, "aws call");
        let outcome = match context.response().map(|r| r.status().as_u16()) {
            Some(code) if code < 400 => "ok",
            Some(429) => "throttled",
            Some(code) if code < 500 => "client_error",
            Some(_) => "server_error",
            None => "no_response",
        };
        if let Ok(mut counts) = self.counts.lock() {
            *counts
                .entry(format!("{service}.{operation} {outcome}"))
                .or_default() += 1;
        }
        Ok(())
    }
}

/// Says so when the SDK tries a call again (`AWS not answering (SSO Admin.ListInstances):
/// attempt 2 of 4`), so that seconds of retries are not silence.
#[derive(Debug, Clone)]
pub struct RetryNote {
    /// The most attempts a call gets (`AWS_JIT_MAX_ATTEMPTS`).
    pub max_attempts: u32,
}

impl Intercept for RetryNote {
    fn name(&self) -> &'static str {
        "aws-jit-retry-note"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg
            .load::<RequestAttempts>()
            .map_or(1, RequestAttempts::attempts);
        if attempt >= 2 {
            let (service, operation) = cfg
                .load::<Metadata>()
                .map_or(("?", "?"), |m| (m.service(), m.name()));
            tracing::warn!(
                target: "aws_jit::aws_retry",
                "AWS not answering ({service}.{operation}): attempt {attempt} of {}",
                self.max_attempts
            );
        }
        Ok(())
    }
}
