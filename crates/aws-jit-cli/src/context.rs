//! Wiring: reading the config directory, opening the store, connecting to AWS, the clock,
//! and tracing. Each is done lazily, only by the commands that need it, so that
//! `aws-jit grants` never builds an AWS client and `aws-jit schema` opens nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_jit_app::ports::{Clock, GrantStore, Instance, Messenger};
use aws_jit_app::{Jit, NotifySettings, Settings};
use aws_jit_aws::{Aws, AwsSettings};
use aws_jit_core::{AccessDuration, Catalog, ConfigFile, ConfigSource};
use jiff::Timestamp;

use crate::Failure;
use crate::cli::{Cli, LogFormat};
use crate::settings_file::SettingsFile;

/// The real clock.
#[derive(Debug, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    #[expect(clippy::disallowed_methods, reason = "the only wall-clock read")]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Sets up diagnostics on stderr: warnings by default, more with `-v`, or `RUST_LOG`.
pub fn init_tracing(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "info,aws_smithy=warn,aws_config=warn",
        _ => "debug,aws_smithy=info,aws_config=info,hyper=info,sqlx=info,rustls=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        // Timestamps and structured fields for collectors; one object per line.
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .without_time()
            .try_init(),
    };
}

/// Reads and validates the config directory.
pub fn load_catalog(dir: &Path) -> Result<Catalog, Failure> {
    let mut texts = Vec::new();
    for file in ConfigFile::ALL {
        let path = dir.join(file.file_name());
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| {
                    Failure::Invalid(anyhow::anyhow!(
                        "{}: the file is not valid UTF-8",
                        path.display()
                    ))
                })?;
                texts.push((file, text));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Failure::Runtime(
                    anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
                ));
            }
        }
    }
    if texts.is_empty() {
        return Err(Failure::Invalid(anyhow::anyhow!(
            "`{}` holds neither access_configs.json nor s3_configs.json: set --config-dir or AWS_JIT_CONFIG_DIR",
            dir.display()
        )));
    }
    let sources: Vec<ConfigSource<'_>> = texts
        .iter()
        .map(|(file, text)| ConfigSource { file: *file, text })
        .collect();
    Catalog::parse(&sources).map_err(|e| Failure::Invalid(e.into()))
}

/// Opens the store.
pub async fn open_store(url: &str) -> Result<Arc<dyn GrantStore>, Failure> {
    aws_jit_store::open(url)
        .await
        .map_err(|e| Failure::Runtime(anyhow::Error::new(e)))
}

fn env_duration(
    file: &SettingsFile,
    name: &str,
    from_file: Option<&str>,
) -> Result<Option<AccessDuration>, Failure> {
    match file.lookup(name, from_file) {
        Some(v) => AccessDuration::parse(&v).map(Some).map_err(|e| {
            let source = if std::env::var(name).is_ok_and(|v| !v.trim().is_empty()) {
                format!("`{name}`")
            } else {
                format!(
                    "the settings file's `{}`",
                    name.trim_start_matches("AWS_JIT_").to_lowercase()
                )
            };
            Failure::Invalid(anyhow::Error::new(e).context(source))
        }),
        None => Ok(None),
    }
}

fn env_u32(name: &str, from_file: Option<u32>) -> Result<Option<u32>, Failure> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map(Some).map_err(|_| {
            Failure::Invalid(anyhow::anyhow!(
                "`{name}` must be a whole number, not `{v}`"
            ))
        }),
        _ => Ok(from_file),
    }
}

/// The use-case settings from the environment and the settings file.
pub fn settings(file: &SettingsFile) -> Result<Settings, Failure> {
    let mut settings = Settings {
        global_max: env_duration(file, "MAX_DURATION", file.max_duration.as_deref())?,
        ..Settings::default()
    };
    if let Some(lease) = env_duration(file, "AWS_JIT_LOCK_LEASE", file.lock_lease.as_deref())? {
        settings.lock_lease = lease.to_std();
    }
    if let Some(base) = env_duration(file, "AWS_JIT_RETRY_BASE", file.retry_base.as_deref())? {
        settings.retry_base = base.to_std();
    }
    if let (Some(arn), Some(id)) = (
        file.lookup("AWS_JIT_SSO_INSTANCE_ARN", file.sso_instance_arn.as_deref()),
        file.lookup(
            "AWS_JIT_IDENTITY_STORE_ID",
            file.identity_store_id.as_deref(),
        ),
    ) {
        settings.instance = Some(Instance {
            arn,
            identity_store_id: id,
        });
    }
    Ok(settings)
}

