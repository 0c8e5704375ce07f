//! The optional TOML settings file (`--settings FILE` or `AWS_JIT_SETTINGS`).
//!
//! Precedence, highest first: a command-line flag, its environment variable
//! (`AWS_JIT_*`, or the seed's `MAX_DURATION`), the settings file, the built-in default
//! (see [`crate::settings`], which resolves them). Unknown keys are errors, named with the
//! file, so a typo never silently does nothing. Secrets (`SLACK_API_TOKEN`,
//! `SLACK_SIGNING_SECRET`) come from the environment only.
//!
//! ```toml
//! config_dir = "/etc/aws-jit"
//! db = "postgres://aws_jit@db.internal/aws_jit?sslmode=require"
//! listen = "0.0.0.0:8080"
//! log_format = "json"
//! max_duration = "4h"
//! lock_lease = "5m"
//! retry_base = "5s"
//! sso_instance_arn = "arn:aws:sso:::instance/ssoins-…"
//! identity_store_id = "d-…"
//! max_attempts = 3
//! conflict_retries = 8
//! approvers = "lead@example.com, secops@example.com"
//! sso_calls_per_second = 20
//! sso_creations_in_flight = 10
//! slack_channel_id = "C0123456789"
//! slack_admin_channel = "C0987654321"
//! sso_start_url = "https://d-1234567890.awsapps.com/start"
//! sso_region = "eu-west-1"
//! ```

use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;

use crate::cli::{Cli, Command, LogFormat};

/// What a settings file may say.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    /// `--config-dir`.
    pub config_dir: Option<PathBuf>,
    /// `--db`.
    pub db: Option<String>,
    /// `serve --listen`.
    pub listen: Option<String>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
    /// `MAX_DURATION`.
    pub max_duration: Option<String>,
    /// `AWS_JIT_LOCK_LEASE`.
    pub lock_lease: Option<String>,
    /// `AWS_JIT_RETRY_BASE`.
    pub retry_base: Option<String>,
    /// `AWS_JIT_SSO_INSTANCE_ARN`.
    pub sso_instance_arn: Option<String>,
    /// `AWS_JIT_IDENTITY_STORE_ID`.
    pub identity_store_id: Option<String>,
    /// `AWS_JIT_MAX_ATTEMPTS`.
    pub max_attempts: Option<u32>,
    /// `AWS_JIT_CONFLICT_RETRIES`.
    pub conflict_retries: Option<u32>,
    /// `AWS_JIT_APPROVERS`: who may revoke others' grants through the CLI while acting for
    /// a `KUBIYA_USER_EMAIL` (comma-separated emails).
    pub approvers: Option<String>,
    /// `AWS_JIT_SSO_CALLS_PER_SECOND`.
    pub sso_calls_per_second: Option<u32>,
    /// `AWS_JIT_SSO_CREATIONS_IN_FLIGHT`.
    pub sso_creations_in_flight: Option<u32>,
    /// `SLACK_API_URL`.
    pub slack_api_url: Option<String>,
    /// `SLACK_TEAM_ID`.
    pub slack_team_id: Option<String>,
    /// `AWS_JIT_DEFAULT_REQUESTERS`: who may request accesses whose entry has no
    /// `requesters` (comma-separated emails and `group:NAME`s).
    pub default_requesters: Option<String>,
    /// `SLACK_CHANNEL_ID`.
    pub slack_channel_id: Option<String>,
    /// `SLACK_THREAD_TS`.
    pub slack_thread_ts: Option<String>,
    /// `AWS_JIT_SLACK_ADMIN_CHANNEL`.
    pub slack_admin_channel: Option<String>,
    /// `SLACK_COMMAND`.
    pub slack_command: Option<String>,
    /// `AWS_JIT_EXPIRY_WARNING` (a duration, or `off`).
    pub expiry_warning: Option<String>,
    /// `AWS_JIT_SSO_START_URL`.
    pub sso_start_url: Option<String>,
    /// `AWS_JIT_SSO_REGION`.
    pub sso_region: Option<String>,
    /// `AWS_JIT_WEB_URL`.
    pub web_url: Option<String>,
    /// `AWS_JIT_WEB_SESSION`.
    pub web_session: Option<String>,
    /// `AWS_JIT_WEB_DEV_SIGN_IN`.
    pub web_dev_sign_in: Option<bool>,
    /// `AWS_JIT_OIDC_ISSUER`.
    pub oidc_issuer: Option<String>,
    /// `AWS_JIT_OIDC_CLIENT_ID`.
    pub oidc_client_id: Option<String>,
    /// `AWS_JIT_OIDC_ALLOWED_DOMAINS` (comma-separated).
    pub oidc_allowed_domains: Option<String>,
    /// `AWS_JIT_OIDC_TRUST_EMAIL`.
    pub oidc_trust_email: Option<bool>,
}

impl SettingsFile {
    /// Reads and parses the file.
    pub fn load(path: &Path) -> anyhow::Result<SettingsFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("settings file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            // One line: toml's message spans several.
            let message = e.message().trim().to_owned();
            let at = e
                .span()
                .map(|span| {
                    let line = text
                        .get(..span.start)
                        .map_or(0, |t| t.matches('\n').count())
                        + 1;
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            anyhow::anyhow!("settings file {}{at}: {message}", path.display())
        })
    }

    /// Fills the command line's defaulted values from the file.
    pub fn apply(&self, cli: &mut Cli, matches: &ArgMatches) {
        let defaulted =
            |m: &ArgMatches, id: &str| m.value_source(id) == Some(ValueSource::DefaultValue);
        if let Some(dir) = &self.config_dir
            && defaulted(matches, "config_dir")
        {
            cli.config_dir.clone_from(dir);
        }
        if let Some(db) = &self.db
            && defaulted(matches, "db")
        {
            cli.db.clone_from(db);
        }
        if let Some(format) = self.log_format
            && defaulted(matches, "log_format")
        {
            cli.log_format = format;
        }
        if let (Some(listen), Command::Serve { listen: arg }) = (&self.listen, &mut cli.command)
            && matches
                .subcommand_matches("serve")
                .is_some_and(|m| defaulted(m, "listen"))
        {
            arg.clone_from(listen);
        }
    }
}
