//! Every runtime setting, resolved once with one precedence: a command-line flag, then its
//! environment variable, then the settings file, then the built-in default.
//!
//! The flags and their variables (`--config-dir`, `--db`, `--log-format`, `serve --listen`)
//! are clap's; [`Resolved::resolve`] does the rest, from an [`Environment`] (the process's,
//! or a test's) and the [`SettingsFile`]. [`SETTINGS`] is the one table of them all: the
//! README's table is checked against it. Nothing else in the binary reads the environment.

use std::time::Duration;

use aws_jit_app::ports::Instance;
use aws_jit_app::{NotifySettings, Settings};
use aws_jit_aws::AwsSettings;
use aws_jit_core::AccessDuration;
use aws_jit_core::config::Requesters;
use aws_jit_core::seed_env::SeedEnv;

use crate::settings_file::SettingsFile;

/// Where settings come from besides flags and the file.
pub trait Environment {
    /// A variable's value, trimmed; `None` when unset or blank.
    fn var(&self, name: &str) -> Option<String>;
    /// Every variable whose name starts with `prefix`.
    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)>;
}

/// The process's environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        std::env::vars()
            .filter(|(k, _)| k.starts_with(prefix))
            .collect()
    }
}

/// One setting, as documented.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The environment variable.
    pub variable: &'static str,
    /// The settings file's key, when the file may set it (secrets may not).
    pub file_key: Option<&'static str>,
    /// The default.
    pub default: &'static str,
    /// What it does.
    pub meaning: &'static str,
}

const fn setting(
    variable: &'static str,
    file_key: Option<&'static str>,
    default: &'static str,
    meaning: &'static str,
) -> Setting {
    Setting {
        variable,
        file_key,
        default,
        meaning,
    }
}