/// AWS settings from the environment and the settings file.
pub fn aws_settings(file: &SettingsFile) -> Result<AwsSettings, Failure> {
    let mut settings = AwsSettings::default();
    if let Some(n) = env_u32("AWS_JIT_MAX_ATTEMPTS", file.max_attempts)? {
        settings.max_attempts = n;
    }
    if let Some(n) = env_u32("AWS_JIT_SSO_CALLS_PER_SECOND", None)? {
        settings.limits.calls_per_second = f64::from(n);
    }
    if let Some(n) = env_u32("AWS_JIT_SSO_CREATIONS_IN_FLIGHT", None)? {
        settings.limits.creations_in_flight = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = env_u32("AWS_JIT_CONFLICT_RETRIES", file.conflict_retries)? {
        settings.patience.conflict_retries = n;
    }
    Ok(settings)
}

/// Everything a command that changes access needs.
#[derive(Debug)]
pub struct Wired {
    /// The use cases.
    pub jit: Jit,
    /// The AWS adapter (for call counts).
    pub aws: Aws,
    /// Slack, when `SLACK_API_TOKEN` is set.
    pub messenger: Option<Arc<dyn Messenger>>,
}

/// Opens the store and connects to AWS.
pub async fn wire(cli: &Cli) -> Result<Wired, Failure> {
    let settings = settings(&cli.file)?;
    let aws_settings = aws_settings(&cli.file)?;
    let store = open_store(&cli.db).await?;
    let aws = aws_jit_aws::connect(&aws_settings).await;
    let (notify, messenger) = slack()?;
    let jit = Jit::new(
        store,
        Arc::new(aws.identity_center.clone()),
        Arc::new(aws.iam.clone()),
        Arc::new(SystemClock),
        Settings { notify, ..settings },
    );
    Ok(Wired {
        jit,
        aws,
        messenger,
    })
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Where notifications go, and what delivers them.
type Notifications = (Option<NotifySettings>, Option<Arc<dyn Messenger>>);

/// Slack notifications, when `SLACK_API_TOKEN` is set (the seed's variables).
fn slack() -> Result<Notifications, Failure> {
    let Some(token) = non_empty("SLACK_API_TOKEN") else {
        return Ok((None, None));
    };
    let api_url = non_empty("SLACK_API_URL");
    let client = aws_jit_slack::Slack::new(api_url.as_deref(), &token)
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("Slack: {e}")))?;
    let notify = NotifySettings {
        channel: non_empty("SLACK_CHANNEL_ID"),
        thread_ts: non_empty("SLACK_THREAD_TS"),
        instructions: aws_jit_core::slack::Instructions {
            start_url: non_empty("AWS_JIT_SSO_START_URL"),
            sso_region: non_empty("AWS_JIT_SSO_REGION").or_else(|| non_empty("AWS_REGION")),
            account_alias: None,
        },
        admin_channel: non_empty("AWS_JIT_SLACK_ADMIN_CHANNEL"),
    };
    Ok((Some(notify), Some(Arc::new(client))))
}

/// Sends what an access change queued, right away (best effort: the change is already
/// made and recorded; what cannot be sent now stays queued for `aws-jit serve`).
pub async fn deliver_now(wired: &Wired) {
    let Some(messenger) = &wired.messenger else {
        return;
    };
    // One message at a time, so that running out of time can interrupt at most one send
    // (which then stays claimed for a while and is retried by the server).
    let delivery = tokio::time::timeout(Duration::from_secs(15), async {
        let mut total = aws_jit_app::DeliveryReport::default();
        for _ in 0..20 {
            let report = wired.jit.deliver_outbox(messenger.as_ref(), 1).await?;
            let done = report.sent + report.retried.len() + report.given_up.len() == 0;
            total.sent += report.sent;
            total.retried.extend(report.retried);
            total.given_up.extend(report.given_up);
            if done {
                break;
            }
        }
        Ok::<_, aws_jit_app::AppError>(total)
    })
    .await;
    match delivery {
        Ok(Ok(report)) => {
            for error in &report.retried {
                eprintln!(
                    "warning: {error}; the notification stays queued and `aws-jit serve` retries it"
                );
            }
            for error in &report.given_up {
                eprintln!("warning: {error}; the notification was dropped");
            }
        }
        Ok(Err(e)) => eprintln!("warning: notifications not sent: {e}"),
        Err(_) => {
            eprintln!("warning: Slack is slow; notifications stay queued for `aws-jit serve`")
        }
    }
}

/// Logs the AWS calls this process made (debug level), for `-vv` and the benchmark.
pub fn log_call_counts(aws: &Aws) {
    let counts = aws.calls.snapshot();
    tracing::debug!(total = aws.calls.total(), ?counts, "aws calls this run");
}
