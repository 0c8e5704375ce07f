//! Wiring: reading the config directory, opening the store, connecting to AWS, the clock,
//! and tracing. Each is done lazily, only by the commands that need it, so that
//! `aws-jit grants` never builds an AWS client and `aws-jit schema` opens nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_jit_app::Jit;
use aws_jit_app::ports::{Clock, GrantStore, Messenger};
use aws_jit_aws::Aws;
use aws_jit_core::eligibility::{MAX_POLICY_FILE_BYTES, POLICY_FILE, PolicyEngine};
use aws_jit_core::{Catalog, ConfigFile, ConfigSource};

use jiff::Timestamp;

use crate::Failure;
use crate::cli::{Cli, LogFormat};

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

/// Diagnostics on stderr with every secret masked (`core::text::redact`): one buffer per
/// event, redacted and written whole when the event is done.
#[derive(Debug, Clone, Copy)]
struct RedactingStderr;

/// One event's output, on its way to stderr.
#[derive(Debug, Default)]
struct RedactedEvent(Vec<u8>);

impl std::io::Write for RedactedEvent {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedEvent {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let masked = aws_jit_core::text::redact(&text);
        let _ = std::io::Write::write_all(&mut std::io::stderr(), masked.as_bytes());
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStderr {
    type Writer = RedactedEvent;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedEvent::default()
    }
}

/// Sets up diagnostics on stderr: warnings by default (and, for `serve`, one info line per
/// grant, revocation, expiry and failure, and at start and stop), more with `-v`, or
/// `RUST_LOG`.
pub fn init_tracing(verbose: u8, format: LogFormat, serving: bool) {
    let default = match verbose {
        // The SDK's own warnings (every credential provider tried) repeat what the one-line
        // error says; -v shows them.
        0 if serving => "warn,aws_config=error,aws_jit=info,aws_jit_app=info,aws_jit_server=info",
        0 => "warn,aws_config=error",
        1 => "info,aws_smithy=warn,aws_config=warn",
        _ => "debug,aws_smithy=info,aws_config=info,hyper=info,sqlx=info,rustls=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingStderr)
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

/// Loads the access policies: the entries' own, with `AWS_JIT_DEFAULT_REQUESTERS` for
/// those that say nothing, and the config directory's `policies.cedar` when there is one.
/// A set with problems does not load (one line each): nothing is decided from half of it.
pub fn load_policies(cli: &Cli, catalog: &Catalog) -> Result<PolicyEngine, Failure> {
    let path = cli.config_dir.join(POLICY_FILE);
    let org = match std::fs::read(&path) {
        Ok(bytes) if bytes.len() > MAX_POLICY_FILE_BYTES => {
            return Err(Failure::Invalid(anyhow::anyhow!(
                "{}: larger than {} KiB",
                path.display(),
                MAX_POLICY_FILE_BYTES / 1024
            )));
        }
        Ok(bytes) => Some(String::from_utf8(bytes).map_err(|_| {
            Failure::Invalid(anyhow::anyhow!(
                "{}: the file is not valid UTF-8",
                path.display()
            ))
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Failure::Runtime(
                anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
            ));
        }
    };
    PolicyEngine::load(
        catalog,
        cli.resolved.default_requesters.as_ref(),
        org.as_deref(),
    )
    .map_err(|problems| {
        let n = problems.len();
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        Failure::Invalid(anyhow::anyhow!(
            "{n} problem{} in the access policies\n  {}",
            if n == 1 { "" } else { "s" },
            lines.join("\n  ")
        ))
    })
}

/// The loud warning about accesses every directory user may request, if there are any.
pub fn open_warning(policies: &PolicyEngine) -> Option<String> {
    let open = policies.open_accesses();
    if open.is_empty() {
        return None;
    }
    let names: Vec<String> = open.iter().map(|k| format!("`{k}`")).collect();
    Some(format!(
        "{} access{} open to every directory user ({}): give {} `requesters`, or set AWS_JIT_DEFAULT_REQUESTERS",
        open.len(),
        if open.len() == 1 { " is" } else { "es are" },
        names.join(", "),
        if open.len() == 1 { "it" } else { "them" }
    ))
}

/// The catalog and its policies, for the use cases.
pub fn load_configs(cli: &Cli) -> Result<(Arc<Catalog>, Arc<PolicyEngine>), Failure> {
    let catalog = load_catalog(&cli.config_dir)?;
    let policies = load_policies(cli, &catalog)?;
    Ok((Arc::new(catalog), Arc::new(policies)))
}

/// Opens the store.
pub async fn open_store(url: &str) -> Result<Arc<dyn GrantStore>, Failure> {
    aws_jit_store::open(url)
        .await
        .map_err(|e| Failure::Runtime(anyhow::Error::new(e)))
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

impl Wired {
    /// The use cases over the catalog and its policies (see `load_configs`).
    pub fn jit_over(&self, catalog: Arc<Catalog>, policies: Arc<PolicyEngine>) -> Jit {
        self.jit
            .clone()
            .with_catalog(catalog)
            .with_policies(policies)
    }
}

/// Opens the store and connects to AWS.
pub async fn wire(cli: &Cli) -> Result<Wired, Failure> {
    let settings = &cli.resolved;
    let store = open_store(&cli.db).await?;
    let aws = aws_jit_aws::connect(&settings.aws).await;
    let messenger: Option<Arc<dyn Messenger>> = match &settings.slack {
        Some(slack) => Some(Arc::new(
            aws_jit_slack::Slack::new(slack.api_url.as_deref(), &slack.token)
                .map_err(|e| Failure::Runtime(anyhow::anyhow!("Slack: {e}")))?,
        )),
        None => None,
    };
    let jit = Jit::new(
        store,
        Arc::new(aws.identity_center.clone()),
        Arc::new(aws.iam.clone()),
        Arc::new(SystemClock),
        settings.use_cases.clone(),
    );
    Ok(Wired {
        jit,
        aws,
        messenger,
    })
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