/// Every setting (flags' variables first). The README's settings table lists exactly these.
pub const SETTINGS: &[Setting] = &[
    setting(
        "AWS_JIT_SETTINGS",
        None,
        "none",
        "the TOML settings file (`--settings`)",
    ),
    setting(
        "AWS_JIT_CONFIG_DIR",
        Some("config_dir"),
        "./configs",
        "the access configs' directory (`--config-dir`)",
    ),
    setting(
        "AWS_JIT_DB",
        Some("db"),
        "sqlite://./aws-jit.db",
        "the store URL (`--db`): sqlite:// or postgres://",
    ),
    setting(
        "AWS_JIT_LOG_FORMAT",
        Some("log_format"),
        "text",
        "diagnostics on stderr: text or json (`--log-format`)",
    ),
    setting(
        "AWS_JIT_LISTEN",
        Some("listen"),
        "127.0.0.1:8080",
        "`serve`'s address (`--listen`)",
    ),
    setting(
        "MAX_DURATION",
        Some("max_duration"),
        "none",
        "a cap on every grant, below each access's maximum (the seed's variable)",
    ),
    setting(
        "AWS_JIT_LOCK_LEASE",
        Some("lock_lease"),
        "5m",
        "how long a crashed process's lock on an assignment lasts (renewed before each AWS change)",
    ),
    setting(
        "AWS_JIT_RETRY_BASE",
        Some("retry_base"),
        "5s",
        "the first retry delay of a failed revocation (doubling, at most 5m)",
    ),
    setting(
        "AWS_JIT_SSO_INSTANCE_ARN",
        Some("sso_instance_arn"),
        "discovered",
        "the Identity Center instance (with the identity store id)",
    ),
    setting(
        "AWS_JIT_IDENTITY_STORE_ID",
        Some("identity_store_id"),
        "discovered",
        "the identity store (with the instance ARN)",
    ),
    setting(
        "AWS_JIT_MAX_ATTEMPTS",
        Some("max_attempts"),
        "4",
        "SDK attempts per AWS call",
    ),
    setting(
        "AWS_JIT_CONFLICT_RETRIES",
        Some("conflict_retries"),
        "5",
        "extra attempts after a ConflictException or throttling",
    ),
    setting(
        "AWS_JIT_SSO_CALLS_PER_SECOND",
        Some("sso_calls_per_second"),
        "20",
        "Identity Center calls per second for the whole process (AWS's documented rate; 0 turns the limit off)",
    ),
    setting(
        "AWS_JIT_SSO_CREATIONS_IN_FLIGHT",
        Some("sso_creations_in_flight"),
        "10",
        "account-assignment creations in flight at once, from the create to the end of its status poll",
    ),
    setting(
        "AWS_JIT_APPROVERS",
        Some("approvers"),
        "none",
        "who may revoke others' grants through the CLI when acting for a KUBIYA_USER_EMAIL",
    ),
    setting(
        "KUBIYA_USER_EMAIL",
        None,
        "none",
        "the person a Kubiya tool (the CLI) acts for: the default `--user`, and the actor audited",
    ),
    setting(
        "SLACK_API_TOKEN",
        None,
        "none",
        "Slack's bot token: notifications are off without it (secret)",
    ),
    setting(
        "SLACK_SIGNING_SECRET",
        None,
        "none",
        "verifies Slack's button clicks to `serve` (secret)",
    ),
    setting(
        "AWS_JIT_DEFAULT_REQUESTERS",
        Some("default_requesters"),
        "every directory user",
        "who may request accesses whose entry has no `requesters` (emails, `group:NAME`)",
    ),
    setting(
        "SLACK_TEAM_ID",
        Some("slack_team_id"),
        "any",
        "the only Slack workspace whose button clicks are accepted (else the clicker's own)",
    ),
    setting(
        "SLACK_API_URL",
        Some("slack_api_url"),
        "https://slack.com/api",
        "Slack's Web API",
    ),
    setting(
        "SLACK_CHANNEL_ID",
        Some("slack_channel_id"),
        "none",
        "where grants and approval requests are posted",
    ),
    setting(
        "SLACK_THREAD_TS",
        Some("slack_thread_ts"),
        "none",
        "the request's thread (the seed's variable)",
    ),
    setting(
        "AWS_JIT_SLACK_ADMIN_CHANNEL",
        Some("slack_admin_channel"),
        "none",
        "where failed revocations and break-glass grants are raised",
    ),
    setting(
        "SLACK_COMMAND",
        Some("slack_command"),
        "/jit",
        "the slash command that opens the request modal (`serve`)",
    ),
    setting(
        "AWS_JIT_EXPIRY_WARNING",
        Some("expiry_warning"),
        "10m",
        "how long before its expiry a grant's user gets a Slack DM with Extend (`off`: none)",
    ),
    setting(
        "AWS_JIT_SSO_START_URL",
        Some("sso_start_url"),
        "none",
        "the AWS access portal, for the console shortcut in messages",
    ),
    setting(
        "AWS_JIT_SSO_REGION",
        Some("sso_region"),
        "AWS_REGION",
        "Identity Center's region, for the CLI profile in messages",
    ),
    setting(
        "AWS_JIT_WEB_URL",
        Some("web_url"),
        "http://LISTEN",
        "where browsers reach `serve`'s web UI; single sign-on returns to `{url}/auth/callback`",
    ),
    setting(
        "AWS_JIT_WEB_SESSION",
        Some("web_session"),
        "8h",
        "how long a web sign-in lasts",
    ),
    setting(
        "AWS_JIT_WEB_DEV_SIGN_IN",
        Some("web_dev_sign_in"),
        "off",
        "`1` offers the web UI's dev sign-in with an API token (local use and demos)",
    ),
    setting(
        "AWS_JIT_OIDC_ISSUER",
        Some("oidc_issuer"),
        "none",
        "the identity provider's OpenID Connect issuer URL: turns single sign-on on",
    ),
    setting(
        "AWS_JIT_OIDC_CLIENT_ID",
        Some("oidc_client_id"),
        "none",
        "aws-jit's client id at the identity provider",
    ),
    setting(
        "AWS_JIT_OIDC_CLIENT_SECRET",
        None,
        "none",
        "aws-jit's client secret at the identity provider (secret)",
    ),
    setting(
        "AWS_JIT_OIDC_ALLOWED_DOMAINS",
        Some("oidc_allowed_domains"),
        "any",
        "the email domains whose people may sign in to the web UI (comma-separated)",
    ),
    setting(
        "AWS_JIT_OIDC_TRUST_EMAIL",
        Some("oidc_trust_email"),
        "off",
        "`1` accepts a signed-in email the provider does not mark verified (for providers that never send `email_verified`)",
    ),
    setting(
        "AWS_ACCOUNT_ID",
        None,
        "none",
        "the seed's one-access invocation: the account (with PERMISSION_SET_NAME)",
    ),
    setting(
        "PERMISSION_SET_NAME",
        None,
        "none",
        "the seed's one-access invocation: the permission set",
    ),
    setting(
        "BUCKETS",
        None,
        "none",
        "the seed's one-access invocation: S3 buckets (with POLICY_TEMPLATE)",
    ),
    setting(
        "POLICY_TEMPLATE",
        None,
        "none",
        "the seed's one-access invocation: the S3 policy template",
    ),
];

/// The settings as a Markdown table (`aws-jit settings`; the README embeds it).
pub fn markdown_table() -> String {
    let mut table =
        String::from("| variable | settings file | default | meaning |\n|---|---|---|---|\n");
    for s in SETTINGS {
        let key = s.file_key.map_or("-".to_owned(), |k| format!("`{k}`"));
        table.push_str(&format!(
            "| `{}` | {key} | {} | {} |\n",
            s.variable, s.default, s.meaning
        ));
    }
    table
}

/// A setting that does not parse: one line naming where it came from.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct SettingError {
    source_name: String,
    message: String,
}

/// Slack, when `SLACK_API_TOKEN` is set.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    /// The bot token.
    pub token: String,
    /// The Web API's base URL, when not Slack's own.
    pub api_url: Option<String>,
    /// Where notifications go.
    pub notify: NotifySettings,
    /// Verifies interactions (`serve`).
    pub signing_secret: Option<String>,
    /// The only workspace whose clicks are accepted, when set.
    pub team_id: Option<String>,
    /// The slash command that opens the request modal.
    pub command: String,
}

/// Every setting, resolved.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// The use cases' settings (notifications included when Slack is configured).
    pub use_cases: Settings,
    /// The AWS adapter's settings.
    pub aws: AwsSettings,
    /// Slack, when configured.
    pub slack: Option<SlackSettings>,
    /// `AWS_JIT_APPROVERS`, lowercase.
    pub approvers: Vec<String>,
    /// `KUBIYA_USER_EMAIL`, lowercase.
    pub acting_person: Option<String>,
    /// `AWS_JIT_DEFAULT_REQUESTERS`: who may request entries without `requesters`.
    pub default_requesters: Option<Requesters>,
    /// The operator's OS user.
    pub os_user: String,
    /// The web UI (`serve`).
    pub web: WebResolved,
    /// The seed's one-access variables.
    pub seed: SeedEnv,
}

/// The web UI's settings, as resolved (`serve` adds what it knows: its address).
#[derive(Debug, Clone, Default)]
pub struct WebResolved {
    /// `AWS_JIT_WEB_URL`, without a trailing slash.
    pub url: Option<String>,
    /// `AWS_JIT_WEB_SESSION`.
    pub session: Option<AccessDuration>,
    /// `AWS_JIT_WEB_DEV_SIGN_IN`.
    pub dev_sign_in: bool,
    /// Single sign-on, when an issuer and a client id are set.
    pub oidc: Option<aws_jit_server::web::oidc::OidcSettings>,
    /// What the grants page points at.
    pub instructions: aws_jit_core::slack::Instructions,
}

/// Looks a setting up: its variable, then the file.
struct Lookup<'a> {
    env: &'a dyn Environment,
}

impl Lookup<'_> {
    fn text(&self, variable: &str, from_file: Option<&str>) -> Option<(String, String)> {
        match self.env.var(variable) {
            Some(v) => Some((v, format!("`{variable}`"))),
            None => from_file.map(|v| {
                let key = SETTINGS
                    .iter()
                    .find(|s| s.variable == variable)
                    .and_then(|s| s.file_key)
                    .unwrap_or(variable);
                (v.trim().to_owned(), format!("the settings file's `{key}`"))
            }),
        }
    }

    fn value(&self, variable: &str, from_file: Option<&str>) -> Option<String> {
        self.text(variable, from_file).map(|(v, _)| v)
    }

    fn duration(
        &self,
        variable: &str,
        from_file: Option<&str>,
    ) -> Result<Option<AccessDuration>, SettingError> {
        self.text(variable, from_file)
            .map(|(v, source_name)| {
                AccessDuration::parse(&v).map_err(|e| SettingError {
                    source_name,
                    message: e.to_string(),
                })
            })
            .transpose()
    }

    fn number(&self, variable: &str, from_file: Option<u32>) -> Result<Option<u32>, SettingError> {
        let from_file = from_file.map(|n| n.to_string());
        self.text(variable, from_file.as_deref())
            .map(|(v, source_name)| {
                v.parse().map_err(|_| SettingError {
                    source_name,
                    message: format!("must be a whole number, not `{v}`"),
                })
            })
            .transpose()
    }
}

impl Resolved {
    /// Resolves every setting from the environment and the settings file.
    pub fn resolve(file: &SettingsFile, env: &dyn Environment) -> Result<Resolved, SettingError> {
        let look = Lookup { env };
        let mut use_cases = Settings {
            global_max: look.duration("MAX_DURATION", file.max_duration.as_deref())?,
            ..Settings::default()
        };
        if let Some(lease) = look.duration("AWS_JIT_LOCK_LEASE", file.lock_lease.as_deref())? {
            use_cases.lock_lease = lease.to_std();
        }
        if let Some(base) = look.duration("AWS_JIT_RETRY_BASE", file.retry_base.as_deref())? {
            use_cases.retry_base = base.to_std();
        }
        if let (Some(arn), Some(identity_store_id)) = (
            look.value("AWS_JIT_SSO_INSTANCE_ARN", file.sso_instance_arn.as_deref()),
            look.value(
                "AWS_JIT_IDENTITY_STORE_ID",
                file.identity_store_id.as_deref(),
            ),
        ) {
            use_cases.instance = Some(Instance {
                arn,
                identity_store_id,
            });
        }

        let mut aws = AwsSettings::default();
        if let Some(n) = look.number("AWS_JIT_MAX_ATTEMPTS", file.max_attempts)? {
            aws.max_attempts = n;
        }
        if let Some(n) = look.number("AWS_JIT_CONFLICT_RETRIES", file.conflict_retries)? {
            aws.patience.conflict_retries = n;
        }
        if let Some(n) = look.number("AWS_JIT_SSO_CALLS_PER_SECOND", file.sso_calls_per_second)? {
            aws.limits.calls_per_second = f64::from(n);
        }
        if let Some(n) = look.number(
            "AWS_JIT_SSO_CREATIONS_IN_FLIGHT",
            file.sso_creations_in_flight,
        )? {
            aws.limits.creations_in_flight = usize::try_from(n).unwrap_or(usize::MAX);
        }
        let endpoints = env.vars_with_prefix("AWS_ENDPOINT_URL");
        aws.plain_http =
            !endpoints.is_empty() && endpoints.iter().all(|(_, v)| v.starts_with("http://"));

        let instructions = aws_jit_core::slack::Instructions {
            start_url: look.value("AWS_JIT_SSO_START_URL", file.sso_start_url.as_deref()),
            sso_region: look
                .value("AWS_JIT_SSO_REGION", file.sso_region.as_deref())
                .or_else(|| env.var("AWS_REGION")),
            account_alias: None,
        };
        let web = resolve_web(&look, file, env, &instructions)?;
        let expiry_warning =
            match look.text("AWS_JIT_EXPIRY_WARNING", file.expiry_warning.as_deref()) {
                None => Some(Duration::from_secs(600)),
                Some((off, _)) if off.trim().eq_ignore_ascii_case("off") => None,
                Some((text, source_name)) => Some(
                    AccessDuration::parse(&text)
                        .map_err(|e| SettingError {
                            source_name,
                            message: format!("{e} (or `off`)"),
                        })?
                        .to_std(),
                ),
            };
        let command = look
            .value("SLACK_COMMAND", file.slack_command.as_deref())
            .unwrap_or_else(|| "/jit".to_owned());
        if !command.starts_with('/')
            || command.len() > 32
            || command
                .chars()
                .skip(1)
                .any(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(SettingError {
                source_name: "SLACK_COMMAND".to_owned(),
                message: format!(
                    "`{}` is not a slash command: a `/` and up to 31 letters, digits, `-` or `_` (e.g. `/jit`)",
                    aws_jit_core::text::printable(&command)
                ),
            });
        }
        let slack = env.var("SLACK_API_TOKEN").map(|token| SlackSettings {
            token,
            api_url: look.value("SLACK_API_URL", file.slack_api_url.as_deref()),
            notify: NotifySettings {
                channel: look.value("SLACK_CHANNEL_ID", file.slack_channel_id.as_deref()),
                thread_ts: look.value("SLACK_THREAD_TS", file.slack_thread_ts.as_deref()),
                instructions: instructions.clone(),
                admin_channel: look.value(
                    "AWS_JIT_SLACK_ADMIN_CHANNEL",
                    file.slack_admin_channel.as_deref(),
                ),
                expiry_warning,
            },
            signing_secret: env.var("SLACK_SIGNING_SECRET"),
            team_id: look.value("SLACK_TEAM_ID", file.slack_team_id.as_deref()),
            command,
        });
        use_cases.notify = slack.as_ref().map(|s| s.notify.clone());
        let default_requesters = look
            .text(
                "AWS_JIT_DEFAULT_REQUESTERS",
                file.default_requesters.as_deref(),
            )
            .map(|(list, source_name)| {
                Requesters::parse_list(&list).map_err(|message| SettingError {
                    source_name,
                    message,
                })
            })
            .transpose()?;

        Ok(Resolved {
            use_cases,
            aws,
            slack,
            approvers: look
                .value("AWS_JIT_APPROVERS", file.approvers.as_deref())
                .unwrap_or_default()
                .split(',')
                .map(|a| a.trim().to_lowercase())
                .filter(|a| !a.is_empty())
                .collect(),
            acting_person: env.var("KUBIYA_USER_EMAIL").map(|v| v.to_lowercase()),
            default_requesters,
            web,
            os_user: env
                .var("USER")
                .or_else(|| env.var("LOGNAME"))
                .unwrap_or_else(|| "unknown".to_owned()),
            seed: SeedEnv {
                account_id: env.var("AWS_ACCOUNT_ID"),
                permission_set: env.var("PERMISSION_SET_NAME"),
                max_duration: env.var("MAX_DURATION"),
                buckets: env.var("BUCKETS"),
                policy_template: env.var("POLICY_TEMPLATE"),
            },
        })
    }
}

/// A setting that is on (`1`, `true`, `on`, `yes`) or off (`0`, `false`, `off`, `no`).
fn flag(look: &Lookup<'_>, variable: &str, from_file: Option<bool>) -> Result<bool, SettingError> {
    match look.text(variable, from_file.map(|b| if b { "1" } else { "0" })) {
        None => Ok(false),
        Some((v, source_name)) => match v.to_lowercase().as_str() {
            "1" | "true" | "on" | "yes" => Ok(true),
            "0" | "false" | "off" | "no" => Ok(false),
            _ => Err(SettingError {
                source_name,
                message: format!("must be 1 or 0, not `{v}`"),
            }),
        },
    }
}

fn resolve_web(
    look: &Lookup<'_>,
    file: &SettingsFile,
    env: &dyn Environment,
    instructions: &aws_jit_core::slack::Instructions,
) -> Result<WebResolved, SettingError> {
    let dev_sign_in = flag(look, "AWS_JIT_WEB_DEV_SIGN_IN", file.web_dev_sign_in)?;
    let url = match look.text("AWS_JIT_WEB_URL", file.web_url.as_deref()) {
        None => None,
        Some((v, source_name)) => {
            let v = v.trim_end_matches('/').to_owned();
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                return Err(SettingError {
                    source_name,
                    message: format!("`{v}` is not a URL: use https://jit.example.com"),
                });
            }
            Some(v)
        }
    };
    let trust_unverified_email = flag(look, "AWS_JIT_OIDC_TRUST_EMAIL", file.oidc_trust_email)?;
    let oidc = match (
        look.value("AWS_JIT_OIDC_ISSUER", file.oidc_issuer.as_deref()),
        look.value("AWS_JIT_OIDC_CLIENT_ID", file.oidc_client_id.as_deref()),
    ) {
        (Some(issuer), Some(client_id)) => Some(aws_jit_server::web::oidc::OidcSettings {
            issuer,
            client_id,
            client_secret: env.var("AWS_JIT_OIDC_CLIENT_SECRET"),
            allowed_domains: look
                .value(
                    "AWS_JIT_OIDC_ALLOWED_DOMAINS",
                    file.oidc_allowed_domains.as_deref(),
                )
                .unwrap_or_default()
                .split(',')
                .map(|d| d.trim().trim_start_matches('@').to_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
            trust_unverified_email,
        }),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(SettingError {
                source_name: "`AWS_JIT_OIDC_ISSUER` and `AWS_JIT_OIDC_CLIENT_ID`".to_owned(),
                message: "single sign-on needs both: set the other, or neither".to_owned(),
            });
        }
    };
    Ok(WebResolved {
        url,
        session: look.duration("AWS_JIT_WEB_SESSION", file.web_session.as_deref())?,
        dev_sign_in,
        oidc,
        instructions: instructions.clone(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    struct Fake(BTreeMap<&'static str, &'static str>);

    impl Environment for Fake {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
        fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
            self.0
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        }
    }

    #[test]
    fn a_variable_beats_the_file_which_beats_the_default() {
        let file = SettingsFile {
            lock_lease: Some("2m".to_owned()),
            retry_base: Some("9s".to_owned()),
            sso_calls_per_second: Some(5),
            slack_channel_id: Some("CFILE".to_owned()),
            ..SettingsFile::default()
        };
        let env = Fake(BTreeMap::from([
            ("AWS_JIT_LOCK_LEASE", "30s"),
            ("SLACK_API_TOKEN", "xoxb"),
            ("AWS_JIT_SSO_CREATIONS_IN_FLIGHT", "3"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]));
        let resolved = Resolved::resolve(&file, &env).unwrap();
        assert_eq!(resolved.use_cases.lock_lease, Duration::from_secs(30));
        assert_eq!(resolved.use_cases.retry_base, Duration::from_secs(9));
        assert_eq!(resolved.aws.limits.calls_per_second, 5.0);
        assert_eq!(resolved.aws.limits.creations_in_flight, 3);
        assert!(resolved.aws.plain_http);
        let slack = resolved.slack.unwrap();
        assert_eq!(slack.notify.channel.as_deref(), Some("CFILE"));
        let defaults = Resolved::resolve(&SettingsFile::default(), &Fake(BTreeMap::new())).unwrap();
        assert_eq!(
            defaults.use_cases.lock_lease,
            Settings::default().lock_lease
        );
        assert!(defaults.slack.is_none() && defaults.use_cases.notify.is_none());
    }

    #[test]
    fn a_bad_value_names_where_it_came_from() {
        let env = Fake(BTreeMap::from([("AWS_JIT_MAX_ATTEMPTS", "many")]));
        let e = Resolved::resolve(&SettingsFile::default(), &env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`AWS_JIT_MAX_ATTEMPTS`: must be a whole number, not `many`"
        );
        let file = SettingsFile {
            lock_lease: Some("soon".to_owned()),
            ..SettingsFile::default()
        };
        let e = Resolved::resolve(&file, &Fake(BTreeMap::new())).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the settings file's `lock_lease`: "),
            "{e}"
        );
    }

    #[test]
    fn the_readme_carries_the_settings_table() {
        let readme = include_str!("../../../README.md");
        assert!(
            readme.contains(&markdown_table()),
            "README's settings table differs from `aws-jit settings`:\n{}",
            markdown_table()
        );
    }
}
